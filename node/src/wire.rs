//! Conversions from ledger values and stored records to their `kyoto.v1` wire form.

use kyoto_proto::v1 as pb;

use crate::ledger::calendar::format_date;
use crate::ledger::governance::{AdoptionMethod, Choice, Outcome, Proposal, ProposalKind};

use crate::ledger::{
    Account, Compliance, Party, PartyKind, Project, SerialBlock, State, TreatyStatus, UnitType,
};
use crate::store::{StoredBlock, StoredOutcome, StoredReceipt, StoredSerials};

pub fn serial_block(b: &SerialBlock) -> pb::SerialBlock {
    pb::SerialBlock {
        origin: b.origin.to_string(),
        start: b.start,
        end: b.end,
        unit_type: b.unit_type as i32,
        original_period: b.original_period,
        applicable_period: b.applicable_period,
        project: b.project.clone().unwrap_or_default(),
        activity: b.activity.map_or(0, |a| a as i32),
        expiry_ms: b.expiry_ms.unwrap_or(0),
        replaced: b.replaced,
    }
}

/// The API's form of a block the store keeps.
pub fn block(b: StoredBlock) -> pb::GetBlockResponse {
    pb::GetBlockResponse {
        block: b.block,
        block_hash: b.block_hash,
        state_root: b.state_root,
        transaction_hashes: b.transaction_hashes,
        receipts: b.receipts.into_iter().map(receipt).collect(),
        certificate: b.certificate.map(|c| pb::CommitCertificate {
            height: c.height,
            block_hash: c.block_hash,
            signatures: c
                .signatures
                .into_iter()
                .map(|s| pb::CommitSignature {
                    public_key: s.public_key,
                    signature: s.signature,
                })
                .collect(),
            round: c.round,
        }),
    }
}

/// The API's form of a receipt the store keeps.
pub fn receipt(r: StoredReceipt) -> pb::Receipt {
    pb::Receipt {
        tx_hash: r.tx_hash,
        height: r.height,
        index: r.index,
        signer: r.signer,
        nonce: r.nonce,
        outcome: r.outcome.map(|o| match o {
            StoredOutcome::Applied(a) => pb::receipt::Outcome::Applied(pb::Applied {
                kind: a.kind,
                amount: a.amount,
                serials: a.serials.into_iter().map(serials).collect(),
                from_account: a.from_account,
                to_account: a.to_account,
                accounts: a.accounts,
                credited: a
                    .credited
                    .into_iter()
                    .map(|c| pb::AccountAmount {
                        account: c.account,
                        amount: c.amount,
                    })
                    .collect(),
                proposal: a.proposal,
                weight: a.weight,
            }),
            StoredOutcome::Refused(r) => pb::receipt::Outcome::Refused(pb::Refusal {
                code: r.code,
                message: r.message,
            }),
        }),
    }
}

fn serials(b: StoredSerials) -> pb::SerialBlock {
    pb::SerialBlock {
        origin: b.origin,
        start: b.start,
        end: b.end,
        unit_type: b.unit_type,
        original_period: b.original_period,
        applicable_period: b.applicable_period,
        project: b.project,
        activity: b.activity,
        expiry_ms: b.expiry_ms,
        replaced: b.replaced,
    }
}

pub fn account(state: &State, a: &Account) -> pb::GetAccountResponse {
    pb::GetAccountResponse {
        account_id: a.id.to_string(),
        party: a.id.party.to_string(),
        kind: a.id.kind.name().to_owned(),
        holder_name: a.holder_name.clone(),
        holder_key: state
            .account_controller(a)
            .map(|k| k.to_vec())
            .unwrap_or_default(),
        total: narrow(a.total()),
        holdings: a
            .holdings()
            .into_iter()
            .map(|((t, p), amount)| pb::Holding {
                unit_type: t as i32,
                period: p,
                amount: narrow(amount),
            })
            .collect(),
        serial_blocks: a.blocks.iter().map(serial_block).collect(),
    }
}

/// An account's line in a listing.
pub fn account_summary(state: &State, a: &Account) -> pb::AccountSummary {
    pb::AccountSummary {
        account_id: a.id.to_string(),
        party: a.id.party.to_string(),
        kind: a.id.kind.name().to_owned(),
        holder_name: a.holder_name.clone(),
        holder_key: state
            .account_controller(a)
            .map(|k| k.to_vec())
            .unwrap_or_default(),
        total: narrow(a.total()),
    }
}

/// A Party's line in a listing.
pub fn party_summary(state: &State, p: &Party) -> pb::PartySummary {
    let held = state.registry_holdings(&p.code);
    pb::PartySummary {
        code: p.code.to_string(),
        name: p.name.clone(),
        kind: match p.kind {
            PartyKind::State => "state",
            PartyKind::Reio { .. } => "reio",
        }
        .to_owned(),
        status: p.status.name().to_owned(),
        in_force_since: in_force_since(&p.status),
        annex_b_percent: p.annex_b_percent.unwrap_or(0),
        annex_i: p.annex_i,
        holdings_total: narrow(held.values().sum()),
        account_count: u32::try_from(state.registry_accounts(&p.code).count()).unwrap_or(u32::MAX),
    }
}

fn in_force_since(status: &TreatyStatus) -> String {
    match status {
        TreatyStatus::InForce { since } | TreatyStatus::WithdrawalNotified { since, .. } => {
            since.clone()
        }
        _ => String::new(),
    }
}

pub fn party(state: &State, p: &Party) -> pb::GetPartyResponse {
    let held = state.registry_holdings(&p.code);
    let mut keys: Vec<_> = p.positions.keys().chain(held.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    let positions = keys
        .iter()
        .map(|&(t, period)| {
            let pos = p.position(t, period);
            pb::PartyPosition {
                unit_type: t as i32,
                period,
                issued: pos.issued,
                acquired: narrow(pos.acquired),
                transferred: narrow(pos.transferred),
                held: narrow(held.get(&(t, period)).copied().unwrap_or(0)),
                converted_in: narrow(pos.converted_in),
                converted_out: narrow(pos.converted_out),
                carried_in: narrow(pos.carried_in),
                carried_out: narrow(pos.carried_out),
            }
        })
        .collect();
    let periods = p
        .assigned_amounts
        .iter()
        .map(|(&period, &assigned)| {
            let (acquired, transferred, carried) = p
                .positions
                .iter()
                .filter(|((_, per), _)| *per == period)
                .fold((0u128, 0u128, 0i128), |(a, t, c), (_, pos)| {
                    let wide = |v: u128| i128::try_from(v).unwrap_or(i128::MAX);
                    (
                        a.saturating_add(pos.acquired),
                        t.saturating_add(pos.transferred),
                        c.saturating_add(wide(pos.carried_in))
                            .saturating_sub(wide(pos.carried_out)),
                    )
                });
            // Art. 3.10/3.12 add, Art. 3.11 subtracts; Art. 3.13 moves what was carried
            // over from this period's amount to the next one's.
            let wide = |v: u128| i128::try_from(v).unwrap_or(i128::MAX);
            let adjusted = i128::from(assigned)
                .saturating_add(wide(acquired))
                .saturating_sub(wide(transferred))
                .saturating_add(carried);
            pb::PeriodAccount {
                period,
                assigned_amount: assigned,
                aau_issued: p.position(UnitType::Aau, period).issued,
                acquired: narrow(acquired),
                transferred: narrow(transferred),
                adjusted_assigned_amount: i64::try_from(adjusted).unwrap_or(i64::MAX),
                reserve: state.reserve(p, period).unwrap_or(0),
                held_for_reserve: narrow(state.held_for_reserve(&p.code, period)),
            }
        })
        .collect();
    let (kind, members) = match &p.kind {
        PartyKind::State => ("state", Vec::new()),
        PartyKind::Reio { members, .. } => {
            ("reio", members.iter().map(ToString::to_string).collect())
        }
    };
    pb::GetPartyResponse {
        code: p.code.to_string(),
        name: p.name.clone(),
        kind: kind.to_owned(),
        members,
        annex_i: p.annex_i,
        annex_b_percent: p.annex_b_percent.unwrap_or(0),
        base_year_emissions: p.base_year_emissions.unwrap_or(0),
        economy_in_transition: p.economy_in_transition,
        status: p.status.name().to_owned(),
        in_force_since: in_force_since(&p.status),
        deposited: match &p.status {
            TreatyStatus::Deposited { deposited, .. } => deposited.clone(),
            _ => String::new(),
        },
        in_force_from: match &p.status {
            TreatyStatus::Deposited { in_force_from, .. } => in_force_from.clone(),
            _ => String::new(),
        },
        withdrawal_notified: match &p.status {
            TreatyStatus::WithdrawalNotified { notified, .. } => notified.clone(),
            _ => String::new(),
        },
        withdrawal_effective: match &p.status {
            TreatyStatus::WithdrawalNotified { effective, .. }
            | TreatyStatus::Withdrawn { effective } => effective.clone(),
            _ => String::new(),
        },
        authority_key: p.authority.to_vec(),
        periods,
        positions,
        holdings_total: narrow(held.values().sum()),
        accounts: state
            .registry_accounts(&p.code)
            .map(|a| a.id.to_string())
            .collect(),
        member_of: p
            .member_of
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        eligible_art6: p.eligibility.art6,
        eligible_art12: p.eligibility.art12,
        eligible_art17: p.eligibility.art17,
        inventories: p
            .inventories
            .iter()
            .map(|(year, inv)| pb::InventoryYear {
                year: *year,
                emissions: inv.emissions,
                removals: inv
                    .removals
                    .iter()
                    .map(|(a, amount)| pb::ActivityAmount {
                        activity: *a as i32,
                        amount: *amount,
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn compliance(c: &Compliance) -> pb::GetComplianceResponse {
    pb::GetComplianceResponse {
        party: c.party.to_string(),
        period: c.period,
        assigned_amount: c.assigned_amount,
        emissions: c.emissions,
        years_reported: c.years_reported.clone(),
        years_in_period: c.years_in_period.clone(),
        retired: narrow(c.retired),
        surplus: i64::try_from(c.surplus).unwrap_or(if c.surplus < 0 {
            i64::MIN
        } else {
            i64::MAX
        }),
        complies: c.complies,
        reserve: c.reserve.unwrap_or(0),
        held_for_reserve: narrow(c.held_for_reserve),
    }
}

pub fn project(p: &Project) -> pb::GetProjectResponse {
    match p {
        Project::Ji {
            id,
            host,
            acquirer,
            host_approved,
            acquirer_approved,
        } => pb::GetProjectResponse {
            project: id.clone(),
            kind: "ji".into(),
            host: host.to_string(),
            acquirer: acquirer.to_string(),
            host_approved: *host_approved,
            acquirer_approved: *acquirer_approved,
            participants: Vec::new(),
        },
        Project::Cdm {
            id,
            host,
            participants,
        } => pb::GetProjectResponse {
            project: id.clone(),
            kind: "cdm".into(),
            host: host.to_string(),
            participants: participants.iter().map(ToString::to_string).collect(),
            ..Default::default()
        },
    }
}

pub fn proposal(state: &State, p: &Proposal) -> pb::ProposalView {
    let choice = |c: &Choice| match c {
        Choice::Yes => pb::VoteChoice::Yes as i32,
        Choice::No => pb::VoteChoice::No as i32,
        Choice::Abstain => pb::VoteChoice::Abstain as i32,
    };
    let change = match &p.kind {
        ProposalKind::ProtocolAmendment { text_hash } => {
            format!("amend the Protocol (text {})", hex::encode(text_hash))
        }
        ProposalKind::AnnexBAmendment {
            party,
            period,
            assigned_amount,
        } => {
            format!(
                "Annex B: {party}'s assigned amount for period {period} becomes {assigned_amount}"
            )
        }
        ProposalKind::AnnexAmendment { annex, text_hash } => {
            format!("amend Annex {annex} (text {})", hex::encode(text_hash))
        }
        ProposalKind::AddValidator { name, party, key } => {
            format!("add validator {name} of {party} ({})", hex::encode(key))
        }
        ProposalKind::RemoveValidator { key } => format!("remove validator {}", hex::encode(key)),
        ProposalKind::SetEligibility {
            party,
            eligibility: e,
        } => {
            format!(
                "{party}'s eligibility: Art. 6 {}, Art. 12 {}, Art. 17 {}",
                e.art6, e.art12, e.art17
            )
        }
        ProposalKind::SetParameter { name, value } => format!("set {name} to {value}"),
    };
    // Pending proposals show the running tally; closed ones the tally at closing.
    let t = if p.outcome == Outcome::Pending {
        state.tally(p)
    } else {
        p.tally
    };
    let (outcome, method, reason) = match &p.outcome {
        Outcome::Pending => ("pending", "", String::new()),
        Outcome::Adopted {
            method: AdoptionMethod::Consensus,
            ..
        } => ("adopted", "consensus", String::new()),
        Outcome::Adopted {
            method: AdoptionMethod::ThreeFourths,
            ..
        } => ("adopted", "three_fourths", String::new()),
        Outcome::NotAdopted { reason, .. } => ("not_adopted", "", reason.clone()),
    };
    let dates = |m: &std::collections::BTreeMap<crate::ledger::PartyCode, i64>| {
        m.iter()
            .map(|(party, ms)| pb::PartyDate {
                party: party.to_string(),
                date: format_date(*ms),
            })
            .collect()
    };
    pb::ProposalView {
        id: p.id,
        proposer: p.proposer.to_string(),
        title: p.title.clone(),
        class: p.kind.class().name().to_owned(),
        change,
        submitted: format_date(p.submitted_ms),
        voting_opens: format_date(p.opens_ms),
        voting_closes: format_date(p.closes_ms),
        votes: p
            .votes
            .iter()
            .map(|(party, c)| pb::PartyVote {
                party: party.to_string(),
                choice: choice(c),
                weight: state.party(party).map_or(0, |x| state.vote_weight(x)),
            })
            .collect(),
        yes: t.yes,
        no: t.no,
        abstain: t.abstain,
        eligible: t.eligible,
        outcome: outcome.to_owned(),
        adoption_method: method.to_owned(),
        reason,
        consent: p.consent,
        acceptances: dates(&p.acceptances),
        non_acceptances: p.non_acceptances.iter().map(ToString::to_string).collect(),
        three_fourths_reached: p.threshold_ms.map(format_date).unwrap_or_default(),
        in_force: dates(&p.in_force),
        effect_applied: p.effect_applied,
        party_concerned: match &p.kind {
            ProposalKind::AnnexBAmendment { party, .. } => party.to_string(),
            _ => String::new(),
        },
    }
}

/// A ledger total (128-bit) in a 64-bit API field: saturates at u64::MAX, which no
/// real registry reaches.
fn narrow(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}
