//! A read-only replica: `kyotod --observer` follows a validator, verifies every block's
//! commit certificate and transactions, reaches the same state root, serves queries
//! and refuses submissions; after SIGKILL it resumes where it stopped.

use std::time::{Duration, Instant};

use kyoto_tests::{NodeProcess, assert_refused, dev_key, json_u64};

fn status(node: &NodeProcess) -> serde_json::Value {
    node.kyoto(&["--output", "json", "status"]).json()
}

/// Waits until the observer reports the validator's height and state root.
fn wait_in_sync(validator: &NodeProcess, observer: &NodeProcess) -> serde_json::Value {
    let want = status(validator);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = status(observer);
        if got["height"] == want["height"] {
            assert_eq!(
                got["stateRoot"], want["stateRoot"],
                "same blocks, same state root"
            );
            assert_eq!(got["latestBlockHash"], want["latestBlockHash"]);
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "observer stuck at {} of {}",
            got["height"],
            want["height"]
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn transfer(node: &NodeProcess, amount: &str) {
    node.kyoto(&[
        "transfer",
        "--key",
        &dev_key("JPN"),
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--amount",
        amount,
    ])
    .ok();
}

#[test]
fn an_observer_follows_verifies_and_refuses_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let validator = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    transfer(&validator, "250");
    transfer(&validator, "5");
    let genesis = dir.path().join(".kyoto-dev/genesis.json");
    let observer_dir = dir.path().join("observer");
    let args = [
        "--observer",
        "--genesis",
        genesis.to_str().unwrap(),
        "--sync-from",
        &validator.url,
    ];
    let mut observer = NodeProcess::start(&observer_dir, &args);
    let s = wait_in_sync(&validator, &observer);
    assert_eq!(s["role"], "observer");
    assert!(json_u64(&s["height"]) >= 2);
    // Its status tells the truth: following the validator, in step, serving.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let s = loop {
        let s = observer.kyoto(&["--output", "json", "status"]).json();
        if s["syncState"] == "in_step" || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(s["syncState"], "in_step", "{s}");
    assert_eq!(s["serving"], true, "{s}");
    assert!(s.get("behind").is_none(), "{s}");
    assert_eq!(json_u64(&s["validatorCount"]), 1, "{s}");
    assert!(s.get("validatorPosition").is_none(), "not a validator: {s}");
    let text = observer.kyoto(&["status"]).ok();
    assert!(text.contains("sync:        in_step"), "{text}");
    // Queries answer from the replica's own copy.
    let can = observer
        .kyoto(&["--output", "json", "account", "CAN-100-1"])
        .json();
    assert_eq!(
        can,
        validator
            .kyoto(&["--output", "json", "account", "CAN-100-1"])
            .json()
    );
    let block = observer.kyoto(&["--output", "json", "block", "1"]).json();
    assert_eq!(
        block["certificate"]["signatures"].as_array().map(Vec::len),
        Some(1)
    );
    // A replica never accepts transactions.
    let r = observer.kyoto(&[
        "transfer",
        "--key",
        &dev_key("JPN"),
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--amount",
        "1",
    ]);
    assert_refused(r, "READ_ONLY_REPLICA");
    // New blocks reach it as they are committed.
    transfer(&validator, "7");
    wait_in_sync(&validator, &observer);
    // SIGKILL, more blocks meanwhile, restart: it resumes and catches up.
    observer.kill9();
    transfer(&validator, "11");
    validator
        .kyoto(&["dev", "advance-time", "--to", "2009-01-01"])
        .ok();
    let observer = NodeProcess::start(&observer_dir, &args);
    wait_in_sync(&validator, &observer);
}

/// Dev time moved to the end of the calendar: the dev node refuses a jump into the
/// year 9999 (it would leave no timestamps for the blocks after it), and after the
/// latest jump it allows, its blocks still pass every check an observer makes.
#[test]
fn dev_time_at_its_limit_leaves_blocks_an_observer_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let validator = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    for to in ["9999-12-31T23:59:59.999Z", "9999-01-01"] {
        let r = validator.kyoto(&["dev", "advance-time", "--to", to]);
        assert_refused(r, "TIME_OUT_OF_RANGE");
    }
    validator
        .kyoto(&["dev", "advance-time", "--to", "9998-12-31T23:59:59.999Z"])
        .ok();
    transfer(&validator, "3");
    transfer(&validator, "4");
    let block = validator.kyoto(&["--output", "json", "block", "3"]).json();
    let ts = json_u64(&block["block"]["header"]["timestampMs"]);
    // The CLI reads the time to the second.
    assert!(
        ts > 253_370_764_799_000 && ts <= 253_402_300_799_999,
        "{ts}"
    );
    let genesis = dir.path().join(".kyoto-dev/genesis.json");
    let observer = NodeProcess::start(
        &dir.path().join("observer"),
        &[
            "--observer",
            "--genesis",
            genesis.to_str().unwrap(),
            "--sync-from",
            &validator.url,
        ],
    );
    wait_in_sync(&validator, &observer);
}
