//! Shared fixtures of the benchmarks: a dev genesis with fixed keys and pre-signed
//! transfers between Party holding accounts.

use ed25519_dalek::SigningKey;
use kyoto_node::dev::dev_genesis_with_keys;
use kyoto_node::ledger::Genesis;
use kyoto_proto::v1::{self as pb, transaction_body::Kind};

/// The dev genesis with deterministic keys, each Party's key by code (Parties with
/// units only), and the validator's key.
pub fn fixture() -> (Genesis, Vec<(String, SigningKey)>, SigningKey) {
    let mut seed = 0u8;
    let (genesis, keys) = dev_genesis_with_keys(&mut |_| {
        seed = seed.wrapping_add(1);
        SigningKey::from_bytes(&[seed; 32])
    });
    let funded: Vec<String> = genesis.issuances.iter().map(|i| i.party.clone()).collect();
    let validator = keys
        .iter()
        .find(|(name, _)| name == "validator")
        .map(|(_, k)| k.clone())
        .unwrap_or_else(|| SigningKey::from_bytes(&[0; 32]));
    let keys = keys
        .into_iter()
        .filter(|(code, _)| funded.contains(code))
        .collect();
    (genesis, keys, validator)
}

/// A transfer of `amount` AAUs of period 1 between two Party holding accounts.
pub fn transfer_body(
    chain_id: &str,
    nonce: u64,
    from: &str,
    to: &str,
    amount: u64,
) -> pb::TransactionBody {
    transfer_between(
        chain_id,
        nonce,
        &format!("{from}-100-1"),
        &format!("{to}-100-1"),
        amount,
    )
}

/// A transfer of `amount` AAUs of period 1 between two accounts.
pub fn transfer_between(
    chain_id: &str,
    nonce: u64,
    from_account: &str,
    to_account: &str,
    amount: u64,
) -> pb::TransactionBody {
    pb::TransactionBody {
        chain_id: chain_id.to_owned(),
        nonce,
        kind: Some(Kind::TransferUnits(pb::TransferUnits {
            from_account: from_account.to_owned(),
            to_account: to_account.to_owned(),
            amount,
            units: Some(pb::UnitFilter {
                unit_type: pb::UnitType::Aau as i32,
                period: 1,
                origin: String::new(),
                project: String::new(),
            }),
        })),
    }
}

/// `count` signed external transfers, round-robin over the signers, each signer's
/// nonces sequential from `first_nonce[i]`.
pub fn signed_transfers(
    chain_id: &str,
    keys: &[(String, SigningKey)],
    count: usize,
    first_nonce: &mut [u64],
) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let s = i % keys.len();
            let to = &keys[(s + 1) % keys.len()].0;
            let nonce = first_nonce[s];
            first_nonce[s] += 1;
            kyoto_node::tx::sign_transaction(
                &keys[s].1,
                &transfer_body(chain_id, nonce, &keys[s].0, to, 1 + (i as u64 % 7)),
            )
        })
        .collect()
}

/// Submits signed transaction bytes over gRPC, retrying while the node asks to wait
/// (`NONCE_TOO_HIGH`: earlier nonces not in yet; `MEMPOOL_FULL`; `OVERLOADED`: pushed
/// back, after 50 ms); returns the hash.
pub async fn submit_with_retry(
    client: &mut pb::ledger_client::LedgerClient<tonic::transport::Channel>,
    tx: &[u8],
) -> anyhow::Result<Vec<u8>> {
    submit_until_admitted(client, tx, &std::sync::atomic::AtomicU64::new(0)).await
}

/// How long a client waits before it sends a pushed-back (`OVERLOADED`) transaction again.
pub const PUSHED_BACK_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Like [`submit_with_retry`], counting each `OVERLOADED` answer in `pushed_back`.
pub async fn submit_until_admitted(
    client: &mut pb::ledger_client::LedgerClient<tonic::transport::Channel>,
    tx: &[u8],
    pushed_back: &std::sync::atomic::AtomicU64,
) -> anyhow::Result<Vec<u8>> {
    use tonic_types::StatusExt;
    loop {
        match client
            .submit_transaction(pb::SubmitTransactionRequest {
                transaction: tx.to_vec(),
            })
            .await
        {
            Ok(r) => return Ok(r.into_inner().tx_hash),
            Err(s) => {
                let code = s
                    .get_error_details()
                    .error_info()
                    .map(|i| i.reason.clone())
                    .unwrap_or_default();
                match code.as_str() {
                    "NONCE_TOO_HIGH" | "MEMPOOL_FULL" => {
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    }
                    "OVERLOADED" => {
                        pushed_back.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tokio::time::sleep(PUSHED_BACK_RETRY).await;
                    }
                    _ => anyhow::bail!("submission refused: {s:?}"),
                }
            }
        }
    }
}

/// A Party's registry opens an entity holding account for a trader's key.
pub fn open_account_body(
    chain_id: &str,
    nonce: u64,
    party: &str,
    holder_name: &str,
    holder: &SigningKey,
) -> pb::TransactionBody {
    pb::TransactionBody {
        chain_id: chain_id.to_owned(),
        nonce,
        kind: Some(Kind::OpenAccount(pb::OpenAccount {
            party: party.to_owned(),
            holder_name: holder_name.to_owned(),
            holder_key: holder.verifying_key().to_bytes().to_vec(),
        })),
    }
}

/// The key of a benchmark trader: deterministic, so a kept network can be reused.
pub fn trader_key(party: &str, k: usize) -> SigningKey {
    SigningKey::from_bytes(&kyoto_node::crypto::sha256(
        format!("kyoto-bench/trader/{party}/{k}").as_bytes(),
    ))
}

/// CPU time a process has used so far (user and system, all its threads), in ms, or
/// `None` once it has exited. Read from `/proc/<pid>/stat`, whose times are in ticks
/// of 1/100 s (Linux's `USER_HZ`, fixed at 100 for user space).
pub fn cpu_ms(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2, in parentheses) may hold spaces; the fields after
    // it do not: state is field 3, utime field 14 and stime field 15.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime.saturating_add(stime).saturating_mul(10))
}

/// A process's resident memory (`VmRSS`) in KiB, or `None` once it has exited.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
