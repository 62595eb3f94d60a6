//! Whatever a database holds when the node reads it back: frames of (key, value) are
//! written into a store, then every read the node makes at start-up and for queries
//! (but the transaction lookup, see below).
#![no_main]

use kyoto_node::ledger::Genesis;
use kyoto_node::store::{ChainStore, MemoryStore, Store};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frames = kyoto_fuzz::frames(data, 1024);
    let writes = frames
        .chunks(2)
        .map(|kv| (kv[0].to_vec(), kv.get(1).map(|v| v.to_vec())))
        .collect();
    let store = MemoryStore::default();
    if store.write(writes).is_err() {
        return;
    }
    let chain = ChainStore::new(store);
    let _ = chain.head();
    let _ = chain.load_state();
    if let Ok(Some(g)) = chain.genesis_json() {
        let _ = Genesis::from_json(&g);
    }
    for h in 0..4 {
        let _ = chain.block(h);
        if let Ok(kept) = chain.proposals_at(h) {
            for (_, _, bytes) in kept {
                let _ = kyoto_node::consensus::proposal::decodes_as_kept_proposal(&bytes);
            }
        }
    }
    // Not `tx_location`: it probes one index group per 2^18 transactions the store
    // says it holds, so a forged count makes it slow by design (linear, not a hang).
    let _ = chain.account_history("JPN-100-1", 10);
});
