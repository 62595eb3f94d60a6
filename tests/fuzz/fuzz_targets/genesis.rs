//! A genesis file as registries exchange it: parsed, validated and built into a state.
#![no_main]

use kyoto_node::ledger::Genesis;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = Genesis::from_json(data) {
        let _ = g.hash();
        let _ = g.build_state();
    }
});
