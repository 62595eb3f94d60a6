//! Bad input through gRPC: each refused with its stable code, nothing written. Also
//! a transaction refused inside a block (it consumes its nonce, so the same bytes can
//! never succeed later), and the health and reflection services.

use ed25519_dalek::SigningKey;
use kyoto_node::crypto::read_key_file;
use kyoto_node::tx::{MAX_TX_BYTES, sign_transaction};
use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient, transaction_body::Kind};
use kyoto_tests::NodeProcess;
use kyoto_tests::grpc::{submit, transfer, wait_committed};
use prost::Message;
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

/// A transfer signed by `signer` but presented as `claimed`'s (its public key).
fn forged(signer: &SigningKey, claimed: &SigningKey, body: &pb::TransactionBody) -> Vec<u8> {
    let mut forged = pb::SignedTransaction::decode(sign_transaction(signer, body).as_slice())
        .expect("our own encoding");
    forged.public_key = claimed.verifying_key().to_bytes().to_vec();
    forged.encode_to_vec()
}

async fn account_total(client: &mut LedgerClient<Channel>, id: &str) -> u64 {
    client
        .get_account(pb::GetAccountRequest {
            account_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .total
}

async fn status(client: &mut LedgerClient<Channel>) -> pb::GetStatusResponse {
    client
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// A dev node of its own, a client connected to it, and its chain id.
struct Dev {
    _dir: tempfile::TempDir,
    node: NodeProcess,
    client: LedgerClient<Channel>,
    chain: String,
}

impl Dev {
    async fn start() -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
        let mut client = LedgerClient::connect(node.url.clone()).await.unwrap();
        let chain = status(&mut client).await.chain_id;
        Dev {
            _dir: dir,
            node,
            client,
            chain,
        }
    }

    /// A dev node, its client and chain id, and Japan's and Canada's registry keys.
    async fn japan_and_canada() -> (Dev, LedgerClient<Channel>, String, SigningKey, SigningKey) {
        let dev = Dev::start().await;
        let (jpn, can) = (dev.key("JPN"), dev.key("CAN"));
        let (client, chain) = (dev.client.clone(), dev.chain.clone());
        (dev, client, chain, jpn, can)
    }

    /// A Party's registry key from the dev keys.
    fn key(&self, code: &str) -> SigningKey {
        read_key_file(&self.node.data_dir.join(format!("dev-keys/{code}.key"))).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_its_code_and_writes_nothing() {
    let (_dev, mut client, chain, jpn, can) = Dev::japan_and_canada().await;

    // One good transaction, so that nonce 1 is used.
    let first = sign_transaction(&jpn, &transfer(&chain, 1, "JPN-100-1", "CAN-100-1", 7));
    let hash = submit(&mut client, first.clone()).await.unwrap();
    wait_committed(&mut client, &hash).await;
    let before = status(&mut client).await;

    // Malformed protobuf.
    assert_eq!(
        submit(&mut client, vec![0xff, 0xff, 0xff]).await,
        Err((Code::InvalidArgument, "MALFORMED".into()))
    );
    // A body that is not a TransactionBody.
    let signed = pb::SignedTransaction {
        body: vec![0x0a, 0xff],
        public_key: jpn.verifying_key().to_bytes().to_vec(),
        signature: kyoto_node::crypto::sign_tx(&jpn, &[0x0a, 0xff]).to_vec(),
    };
    assert_eq!(
        submit(&mut client, signed.encode_to_vec()).await,
        Err((Code::InvalidArgument, "MALFORMED".into()))
    );
    // Wrong signature: signed by Canada, presented as Japan's.
    let forgery = forged(
        &can,
        &jpn,
        &transfer(&chain, 2, "JPN-100-1", "CAN-100-1", 1),
    );
    assert_eq!(
        submit(&mut client, forgery).await,
        Err((Code::InvalidArgument, "BAD_SIGNATURE".into()))
    );
    // Wrong chain id.
    let other_chain = sign_transaction(
        &jpn,
        &transfer("another-chain", 2, "JPN-100-1", "CAN-100-1", 1),
    );
    assert_eq!(
        submit(&mut client, other_chain).await,
        Err((Code::InvalidArgument, "WRONG_CHAIN".into()))
    );
    // Reused nonce: the committed transaction again, and new content under nonce 1.
    assert_eq!(
        submit(&mut client, first).await,
        Err((Code::FailedPrecondition, "NONCE_REUSED".into()))
    );
    let reuse = sign_transaction(&jpn, &transfer(&chain, 1, "JPN-100-1", "CAN-100-1", 3));
    assert_eq!(
        submit(&mut client, reuse).await,
        Err((Code::FailedPrecondition, "NONCE_REUSED".into()))
    );
    // Oversize transaction (within the gRPC limit) and oversize gRPC message.
    let big = pb::TransactionBody {
        chain_id: chain.clone(),
        nonce: 2,
        kind: Some(Kind::OpenAccount(pb::OpenAccount {
            party: "JPN".into(),
            holder_name: "x".repeat(MAX_TX_BYTES),
            holder_key: can.verifying_key().to_bytes().to_vec(),
        })),
    };
    assert_eq!(
        submit(&mut client, sign_transaction(&jpn, &big)).await,
        Err((Code::InvalidArgument, "TX_TOO_LARGE".into()))
    );
    let huge = submit(&mut client, vec![0; 1024 * 1024]).await.unwrap_err();
    assert!(
        matches!(
            huge.0,
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{huge:?}"
    );
    // Unknown account, and a transfer of more than is held.
    let unknown = sign_transaction(&jpn, &transfer(&chain, 2, "JPN-100-1", "CAN-120-99", 1));
    assert_eq!(
        submit(&mut client, unknown).await,
        Err((Code::FailedPrecondition, "UNKNOWN_ACCOUNT".into()))
    );
    let over = sign_transaction(
        &jpn,
        &transfer(&chain, 2, "JPN-100-1", "CAN-100-1", u64::MAX),
    );
    assert_eq!(
        submit(&mut client, over).await,
        Err((Code::FailedPrecondition, "INSUFFICIENT_UNITS".into()))
    );
    // Someone else's account.
    let theft = sign_transaction(&can, &transfer(&chain, 1, "JPN-100-1", "CAN-100-1", 1));
    assert_eq!(
        submit(&mut client, theft).await,
        Err((Code::FailedPrecondition, "NOT_AUTHORISED".into()))
    );
    // A nonce far ahead.
    let ahead = sign_transaction(&jpn, &transfer(&chain, 1_000, "JPN-100-1", "CAN-100-1", 1));
    assert_eq!(
        submit(&mut client, ahead).await,
        Err((Code::FailedPrecondition, "NONCE_TOO_HIGH".into()))
    );

    // Nothing was written.
    let after = status(&mut client).await;
    assert_eq!(
        (after.height, &after.state_root, after.mempool_size),
        (before.height, &before.state_root, 0)
    );

    // Queries with bad arguments.
    let e = client
        .get_account(pb::GetAccountRequest {
            account_id: "JPN-120-77".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = client
        .get_account(pb::GetAccountRequest {
            account_id: "not an id".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = client
        .get_transaction(pb::GetTransactionRequest {
            tx_hash: vec![1, 2, 3],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = client
        .get_party(pb::GetPartyRequest { code: "XYZ".into() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = client
        .get_block(pb::GetBlockRequest {
            height: 1_000_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // The explorer's reads: a block by hash, a project's trail, the monthly flows.
    for (hash, code) in [
        (vec![7; 5], Code::InvalidArgument),
        (vec![7; 32], Code::NotFound),
    ] {
        let e = client
            .get_block(pb::GetBlockRequest {
                block_hash: hash,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{e:?}");
    }
    let e = client
        .get_project_history(pb::GetProjectHistoryRequest {
            project: "CDM-9999".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.message().starts_with("UNKNOWN_PROJECT")),
        (Code::NotFound, true),
        "{e:?}"
    );
    for (first_month, last_month, reason) in [
        (200813, 200901, "MALFORMED"),
        (200902, 200901, "MALFORMED"),
        (200801, 0, "MALFORMED"),
        (200001, 202001, "TOO_MANY_MONTHS"),
    ] {
        let e = client
            .get_flows(pb::GetFlowsRequest {
                first_month,
                last_month,
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message().split(':').next()),
            (Code::InvalidArgument, Some(reason)),
            "{first_month}–{last_month}: {e:?}"
        );
    }
    let flows = client
        .get_flows(pb::GetFlowsRequest {
            first_month: 200001,
            last_month: 201912,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((flows.first_month, flows.last_month), (200001, 201912));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_refused_in_a_block_consumes_its_nonce_for_good() {
    let dev = Dev::start().await;
    let isl = dev.key("ISL");
    let Dev {
        mut client, chain, ..
    } = dev;
    let trader = SigningKey::from_bytes(&[42; 32]);
    let account = client
        .get_account(pb::GetAccountRequest {
            account_id: "ISL-100-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let open = pb::TransactionBody {
        chain_id: chain.clone(),
        nonce: 1,
        kind: Some(Kind::OpenAccount(pb::OpenAccount {
            party: "ISL".into(),
            holder_name: "Reykjavik Carbon ehf".into(),
            holder_key: trader.verifying_key().to_bytes().to_vec(),
        })),
    };
    let opened = submit(&mut client, sign_transaction(&isl, &open))
        .await
        .unwrap();
    wait_committed(&mut client, &opened).await;

    // Nonce 3 first: it waits in the mempool without a dry run (its predecessor is
    // not there yet). Nonce 2 then moves everything to the entity account (an internal
    // transfer, so no reserve applies), and nonce 3 is refused inside a block.
    let third = sign_transaction(&isl, &transfer(&chain, 3, "ISL-100-1", "ISL-120-1", 1));
    let third_hash = submit(&mut client, third.clone()).await.unwrap();
    let second = sign_transaction(
        &isl,
        &transfer(&chain, 2, "ISL-100-1", "ISL-120-1", account.total),
    );
    let second_hash = submit(&mut client, second).await.unwrap();
    let r2 = wait_committed(&mut client, &second_hash).await;
    assert!(matches!(
        r2.receipt.unwrap().outcome,
        Some(pb::receipt::Outcome::Applied(_))
    ));
    let r3 = wait_committed(&mut client, &third_hash).await;
    match r3.receipt.unwrap().outcome {
        Some(pb::receipt::Outcome::Refused(r)) => assert_eq!(r.code, "INSUFFICIENT_UNITS"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let nonce = client
        .get_nonce(pb::GetNonceRequest {
            public_key: isl.verifying_key().to_bytes().to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((nonce.committed_nonce, nonce.next_nonce), (3, 4));
    // Units come back to Iceland's holding account; the refused bytes still can never succeed.
    let refill = sign_transaction(&trader, &transfer(&chain, 1, "ISL-120-1", "ISL-100-1", 5));
    let refill = submit(&mut client, refill).await.unwrap();
    wait_committed(&mut client, &refill).await;
    assert_eq!(
        submit(&mut client, third).await,
        Err((Code::FailedPrecondition, "NONCE_REUSED".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_submissions_gets_one_result_each_in_order() {
    let (_dev, mut client, chain, jpn, can) = Dev::japan_and_canada().await;
    let can_before = account_total(&mut client, "CAN-100-1").await;

    let first = sign_transaction(&jpn, &transfer(&chain, 1, "JPN-100-1", "CAN-100-1", 3));
    let forgery = forged(
        &can,
        &jpn,
        &transfer(&chain, 2, "JPN-100-1", "CAN-100-1", 1),
    );
    let second = sign_transaction(&jpn, &transfer(&chain, 2, "JPN-100-1", "CAN-100-1", 4));
    let too_far = sign_transaction(&jpn, &transfer(&chain, 500, "JPN-100-1", "CAN-100-1", 1));
    let batch = vec![
        first.clone(),
        forgery,
        vec![0xff, 0xff],
        second,
        first,
        too_far,
    ];
    let results = client
        .submit_transactions(pb::SubmitTransactionsRequest {
            transactions: batch,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let codes: Vec<&str> = results.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "",
            "BAD_SIGNATURE",
            "MALFORMED",
            "",
            "ALREADY_PENDING",
            "NONCE_TOO_HIGH"
        ]
    );
    assert!(
        results
            .iter()
            .all(|r| r.code.is_empty() != r.tx_hash.is_empty())
    );
    assert!(results[5].message.contains("ahead"), "{:?}", results[5]);
    for r in [&results[0], &results[3]] {
        let done = wait_committed(&mut client, &r.tx_hash).await;
        assert!(matches!(
            done.receipt.and_then(|r| r.outcome),
            Some(pb::receipt::Outcome::Applied(_))
        ));
    }
    let can_after = account_total(&mut client, "CAN-100-1").await;
    assert_eq!(can_after, can_before + 7, "exactly the two good transfers");

    // More than a request may carry: refused whole, nothing admitted.
    let many: Vec<Vec<u8>> = (0..1001u64)
        .map(|n| sign_transaction(&jpn, &transfer(&chain, 3 + n, "JPN-100-1", "CAN-100-1", 1)))
        .collect();
    let err = client
        .submit_transactions(pb::SubmitTransactionsRequest { transactions: many })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details()
            .error_info()
            .map(|i| i.reason.clone()),
        Some("BATCH_TOO_LARGE".into())
    );
    assert_eq!(status(&mut client).await.mempool_size, 0);
}

/// Single submissions arriving together are verified in shared batches: each request
/// still gets its own answer, a forged one among good ones included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_single_submissions_each_get_their_own_answer() {
    let (_dev, mut client, chain, jpn, can) = Dev::japan_and_canada().await;
    let can_before = account_total(&mut client, "CAN-100-1").await;

    // Nonces 1..=60 from Japan, sent all at once (they may arrive in any order
    // within the mempool's window of 64), with a forgery and a malformed request
    // after every tenth.
    let mut requests: Vec<(Vec<u8>, &str)> = Vec::new();
    for nonce in 1..=60u64 {
        let good = sign_transaction(&jpn, &transfer(&chain, nonce, "JPN-100-1", "CAN-100-1", 1));
        requests.push((good, ""));
        if nonce % 10 == 0 {
            let body = transfer(&chain, 500 + nonce, "JPN-100-1", "CAN-100-1", 9);
            requests.push((forged(&can, &jpn, &body), "BAD_SIGNATURE"));
            requests.push((vec![0xff, 0xff, nonce as u8], "MALFORMED"));
        }
    }
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(bytes, expected)| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let hash = kyoto_node::crypto::sha256(&bytes).to_vec();
                (submit(&mut client, bytes).await, hash, expected)
            })
        })
        .collect();
    let mut admitted = Vec::new();
    for task in tasks {
        let (answer, hash, expected) = task.await.unwrap();
        match (answer, expected) {
            (Ok(got), "") => {
                assert_eq!(got, hash, "the hash of this request's own transaction");
                admitted.push(got);
            }
            (Err((code, reason)), expected) if !expected.is_empty() => {
                assert_eq!(reason, expected);
                assert_eq!(code, Code::InvalidArgument);
            }
            (answer, expected) => panic!("expected {expected:?}, got {answer:?}"),
        }
    }
    assert_eq!(admitted.len(), 60);
    for hash in &admitted {
        wait_committed(&mut client, hash).await;
    }
    let can_after = account_total(&mut client, "CAN-100-1").await;
    assert_eq!(can_after, can_before + 60, "every good transfer, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_services_answer() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    let channel = Channel::from_shared(node.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let resp = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "kyoto.v1.Ledger".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resp.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("no service list")
    };
    assert!(
        list.service.iter().any(|s| s.name == "kyoto.v1.Ledger"),
        "{:?}",
        list.service
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_blocks_sends_history_then_new_blocks() {
    let dev = Dev::start().await;
    let jpn = dev.key("JPN");
    let Dev {
        mut client, chain, ..
    } = dev;
    let h1 = submit(
        &mut client,
        sign_transaction(&jpn, &transfer(&chain, 1, "JPN-100-1", "CAN-100-1", 1)),
    )
    .await
    .unwrap();
    wait_committed(&mut client, &h1).await;
    let mut stream = client
        .stream_blocks(pb::StreamBlocksRequest { from_height: 1 })
        .await
        .unwrap()
        .into_inner();
    let b1 = stream.message().await.unwrap().unwrap();
    assert_eq!(b1.block.unwrap().header.unwrap().height, 1);
    let h2 = submit(
        &mut client,
        sign_transaction(&jpn, &transfer(&chain, 2, "JPN-100-1", "CAN-100-1", 1)),
    )
    .await
    .unwrap();
    let b2 = tokio::time::timeout(std::time::Duration::from_secs(30), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let header = b2.block.unwrap().header.unwrap();
    assert_eq!(header.height, 2);
    assert_eq!(header.parent_state_root, b1.state_root);
    assert_eq!(b2.transaction_hashes, vec![h2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_of_unsigned_bodies_forged_signatures_and_bounded_pages() {
    let (_dev, mut client, chain, jpn, can) = Dev::japan_and_canada().await;
    let simulate = |bytes: Vec<u8>| {
        let mut client = client.clone();
        async move {
            client
                .simulate_transaction(pb::SimulateTransactionRequest { transaction: bytes })
                .await
        }
    };
    // An unsigned body (empty signature) with nonce 0: checked as the signer's next.
    let unsigned = pb::SignedTransaction {
        body: transfer(&chain, 0, "JPN-100-1", "CAN-100-1", 3).encode_to_vec(),
        public_key: jpn.verifying_key().to_bytes().to_vec(),
        signature: Vec::new(),
    };
    let dry = simulate(unsigned.encode_to_vec())
        .await
        .unwrap()
        .into_inner();
    assert!(!dry.signature_verified);
    let receipt = dry.receipt.unwrap();
    assert_eq!(receipt.nonce, 1);
    match receipt.outcome {
        Some(pb::receipt::Outcome::Applied(a)) => {
            assert_eq!((a.amount, a.to_account.as_str()), (3, "CAN-100-1"));
        }
        other => panic!("expected applied, got {other:?}"),
    }
    // Signed by Canada but presented as Japan's: refused as a submission would be.
    let body = transfer(&chain, 1, "JPN-100-1", "CAN-100-1", 3);
    let err = simulate(forged(&can, &jpn, &body)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        "BAD_SIGNATURE"
    );
    // Garbage bytes: MALFORMED.
    let err = simulate(vec![0xff; 40]).await.unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        "MALFORMED"
    );
    // Nothing was admitted or written by any of them.
    let now = status(&mut client).await;
    assert_eq!((now.height, now.mempool_size), (0, 0));

    // Pages are bounded: a page size past 1,000 gets 1,000 at most, and a listing
    // needs exactly one of party and holder key.
    let parties = client
        .list_parties(pb::ListPartiesRequest {
            page_size: u32::MAX,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(parties.parties.len() <= 1000 && parties.next_page_token.is_empty());
    let err = client
        .list_accounts(pb::ListAccountsRequest {
            party: "JPN".into(),
            holder_key: vec![1; 32],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .get_account_history(pb::GetAccountHistoryRequest {
            account_id: "JPN-100-1".into(),
            limit: 1,
            page_token: "x.y".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.get_error_details().error_info().unwrap().reason,
        "BAD_PAGE_TOKEN"
    );
}
