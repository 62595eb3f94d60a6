//! Membership: ratification and accession (Art. 24), the date the Protocol enters
//! into force for a State (Art. 25.3) and withdrawal (Art. 27).

use std::collections::BTreeMap;

use crate::calendar::{format_date, months_after, parse_date_ms};
use crate::refusal::{InvalidArgument, NotAuthorised, Refusal};
use crate::state::{Party, PartyKind, State, TreatyStatus};
use crate::types::Eligibility;
use crate::types::{PartyCode, PublicKey};

use super::GovPlan;
use crate::limits::MAX_TITLE_CHARS;

impl State {
    /// A Party's registry authority acting for it in governance: the Protocol must be
    /// in force for it (Art. 20, 21, 22 speak of Parties; a signatory is not one).
    pub(crate) fn party_in_force(
        &self,
        code: &PartyCode,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Party, Refusal> {
        let p = self.authority_of(code, signer, what)?;
        if !p.in_force() {
            return Err(Refusal::NotAParty {
                party: code.clone(),
            });
        }
        Ok(p)
    }

    /// Art. 24, 25.3: the Depositary records an instrument of ratification or accession.
    pub(crate) fn plan_deposit(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        name: &str,
        annex_i: bool,
        authority: Option<PublicKey>,
    ) -> Result<GovPlan, Refusal> {
        let now = self.meta.time_ms;
        if self.governance.depositary.as_ref() != Some(signer) {
            return Err(Refusal::NotAuthorised(NotAuthorised::NotTheDepositary));
        }
        // The date it enters into force for the State is settled when the block is
        // executed (Art. 25.3), once the Protocol's own date is known (Art. 25.1).
        let status = TreatyStatus::Deposited {
            deposited: format_date(now),
            in_force_from: String::new(),
        };
        match self.parties.get(party) {
            // Art. 24.1: ratification by a signatory, or accession by any State
            // that is not a Party, one whose withdrawal took effect (Art. 27)
            // included; it enters into force for it on the 90th day (Art. 25.3).
            Some(p)
                if matches!(
                    p.status,
                    TreatyStatus::Signatory | TreatyStatus::Withdrawn { .. }
                ) =>
            {
                // The State keeps its registry (and its authority's key).
                if authority.is_some_and(|a| a != p.authority) {
                    return Err(Refusal::InvalidArgument(
                        InvalidArgument::AuthorityKeyUnchanged {
                            party: party.clone(),
                        },
                    ));
                }
                Ok(GovPlan::Status(party.clone(), status))
            }
            Some(p) => Err(Refusal::AlreadyAParty {
                party: party.clone(),
                status: p.status.clone(),
            }),
            None => {
                let n = name.trim();
                if n.is_empty() || n.chars().count() > MAX_TITLE_CHARS {
                    return Err(Refusal::InvalidArgument(InvalidArgument::NewPartyName));
                }
                if party.as_str() == crate::genesis::CDM_REGISTRY {
                    return Err(Refusal::InvalidArgument(InvalidArgument::CdmIsTheRegistry));
                }
                let authority = authority
                    .ok_or(Refusal::InvalidArgument(InvalidArgument::NewPartyAuthority))?;
                Ok(GovPlan::NewParty(Box::new(Party {
                    code: party.clone(),
                    name: n.to_owned(),
                    kind: PartyKind::State,
                    member_of: None,
                    annex_i,
                    annex_b_percent: None,
                    base_year_emissions: None,
                    economy_in_transition: false,
                    status,
                    authority,
                    assigned_amounts: BTreeMap::new(),
                    positions: BTreeMap::new(),
                    next_serial: 1,
                    next_entity_account: 1,
                    eligibility: Eligibility {
                        art6: false,
                        art12: true,
                        art17: false,
                    },
                    inventories: BTreeMap::new(),
                    rmu_issued: BTreeMap::new(),
                    reserve_holdings: BTreeMap::new(),
                })))
            }
        }
    }

    /// Art. 27: notice of withdrawal, three years after entry into force at the earliest.
    pub(crate) fn plan_withdraw(
        &self,
        signer: &PublicKey,
        party: &PartyCode,
        effective_ms: Option<i64>,
    ) -> Result<GovPlan, Refusal> {
        let now = self.meta.time_ms;
        let gp = &self.params;
        let p = self.party_in_force(party, signer, "withdraw")?;
        let TreatyStatus::InForce { since } = &p.status else {
            return Err(Refusal::AlreadyWithdrawing {
                party: party.clone(),
            });
        };
        let since_ms = parse_date_ms(since).unwrap_or(i64::MAX);
        // Art. 27.1: notice at any time after three years from entry into force.
        let earliest = months_after(since_ms, gp.withdrawal_wait_years.saturating_mul(12));
        if now < earliest {
            return Err(Refusal::WithdrawalTooEarly {
                party: party.clone(),
                earliest: format_date(earliest),
            });
        }
        // Art. 27.2: effective one year after the notice, or later if stated.
        let effective = effective_ms.unwrap_or(0).max(months_after(
            now,
            gp.withdrawal_effect_years.saturating_mul(12),
        ));
        Ok(GovPlan::Status(
            party.clone(),
            TreatyStatus::WithdrawalNotified {
                since: since.clone(),
                notified: format_date(now),
                effective: format_date(effective),
            },
        ))
    }
}
