//! Test harness: runs the real `kyotod` and `kyoto` binaries (built by
//! `cargo build --workspace --bins`) as processes on loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Path of a workspace binary next to the test executable's directory.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

pub mod cluster;
pub mod grpc;
pub mod nemesis;

/// A `kyotod` process.
pub struct NodeProcess {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
}

impl NodeProcess {
    /// Starts `kyotod --dev` on a free loopback port and waits until it serves.
    pub fn start_dev(data_dir: &Path) -> Self {
        Self::start(data_dir, &["--dev"])
    }

    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(data_dir, extra, None)
    }

    /// Starts `kyotod` with `extra` arguments; with `log`, its stderr (info level)
    /// goes to that file (appended), otherwise warnings go to the test's stderr.
    pub fn spawn(data_dir: &Path, extra: &[&str], log: Option<&Path>) -> Self {
        let mut cmd = Command::new(bin("kyotod"));
        cmd.args(extra)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--grpc-addr", "127.0.0.1:0", "--log-format", "json"])
            .stdout(Stdio::piped());
        match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("open the node's log file");
                cmd.env("RUST_LOG", "info,sled=warn,libp2p=warn")
                    .stderr(Stdio::from(file));
            }
            None => {
                cmd.env("RUST_LOG", "warn").stderr(Stdio::inherit());
            }
        }
        let mut child = cmd.spawn().expect("spawn kyotod");
        let stdout = child.stdout.take().expect("kyotod stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("kyotod: gRPC listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("kyotod did not start serving within 60 s");
            });
        NodeProcess {
            child: Some(child),
            url,
            data_dir: data_dir.to_owned(),
        }
    }

    /// SIGSTOP (`pause: true`) or SIGCONT: the process freezes, its sockets stay open.
    pub fn signal_stop(&self, pause: bool) {
        if let Some(c) = &self.child {
            let signal = if pause { "-STOP" } else { "-CONT" };
            let sent = Command::new("kill")
                .args([signal, &c.id().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(sent, "kill {signal} {} failed", c.id());
        }
    }

    /// SIGKILL: no chance to flush or shut down cleanly.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill kyotod");
            c.wait().expect("reap kyotod");
        }
    }

    /// Runs the `kyoto` CLI against this node, from the data directory's parent (as a
    /// user who started `kyotod --dev` there would).
    pub fn kyoto(&self, args: &[&str]) -> CliResult {
        kyoto(
            &self.url,
            self.data_dir.parent().unwrap_or(Path::new(".")),
            args,
        )
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The outcome of a CLI run.
#[derive(Debug)]
pub struct CliResult {
    pub success: bool,
    /// The exit status (`None` if a signal ended it).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliResult {
    fn from(o: Output) -> Self {
        CliResult {
            success: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert!(
            self.success,
            "kyoto failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Parses stdout as JSON (after asserting success).
    pub fn json(self) -> serde_json::Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }
}

/// Runs `kyoto --node URL ARGS…` in `cwd` (so that relative key paths work as in the README).
pub fn kyoto(url: &str, cwd: &Path, args: &[&str]) -> CliResult {
    let out = Command::new(bin("kyoto"))
        .current_dir(cwd)
        .arg("--node")
        .arg(url)
        .args(args)
        .env_remove("KYOTO_NODE")
        .output()
        .expect("run kyoto");
    CliResult::from(out)
}

/// Runs `kyotod` with `args`, expecting it to exit by itself within `timeout`
/// (a start-up error); returns its exit success and stderr.
pub fn kyotod_exit(args: &[&str], timeout: Duration) -> (bool, String) {
    let mut child = Command::new(bin("kyotod"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kyotod");
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait kyotod") {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut s, &mut err);
            }
            return (status.success(), err);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kyotod {args:?} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Dev key path of a Party (or `CDM`, `DEPOSITARY`), relative to the data directory's parent.
pub fn dev_key(code: &str) -> String {
    format!(".kyoto-dev/dev-keys/{code}.key")
}

/// Asserts that a CLI run was refused with `code`.
#[track_caller]
pub fn assert_refused(r: CliResult, code: &str) {
    assert!(
        !r.success,
        "expected {code}, but it succeeded: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains(&format!("refused: {code}:")),
        "expected {code}, got: {}",
        r.stderr
    );
}

/// A 64-bit integer of the protobuf JSON mapping (written as a string), 0 when absent.
pub fn json_u64(v: &serde_json::Value) -> u64 {
    match v {
        serde_json::Value::String(s) => s.parse().expect("an integer string"),
        serde_json::Value::Number(n) => n.as_u64().expect("an unsigned integer"),
        serde_json::Value::Null => 0,
        other => panic!("not an integer: {other}"),
    }
}

/// Runs the first ```sh block after `heading` in README.md with bash (`-euo pipefail`),
/// in `cwd`, against `node`, with the built binaries first on PATH; returns stdout.
pub fn run_readme_block(heading: &str, cwd: &Path, node: &NodeProcess) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("no section `{heading}` in README.md"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    let bin_dir = bin("kyoto").parent().expect("bin dir").to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", block])
        .current_dir(cwd)
        .env("PATH", path)
        .env("KYOTO_NODE", &node.url)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "README block failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
