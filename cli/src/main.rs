//! `kyoto`: the Kyoto Ledger command-line client. Keys, signed transactions
//! (issuance, accounts, transfers) and queries, over the node's gRPC API.

mod output;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use ed25519_dalek::SigningKey;
use kyoto_node::crypto;
use kyoto_node::ledger::{AccountId, PartyCode, UnitType};
use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient, transaction_body::Kind};
use tonic::transport::Channel;
use tonic_types::StatusExt;

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
    about = "Kyoto Ledger client: keys, transfers, queries"
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or inspect Ed25519 keys (PKCS#8 PEM files).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Issue units (a Party's registry authority; AAUs up to the assigned amount, Art. 3.7).
    Issue {
        #[command(flatten)]
        tx: TxOpts,
        /// Issuing Party, e.g. JPN.
        #[arg(long)]
        party: String,
        /// Unit type: AAU, RMU, ERU-AAU, ERU-RMU, CER, tCER, lCER.
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
        /// Unit type: AAU, RMU, ERU-AAU, ERU-RMU, CER, tCER, lCER.
        #[arg(long, default_value = "AAU")]
        unit: String,
        /// Applicable commitment period.
        #[arg(long, default_value_t = 1)]
        period: u32,
        /// Only units originating in this Party.
        #[arg(long)]
        origin: Option<String>,
        #[arg(long)]
        amount: u64,
    },
    /// Show an account: holdings by type and period, serial blocks.
    Account { id: String },
    /// Show a Party: treaty data and its Art. 3.10/3.11 accounting.
    Party { code: String },
    /// Show a transaction's status and receipt.
    Tx { hash: String },
    /// Show a committed block.
    Block { height: u64 },
    /// Show the node's status.
    Status,
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

#[derive(Debug, ClapArgs)]
struct TxOpts {
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

/// A refusal reported by the node or the ledger: exit status 1 with its code.
#[derive(Debug)]
struct Refused {
    code: String,
    message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}: {}", self.code, self.message)
    }
}

impl std::error::Error for Refused {}

/// Converts a gRPC error into a refusal when it carries a refusal code.
fn from_status(status: tonic::Status) -> anyhow::Error {
    if let Some(info) = status.get_error_details().error_info() {
        let prefix = format!("{}: ", info.reason);
        let message = status
            .message()
            .strip_prefix(&prefix)
            .unwrap_or(status.message())
            .to_owned();
        return Refused {
            code: info.reason.clone(),
            message,
        }
        .into();
    }
    anyhow::anyhow!(
        "the node answered {:?}: {}",
        status.code(),
        status.message()
    )
}

fn parse_unit(s: &str) -> anyhow::Result<UnitType> {
    UnitType::parse(s).with_context(|| {
        format!("`{s}` is not a unit type (AAU, RMU, ERU-AAU, ERU-RMU, CER, tCER, lCER)")
    })
}

fn check_party(s: &str) -> anyhow::Result<String> {
    PartyCode::parse(s).map_err(anyhow::Error::msg)?;
    Ok(s.to_owned())
}

fn check_account(s: &str) -> anyhow::Result<String> {
    AccountId::parse(s).map_err(anyhow::Error::msg)?;
    Ok(s.to_owned())
}

async fn connect(url: &str) -> anyhow::Result<LedgerClient<Channel>> {
    let endpoint = Channel::from_shared(url.to_owned())
        .with_context(|| format!("`{url}` is not a valid node URL"))?
        .connect_timeout(Duration::from_secs(5));
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach the node at {url} (is kyotod running?)"))?;
    Ok(LedgerClient::new(channel))
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    Ok(crypto::read_key_file(path)?)
}

async fn send(
    client: &mut LedgerClient<Channel>,
    opts: &TxOpts,
    kind: Kind,
    out: &Output,
) -> anyhow::Result<()> {
    let key = read_key(&opts.key)?;
    let status = client
        .get_status(pb::GetStatusRequest {})
        .await
        .map_err(from_status)?
        .into_inner();
    let nonce = match opts.nonce {
        Some(n) => n,
        None => {
            let req = pb::GetNonceRequest {
                public_key: key.verifying_key().to_bytes().to_vec(),
            };
            client
                .get_nonce(req)
                .await
                .map_err(from_status)?
                .into_inner()
                .next_nonce
        }
    };
    let body = pb::TransactionBody {
        chain_id: status.chain_id,
        nonce,
        kind: Some(kind),
    };
    let bytes = kyoto_node::tx::sign_transaction(&key, &body);
    let resp = client
        .submit_transaction(pb::SubmitTransactionRequest { transaction: bytes })
        .await
        .map_err(from_status)?
        .into_inner();
    if opts.no_wait {
        return out.submitted(&resp);
    }
    let deadline = Instant::now() + Duration::from_secs(opts.wait_secs);
    loop {
        let req = pb::GetTransactionRequest {
            tx_hash: resp.tx_hash.clone(),
        };
        let tx = client
            .get_transaction(req)
            .await
            .map_err(from_status)?
            .into_inner();
        if tx.status == pb::TransactionStatus::Committed as i32 {
            out.transaction(&tx)?;
            if let Some(pb::receipt::Outcome::Refused(r)) = tx.receipt.and_then(|r| r.outcome) {
                return Err(Refused {
                    code: r.code,
                    message: r.message,
                }
                .into());
            }
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "transaction {} was accepted but not committed within {} s; check later with `kyoto tx {}`",
                hex::encode(&resp.tx_hash),
                opts.wait_secs,
                hex::encode(&resp.tx_hash)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
        Command::Keys(_) => Ok(()),
        Command::Issue {
            tx,
            party,
            unit,
            period,
            amount,
            to,
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
            });
            send(&mut client, &tx, kind, &out).await
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
            let kind = Kind::OpenAccount(pb::OpenAccount {
                party: check_party(&party)?,
                holder_name,
                holder_key: key,
            });
            send(&mut client, &tx, kind, &out).await
        }
        Command::Transfer {
            tx,
            from,
            to,
            unit,
            period,
            origin,
            amount,
        } => {
            let kind = Kind::TransferUnits(pb::TransferUnits {
                from_account: check_account(&from)?,
                to_account: check_account(&to)?,
                amount,
                units: Some(pb::UnitFilter {
                    unit_type: parse_unit(&unit)? as i32,
                    period,
                    origin: origin
                        .as_deref()
                        .map(check_party)
                        .transpose()?
                        .unwrap_or_default(),
                }),
            });
            send(&mut client, &tx, kind, &out).await
        }
        Command::Account { id } => {
            let resp = client
                .get_account(pb::GetAccountRequest { account_id: id })
                .await
                .map_err(from_status)?;
            out.account(&resp.into_inner())
        }
        Command::Party { code } => {
            let resp = client
                .get_party(pb::GetPartyRequest { code })
                .await
                .map_err(from_status)?;
            out.party(&resp.into_inner())
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
