//! Governance by the treaty's own rules, as pure ledger logic driven by signed
//! transactions and ledger time: proposals (Art. 20, 21 and decisions of the meeting
//! of the Parties), votes with Art. 22 weights, adoption (Art. 20.3, 21.4), acceptance
//! and entry into force (Art. 20.4, 20.5, 21.5), membership (Art. 24, 25) and
//! withdrawal (Art. 27).
//!
//! One file per part of the treaty: `proposals` (Art. 20, 21), `voting` (Art. 22),
//! `entry_into_force` (Art. 20.4, 21.5, 25) and `membership` (Art. 24, 25.3, 27).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::refusal::Refusal;
use crate::state::{
    Account, Eligibility, Holder, Party, State, StateKey, TreatyStatus, party_holding,
};
use crate::tx::{Applied, AppliedKind};
use crate::types::{Amount, Hash, PartyCode, Period, PublicKey};

mod entry_into_force;
mod membership;
mod proposals;
#[cfg(test)]
mod tests;
mod voting;

pub use entry_into_force::{ENTRY_INTO_FORCE_CO2_PERCENT, ENTRY_INTO_FORCE_PARTIES};

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

    /// Plans a governance transaction: each kind in the file of its article.
    pub(crate) fn plan_gov(&self, signer: &PublicKey, tx: &GovTx) -> Result<GovPlan, Refusal> {
        match tx {
            GovTx::Propose {
                proposer,
                title,
                kind,
            } => self.plan_propose(signer, proposer, title, kind),
            GovTx::Consent { proposal } => self.plan_consent(signer, *proposal),
            GovTx::Vote {
                proposal,
                voter,
                choice,
            } => self.plan_vote(signer, *proposal, voter, *choice),
            GovTx::Accept { proposal, party } => self.plan_accept(signer, *proposal, party),
            GovTx::NotifyNonAcceptance { proposal, party } => {
                self.plan_non_acceptance(signer, *proposal, party)
            }
            GovTx::DepositInstrument {
                party,
                name,
                annex_i,
                authority,
            } => self.plan_deposit(signer, party, name, *annex_i, *authority),
            GovTx::Withdraw {
                party,
                effective_ms,
            } => self.plan_withdraw(signer, party, *effective_ms),
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
