//! Listings, pages and dry runs through the real `kyoto` against a real `kyotod --dev`:
//! `parties`, `projects`, `accounts --party|--holder`, `proposals`, `history --after`,
//! `--dry-run` on transaction commands (nothing submitted, the receipt a block would
//! give), and `gov consent --party`.

use kyoto_tests::{NodeProcess, dev_key};

fn transfer<'a>(key: &'a str, amount: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--output",
        "json",
        "transfer",
        "--key",
        key,
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
    ];
    args.extend_from_slice(extra);
    args
}

fn height(node: &NodeProcess) -> u64 {
    let status = node.kyoto(&["--output", "json", "status"]).json();
    status["height"].as_str().unwrap().parse().unwrap()
}

#[test]
fn dry_runs_change_nothing_and_tell_what_a_block_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    let jpn = dev_key("JPN");
    node.kyoto(&transfer(&jpn, "10", &[])).json();
    let before = height(&node);
    let can_before = node
        .kyoto(&["--output", "json", "account", "CAN-100-1"])
        .json();

    // An allowed transfer: the receipt it would get, with its serials; nothing moved.
    let dry = node.kyoto(&transfer(&jpn, "5", &["--dry-run"])).json();
    let applied = &dry["receipt"]["applied"];
    assert_eq!(applied["kind"], "external_transfer", "{dry}");
    assert_eq!(applied["amount"], "5", "{dry}");
    assert_eq!(applied["toAccount"], "CAN-100-1", "{dry}");
    assert!(!applied["serials"].as_array().unwrap().is_empty(), "{dry}");
    assert_eq!(dry["signatureVerified"], true, "{dry}");
    assert_eq!(
        dry["receipt"]["nonce"], "2",
        "the next committed nonce: {dry}"
    );
    assert_eq!(dry["receipt"]["height"], (before + 1).to_string(), "{dry}");
    let text = node.kyoto(&transfer(&jpn, "5", &["--dry-run"])[2..]).ok();
    assert!(text.contains("dry run: nothing was submitted"), "{text}");
    assert!(
        text.contains("result:  applied: external_transfer"),
        "{text}"
    );
    assert!(text.contains("amount:  5"), "{text}");

    // A transfer the rules refuse: the refusal, status 1, as JSON on stdout.
    let over = node.kyoto(&transfer(&jpn, "999999999999", &["--dry-run"]));
    assert_eq!(over.code, Some(1), "{over:?}");
    let doc: serde_json::Value = serde_json::from_str(&over.stdout).unwrap();
    assert_eq!(
        doc["receipt"]["refused"]["code"], "INSUFFICIENT_UNITS",
        "{doc}"
    );
    // A nonce given: checked as the block would (2 is next; 5 is a gap).
    let gap = node.kyoto(&transfer(&jpn, "1", &["--dry-run", "--nonce", "5"]));
    assert_eq!(gap.code, Some(1), "{gap:?}");
    assert!(gap.stdout.contains("NONCE_GAP"), "{}", gap.stdout);

    // Nothing was submitted or changed.
    assert_eq!(height(&node), before);
    let nonce = node.kyoto(&transfer(&jpn, "1", &["--dry-run"])).json();
    assert_eq!(nonce["receipt"]["nonce"], "2", "{nonce}");
    let can_after = node
        .kyoto(&["--output", "json", "account", "CAN-100-1"])
        .json();
    assert_eq!(can_before, can_after);
    let status = node.kyoto(&["--output", "json", "status"]).json();
    assert!(
        status.get("mempoolSize").is_none(),
        "mempool empty: {status}"
    );

    // The dry run of a block's effect is exactly what the block then does.
    let sent = node.kyoto(&transfer(&jpn, "5", &[])).json();
    assert_eq!(
        sent["receipt"]["applied"]["serials"], dry["receipt"]["applied"]["serials"],
        "{sent}"
    );
}

#[test]
fn parties_projects_accounts_and_history_list_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    let jpn = dev_key("JPN");

    // Every Party, in code order; pages chain through their tokens to the same list.
    let all = node.kyoto(&["--output", "json", "parties"]).json();
    let codes: Vec<&str> = all["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(codes.len() > 30, "{all}");
    assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
    assert!(codes.contains(&"JPN") && codes.contains(&"EU"), "{codes:?}");
    assert!(all.get("nextPageToken").is_none(), "the last page: {all}");
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["--output", "json", "parties", "--limit", "7"];
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let page = node.kyoto(&args).json();
        let list = page["parties"].as_array().unwrap();
        assert!(list.len() <= 7, "{page}");
        paged.extend(list.iter().map(|p| p["code"].as_str().unwrap().to_owned()));
        match page["nextPageToken"].as_str() {
            Some(t) => after = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, codes);
    let table = node.kyoto(&["parties", "--limit", "3"]);
    assert!(table.success, "{table:?}");
    assert!(table.stdout.contains("code"), "{}", table.stdout);
    assert!(
        table.stderr.contains("continue with --after"),
        "{}",
        table.stderr
    );
    let bad = node.kyoto(&["--output", "json", "parties", "--after", "nope"]);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stdout.contains("BAD_PAGE_TOKEN"), "{}", bad.stdout);

    // A Party's accounts, and the accounts one key holds (an entity's holding account).
    let jpn_accounts = node
        .kyoto(&["--output", "json", "accounts", "--party", "JPN"])
        .json();
    let ids: Vec<&str> = jpn_accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["accountId"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"JPN-100-1"), "{jpn_accounts}");
    assert!(ids.iter().all(|id| id.starts_with("JPN-")), "{ids:?}");
    let holder = dir.path().join("trader.key");
    let holder = holder.to_str().unwrap();
    node.kyoto(&["keys", "generate", "--out", holder]).ok();
    node.kyoto(&[
        "open-account",
        "--key",
        &jpn,
        "--party",
        "JPN",
        "--holder-name",
        "Tokyo Trading KK",
        "--holder-key",
        holder,
    ])
    .ok();
    let held = node
        .kyoto(&["--output", "json", "accounts", "--holder", holder])
        .json();
    let held = held["accounts"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["holderName"], "Tokyo Trading KK");
    assert!(
        node.kyoto(&["accounts"]).code == Some(2),
        "needs --party or --holder"
    );
    let unknown = node.kyoto(&["accounts", "--party", "ZZZ"]);
    assert_eq!(unknown.code, Some(3), "{unknown:?}");

    // Projects and proposals list too (none yet on a fresh dev chain).
    let projects = node.kyoto(&["--output", "json", "projects"]).json();
    assert!(projects.get("projects").is_none(), "{projects}");
    node.kyoto(&["proposals"]).ok();

    // History pages: newest first, each page after the last entry of the one before.
    for amount in ["1", "2", "3", "4", "5"] {
        node.kyoto(&transfer(&jpn, amount, &[])).json();
    }
    let first = node
        .kyoto(&["--output", "json", "history", "CAN-100-1", "--limit", "2"])
        .json();
    let token = first["nextPageToken"].as_str().unwrap().to_owned();
    let second = node
        .kyoto(&[
            "--output",
            "json",
            "history",
            "CAN-100-1",
            "--limit",
            "2",
            "--after",
            &token,
        ])
        .json();
    let amounts = |page: &serde_json::Value| -> Vec<String> {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["receipt"]["applied"]["amount"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(amounts(&first), ["5", "4"]);
    assert_eq!(amounts(&second), ["3", "2"]);
    let text = node.kyoto(&["history", "CAN-100-1", "--limit", "2"]);
    assert!(text.stderr.contains("--after"), "{}", text.stderr);
}

#[test]
fn consent_names_the_party_concerned() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    let proposed = node
        .kyoto(&[
            "--output",
            "json",
            "gov",
            "propose",
            "--key",
            &dev_key("NOR"),
            "--proposer",
            "NOR",
            "--title",
            "Doha for Canada",
            "annex-b",
            "--party",
            "CAN",
            "--period",
            "2",
            "--assigned-amount",
            "2000000000",
        ])
        .json();
    let id = proposed["receipt"]["applied"]["amount"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = node.kyoto(&[
        "gov",
        "consent",
        "--key",
        &dev_key("CAN"),
        "--proposal",
        &id,
        "--party",
        "JPN",
    ]);
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(
        wrong.stderr.contains("NOT_THE_PARTY_CONCERNED") && wrong.stderr.contains("concerns CAN"),
        "{}",
        wrong.stderr
    );
    node.kyoto(&[
        "gov",
        "consent",
        "--key",
        &dev_key("CAN"),
        "--proposal",
        &id,
        "--party",
        "CAN",
    ])
    .ok();
    let view = node.kyoto(&["--output", "json", "gov", "show", &id]).json();
    assert_eq!(view["consent"], true, "{view}");
    assert_eq!(view["partyConcerned"], "CAN", "{view}");
}

#[test]
fn a_cer_issuance_receipt_shows_the_share_of_proceeds() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    let cdm = dev_key("CDM");
    node.kyoto(&[
        "register-cdm-project",
        "--key",
        &cdm,
        "--project",
        "CDM-0001",
        "--host",
        "BRA",
        "--participant",
        "JPN-100-1",
    ])
    .ok();
    let issued = node
        .kyoto(&[
            "--output",
            "json",
            "issue-cers",
            "--key",
            &cdm,
            "--project",
            "CDM-0001",
            "--amount",
            "1000",
        ])
        .json();
    let credited = issued["receipt"]["applied"]["credited"].as_array().unwrap();
    let pairs: Vec<(&str, &str)> = credited
        .iter()
        .map(|c| {
            (
                c["account"].as_str().unwrap(),
                c["amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [("CDM-500-1", "980"), ("CDM-510-1", "20")],
        "{issued}"
    );
    let hash = issued["txHash"].as_str().unwrap();
    let shown = node.kyoto(&["tx", hash]).ok();
    assert!(shown.contains("credited: CDM-510-1 20"), "{shown}");
}

#[test]
fn passphrase_encrypted_key_files_sign_and_a_wrong_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join(".kyoto-dev"));
    let key = dir.path().join("trader.key");
    let key = key.to_str().unwrap();
    let run = |passphrase: &str, args: &[&str]| {
        let out = std::process::Command::new(kyoto_tests::bin("kyoto"))
            .current_dir(dir.path())
            .arg("--node")
            .arg(&node.url)
            .args(args)
            .env_remove("KYOTO_NODE")
            .env("KYOTO_KEY_PASSPHRASE", passphrase)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, generated, err) = run(
        "correct horse",
        &[
            "--output",
            "json",
            "keys",
            "generate",
            "--out",
            key,
            "--encrypt",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let pem = std::fs::read_to_string(key).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{pem}"
    );
    let generated: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let public = generated["publicKey"].as_str().unwrap().to_owned();

    let (code, shown, err) = run("correct horse", &["--output", "json", "keys", "show", key]);
    assert_eq!(code, Some(0), "{err}");
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["publicKey"], public.as_str());
    let (code, _, err) = run("wrong", &["keys", "show", key]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("wrong passphrase"), "{err}");

    // It signs: the account it holds, and a dry run of a transfer out of it.
    node.kyoto(&[
        "open-account",
        "--key",
        &dev_key("JPN"),
        "--party",
        "JPN",
        "--holder-name",
        "Shared desk",
        "--holder-public-key",
        &public,
    ])
    .ok();
    let accounts = node
        .kyoto(&["--output", "json", "accounts", "--holder", &public])
        .json();
    let account = accounts["accounts"][0]["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, dry, err) = run(
        "correct horse",
        &[
            "--output",
            "json",
            "transfer",
            "--key",
            key,
            "--from",
            &account,
            "--to",
            "JPN-100-1",
            "--amount",
            "1",
            "--dry-run",
        ],
    );
    assert_eq!(code, Some(1), "an empty account: {err}");
    let dry: serde_json::Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(dry["signatureVerified"], true, "{dry}");
    assert_eq!(dry["receipt"]["signer"], public.as_str(), "{dry}");
    assert_eq!(
        dry["receipt"]["refused"]["code"], "INSUFFICIENT_UNITS",
        "{dry}"
    );
}
