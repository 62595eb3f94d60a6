//! The public window onto the ledger (`kyotod --http-addr`): a read-only web explorer
//! rendered on the server (`pages.rs`, `parties.rs`, `governance.rs`, `projects.rs`, `flows.rs`; pictures as inline SVG in `charts.rs`) and the
//! JSON API the pages are made from (`api.rs`, under `/api/v1/`), and transparency
//! reports to download (`reports.rs`, `yearly.rs`).
//!
//! Every page and every API answer comes from the node's gRPC read methods
//! ([`LedgerService`]), so that what the explorer shows is what `kyoto` shows: the
//! committed state. Read-only by construction: the router has GET routes only, and
//! none of them reaches a method that writes. Every list is paginated and bounded,
//! every path segment and query is bounded in length, every value shown is escaped
//! (maud escapes all it renders), and the pages load nothing from elsewhere.

mod api;
mod charts;
mod flows;
mod governance;
mod pages;
mod parties;
mod projects;
mod reports;
mod yearly;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kyoto_proto::v1::ledger_server::Ledger;
use tokio::sync::watch;
use tonic::{Code, Request};

use crate::node::Node;
use crate::rpc::LedgerService;

/// Most requests the explorer serves at once (more wait their turn).
pub const MAX_CONCURRENT_REQUESTS: usize = 64;
/// Most requests at once for the pages that read every Party (the Parties' table and
/// the reports: one `GetParty` per Party each).
pub const MAX_HEAVY_REQUESTS: usize = 2;
/// Longest path segment or query value taken (a longer one is `400 TOO_LONG`).
pub const MAX_ARG_BYTES: usize = 128;
/// Most rows of a list in one page or API answer.
pub const MAX_PAGE: u32 = 100;
/// How long a request may take before it is answered `503`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the handlers share: the node's read methods.
#[derive(Clone)]
pub(crate) struct Web {
    ledger: Arc<LedgerService>,
    heavy: Arc<tokio::sync::Semaphore>,
    /// Every Party's view as read at one height (the Parties' table and the positions
    /// report), kept until a block commits.
    parties: Arc<std::sync::Mutex<Option<PartiesAt>>>,
}

/// Every Party's `GetParty` answer, read at the height of `at` (`exact`), or from it on.
#[derive(Clone)]
pub(crate) struct PartiesAt {
    pub(crate) views: Arc<Vec<kyoto_proto::v1::GetPartyResponse>>,
    pub(crate) at: kyoto_proto::v1::GetStatusResponse,
    pub(crate) exact: bool,
}

/// A request the explorer refuses or cannot answer: an HTTP status and a stable code.
#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    code: String,
    message: String,
}

impl WebError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        WebError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn from_status(s: &tonic::Status) -> Self {
        let status = match s.code() {
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                StatusCode::BAD_REQUEST
            }
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // The gRPC message is `CODE: human message`.
        let (code, message) = match s.message().split_once(": ") {
            Some((c, m)) if c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_') => {
                (c.to_owned(), m.to_owned())
            }
            _ => ("INTERNAL".to_owned(), s.message().to_owned()),
        };
        WebError {
            status,
            code,
            message,
        }
    }
}

/// A path segment or query value, bounded in length.
pub(crate) fn bounded(value: &str, what: &str) -> Result<String, WebError> {
    if value.len() > MAX_ARG_BYTES {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            "TOO_LONG",
            format!("{what} is longer than {MAX_ARG_BYTES} bytes"),
        ));
    }
    Ok(value.to_owned())
}

impl Web {
    /// Calls a read method of the gRPC service.
    pub(crate) async fn read<T, R, F>(
        &self,
        f: impl FnOnce(Arc<LedgerService>, Request<T>) -> F,
        request: T,
    ) -> Result<R, WebError>
    where
        F: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let answer = f(Arc::clone(&self.ledger), Request::new(request)).await;
        // The read methods work without waiting: give the runtime's other tasks (and
        // this request's timeout) a turn between the reads of a page.
        tokio::task::yield_now().await;
        answer
            .map(tonic::Response::into_inner)
            .map_err(|s| WebError::from_status(&s))
    }

    /// A turn at the pages that read every Party (the table, the reports): at most
    /// [`MAX_HEAVY_REQUESTS`] at once; more wait, within the request's timeout.
    pub(crate) async fn heavy(&self) -> Result<tokio::sync::OwnedSemaphorePermit, WebError> {
        Arc::clone(&self.heavy).acquire_owned().await.map_err(|_| {
            WebError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SHUTTING_DOWN",
                "the node is stopping",
            )
        })
    }

    pub(crate) async fn status(&self) -> Result<kyoto_proto::v1::GetStatusResponse, WebError> {
        self.read(
            |l, r| async move { l.get_status(r).await },
            kyoto_proto::v1::GetStatusRequest {},
        )
        .await
    }
}

/// How many times a report is read again when a block commits while it is read.
const READS: usize = 4;

impl Web {
    /// Reads `f` until no block committed during the read (at most [`READS`] times,
    /// else `503 CHAIN_MOVING`), so that the status returned is the exact stamp of
    /// what `f` read.
    pub(crate) async fn at_one_height<T, F, Fut>(
        &self,
        f: F,
    ) -> Result<(T, kyoto_proto::v1::GetStatusResponse), WebError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, WebError>>,
    {
        for _ in 0..READS {
            let before = self.status().await?;
            let value = f().await?;
            let after = self.status().await?;
            if after.height == before.height {
                return Ok((value, after));
            }
        }
        Err(WebError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CHAIN_MOVING",
            "blocks kept committing while the report was read; ask again",
        ))
    }
}

/// A file to download: its body, content type and file name.
pub(crate) fn download(body: String, content_type: &'static str, file_name: &str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Only characters that need no quoting in a header.
    let safe: String = file_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    with_headers(response, Freshness::Current)
}

/// Cache headers: a committed block never changes; everything else is the current
/// state, fresh for a couple of seconds.
#[derive(Clone, Copy)]
pub(crate) enum Freshness {
    Current,
    Immutable,
}

pub(crate) fn with_headers(mut response: Response, freshness: Freshness) -> Response {
    let h = response.headers_mut();
    let cache = match freshness {
        Freshness::Current => "public, max-age=2",
        Freshness::Immutable => "public, max-age=31536000, immutable",
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Nothing is loaded from elsewhere: inline styles and SVG only, no scripts.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn router(web: Web) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/", get(pages::overview))
        .route("/parties", get(parties::parties))
        .route("/parties/{code}", get(parties::party))
        .route("/accounts/{id}", get(pages::account))
        .route("/blocks", get(pages::blocks))
        .route("/blocks/{height}", get(pages::block))
        .route("/tx/{hash}", get(pages::transaction))
        .route("/governance", get(governance::proposals_page))
        .route("/governance/{id}", get(governance::proposal_page))
        .route("/projects", get(projects::projects_page))
        .route("/projects/{id}", get(projects::project_page))
        .route("/reports/{file}", get(reports::positions))
        .route("/reports/{party}/{file}", get(yearly::report))
        .route("/flows", get(pages::flows_page))
        .route("/search", get(pages::search))
        .route("/api/v1/status", get(api::status))
        .route("/api/v1/validators", get(api::validators))
        .route("/api/v1/parties", get(api::parties))
        .route("/api/v1/parties/{code}", get(api::party))
        .route("/api/v1/accounts/{id}", get(api::account))
        .route("/api/v1/accounts/{id}/history", get(api::history))
        .route("/api/v1/blocks", get(api::blocks))
        .route("/api/v1/blocks/{height}", get(api::block))
        .route("/api/v1/transactions/{hash}", get(api::transaction))
        .route("/api/v1/flows", get(flows::flows_api))
        .route("/api/v1/proposals", get(governance::proposals_api))
        .route("/api/v1/proposals/{id}", get(governance::proposal_api))
        .route("/api/v1/projects", get(projects::projects_api))
        .route("/api/v1/projects/{id}", get(projects::project_api))
        .route(
            "/api/v1/projects/{id}/history",
            get(projects::project_history_api),
        )
        .fallback(pages::not_found)
        .with_state(web)
        // One limit for the whole router (a `ConcurrencyLimitLayer` would be copied
        // into each route with a semaphore of its own).
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            MAX_CONCURRENT_REQUESTS,
        ))
}

/// Binds `addr` and serves the explorer until `stop` turns true; returns the
/// address bound.
pub async fn serve(
    node: &Arc<Node>,
    addr: SocketAddr,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let web = Web {
        ledger: Arc::new(LedgerService::new(Arc::clone(node))),
        heavy: Arc::new(tokio::sync::Semaphore::new(MAX_HEAVY_REQUESTS)),
        parties: Arc::default(),
    };
    let app = router(web).layer(axum::middleware::from_fn(timeout));
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the explorer stopped");
        }
    });
    Ok(local)
}

async fn timeout(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the request took too long\n",
        )
            .into_response(),
    }
}
