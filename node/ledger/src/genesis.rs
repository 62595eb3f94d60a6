//! Genesis: which Parties exist, their treaty data and keys, their assigned amounts,
//! the AAUs issued at genesis, and the validators (ARCHITECTURE.md, "Determinism"). A genesis is a JSON
//! document; the same genesis gives the same initial state root on every node.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::types::{
    AccountId, AccountKind, Amount, Eligibility, Hash, PartyCode, Period, PublicKey, SerialBlock,
    Total, UnitType,
};
use crate::calendar::{self, midnight_ms};
use crate::ceremony::statement::GenesisCeremony;
use crate::governance::records::{ProposalClass, Validator};
use crate::leaves::{StateError, StateKey};
use crate::state::{
    Account, Holder, Meta, Params, Party, PartyKind, PeriodDef, State, TreatyStatus, party_holding,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub chain_id: String,
    /// Ledger time at height 0, ms since the Unix epoch (UTC).
    pub genesis_time_ms: i64,
    pub parties: Vec<GenesisParty>,
    /// AAUs issued at genesis into each Party's holding account.
    #[serde(default)]
    pub issuances: Vec<GenesisIssuance>,
    pub validators: Vec<GenesisValidator>,
    /// Hex Ed25519 public key of the CDM executive board (Art. 12).
    pub cdm_board_key: String,
    /// Ledger parameters; treaty values when omitted.
    #[serde(default)]
    pub params: GenesisParams,
    /// Hex Ed25519 public key of the Depositary (Art. 23), which records instruments of
    /// ratification and accession; none means membership is fixed.
    #[serde(default)]
    pub depositary_key: Option<String>,
    /// Date the Protocol entered into force (Art. 25.1). When omitted it is the earliest
    /// date a Party is in force from, or, if none is, the ledger computes it from the
    /// deposits and the Parties' `co2_1990` (Art. 25.1, 25.2).
    #[serde(default)]
    pub protocol_in_force: Option<String>,
    /// How the registries agreed this genesis (`kyotod genesis`): their signed
    /// statements of its keys. None for a genesis one machine wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<GenesisCeremony>,
}

/// Ledger parameters in a genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenesisParams {
    pub periods: Vec<GenesisPeriod>,
    pub cpr_percent_of_assigned: u32,
    pub cpr_inventory_multiple: u32,
    pub share_of_proceeds_percent: u32,
    pub carry_over_cer_permille: u32,
    pub carry_over_eru_permille: u32,
    pub notice_months: u32,
    pub session_days: u32,
    /// Test networks only: when not 0, a voting session lasts this many seconds instead
    /// of `session_days` (so that a network running on wall-clock time can adopt a
    /// decision within a test; ARCHITECTURE.md ("Determinism") lets a test genesis shorten durations).
    pub session_seconds: u32,
    pub quorum_numerator: u32,
    pub quorum_denominator: u32,
    pub entry_into_force_days: u32,
    pub annex_months: u32,
    pub withdrawal_wait_years: u32,
    pub withdrawal_effect_years: u32,
}

/// A commitment period's dates (YYYY-MM-DD, inclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisPeriod {
    pub number: Period,
    pub first_day: String,
    pub last_day: String,
    /// Last day of the additional period for fulfilling commitments.
    pub true_up_last_day: String,
}

impl Default for GenesisParams {
    /// The treaty's values: 2008-2012 (true-up ended 18 November 2015) and 2013-2020
    /// (true-up ended 15 November 2023); CPR 90 % / 5 x inventory (decision 11/CMP.1);
    /// share of proceeds 2 % (Art. 12.8); carry-over 2.5 % (decision 13/CMP.1).
    fn default() -> Self {
        let period = |number, first: &str, last: &str, true_up: &str| GenesisPeriod {
            number,
            first_day: first.to_owned(),
            last_day: last.to_owned(),
            true_up_last_day: true_up.to_owned(),
        };
        GenesisParams {
            periods: vec![
                period(1, "2008-01-01", "2012-12-31", "2015-11-18"),
                period(2, "2013-01-01", "2020-12-31", "2023-11-15"),
            ],
            cpr_percent_of_assigned: 90,
            cpr_inventory_multiple: 5,
            share_of_proceeds_percent: 2,
            carry_over_cer_permille: 25,
            carry_over_eru_permille: 25,
            notice_months: 6,
            session_days: 14,
            session_seconds: 0,
            quorum_numerator: 2,
            quorum_denominator: 3,
            entry_into_force_days: 90,
            annex_months: 6,
            withdrawal_wait_years: 3,
            withdrawal_effect_years: 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisParty {
    pub code: String,
    pub name: String,
    /// `state` or `reio`.
    pub kind: String,
    /// Member States of a REIO.
    #[serde(default)]
    pub members: Vec<String>,
    pub annex_i: bool,
    #[serde(default)]
    pub annex_b_percent: Option<u32>,
    #[serde(default)]
    pub base_year_emissions: Option<Amount>,
    #[serde(default)]
    pub economy_in_transition: bool,
    /// `signatory` or `in_force`.
    pub status: String,
    /// Date (YYYY-MM-DD) from which the Protocol is in force for the Party.
    #[serde(default)]
    pub in_force_since: Option<String>,
    /// Hex Ed25519 public key of the Party's registry authority.
    pub authority_key: String,
    /// Assigned amount per commitment period (Art. 3.7).
    #[serde(default)]
    pub assigned_amounts: BTreeMap<Period, Amount>,
    /// For a REIO: the classes of proposals within its competence (protocol_amendment,
    /// annex_b_amendment, annex_amendment, decision); all of them by default.
    #[serde(default)]
    pub competence: Option<Vec<String>>,
    /// Art. 25.2: the Party's 1990 CO2 emissions (Annex I), for the entry into force test.
    #[serde(default)]
    pub co2_1990: Option<Amount>,
    /// Date of deposit of its instrument, with status `deposited`.
    #[serde(default)]
    pub deposited: Option<String>,
    /// Mechanisms the Party may use; by default all three for an Annex B Party in force,
    /// the CDM (Art. 12) for any other Party in force, none for a signatory.
    #[serde(default)]
    pub eligibility: Option<GenesisEligibility>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisEligibility {
    pub art6: bool,
    pub art12: bool,
    pub art17: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisIssuance {
    pub party: String,
    pub period: Period,
    pub amount: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    pub name: String,
    /// The Party whose registry runs the validator.
    pub party: String,
    /// Hex Ed25519 public key of the validator.
    pub public_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("genesis is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The code of the CDM registry, which is not a Party.
pub const CDM_REGISTRY: &str = "CDM";

fn invalid(msg: impl Into<String>) -> GenesisError {
    GenesisError::Invalid(msg.into())
}

/// Parses a 32-byte hex public key.
pub fn parse_key(hex_key: &str) -> Result<PublicKey, String> {
    let bytes = hex::decode(hex_key).map_err(|e| format!("`{hex_key}` is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| format!("`{hex_key}` is not a 32-byte key"))
}

fn parse_date(s: &str) -> Result<time::Date, GenesisError> {
    calendar::parse_date(s).map_err(invalid)
}

impl GenesisParams {
    fn build(&self, cdm_board: PublicKey) -> Result<Params, GenesisError> {
        let mut periods: Vec<PeriodDef> = Vec::new();
        for (i, p) in self.periods.iter().enumerate() {
            let (first, last, true_up) = (
                parse_date(&p.first_day)?,
                parse_date(&p.last_day)?,
                parse_date(&p.true_up_last_day)?,
            );
            let next_day = |d: time::Date| {
                d.next_day()
                    .ok_or_else(|| invalid("a period date is out of range"))
            };
            let def = PeriodDef {
                number: p.number,
                start_ms: midnight_ms(first),
                end_ms: midnight_ms(next_day(last)?),
                true_up_ms: midnight_ms(next_day(true_up)?),
                first_year: u32::try_from(first.year())
                    .map_err(|_| invalid("a period starts before year 0"))?,
                last_year: u32::try_from(last.year())
                    .map_err(|_| invalid("a period ends before year 0"))?,
            };
            let expected_number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if def.number != expected_number {
                return Err(invalid("periods must be numbered 1, 2, ... in order"));
            }
            if def.end_ms <= def.start_ms || def.true_up_ms < def.end_ms {
                return Err(invalid(format!(
                    "period {}: its days or true-up are out of order",
                    def.number
                )));
            }
            if periods
                .last()
                .is_some_and(|prev| prev.end_ms > def.start_ms)
            {
                return Err(invalid(format!(
                    "period {} overlaps the period before it",
                    def.number
                )));
            }
            periods.push(def);
        }
        if self.cpr_percent_of_assigned > 100 || self.share_of_proceeds_percent > 100 {
            return Err(invalid("percentages must be at most 100"));
        }
        if self.carry_over_cer_permille > 1000 || self.carry_over_eru_permille > 1000 {
            return Err(invalid("per mille limits must be at most 1000"));
        }
        Ok(Params {
            periods,
            cpr_percent_of_assigned: self.cpr_percent_of_assigned,
            cpr_inventory_multiple: self.cpr_inventory_multiple,
            share_of_proceeds_percent: self.share_of_proceeds_percent,
            carry_over_cer_permille: self.carry_over_cer_permille,
            carry_over_eru_permille: self.carry_over_eru_permille,
            notice_months: self.notice_months,
            session_days: self.session_days.max(1),
            session_seconds: self.session_seconds,
            quorum_numerator: self.quorum_numerator,
            quorum_denominator: self.quorum_denominator.max(1),
            entry_into_force_days: self.entry_into_force_days,
            annex_months: self.annex_months,
            withdrawal_wait_years: self.withdrawal_wait_years,
            withdrawal_effect_years: self.withdrawal_effect_years,
            cdm_board,
        })
    }
}

impl Genesis {
    /// SHA-256 of the genesis JSON as this version encodes it.
    pub fn hash(&self) -> Result<Hash, GenesisError> {
        let bytes = serde_json::to_vec(self).map_err(|e| invalid(e.to_string()))?;
        Ok(Sha256::digest(bytes).into())
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, GenesisError> {
        serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))
    }

    pub fn to_json_pretty(&self) -> Result<String, GenesisError> {
        serde_json::to_string_pretty(self).map_err(|e| invalid(e.to_string()))
    }

    /// Validator public keys, in genesis order.
    pub fn validator_keys(&self) -> Result<Vec<PublicKey>, GenesisError> {
        self.validators
            .iter()
            .map(|v| parse_key(&v.public_key).map_err(invalid))
            .collect()
    }

    /// Builds the initial state (height 0) and all of its leaves.
    pub fn build_state(&self) -> Result<State, GenesisError> {
        if self.chain_id.is_empty() || self.chain_id.len() > 64 || !self.chain_id.is_ascii() {
            return Err(invalid("chain_id must be 1 to 64 ASCII characters"));
        }
        if self.validators.is_empty() {
            return Err(invalid("at least one validator is required"));
        }
        let cdm_board =
            parse_key(&self.cdm_board_key).map_err(|e| invalid(format!("cdm_board_key: {e}")))?;
        let params = self.params.build(cdm_board)?;
        let mut state = State::empty(
            Meta {
                chain_id: self.chain_id.clone(),
                height: 0,
                time_ms: self.genesis_time_ms,
                last_block_hash: [0; 32],
            },
            params,
        );
        if self.parties.iter().any(|p| p.code == CDM_REGISTRY) {
            return Err(invalid(format!(
                "`{CDM_REGISTRY}` names the CDM registry and cannot be a Party code"
            )));
        }
        let cdm = PartyCode::parse(CDM_REGISTRY).map_err(invalid)?;
        for (kind, name) in [
            (AccountKind::CdmPending, "CDM pending account"),
            (AccountKind::AdaptationFund, "Adaptation Fund"),
        ] {
            let id = AccountId {
                party: cdm.clone(),
                kind,
                number: 1,
            };
            state.insert_account(Account {
                id,
                holder: Holder::CdmBoard,
                holder_name: name.to_owned(),
                blocks: Vec::new(),
            });
        }
        let codes: BTreeSet<String> = self.parties.iter().map(|p| p.code.clone()).collect();
        if codes.len() != self.parties.len() {
            return Err(invalid("a Party code appears twice"));
        }
        let mut member_of: BTreeMap<String, String> = BTreeMap::new();
        for gp in self.parties.iter().filter(|p| p.kind == "reio") {
            for m in &gp.members {
                if !codes.contains(m) {
                    return Err(invalid(format!(
                        "{} lists member {m}, which is not a Party in genesis",
                        gp.code
                    )));
                }
                if member_of.insert(m.clone(), gp.code.clone()).is_some() {
                    return Err(invalid(format!(
                        "{m} is a member of two regional organizations"
                    )));
                }
            }
        }
        for gp in &self.parties {
            let code = PartyCode::parse(&gp.code).map_err(invalid)?;
            let kind = match gp.kind.as_str() {
                "state" if gp.members.is_empty() => PartyKind::State,
                "reio" => PartyKind::Reio {
                    members: gp
                        .members
                        .iter()
                        .map(|m| PartyCode::parse(m))
                        .collect::<Result<_, _>>()
                        .map_err(invalid)?,
                    competence: match &gp.competence {
                        None => ProposalClass::ALL.into_iter().collect(),
                        Some(list) => list
                            .iter()
                            .map(|c| {
                                ProposalClass::parse(c).ok_or_else(|| {
                                    invalid(format!("{code}: `{c}` is not a proposal class"))
                                })
                            })
                            .collect::<Result<_, _>>()?,
                    },
                },
                other => {
                    return Err(invalid(format!(
                        "{code}: kind `{other}` must be `state` (without members) or `reio`"
                    )));
                }
            };
            let status = match (gp.status.as_str(), &gp.in_force_since) {
                ("signatory", None) => TreatyStatus::Signatory,
                ("in_force", Some(d)) => {
                    // A date after the genesis: the Party becomes a Party then, not now.
                    if midnight_ms(parse_date(d)?) > self.genesis_time_ms {
                        TreatyStatus::Deposited {
                            deposited: String::new(),
                            in_force_from: d.clone(),
                        }
                    } else {
                        TreatyStatus::InForce { since: d.clone() }
                    }
                }
                ("deposited", None) => {
                    let d = gp.deposited.as_ref().ok_or_else(|| {
                        invalid(format!("{code}: status `deposited` needs `deposited`"))
                    })?;
                    parse_date(d)?;
                    TreatyStatus::Deposited {
                        deposited: d.clone(),
                        in_force_from: String::new(),
                    }
                }
                (s, _) => {
                    return Err(invalid(format!(
                        "{code}: status `{s}` must be `signatory` (no date) or `in_force` with in_force_since"
                    )));
                }
            };
            if gp.name.trim().is_empty() {
                return Err(invalid(format!("{code}: the name is empty")));
            }
            let authority =
                parse_key(&gp.authority_key).map_err(|e| invalid(format!("{code}: {e}")))?;
            let member_of = member_of
                .get(&gp.code)
                .map(|c| PartyCode::parse(c))
                .transpose()
                .map_err(invalid)?;
            let party = Party {
                code: code.clone(),
                name: gp.name.clone(),
                kind,
                member_of,
                annex_i: gp.annex_i,
                annex_b_percent: gp.annex_b_percent,
                base_year_emissions: gp.base_year_emissions,
                economy_in_transition: gp.economy_in_transition,
                status,
                authority,
                assigned_amounts: gp.assigned_amounts.clone(),
                positions: BTreeMap::new(),
                next_serial: 1,
                next_entity_account: 1,
                eligibility: match gp.eligibility {
                    Some(e) => Eligibility {
                        art6: e.art6,
                        art12: e.art12,
                        art17: e.art17,
                    },
                    None => {
                        let in_force = gp.status == "in_force";
                        let annex_b = gp.annex_b_percent.is_some();
                        Eligibility {
                            art6: in_force && annex_b,
                            art12: in_force,
                            art17: in_force && annex_b,
                        }
                    }
                },
                inventories: BTreeMap::new(),
                rmu_issued: BTreeMap::new(),
                reserve_holdings: BTreeMap::new(),
            };
            let holding = party_holding(&code);
            state.insert_account(Account {
                id: holding,
                holder: Holder::PartyAuthority,
                holder_name: gp.name.clone(),
                blocks: Vec::new(),
            });
            state.parties.insert(code, party);
        }
        for (i, v) in self.validators.iter().enumerate() {
            parse_key(&v.public_key).map_err(|e| invalid(format!("validator {}: {e}", v.name)))?;
            if !codes.contains(&v.party) {
                return Err(invalid(format!(
                    "validator {} serves unknown Party {}",
                    v.name, v.party
                )));
            }
            if self.validators[..i]
                .iter()
                .any(|o| o.public_key == v.public_key)
            {
                return Err(invalid(format!(
                    "validator {} repeats another validator's key",
                    v.name
                )));
            }
            state.governance.validators.push(Validator {
                name: v.name.clone(),
                party: PartyCode::parse(&v.party).map_err(invalid)?,
                key: parse_key(&v.public_key).map_err(invalid)?,
            });
        }
        state.governance.next_proposal_id = 1;
        for gp in &self.parties {
            if let (Some(co2), Ok(code)) = (gp.co2_1990, PartyCode::parse(&gp.code)) {
                state.governance.co2_1990.insert(code, co2);
            }
        }
        state.governance.protocol_in_force_ms = match &self.protocol_in_force {
            Some(d) => Some(midnight_ms(parse_date(d)?)),
            None => self
                .parties
                .iter()
                .filter_map(|p| p.in_force_since.as_deref())
                .filter_map(super::calendar::parse_date_ms)
                .min(),
        };
        state.settle_entry_into_force(self.genesis_time_ms);
        state.governance.depositary = self
            .depositary_key
            .as_deref()
            .map(parse_key)
            .transpose()
            .map_err(|e| invalid(format!("depositary_key: {e}")))?;
        for iss in &self.issuances {
            let code = PartyCode::parse(&iss.party).map_err(invalid)?;
            let party = state
                .parties
                .get_mut(&code)
                .ok_or_else(|| invalid(format!("issuance for unknown Party {code}")))?;
            // A signatory (or a State whose withdrawal took effect) is not a Party: no
            // AAUs. A State whose instrument is deposited will be one (Art. 25.3), as at
            // a genesis dated between a deposit and the 90th day after it.
            if matches!(
                party.status,
                TreatyStatus::Signatory | TreatyStatus::Withdrawn { .. }
            ) {
                return Err(invalid(format!(
                    "issuance for {code}: it has not ratified or acceded to the Protocol, so no AAUs are issued to it (Art. 3.7, 24, 25)"
                )));
            }
            let assigned = party
                .assigned_amounts
                .get(&iss.period)
                .copied()
                .unwrap_or(0);
            let pos = party
                .positions
                .entry((UnitType::Aau, iss.period))
                .or_default();
            let total = pos
                .issued
                .checked_add(iss.amount)
                .filter(|t| *t <= assigned);
            let (Some(total), true) = (total, iss.amount > 0) else {
                return Err(invalid(format!(
                    "issuance of {} AAU for {code} period {} is zero or exceeds its assigned amount {assigned} (Art. 3.7)",
                    iss.amount, iss.period
                )));
            };
            pos.issued = total;
            let start = party.next_serial;
            // The last serial (u64::MAX) is never issued, so a block's end + 1 exists.
            let end = start
                .checked_add(iss.amount - 1)
                .filter(|e| *e < u64::MAX)
                .ok_or_else(|| {
                    invalid(format!(
                        "the genesis issuances of {code} exceed its serial numbers (2^64 - 1)"
                    ))
                })?;
            party.next_serial = end + 1;
            let held = party.reserve_holdings.entry(iss.period).or_insert(0);
            *held = held.saturating_add(Total::from(iss.amount));
            let block = SerialBlock::new(code.clone(), start, end, UnitType::Aau, iss.period);
            if let Some(acc) = state.accounts.get_mut(&party_holding(&code)) {
                acc.insert(block);
            }
        }
        let mut touched = BTreeSet::from([
            StateKey::Meta,
            StateKey::Params,
            StateKey::Cdm,
            StateKey::Governance,
        ]);
        touched.extend(state.parties.keys().cloned().map(StateKey::Party));
        touched.extend(state.accounts.keys().cloned().map(StateKey::Account));
        state.flush_leaves(touched)?;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_genesis_in_deploy_builds() {
        let json = include_bytes!("../../../deploy/genesis.example.json");
        let genesis = Genesis::from_json(json).unwrap();
        let state = genesis.build_state().unwrap();
        assert_eq!(state.chain_id(), "kyoto-example-1");
        assert_eq!(state.parties().count(), 6);
        let de = state.party(&PartyCode::parse("DEU").unwrap()).unwrap();
        assert_eq!(de.member_of, Some(PartyCode::parse("EU").unwrap()));
    }

    #[test]
    fn invalid_genesis_documents_are_refused_with_a_reason() {
        let json = include_bytes!("../../../deploy/genesis.example.json");
        let good = Genesis::from_json(json).unwrap();
        type Mutation = Box<dyn Fn(&mut Genesis)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "duplicate code",
                Box::new(|g| g.parties[1].code = "JPN".into()),
            ),
            (
                "bad key",
                Box::new(|g| g.parties[0].authority_key = "abcd".into()),
            ),
            ("over-issuance", Box::new(|g| g.issuances[0].amount += 1)),
            (
                "unknown member",
                Box::new(|g| g.parties[4].members.push("ZZZ".into())),
            ),
            (
                "bad date",
                Box::new(|g| g.parties[0].in_force_since = Some("2005-02-30".into())),
            ),
            ("no validators", Box::new(|g| g.validators.clear())),
            (
                "unknown validator Party",
                Box::new(|g| g.validators[0].party = "ZZZ".into()),
            ),
        ];
        for (what, mutate) in cases {
            let mut g = good.clone();
            mutate(&mut g);
            assert!(
                matches!(g.build_state(), Err(GenesisError::Invalid(_))),
                "{what} accepted"
            );
        }
        assert!(Genesis::from_json(b"{\"chain_id\": 1}").is_err());
        assert!(Genesis::from_json(b"not json").is_err());
    }
}
