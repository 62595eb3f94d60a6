//! Starting `kyotod`: a network genesis file with its validator key, and clear
//! start-up errors for bad configurations.

use std::time::Duration;

use kyoto_tests::cluster::free_port;
use kyoto_tests::{NodeProcess, json_u64, kyotod_exit};

#[test]
fn a_node_runs_from_a_genesis_file_with_its_validator_key() {
    let dir = tempfile::tempdir().unwrap();
    let dev_dir = dir.path().join("dev");
    let mut dev = NodeProcess::start_dev(&dev_dir);
    let dev_status = dev.kyoto(&["--output", "json", "status"]).json();
    dev.kill9();

    let genesis = dev_dir.join("genesis.json");
    let key = dev_dir.join("validator.key");
    let net_dir = dir.path().join("net");
    let node = NodeProcess::start(
        &net_dir,
        &[
            "--genesis",
            genesis.to_str().unwrap(),
            "--validator-key",
            key.to_str().unwrap(),
            "--p2p-addr",
            "/ip4/127.0.0.1/tcp/0",
        ],
    );
    let status = node.kyoto(&["--output", "json", "status"]).json();
    assert_eq!(status["genesisHash"], dev_status["genesisHash"]);
    assert_eq!(status["chainId"], "kyoto-dev");
    // The same genesis gives the same state root on a second node.
    let jpn = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    assert_eq!(jpn["code"], "JPN");
    // A network node runs BFT consensus (here with its one validator): a transfer
    // commits with a certificate of that validator's precommit.
    let key_dir = dev_dir.join("dev-keys/JPN.key");
    let t = node
        .kyoto(&[
            "--output",
            "json",
            "transfer",
            "--key",
            key_dir.to_str().unwrap(),
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--amount",
            "5",
        ])
        .json();
    assert_eq!(t["status"], "TRANSACTION_STATUS_COMMITTED", "{t}");
    let height = t["receipt"]["height"].as_str().unwrap().to_owned();
    let block = node.kyoto(&["--output", "json", "block", &height]).json();
    let sigs = block["certificate"]["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 1, "{block}");

    // The wrong key for the genesis validator is refused.
    let other_dir = dir.path().join("other");
    let wrong_key = dev_dir.join("dev-keys/JPN.key");
    let (ok, err) = kyotod_exit(
        &[
            "--genesis",
            genesis.to_str().unwrap(),
            "--validator-key",
            wrong_key.to_str().unwrap(),
            "--data-dir",
            other_dir.to_str().unwrap(),
            "--grpc-addr",
            "127.0.0.1:0",
        ],
        Duration::from_secs(30),
    );
    assert!(!ok);
    assert!(
        err.contains("is not the key of a validator of this genesis"),
        "{err}"
    );
}

#[test]
fn bad_configurations_fail_at_start_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let d = d.to_str().unwrap();
    let (ok, err) = kyotod_exit(
        &["--data-dir", d, "--grpc-addr", "127.0.0.1:0"],
        Duration::from_secs(30),
    );
    assert!(!ok && err.contains("give --dev"), "{err}");

    let missing = dir.path().join("missing.json");
    let (ok, err) = kyotod_exit(
        &[
            "--genesis",
            missing.to_str().unwrap(),
            "--validator-key",
            "x.key",
            "--data-dir",
            d,
            "--grpc-addr",
            "127.0.0.1:0",
        ],
        Duration::from_secs(30),
    );
    assert!(!ok && err.contains("cannot read genesis"), "{err}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"chain_id\": \"x\"}").unwrap();
    let (ok, err) = kyotod_exit(
        &[
            "--genesis",
            bad.to_str().unwrap(),
            "--validator-key",
            "x.key",
            "--data-dir",
            d,
            "--grpc-addr",
            "127.0.0.1:0",
        ],
        Duration::from_secs(30),
    );
    assert!(!ok && err.contains("genesis is invalid"), "{err}");

    let (ok, err) = kyotod_exit(
        &["--dev", "--data-dir", d, "--grpc-addr", "not-an-address"],
        Duration::from_secs(30),
    );
    assert!(!ok && err.contains("--grpc-addr"), "{err}");

    // A port already in use.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (ok, err) = kyotod_exit(
        &["--dev", "--data-dir", d, "--grpc-addr", &addr],
        Duration::from_secs(30),
    );
    assert!(!ok && err.contains("cannot listen"), "{err}");
}

#[test]
fn validators_find_peers_named_by_host() {
    // As a compose file or a registry's config names them: /dns4/<host>/tcp/<port>.
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path();
    let init = std::process::Command::new(kyoto_tests::bin("kyotod"))
        .args(["init", "--validators", "4", "--dir"])
        .arg(net)
        .output()
        .unwrap();
    assert!(init.status.success());
    let genesis = net.join("genesis.json");
    let ports: Vec<(u16, u16)> = (0..2).map(|_| (free_port(), free_port())).collect();
    let start = |i: usize| {
        let (p2p, gossip) = ports[i];
        let (peer_p2p, peer_gossip) = ports[1 - i];
        let data = net.join(format!("validator-{}", i + 1));
        let key = data.join("validator.key");
        NodeProcess::start(
            &data,
            &[
                "--genesis",
                genesis.to_str().unwrap(),
                "--validator-key",
                key.to_str().unwrap(),
                "--p2p-addr",
                &format!("/ip4/127.0.0.1/tcp/{p2p}"),
                "--peer",
                &format!("/dns4/localhost/tcp/{peer_p2p}"),
                "--gossip-addr",
                &format!("/ip4/127.0.0.1/tcp/{gossip}"),
                "--gossip-peer",
                &format!("/dns4/localhost/tcp/{peer_gossip}"),
            ],
        )
    };
    let (first, _second) = (start(0), start(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = first.kyoto(&["--output", "json", "status"]).json();
        if json_u64(&s["gossipPeersConnected"]) == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gossip peer named by host was not reached: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_config_file_and_flags_complete_each_other() {
    // kyotod init --home writes genesis and validator-key into config.toml; a flag that
    // needs them (--join) completes the file rather than being refused.
    let dir = tempfile::tempdir().unwrap();
    let dev_dir = dir.path().join("dev");
    let mut dev = NodeProcess::start_dev(&dev_dir);
    dev.kill9();
    let home = dir.path().join("home");
    let out = std::process::Command::new(kyoto_tests::bin("kyotod"))
        .args(["init", "--home"])
        .arg(&home)
        .arg("--genesis")
        .arg(dev_dir.join("genesis.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("join = true"),
        "a new key is not in the genesis: {stdout}"
    );
    assert!(stdout.contains("no ceremony section"), "{stdout}");
    let config = home.join("config.toml");
    let node = NodeProcess::start(
        &home.join("data"),
        &[
            "--config",
            config.to_str().unwrap(),
            "--join",
            "--p2p-addr",
            "/ip4/127.0.0.1/tcp/0",
            "--gossip-addr",
            "/ip4/127.0.0.1/tcp/0",
        ],
    );
    let status = node.kyoto(&["--output", "json", "status"]).json();
    assert_eq!(status["role"], "joining", "{status}");
    drop(node);
    // What does not go together is refused whichever source it comes from.
    let half = dir.path().join("half.toml");
    std::fs::write(&half, "join = true\n").unwrap();
    let data = dir.path().join("x");
    let (ok, err) = kyotod_exit(
        &[
            "--config",
            half.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert!(!ok && err.contains("--join needs --validator-key"), "{err}");
    let (ok, err) = kyotod_exit(
        &[
            "--sync-from",
            "http://127.0.0.1:1",
            "--dev",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert!(!ok && err.contains("--sync-from is for observers"), "{err}");
}
