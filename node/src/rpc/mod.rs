//! gRPC service `kyoto.v1.Ledger`: a thin mapping from requests to the node and the
//! ledger's read views, with server reflection and the standard health service.
//!
//! Refusals carry a `google.rpc.ErrorInfo` whose `reason` is the stable refusal code
//! (domain `kyoto.v1`); the status message is `CODE: human message`.

use std::pin::Pin;
use std::sync::Arc;

use kyoto_proto::v1::{self as pb, ledger_server::Ledger};
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};

use crate::ledger::{AccountId, PartyCode, PublicKey};
use crate::node::{Node, TxStatus};
use crate::wire;

mod counted;
pub mod limits;
mod lists;
mod server;
mod status;
mod submit;
mod trails;

pub use limits::GrpcLimits;
pub use server::{MAX_REQUESTS_PER_CONNECTION, bind, serve};
pub use status::refusal_status;
use status::{bad_argument, hash_arg, internal, submit_status};
pub use submit::SUBMIT_COALESCE;
use submit::SubmissionQueue;
pub use trails::{MAX_FLOW_MONTHS, MAX_FLOW_ROWS};

/// Largest gRPC message the server decodes (a transaction is at most 16 KiB; a
/// batch of submissions is bounded by this).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Most transactions in one `SubmitTransactions` request.
pub const MAX_SUBMIT_BATCH: usize = 1000;

/// Most entries of an account history in one response.
pub const MAX_HISTORY: usize = 1000;

pub struct LedgerService {
    node: Arc<Node>,
    submissions: SubmissionQueue,
    simulations: Arc<tokio::sync::Semaphore>,
}

/// Most dry runs (`SimulateTransaction`) in progress at once on a node; each copies
/// the state, so more are pushed back with `SIMULATION_BUSY` (retry later).
pub const MAX_SIMULATIONS: usize = 2;

impl LedgerService {
    /// The service; spawns, on the current tokio runtime, the task that admits
    /// single submissions (it ends when the service is dropped).
    pub fn new(node: Arc<Node>) -> Self {
        LedgerService {
            submissions: SubmissionQueue::start(Arc::clone(&node)),
            node,
            simulations: Arc::new(tokio::sync::Semaphore::new(MAX_SIMULATIONS)),
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
        match self.submissions.submit(raw).await {
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
        let req = request.into_inner();
        let (height, asked) = if req.block_hash.is_empty() {
            (req.height, format!("at height {}", req.height))
        } else {
            let hash = hash_arg(&req.block_hash, "block_hash")?;
            let asked = format!("with hash {}", hex::encode(hash));
            match self.node.height_of_block(&hash).map_err(internal)? {
                Some(h) => (h, asked),
                None => return Err(unknown_block(&asked)),
            }
        };
        self.node
            .block(height)
            .map_err(internal)?
            .map(Response::new)
            .ok_or_else(|| unknown_block(&asked))
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
        trails::account_history(&self.node, request.get_ref()).map(Response::new)
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

    async fn simulate_transaction(
        &self,
        request: Request<pb::SimulateTransactionRequest>,
    ) -> Result<Response<pb::SimulateTransactionResponse>, Status> {
        let raw = request.into_inner().transaction;
        let Ok(permit) = Arc::clone(&self.simulations).try_acquire_owned() else {
            return Err(refusal_status(
                Code::ResourceExhausted,
                "SIMULATION_BUSY",
                &format!(
                    "{MAX_SIMULATIONS} dry runs are already in progress on this node; retry shortly"
                ),
            ));
        };
        let tx_hash = crate::crypto::sha256(&raw).to_vec();
        let node = Arc::clone(&self.node);
        let result = tokio::task::spawn_blocking(move || {
            let result = node.simulate(&raw);
            drop(permit);
            result
        })
        .await
        .map_err(|e| Status::internal(format!("the dry-run task failed: {e}")))?;
        let simulation = result.map_err(|e| submit_status(&e))?;
        Ok(Response::new(pb::SimulateTransactionResponse {
            tx_hash,
            signature_verified: simulation.signature_verified,
            receipt: Some(wire::receipt(simulation.receipt)),
            timestamp_ms: simulation.timestamp_ms,
        }))
    }

    async fn list_parties(
        &self,
        request: Request<pb::ListPartiesRequest>,
    ) -> Result<Response<pb::ListPartiesResponse>, Status> {
        let chain = self.node.chain().map_err(internal)?;
        lists::parties(chain.state(), request.get_ref()).map(Response::new)
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let chain = self.node.chain().map_err(internal)?;
        lists::projects(chain.state(), request.get_ref()).map(Response::new)
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let chain = self.node.chain().map_err(internal)?;
        lists::accounts(chain.state(), request.get_ref()).map(Response::new)
    }

    async fn get_project_history(
        &self,
        request: Request<pb::GetProjectHistoryRequest>,
    ) -> Result<Response<pb::GetProjectHistoryResponse>, Status> {
        trails::project_history(&self.node, request.get_ref()).map(Response::new)
    }

    async fn get_flows(
        &self,
        request: Request<pb::GetFlowsRequest>,
    ) -> Result<Response<pb::GetFlowsResponse>, Status> {
        trails::flows(&self.node, request.get_ref()).map(Response::new)
    }

    async fn get_status(
        &self,
        _request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::GetStatusResponse>, Status> {
        let mempool_size = u32::try_from(self.node.mempool_len()).unwrap_or(u32::MAX);
        let health = self.node.health();
        let peers = |family: &prometheus_client::metrics::family::Family<
            crate::metrics::SwarmLabel,
            prometheus_client::metrics::gauge::Gauge,
        >,
                     swarm: &str| {
            let label = crate::metrics::SwarmLabel {
                swarm: swarm.to_owned(),
            };
            u32::try_from(family.get_or_create(&label).get()).unwrap_or(0)
        };
        let metrics = self.node.metrics();
        let chain = self.node.chain().map_err(internal)?;
        let validators = &chain.state().governance().validators;
        let own_key = self
            .node
            .validator_key()
            .map(|k| k.verifying_key().to_bytes());
        let validator_position = validators
            .iter()
            .position(|v| Some(v.key) == own_key)
            .map_or(0, |i| u32::try_from(i + 1).unwrap_or(u32::MAX));
        let meta = chain.state().meta();
        Ok(Response::new(pb::GetStatusResponse {
            chain_id: meta.chain_id.clone(),
            genesis_hash: chain.genesis_hash().to_vec(),
            height: meta.height,
            latest_block_hash: meta.last_block_hash.to_vec(),
            latest_block_time_ms: meta.time_ms,
            state_root: chain.state_root().to_vec(),
            mempool_size,
            role: health.role.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_in_force: chain
                .state()
                .governance()
                .protocol_in_force_ms
                .map(crate::ledger::calendar::format_date)
                .unwrap_or_default(),
            last_commit_age_ms: health
                .last_commit_age
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            validator_count: u32::try_from(validators.len()).unwrap_or(u32::MAX),
            validator_position,
            gossip_peers_connected: peers(&metrics.peers_connected, "gossip"),
            gossip_peers_configured: peers(&metrics.peers_configured, "gossip"),
            consensus_peers_configured: peers(&metrics.peers_configured, "consensus"),
            sync_state: health.sync_state.to_owned(),
            behind: health.behind,
            last_fault: health.last_fault,
            serving: health.serving,
        }))
    }
}

fn unknown_block(asked: &str) -> Status {
    refusal_status(
        Code::NotFound,
        "UNKNOWN_BLOCK",
        &format!("no committed block {asked}"),
    )
}
