//! An observer verifies every block it is served, whoever serves it: a node that
//! serves a forged commit certificate or a transaction with a bad signature gets
//! its block refused, and the observer keeps its verified state (and follows the
//! next validator it was given, if any).
//!
//! The lying node is a test double: a gRPC server with the validator's real blocks,
//! tampered with, on `StreamBlocks`; its other methods are not needed here.

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ed25519_dalek::Signer as _;
use kyoto_proto::v1 as pb;
use kyoto_proto::v1::ledger_server::{Ledger, LedgerServer};
use kyoto_tests::{NodeProcess, dev_key, json_u64};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

struct Liar {
    blocks: Vec<pb::GetBlockResponse>,
}

type BlockStream = Pin<Box<dyn Stream<Item = Result<pb::GetBlockResponse, Status>> + Send>>;

/// The `Ledger` service with `stream_blocks` as given and every other method
/// answering "unimplemented" (written by a macro so that `async_trait` sees them all).
macro_rules! liar_impl {
    ($($name:ident($req:ty) -> $resp:ty;)*) => {
        #[tonic::async_trait]
        impl Ledger for Liar {
            type StreamBlocksStream = BlockStream;

            async fn stream_blocks(
                &self,
                request: Request<pb::StreamBlocksRequest>,
            ) -> Result<Response<BlockStream>, Status> {
                let from = request.into_inner().from_height.max(1);
                let items: Vec<Result<pb::GetBlockResponse, Status>> = self
                    .blocks
                    .iter()
                    .skip(usize::try_from(from - 1).unwrap())
                    .cloned()
                    .map(Ok)
                    .collect();
                Ok(Response::new(Box::pin(tokio_stream::iter(items))))
            }

            $(async fn $name(&self, _: Request<$req>) -> Result<Response<$resp>, Status> {
                Err(Status::unimplemented("test double: only StreamBlocks"))
            })*
        }
    };
}

liar_impl! {
    submit_transaction(pb::SubmitTransactionRequest) -> pb::SubmitTransactionResponse;
    submit_transactions(pb::SubmitTransactionsRequest) -> pb::SubmitTransactionsResponse;
    get_transaction(pb::GetTransactionRequest) -> pb::GetTransactionResponse;
    get_nonce(pb::GetNonceRequest) -> pb::GetNonceResponse;
    get_account(pb::GetAccountRequest) -> pb::GetAccountResponse;
    get_party(pb::GetPartyRequest) -> pb::GetPartyResponse;
    get_block(pb::GetBlockRequest) -> pb::GetBlockResponse;
    get_status(pb::GetStatusRequest) -> pb::GetStatusResponse;
    get_compliance(pb::GetComplianceRequest) -> pb::GetComplianceResponse;
    get_account_history(pb::GetAccountHistoryRequest) -> pb::GetAccountHistoryResponse;
    get_project(pb::GetProjectRequest) -> pb::GetProjectResponse;
    dev_advance_time(pb::DevAdvanceTimeRequest) -> pb::GetStatusResponse;
    get_proposal(pb::GetProposalRequest) -> pb::ProposalView;
    list_proposals(pb::ListProposalsRequest) -> pb::ListProposalsResponse;
    list_validators(pb::ListValidatorsRequest) -> pb::ListValidatorsResponse;
    simulate_transaction(pb::SimulateTransactionRequest) -> pb::SimulateTransactionResponse;
    list_parties(pb::ListPartiesRequest) -> pb::ListPartiesResponse;
    list_projects(pb::ListProjectsRequest) -> pb::ListProjectsResponse;
    list_accounts(pb::ListAccountsRequest) -> pb::ListAccountsResponse;
    get_project_history(pb::GetProjectHistoryRequest) -> pb::GetProjectHistoryResponse;
    get_flows(pb::GetFlowsRequest) -> pb::GetFlowsResponse;
}

/// Serves `blocks` on a free port; returns its URL.
fn serve(rt: &tokio::runtime::Runtime, blocks: Vec<pb::GetBlockResponse>) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    rt.spawn(
        tonic::transport::Server::builder()
            .add_service(LedgerServer::new(Liar { blocks }))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

fn observer_height(node: &NodeProcess) -> u64 {
    json_u64(&node.kyoto(&["--output", "json", "status"]).json()["height"])
}

fn log_says(path: &Path, what: &str) -> bool {
    std::fs::read_to_string(path)
        .map(|l| l.contains(what))
        .unwrap_or(false)
}

#[test]
fn an_observer_refuses_forged_certificates_and_bad_transaction_signatures() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dev_dir = dir.path().join(".kyoto-dev");
    let validator = NodeProcess::start_dev(&dev_dir);
    for amount in ["7", "8"] {
        validator
            .kyoto(&[
                "transfer",
                "--key",
                &dev_key("JPN"),
                "--from",
                "JPN-100-1",
                "--to",
                "CAN-100-1",
                "--amount",
                amount,
            ])
            .ok();
    }
    let top = json_u64(&validator.kyoto(&["--output", "json", "status"]).json()["height"]);
    let genuine: Vec<pb::GetBlockResponse> = rt.block_on(async {
        let mut client = pb::ledger_client::LedgerClient::connect(validator.url.clone())
            .await
            .unwrap();
        let mut out = Vec::new();
        for h in 1..=top {
            out.push(
                client
                    .get_block(pb::GetBlockRequest {
                        height: h,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner(),
            );
        }
        out
    });
    let genesis = dev_dir.join("genesis.json");
    let genesis = genesis.to_str().unwrap();

    // 1. A certificate signed by a Party's key (not a validator's) over the real
    //    precommit bytes of block 1.
    let jpn = kyoto_node::crypto::read_key_file(&dev_dir.join("dev-keys/JPN.key")).unwrap();
    let mut forged = genuine.clone();
    let cert = forged[0].certificate.as_mut().unwrap();
    cert.signatures[0].public_key = jpn.verifying_key().to_bytes().to_vec();
    cert.signatures[0].signature = jpn.sign(b"anything").to_bytes().to_vec();
    // 2. A transaction whose signature was tampered with (its bytes otherwise intact).
    let mut bad_tx = genuine.clone();
    let with_tx = bad_tx
        .iter_mut()
        .find(|b| !b.block.as_ref().unwrap().transactions.is_empty())
        .unwrap();
    let raw = &mut with_tx.block.as_mut().unwrap().transactions[0];
    let at = raw.len() - 1;
    raw[at] ^= 0x01;

    for (case, blocks, expect) in [
        ("forged certificate", forged, "not a validator"),
        ("bad transaction signature", bad_tx, "BAD_SIGNATURE"),
    ] {
        let liar = serve(&rt, blocks);
        let obs_dir = dir.path().join(case.replace(' ', "-"));
        std::fs::create_dir_all(&obs_dir).unwrap();
        let log = obs_dir.join("observer.log");
        let observer = NodeProcess::spawn(
            &obs_dir.join("data"),
            &["--observer", "--genesis", genesis, "--sync-from", &liar],
            Some(&log),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while !log_says(&log, expect) {
            assert!(Instant::now() < deadline, "{case}: not refused");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            log_says(&log, "refused a block that does not verify"),
            "{case}"
        );
        let h = observer_height(&observer);
        assert!(
            h < top,
            "{case}: the observer applied the bad block (height {h})"
        );
        // Given a validator too, it moves on and follows the true chain.
        drop(observer);
        let observer = NodeProcess::spawn(
            &obs_dir.join("data"),
            &[
                "--observer",
                "--genesis",
                genesis,
                "--sync-from",
                &format!("{liar},{}", validator.url),
            ],
            Some(&log),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while observer_height(&observer) < top {
            assert!(
                Instant::now() < deadline,
                "{case}: the observer did not move on"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
