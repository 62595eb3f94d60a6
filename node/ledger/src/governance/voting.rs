//! Voting and adoption.
//!
//! - Art. 22.1: each Party has one vote.
//! - Art. 22.2: a regional economic integration organization votes, within its
//!   competence, with as many votes as its member States that are Parties, and never
//!   in the same matter as any of its member States.
//! - Art. 20.3, 21.4: adoption by consensus, or else by three fourths of the Parties
//!   present and voting (Art. 1), with a quorum of two thirds of the Parties.

use crate::calendar::format_date;
use crate::refusal::Refusal;
use crate::state::{Party, PartyKind, State};
use crate::types::{PartyCode, PublicKey};

use super::{AdoptionMethod, Choice, GovPlan, Outcome, Proposal, ProposalClass, Tally};

impl State {
    /// Parties for which the Protocol is in force now.
    pub(crate) fn parties_in_force(&self) -> impl Iterator<Item = &Party> {
        self.parties.values().filter(|p| p.in_force())
    }

    /// Art. 22: a State has one vote; a REIO as many as its member States that are Parties.
    pub fn vote_weight(&self, party: &Party) -> u64 {
        match &party.kind {
            PartyKind::State => 1,
            PartyKind::Reio { members, .. } => members
                .iter()
                .filter(|m| self.parties.get(*m).is_some_and(Party::in_force))
                .count() as u64,
        }
    }

    /// Weighted votes of a proposal now.
    pub fn tally(&self, p: &Proposal) -> Tally {
        let mut t = Tally {
            eligible: self
                .parties_in_force()
                .filter(|p| matches!(p.kind, PartyKind::State))
                .count() as u64,
            ..Tally::default()
        };
        for (code, choice) in &p.votes {
            let w = self
                .parties
                .get(code)
                .map_or(0, |party| self.vote_weight(party));
            match choice {
                Choice::Yes => t.yes += w,
                Choice::No => t.no += w,
                Choice::Abstain => t.abstain += w,
            }
        }
        t
    }

    /// Art. 22: a vote of a Party for which the Protocol is in force; a REIO within its
    /// competence, never in the same matter as one of its member States.
    pub(crate) fn plan_vote(
        &self,
        signer: &PublicKey,
        proposal: u64,
        voter: &PartyCode,
        choice: Choice,
    ) -> Result<GovPlan, Refusal> {
        let now = self.meta.time_ms;
        let p = self.proposal_ref(proposal)?;
        let v = self.party_in_force(voter, signer, "vote")?;
        if now < p.opens_ms {
            return Err(Refusal::VotingNotOpen {
                id: p.id,
                opens: format_date(p.opens_ms),
            });
        }
        if now >= p.closes_ms || p.outcome != Outcome::Pending {
            return Err(Refusal::VotingClosed { id: p.id });
        }
        if p.votes.contains_key(voter) {
            return Err(Refusal::AlreadyVoted {
                party: voter.clone(),
                id: p.id,
            });
        }
        match &v.kind {
            PartyKind::Reio {
                members,
                competence,
            } => {
                // Art. 22.2: within its competence only, and never with its members.
                if !competence.contains(&p.kind.class()) {
                    return Err(Refusal::OutsideReioCompetence {
                        party: voter.clone(),
                        class: p.kind.class().name(),
                    });
                }
                if let Some(m) = members.iter().find(|m| p.votes.contains_key(*m)) {
                    return Err(Refusal::ReioMemberAlreadyVoted {
                        reio: voter.clone(),
                        member: m.clone(),
                    });
                }
            }
            PartyKind::State => {
                if let Some(reio) = &v.member_of
                    && p.votes.contains_key(reio)
                {
                    return Err(Refusal::MemberStateReioAlreadyVoted {
                        member: voter.clone(),
                        reio: reio.clone(),
                    });
                }
            }
        }
        let weight = self.vote_weight(v);
        let mut p = p.clone();
        p.votes.insert(voter.clone(), choice);
        Ok(GovPlan::Vote(Box::new(p), weight))
    }

    /// Tally and adoption at the close of voting (Art. 20.3, 21.4; Art. 1 "present and voting").
    pub(crate) fn close(&self, p: &mut Proposal) {
        let t = self.tally(p);
        p.tally = t;
        let at_ms = p.closes_ms;
        let present_and_voting = t.yes + t.no;
        let participated = present_and_voting + t.abstain;
        let q = &self.params;
        p.outcome = if u128::from(participated) * u128::from(q.quorum_denominator)
            < u128::from(t.eligible) * u128::from(q.quorum_numerator)
        {
            Outcome::NotAdopted {
                reason: "no quorum: fewer than two thirds of the Parties took part".into(),
                at_ms,
            }
        } else if p.kind.class() == ProposalClass::AnnexBAmendment && !p.consent {
            Outcome::NotAdopted {
                reason: "the Party concerned did not consent (Art. 21.7)".into(),
                at_ms,
            }
        } else if t.yes > 0 && t.no == 0 {
            Outcome::Adopted {
                method: AdoptionMethod::Consensus,
                at_ms,
            }
        } else if t.yes > 0 && 4 * u128::from(t.yes) >= 3 * u128::from(present_and_voting) {
            Outcome::Adopted {
                method: AdoptionMethod::ThreeFourths,
                at_ms,
            }
        } else {
            Outcome::NotAdopted {
                reason: "fewer than three fourths of the votes present and voting were yes".into(),
                at_ms,
            }
        };
    }
}
