//! A genesis ceremony between 4 registries, each in its own directory, driven through
//! `kyotod genesis` as the README describes; the network then starts from its result.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kyoto_tests::cluster::{Cluster, free_port};
use kyoto_tests::{NodeProcess, bin, kyotod_exit};

const PARTIES: &str =
    "code,name,kind,annex_i,annex_b_percent,eit,base_year_t_co2e,member_of,status,in_force_since
JPN,Japan,state,1,94,0,1269015303,,in_force,2005-02-16
CAN,Canada,state,1,94,0,599000000,,in_force,2005-02-16
NZL,New Zealand,state,1,100,0,61900000,,in_force,2005-02-16
NOR,Norway,state,1,101,0,49619168,,in_force,2005-02-16
KOR,\"Korea, Republic of\",state,0,,0,,,in_force,2005-02-16
";

/// The registries that run a validator, with their homes (where `Cluster` finds them).
const VALIDATING: [(&str, &str); 4] = [
    ("JPN", "validator-1"),
    ("CAN", "validator-2"),
    ("NZL", "validator-3"),
    ("NOR", "validator-4"),
];

/// Runs `kyotod genesis ARGS` in `cwd`: (success, stdout, stderr).
fn genesis(cwd: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin("kyotod"))
        .current_dir(cwd)
        .arg("genesis")
        .args(args)
        .output()
        .expect("run kyotod genesis");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(cwd: &Path, args: &[&str]) -> String {
    let (success, stdout, stderr) = genesis(cwd, args);
    assert!(success, "kyotod genesis {args:?}: {stderr}");
    stdout
}

fn refused(cwd: &Path, args: &[&str], needle: &str) {
    let (success, _, stderr) = genesis(cwd, args);
    assert!(!success, "kyotod genesis {args:?} should fail");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

/// The hash a command printed last, as `genesis hash: HEX` or `draft hash: HEX`.
fn printed_hash(stdout: &str, label: &str) -> String {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(label))
        .next_back()
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `{label}` in {stdout}"))
        .to_owned()
}

/// Sends a file from one registry's machine to another's (here: a copy).
fn send(from: &Path, to_dir: &Path) {
    std::fs::create_dir_all(to_dir).expect("create the inbox");
    let name = from.file_name().expect("a file name");
    std::fs::copy(from, to_dir.join(name)).expect("send the file");
}

#[test]
fn four_registries_agree_a_genesis_and_start_the_network_from_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    let coord = root.join("coordinator");
    std::fs::create_dir_all(&coord).expect("coordinator dir");
    std::fs::write(coord.join("parties.csv"), PARTIES).expect("write the Parties table");

    // 1. The coordinator writes the draft.
    let out = ok(
        &coord,
        &[
            "draft",
            "--parties",
            "parties.csv",
            "--chain-id",
            "ceremony-net",
            "--out",
            "draft.json",
        ],
    );
    let draft_hash = printed_hash(&out, "draft hash: ");
    refused(
        &coord,
        &["draft", "--parties", "parties.csv", "--chain-id", "x"],
        "exists",
    );

    // 2. Each registry, in its own directory, states its keys for the draft.
    let homes: Vec<(&str, std::path::PathBuf)> = VALIDATING
        .iter()
        .map(|(p, h)| (*p, root.join(h)))
        .chain([("KOR", root.join("registry-KOR"))])
        .collect();
    let inbox = coord.join("inbox");
    for (party, home) in &homes {
        send(&coord.join("draft.json"), home);
        let mut args = vec![
            "statement",
            "--draft",
            "draft.json",
            "--home",
            ".",
            "--party",
            party,
        ];
        if *party == "KOR" {
            args.extend(["--validators", "0"]); // a Party that runs no validator
        }
        let out = ok(home, &args);
        assert_eq!(printed_hash(&out, "draft hash: "), draft_hash, "{party}");
        send(&home.join(format!("statement-{party}.json")), &inbox);
    }
    let cdm = root.join("cdm-board");
    send(&coord.join("draft.json"), &cdm);
    ok(
        &cdm,
        &[
            "statement",
            "--draft",
            "draft.json",
            "--home",
            ".",
            "--cdm-board",
        ],
    );
    send(&cdm.join("statement-CDM.json"), &inbox);
    ok(
        &coord,
        &[
            "statement",
            "--draft",
            "draft.json",
            "--home",
            ".",
            "--depositary",
        ],
    );
    send(&coord.join("statement-DEPOSITARY.json"), &inbox);
    refused(
        &coord,
        &[
            "statement",
            "--draft",
            "draft.json",
            "--home",
            ".",
            "--party",
            "USA",
        ],
        "USA is not a Party of the draft",
    );
    refused(
        &coord,
        &[
            "statement",
            "--draft",
            "draft.json",
            "--home",
            "board",
            "--cdm-board",
            "--validators",
            "1",
        ],
        "run no validator",
    );
    assert!(
        !coord.join("board").exists(),
        "a refused statement wrote keys"
    );

    // 3. The coordinator collects. Without Korea's statement it names what is missing;
    // a statement changed in transit does not verify.
    let statements = |except: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&inbox)
            .expect("read the inbox")
            .map(|e| e.expect("inbox entry").path().display().to_string())
            .filter(|p| !p.ends_with(except))
            .collect();
        v.sort();
        v
    };
    let collect = |files: &[String]| {
        let mut args = vec!["collect", "--draft", "draft.json", "--out", "genesis.json"];
        args.extend(files.iter().map(String::as_str));
        genesis(&coord, &args)
    };
    let (success, _, stderr) = collect(&statements("statement-KOR.json"));
    assert!(
        !success && stderr.contains("no statement from KOR"),
        "{stderr}"
    );
    let nor = inbox.join("statement-NOR.json");
    let honest = std::fs::read_to_string(&nor).expect("read NOR's statement");
    let mut changed: serde_json::Value = serde_json::from_str(&honest).expect("statement JSON");
    changed["body"]["validators"][0]["public_key"] = serde_json::json!("11".repeat(32));
    std::fs::write(&nor, changed.to_string()).expect("change the statement");
    let (success, _, stderr) = collect(&statements("none"));
    assert!(
        !success && stderr.contains("NOR's authority key: the signature does not verify"),
        "{stderr}"
    );
    std::fs::write(&nor, honest).expect("restore the statement");
    let (success, out, stderr) = collect(&statements("none"));
    assert!(success, "{stderr}");
    let collected_hash = printed_hash(&out, "genesis hash: ");

    // 4. Every registry validates the genesis it received against its draft and its own
    // statement; all print the same hash.
    for (party, home) in &homes {
        send(&coord.join("genesis.json"), home);
        let mine = format!("statement-{party}.json");
        let out = ok(
            home,
            &[
                "validate",
                "genesis.json",
                "--draft",
                "draft.json",
                "--statement",
                &mine,
            ],
        );
        assert_eq!(
            printed_hash(&out, "genesis hash: "),
            collected_hash,
            "{party}"
        );
    }
    // A genesis whose validator was swapped after collection fails validation, and no
    // node starts from it.
    let text = std::fs::read_to_string(coord.join("genesis.json")).expect("read the genesis");
    let mut forged: serde_json::Value = serde_json::from_str(&text).expect("genesis JSON");
    forged["validators"][0]["public_key"] = serde_json::json!("22".repeat(32));
    std::fs::write(root.join("forged.json"), forged.to_string()).expect("write the forgery");
    refused(
        root,
        &["validate", "forged.json"],
        "is not what the genesis's statements give",
    );
    let key = root.join("validator-1").join("validator.key");
    let data = root.join("forged-data");
    let (started, stderr) = kyotod_exit(
        &[
            "--genesis",
            &root.join("forged.json").display().to_string(),
            "--validator-key",
            &key.display().to_string(),
            "--data-dir",
            &data.display().to_string(),
        ],
        Duration::from_secs(30),
    );
    assert!(
        !started && stderr.contains("does not hold up to its ceremony"),
        "{stderr}"
    );

    // 5. Each validating registry writes its node's home from the genesis: the config
    // names its files, and the validator key is the one it stated.
    for (party, home) in homes.iter().take(VALIDATING.len()) {
        let out = Command::new(bin("kyotod"))
            .current_dir(home)
            .args(["init", "--home", ".", "--genesis", "genesis.json"])
            .output()
            .expect("run kyotod init --home");
        assert!(
            out.status.success(),
            "{party}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = std::fs::read_to_string(home.join("config.toml")).expect("config.toml");
        assert!(config.contains("\nvalidator-key = \""), "{config}");
        assert!(
            !config.contains("\njoin = true"),
            "{party}'s key is in the genesis"
        );
    }
    let first = &homes[0].1;
    let (p2p, gossip) = (free_port(), free_port());
    let node = NodeProcess::start(
        &first.join("data"),
        &[
            "--config",
            &first.join("config.toml").display().to_string(),
            "--p2p-addr",
            &format!("/ip4/127.0.0.1/tcp/{p2p}"),
            "--gossip-addr",
            &format!("/ip4/127.0.0.1/tcp/{gossip}"),
        ],
    );
    let status = node.kyoto(&["--output", "json", "status"]).json();
    assert_eq!(status["role"], "validator");
    assert_eq!(status["genesisHash"], serde_json::json!(collected_hash));
    drop(node);

    // 6. The four validating registries start the network from the genesis.
    send(&coord.join("genesis.json"), root);
    let c = Cluster::start_prepared(root, VALIDATING.len(), &[]);
    let urls = c.urls();
    c.wait_all_at(&urls, 3, Duration::from_secs(90));
    c.assert_same_chain(&urls, 3);
    let status = Cluster::status(&urls[0], root);
    assert_eq!(status["genesisHash"], serde_json::json!(collected_hash));
    // Japan's registry moves units with the authority key it stated.
    let r = c.kyoto(
        0,
        &[
            "--output",
            "json",
            "transfer",
            "--key",
            "validator-1/JPN.key",
            "--from",
            "JPN-100-1",
            "--to",
            "NOR-100-1",
            "--amount",
            "7",
            "--unit",
            "AAU",
            "--period",
            "1",
            "--wait-secs",
            "60",
        ],
    );
    assert!(r.success, "{}", r.stderr);
}
