//! TLS on the gRPC API through the real binaries: a node serving https, the CLI
//! checking its certificate (`--ca-cert`), client certificates (`--tls-client-ca`,
//! `--client-cert`), an observer following over https, and the plaintext warning.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kyoto_tests::{CliResult, NodeProcess, bin, dev_key, json_u64, kyoto, kyotod_exit};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

/// Writes a certificate for `names` signed by `ca`, for a server or a client, as
/// DIR/NAME.pem and DIR/NAME.key; returns their paths.
fn issue(ca: &Ca, dir: &Path, name: &str, server: bool) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let names = if server {
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(names).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let (cert_path, key_path) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

fn write_ca(ca: &Ca, path: &Path) -> String {
    std::fs::write(path, ca.cert.pem()).unwrap();
    path.display().to_string()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `kyoto` with TLS arguments before the command.
fn kyoto_tls(node: &NodeProcess, tls: &[&str], args: &[&str]) -> CliResult {
    let mut all: Vec<&str> = tls.to_vec();
    all.extend(args);
    kyoto(&node.url, node.data_dir.parent().unwrap(), &all)
}

#[test]
fn a_node_serves_https_and_the_cli_checks_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let authority = ca("Kyoto test CA");
    let ca_pem = write_ca(&authority, &root.join("ca.pem"));
    let stranger_pem = write_ca(&ca("Someone else"), &root.join("other-ca.pem"));
    let (cert, key) = issue(&authority, root, "node", true);
    let node = NodeProcess::start(
        &root.join(".kyoto-dev"),
        &["--dev", "--tls-cert", &s(&cert), "--tls-key", &s(&key)],
    );
    assert!(node.url.starts_with("https://127.0.0.1:"), "{}", node.url);

    let status = kyoto_tls(
        &node,
        &["--ca-cert", &ca_pem],
        &["--output", "json", "status"],
    );
    assert!(status.success, "{}", status.stderr);
    assert_eq!(status.json()["role"], "dev");
    let transfer = kyoto_tls(
        &node,
        &["--ca-cert", &ca_pem],
        &[
            "--output",
            "json",
            "transfer",
            "--key",
            &dev_key("JPN"),
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--amount",
            "3",
        ],
    );
    assert!(transfer.success, "{}", transfer.stderr);

    // A certificate the CLI cannot trust, plaintext to a TLS port, and --ca-cert for a
    // plaintext URL are each refused with a reason.
    for tls in [vec![], vec!["--ca-cert", stranger_pem.as_str()]] {
        let r = kyoto_tls(&node, &tls, &["status"]);
        assert!(!r.success, "{tls:?}");
        assert!(r.stderr.contains("certificate"), "{tls:?}: {}", r.stderr);
        assert_eq!(r.code, Some(4), "unreachable: {}", r.stderr);
    }
    let plain = node.url.replace("https://", "http://");
    let r = kyoto(&plain, root, &["status"]);
    assert!(!r.success);
    let r = kyoto(&plain, root, &["--ca-cert", &ca_pem, "status"]);
    assert!(r.stderr.contains("give its https:// URL"), "{}", r.stderr);
    assert_eq!(r.code, Some(2), "a usage error");

    // An observer follows the node over https, checking it against the CA.
    let genesis = root.join(".kyoto-dev/genesis.json");
    let observer = NodeProcess::start(
        &root.join("observer"),
        &[
            "--observer",
            "--genesis",
            &s(&genesis),
            "--sync-from",
            &node.url,
            "--sync-ca-cert",
            &ca_pem,
        ],
    );
    let want = kyoto_tls(
        &node,
        &["--ca-cert", &ca_pem],
        &["--output", "json", "status"],
    )
    .json();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = observer.kyoto(&["--output", "json", "status"]).json();
        assert_eq!(got["role"], "observer");
        if json_u64(&got["height"]) >= json_u64(&want["height"]) {
            assert!(json_u64(&want["height"]) >= 1, "the transfer is in a block");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the observer did not follow over https: {got}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_node_that_asks_for_client_certificates_serves_only_known_clients() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let authority = ca("Kyoto test CA");
    let ca_pem = write_ca(&authority, &root.join("ca.pem"));
    let (cert, key) = issue(&authority, root, "node", true);
    let (office_cert, office_key) = issue(&authority, root, "back-office", false);
    let (rogue_cert, rogue_key) = issue(&ca("Rogue CA"), root, "rogue", false);
    let node = NodeProcess::start(
        &root.join(".kyoto-dev"),
        &[
            "--dev",
            "--tls-cert",
            &s(&cert),
            "--tls-key",
            &s(&key),
            "--tls-client-ca",
            &ca_pem,
        ],
    );
    let office = [
        "--ca-cert",
        &ca_pem,
        "--client-cert",
        &s(&office_cert),
        "--client-key",
        &s(&office_key),
    ];
    let r = kyoto_tls(&node, &office, &["--output", "json", "status"]);
    assert!(r.success, "{}", r.stderr);
    let r = kyoto_tls(&node, &["--ca-cert", &ca_pem], &["status"]);
    assert!(!r.success, "a client without a certificate is served");
    let rogue = [
        "--ca-cert",
        &ca_pem,
        "--client-cert",
        &s(&rogue_cert),
        "--client-key",
        &s(&rogue_key),
    ];
    let r = kyoto_tls(&node, &rogue, &["status"]);
    assert!(
        !r.success,
        "a client with another CA's certificate is served"
    );
}

#[test]
fn bad_tls_files_stop_the_node_and_a_public_plaintext_api_warns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("junk.pem"), "not a certificate").unwrap();
    let junk = s(&root.join("junk.pem"));
    let data = s(&root.join("data"));
    let (ok, stderr) = kyotod_exit(
        &[
            "--dev",
            "--data-dir",
            &data,
            "--tls-cert",
            &junk,
            "--tls-key",
            &junk,
        ],
        Duration::from_secs(30),
    );
    assert!(
        !ok && stderr.contains("--tls-cert") && stderr.contains("PEM"),
        "{stderr}"
    );
    let (ok, stderr) = kyotod_exit(
        &["--dev", "--data-dir", &data, "--tls-cert", &junk],
        Duration::from_secs(30),
    );
    assert!(!ok && stderr.contains("--tls-key"), "{stderr}");
    // Half a TLS setting in a config file is an error too, never plaintext.
    let config = root.join("half.toml");
    std::fs::write(&config, format!("tls-cert = {junk:?}\n")).unwrap();
    let (ok, stderr) = kyotod_exit(
        &["--dev", "--data-dir", &data, "--config", &s(&config)],
        Duration::from_secs(30),
    );
    assert!(
        !ok && stderr.contains("--tls-cert needs --tls-key"),
        "{stderr}"
    );

    // Listening on every interface without TLS: one warning at start.
    let mut child = Command::new(bin("kyotod"))
        .args(["--dev", "--data-dir", &data, "--grpc-addr", "0.0.0.0:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("without TLS") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let warned = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    assert!(warned.is_ok(), "no warning for a plaintext API on 0.0.0.0");
}
