//! `kyoto`: the Kyoto Ledger command-line client. Keys, signed transactions
//! (issuance, accounts, transfers, the Kyoto mechanisms, compliance) and queries, over
//! the node's gRPC API.

mod args;
mod backup;
mod client;
mod exit;
mod lists;
mod output;
mod transactions;

use std::process::ExitCode;

use anyhow::Context;
use std::io::Write;

use clap::{CommandFactory, Parser};
use kyoto_client::crypto;
use kyoto_proto::v1 as pb;

use args::{Cli, Command, DevCommand, GovCommand, KeysCommand};
use client::{connect, from_status, read_key, send};
use output::Output;
use transactions::{parse_time, transaction};

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    std::io::stdout().lock().write_all(bytes)?;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output::new(cli.output);
    if let Command::Keys(k) = &cli.command {
        return match k {
            KeysCommand::Generate { out: path, encrypt } => {
                let key = crypto::generate_key();
                if *encrypt {
                    let passphrase = client::new_passphrase(path)?;
                    crypto::write_encrypted_key_file(path, &key, &passphrase)?;
                } else {
                    crypto::write_key_file(path, &key)?;
                }
                out.key(path, &key)
            }
            KeysCommand::Show { file } => out.key(file, &read_key(file)?),
        };
    }
    match &cli.command {
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "kyoto", &mut script);
            return write_stdout(&script);
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            return write_stdout(&page);
        }
        _ => {}
    }
    let tls = client::TlsFiles {
        ca_cert: cli.ca_cert.as_deref(),
        client_cert: cli.client_cert.as_deref(),
        client_key: cli.client_key.as_deref(),
    };
    let mut client = connect(&cli.node, &tls).await?;
    match cli.command {
        Command::Account { id } => {
            let resp = client
                .get_account(pb::GetAccountRequest { account_id: id })
                .await
                .map_err(from_status)?;
            out.account(&resp.into_inner())
        }
        Command::History { id, limit, after } => {
            let resp = client::history(&mut client, id, limit, after).await?;
            out.history(&resp)
        }
        Command::Parties { page } => out.parties(&lists::parties(&mut client, &page).await?),
        Command::Projects { page } => out.projects(&lists::projects(&mut client, &page).await?),
        Command::Accounts {
            party,
            holder,
            page,
        } => {
            let party = party.as_deref().map(client::check_party).transpose()?;
            let holder_key = match holder {
                Some(h) => holder_public_key(&h)?,
                None => Vec::new(),
            };
            let resp =
                lists::accounts(&mut client, party.unwrap_or_default(), holder_key, &page).await?;
            out.accounts(&resp)
        }
        Command::Backup { out: path } => {
            let (header, bytes) = backup::backup(&mut client, &path).await?;
            out.backed_up(&path, &header, bytes)
        }
        Command::Watch {
            account,
            party,
            from_height,
            count,
        } => {
            let account = account.as_deref().map(client::check_account).transpose()?;
            let party = party.as_deref().map(client::check_party).transpose()?;
            let touches = |a: &str| match (&account, &party) {
                (Some(id), _) => a == id,
                (None, Some(code)) => {
                    kyoto_client::AccountId::parse(a).is_ok_and(|id| id.party.to_string() == *code)
                }
                (None, None) => false,
            };
            let req = pb::StreamBlocksRequest {
                from_height: from_height.unwrap_or(0),
            };
            let mut blocks = client
                .stream_blocks(req)
                .await
                .map_err(from_status)?
                .into_inner();
            let mut seen = 0u64;
            while let Some(block) = blocks.message().await.map_err(from_status)? {
                for receipt in &block.receipts {
                    let Some(pb::receipt::Outcome::Applied(a)) = &receipt.outcome else {
                        continue;
                    };
                    if !a.accounts.iter().any(|x| touches(x)) {
                        continue;
                    }
                    out.watched(&block, receipt)?;
                    seen += 1;
                    if count.is_some_and(|n| seen >= n) {
                        return Ok(());
                    }
                }
            }
            Err(exit::Failure::Unreachable("the node closed the block stream".into()).into())
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
                .map_err(from_status)?
                .into_inner();
            if resp.status == pb::TransactionStatus::Unknown as i32 {
                return Err(exit::Failure::NotFound(format!(
                    "no transaction {hash} is pending or committed on this node"
                ))
                .into());
            }
            out.transaction(&resp)?;
            // A committed transaction that its block refused ends as a refusal (status 1).
            match resp.receipt.and_then(|r| r.outcome) {
                Some(pb::receipt::Outcome::Refused(r)) => Err(exit::Refused {
                    code: r.code,
                    message: r.message,
                    not_found: false,
                    printed: out.is_json(),
                }
                .into()),
                _ => Ok(()),
            }
        }
        Command::Block { height } => {
            let resp = client
                .get_block(pb::GetBlockRequest {
                    height,
                    ..Default::default()
                })
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
        Command::Gov(GovCommand::List) | Command::Proposals => {
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
            if let Command::Gov(GovCommand::Consent {
                proposal,
                party: Some(party),
                ..
            }) = &command
            {
                client::check_consenting_party(&mut client, *proposal, party).await?;
            }
            let (opts, kind) = transaction(command)?;
            send(&mut client, &opts, kind, &out).await
        }
    }
}

/// `--holder`: a public key in hex, or a key file whose public half is taken.
fn holder_public_key(holder: &str) -> anyhow::Result<Vec<u8>> {
    if let Ok(bytes) = hex::decode(holder)
        && bytes.len() == 32
    {
        return Ok(bytes);
    }
    let path = std::path::Path::new(holder);
    if !path.exists() {
        anyhow::bail!("`{holder}` is neither a public key (64 hex digits) nor a key file");
    }
    Ok(read_key(path)?.verifying_key().to_bytes().to_vec())
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
    let json = cli.output == args::Format::Json;
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e, json),
    }
}
