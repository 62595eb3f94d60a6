//! gRPC service `kyoto.v1.Ledger`: a thin mapping from requests to the node and the
//! ledger's read views, with server reflection and the standard health service.
//!
//! Refusals carry a `google.rpc.ErrorInfo` whose `reason` is the stable refusal code
//! (domain `kyoto.v1`); the status message is `CODE: human message`.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use kyoto_proto::v1::{
    self as pb,
    ledger_server::{Ledger, LedgerServer},
};
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::ledger::{AccountId, PartyCode, PublicKey};
use crate::mempool::AdmitError;
use crate::node::{Node, SubmitError, TxStatus};
use crate::tx::TxError;
use crate::wire;

pub mod limits;

use limits::Connections;
pub use limits::GrpcLimits;

/// Largest gRPC message the server decodes (a transaction is at most 16 KiB; a
/// batch of submissions is bounded by this).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Most transactions in one `SubmitTransactions` request.
pub const MAX_SUBMIT_BATCH: usize = 1000;

/// Most entries of an account history in one response.
pub const MAX_HISTORY: usize = 1000;

/// Builds a refusal status with its machine-readable code.
pub fn refusal_status(code: Code, reason: &str, message: &str) -> Status {
    Status::with_error_details(
        code,
        format!("{reason}: {message}"),
        ErrorDetails::with_error_info(
            reason,
            "kyoto.v1",
            std::collections::HashMap::<String, String>::new(),
        ),
    )
}

fn submit_status(e: &SubmitError) -> Status {
    let code = match e {
        SubmitError::Tx(
            TxError::TooLarge(_)
            | TxError::Malformed(_)
            | TxError::BadSignature(_)
            | TxError::WrongChain { .. },
        ) => Code::InvalidArgument,
        SubmitError::Admit(AdmitError::AlreadyPending) => Code::AlreadyExists,
        SubmitError::Admit(
            AdmitError::Full(_) | AdmitError::ParkedFull(_) | AdmitError::GapLimit { .. },
        ) => Code::ResourceExhausted,
        SubmitError::Admit(AdmitError::UnknownSigner) => Code::PermissionDenied,
        SubmitError::Admit(_) => Code::FailedPrecondition,
        SubmitError::Internal(_) => Code::Internal,
        SubmitError::ReadOnly
        | SubmitError::NotDevChain
        | SubmitError::TimeBackwards { .. }
        | SubmitError::TimeOutOfRange { .. } => Code::FailedPrecondition,
    };
    refusal_status(code, e.code(), &e.to_string())
}

fn internal(e: SubmitError) -> Status {
    tracing::error!(error = %e, "internal error serving a request");
    Status::internal(e.to_string())
}

fn bad_argument(reason: &str, message: String) -> Status {
    refusal_status(Code::InvalidArgument, reason, &message)
}

fn hash_arg(bytes: &[u8], what: &str) -> Result<[u8; 32], Status> {
    bytes.try_into().map_err(|_| {
        bad_argument(
            "MALFORMED",
            format!("{what} must be 32 bytes, got {}", bytes.len()),
        )
    })
}

/// Most single submissions (`SubmitTransaction`) verified and admitted together.
pub const SUBMIT_COALESCE: usize = 256;

/// A single submission waiting for its turn, with where its answer goes.
type QueuedSubmission = (
    Vec<u8>,
    tokio::sync::oneshot::Sender<Result<crate::ledger::Hash, SubmitError>>,
);

pub struct LedgerService {
    node: Arc<Node>,
    submissions: tokio::sync::mpsc::Sender<QueuedSubmission>,
}

impl LedgerService {
    /// The service; spawns, on the current tokio runtime, the task that admits
    /// single submissions (it ends when the service is dropped).
    pub fn new(node: Arc<Node>) -> Self {
        let (submissions, queue) = tokio::sync::mpsc::channel(4 * SUBMIT_COALESCE);
        tokio::spawn(admit_submissions(Arc::clone(&node), queue));
        LedgerService { node, submissions }
    }

    /// Submits one transaction through the queue.
    async fn submit_one(&self, raw: Vec<u8>) -> Result<crate::ledger::Hash, SubmitError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || SubmitError::Internal("the submission queue has stopped".into());
        self.submissions
            .send((raw, reply))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Admits single submissions in batches of whatever arrived while the last batch
/// was being verified: a lone submission goes through at once, and under load one
/// signature batch serves many requests (about three times cheaper than verifying
/// each alone). Each request gets the answer it would get alone, in arrival order
/// (a batch is admitted in order, as one request after another).
async fn admit_submissions(
    node: Arc<Node>,
    mut queue: tokio::sync::mpsc::Receiver<QueuedSubmission>,
) {
    let mut waiting = Vec::with_capacity(SUBMIT_COALESCE);
    while queue.recv_many(&mut waiting, SUBMIT_COALESCE).await > 0 {
        let (raws, replies): (Vec<_>, Vec<_>) = waiting.drain(..).unzip();
        let node = Arc::clone(&node);
        let count = raws.len();
        let results = match tokio::task::spawn_blocking(move || node.submit_batch(raws)).await {
            Ok(results) => results,
            Err(e) => {
                let why = format!("the submission task failed: {e}");
                (0..count)
                    .map(|_| Err(SubmitError::Internal(why.clone())))
                    .collect()
            }
        };
        for (reply, result) in replies.into_iter().zip(results) {
            // A client that has gone away no longer wants its answer.
            let _ = reply.send(result);
        }
    }
}

type BlockStream = Pin<Box<dyn Stream<Item = Result<pb::GetBlockResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Ledger for LedgerService {
    async fn submit_transaction(
        &self,
        request: Request<pb::SubmitTransactionRequest>,
    ) -> Result<Response<pb::SubmitTransactionResponse>, Status> {
        let raw = request.into_inner().transaction;
        match self.submit_one(raw).await {
            Ok(hash) => {
                tracing::debug!(tx = %hex::encode(hash), "admitted transaction");
                Ok(Response::new(pb::SubmitTransactionResponse {
                    tx_hash: hash.to_vec(),
                }))
            }
            Err(e) => {
                tracing::info!(code = e.code(), error = %e, "refused transaction");
                Err(submit_status(&e))
            }
        }
    }

    async fn submit_transactions(
        &self,
        request: Request<pb::SubmitTransactionsRequest>,
    ) -> Result<Response<pb::SubmitTransactionsResponse>, Status> {
        let raws = request.into_inner().transactions;
        if raws.len() > MAX_SUBMIT_BATCH {
            return Err(bad_argument(
                "BATCH_TOO_LARGE",
                format!(
                    "at most {MAX_SUBMIT_BATCH} transactions per request, got {}",
                    raws.len()
                ),
            ));
        }
        let node = Arc::clone(&self.node);
        let results = tokio::task::spawn_blocking(move || node.submit_batch(raws))
            .await
            .map_err(|e| Status::internal(format!("the submission task failed: {e}")))?;
        let results = results
            .into_iter()
            .map(|r| match r {
                Ok(hash) => pb::SubmitResult {
                    tx_hash: hash.to_vec(),
                    ..Default::default()
                },
                Err(e) => {
                    tracing::info!(code = e.code(), error = %e, "refused transaction");
                    pb::SubmitResult {
                        tx_hash: Vec::new(),
                        code: e.code().to_owned(),
                        message: e.to_string(),
                    }
                }
            })
            .collect();
        Ok(Response::new(pb::SubmitTransactionsResponse { results }))
    }

    async fn get_transaction(
        &self,
        request: Request<pb::GetTransactionRequest>,
    ) -> Result<Response<pb::GetTransactionResponse>, Status> {
        let hash = hash_arg(&request.into_inner().tx_hash, "tx_hash")?;
        let status = self.node.tx_status(&hash).map_err(internal)?;
        let mut resp = pb::GetTransactionResponse {
            tx_hash: hash.to_vec(),
            ..Default::default()
        };
        match status {
            TxStatus::Unknown => resp.status = pb::TransactionStatus::Unknown as i32,
            TxStatus::Pending => resp.status = pb::TransactionStatus::Pending as i32,
            TxStatus::Committed {
                receipt,
                block_hash,
            } => {
                resp.status = pb::TransactionStatus::Committed as i32;
                resp.receipt = Some(*receipt);
                resp.block_hash = block_hash;
            }
        }
        Ok(Response::new(resp))
    }

    async fn get_nonce(
        &self,
        request: Request<pb::GetNonceRequest>,
    ) -> Result<Response<pb::GetNonceResponse>, Status> {
        let pk: PublicKey = hash_arg(&request.into_inner().public_key, "public_key")?;
        let (committed_nonce, next_nonce) = self.node.next_nonce(&pk).map_err(internal)?;
        Ok(Response::new(pb::GetNonceResponse {
            committed_nonce,
            next_nonce,
        }))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let id = request.into_inner().account_id;
        let id = AccountId::parse(&id).map_err(|m| bad_argument("MALFORMED", m))?;
        let chain = self.node.chain().map_err(internal)?;
        let account = chain.state().account(&id).ok_or_else(|| {
            refusal_status(
                Code::NotFound,
                "UNKNOWN_ACCOUNT",
                &format!("no account {id}"),
            )
        })?;
        Ok(Response::new(wire::account(chain.state(), account)))
    }

    async fn get_party(
        &self,
        request: Request<pb::GetPartyRequest>,
    ) -> Result<Response<pb::GetPartyResponse>, Status> {
        let code = request.into_inner().code;
        let code = PartyCode::parse(&code).map_err(|m| bad_argument("MALFORMED", m))?;
        let chain = self.node.chain().map_err(internal)?;
        let party = chain.state().party(&code).ok_or_else(|| {
            refusal_status(
                Code::NotFound,
                "UNKNOWN_PARTY",
                &format!("no Party with code {code}"),
            )
        })?;
        Ok(Response::new(wire::party(chain.state(), party)))
    }

    async fn get_block(
        &self,
        request: Request<pb::GetBlockRequest>,
    ) -> Result<Response<pb::GetBlockResponse>, Status> {
        let height = request.into_inner().height;
        self.node
            .block(height)
            .map_err(internal)?
            .map(Response::new)
            .ok_or_else(|| {
                refusal_status(
                    Code::NotFound,
                    "UNKNOWN_BLOCK",
                    &format!("no committed block at height {height}"),
                )
            })
    }

    type StreamBlocksStream = BlockStream;

    async fn stream_blocks(
        &self,
        request: Request<pb::StreamBlocksRequest>,
    ) -> Result<Response<BlockStream>, Status> {
        let from = request.into_inner().from_height;
        let node = Arc::clone(&self.node);
        let mut head = node.subscribe_head();
        let mut next = if from == 0 { *head.borrow() + 1 } else { from };
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let current = *head.borrow_and_update();
                while next <= current {
                    let item = match node.block(next) {
                        Ok(Some(b)) => Ok(b),
                        Ok(None) => Err(Status::internal(format!(
                            "committed block {next} is missing"
                        ))),
                        Err(e) => Err(internal(e)),
                    };
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        return;
                    }
                    next += 1;
                }
                tokio::select! {
                    changed = head.changed() => if changed.is_err() { return },
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn get_compliance(
        &self,
        request: Request<pb::GetComplianceRequest>,
    ) -> Result<Response<pb::GetComplianceResponse>, Status> {
        let req = request.into_inner();
        let code = PartyCode::parse(&req.party).map_err(|m| bad_argument("MALFORMED", m))?;
        let chain = self.node.chain().map_err(internal)?;
        let compliance = chain
            .state()
            .compliance(&code, req.period)
            .map_err(|r| refusal_status(Code::NotFound, r.code(), &r.to_string()))?;
        Ok(Response::new(wire::compliance(&compliance)))
    }

    async fn get_account_history(
        &self,
        request: Request<pb::GetAccountHistoryRequest>,
    ) -> Result<Response<pb::GetAccountHistoryResponse>, Status> {
        let req = request.into_inner();
        let id = AccountId::parse(&req.account_id).map_err(|m| bad_argument("MALFORMED", m))?;
        let limit = if req.limit == 0 {
            MAX_HISTORY
        } else {
            (req.limit as usize).min(MAX_HISTORY)
        };
        let entries = self
            .node
            .account_history(&id.to_string(), limit)
            .map_err(internal)?;
        if entries.is_empty()
            && self
                .node
                .chain()
                .map_err(internal)?
                .state()
                .account(&id)
                .is_none()
        {
            return Err(refusal_status(
                Code::NotFound,
                "UNKNOWN_ACCOUNT",
                &format!("no account {id}"),
            ));
        }
        Ok(Response::new(pb::GetAccountHistoryResponse {
            account_id: id.to_string(),
            entries,
        }))
    }

    async fn get_project(
        &self,
        request: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::GetProjectResponse>, Status> {
        let id = request.into_inner().project;
        let chain = self.node.chain().map_err(internal)?;
        let project = chain.state().project(&id).ok_or_else(|| {
            refusal_status(
                Code::NotFound,
                "UNKNOWN_PROJECT",
                &format!("no project {id}"),
            )
        })?;
        Ok(Response::new(wire::project(project)))
    }

    async fn dev_advance_time(
        &self,
        request: Request<pb::DevAdvanceTimeRequest>,
    ) -> Result<Response<pb::GetStatusResponse>, Status> {
        let to_ms = request.into_inner().to_ms;
        let node = Arc::clone(&self.node);
        let result = tokio::task::spawn_blocking(move || node.advance_time(to_ms))
            .await
            .map_err(|e| Status::internal(format!("advance-time task failed: {e}")))?;
        match result {
            Ok(_) => self.get_status(Request::new(pb::GetStatusRequest {})).await,
            Err(e) => Err(submit_status(&e)),
        }
    }

    async fn get_proposal(
        &self,
        request: Request<pb::GetProposalRequest>,
    ) -> Result<Response<pb::ProposalView>, Status> {
        let id = request.into_inner().id;
        let chain = self.node.chain().map_err(internal)?;
        let p = chain.state().proposal(id).ok_or_else(|| {
            refusal_status(
                Code::NotFound,
                "UNKNOWN_PROPOSAL",
                &format!("no proposal {id}"),
            )
        })?;
        Ok(Response::new(wire::proposal(chain.state(), p)))
    }

    async fn list_proposals(
        &self,
        _request: Request<pb::ListProposalsRequest>,
    ) -> Result<Response<pb::ListProposalsResponse>, Status> {
        let chain = self.node.chain().map_err(internal)?;
        let state = chain.state();
        let proposals = state
            .proposals()
            .map(|p| wire::proposal(state, p))
            .collect();
        Ok(Response::new(pb::ListProposalsResponse { proposals }))
    }

    async fn list_validators(
        &self,
        _request: Request<pb::ListValidatorsRequest>,
    ) -> Result<Response<pb::ListValidatorsResponse>, Status> {
        let chain = self.node.chain().map_err(internal)?;
        let validators = chain
            .state()
            .governance()
            .validators
            .iter()
            .map(|v| pb::ValidatorView {
                name: v.name.clone(),
                party: v.party.to_string(),
                public_key: v.key.to_vec(),
            })
            .collect();
        Ok(Response::new(pb::ListValidatorsResponse { validators }))
    }

    async fn get_status(
        &self,
        _request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::GetStatusResponse>, Status> {
        let mempool_size = u32::try_from(self.node.mempool_len()).unwrap_or(u32::MAX);
        let chain = self.node.chain().map_err(internal)?;
        let meta = chain.state().meta();
        Ok(Response::new(pb::GetStatusResponse {
            chain_id: meta.chain_id.clone(),
            genesis_hash: chain.genesis_hash().to_vec(),
            height: meta.height,
            latest_block_hash: meta.last_block_hash.to_vec(),
            latest_block_time_ms: meta.time_ms,
            state_root: chain.state_root().to_vec(),
            mempool_size,
            role: self.node.role_name().to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_in_force: chain
                .state()
                .governance()
                .protocol_in_force_ms
                .map(crate::ledger::calendar::format_date)
                .unwrap_or_default(),
        }))
    }
}

/// Most requests in progress on one connection (more wait their turn).
pub const MAX_REQUESTS_PER_CONNECTION: usize = 256;

/// Serves the API (with reflection and health) on `listener` until `shutdown` resolves,
/// within `limits` (see [`limits`]).
pub async fn serve(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    limits: GrpcLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<LedgerServer<LedgerService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kyoto_proto::FILE_DESCRIPTOR_SET)
        .build_v1();
    let reflection = match reflection {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "gRPC reflection is unavailable");
            None
        }
    };
    let ledger = LedgerServer::new(LedgerService::new(node))
        .max_decoding_message_size(MAX_REQUEST_BYTES)
        .max_encoding_message_size(64 * 1024 * 1024);
    let connections = Connections::new(limits);
    let ledger =
        tonic::service::interceptor::InterceptedService::new(ledger, connections.interceptor());
    // Accepts connections beside the server and hands over those within the limits.
    let (accepted, incoming) = tokio::sync::mpsc::channel::<std::io::Result<limits::Limited>>(16);
    let acceptor = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    // No Nagle delay: a submission or a block notification is one small
                    // frame.
                    let _ = stream.set_nodelay(true);
                    if let Some(c) = connections.admit(stream)
                        && accepted.send(Ok(c)).await.is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    // Out of file descriptors, say: wait instead of spinning.
                    tracing::debug!(error = %e, "a gRPC connection could not be accepted");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    let _stop_acceptor = AbortOnDrop(acceptor);
    let incoming = tokio_stream::wrappers::ReceiverStream::new(incoming);
    tonic::transport::Server::builder()
        .concurrency_limit_per_connection(MAX_REQUESTS_PER_CONNECTION)
        // A client that goes silent is found out and its connection closed.
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .add_service(health_service)
        .add_optional_service(reflection)
        .add_service(ledger)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Aborts a task when dropped (the acceptor stops with the server).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Binds the gRPC address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
