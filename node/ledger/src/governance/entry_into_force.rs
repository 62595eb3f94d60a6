//! Entry into force: of the Protocol (Art. 25.1, 25.3, 25.4), of adopted amendments
//! to it (Art. 20.4, 20.5) and to its annexes (Art. 21.5, 21.7), and of decisions.
//! Effects are applied at the start of each block, by ledger time, identically on
//! every node.

use std::collections::BTreeSet;

use crate::calendar::{days_after, format_date, months_after, parse_date_ms};
use crate::leaves::StateKey;
use crate::refusal::{InvalidArgument, Refusal};
use crate::state::{Party, PartyKind, State, TreatyStatus};
use crate::tx::AppliedKind;
use crate::types::{PartyCode, PublicKey, UnitType};

use super::{GovPlan, Outcome, Proposal, ProposalClass, ProposalKind, Validator};

/// Parties needed for the Protocol's entry into force (Art. 25.1).
pub const ENTRY_INTO_FORCE_PARTIES: u64 = 55;
/// Percent of the Annex I Parties' 1990 CO2 their ratifications must cover (Art. 25.1).
pub const ENTRY_INTO_FORCE_CO2_PERCENT: u128 = 55;

impl State {
    /// Art. 20.4, 21.7: acceptance of an adopted amendment, deposited by a Party.
    pub(crate) fn plan_accept(
        &self,
        signer: &PublicKey,
        proposal: u64,
        party: &PartyCode,
    ) -> Result<GovPlan, Refusal> {
        let now = self.meta.time_ms;
        let p = self.proposal_ref(proposal)?;
        self.party_in_force(party, signer, "deposit acceptances")?;
        if !matches!(
            p.kind.class(),
            ProposalClass::ProtocolAmendment | ProposalClass::AnnexBAmendment
        ) {
            return Err(Refusal::InvalidArgument(
                InvalidArgument::NotAcceptedByDeposit,
            ));
        }
        if !matches!(p.outcome, Outcome::Adopted { .. }) {
            return Err(Refusal::NotAdopted { id: p.id });
        }
        if p.acceptances.contains_key(party) {
            return Err(Refusal::AlreadyAccepted {
                party: party.clone(),
                id: p.id,
            });
        }
        let mut p = p.clone();
        p.acceptances.insert(party.clone(), now);
        self.update_entry_into_force(&mut p, party, now);
        Ok(GovPlan::Proposal(
            Box::new(p),
            AppliedKind::AcceptanceDeposited,
        ))
    }

    /// Art. 21.5: a Party that does not accept an annex amendment says so in writing.
    pub(crate) fn plan_non_acceptance(
        &self,
        signer: &PublicKey,
        proposal: u64,
        party: &PartyCode,
    ) -> Result<GovPlan, Refusal> {
        let now = self.meta.time_ms;
        let gp = &self.params;
        let p = self.proposal_ref(proposal)?;
        self.party_in_force(party, signer, "notify non-acceptance")?;
        let Outcome::Adopted { at_ms, .. } = p.outcome else {
            return Err(Refusal::NotAdopted { id: p.id });
        };
        if p.kind.class() != ProposalClass::AnnexAmendment {
            return Err(Refusal::InvalidArgument(
                InvalidArgument::NonAcceptanceOnlyForAnnexes,
            ));
        }
        if now >= months_after(at_ms, gp.annex_months) {
            return Err(Refusal::AlreadyInForce { id: p.id });
        }
        let mut p = p.clone();
        p.non_acceptances.insert(party.clone());
        Ok(GovPlan::Proposal(
            Box::new(p),
            AppliedKind::NonAcceptanceNotified,
        ))
    }

    /// Art. 20.4/20.5: in force on the 90th day after three fourths of the Parties have
    /// accepted, for each later acceptor on the 90th day after its deposit. A REIO's
    /// acceptance does not count in addition to its members' (Art. 25.4); the denominator
    /// is the Parties to the Protocol at the deposit, the REIO included.
    pub(crate) fn update_entry_into_force(&self, p: &mut Proposal, party: &PartyCode, now: i64) {
        let days = self.params.entry_into_force_days;
        if let Some(_threshold) = p.threshold_ms {
            p.in_force.insert(party.clone(), days_after(now, days));
            return;
        }
        let counted = p
            .acceptances
            .keys()
            .filter(|c| {
                self.parties
                    .get(*c)
                    .is_some_and(|x| matches!(x.kind, PartyKind::State))
            })
            .count() as u64;
        let parties = self.parties_in_force().count() as u64;
        if 4 * counted >= 3 * parties {
            p.threshold_ms = Some(now);
            let date = days_after(now, days);
            for c in p.acceptances.keys() {
                p.in_force.insert(c.clone(), date);
            }
        }
    }

    /// Effects due by ledger time `now`, applied at the start of each block, identically
    /// on every node: treaty status changes, closing of votes, amendments entering into force.
    pub(crate) fn advance_governance(&mut self, now: i64, touched: &mut BTreeSet<StateKey>) {
        let mut status_changes = Vec::new();
        for p in self.parties.values() {
            let next = match &p.status {
                TreatyStatus::Deposited { in_force_from, .. } if due(in_force_from, now) => {
                    Some(TreatyStatus::InForce {
                        since: in_force_from.clone(),
                    })
                }
                TreatyStatus::WithdrawalNotified { effective, .. } if due(effective, now) => {
                    Some(TreatyStatus::Withdrawn {
                        effective: effective.clone(),
                    })
                }
                _ => None,
            };
            if let Some(s) = next {
                status_changes.push((p.code.clone(), s));
            }
        }
        for (code, status) in status_changes {
            if let Some(p) = self.parties.get_mut(&code) {
                p.status = status;
                touched.insert(StateKey::Party(code));
            }
        }
        let due_ids: Vec<u64> = self
            .proposals
            .values()
            .filter(|p| {
                (p.outcome == Outcome::Pending && now >= p.closes_ms)
                    || (!p.effect_applied && self.effect_due(p, now))
            })
            .map(|p| p.id)
            .collect();
        for id in due_ids {
            let Some(mut p) = self.proposals.get(&id).cloned() else {
                continue;
            };
            if p.outcome == Outcome::Pending && now >= p.closes_ms {
                self.close(&mut p);
            }
            if !p.effect_applied && self.effect_due(&p, now) {
                self.apply_effect(&mut p, touched);
            }
            touched.insert(StateKey::Proposal(id));
            self.proposals.insert(id, p);
        }
    }

    pub(crate) fn effect_due(&self, p: &Proposal, now: i64) -> bool {
        let Outcome::Adopted { at_ms, .. } = p.outcome else {
            return false;
        };
        match &p.kind {
            ProposalKind::AnnexBAmendment { party, .. } => {
                p.in_force.get(party).is_some_and(|d| *d <= now)
            }
            ProposalKind::AnnexAmendment { .. } => {
                now >= months_after(at_ms, self.params.annex_months)
            }
            ProposalKind::ProtocolAmendment { .. } => false,
            // Decisions are in force at adoption.
            _ => true,
        }
    }

    pub(crate) fn apply_effect(&mut self, p: &mut Proposal, touched: &mut BTreeSet<StateKey>) {
        p.effect_applied = true;
        let Outcome::Adopted { at_ms, .. } = p.outcome else {
            return;
        };
        match &p.kind {
            ProposalKind::AnnexBAmendment {
                party,
                period,
                assigned_amount,
            } => {
                if let Some(x) = self.parties.get_mut(party) {
                    // Never below the AAUs already issued for the period (Art. 3.7 invariant).
                    let issued = x.position(UnitType::Aau, *period).issued;
                    x.assigned_amounts
                        .insert(*period, (*assigned_amount).max(issued));
                    touched.insert(StateKey::Party(party.clone()));
                }
            }
            ProposalKind::AnnexAmendment { .. } => {
                let date = months_after(at_ms, self.params.annex_months);
                let parties: Vec<PartyCode> = self
                    .parties_in_force()
                    .map(|x| x.code.clone())
                    .filter(|c| !p.non_acceptances.contains(c))
                    .collect();
                for c in parties {
                    p.in_force.insert(c, date);
                }
            }
            ProposalKind::AddValidator { name, party, key } => {
                self.governance.validators.push(Validator {
                    name: name.clone(),
                    party: party.clone(),
                    key: *key,
                });
                touched.insert(StateKey::Governance);
            }
            ProposalKind::RemoveValidator { key } => {
                if self.governance.validators.len() > 1 {
                    self.governance.validators.retain(|v| &v.key != key);
                    touched.insert(StateKey::Governance);
                }
            }
            ProposalKind::SetEligibility { party, eligibility } => {
                if let Some(x) = self.parties.get_mut(party) {
                    x.eligibility = *eligibility;
                    touched.insert(StateKey::Party(party.clone()));
                }
            }
            ProposalKind::SetParameter { name, value } => {
                if self.params.set(name, *value).is_ok() {
                    touched.insert(StateKey::Params);
                }
            }
            ProposalKind::ProtocolAmendment { .. } => {}
        }
    }

    /// Art. 25.1: the Protocol enters into force on the 90th day after not less than 55
    /// Parties, incorporating Annex I Parties with at least 55 % of the Annex I Parties'
    /// 1990 CO2, have deposited (a REIO's instrument not counted in addition, Art. 25.4).
    /// Then every deposited State gets its date: the 90th day after its deposit, or the
    /// Protocol's own date if that is later (Art. 25.3).
    pub(crate) fn settle_entry_into_force(&mut self, now: i64) {
        let days = self.params.entry_into_force_days;
        if self.governance.protocol_in_force_ms.is_none() {
            let ratified: Vec<&Party> = self
                .parties
                .values()
                .filter(|p| matches!(p.kind, PartyKind::State))
                .filter(|p| {
                    matches!(
                        p.status,
                        TreatyStatus::Deposited { .. } | TreatyStatus::InForce { .. }
                    )
                })
                .collect();
            let total: u128 = self
                .governance
                .co2_1990
                .values()
                .map(|v| u128::from(*v))
                .sum();
            let covered: u128 = ratified
                .iter()
                .filter(|p| p.annex_i)
                .filter_map(|p| self.governance.co2_1990.get(&p.code))
                .map(|v| u128::from(*v))
                .sum();
            if ratified.len() as u64 >= ENTRY_INTO_FORCE_PARTIES
                && total > 0
                && 100 * covered >= ENTRY_INTO_FORCE_CO2_PERCENT * total
            {
                self.governance.protocol_in_force_ms = Some(days_after(now, days));
            }
        }
        let Some(eif) = self.governance.protocol_in_force_ms else {
            return;
        };
        for p in self.parties.values_mut() {
            if let TreatyStatus::Deposited {
                deposited,
                in_force_from,
            } = &mut p.status
                && in_force_from.is_empty()
            {
                let dep = parse_date_ms(deposited).unwrap_or(now);
                *in_force_from = format_date(days_after(dep, days).max(eif));
            }
        }
    }

    /// Marks every Party whose date may have been settled, and the governance leaf.
    pub(crate) fn touch_deposited(&self, touched: &mut BTreeSet<StateKey>) {
        touched.insert(StateKey::Governance);
        for p in self
            .parties
            .values()
            .filter(|p| matches!(p.status, TreatyStatus::Deposited { .. }))
        {
            touched.insert(StateKey::Party(p.code.clone()));
        }
    }
}

pub(crate) fn due(date: &str, now: i64) -> bool {
    parse_date_ms(date).is_some_and(|d| d <= now)
}
