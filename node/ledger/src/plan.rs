//! Executing a plan: the only place where a transaction changes the state.
//!
//! A plan is what a rule decided after every check passed; executing it cannot be
//! refused. Moves keep the units' serials, so nothing is created or lost (Art. 3.10,
//! 3.11); external transfers update the Parties' acquired and transferred totals.

use std::collections::BTreeSet;

use crate::genesis::CDM_REGISTRY;
use crate::governance::GovPlan;
use crate::leaves::StateKey;
use crate::limits::MAX_INVENTORY_AMOUNT;
use crate::refusal::{InvalidArgument, Refusal};
use crate::state::{Account, Holder, Inventory, Party, Project, State};
use crate::tx::{Applied, AppliedKind, SerialRange};
use crate::types::{
    AccountId, AccountKind, Activity, Amount, PartyCode, Period, SerialBlock, Total, UnitType,
};

/// Effects of a planned transaction, executed only when every check passed.
pub(crate) enum Plan {
    /// Take `take` (prefixes of blocks) from `from`, change them with `map`, put them in `to`.
    Move {
        kind: AppliedKind,
        from: AccountId,
        to: AccountId,
        take: Vec<SerialBlock>,
        map: Map,
        /// External transfer accounting: (transferring Party, acquiring Party), either
        /// may be the CDM registry, which keeps no Party accounting.
        external: Option<(PartyCode, PartyCode)>,
        /// Extra Party accounting (conversion, carry-over).
        positions: Vec<PositionChange>,
        /// Serial range to mark replaced in the retirement accounts of a Party.
        mark_replaced: Option<(PartyCode, SerialRange)>,
    },
    /// New units.
    Issue {
        kind: AppliedKind,
        origin: PartyCode,
        blocks: Vec<(AccountId, SerialBlock)>,
        activity: Option<Activity>,
    },
    Open {
        account: Account,
    },
    Inventory {
        party: PartyCode,
        year: u32,
        inventory: Inventory,
    },
    Project {
        project: Project,
        kind: AppliedKind,
    },
    Expiry {
        range: SerialRange,
        expiry_ms: i64,
    },
    Gov(GovPlan),
}

#[derive(Clone, Copy)]
pub(crate) enum Map {
    Keep,
    Convert { to: UnitType },
    CarryOver,
}

pub(crate) struct PositionChange {
    pub(crate) party: PartyCode,
    pub(crate) unit_type: UnitType,
    pub(crate) period: Period,
    pub(crate) field: Field,
    pub(crate) amount: Amount,
}

#[derive(Clone, Copy)]
pub(crate) enum Field {
    ConvertedIn,
    ConvertedOut,
    CarriedIn,
    CarriedOut,
}

impl State {
    pub(crate) fn account_mut(
        &mut self,
        id: &AccountId,
        touched: &mut BTreeSet<StateKey>,
    ) -> &mut Account {
        touched.insert(StateKey::Account(id.clone()));
        let holder = if id.party.as_str() == CDM_REGISTRY {
            Holder::CdmBoard
        } else {
            Holder::PartyAuthority
        };
        self.accounts.entry(id.clone()).or_insert_with(|| Account {
            id: id.clone(),
            holder,
            holder_name: id.kind.name().replace('_', " "),
            blocks: Vec::new(),
        })
    }

    pub(crate) fn party_mut(
        &mut self,
        code: &PartyCode,
        touched: &mut BTreeSet<StateKey>,
    ) -> Option<&mut Party> {
        touched.insert(StateKey::Party(code.clone()));
        self.parties.get_mut(code)
    }

    pub(crate) fn execute(&mut self, plan: Plan, touched: &mut BTreeSet<StateKey>) -> Applied {
        match plan {
            Plan::Move {
                kind,
                from,
                to,
                take,
                map,
                external,
                positions,
                mark_replaced,
            } => {
                let amount: Amount = take.iter().map(SerialBlock::count).sum();
                remove_prefixes(self.account_mut(&from, touched), &take);
                self.count_reserve(&from, &take, false, touched);
                let moved: Vec<SerialBlock> = take
                    .into_iter()
                    .map(|mut b| {
                        match map {
                            Map::Keep => {}
                            Map::Convert { to } => b.unit_type = to,
                            Map::CarryOver => b.applicable_period += 1,
                        }
                        b
                    })
                    .collect();
                self.count_reserve(&to, &moved, true, touched);
                let dest = self.account_mut(&to, touched);
                for b in &moved {
                    dest.insert(b.clone());
                }
                if let (Some((out, inn)), Some(first)) = (external, moved.first()) {
                    let key = (first.unit_type, first.applicable_period);
                    // Art. 3.11: subtracted from the transferring Party;
                    // Art. 3.10/3.12: added to the acquiring Party.
                    if let Some(p) = self.party_mut(&out, touched) {
                        let pos = p.positions.entry(key).or_default();
                        pos.transferred = pos.transferred.saturating_add(Total::from(amount));
                    }
                    if let Some(p) = self.party_mut(&inn, touched) {
                        let pos = p.positions.entry(key).or_default();
                        pos.acquired = pos.acquired.saturating_add(Total::from(amount));
                    }
                }
                for c in positions {
                    if let Some(p) = self.party_mut(&c.party, touched) {
                        let pos = p.positions.entry((c.unit_type, c.period)).or_default();
                        let field = match c.field {
                            Field::ConvertedIn => &mut pos.converted_in,
                            Field::ConvertedOut => &mut pos.converted_out,
                            Field::CarriedIn => &mut pos.carried_in,
                            Field::CarriedOut => &mut pos.carried_out,
                        };
                        *field = field.saturating_add(Total::from(c.amount));
                    }
                }
                let mut accounts = vec![from.clone()];
                if to != from {
                    accounts.push(to.clone());
                }
                if let Some((party, range)) = mark_replaced {
                    let ids: Vec<AccountId> = self
                        .accounts
                        .keys()
                        .filter(|a| a.party == party && a.kind == AccountKind::Retirement)
                        .cloned()
                        .collect();
                    for id in ids {
                        let acc = self.account_mut(&id, touched);
                        if modify_range(acc, &range, |b| b.replaced = true) > 0 {
                            accounts.push(id);
                        }
                    }
                }
                Applied {
                    kind,
                    amount,
                    serials: moved,
                    credited: vec![(to.clone(), amount)],
                    from: Some(from),
                    to: Some(to),
                    accounts,
                    proposal: None,
                    weight: 0,
                }
            }
            Plan::Issue {
                kind,
                origin,
                blocks,
                activity,
            } => {
                let amount: Amount = blocks.iter().map(|(_, b)| b.count()).sum();
                let last = blocks.iter().map(|(_, b)| b.end).max().unwrap_or(0);
                let (unit_type, period) = blocks
                    .first()
                    .map(|(_, b)| (b.unit_type, b.applicable_period))
                    .unwrap_or((UnitType::Aau, 1));
                if origin.as_str() == CDM_REGISTRY {
                    touched.insert(StateKey::Cdm);
                    self.cdm.next_serial = last + 1;
                    *self.cdm.issued.entry((unit_type, period)).or_insert(0) += amount;
                } else if let Some(p) = self.party_mut(&origin, touched) {
                    p.next_serial = last + 1;
                    p.positions.entry((unit_type, period)).or_default().issued += amount;
                    if let Some(a) = activity {
                        *p.rmu_issued.entry((a, period)).or_insert(0) += amount;
                    }
                }
                let mut accounts = Vec::new();
                let mut credited: Vec<(AccountId, Amount)> = Vec::new();
                for (to, b) in &blocks {
                    self.account_mut(to, touched).insert(b.clone());
                    self.count_reserve(to, std::slice::from_ref(b), true, touched);
                    accounts.push(to.clone());
                    match credited.iter_mut().find(|(a, _)| a == to) {
                        Some((_, n)) => *n = n.saturating_add(b.count()),
                        None => credited.push((to.clone(), b.count())),
                    }
                }
                let to = accounts.first().cloned();
                Applied {
                    kind,
                    amount,
                    serials: blocks.into_iter().map(|(_, b)| b).collect(),
                    from: None,
                    to,
                    accounts,
                    credited,
                    proposal: None,
                    weight: 0,
                }
            }
            Plan::Open { account } => {
                let id = account.id.clone();
                if let Some(p) = self.party_mut(&id.party, touched) {
                    p.next_entity_account += 1;
                }
                touched.insert(StateKey::Account(id.clone()));
                self.insert_account(account);
                applied(AppliedKind::AccountOpened, Some(id))
            }
            Plan::Inventory {
                party,
                year,
                inventory,
            } => {
                if let Some(p) = self.party_mut(&party, touched) {
                    p.inventories.insert(year, inventory);
                }
                applied(AppliedKind::InventoryReported, None)
            }
            Plan::Project { project, kind } => {
                let id = match &project {
                    Project::Ji { id, .. } | Project::Cdm { id, .. } => id.clone(),
                };
                touched.insert(StateKey::Project(id.clone()));
                self.projects.insert(id, project);
                applied(kind, None)
            }
            Plan::Gov(g) => self.execute_gov(g, touched),
            Plan::Expiry { range, expiry_ms } => {
                let ids: Vec<AccountId> = self.accounts.keys().cloned().collect();
                let mut accounts = Vec::new();
                let mut amount = 0;
                for id in ids {
                    let hit = self.accounts.get(&id).is_some_and(|a| {
                        a.blocks.iter().any(|b| {
                            b.origin == range.origin && b.start <= range.end && b.end >= range.start
                        })
                    });
                    if hit {
                        let acc = self.account_mut(&id, touched);
                        amount += modify_range(acc, &range, |b| b.expiry_ms = Some(expiry_ms));
                        accounts.push(id);
                    }
                }
                Applied {
                    amount,
                    accounts,
                    ..applied(AppliedKind::ExpiryChange, None)
                }
            }
        }
    }
}

impl Plan {
    /// Sets the project on converted units.
    pub(crate) fn with_project(self, project: &str) -> Plan {
        match self {
            Plan::Move {
                kind,
                from,
                to,
                mut take,
                map,
                external,
                positions,
                mark_replaced,
            } => {
                for b in &mut take {
                    b.project = Some(project.to_owned());
                }
                Plan::Move {
                    kind,
                    from,
                    to,
                    take,
                    map,
                    external,
                    positions,
                    mark_replaced,
                }
            }
            other => other,
        }
    }
}

pub(crate) fn move_plan(
    kind: AppliedKind,
    from: &AccountId,
    to: AccountId,
    take: Vec<SerialBlock>,
) -> Plan {
    Plan::Move {
        kind,
        from: from.clone(),
        to,
        take,
        map: Map::Keep,
        external: None,
        positions: vec![],
        mark_replaced: None,
    }
}

pub(crate) fn applied(kind: AppliedKind, to: Option<AccountId>) -> Applied {
    Applied {
        kind,
        amount: 0,
        serials: Vec::new(),
        from: None,
        to,
        accounts: Vec::new(),
        credited: Vec::new(),
        proposal: None,
        weight: 0,
    }
}

/// The serials `[next, next + amount - 1]` of an origin, if they exist.
pub(crate) fn serials(
    next: u64,
    amount: Amount,
    origin: &PartyCode,
) -> Result<(u64, u64), Refusal> {
    let end = next
        .checked_add(amount.saturating_sub(1))
        .filter(|e| *e < u64::MAX)
        .ok_or_else(|| Refusal::SerialSpaceExhausted {
            origin: origin.clone(),
        })?;
    Ok((next, end))
}

pub(crate) fn range_len(r: &SerialRange) -> Result<Amount, Refusal> {
    r.end
        .checked_sub(r.start)
        .and_then(|d| d.checked_add(1))
        .filter(|n| *n <= MAX_INVENTORY_AMOUNT)
        .ok_or(Refusal::InvalidArgument(InvalidArgument::SerialRange))
}

/// Removes the taken ranges, each a prefix of one of the account's blocks. Matching is
/// by origin and start only: the slices of a conversion may carry a new project.
pub(crate) fn remove_prefixes(acc: &mut Account, take: &[SerialBlock]) {
    for t in take {
        if let Some(i) = acc
            .blocks
            .iter()
            .position(|b| b.origin == t.origin && b.start == t.start)
        {
            if acc.blocks[i].end == t.end {
                acc.blocks.remove(i);
            } else {
                acc.blocks[i].start = t.end + 1;
            }
        }
    }
}

/// Splits the account's blocks at the range's bounds and applies `f` to the units
/// inside it; returns how many units changed.
pub(crate) fn modify_range(
    acc: &mut Account,
    range: &SerialRange,
    f: impl Fn(&mut SerialBlock),
) -> Amount {
    let mut changed = 0;
    let old = std::mem::take(&mut acc.blocks);
    let mut pieces = Vec::with_capacity(old.len() + 2);
    for b in old {
        if b.origin != range.origin || b.end < range.start || b.start > range.end {
            pieces.push(b);
            continue;
        }
        let (lo, hi) = (b.start.max(range.start), b.end.min(range.end));
        if b.start < lo {
            pieces.push(b.slice(b.start, lo - 1));
        }
        let mut mid = b.slice(lo, hi);
        f(&mut mid);
        changed += mid.count();
        pieces.push(mid);
        if hi < b.end {
            pieces.push(b.slice(hi + 1, b.end));
        }
    }
    for p in pieces {
        acc.insert(p);
    }
    changed
}
