//! Property tests of the ledger against an independent reference model.
//!
//! The model tracks every serial number individually (`(origin, serial) -> account`)
//! and decides each transaction's outcome by the documented rules and check order;
//! the ledger keeps serial blocks. After every block we check the invariants of
//! DESIGN.md §2: conservation, Art. 3.10/3.11/3.12 accounting per Party, disjoint
//! serial blocks, refusals change nothing, nonces are consumed exactly when the
//! transaction is in a block, and replaying the log gives the same state root.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use kyoto_node::ledger::{
    AccountId, Applied, AppliedKind, BlockContext, Genesis, GenesisIssuance, GenesisParty,
    GenesisValidator, PartyCode, PublicKey, State, Tx, TxKind, UnitFilter, UnitType,
};
use proptest::prelude::*;

const PARTIES: [(&str, bool, u64); 3] = [
    ("AAA", true, 1_000),
    ("BBB", true, 600),
    ("CCC", false, 300),
];
const HOLDERS: usize = 3;

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

fn genesis(pre_issued: u64) -> Genesis {
    Genesis {
        chain_id: "prop".into(),
        genesis_time_ms: 0,
        parties: PARTIES
            .iter()
            .enumerate()
            .map(|(i, (code, in_force, aa))| GenesisParty {
                code: (*code).into(),
                name: format!("Party {code}"),
                kind: "state".into(),
                members: vec![],
                annex_i: true,
                annex_b_percent: Some(100),
                base_year_emissions: Some(aa / 5),
                economy_in_transition: false,
                status: if *in_force {
                    "in_force".into()
                } else {
                    "signatory".into()
                },
                in_force_since: in_force.then(|| "2005-02-16".into()),
                authority_key: hex::encode(authority(i)),
                assigned_amounts: BTreeMap::from([(1, *aa)]),
            })
            .collect(),
        issuances: PARTIES
            .iter()
            .filter(|_| pre_issued > 0)
            .map(|(code, _, _)| GenesisIssuance {
                party: (*code).into(),
                period: 1,
                amount: pre_issued,
            })
            .collect(),
        validators: vec![GenesisValidator {
            name: "v".into(),
            party: "AAA".into(),
            public_key: hex::encode(key(1)),
        }],
    }
}

#[derive(Clone, Debug)]
enum Op {
    Issue {
        party: usize,
        amount: u64,
        wrong_signer: bool,
    },
    Transfer {
        from: usize,
        to: usize,
        amount: u64,
        origin: Option<usize>,
        wrong_signer: bool,
    },
    Open {
        party: usize,
        holder: usize,
    },
    /// Resubmit an earlier transaction (same signer and nonce).
    Replay {
        index: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..250u64, prop::bool::weighted(0.1)).prop_map(|(party, amount, wrong_signer)| Op::Issue { party, amount, wrong_signer }),
        6 => (0..12usize, 0..12usize, 0..400u64, prop::option::weighted(0.3, 0..3usize), prop::bool::weighted(0.1))
            .prop_map(|(from, to, amount, origin, wrong_signer)| Op::Transfer { from, to, amount, origin, wrong_signer }),
        2 => (0..3usize, 0..HOLDERS).prop_map(|(party, holder)| Op::Open { party, holder }),
        1 => (0..1000usize).prop_map(|index| Op::Replay { index }),
    ]
}

/// The reference model: every serial individually.
#[derive(Clone, Debug, Default)]
struct Model {
    /// (origin, serial) -> account.
    owner: BTreeMap<(String, u64), String>,
    /// account -> controlling key.
    accounts: BTreeMap<String, PublicKey>,
    next_serial: BTreeMap<String, u64>,
    next_entity: BTreeMap<String, u64>,
    issued: BTreeMap<String, u64>,
    acquired: BTreeMap<String, u64>,
    transferred: BTreeMap<String, u64>,
    nonces: BTreeMap<PublicKey, u64>,
}

impl Model {
    fn new(pre_issued: u64) -> Self {
        let mut m = Model::default();
        for (i, (code, _, _)) in PARTIES.iter().enumerate() {
            let acct = format!("{code}-100-1");
            m.accounts.insert(acct.clone(), authority(i));
            for s in 1..=pre_issued {
                m.owner.insert(((*code).into(), s), acct.clone());
            }
            m.next_serial.insert((*code).into(), pre_issued + 1);
            m.next_entity.insert((*code).into(), 1);
            m.issued.insert((*code).into(), pre_issued);
        }
        m
    }

    fn party_of(acct: &str) -> String {
        acct.split('-').next().unwrap_or_default().to_owned()
    }

    fn in_force(party: &str) -> bool {
        PARTIES.iter().any(|(c, f, _)| *c == party && *f)
    }

    /// Applies one transaction; returns the expected refusal code or the serials moved.
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
            TxKind::IssueUnits { party, amount, .. } => {
                let p = party.to_string();
                let i = PARTIES
                    .iter()
                    .position(|(c, _, _)| *c == p)
                    .ok_or("UNKNOWN_PARTY")?;
                if authority(i) != signer {
                    return Err("NOT_AUTHORISED");
                }
                if *amount == 0 {
                    return Err("INVALID_AMOUNT");
                }
                let issued = self.issued[&p];
                if issued + amount > PARTIES[i].2 {
                    return Err("ISSUANCE_EXCEEDS_ASSIGNED_AMOUNT");
                }
                let start = self.next_serial[&p];
                let moved: Vec<_> = (start..start + amount).map(|s| (p.clone(), s)).collect();
                for s in &moved {
                    self.owner.insert(s.clone(), format!("{p}-100-1"));
                }
                self.next_serial.insert(p.clone(), start + amount);
                self.issued.insert(p, issued + amount);
                Ok(moved)
            }
            TxKind::TransferUnits {
                from,
                to,
                amount,
                units,
            } => {
                let (from, to) = (from.to_string(), to.to_string());
                let controller = *self.accounts.get(&from).ok_or("UNKNOWN_ACCOUNT")?;
                if !self.accounts.contains_key(&to) {
                    return Err("UNKNOWN_ACCOUNT");
                }
                if controller != signer {
                    return Err("NOT_AUTHORISED");
                }
                if from == to {
                    return Err("SAME_ACCOUNT");
                }
                if *amount == 0 {
                    return Err("INVALID_AMOUNT");
                }
                let origin = units.origin.as_ref().map(ToString::to_string);
                let held: Vec<(String, u64)> = self
                    .owner
                    .iter()
                    .filter(|((o, _), a)| **a == from && origin.as_ref().is_none_or(|x| x == o))
                    .map(|(k, _)| k.clone())
                    .collect();
                if (held.len() as u64) < *amount {
                    return Err("INSUFFICIENT_UNITS");
                }
                let (fp, tp) = (Self::party_of(&from), Self::party_of(&to));
                if fp != tp && (!Self::in_force(&fp) || !Self::in_force(&tp)) {
                    return Err("PARTY_NOT_IN_FORCE");
                }
                let moved: Vec<_> = held.into_iter().take(*amount as usize).collect();
                for s in &moved {
                    self.owner.insert(s.clone(), to.clone());
                }
                if fp != tp {
                    *self.transferred.entry(fp).or_default() += amount;
                    *self.acquired.entry(tp).or_default() += amount;
                }
                Ok(moved)
            }
            TxKind::OpenAccount {
                party, holder_key, ..
            } => {
                let p = party.to_string();
                let i = PARTIES
                    .iter()
                    .position(|(c, _, _)| *c == p)
                    .ok_or("UNKNOWN_PARTY")?;
                if authority(i) != signer {
                    return Err("NOT_AUTHORISED");
                }
                let n = self.next_entity[&p];
                self.next_entity.insert(p.clone(), n + 1);
                self.accounts.insert(format!("{p}-120-{n}"), *holder_key);
                Ok(vec![])
            }
        }
    }
}

/// Turns an op into a signed-at-the-boundary transaction, given the model's accounts.
fn make_tx(
    op: &Op,
    model: &Model,
    history: &[Tx],
    counter: &mut u64,
    next_nonce: &mut BTreeMap<PublicKey, u64>,
) -> Option<Tx> {
    let accounts: Vec<String> = model.accounts.keys().cloned().collect();
    let (signer, kind) = match op {
        Op::Replay { index } => return history.get(index % history.len().max(1)).cloned(),
        Op::Issue {
            party,
            amount,
            wrong_signer,
        } => {
            let signer = if *wrong_signer {
                authority((party + 1) % 3)
            } else {
                authority(*party)
            };
            let kind = TxKind::IssueUnits {
                party: PartyCode::parse(PARTIES[*party].0).ok()?,
                unit_type: UnitType::Aau,
                period: 1,
                amount: *amount,
                to: None,
            };
            (signer, kind)
        }
        Op::Transfer {
            from,
            to,
            amount,
            origin,
            wrong_signer,
        } => {
            let from = accounts[from % accounts.len()].clone();
            let to = accounts[to % accounts.len()].clone();
            let controller = model.accounts[&from];
            let signer = if *wrong_signer { key(99) } else { controller };
            let kind = TxKind::TransferUnits {
                from: AccountId::parse(&from).ok()?,
                to: AccountId::parse(&to).ok()?,
                amount: *amount,
                units: UnitFilter {
                    unit_type: UnitType::Aau,
                    period: 1,
                    origin: origin.and_then(|o| PartyCode::parse(PARTIES[o].0).ok()),
                },
            };
            (signer, kind)
        }
        Op::Open { party, holder: h } => (
            authority(*party),
            TxKind::OpenAccount {
                party: PartyCode::parse(PARTIES[*party].0).ok()?,
                holder_name: format!("Entity {h}"),
                holder_key: holder(*h),
            },
        ),
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

fn check_invariants(state: &State, model: &Model) {
    // Serial blocks are disjoint and every serial is where the model says.
    let mut seen: BTreeMap<(String, u64), String> = BTreeMap::new();
    let mut all_blocks = Vec::new();
    for acc in state.accounts() {
        for b in &acc.blocks {
            assert!(b.start <= b.end);
            all_blocks.push((b.origin.to_string(), b.start, b.end));
            for s in b.start..=b.end {
                let prev = seen.insert((b.origin.to_string(), s), acc.id.to_string());
                assert!(prev.is_none(), "serial {} {s} held twice", b.origin);
            }
        }
        // Blocks are sorted and adjacent equal blocks merged.
        for w in acc.blocks.windows(2) {
            assert!((w[0].origin.clone(), w[0].start) < (w[1].origin.clone(), w[1].start));
            assert!(
                !(w[0].same_attributes(&w[1]) && w[0].end + 1 == w[1].start),
                "unmerged blocks in {}",
                acc.id
            );
        }
    }
    assert_eq!(seen, model.owner, "holdings differ from the model");
    // Conservation per origin: held = issued.
    for (code, _, _) in PARTIES {
        let held = seen.keys().filter(|(o, _)| o == code).count() as u64;
        assert_eq!(
            held, model.issued[code],
            "units of origin {code} were created or destroyed"
        );
    }
    // Art. 3.10/3.11/3.12: registry holdings = issued + acquired - transferred.
    for (code, _, aa) in PARTIES {
        let p = state.party(&PartyCode::parse(code).unwrap()).unwrap();
        let pos = p.position(UnitType::Aau, 1);
        assert!(pos.issued <= aa, "AAU issuance above the assigned amount");
        let held = state
            .registry_holdings(&p.code)
            .get(&(UnitType::Aau, 1))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            held + pos.transferred,
            pos.issued + pos.acquired,
            "Art. 3.10/3.11 accounting broken for {code}"
        );
        assert_eq!(pos.acquired, model.acquired.get(code).copied().unwrap_or(0));
        assert_eq!(
            pos.transferred,
            model.transferred.get(code).copied().unwrap_or(0)
        );
    }
    for (pk, n) in &model.nonces {
        assert_eq!(state.nonce(pk), *n);
    }
}

fn serials_of(applied: &Applied) -> Vec<(String, u64)> {
    applied
        .serials
        .iter()
        .flat_map(|b| (b.start..=b.end).map(move |s| (b.origin.to_string(), s)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ledger_matches_the_reference_model(
        pre_issued in 0..200u64,
        blocks in prop::collection::vec(prop::collection::vec(op(), 0..12), 1..10),
    ) {
        let g = genesis(pre_issued);
        let mut state = g.build_state().unwrap();
        let mut model = Model::new(pre_issued);
        check_invariants(&state, &model);
        let mut history: Vec<Tx> = Vec::new();
        let mut log: Vec<(BlockContext, Vec<Tx>)> = Vec::new();
        let mut counter = 0u64;
        let mut next_nonce = BTreeMap::new();
        for (h, ops) in blocks.iter().enumerate() {
            let mut txs = Vec::new();
            // Build the block against the model state as of the block's start plus
            // the block's own earlier transactions.
            let mut preview = model.clone();
            for op in ops {
                if let Some(tx) = make_tx(op, &preview, &history, &mut counter, &mut next_nonce) {
                    let _ = preview.apply(tx.signer, tx.nonce, &tx.kind);
                    txs.push(tx);
                }
            }
            let before = state.clone();
            let ctx = BlockContext { height: h as u64 + 1, timestamp_ms: h as i64 + 1, hash: [h as u8; 32] };
            let outcome = state.apply_block(ctx, &txs).unwrap();
            prop_assert_eq!(outcome.receipts.len(), txs.len());
            for (tx, receipt) in txs.iter().zip(&outcome.receipts) {
                let expected = model.apply(tx.signer, tx.nonce, &tx.kind);
                match (&expected, &receipt.outcome) {
                    (Ok(moved), Ok(applied)) => {
                        if applied.kind != AppliedKind::AccountOpened {
                            prop_assert_eq!(&serials_of(applied), moved, "serials moved differ from the model");
                            prop_assert_eq!(applied.amount, moved.len() as u64);
                        }
                    }
                    (Err(code), Err(refusal)) => prop_assert_eq!(*code, refusal.code()),
                    _ => prop_assert!(false, "ledger {:?} but model {:?} for {:?}", receipt.outcome, expected, tx),
                }
            }
            check_invariants(&state, &model);
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
            from: AccountId::parse("AAA-100-1").unwrap(),
            to: AccountId::parse("BBB-100-1").unwrap(),
            amount: 101,
            units: UnitFilter {
                unit_type: UnitType::Aau,
                period: 1,
                origin: None,
            },
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
                timestamp_ms: 1,
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
                timestamp_ms: 2,
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
                    timestamp_ms: 5,
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
                    timestamp_ms: 0,
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
                    timestamp_ms: 1,
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
