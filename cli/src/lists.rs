//! The list commands (`parties`, `projects`, `accounts`): every page of a listing
//! the node serves, or `--limit` entries after `--after`, gathered into one response
//! whose `next_page_token` says where the next page starts (empty: the end).

use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient};
use tonic::transport::Channel;

use crate::args::PageArgs;
use crate::client::from_status;

/// The node's largest page.
const PAGE: u32 = 1000;

/// How many entries to ask for next, or `None` when `--limit` is reached.
fn next_page_size(page: &PageArgs, have: usize) -> Option<u32> {
    match page.limit {
        None => Some(PAGE),
        Some(limit) => {
            let left = limit.saturating_sub(u32::try_from(have).unwrap_or(u32::MAX));
            (left > 0).then(|| left.min(PAGE))
        }
    }
}

/// Requests pages with `$call` (a method of the client), each request made by
/// `$request(page_size, page_token)`, and gathers their `$items`.
macro_rules! gather {
    ($client:expr, $page:expr, $call:ident, $request:expr, $items:ident, $response:ty) => {{
        let mut all = <$response>::default();
        let mut token = $page.after.clone().unwrap_or_default();
        while let Some(page_size) = next_page_size($page, all.$items.len()) {
            let request = $request(page_size, token);
            let resp = $client
                .$call(request)
                .await
                .map_err(from_status)?
                .into_inner();
            all.$items.extend(resp.$items);
            all.next_page_token = resp.next_page_token;
            if all.next_page_token.is_empty() {
                break;
            }
            token = all.next_page_token.clone();
        }
        Ok(all)
    }};
}

pub async fn parties(
    client: &mut LedgerClient<Channel>,
    page: &PageArgs,
) -> anyhow::Result<pb::ListPartiesResponse> {
    gather!(
        client,
        page,
        list_parties,
        |page_size, page_token| pb::ListPartiesRequest {
            page_size,
            page_token
        },
        parties,
        pb::ListPartiesResponse
    )
}

pub async fn projects(
    client: &mut LedgerClient<Channel>,
    page: &PageArgs,
) -> anyhow::Result<pb::ListProjectsResponse> {
    gather!(
        client,
        page,
        list_projects,
        |page_size, page_token| pb::ListProjectsRequest {
            page_size,
            page_token
        },
        projects,
        pb::ListProjectsResponse
    )
}

/// `party` or `holder_key` (exactly one is non-empty).
pub async fn accounts(
    client: &mut LedgerClient<Channel>,
    party: String,
    holder_key: Vec<u8>,
    page: &PageArgs,
) -> anyhow::Result<pb::ListAccountsResponse> {
    gather!(
        client,
        page,
        list_accounts,
        |page_size, page_token| pb::ListAccountsRequest {
            party: party.clone(),
            holder_key: holder_key.clone(),
            page_size,
            page_token
        },
        accounts,
        pb::ListAccountsResponse
    )
}
