//! The command line: every command, its arguments and their help text (clap).

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Table,
    /// The protobuf JSON mapping of the response.
    Json,
}

/// Kyoto Ledger client.
#[derive(Debug, Parser)]
#[command(
    name = "kyoto",
    version,
    about = "Kyoto Ledger client: keys, transfers, Kyoto mechanisms, queries"
)]
pub struct Cli {
    /// The node's gRPC URL.
    #[arg(
        long,
        global = true,
        env = "KYOTO_NODE",
        default_value = "http://127.0.0.1:50051"
    )]
    pub node: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

/// Which units a command moves: type, applicable period, optional origin and project.
#[derive(Debug, ClapArgs)]
pub struct UnitArgs {
    /// Unit type: AAU, RMU, ERU-AAU, ERU-RMU, CER, tCER, lCER.
    #[arg(long, default_value = "AAU")]
    pub unit: String,
    /// Applicable commitment period.
    #[arg(long, default_value_t = 1)]
    pub period: u32,
    /// Only units originating in this Party (or CDM).
    #[arg(long)]
    pub origin: Option<String>,
    /// Only units of this project (ERUs, CERs).
    #[arg(long)]
    pub project: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or inspect Ed25519 keys (PKCS#8 PEM files).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Issue units (a Party's registry authority): AAUs up to the assigned amount
    /// (Art. 3.7), RMUs up to the reported net removals of an activity (Art. 3.3/3.4).
    Issue {
        #[command(flatten)]
        tx: TxOpts,
        /// Issuing Party, e.g. JPN.
        #[arg(long)]
        party: String,
        /// AAU or RMU.
        #[arg(long, default_value = "AAU")]
        unit: String,
        /// Commitment period.
        #[arg(long, default_value_t = 1)]
        period: u32,
        #[arg(long)]
        amount: u64,
        /// Account to issue into (default: the Party holding account <PARTY>-100-1).
        #[arg(long)]
        to: Option<String>,
        /// LULUCF activity of RMUs: AR, D, FM, CM, GM, RV, WDR.
        #[arg(long)]
        activity: Option<String>,
    },
    /// Open an entity holding account in a Party's registry (Art. 6.3, 17).
    OpenAccount {
        #[command(flatten)]
        tx: TxOpts,
        /// The registry's Party, e.g. JPN.
        #[arg(long)]
        party: String,
        /// Name of the legal entity.
        #[arg(long)]
        holder_name: String,
        /// The holder's key file (its public key controls the account).
        #[arg(
            long,
            conflicts_with = "holder_public_key",
            required_unless_present = "holder_public_key"
        )]
        holder_key: Option<PathBuf>,
        /// The holder's public key, hex.
        #[arg(long)]
        holder_public_key: Option<String>,
    },
    /// Transfer units: internal within a registry, external between registries (Art. 3.10-3.12).
    Transfer {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[command(flatten)]
        units: UnitArgs,
        #[arg(long)]
        amount: u64,
    },
    /// Record a reviewed annual inventory (Art. 7, 8): emissions and net removals.
    ReportInventory {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        party: String,
        #[arg(long)]
        year: u32,
        /// Aggregate emissions, t CO2e.
        #[arg(long)]
        emissions: u64,
        /// Net removals of an activity, e.g. `--removal FM=120000` (repeatable).
        #[arg(long = "removal", value_name = "ACTIVITY=AMOUNT")]
        removals: Vec<String>,
    },
    /// Approve a JI project as its host or its acquiring Party (Art. 6.1(a)).
    ApproveJi {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        project: String,
        #[arg(long)]
        host: String,
        #[arg(long)]
        acquirer: String,
    },
    /// Convert the host's AAUs or RMUs into ERUs of an approved JI project (Art. 6).
    ConvertToEru {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        project: String,
        #[arg(long)]
        from: String,
        /// AAU or RMU.
        #[arg(long, default_value = "AAU")]
        unit: String,
        #[arg(long, default_value_t = 1)]
        period: u32,
        #[arg(long)]
        amount: u64,
    },
    /// Register a CDM project (the CDM executive board; host: a non-Annex I Party).
    RegisterCdmProject {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        project: String,
        #[arg(long)]
        host: String,
        /// A participant's account, which may receive forwarded CERs (repeatable).
        #[arg(long = "participant", required = true)]
        participants: Vec<String>,
    },
    /// Issue CERs, tCERs or lCERs for a CDM project into CDM-500-1, less the 2 % share of
    /// proceeds into the Adaptation Fund account CDM-510-1 (Art. 12.8).
    IssueCers {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        project: String,
        /// CER, tCER or lCER.
        #[arg(long, default_value = "CER")]
        unit: String,
        #[arg(long, default_value_t = 1)]
        period: u32,
        #[arg(long)]
        amount: u64,
        /// Expiry date of tCERs/lCERs (YYYY-MM-DD, 00:00 UTC).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Forward CERs from the CDM pending account to a project participant (the board).
    ForwardCers {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        project: String,
        #[arg(long)]
        to: String,
        /// CER, tCER or lCER.
        #[arg(long, default_value = "CER")]
        unit: String,
        #[arg(long, default_value_t = 1)]
        period: u32,
        #[arg(long)]
        amount: u64,
    },
    /// Cancel units into a cancellation account of the registry; they leave circulation.
    Cancel {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        from: String,
        #[arg(long, value_enum, default_value_t = CancelKind::Voluntary)]
        kind: CancelKind,
        #[command(flatten)]
        units: UnitArgs,
        #[arg(long)]
        amount: u64,
    },
    /// Retire units for their period into <PARTY>-300-<period> (Art. 3.1).
    Retire {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        from: String,
        #[command(flatten)]
        units: UnitArgs,
        #[arg(long)]
        amount: u64,
    },
    /// Carry units of a period over into the next, after its true-up (Art. 3.13).
    CarryOver {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        from: String,
        #[command(flatten)]
        units: UnitArgs,
        #[arg(long)]
        amount: u64,
    },
    /// Replace retired tCERs/lCERs (a serial range) with other units.
    Replace {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        party: String,
        /// Origin of the expiring serials (CDM).
        #[arg(long, default_value = "CDM")]
        expiring_origin: String,
        #[arg(long)]
        expiring_start: u64,
        #[arg(long)]
        expiring_end: u64,
        /// Account the replacement units come from.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        units: UnitArgs,
    },
    /// Change the expiry date of tCERs/lCERs (the CDM executive board).
    ChangeExpiry {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long, default_value = "CDM")]
        origin: String,
        #[arg(long)]
        start: u64,
        #[arg(long)]
        end: u64,
        /// New expiry date (YYYY-MM-DD, 00:00 UTC).
        #[arg(long)]
        expires: String,
    },
    /// Show an account: holdings by type and period, serial blocks.
    Account { id: String },
    /// Show an account's audit trail: every transaction that changed its holdings.
    History {
        id: String,
        /// Most entries to show (newest first).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show a Party: treaty data and its Art. 3.10/3.11 accounting.
    Party { code: String },
    /// Show a Party's compliance position for a period (Art. 3.1).
    Compliance {
        code: String,
        #[arg(long, default_value_t = 1)]
        period: u32,
    },
    /// Show a JI or CDM project.
    Project { id: String },
    /// Show a transaction's status and receipt.
    Tx { hash: String },
    /// Show a committed block.
    Block { height: u64 },
    /// Show the node's status.
    Status,
    /// Dev chains only.
    #[command(subcommand)]
    Dev(DevCommand),
    /// Governance: proposals, consent, votes (Art. 22), acceptances (Art. 20, 21).
    #[command(subcommand)]
    Gov(GovCommand),
    /// The Depositary records a State's instrument of ratification or accession (Art. 23-25).
    Deposit {
        #[command(flatten)]
        tx: TxOpts,
        /// The State (ISO 3166 alpha-3).
        #[arg(long)]
        party: String,
        /// Its name, for a State not yet in the ledger.
        #[arg(long)]
        name: Option<String>,
        /// Whether it is included in Annex I.
        #[arg(long)]
        annex_i: bool,
        /// Its registry authority's key file, for a State not yet in the ledger.
        #[arg(long)]
        authority_key: Option<PathBuf>,
    },
    /// Notice of withdrawal from the Protocol (Art. 27).
    Withdraw {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        party: String,
        /// A date later than one year after the notice (YYYY-MM-DD).
        #[arg(long)]
        effective: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Propose an amendment or a decision (any Party, Art. 20.1, 21.2).
    Propose {
        #[command(flatten)]
        tx: TxOpts,
        /// The proposing Party.
        #[arg(long)]
        proposer: String,
        #[arg(long)]
        title: String,
        #[command(subcommand)]
        change: ChangeCommand,
    },
    /// Consent of the Party concerned to an Annex B amendment (Art. 21.7).
    Consent {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        proposal: u64,
    },
    /// Vote yes, no or abstain (Art. 22).
    Vote {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        proposal: u64,
        /// The voting Party (a REIO votes for its member States).
        #[arg(long)]
        party: String,
        #[arg(long, value_enum)]
        choice: VoteArg,
    },
    /// Deposit an instrument of acceptance of an adopted amendment (Art. 20.4).
    Accept {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        proposal: u64,
        #[arg(long)]
        party: String,
    },
    /// Notify non-acceptance of an adopted annex amendment (Art. 21.5).
    NonAcceptance {
        #[command(flatten)]
        tx: TxOpts,
        #[arg(long)]
        proposal: u64,
        #[arg(long)]
        party: String,
    },
    /// Show a proposal: votes with their weights, tally, adoption, entry into force.
    Show { id: u64 },
    /// List the proposals.
    List,
    /// The validator set the ledger records.
    Validators,
}

#[derive(Debug, Subcommand)]
pub enum ChangeCommand {
    /// Amendment to the Protocol (Art. 20): its text, by file.
    ProtocolAmendment {
        #[arg(long)]
        text: PathBuf,
    },
    /// Amendment to Annex B (Art. 21.7): a Party's assigned amount for a period.
    AnnexB {
        #[arg(long)]
        party: String,
        #[arg(long)]
        period: u32,
        #[arg(long)]
        assigned_amount: u64,
    },
    /// Amendment to another annex (Art. 21.5).
    Annex {
        #[arg(long)]
        annex: String,
        #[arg(long)]
        text: PathBuf,
    },
    /// Decision: add a validator (a registry's node key).
    AddValidator {
        #[arg(long)]
        name: String,
        #[arg(long)]
        party: String,
        /// Hex Ed25519 public key.
        #[arg(long)]
        public_key: String,
    },
    /// Decision: remove a validator.
    RemoveValidator {
        #[arg(long)]
        public_key: String,
    },
    /// Decision: a Party's eligibility for the mechanisms.
    Eligibility {
        #[arg(long)]
        party: String,
        #[arg(long, action = clap::ArgAction::Set)]
        art6: bool,
        #[arg(long, action = clap::ArgAction::Set)]
        art12: bool,
        #[arg(long, action = clap::ArgAction::Set)]
        art17: bool,
    },
    /// Decision: a ledger parameter (e.g. cpr_percent_of_assigned, notice_months).
    Parameter {
        #[arg(long)]
        name: String,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CancelKind {
    Voluntary,
    NetSource,
    NonCompliance,
    ExcessIssuance,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key and write it to FILE (mode 0600); prints the public key.
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a key file.
    Show { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Commit a block whose timestamp (ledger time) is at least the given date.
    AdvanceTime {
        /// YYYY-MM-DD (00:00 UTC) or RFC 3339.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, ClapArgs)]
pub struct TxOpts {
    /// The signer's key file (PKCS#8 PEM).
    #[arg(long)]
    pub key: PathBuf,
    /// Nonce to use (default: asked from the node).
    #[arg(long)]
    pub nonce: Option<u64>,
    /// Return once the node has accepted the transaction, without waiting for its block.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the transaction to be committed.
    #[arg(long, default_value_t = 30)]
    pub wait_secs: u64,
}
