//! Transparency reports: downloads that anyone can recompute from their own replica.
//! `/reports/positions.csv` and `.json`: every Party's Art. 3.10–3.12 position by unit
//! type and commitment period, stamped with the height and state root it was read at
//! (read again until no block committed in between, so that the stamp is exact).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::pages::unit_name;
use super::{Freshness, Web, WebError, download};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PositionsReport {
    chain_id: String,
    height: u64,
    state_root: String,
    rows: Vec<PositionRow>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PositionRow {
    party: String,
    unit_type: &'static str,
    period: u32,
    issued: u64,
    acquired: u64,
    transferred: u64,
    converted_in: u64,
    converted_out: u64,
    carried_in: u64,
    carried_out: u64,
    held: u64,
}

const CSV_HEADER: &str = "chain_id,height,state_root,party,unit_type,period,issued,acquired,transferred,converted_in,converted_out,carried_in,carried_out,held";

impl Web {
    async fn positions(&self) -> Result<PositionsReport, WebError> {
        let _turn = self.heavy().await?;
        let every = self.every_party(true).await?;
        let mut rows = Vec::new();
        for party in every.views.iter() {
            for p in &party.positions {
                rows.push(PositionRow {
                    party: party.code.clone(),
                    unit_type: unit_name(p.unit_type),
                    period: p.period,
                    issued: p.issued,
                    acquired: p.acquired,
                    transferred: p.transferred,
                    converted_in: p.converted_in,
                    converted_out: p.converted_out,
                    carried_in: p.carried_in,
                    carried_out: p.carried_out,
                    held: p.held,
                });
            }
        }
        let at = every.at;
        Ok(PositionsReport {
            chain_id: at.chain_id,
            height: at.height,
            state_root: hex::encode(&at.state_root),
            rows,
        })
    }
}

fn csv(r: &PositionsReport) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for row in &r.rows {
        // Every field is a code, a unit name or a number: nothing to quote.
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.chain_id,
            r.height,
            r.state_root,
            row.party,
            row.unit_type,
            row.period,
            row.issued,
            row.acquired,
            row.transferred,
            row.converted_in,
            row.converted_out,
            row.carried_in,
            row.carried_out,
            row.held
        ));
    }
    out
}

/// `/reports/positions.csv` or `/reports/positions.json`.
pub(crate) async fn positions(State(web): State<Web>, Path(file): Path<String>) -> Response {
    let (content_type, as_csv) = match file.as_str() {
        "positions.csv" => ("text/csv; charset=utf-8", true),
        "positions.json" => ("application/json", false),
        _ => {
            return super::api::json::<()>(
                Err(WebError::new(
                    StatusCode::NOT_FOUND,
                    "UNKNOWN_REPORT",
                    "the reports are positions.csv and positions.json",
                )),
                Freshness::Current,
            );
        }
    };
    let report = match web.positions().await {
        Ok(r) => r,
        Err(e) => return super::api::json::<()>(Err(e), Freshness::Current),
    };
    let file_name = format!(
        "kyoto-positions-{}-{}.{}",
        report.chain_id,
        report.height,
        if as_csv { "csv" } else { "json" }
    );
    if as_csv {
        return download(csv(&report), content_type, &file_name);
    }
    match serde_json::to_string(&report) {
        Ok(body) => download(body, content_type, &file_name),
        Err(e) => super::api::json::<()>(
            Err(WebError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                e.to_string(),
            )),
            Freshness::Current,
        ),
    }
}
