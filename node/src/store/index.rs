//! The explorer's indexes, derived from committed blocks and written in the block's own
//! batch: each project's trail (the ERU conversions, CER issuances and forwardings that
//! name it), block hash → height, and the units moved between Parties per month.
//!
//! A store written before these indexes existed gets them on opening
//! ([`ChainStore::build_indexes`]), from its blocks, once.

use std::collections::BTreeMap;

use super::{
    ChainStore, Store, StoreError, StoredBlock, StoredOutcome, TxLocation, Write, history_entries,
};
use crate::ledger::calendar::date_of;

const PROJECT_TRAIL: &[u8] = b"j/";
const BLOCK_HASH: &[u8] = b"bh/";
const FLOWS: &[u8] = b"f/";
/// Set once every committed block is in the indexes (value: the indexes' version).
const INDEXED: &[u8] = b"meta/indexed";
const VERSION: &[u8] = b"1";

/// Receipt kinds that belong to a project's trail (Art. 6 conversions, Art. 12 issuance
/// and forwarding).
const PROJECT_KINDS: [&str; 3] = ["eru_conversion", "cer_issuance", "cer_forwarding"];

/// Project ids never hold a NUL, so the prefix of one id is never that of another.
fn trail_prefix(project: &str) -> Vec<u8> {
    [PROJECT_TRAIL, project.as_bytes(), b"\0"].concat()
}

/// A calendar month as `yyyymm`.
pub fn month_of(ms: i64) -> u32 {
    let d = date_of(ms);
    u32::try_from(d.year()).unwrap_or(0) * 100 + u32::from(u8::from(d.month()))
}

fn flows_prefix(month: u32) -> Vec<u8> {
    [FLOWS, &month.to_be_bytes()].concat()
}

fn flow_key(month: u32, from: &str, to: &str) -> Vec<u8> {
    [&flows_prefix(month), from.as_bytes(), b"\0", to.as_bytes()].concat()
}

fn party_of(account: &str) -> &str {
    account.split('-').next().unwrap_or(account)
}

/// Units moved from one Party's registry to another's in one month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    pub month: u32,
    pub from: String,
    pub to: String,
    pub amount: u64,
}

impl<S: Store> ChainStore<S> {
    /// The index writes of a committed block, added to its batch. `pending` holds the
    /// month totals already written by earlier blocks of the same rebuild batch.
    pub(super) fn index_writes(
        &self,
        block: &StoredBlock,
        pending: &mut BTreeMap<Vec<u8>, u64>,
        batch: &mut Vec<Write>,
    ) -> Result<(), StoreError> {
        let height = block.height();
        batch.push((
            [BLOCK_HASH, block.block_hash.as_slice()].concat(),
            Some(height.to_be_bytes().to_vec()),
        ));
        let month = month_of(block.timestamp_ms());
        let mut trails: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        let mut moved: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for r in &block.receipts {
            let Some(StoredOutcome::Applied(a)) = &r.outcome else {
                continue;
            };
            if PROJECT_KINDS.contains(&a.kind.as_str()) {
                let mut projects: Vec<&str> = a
                    .serials
                    .iter()
                    .map(|s| s.project.as_str())
                    .filter(|p| !p.is_empty())
                    .collect();
                projects.dedup();
                for p in projects {
                    let indices = trails.entry(p).or_default();
                    if !indices.ends_with(&r.index.to_be_bytes()) {
                        indices.extend_from_slice(&r.index.to_be_bytes());
                    }
                }
            }
            if a.kind == "external_transfer" {
                let (from, to) = (party_of(&a.from_account), party_of(&a.to_account));
                let total = moved.entry(flow_key(month, from, to)).or_default();
                *total = total.saturating_add(a.amount);
            }
        }
        for (project, indices) in trails {
            let mut key = trail_prefix(project);
            key.extend_from_slice(&height.to_be_bytes());
            batch.push((key, Some(indices)));
        }
        for (key, amount) in moved {
            let before = match pending.get(&key) {
                Some(n) => *n,
                None => self.inner.get(&key)?.map_or(Ok(0), |v| decode_u64(&v))?,
            };
            let total = before.saturating_add(amount);
            pending.insert(key.clone(), total);
            batch.push((key, Some(total.to_be_bytes().to_vec())));
        }
        Ok(())
    }

    /// Indexes every committed block of a store written before the indexes existed
    /// (a no-op once done). Returns how many blocks it indexed.
    pub fn build_indexes(&self) -> Result<u64, StoreError> {
        if self.inner.get(INDEXED)?.as_deref() == Some(VERSION) {
            return Ok(0);
        }
        let head = self.head()?;
        let mut pending = BTreeMap::new();
        let mut batch = Vec::new();
        for height in 1..=head {
            let block = self
                .block(height)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {height} is missing")))?;
            self.index_writes(&block, &mut pending, &mut batch)?;
            if batch.len() >= 10_000 {
                self.inner.write(std::mem::take(&mut batch))?;
                pending.clear();
            }
        }
        batch.push((INDEXED.to_vec(), Some(VERSION.to_vec())));
        self.inner.write(batch)?;
        Ok(head)
    }

    /// Marks a new store as indexed (its blocks are indexed as they commit).
    pub(super) fn indexed_marker() -> Write {
        (INDEXED.to_vec(), Some(VERSION.to_vec()))
    }

    /// The latest `limit` entries of a project's trail, older than `before` if given.
    pub fn project_trail_before(
        &self,
        project: &str,
        limit: usize,
        before: Option<TxLocation>,
    ) -> Result<Vec<TxLocation>, StoreError> {
        history_entries(&self.inner, &trail_prefix(project), limit, before)
    }

    /// The height of the committed block with this hash.
    pub fn height_of_block(&self, hash: &[u8]) -> Result<Option<u64>, StoreError> {
        self.inner
            .get(&[BLOCK_HASH, hash].concat())?
            .map(|v| decode_u64(&v))
            .transpose()
    }

    /// The units moved between Parties in each month from `first` to `last`
    /// (`yyyymm`, at most `max_months` months), by month, then sending and receiving
    /// Party; reading stops once more than `max_rows` are read.
    pub fn flows(
        &self,
        first: u32,
        last: u32,
        max_months: usize,
        max_rows: usize,
    ) -> Result<Vec<Flow>, StoreError> {
        let mut out = Vec::new();
        let corrupt = || StoreError::Corrupt("bad flow entry".into());
        let mut month = first;
        for _ in 0..max_months {
            if month > last {
                break;
            }
            let prefix = flows_prefix(month);
            for (k, v) in self.inner.scan_prefix(&prefix)? {
                let rest = std::str::from_utf8(&k[prefix.len()..]).map_err(|_| corrupt())?;
                let (from, to) = rest.split_once('\0').ok_or_else(corrupt)?;
                out.push(Flow {
                    month,
                    from: from.to_owned(),
                    to: to.to_owned(),
                    amount: decode_u64(&v)?,
                });
                if out.len() > max_rows {
                    return Ok(out);
                }
            }
            month = next_month(month);
        }
        Ok(out)
    }
}

/// The month after `yyyymm`.
pub fn next_month(month: u32) -> u32 {
    if month % 100 >= 12 {
        (month / 100 + 1) * 100 + 1
    } else {
        month + 1
    }
}

fn decode_u64(v: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(v.try_into().map_err(|_| {
        StoreError::Corrupt("an index value is not 8 bytes".into())
    })?))
}

#[cfg(test)]
mod tests {
    use kyoto_proto::v1 as pb;

    use super::super::{MemoryStore, StoredApplied, StoredReceipt, StoredSerials};
    use super::*;

    /// 2008-03-15 and 2008-04-02, 12:00 UTC.
    const MARCH: i64 = 1_205_582_400_000;
    const APRIL: i64 = 1_207_137_600_000;

    fn applied(kind: &str, from: &str, to: &str, amount: u64, project: &str) -> StoredReceipt {
        StoredReceipt {
            outcome: Some(StoredOutcome::Applied(StoredApplied {
                kind: kind.into(),
                amount,
                from_account: from.into(),
                to_account: to.into(),
                serials: vec![StoredSerials {
                    project: project.into(),
                    ..Default::default()
                }],
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn block(height: u64, timestamp_ms: i64, receipts: Vec<StoredReceipt>) -> StoredBlock {
        StoredBlock {
            block: Some(pb::Block {
                header: Some(pb::BlockHeader {
                    height,
                    timestamp_ms,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            block_hash: vec![u8::try_from(height).unwrap_or(0); 32],
            receipts: receipts
                .into_iter()
                .enumerate()
                .map(|(i, mut r)| {
                    r.index = i as u32;
                    r
                })
                .collect(),
            ..Default::default()
        }
    }

    fn blocks() -> Vec<StoredBlock> {
        vec![
            block(
                1,
                MARCH,
                vec![
                    applied("external_transfer", "JPN-100-1", "CAN-100-1", 10, ""),
                    applied("cer_issuance", "", "CDM-1", 50, "CDM-7"),
                    applied("external_transfer", "JPN-100-2", "CAN-100-1", 5, ""),
                ],
            ),
            block(
                2,
                APRIL,
                vec![
                    applied("internal_transfer", "JPN-100-1", "JPN-100-2", 99, ""),
                    applied("external_transfer", "CAN-100-1", "JPN-100-1", 7, ""),
                    applied("cer_forwarding", "CDM-1", "JPN-100-1", 20, "CDM-7"),
                    applied("eru_conversion", "RUS-100-1", "RUS-100-1", 30, "JI-3"),
                ],
            ),
            block(
                3,
                APRIL + 1,
                vec![applied(
                    "external_transfer",
                    "JPN-100-1",
                    "CAN-100-1",
                    1,
                    "",
                )],
            ),
        ]
    }

    fn check(store: &ChainStore<MemoryStore>) {
        let at = |height, index| TxLocation { height, index };
        assert_eq!(
            store.project_trail_before("CDM-7", 10, None).unwrap(),
            vec![at(2, 2), at(1, 1)]
        );
        assert_eq!(
            store
                .project_trail_before("CDM-7", 10, Some(at(2, 2)))
                .unwrap(),
            vec![at(1, 1)]
        );
        assert_eq!(
            store.project_trail_before("JI-3", 10, None).unwrap(),
            vec![at(2, 3)]
        );
        assert_eq!(store.project_trail_before("CDM", 10, None).unwrap(), vec![]);
        for h in 1..=3u8 {
            assert_eq!(store.height_of_block(&[h; 32]).unwrap(), Some(u64::from(h)));
        }
        assert_eq!(store.height_of_block(&[9; 32]).unwrap(), None);
        let flow = |month, from: &str, to: &str, amount| Flow {
            month,
            from: from.into(),
            to: to.into(),
            amount,
        };
        assert_eq!(
            store.flows(200801, 201012, 36, 100).unwrap(),
            vec![
                flow(200803, "JPN", "CAN", 15),
                flow(200804, "CAN", "JPN", 7),
                flow(200804, "JPN", "CAN", 1),
            ]
        );
        // At most `max_months` months are read.
        assert_eq!(store.flows(200801, 201012, 2, 100).unwrap(), vec![]);
        // Reading stops past `max_rows`.
        assert_eq!(store.flows(200801, 201012, 36, 1).unwrap().len(), 2);
    }

    #[test]
    fn committed_blocks_are_indexed_and_an_old_store_gets_the_same_indexes() {
        let store = ChainStore::new(MemoryStore::default());
        for b in blocks() {
            store.commit_block(&b, Vec::new()).unwrap();
        }
        check(&store);

        // The same blocks in a store from before the indexes (no marker, no entries).
        let old = ChainStore::new(MemoryStore::default());
        for b in blocks() {
            old.commit_block(&b, Vec::new()).unwrap();
        }
        let index_keys: Vec<Write> = [PROJECT_TRAIL, BLOCK_HASH, FLOWS]
            .iter()
            .flat_map(|p| old.inner.scan_keys(p).unwrap())
            .map(|k| (k, None))
            .collect();
        old.inner.write(index_keys).unwrap();
        assert_eq!(old.height_of_block(&[1; 32]).unwrap(), None);
        assert_eq!(old.build_indexes().unwrap(), 3);
        check(&old);
        assert_eq!(old.build_indexes().unwrap(), 0, "indexed once");
    }

    #[test]
    fn months_follow_the_calendar() {
        assert_eq!(month_of(MARCH), 200803);
        assert_eq!(next_month(200812), 200901);
        assert_eq!(next_month(200811), 200812);
    }
}
