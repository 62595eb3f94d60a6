//! Joint implementation (Art. 6): a project approved by its host and an acquiring
//! Annex I Party, both eligible under Art. 6.1; the host converts its own AAUs or RMUs
//! into ERUs of the project (Art. 6.1(a)-(d)), which then move as any unit does.

use crate::checks::valid_id;
use crate::plan::{Field, Map, Plan, PositionChange};
use crate::refusal::{InvalidArgument, NotAuthorised, Refusal};
use crate::state::{Project, State};
use crate::tx::{AppliedKind, UnitFilter};
use crate::types::{AccountId, Amount, PartyCode, PublicKey, UnitType};

impl State {
    pub(crate) fn plan_ji(
        &self,
        signer: &PublicKey,
        project: &str,
        host: &PartyCode,
        acquirer: &PartyCode,
    ) -> Result<Plan, Refusal> {
        if !valid_id(project) {
            return Err(Refusal::InvalidArgument(InvalidArgument::ProjectId {
                project: project.to_owned(),
            }));
        }
        let (h, a) = (self.party_ref(host)?, self.party_ref(acquirer)?);
        let host_side = h.authority == *signer;
        if !host_side && a.authority != *signer {
            return Err(Refusal::NotAuthorised(NotAuthorised::NotAJiParty {
                project: project.to_owned(),
                host: host.clone(),
                acquirer: acquirer.clone(),
            }));
        }
        if host == acquirer {
            return Err(Refusal::InvalidArgument(InvalidArgument::HostIsAcquirer));
        }
        for p in [h, a] {
            if !p.in_force() || !p.eligibility.art6 || p.assigned_amounts.is_empty() {
                return Err(Refusal::NotEligible {
                    party: p.code.clone(),
                    rule: "JI projects are between Annex I Parties eligible under Art. 6".into(),
                });
            }
        }
        let (mut host_approved, mut acquirer_approved) = (false, false);
        match self.projects.get(project) {
            None => {}
            Some(Project::Ji {
                host: h0,
                acquirer: a0,
                host_approved: ha,
                acquirer_approved: aa,
                ..
            }) if h0 == host && a0 == acquirer => {
                (host_approved, acquirer_approved) = (*ha, *aa);
            }
            Some(_) => {
                return Err(Refusal::ProjectConflict {
                    project: project.to_owned(),
                    reason: "the id is taken by another project".into(),
                });
            }
        }
        // A Party that is both host and acquirer is excluded above, so one flag changes.
        if host_side {
            host_approved = true
        } else {
            acquirer_approved = true
        }
        let project = Project::Ji {
            id: project.to_owned(),
            host: host.clone(),
            acquirer: acquirer.clone(),
            host_approved,
            acquirer_approved,
        };
        Ok(Plan::Project {
            project,
            kind: AppliedKind::JiApproval,
        })
    }

    pub(crate) fn plan_convert(
        &self,
        signer: &PublicKey,
        project: &str,
        from: &AccountId,
        amount: Amount,
        units: &UnitFilter,
    ) -> Result<Plan, Refusal> {
        let acc = self.party_source(from, signer, "convert units")?;
        let host = &from.party;
        match self.projects.get(project) {
            Some(Project::Ji {
                host: h,
                host_approved: true,
                acquirer_approved: true,
                ..
            }) if h == host => {}
            Some(Project::Ji { host: h, .. }) if h != host => {
                return Err(Refusal::ProjectConflict {
                    project: project.to_owned(),
                    reason: format!("its host is {h}, not {host}"),
                });
            }
            Some(Project::Ji { .. }) => {
                return Err(Refusal::ProjectNotApproved {
                    project: project.to_owned(),
                });
            }
            _ => {
                return Err(Refusal::UnknownProject {
                    project: project.to_owned(),
                });
            }
        }
        let to_type = match units.unit_type {
            UnitType::Aau => UnitType::EruFromAau,
            UnitType::Rmu => UnitType::EruFromRmu,
            other => {
                return Err(Refusal::InvalidArgument(InvalidArgument::NotConvertible {
                    unit_type: other,
                }));
            }
        };
        if !self.party_ref(host)?.eligibility.art6 {
            return Err(Refusal::NotEligible {
                party: host.clone(),
                rule: "it may not convert units under Art. 6".into(),
            });
        }
        // Only the host's own units, valid for the period, become ERUs of the project.
        let filter = UnitFilter {
            origin: Some(host.clone()),
            project: None,
            ..units.clone()
        };
        let take = self.select(acc, &filter, amount)?;
        let change = |unit_type, field| PositionChange {
            party: host.clone(),
            unit_type,
            period: units.period,
            field,
            amount,
        };
        Ok(Plan::Move {
            kind: AppliedKind::EruConversion,
            from: from.clone(),
            to: from.clone(),
            take,
            map: Map::Convert { to: to_type },
            external: None,
            positions: vec![
                change(units.unit_type, Field::ConvertedOut),
                change(to_type, Field::ConvertedIn),
            ],
            mark_replaced: None,
        }
        .with_project(project))
    }
}
