//! Applying committed blocks: the Kyoto rules for each transaction kind.
//!
//! Every handler first *plans* with read-only access (all checks, in the order of
//! DESIGN.md §3b: nonce, accounts, holdings, treaty rules) and only then *executes*
//! the plan, so a refused transaction changes nothing but its signer's nonce.

use std::collections::{BTreeMap, BTreeSet};

use super::genesis::CDM_REGISTRY;
use super::governance::GovPlan;
use super::refusal::Refusal;
use super::state::{
    Account, Holder, Inventory, LeafWrite, Party, Project, State, StateError, StateKey,
    party_holding,
};
use super::tx::{Applied, AppliedKind, Receipt, SerialRange, Tx, TxKind, UnitFilter};
use super::types::{
    AccountId, AccountKind, Activity, Amount, Hash, PartyCode, Period, PublicKey, SerialBlock,
    Total, UnitType,
};

/// Longest entity holder name accepted.
pub const MAX_HOLDER_NAME_CHARS: usize = 128;
/// Largest inventory figure (and serial range) accepted: 10^13 t CO2e, far above any
/// country's annual emissions, so that sums over years and periods cannot overflow.
pub const MAX_INVENTORY_AMOUNT: Amount = 10_000_000_000_000;

/// Longest project id accepted.
pub const MAX_PROJECT_ID_CHARS: usize = 64;
/// Most participant accounts of a CDM project.
pub const MAX_PARTICIPANTS: usize = 32;

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

/// A Party's position for a commitment period (Art. 3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compliance {
    pub party: PartyCode,
    pub period: Period,
    pub assigned_amount: Amount,
    /// Reviewed emissions summed over the period's years reported so far.
    pub emissions: Amount,
    pub years_reported: Vec<u32>,
    pub years_in_period: Vec<u32>,
    /// Units in the Party's retirement account for the period.
    pub retired: Total,
    /// retired - emissions (negative: shortfall).
    pub surplus: i128,
    /// Every year of the period reported and the retired units cover the emissions.
    pub complies: bool,
    /// Commitment period reserve now (decision 11/CMP.1), if the Party has one.
    pub reserve: Option<Amount>,
    /// Units the registry holds for the period that count toward the reserve.
    pub held_for_reserve: Total,
}

/// Effects of a planned transaction, executed only when every check passed.
enum Plan {
    /// Take `take` (prefixes of blocks) from `from`, change them with `map`, put them in `to`.
    Move {
        kind: AppliedKind,
        from: AccountId,
        to: AccountId,
        take: Vec<SerialBlock>,
        map: Map,
        /// External transfer accounting: (transferring Party, acquiring Party), either
        /// may be the CDM registry, which keeps no Party accounting.
        external: Option<(PartyCode, PartyCode)>,
        /// Extra Party accounting (conversion, carry-over).
        positions: Vec<PositionChange>,
        /// Serial range to mark replaced in the retirement accounts of a Party.
        mark_replaced: Option<(PartyCode, SerialRange)>,
    },
    /// New units.
    Issue {
        kind: AppliedKind,
        origin: PartyCode,
        blocks: Vec<(AccountId, SerialBlock)>,
        activity: Option<Activity>,
    },
    Open {
        account: Account,
    },
    Inventory {
        party: PartyCode,
        year: u32,
        inventory: Inventory,
    },
    Project {
        project: Project,
        kind: AppliedKind,
    },
    Expiry {
        range: SerialRange,
        expiry_ms: i64,
    },
    Gov(GovPlan),
}

#[derive(Clone, Copy)]
enum Map {
    Keep,
    Convert { to: UnitType },
    CarryOver,
}

struct PositionChange {
    party: PartyCode,
    unit_type: UnitType,
    period: Period,
    field: Field,
    amount: Amount,
}

#[derive(Clone, Copy)]
enum Field {
    ConvertedIn,
    ConvertedOut,
    CarriedIn,
    CarriedOut,
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_PROJECT_ID_CHARS
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
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

    // ---- read helpers -------------------------------------------------------------

    fn party_ref(&self, code: &PartyCode) -> Result<&Party, Refusal> {
        self.parties.get(code).ok_or_else(|| Refusal::UnknownParty {
            party: code.clone(),
        })
    }

    fn account_ref(&self, id: &AccountId) -> Result<&Account, Refusal> {
        self.accounts
            .get(id)
            .ok_or_else(|| Refusal::UnknownAccount {
                account: id.clone(),
            })
    }

    fn authority_of(
        &self,
        party: &PartyCode,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Party, Refusal> {
        let p = self.party_ref(party)?;
        if &p.authority != signer {
            return Err(Refusal::NotAuthorised {
                what: format!("{what} for {party} (only its registry authority may)"),
            });
        }
        Ok(p)
    }

    /// The one rule every act of a Party under the Protocol passes through: the
    /// Protocol must be in force for it (ratified or acceded and 90 days passed, Art.
    /// 24, 25.3; not withdrawn, Art. 27). A signatory or a State whose withdrawal took
    /// effect may not issue, report, retire, convert, carry over, replace or trade.
    pub(crate) fn in_force_for<'a>(&self, p: &'a Party, act: &str) -> Result<&'a Party, Refusal> {
        if p.in_force() {
            Ok(p)
        } else {
            Err(Refusal::PartyNotInForce {
                party: p.code.clone(),
                act: act.to_owned(),
            })
        }
    }

    /// A Party's registry authority acting for it, with the Protocol in force for it.
    fn acting_authority(
        &self,
        party: &PartyCode,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Party, Refusal> {
        let p = self.authority_of(party, signer, what)?;
        self.in_force_for(p, what)
    }

    fn board(&self, signer: &PublicKey, what: &str) -> Result<(), Refusal> {
        if &self.params.cdm_board != signer {
            return Err(Refusal::NotAuthorised {
                what: format!("{what} (only the CDM executive board may)"),
            });
        }
        Ok(())
    }

    /// The source account of a movement: exists, controlled by the signer, not final.
    fn source(
        &self,
        from: &AccountId,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Account, Refusal> {
        let acc = self.account_ref(from)?;
        if self.account_controller(acc).as_ref() != Some(signer) {
            return Err(Refusal::NotAuthorised {
                what: format!("{what} from {from}"),
            });
        }
        if from.kind.is_cancellation() {
            return Err(Refusal::UnitCancelled {
                account: from.clone(),
            });
        }
        if from.kind.is_final() {
            return Err(Refusal::UnitRetired {
                account: from.clone(),
            });
        }
        Ok(acc)
    }

    /// A source that must be the Party holding account of a Party the signer speaks for.
    fn party_source(
        &self,
        from: &AccountId,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Account, Refusal> {
        let acc = self.source(from, signer, what)?;
        if from.kind != AccountKind::PartyHolding {
            return Err(Refusal::NotAuthorised {
                what: format!(
                    "{what} from {from} (only a Party, from its party holding account, may)"
                ),
            });
        }
        self.in_force_for(self.party_ref(&from.party)?, what)?;
        Ok(acc)
    }

    fn period_def(&self, period: Period) -> Result<&super::state::PeriodDef, Refusal> {
        self.params
            .period(period)
            .ok_or(Refusal::UnknownPeriod { period })
    }

    fn open_period(&self, period: Period) -> Result<(), Refusal> {
        if self.meta.time_ms >= self.period_def(period)?.true_up_ms {
            return Err(Refusal::PeriodClosed { period });
        }
        Ok(())
    }

    /// The lowest serials of `acc` matching `units`, `amount` of them.
    fn select(
        &self,
        acc: &Account,
        units: &UnitFilter,
        amount: Amount,
    ) -> Result<Vec<SerialBlock>, Refusal> {
        if amount == 0 {
            return Err(Refusal::InvalidAmount);
        }
        let now = self.meta.time_ms;
        let mut take = Vec::new();
        let mut remaining = amount;
        for b in acc.blocks.iter().filter(|b| units.matches(b, now)) {
            if remaining == 0 {
                break;
            }
            let n = remaining.min(b.count());
            take.push(b.slice(b.start, b.start + (n - 1)));
            remaining -= n;
        }
        if remaining > 0 {
            let held = acc
                .blocks
                .iter()
                .filter(|b| units.matches(b, now))
                .map(SerialBlock::count)
                .sum();
            return Err(Refusal::InsufficientUnits {
                account: acc.id.clone(),
                unit_type: units.unit_type,
                period: units.period,
                held,
                requested: amount,
            });
        }
        Ok(take)
    }

    /// Commitment period reserve of a Party for a period (decision 11/CMP.1): the lower
    /// of cpr% of its assigned amount and `multiple` x its latest reviewed inventory,
    /// rounded up. `None` when the Party has no assigned amount for the period.
    pub fn reserve(&self, party: &Party, period: Period) -> Option<Amount> {
        let assigned = *party.assigned_amounts.get(&period)?;
        let pct = u128::from(assigned) * u128::from(self.params.cpr_percent_of_assigned);
        let by_assigned = pct.div_ceil(100);
        // The latest inventory of a year that has ended: a report for the current or a
        // future year cannot lower the reserve.
        let this_year =
            u32::try_from(super::calendar::date_of(self.meta.time_ms).year()).unwrap_or(0);
        let by_inventory = party
            .inventories
            .range(..this_year)
            .next_back()
            .map(|(_, inv)| {
                u128::from(inv.emissions) * u128::from(self.params.cpr_inventory_multiple)
            });
        let reserve = by_inventory.map_or(by_assigned, |i| i.min(by_assigned));
        Some(u64::try_from(reserve).unwrap_or(u64::MAX))
    }

    /// Units a registry holds for a period that count toward the reserve (all but
    /// those in cancellation accounts).
    pub fn held_for_reserve(&self, party: &PartyCode, period: Period) -> Total {
        // A running total kept by every movement (checked against the holdings by
        // `check_invariants`), so the reserve costs nothing on the transfer path.
        self.parties
            .get(party)
            .and_then(|p| p.reserve_holdings.get(&period))
            .copied()
            .unwrap_or(0)
    }

    /// Adds (or removes) units to a registry's running total toward the reserve, when
    /// the account counts toward it (a Party's account, not a cancellation account).
    fn count_reserve(
        &mut self,
        account: &AccountId,
        blocks: &[SerialBlock],
        add: bool,
        touched: &mut BTreeSet<StateKey>,
    ) {
        if account.kind.is_cancellation() {
            return;
        }
        let Some(p) = self.parties.get_mut(&account.party) else {
            return;
        };
        touched.insert(StateKey::Party(account.party.clone()));
        for b in blocks {
            let total = p.reserve_holdings.entry(b.applicable_period).or_insert(0);
            *total = if add {
                total.saturating_add(Total::from(b.count()))
            } else {
                total.saturating_sub(Total::from(b.count()))
            };
        }
    }

    /// A Party's compliance position for a period (Art. 3.1).
    pub fn compliance(&self, party: &PartyCode, period: Period) -> Result<Compliance, Refusal> {
        let p = self.party_ref(party)?;
        let def = self.period_def(period)?;
        let years_in_period: Vec<u32> = (def.first_year..=def.last_year).collect();
        let years_reported: Vec<u32> = years_in_period
            .iter()
            .copied()
            .filter(|y| p.inventories.contains_key(y))
            .collect();
        let emissions = years_reported
            .iter()
            .filter_map(|y| p.inventories.get(y))
            .fold(0u64, |a, i| a.saturating_add(i.emissions));
        let retirement = AccountId {
            party: party.clone(),
            kind: AccountKind::Retirement,
            number: u64::from(period),
        };
        let retired = self
            .accounts
            .get(&retirement)
            .map(Account::total)
            .unwrap_or(0);
        let surplus = i128::try_from(retired)
            .unwrap_or(i128::MAX)
            .saturating_sub(i128::from(emissions));
        Ok(Compliance {
            party: party.clone(),
            period,
            assigned_amount: p.assigned_amounts.get(&period).copied().unwrap_or(0),
            emissions,
            complies: years_reported.len() == years_in_period.len() && surplus >= 0,
            years_reported,
            years_in_period,
            retired,
            surplus,
            reserve: self.reserve(p, period),
            held_for_reserve: self.held_for_reserve(party, period),
        })
    }

    // ---- planning -----------------------------------------------------------------

    fn plan(&self, tx: &Tx) -> Result<Plan, Refusal> {
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
            } => {
                self.acting_authority(party, signer, "report inventories")?;
                if !(1990..=2100).contains(year) {
                    return Err(Refusal::InvalidArgument {
                        message: format!("{year} is not an inventory year (1990-2100)"),
                    });
                }
                if *emissions > MAX_INVENTORY_AMOUNT
                    || removals.values().any(|r| *r > MAX_INVENTORY_AMOUNT)
                {
                    return Err(Refusal::InvalidArgument {
                        message: format!(
                            "inventory figures are at most {MAX_INVENTORY_AMOUNT} t CO2e"
                        ),
                    });
                }
                let inventory = Inventory {
                    emissions: *emissions,
                    removals: removals.clone(),
                };
                Ok(Plan::Inventory {
                    party: party.clone(),
                    year: *year,
                    inventory,
                })
            }
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
            } => {
                let acc = self.party_source(from, signer, "retire units")?;
                self.open_period(units.period)?;
                let take = self.select(acc, units, *amount)?;
                let to = AccountId {
                    party: from.party.clone(),
                    kind: AccountKind::Retirement,
                    number: u64::from(units.period),
                };
                Ok(move_plan(AppliedKind::Retirement, from, to, take))
            }
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
                self.board(signer, "change expiry dates")?;
                if *expiry_ms <= self.meta.time_ms {
                    return Err(Refusal::InvalidArgument {
                        message: "the new expiry date must be in the future".into(),
                    });
                }
                let found = self.count_in_range(range, |b, _| {
                    matches!(b.unit_type, UnitType::Tcer | UnitType::Lcer)
                });
                if found != range_len(range)? {
                    return Err(Refusal::UnitNotFound {
                        what: format!(
                            "not every serial {}..={} of {} is a tCER or lCER",
                            range.start, range.end, range.origin
                        ),
                    });
                }
                Ok(Plan::Expiry {
                    range: range.clone(),
                    expiry_ms: *expiry_ms,
                })
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_issue(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        unit_type: UnitType,
        period: Period,
        amount: Amount,
        to: Option<&AccountId>,
        activity: Option<Activity>,
    ) -> Result<Plan, Refusal> {
        let p = self.acting_authority(party, signer, "issue units")?;
        let to = to.cloned().unwrap_or_else(|| party_holding(party));
        self.account_ref(&to)?;
        if &to.party != party || to.kind.is_final() {
            return Err(Refusal::WrongRegistry {
                account: to,
                party: party.clone(),
            });
        }
        if amount == 0 {
            return Err(Refusal::InvalidAmount);
        }
        let assigned =
            *p.assigned_amounts
                .get(&period)
                .ok_or_else(|| Refusal::NoAssignedAmount {
                    party: party.clone(),
                    period,
                })?;
        self.open_period(period)?;
        let mut block = match unit_type {
            UnitType::Aau => {
                // Art. 3.7: the AAUs issued for a period never exceed the assigned amount.
                let issued = p.position(UnitType::Aau, period).issued;
                if issued
                    .checked_add(amount)
                    .is_none_or(|total| total > assigned)
                {
                    return Err(Refusal::IssuanceExceedsAssignedAmount {
                        party: party.clone(),
                        period,
                        assigned,
                        issued,
                        requested: amount,
                    });
                }
                SerialBlock::new(party.clone(), 0, 0, unit_type, period)
            }
            UnitType::Rmu => {
                // Art. 3.3/3.4: RMUs for the net removals reported for the activity.
                let activity = activity.ok_or_else(|| Refusal::InvalidArgument {
                    message: "an RMU issuance must name its LULUCF activity".into(),
                })?;
                let def = self.period_def(period)?;
                let removals: Amount = (def.first_year..=def.last_year)
                    .filter_map(|y| p.inventories.get(&y))
                    .filter_map(|i| i.removals.get(&activity))
                    .fold(0u64, |a, r| a.saturating_add(*r));
                let issued = p.rmu_issued.get(&(activity, period)).copied().unwrap_or(0);
                let available = removals.saturating_sub(issued);
                if amount > available {
                    return Err(Refusal::RmuExceedsRemovals {
                        party: party.clone(),
                        period,
                        activity,
                        available,
                        requested: amount,
                    });
                }
                SerialBlock {
                    activity: Some(activity),
                    ..SerialBlock::new(party.clone(), 0, 0, unit_type, period)
                }
            }
            other => return Err(Refusal::UnsupportedUnitType { unit_type: other }),
        };
        let (start, end) = serials(p.next_serial, amount, party)?;
        block.start = start;
        block.end = end;
        let activity = block.activity;
        Ok(Plan::Issue {
            kind: AppliedKind::Issuance,
            origin: party.clone(),
            blocks: vec![(to, block)],
            activity,
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
        let source = self.source(from, signer, "transfer units")?;
        let dest = self.account_ref(to)?;
        if from == to {
            return Err(Refusal::SameAccount);
        }
        if to.kind.is_final()
            || matches!(
                to.kind,
                AccountKind::CdmPending | AccountKind::AdaptationFund
            )
        {
            return Err(Refusal::WrongAccountType {
                account: to.clone(),
                reason: format!(
                    "a {} account receives units only by its own transaction",
                    to.kind.name()
                ),
            });
        }
        let take = self.select(source, units, amount)?;
        let mut kind = AppliedKind::InternalTransfer;
        if from.kind == AccountKind::CdmPending {
            // Art. 12: CERs leave the pending account only to the project's participants.
            let project = units
                .project
                .clone()
                .ok_or_else(|| Refusal::InvalidArgument {
                    message: "forwarding from the CDM pending account must name the project".into(),
                })?;
            match self.projects.get(&project) {
                Some(Project::Cdm { participants, .. }) if participants.contains(&dest.id) => {}
                Some(Project::Cdm { .. }) => {
                    return Err(Refusal::NotProjectParticipant {
                        project,
                        account: to.clone(),
                    });
                }
                _ => return Err(Refusal::UnknownProject { project }),
            }
            kind = AppliedKind::CerForwarding;
        }
        let mut external = None;
        if from.party != to.party {
            if kind == AppliedKind::InternalTransfer {
                kind = AppliedKind::ExternalTransfer;
            }
            self.check_external(&from.party, &to.party, units, amount)?;
            external = Some((from.party.clone(), to.party.clone()));
        }
        Ok(Plan::Move {
            kind,
            from: from.clone(),
            to: to.clone(),
            take,
            map: Map::Keep,
            external,
            positions: vec![],
            mark_replaced: None,
        })
    }

    /// Treaty rules of a transfer between registries: Protocol in force (Art. 25),
    /// eligibility (Art. 6, 12, 17) and the commitment period reserve (decision 11/CMP.1).
    fn check_external(
        &self,
        from: &PartyCode,
        to: &PartyCode,
        units: &UnitFilter,
        amount: Amount,
    ) -> Result<(), Refusal> {
        let (mechanism, both) = match units.unit_type {
            UnitType::Aau | UnitType::Rmu => ("Art. 17 (emissions trading of AAUs and RMUs)", true),
            UnitType::EruFromAau | UnitType::EruFromRmu => {
                ("Art. 6 (joint implementation, ERUs)", true)
            }
            UnitType::Cer | UnitType::Tcer | UnitType::Lcer => {
                ("Art. 12 (CDM, acquiring CERs)", false)
            }
        };
        for (code, side, acquiring) in [(from, "transfer", false), (to, "acquire", true)] {
            if code.as_str() == CDM_REGISTRY {
                continue;
            }
            let p = self.in_force_for(self.party_ref(code)?, "transfer or acquire units")?;
            let eligible = match units.unit_type {
                UnitType::Aau | UnitType::Rmu => p.eligibility.art17,
                UnitType::EruFromAau | UnitType::EruFromRmu => p.eligibility.art6,
                _ => p.eligibility.art12,
            };
            if (both || acquiring) && !eligible {
                return Err(Refusal::NotEligible {
                    party: code.clone(),
                    rule: format!("it may not {side} units under {mechanism}"),
                });
            }
        }
        if from.as_str() != CDM_REGISTRY {
            let p = self.party_ref(from)?;
            if let Some(reserve) = self.reserve(p, units.period) {
                let would_hold = self
                    .held_for_reserve(from, units.period)
                    .saturating_sub(Total::from(amount));
                if would_hold < Total::from(reserve) {
                    return Err(Refusal::CprBreach {
                        party: from.clone(),
                        period: units.period,
                        reserve,
                        would_hold,
                    });
                }
            }
        }
        Ok(())
    }

    fn plan_open(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        holder_name: &str,
        holder_key: &PublicKey,
    ) -> Result<Plan, Refusal> {
        let p = self.authority_of(party, signer, "open accounts")?;
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

    fn plan_ji(
        &self,
        signer: &PublicKey,
        project: &str,
        host: &PartyCode,
        acquirer: &PartyCode,
    ) -> Result<Plan, Refusal> {
        if !valid_id(project) {
            return Err(Refusal::InvalidArgument {
                message: format!("`{project}` is not a project id"),
            });
        }
        let (h, a) = (self.party_ref(host)?, self.party_ref(acquirer)?);
        let host_side = h.authority == *signer;
        if !host_side && a.authority != *signer {
            return Err(Refusal::NotAuthorised {
                what: format!("approve JI project {project} (only {host} or {acquirer} may)"),
            });
        }
        if host == acquirer {
            return Err(Refusal::InvalidArgument {
                message: "the host and the acquiring Party must differ".into(),
            });
        }
        for p in [h, a] {
            if !p.in_force() || !p.eligibility.art6 || p.assigned_amounts.is_empty() {
                return Err(Refusal::NotEligible {
                    party: p.code.clone(),
                    rule: "JI projects are between Annex I Parties eligible under Art. 6".into(),
                });
            }
        }
        let (mut host_approved, mut acquirer_approved) = (false, false);
        match self.projects.get(project) {
            None => {}
            Some(Project::Ji {
                host: h0,
                acquirer: a0,
                host_approved: ha,
                acquirer_approved: aa,
                ..
            }) if h0 == host && a0 == acquirer => {
                (host_approved, acquirer_approved) = (*ha, *aa);
            }
            Some(_) => {
                return Err(Refusal::ProjectConflict {
                    project: project.to_owned(),
                    reason: "the id is taken by another project".into(),
                });
            }
        }
        // A Party that is both host and acquirer is excluded above, so one flag changes.
        if host_side {
            host_approved = true
        } else {
            acquirer_approved = true
        }
        let project = Project::Ji {
            id: project.to_owned(),
            host: host.clone(),
            acquirer: acquirer.clone(),
            host_approved,
            acquirer_approved,
        };
        Ok(Plan::Project {
            project,
            kind: AppliedKind::JiApproval,
        })
    }

    fn plan_convert(
        &self,
        signer: &PublicKey,
        project: &str,
        from: &AccountId,
        amount: Amount,
        units: &UnitFilter,
    ) -> Result<Plan, Refusal> {
        let acc = self.party_source(from, signer, "convert units")?;
        let host = &from.party;
        match self.projects.get(project) {
            Some(Project::Ji {
                host: h,
                host_approved: true,
                acquirer_approved: true,
                ..
            }) if h == host => {}
            Some(Project::Ji { host: h, .. }) if h != host => {
                return Err(Refusal::ProjectConflict {
                    project: project.to_owned(),
                    reason: format!("its host is {h}, not {host}"),
                });
            }
            Some(Project::Ji { .. }) => {
                return Err(Refusal::ProjectNotApproved {
                    project: project.to_owned(),
                });
            }
            _ => {
                return Err(Refusal::UnknownProject {
                    project: project.to_owned(),
                });
            }
        }
        let to_type = match units.unit_type {
            UnitType::Aau => UnitType::EruFromAau,
            UnitType::Rmu => UnitType::EruFromRmu,
            other => {
                return Err(Refusal::InvalidArgument {
                    message: format!(
                        "{other} cannot be converted to ERUs; only AAUs and RMUs can (Art. 6)"
                    ),
                });
            }
        };
        if !self.party_ref(host)?.eligibility.art6 {
            return Err(Refusal::NotEligible {
                party: host.clone(),
                rule: "it may not convert units under Art. 6".into(),
            });
        }
        // Only the host's own units, valid for the period, become ERUs of the project.
        let filter = UnitFilter {
            origin: Some(host.clone()),
            project: None,
            ..units.clone()
        };
        let take = self.select(acc, &filter, amount)?;
        let change = |unit_type, field| PositionChange {
            party: host.clone(),
            unit_type,
            period: units.period,
            field,
            amount,
        };
        Ok(Plan::Move {
            kind: AppliedKind::EruConversion,
            from: from.clone(),
            to: from.clone(),
            take,
            map: Map::Convert { to: to_type },
            external: None,
            positions: vec![
                change(units.unit_type, Field::ConvertedOut),
                change(to_type, Field::ConvertedIn),
            ],
            mark_replaced: None,
        }
        .with_project(project))
    }

    fn plan_cdm_project(
        &self,
        signer: &PublicKey,
        project: &str,
        host: &PartyCode,
        participants: &[AccountId],
    ) -> Result<Plan, Refusal> {
        self.board(signer, "register CDM projects")?;
        if !valid_id(project) {
            return Err(Refusal::InvalidArgument {
                message: format!("`{project}` is not a project id"),
            });
        }
        let h = self.party_ref(host)?;
        if h.annex_i || !h.in_force() {
            return Err(Refusal::NotEligible {
                party: host.clone(),
                rule: "CDM projects are hosted by non-Annex I Parties for which the Protocol is in force (Art. 12.2, 12.3(a))".into(),
            });
        }
        if participants.is_empty() || participants.len() > MAX_PARTICIPANTS {
            return Err(Refusal::InvalidArgument {
                message: format!("a project has 1 to {MAX_PARTICIPANTS} participant accounts"),
            });
        }
        for p in participants {
            let acc = self.account_ref(p)?;
            if !matches!(
                acc.id.kind,
                AccountKind::PartyHolding | AccountKind::EntityHolding
            ) {
                return Err(Refusal::WrongAccountType {
                    account: p.clone(),
                    reason: "participants hold units in holding accounts".into(),
                });
            }
        }
        if self.projects.contains_key(project) {
            return Err(Refusal::ProjectConflict {
                project: project.to_owned(),
                reason: "the id is already registered".into(),
            });
        }
        let project = Project::Cdm {
            id: project.to_owned(),
            host: host.clone(),
            participants: participants.to_vec(),
        };
        Ok(Plan::Project {
            project,
            kind: AppliedKind::CdmProjectRegistered,
        })
    }

    fn plan_issue_cers(
        &self,
        signer: &PublicKey,
        project: &str,
        unit_type: UnitType,
        period: Period,
        amount: Amount,
        expiry_ms: Option<i64>,
    ) -> Result<Plan, Refusal> {
        self.board(signer, "issue CERs")?;
        if !matches!(self.projects.get(project), Some(Project::Cdm { .. })) {
            return Err(Refusal::UnknownProject {
                project: project.to_owned(),
            });
        }
        match (unit_type, expiry_ms) {
            (UnitType::Cer, None) => {}
            (UnitType::Tcer | UnitType::Lcer, Some(e)) if e > self.meta.time_ms => {}
            (UnitType::Cer, Some(_)) => {
                return Err(Refusal::InvalidArgument {
                    message: "CERs do not expire".into(),
                });
            }
            (UnitType::Tcer | UnitType::Lcer, _) => {
                return Err(Refusal::InvalidArgument {
                    message: format!("{unit_type}s need an expiry date in the future"),
                });
            }
            (other, _) => return Err(Refusal::UnsupportedUnitType { unit_type: other }),
        }
        if amount == 0 {
            return Err(Refusal::InvalidAmount);
        }
        self.open_period(period)?;
        let cdm = PartyCode::parse(CDM_REGISTRY)
            .map_err(|message| Refusal::InvalidArgument { message })?;
        let (start, end) = serials(self.cdm.next_serial, amount, &cdm)?;
        // Art. 12.8: a share of proceeds (rounded up) goes to the Adaptation Fund.
        let share = u64::try_from(
            (u128::from(amount) * u128::from(self.params.share_of_proceeds_percent)).div_ceil(100),
        )
        .unwrap_or(amount)
        .min(amount);
        let base = SerialBlock {
            project: Some(project.to_owned()),
            expiry_ms,
            ..SerialBlock::new(cdm.clone(), start, end, unit_type, period)
        };
        let pending = AccountId {
            party: cdm.clone(),
            kind: AccountKind::CdmPending,
            number: 1,
        };
        let fund = AccountId {
            party: cdm.clone(),
            kind: AccountKind::AdaptationFund,
            number: 1,
        };
        let mut blocks = Vec::new();
        let to_pending = amount - share;
        if to_pending > 0 {
            blocks.push((pending, base.slice(start, start + to_pending - 1)));
        }
        if share > 0 {
            blocks.push((fund, base.slice(start + to_pending, end)));
        }
        Ok(Plan::Issue {
            kind: AppliedKind::CerIssuance,
            origin: cdm,
            blocks,
            activity: None,
        })
    }

    fn plan_cancel(
        &self,
        signer: &PublicKey,
        from: &AccountId,
        kind: AccountKind,
        amount: Amount,
        units: &UnitFilter,
    ) -> Result<Plan, Refusal> {
        if !kind.is_cancellation() {
            return Err(Refusal::InvalidArgument {
                message: format!("{} is not a cancellation account type", kind.name()),
            });
        }
        let acc = self.source(from, signer, "cancel units")?;
        let allowed = match kind {
            AccountKind::VoluntaryCancellation => true,
            AccountKind::ExcessIssuanceCancellation => from.kind == AccountKind::CdmPending,
            _ => from.kind == AccountKind::PartyHolding,
        };
        if !allowed {
            return Err(Refusal::NotAuthorised {
                what: format!("make a {} from {from}", kind.name()),
            });
        }
        let take = self.select(acc, units, amount)?;
        let to = AccountId {
            party: from.party.clone(),
            kind,
            number: 1,
        };
        Ok(move_plan(AppliedKind::Cancellation, from, to, take))
    }

    fn plan_carry_over(
        &self,
        signer: &PublicKey,
        from: &AccountId,
        amount: Amount,
        units: &UnitFilter,
    ) -> Result<Plan, Refusal> {
        let acc = self.party_source(from, signer, "carry over units")?;
        let party = &from.party;
        let p = self.party_ref(party)?;
        let period = units.period;
        if matches!(
            units.unit_type,
            UnitType::Rmu | UnitType::EruFromRmu | UnitType::Tcer | UnitType::Lcer
        ) {
            return Err(Refusal::CarryOverNotAllowed {
                unit_type: units.unit_type,
            });
        }
        let def = self.period_def(period)?;
        let next = period
            .checked_add(1)
            .ok_or(Refusal::UnknownPeriod { period })?;
        self.open_period(next)?;
        if self.meta.time_ms < def.true_up_ms {
            return Err(Refusal::PeriodNotEnded { period });
        }
        if !self.compliance(party, period)?.complies {
            return Err(Refusal::NotInCompliance {
                party: party.clone(),
                period,
            });
        }
        let permille = match units.unit_type {
            UnitType::Cer => Some(self.params.carry_over_cer_permille),
            UnitType::EruFromAau => Some(self.params.carry_over_eru_permille),
            _ => None,
        };
        let already = p.position(units.unit_type, period).carried_out;
        if let Some(permille) = permille {
            let assigned = p.assigned_amounts.get(&period).copied().unwrap_or(0);
            let limit = u64::try_from(u128::from(assigned) * u128::from(permille) / 1000)
                .unwrap_or(u64::MAX);
            if already.saturating_add(Total::from(amount)) > Total::from(limit) {
                return Err(Refusal::CarryOverLimit {
                    unit_type: units.unit_type,
                    limit,
                    already,
                    requested: amount,
                });
            }
        }
        let take = self.select(acc, units, amount)?;
        let change = |per, field| PositionChange {
            party: party.clone(),
            unit_type: units.unit_type,
            period: per,
            field,
            amount,
        };
        Ok(Plan::Move {
            kind: AppliedKind::CarryOver,
            from: from.clone(),
            to: from.clone(),
            take,
            map: Map::CarryOver,
            external: None,
            positions: vec![
                change(period, Field::CarriedOut),
                change(next, Field::CarriedIn),
            ],
            mark_replaced: None,
        })
    }

    fn plan_replace(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        expiring: &SerialRange,
        from: &AccountId,
        units: &UnitFilter,
    ) -> Result<Plan, Refusal> {
        self.acting_authority(party, signer, "replace units")?;
        let acc = self.party_source(from, signer, "replace units")?;
        if &from.party != party {
            return Err(Refusal::WrongRegistry {
                account: from.clone(),
                party: party.clone(),
            });
        }
        let n = range_len(expiring)?;
        // The expiring units: tCERs or lCERs in the Party's retirement accounts, not yet replaced.
        let retired_in_party = |_: &SerialBlock, acc: &AccountId| {
            acc.party == *party && acc.kind == AccountKind::Retirement
        };
        let temp_type = {
            let mut types = BTreeSet::new();
            let found = self.count_in_range(expiring, |b, a| {
                let hit = retired_in_party(b, a)
                    && matches!(b.unit_type, UnitType::Tcer | UnitType::Lcer);
                if hit {
                    types.insert(b.unit_type);
                }
                hit
            });
            if found != n || types.len() != 1 {
                return Err(Refusal::UnitNotFound {
                    what: format!(
                        "serials {}..={} of {} are not all tCERs (or all lCERs) in {party}'s retirement accounts",
                        expiring.start, expiring.end, expiring.origin
                    ),
                });
            }
            types.into_iter().next().unwrap_or(UnitType::Tcer)
        };
        if self.count_in_range(expiring, |b, a| retired_in_party(b, a) && b.replaced) > 0 {
            return Err(Refusal::AlreadyReplaced {
                what: format!(
                    "serials {}..={} of {}",
                    expiring.start, expiring.end, expiring.origin
                ),
            });
        }
        let allowed = match temp_type {
            UnitType::Tcer => !matches!(units.unit_type, UnitType::Lcer),
            _ => !matches!(units.unit_type, UnitType::Tcer | UnitType::Lcer),
        };
        if !allowed {
            return Err(Refusal::InvalidArgument {
                message: format!("{} cannot replace {temp_type}s", units.unit_type),
            });
        }
        let take = self.select(acc, units, n)?;
        let kind = if temp_type == UnitType::Tcer {
            AccountKind::TcerReplacement
        } else {
            AccountKind::LcerReplacement
        };
        let to = AccountId {
            party: party.clone(),
            kind,
            number: 1,
        };
        let mut plan = move_plan(AppliedKind::Replacement, from, to, take);
        if let Plan::Move { mark_replaced, .. } = &mut plan {
            *mark_replaced = Some((party.clone(), expiring.clone()));
        }
        Ok(plan)
    }

    /// Units of `range` held anywhere whose block satisfies `pred`.
    fn count_in_range(
        &self,
        range: &SerialRange,
        mut pred: impl FnMut(&SerialBlock, &AccountId) -> bool,
    ) -> Amount {
        let mut n = 0;
        for acc in self.accounts.values() {
            for b in acc.blocks.iter().filter(|b| b.origin == range.origin) {
                let (lo, hi) = (b.start.max(range.start), b.end.min(range.end));
                if lo <= hi && pred(b, &acc.id) {
                    n += hi - lo + 1;
                }
            }
        }
        n
    }

    // ---- execution ----------------------------------------------------------------

    fn account_mut(&mut self, id: &AccountId, touched: &mut BTreeSet<StateKey>) -> &mut Account {
        touched.insert(StateKey::Account(id.clone()));
        let holder = if id.party.as_str() == CDM_REGISTRY {
            Holder::CdmBoard
        } else {
            Holder::PartyAuthority
        };
        self.accounts.entry(id.clone()).or_insert_with(|| Account {
            id: id.clone(),
            holder,
            holder_name: id.kind.name().replace('_', " "),
            blocks: Vec::new(),
        })
    }

    fn party_mut(
        &mut self,
        code: &PartyCode,
        touched: &mut BTreeSet<StateKey>,
    ) -> Option<&mut Party> {
        touched.insert(StateKey::Party(code.clone()));
        self.parties.get_mut(code)
    }

    fn execute(&mut self, plan: Plan, touched: &mut BTreeSet<StateKey>) -> Applied {
        match plan {
            Plan::Move {
                kind,
                from,
                to,
                take,
                map,
                external,
                positions,
                mark_replaced,
            } => {
                let amount: Amount = take.iter().map(SerialBlock::count).sum();
                remove_prefixes(self.account_mut(&from, touched), &take);
                self.count_reserve(&from, &take, false, touched);
                let moved: Vec<SerialBlock> = take
                    .into_iter()
                    .map(|mut b| {
                        match map {
                            Map::Keep => {}
                            Map::Convert { to } => b.unit_type = to,
                            Map::CarryOver => b.applicable_period += 1,
                        }
                        b
                    })
                    .collect();
                self.count_reserve(&to, &moved, true, touched);
                let dest = self.account_mut(&to, touched);
                for b in &moved {
                    dest.insert(b.clone());
                }
                if let (Some((out, inn)), Some(first)) = (external, moved.first()) {
                    let key = (first.unit_type, first.applicable_period);
                    // Art. 3.11: subtracted from the transferring Party;
                    // Art. 3.10/3.12: added to the acquiring Party.
                    if let Some(p) = self.party_mut(&out, touched) {
                        let pos = p.positions.entry(key).or_default();
                        pos.transferred = pos.transferred.saturating_add(Total::from(amount));
                    }
                    if let Some(p) = self.party_mut(&inn, touched) {
                        let pos = p.positions.entry(key).or_default();
                        pos.acquired = pos.acquired.saturating_add(Total::from(amount));
                    }
                }
                for c in positions {
                    if let Some(p) = self.party_mut(&c.party, touched) {
                        let pos = p.positions.entry((c.unit_type, c.period)).or_default();
                        let field = match c.field {
                            Field::ConvertedIn => &mut pos.converted_in,
                            Field::ConvertedOut => &mut pos.converted_out,
                            Field::CarriedIn => &mut pos.carried_in,
                            Field::CarriedOut => &mut pos.carried_out,
                        };
                        *field = field.saturating_add(Total::from(c.amount));
                    }
                }
                let mut accounts = vec![from.clone()];
                if to != from {
                    accounts.push(to.clone());
                }
                if let Some((party, range)) = mark_replaced {
                    let ids: Vec<AccountId> = self
                        .accounts
                        .keys()
                        .filter(|a| a.party == party && a.kind == AccountKind::Retirement)
                        .cloned()
                        .collect();
                    for id in ids {
                        let acc = self.account_mut(&id, touched);
                        if modify_range(acc, &range, |b| b.replaced = true) > 0 {
                            accounts.push(id);
                        }
                    }
                }
                Applied {
                    kind,
                    amount,
                    serials: moved,
                    from: Some(from),
                    to: Some(to),
                    accounts,
                }
            }
            Plan::Issue {
                kind,
                origin,
                blocks,
                activity,
            } => {
                let amount: Amount = blocks.iter().map(|(_, b)| b.count()).sum();
                let last = blocks.iter().map(|(_, b)| b.end).max().unwrap_or(0);
                let (unit_type, period) = blocks
                    .first()
                    .map(|(_, b)| (b.unit_type, b.applicable_period))
                    .unwrap_or((UnitType::Aau, 1));
                if origin.as_str() == CDM_REGISTRY {
                    touched.insert(StateKey::Cdm);
                    self.cdm.next_serial = last + 1;
                    *self.cdm.issued.entry((unit_type, period)).or_insert(0) += amount;
                } else if let Some(p) = self.party_mut(&origin, touched) {
                    p.next_serial = last + 1;
                    p.positions.entry((unit_type, period)).or_default().issued += amount;
                    if let Some(a) = activity {
                        *p.rmu_issued.entry((a, period)).or_insert(0) += amount;
                    }
                }
                let mut accounts = Vec::new();
                for (to, b) in &blocks {
                    self.account_mut(to, touched).insert(b.clone());
                    self.count_reserve(to, std::slice::from_ref(b), true, touched);
                    accounts.push(to.clone());
                }
                let to = accounts.first().cloned();
                Applied {
                    kind,
                    amount,
                    serials: blocks.into_iter().map(|(_, b)| b).collect(),
                    from: None,
                    to,
                    accounts,
                }
            }
            Plan::Open { account } => {
                let id = account.id.clone();
                if let Some(p) = self.party_mut(&id.party, touched) {
                    p.next_entity_account += 1;
                }
                touched.insert(StateKey::Account(id.clone()));
                self.insert_account(account);
                applied(AppliedKind::AccountOpened, Some(id))
            }
            Plan::Inventory {
                party,
                year,
                inventory,
            } => {
                if let Some(p) = self.party_mut(&party, touched) {
                    p.inventories.insert(year, inventory);
                }
                applied(AppliedKind::InventoryReported, None)
            }
            Plan::Project { project, kind } => {
                let id = match &project {
                    Project::Ji { id, .. } | Project::Cdm { id, .. } => id.clone(),
                };
                touched.insert(StateKey::Project(id.clone()));
                self.projects.insert(id, project);
                applied(kind, None)
            }
            Plan::Gov(g) => self.execute_gov(g, touched),
            Plan::Expiry { range, expiry_ms } => {
                let ids: Vec<AccountId> = self.accounts.keys().cloned().collect();
                let mut accounts = Vec::new();
                let mut amount = 0;
                for id in ids {
                    let hit = self.accounts.get(&id).is_some_and(|a| {
                        a.blocks.iter().any(|b| {
                            b.origin == range.origin && b.start <= range.end && b.end >= range.start
                        })
                    });
                    if hit {
                        let acc = self.account_mut(&id, touched);
                        amount += modify_range(acc, &range, |b| b.expiry_ms = Some(expiry_ms));
                        accounts.push(id);
                    }
                }
                Applied {
                    amount,
                    accounts,
                    ..applied(AppliedKind::ExpiryChange, None)
                }
            }
        }
    }
}

impl Plan {
    /// Sets the project on converted units.
    fn with_project(self, project: &str) -> Plan {
        match self {
            Plan::Move {
                kind,
                from,
                to,
                mut take,
                map,
                external,
                positions,
                mark_replaced,
            } => {
                for b in &mut take {
                    b.project = Some(project.to_owned());
                }
                Plan::Move {
                    kind,
                    from,
                    to,
                    take,
                    map,
                    external,
                    positions,
                    mark_replaced,
                }
            }
            other => other,
        }
    }
}

fn move_plan(kind: AppliedKind, from: &AccountId, to: AccountId, take: Vec<SerialBlock>) -> Plan {
    Plan::Move {
        kind,
        from: from.clone(),
        to,
        take,
        map: Map::Keep,
        external: None,
        positions: vec![],
        mark_replaced: None,
    }
}

fn applied(kind: AppliedKind, to: Option<AccountId>) -> Applied {
    Applied {
        kind,
        amount: 0,
        serials: Vec::new(),
        from: None,
        to,
        accounts: Vec::new(),
    }
}

/// The serials `[next, next + amount - 1]` of an origin, if they exist.
fn serials(next: u64, amount: Amount, origin: &PartyCode) -> Result<(u64, u64), Refusal> {
    let end = next
        .checked_add(amount.saturating_sub(1))
        .filter(|e| *e < u64::MAX)
        .ok_or_else(|| Refusal::SerialSpaceExhausted {
            origin: origin.clone(),
        })?;
    Ok((next, end))
}

fn range_len(r: &SerialRange) -> Result<Amount, Refusal> {
    r.end
        .checked_sub(r.start)
        .and_then(|d| d.checked_add(1))
        .filter(|n| *n <= MAX_INVENTORY_AMOUNT)
        .ok_or_else(|| Refusal::InvalidArgument {
            message: format!("a serial range must have start <= end and hold at most {MAX_INVENTORY_AMOUNT} units"),
        })
}

/// Removes the taken ranges, each a prefix of one of the account's blocks. Matching is
/// by origin and start only: the slices of a conversion may carry a new project.
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

/// Splits the account's blocks at the range's bounds and applies `f` to the units
/// inside it; returns how many units changed.
fn modify_range(acc: &mut Account, range: &SerialRange, f: impl Fn(&mut SerialBlock)) -> Amount {
    let mut changed = 0;
    let old = std::mem::take(&mut acc.blocks);
    let mut pieces = Vec::with_capacity(old.len() + 2);
    for b in old {
        if b.origin != range.origin || b.end < range.start || b.start > range.end {
            pieces.push(b);
            continue;
        }
        let (lo, hi) = (b.start.max(range.start), b.end.min(range.end));
        if b.start < lo {
            pieces.push(b.slice(b.start, lo - 1));
        }
        let mut mid = b.slice(lo, hi);
        f(&mut mid);
        changed += mid.count();
        pieces.push(mid);
        if hi < b.end {
            pieces.push(b.slice(hi + 1, b.end));
        }
    }
    for p in pieces {
        acc.insert(p);
    }
    changed
}

/// Inventories summed per activity over a set of years (used by views and tests).
pub fn removals_in(party: &Party, years: impl Iterator<Item = u32>) -> BTreeMap<Activity, Amount> {
    let mut out = BTreeMap::new();
    for y in years {
        if let Some(inv) = party.inventories.get(&y) {
            for (a, r) in &inv.removals {
                *out.entry(*a).or_insert(0u64) += *r;
            }
        }
    }
    out
}
