//! The clean development mechanism (Art. 12).
//!
//! - Art. 12.2, 12.3(a): projects are hosted by non-Annex I Parties for which the
//!   Protocol is in force; the executive board registers them.
//! - Art. 12.5: the board issues certified emission reductions for a project into the
//!   CDM registry's pending account, from which they go only to its participants.
//! - Art. 12.8: a share of the proceeds goes to the Adaptation Fund account.
//! - Temporary and long-term CERs (tCER, lCER; decision 5/CMP.1) carry an expiry date
//!   the board may change.

use crate::checks::valid_id;
use crate::genesis::CDM_REGISTRY;
use crate::limits::MAX_PARTICIPANTS;
use crate::plan::{Plan, range_len, serials};
use crate::refusal::{InvalidArgument, Refusal};
use crate::state::{Project, State};
use crate::tx::{AppliedKind, SerialRange};
use crate::types::{
    AccountId, AccountKind, Amount, PartyCode, Period, PublicKey, SerialBlock, UnitType,
};

impl State {
    pub(crate) fn plan_cdm_project(
        &self,
        signer: &PublicKey,
        project: &str,
        host: &PartyCode,
        participants: &[AccountId],
    ) -> Result<Plan, Refusal> {
        self.board(signer, "register CDM projects")?;
        if !valid_id(project) {
            return Err(Refusal::InvalidArgument(InvalidArgument::ProjectId {
                project: project.to_owned(),
            }));
        }
        let h = self.party_ref(host)?;
        if h.annex_i || !h.in_force() {
            return Err(Refusal::NotEligible {
                party: host.clone(),
                rule: "CDM projects are hosted by non-Annex I Parties for which the Protocol is in force (Art. 12.2, 12.3(a))".into(),
            });
        }
        if participants.is_empty() || participants.len() > MAX_PARTICIPANTS {
            return Err(Refusal::InvalidArgument(InvalidArgument::Participants));
        }
        for p in participants {
            let acc = self.account_ref(p)?;
            if !matches!(
                acc.id.kind,
                AccountKind::PartyHolding | AccountKind::EntityHolding
            ) {
                return Err(Refusal::WrongAccountType {
                    account: p.clone(),
                    reason: "participants hold units in holding accounts".into(),
                });
            }
        }
        if self.projects.contains_key(project) {
            return Err(Refusal::ProjectConflict {
                project: project.to_owned(),
                reason: "the id is already registered".into(),
            });
        }
        let project = Project::Cdm {
            id: project.to_owned(),
            host: host.clone(),
            participants: participants.to_vec(),
        };
        Ok(Plan::Project {
            project,
            kind: AppliedKind::CdmProjectRegistered,
        })
    }

    pub(crate) fn plan_issue_cers(
        &self,
        signer: &PublicKey,
        project: &str,
        unit_type: UnitType,
        period: Period,
        amount: Amount,
        expiry_ms: Option<i64>,
    ) -> Result<Plan, Refusal> {
        self.board(signer, "issue CERs")?;
        if !matches!(self.projects.get(project), Some(Project::Cdm { .. })) {
            return Err(Refusal::UnknownProject {
                project: project.to_owned(),
            });
        }
        match (unit_type, expiry_ms) {
            (UnitType::Cer, None) => {}
            (UnitType::Tcer | UnitType::Lcer, Some(e)) if e > self.meta.time_ms => {}
            (UnitType::Cer, Some(_)) => {
                return Err(Refusal::InvalidArgument(InvalidArgument::CerWithExpiry));
            }
            (UnitType::Tcer | UnitType::Lcer, _) => {
                return Err(Refusal::InvalidArgument(
                    InvalidArgument::ExpiryNotInFuture { unit_type },
                ));
            }
            (other, _) => return Err(Refusal::UnsupportedUnitType { unit_type: other }),
        }
        if amount == 0 {
            return Err(Refusal::InvalidAmount);
        }
        self.open_period(period)?;
        let cdm = PartyCode::parse(CDM_REGISTRY)
            .map_err(|e| Refusal::InvalidArgument(InvalidArgument::PartyCode(e)))?;
        let (start, end) = serials(self.cdm.next_serial, amount, &cdm)?;
        // Art. 12.8: a share of proceeds (rounded up) goes to the Adaptation Fund.
        let share = u64::try_from(
            (u128::from(amount) * u128::from(self.params.share_of_proceeds_percent)).div_ceil(100),
        )
        .unwrap_or(amount)
        .min(amount);
        let base = SerialBlock {
            project: Some(project.to_owned()),
            expiry_ms,
            ..SerialBlock::new(cdm.clone(), start, end, unit_type, period)
        };
        let pending = AccountId {
            party: cdm.clone(),
            kind: AccountKind::CdmPending,
            number: 1,
        };
        let fund = AccountId {
            party: cdm.clone(),
            kind: AccountKind::AdaptationFund,
            number: 1,
        };
        let mut blocks = Vec::new();
        let to_pending = amount - share;
        if to_pending > 0 {
            blocks.push((pending, base.slice(start, start + to_pending - 1)));
        }
        if share > 0 {
            blocks.push((fund, base.slice(start + to_pending, end)));
        }
        Ok(Plan::Issue {
            kind: AppliedKind::CerIssuance,
            origin: cdm,
            blocks,
            activity: None,
        })
    }

    /// The board changes the expiry date of tCERs or lCERs (decision 5/CMP.1).
    pub(crate) fn plan_change_expiry(
        &self,
        signer: &PublicKey,
        range: &SerialRange,
        expiry_ms: i64,
    ) -> Result<Plan, Refusal> {
        self.board(signer, "change expiry dates")?;
        if expiry_ms <= self.meta.time_ms {
            return Err(Refusal::InvalidArgument(
                InvalidArgument::NewExpiryNotInFuture,
            ));
        }
        let found = self.count_in_range(range, |b, _| {
            matches!(b.unit_type, UnitType::Tcer | UnitType::Lcer)
        });
        if found != range_len(range)? {
            return Err(Refusal::UnitNotFound {
                what: format!(
                    "not every serial {}..={} of {} is a tCER or lCER",
                    range.start, range.end, range.origin
                ),
            });
        }
        Ok(Plan::Expiry {
            range: range.clone(),
            expiry_ms,
        })
    }
}
