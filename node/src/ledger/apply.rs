//! Applying committed blocks: the Kyoto rules for each transaction kind.
//!
//! Every handler first *plans* with read-only access (all checks, in the order of
//! DESIGN.md §3b: nonce, accounts, holdings, treaty rules) and only then *executes*
//! the plan, so a refused transaction changes nothing but its signer's nonce.

use std::collections::BTreeSet;

use super::refusal::Refusal;
use super::state::{
    Account, Holder, LeafWrite, Position, State, StateError, StateKey, party_holding,
};
use super::tx::{Applied, AppliedKind, Receipt, Tx, TxKind, UnitFilter};
use super::types::{
    AccountId, AccountKind, Amount, Hash, PartyCode, Period, PublicKey, SerialBlock, UnitType,
};

/// Longest entity holder name accepted.
pub const MAX_HOLDER_NAME_CHARS: usize = 128;

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

enum Plan {
    Issue {
        party: PartyCode,
        to: AccountId,
        block: SerialBlock,
    },
    Transfer {
        from: AccountId,
        to: AccountId,
        take: Vec<SerialBlock>,
        external: bool,
        amount: Amount,
        units: UnitFilter,
    },
    Open {
        account: Account,
    },
}

impl State {
    /// Applies a committed block: one receipt per transaction, in order.
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
        let mut touched = BTreeSet::new();
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
        self.meta.height = ctx.height;
        self.meta.time_ms = ctx.timestamp_ms;
        self.meta.last_block_hash = ctx.hash;
        touched.insert(StateKey::Meta);
        let writes = self.flush_leaves(touched)?;
        Ok(BlockOutcome {
            receipts,
            writes,
            state_root: self.state_root(),
        })
    }

    fn apply_tx(&mut self, tx: &Tx, touched: &mut BTreeSet<StateKey>) -> Result<Applied, Refusal> {
        self.check_nonce(&tx.signer, tx.nonce)?;
        // From here on the nonce is consumed, applied or refused (invariant 4).
        self.nonces.insert(tx.signer, tx.nonce);
        touched.insert(StateKey::Nonce(tx.signer));
        let plan = self.plan(tx)?;
        Ok(self.execute(plan, touched))
    }

    fn check_nonce(&self, signer: &PublicKey, nonce: u64) -> Result<(), Refusal> {
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

    fn plan(&self, tx: &Tx) -> Result<Plan, Refusal> {
        match &tx.kind {
            TxKind::IssueUnits {
                party,
                unit_type,
                period,
                amount,
                to,
            } => self.plan_issue(&tx.signer, party, *unit_type, *period, *amount, to.as_ref()),
            TxKind::TransferUnits {
                from,
                to,
                amount,
                units,
            } => self.plan_transfer(&tx.signer, from, to, *amount, units),
            TxKind::OpenAccount {
                party,
                holder_name,
                holder_key,
            } => self.plan_open(&tx.signer, party, holder_name, holder_key),
        }
    }

    fn authority_of(
        &self,
        party: &PartyCode,
        signer: &PublicKey,
        what: &str,
    ) -> Result<(), Refusal> {
        let p = self
            .parties
            .get(party)
            .ok_or_else(|| Refusal::UnknownParty {
                party: party.clone(),
            })?;
        if &p.authority != signer {
            return Err(Refusal::NotAuthorised {
                what: format!("{what} for {party} (only its registry authority may)"),
            });
        }
        Ok(())
    }

    fn plan_issue(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        unit_type: UnitType,
        period: Period,
        amount: Amount,
        to: Option<&AccountId>,
    ) -> Result<Plan, Refusal> {
        self.authority_of(party, signer, "issue units")?;
        let to = to.cloned().unwrap_or_else(|| party_holding(party));
        if !self.accounts.contains_key(&to) {
            return Err(Refusal::UnknownAccount { account: to });
        }
        if &to.party != party {
            return Err(Refusal::WrongRegistry {
                account: to,
                party: party.clone(),
            });
        }
        if amount == 0 {
            return Err(Refusal::InvalidAmount);
        }
        if unit_type != UnitType::Aau {
            return Err(Refusal::UnsupportedUnitType { unit_type });
        }
        let p = self
            .parties
            .get(party)
            .ok_or_else(|| Refusal::UnknownParty {
                party: party.clone(),
            })?;
        // Art. 3.7: the AAUs issued for a period never exceed the assigned amount.
        let assigned =
            *p.assigned_amounts
                .get(&period)
                .ok_or_else(|| Refusal::NoAssignedAmount {
                    party: party.clone(),
                    period,
                })?;
        let issued = p.position(UnitType::Aau, period).issued;
        let exceeds = || Refusal::IssuanceExceedsAssignedAmount {
            party: party.clone(),
            period,
            assigned,
            issued,
            requested: amount,
        };
        if issued
            .checked_add(amount)
            .is_none_or(|total| total > assigned)
        {
            return Err(exceeds());
        }
        let start = p.next_serial;
        let end = start
            .checked_add(amount - 1)
            .filter(|e| *e < u64::MAX)
            .ok_or_else(|| Refusal::SerialSpaceExhausted {
                origin: party.clone(),
            })?;
        let block = SerialBlock {
            origin: party.clone(),
            start,
            end,
            unit_type,
            original_period: period,
            applicable_period: period,
        };
        Ok(Plan::Issue {
            party: party.clone(),
            to,
            block,
        })
    }

    fn plan_transfer(
        &self,
        signer: &PublicKey,
        from: &AccountId,
        to: &AccountId,
        amount: Amount,
        units: &UnitFilter,
    ) -> Result<Plan, Refusal> {
        let source = self
            .accounts
            .get(from)
            .ok_or_else(|| Refusal::UnknownAccount {
                account: from.clone(),
            })?;
        if !self.accounts.contains_key(to) {
            return Err(Refusal::UnknownAccount {
                account: to.clone(),
            });
        }
        if self.account_controller(source).as_ref() != Some(signer) {
            return Err(Refusal::NotAuthorised {
                what: format!("transfer units out of {from}"),
            });
        }
        if from == to {
            return Err(Refusal::SameAccount);
        }
        if amount == 0 {
            return Err(Refusal::InvalidAmount);
        }
        // Take the lowest serials that match, splitting the last block if needed.
        let mut take = Vec::new();
        let mut remaining = amount;
        for b in source.blocks.iter().filter(|b| units.matches(b)) {
            if remaining == 0 {
                break;
            }
            let n = remaining.min(b.count());
            take.push(b.slice(b.start, b.start + (n - 1)));
            remaining -= n;
        }
        if remaining > 0 {
            let held = source
                .blocks
                .iter()
                .filter(|b| units.matches(b))
                .map(SerialBlock::count)
                .sum();
            return Err(Refusal::InsufficientUnits {
                account: from.clone(),
                unit_type: units.unit_type,
                period: units.period,
                held,
                requested: amount,
            });
        }
        let external = from.party != to.party;
        if external {
            // Art. 17 (and Art. 6.1 for ERUs): trading is between Parties to the Protocol.
            for party in [&from.party, &to.party] {
                let p = self
                    .parties
                    .get(party)
                    .ok_or_else(|| Refusal::UnknownParty {
                        party: party.clone(),
                    })?;
                if !p.in_force() {
                    return Err(Refusal::PartyNotInForce {
                        party: party.clone(),
                    });
                }
            }
        }
        Ok(Plan::Transfer {
            from: from.clone(),
            to: to.clone(),
            take,
            external,
            amount,
            units: units.clone(),
        })
    }

    fn plan_open(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        holder_name: &str,
        holder_key: &PublicKey,
    ) -> Result<Plan, Refusal> {
        self.authority_of(party, signer, "open accounts")?;
        let name = holder_name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_HOLDER_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Refusal::InvalidArgument {
                message: format!(
                    "the holder name must be 1 to {MAX_HOLDER_NAME_CHARS} printable characters"
                ),
            });
        }
        let p = self
            .parties
            .get(party)
            .ok_or_else(|| Refusal::UnknownParty {
                party: party.clone(),
            })?;
        let id = AccountId {
            party: party.clone(),
            kind: AccountKind::EntityHolding,
            number: p.next_entity_account,
        };
        Ok(Plan::Open {
            account: Account {
                id,
                holder: Holder::Key(*holder_key),
                holder_name: name.to_owned(),
                blocks: Vec::new(),
            },
        })
    }

    fn execute(&mut self, plan: Plan, touched: &mut BTreeSet<StateKey>) -> Applied {
        match plan {
            Plan::Issue { party, to, block } => {
                let amount = block.count();
                if let Some(p) = self.parties.get_mut(&party) {
                    p.next_serial = block.end + 1;
                    let pos = p
                        .positions
                        .entry((block.unit_type, block.applicable_period))
                        .or_default();
                    pos.issued += amount;
                }
                if let Some(acc) = self.accounts.get_mut(&to) {
                    acc.insert(block.clone());
                }
                touched.insert(StateKey::Party(party));
                touched.insert(StateKey::Account(to.clone()));
                Applied {
                    kind: AppliedKind::Issuance,
                    amount,
                    serials: vec![block],
                    from: None,
                    to: Some(to),
                }
            }
            Plan::Transfer {
                from,
                to,
                take,
                external,
                amount,
                units,
            } => {
                if let Some(src) = self.accounts.get_mut(&from) {
                    remove_prefixes(src, &take);
                }
                if let Some(dst) = self.accounts.get_mut(&to) {
                    for b in &take {
                        dst.insert(b.clone());
                    }
                }
                if external {
                    // Art. 3.11: subtracted from the transferring Party;
                    // Art. 3.10/3.12: added to the acquiring Party.
                    let key = (units.unit_type, units.period);
                    if let Some(p) = self.parties.get_mut(&from.party) {
                        p.positions
                            .entry(key)
                            .or_insert_with(Position::default)
                            .transferred += amount;
                    }
                    if let Some(p) = self.parties.get_mut(&to.party) {
                        p.positions
                            .entry(key)
                            .or_insert_with(Position::default)
                            .acquired += amount;
                    }
                    touched.insert(StateKey::Party(from.party.clone()));
                    touched.insert(StateKey::Party(to.party.clone()));
                }
                touched.insert(StateKey::Account(from.clone()));
                touched.insert(StateKey::Account(to.clone()));
                let kind = if external {
                    AppliedKind::ExternalTransfer
                } else {
                    AppliedKind::InternalTransfer
                };
                Applied {
                    kind,
                    amount,
                    serials: take,
                    from: Some(from),
                    to: Some(to),
                }
            }
            Plan::Open { account } => {
                let id = account.id.clone();
                if let Some(p) = self.parties.get_mut(&id.party) {
                    p.next_entity_account += 1;
                }
                touched.insert(StateKey::Party(id.party.clone()));
                touched.insert(StateKey::Account(id.clone()));
                self.accounts.insert(id.clone(), account);
                Applied {
                    kind: AppliedKind::AccountOpened,
                    amount: 0,
                    serials: Vec::new(),
                    from: None,
                    to: Some(id),
                }
            }
        }
    }
}

/// Removes the taken ranges, each a prefix of one of the account's blocks.
fn remove_prefixes(acc: &mut Account, take: &[SerialBlock]) {
    for t in take {
        if let Some(i) = acc
            .blocks
            .iter()
            .position(|b| b.origin == t.origin && b.start == t.start)
        {
            if acc.blocks[i].end == t.end {
                acc.blocks.remove(i);
            } else {
                acc.blocks[i].start = t.end + 1;
            }
        }
    }
}
