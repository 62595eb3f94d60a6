//! The explorer's JSON API, `/api/v1/…`: the gRPC read methods' answers in the
//! protobuf JSON mapping, with ids (hashes, keys, signatures) in hex as the CLI
//! shows them. Errors are `{"code": …, "message": …}` with an HTTP status.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kyoto_proto::v1::{self as pb, ledger_server::Ledger};
use serde::{Deserialize, Serialize};

use super::{Freshness, MAX_PAGE, Web, WebError, bounded, with_headers};

/// A JSON answer with its cache headers.
pub(crate) fn json<T: Serialize>(result: Result<T, WebError>, freshness: Freshness) -> Response {
    let (status, value, freshness) = match result.and_then(|v| {
        serde_json::to_value(&v).map_err(|e| {
            WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string())
        })
    }) {
        Ok(mut v) => {
            kyoto_client::json::ids_in_hex(&mut v);
            (StatusCode::OK, v, freshness)
        }
        Err(e) => (
            e.status,
            serde_json::json!({ "code": e.code, "message": e.message }),
            Freshness::Current,
        ),
    };
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    with_headers(response, freshness)
}

/// `?limit=&page_token=` (and `?before=` for blocks).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Page {
    pub(crate) limit: Option<u32>,
    pub(crate) page_token: Option<String>,
    pub(crate) before: Option<u64>,
}

impl Page {
    pub(crate) fn limit(&self, default: u32) -> u32 {
        self.limit.unwrap_or(default).clamp(1, MAX_PAGE)
    }
    pub(crate) fn token(&self) -> Result<String, WebError> {
        bounded(self.page_token.as_deref().unwrap_or(""), "page_token")
    }
}

pub(crate) async fn status(State(web): State<Web>) -> Response {
    json(web.status().await, Freshness::Current)
}

pub(crate) async fn validators(State(web): State<Web>) -> Response {
    json(web.validators().await, Freshness::Current)
}

pub(crate) async fn parties(State(web): State<Web>, Query(page): Query<Page>) -> Response {
    let result = async {
        let request = pb::ListPartiesRequest {
            page_size: page.limit(MAX_PAGE),
            page_token: page.token()?,
        };
        web.read(|l, r| async move { l.list_parties(r).await }, request)
            .await
    };
    json(result.await, Freshness::Current)
}

pub(crate) async fn party(State(web): State<Web>, Path(code): Path<String>) -> Response {
    json(web.party(&code).await, Freshness::Current)
}

pub(crate) async fn account(State(web): State<Web>, Path(id): Path<String>) -> Response {
    json(web.account(&id).await, Freshness::Current)
}

pub(crate) async fn history(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Response {
    json(web.history(&id, &page, MAX_PAGE).await, Freshness::Current)
}

pub(crate) async fn blocks(State(web): State<Web>, Query(page): Query<Page>) -> Response {
    json(web.recent_blocks(&page).await, Freshness::Current)
}

pub(crate) async fn block(State(web): State<Web>, Path(id): Path<String>) -> Response {
    json(web.block(&id).await, Freshness::Immutable)
}

pub(crate) async fn transaction(State(web): State<Web>, Path(hash): Path<String>) -> Response {
    json(web.transaction(&hash).await, Freshness::Current)
}

/// One row of the recent blocks.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockRow {
    pub(crate) height: u64,
    pub(crate) block_hash: String,
    pub(crate) timestamp_ms: i64,
    pub(crate) transactions: usize,
    pub(crate) refused: usize,
    pub(crate) signatures: usize,
}

/// A page of recent blocks, newest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BlockPage {
    pub(crate) height: u64,
    pub(crate) blocks: Vec<BlockRow>,
    /// `?before=` of the next page (older blocks); absent at height 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_before: Option<u64>,
}

/// The reads the pages and the API share.
impl Web {
    pub(crate) async fn validators(&self) -> Result<pb::ListValidatorsResponse, WebError> {
        self.read(
            |l, r| async move { l.list_validators(r).await },
            pb::ListValidatorsRequest {},
        )
        .await
    }

    pub(crate) async fn party(&self, code: &str) -> Result<pb::GetPartyResponse, WebError> {
        let code = bounded(code, "the Party code")?;
        self.read(
            |l, r| async move { l.get_party(r).await },
            pb::GetPartyRequest { code },
        )
        .await
    }

    /// Every Party, in pages of the gRPC list.
    pub(crate) async fn all_parties(&self) -> Result<Vec<pb::PartySummary>, WebError> {
        let mut out = Vec::new();
        let mut page_token = String::new();
        // The Parties are a bounded set (at most every State of the world); the loop
        // is bounded all the same.
        for _ in 0..64 {
            let page = self
                .read(
                    |l, r| async move { l.list_parties(r).await },
                    pb::ListPartiesRequest {
                        page_size: MAX_PAGE,
                        page_token,
                    },
                )
                .await?;
            out.extend(page.parties);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        Ok(out)
    }

    /// Every Party's view and the status of the height it was read at. `exact`: all
    /// read at that one height (see [`Web::at_one_height`]; `503 CHAIN_MOVING` if blocks
    /// keep committing); otherwise read from that height on, as a page may. Kept until a
    /// block commits.
    pub(crate) async fn every_party(&self, exact: bool) -> Result<super::PartiesAt, WebError> {
        let height = self.status().await?.height;
        let cached = self.parties.lock().ok().and_then(|c| c.clone());
        if let Some(c) = cached.filter(|c| c.at.height == height && (c.exact || !exact)) {
            return Ok(c);
        }
        let read_all = || async {
            let mut views = Vec::new();
            for summary in self.all_parties().await? {
                views.push(self.party(&summary.code).await?);
            }
            Ok(views)
        };
        let (views, at, exact) = if exact {
            let (views, at) = self.at_one_height(read_all).await?;
            (views, at, true)
        } else {
            let at = self.status().await?;
            let views = read_all().await?;
            let still = self.status().await?.height == at.height;
            (views, at, still)
        };
        let fresh = super::PartiesAt {
            views: std::sync::Arc::new(views),
            at,
            exact,
        };
        if let Ok(mut c) = self.parties.lock() {
            *c = Some(fresh.clone());
        }
        Ok(fresh)
    }

    pub(crate) async fn account(&self, id: &str) -> Result<pb::GetAccountResponse, WebError> {
        let account_id = bounded(id, "the account id")?;
        self.read(
            |l, r| async move { l.get_account(r).await },
            pb::GetAccountRequest { account_id },
        )
        .await
    }

    /// A page of a Party's accounts (`page_token` empty for the first).
    pub(crate) async fn party_accounts(
        &self,
        party: &str,
        page_token: String,
    ) -> Result<pb::ListAccountsResponse, WebError> {
        self.read(
            |l, r| async move { l.list_accounts(r).await },
            pb::ListAccountsRequest {
                party: bounded(party, "the Party code")?,
                page_size: MAX_PAGE,
                page_token: bounded(&page_token, "page_token")?,
                ..Default::default()
            },
        )
        .await
    }

    /// A page of an account's audit trail: `page.limit` entries (50 by default), at
    /// most `max` (the pages' [`MAX_PAGE`]; a report reads the gRPC maximum).
    pub(crate) async fn history(
        &self,
        id: &str,
        page: &Page,
        max: u32,
    ) -> Result<pb::GetAccountHistoryResponse, WebError> {
        let request = pb::GetAccountHistoryRequest {
            account_id: bounded(id, "the account id")?,
            limit: page.limit.unwrap_or(50).clamp(1, max),
            page_token: page.token()?,
        };
        self.read(
            |l, r| async move { l.get_account_history(r).await },
            request,
        )
        .await
    }

    pub(crate) async fn block_at(&self, height: u64) -> Result<pb::GetBlockResponse, WebError> {
        self.read(
            |l, r| async move { l.get_block(r).await },
            pb::GetBlockRequest {
                height,
                ..Default::default()
            },
        )
        .await
    }

    /// A committed block by height or by block hash (64 hex digits).
    pub(crate) async fn block(&self, id: &str) -> Result<pb::GetBlockResponse, WebError> {
        let id = bounded(id, "the block")?;
        if let Ok(height) = id.parse::<u64>() {
            return self.block_at(height).await;
        }
        let block_hash = hex::decode(&id)
            .ok()
            .filter(|h| h.len() == 32)
            .ok_or_else(|| {
                WebError::new(
                    StatusCode::BAD_REQUEST,
                    "MALFORMED",
                    "a block is named by its height or its hash (64 hex digits)",
                )
            })?;
        self.read(
            |l, r| async move { l.get_block(r).await },
            pb::GetBlockRequest {
                block_hash,
                ..Default::default()
            },
        )
        .await
    }

    pub(crate) async fn recent_blocks(&self, page: &Page) -> Result<BlockPage, WebError> {
        let height = self.status().await?.height;
        let top = page
            .before
            .map_or(height, |b| b.saturating_sub(1).min(height));
        let limit = u64::from(page.limit(20));
        let lowest = top.saturating_sub(limit - 1).max(1);
        let mut blocks = Vec::new();
        for h in (lowest..=top).rev() {
            let b = self.block_at(h).await?;
            let header = b.block.as_ref().and_then(|b| b.header.clone());
            blocks.push(BlockRow {
                height: h,
                block_hash: hex::encode(&b.block_hash),
                timestamp_ms: header.map_or(0, |h| h.timestamp_ms),
                transactions: b.transaction_hashes.len(),
                refused: b
                    .receipts
                    .iter()
                    .filter(|r| matches!(r.outcome, Some(pb::receipt::Outcome::Refused(_))))
                    .count(),
                signatures: b.certificate.as_ref().map_or(0, |c| c.signatures.len()),
            });
        }
        Ok(BlockPage {
            height,
            blocks,
            next_before: (lowest > 1).then_some(lowest),
        })
    }

    pub(crate) async fn transaction(
        &self,
        hash: &str,
    ) -> Result<pb::GetTransactionResponse, WebError> {
        let tx_hash = hex::decode(bounded(hash, "the transaction hash")?).map_err(|_| {
            WebError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED",
                "a transaction hash is 64 hex digits",
            )
        })?;
        self.read(
            |l, r| async move { l.get_transaction(r).await },
            pb::GetTransactionRequest { tx_hash },
        )
        .await
    }

    pub(crate) async fn compliance(
        &self,
        party: &str,
        period: u32,
    ) -> Result<pb::GetComplianceResponse, WebError> {
        self.read(
            |l, r| async move { l.get_compliance(r).await },
            pb::GetComplianceRequest {
                party: bounded(party, "the Party code")?,
                period,
            },
        )
        .await
    }
}
