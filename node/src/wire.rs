//! Conversions from ledger values to their `kyoto.v1` wire form.

use kyoto_proto::v1 as pb;

use crate::ledger::{
    Account, Applied, Party, PartyKind, Receipt, SerialBlock, State, TreatyStatus, UnitType,
};

pub fn serial_block(b: &SerialBlock) -> pb::SerialBlock {
    pb::SerialBlock {
        origin: b.origin.to_string(),
        start: b.start,
        end: b.end,
        unit_type: b.unit_type as i32,
        original_period: b.original_period,
        applicable_period: b.applicable_period,
    }
}

fn applied(a: &Applied) -> pb::Applied {
    pb::Applied {
        kind: a.kind.name().to_owned(),
        amount: a.amount,
        serials: a.serials.iter().map(serial_block).collect(),
        from_account: a.from.as_ref().map(ToString::to_string).unwrap_or_default(),
        to_account: a.to.as_ref().map(ToString::to_string).unwrap_or_default(),
    }
}

pub fn receipt(r: &Receipt, height: u64) -> pb::Receipt {
    pb::Receipt {
        tx_hash: r.tx_hash.to_vec(),
        height,
        index: r.index,
        signer: r.signer.to_vec(),
        nonce: r.nonce,
        outcome: Some(match &r.outcome {
            Ok(a) => pb::receipt::Outcome::Applied(applied(a)),
            Err(refusal) => pb::receipt::Outcome::Refused(pb::Refusal {
                code: refusal.code().to_owned(),
                message: refusal.to_string(),
            }),
        }),
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
        total: a.total(),
        holdings: a
            .holdings()
            .into_iter()
            .map(|((t, p), amount)| pb::Holding {
                unit_type: t as i32,
                period: p,
                amount,
            })
            .collect(),
        serial_blocks: a.blocks.iter().map(serial_block).collect(),
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
                acquired: pos.acquired,
                transferred: pos.transferred,
                held: held.get(&(t, period)).copied().unwrap_or(0),
            }
        })
        .collect();
    let periods = p
        .assigned_amounts
        .iter()
        .map(|(&period, &assigned)| {
            let (acquired, transferred) = p
                .positions
                .iter()
                .filter(|((_, per), _)| *per == period)
                .fold((0u64, 0u64), |(a, t), (_, pos)| {
                    (
                        a.saturating_add(pos.acquired),
                        t.saturating_add(pos.transferred),
                    )
                });
            let adjusted = i128::from(assigned) + i128::from(acquired) - i128::from(transferred);
            pb::PeriodAccount {
                period,
                assigned_amount: assigned,
                aau_issued: p.position(UnitType::Aau, period).issued,
                acquired,
                transferred,
                adjusted_assigned_amount: i64::try_from(adjusted).unwrap_or(i64::MAX),
            }
        })
        .collect();
    let (kind, members) = match &p.kind {
        PartyKind::State => ("state", Vec::new()),
        PartyKind::Reio { members } => ("reio", members.iter().map(ToString::to_string).collect()),
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
        in_force_since: match &p.status {
            TreatyStatus::InForce { since } => since.clone(),
            _ => String::new(),
        },
        authority_key: p.authority.to_vec(),
        periods,
        positions,
        holdings_total: held.values().sum(),
        accounts: state
            .registry_accounts(&p.code)
            .map(|a| a.id.to_string())
            .collect(),
        member_of: p
            .member_of
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}
