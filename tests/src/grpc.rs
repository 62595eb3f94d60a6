//! What the gRPC tests share: a transfer body, submitting with the refusal's code, and
//! waiting for a commit.

use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient, transaction_body::Kind};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

/// A transfer of `amount` AAUs of period 1 from `from` to `to`.
pub fn transfer(chain: &str, nonce: u64, from: &str, to: &str, amount: u64) -> pb::TransactionBody {
    pb::TransactionBody {
        chain_id: chain.into(),
        nonce,
        kind: Some(Kind::TransferUnits(pb::TransferUnits {
            from_account: from.into(),
            to_account: to.into(),
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

/// Submits one signed transaction: its hash, or the gRPC code and refusal code.
pub async fn submit(
    client: &mut LedgerClient<Channel>,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, (Code, String)> {
    match client
        .submit_transaction(pb::SubmitTransactionRequest { transaction: bytes })
        .await
    {
        Ok(r) => Ok(r.into_inner().tx_hash),
        Err(status) => {
            let reason = status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone())
                .unwrap_or_default();
            Err((status.code(), reason))
        }
    }
}

/// Waits (up to 30 s) until the transaction is committed; panics otherwise.
pub async fn wait_committed(
    client: &mut LedgerClient<Channel>,
    hash: &[u8],
) -> pb::GetTransactionResponse {
    for _ in 0..600 {
        let r = client
            .get_transaction(pb::GetTransactionRequest {
                tx_hash: hash.to_vec(),
            })
            .await
            .expect("GetTransaction answers")
            .into_inner();
        if r.status == pb::TransactionStatus::Committed as i32 {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("transaction not committed within 30 s");
}
