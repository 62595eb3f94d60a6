//! Any Party set on a dev chain: `kyotod init --parties FILE` writes a genesis from a
//! Parties table, and `kyotod --dev --genesis FILE --validator-key FILE` runs it with
//! the dev clock, so that an auditor can replay a treaty history on the Parties it
//! cares about (through the real binaries).

use std::process::Command;

use kyoto_tests::{NodeProcess, bin};

const PARTIES: &str = "\
code,name,kind,annex_i,annex_b_percent,eit,base_year_t_co2e,member_of,status,in_force_since
NOR,Norway,state,1,101,0,51000000,,in_force,2005-02-16
NZL,New Zealand,state,1,100,0,64000000,,in_force,2005-02-16
ISL,\"Iceland, Republic of\",state,1,110,0,3500000,,in_force,2005-02-16
BRA,Brazil,state,0,,0,,,in_force,2005-02-16
";

#[test]
fn a_dev_chain_runs_a_genesis_made_from_any_parties_table() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("parties.csv");
    std::fs::write(&csv, PARTIES).unwrap();
    let net = dir.path().join("audit");
    let init = Command::new(bin("kyotod"))
        .args([
            "init",
            "--validators",
            "1",
            "--chain-id",
            "audit-1",
            "--parties",
        ])
        .arg(&csv)
        .arg("--dir")
        .arg(&net)
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");

    // A table that makes no valid genesis is refused, and nothing is written.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, PARTIES.replace("NOR,Norway", "NOR,Norway,extra")).unwrap();
    let refused = Command::new(bin("kyotod"))
        .args(["init", "--validators", "1", "--parties"])
        .arg(&bad)
        .arg("--dir")
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("bad.csv"),
        "{refused:?}"
    );
    assert!(!dir.path().join("bad/genesis.json").exists());

    let genesis = net.join("genesis.json");
    let validator = net.join("validator-1/validator.key");
    let node = NodeProcess::start(
        &dir.path().join("node"),
        &[
            "--dev",
            "--genesis",
            genesis.to_str().unwrap(),
            "--validator-key",
            validator.to_str().unwrap(),
        ],
    );
    let kyoto = |args: &[&str]| kyoto_tests::kyoto(&node.url, &net, args);
    let parties = kyoto(&["--output", "json", "parties"]).json();
    let codes: Vec<&str> = parties["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["BRA", "ISL", "NOR", "NZL"]);
    assert_eq!(parties["parties"][1]["name"], "Iceland, Republic of");

    // Units move between the table's Parties, and dev time moves on demand.
    let sent = kyoto(&[
        "--output",
        "json",
        "transfer",
        "--key",
        "dev-keys/NOR.key",
        "--from",
        "NOR-100-1",
        "--to",
        "NZL-100-1",
        "--amount",
        "1000",
    ])
    .json();
    assert_eq!(
        sent["receipt"]["applied"]["kind"], "external_transfer",
        "{sent}"
    );
    let status = kyoto(&["dev", "advance-time", "--to", "2013-01-01"]).ok();
    assert!(status.contains("2013-01-01T"), "{status}");
    let nzl = kyoto(&["--output", "json", "party", "NZL"]).json();
    let acquired: u64 = nzl["positions"][0]["acquired"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(acquired, 1000, "{nzl}");

    // A genesis with more than one validator is not a dev chain.
    drop(node);
    let four = dir.path().join("four");
    assert!(
        Command::new(bin("kyotod"))
            .args(["init", "--validators", "4", "--parties"])
            .arg(&csv)
            .arg("--dir")
            .arg(&four)
            .status()
            .unwrap()
            .success()
    );
    let (ok, stderr) = kyoto_tests::kyotod_exit(
        &[
            "--dev",
            "--genesis",
            four.join("genesis.json").to_str().unwrap(),
            "--validator-key",
            four.join("validator-1/validator.key").to_str().unwrap(),
            "--data-dir",
            dir.path().join("four-node").to_str().unwrap(),
            "--grpc-addr",
            "127.0.0.1:0",
        ],
        std::time::Duration::from_secs(30),
    );
    assert!(
        !ok && stderr.contains("a dev chain has one validator"),
        "{stderr}"
    );
}
