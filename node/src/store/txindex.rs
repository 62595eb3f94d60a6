//! The transaction index: where each committed transaction is, found by its hash.
//!
//! A block's entries are written as one key per *bucket* (the hash's first byte) that
//! the block has transactions in: key `t/`, group, bucket, height; value the block's
//! entries in that bucket, each the rest of the hash (31 bytes) and the transaction's
//! index in the block (4 bytes, big-endian). A block of 1,000 transfers thus writes
//! ≈ 250 index keys, not 1,000: sled's cost is per key (a tree descent, a page update
//! and its log record each), and the index was two thirds of a block's keys.
//!
//! Group `g` holds the blocks that began after `g << bits` transactions had been
//! committed before them (2^18 by default). Hashes are random, so an index over every
//! hash makes each block's inserts land in leaves all over the tree: in sled 0.34
//! every leaf stays hot, memory grows with every key ever written, and inserts slow as
//! the tree outgrows the cache. With the group in front, a block's inserts stay in the
//! newest group's subtree and older groups go cold (`examples/sled_memory.rs`,
//! `random` against `grouped`). A lookup scans one bucket per group, newest first:
//! about 2^18 / 256 = 1,024 entries (≈ 36 KB) per 2^18 committed transactions.

use super::{ChainStore, Store, StoreError, TxLocation, Write};
use crate::ledger::Hash;

const TX: &[u8] = b"t/";
const TX_COUNT: &[u8] = b"meta/tx-count";

/// Bytes of an index entry in a bucket's value: the hash after its first byte, then
/// the transaction's index in the block.
const TX_ENTRY: usize = 31 + 4;

/// The prefix of one bucket of one group: every block's entries for hashes that
/// begin with `hash[0]`.
fn tx_bucket_prefix(group: u32, hash: &Hash) -> Vec<u8> {
    [TX, &group.to_be_bytes(), &hash[..1]].concat()
}

/// The length of an index key written by an earlier version: one per transaction,
/// under its group (`t/`, group, hash; value height and index).
const GROUPED_TX_KEY_LEN: usize = 2 + 4 + 32;

/// The length of an index key written before groups (`t/`, hash).
const LEGACY_TX_KEY_LEN: usize = 2 + 32;

/// The key of an index entry written by an earlier version, before groups.
fn legacy_tx_key(hash: &Hash) -> Vec<u8> {
    [TX, hash.as_slice()].concat()
}

/// Decodes a location value (height, 8 bytes; index, 4 bytes).
fn location(v: &[u8]) -> Result<TxLocation, StoreError> {
    let bad = || StoreError::Corrupt("bad transaction index entry".into());
    let (h, i) = v.split_at_checked(8).ok_or_else(bad)?;
    Ok(TxLocation {
        height: u64::from_be_bytes(h.try_into().map_err(|_| bad())?),
        index: u32::from_be_bytes(i.try_into().map_err(|_| bad())?),
    })
}

impl<S: Store> ChainStore<S> {
    /// How many transactions the committed blocks hold (0 in a store written before
    /// this count was kept: its index entries are then all in the earlier layout).
    fn tx_count(&self) -> Result<u64, StoreError> {
        match self.inner.get(TX_COUNT)? {
            None => Ok(0),
            Some(v) => Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(
                |_| StoreError::Corrupt("the transaction count is not 8 bytes".into()),
            )?)),
        }
    }

    fn tx_group(&self, count: u64) -> u32 {
        u32::try_from(count >> self.tx_group_bits).unwrap_or(u32::MAX)
    }

    /// The index's writes for a block: its buckets under the newest group, and the
    /// new count of committed transactions.
    pub(super) fn tx_index_writes(
        &self,
        height: u64,
        hashes: &[Vec<u8>],
        batch: &mut Vec<Write>,
    ) -> Result<(), StoreError> {
        let count = self.tx_count()?;
        let group = self.tx_group(count);
        let mut buckets: std::collections::BTreeMap<u8, Vec<u8>> = Default::default();
        for (index, hash) in hashes.iter().enumerate() {
            let Some((&first, rest)) = hash.split_first().filter(|(_, r)| r.len() == 31) else {
                return Err(StoreError::Corrupt(
                    "transaction hash is not 32 bytes".into(),
                ));
            };
            let entries = buckets.entry(first).or_default();
            entries.extend_from_slice(rest);
            entries.extend_from_slice(&u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes());
        }
        for (bucket, entries) in buckets {
            let mut key = [TX, &group.to_be_bytes(), &[bucket]].concat();
            key.extend_from_slice(&height.to_be_bytes());
            batch.push((key, Some(entries)));
        }
        let count = count.saturating_add(hashes.len() as u64);
        batch.push((TX_COUNT.to_vec(), Some(count.to_be_bytes().to_vec())));
        Ok(())
    }

    pub fn tx_location(&self, hash: &Hash) -> Result<Option<TxLocation>, StoreError> {
        let newest = self.tx_group(self.tx_count()?);
        for group in (0..=newest).rev() {
            let prefix = tx_bucket_prefix(group, hash);
            for (k, v) in self.inner.scan_prefix(&prefix)? {
                let height = match k.len() {
                    // One transaction's entry, as an earlier version wrote it.
                    GROUPED_TX_KEY_LEN if k[TX.len() + 4..] == hash[..] => {
                        return location(&v).map(Some);
                    }
                    // Another transaction's, or one written before groups whose hash
                    // happens to begin like this prefix (looked up below).
                    GROUPED_TX_KEY_LEN | LEGACY_TX_KEY_LEN => continue,
                    _ => k
                        .get(prefix.len()..)
                        .and_then(|h| <[u8; 8]>::try_from(h).ok())
                        .map(u64::from_be_bytes)
                        .ok_or_else(|| {
                            StoreError::Corrupt(
                                "a transaction index key has the wrong length".into(),
                            )
                        })?,
                };
                if v.len() % TX_ENTRY != 0 {
                    return Err(StoreError::Corrupt(
                        "a transaction index bucket has a partial entry".into(),
                    ));
                }
                for entry in v.chunks_exact(TX_ENTRY) {
                    if entry[..31] == hash[1..] {
                        let index = <[u8; 4]>::try_from(&entry[31..]).map_err(|_| {
                            StoreError::Corrupt("bad transaction index entry".into())
                        })?;
                        return Ok(Some(TxLocation {
                            height,
                            index: u32::from_be_bytes(index),
                        }));
                    }
                }
            }
        }
        match self.inner.get(&legacy_tx_key(hash))? {
            Some(v) => location(&v).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use kyoto_proto::v1 as pb;

    use super::*;
    use crate::store::{MemoryStore, StoredBlock};

    #[test]
    fn transactions_are_found_in_every_group_and_in_the_earlier_layout() {
        let mut store = ChainStore::new(MemoryStore::default());
        // Groups of 4 transactions, so that a few blocks span several groups.
        store.tx_group_bits = 2;
        // Three buckets (the first byte), several transactions in each.
        let hash = |n: u32| -> Hash {
            let mut h = [0u8; 32];
            h[0] = (n % 3) as u8;
            h[1..5].copy_from_slice(&n.to_be_bytes());
            h[31] = 0xAB;
            h
        };
        let at = |height: u64, index: u32| {
            Some([height.to_be_bytes().as_slice(), &index.to_be_bytes()].concat())
        };
        // Entries of the two earlier layouts: before the count was kept, and one key
        // per transaction under its group. The first's hash begins like a group-0,
        // bucket-0 prefix.
        let mut legacy = hash(999);
        legacy[..5].fill(0);
        legacy[30] = 0x55;
        store
            .inner
            .write(vec![
                (legacy_tx_key(&legacy), at(1, 0)),
                ([TX, &0u32.to_be_bytes(), &hash(777)].concat(), at(1, 1)),
            ])
            .unwrap();
        let mut next = 0u32;
        let mut expected = Vec::new();
        for (height, txs) in [(2u64, 3u32), (3, 0), (4, 6), (5, 1), (6, 9)] {
            let hashes: Vec<Hash> = (0..txs).map(|i| hash(next + i)).collect();
            next += txs;
            for (i, h) in hashes.iter().enumerate() {
                expected.push((
                    *h,
                    TxLocation {
                        height,
                        index: i as u32,
                    },
                ));
            }
            let block = StoredBlock {
                block: Some(pb::Block {
                    header: Some(pb::BlockHeader {
                        height,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                transaction_hashes: hashes.iter().map(|h| h.to_vec()).collect(),
                ..Default::default()
            };
            store.commit_block(&block, Vec::new()).unwrap();
        }
        assert_eq!(store.tx_count().unwrap(), 19);
        // Blocks at 2 (count 0), 4 (3), 5 (9), 6 (10): groups 0, 0, 2, 2.
        let groups: std::collections::BTreeSet<u32> = store
            .inner
            .scan_prefix(TX)
            .unwrap()
            .iter()
            .filter(|(k, _)| k.len() == TX.len() + 4 + 1 + 8)
            .map(|(k, _)| u32::from_be_bytes(k[TX.len()..TX.len() + 4].try_into().unwrap()))
            .collect();
        assert_eq!(groups, [0, 2].into());
        for (h, at) in expected {
            assert_eq!(store.tx_location(&h).unwrap(), Some(at));
        }
        assert_eq!(
            store.tx_location(&legacy).unwrap(),
            Some(TxLocation {
                height: 1,
                index: 0
            })
        );
        assert_eq!(
            store.tx_location(&hash(777)).unwrap(),
            Some(TxLocation {
                height: 1,
                index: 1
            })
        );
        assert_eq!(store.tx_location(&hash(500)).unwrap(), None);
        // A block's entries share one key per bucket: 3 buckets at height 6 (9
        // transactions), not 9 keys.
        let at_6 = store
            .inner
            .scan_prefix(TX)
            .unwrap()
            .iter()
            .filter(|(k, _)| k.len() == TX.len() + 4 + 1 + 8 && k.ends_with(&6u64.to_be_bytes()))
            .count();
        assert_eq!(at_6, 3);
    }
}
