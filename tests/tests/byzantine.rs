//! One lying validator among four (a kyotod built with the test-only feature
//! `byzantine`, `kyotod --byzantine LIES`; see node/src/consensus/byzantine.rs). The
//! honest three must stay live and agree, commit no block that breaks a rule, and
//! name the liar in their logs and status.

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use kyoto_tests::cluster::Cluster;
use kyoto_tests::json_u64;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const LIMIT: Duration = Duration::from_secs(120);
const LIAR: usize = 3;

fn log(c: &Cluster, i: usize) -> String {
    std::fs::read_to_string(c.log(i)).unwrap_or_default()
}

/// Whether an honest validator's log has a line with every one of `needles`.
fn honest_logged(c: &Cluster, needles: &[&str]) -> bool {
    (0..c.len()).filter(|i| *i != LIAR).any(|i| {
        log(c, i)
            .lines()
            .any(|l| needles.iter().all(|n| l.contains(n)))
    })
}

fn transfer(c: &Cluster, i: usize, key: &str, from: &str) -> String {
    let r = c
        .kyoto(
            i,
            &[
                "--output",
                "json",
                "transfer",
                "--key",
                key,
                "--from",
                from,
                "--to",
                "CAN-100-1",
                "--amount",
                "1",
                "--unit",
                "AAU",
                "--period",
                "1",
                "--no-wait",
            ],
        )
        .json();
    r["txHash"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_validator_that_equivocates_proposes_lies_and_floods_gossip_cannot_fork_or_stall_the_others() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let block_lies = [
        // (lie, what an honest validator logs when it refuses it)
        // (the logs are JSON: a code is matched with its quotes, so that OTHER_PARENT
        // is not found inside OTHER_PARENT_STATE_ROOT)
        ("bad-parent", "\"code\":\"OTHER_PARENT\""),
        ("wrong-state-root", "\"code\":\"OTHER_PARENT_STATE_ROOT\""),
        ("bad-signature", "BAD_SIGNATURE"),
        ("tx-mismatch", "\"code\":\"TRANSACTIONS_MISMATCH\""),
        ("future-timestamp", "timestamped too far ahead"),
        ("stale-timestamp", "\"code\":\"TIMESTAMP_NOT_AFTER_PARENT\""),
        ("past-year-9999", "\"code\":\"TIMESTAMP_PAST_LIMIT\""),
    ];
    let mut lies: Vec<&str> = block_lies.iter().map(|(l, _)| *l).collect();
    lies.extend(["equivocate", "gossip-junk"]);
    let c = Cluster::start_lying(dir.path(), 4, LIAR, &lies.join(","));
    let liar_key = c.public_key(LIAR);
    let honest: Vec<String> = (0..4)
        .filter(|i| *i != LIAR)
        .map(|i| c.node(i).url.clone())
        .collect();
    // Parties keep submitting through the honest validators until every lie was
    // told and refused.
    let senders = [
        ("dev-keys/JPN.key", "JPN-100-1"),
        ("dev-keys/NZL.key", "NZL-100-1"),
        ("dev-keys/NOR.key", "NOR-100-1"),
    ];
    let mut hashes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        for (i, (key, from)) in senders.iter().enumerate() {
            let h = transfer(&c, i, key, from);
            if !h.is_empty() {
                hashes.push(h);
            }
        }
        let refused_all = block_lies
            .iter()
            .all(|(_, code)| honest_logged(&c, &[code, &liar_key]));
        let equivocation = honest_logged(&c, &["validators equivocated"]);
        if refused_all && equivocation {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every lie was told and refused in time: {:?} equivocation seen {equivocation} (logs in {})",
            block_lies
                .iter()
                .filter(|(_, code)| !honest_logged(&c, &[code, &liar_key]))
                .collect::<Vec<_>>(),
            dir.path().display()
        );
        thread::sleep(Duration::from_millis(500));
    }
    // The honest three are live: every transfer acknowledged commits on all of them.
    let top = honest
        .iter()
        .map(|u| json_u64(&Cluster::status(u, &c.dir)["height"]))
        .max()
        .unwrap_or(0);
    c.wait_all_at(&honest, top + 2, LIMIT);
    for hash in &hashes {
        for url in &honest {
            let deadline = Instant::now() + LIMIT;
            loop {
                let tx = kyoto_tests::kyoto(url, &c.dir, &["--output", "json", "tx", hash]).json();
                if tx["status"] == "TRANSACTION_STATUS_COMMITTED" {
                    break;
                }
                assert!(Instant::now() < deadline, "{hash} on {url}: {tx}");
                thread::sleep(Duration::from_millis(200));
            }
        }
    }
    // No fork: the liar too follows the one chain the honest validators commit.
    let top = top + 2;
    let all = c.urls();
    c.wait_all_at(&all, top, LIMIT);
    c.assert_same_chain(&all, top);
    // No committed block breaks a rule: timestamps increase and stay behind the
    // clocks, and no block carries the liar's forged transaction.
    let mut last = 0i64;
    for h in 1..=top {
        let b = kyoto_tests::kyoto(
            &honest[0],
            &c.dir,
            &["--output", "json", "block", &h.to_string()],
        )
        .json();
        let t = &b["block"]["header"]["timestampMs"];
        let t = t
            .as_str()
            .and_then(|s| s.parse::<i64>().ok())
            .or_else(|| t.as_i64())
            .unwrap_or(0);
        assert!(t > last, "block {h}: timestamp {t} after {last}: {b}");
        last = t;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        last <= now + 5_000,
        "a committed block from the future: {last}"
    );
    // The junk gossiped never reached a mempool, and each honest validator names
    // the last fault it saw (a refused proposal or the equivocation).
    for url in &honest {
        let s = Cluster::status(url, &c.dir);
        assert!(json_u64(&s["mempoolSize"]) < 1_000, "{s}");
        let fault = s["lastFault"].as_str().unwrap_or_default();
        assert!(
            fault.contains(&liar_key) || fault.contains("equivocation"),
            "{url}: {s}"
        );
    }
    assert!(
        honest_logged(&c, &["validators equivocated"]),
        "equivocation evidence"
    );
    // Only the liar is named as equivocating.
    let named = c.equivocators();
    assert_eq!(named, [liar_key].into_iter().collect(), "equivocators");
}

#[test]
fn a_catching_up_validator_refuses_forged_blocks_and_catches_up_from_honest_peers() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_lying(dir.path(), 4, LIAR, "forge-sync");
    c.wait_all_at(&c.urls(), 2, LIMIT);
    // Validator 1 stops; when it comes back it can reach only the liar.
    c.kill9(0);
    c.link(0, 1, false);
    c.link(0, 2, false);
    let behind = c.height(1);
    c.wait_all_at(&[c.node(1).url.clone()], behind + 12, LIMIT);
    c.start_validator(0);
    let deadline = Instant::now() + LIMIT;
    while !log(&c, LIAR).contains("serving a forged committed block") {
        assert!(
            Instant::now() < deadline,
            "the liar was never asked for blocks (logs in {})",
            dir.path().display()
        );
        thread::sleep(Duration::from_millis(200));
    }
    // It refuses the forged blocks (the liar may have served some to the others
    // before, so wait for this validator's own refusal)...
    while !log(&c, 0).contains("a peer served a committed block whose transactions are not") {
        assert!(
            Instant::now() < deadline,
            "validator 1 never refused a forged block (logs in {})",
            dir.path().display()
        );
        thread::sleep(Duration::from_millis(200));
    }
    // ...took none of them, and is still running.
    let stuck = c.height(0);
    assert!(stuck <= behind + 1, "took forged blocks: at {stuck}");
    assert!(c.is_running(0), "a forged block stopped the validator");
    let s = Cluster::status(&c.node(0).url, &c.dir);
    assert!(
        s["lastFault"]
            .as_str()
            .unwrap_or_default()
            .contains("forged committed block"),
        "{s}"
    );
    // Reconnected to the honest validators, it catches up on the one chain.
    c.link(0, 1, true);
    c.link(0, 2, true);
    let target = c.height(1);
    c.wait_all_at(&[c.node(0).url.clone()], target, LIMIT);
    let urls = c.urls();
    c.assert_same_chain(&urls, target);
}
