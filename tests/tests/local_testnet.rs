//! `deploy/local-testnet.sh` starts a validator and an observer, prints one line per
//! node once all serve, and stops every node on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kyoto_tests::{bin, kyoto};

#[test]
fn local_testnet_starts_a_validator_and_an_observer_and_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    let net = dir.path().join("net");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/local-testnet.sh");
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let mut child = Command::new("bash")
        .arg(script)
        .arg("1")
        .arg(&net)
        .env("KYOTOD", bin("kyotod"))
        .env("KYOTO_VALIDATOR_PORT", free_port().to_string())
        .env("KYOTO_OBSERVER_PORT", free_port().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Whatever happens, SIGTERM the script (which stops its nodes) when the test ends.
    struct Stop(u32);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.0.to_string())
                .status();
        }
    }
    let _stop = Stop(child.id());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let line = lines.next().expect("a line per node").unwrap();
        let (name, url) = line.split_once(' ').expect("<name> <grpc-url>");
        nodes.push((name.to_owned(), url.to_owned()));
    }
    assert_eq!(
        nodes.iter().map(|n| n.0.as_str()).collect::<Vec<_>>(),
        ["validator-1", "observer-1"]
    );
    let (validator, observer) = (&nodes[0].1, &nodes[1].1);
    // Dev keys where the issue says; a transfer reaches the observer.
    kyoto(
        validator,
        &net,
        &[
            "transfer",
            "--key",
            "dev-keys/JPN.key",
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--amount",
            "3",
        ],
    )
    .ok();
    let want = kyoto(validator, &net, &["--output", "json", "status"]).json();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = kyoto(observer, &net, &["--output", "json", "status"]).json();
        if got["height"] == want["height"] {
            assert_eq!(got["stateRoot"], want["stateRoot"]);
            break;
        }
        assert!(Instant::now() < deadline, "observer did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGTERM stops the script and every node it started.
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while kyoto(validator, &net, &["status"]).success || kyoto(observer, &net, &["status"]).success
    {
        assert!(Instant::now() < deadline, "nodes still serve after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}
