//! Governance by the treaty's own rules, through the `kyoto` CLI on a dev node, with
//! ledger time moved by `kyoto dev advance-time`. The dev genesis has 42 States in force
//! (the quorum needs 28 of them) and the European Community with 27 member States.

use kyoto_tests::{
    CliResult, NodeProcess, assert_refused as refused, dev_key as key, json_u64 as u64_of,
    run_readme_block,
};

/// States in force that are not EU members.
const NON_EU: [&str; 12] = [
    "AUS", "CAN", "HRV", "ISL", "JPN", "LIE", "MCO", "NZL", "NOR", "RUS", "CHE", "UKR",
];
/// EU member States.
const EU: [&str; 27] = [
    "AUT", "BEL", "BGR", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL", "ITA",
    "LVA", "LTU", "LUX", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE", "GBR", "CYP",
    "MLT",
];

fn start() -> (tempfile::TempDir, NodeProcess) {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    (dir, node)
}

/// Proposes a decision setting a parameter; returns its id.
fn propose_parameter(node: &NodeProcess, name: &str, value: u64) -> String {
    let out = node
        .kyoto(&[
            "--output",
            "json",
            "gov",
            "propose",
            "--key",
            &key("JPN"),
            "--proposer",
            "JPN",
            "--title",
            "Reserve",
            "parameter",
            "--name",
            name,
            "--value",
            &value.to_string(),
        ])
        .json();
    u64_of(&out["receipt"]["applied"]["amount"]).to_string()
}

fn vote(node: &NodeProcess, id: &str, party: &str, choice: &str) -> CliResult {
    node.kyoto(&[
        "gov",
        "vote",
        "--key",
        &key(party),
        "--proposal",
        id,
        "--party",
        party,
        "--choice",
        choice,
    ])
}

fn show(node: &NodeProcess, id: &str) -> serde_json::Value {
    node.kyoto(&["--output", "json", "gov", "show", id]).json()
}

#[test]
fn eu_vote_counts_member_states_that_are_parties_and_excludes_them() {
    let (_dir, node) = start();
    let id = propose_parameter(&node, "cpr_percent_of_assigned", 50);
    // Art. 20.2: not before the notice period has passed.
    refused(vote(&node, &id, "JPN", "yes"), "VOTING_NOT_OPEN");
    node.kyoto(&["dev", "advance-time", "--to", "2008-07-02"])
        .ok();
    // The vote's receipt shows the weight counted (Art. 22.2), not only the proposal.
    let eu_vote = node
        .kyoto(&[
            "--output",
            "json",
            "gov",
            "vote",
            "--key",
            &key("EU"),
            "--proposal",
            &id,
            "--party",
            "EU",
            "--choice",
            "yes",
        ])
        .json();
    let applied = &eu_vote["receipt"]["applied"];
    assert_eq!(u64_of(&applied["weight"]), 27, "{eu_vote}");
    assert_eq!(applied["proposal"].as_str(), Some(id.as_str()), "{eu_vote}");
    // Art. 22.2: no member votes once the EU has.
    refused(
        vote(&node, &id, "DEU", "no"),
        "MEMBER_STATE_REIO_ALREADY_VOTED",
    );
    refused(vote(&node, &id, "EU", "yes"), "ALREADY_VOTED");
    let jpn_vote = vote(&node, &id, "JPN", "yes").ok();
    assert!(jpn_vote.contains("weight:  1 (votes counted"), "{jpn_vote}");
    assert!(jpn_vote.contains(&format!("proposal: {id}")), "{jpn_vote}");
    refused(vote(&node, &id, "USA", "yes"), "NOT_A_PARTY");
    let p = show(&node, &id);
    let eu = p["votes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["party"] == "EU")
        .unwrap();
    assert_eq!(
        u64_of(&eu["weight"]),
        27,
        "one vote per member State that is a Party"
    );
    assert_eq!((u64_of(&p["yes"]), u64_of(&p["eligible"])), (28, 42));
    node.kyoto(&["dev", "advance-time", "--to", "2008-08-01"])
        .ok();
    let p = show(&node, &id);
    assert_eq!(
        (p["outcome"].as_str(), p["adoptionMethod"].as_str()),
        (Some("adopted"), Some("consensus"))
    );
    // A decision is in force at adoption: the reserve is now 50 % of the assigned amount.
    let jpn = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    let aa = u64_of(&jpn["periods"][0]["assignedAmount"]);
    assert_eq!(u64_of(&jpn["periods"][0]["reserve"]), aa.div_ceil(2));
    refused(vote(&node, &id, "CAN", "yes"), "VOTING_CLOSED");
}

#[test]
fn eu_vote_refused_after_a_member_voted() {
    let (_dir, node) = start();
    let id = propose_parameter(&node, "session_days", 30);
    node.kyoto(&["dev", "advance-time", "--to", "2008-07-02"])
        .ok();
    vote(&node, &id, "FRA", "no").ok();
    refused(vote(&node, &id, "EU", "yes"), "REIO_MEMBER_ALREADY_VOTED");
}

#[test]
fn abstentions_do_not_count_as_present_and_voting_and_three_fourths_is_exact() {
    let (_dir, node) = start();
    // 27 yes (the EU) against 9 no: 4 x 27 = 108 = 3 x 36, adopted by three fourths.
    let exact = propose_parameter(&node, "notice_months", 3);
    // 27 yes against 10 no: 108 < 111, not adopted.
    let short = propose_parameter(&node, "notice_months", 4);
    node.kyoto(&["dev", "advance-time", "--to", "2008-07-02"])
        .ok();
    for id in [&exact, &short] {
        vote(&node, id, "EU", "yes").ok();
        for p in &NON_EU[..9] {
            vote(&node, id, p, "no").ok();
        }
    }
    vote(&node, &short, NON_EU[9], "no").ok();
    // Abstentions count toward the quorum only.
    vote(&node, &exact, NON_EU[10], "abstain").ok();
    vote(&node, &exact, NON_EU[11], "abstain").ok();
    node.kyoto(&["dev", "advance-time", "--to", "2008-08-01"])
        .ok();
    let p = show(&node, &exact);
    assert_eq!(
        (u64_of(&p["yes"]), u64_of(&p["no"]), u64_of(&p["abstain"])),
        (27, 9, 2)
    );
    assert_eq!(
        (p["outcome"].as_str(), p["adoptionMethod"].as_str()),
        (Some("adopted"), Some("three_fourths"))
    );
    let p = show(&node, &short);
    assert_eq!(p["outcome"], "not_adopted");
    assert!(p["reason"].as_str().unwrap().contains("three fourths"));
}

#[test]
fn a_vote_without_quorum_adopts_nothing() {
    let (_dir, node) = start();
    let id = propose_parameter(&node, "session_days", 30);
    node.kyoto(&["dev", "advance-time", "--to", "2008-07-02"])
        .ok();
    for p in &NON_EU {
        vote(&node, &id, p, "yes").ok();
    }
    node.kyoto(&["dev", "advance-time", "--to", "2008-08-01"])
        .ok();
    let p = show(&node, &id);
    assert_eq!(p["outcome"], "not_adopted");
    assert!(p["reason"].as_str().unwrap().contains("quorum"));
}

#[test]
fn annex_b_amendment_needs_consent_and_enters_into_force_on_the_90th_day_after_three_fourths_accept()
 {
    let (_dir, node) = start();
    let propose = || {
        let out = node
            .kyoto(&[
                "--output",
                "json",
                "gov",
                "propose",
                "--key",
                &key("NOR"),
                "--proposer",
                "NOR",
                "--title",
                "Doha for Canada",
                "annex-b",
                "--party",
                "CAN",
                "--period",
                "2",
                "--assigned-amount",
                "2000000000",
            ])
            .json();
        u64_of(&out["receipt"]["applied"]["amount"]).to_string()
    };
    let without = propose();
    let with = propose();
    refused(
        node.kyoto(&["gov", "consent", "--key", &key("JPN"), "--proposal", &with]),
        "NOT_AUTHORISED",
    );
    node.kyoto(&["gov", "consent", "--key", &key("CAN"), "--proposal", &with])
        .ok();
    node.kyoto(&["dev", "advance-time", "--to", "2008-07-02"])
        .ok();
    for id in [&without, &with] {
        vote(&node, id, "EU", "yes").ok();
        vote(&node, id, "NOR", "yes").ok();
    }
    node.kyoto(&["dev", "advance-time", "--to", "2008-08-01"])
        .ok();
    let p = show(&node, &without);
    assert_eq!(p["outcome"], "not_adopted");
    assert!(p["reason"].as_str().unwrap().contains("Art. 21.7"));
    assert_eq!(show(&node, &with)["outcome"], "adopted");
    // 43 Parties in force (the EU included): three fourths is 33 States' acceptances;
    // the EU's acceptance does not count in addition to its members' (Art. 25.4).
    node.kyoto(&[
        "gov",
        "accept",
        "--key",
        &key("EU"),
        "--proposal",
        &with,
        "--party",
        "EU",
    ])
    .ok();
    let acceptors: Vec<&str> = EU.iter().chain(NON_EU.iter()).copied().collect();
    for p in &acceptors[..32] {
        node.kyoto(&[
            "gov",
            "accept",
            "--key",
            &key(p),
            "--proposal",
            &with,
            "--party",
            p,
        ])
        .ok();
    }
    assert_eq!(
        show(&node, &with)["threeFourthsReached"],
        serde_json::Value::Null
    );
    node.kyoto(&["dev", "advance-time", "--to", "2009-01-10"])
        .ok();
    node.kyoto(&[
        "gov",
        "accept",
        "--key",
        &key(acceptors[32]),
        "--proposal",
        &with,
        "--party",
        acceptors[32],
    ])
    .ok();
    let p = show(&node, &with);
    assert_eq!(p["threeFourthsReached"], "2009-01-10");
    let can_date = p["inForce"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["party"] == "CAN")
        .map(|d| d["date"].clone());
    assert_eq!(
        can_date,
        Some(serde_json::json!("2009-04-10")),
        "the 90th day after"
    );
    let can = node.kyoto(&["--output", "json", "party", "CAN"]).json();
    assert_eq!(
        can["periods"].as_array().unwrap().len(),
        1,
        "not in force yet"
    );
    node.kyoto(&["dev", "advance-time", "--to", "2009-04-10"])
        .ok();
    let can = node.kyoto(&["--output", "json", "party", "CAN"]).json();
    let p2 = can["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| u64_of(&p["period"]) == 2)
        .expect("period 2 commitment");
    assert_eq!(u64_of(&p2["assignedAmount"]), 2_000_000_000);
    // A later acceptor: the 90th day after its own deposit.
    node.kyoto(&[
        "gov",
        "accept",
        "--key",
        &key(acceptors[33]),
        "--proposal",
        &with,
        "--party",
        acceptors[33],
    ])
    .ok();
    let p = show(&node, &with);
    let late = p["inForce"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["party"] == acceptors[33])
        .unwrap();
    assert_eq!(late["date"], "2009-07-09");
}

#[test]
fn membership_and_withdrawal_follow_articles_25_and_27() {
    let (_dir, node) = start();
    // Only the Depositary records instruments.
    refused(
        node.kyoto(&["deposit", "--key", &key("JPN"), "--party", "USA"]),
        "NOT_AUTHORISED",
    );
    node.kyoto(&["deposit", "--key", &key("DEPOSITARY"), "--party", "USA"])
        .ok();
    let usa = node.kyoto(&["--output", "json", "party", "USA"]).json();
    assert_eq!(usa["status"], "deposited");
    let from = usa["inForceFrom"].as_str().unwrap().to_owned();
    refused(
        node.kyoto(&["deposit", "--key", &key("DEPOSITARY"), "--party", "USA"]),
        "ALREADY_A_PARTY",
    );
    // A new State accedes with its registry key.
    node.kyoto(&["keys", "generate", "--out", "tuv.key"]).ok();
    node.kyoto(&[
        "deposit",
        "--key",
        &key("DEPOSITARY"),
        "--party",
        "TUV",
        "--name",
        "Tuvalu",
        "--authority-key",
        "tuv.key",
    ])
    .ok();
    node.kyoto(&["dev", "advance-time", "--to", &from]).ok();
    let usa = node.kyoto(&["--output", "json", "party", "USA"]).json();
    assert_eq!(
        (usa["status"].as_str(), usa["inForceSince"].as_str()),
        (Some("in_force"), Some(from.as_str()))
    );
    assert_eq!(
        node.kyoto(&["--output", "json", "party", "TUV"]).json()["status"],
        "in_force"
    );
    // Art. 27.1: not within three years of entry into force.
    refused(
        node.kyoto(&["withdraw", "--key", &key("USA"), "--party", "USA"]),
        "WITHDRAWAL_TOO_EARLY",
    );
    // Canada gives notice on 15 December 2011; effective one year later.
    node.kyoto(&["dev", "advance-time", "--to", "2011-12-15"])
        .ok();
    node.kyoto(&["withdraw", "--key", &key("CAN"), "--party", "CAN"])
        .ok();
    let can = node.kyoto(&["--output", "json", "party", "CAN"]).json();
    assert_eq!(
        (can["status"].as_str(), can["withdrawalEffective"].as_str()),
        (Some("withdrawal_notified"), Some("2012-12-15"))
    );
    // Still a Party until then.
    let transfer_from_can = [
        "transfer",
        "--key",
        &key("CAN"),
        "--from",
        "CAN-100-1",
        "--to",
        "JPN-100-1",
        "--amount",
        "1",
    ];
    node.kyoto(&transfer_from_can).ok();
    // A deposit now is refused, and the refusal says why in the Party's own terms.
    for (party, says) in [
        (
            "CAN",
            "CAN is still a Party until its withdrawal takes effect on 2012-12-15",
        ),
        (
            "JPN",
            "JPN is already a Party: the Protocol is in force for it since",
        ),
    ] {
        let r = node.kyoto(&["deposit", "--key", &key("DEPOSITARY"), "--party", party]);
        assert!(r.stderr.contains(says), "{}", r.stderr);
        refused(r, "ALREADY_A_PARTY");
    }
    node.kyoto(&["dev", "advance-time", "--to", "2012-12-15"])
        .ok();
    assert_eq!(
        node.kyoto(&["--output", "json", "party", "CAN"]).json()["status"],
        "withdrawn"
    );
    refused(node.kyoto(&transfer_from_can), "PARTY_NOT_IN_FORCE");
    // Nor does it issue units: every act of a Party passes the same check.
    refused(
        node.kyoto(&[
            "issue",
            "--key",
            &key("CAN"),
            "--party",
            "CAN",
            "--unit",
            "AAU",
            "--amount",
            "1",
        ]),
        "PARTY_NOT_IN_FORCE",
    );
    // Art. 24: a State whose withdrawal took effect may accede again; the Protocol
    // enters into force for it on the 90th day after its deposit (Art. 25.3).
    node.kyoto(&["deposit", "--key", &key("DEPOSITARY"), "--party", "CAN"])
        .ok();
    let can = node.kyoto(&["--output", "json", "party", "CAN"]).json();
    assert_eq!(
        (can["status"].as_str(), can["inForceFrom"].as_str()),
        (Some("deposited"), Some("2013-03-15"))
    );
    refused(node.kyoto(&transfer_from_can), "PARTY_NOT_IN_FORCE");
    node.kyoto(&["dev", "advance-time", "--to", "2013-03-15"])
        .ok();
    let can = node.kyoto(&["--output", "json", "party", "CAN"]).json();
    assert_eq!(
        (can["status"].as_str(), can["inForceSince"].as_str()),
        (Some("in_force"), Some("2013-03-15"))
    );
    node.kyoto(&transfer_from_can).ok();
}

#[test]
fn validator_proposals_need_a_valid_key_of_a_party() {
    let (_dir, node) = start();
    let propose = |party: &str, key_hex: &str| {
        node.kyoto(&[
            "gov",
            "propose",
            "--key",
            &key("DEU"),
            "--proposer",
            "DEU",
            "--title",
            "German registry node",
            "add-validator",
            "--name",
            "validator-deu",
            "--party",
            party,
            "--public-key",
            key_hex,
        ])
    };
    // A small-order (weak) point: strict verification would never accept its votes.
    let identity = format!("01{}", "00".repeat(31));
    refused(propose("DEU", &identity), "MALFORMED");
    refused(
        propose(
            "ZZZ",
            "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        ),
        "UNKNOWN_PARTY",
    );
    propose(
        "DEU",
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
    )
    .ok();
    // Until adopted, the set is the genesis's (a 4-validator network adopts one in
    // tests/tests/cluster.rs).
    let v = node
        .kyoto(&["--output", "json", "gov", "validators"])
        .json();
    let names: Vec<&str> = v["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["validator-1"]);
    propose_parameter(&node, "session_days", 30);
    let list = node.kyoto(&["gov", "list"]).ok();
    assert!(list.contains("Reserve"), "{list}");
}

/// The README's governance walk-through runs as written against a fresh dev node.
#[test]
fn readme_governance_walkthrough_runs_as_written() {
    let (dir, node) = start();
    let stdout = run_readme_block("### Governance walk-through", dir.path(), &node);
    assert!(
        stdout.contains("outcome:     adopted by three_fourths"),
        "{stdout}"
    );
    assert!(
        stdout.contains("three fourths of the Parties accepted on"),
        "{stdout}"
    );
    let p = show(&node, "1");
    assert_eq!(p["inForce"].as_array().unwrap().len(), 33);
}
