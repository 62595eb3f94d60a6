//! Admission a stranger cannot abuse, through gRPC against a real dev node: keys the
//! ledger does not know are refused at the door however many arrive; transactions
//! behind a nonce gap are bounded per signer and in total and expire; none of it
//! keeps a Party's next transaction out of the mempool.

use ed25519_dalek::SigningKey;
use kyoto_node::crypto::read_key_file;
use kyoto_node::tx::sign_transaction;
use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient};
use kyoto_tests::NodeProcess;
use kyoto_tests::grpc::{submit, transfer, wait_committed};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

/// The results of one `SubmitTransactions` request: the hash, or the gRPC code and
/// refusal code, of each transaction.
async fn submit_all(
    client: &mut LedgerClient<Channel>,
    txs: Vec<Vec<u8>>,
) -> Vec<Result<Vec<u8>, String>> {
    let r = client
        .submit_transactions(pb::SubmitTransactionsRequest { transactions: txs })
        .await
        .unwrap()
        .into_inner();
    r.results
        .into_iter()
        .map(|r| {
            if r.code.is_empty() {
                Ok(r.tx_hash)
            } else {
                Err(r.code)
            }
        })
        .collect()
}

async fn tx_status(client: &mut LedgerClient<Channel>, hash: &[u8]) -> i32 {
    client
        .get_transaction(pb::GetTransactionRequest {
            tx_hash: hash.to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

struct Dev {
    _dir: tempfile::TempDir,
    node: NodeProcess,
    client: LedgerClient<Channel>,
    chain: String,
}

impl Dev {
    async fn start(extra: &[&str]) -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--dev"];
        args.extend_from_slice(extra);
        let node = NodeProcess::start(&dir.path().join(".kyoto-dev"), &args);
        let mut client = LedgerClient::connect(node.url.clone()).await.unwrap();
        let chain = client
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .chain_id;
        Dev {
            _dir: dir,
            node,
            client,
            chain,
        }
    }

    fn key(&self, code: &str) -> SigningKey {
        read_key_file(&self.node.data_dir.join(format!("dev-keys/{code}.key"))).unwrap()
    }

    async fn mempool_size(&mut self) -> u32 {
        self.client
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .mempool_size
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_strangers_and_parked_transactions_do_not_keep_a_party_out() {
    let mut dev = Dev::start(&["--mempool-max-parked-per-signer", "16"]).await;
    let chain = dev.chain.clone();
    // 2,000 throwaway keys, nonces 2 and 3 (nonce 1 never sent): the attack that
    // filled every mempool before. Each is refused at the door.
    let mut junk = Vec::new();
    for i in 0..2_000u32 {
        let mut seed = [7u8; 32];
        seed[..4].copy_from_slice(&i.to_be_bytes());
        let stranger = SigningKey::from_bytes(&seed);
        for nonce in [2, 3] {
            junk.push(sign_transaction(
                &stranger,
                &transfer(&chain, nonce, "JPN-100-1", "CAN-100-1", 1),
            ));
        }
    }
    for batch in junk.chunks(1_000) {
        let results = submit_all(&mut dev.client, batch.to_vec()).await;
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().err().map(String::as_str) == Some("UNKNOWN_SIGNER")),
            "{:?}",
            results.iter().find(|r| r.is_ok())
        );
    }
    // A single submission of one of them: PERMISSION_DENIED with the same code.
    assert_eq!(
        submit(&mut dev.client, junk[0].clone()).await,
        Err((Code::PermissionDenied, "UNKNOWN_SIGNER".into()))
    );
    assert_eq!(dev.mempool_size().await, 0);

    // A known key parks at most 16 behind its gap (as set here; 64 by default, the
    // nonce window); the 17th is refused.
    let nor = dev.key("NOR");
    let parked: Vec<Vec<u8>> = (3..=19)
        .map(|n| sign_transaction(&nor, &transfer(&chain, n, "NOR-100-1", "CAN-100-1", 1)))
        .collect();
    let results = submit_all(&mut dev.client, parked).await;
    assert!(results[..16].iter().all(Result::is_ok), "{results:?}");
    let last_hash = results[15].clone().unwrap();
    assert_eq!(results[16], Err("NONCE_GAP_LIMIT".into()));
    assert_eq!(dev.mempool_size().await, 16);

    // Japan's next transfer is admitted and committed all the same.
    let jpn = dev.key("JPN");
    let hash = submit(
        &mut dev.client,
        sign_transaction(&jpn, &transfer(&chain, 1, "JPN-100-1", "CAN-100-1", 5)),
    )
    .await
    .unwrap();
    wait_committed(&mut dev.client, &hash).await;
    // NOR fills its gap (nonces 1 and 2): all 18 commit, the last (nonce 18) too.
    let fill: Vec<Vec<u8>> = (1..=2)
        .map(|n| sign_transaction(&nor, &transfer(&chain, n, "NOR-100-1", "CAN-100-1", 1)))
        .collect();
    let results = submit_all(&mut dev.client, fill).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    wait_committed(&mut dev.client, &last_hash).await;
    let nonce = dev
        .client
        .get_nonce(pb::GetNonceRequest {
            public_key: nor.verifying_key().to_bytes().to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(nonce.committed_nonce, 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_transactions_are_bounded_in_total_and_expire() {
    let mut dev = Dev::start(&[
        "--mempool-max-parked",
        "4",
        "--mempool-parked-ttl-secs",
        "2",
    ])
    .await;
    let chain = dev.chain.clone();
    let mut parked = Vec::new();
    for code in ["NOR", "CHE", "ISL", "NZL"] {
        let key = dev.key(code);
        let tx = sign_transaction(
            &key,
            &transfer(&chain, 5, &format!("{code}-100-1"), "CAN-100-1", 1),
        );
        parked.push(submit(&mut dev.client, tx).await.unwrap());
    }
    let jpn = dev.key("JPN");
    assert_eq!(
        submit(
            &mut dev.client,
            sign_transaction(&jpn, &transfer(&chain, 5, "JPN-100-1", "CAN-100-1", 1))
        )
        .await,
        Err((Code::ResourceExhausted, "MEMPOOL_FULL".into()))
    );
    // A transaction that can execute is still admitted, and committed.
    let hash = submit(
        &mut dev.client,
        sign_transaction(&jpn, &transfer(&chain, 1, "JPN-100-1", "CAN-100-1", 1)),
    )
    .await
    .unwrap();
    wait_committed(&mut dev.client, &hash).await;
    // Two seconds later the parked ones are gone (a later submission sweeps them).
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let again = submit(
        &mut dev.client,
        sign_transaction(&jpn, &transfer(&chain, 5, "JPN-100-1", "CAN-100-1", 1)),
    )
    .await;
    assert!(again.is_ok(), "{again:?}");
    for h in &parked {
        assert_eq!(
            tx_status(&mut dev.client, h).await,
            pb::TransactionStatus::Unknown as i32
        );
    }
    assert_eq!(dev.mempool_size().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_past_its_request_rate_or_the_connection_limit_is_refused() {
    let dev = Dev::start(&[
        "--grpc-requests-per-sec",
        "5",
        "--grpc-max-connections",
        "3",
    ])
    .await;
    // Dev::start made one connection and spent one request; four more fit the budget.
    let mut client = dev.client.clone();
    let mut refused = 0;
    for _ in 0..12 {
        match client.get_status(pb::GetStatusRequest {}).await {
            Ok(_) => {}
            Err(s) => {
                assert_eq!(s.code(), Code::ResourceExhausted);
                assert_eq!(
                    s.get_error_details().error_info().map(|i| i.reason.clone()),
                    Some("RATE_LIMITED".into())
                );
                refused += 1;
            }
        }
    }
    assert!(refused >= 7, "{refused} of 12 refused");
    // The budget refills: a moment later the same connection is served again.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    client.get_status(pb::GetStatusRequest {}).await.unwrap();
    // Another connection has a budget of its own; a fourth connection is closed.
    let mut second = LedgerClient::connect(dev.node.url.clone()).await.unwrap();
    second.get_status(pb::GetStatusRequest {}).await.unwrap();
    let mut third = LedgerClient::connect(dev.node.url.clone()).await.unwrap();
    third.get_status(pb::GetStatusRequest {}).await.unwrap();
    let fourth = async {
        let mut c = LedgerClient::connect(dev.node.url.clone()).await?;
        c.get_status(pb::GetStatusRequest {})
            .await
            .map_err(Box::<dyn std::error::Error>::from)?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    assert!(fourth.await.is_err(), "a fourth connection was served");
    // Once one closes, a new connection is served.
    drop(third);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut again = LedgerClient::connect(dev.node.url.clone()).await.unwrap();
    again.get_status(pb::GetStatusRequest {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_cannot_hold_the_connection_places() {
    let dev = Dev::start(&["--grpc-max-connections-per-ip", "3"]).await;
    drop(dev.client);
    let addr = dev.node.url.trim_start_matches("http://").to_owned();
    // Three sockets that never send a byte take every place this address has.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let refused = async {
        let mut c = LedgerClient::connect(dev.node.url.clone()).await?;
        c.get_status(pb::GetStatusRequest {})
            .await
            .map_err(Box::<dyn std::error::Error>::from)?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    assert!(
        refused.await.is_err(),
        "a fourth connection from one address was served"
    );
    // Ten seconds without a byte: the node closes them, and the places are free again.
    for s in &mut silent {
        use tokio::io::AsyncReadExt as _;
        // The server's own HTTP/2 settings come first; then the end of the stream.
        let closed = tokio::time::timeout(std::time::Duration::from_secs(15), async {
            let mut buf = [0u8; 256];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a silent socket is still open after 15 s");
    }
    let mut c = LedgerClient::connect(dev.node.url.clone()).await.unwrap();
    c.get_status(pb::GetStatusRequest {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_a_second_of_waiting_work_clients_are_pushed_back_and_retry() {
    // Blocks of 10: with no commit yet, a validator admits two blocks' worth.
    let mut dev = Dev::start(&["--max-block-txs", "10", "--max-queue-delay-ms", "1000"]).await;
    let chain = dev.chain.clone();
    let mut txs = Vec::new();
    for code in ["JPN", "CAN"] {
        let key = dev.key(code);
        for nonce in 1..=25 {
            txs.push(sign_transaction(
                &key,
                &transfer(&chain, nonce, &format!("{code}-100-1"), "NZL-100-1", 1),
            ));
        }
    }
    let results = submit_all(&mut dev.client, txs.clone()).await;
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().err().map_or("", String::as_str))
        .collect();
    assert_eq!(codes[..20], [""; 20], "{codes:?}");
    assert_eq!(codes[20..], ["OVERLOADED"; 30], "{codes:?}");
    // A client retries what was pushed back; everything commits, in nonce order.
    let mut hashes: Vec<Vec<u8>> = results.into_iter().filter_map(Result::ok).collect();
    let mut left: Vec<Vec<u8>> = txs[20..].to_vec();
    for _ in 0..200 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let results = submit_all(&mut dev.client, left.clone()).await;
        let mut again = Vec::new();
        for (tx, r) in left.into_iter().zip(results) {
            match r {
                Ok(h) => hashes.push(h),
                Err(code) => {
                    assert!(code == "OVERLOADED" || code == "NONCE_TOO_HIGH", "{code}");
                    again.push(tx);
                }
            }
        }
        left = again;
    }
    assert!(left.is_empty(), "{} never admitted", left.len());
    for h in &hashes {
        wait_committed(&mut dev.client, h).await;
    }
    assert_eq!(hashes.len(), 50);
    assert_eq!(dev.mempool_size().await, 0, "nothing is left waiting");
}
