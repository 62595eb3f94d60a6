//! The yearly report of a Party (`/reports/{party}/{year}.csv|json`), in the spirit of
//! the Standard Electronic Format's tables: the units its registry held at the start
//! and at the end of the year by account type and unit type, and the year's flows by
//! unit type (issued; acquired, CERs forwarded from the CDM registry included;
//! transferred; cancelled, replacements included; retired; carried over; converted).
//! Stamped with the height and state root it was read at.
//!
//! How: the holdings now, less what each account's audit trail moved after the year's
//! end, are the holdings at its end; less what it moved during the year, at its start.
//! Every receipt says what it moved: a move takes serials from `from_account` and puts
//! them, relabelled for a conversion (Art. 6: an AAU or RMU becomes an ERU) or a carry-over
//! (Art. 3.13: the next period), into `to_account`; an issuance credits its accounts.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kyoto_proto::v1 as pb;
use serde::Serialize;

use super::api::{Page, json};
use super::pages::unit_name;
use super::{Freshness, Web, WebError, download};
use crate::ledger::calendar::parse_date_ms;

/// Most audit-trail entries one report reads (a larger registry is `413`).
pub const MAX_REPORT_ENTRIES: usize = 200_000;
/// Most accounts of one Party a report reads (more is `413`).
pub const MAX_ACCOUNTS: usize = 10_000;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Holding {
    account_type: String,
    unit_type: &'static str,
    start: i128,
    end: i128,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flows {
    unit_type: &'static str,
    issued: u64,
    acquired: u64,
    transferred: u64,
    cancelled: u64,
    retired: u64,
    carried_over: u64,
    converted_in: u64,
    converted_out: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct YearReport {
    chain_id: String,
    height: u64,
    state_root: String,
    party: String,
    year: i32,
    transactions: usize,
    holdings: Vec<Holding>,
    flows: Vec<Flows>,
}

fn count(b: &pb::SerialBlock) -> u64 {
    b.end.saturating_sub(b.start).saturating_add(1)
}

/// The unit type and period a moved block had before the move relabelled it.
fn before_move(kind: &str, b: &pb::SerialBlock) -> i32 {
    match (kind, pb::UnitType::try_from(b.unit_type)) {
        ("eru_conversion", Ok(pb::UnitType::EruFromAau)) => pb::UnitType::Aau as i32,
        ("eru_conversion", Ok(pb::UnitType::EruFromRmu)) => pb::UnitType::Rmu as i32,
        _ => b.unit_type,
    }
}

/// What a receipt changed in `account`, by unit type.
fn delta(account: &str, a: &pb::Applied, out: &mut BTreeMap<i32, i128>) {
    if a.from_account.is_empty() {
        let Some(t) = a.serials.first().map(|b| b.unit_type) else {
            return;
        };
        for c in a.credited.iter().filter(|c| c.account == account) {
            *out.entry(t).or_default() += i128::from(c.amount);
        }
        return;
    }
    for b in &a.serials {
        if a.to_account == account {
            *out.entry(b.unit_type).or_default() += i128::from(count(b));
        }
        if a.from_account == account {
            *out.entry(before_move(&a.kind, b)).or_default() -= i128::from(count(b));
        }
    }
}

/// The year's flows of a receipt, for a Party whose accounts are `ours`.
fn flows(a: &pb::Applied, ours: &BTreeSet<String>, out: &mut BTreeMap<i32, Flows>) {
    let mut add = |t: i32, f: &dyn Fn(&mut Flows) -> &mut u64, n: u64| {
        let e = out.entry(t).or_insert_with(|| Flows {
            unit_type: unit_name(t),
            ..Flows::default()
        });
        let field = f(e);
        *field = field.saturating_add(n);
    };
    let from_us = ours.contains(&a.from_account);
    let to_us = ours.contains(&a.to_account);
    for b in &a.serials {
        let (t, n) = (b.unit_type, count(b));
        match a.kind.as_str() {
            // CERs forwarded from the CDM registry arrive from outside the Party too.
            "external_transfer" | "cer_forwarding" if to_us && !from_us => {
                add(t, &|f| &mut f.acquired, n)
            }
            "external_transfer" if from_us && !to_us => add(t, &|f| &mut f.transferred, n),
            // A replacement cancels the units that replace expired tCERs/lCERs.
            "cancellation" | "replacement" if from_us => add(t, &|f| &mut f.cancelled, n),
            "retirement" if from_us => add(t, &|f| &mut f.retired, n),
            "carry_over" if from_us => add(t, &|f| &mut f.carried_over, n),
            "eru_conversion" if from_us => {
                add(before_move(&a.kind, b), &|f| &mut f.converted_out, n);
                add(t, &|f| &mut f.converted_in, n);
            }
            _ => {}
        }
    }
    if a.from_account.is_empty()
        && let Some(t) = a.serials.first().map(|b| b.unit_type)
    {
        let n = a
            .credited
            .iter()
            .filter(|c| ours.contains(&c.account))
            .map(|c| c.amount)
            .fold(0u64, u64::saturating_add);
        if n > 0 {
            add(t, &|f| &mut f.issued, n);
        }
    }
}

fn too_large(what: &str) -> WebError {
    WebError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "REPORT_TOO_LARGE",
        format!("the registry has {what}"),
    )
}

impl Web {
    async fn year_report(&self, party: &str, year: i32) -> Result<YearReport, WebError> {
        let bounds = (
            parse_date_ms(&format!("{year:04}-01-01")),
            parse_date_ms(&format!("{:04}-01-01", year + 1)),
        );
        let (Some(from), Some(to)) = bounds else {
            return Err(WebError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED",
                "a year from 1990 to 9998",
            ));
        };
        let _turn = self.heavy().await?;
        let (report, at) = self
            .at_one_height(|| self.read_year(party, from, to))
            .await?;
        Ok(YearReport {
            chain_id: at.chain_id,
            height: at.height,
            state_root: hex::encode(&at.state_root),
            year,
            ..report
        })
    }

    /// The report's content (the stamp is [`Web::at_one_height`]'s).
    async fn read_year(&self, party: &str, from: i64, to: i64) -> Result<YearReport, WebError> {
        let code = self.party(party).await?.code;
        // The Party's accounts, with their type and holdings now.
        let mut accounts: Vec<pb::GetAccountResponse> = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self.party_accounts(&code, page_token).await?;
            if accounts.len() + page.accounts.len() > MAX_ACCOUNTS {
                return Err(too_large(&format!("more than {MAX_ACCOUNTS} accounts")));
            }
            for a in &page.accounts {
                accounts.push(self.account(&a.account_id).await?);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let ours: BTreeSet<String> = accounts.iter().map(|a| a.account_id.clone()).collect();
        let mut holdings: BTreeMap<(String, i32), (i128, i128)> = BTreeMap::new();
        let mut year_flows: BTreeMap<i32, Flows> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut entries = 0usize;
        for a in &accounts {
            let mut now: BTreeMap<i32, i128> = BTreeMap::new();
            for h in &a.holdings {
                *now.entry(h.unit_type).or_default() += i128::from(h.amount);
            }
            let (mut after, mut during) = (BTreeMap::new(), BTreeMap::new());
            let mut page = Page {
                limit: Some(crate::rpc::MAX_HISTORY as u32),
                ..Page::default()
            };
            loop {
                let history = self
                    .history(&a.account_id, &page, crate::rpc::MAX_HISTORY as u32)
                    .await?;
                entries += history.entries.len();
                if entries > MAX_REPORT_ENTRIES {
                    return Err(too_large(&format!(
                        "more than {MAX_REPORT_ENTRIES} audit-trail entries"
                    )));
                }
                for e in &history.entries {
                    let Some(pb::receipt::Outcome::Applied(ap)) =
                        e.receipt.as_ref().and_then(|r| r.outcome.as_ref())
                    else {
                        continue;
                    };
                    if e.timestamp_ms >= to {
                        delta(&a.account_id, ap, &mut after);
                    } else if e.timestamp_ms >= from {
                        delta(&a.account_id, ap, &mut during);
                        let hash = e.receipt.as_ref().map(|r| r.tx_hash.clone());
                        if seen.insert(hash) {
                            flows(ap, &ours, &mut year_flows);
                        }
                    }
                }
                if history.next_page_token.is_empty() {
                    break;
                }
                page.page_token = Some(history.next_page_token);
            }
            let types: BTreeSet<i32> = now
                .keys()
                .chain(after.keys())
                .chain(during.keys())
                .copied()
                .collect();
            for t in types {
                let end = now.get(&t).copied().unwrap_or(0) - after.get(&t).copied().unwrap_or(0);
                let start = end - during.get(&t).copied().unwrap_or(0);
                let slot = holdings.entry((a.kind.clone(), t)).or_default();
                slot.0 += start;
                slot.1 += end;
            }
        }
        Ok(YearReport {
            chain_id: String::new(),
            height: 0,
            state_root: String::new(),
            party: code,
            year: 0,
            transactions: seen.len(),
            holdings: holdings
                .into_iter()
                .filter(|(_, (s, e))| *s != 0 || *e != 0)
                .map(|((account_type, t), (start, end))| Holding {
                    account_type,
                    unit_type: unit_name(t),
                    start,
                    end,
                })
                .collect(),
            flows: year_flows.into_values().collect(),
        })
    }
}

fn csv(r: &YearReport) -> String {
    let mut out = String::from(
        "chain_id,height,state_root,party,year,table,account_type,unit_type,start,end,issued,acquired,transferred,cancelled,retired,carried_over,converted_in,converted_out\n",
    );
    let stamp = format!(
        "{},{},{},{},{}",
        r.chain_id, r.height, r.state_root, r.party, r.year
    );
    for h in &r.holdings {
        out.push_str(&format!(
            "{stamp},holdings,{},{},{},{},,,,,,,,\n",
            h.account_type, h.unit_type, h.start, h.end
        ));
    }
    for f in &r.flows {
        out.push_str(&format!(
            "{stamp},flows,,{},,,{},{},{},{},{},{},{},{}\n",
            f.unit_type,
            f.issued,
            f.acquired,
            f.transferred,
            f.cancelled,
            f.retired,
            f.carried_over,
            f.converted_in,
            f.converted_out
        ));
    }
    out
}

/// `/reports/{party}/{year}.csv` or `.json`.
pub(crate) async fn report(
    State(web): State<Web>,
    Path((party, file)): Path<(String, String)>,
) -> Response {
    let parsed = file
        .strip_suffix(".csv")
        .map(|y| (y, true))
        .or_else(|| file.strip_suffix(".json").map(|y| (y, false)));
    let Some((year, as_csv)) = parsed.and_then(|(y, c)| y.parse::<i32>().ok().map(|y| (y, c)))
    else {
        return json::<()>(
            Err(WebError::new(
                StatusCode::NOT_FOUND,
                "UNKNOWN_REPORT",
                "a Party's report is /reports/PARTY/YEAR.csv or YEAR.json",
            )),
            Freshness::Current,
        );
    };
    let party = match super::bounded(&party, "the Party code") {
        Ok(p) => p,
        Err(e) => return json::<()>(Err(e), Freshness::Current),
    };
    let report = match web.year_report(&party, year).await {
        Ok(r) => r,
        Err(e) => return json::<()>(Err(e), Freshness::Current),
    };
    if !as_csv {
        return json(Ok(report), Freshness::Current);
    }
    let file_name = format!(
        "kyoto-{}-{}-at-{}.csv",
        report.party, report.year, report.height
    );
    download(csv(&report), "text/csv; charset=utf-8", &file_name)
}
