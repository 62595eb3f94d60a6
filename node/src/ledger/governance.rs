//! Governance by the treaty's own rules, as pure ledger logic driven by signed
//! transactions and ledger time: proposals (Art. 20, 21 and decisions of the meeting
//! of the Parties), votes with Art. 22 weights, adoption (Art. 20.3, 21.4), acceptance
//! and entry into force (Art. 20.4, 20.5, 21.5), membership (Art. 24, 25) and
//! withdrawal (Art. 27).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::calendar::{days_after, format_date, months_after};
use super::refusal::Refusal;
use super::state::{
    Account, Eligibility, Holder, Party, PartyKind, State, StateKey, TreatyStatus, party_holding,
};
use super::tx::{Applied, AppliedKind};
use super::types::{Amount, Hash, PartyCode, Period, PublicKey};

/// Longest proposal title accepted.
pub const MAX_TITLE_CHARS: usize = 200;

/// The class of a proposal: decides the procedure, and whether a REIO may vote on it
/// (its declared competence, Art. 22.2, 24.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ProposalClass {
    /// Amendment to the Protocol (Art. 20).
    ProtocolAmendment,
    /// Amendment to Annex B (Art. 21.7): needs the written consent of the Party concerned.
    AnnexBAmendment,
    /// Amendment to another annex (Art. 21.5).
    AnnexAmendment,
    /// Decision of the meeting of the Parties: in force at adoption.
    Decision,
}

impl ProposalClass {
    pub const ALL: [ProposalClass; 4] = [
        ProposalClass::ProtocolAmendment,
        ProposalClass::AnnexBAmendment,
        ProposalClass::AnnexAmendment,
        ProposalClass::Decision,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProposalClass::ProtocolAmendment => "protocol_amendment",
            ProposalClass::AnnexBAmendment => "annex_b_amendment",
            ProposalClass::AnnexAmendment => "annex_amendment",
            ProposalClass::Decision => "decision",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// What a proposal would do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalKind {
    ProtocolAmendment {
        text_hash: Hash,
    },
    /// A Party's assigned amount for a commitment period (its Annex B commitment).
    AnnexBAmendment {
        party: PartyCode,
        period: Period,
        assigned_amount: Amount,
    },
    AnnexAmendment {
        annex: String,
        text_hash: Hash,
    },
    AddValidator {
        name: String,
        party: PartyCode,
        key: PublicKey,
    },
    RemoveValidator {
        key: PublicKey,
    },
    SetEligibility {
        party: PartyCode,
        eligibility: Eligibility,
    },
    SetParameter {
        name: String,
        value: u64,
    },
}

impl ProposalKind {
    pub fn class(&self) -> ProposalClass {
        match self {
            ProposalKind::ProtocolAmendment { .. } => ProposalClass::ProtocolAmendment,
            ProposalKind::AnnexBAmendment { .. } => ProposalClass::AnnexBAmendment,
            ProposalKind::AnnexAmendment { .. } => ProposalClass::AnnexAmendment,
            _ => ProposalClass::Decision,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Choice {
    Yes,
    No,
    Abstain,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdoptionMethod {
    /// At least one yes and no vote against.
    Consensus,
    /// Yes by at least three fourths of the votes present and voting (Art. 20.3).
    ThreeFourths,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Notice or voting period.
    Pending,
    Adopted {
        method: AdoptionMethod,
        at_ms: i64,
    },
    NotAdopted {
        reason: String,
        at_ms: i64,
    },
}

/// Votes weighted by Art. 22.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub yes: u64,
    pub no: u64,
    pub abstain: u64,
    /// Member States in force: the quorum's denominator.
    pub eligible: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: u64,
    pub proposer: PartyCode,
    pub title: String,
    pub kind: ProposalKind,
    pub submitted_ms: i64,
    /// Voting opens after the notice period (Art. 20.2, 21.3).
    pub opens_ms: i64,
    pub closes_ms: i64,
    pub votes: BTreeMap<PartyCode, Choice>,
    /// Art. 21.7: the Party concerned consented (Annex B amendments).
    pub consent: bool,
    pub outcome: Outcome,
    /// Tally as of closing.
    pub tally: Tally,
    /// Acceptances deposited (Art. 20.4), by date.
    pub acceptances: BTreeMap<PartyCode, i64>,
    /// Notifications of non-acceptance (Art. 21.5).
    pub non_acceptances: BTreeSet<PartyCode>,
    /// When three fourths of the Parties had accepted.
    pub threshold_ms: Option<i64>,
    /// Entry into force per Party.
    pub in_force: BTreeMap<PartyCode, i64>,
    /// Whether the proposal's effect on the ledger was applied.
    pub effect_applied: bool,
}

/// A validator of the network and the Party whose registry runs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    pub name: String,
    pub party: PartyCode,
    pub key: PublicKey,
}

/// Network-wide governance state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Governance {
    pub next_proposal_id: u64,
    pub validators: Vec<Validator>,
    /// The Depositary's key (Art. 23), which records instruments of ratification.
    pub depositary: Option<PublicKey>,
    /// When the Protocol entered (or enters) into force (Art. 25.1), once known.
    pub protocol_in_force_ms: Option<i64>,
    /// Art. 25.2: 1990 CO2 emissions of the Annex I Parties.
    pub co2_1990: BTreeMap<PartyCode, Amount>,
}

/// Governance transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GovTx {
    Propose {
        proposer: PartyCode,
        title: String,
        kind: ProposalKind,
    },
    Consent {
        proposal: u64,
    },
    Vote {
        proposal: u64,
        voter: PartyCode,
        choice: Choice,
    },
    Accept {
        proposal: u64,
        party: PartyCode,
    },
    NotifyNonAcceptance {
        proposal: u64,
        party: PartyCode,
    },
    /// The Depositary records a State's instrument of ratification or accession (Art. 24).
    /// A State new to the ledger needs a name and its registry authority's key.
    DepositInstrument {
        party: PartyCode,
        name: String,
        annex_i: bool,
        authority: Option<PublicKey>,
    },
    /// Notice of withdrawal (Art. 27); the effective date may be later than one year.
    Withdraw {
        party: PartyCode,
        effective_ms: Option<i64>,
    },
}

pub(crate) enum GovPlan {
    Proposal(Box<Proposal>, AppliedKind),
    NewParty(Box<Party>),
    Status(PartyCode, TreatyStatus),
}

/// Parties needed for the Protocol's entry into force (Art. 25.1).
pub const ENTRY_INTO_FORCE_PARTIES: u64 = 55;
/// Percent of the Annex I Parties' 1990 CO2 their ratifications must cover (Art. 25.1).
pub const ENTRY_INTO_FORCE_CO2_PERCENT: u128 = 55;

impl State {
    pub fn governance(&self) -> &Governance {
        &self.governance
    }
    pub fn proposal(&self, id: u64) -> Option<&Proposal> {
        self.proposals.get(&id)
    }
    pub fn proposals(&self) -> impl Iterator<Item = &Proposal> {
        self.proposals.values()
    }

    /// Parties for which the Protocol is in force now.
    fn parties_in_force(&self) -> impl Iterator<Item = &Party> {
        self.parties.values().filter(|p| p.in_force())
    }

    /// Art. 22: a State has one vote; a REIO as many as its member States that are Parties.
    pub fn vote_weight(&self, party: &Party) -> u64 {
        match &party.kind {
            PartyKind::State => 1,
            PartyKind::Reio { members, .. } => members
                .iter()
                .filter(|m| self.parties.get(*m).is_some_and(Party::in_force))
                .count() as u64,
        }
    }

    /// Weighted votes of a proposal now.
    pub fn tally(&self, p: &Proposal) -> Tally {
        let mut t = Tally {
            eligible: self
                .parties_in_force()
                .filter(|p| matches!(p.kind, PartyKind::State))
                .count() as u64,
            ..Tally::default()
        };
        for (code, choice) in &p.votes {
            let w = self
                .parties
                .get(code)
                .map_or(0, |party| self.vote_weight(party));
            match choice {
                Choice::Yes => t.yes += w,
                Choice::No => t.no += w,
                Choice::Abstain => t.abstain += w,
            }
        }
        t
    }

    fn proposal_ref(&self, id: u64) -> Result<&Proposal, Refusal> {
        self.proposals
            .get(&id)
            .ok_or(Refusal::UnknownProposal { id })
    }

    fn party_in_force(
        &self,
        code: &PartyCode,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Party, Refusal> {
        let p = self
            .parties
            .get(code)
            .ok_or_else(|| Refusal::UnknownParty {
                party: code.clone(),
            })?;
        if &p.authority != signer {
            return Err(Refusal::NotAuthorised {
                what: format!("{what} for {code} (only its registry authority may)"),
            });
        }
        if !p.in_force() {
            return Err(Refusal::NotAParty {
                party: code.clone(),
            });
        }
        Ok(p)
    }

    pub(crate) fn plan_gov(&self, signer: &PublicKey, tx: &GovTx) -> Result<GovPlan, Refusal> {
        let now = self.meta.time_ms;
        let gp = &self.params;
        match tx {
            GovTx::Propose {
                proposer,
                title,
                kind,
            } => {
                // Art. 20.1, 21.2: any Party may propose.
                self.party_in_force(proposer, signer, "make proposals")?;
                let t = title.trim();
                if t.is_empty()
                    || t.chars().count() > MAX_TITLE_CHARS
                    || t.chars().any(char::is_control)
                {
                    return Err(Refusal::InvalidArgument {
                        message: format!("a title has 1 to {MAX_TITLE_CHARS} printable characters"),
                    });
                }
                self.check_proposal_kind(kind)?;
                // No notice (a test genesis): voting opens at once, not at midnight.
                let opens_ms = if gp.notice_months == 0 {
                    now
                } else {
                    months_after(now, gp.notice_months)
                };
                let closes_ms = if gp.session_seconds > 0 {
                    opens_ms.saturating_add(i64::from(gp.session_seconds) * 1000)
                } else {
                    days_after(opens_ms, gp.session_days)
                };
                let id = self.governance.next_proposal_id;
                let proposal = Proposal {
                    id,
                    proposer: proposer.clone(),
                    title: t.to_owned(),
                    kind: kind.clone(),
                    submitted_ms: now,
                    opens_ms,
                    closes_ms,
                    votes: BTreeMap::new(),
                    consent: false,
                    outcome: Outcome::Pending,
                    tally: Tally::default(),
                    acceptances: BTreeMap::new(),
                    non_acceptances: BTreeSet::new(),
                    threshold_ms: None,
                    in_force: BTreeMap::new(),
                    effect_applied: false,
                };
                Ok(GovPlan::Proposal(
                    Box::new(proposal),
                    AppliedKind::ProposalSubmitted,
                ))
            }
            GovTx::Consent { proposal } => {
                let p = self.proposal_ref(*proposal)?;
                let ProposalKind::AnnexBAmendment { party, .. } = &p.kind else {
                    return Err(Refusal::InvalidArgument {
                        message: "only Annex B amendments take a Party's consent".into(),
                    });
                };
                let concerned = self
                    .parties
                    .get(party)
                    .ok_or_else(|| Refusal::UnknownParty {
                        party: party.clone(),
                    })?;
                if &concerned.authority != signer {
                    return Err(Refusal::NotAuthorised {
                        what: format!(
                            "consent for {party} (Art. 21.7: only the Party concerned may)"
                        ),
                    });
                }
                if !concerned.in_force() {
                    return Err(Refusal::NotAParty {
                        party: party.clone(),
                    });
                }
                if p.outcome != Outcome::Pending {
                    return Err(Refusal::VotingClosed { id: p.id });
                }
                let mut p = p.clone();
                p.consent = true;
                Ok(GovPlan::Proposal(Box::new(p), AppliedKind::ConsentGiven))
            }
            GovTx::Vote {
                proposal,
                voter,
                choice,
            } => {
                let p = self.proposal_ref(*proposal)?;
                let v = self.party_in_force(voter, signer, "vote")?;
                if now < p.opens_ms {
                    return Err(Refusal::VotingNotOpen {
                        id: p.id,
                        opens: format_date(p.opens_ms),
                    });
                }
                if now >= p.closes_ms || p.outcome != Outcome::Pending {
                    return Err(Refusal::VotingClosed { id: p.id });
                }
                if p.votes.contains_key(voter) {
                    return Err(Refusal::AlreadyVoted {
                        party: voter.clone(),
                        id: p.id,
                    });
                }
                match &v.kind {
                    PartyKind::Reio {
                        members,
                        competence,
                    } => {
                        // Art. 22.2: within its competence only, and never with its members.
                        if !competence.contains(&p.kind.class()) {
                            return Err(Refusal::OutsideReioCompetence {
                                party: voter.clone(),
                                class: p.kind.class().name(),
                            });
                        }
                        if let Some(m) = members.iter().find(|m| p.votes.contains_key(*m)) {
                            return Err(Refusal::ReioMemberAlreadyVoted {
                                reio: voter.clone(),
                                member: m.clone(),
                            });
                        }
                    }
                    PartyKind::State => {
                        if let Some(reio) = &v.member_of
                            && p.votes.contains_key(reio)
                        {
                            return Err(Refusal::MemberStateReioAlreadyVoted {
                                member: voter.clone(),
                                reio: reio.clone(),
                            });
                        }
                    }
                }
                let mut p = p.clone();
                p.votes.insert(voter.clone(), *choice);
                Ok(GovPlan::Proposal(Box::new(p), AppliedKind::VoteCast))
            }
            GovTx::Accept { proposal, party } => {
                let p = self.proposal_ref(*proposal)?;
                self.party_in_force(party, signer, "deposit acceptances")?;
                if !matches!(
                    p.kind.class(),
                    ProposalClass::ProtocolAmendment | ProposalClass::AnnexBAmendment
                ) {
                    return Err(Refusal::InvalidArgument {
                        message: "only amendments to the Protocol or to Annex B are accepted by deposit (Art. 20.4, 21.7)".into(),
                    });
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
            GovTx::NotifyNonAcceptance { proposal, party } => {
                let p = self.proposal_ref(*proposal)?;
                self.party_in_force(party, signer, "notify non-acceptance")?;
                let Outcome::Adopted { at_ms, .. } = p.outcome else {
                    return Err(Refusal::NotAdopted { id: p.id });
                };
                if p.kind.class() != ProposalClass::AnnexAmendment {
                    return Err(Refusal::InvalidArgument {
                        message: "non-acceptance is notified only for annex amendments (Art. 21.5)"
                            .into(),
                    });
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
            GovTx::DepositInstrument {
                party,
                name,
                annex_i,
                authority,
            } => {
                if self.governance.depositary.as_ref() != Some(signer) {
                    return Err(Refusal::NotAuthorised {
                        what:
                            "record instruments of ratification (only the Depositary may, Art. 23)"
                                .into(),
                    });
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
                            return Err(Refusal::InvalidArgument {
                                message: format!(
                                    "{party} is in the ledger with its registry authority's key; a deposit does not change it (leave the key out)"
                                ),
                            });
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
                            return Err(Refusal::InvalidArgument {
                                message: "a new Party needs a name".into(),
                            });
                        }
                        if party.as_str() == super::genesis::CDM_REGISTRY {
                            return Err(Refusal::InvalidArgument {
                                message: "CDM names the CDM registry".into(),
                            });
                        }
                        let authority = authority.ok_or_else(|| Refusal::InvalidArgument {
                            message: "a State new to the ledger needs its registry authority's key"
                                .into(),
                        })?;
                        Ok(GovPlan::NewParty(Box::new(Party {
                            code: party.clone(),
                            name: n.to_owned(),
                            kind: PartyKind::State,
                            member_of: None,
                            annex_i: *annex_i,
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
            GovTx::Withdraw {
                party,
                effective_ms,
            } => {
                let p = self.party_in_force(party, signer, "withdraw")?;
                let TreatyStatus::InForce { since } = &p.status else {
                    return Err(Refusal::AlreadyWithdrawing {
                        party: party.clone(),
                    });
                };
                let since_ms = super::calendar::parse_date_ms(since).unwrap_or(i64::MAX);
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
    }

    fn check_proposal_kind(&self, kind: &ProposalKind) -> Result<(), Refusal> {
        let bad = |m: &str| {
            Err(Refusal::InvalidArgument {
                message: m.to_owned(),
            })
        };
        match kind {
            ProposalKind::ProtocolAmendment { .. } => Ok(()),
            ProposalKind::AnnexAmendment { annex, .. } => {
                if annex == "B" || annex.is_empty() || annex.len() > 8 {
                    return bad("name the annex (Annex B amendments have their own kind)");
                }
                Ok(())
            }
            ProposalKind::AnnexBAmendment { party, period, .. } => {
                let p = self
                    .parties
                    .get(party)
                    .ok_or_else(|| Refusal::UnknownParty {
                        party: party.clone(),
                    })?;
                if !p.annex_i {
                    return bad("Annex B lists Annex I Parties only");
                }
                self.params
                    .period(*period)
                    .ok_or(Refusal::UnknownPeriod { period: *period })?;
                Ok(())
            }
            ProposalKind::AddValidator { name, party, key } => {
                self.parties
                    .get(party)
                    .ok_or_else(|| Refusal::UnknownParty {
                        party: party.clone(),
                    })?;
                if name.trim().is_empty() || name.len() > 64 {
                    return bad("a validator needs a name of 1 to 64 characters");
                }
                if self.governance.validators.iter().any(|v| &v.key == key) {
                    return bad("that key is already a validator");
                }
                // Consensus verifies votes strictly: a key that is not a valid, strong
                // Ed25519 point could never vote.
                match ed25519_dalek::VerifyingKey::from_bytes(key) {
                    Ok(k) if !k.is_weak() => {}
                    _ => return bad("the validator key is not a valid Ed25519 public key"),
                }
                Ok(())
            }
            ProposalKind::RemoveValidator { key } => {
                if !self.governance.validators.iter().any(|v| &v.key == key) {
                    return bad("that key is not a validator");
                }
                if self.governance.validators.len() < 2 {
                    return bad("the last validator cannot be removed");
                }
                Ok(())
            }
            ProposalKind::SetEligibility { party, .. } => {
                self.parties
                    .get(party)
                    .ok_or_else(|| Refusal::UnknownParty {
                        party: party.clone(),
                    })?;
                Ok(())
            }
            ProposalKind::SetParameter { name, value } => {
                let mut params = self.params.clone();
                params
                    .set(name, *value)
                    .map_err(|message| Refusal::InvalidArgument { message })
            }
        }
    }

    /// Art. 20.4/20.5: in force on the 90th day after three fourths of the Parties have
    /// accepted, for each later acceptor on the 90th day after its deposit. A REIO's
    /// acceptance does not count in addition to its members' (Art. 25.4); the denominator
    /// is the Parties to the Protocol at the deposit, the REIO included.
    fn update_entry_into_force(&self, p: &mut Proposal, party: &PartyCode, now: i64) {
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

    /// Tally and adoption at the close of voting (Art. 20.3, 21.4; Art. 1 "present and voting").
    fn close(&self, p: &mut Proposal) {
        let t = self.tally(p);
        p.tally = t;
        let at_ms = p.closes_ms;
        let present_and_voting = t.yes + t.no;
        let participated = present_and_voting + t.abstain;
        let q = &self.params;
        p.outcome = if u128::from(participated) * u128::from(q.quorum_denominator)
            < u128::from(t.eligible) * u128::from(q.quorum_numerator)
        {
            Outcome::NotAdopted {
                reason: "no quorum: fewer than two thirds of the Parties took part".into(),
                at_ms,
            }
        } else if p.kind.class() == ProposalClass::AnnexBAmendment && !p.consent {
            Outcome::NotAdopted {
                reason: "the Party concerned did not consent (Art. 21.7)".into(),
                at_ms,
            }
        } else if t.yes > 0 && t.no == 0 {
            Outcome::Adopted {
                method: AdoptionMethod::Consensus,
                at_ms,
            }
        } else if t.yes > 0 && 4 * u128::from(t.yes) >= 3 * u128::from(present_and_voting) {
            Outcome::Adopted {
                method: AdoptionMethod::ThreeFourths,
                at_ms,
            }
        } else {
            Outcome::NotAdopted {
                reason: "fewer than three fourths of the votes present and voting were yes".into(),
                at_ms,
            }
        };
    }

    fn effect_due(&self, p: &Proposal, now: i64) -> bool {
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

    fn apply_effect(&mut self, p: &mut Proposal, touched: &mut BTreeSet<StateKey>) {
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
                    let issued = x.position(super::types::UnitType::Aau, *period).issued;
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

    pub(crate) fn execute_gov(
        &mut self,
        plan: GovPlan,
        touched: &mut BTreeSet<StateKey>,
    ) -> Applied {
        let empty = |kind| Applied {
            kind,
            amount: 0,
            serials: Vec::new(),
            from: None,
            to: None,
            accounts: Vec::new(),
        };
        match plan {
            GovPlan::Proposal(p, kind) => {
                let p = *p;
                if kind == AppliedKind::ProposalSubmitted {
                    self.governance.next_proposal_id += 1;
                    touched.insert(StateKey::Governance);
                }
                touched.insert(StateKey::Proposal(p.id));
                let id = p.id;
                self.proposals.insert(id, p);
                Applied {
                    amount: id,
                    ..empty(kind)
                }
            }
            GovPlan::NewParty(party) => {
                let now = self.meta.time_ms;
                let party = *party;
                let code = party.code.clone();
                let holding = party_holding(&code);
                touched.insert(StateKey::Party(code.clone()));
                touched.insert(StateKey::Account(holding.clone()));
                self.insert_account(Account {
                    id: holding.clone(),
                    holder: Holder::PartyAuthority,
                    holder_name: party.name.clone(),
                    blocks: Vec::new(),
                });
                self.parties.insert(code, party);
                self.settle_entry_into_force(now);
                self.touch_deposited(touched);
                Applied {
                    to: Some(holding),
                    ..empty(AppliedKind::InstrumentDeposited)
                }
            }
            GovPlan::Status(code, status) => {
                let kind = if matches!(status, TreatyStatus::Deposited { .. }) {
                    AppliedKind::InstrumentDeposited
                } else {
                    AppliedKind::WithdrawalNotified
                };
                if let Some(p) = self.parties.get_mut(&code) {
                    p.status = status;
                    touched.insert(StateKey::Party(code));
                }
                if kind == AppliedKind::InstrumentDeposited {
                    self.settle_entry_into_force(self.meta.time_ms);
                    self.touch_deposited(touched);
                }
                empty(kind)
            }
        }
    }
}

impl State {
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
                let dep = super::calendar::parse_date_ms(deposited).unwrap_or(now);
                *in_force_from = format_date(days_after(dep, days).max(eif));
            }
        }
    }

    /// Marks every Party whose date may have been settled, and the governance leaf.
    fn touch_deposited(&self, touched: &mut BTreeSet<StateKey>) {
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

fn due(date: &str, now: i64) -> bool {
    super::calendar::parse_date_ms(date).is_some_and(|d| d <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::calendar::parse_date_ms;
    use crate::ledger::genesis::{Genesis, GenesisParams, GenesisParty, GenesisValidator};
    use crate::ledger::{BlockContext, Tx, TxKind};
    use ed25519_dalek::SigningKey;

    fn code(i: usize) -> String {
        let a = b'A' + (i / 26) as u8;
        let b = b'A' + (i % 26) as u8;
        format!("Q{}{}", a as char, b as char)
    }

    fn key(i: usize) -> SigningKey {
        SigningKey::from_bytes(&[i as u8 + 1; 32])
    }

    /// 30 Annex I States with 100 t of 1990 CO2 each and 30 other States, all signatories.
    fn genesis() -> Genesis {
        let parties = (0..60)
            .map(|i| GenesisParty {
                code: code(i),
                name: format!("State {i}"),
                kind: "state".into(),
                members: vec![],
                annex_i: i < 30,
                annex_b_percent: None,
                base_year_emissions: None,
                economy_in_transition: false,
                status: "signatory".into(),
                in_force_since: None,
                authority_key: hex::encode(key(i).verifying_key().to_bytes()),
                assigned_amounts: BTreeMap::new(),
                eligibility: None,
                competence: None,
                co2_1990: (i < 30).then_some(100),
                deposited: None,
            })
            .collect();
        Genesis {
            chain_id: "art25".into(),
            genesis_time_ms: parse_date_ms("1998-03-16").unwrap(),
            parties,
            issuances: vec![],
            validators: vec![GenesisValidator {
                name: "v".into(),
                party: code(0),
                public_key: hex::encode(key(200).verifying_key().to_bytes()),
            }],
            cdm_board_key: hex::encode(key(201).verifying_key().to_bytes()),
            params: GenesisParams::default(),
            depositary_key: Some(hex::encode(key(202).verifying_key().to_bytes())),
            protocol_in_force: None,
        }
    }

    fn deposits(states: impl Iterator<Item = usize>, nonce: &mut u64) -> Vec<Tx> {
        states
            .map(|i| {
                *nonce += 1;
                let kind = GovTx::DepositInstrument {
                    party: PartyCode::parse(&code(i)).unwrap(),
                    name: String::new(),
                    annex_i: i < 30,
                    authority: None,
                };
                Tx {
                    hash: [0; 32],
                    signer: key(202).verifying_key().to_bytes(),
                    nonce: *nonce,
                    kind: TxKind::Gov(kind),
                }
            })
            .collect()
    }

    fn status(state: &State, i: usize) -> TreatyStatus {
        state
            .party(&PartyCode::parse(&code(i)).unwrap())
            .unwrap()
            .status
            .clone()
    }

    #[test]
    fn protocol_enters_into_force_on_the_90th_day_after_55_parties_with_55_percent_of_annex_i_co2()
    {
        let mut state = genesis().build_state().unwrap();
        let mut nonce = 0;
        let block = |state: &mut State, h: u64, date: &str, txs: Vec<Tx>| {
            let ctx = BlockContext {
                height: h,
                timestamp_ms: parse_date_ms(date).unwrap() + 1,
                hash: [h as u8; 32],
            };
            let out = state.apply_block(ctx, &txs).unwrap();
            assert!(
                out.receipts.iter().all(|r| r.outcome.is_ok()),
                "{:?}",
                out.receipts
            );
        };
        // 30 non-Annex I States and 16 Annex I States: 46 Parties, 53 % of the CO2.
        let txs = deposits((30..60).chain(0..16), &mut nonce);
        block(&mut state, 1, "2002-05-31", txs);
        // 9 more non-Annex I would not be possible here; 9 more Annex I give 55 Parties
        // but the 55th arrives with the 25th Annex I State: 83 % of the CO2.
        let txs = deposits(16..24, &mut nonce);
        block(&mut state, 2, "2004-04-12", txs);
        assert_eq!(
            state.governance().protocol_in_force_ms,
            None,
            "54 Parties are not enough"
        );
        let txs = deposits(24..25, &mut nonce);
        block(&mut state, 3, "2004-11-18", txs);
        assert_eq!(
            state.governance().protocol_in_force_ms,
            parse_date_ms("2005-02-16")
        );
        assert_eq!(
            status(&state, 30),
            TreatyStatus::Deposited {
                deposited: "2002-05-31".into(),
                in_force_from: "2005-02-16".into()
            }
        );
        block(&mut state, 4, "2005-02-16", vec![]);
        assert_eq!(
            status(&state, 30),
            TreatyStatus::InForce {
                since: "2005-02-16".into()
            }
        );
        assert_eq!(
            status(&state, 24),
            TreatyStatus::InForce {
                since: "2005-02-16".into()
            }
        );
        // A later ratification: the 90th day after its own deposit (Art. 25.3).
        let txs = deposits(25..26, &mut nonce);
        block(&mut state, 5, "2007-12-12", txs);
        assert_eq!(
            status(&state, 25),
            TreatyStatus::Deposited {
                deposited: "2007-12-12".into(),
                in_force_from: "2008-03-11".into()
            }
        );
        assert_eq!(status(&state, 26), TreatyStatus::Signatory);
        assert_eq!(state.check_invariants(), Ok(()));
    }
}
