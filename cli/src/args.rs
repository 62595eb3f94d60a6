//! The command line: every command, its arguments and their help text (clap).

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};

mod gov;

pub use gov::{ChangeCommand, GovCommand, VoteArg};

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
    /// CA certificate (PEM) to check an https:// node's certificate against (default:
    /// the system's roots).
    #[arg(long, global = true, value_name = "FILE", env = "KYOTO_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for a node that serves only known clients; needs
    /// --client-key.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "KYOTO_CLIENT_CERT",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of --client-cert.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "KYOTO_CLIENT_KEY",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,
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
        /// Number of units to issue.
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
        /// Account the units leave, e.g. JPN-100-1 (signed by its holder or registry).
        #[arg(long)]
        from: String,
        /// Account that receives them, e.g. CAN-100-1 (another registry's for an external transfer).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        units: UnitArgs,
        /// Number of units to move.
        #[arg(long)]
        amount: u64,
    },
    /// Record a reviewed annual inventory (Art. 7, 8): emissions and net removals.
    ReportInventory {
        #[command(flatten)]
        tx: TxOpts,
        /// The reporting Party, e.g. NZL.
        #[arg(long)]
        party: String,
        /// Inventory year (1990-2100).
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
        /// Project id, e.g. JI-1.
        #[arg(long)]
        project: String,
        /// Host Party (Annex I), where the project is.
        #[arg(long)]
        host: String,
        /// Acquiring Party (Annex I), which acquires its ERUs.
        #[arg(long)]
        acquirer: String,
    },
    /// Convert the host's AAUs or RMUs into ERUs of an approved JI project (Art. 6).
    ConvertToEru {
        #[command(flatten)]
        tx: TxOpts,
        /// The approved JI project, e.g. JI-1.
        #[arg(long)]
        project: String,
        /// Account of the host's AAUs or RMUs (its party holding account).
        #[arg(long)]
        from: String,
        /// AAU or RMU.
        #[arg(long, default_value = "AAU")]
        unit: String,
        /// Applicable commitment period of the units.
        #[arg(long, default_value_t = 1)]
        period: u32,
        /// Number of units to convert.
        #[arg(long)]
        amount: u64,
    },
    /// Register a CDM project (the CDM executive board; host: a non-Annex I Party).
    RegisterCdmProject {
        #[command(flatten)]
        tx: TxOpts,
        /// Project id, e.g. CDM-500.
        #[arg(long)]
        project: String,
        /// Host Party (not in Annex I), e.g. BRA.
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
        /// The registered CDM project, e.g. CDM-500.
        #[arg(long)]
        project: String,
        /// CER, tCER or lCER.
        #[arg(long, default_value = "CER")]
        unit: String,
        /// Commitment period of the CERs.
        #[arg(long, default_value_t = 1)]
        period: u32,
        /// Number of units to issue, before the share of proceeds.
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
        /// The CDM project whose units are forwarded.
        #[arg(long)]
        project: String,
        /// A participant account of the project.
        #[arg(long)]
        to: String,
        /// CER, tCER or lCER.
        #[arg(long, default_value = "CER")]
        unit: String,
        /// Applicable commitment period of the units.
        #[arg(long, default_value_t = 1)]
        period: u32,
        /// Number of units to forward.
        #[arg(long)]
        amount: u64,
    },
    /// Cancel units into a cancellation account of the registry; they leave circulation.
    Cancel {
        #[command(flatten)]
        tx: TxOpts,
        /// Account the units leave.
        #[arg(long)]
        from: String,
        /// Cancellation account type.
        #[arg(long, value_enum, default_value_t = CancelKind::Voluntary)]
        kind: CancelKind,
        #[command(flatten)]
        units: UnitArgs,
        /// Number of units to cancel.
        #[arg(long)]
        amount: u64,
    },
    /// Retire units for their period into <PARTY>-300-<period> (Art. 3.1).
    Retire {
        #[command(flatten)]
        tx: TxOpts,
        /// Account the units leave (the Party holding account).
        #[arg(long)]
        from: String,
        #[command(flatten)]
        units: UnitArgs,
        /// Number of units to retire.
        #[arg(long)]
        amount: u64,
    },
    /// Carry units of a period over into the next, after its true-up (Art. 3.13).
    CarryOver {
        #[command(flatten)]
        tx: TxOpts,
        /// Account whose units are carried over (the Party holding account).
        #[arg(long)]
        from: String,
        #[command(flatten)]
        units: UnitArgs,
        /// Number of units to carry over.
        #[arg(long)]
        amount: u64,
    },
    /// Replace retired tCERs/lCERs (a serial range) with other units.
    Replace {
        #[command(flatten)]
        tx: TxOpts,
        /// The Party replacing its retired tCERs/lCERs.
        #[arg(long)]
        party: String,
        /// Origin of the expiring serials (CDM).
        #[arg(long, default_value = "CDM")]
        expiring_origin: String,
        /// First serial number of the expiring range.
        #[arg(long)]
        expiring_start: u64,
        /// Last serial number of the expiring range (inclusive).
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
        /// Origin of the serials (CDM).
        #[arg(long, default_value = "CDM")]
        origin: String,
        /// First serial number of the range.
        #[arg(long)]
        start: u64,
        /// Last serial number of the range (inclusive).
        #[arg(long)]
        end: u64,
        /// New expiry date (YYYY-MM-DD, 00:00 UTC).
        #[arg(long)]
        expires: String,
    },
    /// Show an account: holdings by type and period, serial blocks.
    Account {
        /// Account id, e.g. JPN-100-1.
        id: String,
    },
    /// Show an account's audit trail: every transaction that changed its holdings.
    History {
        /// Account id, e.g. JPN-100-1.
        id: String,
        /// Most entries to show (newest first).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Continue after the last entry of a previous page (the token it printed).
        #[arg(long)]
        after: Option<String>,
    },
    /// Back up the node's committed chain: every block up to its height with its commit
    /// certificate, into FILE (replaced only once the new backup is complete). Restore
    /// it with `kyotod restore`.
    Backup {
        /// The backup file to write (e.g. /backups/kyoto-2026-12-04.kbk).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Follow the ledger: print each transaction that changes an account's (or a
    /// Party's accounts') holdings as its block commits, until interrupted.
    Watch {
        /// Account id, e.g. JPN-100-1.
        #[arg(long, conflicts_with = "party", required_unless_present = "party")]
        account: Option<String>,
        /// Party code: every account of its registry, e.g. JPN.
        #[arg(long)]
        party: Option<String>,
        /// First block to look at (default: the next one to commit).
        #[arg(long)]
        from_height: Option<u64>,
        /// Stop after this many transactions (default: never).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Show a Party: treaty data and its Art. 3.10/3.11 accounting.
    Party {
        /// Party code, e.g. JPN (EU for the European Community).
        code: String,
    },
    /// List every Party and signatory: status, Annex B commitment, units held.
    Parties {
        #[command(flatten)]
        page: PageArgs,
    },
    /// List JI and CDM projects.
    Projects {
        #[command(flatten)]
        page: PageArgs,
    },
    /// List the accounts of a Party's registry, or those one key holds.
    Accounts {
        /// Party code: the accounts of its registry, e.g. JPN (CDM for the CDM registry).
        #[arg(long, conflicts_with = "holder", required_unless_present = "holder")]
        party: Option<String>,
        /// Holder: a public key (hex, as `kyoto keys show` prints it) or a key file.
        #[arg(long)]
        holder: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// List governance proposals (the same as `kyoto gov list`).
    Proposals,
    /// Show a Party's compliance position for a period (Art. 3.1).
    Compliance {
        /// Party code, e.g. JPN.
        code: String,
        /// Commitment period.
        #[arg(long, default_value_t = 1)]
        period: u32,
    },
    /// Show a JI or CDM project.
    Project {
        /// Project id, e.g. JI-1 or CDM-500.
        id: String,
    },
    /// Show a transaction's status and receipt.
    Tx {
        /// Transaction hash, hex (as `kyoto` prints it).
        hash: String,
    },
    /// Show a committed block.
    Block {
        /// Block height (1 is the first block after genesis).
        height: u64,
    },
    /// Show the node's status.
    Status,
    /// Dev chains only.
    #[command(subcommand)]
    Dev(DevCommand),
    /// Print a shell completion script, e.g. `kyoto completions bash > ~/.local/share/bash-completion/completions/kyoto`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `kyoto man > kyoto.1 && man ./kyoto.1`.
    Man,
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
        /// The withdrawing Party.
        #[arg(long)]
        party: String,
        /// A date later than one year after the notice (YYYY-MM-DD).
        #[arg(long)]
        effective: Option<String>,
    },
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
        /// File to write the key to.
        #[arg(long)]
        out: PathBuf,
        /// Encrypt the file with a passphrase (PKCS#8, scrypt and AES-256-CBC), taken
        /// from KYOTO_KEY_PASSPHRASE or asked for twice at the terminal.
        #[arg(long)]
        encrypt: bool,
    },
    /// Print the public key of a key file.
    Show {
        /// The key file (PKCS#8 PEM).
        file: PathBuf,
    },
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
    /// Check the transaction against the committed state as the next block would and
    /// print the receipt it would get; nothing is submitted (nonce: --nonce, or the
    /// next one the committed state expects).
    #[arg(long, conflicts_with = "no_wait")]
    pub dry_run: bool,
    /// How long to wait for the transaction to be committed.
    #[arg(long, default_value_t = 30)]
    pub wait_secs: u64,
}

/// Which part of a list to show: all of it by default, or `--limit` entries after
/// `--after` (a script pages with the token the last page printed).
#[derive(Debug, ClapArgs)]
pub struct PageArgs {
    /// Most entries to show (default: all, fetched a page at a time).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after the last entry of a previous page (the token it printed).
    #[arg(long)]
    pub after: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn missing_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        let path = format!("{path} {}", cmd.get_name());
        if cmd.get_about().is_none() && !path.trim().eq("kyoto") {
            out.push(format!("{path}: no about"));
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id != "help" && id != "version" && arg.get_help().is_none() {
                out.push(format!("{path} --{id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            missing_help(sub, &path, out);
        }
    }

    #[test]
    fn every_command_and_flag_has_help_text() {
        let mut missing = Vec::new();
        missing_help(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }
}
