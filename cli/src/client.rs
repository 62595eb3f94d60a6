//! Talking to the node: connect, sign and submit, wait for the receipt, and turn gRPC
//! refusals into [`Refused`] errors that carry the stable code.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use ed25519_dalek::SigningKey;
use kyoto_client::crypto;
use kyoto_client::{AccountId, PartyCode, UnitType};
use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient, transaction_body::Kind};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_types::StatusExt;

use crate::args::TxOpts;
use crate::exit::{Failure, Refused};
use crate::output::Output;

/// Converts a gRPC error into a refusal when it carries a refusal code.
pub fn from_status(status: tonic::Status) -> anyhow::Error {
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
            not_found: status.code() == tonic::Code::NotFound,
            printed: false,
        }
        .into();
    }
    let message = format!(
        "the node answered {:?}: {}",
        status.code(),
        status.message()
    );
    match status.code() {
        tonic::Code::NotFound => Failure::NotFound(message),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => Failure::Unreachable(message),
        tonic::Code::InvalidArgument | tonic::Code::OutOfRange => {
            return anyhow::Error::msg(message);
        }
        _ => Failure::Node(message),
    }
    .into()
}

pub fn parse_unit(s: &str) -> anyhow::Result<UnitType> {
    UnitType::parse(s).with_context(|| {
        format!("`{s}` is not a unit type (AAU, RMU, ERU-AAU, ERU-RMU, CER, tCER, lCER)")
    })
}

pub fn check_party(s: &str) -> anyhow::Result<String> {
    PartyCode::parse(s).map_err(anyhow::Error::msg)?;
    Ok(s.to_owned())
}

pub fn check_account(s: &str) -> anyhow::Result<String> {
    AccountId::parse(s).map_err(anyhow::Error::msg)?;
    Ok(s.to_owned())
}

/// TLS for `https://` node URLs: the CA to check the node's certificate against (the
/// system's roots when none), and a client certificate for a node that asks for one.
#[derive(Default)]
pub struct TlsFiles<'a> {
    pub ca_cert: Option<&'a Path>,
    pub client_cert: Option<&'a Path>,
    pub client_key: Option<&'a Path>,
}

fn read_pem(path: &Path, flag: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{flag}: cannot read {}", path.display()))
}

impl TlsFiles<'_> {
    fn config(&self, url: &str) -> anyhow::Result<Option<ClientTlsConfig>> {
        let given = self.ca_cert.is_some() || self.client_cert.is_some();
        if !url.starts_with("https://") {
            if given {
                anyhow::bail!(
                    "--ca-cert and --client-cert are for a node served over TLS: give its https:// URL, not {url}"
                );
            }
            return Ok(None);
        }
        let mut config = match self.ca_cert {
            Some(ca) => ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(read_pem(ca, "--ca-cert")?)),
            None => ClientTlsConfig::new().with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (self.client_cert, self.client_key) {
            config = config.identity(Identity::from_pem(
                read_pem(cert, "--client-cert")?,
                read_pem(key, "--client-key")?,
            ));
        }
        Ok(Some(config))
    }
}

/// An error with its causes, as one line (a TLS failure is named only in its causes).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

pub async fn connect(url: &str, tls: &TlsFiles<'_>) -> anyhow::Result<LedgerClient<Channel>> {
    let mut endpoint = Channel::from_shared(url.to_owned())
        .with_context(|| format!("`{url}` is not a valid node URL"))?
        .connect_timeout(Duration::from_secs(5));
    if let Some(config) = tls.config(url)? {
        endpoint = endpoint
            .tls_config(config)
            .map_err(|e| anyhow::anyhow!("TLS for {url}: {}", with_causes(&e)))?;
    }
    let channel = endpoint.connect().await.map_err(|e| {
        let why = with_causes(&e);
        let hint = if why.contains("certificate") {
            "its TLS certificate is not one this client trusts (--ca-cert)"
        } else {
            "is kyotod running?"
        };
        Failure::Unreachable(format!("cannot reach the node at {url} ({hint}): {why}"))
    })?;
    // Blocks may be large (up to 4,000 transactions of 16 KiB).
    Ok(LedgerClient::new(channel).max_decoding_message_size(64 * 1024 * 1024))
}

/// Reads a key file; an encrypted one's passphrase comes from KYOTO_KEY_PASSPHRASE,
/// or is asked for at the terminal.
pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    Ok(crypto::read_key_file_with(path, || {
        std::env::var(crypto::PASSPHRASE_ENV).ok().or_else(|| {
            rpassword::prompt_password(format!("passphrase for {}: ", path.display())).ok()
        })
    })?)
}

/// The passphrase for a new encrypted key file: KYOTO_KEY_PASSPHRASE, or typed twice
/// at the terminal. Empty passphrases are refused.
pub fn new_passphrase(path: &Path) -> anyhow::Result<String> {
    let passphrase = match std::env::var(crypto::PASSPHRASE_ENV) {
        Ok(p) => p,
        Err(_) => {
            let ask = |prompt: String| {
                rpassword::prompt_password(prompt).with_context(|| {
                    format!(
                        "no terminal to ask for the passphrase at; set {}",
                        crypto::PASSPHRASE_ENV
                    )
                })
            };
            let first = ask(format!("passphrase for {}: ", path.display()))?;
            if ask("the same passphrase again: ".into())? != first {
                anyhow::bail!("the two passphrases differ; nothing was written");
            }
            first
        }
    };
    if passphrase.is_empty() {
        anyhow::bail!("an empty passphrase protects nothing; nothing was written");
    }
    Ok(passphrase)
}

pub async fn send(
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
        // The node takes 0 as the next nonce of the committed state.
        None if opts.dry_run => 0,
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
    let bytes = kyoto_client::sign_transaction(&key, &body);
    if opts.dry_run {
        return dry_run(client, bytes, out).await;
    }
    let resp = client
        .submit_transaction(pb::SubmitTransactionRequest { transaction: bytes })
        .await
        .map_err(from_status)?
        .into_inner();
    if opts.no_wait {
        return out.submitted(&resp);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(opts.wait_secs);
    let mut told = false;
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
                    not_found: false,
                    printed: out.is_json(),
                }
                .into());
            }
            return Ok(());
        }
        if !told && started.elapsed() >= Duration::from_secs(1) {
            // Progress on stderr, so that stdout stays one document.
            told = true;
            let status = pb::TransactionStatus::try_from(tx.status)
                .map(|s| {
                    s.as_str_name()
                        .trim_start_matches("TRANSACTION_STATUS_")
                        .to_lowercase()
                })
                .unwrap_or_default();
            eprintln!(
                "kyoto: waiting for transaction {} to be committed in a block (now {status}; up to {} s, --wait-secs)",
                hex::encode(&resp.tx_hash),
                opts.wait_secs
            );
        }
        if Instant::now() >= deadline {
            return Err(Failure::Node(format!(
                "transaction {} was accepted but not committed within {} s; check later with `kyoto tx {}`",
                hex::encode(&resp.tx_hash),
                opts.wait_secs,
                hex::encode(&resp.tx_hash)
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asks the node what a signed transaction would do, and prints it; a refusal it
/// would get ends the command as a refusal (exit status 1), as if it had been sent.
async fn dry_run(
    client: &mut LedgerClient<Channel>,
    transaction: Vec<u8>,
    out: &Output,
) -> anyhow::Result<()> {
    let resp = client
        .simulate_transaction(pb::SimulateTransactionRequest { transaction })
        .await
        .map_err(from_status)?
        .into_inner();
    out.simulated(&resp)?;
    match resp.receipt.and_then(|r| r.outcome) {
        Some(pb::receipt::Outcome::Refused(r)) => Err(Refused {
            code: r.code,
            message: r.message,
            not_found: false,
            printed: out.is_json(),
        }
        .into()),
        _ => Ok(()),
    }
}

/// `gov consent --party P`: the proposal must be an Annex B amendment concerning P.
pub async fn check_consenting_party(
    client: &mut LedgerClient<Channel>,
    proposal: u64,
    party: &str,
) -> anyhow::Result<()> {
    check_party(party)?;
    let view = client
        .get_proposal(pb::GetProposalRequest { id: proposal })
        .await
        .map_err(from_status)?
        .into_inner();
    if view.party_concerned == party {
        return Ok(());
    }
    let message = if view.party_concerned.is_empty() {
        format!(
            "proposal {proposal} is a {}, not an Annex B amendment: it needs no consent (Art. 21.7)",
            view.class.replace('_', " ")
        )
    } else {
        format!(
            "proposal {proposal} concerns {}, not {party}: only the Party concerned consents (Art. 21.7)",
            view.party_concerned
        )
    };
    Err(Refused {
        code: "NOT_THE_PARTY_CONCERNED".into(),
        message,
        not_found: false,
        printed: false,
    }
    .into())
}

/// The transactions that changed an account, a page at a time: `limit` entries after
/// the `after` token (from the newest when `None`).
pub async fn history(
    client: &mut LedgerClient<Channel>,
    account_id: String,
    limit: u32,
    after: Option<String>,
) -> anyhow::Result<pb::GetAccountHistoryResponse> {
    let req = pb::GetAccountHistoryRequest {
        account_id,
        limit,
        page_token: after.unwrap_or_default(),
    };
    Ok(client
        .get_account_history(req)
        .await
        .map_err(from_status)?
        .into_inner())
}
