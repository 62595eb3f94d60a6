//! The governance commands (Art. 20-22): proposals, consent, votes, acceptances.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::TxOpts;

#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Propose an amendment or a decision (any Party, Art. 20.1, 21.2).
    Propose {
        #[command(flatten)]
        tx: TxOpts,
        /// The proposing Party.
        #[arg(long)]
        proposer: String,
        /// A short title (1 to 200 printable characters).
        #[arg(long)]
        title: String,
        #[command(subcommand)]
        change: ChangeCommand,
    },
    /// Consent of the Party concerned to an Annex B amendment (Art. 21.7).
    Consent {
        #[command(flatten)]
        tx: TxOpts,
        /// The proposal's id.
        #[arg(long)]
        proposal: u64,
        /// The consenting Party: checked against the Party the amendment concerns
        /// before anything is signed.
        #[arg(long)]
        party: Option<String>,
    },
    /// Vote yes, no or abstain (Art. 22).
    Vote {
        #[command(flatten)]
        tx: TxOpts,
        /// The proposal's id.
        #[arg(long)]
        proposal: u64,
        /// The voting Party (a REIO votes for its member States).
        #[arg(long)]
        party: String,
        /// The vote.
        #[arg(long, value_enum)]
        choice: VoteArg,
    },
    /// Deposit an instrument of acceptance of an adopted amendment (Art. 20.4).
    Accept {
        #[command(flatten)]
        tx: TxOpts,
        /// The adopted proposal's id.
        #[arg(long)]
        proposal: u64,
        /// The accepting Party.
        #[arg(long)]
        party: String,
    },
    /// Notify non-acceptance of an adopted annex amendment (Art. 21.5).
    NonAcceptance {
        #[command(flatten)]
        tx: TxOpts,
        /// The adopted annex amendment's id.
        #[arg(long)]
        proposal: u64,
        /// The Party that does not accept it.
        #[arg(long)]
        party: String,
    },
    /// Show a proposal: votes with their weights, tally, adoption, entry into force.
    Show {
        /// The proposal's id.
        id: u64,
    },
    /// List the proposals.
    List,
    /// The validator set the ledger records.
    Validators,
}

#[derive(Debug, Subcommand)]
pub enum ChangeCommand {
    /// Amendment to the Protocol (Art. 20): its text, by file.
    ProtocolAmendment {
        /// File with the amendment's text (its SHA-256 goes in the proposal).
        #[arg(long)]
        text: PathBuf,
    },
    /// Amendment to Annex B (Art. 21.7): a Party's assigned amount for a period.
    AnnexB {
        /// The Party whose Annex B entry changes.
        #[arg(long)]
        party: String,
        /// Commitment period.
        #[arg(long)]
        period: u32,
        /// The new assigned amount for that period, t CO2e.
        #[arg(long)]
        assigned_amount: u64,
    },
    /// Amendment to another annex (Art. 21.5).
    Annex {
        /// The annex, e.g. A (Annex B amendments have their own command).
        #[arg(long)]
        annex: String,
        /// File with the amendment's text (its SHA-256 goes in the proposal).
        #[arg(long)]
        text: PathBuf,
    },
    /// Decision: add a validator (a registry's node key).
    AddValidator {
        /// The validator's name (1 to 64 characters).
        #[arg(long)]
        name: String,
        /// The Party whose registry runs it.
        #[arg(long)]
        party: String,
        /// Hex Ed25519 public key.
        #[arg(long)]
        public_key: String,
    },
    /// Decision: remove a validator.
    RemoveValidator {
        /// Hex Ed25519 public key of the validator to remove.
        #[arg(long)]
        public_key: String,
    },
    /// Decision: a Party's eligibility for the mechanisms.
    Eligibility {
        /// The Party concerned.
        #[arg(long)]
        party: String,
        /// Eligible for joint implementation (Art. 6).
        #[arg(long, action = clap::ArgAction::Set)]
        art6: bool,
        /// Eligible to use CERs (Art. 12).
        #[arg(long, action = clap::ArgAction::Set)]
        art12: bool,
        /// Eligible for emissions trading (Art. 17).
        #[arg(long, action = clap::ArgAction::Set)]
        art17: bool,
    },
    /// Decision: a ledger parameter (e.g. cpr_percent_of_assigned, notice_months).
    Parameter {
        /// Parameter name.
        #[arg(long)]
        name: String,
        /// New value.
        #[arg(long)]
        value: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VoteArg {
    Yes,
    No,
    Abstain,
}
