//! What the fuzz targets share: splitting one input into frames, and the dev chain's
//! state to run transactions against.

use std::sync::OnceLock;

use kyoto_node::ledger::State;

/// Splits `data` into frames, each a 16-bit big-endian length and that many bytes (the
/// last frame takes whatever is left), at most `max` of them.
pub fn frames(mut data: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !data.is_empty() && out.len() < max {
        if data.len() < 2 {
            out.push(data);
            break;
        }
        let n = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
        out.push(&data[2..2 + n]);
        data = &data[2 + n..];
    }
    out
}

/// The dev chain's genesis state, its keys made from seeds 1, 2, ... in the order
/// the genesis asks for them (every Party's authority, the CDM board, the Depositary,
/// the validator), and how many keys that is; built once.
pub fn dev_state() -> &'static (State, u8) {
    static STATE: OnceLock<(State, u8)> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut n = 0u8;
        let (genesis, keys) = kyoto_node::dev::dev_genesis_with_keys(&mut |_| {
            n = n.wrapping_add(1);
            ed25519_dalek::SigningKey::from_bytes(&[n; 32])
        });
        let count = u8::try_from(keys.len()).unwrap_or(u8::MAX).max(1);
        match genesis.build_state() {
            Ok(s) => (s, count),
            // The built-in genesis is covered by the node's unit tests.
            Err(e) => panic!("the dev genesis does not build: {e}"),
        }
    })
}
