//! The README walk-through, driven through the real `kyoto` CLI against a real
//! `kyotod --dev`, then a SIGKILL and a restart: every committed transaction is still
//! there, with the same height and state root.

use kyoto_tests::NodeProcess;

fn as_u64(v: &serde_json::Value) -> u64 {
    // The protobuf JSON mapping writes 64-bit integers as strings.
    match v {
        serde_json::Value::String(s) => s.parse().unwrap(),
        serde_json::Value::Number(n) => n.as_u64().unwrap(),
        serde_json::Value::Null => 0,
        other => panic!("not an integer: {other}"),
    }
}

#[test]
fn readme_walkthrough_then_sigkill_and_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join(".kyoto-dev");
    let mut node = NodeProcess::start_dev(&data_dir);
    let jpn_key = ".kyoto-dev/dev-keys/JPN.key";

    // kyoto party JPN
    let out = node.kyoto(&["party", "JPN"]).ok();
    assert!(out.contains("JPN Japan"), "{out}");
    let jpn = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    let jpn_aa = as_u64(&jpn["periods"][0]["assignedAmount"]);
    assert_eq!(
        jpn_aa, 5_964_371_924,
        "94% of 1,269,015,303 t x 5 (Art. 3.7)"
    );
    let can_before = node
        .kyoto(&["--output", "json", "account", "CAN-100-1"])
        .json();

    // kyoto transfer … --amount 250
    let out = node
        .kyoto(&[
            "transfer",
            "--key",
            jpn_key,
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--unit",
            "AAU",
            "--period",
            "1",
            "--amount",
            "250",
        ])
        .ok();
    assert!(out.contains("external_transfer"), "{out}");
    assert!(
        out.contains("JPN AAU 1..=250"),
        "the lowest serials move: {out}"
    );

    // kyoto account CAN-100-1
    let can = node
        .kyoto(&["--output", "json", "account", "CAN-100-1"])
        .json();
    assert_eq!(as_u64(&can["total"]), as_u64(&can_before["total"]) + 250);
    let blocks = can["serialBlocks"].as_array().unwrap();
    assert!(
        blocks
            .iter()
            .any(|b| b["origin"] == "JPN" && as_u64(&b["start"]) == 1 && as_u64(&b["end"]) == 250)
    );

    // kyoto party CAN: Art. 3.10 acquired; JPN: Art. 3.11 transferred.
    let can_party = node.kyoto(&["--output", "json", "party", "CAN"]).json();
    assert_eq!(as_u64(&can_party["periods"][0]["acquired"]), 250);
    let jpn = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    assert_eq!(as_u64(&jpn["periods"][0]["transferred"]), 250);
    assert_eq!(
        as_u64(&jpn["periods"][0]["adjustedAssignedAmount"]),
        jpn_aa - 250
    );

    // kyoto issue … --amount 1: refused, exit non-zero, code and rule printed.
    let refused = node.kyoto(&[
        "issue", "--key", jpn_key, "--party", "JPN", "--unit", "AAU", "--period", "1", "--amount",
        "1",
    ]);
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("ISSUANCE_EXCEEDS_ASSIGNED_AMOUNT"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("Art. 3.7"), "{}", refused.stderr);

    // A trader: key, entity account in Japan's registry, internal transfer into it,
    // and a transfer the trader signs back out.
    node.kyoto(&["keys", "generate", "--out", "trader.key"])
        .ok();
    let show = node
        .kyoto(&["--output", "json", "keys", "show", "trader.key"])
        .json();
    assert_eq!(show["publicKey"].as_str().unwrap().len(), 64);
    let opened = node
        .kyoto(&[
            "--output",
            "json",
            "open-account",
            "--key",
            jpn_key,
            "--party",
            "JPN",
            "--holder-name",
            "Tokyo Trading KK",
            "--holder-key",
            "trader.key",
        ])
        .json();
    let entity = opened["receipt"]["applied"]["toAccount"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(entity, "JPN-120-1");
    let moved = node
        .kyoto(&[
            "--output",
            "json",
            "transfer",
            "--key",
            jpn_key,
            "--from",
            "JPN-100-1",
            "--to",
            &entity,
            "--amount",
            "1000",
        ])
        .json();
    assert_eq!(moved["receipt"]["applied"]["kind"], "internal_transfer");
    let back = node
        .kyoto(&[
            "--output",
            "json",
            "transfer",
            "--key",
            "trader.key",
            "--from",
            &entity,
            "--to",
            "DEU-100-1",
            "--amount",
            "10",
        ])
        .json();
    assert_eq!(back["receipt"]["applied"]["kind"], "external_transfer");
    // The trader cannot move Japan's own units.
    let denied = node.kyoto(&[
        "transfer",
        "--key",
        "trader.key",
        "--from",
        "JPN-100-1",
        "--to",
        &entity,
        "--amount",
        "1",
    ]);
    assert!(
        !denied.success && denied.stderr.contains("NOT_AUTHORISED"),
        "{}",
        denied.stderr
    );

    let tx_hashes: Vec<String> = [&opened, &moved, &back]
        .iter()
        .map(|v| v["txHash"].as_str().unwrap().to_owned())
        .collect();
    let status = node.kyoto(&["--output", "json", "status"]).json();
    let height = as_u64(&status["height"]);
    assert!(height >= 4, "four transactions were committed: {status}");
    let block = node.kyoto(&["--output", "json", "block", "1"]).json();
    assert_eq!(as_u64(&block["block"]["header"]["height"]), 1);

    // SIGKILL and restart on the same data directory.
    node.kill9();
    let node = NodeProcess::start_dev(&data_dir);
    let after = node.kyoto(&["--output", "json", "status"]).json();
    assert_eq!(as_u64(&after["height"]), height);
    assert_eq!(after["stateRoot"], status["stateRoot"]);
    assert_eq!(after["latestBlockHash"], status["latestBlockHash"]);
    assert_eq!(after["genesisHash"], status["genesisHash"]);
    for hash in &tx_hashes {
        // The CLI prints ids in hex, as it takes them.
        assert_eq!(hash.len(), 64, "a hex transaction hash: {hash}");
        let tx = node.kyoto(&["--output", "json", "tx", hash]).json();
        assert_eq!(tx["status"], "TRANSACTION_STATUS_COMMITTED", "{tx}");
    }
    let can_after = node
        .kyoto(&["--output", "json", "account", "CAN-100-1"])
        .json();
    assert_eq!(can_after, can);
    // The node goes on committing after the restart, with the same keys.
    node.kyoto(&[
        "transfer",
        "--key",
        jpn_key,
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--amount",
        "5",
    ])
    .ok();
}
