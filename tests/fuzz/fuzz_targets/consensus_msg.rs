//! Consensus, liveness, sync and write-ahead-log messages through our Malachite codec.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kyoto_node::consensus::codec::decode_every_kind(data);
});
