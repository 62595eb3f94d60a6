//! The trails: an account's audit trail and a JI or CDM project's, as pages of
//! committed receipts, newest first (`GetAccountHistory`, `GetProjectHistory`), and the
//! units moved between Parties by month (`GetFlows`).

use kyoto_proto::v1 as pb;
use tonic::{Code, Status};

use super::status::{bad_argument, internal, refusal_status};
use super::{MAX_HISTORY, lists};
use crate::ledger::AccountId;
use crate::node::Node;
use crate::store::{TxLocation, month_of, next_month};

/// Most months one `GetFlows` request covers.
pub const MAX_FLOW_MONTHS: usize = 240;
/// Most rows one `GetFlows` answer holds (more: `TOO_MANY_FLOWS`, ask for fewer months).
pub const MAX_FLOW_ROWS: usize = 10_000;
/// Months `GetFlows` covers when the request names none.
const DEFAULT_FLOW_MONTHS: u32 = 24;

/// Entries asked for (0: the maximum), within [`MAX_HISTORY`].
fn limit(asked: u32) -> usize {
    match usize::try_from(asked) {
        Ok(0) | Err(_) => MAX_HISTORY,
        Ok(n) => n.min(MAX_HISTORY),
    }
}

/// The entries of one page (read one past `limit`) and the token of the next.
fn page(mut entries: Vec<pb::HistoryEntry>, limit: usize) -> (Vec<pb::HistoryEntry>, String) {
    if entries.len() <= limit {
        return (entries, String::new());
    }
    entries.truncate(limit);
    let next = entries
        .last()
        .and_then(|e| Some(format!("{}.{}", e.height, e.receipt.as_ref()?.index)))
        .unwrap_or_default();
    (entries, next)
}

fn before(token: &str) -> Result<Option<TxLocation>, Status> {
    Ok(lists::history_token(token)?.map(|(height, index)| TxLocation { height, index }))
}

pub fn account_history(
    node: &Node,
    req: &pb::GetAccountHistoryRequest,
) -> Result<pb::GetAccountHistoryResponse, Status> {
    let id = AccountId::parse(&req.account_id).map_err(|m| bad_argument("MALFORMED", m))?;
    let limit = limit(req.limit);
    let entries = node
        .account_history(&id.to_string(), limit + 1, before(&req.page_token)?)
        .map_err(internal)?;
    if entries.is_empty()
        && node
            .chain()
            .map_err(internal)?
            .state()
            .account(&id)
            .is_none()
    {
        return Err(refusal_status(
            Code::NotFound,
            "UNKNOWN_ACCOUNT",
            &format!("no account {id}"),
        ));
    }
    let (entries, next_page_token) = page(entries, limit);
    Ok(pb::GetAccountHistoryResponse {
        account_id: id.to_string(),
        entries,
        next_page_token,
    })
}

pub fn project_history(
    node: &Node,
    req: &pb::GetProjectHistoryRequest,
) -> Result<pb::GetProjectHistoryResponse, Status> {
    let project = req.project.as_str();
    if node
        .chain()
        .map_err(internal)?
        .state()
        .project(project)
        .is_none()
    {
        return Err(refusal_status(
            Code::NotFound,
            "UNKNOWN_PROJECT",
            &format!("no project {project}"),
        ));
    }
    let limit = limit(req.limit);
    let entries = node
        .project_history(project, limit + 1, before(&req.page_token)?)
        .map_err(internal)?;
    let (entries, next_page_token) = page(entries, limit);
    Ok(pb::GetProjectHistoryResponse {
        project: project.to_owned(),
        entries,
        next_page_token,
    })
}

/// A month `yyyymm` with a month from 1 to 12.
fn valid_month(m: u32) -> bool {
    (1..=12).contains(&(m % 100)) && (1000..=9999).contains(&(m / 100))
}

/// Months from `first` to `last`, both included.
fn months_between(first: u32, last: u32) -> u64 {
    let index = |m: u32| u64::from(m / 100) * 12 + u64::from(m % 100);
    index(last).saturating_sub(index(first)) + 1
}

pub fn flows(node: &Node, req: &pb::GetFlowsRequest) -> Result<pb::GetFlowsResponse, Status> {
    let (first, last) = if req.first_month == 0 && req.last_month == 0 {
        let last = month_of(node.chain().map_err(internal)?.state().time_ms());
        // The same month two years before, then the month after it: 24 months.
        (
            next_month(last.saturating_sub(DEFAULT_FLOW_MONTHS / 12 * 100)),
            last,
        )
    } else {
        (req.first_month, req.last_month)
    };
    if !valid_month(first) || !valid_month(last) || first > last {
        return Err(bad_argument(
            "MALFORMED",
            format!("months are yyyymm, the first not after the last (got {first} to {last})"),
        ));
    }
    if months_between(first, last) > MAX_FLOW_MONTHS as u64 {
        return Err(bad_argument(
            "TOO_MANY_MONTHS",
            format!("at most {MAX_FLOW_MONTHS} months in one request"),
        ));
    }
    let flows = node
        .flows(first, last, MAX_FLOW_MONTHS, MAX_FLOW_ROWS)
        .map_err(internal)?;
    if flows.len() > MAX_FLOW_ROWS {
        return Err(refusal_status(
            Code::ResourceExhausted,
            "TOO_MANY_FLOWS",
            &format!("more than {MAX_FLOW_ROWS} rows from {first} to {last}: ask for fewer months"),
        ));
    }
    let flows = flows
        .into_iter()
        .map(|f| pb::Flow {
            month: f.month,
            from_party: f.from,
            to_party: f.to,
            amount: f.amount,
        })
        .collect();
    Ok(pb::GetFlowsResponse {
        first_month: first,
        last_month: last,
        flows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_checked_and_counted() {
        assert!(valid_month(200801) && valid_month(201212));
        assert!(!valid_month(200800) && !valid_month(200813) && !valid_month(801));
        assert_eq!(months_between(200801, 200801), 1);
        assert_eq!(months_between(200801, 200912), 24);
        assert_eq!(months_between(200811, 200902), 4);
    }
}
