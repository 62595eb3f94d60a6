//! Proposals: amendments to the Protocol (Art. 20.1, 20.2), to its annexes (Art. 21.2,
//! 21.3; Annex B with the consent of the Party concerned, Art. 21.7) and decisions of
//! the meeting of the Parties (validators, eligibility, parameters).

use std::collections::{BTreeMap, BTreeSet};

use crate::calendar::{days_after, months_after};
use crate::refusal::{InvalidArgument, NotAuthorised, Refusal};
use crate::state::State;
use crate::tx::AppliedKind;
use crate::types::{PartyCode, PublicKey};

use super::{GovPlan, Outcome, Proposal, ProposalKind, Tally};
use crate::limits::MAX_TITLE_CHARS;

impl State {
    pub(crate) fn proposal_ref(&self, id: u64) -> Result<&Proposal, Refusal> {
        self.proposals
            .get(&id)
            .ok_or(Refusal::UnknownProposal { id })
    }

    /// Art. 20.1, 20.2, 21.2, 21.3: any Party may propose; voting opens after the notice.
    pub(crate) fn plan_propose(
        &self,
        signer: &PublicKey,
        proposer: &PartyCode,
        title: &str,
        kind: &ProposalKind,
    ) -> Result<GovPlan, Refusal> {
        let now = self.meta.time_ms;
        let gp = &self.params;
        // Art. 20.1, 21.2: any Party may propose.
        self.party_in_force(proposer, signer, "make proposals")?;
        let t = title.trim();
        if t.is_empty() || t.chars().count() > MAX_TITLE_CHARS || t.chars().any(char::is_control) {
            return Err(Refusal::InvalidArgument(InvalidArgument::Title));
        }
        self.check_proposal_kind(kind)?;
        // No notice (a test genesis): voting opens at once, not at midnight.
        let opens_ms = if gp.notice_months == 0 {
            now
        } else {
            months_after(now, gp.notice_months)
        };
        let closes_ms = if gp.session_seconds > 0 {
            opens_ms.saturating_add(i64::from(gp.session_seconds) * 1000)
        } else {
            days_after(opens_ms, gp.session_days)
        };
        let id = self.governance.next_proposal_id;
        let proposal = Proposal {
            id,
            proposer: proposer.clone(),
            title: t.to_owned(),
            kind: kind.clone(),
            submitted_ms: now,
            opens_ms,
            closes_ms,
            votes: BTreeMap::new(),
            consent: false,
            outcome: Outcome::Pending,
            tally: Tally::default(),
            acceptances: BTreeMap::new(),
            non_acceptances: BTreeSet::new(),
            threshold_ms: None,
            in_force: BTreeMap::new(),
            effect_applied: false,
        };
        Ok(GovPlan::Proposal(
            Box::new(proposal),
            AppliedKind::ProposalSubmitted,
        ))
    }

    /// Art. 21.7: the written consent of the Party an Annex B amendment concerns.
    pub(crate) fn plan_consent(
        &self,
        signer: &PublicKey,
        proposal: u64,
    ) -> Result<GovPlan, Refusal> {
        let p = self.proposal_ref(proposal)?;
        let ProposalKind::AnnexBAmendment { party, .. } = &p.kind else {
            return Err(Refusal::InvalidArgument(
                InvalidArgument::ConsentOnlyForAnnexB,
            ));
        };
        let concerned = self.party_ref(party)?;
        if &concerned.authority != signer {
            return Err(Refusal::NotAuthorised(
                NotAuthorised::NotThePartyConcerned {
                    party: party.clone(),
                },
            ));
        }
        if !concerned.in_force() {
            return Err(Refusal::NotAParty {
                party: party.clone(),
            });
        }
        if p.outcome != Outcome::Pending {
            return Err(Refusal::VotingClosed { id: p.id });
        }
        let mut p = p.clone();
        p.consent = true;
        Ok(GovPlan::Proposal(Box::new(p), AppliedKind::ConsentGiven))
    }

    pub(crate) fn check_proposal_kind(&self, kind: &ProposalKind) -> Result<(), Refusal> {
        let bad = |rule: InvalidArgument| Err(Refusal::InvalidArgument(rule));
        match kind {
            ProposalKind::ProtocolAmendment { .. } => Ok(()),
            ProposalKind::AnnexAmendment { annex, .. } => {
                if annex == "B" || annex.is_empty() || annex.len() > 8 {
                    return bad(InvalidArgument::AnnexName);
                }
                Ok(())
            }
            ProposalKind::AnnexBAmendment { party, period, .. } => {
                let p = self.party_ref(party)?;
                if !p.annex_i {
                    return bad(InvalidArgument::AnnexBNotAnnexI);
                }
                self.params
                    .period(*period)
                    .ok_or(Refusal::UnknownPeriod { period: *period })?;
                Ok(())
            }
            ProposalKind::AddValidator { name, party, key } => {
                self.party_ref(party)?;
                if name.trim().is_empty() || name.len() > 64 {
                    return bad(InvalidArgument::ValidatorName);
                }
                if self.governance.validators.iter().any(|v| &v.key == key) {
                    return bad(InvalidArgument::AlreadyAValidator);
                }
                // Consensus verifies votes strictly: a key that is not a valid, strong
                // Ed25519 point could never vote.
                match ed25519_dalek::VerifyingKey::from_bytes(key) {
                    Ok(k) if !k.is_weak() => {}
                    _ => return bad(InvalidArgument::ValidatorKey),
                }
                Ok(())
            }
            ProposalKind::RemoveValidator { key } => {
                if !self.governance.validators.iter().any(|v| &v.key == key) {
                    return bad(InvalidArgument::NotAValidator);
                }
                if self.governance.validators.len() < 2 {
                    return bad(InvalidArgument::LastValidator);
                }
                Ok(())
            }
            ProposalKind::SetEligibility { party, .. } => {
                self.party_ref(party)?;
                Ok(())
            }
            ProposalKind::SetParameter { name, value } => {
                let mut params = self.params.clone();
                params
                    .set(name, *value)
                    .map_err(|e| Refusal::InvalidArgument(InvalidArgument::Parameter(e)))
            }
        }
    }
}
