//! The checks every rule shares: who may act for a Party or an account, whether the
//! Protocol is in force for a Party (Art. 24, 25.3, 27), which periods are open, and
//! which serials of an account a transaction takes.

use crate::limits::MAX_PROJECT_ID_CHARS;
use crate::refusal::{NotAuthorised, Refusal};
use crate::state::{Account, Party, PeriodDef, State};
use crate::tx::{SerialRange, UnitFilter};
use crate::types::{AccountId, AccountKind, Amount, PartyCode, Period, PublicKey, SerialBlock};

pub(crate) fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_PROJECT_ID_CHARS
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

impl State {
    pub(crate) fn party_ref(&self, code: &PartyCode) -> Result<&Party, Refusal> {
        self.parties.get(code).ok_or_else(|| Refusal::UnknownParty {
            party: code.clone(),
        })
    }

    pub(crate) fn account_ref(&self, id: &AccountId) -> Result<&Account, Refusal> {
        self.accounts
            .get(id)
            .ok_or_else(|| Refusal::UnknownAccount {
                account: id.clone(),
            })
    }

    pub(crate) fn authority_of(
        &self,
        party: &PartyCode,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Party, Refusal> {
        let p = self.party_ref(party)?;
        if &p.authority != signer {
            return Err(Refusal::NotAuthorised(NotAuthorised::NotTheAuthority {
                act: what.to_owned(),
                party: party.clone(),
            }));
        }
        Ok(p)
    }

    /// The one rule every act of a Party under the Protocol passes through: the
    /// Protocol must be in force for it (ratified or acceded and 90 days passed, Art.
    /// 24, 25.3; not withdrawn, Art. 27). A signatory or a State whose withdrawal took
    /// effect may not issue, report, retire, convert, carry over, replace or trade.
    pub(crate) fn in_force_for<'a>(&self, p: &'a Party, act: &str) -> Result<&'a Party, Refusal> {
        if p.in_force() {
            Ok(p)
        } else {
            Err(Refusal::PartyNotInForce {
                party: p.code.clone(),
                act: act.to_owned(),
            })
        }
    }

    /// A Party's registry authority acting for it, with the Protocol in force for it.
    pub(crate) fn acting_authority(
        &self,
        party: &PartyCode,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Party, Refusal> {
        let p = self.authority_of(party, signer, what)?;
        self.in_force_for(p, what)
    }

    pub(crate) fn board(&self, signer: &PublicKey, what: &str) -> Result<(), Refusal> {
        if &self.params.cdm_board != signer {
            return Err(Refusal::NotAuthorised(NotAuthorised::NotTheBoard {
                act: what.to_owned(),
            }));
        }
        Ok(())
    }

    /// The source account of a movement: exists, controlled by the signer, not final.
    pub(crate) fn source(
        &self,
        from: &AccountId,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Account, Refusal> {
        let acc = self.account_ref(from)?;
        if self.account_controller(acc).as_ref() != Some(signer) {
            return Err(Refusal::NotAuthorised(NotAuthorised::NotTheHolder {
                act: what.to_owned(),
                account: from.clone(),
            }));
        }
        if from.kind.is_cancellation() {
            return Err(Refusal::UnitCancelled {
                account: from.clone(),
            });
        }
        if from.kind.is_final() {
            return Err(Refusal::UnitRetired {
                account: from.clone(),
            });
        }
        Ok(acc)
    }

    /// A source that must be the Party holding account of a Party the signer speaks for.
    pub(crate) fn party_source(
        &self,
        from: &AccountId,
        signer: &PublicKey,
        what: &str,
    ) -> Result<&Account, Refusal> {
        let acc = self.source(from, signer, what)?;
        if from.kind != AccountKind::PartyHolding {
            return Err(Refusal::NotAuthorised(
                NotAuthorised::NotAPartyHoldingAccount {
                    act: what.to_owned(),
                    account: from.clone(),
                },
            ));
        }
        self.in_force_for(self.party_ref(&from.party)?, what)?;
        Ok(acc)
    }

    pub(crate) fn period_def(&self, period: Period) -> Result<&PeriodDef, Refusal> {
        self.params
            .period(period)
            .ok_or(Refusal::UnknownPeriod { period })
    }

    pub(crate) fn open_period(&self, period: Period) -> Result<(), Refusal> {
        if self.meta.time_ms >= self.period_def(period)?.true_up_ms {
            return Err(Refusal::PeriodClosed { period });
        }
        Ok(())
    }

    /// The lowest serials of `acc` matching `units`, `amount` of them.
    pub(crate) fn select(
        &self,
        acc: &Account,
        units: &UnitFilter,
        amount: Amount,
    ) -> Result<Vec<SerialBlock>, Refusal> {
        if amount == 0 {
            return Err(Refusal::InvalidAmount);
        }
        let now = self.meta.time_ms;
        let mut take = Vec::new();
        let mut remaining = amount;
        for b in acc.blocks.iter().filter(|b| units.matches(b, now)) {
            if remaining == 0 {
                break;
            }
            let n = remaining.min(b.count());
            take.push(b.slice(b.start, b.start + (n - 1)));
            remaining -= n;
        }
        if remaining > 0 {
            // Units of the kind asked for, unexpired and expired: a shortfall the
            // expired ones would have covered is an expiry, not a lack of units.
            let (mut held, mut expired): (Amount, Amount) = (0, 0);
            for b in acc.blocks.iter().filter(|b| units.matches_kind(b)) {
                if b.expired_at(now) {
                    expired = expired.saturating_add(b.count());
                } else {
                    held = held.saturating_add(b.count());
                }
            }
            if expired > 0 && held.saturating_add(expired) >= amount {
                return Err(Refusal::UnitsExpired {
                    account: acc.id.clone(),
                    unit_type: units.unit_type,
                    period: units.period,
                    held,
                    expired,
                    requested: amount,
                });
            }
            return Err(Refusal::InsufficientUnits {
                account: acc.id.clone(),
                unit_type: units.unit_type,
                period: units.period,
                held,
                requested: amount,
            });
        }
        Ok(take)
    }

    /// Units of `range` held anywhere whose block satisfies `pred`.
    pub(crate) fn count_in_range(
        &self,
        range: &SerialRange,
        mut pred: impl FnMut(&SerialBlock, &AccountId) -> bool,
    ) -> Amount {
        let mut n = 0;
        for acc in self.accounts.values() {
            for b in acc.blocks.iter().filter(|b| b.origin == range.origin) {
                let (lo, hi) = (b.start.max(range.start), b.end.min(range.end));
                if lo <= hi && pred(b, &acc.id) {
                    n += hi - lo + 1;
                }
            }
        }
        n
    }
}
