//! The explorer's pages, rendered on the server with maud (every value escaped),
//! styled inline, with no script and nothing loaded from elsewhere.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kyoto_proto::v1 as pb;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::api::Page;
use super::charts::thousands;
use super::flows::{Months, all_chart, month_before, month_label};
use super::{Freshness, Web, WebError, with_headers};
use crate::ledger::calendar::format_instant;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1b1b1b;background:#fafafa;line-height:1.45}
header{background:#17384a;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:500}
header .brand{font-size:1.15rem;font-weight:700;margin-right:.6rem}
header form{margin-left:auto}
header input{padding:.3rem .5rem;border-radius:4px;border:0;width:14rem;max-width:60vw}
main{padding:1rem;max-width:72rem;margin:0 auto}
h1{font-size:1.5rem;margin:.4rem 0 1rem}
h2{font-size:1.15rem;margin:1.6rem 0 .6rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;background:#fff;font-size:.92rem;min-width:100%}
th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap}
th{background:#eef2f4;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;background:#fff;padding:.8rem;border:1px solid #e3e3e3}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
code,.hash{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;overflow-wrap:anywhere}
.refused{color:#a01c2c}.applied{color:#21662f}
figure.chart{background:#fff;border:1px solid #e3e3e3;margin:1rem 0;padding:.6rem;max-width:46rem}
figcaption{font-weight:600;margin-bottom:.3rem}
a{color:#1f5f8b}
nav.pages{margin:.8rem 0}
footer{color:#666;font-size:.8rem;padding:1rem;text-align:center}
@media (max-width:40rem){main{padding:.6rem}th,td{padding:.3rem .4rem}header form{margin-left:0;width:100%}header input{width:100%;max-width:none}}
";

/// A page: the layout around `body`, with its cache headers.
pub(crate) fn page(title: &str, status: Option<&pb::GetStatusResponse>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Kyoto Ledger explorer" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a class="brand" href="/" { "Kyoto Ledger" }
                    a href="/parties" { "Parties" }
                    a href="/blocks" { "Blocks" }
                    a href="/governance" { "Governance" }
                    a href="/projects" { "Projects" }
                    a href="/flows" { "Flows" }
                    form action="/search" method="get" role="search" {
                        input type="search" name="q" placeholder="Party, account, height or hash" aria-label="Search" maxlength="128";
                    }
                }
                main { (body) }
                footer {
                    @if let Some(s) = status {
                        "Committed state at height " (s.height) " of " (s.chain_id)
                        ", state root " code { (short(&s.state_root)) } ". Served by this node from its own replica."
                    }
                }
            }
        }
    }
}

pub(crate) fn html_response(markup: Markup, freshness: Freshness) -> Response {
    let mut response = markup.into_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    with_headers(response, freshness)
}

pub(crate) fn error_page(e: WebError) -> Response {
    let body = html! {
        h1 { (e.status.as_u16()) " " (e.status.canonical_reason().unwrap_or("")) }
        p { code { (e.code) } ": " (e.message) }
        p { a href="/" { "Back to the overview" } }
    };
    let mut r = html_response(page("Not shown", None, body), Freshness::Current);
    *r.status_mut() = e.status;
    r
}

pub(crate) fn render(result: Result<Markup, WebError>, freshness: Freshness) -> Response {
    match result {
        Ok(m) => html_response(m, freshness),
        Err(e) => error_page(e),
    }
}

pub(crate) fn short(bytes: &[u8]) -> String {
    let h = hex::encode(bytes);
    if h.len() > 16 {
        format!("{}…", &h[..16])
    } else {
        h
    }
}

pub(crate) fn when(ms: i64) -> String {
    if ms == 0 {
        "—".to_owned()
    } else {
        format_instant(ms)
    }
}

/// A unit type's name as the treaty texts write it.
pub(crate) fn unit_name(t: i32) -> &'static str {
    match pb::UnitType::try_from(t).unwrap_or(pb::UnitType::Unspecified) {
        pb::UnitType::Aau => "AAU",
        pb::UnitType::Rmu => "RMU",
        pb::UnitType::EruFromAau => "ERU (from AAU)",
        pb::UnitType::EruFromRmu => "ERU (from RMU)",
        pb::UnitType::Cer => "CER",
        pb::UnitType::Tcer => "tCER",
        pb::UnitType::Lcer => "lCER",
        _ => "unit",
    }
}

pub(crate) async fn overview(State(web): State<Web>) -> Response {
    let result = async {
        let s = web.status().await?;
        let validators = web.validators().await?;
        let rate = web.blocks_per_sec(&s).await?;
        let flows = web.flows(&Default::default()).await?;
        let body = html! {
            h1 { "Kyoto Ledger: " (s.chain_id) }
            dl {
                dt { "Height" } dd { (s.height) " (" a href={ "/blocks/" (s.height) } { "latest block" } ")" }
                dt { "Latest block" } dd { (when(s.latest_block_time_ms)) }
                dt { "Blocks per second" } dd { (rate) " (over the last 20 blocks)" }
                dt { "Protocol in force (Art. 25)" } dd {
                    @if s.protocol_in_force.is_empty() { "not yet: the Art. 25.1 conditions are not met" }
                    @else { "since " (s.protocol_in_force) }
                }
                dt { "This node" } dd { (s.role) ", " (s.sync_state) }
                dt { "State root" } dd class="hash" { (hex::encode(&s.state_root)) }
            }
            (all_chart(&flows))
            p { a href="/flows" { "Every Party's transfers, month by month →" } }
            h2 { "Validators (" (validators.validators.len()) ")" }
            div class="scroll" { table {
                thead { tr { th { "Validator" } th { "Party" } th { "Key" } } }
                tbody { @for v in &validators.validators { tr {
                    td { (v.name) }
                    td { a href={ "/parties/" (v.party) } { (v.party) } }
                    td class="hash" { (short(&v.public_key)) }
                } } }
            } }
        };
        Ok(page("Overview", Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

pub(crate) fn receipt_cells(r: &pb::Receipt) -> Markup {
    html! {
        @match &r.outcome {
            Some(pb::receipt::Outcome::Applied(a)) => {
                td class="applied" { (a.kind) } td class="n" { (thousands(a.amount)) }
                td { @if !a.from_account.is_empty() { a href={ "/accounts/" (a.from_account) } { (a.from_account) } } }
                td { @if !a.to_account.is_empty() { a href={ "/accounts/" (a.to_account) } { (a.to_account) } } }
            }
            Some(pb::receipt::Outcome::Refused(x)) => {
                td class="refused" { "refused: " code { (x.code) } } td {} td colspan="2" { (x.message) }
            }
            None => { td {} td {} td {} td {} }
        }
    }
}

pub(crate) fn serials(blocks: &[pb::SerialBlock]) -> Markup {
    html! {
        div class="scroll" { table class="serials" {
            thead { tr { th { "Origin" } th { "Unit" } th { "Period" } th class="n" { "First serial" } th class="n" { "Last serial" } th class="n" { "Units" } th { "Project" } } }
            tbody { @for b in blocks { tr {
                td { (b.origin) } td { (unit_name(b.unit_type)) } td { (b.applicable_period) }
                td class="n" { (b.start) } td class="n" { (b.end) } td class="n" { (thousands(b.end.saturating_sub(b.start).saturating_add(1))) }
                td { (b.project) }
            } } }
        } }
    }
}

pub(crate) async fn account(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(page_q): Query<Page>,
) -> Response {
    let result = async {
        let s = web.status().await?;
        let a = web.account(&id).await?;
        let history = web.history(&a.account_id, &page_q, super::MAX_PAGE).await?;
        let body = html! {
            h1 { "Account " (a.account_id) }
            dl {
                dt { "Party" } dd { a href={ "/parties/" (a.party) } { (a.party) } }
                dt { "Type" } dd { (a.kind) }
                dt { "Holder" } dd { (a.holder_name) }
                dt { "Holder key" } dd class="hash" { (hex::encode(&a.holder_key)) }
                dt { "Units" } dd { (thousands(a.total)) }
            }
            h2 { "Holdings as serial ranges" }
            (serials(&a.serial_blocks))
            h2 { "Audit trail (newest first)" }
            div class="scroll" { table id="history" {
                thead { tr { th { "Height" } th { "Time" } th { "Transaction" } th { "Outcome" } th class="n" { "Units" } th { "From" } th { "To" } } }
                tbody { @for e in &history.entries { @if let Some(r) = &e.receipt { tr {
                    td { a href={ "/blocks/" (e.height) } { (e.height) } } td { (when(e.timestamp_ms)) }
                    td class="hash" { a href={ "/tx/" (hex::encode(&r.tx_hash)) } { (short(&r.tx_hash)) } }
                    (receipt_cells(r))
                } } } }
            } }
            @if !history.next_page_token.is_empty() {
                nav class="pages" { a href={ "/accounts/" (a.account_id) "?page_token=" (history.next_page_token) } { "Older entries →" } }
            }
        };
        Ok(page(&a.account_id, Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

pub(crate) async fn blocks(State(web): State<Web>, Query(page_q): Query<Page>) -> Response {
    let result = async {
        let s = web.status().await?;
        let recent = web.recent_blocks(&page_q).await?;
        let body = html! {
            h1 { "Blocks" }
            div class="scroll" { table id="blocks" {
                thead { tr { th class="n" { "Height" } th { "Time" } th { "Block hash" } th class="n" { "Transactions" } th class="n" { "Refused" } th class="n" { "Signatures" } } }
                tbody { @for b in &recent.blocks { tr {
                    td class="n" { a href={ "/blocks/" (b.height) } { (b.height) } } td { (when(b.timestamp_ms)) }
                    td class="hash" { (b.block_hash.get(..16).unwrap_or(&b.block_hash)) "…" }
                    td class="n" { (b.transactions) } td class="n" { (b.refused) } td class="n" { (b.signatures) }
                } } }
            } }
            @if let Some(before) = recent.next_before {
                nav class="pages" { a href={ "/blocks?before=" (before) } { "Older blocks →" } }
            }
        };
        Ok(page("Blocks", Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

pub(crate) async fn block(State(web): State<Web>, Path(height): Path<String>) -> Response {
    let result = async {
        let s = web.status().await?;
        let b = web.block(&height).await?;
        let validators = web.validators().await?;
        let header = b
            .block
            .as_ref()
            .and_then(|b| b.header.clone())
            .unwrap_or_default();
        let name_of = |key: &[u8]| {
            validators
                .validators
                .iter()
                .find(|v| v.public_key == key)
                .map(|v| format!("{} ({})", v.name, v.party))
                .unwrap_or_else(|| "a former validator".to_owned())
        };
        let body = html! {
            h1 { "Block " (header.height) }
            dl {
                dt { "Time" } dd { (when(header.timestamp_ms)) }
                dt { "Block hash" } dd class="hash" { (hex::encode(&b.block_hash)) }
                dt { "Parent" } dd class="hash" { @if header.height > 1 { a href={ "/blocks/" (header.height - 1) } { (hex::encode(&header.parent_hash)) } } @else { (hex::encode(&header.parent_hash)) } }
                dt { "State root after it" } dd class="hash" { (hex::encode(&b.state_root)) }
            }
            h2 { "Transactions (" (b.receipts.len()) ")" }
            div class="scroll" { table id="transactions" {
                thead { tr { th { "#" } th { "Transaction" } th { "Outcome" } th class="n" { "Units" } th { "From" } th { "To" } } }
                tbody { @for r in &b.receipts { tr {
                    td { (r.index) } td class="hash" { a href={ "/tx/" (hex::encode(&r.tx_hash)) } { (short(&r.tx_hash)) } }
                    (receipt_cells(r))
                } } }
            } }
            @if let Some(c) = &b.certificate {
                h2 { "Commit certificate: round " (c.round) ", " (c.signatures.len()) " of " (validators.validators.len()) " validators signed" }
                div class="scroll" { table id="signers" {
                    thead { tr { th { "Validator" } th { "Key" } } }
                    tbody { @for sig in &c.signatures { tr { td { (name_of(&sig.public_key)) } td class="hash" { (short(&sig.public_key)) } } } }
                } }
            }
        };
        Ok(page(&format!("Block {}", header.height), Some(&s), body))
    };
    // The page names the current validators and height too (the API's block is
    // immutable).
    render(result.await, Freshness::Current)
}

pub(crate) async fn transaction(State(web): State<Web>, Path(hash): Path<String>) -> Response {
    let result = async {
        let s = web.status().await?;
        let t = web.transaction(&hash).await?;
        let status =
            pb::TransactionStatus::try_from(t.status).unwrap_or(pb::TransactionStatus::Unknown);
        let body = html! {
            h1 { "Transaction" }
            dl {
                dt { "Hash" } dd class="hash" { (hex::encode(&t.tx_hash)) }
                dt { "Status" } dd { (match status {
                    pb::TransactionStatus::Committed => "committed",
                    pb::TransactionStatus::Pending => "not committed yet (waiting in a mempool)",
                    _ => "unknown to this node",
                }) }
                @if let Some(r) = &t.receipt {
                    dt { "Block" } dd { a href={ "/blocks/" (r.height) } { (r.height) } ", position " (r.index) }
                    dt { "Signer" } dd class="hash" { (hex::encode(&r.signer)) }
                    dt { "Nonce" } dd { (r.nonce) }
                }
            }
            @if let Some(r) = &t.receipt {
                h2 { "Receipt" }
                div class="scroll" { table id="receipt" {
                    thead { tr { th { "Outcome" } th class="n" { "Units" } th { "From" } th { "To" } } }
                    tbody { tr { (receipt_cells(r)) } }
                } }
                @if let Some(pb::receipt::Outcome::Applied(a)) = &r.outcome { @if !a.serials.is_empty() {
                    h2 { "Serial numbers" } (serials(&a.serials))
                } }
            }
        };
        Ok(page("Transaction", Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Search {
    q: Option<String>,
}

/// A Party code, an account or project id, a height, a transaction or block hash: to
/// its page.
pub(crate) async fn search(State(web): State<Web>, Query(q): Query<Search>) -> Response {
    let q = q.q.unwrap_or_default();
    let q = q.trim();
    if q.len() > super::MAX_ARG_BYTES {
        return error_page(WebError::new(
            StatusCode::BAD_REQUEST,
            "TOO_LONG",
            "the search is too long",
        ));
    }
    let to = if !q.is_empty() && q.chars().all(|c| c.is_ascii_digit()) {
        format!("/blocks/{q}")
    } else if q.len() == 64 && q.chars().all(|c| c.is_ascii_hexdigit()) {
        let hash = q.to_ascii_lowercase();
        // A transaction's hash, else a block's (a hash names one or the other).
        let known_tx = match web.transaction(&hash).await {
            Ok(t) => t.status != pb::TransactionStatus::Unknown as i32,
            Err(e) => return error_page(e),
        };
        match (known_tx, web.block(&hash).await) {
            (false, Ok(b)) => format!(
                "/blocks/{}",
                b.block.and_then(|b| b.header).map_or(0, |h| h.height)
            ),
            _ => format!("/tx/{hash}"),
        }
    } else if q.contains('-') {
        let q = q.to_ascii_uppercase();
        // Projects are `JI-0001` and `CDM-0001`; accounts have three parts.
        match q.split_once('-') {
            Some(("JI" | "CDM", n)) if !n.contains('-') => format!("/projects/{q}"),
            _ => format!("/accounts/{q}"),
        }
    } else if !q.is_empty() && q.chars().all(|c| c.is_ascii_alphabetic()) {
        format!("/parties/{}", q.to_ascii_uppercase())
    } else {
        return error_page(WebError::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED",
            "search for a Party code (JPN), an account id (JPN-100-1), a project (CDM-0001), a block height, or a transaction or block hash",
        ));
    };
    // Only our own paths, built from checked characters.
    let safe: String = to
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-'))
        .collect();
    Redirect::to(&safe).into_response()
}

pub(crate) async fn flows_page(State(web): State<Web>, Query(q): Query<Months>) -> Response {
    let result = async {
        let s = web.status().await?;
        let f = web.flows(&q).await?;
        let total = f.flows.iter().fold(0u64, |t, x| t.saturating_add(x.amount));
        let body = html! {
            h1 { "Units moved between Parties" }
            p { "External transfers from one Party's registry to another's (Art. 3.10, 3.11, 17), summed by calendar month (UTC) of the block that committed them: "
                (thousands(total)) " units in all from " (month_label(f.first_month)) " to " (month_label(f.last_month)) "." }
            (all_chart(&f))
            div class="scroll" { table id="flows" {
                thead { tr { th { "Month" } th { "From" } th { "To" } th class="n" { "Units" } } }
                tbody { @for x in f.flows.iter().rev().take(MAX_ROWS_SHOWN) { tr {
                    td { (month_label(x.month)) }
                    td { a href={ "/parties/" (x.from_party) } { (x.from_party) } }
                    td { a href={ "/parties/" (x.to_party) } { (x.to_party) } }
                    td class="n" { (thousands(x.amount)) }
                } } }
            } }
            @if f.flows.len() > MAX_ROWS_SHOWN {
                p { "The latest " (MAX_ROWS_SHOWN) " rows of " (f.flows.len()) "; the JSON has them all: " a href={ "/api/v1/flows?first=" (f.first_month) "&last=" (f.last_month) } { "/api/v1/flows" } "." }
            }
            nav class="pages" {
                "Other months: " a href={ "/flows?first=" (f.first_month.saturating_sub(200)) "&last=" (month_before(f.first_month)) } { "the two years before" }
            }
        };
        Ok(page("Units moved between Parties", Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

/// Most rows the flows page lists (the picture shows every month all the same).
const MAX_ROWS_SHOWN: usize = 500;

pub(crate) async fn not_found() -> Response {
    error_page(WebError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such page",
    ))
}

impl Web {
    /// Blocks per second over the last 20 blocks (by their timestamps).
    async fn blocks_per_sec(&self, s: &pb::GetStatusResponse) -> Result<String, WebError> {
        if s.height < 2 {
            return Ok("—".to_owned());
        }
        let from = s.height.saturating_sub(20).max(1);
        let t = |b: &pb::GetBlockResponse| {
            b.block
                .as_ref()
                .and_then(|b| b.header.as_ref())
                .map_or(0, |h| h.timestamp_ms)
        };
        let (old, new) = (self.block_at(from).await?, self.block_at(s.height).await?);
        let ms = t(&new).saturating_sub(t(&old));
        if ms <= 0 {
            return Ok("—".to_owned());
        }
        Ok(format!(
            "{:.2}",
            (s.height - from) as f64 * 1000.0 / ms as f64
        ))
    }
}
