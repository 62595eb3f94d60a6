//! Units moved between Parties over time (Art. 3.10/3.11, Art. 17): the monthly flows of
//! external transfers read through `GetFlows`, their pictures (on the overview, the
//! flows page in `pages.rs` and each Party's page) and their JSON (`/api/v1/flows`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kyoto_proto::v1::{self as pb, ledger_server::Ledger};
use maud::Markup;
use serde::Deserialize;

use super::api::json;
use super::charts::columns;
use super::{Freshness, Web, WebError};
use crate::store::next_month;

/// `?first=yyyymm&last=yyyymm` (both absent: the 24 months up to the latest block's).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Months {
    first: Option<u32>,
    last: Option<u32>,
}

impl Web {
    pub(crate) async fn flows(&self, months: &Months) -> Result<pb::GetFlowsResponse, WebError> {
        let (first_month, last_month) = match (months.first, months.last) {
            (None, None) => (0, 0),
            (Some(f), Some(l)) => (f, l),
            _ => {
                return Err(WebError::new(
                    StatusCode::BAD_REQUEST,
                    "MALFORMED",
                    "give both `first` and `last` (yyyymm), or neither",
                ));
            }
        };
        self.read(
            |l, r| async move { l.get_flows(r).await },
            pb::GetFlowsRequest {
                first_month,
                last_month,
            },
        )
        .await
    }
}

/// `yyyymm` as `yyyy-mm`.
pub(crate) fn month_label(m: u32) -> String {
    format!("{}-{:02}", m / 100, m % 100)
}

/// The month before `yyyymm`.
pub(crate) fn month_before(m: u32) -> u32 {
    if m % 100 <= 1 {
        (m / 100).saturating_sub(1) * 100 + 12
    } else {
        m - 1
    }
}

/// Every month the answer covers, in order.
fn months_of(f: &pb::GetFlowsResponse) -> Vec<u32> {
    let mut out = Vec::new();
    let mut m = f.first_month;
    // Bounded by the server's own bound on the span.
    while m <= f.last_month && out.len() < crate::rpc::MAX_FLOW_MONTHS {
        out.push(m);
        m = next_month(m);
    }
    out
}

/// The month-by-month sums of the flows that `pick` keeps.
fn monthly(f: &pb::GetFlowsResponse, months: &[u32], pick: impl Fn(&pb::Flow) -> bool) -> Vec<u64> {
    months
        .iter()
        .map(|m| {
            f.flows
                .iter()
                .filter(|x| x.month == *m && pick(x))
                .fold(0u64, |sum, x| sum.saturating_add(x.amount))
        })
        .collect()
}

/// The picture of every unit moved between Parties, month by month.
pub(crate) fn all_chart(f: &pb::GetFlowsResponse) -> Markup {
    let months = months_of(f);
    let labels: Vec<String> = months.iter().map(|m| month_label(*m)).collect();
    columns(
        &format!(
            "Units moved between Parties, {} to {}",
            month_label(f.first_month),
            month_label(f.last_month)
        ),
        &labels,
        &[("units moved", monthly(f, &months, |_| true))],
    )
}

/// The picture of what one Party acquired from and transferred to others, by month.
pub(crate) fn party_chart(f: &pb::GetFlowsResponse, party: &str) -> Markup {
    let months = months_of(f);
    let labels: Vec<String> = months.iter().map(|m| month_label(*m)).collect();
    columns(
        &format!(
            "Units acquired from and transferred to other Parties (Art. 3.10, 3.11), {} to {}",
            month_label(f.first_month),
            month_label(f.last_month)
        ),
        &labels,
        &[
            ("acquired", monthly(f, &months, |x| x.to_party == party)),
            (
                "transferred",
                monthly(f, &months, |x| x.from_party == party),
            ),
        ],
    )
}

pub(crate) async fn flows_api(State(web): State<Web>, Query(q): Query<Months>) -> Response {
    json(web.flows(&q).await, Freshness::Current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(month: u32, from: &str, to: &str, amount: u64) -> pb::Flow {
        pb::Flow {
            month,
            from_party: from.into(),
            to_party: to.into(),
            amount,
        }
    }

    #[test]
    fn months_are_summed_for_the_party_on_each_side() {
        let f = pb::GetFlowsResponse {
            first_month: 200811,
            last_month: 200902,
            flows: vec![
                flow(200811, "JPN", "CAN", 10),
                flow(200811, "NZL", "CAN", 4),
                flow(200901, "CAN", "JPN", 3),
            ],
        };
        let months = months_of(&f);
        assert_eq!(months, vec![200811, 200812, 200901, 200902]);
        assert_eq!(monthly(&f, &months, |_| true), vec![14, 0, 3, 0]);
        assert_eq!(
            monthly(&f, &months, |x| x.to_party == "CAN"),
            vec![14, 0, 0, 0]
        );
        assert_eq!(
            monthly(&f, &months, |x| x.from_party == "CAN"),
            vec![0, 0, 3, 0]
        );
        assert_eq!(month_label(200901), "2009-01");
        assert_eq!(
            (month_before(200901), month_before(200812)),
            (200812, 200811)
        );
    }
}
