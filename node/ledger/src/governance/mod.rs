//! Governance by the treaty's own rules, as pure ledger logic driven by signed
//! transactions and ledger time: proposals (Art. 20, 21 and decisions of the meeting
//! of the Parties), votes with Art. 22 weights, adoption (Art. 20.3, 21.4), acceptance
//! and entry into force (Art. 20.4, 20.5, 21.5), membership (Art. 24, 25) and
//! withdrawal (Art. 27).
//!
//! One file per part of the treaty: `proposals` (Art. 20, 21), `voting` (Art. 22),
//! `entry_into_force` (Art. 20.4, 21.5, 25) and `membership` (Art. 24, 25.3, 27).

use std::collections::BTreeSet;

use crate::leaves::StateKey;
use crate::refusal::Refusal;
use crate::state::{Account, Holder, Party, State, TreatyStatus, party_holding};
use crate::tx::{Applied, AppliedKind};
use crate::types::{PartyCode, PublicKey};

mod entry_into_force;
mod membership;
mod proposals;
pub mod records;
#[cfg(test)]
mod tests;
mod voting;

pub use entry_into_force::{ENTRY_INTO_FORCE_CO2_PERCENT, ENTRY_INTO_FORCE_PARTIES};
pub use records::{
    AdoptionMethod, Choice, GovTx, Governance, Outcome, Proposal, ProposalClass, ProposalKind,
    Tally, Validator,
};

pub(crate) enum GovPlan {
    Proposal(Box<Proposal>, AppliedKind),
    /// A vote: the proposal with the vote recorded, and the vote's Art. 22 weight.
    Vote(Box<Proposal>, u64),
    NewParty(Box<Party>),
    Status(PartyCode, TreatyStatus),
}

impl State {
    pub fn governance(&self) -> &Governance {
        &self.governance
    }

    pub fn proposal(&self, id: u64) -> Option<&Proposal> {
        self.proposals.get(&id)
    }

    pub fn proposals(&self) -> impl Iterator<Item = &Proposal> {
        self.proposals.values()
    }

    /// Plans a governance transaction: each kind in the file of its article.
    pub(crate) fn plan_gov(&self, signer: &PublicKey, tx: &GovTx) -> Result<GovPlan, Refusal> {
        match tx {
            GovTx::Propose {
                proposer,
                title,
                kind,
            } => self.plan_propose(signer, proposer, title, kind),
            GovTx::Consent { proposal } => self.plan_consent(signer, *proposal),
            GovTx::Vote {
                proposal,
                voter,
                choice,
            } => self.plan_vote(signer, *proposal, voter, *choice),
            GovTx::Accept { proposal, party } => self.plan_accept(signer, *proposal, party),
            GovTx::NotifyNonAcceptance { proposal, party } => {
                self.plan_non_acceptance(signer, *proposal, party)
            }
            GovTx::DepositInstrument {
                party,
                name,
                annex_i,
                authority,
            } => self.plan_deposit(signer, party, name, *annex_i, *authority),
            GovTx::Withdraw {
                party,
                effective_ms,
            } => self.plan_withdraw(signer, party, *effective_ms),
        }
    }

    /// Records a proposal a transaction submitted or changed.
    fn record_proposal(
        &mut self,
        p: Proposal,
        kind: AppliedKind,
        weight: u64,
        touched: &mut BTreeSet<StateKey>,
    ) -> Applied {
        if kind == AppliedKind::ProposalSubmitted {
            self.governance.next_proposal_id += 1;
            touched.insert(StateKey::Governance);
        }
        touched.insert(StateKey::Proposal(p.id));
        let id = p.id;
        self.proposals.insert(id, p);
        Applied {
            kind,
            amount: id,
            serials: Vec::new(),
            from: None,
            to: None,
            accounts: Vec::new(),
            credited: Vec::new(),
            proposal: Some(id),
            weight,
        }
    }

    pub(crate) fn execute_gov(
        &mut self,
        plan: GovPlan,
        touched: &mut BTreeSet<StateKey>,
    ) -> Applied {
        let empty = |kind| Applied {
            kind,
            amount: 0,
            serials: Vec::new(),
            from: None,
            to: None,
            accounts: Vec::new(),
            credited: Vec::new(),
            proposal: None,
            weight: 0,
        };
        match plan {
            GovPlan::Proposal(p, kind) => self.record_proposal(*p, kind, 0, touched),
            GovPlan::Vote(p, weight) => {
                self.record_proposal(*p, AppliedKind::VoteCast, weight, touched)
            }
            GovPlan::NewParty(party) => {
                let now = self.meta.time_ms;
                let party = *party;
                let code = party.code.clone();
                let holding = party_holding(&code);
                touched.insert(StateKey::Party(code.clone()));
                touched.insert(StateKey::Account(holding.clone()));
                self.insert_account(Account {
                    id: holding.clone(),
                    holder: Holder::PartyAuthority,
                    holder_name: party.name.clone(),
                    blocks: Vec::new(),
                });
                self.parties.insert(code, party);
                self.settle_entry_into_force(now);
                self.touch_deposited(touched);
                Applied {
                    to: Some(holding),
                    ..empty(AppliedKind::InstrumentDeposited)
                }
            }
            GovPlan::Status(code, status) => {
                let kind = if matches!(status, TreatyStatus::Deposited { .. }) {
                    AppliedKind::InstrumentDeposited
                } else {
                    AppliedKind::WithdrawalNotified
                };
                if let Some(p) = self.parties.get_mut(&code) {
                    p.status = status;
                    touched.insert(StateKey::Party(code));
                }
                if kind == AppliedKind::InstrumentDeposited {
                    self.settle_entry_into_force(self.meta.time_ms);
                    self.touch_deposited(touched);
                }
                empty(kind)
            }
        }
    }
}
