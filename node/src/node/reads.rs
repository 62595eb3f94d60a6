//! The committed chain's reads: a transaction's status, the audit trails of accounts
//! and projects, blocks by height or hash, and the monthly flows between Parties.

use kyoto_proto::v1 as pb;

use super::{Node, SubmitError, TxStatus};
use crate::chain::Chain;
use crate::ledger::Hash;
use crate::store::{ChainStore, Store, StoreError, StoredBlock, TxLocation};
use crate::wire;

impl Node {
    pub fn tx_status(&self, hash: &Hash) -> Result<TxStatus, SubmitError> {
        if self.mempool()?.contains(hash) {
            return Ok(TxStatus::Pending);
        }
        let chain = self.chain()?;
        let internal = |e: StoreError| SubmitError::Internal(e.to_string());
        let Some(TxLocation { height, index }) =
            chain.store().tx_location(hash).map_err(internal)?
        else {
            return Ok(TxStatus::Unknown);
        };
        let block = chain
            .store()
            .block(height)
            .map_err(internal)?
            .ok_or_else(|| SubmitError::Internal(format!("indexed block {height} is missing")))?;
        let receipt = usize::try_from(index)
            .ok()
            .and_then(|i| block.receipts.get(i).cloned())
            .map(wire::receipt)
            .ok_or_else(|| {
                SubmitError::Internal(format!("block {height} has no receipt {index}"))
            })?;
        Ok(TxStatus::Committed {
            receipt: Box::new(receipt),
            block_hash: block.block_hash,
        })
    }

    /// The latest `limit` transactions that changed an account's holdings, newest first.
    /// With `before`, the entries older than that one (the next page).
    pub fn account_history(
        &self,
        account: &str,
        limit: usize,
        before: Option<TxLocation>,
    ) -> Result<Vec<pb::HistoryEntry>, SubmitError> {
        self.trail(|store| store.account_history_before(account, limit, before))
    }

    /// The latest `limit` entries of a JI or CDM project's trail (conversions, CER
    /// issuances, forwardings), newest first, older than `before` when given.
    pub fn project_history(
        &self,
        project: &str,
        limit: usize,
        before: Option<TxLocation>,
    ) -> Result<Vec<pb::HistoryEntry>, SubmitError> {
        self.trail(|store| store.project_trail_before(project, limit, before))
    }

    /// The receipts at the locations `locate` finds, with their blocks' heights and times.
    fn trail(
        &self,
        locate: impl FnOnce(&ChainStore<Box<dyn Store>>) -> Result<Vec<TxLocation>, StoreError>,
    ) -> Result<Vec<pb::HistoryEntry>, SubmitError> {
        let chain = self.chain()?;
        let locations = locate(chain.store()).map_err(store_error)?;
        history_entries(&chain, locations)
    }

    /// Units moved between Parties by month, from `first` to `last` (`yyyymm`), at
    /// most `max_months` months; reading stops once more than `max_rows` are read.
    pub fn flows(
        &self,
        first: u32,
        last: u32,
        max_months: usize,
        max_rows: usize,
    ) -> Result<Vec<crate::store::Flow>, SubmitError> {
        self.chain()?
            .store()
            .flows(first, last, max_months, max_rows)
            .map_err(store_error)
    }

    /// The height of the committed block with this hash.
    pub fn height_of_block(&self, hash: &[u8]) -> Result<Option<u64>, SubmitError> {
        self.chain()?
            .store()
            .height_of_block(hash)
            .map_err(store_error)
    }

    /// A committed block in its API form.
    pub fn block(&self, height: u64) -> Result<Option<pb::GetBlockResponse>, SubmitError> {
        let stored = self
            .chain()?
            .store()
            .block(height)
            .map_err(|e| SubmitError::Internal(e.to_string()))?;
        Ok(stored.map(wire::block))
    }
}

fn store_error(e: StoreError) -> SubmitError {
    SubmitError::Internal(e.to_string())
}

/// The receipts at `locations`, with their blocks' heights and times (each block read
/// once for a run of entries in it).
fn history_entries<S: Store>(
    chain: &Chain<S>,
    locations: Vec<TxLocation>,
) -> Result<Vec<pb::HistoryEntry>, SubmitError> {
    let mut entries = Vec::with_capacity(locations.len());
    let mut cached: Option<StoredBlock> = None;
    for TxLocation { height, index } in locations {
        let block = match cached.take() {
            Some(b) if b.height() == height => b,
            _ => chain
                .store()
                .block(height)
                .map_err(store_error)?
                .ok_or_else(|| {
                    SubmitError::Internal(format!("indexed block {height} is missing"))
                })?,
        };
        let timestamp_ms = block.timestamp_ms();
        let receipt = usize::try_from(index)
            .ok()
            .and_then(|i| block.receipts.get(i).cloned())
            .map(wire::receipt);
        entries.push(pb::HistoryEntry {
            height,
            timestamp_ms,
            receipt,
        });
        cached = Some(block);
    }
    Ok(entries)
}
