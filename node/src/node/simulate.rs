//! Dry runs (`SimulateTransaction`): a transaction checked against the committed
//! state as the next block would apply it, with nothing admitted or changed.

use super::{Node, SubmitError, poisoned};
use crate::clock::{MAX_LEDGER_TIME_MS, now_ms};
use crate::store::StoredReceipt;
use crate::tx;

/// What a transaction would do.
#[derive(Debug)]
pub struct Simulation {
    /// The receipt it would get as the only transaction of the next block.
    pub receipt: StoredReceipt,
    /// Whether its signature was present (and verified).
    pub signature_verified: bool,
    /// The timestamp the next block was assumed to carry.
    pub timestamp_ms: i64,
}

impl Node {
    /// Checks a transaction (signed, or an unsigned body with an empty signature;
    /// nonce 0 for the signer's next nonce) against the committed state as the only
    /// transaction of a block stamped now, and returns the receipt that block would
    /// give it. Admits, stores and changes nothing.
    pub fn simulate(&self, raw: &[u8]) -> Result<Simulation, SubmitError> {
        let (mut tx, signature_verified) = tx::decode_for_simulation(raw, &self.chain_id)?;
        let chain = self.chain()?;
        let state = chain.state();
        if tx.nonce == 0 {
            tx.nonce = state.nonce(&tx.signer).saturating_add(1);
        }
        let timestamp_ms = self.expected_timestamp(state.time_ms())?;
        let receipt = state
            .simulate(timestamp_ms, &tx)
            .map_err(|e| SubmitError::Internal(format!("the dry run cannot run: {e}")))?;
        Ok(Simulation {
            receipt: StoredReceipt::new(&receipt, state.height().saturating_add(1)),
            signature_verified,
            timestamp_ms,
        })
    }

    /// The timestamp this node would give the next block now, as the producer does
    /// (the dev clock, or the wall clock), without moving the dev clock.
    fn expected_timestamp(&self, parent_ms: i64) -> Result<i64, SubmitError> {
        let ts = if self.config.dev_clock {
            self.clock
                .lock()
                .map_err(|_| poisoned())?
                .next_after(parent_ms)
        } else {
            now_ms()
        };
        Ok(ts.max(parent_ms.saturating_add(1)).min(MAX_LEDGER_TIME_MS))
    }
}
