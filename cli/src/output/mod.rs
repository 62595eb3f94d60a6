//! Printing responses: human-readable text, or the protobuf JSON mapping.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::SigningKey;
use kyoto_client::{UnitType, calendar};
use kyoto_proto::v1 as pb;
use serde::Serialize;

use crate::args::Format;
use kyoto_client::json::ids_in_hex;

pub struct Output {
    format: Format,
}

fn unit(t: i32) -> String {
    UnitType::from_i32(t)
        .map(|u| u.name().to_owned())
        .unwrap_or_else(|| format!("type {t}"))
}

/// A quantity with thousands separators, as the README and the Protocol's tables write
/// them (5,964,371,924). Serial numbers are ids and are printed as they are.
fn qty(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A ledger time as an ISO 8601 instant in UTC.
fn when(ms: i64) -> String {
    calendar::format_instant(ms)
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

/// `println!` that returns the write's error instead of panicking, so that a closed
/// stdout (`kyoto status | head -1`) ends the command quietly (see `exit.rs`).
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

mod gov;
mod lists;

fn json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(v)?;
    ids_in_hex(&mut value);
    say!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// Where a page that is not the last leaves off: the token for `--after`, on stderr
/// so that stdout stays the listing.
fn more(next_page_token: &str) -> anyhow::Result<()> {
    if !next_page_token.is_empty() {
        eprintln!("kyoto: more follow: continue with --after {next_page_token}");
    }
    Ok(())
}

/// A receipt's result: what was applied (accounts, amount, serials) or the refusal.
fn outcome(r: &pb::Receipt) -> anyhow::Result<()> {
    match &r.outcome {
        Some(pb::receipt::Outcome::Applied(a)) => {
            say!("result:  applied: {}", a.kind);
            if !a.from_account.is_empty() {
                say!("from:    {}", a.from_account);
            }
            if !a.to_account.is_empty() {
                say!("to:      {}", a.to_account);
            }
            if a.proposal > 0 {
                // A governance act: `amount` repeats the proposal's id.
                say!("proposal: {}", a.proposal);
            } else if a.amount > 0 {
                say!("amount:  {}", qty(a.amount));
            }
            if a.kind == "vote_cast" {
                say!("weight:  {} (votes counted, Art. 22)", a.weight);
            }
            if a.credited.len() > 1 {
                for c in &a.credited {
                    say!("credited: {} {}", c.account, qty(c.amount));
                }
            }
            if !a.serials.is_empty() {
                say!("serials: {}", serials(&a.serials));
            }
        }
        Some(pb::receipt::Outcome::Refused(f)) => {
            say!("result:  refused: {}: {}", f.code, f.message)
        }
        None => {}
    }
    Ok(())
}

impl Output {
    pub fn new(format: Format) -> Self {
        Output { format }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    pub fn key(&self, path: &Path, key: &SigningKey) -> anyhow::Result<()> {
        let public = key.verifying_key().to_bytes();
        let pk = hex::encode(public);
        // The first 16 bytes of the public key's SHA-256, in groups of four hex digits:
        // short enough to read out over the phone when registries compare keys.
        let digest = hex::encode(&kyoto_client::crypto::sha256(&public)[..16]);
        let fingerprint = digest
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        if self.is_json() {
            // Not a protobuf message: its key is hex already.
            let doc = serde_json::json!({
                "file": path.display().to_string(),
                "publicKey": pk,
                "fingerprint": fingerprint,
            });
            say!("{}", serde_json::to_string_pretty(&doc)?);
            return Ok(());
        }
        say!("file:        {}", path.display());
        say!("public key:  {pk}");
        say!("fingerprint: {fingerprint} (SHA-256 of the public key)");
        Ok(())
    }

    pub fn submitted(&self, r: &pb::SubmitTransactionResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(r);
        }
        say!("accepted: {}", hex::encode(&r.tx_hash));
        Ok(())
    }

    pub fn transaction(&self, t: &pb::GetTransactionResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(t);
        }
        say!("transaction {}", hex::encode(&t.tx_hash));
        let status = pb::TransactionStatus::try_from(t.status)
            .map(|s| s.as_str_name())
            .unwrap_or("?");
        say!(
            "status:  {}",
            status
                .trim_start_matches("TRANSACTION_STATUS_")
                .to_lowercase()
        );
        let Some(r) = &t.receipt else { return Ok(()) };
        say!("block:   {} ({})", r.height, hex::encode(&t.block_hash));
        say!("signer:  {} nonce {}", hex::encode(&r.signer), r.nonce);
        outcome(r)
    }

    pub fn account(&self, a: &pb::GetAccountResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(a);
        }
        say!(
            "account {} ({}, registry of {})",
            a.account_id,
            a.kind,
            a.party
        );
        say!("holder:  {}", a.holder_name);
        say!("key:     {}", hex::encode(&a.holder_key));
        say!("total:   {}", qty(a.total));
        say!("{:<10} {:>6} {:>16}", "unit", "period", "amount");
        for h in &a.holdings {
            say!(
                "{:<10} {:>6} {:>16}",
                unit(h.unit_type),
                h.period,
                qty(h.amount)
            );
        }
        say!("serial blocks:");
        for b in &a.serial_blocks {
            say!("  {}", serials(std::slice::from_ref(b)));
        }
        Ok(())
    }

    pub fn party(&self, p: &pb::GetPartyResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(p);
        }
        say!("{} {} ({})", p.code, p.name, p.kind);
        if !p.members.is_empty() {
            say!("members:        {}", p.members.join(" "));
        }
        if !p.member_of.is_empty() {
            say!("member of:      {}", p.member_of);
        }
        let annex_b = if p.annex_b_percent > 0 {
            format!("{}% of base year", p.annex_b_percent)
        } else {
            "not in Annex B".into()
        };
        say!(
            "annex I:        {}   annex B: {annex_b}{}",
            p.annex_i,
            if p.economy_in_transition {
                " (EIT)"
            } else {
                ""
            }
        );
        if p.base_year_emissions > 0 {
            say!("base year:      {} t CO2e", qty(p.base_year_emissions));
        }
        let since = if p.in_force_since.is_empty() {
            String::new()
        } else {
            format!(" since {}", p.in_force_since)
        };
        say!("status:         {}{since}", p.status);
        if !p.deposited.is_empty() {
            say!(
                "deposited:      {} (in force from {}, Art. 25.3)",
                p.deposited,
                p.in_force_from
            );
        }
        if !p.withdrawal_effective.is_empty() {
            say!(
                "withdrawal:     notified {}, effective {} (Art. 27)",
                p.withdrawal_notified,
                p.withdrawal_effective
            );
        }
        say!("authority key:  {}", hex::encode(&p.authority_key));
        say!("accounts:       {}", p.accounts.join(" "));
        say!("holdings:       {}", qty(p.holdings_total));
        for per in &p.periods {
            say!(
                "period {}: assigned amount {} (Art. 3.7), AAU issued {}, acquired {} (Art. 3.10/3.12), transferred {} (Art. 3.11), adjusted {}",
                per.period,
                qty(per.assigned_amount),
                qty(per.aau_issued),
                qty(per.acquired),
                qty(per.transferred),
                qty(per.adjusted_assigned_amount)
            );
        }
        say!(
            "{:<10} {:>6} {:>14} {:>14} {:>14} {:>14}",
            "unit",
            "period",
            "issued",
            "acquired",
            "transferred",
            "held"
        );
        for pos in &p.positions {
            say!(
                "{:<10} {:>6} {:>14} {:>14} {:>14} {:>14}",
                unit(pos.unit_type),
                pos.period,
                qty(pos.issued),
                qty(pos.acquired),
                qty(pos.transferred),
                qty(pos.held)
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
        say!("block {} {}", h.height, hex::encode(&b.block_hash));
        say!("time:         {}", when(h.timestamp_ms));
        say!("parent:       {}", hex::encode(&h.parent_hash));
        say!("parent root:  {}", hex::encode(&h.parent_state_root));
        say!("state root:   {}", hex::encode(&b.state_root));
        say!("transactions: {}", h.transaction_count);
        for (hash, r) in b.transaction_hashes.iter().zip(&b.receipts) {
            let result = match &r.outcome {
                Some(pb::receipt::Outcome::Applied(a)) => format!("{} {}", a.kind, qty(a.amount)),
                Some(pb::receipt::Outcome::Refused(f)) => format!("refused {}", f.code),
                None => String::new(),
            };
            say!("  {} {result}", hex::encode(hash));
        }
        match &b.certificate {
            Some(c) => {
                say!(
                    "certificate:  round {}, {} precommit{} (verified by every node before it applies the block)",
                    c.round,
                    c.signatures.len(),
                    if c.signatures.len() == 1 { "" } else { "s" }
                );
                for sig in &c.signatures {
                    say!("  signed by {}", hex::encode(&sig.public_key));
                }
            }
            None => say!("certificate:  none"),
        }
        Ok(())
    }

    pub fn backed_up(&self, path: &Path, h: &pb::BackupHeader, bytes: u64) -> anyhow::Result<()> {
        if self.is_json() {
            let mut v = serde_json::to_value(h)?;
            v["file"] = serde_json::json!(path.display().to_string());
            v["bytes"] = serde_json::json!(bytes);
            return json(&v);
        }
        say!(
            "backed up blocks 1 to {} of {} to {} ({} bytes)",
            h.height,
            h.chain_id,
            path.display(),
            qty(bytes)
        );
        say!("state root: {}", hex::encode(&h.state_root));
        say!(
            "block time: {}",
            kyoto_client::calendar::format_instant(h.latest_block_time_ms)
        );
        Ok(())
    }

    pub fn status(&self, s: &pb::GetStatusResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(s);
        }
        say!("chain:       {} ({})", s.chain_id, s.role);
        say!("height:      {}", s.height);
        let serving = if s.serving {
            "serving current data"
        } else {
            "NOT serving current data"
        };
        let behind = if s.behind > 0 {
            format!(", {} heights behind", qty(s.behind))
        } else {
            String::new()
        };
        say!("sync:        {}{behind} ({serving})", s.sync_state);
        if s.last_commit_age_ms > 0 {
            say!(
                "last commit: {:.1} s ago",
                s.last_commit_age_ms as f64 / 1000.0
            );
        }
        let place = if s.validator_position > 0 {
            format!(
                "validator {} of {}",
                s.validator_position, s.validator_count
            )
        } else {
            format!("not one of the {} validators", s.validator_count)
        };
        say!("validators:  {place}");
        if s.gossip_peers_configured > 0 || s.consensus_peers_configured > 0 {
            say!(
                "peers:       gossip {} of {} connected; consensus {} configured",
                s.gossip_peers_connected,
                s.gossip_peers_configured,
                s.consensus_peers_configured
            );
        }
        if !s.last_fault.is_empty() {
            say!("last fault:  {}", s.last_fault);
        }
        say!("head:        {}", hex::encode(&s.latest_block_hash));
        say!("state root:  {}", hex::encode(&s.state_root));
        say!("block time:  {}", when(s.latest_block_time_ms));
        say!("mempool:     {}", s.mempool_size);
        if !s.protocol_in_force.is_empty() {
            say!(
                "protocol:    in force since {} (Art. 25)",
                s.protocol_in_force
            );
        }
        say!("genesis:     {}", hex::encode(&s.genesis_hash));
        say!("version:     {}", s.version);
        Ok(())
    }

    /// One transaction `kyoto watch` follows: a line of text, or in JSON mode one
    /// compact JSON object per line (JSON Lines) with the block's height and time.
    pub fn watched(&self, b: &pb::GetBlockResponse, r: &pb::Receipt) -> anyhow::Result<()> {
        let header = b
            .block
            .as_ref()
            .and_then(|b| b.header.clone())
            .unwrap_or_default();
        if self.is_json() {
            let mut v = serde_json::json!({
                "height": header.height,
                "timestampMs": header.timestamp_ms,
                "time": when(header.timestamp_ms),
                "receipt": serde_json::to_value(r)?,
            });
            ids_in_hex(&mut v);
            say!("{}", serde_json::to_string(&v)?);
            return Ok(());
        }
        let Some(pb::receipt::Outcome::Applied(a)) = &r.outcome else {
            return Ok(());
        };
        say!(
            "{} block {:>6} tx {} {} {} {} -> {}: {}",
            when(header.timestamp_ms),
            header.height,
            hex::encode(&r.tx_hash),
            a.kind,
            qty(a.amount),
            a.from_account,
            a.to_account,
            serials(&a.serials)
        );
        Ok(())
    }

    pub fn history(&self, h: &pb::GetAccountHistoryResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(h);
        }
        say!(
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
                        qty(a.amount),
                        a.from_account,
                        a.to_account,
                        serials(&a.serials)
                    )
                }
                Some(pb::receipt::Outcome::Refused(f)) => format!("refused {}", f.code),
                None => String::new(),
            };
            say!(
                "  {} block {:>6} tx {} {what}",
                when(e.timestamp_ms),
                e.height,
                hex::encode(&r.tx_hash)
            );
        }
        more(&h.next_page_token)
    }

    pub fn compliance(&self, c: &pb::GetComplianceResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(c);
        }
        say!(
            "{} period {}: {}",
            c.party,
            c.period,
            if c.complies {
                "complies (Art. 3.1)"
            } else {
                "does not (yet) comply (Art. 3.1)"
            }
        );
        say!("assigned amount:   {}", qty(c.assigned_amount));
        let years: Vec<String> = c.years_reported.iter().map(ToString::to_string).collect();
        say!(
            "emissions:         {} (years reported: {} of {})",
            qty(c.emissions),
            years.join(" "),
            c.years_in_period.len()
        );
        say!("retired:           {}", qty(c.retired));
        say!("surplus:           {}", qty(c.surplus));
        say!(
            "reserve (CPR):     {} (held toward it: {})",
            qty(c.reserve),
            qty(c.held_for_reserve)
        );
        Ok(())
    }

    pub fn project(&self, p: &pb::GetProjectResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(p);
        }
        say!(
            "{} project {} hosted by {}",
            p.kind.to_uppercase(),
            p.project,
            p.host
        );
        if p.kind == "ji" {
            say!(
                "acquirer: {}  approved by host: {}  by acquirer: {}",
                p.acquirer,
                p.host_approved,
                p.acquirer_approved
            );
        } else {
            say!("participants: {}", p.participants.join(" "));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_have_thousands_separators() {
        assert_eq!(qty(0u64), "0");
        assert_eq!(qty(999u64), "999");
        assert_eq!(qty(1000u64), "1,000");
        assert_eq!(qty(5_964_371_924u64), "5,964,371,924");
        assert_eq!(qty(-1_234_567i64), "-1,234,567");
        assert_eq!(qty(u64::MAX), "18,446,744,073,709,551,615");
    }
}
