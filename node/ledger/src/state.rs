//! The ledger state: Parties, accounts with their serial blocks, signer nonces, and
//! the chain's position. Each entity is one *leaf* (a key and its canonical postcard
//! encoding); the state root is a hash over all leaves in key order, so two nodes
//! with the same leaves have the same root whatever order they were written in.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::governance::records::{Governance, Proposal, ProposalClass};

use super::types::{
    AccountId, AccountKind, Activity, Amount, Eligibility, Hash, PartyCode, Period, PublicKey,
    SerialBlock, Total, UnitType,
};

/// Membership of a Party in the Protocol (Art. 24, 25, 27).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TreatyStatus {
    /// Signed, not ratified (or not yet in force).
    Signatory,
    /// Instrument deposited; in force from the 90th day after (Art. 25.3). Dates YYYY-MM-DD.
    Deposited {
        deposited: String,
        in_force_from: String,
    },
    /// The Protocol is in force for the Party since the given date (YYYY-MM-DD, Art. 25.3).
    InForce { since: String },
    /// Notice of withdrawal given; still a Party until the effective date (Art. 27).
    WithdrawalNotified {
        since: String,
        notified: String,
        effective: String,
    },
    /// Withdrawal effective at the given date (Art. 27).
    Withdrawn { effective: String },
}

impl TreatyStatus {
    pub fn name(&self) -> &'static str {
        match self {
            TreatyStatus::Signatory => "signatory",
            TreatyStatus::Deposited { .. } => "deposited",
            TreatyStatus::InForce { .. } => "in_force",
            TreatyStatus::WithdrawalNotified { .. } => "withdrawal_notified",
            TreatyStatus::Withdrawn { .. } => "withdrawn",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartyKind {
    State,
    /// A regional economic integration organization (Art. 24) and its member States.
    Reio {
        members: Vec<PartyCode>,
        competence: BTreeSet<ProposalClass>,
    },
}

/// Issued, acquired and transferred units of one type and applicable period: the
/// Art. 3.10/3.11/3.12 accounting of a Party.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub issued: Amount,
    /// Acquired from another registry (Art. 3.10, 3.12). The cumulative sums are
    /// 128-bit: units may go back and forth between registries without end, and no
    /// sum may overflow into a halted chain (postcard encodes u64 and u128 alike, so
    /// the state root did not change with the width).
    pub acquired: Total,
    /// Transferred to another registry (Art. 3.11).
    pub transferred: Total,
    /// Changed into this type by conversion to ERUs (Art. 6), serials kept.
    pub converted_in: Total,
    /// Changed out of this type by conversion.
    pub converted_out: Total,
    /// Carried over into this period (Art. 3.13).
    pub carried_in: Total,
    /// Carried over out of this period into the next.
    pub carried_out: Total,
}

impl Position {
    /// Units of the type and period the Party's registry must hold:
    /// issued + acquired + converted in + carried in - transferred - converted out - carried out.
    pub fn expected_holdings(&self) -> i128 {
        let wide = |v: Total| i128::try_from(v).unwrap_or(i128::MAX);
        i128::from(self.issued)
            .saturating_add(wide(self.acquired))
            .saturating_add(wide(self.converted_in))
            .saturating_add(wide(self.carried_in))
            .saturating_sub(wide(self.transferred))
            .saturating_sub(wide(self.converted_out))
            .saturating_sub(wide(self.carried_out))
    }
}

/// A reviewed annual inventory (Art. 7, 8).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// Aggregate emissions of the Annex A gases, t CO2e.
    pub emissions: Amount,
    /// Net removals per LULUCF activity, t CO2e.
    pub removals: BTreeMap<Activity, Amount>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub code: PartyCode,
    pub name: String,
    pub kind: PartyKind,
    pub member_of: Option<PartyCode>,
    pub annex_i: bool,
    /// Annex B commitment, percent of base year.
    pub annex_b_percent: Option<u32>,
    pub base_year_emissions: Option<Amount>,
    pub economy_in_transition: bool,
    pub status: TreatyStatus,
    /// The key of the Party's registry authority.
    pub authority: PublicKey,
    /// Assigned amount per commitment period (Art. 3.7).
    pub assigned_amounts: BTreeMap<Period, Amount>,
    /// Per (unit type, applicable period).
    pub positions: BTreeMap<(UnitType, Period), Position>,
    /// Next serial number of units originating in this Party (one counter for all types).
    pub next_serial: u64,
    /// Number of the next entity holding account this registry opens.
    pub next_entity_account: u64,
    pub eligibility: Eligibility,
    /// Reviewed inventories by year.
    pub inventories: BTreeMap<u32, Inventory>,
    /// RMUs issued per (activity, period).
    pub rmu_issued: BTreeMap<(Activity, Period), Amount>,
    /// Units the registry holds per applicable period outside cancellation accounts:
    /// what counts toward the commitment period reserve (decision 11/CMP.1).
    pub reserve_holdings: BTreeMap<Period, Total>,
}

impl Party {
    pub fn in_force(&self) -> bool {
        matches!(
            self.status,
            TreatyStatus::InForce { .. } | TreatyStatus::WithdrawalNotified { .. }
        )
    }

    pub fn position(&self, unit_type: UnitType, period: Period) -> Position {
        self.positions
            .get(&(unit_type, period))
            .copied()
            .unwrap_or_default()
    }
}

/// Who signs transfers out of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Holder {
    /// The Party's registry authority (whatever key it has at the time).
    PartyAuthority,
    /// The CDM executive board (accounts of the CDM registry).
    CdmBoard,
    Key(PublicKey),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub holder: Holder,
    pub holder_name: String,
    /// Sorted by (origin, start); never overlapping; adjacent blocks with equal
    /// attributes are merged.
    pub blocks: Vec<SerialBlock>,
}

impl Account {
    /// Units held (128-bit: an account may hold units of many origins, each up to
    /// its origin's whole serial space).
    pub fn total(&self) -> Total {
        self.blocks.iter().map(|b| Total::from(b.count())).sum()
    }

    /// Units held per (type, applicable period).
    pub fn holdings(&self) -> BTreeMap<(UnitType, Period), Total> {
        let mut out = BTreeMap::new();
        for b in &self.blocks {
            *out.entry((b.unit_type, b.applicable_period)).or_insert(0) += Total::from(b.count());
        }
        out
    }

    /// Inserts a block, keeping the order and merging with contiguous neighbours.
    pub(crate) fn insert(&mut self, block: SerialBlock) {
        let key = |b: &SerialBlock| (b.origin.clone(), b.start);
        let pos = self.blocks.partition_point(|b| key(b) < key(&block));
        self.blocks.insert(pos, block);
        // Merge with the next block, then with the previous one.
        if pos + 1 < self.blocks.len() {
            let (a, b) = (&self.blocks[pos], &self.blocks[pos + 1]);
            if a.same_attributes(b) && a.end.checked_add(1) == Some(b.start) {
                self.blocks[pos].end = self.blocks[pos + 1].end;
                self.blocks.remove(pos + 1);
            }
        }
        if pos > 0 {
            let (a, b) = (&self.blocks[pos - 1], &self.blocks[pos]);
            if a.same_attributes(b) && a.end.checked_add(1) == Some(b.start) {
                self.blocks[pos - 1].end = self.blocks[pos].end;
                self.blocks.remove(pos);
            }
        }
    }
}

/// A commitment period's dates, ms since the Unix epoch (UTC).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodDef {
    pub number: Period,
    /// First instant of the period (00:00 UTC of its first day).
    pub start_ms: i64,
    /// First instant after the period (00:00 UTC of the day after its last day).
    pub end_ms: i64,
    /// End of the additional period for fulfilling commitments ("true-up"): after it,
    /// retirement for the period closes and carry-over opens.
    pub true_up_ms: i64,
    pub first_year: u32,
    pub last_year: u32,
}

/// Ledger parameters, set in genesis (and later by decisions of the meeting of the Parties).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub periods: Vec<PeriodDef>,
    /// Commitment period reserve: percent of the assigned amount (decision 11/CMP.1: 90).
    pub cpr_percent_of_assigned: u32,
    /// Commitment period reserve: multiple of the latest reviewed inventory (5 = 100 % x 5).
    pub cpr_inventory_multiple: u32,
    /// Share of proceeds to the Adaptation Fund, percent of CERs issued (Art. 12.8: 2).
    pub share_of_proceeds_percent: u32,
    /// Carry-over limit of CERs, per mille of the assigned amount (decision 13/CMP.1: 25).
    pub carry_over_cer_permille: u32,
    /// Carry-over limit of ERUs converted from AAUs, per mille of the assigned amount (25).
    pub carry_over_eru_permille: u32,
    /// The CDM executive board's key: registers CDM projects, issues and forwards CERs.
    pub cdm_board: PublicKey,
    /// Notice before voting opens, months (Art. 20.2, 21.3: six).
    pub notice_months: u32,
    /// Length of the voting session, days.
    pub session_days: u32,
    /// Test networks: when not 0, the voting session lasts this many seconds instead.
    #[serde(default)]
    pub session_seconds: u32,
    /// Quorum: this fraction of the Parties must take part (two thirds).
    pub quorum_numerator: u32,
    pub quorum_denominator: u32,
    /// "The ninetieth day after" (Art. 20.4, 25.3).
    pub entry_into_force_days: u32,
    /// Other annex amendments enter into force this many months after adoption (Art. 21.5).
    pub annex_months: u32,
    /// Withdrawal: notice no earlier than this many years after entry into force (Art. 27.1).
    pub withdrawal_wait_years: u32,
    /// Withdrawal takes effect this many years after the notice (Art. 27.2).
    pub withdrawal_effect_years: u32,
}

impl Params {
    pub fn period(&self, number: Period) -> Option<&PeriodDef> {
        self.periods.iter().find(|p| p.number == number)
    }

    /// Names of the parameters a decision of the meeting of the Parties may set.
    pub const SETTABLE: [&'static str; 9] = [
        "cpr_percent_of_assigned",
        "cpr_inventory_multiple",
        "share_of_proceeds_percent",
        "carry_over_cer_permille",
        "carry_over_eru_permille",
        "notice_months",
        "session_days",
        "entry_into_force_days",
        "annex_months",
    ];

    /// Sets a parameter by name, within its range.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        let (field, max): (&mut u32, u64) = match name {
            "cpr_percent_of_assigned" => (&mut self.cpr_percent_of_assigned, 100),
            "cpr_inventory_multiple" => (&mut self.cpr_inventory_multiple, 100),
            "share_of_proceeds_percent" => (&mut self.share_of_proceeds_percent, 100),
            "carry_over_cer_permille" => (&mut self.carry_over_cer_permille, 1000),
            "carry_over_eru_permille" => (&mut self.carry_over_eru_permille, 1000),
            "notice_months" => (&mut self.notice_months, 120),
            "session_days" => (&mut self.session_days, 3650),
            "entry_into_force_days" => (&mut self.entry_into_force_days, 3650),
            "annex_months" => (&mut self.annex_months, 120),
            other => {
                return Err(format!(
                    "`{other}` is not a parameter; settable: {}",
                    Self::SETTABLE.join(", ")
                ));
            }
        };
        if value > max || (name == "session_days" && value == 0) {
            return Err(format!(
                "{name} must be at most {max}{}",
                if name == "session_days" {
                    " and at least 1"
                } else {
                    ""
                }
            ));
        }
        *field = u32::try_from(value).map_err(|_| format!("{name} is out of range"))?;
        Ok(())
    }
}

/// The CDM registry (Art. 12): not a Party, a registry of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdmRegistry {
    /// Next serial number of CERs, tCERs and lCERs (origin `CDM`).
    pub next_serial: u64,
    /// Units issued per (type, period).
    pub issued: BTreeMap<(UnitType, Period), Amount>,
}

/// A JI (Art. 6) or CDM (Art. 12) project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Project {
    /// Approved by the host and the acquiring Party, each by its own transaction (Art. 6.1(a)).
    Ji {
        id: String,
        host: PartyCode,
        acquirer: PartyCode,
        host_approved: bool,
        acquirer_approved: bool,
    },
    /// Registered by the CDM executive board, hosted by a non-Annex I Party (Art. 12.3(a)).
    Cdm {
        id: String,
        host: PartyCode,
        participants: Vec<AccountId>,
    },
}

impl Project {
    /// The project's id (`JI-0001`, `CDM-0001`).
    pub fn id(&self) -> &str {
        match self {
            Project::Ji { id, .. } | Project::Cdm { id, .. } => id,
        }
    }
}

/// The chain's position, part of the state so that a restarted node knows where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub chain_id: String,
    pub height: u64,
    /// Ledger time: the timestamp of the last block (genesis time at height 0).
    pub time_ms: i64,
    pub last_block_hash: Hash,
}

/// The whole ledger state, in memory. Changes are written back as leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub(crate) meta: Meta,
    pub(crate) params: Params,
    pub(crate) cdm: CdmRegistry,
    pub(crate) projects: BTreeMap<String, Project>,
    pub(crate) governance: Governance,
    pub(crate) proposals: BTreeMap<u64, Proposal>,
    pub(crate) parties: BTreeMap<PartyCode, Party>,
    pub(crate) accounts: BTreeMap<AccountId, Account>,
    pub(crate) nonces: BTreeMap<PublicKey, u64>,
    /// Hash of every leaf's encoding, by key bytes: the state root is computed from it.
    pub(crate) leaf_hashes: BTreeMap<Vec<u8>, Hash>,
    /// Keys that hold an account of their own (derived from `accounts`, not a leaf:
    /// every account goes in through [`State::insert_account`]).
    pub(crate) holder_keys: BTreeSet<PublicKey>,
}

impl State {
    pub(crate) fn empty(meta: Meta, params: Params) -> Self {
        State {
            meta,
            params,
            cdm: CdmRegistry {
                next_serial: 1,
                issued: BTreeMap::new(),
            },
            projects: BTreeMap::new(),
            governance: Governance::default(),
            proposals: BTreeMap::new(),
            parties: BTreeMap::new(),
            accounts: BTreeMap::new(),
            nonces: BTreeMap::new(),
            leaf_hashes: BTreeMap::new(),
            holder_keys: BTreeSet::new(),
        }
    }

    /// Puts an account in the state, keeping the index of holder keys.
    pub(crate) fn insert_account(&mut self, account: Account) {
        if let Holder::Key(k) = &account.holder {
            self.holder_keys.insert(*k);
        }
        self.accounts.insert(account.id.clone(), account);
    }

    /// Whether `key` may sign anything the ledger would accept: a Party's registry
    /// authority (whatever its treaty status), an account holder, the CDM executive
    /// board or the Depositary. No other key can sign a transaction that executes (a
    /// new key comes in only as an account's holder or an acceding State's authority),
    /// so the mempool refuses any other at the door.
    pub fn knows_signer(&self, key: &PublicKey) -> bool {
        self.holder_keys.contains(key)
            || self.params.cdm_board == *key
            || self.governance.depositary.as_ref() == Some(key)
            || self.parties.values().any(|p| p.authority == *key)
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }
    pub fn chain_id(&self) -> &str {
        &self.meta.chain_id
    }
    pub fn height(&self) -> u64 {
        self.meta.height
    }
    pub fn party(&self, code: &PartyCode) -> Option<&Party> {
        self.parties.get(code)
    }
    pub fn parties(&self) -> impl Iterator<Item = &Party> {
        self.parties.values()
    }
    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }
    /// Accounts in id order after `after` (all of them when `None`): one page of a
    /// listing at a time.
    pub fn accounts_after(&self, after: Option<&AccountId>) -> impl Iterator<Item = &Account> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.accounts
            .range::<AccountId, _>((lower, Bound::Unbounded))
            .map(|(_, a)| a)
    }
    /// Parties in code order after `after` (all of them when `None`).
    pub fn parties_after(&self, after: Option<&PartyCode>) -> impl Iterator<Item = &Party> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.parties
            .range::<PartyCode, _>((lower, Bound::Unbounded))
            .map(|(_, p)| p)
    }
    /// Projects in id order after `after` (all of them when `None`).
    pub fn projects_after(&self, after: Option<&str>) -> impl Iterator<Item = &Project> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.projects
            .range::<str, _>((lower, Bound::Unbounded))
            .map(|(_, p)| p)
    }
    /// Accounts of one Party's registry.
    pub fn registry_accounts<'a>(
        &'a self,
        party: &'a PartyCode,
    ) -> impl Iterator<Item = &'a Account> + 'a {
        self.accounts.values().filter(move |a| &a.id.party == party)
    }
    /// The last nonce the signer used in a committed block (0 if none).
    pub fn nonce(&self, signer: &PublicKey) -> u64 {
        self.nonces.get(signer).copied().unwrap_or(0)
    }

    /// The key that controls an account's transfers.
    pub fn account_controller(&self, account: &Account) -> Option<PublicKey> {
        match &account.holder {
            Holder::Key(k) => Some(*k),
            Holder::PartyAuthority => self.parties.get(&account.id.party).map(|p| p.authority),
            Holder::CdmBoard => Some(self.params.cdm_board),
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }
    pub fn cdm(&self) -> &CdmRegistry {
        &self.cdm
    }
    pub fn project(&self, id: &str) -> Option<&Project> {
        self.projects.get(id)
    }
    pub fn projects(&self) -> impl Iterator<Item = &Project> {
        self.projects.values()
    }
    /// Ledger time: the timestamp of the last block.
    pub fn time_ms(&self) -> i64 {
        self.meta.time_ms
    }

    /// Units held in a Party's registry per (type, applicable period).
    pub fn registry_holdings(&self, party: &PartyCode) -> BTreeMap<(UnitType, Period), Total> {
        let mut out = BTreeMap::new();
        for acc in self.registry_accounts(party) {
            for (k, v) in acc.holdings() {
                *out.entry(k).or_insert(0) += v;
            }
        }
        out
    }
}

/// The party holding account id of a Party.
pub fn party_holding(party: &PartyCode) -> AccountId {
    AccountId {
        party: party.clone(),
        kind: AccountKind::PartyHolding,
        number: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Stored leaves come from disk: corrupt ones are an error, never a panic.
        #[test]
        fn corrupt_leaves_are_an_error_not_a_panic(
            key in prop_oneof![Just(b"m".to_vec()), Just(b"p/JPN".to_vec()), Just(b"a/JPN-100-1".to_vec()), Just(vec![b'n', b'/', 1, 2]), prop::collection::vec(any::<u8>(), 0..8)],
            value in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let _ = State::from_leaves([(key, value)]);
        }
    }
}
