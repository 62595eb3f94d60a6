//! What governance records: proposals with their class, procedure, tally and
//! acceptances (Art. 20, 21, 22), the validators, and the governance transactions.
//! Plain data: the rules that change them are in the files beside this one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::types::{Amount, Eligibility, Hash, PartyCode, Period, PublicKey};

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
