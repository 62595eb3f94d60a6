//! Governance rules driven through `State::apply_block`.

use std::collections::BTreeMap;

use super::*;
use crate::calendar::parse_date_ms;
use crate::genesis::{Genesis, GenesisParams, GenesisParty, GenesisValidator};
use crate::{BlockContext, Tx, TxKind};
use ed25519_dalek::SigningKey;

fn code(i: usize) -> String {
    let a = b'A' + (i / 26) as u8;
    let b = b'A' + (i % 26) as u8;
    format!("Q{}{}", a as char, b as char)
}

fn key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&[i as u8 + 1; 32])
}

/// 30 Annex I States with 100 t of 1990 CO2 each and 30 other States, all signatories.
fn genesis() -> Genesis {
    let parties = (0..60)
        .map(|i| GenesisParty {
            code: code(i),
            name: format!("State {i}"),
            kind: "state".into(),
            members: vec![],
            annex_i: i < 30,
            annex_b_percent: None,
            base_year_emissions: None,
            economy_in_transition: false,
            status: "signatory".into(),
            in_force_since: None,
            authority_key: hex::encode(key(i).verifying_key().to_bytes()),
            assigned_amounts: BTreeMap::new(),
            eligibility: None,
            competence: None,
            co2_1990: (i < 30).then_some(100),
            deposited: None,
        })
        .collect();
    Genesis {
        chain_id: "art25".into(),
        genesis_time_ms: parse_date_ms("1998-03-16").unwrap(),
        parties,
        issuances: vec![],
        validators: vec![GenesisValidator {
            name: "v".into(),
            party: code(0),
            public_key: hex::encode(key(200).verifying_key().to_bytes()),
        }],
        cdm_board_key: hex::encode(key(201).verifying_key().to_bytes()),
        params: GenesisParams::default(),
        depositary_key: Some(hex::encode(key(202).verifying_key().to_bytes())),
        protocol_in_force: None,
        ceremony: None,
    }
}

fn deposits(states: impl Iterator<Item = usize>, nonce: &mut u64) -> Vec<Tx> {
    states
        .map(|i| {
            *nonce += 1;
            let kind = GovTx::DepositInstrument {
                party: PartyCode::parse(&code(i)).unwrap(),
                name: String::new(),
                annex_i: i < 30,
                authority: None,
            };
            Tx {
                hash: [0; 32],
                signer: key(202).verifying_key().to_bytes(),
                nonce: *nonce,
                kind: TxKind::Gov(kind),
            }
        })
        .collect()
}

fn status(state: &State, i: usize) -> TreatyStatus {
    state
        .party(&PartyCode::parse(&code(i)).unwrap())
        .unwrap()
        .status
        .clone()
}

#[test]
fn protocol_enters_into_force_on_the_90th_day_after_55_parties_with_55_percent_of_annex_i_co2() {
    let mut state = genesis().build_state().unwrap();
    let mut nonce = 0;
    let block = |state: &mut State, h: u64, date: &str, txs: Vec<Tx>| {
        let ctx = BlockContext {
            height: h,
            timestamp_ms: parse_date_ms(date).unwrap() + 1,
            hash: [h as u8; 32],
        };
        let out = state.apply_block(ctx, &txs).unwrap();
        assert!(
            out.receipts.iter().all(|r| r.outcome.is_ok()),
            "{:?}",
            out.receipts
        );
    };
    // 30 non-Annex I States and 16 Annex I States: 46 Parties, 53 % of the CO2.
    let txs = deposits((30..60).chain(0..16), &mut nonce);
    block(&mut state, 1, "2002-05-31", txs);
    // 9 more non-Annex I would not be possible here; 9 more Annex I give 55 Parties
    // but the 55th arrives with the 25th Annex I State: 83 % of the CO2.
    let txs = deposits(16..24, &mut nonce);
    block(&mut state, 2, "2004-04-12", txs);
    assert_eq!(
        state.governance().protocol_in_force_ms,
        None,
        "54 Parties are not enough"
    );
    let txs = deposits(24..25, &mut nonce);
    block(&mut state, 3, "2004-11-18", txs);
    assert_eq!(
        state.governance().protocol_in_force_ms,
        parse_date_ms("2005-02-16")
    );
    assert_eq!(
        status(&state, 30),
        TreatyStatus::Deposited {
            deposited: "2002-05-31".into(),
            in_force_from: "2005-02-16".into()
        }
    );
    block(&mut state, 4, "2005-02-16", vec![]);
    assert_eq!(
        status(&state, 30),
        TreatyStatus::InForce {
            since: "2005-02-16".into()
        }
    );
    assert_eq!(
        status(&state, 24),
        TreatyStatus::InForce {
            since: "2005-02-16".into()
        }
    );
    // A later ratification: the 90th day after its own deposit (Art. 25.3).
    let txs = deposits(25..26, &mut nonce);
    block(&mut state, 5, "2007-12-12", txs);
    assert_eq!(
        status(&state, 25),
        TreatyStatus::Deposited {
            deposited: "2007-12-12".into(),
            in_force_from: "2008-03-11".into()
        }
    );
    assert_eq!(status(&state, 26), TreatyStatus::Signatory);
    assert_eq!(state.check_invariants(), Ok(()));
}
