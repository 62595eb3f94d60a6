//! Issuance of assigned amount units and removal units.
//!
//! - Art. 3.7: the AAUs a Party issues for a commitment period never exceed its
//!   assigned amount.
//! - Art. 3.3 and 3.4: RMUs are issued for the net removals reported for an activity
//!   (afforestation, reforestation, deforestation; forest, cropland and grazing land
//!   management, revegetation), never beyond them.

use std::collections::BTreeMap;

use crate::plan::{Plan, serials};
use crate::refusal::{InvalidArgument, Refusal};
use crate::state::{Party, State, party_holding};
use crate::tx::AppliedKind;
use crate::types::{
    AccountId, Activity, Amount, PartyCode, Period, PublicKey, SerialBlock, UnitType,
};

impl State {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn plan_issue(
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
                let activity = activity.ok_or(Refusal::InvalidArgument(
                    InvalidArgument::RmuWithoutActivity,
                ))?;
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
