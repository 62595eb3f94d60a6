//! `kyoto`: the Kyoto Ledger command-line client. Keys, signed transactions
//! (issuance, accounts, transfers, the Kyoto mechanisms, compliance) and queries, over
//! the node's gRPC API.

mod client;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use kyoto_client::Activity;
use kyoto_client::crypto;
use kyoto_proto::v1::{self as pb, propose::Change, transaction_body::Kind};

use client::{
    Refused, check_account, check_party, connect, from_status, parse_unit, read_key, send,
};
use output::Output;

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
struct Cli {
    /// The node's gRPC URL.
    #[arg(
        long,
        global = true,
        env = "KYOTO_NODE",
        default_value = "http://127.0.0.1:50051"
    )]
    node: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

/// Which units a command moves: type, applicable period, optional origin and project.
#[derive(Debug, ClapArgs)]
struct UnitArgs {
    /// Unit type: AAU, RMU, ERU-AAU, ERU-RMU, CER, tCER, lCER.
    #[arg(long, default_value = "AAU")]
    unit: String,
    /// Applicable commitment period.
    #[arg(long, default_value_t = 1)]
    period: u32,
    /// Only units originating in this Party (or CDM).
    #[arg(long)]
    origin: Option<String>,
    /// Only units of this project (ERUs, CERs).
    #[arg(long)]
    project: Option<String>,
}

impl UnitArgs {
    fn filter(&self) -> anyhow::Result<pb::UnitFilter> {
        Ok(pb::UnitFilter {
            unit_type: parse_unit(&self.unit)? as i32,
            period: self.period,
            origin: self
                .origin
                .as_deref()
                .map(check_party)
                .transpose()?
                .unwrap_or_default(),
            project: self.project.clone().unwrap_or_default(),
        })
    }
}

#[derive(Debug, Subcommand)]
enum Command {
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
enum GovCommand {
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
enum ChangeCommand {
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
enum VoteArg {
    Yes,
    No,
    Abstain,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum CancelKind {
    Voluntary,
    NetSource,
    NonCompliance,
    ExcessIssuance,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a key and write it to FILE (mode 0600); prints the public key.
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a key file.
    Show { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum DevCommand {
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
    key: PathBuf,
    /// Nonce to use (default: asked from the node).
    #[arg(long)]
    nonce: Option<u64>,
    /// Return once the node has accepted the transaction, without waiting for its block.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the transaction to be committed.
    #[arg(long, default_value_t = 30)]
    wait_secs: u64,
}

/// Parses `YYYY-MM-DD` (00:00 UTC) or an RFC 3339 timestamp into ms since the epoch.
fn parse_time(s: &str) -> anyhow::Result<i64> {
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    let seconds = if let Ok(d) = time::Date::parse(s, date_format) {
        d.midnight().assume_utc().unix_timestamp()
    } else {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))?
            .unix_timestamp()
    };
    Ok(seconds * 1000)
}

fn parse_activity(s: &str) -> anyhow::Result<Activity> {
    Activity::parse(s)
        .with_context(|| format!("`{s}` is not a LULUCF activity (AR, D, FM, CM, GM, RV, WDR)"))
}

fn transaction(command: Command) -> anyhow::Result<(TxOpts, Kind)> {
    Ok(match command {
        Command::Issue {
            tx,
            party,
            unit,
            period,
            amount,
            to,
            activity,
        } => {
            let kind = Kind::IssueUnits(pb::IssueUnits {
                party: check_party(&party)?,
                unit_type: parse_unit(&unit)? as i32,
                period,
                amount,
                to_account: to
                    .as_deref()
                    .map(check_account)
                    .transpose()?
                    .unwrap_or_default(),
                activity: activity
                    .as_deref()
                    .map(parse_activity)
                    .transpose()?
                    .map_or(0, |a| a as i32),
            });
            (tx, kind)
        }
        Command::OpenAccount {
            tx,
            party,
            holder_name,
            holder_key,
            holder_public_key,
        } => {
            let key = match (holder_key, holder_public_key) {
                (Some(path), _) => read_key(&path)?.verifying_key().to_bytes().to_vec(),
                (None, Some(h)) => {
                    hex::decode(&h).with_context(|| format!("`{h}` is not a hex public key"))?
                }
                (None, None) => bail!("give --holder-key FILE or --holder-public-key HEX"),
            };
            (
                tx,
                Kind::OpenAccount(pb::OpenAccount {
                    party: check_party(&party)?,
                    holder_name,
                    holder_key: key,
                }),
            )
        }
        Command::Transfer {
            tx,
            from,
            to,
            units,
            amount,
        } => {
            let kind = Kind::TransferUnits(pb::TransferUnits {
                from_account: check_account(&from)?,
                to_account: check_account(&to)?,
                amount,
                units: Some(units.filter()?),
            });
            (tx, kind)
        }
        Command::ReportInventory {
            tx,
            party,
            year,
            emissions,
            removals,
        } => {
            let mut list = Vec::new();
            for r in &removals {
                let (a, n) = r
                    .split_once('=')
                    .with_context(|| format!("`{r}` is not ACTIVITY=AMOUNT"))?;
                let amount = n
                    .parse()
                    .with_context(|| format!("`{n}` is not an amount"))?;
                list.push(pb::ActivityAmount {
                    activity: parse_activity(a)? as i32,
                    amount,
                });
            }
            (
                tx,
                Kind::ReportInventory(pb::ReportInventory {
                    party: check_party(&party)?,
                    year,
                    emissions,
                    removals: list,
                }),
            )
        }
        Command::ApproveJi {
            tx,
            project,
            host,
            acquirer,
        } => {
            let kind = Kind::ApproveJiProject(pb::ApproveJiProject {
                project,
                host: check_party(&host)?,
                acquirer: check_party(&acquirer)?,
            });
            (tx, kind)
        }
        Command::ConvertToEru {
            tx,
            project,
            from,
            unit,
            period,
            amount,
        } => {
            let units = pb::UnitFilter {
                unit_type: parse_unit(&unit)? as i32,
                period,
                ..Default::default()
            };
            let kind = Kind::ConvertToEru(pb::ConvertToEru {
                project,
                from_account: check_account(&from)?,
                amount,
                units: Some(units),
            });
            (tx, kind)
        }
        Command::RegisterCdmProject {
            tx,
            project,
            host,
            participants,
        } => {
            let participants = participants
                .iter()
                .map(|p| check_account(p))
                .collect::<anyhow::Result<_>>()?;
            (
                tx,
                Kind::RegisterCdmProject(pb::RegisterCdmProject {
                    project,
                    host: check_party(&host)?,
                    participants,
                }),
            )
        }
        Command::IssueCers {
            tx,
            project,
            unit,
            period,
            amount,
            expires,
        } => {
            let expiry_ms = expires.as_deref().map(parse_time).transpose()?.unwrap_or(0);
            let kind = Kind::IssueCers(pb::IssueCers {
                project,
                unit_type: parse_unit(&unit)? as i32,
                period,
                amount,
                expiry_ms,
            });
            (tx, kind)
        }
        Command::ForwardCers {
            tx,
            project,
            to,
            unit,
            period,
            amount,
        } => {
            let units = pb::UnitFilter {
                unit_type: parse_unit(&unit)? as i32,
                period,
                project,
                ..Default::default()
            };
            let kind = Kind::TransferUnits(pb::TransferUnits {
                from_account: "CDM-500-1".into(),
                to_account: check_account(&to)?,
                amount,
                units: Some(units),
            });
            (tx, kind)
        }
        Command::Cancel {
            tx,
            from,
            kind,
            units,
            amount,
        } => {
            let kind = match kind {
                CancelKind::Voluntary => pb::CancellationKind::Voluntary,
                CancelKind::NetSource => pb::CancellationKind::NetSource,
                CancelKind::NonCompliance => pb::CancellationKind::NonCompliance,
                CancelKind::ExcessIssuance => pb::CancellationKind::ExcessIssuance,
            };
            let kind = Kind::CancelUnits(pb::CancelUnits {
                from_account: check_account(&from)?,
                kind: kind as i32,
                amount,
                units: Some(units.filter()?),
            });
            (tx, kind)
        }
        Command::Retire {
            tx,
            from,
            units,
            amount,
        } => (
            tx,
            Kind::RetireUnits(pb::RetireUnits {
                from_account: check_account(&from)?,
                amount,
                units: Some(units.filter()?),
            }),
        ),
        Command::CarryOver {
            tx,
            from,
            units,
            amount,
        } => (
            tx,
            Kind::CarryOver(pb::CarryOver {
                from_account: check_account(&from)?,
                amount,
                units: Some(units.filter()?),
            }),
        ),
        Command::Replace {
            tx,
            party,
            expiring_origin,
            expiring_start,
            expiring_end,
            from,
            units,
        } => {
            let kind = Kind::ReplaceUnits(pb::ReplaceUnits {
                party: check_party(&party)?,
                expiring: Some(pb::SerialRange {
                    origin: check_party(&expiring_origin)?,
                    start: expiring_start,
                    end: expiring_end,
                }),
                from_account: check_account(&from)?,
                units: Some(units.filter()?),
            });
            (tx, kind)
        }
        Command::ChangeExpiry {
            tx,
            origin,
            start,
            end,
            expires,
        } => {
            let kind = Kind::ChangeExpiry(pb::ChangeExpiry {
                range: Some(pb::SerialRange {
                    origin: check_party(&origin)?,
                    start,
                    end,
                }),
                expiry_ms: parse_time(&expires)?,
            });
            (tx, kind)
        }
        Command::Gov(GovCommand::Propose {
            tx,
            proposer,
            title,
            change,
        }) => {
            let change = match change {
                ChangeCommand::ProtocolAmendment { text } => {
                    Change::ProtocolAmendmentTextHash(text_hash(&text)?)
                }
                ChangeCommand::AnnexB {
                    party,
                    period,
                    assigned_amount,
                } => Change::AnnexB(pb::AnnexBChange {
                    party: check_party(&party)?,
                    period,
                    assigned_amount,
                }),
                ChangeCommand::Annex { annex, text } => Change::Annex(pb::AnnexChange {
                    annex,
                    text_hash: text_hash(&text)?,
                }),
                ChangeCommand::AddValidator {
                    name,
                    party,
                    public_key,
                } => Change::AddValidator(pb::ValidatorChange {
                    name,
                    party: check_party(&party)?,
                    public_key: hex_key(&public_key)?,
                }),
                ChangeCommand::RemoveValidator { public_key } => {
                    Change::RemoveValidator(hex_key(&public_key)?)
                }
                ChangeCommand::Eligibility {
                    party,
                    art6,
                    art12,
                    art17,
                } => Change::Eligibility(pb::EligibilityChange {
                    party: check_party(&party)?,
                    art6,
                    art12,
                    art17,
                }),
                ChangeCommand::Parameter { name, value } => {
                    Change::Parameter(pb::ParameterChange { name, value })
                }
            };
            (
                tx,
                Kind::Propose(pb::Propose {
                    proposer: check_party(&proposer)?,
                    title,
                    change: Some(change),
                }),
            )
        }
        Command::Gov(GovCommand::Consent { tx, proposal }) => {
            (tx, Kind::Consent(pb::Consent { proposal }))
        }
        Command::Gov(GovCommand::Vote {
            tx,
            proposal,
            party,
            choice,
        }) => {
            let choice = match choice {
                VoteArg::Yes => pb::VoteChoice::Yes,
                VoteArg::No => pb::VoteChoice::No,
                VoteArg::Abstain => pb::VoteChoice::Abstain,
            } as i32;
            (
                tx,
                Kind::Vote(pb::Vote {
                    proposal,
                    voter: check_party(&party)?,
                    choice,
                }),
            )
        }
        Command::Gov(GovCommand::Accept {
            tx,
            proposal,
            party,
        }) => (
            tx,
            Kind::Accept(pb::Accept {
                proposal,
                party: check_party(&party)?,
            }),
        ),
        Command::Gov(GovCommand::NonAcceptance {
            tx,
            proposal,
            party,
        }) => (
            tx,
            Kind::NotifyNonAcceptance(pb::NotifyNonAcceptance {
                proposal,
                party: check_party(&party)?,
            }),
        ),
        Command::Deposit {
            tx,
            party,
            name,
            annex_i,
            authority_key,
        } => {
            let authority_key = match authority_key {
                Some(path) => read_key(&path)?.verifying_key().to_bytes().to_vec(),
                None => Vec::new(),
            };
            let kind = Kind::DepositInstrument(pb::DepositInstrument {
                party: check_party(&party)?,
                name: name.unwrap_or_default(),
                annex_i,
                authority_key,
            });
            (tx, kind)
        }
        Command::Withdraw {
            tx,
            party,
            effective,
        } => {
            let effective_ms = effective
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or(0);
            (
                tx,
                Kind::Withdraw(pb::Withdraw {
                    party: check_party(&party)?,
                    effective_ms,
                }),
            )
        }
        _ => bail!("not a transaction command"),
    })
}

/// SHA-256 of a text file (the amendment's text; the ledger records its hash).
fn text_hash(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(crypto::sha256(&text).to_vec())
}

fn hex_key(h: &str) -> anyhow::Result<Vec<u8>> {
    let key = hex::decode(h).with_context(|| format!("`{h}` is not a hex public key"))?;
    if key.len() != 32 {
        bail!("`{h}` is not a 32-byte public key");
    }
    Ok(key)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output::new(cli.output);
    if let Command::Keys(k) = &cli.command {
        return match k {
            KeysCommand::Generate { out: path } => {
                let key = crypto::generate_key();
                crypto::write_key_file(path, &key)?;
                out.key(path, &key)
            }
            KeysCommand::Show { file } => out.key(file, &read_key(file)?),
        };
    }
    let mut client = connect(&cli.node).await?;
    match cli.command {
        Command::Account { id } => {
            let resp = client
                .get_account(pb::GetAccountRequest { account_id: id })
                .await
                .map_err(from_status)?;
            out.account(&resp.into_inner())
        }
        Command::History { id, limit } => {
            let req = pb::GetAccountHistoryRequest {
                account_id: id,
                limit,
            };
            let resp = client.get_account_history(req).await.map_err(from_status)?;
            out.history(&resp.into_inner())
        }
        Command::Party { code } => {
            let resp = client
                .get_party(pb::GetPartyRequest { code })
                .await
                .map_err(from_status)?;
            out.party(&resp.into_inner())
        }
        Command::Compliance { code, period } => {
            let resp = client
                .get_compliance(pb::GetComplianceRequest {
                    party: code,
                    period,
                })
                .await
                .map_err(from_status)?;
            out.compliance(&resp.into_inner())
        }
        Command::Project { id } => {
            let resp = client
                .get_project(pb::GetProjectRequest { project: id })
                .await
                .map_err(from_status)?;
            out.project(&resp.into_inner())
        }
        Command::Tx { hash } => {
            let tx_hash = hex::decode(&hash)
                .with_context(|| format!("`{hash}` is not a hex transaction hash"))?;
            let resp = client
                .get_transaction(pb::GetTransactionRequest { tx_hash })
                .await
                .map_err(from_status)?;
            out.transaction(&resp.into_inner())
        }
        Command::Block { height } => {
            let resp = client
                .get_block(pb::GetBlockRequest { height })
                .await
                .map_err(from_status)?;
            out.block(&resp.into_inner())
        }
        Command::Status => {
            let resp = client
                .get_status(pb::GetStatusRequest {})
                .await
                .map_err(from_status)?;
            out.status(&resp.into_inner())
        }
        Command::Dev(DevCommand::AdvanceTime { to }) => {
            let to_ms = parse_time(&to)?;
            let resp = client
                .dev_advance_time(pb::DevAdvanceTimeRequest { to_ms })
                .await
                .map_err(from_status)?;
            out.status(&resp.into_inner())
        }
        Command::Gov(GovCommand::Show { id }) => {
            let resp = client
                .get_proposal(pb::GetProposalRequest { id })
                .await
                .map_err(from_status)?;
            out.proposal(&resp.into_inner())
        }
        Command::Gov(GovCommand::List) => {
            let resp = client
                .list_proposals(pb::ListProposalsRequest {})
                .await
                .map_err(from_status)?;
            out.proposals(&resp.into_inner())
        }
        Command::Gov(GovCommand::Validators) => {
            let resp = client
                .list_validators(pb::ListValidatorsRequest {})
                .await
                .map_err(from_status)?;
            out.validators(&resp.into_inner())
        }
        command => {
            let (opts, kind) = transaction(command)?;
            send(&mut client, &opts, kind, &out).await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kyoto: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<Refused>() {
                Some(r) => eprintln!("kyoto: {r}"),
                None => eprintln!("kyoto: error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
