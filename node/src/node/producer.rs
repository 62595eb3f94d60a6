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
        let _producing = self.producing.lock().map_err(|_| ChainError::Poisoned)?;
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
        let (block, batch) = chain.prepare_next(txs, timestamp, key)?;
        let waited = mempool.remove_committed(&hashes, chain.state(), Instant::now());
        let height = chain.height();
        let timings = chain.last_timings();
        drop(mempool);
        drop(chain);
        // Written and durable before anyone is told (readers wait for both);
        // admission goes on meanwhile.
        let synced = Instant::now();
        self.chain
            .read()
            .map_err(|_| ChainError::Poisoned)?
            .write_prepared(batch)?;
        self.sync_staged(height)?;
        let timings = crate::metrics::BlockTimings {
            write: timings.write + synced.elapsed(),
            ..timings
        };
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::chain::Chain;
    use crate::dev::dev_genesis_with_keys;
    use crate::node::NodeConfig;
    use crate::store::{Entry, MemoryStore, Store, Write};

    /// A store whose writes (`on_stage`) or syncs wait while the test holds them.
    struct HeldSync {
        inner: MemoryStore,
        held: Arc<(Mutex<bool>, Condvar)>,
        on_stage: bool,
    }

    impl HeldSync {
        fn wait(&self) {
            let (held, released) = &*self.held;
            let mut h = held.lock().unwrap();
            while *h {
                h = released.wait(h).unwrap();
            }
        }
    }

    impl Store for HeldSync {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(key)
        }
        fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
            self.inner.scan_prefix(prefix)
        }
        fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
            self.inner.scan_keys(prefix)
        }
        fn scan_prefix_rev(
            &self,
            prefix: &[u8],
            below: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<Entry>, StoreError> {
            self.inner.scan_prefix_rev(prefix, below, limit)
        }
        fn stage(&self, batch: Vec<Write>) -> Result<(), StoreError> {
            if self.on_stage {
                self.wait();
            }
            self.inner.stage(batch)
        }
        fn sync(&self) -> Result<(), StoreError> {
            if !self.on_stage {
                self.wait();
            }
            Ok(())
        }
    }

    #[test]
    fn readers_wait_for_a_block_s_write_and_sync_and_admission_does_not() {
        for on_stage in [true, false] {
            held_write_or_sync(on_stage);
        }
    }

    /// Block 1 is applied, then its write (`on_stage`) or its sync is held.
    fn held_write_or_sync(on_stage: bool) {
        let mut n = 0u8;
        let (genesis, keys) = dev_genesis_with_keys(&mut |_| {
            n = n.wrapping_add(1);
            SigningKey::from_bytes(&[n; 32])
        });
        let key = |name: &str| keys.iter().find(|(k, _)| k == name).unwrap().1.clone();
        let held = Arc::new((Mutex::new(false), Condvar::new()));
        let store: Box<dyn Store> = Box::new(HeldSync {
            inner: MemoryStore::default(),
            held: Arc::clone(&held),
            on_stage,
        });
        let chain = Chain::open(store, &genesis).unwrap();
        let config = NodeConfig {
            dev_clock: true,
            ..Default::default()
        };
        let node = Node::new(chain, config, Role::Validator(Box::new(key("validator"))));
        let jpn = key("JPN");
        let chain_id = node.chain_id().to_owned();
        assert!(node.submit_batch(vec![crate::tx::test_transfer(&chain_id, &jpn, 1)])[0].is_ok());

        *held.0.lock().unwrap() = true;
        let producing = {
            let node = Arc::clone(&node);
            std::thread::spawn(move || node.produce_block().map(|b| b.map(|b| b.height())))
        };
        while node.chain_for_admission().unwrap().height() < 1 {
            std::thread::sleep(Duration::from_millis(5));
        }
        // A reader waits for the write and the sync...
        let (read_tx, read) = channel();
        {
            let node = Arc::clone(&node);
            std::thread::spawn(move || {
                let _ = read_tx.send(node.chain().map(|c| c.height()).ok());
            });
        }
        // ...while admission goes on, against the applied block.
        let (admit_tx, admitted) = channel();
        {
            let node = Arc::clone(&node);
            let tx = crate::tx::test_transfer(&chain_id, &jpn, 2);
            std::thread::spawn(move || {
                let _ = admit_tx.send(node.submit_batch(vec![tx]).remove(0).is_ok());
            });
        }
        assert_eq!(admitted.recv_timeout(Duration::from_secs(10)), Ok(true));
        assert!(
            read.recv_timeout(Duration::from_millis(300)).is_err(),
            "a reader saw a block before it was durable (held on stage: {on_stage})"
        );
        assert_eq!(*node.head.borrow(), 0, "nobody is told before the sync");

        *held.0.lock().unwrap() = false;
        held.1.notify_all();
        assert_eq!(producing.join().unwrap().unwrap(), Some(1));
        assert_eq!(read.recv_timeout(Duration::from_secs(10)), Ok(Some(1)));
        assert_eq!(*node.head.borrow(), 1);
    }
}
