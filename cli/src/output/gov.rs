//! Printing governance: proposals with their Art. 22 tallies, and the validator set.

use std::io::Write;

use kyoto_proto::v1 as pb;

use super::{Output, json};

impl Output {
    pub fn proposal(&self, p: &pb::ProposalView) -> anyhow::Result<()> {
        if self.is_json() {
            return json(p);
        }
        self.print_proposal(p)
    }

    fn print_proposal(&self, p: &pb::ProposalView) -> anyhow::Result<()> {
        say!(
            "proposal {} ({}) by {}: {}",
            p.id,
            p.class,
            p.proposer,
            p.title
        );
        say!("change:      {}", p.change);
        say!(
            "submitted:   {}   voting {} to {}",
            p.submitted,
            p.voting_opens,
            p.voting_closes
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
        say!("outcome:     {}{method}{reason}", p.outcome);
        say!(
            "tally:       yes {} / no {} / abstain {} (present and voting {}; States in force {})",
            p.yes,
            p.no,
            p.abstain,
            p.yes + p.no,
            p.eligible
        );
        if p.class == "annex_b_amendment" {
            say!("consent:     {}", p.consent);
        }
        for v in &p.votes {
            let choice = pb::VoteChoice::try_from(v.choice)
                .map(|c| c.as_str_name())
                .unwrap_or("?");
            say!(
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
            say!("accepted:    {}", list.join(", "));
        }
        if !p.three_fourths_reached.is_empty() {
            say!(
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
            say!("in force:    {}", list.join(", "));
        }
        if !p.non_acceptances.is_empty() {
            say!("non-acceptance: {}", p.non_acceptances.join(" "));
        }
        Ok(())
    }

    pub fn proposals(&self, l: &pb::ListProposalsResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(l);
        }
        for p in &l.proposals {
            say!(
                "{:>4} {:<18} {:<12} voting {}..{}  {}",
                p.id,
                p.class,
                p.outcome,
                p.voting_opens,
                p.voting_closes,
                p.title
            );
        }
        Ok(())
    }

    pub fn validators(&self, v: &pb::ListValidatorsResponse) -> anyhow::Result<()> {
        if self.is_json() {
            return json(v);
        }
        for x in &v.validators {
            say!(
                "{:<16} {:<4} {}",
                x.name,
                x.party,
                hex::encode(&x.public_key)
            );
        }
        Ok(())
    }
}
