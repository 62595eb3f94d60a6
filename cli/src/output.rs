//! Printing responses: human-readable text, or the protobuf JSON mapping.

use std::path::Path;

use ed25519_dalek::SigningKey;
use kyoto_client::UnitType;
use kyoto_proto::v1 as pb;
use serde::Serialize;

use crate::args::Format;

pub struct Output {
    format: Format,
}

fn unit(t: i32) -> String {
    UnitType::from_i32(t)
        .map(|u| u.name().to_owned())
        .unwrap_or_else(|| format!("type {t}"))
}

fn serials(blocks: &[pb::SerialBlock]) -> String {
    blocks
        .iter()
        .map(|b| {
            format!(
                "{} {} {}..={} (period {})",
                b.origin,
                unit(b.unit_type),
                b.start,
                b.end,
                b.applicable_period
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

impl Output {
    pub fn new(format: Format) -> Self {
        Output { format }
    }

    fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    pub fn key(&self, path: &Path, key: &SigningKey) -> anyhow::Result<()> {
        let pk = hex::encode(key.verifying_key().to_bytes());
        if self.is_json() {
            return json(
                &serde_json::json!({ "file": path.display().to_string(), "public_key": pk }),
            );
        }
        println!("file:       {}", path.display());
        println!("public key: {pk}");
        Ok(())
    }

    pub fn submitted(&self, r: &pb::SubmitTransactionResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(r);
        }
        println!("accepted: {}", hex::encode(&r.tx_hash));
        Ok(())
    }

    pub fn transaction(&self, t: &pb::GetTransactionResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(t);
        }
        println!("transaction {}", hex::encode(&t.tx_hash));
        let status = pb::TransactionStatus::try_from(t.status)
            .map(|s| s.as_str_name())
            .unwrap_or("?");
        println!(
            "status:  {}",
            status
                .trim_start_matches("TRANSACTION_STATUS_")
                .to_lowercase()
        );
        let Some(r) = &t.receipt else { return Ok(()) };
        println!("block:   {} ({})", r.height, hex::encode(&t.block_hash));
        println!("signer:  {} nonce {}", hex::encode(&r.signer), r.nonce);
        match &r.outcome {
            Some(pb::receipt::Outcome::Applied(a)) => {
                println!("result:  applied: {}", a.kind);
                if !a.from_account.is_empty() {
                    println!("from:    {}", a.from_account);
                }
                if !a.to_account.is_empty() {
                    println!("to:      {}", a.to_account);
                }
                if a.amount > 0 {
                    println!("amount:  {}", a.amount);
                }
                if !a.serials.is_empty() {
                    println!("serials: {}", serials(&a.serials));
                }
            }
            Some(pb::receipt::Outcome::Refused(f)) => {
                println!("result:  refused: {}: {}", f.code, f.message)
            }
            None => {}
        }
        Ok(())
    }

    pub fn account(&self, a: &pb::GetAccountResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(a);
        }
        println!(
            "account {} ({}, registry of {})",
            a.account_id, a.kind, a.party
        );
        println!("holder:  {}", a.holder_name);
        println!("key:     {}", hex::encode(&a.holder_key));
        println!("total:   {}", a.total);
        println!("{:<10} {:>6} {:>16}", "unit", "period", "amount");
        for h in &a.holdings {
            println!("{:<10} {:>6} {:>16}", unit(h.unit_type), h.period, h.amount);
        }
        println!("serial blocks:");
        for b in &a.serial_blocks {
            println!("  {}", serials(std::slice::from_ref(b)));
        }
        Ok(())
    }

    pub fn party(&self, p: &pb::GetPartyResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(p);
        }
        println!("{} {} ({})", p.code, p.name, p.kind);
        if !p.members.is_empty() {
            println!("members:        {}", p.members.join(" "));
        }
        if !p.member_of.is_empty() {
            println!("member of:      {}", p.member_of);
        }
        let annex_b = if p.annex_b_percent > 0 {
            format!("{}% of base year", p.annex_b_percent)
        } else {
            "not in Annex B".into()
        };
        println!(
            "annex I:        {}   annex B: {annex_b}{}",
            p.annex_i,
            if p.economy_in_transition {
                " (EIT)"
            } else {
                ""
            }
        );
        if p.base_year_emissions > 0 {
            println!("base year:      {} t CO2e", p.base_year_emissions);
        }
        let since = if p.in_force_since.is_empty() {
            String::new()
        } else {
            format!(" since {}", p.in_force_since)
        };
        println!("status:         {}{since}", p.status);
        if !p.deposited.is_empty() {
            println!(
                "deposited:      {} (in force from {}, Art. 25.3)",
                p.deposited, p.in_force_from
            );
        }
        if !p.withdrawal_effective.is_empty() {
            println!(
                "withdrawal:     notified {}, effective {} (Art. 27)",
                p.withdrawal_notified, p.withdrawal_effective
            );
        }
        println!("authority key:  {}", hex::encode(&p.authority_key));
        println!("accounts:       {}", p.accounts.join(" "));
        println!("holdings:       {}", p.holdings_total);
        for per in &p.periods {
            println!(
                "period {}: assigned amount {} (Art. 3.7), AAU issued {}, acquired {} (Art. 3.10/3.12), transferred {} (Art. 3.11), adjusted {}",
                per.period,
                per.assigned_amount,
                per.aau_issued,
                per.acquired,
                per.transferred,
                per.adjusted_assigned_amount
            );
        }
        println!(
            "{:<10} {:>6} {:>14} {:>14} {:>14} {:>14}",
            "unit", "period", "issued", "acquired", "transferred", "held"
        );
        for pos in &p.positions {
            println!(
                "{:<10} {:>6} {:>14} {:>14} {:>14} {:>14}",
                unit(pos.unit_type),
                pos.period,
                pos.issued,
                pos.acquired,
                pos.transferred,
                pos.held
            );
        }
        Ok(())
    }

    pub fn block(&self, b: &pb::GetBlockResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(b);
        }
        let h = b
            .block
            .as_ref()
            .and_then(|b| b.header.clone())
            .unwrap_or_default();
        println!("block {} {}", h.height, hex::encode(&b.block_hash));
        println!("time:         {} ms", h.timestamp_ms);
        println!("parent:       {}", hex::encode(&h.parent_hash));
        println!("parent root:  {}", hex::encode(&h.parent_state_root));
        println!("state root:   {}", hex::encode(&b.state_root));
        println!("transactions: {}", h.transaction_count);
        for (hash, r) in b.transaction_hashes.iter().zip(&b.receipts) {
            let result = match &r.outcome {
                Some(pb::receipt::Outcome::Applied(a)) => format!("{} {}", a.kind, a.amount),
                Some(pb::receipt::Outcome::Refused(f)) => format!("refused {}", f.code),
                None => String::new(),
            };
            println!("  {} {result}", hex::encode(hash));
        }
        Ok(())
    }

    pub fn status(&self, s: &pb::GetStatusResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(s);
        }
        println!("chain:       {} ({})", s.chain_id, s.role);
        println!("height:      {}", s.height);
        println!("head:        {}", hex::encode(&s.latest_block_hash));
        println!("state root:  {}", hex::encode(&s.state_root));
        println!("block time:  {} ms", s.latest_block_time_ms);
        println!("mempool:     {}", s.mempool_size);
        if !s.protocol_in_force.is_empty() {
            println!(
                "protocol:    in force since {} (Art. 25)",
                s.protocol_in_force
            );
        }
        println!("genesis:     {}", hex::encode(&s.genesis_hash));
        println!("version:     {}", s.version);
        Ok(())
    }

    pub fn history(&self, h: &pb::GetAccountHistoryResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(h);
        }
        println!(
            "audit trail of {} ({} entries, newest first)",
            h.account_id,
            h.entries.len()
        );
        for e in &h.entries {
            let Some(r) = &e.receipt else { continue };
            let what = match &r.outcome {
                Some(pb::receipt::Outcome::Applied(a)) => {
                    format!(
                        "{} {} {} -> {}: {}",
                        a.kind,
                        a.amount,
                        a.from_account,
                        a.to_account,
                        serials(&a.serials)
                    )
                }
                Some(pb::receipt::Outcome::Refused(f)) => format!("refused {}", f.code),
                None => String::new(),
            };
            println!(
                "  block {:>6} tx {} {what}",
                e.height,
                hex::encode(&r.tx_hash)
            );
        }
        Ok(())
    }

    pub fn compliance(&self, c: &pb::GetComplianceResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(c);
        }
        println!(
            "{} period {}: {}",
            c.party,
            c.period,
            if c.complies {
                "complies (Art. 3.1)"
            } else {
                "does not (yet) comply (Art. 3.1)"
            }
        );
        println!("assigned amount:   {}", c.assigned_amount);
        let years: Vec<String> = c.years_reported.iter().map(ToString::to_string).collect();
        println!(
            "emissions:         {} (years reported: {} of {})",
            c.emissions,
            years.join(" "),
            c.years_in_period.len()
        );
        println!("retired:           {}", c.retired);
        println!("surplus:           {}", c.surplus);
        println!(
            "reserve (CPR):     {} (held toward it: {})",
            c.reserve, c.held_for_reserve
        );
        Ok(())
    }

    pub fn project(&self, p: &pb::GetProjectResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(p);
        }
        println!(
            "{} project {} hosted by {}",
            p.kind.to_uppercase(),
            p.project,
            p.host
        );
        if p.kind == "ji" {
            println!(
                "acquirer: {}  approved by host: {}  by acquirer: {}",
                p.acquirer, p.host_approved, p.acquirer_approved
            );
        } else {
            println!("participants: {}", p.participants.join(" "));
        }
        Ok(())
    }

    pub fn proposal(&self, p: &pb::ProposalView) -> anyhow::Result<()> {
        if self.is_json() {
            return json(p);
        }
        self.print_proposal(p);
        Ok(())
    }

    fn print_proposal(&self, p: &pb::ProposalView) {
        println!(
            "proposal {} ({}) by {}: {}",
            p.id, p.class, p.proposer, p.title
        );
        println!("change:      {}", p.change);
        println!(
            "submitted:   {}   voting {} to {}",
            p.submitted, p.voting_opens, p.voting_closes
        );
        let method = if p.adoption_method.is_empty() {
            String::new()
        } else {
            format!(" by {}", p.adoption_method)
        };
        let reason = if p.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", p.reason)
        };
        println!("outcome:     {}{method}{reason}", p.outcome);
        println!(
            "tally:       yes {} / no {} / abstain {} (present and voting {}; States in force {})",
            p.yes,
            p.no,
            p.abstain,
            p.yes + p.no,
            p.eligible
        );
        if p.class == "annex_b_amendment" {
            println!("consent:     {}", p.consent);
        }
        for v in &p.votes {
            let choice = pb::VoteChoice::try_from(v.choice)
                .map(|c| c.as_str_name())
                .unwrap_or("?");
            println!(
                "  {:<4} {:<8} weight {}",
                v.party,
                choice.trim_start_matches("VOTE_CHOICE_").to_lowercase(),
                v.weight
            );
        }
        if !p.acceptances.is_empty() {
            let list: Vec<String> = p
                .acceptances
                .iter()
                .map(|a| format!("{} {}", a.party, a.date))
                .collect();
            println!("accepted:    {}", list.join(", "));
        }
        if !p.three_fourths_reached.is_empty() {
            println!(
                "three fourths of the Parties accepted on {}",
                p.three_fourths_reached
            );
        }
        if !p.in_force.is_empty() {
            let list: Vec<String> = p
                .in_force
                .iter()
                .map(|a| format!("{} {}", a.party, a.date))
                .collect();
            println!("in force:    {}", list.join(", "));
        }
        if !p.non_acceptances.is_empty() {
            println!("non-acceptance: {}", p.non_acceptances.join(" "));
        }
    }

    pub fn proposals(&self, l: &pb::ListProposalsResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(l);
        }
        for p in &l.proposals {
            println!(
                "{:>4} {:<18} {:<12} voting {}..{}  {}",
                p.id, p.class, p.outcome, p.voting_opens, p.voting_closes, p.title
            );
        }
        Ok(())
    }

    pub fn validators(&self, v: &pb::ListValidatorsResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(v);
        }
        for x in &v.validators {
            println!(
                "{:<16} {:<4} {}",
                x.name,
                x.party,
                hex::encode(&x.public_key)
            );
        }
        Ok(())
    }
}
