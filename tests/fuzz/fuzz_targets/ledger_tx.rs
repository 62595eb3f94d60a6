//! Any well-formed transaction body, by any Party's key, against the dev chain's
//! state: the ledger refuses or applies it, never panics, and keeps its invariants.
#![no_main]

use kyoto_node::ledger::{BlockContext, Tx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (base, keys) = kyoto_fuzz::dev_state();
    let mut txs: Vec<Tx> = Vec::new();
    for frame in kyoto_fuzz::frames(data, 8) {
        let Some((&who, body)) = frame.split_first() else {
            continue;
        };
        let Ok((mut tx, _)) =
            kyoto_node::tx::decode_deferred(body, kyoto_node::dev::DEV_CHAIN_ID, |_| true)
        else {
            continue;
        };
        // Signed by one of the dev genesis keys (seeds 1..=keys), so rules past the
        // authority check are reached.
        tx.signer = ed25519_dalek::SigningKey::from_bytes(&[who % keys + 1; 32])
            .verifying_key()
            .to_bytes();
        txs.push(tx);
    }
    if txs.is_empty() {
        return;
    }
    let mut state = base.clone();
    let ctx = BlockContext {
        height: state.height() + 1,
        timestamp_ms: state.time_ms() + 1 + i64::from(data[0]) * 86_400_000 * 30,
        hash: [7; 32],
    };
    if state.apply_block(ctx, &txs).is_ok() {
        assert_eq!(state.check_invariants(), Ok(()));
    }
});
