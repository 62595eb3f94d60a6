//! Applying a committed block: the height and time checks, the nonce of every
//! transaction, and the dispatch of each transaction kind to the article that rules it.
//!
//! Every handler first *plans* with read-only access (nonce, accounts, holdings,
//! treaty rules, in that order) and only then [executes](crate::plan) the plan, so a
//! refused transaction changes nothing but its signer's nonce (ARCHITECTURE.md,
//! "Invariants").

use std::collections::BTreeSet;

use crate::leaves::{LeafWrite, StateError, StateKey};
use crate::plan::Plan;
use crate::refusal::Refusal;
use crate::state::State;
use crate::tx::{Applied, Receipt, Tx, TxKind};
use crate::types::{Hash, PublicKey};

/// The result of applying one block.
#[derive(Debug)]
pub struct BlockOutcome {
    pub receipts: Vec<Receipt>,
    /// Leaves changed by the block, to be written atomically with it.
    pub writes: Vec<LeafWrite>,
    pub state_root: Hash,
}

/// Why a block as a whole cannot be applied (the caller must not have passed it).
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("block height {got} does not follow the ledger height {height}")]
    WrongHeight { height: u64, got: u64 },
    #[error("block timestamp {got} ms is not after the previous block's {previous} ms")]
    TimeNotIncreasing { previous: i64, got: i64 },
    #[error(transparent)]
    State(#[from] StateError),
}

/// The header fields of a committed block the ledger needs.
#[derive(Clone, Copy, Debug)]
pub struct BlockContext {
    pub height: u64,
    pub timestamp_ms: i64,
    pub hash: Hash,
}

impl State {
    /// Applies a committed block: one receipt per transaction, in order. Ledger time
    /// for the block's transactions is the block's timestamp.
    pub fn apply_block(
        &mut self,
        ctx: BlockContext,
        txs: &[Tx],
    ) -> Result<BlockOutcome, BlockError> {
        let expected = self.meta.height.saturating_add(1);
        if ctx.height != expected {
            return Err(BlockError::WrongHeight {
                height: self.meta.height,
                got: ctx.height,
            });
        }
        if ctx.timestamp_ms <= self.meta.time_ms {
            return Err(BlockError::TimeNotIncreasing {
                previous: self.meta.time_ms,
                got: ctx.timestamp_ms,
            });
        }
        self.meta.height = ctx.height;
        self.meta.time_ms = ctx.timestamp_ms;
        self.meta.last_block_hash = ctx.hash;
        let mut touched = BTreeSet::from([StateKey::Meta]);
        // Effects whose date the block's timestamp reaches apply before its transactions.
        self.advance_governance(ctx.timestamp_ms, &mut touched);
        let mut receipts = Vec::with_capacity(txs.len());
        for (index, tx) in txs.iter().enumerate() {
            let outcome = self.apply_tx(tx, &mut touched);
            receipts.push(Receipt {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                tx_hash: tx.hash,
                signer: tx.signer,
                nonce: tx.nonce,
                outcome,
            });
        }
        let writes = self.flush_leaves(touched)?;
        Ok(BlockOutcome {
            receipts,
            writes,
            state_root: self.state_root(),
        })
    }

    /// What `tx` would do as the only transaction of the next block, stamped
    /// `timestamp_ms`: the receipt that block would give it (the nonce, every rule and
    /// the effects due at that time, exactly as [`State::apply_block`] applies them).
    /// Nothing changes: the block is applied to a scratch copy of the state (without
    /// the leaf hashes, which only the state root needs), so this costs a copy of the
    /// state and a caller bounds how many run at once.
    pub fn simulate(&self, timestamp_ms: i64, tx: &Tx) -> Result<Receipt, BlockError> {
        if timestamp_ms <= self.meta.time_ms {
            return Err(BlockError::TimeNotIncreasing {
                previous: self.meta.time_ms,
                got: timestamp_ms,
            });
        }
        let mut scratch = State {
            meta: self.meta.clone(),
            params: self.params.clone(),
            cdm: self.cdm.clone(),
            projects: self.projects.clone(),
            governance: self.governance.clone(),
            proposals: self.proposals.clone(),
            parties: self.parties.clone(),
            accounts: self.accounts.clone(),
            nonces: self.nonces.clone(),
            leaf_hashes: Default::default(),
            holder_keys: self.holder_keys.clone(),
        };
        scratch.meta.height = self.meta.height.saturating_add(1);
        scratch.meta.time_ms = timestamp_ms;
        let mut touched = BTreeSet::new();
        scratch.advance_governance(timestamp_ms, &mut touched);
        let outcome = scratch.apply_tx(tx, &mut touched);
        Ok(Receipt {
            index: 0,
            tx_hash: tx.hash,
            signer: tx.signer,
            nonce: tx.nonce,
            outcome,
        })
    }

    pub(crate) fn apply_tx(
        &mut self,
        tx: &Tx,
        touched: &mut BTreeSet<StateKey>,
    ) -> Result<Applied, Refusal> {
        self.check_nonce(&tx.signer, tx.nonce)?;
        // From here on the nonce is consumed, applied or refused (invariant 4).
        self.nonces.insert(tx.signer, tx.nonce);
        touched.insert(StateKey::Nonce(tx.signer));
        let plan = self.plan(tx)?;
        Ok(self.execute(plan, touched))
    }

    pub(crate) fn check_nonce(&self, signer: &PublicKey, nonce: u64) -> Result<(), Refusal> {
        let last_used = self.nonce(signer);
        if nonce <= last_used {
            return Err(Refusal::NonceReused { nonce, last_used });
        }
        let expected = last_used.saturating_add(1);
        if nonce != expected {
            return Err(Refusal::NonceGap { nonce, expected });
        }
        Ok(())
    }

    /// Checks a transaction against the current state without changing it, as if it
    /// were the next transaction of its signer (the mempool's dry run).
    pub fn check(&self, tx: &Tx) -> Result<(), Refusal> {
        self.check_nonce(&tx.signer, tx.nonce)?;
        self.plan(tx).map(|_| ())
    }

    pub(crate) fn plan(&self, tx: &Tx) -> Result<Plan, Refusal> {
        let signer = &tx.signer;
        match &tx.kind {
            TxKind::IssueUnits {
                party,
                unit_type,
                period,
                amount,
                to,
                activity,
            } => self.plan_issue(
                signer,
                party,
                *unit_type,
                *period,
                *amount,
                to.as_ref(),
                *activity,
            ),
            TxKind::TransferUnits {
                from,
                to,
                amount,
                units,
            } => self.plan_transfer(signer, from, to, *amount, units),
            TxKind::OpenAccount {
                party,
                holder_name,
                holder_key,
            } => self.plan_open(signer, party, holder_name, holder_key),
            TxKind::ReportInventory {
                party,
                year,
                emissions,
                removals,
            } => self.plan_inventory(signer, party, *year, *emissions, removals),
            TxKind::ApproveJiProject {
                project,
                host,
                acquirer,
            } => self.plan_ji(signer, project, host, acquirer),
            TxKind::ConvertToEru {
                project,
                from,
                amount,
                units,
            } => self.plan_convert(signer, project, from, *amount, units),
            TxKind::RegisterCdmProject {
                project,
                host,
                participants,
            } => self.plan_cdm_project(signer, project, host, participants),
            TxKind::IssueCers {
                project,
                unit_type,
                period,
                amount,
                expiry_ms,
            } => self.plan_issue_cers(signer, project, *unit_type, *period, *amount, *expiry_ms),
            TxKind::CancelUnits {
                from,
                kind,
                amount,
                units,
            } => self.plan_cancel(signer, from, *kind, *amount, units),
            TxKind::RetireUnits {
                from,
                amount,
                units,
            } => self.plan_retire(signer, from, *amount, units),
            TxKind::CarryOver {
                from,
                amount,
                units,
            } => self.plan_carry_over(signer, from, *amount, units),
            TxKind::ReplaceUnits {
                party,
                expiring,
                from,
                units,
            } => self.plan_replace(signer, party, expiring, from, units),
            TxKind::Gov(g) => self.plan_gov(signer, g).map(Plan::Gov),
            TxKind::ChangeExpiry { range, expiry_ms } => {
                self.plan_change_expiry(signer, range, *expiry_ms)
            }
        }
    }
}
