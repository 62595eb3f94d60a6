//! A gossip message from a peer validator: a batch of signed transactions.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(txs) = kyoto_node::gossip::decode_batch(data) {
        for raw in txs {
            let _ = kyoto_node::tx::decode_deferred(&raw, kyoto_node::dev::DEV_CHAIN_ID, |_| true);
        }
    }
});
