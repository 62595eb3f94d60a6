//! The web explorer (`kyotod --http-addr`) in a real headless browser (Debian's
//! Chromium, which the README's test command installs): a dev node commits a
//! transfer through the CLI, then the pages a browser renders must show the ledger's
//! numbers, the JSON API must answer what `kyoto` answers, and nothing a visitor types
//! comes back unescaped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kyoto_tests::cluster::free_port;
use kyoto_tests::{NodeProcess, dev_key, json_u64};

/// The DOM Chromium renders for `url`; with `shot`, a screenshot of it at `size` too.
fn browse(profile: &Path, url: &str, shot: Option<(&Path, &str)>) -> String {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect(
            "Chromium is missing: the README's test command installs it (apt-get install chromium)",
        );
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=2000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    match shot {
        Some((file, size)) => cmd
            .arg(format!("--screenshot={}", file.display()))
            .arg(format!("--window-size={size}")),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).output().expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One HTTP/1.1 request: (status, headers, body).
fn http(addr: &str, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the explorer");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A number as the pages write it (thin spaces between thousands).
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

#[test]
fn the_explorer_shows_in_a_browser_what_the_ledger_holds() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let node = NodeProcess::start(
        &dir.path().join(".kyoto-dev"),
        &["--dev", "--http-addr", &addr],
    );
    let base = format!("http://{addr}");
    let profile = dir.path().join("chromium");
    // A transfer from Japan to Canada, through the CLI.
    let jpn_key = dev_key("JPN");
    let r = node
        .kyoto(&[
            "--output",
            "json",
            "transfer",
            "--key",
            &jpn_key,
            "--from",
            "JPN-100-1",
            "--to",
            "CAN-100-1",
            "--amount",
            "1234",
            "--unit",
            "AAU",
            "--period",
            "1",
        ])
        .json();
    let tx = r["txHash"].as_str().unwrap().to_owned();
    let serial = &r["receipt"]["applied"]["serials"][0];
    let (first, last) = (json_u64(&serial["start"]), json_u64(&serial["end"]));
    assert_eq!(last - first + 1, 1234, "{r}");
    let height = json_u64(&r["receipt"]["height"]);

    // The Party pages show what `kyoto party` says, in the browser's DOM.
    for code in ["JPN", "CAN"] {
        let party = node.kyoto(&["--output", "json", "party", code]).json();
        let dom = browse(&profile, &format!("{base}/parties/{code}"), None);
        assert!(dom.contains(&format!("({code})")), "{dom}");
        let held = json_u64(&party["holdingsTotal"]);
        assert!(dom.contains(&grouped(held)), "{code} holds {held}: {dom}");
        let position = &party["positions"][0];
        for field in ["acquired", "transferred", "held"] {
            let n = json_u64(&position[field]);
            assert!(dom.contains(&grouped(n)), "{code} {field} {n}");
        }
        assert!(dom.contains("<svg"), "the holdings picture");
    }
    let jpn = browse(&profile, &format!("{base}/parties/JPN"), None);
    assert!(jpn.contains(&grouped(1234)), "1 234 transferred by Japan");
    // Canada's account holds the serials moved, as a range; its audit trail has the
    // transfer; the transaction's page has its receipt and serials.
    let can = browse(&profile, &format!("{base}/accounts/CAN-100-1"), None);
    assert!(
        can.contains(&format!(">{first}<")) && can.contains(&format!(">{last}<")),
        "serials {first}–{last}: {can}"
    );
    assert!(can.contains(&format!("/tx/{tx}")), "the audit trail");
    let page = browse(&profile, &format!("{base}/tx/{tx}"), None);
    assert!(page.contains("committed") && page.contains(&format!(">{first}<")));
    let block = browse(&profile, &format!("{base}/blocks/{height}"), None);
    assert!(block.contains(&format!("/tx/{tx}")) && block.contains("external_transfer"));
    assert!(block.contains("1 of 1 validators signed"), "{block}");
    let overview = browse(&profile, &format!("{base}/"), None);
    assert!(overview.contains("kyoto-dev") && overview.contains("since 2005-02-16"));
    // Sorting the Parties' table by units transferred puts Japan first.
    let sorted = browse(
        &profile,
        &format!("{base}/parties?sort=transferred&desc=true"),
        None,
    );
    let first_row = sorted.split("data-party=\"").nth(1).unwrap_or_default();
    assert!(first_row.starts_with("JPN"), "{sorted}");
    // Search takes a visitor to the page.
    let found = browse(&profile, &format!("{base}/search?q=can-100-1"), None);
    assert!(found.contains("Account CAN-100-1"));

    // A governance vote: the EU's counts for its 27 member States that are Parties.
    let proposed = node
        .kyoto(&[
            "--output",
            "json",
            "gov",
            "propose",
            "--key",
            &jpn_key,
            "--proposer",
            "JPN",
            "--title",
            "Reserve",
            "parameter",
            "--name",
            "cpr_percent_of_assigned",
            "--value",
            "50",
        ])
        .json();
    let id = json_u64(&proposed["receipt"]["applied"]["amount"]).to_string();
    node.kyoto(&["dev", "advance-time", "--to", "2008-07-02"])
        .ok();
    let eu_key = dev_key("EU");
    let vote = node
        .kyoto(&[
            "--output",
            "json",
            "gov",
            "vote",
            "--key",
            &eu_key,
            "--proposal",
            &id,
            "--party",
            "EU",
            "--choice",
            "yes",
        ])
        .json();
    assert_eq!(
        json_u64(&vote["receipt"]["applied"]["weight"]),
        27,
        "{vote}"
    );
    let gov = browse(&profile, &format!("{base}/governance/{id}"), None);
    assert!(
        gov.contains("Reserve") && gov.contains(">27<"),
        "the EU's weight: {gov}"
    );
    assert!(gov.contains("27 yes"), "the tally: {gov}");
    let list = browse(&profile, &format!("{base}/governance"), None);
    assert!(list.contains(&format!("/governance/{id}")), "{list}");
    let projects = browse(&profile, &format!("{base}/projects"), None);
    assert!(projects.contains("<h1>Projects</h1>"), "{projects}");

    // A CDM project's page: its issuances with the share of proceeds (Art. 12.8) and
    // its forwardings, added up.
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
    for amount in ["1000", "550"] {
        node.kyoto(&[
            "issue-cers",
            "--key",
            &cdm,
            "--project",
            "CDM-0001",
            "--amount",
            amount,
        ])
        .ok();
    }
    node.kyoto(&[
        "forward-cers",
        "--key",
        &cdm,
        "--project",
        "CDM-0001",
        "--to",
        "JPN-100-1",
        "--amount",
        "500",
    ])
    .ok();
    let project = browse(&profile, &format!("{base}/search?q=cdm-0001"), None);
    assert!(project.contains("Project CDM-0001"), "{project}");
    let totals = project.split("id=\"totals\"").nth(1).unwrap_or_default();
    // 2 % of each issuance, rounded up: 20 + 11.
    for (what, n) in [
        ("CERs issued", 1550),
        ("Adaptation Fund", 31),
        ("forwarded", 500),
    ] {
        let row = totals
            .split("<tr>")
            .find(|r| r.contains(what))
            .unwrap_or_default();
        assert!(
            row.contains(&format!(">{}<", grouped(n))),
            "{what} {n}: {project}"
        );
    }
    assert!(project.contains("(share of proceeds)"), "{project}");
    let (status, _, body) = http(&addr, "GET", "/api/v1/projects/CDM-0001/history");
    assert_eq!(status, 200, "{body}");
    let trail: serde_json::Value = serde_json::from_str(&body).unwrap();
    let kinds: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["receipt"]["applied"]["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        ["cer_forwarding", "cer_issuance", "cer_issuance"],
        "{trail}"
    );

    // Units moved between Parties, by month: the transfer from Japan to Canada, in the
    // JSON, on the flows page and in Japan's picture.
    let (status, _, body) = http(&addr, "GET", "/api/v1/flows");
    assert_eq!(status, 200, "{body}");
    let flows: serde_json::Value = serde_json::from_str(&body).unwrap();
    let moved: Vec<(String, String, u64)> = flows["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["fromParty"].as_str().unwrap().to_owned(),
                f["toParty"].as_str().unwrap().to_owned(),
                json_u64(&f["amount"]),
            )
        })
        .collect();
    assert_eq!(moved, [("JPN".into(), "CAN".into(), 1234)], "{flows}");
    let page = browse(&profile, &format!("{base}/flows"), None);
    let row = page
        .split("<tr>")
        .find(|r| r.contains("/parties/CAN"))
        .unwrap_or_default();
    assert!(
        row.contains("/parties/JPN") && row.contains(&grouped(1234)),
        "{page}"
    );
    assert!(page.contains("<svg"), "{page}");
    let jpn = browse(&profile, &format!("{base}/parties/JPN"), None);
    assert!(
        jpn.contains("Units acquired from and transferred to other Parties"),
        "{jpn}"
    );
    let (status, _, body) = http(&addr, "GET", "/api/v1/flows?first=200801&last=203001");
    assert_eq!(
        (status, body.contains("TOO_MANY_MONTHS")),
        (400, true),
        "{body}"
    );

    // A block is found by its hash too.
    let (_, _, body) = http(&addr, "GET", &format!("/api/v1/blocks/{height}"));
    let by_height: serde_json::Value = serde_json::from_str(&body).unwrap();
    let block_hash = by_height["blockHash"].as_str().unwrap().to_owned();
    let (status, _, body) = http(&addr, "GET", &format!("/api/v1/blocks/{block_hash}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        by_height
    );
    let found = browse(&profile, &format!("{base}/search?q={block_hash}"), None);
    assert!(
        found.contains(&format!("<h1>Block {height}</h1>")),
        "{found}"
    );
    let found = browse(&profile, &format!("{base}/search?q={tx}"), None);
    assert!(found.contains("<h1>Transaction</h1>"), "{found}");

    // The JSON API answers what the CLI answers.
    for (path, cli) in [
        ("/api/v1/parties/JPN", vec!["party", "JPN"]),
        ("/api/v1/accounts/CAN-100-1", vec!["account", "CAN-100-1"]),
        (
            &format!("/api/v1/blocks/{height}") as &str,
            vec!["block", &height.to_string() as &str],
        ),
        (
            &format!("/api/v1/proposals/{id}") as &str,
            vec!["gov", "show", &id as &str],
        ),
    ] {
        let (status, head, body) = http(&addr, "GET", path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let api: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut args = vec!["--output", "json"];
        args.extend(cli);
        assert_eq!(api, node.kyoto(&args).json(), "{path}");
    }
    // Lists come in pages: two blocks, newest first, and where the next page starts.
    let (_, head, body) = http(&addr, "GET", "/api/v1/blocks?limit=2");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    let top = json_u64(&page["height"]);
    let rows: Vec<u64> = page["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| json_u64(&b["height"]))
        .collect();
    assert_eq!(rows, [top, top - 1], "{page}");
    assert_eq!(json_u64(&page["nextBefore"]), top - 1, "{page}");
    assert!(head.contains("cache-control: public"), "{head}");

    // The positions report: stamped with the height and state root it was read at,
    // and Japan's AAU row is what `kyoto party JPN` says.
    let (status, head, csv) = http(&addr, "GET", "/reports/positions.csv");
    assert_eq!(status, 200, "{csv}");
    assert!(
        head.contains("text/csv") && head.contains("attachment"),
        "{head}"
    );
    let st = node.kyoto(&["--output", "json", "status"]).json();
    let stamp = format!(
        "kyoto-dev,{},{},JPN,AAU,1,",
        json_u64(&st["height"]),
        st["stateRoot"].as_str().unwrap()
    );
    let row = csv
        .lines()
        .find(|l| l.starts_with(&stamp))
        .unwrap_or_else(|| panic!("{stamp}: {csv}"));
    let jpn = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    let p = &jpn["positions"][0];
    let want: Vec<String> = ["issued", "acquired", "transferred"]
        .iter()
        .map(|f| json_u64(&p[*f]).to_string())
        .collect();
    let fields: Vec<&str> = row.split(',').collect();
    assert_eq!(
        fields[6..9],
        want.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "{row}"
    );
    assert_eq!(fields[13], json_u64(&p["held"]).to_string(), "{row}");
    let (_, _, report) = http(&addr, "GET", "/reports/positions.json");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["height"].as_u64(), Some(json_u64(&st["height"])));

    // The yearly reports: Japan's and Canada's 2008 show the transfer as a flow and
    // in the holdings at the start and end of the year, which differ by the flows; in
    // 2009 nothing moved.
    let report = |party: &str, year: u32| -> serde_json::Value {
        let (status, _, body) = http(&addr, "GET", &format!("/reports/{party}/{year}.json"));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let jpn_party = node.kyoto(&["--output", "json", "party", "JPN"]).json();
    let issued = json_u64(&jpn_party["positions"][0]["issued"]);
    let held = json_u64(&jpn_party["positions"][0]["held"]);
    for (party, acquired, transferred, start, end) in
        [("JPN", 0, 1234, issued, held), ("CAN", 1234, 0, 0, 0)]
    {
        let r = report(party, 2008);
        assert_eq!(r["height"].as_u64(), Some(json_u64(&st["height"])), "{r}");
        let aau: Vec<&serde_json::Value> = r["holdings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["unitType"] == "AAU")
            .collect();
        let change: i64 = aau
            .iter()
            .map(|h| h["end"].as_i64().unwrap() - h["start"].as_i64().unwrap())
            .sum();
        let flow = &r["flows"][0];
        assert_eq!(flow["unitType"], "AAU", "{r}");
        assert_eq!(
            (flow["acquired"].as_u64(), flow["transferred"].as_u64()),
            (Some(acquired), Some(transferred)),
            "{r}"
        );
        assert_eq!(change, acquired as i64 - transferred as i64, "{r}");
        if party == "JPN" {
            let h = aau
                .iter()
                .find(|h| h["accountType"] == "party_holding")
                .unwrap();
            assert_eq!(
                (h["start"].as_u64(), h["end"].as_u64()),
                (Some(start), Some(end)),
                "{r}"
            );
        }
    }
    let later = report("JPN", 2009);
    assert!(later["flows"].as_array().unwrap().is_empty(), "{later}");
    for h in later["holdings"].as_array().unwrap() {
        assert_eq!(h["start"], h["end"], "{later}");
    }
    let (status, head, csv) = http(&addr, "GET", "/reports/JPN/2008.csv");
    assert_eq!(status, 200);
    assert!(head.contains("text/csv"), "{head}");
    assert!(
        csv.contains(",JPN,2008,flows,,AAU,,,0,0,1234,0,0,0,0,0"),
        "{csv}"
    );
    let (status, _, body) = http(&addr, "GET", "/reports/JPN/nineteen.csv");
    assert_eq!(
        (status, body.contains("UNKNOWN_REPORT")),
        (404, true),
        "{body}"
    );

    // Read-only, bounded, escaped.
    let (status, _, _) = http(&addr, "POST", "/api/v1/status");
    assert_eq!(status, 405, "no route writes");
    let (status, _, body) = http(&addr, "GET", "/api/v1/parties/XYZ");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("UNKNOWN_PARTY"), "{body}");
    let long = "A".repeat(200);
    let (status, _, body) = http(&addr, "GET", &format!("/api/v1/accounts/{long}"));
    assert_eq!((status, body.contains("TOO_LONG")), (400, true), "{body}");
    let hostile = browse(
        &profile,
        &format!("{base}/parties/%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        None,
    );
    assert!(!hostile.contains("<script>alert"), "{hostile}");
    let (_, head, _) = http(&addr, "GET", "/parties");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );

    // Readable on a laptop and on a phone (the screenshots stay in the test's
    // directory; README shows one).
    for (name, size) in [("laptop.png", "1280,900"), ("phone.png", "390,844")] {
        let file = dir.path().join(name);
        browse(
            &profile,
            &format!("{base}/parties/JPN"),
            Some((&file, size)),
        );
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(bytes > 10_000, "{name}: {bytes} bytes");
    }
}
