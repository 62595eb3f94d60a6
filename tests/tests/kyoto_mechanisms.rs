//! The Kyoto unit lifecycle end to end: each scenario drives the real `kyoto` CLI
//! against a real `kyotod --dev`, with the dev keys of the Parties and of the CDM
//! executive board (`.kyoto-dev/dev-keys/<CODE>.key`, `CDM.key`).

use kyoto_tests::{
    NodeProcess, assert_refused as refused, dev_key as key, json_u64 as u64_of, run_readme_block,
};

fn start() -> (tempfile::TempDir, NodeProcess) {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    (dir, node)
}

fn holding(node: &NodeProcess, account: &str, unit: i64, period: u64) -> u64 {
    let a = node.kyoto(&["--output", "json", "account", account]).json();
    let names = [
        "",
        "UNIT_TYPE_AAU",
        "UNIT_TYPE_RMU",
        "UNIT_TYPE_ERU_FROM_AAU",
        "UNIT_TYPE_ERU_FROM_RMU",
        "UNIT_TYPE_CER",
        "UNIT_TYPE_TCER",
        "UNIT_TYPE_LCER",
    ];
    a["holdings"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter(|h| h["unitType"] == names[unit as usize] && u64_of(&h["period"]) == period)
                .map(|h| u64_of(&h["amount"]))
                .sum()
        })
        .unwrap_or(0)
}

const AAU: i64 = 1;
const RMU: i64 = 2;
const ERU_AAU: i64 = 3;
const CER: i64 = 5;
const TCER: i64 = 6;

#[test]
fn cpr_blocks_transfer_that_would_leave_party_below_reserve() {
    let (_dir, node) = start();
    let jpn = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    let aa = u64_of(&jpn["periods"][0]["assignedAmount"]);
    let reserve = u64_of(&jpn["periods"][0]["reserve"]);
    assert_eq!(
        reserve,
        (aa * 90).div_ceil(100),
        "90 % of the assigned amount until an inventory is reviewed"
    );
    // Japan holds exactly its assigned amount: one unit more than 10 % cannot leave.
    let too_much = (aa - reserve + 1).to_string();
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("JPN"),
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--amount",
            &too_much,
        ]),
        "CPR_BREACH",
    );
    // Moving units inside the registry does not touch the reserve.
    node.kyoto(&[
        "open-account",
        "--key",
        &key("JPN"),
        "--party",
        "JPN",
        "--holder-name",
        "Tokyo Trading KK",
        "--holder-public-key",
        &"11".repeat(32),
    ])
    .ok();
    node.kyoto(&[
        "transfer",
        "--key",
        &key("JPN"),
        "--from",
        "JPN-100-1",
        "--to",
        "JPN-120-1",
        "--amount",
        &too_much,
    ])
    .ok();
    // A reviewed inventory lowers the reserve to 5 x its emissions (decision 11/CMP.1).
    node.kyoto(&[
        "report-inventory",
        "--key",
        &key("JPN"),
        "--party",
        "JPN",
        "--year",
        "2007",
        "--emissions",
        "1000000000",
    ])
    .ok();
    let jpn = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    assert_eq!(u64_of(&jpn["periods"][0]["reserve"]), 5_000_000_000);
    node.kyoto(&[
        "transfer",
        "--key",
        &key("JPN"),
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--amount",
        "900000000",
    ])
    .ok();
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("JPN"),
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--amount",
            &(aa - 5_000_000_000).to_string(),
        ]),
        "CPR_BREACH",
    );
}

#[test]
fn treaty_rules_gate_external_transfers() {
    let (_dir, node) = start();
    // Art. 17: AAUs are traded among Annex B Parties; Brazil is not one.
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("JPN"),
            "--from",
            "JPN-100-1",
            "--to",
            "BRA-100-1",
            "--amount",
            "5",
        ]),
        "NOT_ELIGIBLE",
    );
    // The United States never ratified: the Protocol is not in force for it.
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("JPN"),
            "--from",
            "JPN-100-1",
            "--to",
            "USA-100-1",
            "--amount",
            "5",
        ]),
        "PARTY_NOT_IN_FORCE",
    );
    // Units must exist in the account, of the type and period named.
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("JPN"),
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--unit",
            "CER",
            "--amount",
            "5",
        ]),
        "INSUFFICIENT_UNITS",
    );
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("JPN"),
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--period",
            "2",
            "--amount",
            "5",
        ]),
        "INSUFFICIENT_UNITS",
    );
}

#[test]
fn rmus_are_issued_for_reported_removals_and_never_carried_over() {
    let (_dir, node) = start();
    refused(
        node.kyoto(&[
            "issue",
            "--key",
            &key("NZL"),
            "--party",
            "NZL",
            "--unit",
            "RMU",
            "--activity",
            "FM",
            "--amount",
            "1",
        ]),
        "RMU_EXCEEDS_REMOVALS",
    );
    node.kyoto(&[
        "report-inventory",
        "--key",
        &key("NZL"),
        "--party",
        "NZL",
        "--year",
        "2008",
        "--emissions",
        "75000000",
        "--removal",
        "FM=1000",
        "--removal",
        "AR=200",
    ])
    .ok();
    node.kyoto(&[
        "report-inventory",
        "--key",
        &key("NZL"),
        "--party",
        "NZL",
        "--year",
        "2009",
        "--emissions",
        "74000000",
        "--removal",
        "FM=500",
    ])
    .ok();
    refused(
        node.kyoto(&[
            "issue",
            "--key",
            &key("NZL"),
            "--party",
            "NZL",
            "--unit",
            "RMU",
            "--activity",
            "FM",
            "--amount",
            "1501",
        ]),
        "RMU_EXCEEDS_REMOVALS",
    );
    let out = node
        .kyoto(&[
            "--output",
            "json",
            "issue",
            "--key",
            &key("NZL"),
            "--party",
            "NZL",
            "--unit",
            "RMU",
            "--activity",
            "FM",
            "--amount",
            "1500",
        ])
        .json();
    let serials = &out["receipt"]["applied"]["serials"][0];
    assert_eq!(serials["activity"], "ACTIVITY_FOREST_MANAGEMENT");
    assert_eq!(holding(&node, "NZL-100-1", RMU, 1), 1500);
    refused(
        node.kyoto(&[
            "carry-over",
            "--key",
            &key("NZL"),
            "--from",
            "NZL-100-1",
            "--unit",
            "RMU",
            "--amount",
            "10",
        ]),
        "CARRY_OVER_NOT_ALLOWED",
    );
    let party = node.kyoto(&["--output", "json", "party", "NZL"]).json();
    let rmu = party["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["unitType"] == "UNIT_TYPE_RMU")
        .unwrap();
    assert_eq!(u64_of(&rmu["issued"]), 1500);
}

#[test]
fn cer_share_of_proceeds_goes_to_adaptation_fund() {
    let (_dir, node) = start();
    // Art. 12: projects are hosted by non-Annex I Parties.
    refused(
        node.kyoto(&[
            "register-cdm-project",
            "--key",
            &key("CDM"),
            "--project",
            "CDM-0001",
            "--host",
            "JPN",
            "--participant",
            "JPN-100-1",
        ]),
        "NOT_ELIGIBLE",
    );
    refused(
        node.kyoto(&[
            "register-cdm-project",
            "--key",
            &key("JPN"),
            "--project",
            "CDM-0001",
            "--host",
            "BRA",
            "--participant",
            "JPN-100-1",
        ]),
        "NOT_AUTHORISED",
    );
    node.kyoto(&[
        "register-cdm-project",
        "--key",
        &key("CDM"),
        "--project",
        "CDM-0001",
        "--host",
        "BRA",
        "--participant",
        "JPN-100-1",
        "--participant",
        "BRA-100-1",
    ])
    .ok();
    let project = node
        .kyoto(&["--output", "json", "project", "CDM-0001"])
        .json();
    assert_eq!(project["host"], "BRA");
    refused(
        node.kyoto(&[
            "issue-cers",
            "--key",
            &key("CDM"),
            "--project",
            "CDM-9999",
            "--amount",
            "1000",
        ]),
        "UNKNOWN_PROJECT",
    );
    node.kyoto(&[
        "issue-cers",
        "--key",
        &key("CDM"),
        "--project",
        "CDM-0001",
        "--amount",
        "1000",
    ])
    .ok();
    // Art. 12.8: 2 % to the Adaptation Fund.
    assert_eq!(holding(&node, "CDM-500-1", CER, 1), 980);
    assert_eq!(holding(&node, "CDM-510-1", CER, 1), 20);
    refused(
        node.kyoto(&[
            "forward-cers",
            "--key",
            &key("CDM"),
            "--project",
            "CDM-0001",
            "--to",
            "CAN-100-1",
            "--amount",
            "10",
        ]),
        "NOT_PROJECT_PARTICIPANT",
    );
    node.kyoto(&[
        "forward-cers",
        "--key",
        &key("CDM"),
        "--project",
        "CDM-0001",
        "--to",
        "JPN-100-1",
        "--amount",
        "500",
    ])
    .ok();
    assert_eq!(holding(&node, "JPN-100-1", CER, 1), 500);
    // Art. 3.12: CERs a Party acquires are added to its assigned amount.
    let jpn = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    assert_eq!(u64_of(&jpn["periods"][0]["acquired"]), 500);
    let cer = jpn["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["unitType"] == "UNIT_TYPE_CER")
        .unwrap();
    assert_eq!(u64_of(&cer["acquired"]), 500);
    // Nobody but the board moves units of the CDM registry.
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("JPN"),
            "--from",
            "CDM-500-1",
            "--to",
            "JPN-100-1",
            "--unit",
            "CER",
            "--project",
            "CDM-0001",
            "--amount",
            "1",
        ]),
        "NOT_AUTHORISED",
    );
    // The CDM registry's audit trail.
    let history = node
        .kyoto(&["--output", "json", "history", "CDM-500-1"])
        .json();
    let kinds: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["receipt"]["applied"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["cer_forwarding", "cer_issuance"]);
}

#[test]
fn ji_conversion_needs_both_parties_approval() {
    let (_dir, node) = start();
    refused(
        node.kyoto(&[
            "convert-to-eru",
            "--key",
            &key("RUS"),
            "--project",
            "JI-0001",
            "--from",
            "RUS-100-1",
            "--amount",
            "1000",
        ]),
        "UNKNOWN_PROJECT",
    );
    node.kyoto(&[
        "approve-ji",
        "--key",
        &key("RUS"),
        "--project",
        "JI-0001",
        "--host",
        "RUS",
        "--acquirer",
        "DEU",
    ])
    .ok();
    refused(
        node.kyoto(&[
            "convert-to-eru",
            "--key",
            &key("RUS"),
            "--project",
            "JI-0001",
            "--from",
            "RUS-100-1",
            "--amount",
            "1000",
        ]),
        "PROJECT_NOT_APPROVED",
    );
    refused(
        node.kyoto(&[
            "approve-ji",
            "--key",
            &key("FRA"),
            "--project",
            "JI-0001",
            "--host",
            "RUS",
            "--acquirer",
            "DEU",
        ]),
        "NOT_AUTHORISED",
    );
    node.kyoto(&[
        "approve-ji",
        "--key",
        &key("DEU"),
        "--project",
        "JI-0001",
        "--host",
        "RUS",
        "--acquirer",
        "DEU",
    ])
    .ok();
    let out = node
        .kyoto(&[
            "--output",
            "json",
            "convert-to-eru",
            "--key",
            &key("RUS"),
            "--project",
            "JI-0001",
            "--from",
            "RUS-100-1",
            "--amount",
            "1000",
        ])
        .json();
    // Serials are kept: the lowest AAUs became ERUs of the project.
    let s = &out["receipt"]["applied"]["serials"][0];
    assert_eq!(
        (s["origin"].as_str(), u64_of(&s["start"]), u64_of(&s["end"])),
        (Some("RUS"), 1, 1000)
    );
    assert_eq!(s["unitType"], "UNIT_TYPE_ERU_FROM_AAU");
    assert_eq!(s["project"], "JI-0001");
    node.kyoto(&[
        "transfer",
        "--key",
        &key("RUS"),
        "--from",
        "RUS-100-1",
        "--to",
        "DEU-100-1",
        "--unit",
        "ERU-AAU",
        "--amount",
        "1000",
    ])
    .ok();
    assert_eq!(holding(&node, "DEU-100-1", ERU_AAU, 1), 1000);
    let rus = node.kyoto(&["--output", "json", "party", "RUS"]).json();
    let aau = rus["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["unitType"] == "UNIT_TYPE_AAU")
        .unwrap();
    assert_eq!(u64_of(&aau["convertedOut"]), 1000);
}

#[test]
fn retirement_compliance_and_carry_over_follow_the_period() {
    let (_dir, node) = start();
    let mco = key("MCO");
    let aa = u64_of(
        &node.kyoto(&["--output", "json", "party", "MCO"]).json()["periods"][0]["assignedAmount"],
    );
    for year in 2008..=2012 {
        node.kyoto(&[
            "report-inventory",
            "--key",
            &mco,
            "--party",
            "MCO",
            "--year",
            &year.to_string(),
            "--emissions",
            "80000",
        ])
        .ok();
    }
    let c = node
        .kyoto(&["--output", "json", "compliance", "MCO", "--period", "1"])
        .json();
    assert_eq!(
        (u64_of(&c["emissions"]), c["complies"].as_bool()),
        (400_000, None)
    );
    node.kyoto(&[
        "retire",
        "--key",
        &mco,
        "--from",
        "MCO-100-1",
        "--amount",
        "400000",
    ])
    .ok();
    let out = node.kyoto(&["compliance", "MCO", "--period", "1"]).ok();
    assert!(out.contains("complies (Art. 3.1)"), "{out}");
    // Retired units never move again.
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &mco,
            "--from",
            "MCO-300-1",
            "--to",
            "MCO-100-1",
            "--amount",
            "1",
        ]),
        "UNIT_RETIRED",
    );
    // CERs for the carry-over limit: a project with Monaco's registry as participant.
    node.kyoto(&[
        "register-cdm-project",
        "--key",
        &key("CDM"),
        "--project",
        "CDM-MC",
        "--host",
        "IND",
        "--participant",
        "MCO-100-1",
    ])
    .ok();
    node.kyoto(&[
        "issue-cers",
        "--key",
        &key("CDM"),
        "--project",
        "CDM-MC",
        "--amount",
        "20000",
    ])
    .ok();
    node.kyoto(&[
        "forward-cers",
        "--key",
        &key("CDM"),
        "--project",
        "CDM-MC",
        "--to",
        "MCO-100-1",
        "--amount",
        "19600",
    ])
    .ok();
    refused(
        node.kyoto(&[
            "carry-over",
            "--key",
            &mco,
            "--from",
            "MCO-100-1",
            "--amount",
            "1000",
        ]),
        "PERIOD_NOT_ENDED",
    );
    // After the true-up (18 November 2015) retirement for period 1 closes and carry-over opens.
    node.kyoto(&["dev", "advance-time", "--to", "2015-11-20"])
        .ok();
    refused(
        node.kyoto(&[
            "retire",
            "--key",
            &mco,
            "--from",
            "MCO-100-1",
            "--amount",
            "1",
        ]),
        "PERIOD_CLOSED",
    );
    node.kyoto(&[
        "carry-over",
        "--key",
        &mco,
        "--from",
        "MCO-100-1",
        "--amount",
        "50000",
    ])
    .ok();
    assert_eq!(holding(&node, "MCO-100-1", AAU, 2), 50_000);
    let limit = aa * 25 / 1000;
    refused(
        node.kyoto(&[
            "carry-over",
            "--key",
            &mco,
            "--from",
            "MCO-100-1",
            "--unit",
            "CER",
            "--amount",
            &(limit + 1).to_string(),
        ]),
        "CARRY_OVER_LIMIT",
    );
    node.kyoto(&[
        "carry-over",
        "--key",
        &mco,
        "--from",
        "MCO-100-1",
        "--unit",
        "CER",
        "--amount",
        &limit.to_string(),
    ])
    .ok();
    assert_eq!(holding(&node, "MCO-100-1", CER, 2), limit);
    refused(
        node.kyoto(&[
            "carry-over",
            "--key",
            &mco,
            "--from",
            "MCO-100-1",
            "--unit",
            "CER",
            "--amount",
            "1",
        ]),
        "CARRY_OVER_LIMIT",
    );
    // Art. 3.13: carried-over units are added to the next period.
    let mco_party = node.kyoto(&["--output", "json", "party", "MCO"]).json();
    let aau2 = mco_party["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["unitType"] == "UNIT_TYPE_AAU" && u64_of(&p["period"]) == 2)
        .unwrap();
    assert_eq!(u64_of(&aau2["carriedIn"]), 50_000);
    // A Party that has not complied has no surplus to carry over.
    refused(
        node.kyoto(&[
            "carry-over",
            "--key",
            &key("LIE"),
            "--from",
            "LIE-100-1",
            "--amount",
            "1",
        ]),
        "NOT_IN_COMPLIANCE",
    );
}

#[test]
fn temporary_cers_are_replaced_and_expire() {
    let (_dir, node) = start();
    let board = key("CDM");
    node.kyoto(&[
        "register-cdm-project",
        "--key",
        &board,
        "--project",
        "AR-0001",
        "--host",
        "IND",
        "--participant",
        "JPN-100-1",
    ])
    .ok();
    refused(
        node.kyoto(&[
            "issue-cers",
            "--key",
            &board,
            "--project",
            "AR-0001",
            "--unit",
            "tCER",
            "--amount",
            "100",
        ]),
        "INVALID_ARGUMENT",
    );
    let issued = node
        .kyoto(&[
            "--output",
            "json",
            "issue-cers",
            "--key",
            &board,
            "--project",
            "AR-0001",
            "--unit",
            "tCER",
            "--amount",
            "100",
            "--expires",
            "2013-01-01",
        ])
        .json();
    let first = u64_of(&issued["receipt"]["applied"]["serials"][0]["start"]);
    node.kyoto(&[
        "forward-cers",
        "--key",
        &board,
        "--project",
        "AR-0001",
        "--to",
        "JPN-100-1",
        "--unit",
        "tCER",
        "--amount",
        "98",
    ])
    .ok();
    node.kyoto(&[
        "retire",
        "--key",
        &key("JPN"),
        "--from",
        "JPN-100-1",
        "--unit",
        "tCER",
        "--amount",
        "98",
    ])
    .ok();
    // The board renews the crediting period: a later expiry for the retired tCERs.
    let (start, end) = (first.to_string(), (first + 97).to_string());
    node.kyoto(&[
        "change-expiry",
        "--key",
        &board,
        "--start",
        &start,
        "--end",
        &end,
        "--expires",
        "2014-01-01",
    ])
    .ok();
    let retired = node
        .kyoto(&["--output", "json", "account", "JPN-300-1"])
        .json();
    assert_eq!(
        u64_of(&retired["serialBlocks"][0]["expiryMs"]),
        1_388_534_400_000
    );
    // Replacement: 98 AAUs into JPN-411-1; the tCERs are marked replaced.
    let replace = |r: &str| {
        node.kyoto(&[
            "replace",
            "--key",
            &key("JPN"),
            "--party",
            "JPN",
            "--expiring-start",
            &start,
            "--expiring-end",
            r,
            "--from",
            "JPN-100-1",
            "--unit",
            "AAU",
        ])
    };
    replace(&end).ok();
    assert_eq!(holding(&node, "JPN-411-1", AAU, 1), 98);
    let retired = node
        .kyoto(&["--output", "json", "account", "JPN-300-1"])
        .json();
    assert_eq!(retired["serialBlocks"][0]["replaced"], true);
    refused(replace(&end), "ALREADY_REPLACED");
    refused(replace(&(first + 200).to_string()), "UNIT_NOT_FOUND");
    // The two tCERs left in the Adaptation Fund expire with their date: they move no more,
    // and the refusal says why.
    node.kyoto(&["dev", "advance-time", "--to", "2013-01-02"])
        .ok();
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &board,
            "--from",
            "CDM-510-1",
            "--to",
            "JPN-100-1",
            "--unit",
            "tCER",
            "--amount",
            "1",
        ]),
        "UNITS_EXPIRED",
    );
    assert_eq!(holding(&node, "CDM-510-1", TCER, 1), 2);
}

#[test]
fn cancelled_units_leave_circulation_for_good() {
    let (_dir, node) = start();
    node.kyoto(&[
        "cancel",
        "--key",
        &key("NOR"),
        "--from",
        "NOR-100-1",
        "--kind",
        "voluntary",
        "--amount",
        "10",
    ])
    .ok();
    assert_eq!(holding(&node, "NOR-230-1", AAU, 1), 10);
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("NOR"),
            "--from",
            "NOR-230-1",
            "--to",
            "NOR-100-1",
            "--amount",
            "1",
        ]),
        "UNIT_CANCELLED",
    );
    refused(
        node.kyoto(&[
            "transfer",
            "--key",
            &key("NOR"),
            "--from",
            "NOR-100-1",
            "--to",
            "NOR-230-1",
            "--amount",
            "1",
        ]),
        "WRONG_ACCOUNT_TYPE",
    );
    // Cancelled units stay visible in the Party's accounting (Art. 3.10/3.11 identity).
    let nor = node.kyoto(&["--output", "json", "party", "NOR"]).json();
    assert_eq!(
        u64_of(&nor["holdingsTotal"]),
        u64_of(&nor["periods"][0]["assignedAmount"])
    );
    // ... but not toward the reserve.
    assert_eq!(
        u64_of(&nor["periods"][0]["heldForReserve"]),
        u64_of(&nor["periods"][0]["assignedAmount"]) - 10
    );
    let history = node.kyoto(&["history", "NOR-100-1"]).ok();
    assert!(
        history.contains("cancellation 10 NOR-100-1 -> NOR-230-1"),
        "{history}"
    );
}

#[test]
fn dev_time_moves_only_forward() {
    let (_dir, node) = start();
    let before = u64_of(&node.kyoto(&["--output", "json", "status"]).json()["latestBlockTimeMs"]);
    assert!(before < 1_230_768_000_000, "a dev chain starts in 2008");
    let status = node
        .kyoto(&[
            "--output",
            "json",
            "dev",
            "advance-time",
            "--to",
            "2013-01-01",
        ])
        .json();
    assert!(u64_of(&status["latestBlockTimeMs"]) >= 1_356_998_400_000);
    refused(
        node.kyoto(&["dev", "advance-time", "--to", "2010-01-01"]),
        "TIME_BACKWARDS",
    );
}

/// The README's command-by-command block runs as written against a fresh dev node.
#[test]
fn readme_mechanisms_block_runs_as_written() {
    let (dir, node) = start();
    run_readme_block(
        "### The Kyoto mechanisms, command by command",
        dir.path(),
        &node,
    );
}
