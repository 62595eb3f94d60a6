//! The single-validator block producer of a dev chain: it cuts a block as soon as
//! transactions wait (after a short batching window, or at once when a block's worth
//! is waiting), stamps it with the dev clock, certifies it alone and commits it. With
//! BFT consensus the engine's decisions replace it; the commit path stays the same.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::{Node, Role, SubmitError, poisoned};
use crate::chain::ChainError;
use crate::clock::{MAX_DEV_ADVANCE_MS, now_ms};
use crate::ledger::{Hash, PublicKey};
use crate::store::{StoreError, StoredBlock};

impl Node {
    /// Selects waiting transactions and commits them as the next block. Returns the
    /// committed block, or `None` when nothing waits.
    pub fn produce_block(&self) -> Result<Option<StoredBlock>, ChainError> {
        self.produce(false)
    }

    /// The proposer's timestamp for the next block.
    fn next_timestamp(&self, parent_ms: i64) -> Result<i64, ChainError> {
        if !self.config.dev_clock {
            return Ok(now_ms());
        }
        let mut clock = self.clock.lock().map_err(|_| ChainError::Poisoned)?;
        // Never past the last instant a block may carry (block building refuses one
        // that cannot be later than its parent).
        let ts = clock.next_after(parent_ms);
        clock.advance_to_ms = None;
        clock.last_commit = Instant::now();
        Ok(ts)
    }

    fn produce(&self, force: bool) -> Result<Option<StoredBlock>, ChainError> {
        let mut chain = self.chain.write().map_err(|_| ChainError::Poisoned)?;
        let mut mempool = self.mempool.lock().map_err(|_| ChainError::Poisoned)?;
        let txs = mempool.select(chain.state(), self.config.max_block_txs);
        if txs.is_empty() && !force {
            return Ok(None);
        }
        let hashes: Vec<(Hash, PublicKey)> = txs.iter().map(|p| (p.tx.hash, p.tx.signer)).collect();
        let timestamp = self.next_timestamp(chain.state().time_ms())?;
        let Role::Validator(key) = &self.role else {
            return Err(ChainError::ObserverCannotProduce);
        };
        // A dev chain's one validator certifies blocks alone; once governance changed
        // the validator set, only BFT consensus among the new set may go on.
        let validators = &chain.state().governance().validators;
        if validators.len() != 1 || validators[0].key != key.verifying_key().to_bytes() {
            return Err(ChainError::ValidatorSetChanged);
        }
        let block = chain.commit_next(txs, timestamp, key)?;
        let waited = mempool.remove_committed(&hashes, chain.state(), Instant::now());
        let height = chain.height();
        let timings = chain.last_timings();
        drop(mempool);
        drop(chain);
        self.note_commit();
        self.note_committed_txs(block.transaction_hashes.len());
        self.metrics.waited(&waited);
        self.metrics.committed(&block, timings);
        self.head.send_replace(height);
        Ok(Some(block))
    }

    /// Dev chains: commits a block (with whatever waits) whose timestamp is at least
    /// `to_ms`, so that treaty dates can be replayed.
    pub fn advance_time(&self, to_ms: i64) -> Result<StoredBlock, SubmitError> {
        if !self.config.dev_clock {
            return Err(SubmitError::NotDevChain);
        }
        let now_ms = self.chain()?.state().time_ms();
        if to_ms > MAX_DEV_ADVANCE_MS {
            return Err(SubmitError::TimeOutOfRange { to_ms });
        }
        if to_ms <= now_ms {
            return Err(SubmitError::TimeBackwards { now_ms });
        }
        self.clock.lock().map_err(|_| poisoned())?.advance_to_ms = Some(to_ms);
        let block = self
            .produce(true)
            .map_err(|e| SubmitError::Internal(e.to_string()))?;
        block.ok_or_else(|| SubmitError::Internal("no block was produced".into()))
    }

    /// The single-validator block producer. Runs until `shutdown` fires or a commit
    /// fails (then the node must stop: memory may be ahead of the disk).
    pub async fn run_producer(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ChainError> {
        loop {
            tokio::select! {
                _ = self.new_tx.notified() => {}
                _ = shutdown.changed() => return Ok(()),
            }
            loop {
                // Only what a block can take: transactions parked behind a nonce gap
                // never make the producer cut a block.
                let waiting = self.mempool_ready();
                if waiting == 0 {
                    break;
                }
                if waiting < self.config.max_block_txs && !self.config.block_window.is_zero() {
                    tokio::time::sleep(self.config.block_window).await;
                }
                let node = Arc::clone(&self);
                let produced = tokio::task::spawn_blocking(move || node.produce_block())
                    .await
                    .map_err(|e| {
                        ChainError::Store(StoreError::Backend(format!(
                            "block producer task failed: {e}"
                        )))
                    })??;
                match produced {
                    Some(block) => {
                        tracing::info!(
                            height = block.height(),
                            txs = block.transaction_hashes.len(),
                            state_root = %hex::encode(&block.state_root),
                            "committed block"
                        );
                    }
                    // Only transactions with nonce gaps wait: sleep until a new one comes.
                    None => break,
                }
                if *shutdown.borrow() {
                    return Ok(());
                }
            }
        }
    }
}
