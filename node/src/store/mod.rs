//! Storage: a narrow key-value [`Store`] trait with a sled implementation and an
//! in-memory twin, and [`ChainStore`], the typed layout of the chain on top of it.
//!
//! Every committed block is one atomic batch (block, receipts, transaction index,
//! changed state leaves, head), made durable before the block is reported committed.

mod memory;
mod sled_store;

pub use memory::MemoryStore;
pub use sled_store::SledStore;

use kyoto_proto::v1 as pb;
use prost::Message;

use crate::ledger::{Hash, LeafWrite, State, StateError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "this data directory holds chain `{stored}` (genesis {stored_hash}); the genesis given is `{given}` ({given_hash})"
    )]
    GenesisMismatch {
        stored: String,
        stored_hash: String,
        given: String,
        given_hash: String,
    },
}

/// A stored entry: key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A write: key and new value (`None` deletes).
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// An ordered key-value store with atomic, durable batches.
pub trait Store: Send + Sync + 'static {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// All entries whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;
    /// Applies every write or none, and makes them durable before returning.
    fn write(&self, batch: Vec<Write>) -> Result<(), StoreError>;
}

const STATE: &[u8] = b"s/";
const BLOCK: &[u8] = b"b/";
const TX: &[u8] = b"t/";
const HISTORY: &[u8] = b"h/";
const PROPOSAL: &[u8] = b"p/";
const HEAD: &[u8] = b"meta/head";
const GENESIS: &[u8] = b"meta/genesis";

fn block_key(height: u64) -> Vec<u8> {
    [BLOCK, &height.to_be_bytes()].concat()
}

fn history_prefix(account: &str) -> Vec<u8> {
    [HISTORY, account.as_bytes(), b"/"].concat()
}

fn tx_key(hash: &Hash) -> Vec<u8> {
    [TX, hash.as_slice()].concat()
}

/// Where a committed transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

/// The chain's layout over a [`Store`].
pub struct ChainStore<S: Store> {
    inner: S,
}

impl<S: Store> ChainStore<S> {
    pub fn new(inner: S) -> Self {
        ChainStore { inner }
    }

    /// The genesis JSON this store was initialised with, if any.
    pub fn genesis_json(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(GENESIS)
    }

    /// Writes the genesis and its state in one batch.
    pub fn init_genesis(&self, genesis_json: &[u8], state: &State) -> Result<(), StoreError> {
        let mut batch: Vec<Write> = state
            .leaves()?
            .into_iter()
            .map(|(k, v)| ([STATE, k.as_slice()].concat(), Some(v)))
            .collect();
        batch.push((GENESIS.to_vec(), Some(genesis_json.to_vec())));
        batch.push((HEAD.to_vec(), Some(0u64.to_be_bytes().to_vec())));
        self.inner.write(batch)
    }

    /// The height of the last committed block (0 = genesis only).
    pub fn head(&self) -> Result<u64, StoreError> {
        match self.inner.get(HEAD)? {
            None => Ok(0),
            Some(v) => {
                Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(
                    |_| StoreError::Corrupt("head is not 8 bytes".into()),
                )?))
            }
        }
    }

    /// Loads the ledger state as of the last committed block.
    pub fn load_state(&self) -> Result<State, StoreError> {
        let leaves = self
            .inner
            .scan_prefix(STATE)?
            .into_iter()
            .map(|(k, v)| (k[STATE.len()..].to_vec(), v));
        let state = State::from_leaves(leaves)?;
        let head = self.head()?;
        if state.height() != head {
            return Err(StoreError::Corrupt(format!(
                "state is at height {} but the head is {head}",
                state.height()
            )));
        }
        Ok(state)
    }

    /// Commits a block: the block with its receipts, the transaction index, the
    /// changed state leaves and the new head, atomically and durably.
    pub fn commit_block(
        &self,
        block: &pb::GetBlockResponse,
        writes: Vec<LeafWrite>,
    ) -> Result<(), StoreError> {
        let height = block
            .block
            .as_ref()
            .and_then(|b| b.header.as_ref())
            .map(|h| h.height)
            .unwrap_or(0);
        let mut batch: Vec<Write> =
            Vec::with_capacity(writes.len() + block.transaction_hashes.len() + 2);
        for (k, v) in writes {
            batch.push(([STATE, k.as_slice()].concat(), v));
        }
        for (index, hash) in block.transaction_hashes.iter().enumerate() {
            let hash: Hash = hash
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("transaction hash is not 32 bytes".into()))?;
            let mut loc = height.to_be_bytes().to_vec();
            loc.extend_from_slice(&u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes());
            batch.push((tx_key(&hash), Some(loc)));
        }
        // Each account's audit trail: the transactions that changed its holdings, one
        // entry per account and block (key: account, height; value: the transaction
        // indices, 4 bytes each, in block order).
        let mut history: std::collections::BTreeMap<&str, Vec<u8>> = Default::default();
        for r in &block.receipts {
            if let Some(pb::receipt::Outcome::Applied(a)) = &r.outcome {
                for account in &a.accounts {
                    history
                        .entry(account.as_str())
                        .or_default()
                        .extend_from_slice(&r.index.to_be_bytes());
                }
            }
        }
        for (account, indices) in history {
            let mut key = history_prefix(account);
            key.extend_from_slice(&height.to_be_bytes());
            batch.push((key, Some(indices)));
        }
        batch.push((block_key(height), Some(block.encode_to_vec())));
        batch.push((HEAD.to_vec(), Some(height.to_be_bytes().to_vec())));
        self.inner.write(batch)
    }

    /// Keeps a block proposed for (height, round) until it is decided or outlived
    /// (consensus: the engine's log names proposals only by hash, so their blocks
    /// must survive a crash here). Written durably before it is acknowledged.
    pub fn put_proposal(
        &self,
        height: u64,
        round: u32,
        hash: &Hash,
        record: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut key = [PROPOSAL, &height.to_be_bytes(), &round.to_be_bytes()].concat();
        key.extend_from_slice(hash);
        self.inner.write(vec![(key, Some(record))])
    }

    /// The proposals kept for `height`, as (round, hash, record), by round.
    pub fn proposals_at(&self, height: u64) -> Result<Vec<(u32, Hash, Vec<u8>)>, StoreError> {
        let prefix = [PROPOSAL, &height.to_be_bytes()].concat();
        let mut out = Vec::new();
        for (k, v) in self.inner.scan_prefix(&prefix)? {
            let rest = &k[prefix.len()..];
            if rest.len() != 4 + 32 {
                return Err(StoreError::Corrupt(
                    "a proposal key has the wrong length".into(),
                ));
            }
            let round = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let hash: Hash = rest[4..]
                .try_into()
                .map_err(|_| StoreError::Corrupt("a proposal key has the wrong length".into()))?;
            out.push((round, hash, v));
        }
        Ok(out)
    }

    /// Forgets the proposals of every height up to `height`.
    pub fn prune_proposals(&self, height: u64) -> Result<(), StoreError> {
        let batch: Vec<Write> = self
            .inner
            .scan_prefix(PROPOSAL)?
            .into_iter()
            .filter(|(k, _)| {
                k.get(PROPOSAL.len()..PROPOSAL.len() + 8)
                    .and_then(|h| <[u8; 8]>::try_from(h).ok())
                    .is_none_or(|h| u64::from_be_bytes(h) <= height)
            })
            .map(|(k, _)| (k, None))
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        self.inner.write(batch)
    }

    /// The latest `limit` transactions that changed an account's holdings, newest first.
    pub fn account_history(
        &self,
        account: &str,
        limit: usize,
    ) -> Result<Vec<TxLocation>, StoreError> {
        let prefix = history_prefix(account);
        let entries = self.inner.scan_prefix(&prefix)?;
        let corrupt = || StoreError::Corrupt("bad history entry".into());
        let mut out = Vec::with_capacity(entries.len().min(limit));
        for (k, v) in entries.iter().rev() {
            let rest = &k[prefix.len()..];
            let (h, i) = rest.split_at_checked(8).ok_or_else(corrupt)?;
            let height = u64::from_be_bytes(h.try_into().map_err(|_| corrupt())?);
            // One entry per block with the indices in its value; a store written by
            // an earlier version has one entry per transaction, the index in the key.
            let indices = if i.is_empty() { v.as_slice() } else { i };
            if indices.is_empty() || indices.len() % 4 != 0 {
                return Err(corrupt());
            }
            for index in indices.rchunks_exact(4) {
                if out.len() >= limit {
                    return Ok(out);
                }
                let index = u32::from_be_bytes(index.try_into().map_err(|_| corrupt())?);
                out.push(TxLocation { height, index });
            }
        }
        Ok(out)
    }

    pub fn block(&self, height: u64) -> Result<Option<pb::GetBlockResponse>, StoreError> {
        self.inner
            .get(&block_key(height))?
            .map(|v| {
                pb::GetBlockResponse::decode(v.as_slice())
                    .map_err(|e| StoreError::Corrupt(format!("block {height}: {e}")))
            })
            .transpose()
    }

    pub fn tx_location(&self, hash: &Hash) -> Result<Option<TxLocation>, StoreError> {
        let Some(v) = self.inner.get(&tx_key(hash))? else {
            return Ok(None);
        };
        let (h, i) = v
            .split_at_checked(8)
            .ok_or_else(|| StoreError::Corrupt("transaction index entry too short".into()))?;
        let height = u64::from_be_bytes(
            h.try_into()
                .map_err(|_| StoreError::Corrupt("bad tx index".into()))?,
        );
        let index = u32::from_be_bytes(
            i.try_into()
                .map_err(|_| StoreError::Corrupt("bad tx index".into()))?,
        );
        Ok(Some(TxLocation { height, index }))
    }
}

#[cfg(test)]
mod tests {
    //! One suite for both implementations.
    use super::*;

    fn suite(store: &dyn Store) {
        assert_eq!(store.get(b"a").unwrap(), None);
        store
            .write(vec![
                (b"a/1".to_vec(), Some(b"x".to_vec())),
                (b"a/2".to_vec(), Some(b"y".to_vec())),
                (b"b".to_vec(), Some(b"z".to_vec())),
            ])
            .unwrap();
        assert_eq!(store.get(b"a/1").unwrap(), Some(b"x".to_vec()));
        assert_eq!(
            store.scan_prefix(b"a/").unwrap(),
            vec![
                (b"a/1".to_vec(), b"x".to_vec()),
                (b"a/2".to_vec(), b"y".to_vec())
            ]
        );
        store
            .write(vec![
                (b"a/1".to_vec(), None),
                (b"a/2".to_vec(), Some(b"w".to_vec())),
            ])
            .unwrap();
        assert_eq!(
            store.scan_prefix(b"a/").unwrap(),
            vec![(b"a/2".to_vec(), b"w".to_vec())]
        );
    }

    #[test]
    fn account_history_is_newest_first_across_blocks_and_reads_the_earlier_layout() {
        let store = ChainStore::new(MemoryStore::default());
        let block = |height: u64, touched: &[&[&str]]| pb::GetBlockResponse {
            block: Some(pb::Block {
                header: Some(pb::BlockHeader {
                    height,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            receipts: touched
                .iter()
                .enumerate()
                .map(|(i, accounts)| pb::Receipt {
                    index: i as u32,
                    outcome: Some(pb::receipt::Outcome::Applied(pb::Applied {
                        accounts: accounts.iter().map(|a| a.to_string()).collect(),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        // An entry in the earlier layout (one key per transaction) at height 1.
        let mut legacy = history_prefix("A");
        legacy.extend_from_slice(&1u64.to_be_bytes());
        legacy.extend_from_slice(&7u32.to_be_bytes());
        store.inner.write(vec![(legacy, Some(Vec::new()))]).unwrap();
        store
            .commit_block(&block(2, &[&["A", "B"], &["B"], &["A"]]), Vec::new())
            .unwrap();
        store
            .commit_block(&block(3, &[&["B"], &["A"]]), Vec::new())
            .unwrap();
        let at = |h, i| TxLocation {
            height: h,
            index: i,
        };
        assert_eq!(
            store.account_history("A", 10).unwrap(),
            vec![at(3, 1), at(2, 2), at(2, 0), at(1, 7)]
        );
        assert_eq!(
            store.account_history("A", 2).unwrap(),
            vec![at(3, 1), at(2, 2)]
        );
        assert_eq!(
            store.account_history("B", 10).unwrap(),
            vec![at(3, 0), at(2, 1), at(2, 0)]
        );
        assert_eq!(store.account_history("C", 10).unwrap(), vec![]);
    }

    #[test]
    fn memory_store_meets_the_store_contract() {
        suite(&MemoryStore::default());
    }

    #[test]
    fn sled_store_meets_the_store_contract_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            suite(&s);
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.get(b"a/2").unwrap(), Some(b"w".to_vec()));
        assert_eq!(s.get(b"b").unwrap(), Some(b"z".to_vec()));
    }
}
