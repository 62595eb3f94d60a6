//! Storage: a narrow key-value [`Store`] trait with a sled implementation and an
//! in-memory twin, and [`ChainStore`], the typed layout of the chain on top of it.
//!
//! Every committed block is one atomic batch (block, receipts, transaction index,
//! changed state leaves, head), made durable before the block is reported committed.

mod index;
mod memory;
mod records;
mod sled_store;
mod txindex;

pub use index::{Flow, month_of, next_month};

pub use memory::MemoryStore;
pub use records::{
    StoredApplied, StoredBlock, StoredCertificate, StoredOutcome, StoredReceipt, StoredRefusal,
    StoredSerials, StoredSignature,
};
pub use sled_store::SledStore;

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
    /// The keys that start with `prefix`, in key order (their values not read out).
    fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError>;
    /// At most `limit` entries whose key starts with `prefix` and is below `below`
    /// (exclusive; no upper bound when `None`), largest key first: a page read from
    /// the end, whose cost is the page's, not the prefix's.
    fn scan_prefix_rev(
        &self,
        prefix: &[u8],
        below: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;
    /// Applies every write or none: readers of this store see them at once; a crash
    /// may lose them until [`Store::sync`] returns (a recovered store holds each
    /// batch whole or not at all).
    fn stage(&self, batch: Vec<Write>) -> Result<(), StoreError>;
    /// Makes every staged batch durable.
    fn sync(&self) -> Result<(), StoreError>;
    /// Applies every write or none, and makes them durable before returning.
    fn write(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        self.stage(batch)?;
        self.sync()
    }
}

const STATE: &[u8] = b"s/";
const BLOCK: &[u8] = b"b/";
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

/// Committed transactions per group of the transaction index (`txindex.rs`).
const TX_GROUP_BITS: u32 = 18;

/// Large values (blocks, proposals) are stored in chunks of at most this many bytes,
/// under the value's key followed by the chunk's number (4 bytes, big-endian).
///
/// sled 0.34 writes a log item larger than a quarter of its 512 KiB segment as a
/// separate blob, and its cache then counts that page at the size of the blob's
/// pointer, so it never evicts it: every block of 1,000 transfers (≈ 300 KB) ever
/// written stayed in memory. A leaf splits past 16 entries, so with 4 KiB chunks even a
/// full leaf of them (≈ 64 KiB) stays inline and is counted and evicted like any other.
const CHUNK: usize = 4096;

/// The writes that store `value` under `key` in chunks.
fn chunked_writes(key: &[u8], value: &[u8], batch: &mut Vec<Write>) -> Result<(), StoreError> {
    for (n, chunk) in value.chunks(CHUNK).enumerate() {
        let n = u32::try_from(n)
            .map_err(|_| StoreError::Backend("a value too large to store".into()))?;
        batch.push(([key, &n.to_be_bytes()].concat(), Some(chunk.to_vec())));
    }
    if value.is_empty() {
        batch.push(([key, &0u32.to_be_bytes()].concat(), Some(Vec::new())));
    }
    Ok(())
}

/// Joins the chunks of one value, given as (chunk number, bytes) in key order. A
/// value written by an earlier version, in one piece under its key, has no number.
fn join_chunks<'a>(
    what: &str,
    chunks: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Vec<u8>, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("{what}: {why}"));
    let mut out = Vec::new();
    for (expected, (number, bytes)) in chunks.into_iter().enumerate() {
        if number.is_empty() {
            if expected != 0 {
                return Err(corrupt("a whole value among chunks"));
            }
            out.extend_from_slice(bytes);
            continue;
        }
        let n: [u8; 4] = number
            .try_into()
            .map_err(|_| corrupt("a chunk number is not 4 bytes"))?;
        if usize::try_from(u32::from_be_bytes(n)).ok() != Some(expected)
            || out.len() != expected * CHUNK
        {
            return Err(corrupt("chunks missing or out of order"));
        }
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// A block's writes, prepared and not yet staged (see [`ChainStore::block_batch`]).
#[derive(Debug)]
pub struct BlockBatch(Vec<Write>);

/// Where a committed transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

/// The chain's layout over a [`Store`].
pub struct ChainStore<S: Store> {
    inner: S,
    tx_group_bits: u32,
}

impl<S: Store> ChainStore<S> {
    pub fn new(inner: S) -> Self {
        ChainStore {
            inner,
            tx_group_bits: TX_GROUP_BITS,
        }
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
        batch.push(Self::indexed_marker());
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
        block: &StoredBlock,
        writes: Vec<LeafWrite>,
    ) -> Result<(), StoreError> {
        self.stage_block(block, writes)?;
        self.inner.sync()
    }

    /// Makes every staged block durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.inner.sync()
    }

    /// Writes a block as [`ChainStore::commit_block`] does, atomically but not yet
    /// durably: it is durable once [`ChainStore::sync`] returns.
    pub fn stage_block(
        &self,
        block: &StoredBlock,
        writes: Vec<LeafWrite>,
    ) -> Result<(), StoreError> {
        let batch = self.block_batch(block, writes)?;
        self.stage_batch(batch)
    }

    /// Stages a block's writes prepared by [`ChainStore::block_batch`].
    pub fn stage_batch(&self, batch: BlockBatch) -> Result<(), StoreError> {
        self.inner.stage(batch.0)
    }

    /// The writes that [`ChainStore::stage_block`] stages for a block. They read the
    /// store as the block's parent left it (the transaction count, the kept
    /// proposals, the flows): stage them before preparing the next block's.
    pub fn block_batch(
        &self,
        block: &StoredBlock,
        writes: Vec<LeafWrite>,
    ) -> Result<BlockBatch, StoreError> {
        let height = block.height();
        let mut batch: Vec<Write> =
            Vec::with_capacity(writes.len() + block.transaction_hashes.len() + 2);
        for (k, v) in writes {
            batch.push(([STATE, k.as_slice()].concat(), v));
        }
        self.tx_index_writes(height, &block.transaction_hashes, &mut batch)?;
        // Each account's audit trail: the transactions that changed its holdings, one
        // entry per account and block (key: account, height; value: the transaction
        // indices, 4 bytes each, in block order).
        let mut history: std::collections::BTreeMap<&str, Vec<u8>> = Default::default();
        for r in &block.receipts {
            if let Some(StoredOutcome::Applied(a)) = &r.outcome {
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
        self.index_writes(block, &mut Default::default(), &mut batch)?;
        chunked_writes(&block_key(height), &block.encode_to_vec(), &mut batch)?;
        batch.push((HEAD.to_vec(), Some(height.to_be_bytes().to_vec())));
        // The proposals kept for this height and earlier ones are settled now: they go
        // in the same batch (no flush of their own).
        batch.extend(self.settled_proposals(height)?);
        Ok(BlockBatch(batch))
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
        let mut batch = Vec::with_capacity(record.len() / CHUNK + 1);
        chunked_writes(&key, &record, &mut batch)?;
        self.inner.write(batch)
    }

    /// The proposals kept for `height`, as (round, hash, record), by round.
    pub fn proposals_at(&self, height: u64) -> Result<Vec<(u32, Hash, Vec<u8>)>, StoreError> {
        let prefix = [PROPOSAL, &height.to_be_bytes()].concat();
        let entries = self.inner.scan_prefix(&prefix)?;
        let wrong = || StoreError::Corrupt("a proposal key has the wrong length".into());
        // Each proposal's chunks are adjacent in key order: group them by (round, hash).
        fn id(key: &[u8], after: usize) -> Option<&[u8]> {
            key.get(after..after + 36)
        }
        entries
            .chunk_by(|a, b| id(&a.0, prefix.len()) == id(&b.0, prefix.len()))
            .map(|chunks| {
                let id = id(&chunks[0].0, prefix.len()).ok_or_else(wrong)?;
                let round = u32::from_be_bytes(id[..4].try_into().map_err(|_| wrong())?);
                let hash: Hash = id[4..].try_into().map_err(|_| wrong())?;
                let record = join_chunks(
                    &format!("proposal at height {height}, round {round}"),
                    chunks
                        .iter()
                        .map(|(k, v)| (&k[prefix.len() + 36..], v.as_slice())),
                )?;
                Ok((round, hash, record))
            })
            .collect()
    }

    /// Deletions of the proposals kept for every height up to `height` (settled once
    /// that height is committed).
    fn settled_proposals(&self, height: u64) -> Result<Vec<Write>, StoreError> {
        Ok(self
            .inner
            .scan_keys(PROPOSAL)?
            .into_iter()
            .filter(|k| {
                k.get(PROPOSAL.len()..PROPOSAL.len() + 8)
                    .and_then(|h| <[u8; 8]>::try_from(h).ok())
                    .is_none_or(|h| u64::from_be_bytes(h) <= height)
            })
            .map(|k| (k, None))
            .collect())
    }

    /// The latest `limit` transactions that changed an account's holdings, newest first.
    pub fn account_history(
        &self,
        account: &str,
        limit: usize,
    ) -> Result<Vec<TxLocation>, StoreError> {
        self.account_history_before(account, limit, None)
    }

    /// Like [`ChainStore::account_history`], older than `before` (exclusive) when
    /// given: the next page after an entry.
    pub fn account_history_before(
        &self,
        account: &str,
        limit: usize,
        before: Option<TxLocation>,
    ) -> Result<Vec<TxLocation>, StoreError> {
        history_entries(&self.inner, &history_prefix(account), limit, before)
    }

    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        let key = block_key(height);
        let chunks = self.inner.scan_prefix(&key)?;
        if chunks.is_empty() {
            return Ok(None);
        }
        let what = format!("block {height}");
        let bytes = join_chunks(
            &what,
            chunks.iter().map(|(k, v)| (&k[key.len()..], v.as_slice())),
        )?;
        StoredBlock::decode(bytes.as_slice())
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
    }
}

/// The latest `limit` entries under `prefix` (key: prefix, height; value: the
/// transaction indices in the block, 4 bytes each), newest first, older than `before`
/// (exclusive) when given. An entry written by an earlier version has one key per
/// transaction, its index after the height and an empty value.
fn history_entries<S: Store>(
    store: &S,
    prefix: &[u8],
    limit: usize,
    before: Option<TxLocation>,
) -> Result<Vec<TxLocation>, StoreError> {
    let corrupt = || StoreError::Corrupt("bad history entry".into());
    let mut out = Vec::with_capacity(limit.min(HISTORY_PAGE));
    if limit == 0 {
        return Ok(out);
    }
    // Read from the end in pages, starting at the first height not skipped: every
    // key at `before`'s height or below (a page costs what it holds, however long
    // the trail).
    let mut below = before
        .and_then(|b| b.height.checked_add(1))
        .map(|h| [prefix, &h.to_be_bytes()].concat());
    let before = before.map(|l| (l.height, l.index));
    loop {
        let page = store.scan_prefix_rev(prefix, below.as_deref(), HISTORY_PAGE)?;
        for (k, v) in &page {
            let rest = k.get(prefix.len()..).ok_or_else(corrupt)?;
            let (h, i) = rest.split_at_checked(8).ok_or_else(corrupt)?;
            let height = u64::from_be_bytes(h.try_into().map_err(|_| corrupt())?);
            let indices = if i.is_empty() { v.as_slice() } else { i };
            if indices.is_empty() || indices.len() % 4 != 0 {
                return Err(corrupt());
            }
            for index in indices.rchunks_exact(4) {
                let index = u32::from_be_bytes(index.try_into().map_err(|_| corrupt())?);
                if before.is_some_and(|b| (height, index) >= b) {
                    continue;
                }
                out.push(TxLocation { height, index });
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        match page.last() {
            Some((k, _)) if page.len() == HISTORY_PAGE => below = Some(k.clone()),
            _ => return Ok(out),
        }
    }
}

/// Keys of a trail read at a time, from its end.
const HISTORY_PAGE: usize = 256;

/// The key range of [`Store::scan_prefix_rev`]: from `prefix` to `below` (exclusive),
/// else to the first key past every key that starts with `prefix` (none when the
/// prefix is all 0xFF).
pub(super) fn rev_range(
    prefix: &[u8],
    below: Option<&[u8]>,
) -> (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>) {
    use std::ops::Bound;
    let end = below.map(<[u8]>::to_vec).or_else(|| {
        let mut end = prefix.to_vec();
        while let Some(last) = end.pop() {
            if last < u8::MAX {
                end.push(last + 1);
                return Some(end);
            }
        }
        None
    });
    (
        Bound::Included(prefix.to_vec()),
        end.map_or(Bound::Unbounded, Bound::Excluded),
    )
}

/// A boxed store is a store: the node runs on whichever backend it was started with.
impl Store for Box<dyn Store> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key)
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        (**self).scan_prefix(prefix)
    }
    fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        (**self).scan_keys(prefix)
    }
    fn scan_prefix_rev(
        &self,
        prefix: &[u8],
        below: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        (**self).scan_prefix_rev(prefix, below, limit)
    }
    fn stage(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        (**self).stage(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        (**self).sync()
    }
}

#[cfg(test)]
mod tests {
    //! One suite for both implementations.
    use kyoto_proto::v1 as pb;

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
        assert_eq!(
            store.scan_keys(b"a/").unwrap(),
            vec![b"a/1".to_vec(), b"a/2".to_vec()]
        );
        assert_eq!(store.scan_keys(b"c").unwrap(), Vec::<Vec<u8>>::new());
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
        // Pages from the end: below a key, at most `limit`, never past the prefix.
        store
            .write(vec![
                (b"a/3".to_vec(), Some(b"v".to_vec())),
                (b"a/4".to_vec(), Some(b"u".to_vec())),
                (b"a0".to_vec(), Some(b"t".to_vec())),
                (vec![0xFF, 0xFF], Some(b"s".to_vec())),
                (vec![0xFF, 0xFF, 1], Some(b"r".to_vec())),
            ])
            .unwrap();
        let keys = |entries: Vec<Entry>| entries.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            keys(store.scan_prefix_rev(b"a/", None, 10).unwrap()),
            vec![b"a/4".to_vec(), b"a/3".to_vec(), b"a/2".to_vec()]
        );
        assert_eq!(
            keys(store.scan_prefix_rev(b"a/", None, 2).unwrap()),
            vec![b"a/4".to_vec(), b"a/3".to_vec()]
        );
        assert_eq!(
            keys(store.scan_prefix_rev(b"a/", Some(b"a/3"), 10).unwrap()),
            vec![b"a/2".to_vec()]
        );
        assert_eq!(
            keys(store.scan_prefix_rev(b"a/", Some(b"a/2"), 10).unwrap()),
            Vec::<Vec<u8>>::new()
        );
        assert_eq!(
            keys(store.scan_prefix_rev(&[0xFF], None, 10).unwrap()),
            vec![vec![0xFF, 0xFF, 1], vec![0xFF, 0xFF]]
        );
        assert_eq!(store.scan_prefix_rev(b"c", None, 10).unwrap(), vec![]);
    }

    /// A block at `height` whose transaction `i` changed the accounts `touched[i]`.
    fn touching(height: u64, touched: Vec<Vec<String>>) -> StoredBlock {
        StoredBlock {
            block: Some(pb::Block {
                header: Some(pb::BlockHeader {
                    height,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            receipts: touched
                .into_iter()
                .enumerate()
                .map(|(i, accounts)| StoredReceipt {
                    index: i as u32,
                    outcome: Some(StoredOutcome::Applied(StoredApplied {
                        accounts,
                        ..Default::default()
                    })),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_long_trail_is_read_in_pages_newest_first() {
        let store = ChainStore::new(MemoryStore::default());
        // 700 blocks touch "A" (twice in every third) and "AB" (a name that begins
        // like it); more keys than a page holds.
        let mut expected = Vec::new();
        for height in 1..=700u64 {
            let mut touched: Vec<Vec<String>> = vec![vec!["A".into(), "AB".into()]];
            if height % 3 == 0 {
                touched.push(vec!["A".into()]);
            }
            for index in 0..touched.len() as u32 {
                expected.push(TxLocation { height, index });
            }
            store
                .commit_block(&touching(height, touched), Vec::new())
                .unwrap();
        }
        expected.reverse();
        assert_eq!(store.account_history("A", 10_000).unwrap(), expected);
        // Every page starts right after the last entry of the one before.
        for size in [1, 7, 256, 300] {
            let mut read = Vec::new();
            let mut before = None;
            loop {
                let page = store.account_history_before("A", size, before).unwrap();
                assert!(page.len() <= size);
                let Some(last) = page.last().copied() else {
                    break;
                };
                read.extend(page);
                before = Some(last);
            }
            assert_eq!(read, expected, "pages of {size}");
        }
        assert_eq!(store.account_history("AB", 10_000).unwrap().len(), 700);
        assert_eq!(store.account_history("A", 0).unwrap(), vec![]);
    }

    #[test]
    fn account_history_is_newest_first_across_blocks_and_reads_the_earlier_layout() {
        let store = ChainStore::new(MemoryStore::default());
        let block = |height: u64, touched: &[&[&str]]| {
            touching(
                height,
                touched
                    .iter()
                    .map(|accounts| accounts.iter().map(|a| a.to_string()).collect())
                    .collect(),
            )
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
    fn large_blocks_and_proposals_are_stored_in_chunks_and_read_back_whole() {
        let store = ChainStore::new(MemoryStore::default());
        let block = |height: u64, size: usize| StoredBlock {
            block: Some(pb::Block {
                header: Some(pb::BlockHeader {
                    height,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            transaction_hashes: (0..size / 32).map(|i| vec![(i % 251) as u8; 32]).collect(),
            ..Default::default()
        };
        for (height, size) in [(1, 0), (2, CHUNK - 40), (3, 10 * CHUNK + 7), (4, 3 * CHUNK)] {
            let b = block(height, size);
            store.commit_block(&b, Vec::new()).unwrap();
            let chunks = store.inner.scan_prefix(&block_key(height)).unwrap();
            assert_eq!(chunks.len(), b.encoded_len().div_ceil(CHUNK).max(1));
            assert!(chunks.iter().all(|(_, v)| v.len() <= CHUNK));
            assert_eq!(store.block(height).unwrap(), Some(b));
        }
        assert_eq!(store.block(5).unwrap(), None);

        // A block written by an earlier version, in one value under its key.
        let legacy = block(6, 5 * CHUNK);
        store
            .inner
            .write(vec![(block_key(6), Some(legacy.encode_to_vec()))])
            .unwrap();
        assert_eq!(store.block(6).unwrap(), Some(legacy));

        // A missing chunk is reported, not glued over.
        let mut second = block_key(3);
        second.extend_from_slice(&1u32.to_be_bytes());
        store.inner.write(vec![(second, None)]).unwrap();
        assert!(matches!(store.block(3), Err(StoreError::Corrupt(_))));

        // Proposals: several rounds and values at one height, each read back whole.
        let records: Vec<(u32, Hash, Vec<u8>)> = vec![
            (0, [1; 32], vec![1; 3 * CHUNK + 1]),
            (0, [2; 32], vec![2; 10]),
            (1, [3; 32], Vec::new()),
            (2, [4; 32], vec![4; CHUNK]),
        ];
        for (round, hash, record) in &records {
            store.put_proposal(9, *round, hash, record.clone()).unwrap();
        }
        store.put_proposal(10, 0, &[5; 32], vec![5; 9]).unwrap();
        assert_eq!(store.proposals_at(9).unwrap(), records);
        // Committing height 9 drops its proposals (and any earlier), not the next's.
        store.commit_block(&block(9, 100), Vec::new()).unwrap();
        assert_eq!(store.proposals_at(9).unwrap(), vec![]);
        assert_eq!(
            store.proposals_at(10).unwrap(),
            vec![(0, [5; 32], vec![5; 9])]
        );
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

    #[test]
    fn a_database_written_by_the_previous_layout_reads_its_blocks_and_history() {
        // The previous layout wrote the block record, chunked, with the same keys.
        let dir = tempfile::tempdir().unwrap();
        let bytes = records::tests::previous_layout_bytes();
        {
            let sled = SledStore::open(dir.path()).unwrap();
            let mut batch = Vec::new();
            chunked_writes(&block_key(7), &bytes, &mut batch).unwrap();
            let mut history = history_prefix("EC-100-1");
            history.extend_from_slice(&7u64.to_be_bytes());
            batch.push((history, Some(0u32.to_be_bytes().to_vec())));
            sled.write(batch).unwrap();
        }
        let store = ChainStore::new(SledStore::open(dir.path()).unwrap());
        let block = store.block(7).unwrap().unwrap();
        assert_eq!(block, records::tests::previous_layout_block());
        assert_eq!(
            store.account_history("EC-100-1", 10).unwrap(),
            vec![TxLocation {
                height: 7,
                index: 0
            }]
        );
        // Committing it again writes the very same bytes.
        let copy = ChainStore::new(MemoryStore::default());
        copy.commit_block(&block, Vec::new()).unwrap();
        let chunks = copy.inner.scan_prefix(&block_key(7)).unwrap();
        let written = join_chunks(
            "block 7",
            chunks
                .iter()
                .map(|(k, v)| (&k[block_key(7).len()..], v.as_slice())),
        )
        .unwrap();
        assert_eq!(written, bytes);
    }
}
