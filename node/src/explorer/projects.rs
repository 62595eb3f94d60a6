//! The projects pages: JI projects (Art. 6: ERUs converted by the host Party) and CDM
//! project activities (Art. 12: CERs issued by the executive board, a share of proceeds
//! to the Adaptation Fund, Art. 12.8), each with its trail of issuances.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use kyoto_proto::v1::{self as pb, ledger_server::Ledger};
use maud::html;

use super::api::{Page, json};
use super::charts::thousands;
use super::pages::{page, receipt_cells, render, short, when};
use super::{Freshness, MAX_PAGE, Web, WebError, bounded};
use crate::ledger::types::{AccountId, AccountKind};

impl Web {
    pub(crate) async fn projects(&self, page: &Page) -> Result<pb::ListProjectsResponse, WebError> {
        let request = pb::ListProjectsRequest {
            page_size: page.limit(MAX_PAGE),
            page_token: page.token()?,
        };
        self.read(|l, r| async move { l.list_projects(r).await }, request)
            .await
    }

    pub(crate) async fn project(&self, id: &str) -> Result<pb::GetProjectResponse, WebError> {
        let project = bounded(id, "the project id")?;
        self.read(
            |l, r| async move { l.get_project(r).await },
            pb::GetProjectRequest { project },
        )
        .await
    }

    /// A page of a project's trail (50 entries by default, at most [`MAX_PAGE`]).
    pub(crate) async fn project_history(
        &self,
        id: &str,
        page: &Page,
    ) -> Result<pb::GetProjectHistoryResponse, WebError> {
        let request = pb::GetProjectHistoryRequest {
            project: bounded(id, "the project id")?,
            limit: page.limit.unwrap_or(50).clamp(1, MAX_PAGE),
            page_token: page.token()?,
        };
        self.read(
            |l, r| async move { l.get_project_history(r).await },
            request,
        )
        .await
    }

    /// The totals of a project's whole trail, read in pages of the gRPC maximum, up to
    /// [`MAX_TRAIL_READ`] entries; `false` when the trail is longer (the totals are then
    /// those of its latest entries).
    pub(crate) async fn project_totals(&self, id: &str) -> Result<(TrailTotals, bool), WebError> {
        let mut all = TrailTotals::default();
        let mut page_token = String::new();
        for _ in 0..MAX_TRAIL_READ / 1000 {
            let request = pb::GetProjectHistoryRequest {
                project: bounded(id, "the project id")?,
                limit: 1000,
                page_token,
            };
            let trail = self
                .read(
                    |l, r| async move { l.get_project_history(r).await },
                    request,
                )
                .await?;
            all.add(&totals(&trail.entries));
            if trail.next_page_token.is_empty() {
                return Ok((all, true));
            }
            page_token = trail.next_page_token;
        }
        Ok((all, false))
    }
}

/// Most trail entries a project's page adds up.
pub(crate) const MAX_TRAIL_READ: usize = 20_000;

/// What a project's trail adds up to.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TrailTotals {
    /// CERs issued (Art. 12), the share of proceeds included.
    pub(crate) issued: u64,
    /// Of those, the share of proceeds credited to the Adaptation Fund (Art. 12.8).
    pub(crate) share_of_proceeds: u64,
    /// CERs forwarded from the CDM registry to Parties' accounts.
    pub(crate) forwarded: u64,
    /// ERUs converted by the host Party (Art. 6).
    pub(crate) converted: u64,
}

impl TrailTotals {
    fn add(&mut self, other: &TrailTotals) {
        self.issued = self.issued.saturating_add(other.issued);
        self.share_of_proceeds = self
            .share_of_proceeds
            .saturating_add(other.share_of_proceeds);
        self.forwarded = self.forwarded.saturating_add(other.forwarded);
        self.converted = self.converted.saturating_add(other.converted);
    }
}

fn is_adaptation_fund(account: &str) -> bool {
    AccountId::parse(account).is_ok_and(|a| a.kind == AccountKind::AdaptationFund)
}

pub(crate) fn totals(entries: &[pb::HistoryEntry]) -> TrailTotals {
    let mut t = TrailTotals::default();
    for e in entries {
        let Some(pb::receipt::Outcome::Applied(a)) =
            e.receipt.as_ref().and_then(|r| r.outcome.as_ref())
        else {
            continue;
        };
        match a.kind.as_str() {
            "cer_issuance" => {
                t.issued = t.issued.saturating_add(a.amount);
                let share: u64 = a
                    .credited
                    .iter()
                    .filter(|c| is_adaptation_fund(&c.account))
                    .map(|c| c.amount)
                    .sum();
                t.share_of_proceeds = t.share_of_proceeds.saturating_add(share);
            }
            "cer_forwarding" => t.forwarded = t.forwarded.saturating_add(a.amount),
            "eru_conversion" => t.converted = t.converted.saturating_add(a.amount),
            _ => {}
        }
    }
    t
}

pub(crate) async fn projects_page(State(web): State<Web>, Query(q): Query<Page>) -> Response {
    let result = async {
        let s = web.status().await?;
        let list = web.projects(&q).await?;
        let body = html! {
            h1 { "Projects" }
            p { "Joint implementation projects (Art. 6: ERUs converted by the host Party) and CDM project activities (Art. 12: CERs issued by the executive board, a share of proceeds to the Adaptation Fund)." }
            div class="scroll" { table id="projects" {
                thead { tr { th { "Project" } th { "Kind" } th { "Host" } th { "Acquirer" } th { "Approved by host" } th { "Approved by acquirer" } th { "Participants" } } }
                tbody { @for p in &list.projects { tr {
                    td { a href={ "/projects/" (p.project) } { (p.project) } } td { (p.kind) }
                    td { a href={ "/parties/" (p.host) } { (p.host) } }
                    td { @if !p.acquirer.is_empty() { a href={ "/parties/" (p.acquirer) } { (p.acquirer) } } }
                    td { (if p.host_approved { "yes" } else { "no" }) } td { (if p.acquirer_approved { "yes" } else { "no" }) }
                    td { (p.participants.join(", ")) }
                } } }
            } }
            @if !list.next_page_token.is_empty() {
                nav class="pages" { a href={ "/projects?page_token=" (list.next_page_token) } { "More projects →" } }
            }
        };
        Ok(page("Projects", Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

pub(crate) async fn project_page(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(q): Query<Page>,
) -> Response {
    let result = async {
        let s = web.status().await?;
        let p = web.project(&id).await?;
        let trail = web.project_history(&p.project, &q).await?;
        let (t, complete) = web.project_totals(&p.project).await?;
        let body = html! {
            h1 { "Project " (p.project) }
            dl {
                dt { "Kind" } dd { (if p.kind == "ji" { "joint implementation (Art. 6)" } else { "clean development mechanism (Art. 12)" }) }
                dt { "Host Party" } dd { a href={ "/parties/" (p.host) } { (p.host) } }
                @if !p.acquirer.is_empty() { dt { "Acquiring Party" } dd { a href={ "/parties/" (p.acquirer) } { (p.acquirer) } } }
                dt { "Approved" } dd { "by the host: " (if p.host_approved { "yes" } else { "no" })
                    @if !p.acquirer.is_empty() { "; by the acquirer: " (if p.acquirer_approved { "yes" } else { "no" }) } }
                @if !p.participants.is_empty() { dt { "Participants" } dd { (p.participants.join(", ")) } }
            }
            h2 { "Totals" @if !complete { " of the latest " (thousands(MAX_TRAIL_READ as u64)) " entries" } }
            div class="scroll" { table id="totals" {
                thead { tr { th { "What" } th class="n" { "Units" } } }
                tbody {
                    @if p.kind == "ji" {
                        tr { td { "ERUs converted by the host Party (Art. 6)" } td class="n" { (thousands(t.converted)) } }
                    } @else {
                        tr { td { "CERs issued (Art. 12)" } td class="n" { (thousands(t.issued)) } }
                        tr { td { "Share of proceeds to the Adaptation Fund (Art. 12.8)" } td class="n" { (thousands(t.share_of_proceeds)) } }
                        tr { td { "CERs forwarded to Parties' accounts" } td class="n" { (thousands(t.forwarded)) } }
                    }
                }
            } }
            h2 { "Issuances and movements (newest first)" }
            div class="scroll" { table id="trail" {
                thead { tr { th { "Height" } th { "Time" } th { "Transaction" } th { "Outcome" } th class="n" { "Units" } th { "From" } th { "To" } th { "Credited" } } }
                tbody { @for e in &trail.entries { @if let Some(r) = &e.receipt { tr {
                    td { a href={ "/blocks/" (e.height) } { (e.height) } } td { (when(e.timestamp_ms)) }
                    td class="hash" { a href={ "/tx/" (hex::encode(&r.tx_hash)) } { (short(&r.tx_hash)) } }
                    (receipt_cells(r))
                    td { @if let Some(pb::receipt::Outcome::Applied(a)) = &r.outcome {
                        @for (i, c) in a.credited.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href={ "/accounts/" (c.account) } { (c.account) } " " (thousands(c.amount))
                            @if is_adaptation_fund(&c.account) { " (share of proceeds)" }
                        }
                    } }
                } } } }
            } }
            @if !trail.next_page_token.is_empty() {
                nav class="pages" { a href={ "/projects/" (p.project) "?page_token=" (trail.next_page_token) } { "Older entries →" } }
            }
        };
        Ok(page(&format!("Project {}", p.project), Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

pub(crate) async fn projects_api(State(web): State<Web>, Query(q): Query<Page>) -> Response {
    json(web.projects(&q).await, Freshness::Current)
}

pub(crate) async fn project_api(State(web): State<Web>, Path(id): Path<String>) -> Response {
    json(web.project(&id).await, Freshness::Current)
}

pub(crate) async fn project_history_api(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(q): Query<Page>,
) -> Response {
    json(web.project_history(&id, &q).await, Freshness::Current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, amount: u64, credited: &[(&str, u64)]) -> pb::HistoryEntry {
        pb::HistoryEntry {
            receipt: Some(pb::Receipt {
                outcome: Some(pb::receipt::Outcome::Applied(pb::Applied {
                    kind: kind.into(),
                    amount,
                    credited: credited
                        .iter()
                        .map(|(a, n)| pb::AccountAmount {
                            account: (*a).into(),
                            amount: *n,
                        })
                        .collect(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn totals_count_the_share_of_proceeds_by_the_fund_account() {
        let entries = [
            entry(
                "cer_issuance",
                1000,
                &[("CDM-500-1", 980), ("CDM-510-1", 20)],
            ),
            entry("cer_forwarding", 300, &[("JPN-100-1", 300)]),
            entry("cer_issuance", 51, &[("CDM-500-1", 49), ("CDM-510-1", 2)]),
            entry("eru_conversion", 7, &[]),
            entry("external_transfer", 99, &[]),
        ];
        assert_eq!(
            totals(&entries),
            TrailTotals {
                issued: 1051,
                share_of_proceeds: 22,
                forwarded: 300,
                converted: 7,
            }
        );
    }
}
