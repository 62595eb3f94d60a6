//! The governance pages (proposals under Art. 20, 21 and 22: class, dates, tally with
//! each vote's weight, quorum, adoption, acceptances and entry into force).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kyoto_proto::v1::{self as pb, ledger_server::Ledger};
use maud::html;

use super::api::json;
use super::pages::{page, render};
use super::{Freshness, Web, WebError, bounded};

impl Web {
    pub(crate) async fn proposals(&self) -> Result<pb::ListProposalsResponse, WebError> {
        self.read(
            |l, r| async move { l.list_proposals(r).await },
            pb::ListProposalsRequest {},
        )
        .await
    }

    pub(crate) async fn proposal(&self, id: &str) -> Result<pb::ProposalView, WebError> {
        let id: u64 = bounded(id, "the proposal id")?.parse().map_err(|_| {
            WebError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED",
                "a proposal id is a number",
            )
        })?;
        self.read(
            |l, r| async move { l.get_proposal(r).await },
            pb::GetProposalRequest { id },
        )
        .await
    }
}

fn choice(c: i32) -> &'static str {
    match pb::VoteChoice::try_from(c).unwrap_or(pb::VoteChoice::Unspecified) {
        pb::VoteChoice::Yes => "yes",
        pb::VoteChoice::No => "no",
        pb::VoteChoice::Abstain => "abstain",
        _ => "—",
    }
}

pub(crate) async fn proposals_page(State(web): State<Web>) -> Response {
    let result = async {
        let s = web.status().await?;
        let list = web.proposals().await?;
        let body = html! {
            h1 { "Governance (" (list.proposals.len()) " proposals)" }
            p { "Amendments and decisions of the Meeting of the Parties (Art. 20, 21): yes, no and abstain count votes under Art. 22, a regional organization's vote counting for its member States that are Parties." }
            div class="scroll" { table id="proposals" {
                thead { tr { th { "#" } th { "Title" } th { "Class" } th { "Proposer" } th { "Voting" } th class="n" { "Yes" } th class="n" { "No" } th class="n" { "Abstain" } th class="n" { "Eligible" } th { "Outcome" } } }
                tbody { @for p in &list.proposals { tr {
                    td { a href={ "/governance/" (p.id) } { (p.id) } } td { (p.title) } td { (p.class) } td { (p.proposer) }
                    td { (p.voting_opens) " – " (p.voting_closes) }
                    td class="n" { (p.yes) } td class="n" { (p.no) } td class="n" { (p.abstain) } td class="n" { (p.eligible) }
                    td { (p.outcome) }
                } } }
            } }
        };
        Ok(page("Governance", Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

pub(crate) async fn proposal_page(State(web): State<Web>, Path(id): Path<String>) -> Response {
    let result = async {
        let s = web.status().await?;
        let p = web.proposal(&id).await?;
        let body = html! {
            h1 { "Proposal " (p.id) ": " (p.title) }
            dl {
                dt { "Class" } dd { (p.class) }
                dt { "Change" } dd { (p.change) }
                dt { "Proposed by" } dd { a href={ "/parties/" (p.proposer) } { (p.proposer) } ", " (p.submitted) }
                @if !p.party_concerned.is_empty() { dt { "Party concerned (Art. 21.7)" } dd { (p.party_concerned) (if p.consent { ", consented" } else { ", consent not given yet" }) } }
                dt { "Voting" } dd { (p.voting_opens) " – " (p.voting_closes) }
                dt { "Tally" } dd id="tally" { (p.yes) " yes, " (p.no) " no, " (p.abstain) " abstaining, of " (p.eligible) " Parties for which the Protocol is in force" }
                dt { "Outcome" } dd { (p.outcome) @if !p.adoption_method.is_empty() { " (" (p.adoption_method) ")" } @if !p.reason.is_empty() { ": " (p.reason) } }
                @if !p.three_fourths_reached.is_empty() { dt { "Three fourths accepted" } dd { (p.three_fourths_reached) } }
            }
            h2 { "Votes" }
            div class="scroll" { table id="votes" {
                thead { tr { th { "Party" } th { "Vote" } th class="n" { "Weight (Art. 22)" } } }
                tbody { @for v in &p.votes { tr {
                    td { a href={ "/parties/" (v.party) } { (v.party) } } td { (choice(v.choice)) } td class="n" { (v.weight) }
                } } }
            } }
            @if !p.acceptances.is_empty() || !p.non_acceptances.is_empty() {
                h2 { "Acceptances" }
                div class="scroll" { table id="acceptances" {
                    thead { tr { th { "Party" } th { "Accepted" } } }
                    tbody {
                        @for a in &p.acceptances { tr { td { (a.party) } td { (a.date) } } }
                        @for n in &p.non_acceptances { tr { td { (n) } td { "notified non-acceptance" } } }
                    }
                } }
            }
            @if !p.in_force.is_empty() {
                h2 { "Entry into force, by Party" }
                div class="scroll" { table id="in-force" {
                    thead { tr { th { "Party" } th { "In force from" } } }
                    tbody { @for a in &p.in_force { tr { td { (a.party) } td { (a.date) } } } }
                } }
            }
        };
        Ok(page(&format!("Proposal {}", p.id), Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

pub(crate) async fn proposals_api(State(web): State<Web>) -> Response {
    json(web.proposals().await, Freshness::Current)
}

pub(crate) async fn proposal_api(State(web): State<Web>, Path(id): Path<String>) -> Response {
    json(web.proposal(&id).await, Freshness::Current)
}
