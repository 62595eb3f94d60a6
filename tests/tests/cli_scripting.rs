//! The CLI as scripts drive it, through the real `kyoto` against a real `kyotod --dev`:
//! documented exit statuses, failures as JSON on stdout in JSON mode, ids in hex that
//! the CLI takes back, and a closed stdout that ends the command quietly.

use std::process::{Command, Stdio};

use kyoto_tests::cluster::free_port;
use kyoto_tests::{NodeProcess, bin, dev_key, kyoto};

#[test]
fn exit_statuses_json_failures_hex_ids_and_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    let jpn = dev_key("JPN");

    // A transfer's hash comes back in hex and `kyoto tx` takes it as printed.
    let sent = node
        .kyoto(&[
            "--output",
            "json",
            "transfer",
            "--key",
            &jpn,
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--unit",
            "AAU",
            "--period",
            "1",
            "--amount",
            "5",
        ])
        .json();
    let hash = sent["txHash"].as_str().unwrap().to_owned();
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sent}"
    );
    let tx = node.kyoto(&["--output", "json", "tx", &hash]).json();
    assert_eq!(tx["status"], "TRANSACTION_STATUS_COMMITTED");
    assert_eq!(tx["txHash"], hash.as_str());
    let signer = tx["receipt"]["signer"].as_str().unwrap();
    assert_eq!(signer.len(), 64, "{tx}");

    // Tables: quantities with thousands separators, dates in ISO 8601 (UTC), and the
    // commit certificate of a block.
    let party = node.kyoto(&["party", "JPN"]).ok();
    assert!(party.contains("assigned amount 5,964,371,924"), "{party}");
    let status = node.kyoto(&["status"]).ok();
    assert!(status.contains("block time:  20"), "{status}");
    assert!(!status.contains(" ms"), "{status}");
    let block = node.kyoto(&["block", "1"]).ok();
    assert!(block.contains("time:         2008-01-01T"), "{block}");
    assert!(
        block.contains("certificate:  round 0, 1 precommit"),
        "{block}"
    );
    assert!(block.contains("  signed by "), "{block}");
    let history = node.kyoto(&["history", "CAN-100-1"]).ok();
    assert!(history.contains("  2008-01-01T"), "{history}");

    // Refused by the ledger's rules at admission: status 1, the refusal as JSON.
    let over = node.kyoto(&[
        "--output",
        "json",
        "transfer",
        "--key",
        &jpn,
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--unit",
        "AAU",
        "--period",
        "1",
        "--amount",
        "999999999999",
    ]);
    assert_eq!(over.code, Some(1), "{over:?}");
    let err: serde_json::Value = serde_json::from_str(&over.stdout).unwrap();
    assert_eq!(err["error"]["code"], "INSUFFICIENT_UNITS", "{err}");
    assert_eq!(err["error"]["exitStatus"], 1);
    assert!(over.stderr.contains("refused: INSUFFICIENT_UNITS:"));

    // Refused inside its block (queued behind the signer's next transaction, so never
    // dry-run at admission): `kyoto tx` ends with status 1 and the receipt's refusal.
    let transfer = |nonce: &str, amount: &str, wait: bool| {
        let mut args = vec![
            "--output",
            "json",
            "transfer",
            "--key",
            &jpn,
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--unit",
            "AAU",
            "--period",
            "1",
            "--amount",
            amount,
            "--nonce",
            nonce,
        ];
        if !wait {
            args.push("--no-wait");
        }
        node.kyoto(&args).json()
    };
    let queued = transfer("3", "999999999999", false);
    let queued = queued["txHash"].as_str().unwrap().to_owned();
    transfer("2", "1", true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let refused = loop {
        let r = node.kyoto(&["--output", "json", "tx", &queued]);
        if r.code != Some(0) || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(refused.code, Some(1), "{refused:?}");
    let tx: serde_json::Value = serde_json::from_str(&refused.stdout).unwrap();
    assert_eq!(
        tx["status"], "TRANSACTION_STATUS_COMMITTED",
        "one document: {tx}"
    );
    assert_eq!(
        tx["receipt"]["refused"]["code"], "INSUFFICIENT_UNITS",
        "{tx}"
    );

    // Not found: an unknown transaction, an unknown account. Status 3.
    let unknown = node.kyoto(&["tx", &"0".repeat(64)]);
    assert_eq!(unknown.code, Some(3), "{unknown:?}");
    assert!(
        unknown.stderr.contains("no transaction"),
        "{}",
        unknown.stderr
    );
    let unknown = node.kyoto(&["--output", "json", "account", "JPN-100-99"]);
    assert_eq!(unknown.code, Some(3), "{unknown:?}");
    let err: serde_json::Value = serde_json::from_str(&unknown.stdout).unwrap();
    assert_eq!(err["error"]["code"], "UNKNOWN_ACCOUNT", "{err}");

    // Bad input: status 2, before anything is sent.
    let bad = node.kyoto(&["--output", "json", "tx", "not-hex"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    let err: serde_json::Value = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(err["error"]["code"], "USAGE", "{err}");
    assert_eq!(node.kyoto(&["transfer", "--amount"]).code, Some(2));

    // Completions and the manual page come with the binary (no node needed).
    let url = format!("http://127.0.0.1:{}", free_port());
    for shell in ["bash", "zsh", "fish"] {
        let script = kyoto(&url, dir.path(), &["completions", shell]).ok();
        assert!(script.contains("transfer"), "{shell}: {script}");
    }
    let man = kyoto(&url, dir.path(), &["man"]).ok();
    assert!(man.contains(".TH kyoto"), "{man}");

    // Keys: `keys show` prints the fingerprint; a key file others can read is refused
    // (as ssh does), before anything is signed.
    let key = dir.path().join("mine.key");
    let key = key.to_str().unwrap();
    kyoto(&url, dir.path(), &["keys", "generate", "--out", key]).ok();
    let shown = kyoto(&url, dir.path(), &["--output", "json", "keys", "show", key]).json();
    assert_eq!(shown["fingerprint"].as_str().unwrap().len(), 39, "{shown}");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let open = node.kyoto(&[
        "transfer",
        "--key",
        key,
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--amount",
        "1",
    ]);
    assert_eq!(open.code, Some(2), "{open:?}");
    assert!(open.stderr.contains("chmod 600"), "{}", open.stderr);

    // No node: status 4.
    let away = kyoto(&url, dir.path(), &["status"]);
    assert_eq!(away.code, Some(4), "{away:?}");
    assert!(
        away.stderr.contains("cannot reach the node"),
        "{}",
        away.stderr
    );

    // A reader that closed the pipe before the answer came (`kyoto status | true`):
    // the command ends quietly with status 0, never a panic.
    for args in [vec!["status"], vec!["--output", "json", "block", "1"]] {
        let mut child = Command::new(bin("kyoto"))
            .arg("--node")
            .arg(&node.url)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }

    // Waiting for a block says what it waits for after a second (stderr), and an
    // accepted transaction that is not committed in time ends with status 5: this one
    // waits behind nonces 4 and 5, which were never sent.
    let slow = node.kyoto(&[
        "transfer",
        "--key",
        &jpn,
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--amount",
        "1",
        "--nonce",
        "6",
        "--wait-secs",
        "2",
    ]);
    assert_eq!(slow.code, Some(5), "{slow:?}");
    assert!(
        slow.stderr.contains("waiting for transaction") && slow.stderr.contains("now pending"),
        "{}",
        slow.stderr
    );
    assert!(
        slow.stderr.contains("not committed within 2 s"),
        "{}",
        slow.stderr
    );

    // `kyoto watch --party CAN` follows the transactions that touch Canada's accounts as
    // their blocks commit (JSON Lines), from a given height.
    let status = node.kyoto(&["--output", "json", "status"]).json();
    let next = status["height"].as_str().unwrap().parse::<u64>().unwrap() + 1;
    let watcher = Command::new(bin("kyoto"))
        .arg("--node")
        .arg(&node.url)
        .args([
            "--output", "json", "watch", "--party", "CAN", "--count", "1",
        ])
        .args(["--from-height", &next.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sent = node
        .kyoto(&[
            "--output",
            "json",
            "transfer",
            "--key",
            &jpn,
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--amount",
            "7",
            "--nonce",
            "4",
        ])
        .json();
    let out = watcher.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(line["receipt"]["txHash"], sent["txHash"], "{line}");
    assert_eq!(line["receipt"]["applied"]["toAccount"], "CAN-100-1");
    assert!(line["time"].as_str().unwrap().starts_with("20"), "{line}");
}
