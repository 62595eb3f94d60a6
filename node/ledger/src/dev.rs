//! The built-in dev genesis (ARCHITECTURE.md, "Determinism"): every Annex B Party with its Annex B
//! percentage and base-year emissions (`data/parties.csv`, sources cited there), the
//! European Community as a REIO with its member States, a few non-Annex I Parties as
//! CDM hosts, the Protocol in force, and each Annex B Party's full period-1 assigned
//! amount issued as AAUs into its party holding account.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;

use crate::genesis::{CDM_REGISTRY, GenesisParams};
use crate::{Genesis, GenesisIssuance, GenesisParty, GenesisValidator};

/// The data file, compiled in.
pub const PARTIES_CSV: &str = include_str!("../data/parties.csv");

/// Key name of the Depositary (Art. 23) in the dev keys.
pub const DEPOSITARY: &str = "DEPOSITARY";

/// Chain id of dev chains.
pub const DEV_CHAIN_ID: &str = "kyoto-dev";

/// 2008-01-01T00:00:00Z, the start of the first commitment period.
pub const DEV_GENESIS_TIME_MS: i64 = 1_199_145_600_000;

/// Years in the first commitment period (2008-2012), the "multiplied by five" of Art. 3.7.
pub const PERIOD_1_YEARS: u128 = 5;

/// One row of `data/parties.csv`; in a JSON table of Parties ([`parse_party_rows_json`])
/// an object with these fields.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub annex_i: bool,
    #[serde(default)]
    pub annex_b_percent: Option<u32>,
    #[serde(default)]
    pub eit: bool,
    /// Base-year emissions, t CO2e.
    #[serde(default)]
    pub base_year: Option<u64>,
    #[serde(default)]
    pub member_of: Option<String>,
    pub status: String,
    #[serde(default)]
    pub in_force_since: Option<String>,
}

fn opt<T: std::str::FromStr>(s: &str, line: u64) -> Result<Option<T>, String> {
    if s.is_empty() {
        Ok(None)
    } else {
        s.parse()
            .map(Some)
            .map_err(|_| format!("parties.csv line {line}: `{s}` is not a number"))
    }
}

fn flag(s: &str, line: u64) -> Result<bool, String> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("parties.csv line {line}: `{s}` must be 0 or 1")),
    }
}

/// A row as the file spells it (the header names the columns).
#[derive(serde::Deserialize)]
struct RawRow {
    code: String,
    name: String,
    kind: String,
    annex_i: String,
    annex_b_percent: String,
    eit: String,
    base_year_t_co2e: String,
    member_of: String,
    status: String,
    in_force_since: String,
}

/// Parses a Parties table in the layout of `data/parties.csv` (RFC 4180 CSV with a
/// header row; lines starting with `#` are comments; a field with a comma is quoted).
pub fn parse_party_rows(text: &str) -> Result<Vec<PartyRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("parties.csv: {e}"))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("parties.csv: {e}"))?;
        let line = record.position().map_or(0, |p| p.line());
        let r: RawRow = record
            .deserialize(Some(&headers))
            .map_err(|e| format!("parties.csv line {line}: {e}"))?;
        rows.push(PartyRow {
            annex_i: flag(&r.annex_i, line)?,
            annex_b_percent: opt(&r.annex_b_percent, line)?,
            eit: flag(&r.eit, line)?,
            base_year: opt(&r.base_year_t_co2e, line)?,
            member_of: Some(r.member_of).filter(|s| !s.is_empty()),
            in_force_since: Some(r.in_force_since).filter(|s| !s.is_empty()),
            code: r.code,
            name: r.name,
            kind: r.kind,
            status: r.status,
        });
    }
    Ok(rows)
}

/// Parses a Parties table as JSON: an array of objects with the fields of [`PartyRow`]
/// (`annex_i`, `eit` default to false, the others that are optional to none).
pub fn parse_party_rows_json(text: &str) -> Result<Vec<PartyRow>, String> {
    serde_json::from_str(text).map_err(|e| format!("parties JSON: {e}"))
}

/// Parses the built-in Parties table.
pub fn party_rows() -> Result<Vec<PartyRow>, String> {
    parse_party_rows(PARTIES_CSV)
}

/// Art. 3.7: assigned amount = percentage × base year × five, rounded down.
pub fn assigned_amount(percent: u32, base_year: u64) -> u64 {
    let aa = u128::from(percent) * u128::from(base_year) * PERIOD_1_YEARS / 100;
    u64::try_from(aa).unwrap_or(u64::MAX)
}

/// Builds the dev genesis, asking `keygen` for each Party's registry authority key
/// (by Party code), the CDM executive board's (`"CDM"`) and the validator's
/// (`"validator"`). Returns the genesis
/// and the keys by name.
pub fn dev_genesis_with_keys(
    keygen: &mut dyn FnMut(&str) -> SigningKey,
) -> (Genesis, Vec<(String, SigningKey)>) {
    // The table is compiled in and covered by a unit test; an error here is a build defect.
    let rows = party_rows().unwrap_or_default();
    genesis_from_rows_with_keys(&rows, keygen)
}

/// The first State of `rows` for which the Protocol is in force (the Party whose
/// registry runs a dev chain's validator), or the first row.
fn first_state_in_force(rows: &[PartyRow]) -> String {
    rows.iter()
        .find(|r| r.kind == "state" && r.status == "in_force")
        .or(rows.first())
        .map(|r| r.code.clone())
        .unwrap_or_default()
}

/// [`dev_genesis_with_keys`] for any table of Parties (in the layout of
/// `data/parties.csv`, see [`parse_party_rows`]).
pub fn genesis_from_rows_with_keys(
    rows: &[PartyRow],
    keygen: &mut dyn FnMut(&str) -> SigningKey,
) -> (Genesis, Vec<(String, SigningKey)>) {
    let mut keys = Vec::new();
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        if let Some(m) = &r.member_of {
            members.entry(m.clone()).or_default().push(r.code.clone());
        }
    }
    let mut parties = Vec::new();
    let mut issuances = Vec::new();
    for r in rows {
        let key = keygen(&r.code);
        let authority_key = hex::encode(key.verifying_key().to_bytes());
        keys.push((r.code.clone(), key));
        let mut assigned_amounts = BTreeMap::new();
        // The European Community has no assigned amount of its own until Art. 4 joint
        // fulfilment is modelled; a signatory (USA) has none until it ratifies.
        let gets_aa = r.kind == "state" && r.status == "in_force";
        if let (Some(pct), Some(base), true) = (r.annex_b_percent, r.base_year, gets_aa) {
            let aa = assigned_amount(pct, base);
            assigned_amounts.insert(1, aa);
            issuances.push(GenesisIssuance {
                party: r.code.clone(),
                period: 1,
                amount: aa,
            });
        }
        parties.push(GenesisParty {
            code: r.code.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            members: members.get(&r.code).cloned().unwrap_or_default(),
            annex_i: r.annex_i,
            annex_b_percent: r.annex_b_percent,
            base_year_emissions: r.base_year,
            economy_in_transition: r.eit,
            status: r.status.clone(),
            in_force_since: r.in_force_since.clone(),
            authority_key,
            assigned_amounts,
            eligibility: None,
            competence: None,
            co2_1990: None,
            deposited: None,
        });
    }
    let board = keygen(CDM_REGISTRY);
    let cdm_board_key = hex::encode(board.verifying_key().to_bytes());
    keys.push((CDM_REGISTRY.to_owned(), board));
    let depositary = keygen(DEPOSITARY);
    let depositary_key = Some(hex::encode(depositary.verifying_key().to_bytes()));
    keys.push((DEPOSITARY.to_owned(), depositary));
    let validator = keygen("validator");
    let genesis = Genesis {
        cdm_board_key,
        depositary_key,
        // The dev genesis starts with the Protocol in force.
        protocol_in_force: Some("2005-02-16".to_owned()),
        ceremony: None,
        params: GenesisParams::default(),
        chain_id: DEV_CHAIN_ID.to_owned(),
        genesis_time_ms: DEV_GENESIS_TIME_MS,
        parties,
        issuances,
        validators: vec![GenesisValidator {
            name: "validator-1".to_owned(),
            party: first_state_in_force(rows),
            public_key: hex::encode(validator.verifying_key().to_bytes()),
        }],
    };
    keys.push(("validator".to_owned(), validator));
    (genesis, keys)
}

/// Parties whose registries run the validators of a generated testnet, in turn.
const TESTNET_VALIDATOR_PARTIES: [&str; 8] =
    ["JPN", "CAN", "NZL", "NOR", "CHE", "AUS", "ISL", "UKR"];

/// A network genesis with `n` validators (the dev genesis's Parties, holdings and
/// keys otherwise). Returns the genesis, the Party/CDM/Depositary keys, and the
/// validators' keys in the genesis order (`validator-1` first).
pub fn testnet_genesis_with_keys(
    n: usize,
    chain_id: &str,
    keygen: &mut dyn FnMut(&str) -> SigningKey,
) -> (Genesis, Vec<(String, SigningKey)>, Vec<SigningKey>) {
    let rows = party_rows().unwrap_or_default();
    testnet_genesis_from_rows(&rows, n, chain_id, keygen)
}

/// [`testnet_genesis_with_keys`] for any table of Parties. The validators' Parties
/// are those of the built-in testnet that the table has, in turn, or else its first
/// State in force.
pub fn testnet_genesis_from_rows(
    rows: &[PartyRow],
    n: usize,
    chain_id: &str,
    keygen: &mut dyn FnMut(&str) -> SigningKey,
) -> (Genesis, Vec<(String, SigningKey)>, Vec<SigningKey>) {
    let (mut genesis, mut keys) = genesis_from_rows_with_keys(rows, keygen);
    keys.retain(|(name, _)| name != "validator");
    let mut validator_parties: Vec<String> = TESTNET_VALIDATOR_PARTIES
        .iter()
        .filter(|c| rows.iter().any(|r| r.code == **c))
        .map(|c| (*c).to_owned())
        .collect();
    if validator_parties.is_empty() {
        validator_parties.push(first_state_in_force(rows));
    }
    genesis.chain_id = chain_id.to_owned();
    let mut validator_keys = Vec::with_capacity(n);
    genesis.validators = (0..n)
        .map(|i| {
            let key = keygen(&format!("validator-{}", i + 1));
            let v = GenesisValidator {
                name: format!("validator-{}", i + 1),
                party: validator_parties[i % validator_parties.len()].clone(),
                public_key: hex::encode(key.verifying_key().to_bytes()),
            };
            validator_keys.push(key);
            v
        })
        .collect();
    (genesis, keys, validator_keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PartyCode, UnitType, party_holding};

    #[test]
    fn a_parties_table_reads_quoted_fields_and_names_the_line_of_an_error() {
        let header = "code,name,kind,annex_i,annex_b_percent,eit,base_year_t_co2e,member_of,status,in_force_since";
        let text = format!(
            "# a comment\n{header}\nKOR,\"Korea, Republic of\",state,0,,0,,,in_force,2005-02-16\n"
        );
        let rows = parse_party_rows(&text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "Korea, Republic of");
        assert_eq!(rows[0].annex_b_percent, None);
        assert_eq!(rows[0].in_force_since.as_deref(), Some("2005-02-16"));
        let bad = format!("{header}\nJPN,Japan,state,1,94,0,lots,,in_force,2005-02-16\n");
        assert_eq!(
            parse_party_rows(&bad),
            Err("parties.csv line 2: `lots` is not a number".into())
        );
        let short = format!("{header}\nJPN,Japan,state\n");
        assert!(
            parse_party_rows(&short)
                .unwrap_err()
                .starts_with("parties.csv")
        );
    }

    #[test]
    fn the_data_file_lists_annex_b_with_the_protocols_percentages() {
        let rows = party_rows().unwrap();
        let annex_b: Vec<_> = rows
            .iter()
            .filter(|r| r.annex_b_percent.is_some())
            .collect();
        // 38 States and the European Community are inscribed in Annex B.
        assert_eq!(annex_b.len(), 39);
        let pct = |c: &str| rows.iter().find(|r| r.code == c).unwrap().annex_b_percent;
        assert_eq!(pct("JPN"), Some(94));
        assert_eq!(pct("AUS"), Some(108));
        assert_eq!(pct("ISL"), Some(110));
        assert_eq!(pct("NOR"), Some(101));
        assert_eq!(pct("HRV"), Some(95));
        assert_eq!(pct("USA"), Some(93));
        assert_eq!(
            rows.iter()
                .filter(|r| r.member_of.as_deref() == Some("EU"))
                .count(),
            27
        );
    }

    #[test]
    fn dev_genesis_issues_each_annex_b_partys_assigned_amount() {
        let (genesis, keys) = dev_genesis_with_keys(&mut |_| SigningKey::from_bytes(&[9; 32]));
        assert_eq!(
            keys.len(),
            genesis.parties.len() + 3,
            "every Party, the CDM board, the Depositary and the validator"
        );
        let state = genesis.build_state().unwrap();
        let jpn = PartyCode::parse("JPN").unwrap();
        let aa = assigned_amount(94, 1_269_015_303);
        assert_eq!(aa, 5_964_371_924);
        assert_eq!(
            state.party(&jpn).unwrap().assigned_amounts.get(&1),
            Some(&aa)
        );
        let holding = state.account(&party_holding(&jpn)).unwrap();
        assert_eq!(
            holding.holdings().get(&(UnitType::Aau, 1)),
            Some(&u128::from(aa))
        );
        // Australia ratified in December 2007: a Party from 11 March 2008, after the genesis.
        let aus = state.party(&PartyCode::parse("AUS").unwrap()).unwrap();
        assert!(!aus.in_force());
        assert!(
            matches!(&aus.status, crate::TreatyStatus::Deposited { in_force_from, .. } if in_force_from == "2008-03-11")
        );
        let eu = state.party(&PartyCode::parse("EU").unwrap()).unwrap();
        assert!(eu.assigned_amounts.is_empty());
        assert!(
            state
                .party(&PartyCode::parse("USA").unwrap())
                .unwrap()
                .assigned_amounts
                .is_empty()
        );
    }
}
