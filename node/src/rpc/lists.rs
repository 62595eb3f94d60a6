//! The list queries (`ListParties`, `ListProjects`, `ListAccounts`, and the pages of
//! `GetAccountHistory`): every list is paginated, in key order, and a page token is
//! the key of the last entry of the previous page.

use kyoto_proto::v1 as pb;
use tonic::Status;

use super::status::bad_argument;
use crate::ledger::{AccountId, PartyCode, PublicKey, State};
use crate::wire;

/// Entries on a page when the request does not say.
pub const DEFAULT_PAGE: usize = 100;

/// Most entries on one page.
pub const MAX_PAGE: usize = 1000;

/// The page size a request asks for, within the bounds.
pub fn page_size(asked: u32) -> usize {
    match asked {
        0 => DEFAULT_PAGE,
        n => usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
    }
}

fn bad_token(token: &str, why: String) -> Status {
    bad_argument(
        "BAD_PAGE_TOKEN",
        format!("`{token}` is not a page token of this list: {why}"),
    )
}

/// Takes up to `size` entries; the token of the next page is the key of the last
/// one taken, when more follow.
fn page<T, K: ToString>(
    items: impl Iterator<Item = T>,
    size: usize,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, String) {
    let mut items = items.peekable();
    let mut out = Vec::with_capacity(size.min(DEFAULT_PAGE));
    while out.len() < size {
        match items.next() {
            Some(item) => out.push(item),
            None => break,
        }
    }
    let next = match (items.peek(), out.last()) {
        (Some(_), Some(last)) => key(last).to_string(),
        _ => String::new(),
    };
    (out, next)
}

pub fn parties(
    state: &State,
    req: &pb::ListPartiesRequest,
) -> Result<pb::ListPartiesResponse, Status> {
    let after = match req.page_token.as_str() {
        "" => None,
        t => Some(PartyCode::parse(t).map_err(|m| bad_token(t, m))?),
    };
    let (parties, next_page_token) = page(
        state.parties_after(after.as_ref()),
        page_size(req.page_size),
        |p| p.code.clone(),
    );
    Ok(pb::ListPartiesResponse {
        parties: parties
            .into_iter()
            .map(|p| wire::party_summary(state, p))
            .collect(),
        next_page_token,
    })
}

pub fn projects(
    state: &State,
    req: &pb::ListProjectsRequest,
) -> Result<pb::ListProjectsResponse, Status> {
    let after = (!req.page_token.is_empty()).then_some(req.page_token.as_str());
    let (projects, next_page_token) =
        page(state.projects_after(after), page_size(req.page_size), |p| {
            p.id().to_owned()
        });
    Ok(pb::ListProjectsResponse {
        projects: projects.into_iter().map(wire::project).collect(),
        next_page_token,
    })
}

pub fn accounts(
    state: &State,
    req: &pb::ListAccountsRequest,
) -> Result<pb::ListAccountsResponse, Status> {
    let after = match req.page_token.as_str() {
        "" => None,
        t => Some(AccountId::parse(t).map_err(|m| bad_token(t, m))?),
    };
    let size = page_size(req.page_size);
    let all = state.accounts_after(after.as_ref());
    let (accounts, next_page_token) = match (req.party.as_str(), req.holder_key.as_slice()) {
        (party, []) if !party.is_empty() => {
            let code = PartyCode::parse(party).map_err(|m| bad_argument("MALFORMED", m))?;
            if state.party(&code).is_none() && code.as_str() != crate::ledger::genesis::CDM_REGISTRY
            {
                return Err(super::refusal_status(
                    tonic::Code::NotFound,
                    "UNKNOWN_PARTY",
                    &format!("no Party with code {code}"),
                ));
            }
            let of_party = all
                .skip_while(|a| a.id.party < code)
                .take_while(|a| a.id.party == code);
            page(of_party, size, |a| a.id.clone())
        }
        ("", key) if !key.is_empty() => {
            let key: PublicKey = key.try_into().map_err(|_| {
                bad_argument(
                    "MALFORMED",
                    format!("holder_key must be 32 bytes, got {}", key.len()),
                )
            })?;
            let held = all.filter(|a| state.account_controller(a) == Some(key));
            page(held, size, |a| a.id.clone())
        }
        _ => {
            return Err(bad_argument(
                "MALFORMED",
                "name exactly one of party and holder_key".into(),
            ));
        }
    };
    Ok(pb::ListAccountsResponse {
        accounts: accounts
            .into_iter()
            .map(|a| wire::account_summary(state, a))
            .collect(),
        next_page_token,
    })
}

/// The position a history page token names: the (height, index) of the last entry
/// of the previous page, as `<height>.<index>`.
pub fn history_token(token: &str) -> Result<Option<(u64, u32)>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let parsed = token
        .split_once('.')
        .and_then(|(h, i)| Some((h.parse().ok()?, i.parse().ok()?)));
    parsed
        .map(Some)
        .ok_or_else(|| bad_token(token, "expected <height>.<index>".into()))
}
