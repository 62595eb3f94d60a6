//! Property tests of the ledger against an independent reference model.
//!
//! The model tracks every serial number individually (`(origin, serial) -> unit`) and
//! decides each transaction's outcome from the rules and the documented check order;
//! the ledger keeps serial blocks. Random blocks mix issuance (AAU, RMU), transfers,
//! account openings, inventories, JI approval and conversion, CDM registration,
//! issuance and forwarding, cancellation, retirement, carry-over and replays, and
//! may jump past the period's true-up. After every block we check the invariants of
//! ARCHITECTURE.md, "Invariants": conservation, the Art. 3.10/3.11/3.12 identity per Party, disjoint
//! serial blocks, AAU issuance within the assigned amount, no RMU carried over, the
//! reserve kept by every transfer out, refusals changing nothing, nonces, and the
//! state root after reload and after replay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use kyoto_ledger::genesis::GenesisParams;
use kyoto_ledger::governance::{AdoptionMethod, Choice, GovTx, Outcome, ProposalKind};
use kyoto_ledger::{
    AccountId, AccountKind, Activity, BlockContext, Genesis, GenesisIssuance, GenesisParty,
    GenesisValidator, PartyCode, PublicKey, State, Tx, TxKind, UnitFilter, UnitType,
};
use proptest::prelude::*;

/// (code, in force, Annex I, assigned amount for period 1).
const PARTIES: [(&str, bool, bool, u64); 4] = [
    ("AAA", true, true, 1_000),
    ("BBB", true, true, 600),
    ("CCC", false, true, 300),
    ("DDD", true, false, 0),
];
const HOLDERS: usize = 2;
/// A voting session of the model's genesis, seconds.
const SESSION_SECONDS: u32 = 3600;
const CPR_PERCENT: u64 = 60;
const PROJECTS: [&str; 2] = ["P1", "P2"];
/// 2008-01-01 and 2016-01-01 (after period 1's true-up), ms.
const T0: i64 = 1_199_145_600_000;
const T_LATE: i64 = 1_451_606_400_000;

/// The number of generated sequences: `KYOTO_PROPTEST_CASES`, or `default` in CI.
fn cases(default: u32) -> u32 {
    std::env::var("KYOTO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key(seed: u8) -> PublicKey {
    SigningKey::from_bytes(&[seed; 32])
        .verifying_key()
        .to_bytes()
}
fn authority(i: usize) -> PublicKey {
    key(10 + i as u8)
}
fn holder(i: usize) -> PublicKey {
    key(50 + i as u8)
}
fn board() -> PublicKey {
    key(2)
}
fn party_index(code: &str) -> Option<usize> {
    PARTIES.iter().position(|p| p.0 == code)
}

fn genesis(pre_issued: u64) -> Genesis {
    Genesis {
        chain_id: "prop".into(),
        genesis_time_ms: T0,
        parties: PARTIES
            .iter()
            .enumerate()
            .map(|(i, (code, in_force, annex_i, aa))| GenesisParty {
                code: (*code).into(),
                name: format!("Party {code}"),
                kind: "state".into(),
                members: vec![],
                annex_i: *annex_i,
                annex_b_percent: annex_i.then_some(100),
                base_year_emissions: annex_i.then_some(aa / 5),
                economy_in_transition: false,
                status: if *in_force {
                    "in_force".into()
                } else {
                    "signatory".into()
                },
                in_force_since: in_force.then(|| "2005-02-16".into()),
                authority_key: hex::encode(authority(i)),
                assigned_amounts: if *aa > 0 {
                    BTreeMap::from([(1, *aa)])
                } else {
                    BTreeMap::new()
                },
                eligibility: None,
                competence: None,
                co2_1990: None,
                deposited: None,
            })
            .collect(),
        issuances: PARTIES
            .iter()
            // AAUs are issued to Parties for which the Protocol is in force (Art. 3.7).
            .filter(|p| pre_issued > 0 && p.3 > 0 && p.1)
            .map(|(code, _, _, aa)| GenesisIssuance {
                party: (*code).into(),
                period: 1,
                amount: pre_issued.min(*aa),
            })
            .collect(),
        validators: vec![GenesisValidator {
            name: "v".into(),
            party: "AAA".into(),
            public_key: hex::encode(key(1)),
        }],
        cdm_board_key: hex::encode(board()),
        depositary_key: None,
        protocol_in_force: None,
        ceremony: None,
        params: GenesisParams {
            cpr_percent_of_assigned: CPR_PERCENT as u32,
            // Governance in the model: voting opens when a proposal is made and closes
            // an hour later, so blocks at T0 vote and blocks after the jump are too late.
            notice_months: 0,
            session_seconds: SESSION_SECONDS,
            ..GenesisParams::default()
        },
    }
}

#[derive(Clone, Debug)]
enum Op {
    IssueAau {
        party: usize,
        amount: u64,
        wrong_signer: bool,
    },
    IssueRmu {
        party: usize,
        amount: u64,
        forest: bool,
    },
    Transfer {
        from: usize,
        to: usize,
        amount: u64,
        unit: usize,
        origin: Option<usize>,
        wrong_signer: bool,
    },
    Open {
        party: usize,
        holder: usize,
    },
    Replay {
        index: usize,
    },
    Inventory {
        party: usize,
        year: u32,
        emissions: u64,
        removals: u64,
    },
    /// Inventories for every year of period 1 (five transactions).
    ReportPeriod {
        party: usize,
        emissions: u64,
        removals: u64,
    },
    ApproveJi {
        project: usize,
        host: usize,
        acquirer: usize,
        by_host: bool,
    },
    /// Both Parties approve (two transactions).
    ApproveJiBoth {
        project: usize,
        host: usize,
        acquirer: usize,
    },
    Convert {
        project: usize,
        party: usize,
        amount: u64,
        rmu: bool,
    },
    RegisterCdm {
        project: usize,
        host: usize,
        wrong_signer: bool,
    },
    IssueCers {
        project: usize,
        amount: u64,
    },
    Forward {
        project: usize,
        to: usize,
        amount: u64,
    },
    /// A Protocol amendment (Art. 20): it moves no unit, whatever becomes of it.
    Propose {
        party: usize,
        wrong_signer: bool,
    },
    Vote {
        proposal: u64,
        party: usize,
        choice: usize,
        wrong_signer: bool,
    },
    Cancel {
        from: usize,
        amount: u64,
        net_source: bool,
        unit: usize,
    },
    Retire {
        party: usize,
        amount: u64,
        unit: usize,
    },
    CarryOver {
        party: usize,
        amount: u64,
        unit: usize,
    },
}

const UNITS: [UnitType; 5] = [
    UnitType::Aau,
    UnitType::Rmu,
    UnitType::EruFromAau,
    UnitType::Cer,
    UnitType::EruFromRmu,
];

/// Account choices: 0..4 are the Parties' holding accounts, others any known account.
fn account_choice() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 0..4usize, 4 => 4..40usize]
}

/// Unit type choices, mostly AAUs (what Parties hold most).
fn unit_choice() -> impl Strategy<Value = usize> {
    prop_oneof![6 => Just(0usize), 4 => 0..5usize]
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..4usize;
    // JI pairs are mostly the two Annex B Parties in force; CDM hosts mostly DDD.
    let ji_party = prop_oneof![8 => 0..2usize, 2 => 0..4usize];
    let cdm_host = prop_oneof![8 => Just(3usize), 2 => 0..4usize];
    prop_oneof![
        4 => (p.clone(), 0..400u64, prop::bool::weighted(0.1)).prop_map(|(party, amount, wrong_signer)| Op::IssueAau { party, amount, wrong_signer }),
        2 => (p.clone(), 0..60u64, any::<bool>()).prop_map(|(party, amount, forest)| Op::IssueRmu { party, amount, forest }),
        10 => (account_choice(), account_choice(), 0..150u64, unit_choice(), prop::option::weighted(0.2, 0..4usize), prop::bool::weighted(0.1))
            .prop_map(|(from, to, amount, unit, origin, wrong_signer)| Op::Transfer { from, to, amount, unit, origin, wrong_signer }),
        2 => (p.clone(), 0..HOLDERS).prop_map(|(party, holder)| Op::Open { party, holder }),
        1 => (0..1000usize).prop_map(|index| Op::Replay { index }),
        2 => (p.clone(), 2007..2014u32, 0..300u64, 0..80u64).prop_map(|(party, year, emissions, removals)| Op::Inventory { party, year, emissions, removals }),
        3 => (p.clone(), 0..30u64, 0..30u64).prop_map(|(party, emissions, removals)| Op::ReportPeriod { party, emissions, removals }),
        2 => (0..2usize, ji_party.clone(), ji_party.clone(), any::<bool>()).prop_map(|(project, host, acquirer, by_host)| Op::ApproveJi { project, host, acquirer, by_host }),
        2 => (0..2usize, ji_party.clone(), ji_party).prop_map(|(project, host, acquirer)| Op::ApproveJiBoth { project, host, acquirer }),
        3 => (0..2usize, 0..2usize, 0..80u64, prop::bool::weighted(0.3)).prop_map(|(project, party, amount, rmu)| Op::Convert { project, party, amount, rmu }),
        2 => (0..2usize, cdm_host, prop::bool::weighted(0.1)).prop_map(|(project, host, wrong_signer)| Op::RegisterCdm { project, host, wrong_signer }),
        3 => (0..2usize, 0..200u64).prop_map(|(project, amount)| Op::IssueCers { project, amount }),
        3 => (0..2usize, prop_oneof![Just(0usize), Just(3usize), 0..40usize], 0..100u64).prop_map(|(project, to, amount)| Op::Forward { project, to, amount }),
        2 => (account_choice(), 0..60u64, any::<bool>(), unit_choice()).prop_map(|(from, amount, net_source, unit)| Op::Cancel { from, amount, net_source, unit }),
        4 => (p.clone(), 0..300u64, unit_choice()).prop_map(|(party, amount, unit)| Op::Retire { party, amount, unit }),
        4 => (p.clone(), 0..100u64, unit_choice()).prop_map(|(party, amount, unit)| Op::CarryOver { party, amount, unit }),
        3 => (p.clone(), prop::bool::weighted(0.1)).prop_map(|(party, wrong_signer)| Op::Propose { party, wrong_signer }),
        // Mostly the first proposals, so that Parties vote twice; sometimes none.
        5 => (prop_oneof![8 => 1..3u64, 2 => 0..5u64], p, 0..3usize, prop::bool::weighted(0.1)).prop_map(|(proposal, party, choice, wrong_signer)| Op::Vote { proposal, party, choice, wrong_signer }),
    ]
}

/// One unit in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Unit {
    account: String,
    unit_type: UnitType,
    period: u32,
    project: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ModelProject {
    Ji {
        host: String,
        acquirer: String,
        host_ok: bool,
        acquirer_ok: bool,
    },
    Cdm {
        participants: Vec<String>,
    },
}

/// The reference model.
#[derive(Clone, Debug, Default)]
struct Model {
    now: i64,
    units: BTreeMap<(String, u64), Unit>,
    /// account id -> controlling key.
    accounts: BTreeMap<String, PublicKey>,
    next_serial: BTreeMap<String, u64>,
    next_entity: BTreeMap<String, u64>,
    aau_issued: BTreeMap<String, u64>,
    rmu_issued: BTreeMap<(String, bool), u64>,
    inventories: BTreeMap<(String, u32), (u64, u64)>,
    projects: BTreeMap<String, ModelProject>,
    carried: BTreeMap<(String, UnitType), u64>,
    nonces: BTreeMap<PublicKey, u64>,
    /// Proposals by id (from 1): when voting closes, and each Party's vote (0 yes, 1
    /// no, 2 abstain).
    proposals: Vec<(i64, BTreeMap<String, usize>)>,
}

const TRUE_UP_1: i64 = 1_447_891_200_000; // 2015-11-19T00:00Z, the instant after the last true-up day

impl Model {
    fn new(pre_issued: u64) -> Self {
        let mut m = Model {
            now: T0,
            ..Model::default()
        };
        for (i, (code, _, _, aa)) in PARTIES.iter().enumerate() {
            let acct = format!("{code}-100-1");
            m.accounts.insert(acct.clone(), authority(i));
            let issued = if PARTIES[i].1 { pre_issued.min(*aa) } else { 0 };
            for s in 1..=issued {
                m.units.insert(
                    ((*code).into(), s),
                    Unit {
                        account: acct.clone(),
                        unit_type: UnitType::Aau,
                        period: 1,
                        project: None,
                    },
                );
            }
            m.next_serial.insert((*code).into(), issued + 1);
            m.next_entity.insert((*code).into(), 1);
            m.aau_issued.insert((*code).into(), issued);
        }
        m.next_serial.insert("CDM".into(), 1);
        m.accounts.insert("CDM-500-1".into(), board());
        m.accounts.insert("CDM-510-1".into(), board());
        m
    }

    fn party_of(acct: &str) -> String {
        acct.split('-').next().unwrap_or_default().to_owned()
    }
    fn kind_of(acct: &str) -> u16 {
        acct.split('-')
            .nth(1)
            .and_then(|k| k.parse().ok())
            .unwrap_or(0)
    }
    fn aa(party: &str) -> u64 {
        party_index(party).map_or(0, |i| PARTIES[i].3)
    }
    fn in_force(party: &str) -> bool {
        party_index(party).is_some_and(|i| PARTIES[i].1)
    }
    fn annex_i(party: &str) -> bool {
        party_index(party).is_some_and(|i| PARTIES[i].2)
    }
    /// (art6, art12, art17) by the genesis defaults.
    fn eligible(party: &str, t: UnitType) -> bool {
        // Genesis defaults: Annex B Parties in force use all three mechanisms, other
        // Parties in force the CDM only.
        let (in_force, annex_b) = (Self::in_force(party), Self::annex_i(party));
        match t {
            UnitType::Aau | UnitType::Rmu => in_force && annex_b,
            UnitType::EruFromAau | UnitType::EruFromRmu => in_force && annex_b,
            _ => in_force,
        }
    }

    fn closed(&self) -> bool {
        self.now >= TRUE_UP_1
    }

    fn held(&self, account: &str, f: &Filter) -> Vec<(String, u64)> {
        self.units
            .iter()
            .filter(|((o, _), u)| {
                u.account == account
                    && u.unit_type == f.unit_type
                    && u.period == f.period
                    && f.origin.as_ref().is_none_or(|x| x == o)
                    && f.project
                        .as_ref()
                        .is_none_or(|p| u.project.as_ref() == Some(p))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn reserve(&self, party: &str) -> Option<u64> {
        let aa = Self::aa(party);
        if aa == 0 {
            return None;
        }
        let by_aa = (aa * CPR_PERCENT).div_ceil(100);
        let latest = self
            .inventories
            .iter()
            .filter(|((p, y), _)| p == party && *y < self.year())
            .map(|((_, y), v)| (*y, v.0))
            .max();
        Some(latest.map_or(by_aa, |(_, e)| by_aa.min(5 * e)))
    }

    /// The calendar year of ledger time (blocks are in 2008 or, after the jump, 2016).
    fn year(&self) -> u32 {
        if self.now >= T_LATE { 2016 } else { 2008 }
    }

    fn held_for_reserve(&self, party: &str) -> u64 {
        self.units
            .values()
            .filter(|u| {
                Self::party_of(&u.account) == party
                    && !(200..300).contains(&Self::kind_of(&u.account))
                    && u.period == 1
            })
            .count() as u64
    }

    fn complies(&self, party: &str) -> bool {
        let years: Vec<u64> = (2008..=2012)
            .filter_map(|y| self.inventories.get(&(party.to_owned(), y)).map(|v| v.0))
            .collect();
        let retired = self
            .units
            .values()
            .filter(|u| u.account == format!("{party}-300-1"))
            .count() as u64;
        years.len() == 5 && retired >= years.iter().sum::<u64>()
    }

    /// Source checks shared by every movement: exists, controlled by the signer, not final.
    fn source(&self, from: &str, signer: PublicKey, party_only: bool) -> Result<(), &'static str> {
        let controller = *self.accounts.get(from).ok_or("UNKNOWN_ACCOUNT")?;
        if controller != signer {
            return Err("NOT_AUTHORISED");
        }
        let k = Self::kind_of(from);
        if (200..300).contains(&k) {
            return Err("UNIT_CANCELLED");
        }
        if k == 300 || k == 411 || k == 421 {
            return Err("UNIT_RETIRED");
        }
        if party_only && k != 100 {
            return Err("NOT_AUTHORISED");
        }
        // A Party's own acts (retire, convert, carry over) need the Protocol in force.
        if party_only && !Self::in_force(&Self::party_of(from)) {
            return Err("PARTY_NOT_IN_FORCE");
        }
        Ok(())
    }

    fn take(
        &self,
        from: &str,
        f: &Filter,
        amount: u64,
    ) -> Result<Vec<(String, u64)>, &'static str> {
        if amount == 0 {
            return Err("INVALID_AMOUNT");
        }
        let held = self.held(from, f);
        if (held.len() as u64) < amount {
            return Err("INSUFFICIENT_UNITS");
        }
        Ok(held.into_iter().take(amount as usize).collect())
    }

    fn put(&mut self, serials: &[(String, u64)], to: &str) {
        if !self.accounts.contains_key(to) {
            let controller = if Self::party_of(to) == "CDM" {
                board()
            } else {
                authority(party_index(&Self::party_of(to)).unwrap_or(0))
            };
            self.accounts.insert(to.to_owned(), controller);
        }
        for s in serials {
            if let Some(u) = self.units.get_mut(s) {
                u.account = to.to_owned();
            }
        }
    }

    fn issue(&mut self, origin: &str, amount: u64, unit: Unit) -> Vec<(String, u64)> {
        let start = self.next_serial[origin];
        let serials: Vec<_> = (start..start + amount)
            .map(|s| (origin.to_owned(), s))
            .collect();
        for s in &serials {
            self.units.insert(s.clone(), unit.clone());
        }
        self.next_serial.insert(origin.to_owned(), start + amount);
        serials
    }

    fn apply(
        &mut self,
        signer: PublicKey,
        nonce: u64,
        kind: &TxKind,
    ) -> Result<Vec<(String, u64)>, &'static str> {
        let last = self.nonces.get(&signer).copied().unwrap_or(0);
        if nonce <= last {
            return Err("NONCE_REUSED");
        }
        if nonce != last + 1 {
            return Err("NONCE_GAP");
        }
        self.nonces.insert(signer, nonce);
        match kind {
            TxKind::IssueUnits {
                party,
                unit_type,
                amount,
                activity,
                ..
            } => {
                let p = party.to_string();
                let i = party_index(&p).ok_or("UNKNOWN_PARTY")?;
                if authority(i) != signer {
                    return Err("NOT_AUTHORISED");
                }
                if !Self::in_force(&p) {
                    return Err("PARTY_NOT_IN_FORCE");
                }
                if *amount == 0 {
                    return Err("INVALID_AMOUNT");
                }
                let aa = Self::aa(&p);
                if aa == 0 {
                    return Err("NO_ASSIGNED_AMOUNT");
                }
                if self.closed() {
                    return Err("PERIOD_CLOSED");
                }
                let holding = format!("{p}-100-1");
                if *unit_type == UnitType::Aau {
                    if self.aau_issued[&p] + amount > aa {
                        return Err("ISSUANCE_EXCEEDS_ASSIGNED_AMOUNT");
                    }
                    *self.aau_issued.get_mut(&p).unwrap() += amount;
                    Ok(self.issue(
                        &p,
                        *amount,
                        Unit {
                            account: holding,
                            unit_type: UnitType::Aau,
                            period: 1,
                            project: None,
                        },
                    ))
                } else {
                    let forest = *activity == Some(Activity::ForestManagement);
                    let removals: u64 = (2008..=2012)
                        .filter_map(|y| self.inventories.get(&(p.clone(), y)))
                        .map(|v| if forest { v.1 } else { 0 })
                        .sum();
                    let issued = self
                        .rmu_issued
                        .get(&(p.clone(), forest))
                        .copied()
                        .unwrap_or(0);
                    if *amount > removals.saturating_sub(issued) {
                        return Err("RMU_EXCEEDS_REMOVALS");
                    }
                    self.rmu_issued.insert((p.clone(), forest), issued + amount);
                    Ok(self.issue(
                        &p,
                        *amount,
                        Unit {
                            account: holding,
                            unit_type: UnitType::Rmu,
                            period: 1,
                            project: None,
                        },
                    ))
                }
            }
            TxKind::TransferUnits {
                from,
                to,
                amount,
                units,
            } => {
                let (from, to) = (from.to_string(), to.to_string());
                self.source(&from, signer, false)?;
                if !self.accounts.contains_key(&to) {
                    return Err("UNKNOWN_ACCOUNT");
                }
                if from == to {
                    return Err("SAME_ACCOUNT");
                }
                let tk = Self::kind_of(&to);
                if (200..300).contains(&tk)
                    || tk == 300
                    || tk == 411
                    || tk == 421
                    || tk == 500
                    || tk == 510
                {
                    return Err("WRONG_ACCOUNT_TYPE");
                }
                let f = Filter::from(units);
                let moved = self.take(&from, &f, *amount)?;
                if Self::kind_of(&from) == 500 {
                    let project = f.project.clone().ok_or("INVALID_ARGUMENT")?;
                    match self.projects.get(&project) {
                        Some(ModelProject::Cdm { participants }) if participants.contains(&to) => {}
                        Some(ModelProject::Cdm { .. }) => return Err("NOT_PROJECT_PARTICIPANT"),
                        _ => return Err("UNKNOWN_PROJECT"),
                    }
                }
                let (fp, tp) = (Self::party_of(&from), Self::party_of(&to));
                if fp != tp {
                    let both =
                        !matches!(f.unit_type, UnitType::Cer | UnitType::Tcer | UnitType::Lcer);
                    for (p, acquiring) in [(&fp, false), (&tp, true)] {
                        if p == "CDM" {
                            continue;
                        }
                        if !Self::in_force(p) {
                            return Err("PARTY_NOT_IN_FORCE");
                        }
                        if (both || acquiring) && !Self::eligible(p, f.unit_type) {
                            return Err("NOT_ELIGIBLE");
                        }
                    }
                    if let Some(reserve) = self.reserve(&fp).filter(|_| fp != "CDM")
                        && self.held_for_reserve(&fp).saturating_sub(*amount) < reserve
                    {
                        return Err("CPR_BREACH");
                    }
                }
                self.put(&moved, &to);
                Ok(moved)
            }
            TxKind::OpenAccount {
                party, holder_key, ..
            } => {
                let p = party.to_string();
                let i = party_index(&p).ok_or("UNKNOWN_PARTY")?;
                if authority(i) != signer {
                    return Err("NOT_AUTHORISED");
                }
                let n = self.next_entity[&p];
                self.next_entity.insert(p.clone(), n + 1);
                self.accounts.insert(format!("{p}-120-{n}"), *holder_key);
                Ok(vec![])
            }
            TxKind::ReportInventory {
                party,
                year,
                emissions,
                removals,
            } => {
                let p = party.to_string();
                let i = party_index(&p).ok_or("UNKNOWN_PARTY")?;
                if authority(i) != signer {
                    return Err("NOT_AUTHORISED");
                }
                if !Self::in_force(&p) {
                    return Err("PARTY_NOT_IN_FORCE");
                }
                let fm = removals
                    .get(&Activity::ForestManagement)
                    .copied()
                    .unwrap_or(0);
                self.inventories.insert((p, *year), (*emissions, fm));
                Ok(vec![])
            }
            TxKind::ApproveJiProject {
                project,
                host,
                acquirer,
            } => {
                let (h, a) = (host.to_string(), acquirer.to_string());
                let (hi, ai) = (
                    party_index(&h).ok_or("UNKNOWN_PARTY")?,
                    party_index(&a).ok_or("UNKNOWN_PARTY")?,
                );
                let by_host = authority(hi) == signer;
                if !by_host && authority(ai) != signer {
                    return Err("NOT_AUTHORISED");
                }
                if h == a {
                    return Err("INVALID_ARGUMENT");
                }
                for p in [&h, &a] {
                    if !Self::in_force(p) || Self::aa(p) == 0 {
                        return Err("NOT_ELIGIBLE");
                    }
                }
                let (mut host_ok, mut acquirer_ok) = (false, false);
                match self.projects.get(project) {
                    None => {}
                    Some(ModelProject::Ji {
                        host: h0,
                        acquirer: a0,
                        host_ok: x,
                        acquirer_ok: y,
                    }) if *h0 == h && *a0 == a => {
                        (host_ok, acquirer_ok) = (*x, *y);
                    }
                    Some(_) => return Err("PROJECT_CONFLICT"),
                }
                if by_host {
                    host_ok = true
                } else {
                    acquirer_ok = true
                }
                self.projects.insert(
                    project.clone(),
                    ModelProject::Ji {
                        host: h,
                        acquirer: a,
                        host_ok,
                        acquirer_ok,
                    },
                );
                Ok(vec![])
            }
            TxKind::ConvertToEru {
                project,
                from,
                amount,
                units,
            } => {
                let from = from.to_string();
                self.source(&from, signer, true)?;
                let host = Self::party_of(&from);
                match self.projects.get(project) {
                    Some(ModelProject::Ji {
                        host: h,
                        host_ok: true,
                        acquirer_ok: true,
                        ..
                    }) if *h == host => {}
                    Some(ModelProject::Ji { host: h, .. }) if *h != host => {
                        return Err("PROJECT_CONFLICT");
                    }
                    Some(ModelProject::Ji { .. }) => return Err("PROJECT_NOT_APPROVED"),
                    _ => return Err("UNKNOWN_PROJECT"),
                }
                let to_type = match units.unit_type {
                    UnitType::Aau => UnitType::EruFromAau,
                    UnitType::Rmu => UnitType::EruFromRmu,
                    _ => return Err("INVALID_ARGUMENT"),
                };
                let mut f = Filter::from(units);
                f.origin = Some(host.clone());
                f.project = None;
                let moved = self.take(&from, &f, *amount)?;
                for s in &moved {
                    let u = self.units.get_mut(s).unwrap();
                    u.unit_type = to_type;
                    u.project = Some(project.clone());
                }
                Ok(moved)
            }
            TxKind::RegisterCdmProject {
                project,
                host,
                participants,
            } => {
                if signer != board() {
                    return Err("NOT_AUTHORISED");
                }
                let h = host.to_string();
                party_index(&h).ok_or("UNKNOWN_PARTY")?;
                if Self::annex_i(&h) || !Self::in_force(&h) {
                    return Err("NOT_ELIGIBLE");
                }
                if self.projects.contains_key(project) {
                    return Err("PROJECT_CONFLICT");
                }
                let participants = participants.iter().map(ToString::to_string).collect();
                self.projects
                    .insert(project.clone(), ModelProject::Cdm { participants });
                Ok(vec![])
            }
            TxKind::IssueCers {
                project, amount, ..
            } => {
                if signer != board() {
                    return Err("NOT_AUTHORISED");
                }
                if !matches!(self.projects.get(project), Some(ModelProject::Cdm { .. })) {
                    return Err("UNKNOWN_PROJECT");
                }
                if *amount == 0 {
                    return Err("INVALID_AMOUNT");
                }
                if self.closed() {
                    return Err("PERIOD_CLOSED");
                }
                let share = (amount * 2).div_ceil(100);
                let unit = |account: &str| Unit {
                    account: account.into(),
                    unit_type: UnitType::Cer,
                    period: 1,
                    project: Some(project.clone()),
                };
                let mut all = self.issue("CDM", amount - share, unit("CDM-500-1"));
                all.extend(self.issue("CDM", share, unit("CDM-510-1")));
                Ok(all)
            }
            TxKind::CancelUnits {
                from,
                kind,
                amount,
                units,
            } => {
                let from = from.to_string();
                self.source(&from, signer, false)?;
                if *kind != AccountKind::VoluntaryCancellation && Self::kind_of(&from) != 100 {
                    return Err("NOT_AUTHORISED");
                }
                let moved = self.take(&from, &Filter::from(units), *amount)?;
                let code = if *kind == AccountKind::VoluntaryCancellation {
                    230
                } else {
                    210
                };
                self.put(&moved, &format!("{}-{code}-1", Self::party_of(&from)));
                Ok(moved)
            }
            TxKind::RetireUnits {
                from,
                amount,
                units,
            } => {
                let from = from.to_string();
                self.source(&from, signer, true)?;
                if self.closed() {
                    return Err("PERIOD_CLOSED");
                }
                let moved = self.take(&from, &Filter::from(units), *amount)?;
                self.put(&moved, &format!("{}-300-1", Self::party_of(&from)));
                Ok(moved)
            }
            TxKind::CarryOver {
                from,
                amount,
                units,
            } => {
                let from = from.to_string();
                self.source(&from, signer, true)?;
                let p = Self::party_of(&from);
                if matches!(
                    units.unit_type,
                    UnitType::Rmu | UnitType::EruFromRmu | UnitType::Tcer | UnitType::Lcer
                ) {
                    return Err("CARRY_OVER_NOT_ALLOWED");
                }
                if !self.closed() {
                    return Err("PERIOD_NOT_ENDED");
                }
                if !self.complies(&p) {
                    return Err("NOT_IN_COMPLIANCE");
                }
                if matches!(units.unit_type, UnitType::Cer | UnitType::EruFromAau) {
                    let limit = Self::aa(&p) * 25 / 1000;
                    let already = self
                        .carried
                        .get(&(p.clone(), units.unit_type))
                        .copied()
                        .unwrap_or(0);
                    if already + amount > limit {
                        return Err("CARRY_OVER_LIMIT");
                    }
                }
                let moved = self.take(&from, &Filter::from(units), *amount)?;
                *self.carried.entry((p, units.unit_type)).or_default() += amount;
                for s in &moved {
                    self.units.get_mut(s).unwrap().period = 2;
                }
                Ok(moved)
            }
            TxKind::Gov(GovTx::Propose { proposer, .. }) => {
                let p = proposer.to_string();
                let i = party_index(&p).ok_or("UNKNOWN_PARTY")?;
                if authority(i) != signer {
                    return Err("NOT_AUTHORISED");
                }
                if !Self::in_force(&p) {
                    return Err("NOT_A_PARTY");
                }
                let closes = self.now + i64::from(SESSION_SECONDS) * 1000;
                self.proposals.push((closes, BTreeMap::new()));
                Ok(Vec::new())
            }
            TxKind::Gov(GovTx::Vote {
                proposal,
                voter,
                choice,
            }) => {
                let index = usize::try_from(*proposal).unwrap_or(usize::MAX);
                if index == 0 || index > self.proposals.len() {
                    return Err("UNKNOWN_PROPOSAL");
                }
                let v = voter.to_string();
                let i = party_index(&v).ok_or("UNKNOWN_PARTY")?;
                if authority(i) != signer {
                    return Err("NOT_AUTHORISED");
                }
                if !Self::in_force(&v) {
                    return Err("NOT_A_PARTY");
                }
                let now = self.now;
                let (closes, voters) = &mut self.proposals[index - 1];
                if now >= *closes {
                    return Err("VOTING_CLOSED");
                }
                if voters.contains_key(&v) {
                    return Err("ALREADY_VOTED");
                }
                let c = match choice {
                    Choice::Yes => 0,
                    Choice::No => 1,
                    Choice::Abstain => 2,
                };
                voters.insert(v, c);
                Ok(Vec::new())
            }
            other => panic!("the model does not generate {other:?}"),
        }
    }
}

#[derive(Clone, Debug)]
struct Filter {
    unit_type: UnitType,
    period: u32,
    origin: Option<String>,
    project: Option<String>,
}

impl From<&UnitFilter> for Filter {
    fn from(u: &UnitFilter) -> Self {
        Filter {
            unit_type: u.unit_type,
            period: u.period,
            origin: u.origin.as_ref().map(ToString::to_string),
            project: u.project.clone(),
        }
    }
}

fn code(i: usize) -> PartyCode {
    PartyCode::parse(PARTIES[i].0).unwrap()
}

fn acct(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

/// Turns an op into signed-at-the-boundary transactions, given the model's accounts.
fn make_txs(
    op: &Op,
    model: &Model,
    history: &[Tx],
    counter: &mut u64,
    next_nonce: &mut BTreeMap<PublicKey, u64>,
) -> Vec<Tx> {
    if let Op::ReportPeriod {
        party,
        emissions,
        removals,
    } = op
    {
        return (2008..=2012)
            .flat_map(|year| {
                let op = Op::Inventory {
                    party: *party,
                    year,
                    emissions: *emissions,
                    removals: *removals,
                };
                make_tx(&op, model, history, counter, next_nonce)
            })
            .collect();
    }
    if let Op::ApproveJiBoth {
        project,
        host,
        acquirer,
    } = op
    {
        return [true, false]
            .into_iter()
            .flat_map(|by_host| {
                let op = Op::ApproveJi {
                    project: *project,
                    host: *host,
                    acquirer: *acquirer,
                    by_host,
                };
                make_tx(&op, model, history, counter, next_nonce)
            })
            .collect();
    }
    make_tx(op, model, history, counter, next_nonce)
        .into_iter()
        .collect()
}

fn make_tx(
    op: &Op,
    model: &Model,
    history: &[Tx],
    counter: &mut u64,
    next_nonce: &mut BTreeMap<PublicKey, u64>,
) -> Option<Tx> {
    let accounts: Vec<String> = model.accounts.keys().cloned().collect();
    let pick = |i: usize| {
        if i < 4 {
            format!("{}-100-1", PARTIES[i].0)
        } else {
            accounts[i % accounts.len()].clone()
        }
    };
    let filter = |unit: usize, project: Option<String>| UnitFilter {
        unit_type: UNITS[unit],
        period: 1,
        origin: None,
        project,
    };
    let (signer, kind) = match op {
        Op::Replay { index } => return history.get(index % history.len().max(1)).cloned(),
        Op::ReportPeriod { .. } | Op::ApproveJiBoth { .. } => return None,
        Op::IssueAau {
            party,
            amount,
            wrong_signer,
        } => {
            let signer = if *wrong_signer {
                authority((party + 1) % 4)
            } else {
                authority(*party)
            };
            let kind = TxKind::IssueUnits {
                party: code(*party),
                unit_type: UnitType::Aau,
                period: 1,
                amount: *amount,
                to: None,
                activity: None,
            };
            (signer, kind)
        }
        Op::IssueRmu {
            party,
            amount,
            forest,
        } => {
            let activity = Some(if *forest {
                Activity::ForestManagement
            } else {
                Activity::AfforestationReforestation
            });
            (
                authority(*party),
                TxKind::IssueUnits {
                    party: code(*party),
                    unit_type: UnitType::Rmu,
                    period: 1,
                    amount: *amount,
                    to: None,
                    activity,
                },
            )
        }
        Op::Transfer {
            from,
            to,
            amount,
            unit,
            origin,
            wrong_signer,
        } => {
            let from = pick(*from);
            let controller = model.accounts[&from];
            let signer = if *wrong_signer { key(99) } else { controller };
            let mut units = filter(*unit, None);
            units.origin = origin.map(code);
            (
                signer,
                TxKind::TransferUnits {
                    from: acct(&from),
                    to: acct(&pick(*to)),
                    amount: *amount,
                    units,
                },
            )
        }
        Op::Open { party, holder: h } => (
            authority(*party),
            TxKind::OpenAccount {
                party: code(*party),
                holder_name: format!("Entity {h}"),
                holder_key: holder(*h),
            },
        ),
        Op::Inventory {
            party,
            year,
            emissions,
            removals,
        } => {
            let removals = BTreeMap::from([(Activity::ForestManagement, *removals)]);
            (
                authority(*party),
                TxKind::ReportInventory {
                    party: code(*party),
                    year: *year,
                    emissions: *emissions,
                    removals,
                },
            )
        }
        Op::ApproveJi {
            project,
            host,
            acquirer,
            by_host,
        } => {
            let signer = authority(if *by_host { *host } else { *acquirer });
            (
                signer,
                TxKind::ApproveJiProject {
                    project: PROJECTS[*project].into(),
                    host: code(*host),
                    acquirer: code(*acquirer),
                },
            )
        }
        Op::Convert {
            project,
            party,
            amount,
            rmu,
        } => {
            let units = filter(if *rmu { 1 } else { 0 }, None);
            let from = acct(&format!("{}-100-1", PARTIES[*party].0));
            (
                authority(*party),
                TxKind::ConvertToEru {
                    project: PROJECTS[*project].into(),
                    from,
                    amount: *amount,
                    units,
                },
            )
        }
        Op::RegisterCdm {
            project,
            host,
            wrong_signer,
        } => {
            let signer = if *wrong_signer { key(98) } else { board() };
            let participants = vec![acct("AAA-100-1"), acct("DDD-100-1")];
            (
                signer,
                TxKind::RegisterCdmProject {
                    project: PROJECTS[*project].into(),
                    host: code(*host),
                    participants,
                },
            )
        }
        Op::IssueCers { project, amount } => (
            board(),
            TxKind::IssueCers {
                project: PROJECTS[*project].into(),
                unit_type: UnitType::Cer,
                period: 1,
                amount: *amount,
                expiry_ms: None,
            },
        ),
        Op::Forward {
            project,
            to,
            amount,
        } => {
            let units = filter(3, Some(PROJECTS[*project].into()));
            (
                board(),
                TxKind::TransferUnits {
                    from: acct("CDM-500-1"),
                    to: acct(&pick(*to)),
                    amount: *amount,
                    units,
                },
            )
        }
        Op::Cancel {
            from,
            amount,
            net_source,
            unit,
        } => {
            let from = pick(*from);
            let kind = if *net_source {
                AccountKind::NetSourceCancellation
            } else {
                AccountKind::VoluntaryCancellation
            };
            (
                model.accounts[&from],
                TxKind::CancelUnits {
                    from: acct(&from),
                    kind,
                    amount: *amount,
                    units: filter(*unit, None),
                },
            )
        }
        Op::Retire {
            party,
            amount,
            unit,
        } => {
            let from = acct(&format!("{}-100-1", PARTIES[*party].0));
            (
                authority(*party),
                TxKind::RetireUnits {
                    from,
                    amount: *amount,
                    units: filter(*unit, None),
                },
            )
        }
        Op::Propose {
            party,
            wrong_signer,
        } => {
            let signer = if *wrong_signer {
                authority((party + 1) % 4)
            } else {
                authority(*party)
            };
            let kind = TxKind::Gov(GovTx::Propose {
                proposer: code(*party),
                title: format!("Amendment {}", *counter),
                kind: ProposalKind::ProtocolAmendment { text_hash: [7; 32] },
            });
            (signer, kind)
        }
        Op::Vote {
            proposal,
            party,
            choice,
            wrong_signer,
        } => {
            let signer = if *wrong_signer {
                authority((party + 1) % 4)
            } else {
                authority(*party)
            };
            let kind = TxKind::Gov(GovTx::Vote {
                proposal: *proposal,
                voter: code(*party),
                choice: [Choice::Yes, Choice::No, Choice::Abstain][*choice % 3],
            });
            (signer, kind)
        }
        Op::CarryOver {
            party,
            amount,
            unit,
        } => {
            let from = acct(&format!("{}-100-1", PARTIES[*party].0));
            (
                authority(*party),
                TxKind::CarryOver {
                    from,
                    amount: *amount,
                    units: filter(*unit, None),
                },
            )
        }
    };
    let nonce = next_nonce.entry(signer).or_insert(1);
    let n = *nonce;
    *nonce += 1;
    *counter += 1;
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&counter.to_be_bytes());
    Some(Tx {
        hash,
        signer,
        nonce: n,
        kind,
    })
}

/// Art. 20.3 with Art. 22 for the model's States (one vote each): `None` while voting
/// is open, else whether the amendment was adopted and how.
fn model_outcome(
    model: &Model,
    closes: i64,
    votes: &BTreeMap<String, usize>,
) -> Option<Option<AdoptionMethod>> {
    if model.now < closes {
        return None;
    }
    let eligible = PARTIES.iter().filter(|p| p.1).count() as u64;
    let count = |c: usize| votes.values().filter(|v| **v == c).count() as u64;
    let (yes, no, abstain) = (count(0), count(1), count(2));
    // A quorum of two thirds of the Parties (the genesis default).
    if (yes + no + abstain) * 3 < eligible * 2 {
        return Some(None);
    }
    Some(if yes > 0 && no == 0 {
        Some(AdoptionMethod::Consensus)
    } else if yes > 0 && 4 * yes >= 3 * (yes + no) {
        Some(AdoptionMethod::ThreeFourths)
    } else {
        None
    })
}

fn check_governance(state: &State, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(state.proposals().count(), model.proposals.len());
    for (i, (closes, votes)) in model.proposals.iter().enumerate() {
        let p = state.proposal(i as u64 + 1).unwrap();
        let recorded: BTreeMap<String, usize> = p
            .votes
            .iter()
            .map(|(party, c)| {
                (
                    party.to_string(),
                    match c {
                        Choice::Yes => 0,
                        Choice::No => 1,
                        Choice::Abstain => 2,
                    },
                )
            })
            .collect();
        prop_assert_eq!(&recorded, votes, "votes of proposal {}", i + 1);
        prop_assert_eq!(p.closes_ms, *closes);
        let got = match &p.outcome {
            Outcome::Pending => None,
            Outcome::Adopted { method, .. } => Some(Some(*method)),
            Outcome::NotAdopted { .. } => Some(None),
        };
        prop_assert_eq!(
            got,
            model_outcome(model, *closes, votes),
            "outcome of proposal {}",
            i + 1
        );
    }
    Ok(())
}

fn check_invariants(state: &State, model: &Model) {
    // Every serial is where the model says, with the model's type, period and project;
    // serial blocks are disjoint, sorted and merged.
    let mut seen: BTreeMap<(String, u64), Unit> = BTreeMap::new();
    for acc in state.accounts() {
        for b in &acc.blocks {
            assert!(b.start <= b.end);
            for s in b.start..=b.end {
                let unit = Unit {
                    account: acc.id.to_string(),
                    unit_type: b.unit_type,
                    period: b.applicable_period,
                    project: b.project.clone(),
                };
                assert!(
                    seen.insert((b.origin.to_string(), s), unit).is_none(),
                    "serial {} {s} held twice",
                    b.origin
                );
                assert!(
                    !(b.unit_type == UnitType::Rmu && b.applicable_period != b.original_period),
                    "an RMU was carried over"
                );
            }
        }
        for w in acc.blocks.windows(2) {
            assert!((w[0].origin.clone(), w[0].start) < (w[1].origin.clone(), w[1].start));
            assert!(
                !(w[0].same_attributes(&w[1]) && w[0].end + 1 == w[1].start),
                "unmerged blocks in {}",
                acc.id
            );
        }
    }
    assert_eq!(seen, model.units, "holdings differ from the model");
    // Conservation per origin: units exist exactly for the serials issued.
    for (origin, next) in &model.next_serial {
        let held = seen.keys().filter(|(o, _)| o == origin).count() as u64;
        assert_eq!(
            held,
            next - 1,
            "units of origin {origin} were created or destroyed"
        );
    }
    // Art. 3.10/3.11/3.12 (with conversion and carry-over): per Party, type and period,
    // registry holdings = issued + acquired + converted in + carried in
    //                     - transferred - converted out - carried out.
    for (code, _, _, aa) in PARTIES {
        let p = state.party(&PartyCode::parse(code).unwrap()).unwrap();
        assert!(
            p.position(UnitType::Aau, 1).issued <= aa,
            "AAU issuance above the assigned amount"
        );
        let held = state.registry_holdings(&p.code);
        let mut keys: Vec<_> = held.keys().chain(p.positions.keys()).copied().collect();
        keys.dedup();
        for k in keys {
            let h = i128::try_from(held.get(&k).copied().unwrap_or(0)).unwrap();
            assert_eq!(
                h,
                p.position(k.0, k.1).expected_holdings(),
                "Art. 3.10/3.11 identity broken for {code} {k:?}"
            );
        }
    }
    for (pk, n) in &model.nonces {
        assert_eq!(state.nonce(pk), *n);
    }
}

fn serials_of(applied: &kyoto_ledger::Applied) -> Vec<(String, u64)> {
    applied
        .serials
        .iter()
        .flat_map(|b| (b.start..=b.end).map(move |s| (b.origin.to_string(), s)))
        .collect()
}

proptest! {
    // KYOTO_PROPTEST_CASES=100000 runs the long mode (README, "Security and fault tolerance").
    #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ledger_matches_the_reference_model(
        pre_issued in prop_oneof![1 => 0..50u64, 3 => 300..1000u64],
        blocks in prop::collection::vec((prop::collection::vec(op(), 0..14), prop::bool::weighted(0.08)), 1..14),
    ) {
        let g = genesis(pre_issued);
        let mut state = g.build_state().unwrap();
        let mut model = Model::new(pre_issued);
        check_invariants(&state, &model);
        let mut history: Vec<Tx> = Vec::new();
        let mut log: Vec<(BlockContext, Vec<Tx>)> = Vec::new();
        let mut counter = 0u64;
        let mut next_nonce = BTreeMap::new();
        let mut late = false;
        for (h, (ops, jump)) in blocks.iter().enumerate() {
            late |= *jump;
            let timestamp_ms = if late { T_LATE } else { T0 } + h as i64 + 1;
            model.now = timestamp_ms;
            let mut txs = Vec::new();
            // Build the block against the model as of the block's start plus the
            // block's own earlier transactions.
            let mut preview = model.clone();
            for op in ops {
                for tx in make_txs(op, &preview, &history, &mut counter, &mut next_nonce) {
                    let _ = preview.apply(tx.signer, tx.nonce, &tx.kind);
                    txs.push(tx);
                }
            }
            let before = state.clone();
            // A dry run of the block's first transaction gives the receipt the block
            // gives it, and changes nothing.
            let simulated = txs.first().map(|tx| state.simulate(timestamp_ms, tx).unwrap());
            prop_assert_eq!(&state, &before, "a dry run changed the state");
            let ctx = BlockContext { height: h as u64 + 1, timestamp_ms, hash: [h as u8; 32] };
            let outcome = state.apply_block(ctx, &txs).unwrap();
            prop_assert_eq!(outcome.receipts.len(), txs.len());
            if let Some(simulated) = simulated {
                prop_assert_eq!(&simulated, &outcome.receipts[0], "the dry run differs from the block");
            }
            for (tx, receipt) in txs.iter().zip(&outcome.receipts) {
                let reserve_before = Model::party_of(&match &tx.kind { TxKind::TransferUnits { from, .. } => from.to_string(), _ => String::new() });
                let expected = model.apply(tx.signer, tx.nonce, &tx.kind);
                match (&expected, &receipt.outcome) {
                    (Ok(moved), Ok(applied)) => {
                        let mut got = serials_of(applied);
                        got.sort();
                        let mut want = moved.clone();
                        want.sort();
                        prop_assert_eq!(got, want, "serials differ from the model for {:?}", tx.kind);
                        if let Some(reserve) = model.reserve(&reserve_before)
                            && matches!(applied.kind, kyoto_ledger::AppliedKind::ExternalTransfer)
                        {
                            prop_assert!(model.held_for_reserve(&reserve_before) >= reserve, "a transfer breached the reserve");
                        }
                    }
                    (Err(code), Err(refusal)) => prop_assert_eq!(*code, refusal.code(), "for {:?}", tx.kind),
                    _ => prop_assert!(false, "ledger {:?} but model {:?} for {:?}", receipt.outcome, expected, tx),
                }
            }
            check_invariants(&state, &model);
            check_governance(&state, &model)?;
            prop_assert_eq!(state.check_invariants(), Ok(()));
            // The writes describe exactly the change: applying them to the old leaves
            // gives the new state, with the same root.
            let mut leaves: BTreeMap<Vec<u8>, Vec<u8>> = before.leaves().unwrap().into_iter().collect();
            for (k, v) in &outcome.writes {
                match v {
                    Some(v) => { leaves.insert(k.clone(), v.clone()); }
                    None => { leaves.remove(k); }
                }
            }
            let reloaded = State::from_leaves(leaves).unwrap();
            prop_assert_eq!(reloaded.state_root(), outcome.state_root);
            prop_assert_eq!(&reloaded, &state);
            history.extend(txs.iter().cloned());
            log.push((ctx, txs));
        }
        // Replaying the log from genesis gives the same state root.
        let mut replay = g.build_state().unwrap();
        for (ctx, txs) in &log {
            replay.apply_block(*ctx, txs).unwrap();
        }
        prop_assert_eq!(replay.state_root(), state.state_root());
    }
}

#[test]
fn a_refused_transaction_changes_nothing_but_consumes_its_nonce() {
    let g = genesis(100);
    let mut state = g.build_state().unwrap();
    let tx = Tx {
        hash: [1; 32],
        signer: authority(0),
        nonce: 1,
        kind: TxKind::TransferUnits {
            from: acct("AAA-100-1"),
            to: acct("BBB-100-1"),
            amount: 101,
            units: UnitFilter::new(UnitType::Aau, 1),
        },
    };
    let before: Vec<_> = state
        .accounts()
        .map(|a| (a.id.to_string(), a.blocks.clone()))
        .collect();
    let out = state
        .apply_block(
            BlockContext {
                height: 1,
                timestamp_ms: T0 + 1,
                hash: [1; 32],
            },
            std::slice::from_ref(&tx),
        )
        .unwrap();
    assert_eq!(
        out.receipts[0].outcome.as_ref().unwrap_err().code(),
        "INSUFFICIENT_UNITS"
    );
    let after: Vec<_> = state
        .accounts()
        .map(|a| (a.id.to_string(), a.blocks.clone()))
        .collect();
    assert_eq!(before, after);
    assert_eq!(state.nonce(&authority(0)), 1);
    // The same signed transaction can never succeed later, even when it would now fit.
    let mut smaller = tx.clone();
    if let TxKind::TransferUnits { amount, .. } = &mut smaller.kind {
        *amount = 10;
    }
    let out = state
        .apply_block(
            BlockContext {
                height: 2,
                timestamp_ms: T0 + 2,
                hash: [2; 32],
            },
            &[tx, smaller],
        )
        .unwrap();
    assert_eq!(
        out.receipts[0].outcome.as_ref().unwrap_err().code(),
        "NONCE_REUSED"
    );
    assert_eq!(
        out.receipts[1].outcome.as_ref().unwrap_err().code(),
        "NONCE_REUSED"
    );
}

#[test]
fn blocks_must_follow_in_height_and_time() {
    let mut state = genesis(0).build_state().unwrap();
    assert!(
        state
            .apply_block(
                BlockContext {
                    height: 2,
                    timestamp_ms: T0 + 5,
                    hash: [0; 32]
                },
                &[]
            )
            .is_err()
    );
    assert!(
        state
            .apply_block(
                BlockContext {
                    height: 1,
                    timestamp_ms: T0,
                    hash: [0; 32]
                },
                &[]
            )
            .is_err()
    );
    let root = state.state_root();
    assert!(
        state
            .apply_block(
                BlockContext {
                    height: 1,
                    timestamp_ms: T0 + 1,
                    hash: [0; 32]
                },
                &[]
            )
            .is_ok()
    );
    assert_ne!(
        state.state_root(),
        root,
        "the chain position is part of the state"
    );
}

#[test]
fn extreme_ranges_and_figures_are_refused_not_panics() {
    use kyoto_ledger::SerialRange;
    let mut state = genesis(10).build_state().unwrap();
    let cdm = PartyCode::parse("CDM").unwrap();
    let txs = vec![
        Tx {
            hash: [1; 32],
            signer: board(),
            nonce: 1,
            kind: TxKind::ChangeExpiry {
                range: SerialRange {
                    origin: cdm.clone(),
                    start: 0,
                    end: u64::MAX,
                },
                expiry_ms: T_LATE,
            },
        },
        Tx {
            hash: [2; 32],
            signer: authority(0),
            nonce: 1,
            kind: TxKind::ReplaceUnits {
                party: code(0),
                expiring: SerialRange {
                    origin: cdm,
                    start: 0,
                    end: u64::MAX,
                },
                from: acct("AAA-100-1"),
                units: UnitFilter::new(UnitType::Aau, 1),
            },
        },
        Tx {
            hash: [3; 32],
            signer: authority(0),
            nonce: 2,
            kind: TxKind::ReportInventory {
                party: code(0),
                year: 2007,
                emissions: u64::MAX,
                removals: BTreeMap::new(),
            },
        },
    ];
    let out = state
        .apply_block(
            BlockContext {
                height: 1,
                timestamp_ms: T0 + 1,
                hash: [1; 32],
            },
            &txs,
        )
        .unwrap();
    for r in &out.receipts {
        assert_eq!(r.outcome.as_ref().unwrap_err().code(), "INVALID_ARGUMENT");
    }
    assert_eq!(state.check_invariants(), Ok(()));
}

/// Applies `txs` as block 1, a millisecond after the genesis.
fn first_block(state: &mut State, txs: &[Tx]) -> kyoto_ledger::BlockOutcome {
    state
        .apply_block(
            BlockContext {
                height: 1,
                timestamp_ms: T0 + 1,
                hash: [1; 32],
            },
            txs,
        )
        .unwrap()
}

/// Units going back and forth between two registries without end: the cumulative
/// acquired and transferred sums pass 2^64 (a panic with overflow checks on, the same
/// block on every node, before they were 128-bit) and the accounting still holds.
#[test]
fn cumulative_sums_past_two_to_the_64_neither_panic_nor_break_the_accounting() {
    let big: u64 = 1 << 63;
    let mut g = genesis(0);
    g.params.cpr_percent_of_assigned = 0;
    for p in g.parties.iter_mut().take(2) {
        p.assigned_amounts = BTreeMap::from([(1, big)]);
    }
    g.issuances = vec![GenesisIssuance {
        party: "AAA".into(),
        period: 1,
        amount: big,
    }];
    let mut state = g.build_state().unwrap();
    let transfer = |n: u8, signer: usize, nonce: u64, from: &str, to: &str| Tx {
        hash: [n; 32],
        signer: authority(signer),
        nonce,
        kind: TxKind::TransferUnits {
            from: acct(from),
            to: acct(to),
            amount: big,
            units: UnitFilter::new(UnitType::Aau, 1),
        },
    };
    let txs = [
        transfer(1, 0, 1, "AAA-100-1", "BBB-100-1"),
        transfer(2, 1, 1, "BBB-100-1", "AAA-100-1"),
        transfer(3, 0, 2, "AAA-100-1", "BBB-100-1"),
        transfer(4, 1, 2, "BBB-100-1", "AAA-100-1"),
        transfer(5, 0, 3, "AAA-100-1", "BBB-100-1"),
    ];
    let out = first_block(&mut state, &txs);
    for r in &out.receipts {
        assert!(r.outcome.is_ok(), "{:?}", r.outcome);
    }
    let aaa = state.party(&code(0)).unwrap().position(UnitType::Aau, 1);
    assert_eq!(aaa.transferred, 3 * u128::from(big));
    assert_eq!(aaa.acquired, 2 * u128::from(big));
    assert_eq!(aaa.expected_holdings(), 0);
    assert_eq!(state.check_invariants(), Ok(()));
    let reloaded = State::from_leaves(state.leaves().unwrap()).unwrap();
    assert_eq!(reloaded.state_root(), state.state_root());
    assert_eq!(reloaded, state);
}

/// Genesis issuances past a Party's serial numbers are refused, not a panic.
#[test]
fn genesis_issuances_past_the_serial_space_are_refused() {
    let mut g = genesis(0);
    g.parties[0].assigned_amounts = BTreeMap::from([(1, u64::MAX)]);
    g.issuances = vec![GenesisIssuance {
        party: "AAA".into(),
        period: 1,
        amount: u64::MAX,
    }];
    let e = g.build_state().unwrap_err();
    assert!(e.to_string().contains("serial numbers"), "{e}");
}

/// A signatory with an assigned amount in its genesis is no Party: its authority can
/// neither issue AAUs nor report inventories nor retire (one check for every act).
#[test]
fn a_state_for_which_the_protocol_is_not_in_force_cannot_act_as_a_party() {
    let mut state = genesis(0).build_state().unwrap();
    let ccc = 2;
    assert!(!PARTIES[ccc].1 && PARTIES[ccc].3 > 0);
    let txs = [
        TxKind::IssueUnits {
            party: code(ccc),
            unit_type: UnitType::Aau,
            amount: 10,
            to: None,
            activity: None,
            period: 1,
        },
        TxKind::ReportInventory {
            party: code(ccc),
            year: 2008,
            emissions: 50,
            removals: BTreeMap::new(),
        },
        TxKind::RetireUnits {
            from: acct("CCC-100-1"),
            amount: 1,
            units: UnitFilter::new(UnitType::Aau, 1),
        },
    ];
    let txs: Vec<Tx> = txs
        .into_iter()
        .zip(1u64..)
        .map(|(kind, n)| Tx {
            hash: [n as u8; 32],
            signer: authority(ccc),
            nonce: n,
            kind,
        })
        .collect();
    let out = first_block(&mut state, &txs);
    for r in &out.receipts {
        let refusal = r.outcome.as_ref().unwrap_err();
        assert_eq!(refusal.code(), "PARTY_NOT_IN_FORCE");
        assert!(
            refusal.to_string().contains("not in force for CCC"),
            "{refusal}"
        );
    }
    assert_eq!(
        state
            .party(&code(ccc))
            .unwrap()
            .position(UnitType::Aau, 1)
            .issued,
        0
    );
}
