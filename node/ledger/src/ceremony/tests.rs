use super::*;
use crate::dev::parse_party_rows;

const TABLE: &str =
    "code,name,kind,annex_i,annex_b_percent,eit,base_year_t_co2e,member_of,status,in_force_since
JPN,Japan,state,1,94,0,1269015303,,in_force,2005-02-16
NOR,Norway,state,1,101,0,49619168,,in_force,2005-02-16
KOR,\"Korea, Republic of\",state,0,,0,,,in_force,2005-02-16
";

fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(format!("test {label}").as_bytes()).into())
}

fn draft() -> Genesis {
    let rows = parse_party_rows(TABLE).unwrap();
    draft_from_rows(&rows, "ceremony-test", 1_199_145_600_000, true, true)
}

fn party(hash: &Hash, code: &str, validators: usize) -> Statement {
    let vs: Vec<_> = (0..validators)
        .map(|i| (format!("{code}-{i}"), key(&format!("{code} validator {i}"))))
        .collect();
    make_statement(
        hash,
        StatementRole::Party,
        Some(code.to_owned()),
        &key(code),
        &vs,
    )
    .unwrap()
}

fn all(hash: &Hash) -> Vec<Statement> {
    vec![
        party(hash, "JPN", 1),
        party(hash, "NOR", 1),
        party(hash, "KOR", 0),
        make_statement(hash, StatementRole::CdmBoard, None, &key("cdm"), &[]).unwrap(),
        make_statement(hash, StatementRole::Depositary, None, &key("dep"), &[]).unwrap(),
    ]
}

fn message(e: CeremonyError) -> String {
    e.to_string()
}

#[test]
fn statements_collect_into_a_genesis_that_validates_whatever_their_order() {
    let d = draft();
    let hash = check_draft(&d).unwrap();
    let genesis = collect(&d, all(&hash)).unwrap();
    let mut reversed = all(&hash);
    reversed.reverse();
    assert_eq!(collect(&d, reversed).unwrap(), genesis);
    assert_eq!(validate(&genesis).unwrap(), genesis.hash().unwrap());
    assert_eq!(draft_of(&genesis), d);
    let names: Vec<_> = genesis.validators.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["JPN-0", "NOR-0"]);
    assert_eq!(
        genesis.parties[0].authority_key,
        hex::encode(key("JPN").verifying_key().to_bytes())
    );
    assert_eq!(
        genesis.depositary_key,
        Some(hex::encode(key("dep").verifying_key().to_bytes()))
    );
    // A genesis that went through JSON validates the same.
    let json = genesis.to_json_pretty().unwrap();
    assert_eq!(
        validate(&Genesis::from_json(json.as_bytes()).unwrap()).unwrap(),
        genesis.hash().unwrap()
    );
}

#[test]
fn a_changed_statement_another_drafts_statement_or_a_missing_one_is_refused() {
    let d = draft();
    let hash = check_draft(&d).unwrap();
    // Tampered: the authority key swapped after signing.
    let mut sts = all(&hash);
    sts[0].body.authority_key = hex::encode(key("thief").verifying_key().to_bytes());
    let e = message(collect(&d, sts).unwrap_err());
    assert!(
        e.contains("JPN's authority key: the signature does not verify"),
        "{e}"
    );
    // A validator key that its holder did not sign for.
    let mut sts = all(&hash);
    sts[1].body.validators[0].public_key = hex::encode(key("other").verifying_key().to_bytes());
    let e = message(collect(&d, sts).unwrap_err());
    assert!(e.contains("NOR's authority key"), "{e}");
    // Made on another draft.
    let mut other = d.clone();
    other.chain_id = "another".into();
    let other_hash = check_draft(&other).unwrap();
    let mut sts = all(&hash);
    sts[2] = party(&other_hash, "KOR", 0);
    let e = message(collect(&d, sts).unwrap_err());
    assert!(e.contains("statement of KOR was made for draft"), "{e}");
    // Missing Parties and bodies are named.
    let mut sts = all(&hash);
    sts.retain(|s| {
        s.body.party.as_deref() != Some("KOR") && s.body.role != StatementRole::CdmBoard
    });
    assert_eq!(
        message(collect(&d, sts).unwrap_err()),
        "no statement from KOR, the CDM board"
    );
    // Twice for one Party.
    let mut sts = all(&hash);
    sts.push(party(&hash, "JPN", 0));
    assert!(message(collect(&d, sts).unwrap_err()).starts_with("two statements for JPN"));
    // Not a Party of the draft.
    let mut sts = all(&hash);
    sts.push(party(&hash, "USA", 0));
    assert!(message(collect(&d, sts).unwrap_err()).contains("USA, which is not a Party"));
}

#[test]
fn the_drafts_validator_rule_and_distinct_keys_hold() {
    let d = draft();
    let hash = check_draft(&d).unwrap();
    let mut sts = all(&hash);
    sts[0] = party(&hash, "JPN", 2);
    assert_eq!(
        message(collect(&d, sts.clone()).unwrap_err()),
        "JPN states 2 validators; the draft allows one per Party"
    );
    let mut several = d.clone();
    if let Some(c) = &mut several.ceremony {
        c.one_validator_per_party = false;
    }
    let several_hash = check_draft(&several).unwrap();
    let mut sts = all(&several_hash);
    sts[0] = party(&several_hash, "JPN", 2);
    assert_eq!(collect(&several, sts).unwrap().validators.len(), 3);
    // One key stated by two registries.
    let mut sts = all(&hash);
    sts[3] = make_statement(&hash, StatementRole::CdmBoard, None, &key("NOR"), &[]).unwrap();
    let e = message(collect(&d, sts).unwrap_err());
    assert!(e.contains("is also NOR's authority key"), "{e}");
    // Nobody runs a validator.
    let sts: Vec<_> = all(&hash)
        .into_iter()
        .map(|s| match s.body.party.clone() {
            Some(code) => party(&hash, &code, 0),
            None => s,
        })
        .collect();
    assert!(message(collect(&d, sts).unwrap_err()).starts_with("no statement names a validator"));
}

#[test]
fn a_genesis_changed_after_collection_or_a_bad_draft_is_refused() {
    let d = draft();
    let hash = check_draft(&d).unwrap();
    let genesis = collect(&d, all(&hash)).unwrap();
    let mut swapped = genesis.clone();
    swapped.validators[0].public_key = hex::encode(key("mallory").verifying_key().to_bytes());
    assert!(message(validate(&swapped).unwrap_err()).starts_with("its validators is not"));
    let mut more = genesis.clone();
    more.parties[0].name = "Nippon".into();
    // The treaty data changed: the statements name another draft.
    assert!(message(validate(&more).unwrap_err()).contains("was made for draft"));
    let mut unsigned = genesis.clone();
    unsigned.ceremony = None;
    assert!(message(validate(&unsigned).unwrap_err()).contains("no `ceremony` section"));
    // A draft with a key in it, or with treaty data that make no genesis.
    let mut keyed = d.clone();
    keyed.cdm_board_key = "00".into();
    assert!(message(check_draft(&keyed).unwrap_err()).starts_with("a draft holds no keys"));
    let mut bad = d.clone();
    bad.parties[1].code = "JPN".into();
    assert!(check_draft(&bad).is_err());
}

#[test]
fn a_statement_for_the_cdm_board_runs_no_validator_and_names_no_party() {
    let hash = check_draft(&draft()).unwrap();
    let e = make_statement(
        &hash,
        StatementRole::CdmBoard,
        None,
        &key("cdm"),
        &[("v".into(), key("v"))],
    )
    .unwrap_err();
    assert!(message(e).contains("runs no validator"));
    let e = make_statement(
        &hash,
        StatementRole::Depositary,
        Some("JPN".into()),
        &key("d"),
        &[],
    )
    .unwrap_err();
    assert!(message(e).contains("speaks for no Party"));
}
