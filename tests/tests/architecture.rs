//! The layering of ARCHITECTURE.md, checked: the ledger crate names no IO crate, the
//! client crates do not link the node, no source file outside the tests outgrows what
//! a reader can hold, only the binaries use `anyhow`, and the code cites only files
//! that are in the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The names of every crate `package` depends on (normal dependencies, all depths).
fn dependencies(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", package])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

fn forbidden<'a>(deps: &'a [String], prefixes: &[&str]) -> Vec<&'a String> {
    deps.iter()
        .filter(|d| prefixes.iter().any(|p| d.starts_with(p)))
        .collect()
}

#[test]
fn the_ledger_crate_names_no_io_crate() {
    let deps = dependencies("kyoto-ledger");
    assert!(deps.iter().any(|d| d == "sha2"), "{deps:?}");
    let io = forbidden(
        &deps,
        &[
            "tokio",
            "sled",
            "libp2p",
            "tonic",
            "hyper",
            "mio",
            "socket2",
            "arc-malachitebft",
            "kyoto-node",
            "kyoto-proto",
            "prost",
            "getrandom",
        ],
    );
    assert!(io.is_empty(), "kyoto-ledger depends on {io:?}");
}

#[test]
fn the_cli_and_the_client_crate_do_not_link_the_node() {
    for package in ["kyoto-cli", "kyoto-client"] {
        let deps = dependencies(package);
        assert!(deps.iter().any(|d| d == "kyoto-ledger"), "{deps:?}");
        let node = forbidden(
            &deps,
            &[
                "kyoto-node",
                "sled",
                "libp2p",
                "arc-malachitebft",
                "tikv-jemalloc",
            ],
        );
        assert!(node.is_empty(), "{package} depends on {node:?}");
    }
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | "corpus" | ".git") {
                rust_sources(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Product sources: everything but tests, benches' scenarios and test support.
fn is_product_source(rel: &Path) -> bool {
    let s = rel.to_string_lossy();
    !(s.starts_with("tests/")
        || s.starts_with("benches/")
        || s.contains("/tests/")
        || s.ends_with("/tests.rs"))
}

/// Lines before the first `#[cfg(test)]`: the unit tests at the foot of a file are
/// tests, not something a reader of the code must hold.
fn code_lines(text: &str) -> usize {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .count()
}

#[test]
fn no_product_source_file_is_over_600_lines() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ["node", "cli", "proto"] {
        rust_sources(&root.join(dir), &mut files);
    }
    let long: Vec<(usize, String)> = files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(&root).unwrap();
            if !is_product_source(rel) {
                return None;
            }
            let n = code_lines(&std::fs::read_to_string(f).unwrap());
            (n > 600).then(|| (n, rel.display().to_string()))
        })
        .collect();
    assert!(long.is_empty(), "files over 600 lines of code: {long:?}");
}

/// Library code returns typed errors; only the binaries (`kyotod`'s `main.rs` and
/// `daemon/`, and the `kyoto` CLI, which is all binary) report them with `anyhow`.
#[test]
fn only_the_binaries_use_anyhow() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ["node", "cli/client", "proto"] {
        rust_sources(&root.join(dir), &mut files);
    }
    let is_binary =
        |rel: &Path| rel == Path::new("node/src/main.rs") || rel.starts_with("node/src/daemon");
    let found: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(&root).unwrap();
            let text = std::fs::read_to_string(f).unwrap();
            (is_product_source(rel) && !is_binary(rel) && text.contains("anyhow"))
                .then(|| rel.display().to_string())
        })
        .collect();
    assert!(found.is_empty(), "library files that use anyhow: {found:?}");
}

#[test]
fn code_cites_only_files_in_the_repository() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in ["node", "cli", "proto", "tests", "benches", "deploy"] {
        rust_sources(&root.join(dir), &mut files);
    }
    // The reference documents the project was designed from live outside it.
    let outside = [
        ["DESIGN", ".md"].concat(),
        ["MALACHITE", ".md"].concat(),
        ["STYLE", ".md"].concat(),
        ["../", "shared"].concat(),
    ];
    let mut cites = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o.as_str())) {
                cites.push(format!(
                    "{}:{}",
                    f.strip_prefix(&root).unwrap().display(),
                    i + 1
                ));
            }
        }
    }
    assert!(
        cites.is_empty(),
        "citations of files not in the repository: {cites:?}"
    );
    for doc in ["ARCHITECTURE.md", "README.md"] {
        assert!(root.join(doc).is_file(), "{doc} is missing");
    }
}

/// The module a source file defines, as a path below its crate root
/// (`lib.rs` and `main.rs` are the root, `x/mod.rs` is `x`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// The module paths a file names through `crate::`, `super::` and `self::`,
/// relative to the crate root; one level of `{…}` groups is expanded. Comments and
/// the unit tests at the foot of a file are not code a reader must follow.
fn named_paths(me: &[String], text: &str) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ident_at = |mut i: usize| {
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        (code[start..i].to_string(), i)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_ident(bytes[i]) || (i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        let (word, end) = ident_at(i);
        i = end;
        if !matches!(word.as_str(), "crate" | "super" | "self") || !code[end..].starts_with("::") {
            continue;
        }
        let mut base: Vec<String> = if word == "crate" {
            Vec::new()
        } else {
            me.to_vec()
        };
        if word == "super" {
            base.pop();
        }
        let mut segs = Vec::new();
        let mut j = end;
        let mut group = None;
        while code[j..].starts_with("::") {
            j += 2;
            if code[j..].starts_with('{') {
                let close = code[j..].find('}').map_or(code.len(), |k| j + k);
                group = Some(code[j + 1..close].to_string());
                j = close;
                break;
            }
            let (seg, next) = ident_at(j);
            if seg == "super" && segs.is_empty() {
                base.pop();
            } else if !seg.is_empty() {
                segs.push(seg);
            }
            j = next;
        }
        i = j;
        let path: Vec<String> = base.into_iter().chain(segs).collect();
        match group {
            Some(items) => {
                for item in items.split(',') {
                    let first = item.trim().split("::").next().unwrap_or("").trim();
                    if !first.is_empty() {
                        let mut p = path.clone();
                        p.push(first.to_string());
                        out.push(p);
                    }
                }
            }
            None => out.push(path),
        }
    }
    out
}

/// File-level import cycles among a crate's modules: pairs of files that each,
/// directly or through others, name the other.
fn module_cycles(src: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_sources(src, &mut files);
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(src).unwrap();
            (module_of(rel), rel.display().to_string())
        })
        .collect();
    // A path names the file of its longest prefix that is a module.
    let file_of = |path: &[String]| {
        (1..=path.len())
            .rev()
            .find_map(|n| modules.get(&path[..n]).cloned())
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &modules {
        if module.is_empty() {
            continue; // the crate root declares and re-exports; it is not a layer
        }
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let deps = named_paths(module, &text)
            .iter()
            .filter_map(|p| file_of(p))
            .filter(|d| d != file)
            .collect();
        edges.insert(file.clone(), deps);
    }
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(x) = stack.pop() {
            for y in edges.get(&x).into_iter().flatten() {
                if y == to {
                    return true;
                }
                if seen.insert(y.clone()) {
                    stack.push(y.clone());
                }
            }
        }
        false
    };
    let mut cycles = BTreeSet::new();
    for (a, deps) in &edges {
        for b in deps {
            if reaches(b, a) {
                cycles.insert((a.min(b).clone(), a.max(b).clone()));
            }
        }
    }
    cycles.into_iter().collect()
}

#[test]
fn the_import_cycle_finder_sees_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir(src.join("store")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a; pub mod b; pub mod store;").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::store::{memory::Mem, Store};").unwrap();
    std::fs::write(
        src.join("store/mod.rs"),
        "pub mod memory; pub trait Store {}",
    )
    .unwrap();
    std::fs::write(src.join("store/memory.rs"), "use super::super::b::B;").unwrap();
    std::fs::write(src.join("b.rs"), "// crate::a\npub struct B;").unwrap();
    assert!(module_cycles(src).is_empty());
    std::fs::write(src.join("b.rs"), "pub struct B(crate::a::A);").unwrap();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        module_cycles(src),
        [
            pair("a.rs", "b.rs"),
            pair("a.rs", "store/memory.rs"),
            pair("b.rs", "store/memory.rs"),
        ]
    );
}

#[test]
fn no_module_of_the_node_or_the_rules_imports_in_a_circle() {
    // Each file may use the files below it, never one that uses it back: a reader
    // can then learn the code bottom-up (ARCHITECTURE.md, "Layers").
    let root = workspace();
    for src in ["node/ledger/src", "node/src", "cli/client/src", "cli/src"] {
        let cycles = module_cycles(&root.join(src));
        assert!(
            cycles.is_empty(),
            "{src}: files that import each other: {cycles:?}"
        );
    }
}
