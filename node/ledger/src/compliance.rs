//! Compliance, retirement, cancellation, carry-over and replacement.
//!
//! - Art. 3.1: a Party's emissions over a commitment period may not exceed its
//!   assigned amount; it shows compliance by retiring units for the period.
//! - Art. 5 and 7: the inventories a Party reports, on which compliance and the
//!   reserve are computed.
//! - Art. 3.13: units not needed for compliance are carried over to the next period,
//!   within the limits of decision 13/CMP.1 for CERs and ERUs.
//! - Cancellation (voluntary, for net sources under Art. 3.3/3.4, excess issuance)
//!   and the replacement of expiring tCERs and lCERs (decision 5/CMP.1).

use std::collections::{BTreeMap, BTreeSet};

use crate::limits::MAX_INVENTORY_AMOUNT;
use crate::plan::{Field, Map, Plan, PositionChange, move_plan, range_len};
use crate::refusal::{InvalidArgument, NotAuthorised, Refusal};
use crate::state::{Account, Inventory, State};
use crate::tx::{AppliedKind, SerialRange, UnitFilter};
use crate::types::{
    AccountId, AccountKind, Activity, Amount, PartyCode, Period, PublicKey, SerialBlock, Total,
    UnitType,
};

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

impl State {
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

    pub(crate) fn plan_cancel(
        &self,
        signer: &PublicKey,
        from: &AccountId,
        kind: AccountKind,
        amount: Amount,
        units: &UnitFilter,
    ) -> Result<Plan, Refusal> {
        if !kind.is_cancellation() {
            return Err(Refusal::InvalidArgument(
                InvalidArgument::NotACancellationAccount { kind: kind.name() },
            ));
        }
        let acc = self.source(from, signer, "cancel units")?;
        let allowed = match kind {
            AccountKind::VoluntaryCancellation => true,
            AccountKind::ExcessIssuanceCancellation => from.kind == AccountKind::CdmPending,
            _ => from.kind == AccountKind::PartyHolding,
        };
        if !allowed {
            return Err(Refusal::NotAuthorised(NotAuthorised::Cancellation {
                kind: kind.name(),
                account: from.clone(),
            }));
        }
        let take = self.select(acc, units, amount)?;
        let to = AccountId {
            party: from.party.clone(),
            kind,
            number: 1,
        };
        Ok(move_plan(AppliedKind::Cancellation, from, to, take))
    }

    pub(crate) fn plan_carry_over(
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

    pub(crate) fn plan_replace(
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
            return Err(Refusal::InvalidArgument(InvalidArgument::CannotReplace {
                unit_type: units.unit_type,
                temp_type,
            }));
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

    /// Art. 5 and 7: a Party's reviewed inventory for a year, with its removals per
    /// LULUCF activity (the basis of RMU issuance, Art. 3.3/3.4).
    pub(crate) fn plan_inventory(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        year: u32,
        emissions: Amount,
        removals: &BTreeMap<Activity, Amount>,
    ) -> Result<Plan, Refusal> {
        self.acting_authority(party, signer, "report inventories")?;
        if !(1990..=2100).contains(&year) {
            return Err(Refusal::InvalidArgument(InvalidArgument::InventoryYear {
                year,
            }));
        }
        if emissions > MAX_INVENTORY_AMOUNT || removals.values().any(|r| *r > MAX_INVENTORY_AMOUNT)
        {
            return Err(Refusal::InvalidArgument(InvalidArgument::InventoryAmount));
        }
        let inventory = Inventory {
            emissions,
            removals: removals.clone(),
        };
        Ok(Plan::Inventory {
            party: party.clone(),
            year,
            inventory,
        })
    }

    /// Art. 3.1: units retired for a period count toward the Party's compliance.
    pub(crate) fn plan_retire(
        &self,
        signer: &PublicKey,
        from: &AccountId,
        amount: Amount,
        units: &UnitFilter,
    ) -> Result<Plan, Refusal> {
        let acc = self.party_source(from, signer, "retire units")?;
        self.open_period(units.period)?;
        let take = self.select(acc, units, amount)?;
        let to = AccountId {
            party: from.party.clone(),
            kind: AccountKind::Retirement,
            number: u64::from(units.period),
        };
        Ok(move_plan(AppliedKind::Retirement, from, to, take))
    }
}
