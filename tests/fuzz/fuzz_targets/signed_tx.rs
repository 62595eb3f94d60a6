//! A signed transaction as a client submits it: decoding, the chain id, the size bound
//! and the body's rules, with and without the signature check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let chain = kyoto_node::dev::DEV_CHAIN_ID;
    let _ = kyoto_node::tx::decode_and_verify(data, chain);
    // Past the signature (as for bytes verified before): every body rule is reached.
    let _ = kyoto_node::tx::decode_deferred(data, chain, |_| true);
});
