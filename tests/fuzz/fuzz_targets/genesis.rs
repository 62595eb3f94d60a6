//! A genesis file as registries exchange it — parsed, validated, built into a state,
//! and checked as a ceremony's draft and result — and a ceremony statement as a
//! registry sends it.
#![no_main]

use kyoto_node::ledger::Genesis;
use kyoto_node::ledger::ceremony;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = Genesis::from_json(data) {
        let _ = g.hash();
        let _ = g.build_state();
        let _ = ceremony::check_draft(&g);
        let _ = ceremony::validate(&g);
    }
    if let Ok(st) = ceremony::parse_statement(data) {
        let hash = st.body.draft_hash.clone();
        let _ = ceremony::verify_statement(&st, &hash);
    }
});
