//! The Parties' pages: the table of every Party (sortable) and one Party's page.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use kyoto_proto::v1 as pb;
use maud::html;
use serde::Deserialize;

use super::charts::{bars, thousands};
use super::pages::{page, render, unit_name};
use super::{Freshness, Web};

/// `?sort=` of the Parties' table, and its direction.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Sort {
    sort: Option<String>,
    desc: Option<bool>,
}

/// One row of the Parties' table.
struct PartyRow {
    party: pb::GetPartyResponse,
    held: [u64; 4],
    assigned: u64,
    acquired: u64,
    transferred: u64,
    headroom: i128,
}

const COLUMNS: [(&str, &str); 10] = [
    ("code", "Party"),
    ("status", "Status"),
    ("annex_b", "Annex B %"),
    ("assigned", "Assigned amount"),
    ("aau", "AAU"),
    ("eru", "ERU"),
    ("cer", "CER"),
    ("rmu", "RMU"),
    ("acquired", "Acquired (3.10)"),
    ("transferred", "Transferred (3.11)"),
];

pub(crate) async fn parties(State(web): State<Web>, Query(sort): Query<Sort>) -> Response {
    let result = async {
        let _turn = web.heavy().await?;
        let every = web.every_party(false).await?;
        let s = every.at.clone();
        let mut rows = Vec::new();
        for party in every.views.iter().cloned() {
            let mut held = [0u64; 4];
            for p in &party.positions {
                let i = match pb::UnitType::try_from(p.unit_type) {
                    Ok(pb::UnitType::Aau) => 0,
                    Ok(pb::UnitType::EruFromAau | pb::UnitType::EruFromRmu) => 1,
                    Ok(pb::UnitType::Cer | pb::UnitType::Tcer | pb::UnitType::Lcer) => 2,
                    _ => 3,
                };
                held[i] = held[i].saturating_add(p.held);
            }
            let sum = |f: fn(&pb::PeriodAccount) -> u64| {
                party.periods.iter().map(f).fold(0u64, u64::saturating_add)
            };
            let headroom = party
                .periods
                .iter()
                .map(|p| i128::from(p.held_for_reserve) - i128::from(p.reserve))
                .sum();
            rows.push(PartyRow {
                assigned: sum(|p| p.assigned_amount),
                acquired: sum(|p| p.acquired),
                transferred: sum(|p| p.transferred),
                held,
                headroom,
                party,
            });
        }
        let key = sort.sort.as_deref().unwrap_or("code");
        rows.sort_by(|a, b| {
            let n = |r: &PartyRow| -> i128 {
                match key {
                    "annex_b" => r.party.annex_b_percent.into(),
                    "assigned" => r.assigned.into(),
                    "aau" => r.held[0].into(),
                    "eru" => r.held[1].into(),
                    "cer" => r.held[2].into(),
                    "rmu" => r.held[3].into(),
                    "acquired" => r.acquired.into(),
                    "transferred" => r.transferred.into(),
                    "headroom" => r.headroom,
                    _ => 0,
                }
            };
            match key {
                "status" => a.party.status.cmp(&b.party.status),
                "code" => a.party.code.cmp(&b.party.code),
                _ => n(a).cmp(&n(b)),
            }
            .then_with(|| a.party.code.cmp(&b.party.code))
        });
        let desc = sort.desc.unwrap_or(false);
        if desc {
            rows.reverse();
        }
        let body = html! {
            h1 { "Parties (" (rows.len()) ")" }
            p { "Units held in each Party's registry by type, and the Art. 3.10–3.12 accounting: units acquired are added to the assigned amount, units transferred are subtracted. Click a heading to sort. Every Party's position by unit type and period, stamped with the height and state root: "
                a href="/reports/positions.csv" { "CSV" } ", " a href="/reports/positions.json" { "JSON" } "." }
            div class="scroll" { table id="parties" {
                thead { tr {
                    @for (k, name) in COLUMNS {
                        th class=(if k == "code" || k == "status" { "" } else { "n" }) {
                            a href={ "/parties?sort=" (k) (if k == key && !desc { "&desc=true" } else { "" }) } { (name) }
                        }
                    }
                    th class="n" { a href="/parties?sort=headroom" { "Reserve headroom" } }
                } }
                tbody { @for r in &rows { tr data-party=(r.party.code) {
                    td { a href={ "/parties/" (r.party.code) } { (r.party.code) } " " (r.party.name) }
                    td { (r.party.status) }
                    td class="n" { @if r.party.annex_b_percent > 0 { (r.party.annex_b_percent) } @else { "—" } }
                    td class="n" { (thousands(r.assigned)) }
                    @for h in r.held { td class="n" { (thousands(h)) } }
                    td class="n" { (thousands(r.acquired)) }
                    td class="n" { (thousands(r.transferred)) }
                    td class="n" { (thousands(r.headroom)) }
                } } }
            } }
        };
        Ok(page("Parties", Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

pub(crate) async fn party(State(web): State<Web>, Path(code): Path<String>) -> Response {
    let result = async {
        let s = web.status().await?;
        let p = web.party(&code).await?;
        let accounts = web.party_accounts(&p.code, String::new()).await?;
        let mut compliance = Vec::new();
        for period in &p.periods {
            compliance.push(web.compliance(&p.code, period.period).await?);
        }
        let flows = web.flows(&Default::default()).await?;
        let mut by_type: Vec<(String, u64)> = Vec::new();
        for pos in &p.positions {
            let name = unit_name(pos.unit_type).to_owned();
            match by_type.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => *v = v.saturating_add(pos.held),
                None => by_type.push((name, pos.held)),
            }
        }
        let body = html! {
            h1 { (p.name) " (" (p.code) ")" }
            dl {
                dt { "Status" } dd { (p.status)
                    @if !p.in_force_since.is_empty() { ", in force since " (p.in_force_since) }
                    @if !p.withdrawal_effective.is_empty() { ", withdrawal effective " (p.withdrawal_effective) } }
                dt { "Kind" } dd { (p.kind) @if !p.member_of.is_empty() { ", member of " a href={ "/parties/" (p.member_of) } { (p.member_of) } } }
                @if !p.members.is_empty() { dt { "Member States" } dd { (p.members.join(", ")) } }
                dt { "Annex B commitment" } dd { @if p.annex_b_percent > 0 { (p.annex_b_percent) " % of base year" } @else { "none" } }
                dt { "Base year emissions" } dd { (thousands(p.base_year_emissions)) " t CO₂ eq" }
                dt { "Units held" } dd { (thousands(p.holdings_total)) }
            }
            @if !by_type.is_empty() { (bars("Units held by type", &by_type, None)) }
            @for period in &p.periods {
                @if period.assigned_amount > 0 {
                    (bars(&format!("Commitment period {}: AAUs issued against the assigned amount (dashed)", period.period),
                        &[("AAUs issued".to_owned(), period.aau_issued)], Some(period.assigned_amount)))
                }
            }
            (super::flows::party_chart(&flows, &p.code))
            h2 { "Assigned amount and its adjustments (Art. 3.7, 3.10–3.12)" }
            div class="scroll" { table id="periods" {
                thead { tr { th { "Period" } th class="n" { "Assigned amount" } th class="n" { "AAUs issued" } th class="n" { "Acquired" } th class="n" { "Transferred" } th class="n" { "Adjusted" } th class="n" { "Reserve" } th class="n" { "Held for reserve" } } }
                tbody { @for a in &p.periods { tr {
                    td { (a.period) } td class="n" { (thousands(a.assigned_amount)) } td class="n" { (thousands(a.aau_issued)) }
                    td class="n" { (thousands(a.acquired)) } td class="n" { (thousands(a.transferred)) }
                    td class="n" { (thousands(a.adjusted_assigned_amount)) } td class="n" { (thousands(a.reserve)) } td class="n" { (thousands(a.held_for_reserve)) }
                } } }
            } }
            h2 { "Compliance position" }
            div class="scroll" { table {
                thead { tr { th { "Period" } th class="n" { "Emissions reviewed" } th class="n" { "Retired" } th class="n" { "Surplus" } th { "Complies so far" } } }
                tbody { @for c in &compliance { tr {
                    td { (c.period) } td class="n" { (thousands(c.emissions)) } td class="n" { (thousands(c.retired)) }
                    td class="n" { (thousands(c.surplus)) } td { (if c.complies { "yes" } else { "no" }) }
                } } }
            } }
            h2 { "Units by type and period" }
            div class="scroll" { table id="positions" {
                thead { tr { th { "Unit" } th { "Period" } th class="n" { "Issued" } th class="n" { "Acquired" } th class="n" { "Transferred" } th class="n" { "Held" } } }
                tbody { @for x in &p.positions { tr {
                    td { (unit_name(x.unit_type)) } td { (x.period) } td class="n" { (thousands(x.issued)) }
                    td class="n" { (thousands(x.acquired)) } td class="n" { (thousands(x.transferred)) } td class="n" { (thousands(x.held)) }
                } } }
            } }
            h2 { "Yearly reports" }
            p { "Holdings at the start and end of each year by account and unit type, and the year's flows (issued, acquired, transferred, cancelled, retired, carried over, converted), stamped with the height and state root: "
                @for y in report_years(s.latest_block_time_ms) {
                    (y) " " a href={ "/reports/" (p.code) "/" (y) ".csv" } { "CSV" } " " a href={ "/reports/" (p.code) "/" (y) ".json" } { "JSON" } "; "
                }
            }
            h2 { "Accounts" }
            div class="scroll" { table id="accounts" {
                thead { tr { th { "Account" } th { "Type" } th { "Holder" } th class="n" { "Units" } } }
                tbody { @for a in &accounts.accounts { tr {
                    td { a href={ "/accounts/" (a.account_id) } { (a.account_id) } } td { (a.kind) } td { (a.holder_name) } td class="n" { (thousands(a.total)) }
                } } }
            } }
            @if !accounts.next_page_token.is_empty() { p { "The first " (accounts.accounts.len()) " accounts; find others by their id (search)." } }
        };
        Ok(page(&p.code, Some(&s), body))
    };
    render(result.await, Freshness::Current)
}

/// The years a Party's page links reports for: the latest ten up to the ledger's
/// current year.
fn report_years(now_ms: i64) -> Vec<i32> {
    let year = crate::ledger::calendar::date_of(now_ms).year();
    (year.saturating_sub(9).max(1990)..=year).rev().collect()
}
