//! What an operations team watches, through the real binaries: the Prometheus
//! endpoint (`kyotod --metrics-addr`) serves the text format, and its key series move
//! when a block commits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kyoto_tests::cluster::free_port;
use kyoto_tests::{NodeProcess, dev_key};

/// `GET /metrics`: the content type and the body.
fn scrape(addr: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (content_type, body.to_owned())
}

/// The value of the sample whose name and labels are `series`.
fn value(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{body}"))
}

#[test]
fn the_metrics_endpoint_serves_the_text_format_and_moves_with_each_block() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let node = NodeProcess::start(
        &dir.path().join(".kyoto-dev"),
        &["--dev", "--metrics-addr", &addr],
    );
    let (content_type, before) = scrape(&addr);
    assert!(content_type.contains("openmetrics-text"), "{content_type}");
    assert!(before.trim_end().ends_with("# EOF"), "{before}");
    assert!(before.contains("# TYPE kyoto_height gauge"), "{before}");
    assert_eq!(value(&before, "kyoto_height"), 0.0);
    assert_eq!(value(&before, "kyoto_blocks_committed_total"), 0.0);
    assert!(value(&before, "kyoto_process_resident_memory_bytes") > 0.0);
    assert!(value(&before, "kyoto_process_open_fds") > 0.0);

    let jpn = dev_key("JPN");
    let transfer = |amount: &str| {
        node.kyoto(&[
            "transfer",
            "--key",
            &jpn,
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--amount",
            amount,
        ])
    };
    transfer("5").ok();
    let second = transfer("1").ok();
    assert!(second.contains("applied"), "{second}");
    // One refused inside its block: queued behind a nonce that comes after it.
    node.kyoto(&[
        "transfer",
        "--key",
        &jpn,
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--amount",
        "999999999999",
        "--nonce",
        "4",
        "--no-wait",
    ])
    .ok();
    node.kyoto(&[
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
        "3",
    ])
    .ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let after = loop {
        let (_, body) = scrape(&addr);
        if body.contains("outcome=\"INSUFFICIENT_UNITS\"") || std::time::Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(value(&after, "kyoto_height") >= 3.0, "{after}");
    assert!(value(&after, "kyoto_blocks_committed_total") >= 3.0);
    assert_eq!(
        value(
            &after,
            "kyoto_transactions_committed_total{outcome=\"applied\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &after,
            "kyoto_transactions_committed_total{outcome=\"INSUFFICIENT_UNITS\"}"
        ),
        1.0
    );
    assert_eq!(value(&after, "kyoto_submit_to_commit_seconds_count"), 4.0);
    assert!(value(&after, "kyoto_block_apply_seconds_count") >= 3.0);
    assert!(value(&after, "kyoto_block_timestamp_seconds") > 1.1e9);
    assert!(
        value(
            &after,
            "kyoto_grpc_requests_total{method=\"/kyoto.v1.Ledger/SubmitTransaction\",code=\"Ok\"}"
        ) >= 4.0,
        "{after}"
    );
    assert_eq!(value(&after, "kyoto_mempool_transactions"), 0.0);
}

/// The Grafana dashboard in `deploy/` shows only series the node serves (or Malachite's).
#[test]
fn the_dashboard_names_only_series_the_node_serves() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let _node = NodeProcess::start(
        &dir.path().join(".kyoto-dev"),
        &["--dev", "--metrics-addr", &addr],
    );
    let (_, served) = scrape(&addr);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/grafana/kyoto-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut named = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !word.starts_with("kyoto_") {
                    continue;
                }
                named += 1;
                let family = ["_bucket", "_total", "_count", "_sum"]
                    .iter()
                    .fold(word, |w, suffix| w.strip_suffix(suffix).unwrap_or(w));
                assert!(
                    served.contains(&format!("# TYPE {family} ")),
                    "{}: {word} is not served",
                    panel["title"]
                );
            }
        }
    }
    assert!(named >= 15, "{named}");
}

#[test]
fn a_dev_node_s_status_tells_its_role_place_and_standing() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    let s = node.kyoto(&["--output", "json", "status"]).json();
    assert_eq!(s["role"], "dev", "{s}");
    assert_eq!(s["syncState"], "producing", "{s}");
    assert_eq!(s["serving"], true, "{s}");
    assert_eq!(s["validatorCount"], 1, "{s}");
    assert_eq!(s["validatorPosition"], 1, "{s}");
    assert!(s.get("lastCommitAgeMs").is_none(), "no commit yet: {s}");
    node.kyoto(&[
        "transfer",
        "--key",
        &dev_key("JPN"),
        "--from",
        "JPN-100-1",
        "--to",
        "CAN-100-1",
        "--amount",
        "1",
    ])
    .ok();
    let s = node.kyoto(&["--output", "json", "status"]).json();
    assert!(s["lastCommitAgeMs"].as_str().is_some(), "{s}");
    let text = node.kyoto(&["status"]).ok();
    assert!(text.contains("validator 1 of 1"), "{text}");
    assert!(text.contains("last commit:"), "{text}");
}

#[test]
fn a_config_file_sets_what_flags_do_not_and_names_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("kyotod.toml");
    // The harness passes --grpc-addr 127.0.0.1:0, which wins over the file's.
    std::fs::write(
        &config,
        format!("dev = true\nmetrics-addr = \"{metrics}\"\ngrpc-addr = \"127.0.0.1:1\"\n"),
    )
    .unwrap();
    let node = NodeProcess::start(
        &dir.path().join(".kyoto-dev"),
        &["--config", config.to_str().unwrap()],
    );
    assert!(!node.url.ends_with(":1"), "{}", node.url);
    assert_eq!(
        node.kyoto(&["--output", "json", "status"]).json()["role"],
        "dev"
    );
    let (_, body) = scrape(&metrics);
    assert!(body.contains("kyoto_height"), "{body}");
    drop(node);

    std::fs::write(&config, "dev = true\nmax-blok-txs = 5\n").unwrap();
    let (ok, stderr) = kyoto_tests::kyotod_exit(
        &[
            "--config",
            config.to_str().unwrap(),
            "--grpc-addr",
            "127.0.0.1:0",
        ],
        Duration::from_secs(30),
    );
    assert!(
        !ok && stderr.contains("unknown key `max-blok-txs`"),
        "{stderr}"
    );

    let template = std::process::Command::new(kyoto_tests::bin("kyotod"))
        .arg("config-template")
        .output()
        .unwrap();
    let template = String::from_utf8_lossy(&template.stdout);
    assert!(
        template.contains("# grpc-addr = \"127.0.0.1:50051\""),
        "{template}"
    );
    assert!(template.contains("# metrics-addr = "), "{template}");
}
