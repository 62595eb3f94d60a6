//! A genesis agreed between independent registries, in the manner of CometBFT's
//! gentx / collect-gentxs (ARCHITECTURE.md, "Genesis ceremony"):
//!
//! 1. a coordinator writes a **draft**: a genesis without keys or validators, with a
//!    `ceremony` section ([`check_draft`]);
//! 2. each registry, on its own machine, makes its keys and a **statement** of them
//!    for one Party (or for the CDM board, or the Depositary), signed by each of those
//!    keys and bound to the draft by its hash ([`make_statement`]);
//! 3. the coordinator **collects** the statements into the genesis ([`collect`]);
//! 4. every registry **validates** the genesis ([`validate`]): it must be exactly what
//!    its draft and statements give, and they compare its hash out of band.
//!
//! Pure: no IO, clock or randomness; keys are given.

pub mod statement;

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

pub use statement::{
    GenesisCeremony, STATEMENT_DOMAIN, Statement, StatementBody, StatementRole, StatementValidator,
};

use crate::dev::{self, PartyRow};
use crate::genesis::{Genesis, GenesisError, GenesisValidator, parse_key};
use crate::types::Hash;

/// Validators one registry may state at most, whatever the draft allows.
pub const MAX_VALIDATORS_PER_STATEMENT: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
}

fn invalid(msg: impl Into<String>) -> CeremonyError {
    CeremonyError::Invalid(msg.into())
}

/// The draft a genesis was made from: the genesis with every key, validator and
/// statement taken out (the Depositary stays expected if it was).
pub fn draft_of(genesis: &Genesis) -> Genesis {
    let mut d = genesis.clone();
    for p in &mut d.parties {
        p.authority_key.clear();
    }
    d.cdm_board_key.clear();
    if let Some(k) = &mut d.depositary_key {
        k.clear();
    }
    d.validators.clear();
    if let Some(c) = &mut d.ceremony {
        c.statements.clear();
    }
    d
}

/// A draft for the Parties of `rows`, with the treaty data `kyotod init` gives them
/// (each Annex B State in force issued its assigned amount for the first period).
/// Without `depositary` membership is fixed: nobody can record a new instrument.
pub fn draft_from_rows(
    rows: &[PartyRow],
    chain_id: &str,
    genesis_time_ms: i64,
    one_validator_per_party: bool,
    depositary: bool,
) -> Genesis {
    let (mut genesis, _) = dev::genesis_from_rows_with_keys(rows, &mut |label| {
        SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
    });
    genesis.chain_id = chain_id.to_owned();
    genesis.genesis_time_ms = genesis_time_ms;
    if !depositary {
        genesis.depositary_key = None;
    }
    genesis.ceremony = Some(GenesisCeremony {
        one_validator_per_party,
        statements: Vec::new(),
    });
    draft_of(&genesis)
}

/// A key nobody holds, derived from `label`, to try a draft's treaty data.
fn placeholder(label: &str) -> String {
    let key = SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into());
    hex::encode(key.verifying_key().to_bytes())
}

/// Checks a draft — it has a ceremony section, no keys, and its treaty data (Parties,
/// Annex B data, assigned amounts and issuances, parameters, dates) make a genesis
/// once keys are in — and returns its hash, which every statement must name.
pub fn check_draft(draft: &Genesis) -> Result<Hash, CeremonyError> {
    if draft.ceremony.is_none() {
        return Err(invalid(
            "this is not a ceremony draft: it has no `ceremony` section (`kyotod genesis draft` writes one)",
        ));
    }
    if draft_of(draft) != *draft {
        return Err(invalid(
            "a draft holds no keys, validators or statements: they come from the registries' statements",
        ));
    }
    let mut trial = draft.clone();
    for p in &mut trial.parties {
        p.authority_key = placeholder(&format!("party {}", p.code));
    }
    trial.cdm_board_key = placeholder("cdm board");
    if let Some(k) = &mut trial.depositary_key {
        *k = placeholder("depositary");
    }
    let first = draft
        .parties
        .first()
        .ok_or_else(|| invalid("the draft lists no Party"))?;
    trial.validators = vec![GenesisValidator {
        name: "trial".to_owned(),
        party: first.code.clone(),
        public_key: placeholder("validator"),
    }];
    trial.build_state()?;
    Ok(draft.hash()?)
}

/// The bytes a statement's keys sign.
fn signed_bytes(body: &StatementBody) -> Result<Vec<u8>, CeremonyError> {
    let json = serde_json::to_vec(body).map_err(|e| invalid(e.to_string()))?;
    let mut bytes = STATEMENT_DOMAIN.to_vec();
    bytes.push(0);
    bytes.extend_from_slice(&Sha256::digest(json));
    Ok(bytes)
}

/// A registry's statement for the draft with hash `draft_hash`: `role` (and `party`
/// for a Party), its authority key and the validators it runs, each key signing.
pub fn make_statement(
    draft_hash: &Hash,
    role: StatementRole,
    party: Option<String>,
    authority: &SigningKey,
    validators: &[(String, SigningKey)],
) -> Result<Statement, CeremonyError> {
    let body = StatementBody {
        draft_hash: hex::encode(draft_hash),
        role,
        party,
        authority_key: hex::encode(authority.verifying_key().to_bytes()),
        validators: validators
            .iter()
            .map(|(name, key)| StatementValidator {
                name: name.clone(),
                public_key: hex::encode(key.verifying_key().to_bytes()),
            })
            .collect(),
    };
    check_shape(&body)?;
    let bytes = signed_bytes(&body)?;
    Ok(Statement {
        authority_signature: hex::encode(authority.sign(&bytes).to_bytes()),
        validator_signatures: validators
            .iter()
            .map(|(_, key)| hex::encode(key.sign(&bytes).to_bytes()))
            .collect(),
        body,
    })
}

/// Reads a statement file (JSON) as a registry sent it; [`verify_statement`] checks it.
pub fn parse_statement(bytes: &[u8]) -> Result<Statement, CeremonyError> {
    serde_json::from_slice(bytes).map_err(|e| invalid(format!("not a genesis statement: {e}")))
}

/// What a statement's role asks of its other fields.
fn check_shape(body: &StatementBody) -> Result<(), CeremonyError> {
    let who = body.speaker();
    match (body.role, &body.party) {
        (StatementRole::Party, None) => {
            return Err(invalid("a Party's statement must name its Party"));
        }
        (StatementRole::CdmBoard | StatementRole::Depositary, Some(_)) => {
            return Err(invalid(format!(
                "the {who}'s statement names a Party; it speaks for no Party"
            )));
        }
        _ => {}
    }
    if body.role != StatementRole::Party && !body.validators.is_empty() {
        return Err(invalid(format!(
            "the {who} runs no validator: a validator serves a Party"
        )));
    }
    if body.validators.len() > MAX_VALIDATORS_PER_STATEMENT {
        return Err(invalid(format!(
            "{who} states {} validators; a statement may name at most {MAX_VALIDATORS_PER_STATEMENT}",
            body.validators.len()
        )));
    }
    Ok(())
}

fn check_signature(
    key_hex: &str,
    signature_hex: &str,
    bytes: &[u8],
    what: &str,
) -> Result<(), CeremonyError> {
    let key = parse_key(key_hex).map_err(|e| invalid(format!("{what}: {e}")))?;
    let key = VerifyingKey::from_bytes(&key)
        .map_err(|_| invalid(format!("{what}: `{key_hex}` is not an Ed25519 public key")))?;
    let signature: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| invalid(format!("{what}: the signature is not 64 hex bytes")))?;
    key.verify_strict(bytes, &Signature::from_bytes(&signature))
        .map_err(|_| {
            invalid(format!(
                "{what}: the signature does not verify (the statement was changed after it was signed, or signed with another key)"
            ))
        })
}

/// Checks a statement's shape, that it names the draft `draft_hash` (hex), and every
/// signature on it.
pub fn verify_statement(st: &Statement, draft_hash: &str) -> Result<(), CeremonyError> {
    let who = st.body.speaker();
    if st.body.draft_hash != draft_hash {
        return Err(invalid(format!(
            "the statement of {who} was made for draft {}, not for this draft {draft_hash}: it must be made again on this draft",
            st.body.draft_hash
        )));
    }
    check_shape(&st.body)?;
    let bytes = signed_bytes(&st.body)?;
    check_signature(
        &st.body.authority_key,
        &st.authority_signature,
        &bytes,
        &format!("{who}'s authority key"),
    )?;
    if st.validator_signatures.len() != st.body.validators.len() {
        return Err(invalid(format!(
            "the statement of {who} names {} validators but carries {} validator signatures",
            st.body.validators.len(),
            st.validator_signatures.len()
        )));
    }
    for (v, sig) in st.body.validators.iter().zip(&st.validator_signatures) {
        check_signature(
            &v.public_key,
            sig,
            &bytes,
            &format!("{who}'s validator {}", v.name),
        )?;
    }
    Ok(())
}

/// One statement per speaker, checked against the draft.
struct Sorted {
    parties: BTreeMap<String, Statement>,
    cdm_board: Option<Statement>,
    depositary: Option<Statement>,
}

fn sort(draft: &Genesis, statements: Vec<Statement>) -> Result<Sorted, CeremonyError> {
    let hash = hex::encode(check_draft(draft)?);
    let mut sorted = Sorted {
        parties: BTreeMap::new(),
        cdm_board: None,
        depositary: None,
    };
    for st in statements {
        verify_statement(&st, &hash)?;
        let who = st.body.speaker();
        let twice = match (st.body.role, st.body.party.clone()) {
            (StatementRole::Party, Some(code)) => {
                if !draft.parties.iter().any(|p| p.code == code) {
                    return Err(invalid(format!(
                        "a statement is made for {code}, which is not a Party of the draft"
                    )));
                }
                sorted.parties.insert(code, st).is_some()
            }
            (StatementRole::CdmBoard, _) => sorted.cdm_board.replace(st).is_some(),
            (StatementRole::Depositary, _) => {
                if draft.depositary_key.is_none() {
                    return Err(invalid(
                        "the draft has no Depositary (its membership is fixed), yet there is a statement for one",
                    ));
                }
                sorted.depositary.replace(st).is_some()
            }
            (StatementRole::Party, None) => false, // refused by verify_statement
        };
        if twice {
            return Err(invalid(format!(
                "two statements for {who}: keep the one its registry made last"
            )));
        }
    }
    let mut missing: Vec<String> = draft
        .parties
        .iter()
        .filter(|p| !sorted.parties.contains_key(&p.code))
        .map(|p| p.code.clone())
        .collect();
    if sorted.cdm_board.is_none() {
        missing.push("the CDM board".to_owned());
    }
    if draft.depositary_key.is_some() && sorted.depositary.is_none() {
        missing.push("the Depositary".to_owned());
    }
    if !missing.is_empty() {
        return Err(invalid(format!("no statement from {}", missing.join(", "))));
    }
    Ok(sorted)
}

/// The genesis that `draft` and `statements` give: every Party's authority key, the
/// CDM board's and the Depositary's from their statements, the validators in the
/// draft's order of Parties, and the statements themselves, so that anyone can check
/// them later. The result does not depend on the order of `statements`.
pub fn collect(draft: &Genesis, statements: Vec<Statement>) -> Result<Genesis, CeremonyError> {
    let mut sorted = sort(draft, statements)?;
    let mut genesis = draft.clone();
    let mut ordered = Vec::new();
    let one_each = draft
        .ceremony
        .as_ref()
        .is_some_and(|c| c.one_validator_per_party);
    for party in &mut genesis.parties {
        let Some(st) = sorted.parties.remove(&party.code) else {
            continue; // sort() refused a missing Party
        };
        if one_each && st.body.validators.len() > 1 {
            return Err(invalid(format!(
                "{} states {} validators; the draft allows one per Party",
                party.code,
                st.body.validators.len()
            )));
        }
        party.authority_key = st.body.authority_key.clone();
        for v in &st.body.validators {
            genesis.validators.push(GenesisValidator {
                name: v.name.clone(),
                party: party.code.clone(),
                public_key: v.public_key.clone(),
            });
        }
        ordered.push(st);
    }
    if let Some(st) = sorted.cdm_board.take() {
        genesis.cdm_board_key = st.body.authority_key.clone();
        ordered.push(st);
    }
    if let Some(st) = sorted.depositary.take() {
        genesis.depositary_key = Some(st.body.authority_key.clone());
        ordered.push(st);
    }
    check_distinct(&ordered)?;
    if genesis.validators.is_empty() {
        return Err(invalid(
            "no statement names a validator: at least one registry must run one",
        ));
    }
    if let Some(c) = &mut genesis.ceremony {
        c.statements = ordered;
    }
    genesis.build_state()?;
    Ok(genesis)
}

/// No key and no validator name is stated twice, by one registry or by two.
fn check_distinct(statements: &[Statement]) -> Result<(), CeremonyError> {
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut names = BTreeSet::new();
    for st in statements {
        let who = st.body.speaker();
        let stated =
            std::iter::once((st.body.authority_key.as_str(), format!("{who}'s authority"))).chain(
                st.body.validators.iter().map(|v| {
                    (
                        v.public_key.as_str(),
                        format!("{who}'s validator {}", v.name),
                    )
                }),
            );
        for (key, role) in stated {
            if let Some(first) = keys.insert(key.to_ascii_lowercase(), role.clone()) {
                return Err(invalid(format!(
                    "{role} key {key} is also {first} key: every key must be its own"
                )));
            }
        }
        for v in &st.body.validators {
            if !names.insert(v.name.as_str()) {
                return Err(invalid(format!("two validators are named {}", v.name)));
            }
        }
    }
    Ok(())
}

/// Validates a genesis made by a ceremony: its draft checks, every statement in it
/// verifies, and the genesis is exactly what its draft and statements give — no key,
/// validator or treaty datum added, dropped or changed. Returns its hash.
pub fn validate(genesis: &Genesis) -> Result<Hash, CeremonyError> {
    let Some(ceremony) = &genesis.ceremony else {
        return Err(invalid(
            "this genesis has no `ceremony` section: it was not made by `kyotod genesis collect`, so no registry has signed its keys",
        ));
    };
    let rebuilt = collect(&draft_of(genesis), ceremony.statements.clone())?;
    if rebuilt != *genesis {
        return Err(invalid(difference(&rebuilt, genesis)));
    }
    Ok(genesis.hash()?)
}

/// Names what a genesis has that its statements do not give.
fn difference(expected: &Genesis, found: &Genesis) -> String {
    let wrong = if let Some(p) = expected
        .parties
        .iter()
        .zip(&found.parties)
        .find(|(e, f)| e.authority_key != f.authority_key)
    {
        format!("the authority key of {}", p.0.code)
    } else if expected.validators != found.validators {
        "its validators".to_owned()
    } else if expected.cdm_board_key != found.cdm_board_key {
        "the CDM board's key".to_owned()
    } else if expected.depositary_key != found.depositary_key {
        "the Depositary's key".to_owned()
    } else {
        "the order of its statements".to_owned()
    };
    format!(
        "{wrong} is not what the genesis's statements give: the genesis was changed after they were collected"
    )
}

#[cfg(test)]
mod tests;
