//! Backups and restore through the real binaries: `kyoto backup` of a running node,
//! `kyotod restore` on a new data directory (every block verified first; a damaged or
//! foreign backup refused with nothing left behind), and the restored node following
//! the chain on from where the backup ended.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kyoto_tests::{NodeProcess, bin, dev_key, json_u64};

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

/// `kyotod restore`: (success, stdout, stderr).
fn restore(backup: &Path, genesis: &Path, data_dir: &Path) -> (bool, String, String) {
    let out = Command::new(bin("kyotod"))
        .arg("restore")
        .arg("--backup")
        .arg(backup)
        .arg("--genesis")
        .arg(genesis)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run kyotod restore");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn refused(backup: &Path, genesis: &Path, data_dir: &Path, needle: &str) {
    let (ok, _, stderr) = restore(backup, genesis, data_dir);
    assert!(!ok, "restored {}", backup.display());
    assert!(stderr.contains(needle), "{}: {stderr}", backup.display());
    assert!(
        !data_dir.join("db").exists(),
        "a refused restore left a database"
    );
    assert!(!data_dir.join("db.restoring").exists());
}

#[test]
fn a_backup_of_a_running_node_restores_verified_on_a_new_machine() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let node = NodeProcess::start_dev(&root.join(".kyoto-dev"));
    transfer(&node, "250");
    transfer(&node, "5");
    let status = node.kyoto(&["--output", "json", "status"]).json();

    let backup = root.join("chain.kbk");
    let made = node
        .kyoto(&[
            "--output",
            "json",
            "backup",
            "--out",
            backup.to_str().unwrap(),
        ])
        .json();
    assert_eq!(made["height"], status["height"]);
    assert_eq!(made["stateRoot"], status["stateRoot"]);
    assert_eq!(made["genesisHash"], status["genesisHash"]);
    assert!(json_u64(&made["bytes"]) > 0);
    assert!(!root.join("chain.kbk.partial").exists());
    // The node goes on committing while and after it is backed up.
    transfer(&node, "7");

    let genesis = root.join(".kyoto-dev/genesis.json");
    let bytes = std::fs::read(&backup).unwrap();
    let damaged = |name: &str, f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = bytes.clone();
        f(&mut b);
        let path = root.join(name);
        std::fs::write(&path, b).unwrap();
        path
    };
    // The last bytes are the last block's certificate: a changed signature.
    let forged = damaged("forged.kbk", &|b| {
        if let Some(last) = b.last_mut() {
            *last ^= 1;
        }
    });
    refused(&forged, &genesis, &root.join("r1"), "does not verify");
    let cut = damaged("cut.kbk", &|b| b.truncate(b.len() - 10));
    refused(&cut, &genesis, &root.join("r2"), "cut short");
    let junk = damaged("junk.kbk", &|b| b[..8].copy_from_slice(b"NOTMAGIC"));
    refused(
        &junk,
        &genesis,
        &root.join("r3"),
        "not a Kyoto Ledger backup",
    );
    let other = root.join("other");
    let init = Command::new(bin("kyotod"))
        .args(["init", "--validators", "1", "--dir"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(init.status.success());
    refused(
        &backup,
        &other.join("genesis.json"),
        &root.join("r4"),
        "is a backup of chain kyoto-dev",
    );

    // A good restore: the state root the backup's node reported, verified block by block.
    let restored = root.join("restored");
    let (ok, stdout, stderr) = restore(&backup, &genesis, &restored);
    assert!(ok, "{stderr}");
    let root_hex = made["stateRoot"].as_str().unwrap();
    assert!(
        stdout.contains(&format!(
            "to height {}, state root {root_hex}",
            json_u64(&made["height"])
        )),
        "{stdout}"
    );
    let (ok, _, stderr) = restore(&backup, &genesis, &restored);
    assert!(!ok && stderr.contains("holds a chain already"), "{stderr}");

    // The restored node follows the chain on from the backup's height.
    let observer = NodeProcess::start(
        &restored,
        &[
            "--observer",
            "--genesis",
            genesis.to_str().unwrap(),
            "--sync-from",
            &node.url,
        ],
    );
    let want = node.kyoto(&["--output", "json", "status"]).json();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = observer.kyoto(&["--output", "json", "status"]).json();
        if got["height"] == want["height"] {
            assert_eq!(got["stateRoot"], want["stateRoot"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restored node did not catch up: {got}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let account = |n: &NodeProcess| {
        n.kyoto(&["--output", "json", "account", "CAN-100-1"])
            .json()
    };
    let holdings = account(&node)["holdings"].clone();
    assert!(holdings.is_array(), "{holdings}");
    assert_eq!(account(&observer)["holdings"], holdings);
    let history = observer
        .kyoto(&["--output", "json", "history", "CAN-100-1"])
        .json();
    assert_eq!(
        history["entries"].as_array().map(Vec::len),
        Some(3),
        "the backed-up transfers and the later one: {history}"
    );
}
