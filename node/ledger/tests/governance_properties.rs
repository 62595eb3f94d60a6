//! Property tests of Art. 22 tallies: the outcome of a vote does not depend on the
//! order in which the votes arrive, and the three-fourths rule is exact integer
//! arithmetic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use kyoto_ledger::dev::dev_genesis_with_keys;
use kyoto_ledger::governance::{Choice, GovTx, Outcome, ProposalKind};
use kyoto_ledger::{BlockContext, PartyCode, PartyKind, State, Tx, TxKind};
use proptest::prelude::*;

/// 2008-07-02 and 2008-08-01: inside and after the voting session of a proposal made
/// at genesis (notice six months, session fourteen days).
const OPEN_MS: i64 = 1_214_956_800_000;
const CLOSED_MS: i64 = 1_217_548_800_000;

fn setup() -> (State, BTreeMap<String, SigningKey>) {
    let mut n = 0u8;
    let (genesis, keys) = dev_genesis_with_keys(&mut |_| {
        n = n.wrapping_add(1);
        SigningKey::from_bytes(&[n; 32])
    });
    (genesis.build_state().unwrap(), keys.into_iter().collect())
}

fn tx(keys: &BTreeMap<String, SigningKey>, who: &str, nonce: u64, kind: GovTx, seq: &mut u8) -> Tx {
    *seq = seq.wrapping_add(1);
    Tx {
        hash: [*seq; 32],
        signer: keys[who].verifying_key().to_bytes(),
        nonce,
        kind: TxKind::Gov(kind),
    }
}

/// Runs a vote with the given ballots in the given order; returns the outcome and tally.
fn run(votes: &[(String, Choice)]) -> (Outcome, (u64, u64, u64)) {
    let (mut state, keys) = setup();
    let mut seq = 0;
    let propose = GovTx::Propose {
        proposer: PartyCode::parse("JPN").unwrap(),
        title: "t".into(),
        kind: ProposalKind::SetParameter {
            name: "session_days".into(),
            value: 20,
        },
    };
    let t0 = state.time_ms();
    let p = tx(&keys, "JPN", 1, propose, &mut seq);
    state
        .apply_block(
            BlockContext {
                height: 1,
                timestamp_ms: t0 + 1,
                hash: [1; 32],
            },
            &[p],
        )
        .unwrap();
    let ballots: Vec<Tx> = votes
        .iter()
        .map(|(who, choice)| {
            let nonce = if who == "JPN" { 2 } else { 1 };
            let v = GovTx::Vote {
                proposal: 1,
                voter: PartyCode::parse(who).unwrap(),
                choice: *choice,
            };
            tx(&keys, who, nonce, v, &mut seq)
        })
        .collect();
    let out = state
        .apply_block(
            BlockContext {
                height: 2,
                timestamp_ms: OPEN_MS,
                hash: [2; 32],
            },
            &ballots,
        )
        .unwrap();
    assert!(
        out.receipts.iter().all(|r| r.outcome.is_ok()),
        "{:?}",
        out.receipts
    );
    state
        .apply_block(
            BlockContext {
                height: 3,
                timestamp_ms: CLOSED_MS,
                hash: [3; 32],
            },
            &[],
        )
        .unwrap();
    let p = state.proposal(1).unwrap();
    (
        p.outcome.clone(),
        (p.tally.yes, p.tally.no, p.tally.abstain),
    )
}

fn cases(default: u32) -> u32 {
    std::env::var("KYOTO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![Just(Choice::Yes), Just(Choice::No), Just(Choice::Abstain)]
}

proptest! {
    // KYOTO_PROPTEST_CASES sets the case count (the long mode; CI runs 48).
    #![proptest_config(ProptestConfig { cases: cases(48), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn tallies_do_not_depend_on_vote_order(
        eu_votes in any::<bool>(),
        picks in prop::collection::vec((any::<prop::sample::Index>(), choice()), 0..45),
        eu_choice in choice(),
        seed in any::<u64>(),
    ) {
        let (state, _) = setup();
        // Either the EU votes, or (some of) its members do: never both (Art. 22.2).
        let states: Vec<String> = state
            .parties()
            .filter(|p| p.in_force() && matches!(p.kind, PartyKind::State))
            .filter(|p| !eu_votes || p.member_of.is_none())
            .map(|p| p.code.to_string())
            .collect();
        let mut ballots: BTreeMap<String, Choice> = BTreeMap::new();
        for (i, c) in picks {
            ballots.insert(states[i.index(states.len())].clone(), c);
        }
        if eu_votes {
            ballots.insert("EU".into(), eu_choice);
        }
        let ordered: Vec<(String, Choice)> = ballots.into_iter().collect();
        let mut shuffled = ordered.clone();
        // A deterministic shuffle from the seed.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let (a, ta) = run(&ordered);
        let (b, tb) = run(&shuffled);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(ta, tb);
        // Adoption follows exactly from the tally (Art. 20.3, Art. 1).
        let (yes, no, abstain) = ta;
        let quorum = 3 * (yes + no + abstain) >= 2 * 42;
        let adopted = quorum && yes > 0 && (no == 0 || 4 * yes >= 3 * (yes + no));
        prop_assert_eq!(matches!(a, Outcome::Adopted { .. }), adopted);
    }
}
