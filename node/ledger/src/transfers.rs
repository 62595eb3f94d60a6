//! Transfers of units and the commitment period reserve.
//!
//! - Art. 3.10: units a Party acquires from another are added to its assigned amount.
//! - Art. 3.11: units a Party transfers are subtracted from its assigned amount.
//! - Art. 3.12: CERs a Party acquires are added to its assigned amount.
//! - Art. 17: emissions trading of AAUs and RMUs between eligible Annex B Parties
//!   (eligibility per mechanism: Art. 6 for ERUs, Art. 12 for CERs).
//! - Decision 11/CMP.1: a Party may not transfer below its commitment period reserve.
//!
//! Nothing is created or lost by a transfer: the units move as serial ranges, and the
//! totals checked by `crate::invariants` stay the same.

use std::collections::BTreeSet;

use crate::genesis::CDM_REGISTRY;
use crate::leaves::StateKey;
use crate::plan::{Map, Plan};
use crate::refusal::{InvalidArgument, Refusal};
use crate::state::{Party, Project, State};
use crate::tx::{AppliedKind, UnitFilter};
use crate::types::{
    AccountId, AccountKind, Amount, PartyCode, Period, PublicKey, SerialBlock, Total, UnitType,
};

impl State {
    pub(crate) fn plan_transfer(
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
            let project = units.project.clone().ok_or(Refusal::InvalidArgument(
                InvalidArgument::ForwardWithoutProject,
            ))?;
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
    pub(crate) fn check_external(
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
            u32::try_from(crate::calendar::date_of(self.meta.time_ms).year()).unwrap_or(0);
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
    pub(crate) fn count_reserve(
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
}
