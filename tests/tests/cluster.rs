//! Many registries, one log: four validators in BFT consensus (Malachite) on
//! loopback, plus an observer. Each scenario runs real `kyotod` processes; they run
//! one at a time (a 2-core machine runs one network well, not two), each under a
//! hard time limit with generous waits inside.

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use kyoto_tests::cluster::Cluster;
use kyoto_tests::json_u64;
use tonic_health::pb::health_check_response::ServingStatus;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const LIMIT: Duration = Duration::from_secs(90);

fn transfer_args<'a>(party: &'a str, from: &'a str, amount: &'a str) -> Vec<&'a str> {
    vec![
        "--output",
        "json",
        "transfer",
        "--key",
        party,
        "--from",
        from,
        "--to",
        "CAN-100-1",
        "--amount",
        amount,
        "--unit",
        "AAU",
        "--period",
        "1",
        "--wait-secs",
        "60",
    ]
}

/// Waits until validator 1 reports transaction `hash` (hex) committed.
fn wait_committed(c: &Cluster, hash: &str, what: &str) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let tx = c.kyoto(0, &["--output", "json", "tx", hash]).json();
        if tx["status"] == "TRANSACTION_STATUS_COMMITTED" {
            break;
        }
        assert!(Instant::now() < deadline, "{what}: {tx}");
        thread::sleep(Duration::from_millis(200));
    }
}

fn can_total(c: &Cluster, url: &str) -> u64 {
    let a = kyoto_tests::kyoto(url, &c.dir, &["--output", "json", "account", "CAN-100-1"]).json();
    json_u64(&a["total"])
}

fn max_height(c: &Cluster, urls: &[String]) -> u64 {
    urls.iter()
        .map(|u| json_u64(&Cluster::status(u, &c.dir)["height"]))
        .max()
        .unwrap_or(0)
}

#[test]
fn four_validators_and_an_observer_commit_each_transfer_once_in_one_order() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 4, &[]);
    c.start_observer(0);
    let before = can_total(&c, &c.node(0).url.clone());
    // Four Parties submit at once, each to a different validator.
    let senders = [
        ("dev-keys/JPN.key", "JPN-100-1", "11"),
        ("dev-keys/NZL.key", "NZL-100-1", "12"),
        ("dev-keys/NOR.key", "NOR-100-1", "13"),
        ("dev-keys/CHE.key", "CHE-100-1", "14"),
    ];
    let hashes: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = senders
            .iter()
            .enumerate()
            .map(|(i, (key, from, amount))| {
                let c = &c;
                s.spawn(move || {
                    let r = c.kyoto(i, &transfer_args(key, from, amount)).json();
                    r["txHash"].as_str().unwrap_or_default().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(hashes.iter().all(|h| !h.is_empty()), "{hashes:?}");
    let urls = c.urls();
    let top = max_height(&c, &urls);
    c.wait_all_at(&urls, top, LIMIT);
    c.assert_same_chain(&urls, top);
    // Each transfer is in exactly one block, and the units arrived once.
    let mut seen = Vec::new();
    for h in 1..=top {
        let b = kyoto_tests::kyoto(
            &urls[0],
            &c.dir,
            &["--output", "json", "block", &h.to_string()],
        )
        .json();
        for t in b["transactionHashes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            seen.push(t.as_str().unwrap_or_default().to_owned());
        }
    }
    seen.sort();
    let mut want = hashes.clone();
    want.sort();
    assert_eq!(seen, want, "every transfer committed exactly once");
    for url in &urls {
        assert_eq!(can_total(&c, url), before + 11 + 12 + 13 + 14, "{url}");
    }
    // The observer verified every certificate and reached the same state.
    let obs = Cluster::status(&urls[4], &c.dir);
    assert_eq!(obs["role"], "observer");
    // Each validator knows its place in the set, its peers and its standing.
    let mut places = Vec::new();
    for url in &urls[..4] {
        let s = Cluster::status(url, &c.dir);
        assert_eq!(
            (
                s["role"].as_str(),
                s["syncState"].as_str(),
                s["serving"].as_bool()
            ),
            (Some("validator"), Some("in_step"), Some(true)),
            "{s}"
        );
        assert_eq!(s["validatorCount"], 4, "{s}");
        assert_eq!(
            (
                s["gossipPeersConfigured"].as_u64(),
                s["consensusPeersConfigured"].as_u64()
            ),
            (Some(3), Some(3)),
            "{s}"
        );
        places.push(s["validatorPosition"].as_u64().unwrap_or(0));
    }
    places.sort();
    assert_eq!(places, [1, 2, 3, 4]);
    // A transfer submitted to one validator is gossiped to all: it commits even if
    // that validator dies right after accepting it.
    let mut args = transfer_args("dev-keys/JPN.key", "JPN-100-1", "9");
    args.push("--no-wait");
    let hash = (c.kyoto(3, &args).json()["txHash"]
        .as_str()
        .unwrap_or_default())
    .to_owned();
    thread::sleep(Duration::from_millis(500));
    c.kill9(3);
    wait_committed(&c, &hash, "the gossiped transfer was lost");
    assert!(!c.equivocation_reported());
}

#[test]
fn a_validator_killed_under_load_catches_up_and_loses_nothing() {
    let _one = serial();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 4, &[]);
    c.wait_all_at(&c.urls(), 2, LIMIT);
    let url0 = c.node(0).url.clone();
    let before = can_total(&c, &url0);
    // Load: JPN keeps transferring through validator 1 while validator 3 dies and
    // comes back.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let net_dir = c.dir.clone();
    let sent = thread::scope(|s| {
        let load = s.spawn(|| {
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut args = transfer_args("dev-keys/JPN.key", "JPN-100-1", "1");
                args.push("--no-wait");
                let r = kyoto_tests::kyoto(&url0, &net_dir, &args);
                if r.success {
                    sent += 1;
                }
                thread::sleep(Duration::from_millis(50));
            }
            sent
        });
        thread::sleep(Duration::from_secs(2));
        c.kill9(2);
        thread::sleep(Duration::from_secs(4));
        c.start_validator(2);
        let target = c.height(0) + 2;
        c.wait_all_at(&[c.node(2).url.clone()], target, LIMIT);
        thread::sleep(Duration::from_secs(1));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        load.join().unwrap()
    });
    assert!(sent > 0);
    // Everything validator 1 accepted is committed, on every validator.
    let urls = c.urls();
    let deadline = Instant::now() + LIMIT;
    while can_total(&c, &url0) < before + sent {
        assert!(Instant::now() < deadline, "transfers were lost");
        thread::sleep(Duration::from_millis(200));
    }
    let top = max_height(&c, &urls);
    c.wait_all_at(&urls, top, LIMIT);
    c.assert_same_chain(&urls, top);
    for url in &urls {
        assert_eq!(can_total(&c, url), before + sent, "{url}");
    }
    assert!(
        !c.equivocation_reported(),
        "a restarted validator signed twice"
    );
    assert!(started.elapsed() < Duration::from_secs(240));
}

/// The gRPC health status of the ledger service at `url`.
fn health(url: &str) -> i32 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let channel = tonic::transport::Channel::from_shared(url.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap();
        tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest {
                service: "kyoto.v1.Ledger".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status
    })
}

#[test]
fn without_a_quorum_nothing_commits_and_progress_resumes_with_it() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 4, &[]);
    c.wait_all_at(&c.urls(), 2, LIMIT);
    c.kill9(2);
    c.kill9(3);
    // Let whatever was in flight settle, then watch: two of four cannot commit.
    thread::sleep(Duration::from_secs(3));
    let stalled = c.height(0).max(c.height(1));
    let mut args = transfer_args("dev-keys/JPN.key", "JPN-100-1", "3");
    args.push("--no-wait");
    let r = c.kyoto(0, &args).json();
    let hash = r["txHash"].as_str().unwrap_or_default().to_owned();
    thread::sleep(Duration::from_secs(6));
    assert_eq!(c.height(0), stalled, "no block without a quorum");
    assert_eq!(c.height(1), stalled, "no block without a quorum");
    let tx = c.kyoto(0, &["--output", "json", "tx", &hash]).json();
    assert_eq!(tx["status"], "TRANSACTION_STATUS_PENDING", "{tx}");
    // After 30 s without a commit a validator says it is cut off, and health agrees.
    let url = c.urls()[0].clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = Cluster::status(&url, &c.dir);
        if s["syncState"] == "cut_off" {
            assert_ne!(s["serving"], true, "false is left out of the JSON: {s}");
            break;
        }
        assert!(Instant::now() < deadline, "never cut off: {s}");
        thread::sleep(Duration::from_millis(500));
    }
    // The health service follows the standing within its 1 s report interval.
    let deadline = Instant::now() + Duration::from_secs(10);
    while health(&url) != ServingStatus::NotServing as i32 {
        assert!(
            Instant::now() < deadline,
            "health stayed SERVING while cut off"
        );
        thread::sleep(Duration::from_millis(200));
    }
    // Quorum back: the transfer commits and the chain moves on.
    c.start_validator(2);
    c.start_validator(3);
    wait_committed(&c, &hash, "no progress after the restart");
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&url) != ServingStatus::Serving as i32 {
        assert!(
            Instant::now() < deadline,
            "health did not return to SERVING"
        );
        thread::sleep(Duration::from_millis(200));
    }
    let urls = c.urls();
    let top = max_height(&c, &urls);
    assert!(top > stalled);
    c.wait_all_at(&urls, top, LIMIT);
    c.assert_same_chain(&urls, top);
}

#[test]
fn an_isolated_validator_catches_up_when_the_partition_heals() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4, &[]);
    c.wait_all_at(&c.urls(), 2, LIMIT);
    c.isolate(3);
    thread::sleep(Duration::from_secs(2));
    let cut_at = c.height(3);
    // The other three keep committing (three of four is a quorum)...
    c.wait_all_at(&[c.node(0).url.clone()], cut_at + 4, LIMIT);
    // ...and the isolated one cannot.
    assert!(c.height(3) <= cut_at + 1, "an isolated validator committed");
    c.heal(3);
    let target = c.height(0);
    c.wait_all_at(&[c.node(3).url.clone()], target, LIMIT);
    let urls = c.urls();
    c.assert_same_chain(&urls, target);
}

/// The validators that signed block `h`'s certificate, as hex keys.
fn signers(c: &Cluster, url: &str, h: u64) -> Vec<String> {
    let b = kyoto_tests::kyoto(url, &c.dir, &["--output", "json", "block", &h.to_string()]).json();
    b["certificate"]["signatures"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| s["publicKey"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Proposes a validator decision as Norway, votes it through (the EU with its 27
/// member States, Norway, Japan, Russia: a quorum and more than three fourths), and
/// waits until the ledger's validator set satisfies `done`.
fn decide(c: &Cluster, id: &str, kind: &[&str], done: impl Fn(&[String]) -> bool) {
    let mut args = vec![
        "gov",
        "propose",
        "--key",
        "dev-keys/NOR.key",
        "--proposer",
        "NOR",
        "--title",
        "Registry nodes",
    ];
    args.extend_from_slice(kind);
    c.kyoto(1, &args).ok();
    for party in ["EU", "NOR", "JPN", "RUS"] {
        let key = format!("dev-keys/{party}.key");
        c.kyoto(
            1,
            &[
                "gov",
                "vote",
                "--key",
                &key,
                "--proposal",
                id,
                "--party",
                party,
                "--choice",
                "yes",
            ],
        )
        .ok();
    }
    let deadline = Instant::now() + LIMIT;
    loop {
        let v = c
            .kyoto(1, &["--output", "json", "gov", "validators"])
            .json();
        let keys: Vec<String> = v["validators"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|x| x["publicKey"].as_str().unwrap_or_default().to_owned())
            .collect();
        if done(&keys) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "proposal {id} did not take effect: {keys:?}"
        );
        thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_validator_added_by_governance_starts_voting_and_one_removed_stops() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    // Four validators in the genesis and a fifth registry node waiting to join; the
    // test genesis shortens the treaty durations (no notice, 12-second sessions).
    let mut c = Cluster::start_with(
        dir.path(),
        4,
        5,
        &["--notice-months", "0", "--session-seconds", "12"],
        &[],
    );
    c.wait_all_at(&c.urls(), 2, LIMIT);
    let fifth = c.public_key(4);
    decide(
        &c,
        "1",
        &[
            "add-validator",
            "--name",
            "validator-5",
            "--party",
            "NZL",
            "--public-key",
            &fifth,
        ],
        |keys| keys.contains(&fifth),
    );
    // Five validators: a quorum is four. With validator 1 down, blocks can only be
    // committed if the new validator votes.
    c.kill9(0);
    let url = c.node(1).url.clone();
    let from = c.height(1);
    c.wait_all_at(std::slice::from_ref(&url), from + 3, LIMIT);
    let top = c.height(1);
    assert!(
        signers(&c, &url, top).contains(&fifth),
        "block {top} was committed without the new validator"
    );
    c.start_validator(0);
    // Remove validator 2: its node keeps running, but its votes no longer count.
    let second = c.public_key(1);
    decide(
        &c,
        "2",
        &["remove-validator", "--public-key", &second],
        |keys| !keys.contains(&second) && keys.len() == 4,
    );
    let removed_at = c.height(1);
    c.wait_all_at(std::slice::from_ref(&url), removed_at + 4, LIMIT);
    for h in removed_at + 2..=removed_at + 4 {
        assert!(
            !signers(&c, &url, h).contains(&second),
            "block {h} counts a removed validator's vote"
        );
    }
    let urls = c.urls();
    let top = max_height(&c, &urls);
    c.wait_all_at(&urls, top, LIMIT);
    c.assert_same_chain(&urls, top);
}

/// A transaction that cannot execute yet (its signer's earlier nonce was never sent)
/// waits in every mempool without making the proposers cut blocks: a quiet network
/// stays at its empty-block pace. A key the ledger does not know is refused at the
/// door, on every validator, and nothing of it spreads.
#[test]
fn a_transaction_behind_a_nonce_gap_does_not_make_blocks_and_a_stranger_is_refused() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4, &[]);
    let urls = c.urls();
    c.wait_all_at(&urls, 2, LIMIT);
    // A stranger's key: refused whatever its nonce, with its own code.
    c.kyoto(0, &["keys", "generate", "--out", "stranger.key"])
        .ok();
    for nonce in ["1", "2"] {
        let mut args = transfer_args("stranger.key", "JPN-100-1", "1");
        args.extend(["--nonce", nonce, "--no-wait"]);
        kyoto_tests::assert_refused(c.kyoto(1, &args), "UNKNOWN_SIGNER");
    }
    // JPN's nonce 2 before its nonce 1: admitted and gossiped, but parked.
    let mut second = transfer_args("dev-keys/JPN.key", "JPN-100-1", "2");
    second.extend(["--nonce", "2", "--no-wait"]);
    let parked = (c.kyoto(0, &second).json()["txHash"]
        .as_str()
        .unwrap_or_default())
    .to_owned();
    let start = max_height(&c, &urls);
    thread::sleep(Duration::from_secs(6));
    let end = max_height(&c, &urls);
    // Empty blocks come once a second (--empty-block-interval-ms 1000); a proposer
    // that took the parked transaction for work made ~45 a second.
    assert!(
        end - start <= 15,
        "{} blocks in 6 s with only a parked transaction waiting",
        end - start
    );
    let tx = c.kyoto(2, &["--output", "json", "tx", &parked]).json();
    assert_eq!(tx["status"], "TRANSACTION_STATUS_PENDING", "{tx}");
    // Nonce 1 fills the gap: both commit, in order.
    let mut first = transfer_args("dev-keys/JPN.key", "JPN-100-1", "1");
    first.extend(["--nonce", "1"]);
    c.kyoto(3, &first).json();
    wait_committed(&c, &parked, "the parked transfer was not committed");
    let top = max_height(&c, &urls);
    c.wait_all_at(&urls, top, LIMIT);
    c.assert_same_chain(&urls, top);
}

#[test]
fn four_validators_over_gossipsub_commit_transfers_on_one_chain() {
    // `--consensus-pubsub gossipsub`, the transport for validators far apart: votes and
    // proposal parts over long-lived GossipSub streams instead of a stream per message.
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4, &["--consensus-pubsub", "gossipsub"]);
    let urls = c.urls();
    c.wait_all_at(&urls, 2, LIMIT);
    let before = can_total(&c, &urls[0]);
    let mut hashes = Vec::new();
    for (i, (key, from, amount)) in [
        ("dev-keys/JPN.key", "JPN-100-1", "21"),
        ("dev-keys/NOR.key", "NOR-100-1", "22"),
    ]
    .into_iter()
    .enumerate()
    {
        // Each to a different validator: gossip brings it to the proposer.
        let r = c.kyoto(i * 2, &transfer_args(key, from, amount)).json();
        hashes.push(r["txHash"].as_str().unwrap_or_default().to_owned());
    }
    for h in &hashes {
        wait_committed(&c, h, "a transfer over gossipsub");
    }
    let top = max_height(&c, &urls);
    c.wait_all_at(&urls, top, LIMIT);
    c.assert_same_chain(&urls, top);
    for url in &urls {
        assert_eq!(can_total(&c, url), before + 43, "{url}");
    }
}
