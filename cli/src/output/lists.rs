//! Printing listings (Parties, projects, accounts) and dry runs.

use std::io::Write;

use kyoto_proto::v1 as pb;

use super::{Output, json, more, outcome, qty, when};

impl Output {
    pub fn parties(&self, l: &pb::ListPartiesResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(l);
        }
        say!(
            "{:<4} {:<34} {:<20} {:<10} {:>7} {:>16} {:>8}",
            "code",
            "name",
            "status",
            "in force",
            "Annex B",
            "units held",
            "accounts"
        );
        for p in &l.parties {
            let annex_b = if p.annex_b_percent > 0 {
                format!("{} %", p.annex_b_percent)
            } else {
                "-".to_owned()
            };
            say!(
                "{:<4} {:<34} {:<20} {:<10} {:>7} {:>16} {:>8}",
                p.code,
                p.name,
                p.status,
                if p.in_force_since.is_empty() {
                    "-"
                } else {
                    &p.in_force_since
                },
                annex_b,
                qty(p.holdings_total),
                p.account_count
            );
        }
        more(&l.next_page_token)
    }

    pub fn projects(&self, l: &pb::ListProjectsResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(l);
        }
        say!(
            "{:<16} {:<4} {:<4} {:<8} participants / approvals",
            "project",
            "kind",
            "host",
            "acquirer"
        );
        for p in &l.projects {
            let detail = if p.kind == "ji" {
                format!(
                    "host {}, acquirer {}",
                    if p.host_approved {
                        "approved"
                    } else {
                        "pending"
                    },
                    if p.acquirer_approved {
                        "approved"
                    } else {
                        "pending"
                    }
                )
            } else {
                p.participants.join(" ")
            };
            say!(
                "{:<16} {:<4} {:<4} {:<8} {detail}",
                p.project,
                p.kind,
                p.host,
                if p.acquirer.is_empty() {
                    "-"
                } else {
                    &p.acquirer
                }
            );
        }
        more(&l.next_page_token)
    }

    pub fn accounts(&self, l: &pb::ListAccountsResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(l);
        }
        say!(
            "{:<16} {:<24} {:>16}  {:<30} holder key",
            "account",
            "type",
            "units",
            "holder"
        );
        for a in &l.accounts {
            say!(
                "{:<16} {:<24} {:>16}  {:<30} {}",
                a.account_id,
                a.kind,
                qty(a.total),
                a.holder_name,
                hex::encode(&a.holder_key)
            );
        }
        more(&l.next_page_token)
    }

    pub fn simulated(&self, s: &pb::SimulateTransactionResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(s);
        }
        say!("dry run: nothing was submitted");
        say!("transaction {}", hex::encode(&s.tx_hash));
        let Some(r) = &s.receipt else { return Ok(()) };
        say!("as block:  {} at {}", r.height, when(s.timestamp_ms));
        say!("signer:  {} nonce {}", hex::encode(&r.signer), r.nonce);
        outcome(r)
    }
}
