//! From a transaction command to the body the signer signs: each command's
//! arguments checked and turned into its `Kind`.

use anyhow::{Context, bail};
use kyoto_client::crypto;
use kyoto_client::{Activity, calendar};
use kyoto_proto::v1::{self as pb, propose::Change, transaction_body::Kind};

use crate::args::{CancelKind, ChangeCommand, Command, GovCommand, TxOpts, UnitArgs, VoteArg};
use crate::client::{check_account, check_party, parse_unit, read_key};

/// The unit filter a command's `--unit/--period/--origin/--project` name.
fn unit_filter(units: &UnitArgs) -> anyhow::Result<pb::UnitFilter> {
    Ok(pb::UnitFilter {
        unit_type: parse_unit(&units.unit)? as i32,
        period: units.period,
        origin: units
            .origin
            .as_deref()
            .map(check_party)
            .transpose()?
            .unwrap_or_default(),
        project: units.project.clone().unwrap_or_default(),
    })
}

/// Parses `YYYY-MM-DD` (00:00 UTC) or an RFC 3339 timestamp into ms since the epoch
/// (the ledger's calendar, so the CLI reads dates as the ledger writes them).
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    calendar::parse_instant_ms(s).map_err(anyhow::Error::msg)
}

fn parse_activity(s: &str) -> anyhow::Result<Activity> {
    Activity::parse(s)
        .with_context(|| format!("`{s}` is not a LULUCF activity (AR, D, FM, CM, GM, RV, WDR)"))
}

pub fn transaction(command: Command) -> anyhow::Result<(TxOpts, Kind)> {
    Ok(match command {
        Command::Issue {
            tx,
            party,
            unit,
            period,
            amount,
            to,
            activity,
        } => {
            let kind = Kind::IssueUnits(pb::IssueUnits {
                party: check_party(&party)?,
                unit_type: parse_unit(&unit)? as i32,
                period,
                amount,
                to_account: to
                    .as_deref()
                    .map(check_account)
                    .transpose()?
                    .unwrap_or_default(),
                activity: activity
                    .as_deref()
                    .map(parse_activity)
                    .transpose()?
                    .map_or(0, |a| a as i32),
            });
            (tx, kind)
        }
        Command::OpenAccount {
            tx,
            party,
            holder_name,
            holder_key,
            holder_public_key,
        } => {
            let key = match (holder_key, holder_public_key) {
                (Some(path), _) => read_key(&path)?.verifying_key().to_bytes().to_vec(),
                (None, Some(h)) => {
                    hex::decode(&h).with_context(|| format!("`{h}` is not a hex public key"))?
                }
                (None, None) => bail!("give --holder-key FILE or --holder-public-key HEX"),
            };
            (
                tx,
                Kind::OpenAccount(pb::OpenAccount {
                    party: check_party(&party)?,
                    holder_name,
                    holder_key: key,
                }),
            )
        }
        Command::Transfer {
            tx,
            from,
            to,
            units,
            amount,
        } => {
            let kind = Kind::TransferUnits(pb::TransferUnits {
                from_account: check_account(&from)?,
                to_account: check_account(&to)?,
                amount,
                units: Some(unit_filter(&units)?),
            });
            (tx, kind)
        }
        Command::ReportInventory {
            tx,
            party,
            year,
            emissions,
            removals,
        } => {
            let mut list = Vec::new();
            for r in &removals {
                let (a, n) = r
                    .split_once('=')
                    .with_context(|| format!("`{r}` is not ACTIVITY=AMOUNT"))?;
                let amount = n
                    .parse()
                    .with_context(|| format!("`{n}` is not an amount"))?;
                list.push(pb::ActivityAmount {
                    activity: parse_activity(a)? as i32,
                    amount,
                });
            }
            (
                tx,
                Kind::ReportInventory(pb::ReportInventory {
                    party: check_party(&party)?,
                    year,
                    emissions,
                    removals: list,
                }),
            )
        }
        Command::ApproveJi {
            tx,
            project,
            host,
            acquirer,
        } => {
            let kind = Kind::ApproveJiProject(pb::ApproveJiProject {
                project,
                host: check_party(&host)?,
                acquirer: check_party(&acquirer)?,
            });
            (tx, kind)
        }
        Command::ConvertToEru {
            tx,
            project,
            from,
            unit,
            period,
            amount,
        } => {
            let units = pb::UnitFilter {
                unit_type: parse_unit(&unit)? as i32,
                period,
                ..Default::default()
            };
            let kind = Kind::ConvertToEru(pb::ConvertToEru {
                project,
                from_account: check_account(&from)?,
                amount,
                units: Some(units),
            });
            (tx, kind)
        }
        Command::RegisterCdmProject {
            tx,
            project,
            host,
            participants,
        } => {
            let participants = participants
                .iter()
                .map(|p| check_account(p))
                .collect::<anyhow::Result<_>>()?;
            (
                tx,
                Kind::RegisterCdmProject(pb::RegisterCdmProject {
                    project,
                    host: check_party(&host)?,
                    participants,
                }),
            )
        }
        Command::IssueCers {
            tx,
            project,
            unit,
            period,
            amount,
            expires,
        } => {
            let expiry_ms = expires.as_deref().map(parse_time).transpose()?.unwrap_or(0);
            let kind = Kind::IssueCers(pb::IssueCers {
                project,
                unit_type: parse_unit(&unit)? as i32,
                period,
                amount,
                expiry_ms,
            });
            (tx, kind)
        }
        Command::ForwardCers {
            tx,
            project,
            to,
            unit,
            period,
            amount,
        } => {
            let units = pb::UnitFilter {
                unit_type: parse_unit(&unit)? as i32,
                period,
                project,
                ..Default::default()
            };
            let kind = Kind::TransferUnits(pb::TransferUnits {
                from_account: "CDM-500-1".into(),
                to_account: check_account(&to)?,
                amount,
                units: Some(units),
            });
            (tx, kind)
        }
        Command::Cancel {
            tx,
            from,
            kind,
            units,
            amount,
        } => {
            let kind = match kind {
                CancelKind::Voluntary => pb::CancellationKind::Voluntary,
                CancelKind::NetSource => pb::CancellationKind::NetSource,
                CancelKind::NonCompliance => pb::CancellationKind::NonCompliance,
                CancelKind::ExcessIssuance => pb::CancellationKind::ExcessIssuance,
            };
            let kind = Kind::CancelUnits(pb::CancelUnits {
                from_account: check_account(&from)?,
                kind: kind as i32,
                amount,
                units: Some(unit_filter(&units)?),
            });
            (tx, kind)
        }
        Command::Retire {
            tx,
            from,
            units,
            amount,
        } => (
            tx,
            Kind::RetireUnits(pb::RetireUnits {
                from_account: check_account(&from)?,
                amount,
                units: Some(unit_filter(&units)?),
            }),
        ),
        Command::CarryOver {
            tx,
            from,
            units,
            amount,
        } => (
            tx,
            Kind::CarryOver(pb::CarryOver {
                from_account: check_account(&from)?,
                amount,
                units: Some(unit_filter(&units)?),
            }),
        ),
        Command::Replace {
            tx,
            party,
            expiring_origin,
            expiring_start,
            expiring_end,
            from,
            units,
        } => {
            let kind = Kind::ReplaceUnits(pb::ReplaceUnits {
                party: check_party(&party)?,
                expiring: Some(pb::SerialRange {
                    origin: check_party(&expiring_origin)?,
                    start: expiring_start,
                    end: expiring_end,
                }),
                from_account: check_account(&from)?,
                units: Some(unit_filter(&units)?),
            });
            (tx, kind)
        }
        Command::ChangeExpiry {
            tx,
            origin,
            start,
            end,
            expires,
        } => {
            let kind = Kind::ChangeExpiry(pb::ChangeExpiry {
                range: Some(pb::SerialRange {
                    origin: check_party(&origin)?,
                    start,
                    end,
                }),
                expiry_ms: parse_time(&expires)?,
            });
            (tx, kind)
        }
        Command::Gov(GovCommand::Propose {
            tx,
            proposer,
            title,
            change,
        }) => {
            let change = match change {
                ChangeCommand::ProtocolAmendment { text } => {
                    Change::ProtocolAmendmentTextHash(text_hash(&text)?)
                }
                ChangeCommand::AnnexB {
                    party,
                    period,
                    assigned_amount,
                } => Change::AnnexB(pb::AnnexBChange {
                    party: check_party(&party)?,
                    period,
                    assigned_amount,
                }),
                ChangeCommand::Annex { annex, text } => Change::Annex(pb::AnnexChange {
                    annex,
                    text_hash: text_hash(&text)?,
                }),
                ChangeCommand::AddValidator {
                    name,
                    party,
                    public_key,
                } => Change::AddValidator(pb::ValidatorChange {
                    name,
                    party: check_party(&party)?,
                    public_key: hex_key(&public_key)?,
                }),
                ChangeCommand::RemoveValidator { public_key } => {
                    Change::RemoveValidator(hex_key(&public_key)?)
                }
                ChangeCommand::Eligibility {
                    party,
                    art6,
                    art12,
                    art17,
                } => Change::Eligibility(pb::EligibilityChange {
                    party: check_party(&party)?,
                    art6,
                    art12,
                    art17,
                }),
                ChangeCommand::Parameter { name, value } => {
                    Change::Parameter(pb::ParameterChange { name, value })
                }
            };
            (
                tx,
                Kind::Propose(pb::Propose {
                    proposer: check_party(&proposer)?,
                    title,
                    change: Some(change),
                }),
            )
        }
        Command::Gov(GovCommand::Consent { tx, proposal, .. }) => {
            (tx, Kind::Consent(pb::Consent { proposal }))
        }
        Command::Gov(GovCommand::Vote {
            tx,
            proposal,
            party,
            choice,
        }) => {
            let choice = match choice {
                VoteArg::Yes => pb::VoteChoice::Yes,
                VoteArg::No => pb::VoteChoice::No,
                VoteArg::Abstain => pb::VoteChoice::Abstain,
            } as i32;
            (
                tx,
                Kind::Vote(pb::Vote {
                    proposal,
                    voter: check_party(&party)?,
                    choice,
                }),
            )
        }
        Command::Gov(GovCommand::Accept {
            tx,
            proposal,
            party,
        }) => (
            tx,
            Kind::Accept(pb::Accept {
                proposal,
                party: check_party(&party)?,
            }),
        ),
        Command::Gov(GovCommand::NonAcceptance {
            tx,
            proposal,
            party,
        }) => (
            tx,
            Kind::NotifyNonAcceptance(pb::NotifyNonAcceptance {
                proposal,
                party: check_party(&party)?,
            }),
        ),
        Command::Deposit {
            tx,
            party,
            name,
            annex_i,
            authority_key,
        } => {
            let authority_key = match authority_key {
                Some(path) => read_key(&path)?.verifying_key().to_bytes().to_vec(),
                None => Vec::new(),
            };
            let kind = Kind::DepositInstrument(pb::DepositInstrument {
                party: check_party(&party)?,
                name: name.unwrap_or_default(),
                annex_i,
                authority_key,
            });
            (tx, kind)
        }
        Command::Withdraw {
            tx,
            party,
            effective,
        } => {
            let effective_ms = effective
                .as_deref()
                .map(parse_time)
                .transpose()?
                .unwrap_or(0);
            (
                tx,
                Kind::Withdraw(pb::Withdraw {
                    party: check_party(&party)?,
                    effective_ms,
                }),
            )
        }
        _ => bail!("not a transaction command"),
    })
}

/// SHA-256 of a text file (the amendment's text; the ledger records its hash).
fn text_hash(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(crypto::sha256(&text).to_vec())
}

fn hex_key(h: &str) -> anyhow::Result<Vec<u8>> {
    let key = hex::decode(h).with_context(|| format!("`{h}` is not a hex public key"))?;
    if key.len() != 32 {
        bail!("`{h}` is not a 32-byte public key");
    }
    Ok(key)
}
