//! What a node knows of its own standing, for `GetStatus` and the gRPC health
//! service: when it last committed, whether an observer is following a validator and
//! how far behind it is, the last block that failed verification. A node that cannot
//! serve current data says so (`serving: false`, health `NOT_SERVING`).

use std::time::{Duration, Instant};

use super::{Node, Role};

/// An observer further behind than this many heights does not serve current data.
pub const OBSERVER_MAX_BEHIND: u64 = 10;

/// A validator (or observer) of a network that has committed nothing for this long is
/// cut off (from a quorum, or from every validator).
pub const STALL: Duration = Duration::from_secs(30);

/// Most bytes of the last fault kept (a block rejection's message).
const MAX_FAULT: usize = 512;

#[derive(Debug)]
pub(crate) struct Standing {
    /// When the node started, or last committed a block.
    last_commit: Instant,
    committed_since_start: bool,
    /// Observers: whether a validator's block stream is open, and the highest height
    /// that validator has shown.
    following: bool,
    remote_height: u64,
    last_fault: Option<String>,
}

impl Standing {
    pub(crate) fn new() -> Self {
        Standing {
            last_commit: Instant::now(),
            committed_since_start: false,
            following: false,
            remote_height: 0,
            last_fault: None,
        }
    }
}

/// The node's standing as `GetStatus` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// `dev`, `validator`, `joining` or `observer`.
    pub role: &'static str,
    /// `producing` (dev), `in_step`, `catching_up` or `cut_off`.
    pub sync_state: &'static str,
    pub behind: u64,
    /// Since the last commit (`None` before the first since the node started).
    pub last_commit_age: Option<Duration>,
    pub last_fault: String,
    pub serving: bool,
}

impl Node {
    /// Notes a committed block (the stall clock starts again).
    pub(crate) fn note_commit(&self) {
        if let Ok(mut s) = self.standing.lock() {
            s.last_commit = Instant::now();
            s.committed_since_start = true;
        }
    }

    /// Observers: whether a validator's stream is open, and a height it has shown.
    pub fn note_following(&self, following: bool, remote_height: Option<u64>) {
        if let Ok(mut s) = self.standing.lock() {
            s.following = following;
            if let Some(h) = remote_height {
                s.remote_height = s.remote_height.max(h);
            }
        }
    }

    /// A block that failed verification, or another fault worth an operator's eye.
    pub fn note_fault(&self, what: &str) {
        let mut what = format!(
            "{}: {what}",
            crate::ledger::calendar::format_instant(crate::clock::now_ms())
        );
        if what.len() > MAX_FAULT {
            let mut end = MAX_FAULT;
            while !what.is_char_boundary(end) {
                end -= 1;
            }
            what.truncate(end);
        }
        if let Ok(mut s) = self.standing.lock() {
            s.last_fault = Some(what);
        }
    }

    /// The node's standing now.
    pub fn health(&self) -> Health {
        let height = self.chain().map(|c| c.height()).unwrap_or(0);
        let role = match &self.role {
            Role::Observer => "observer",
            Role::Validator(_) if self.config.dev_clock => "dev",
            Role::Validator(key) => {
                let key = key.verifying_key().to_bytes();
                let member = self.chain().is_ok_and(|c| {
                    c.state()
                        .governance()
                        .validators
                        .iter()
                        .any(|v| v.key == key)
                });
                if member { "validator" } else { "joining" }
            }
        };
        let Ok(s) = self.standing.lock() else {
            return Health {
                role,
                sync_state: "cut_off",
                behind: 0,
                last_commit_age: None,
                last_fault: "a lock was poisoned by a panic".into(),
                serving: false,
            };
        };
        let stalled = s.last_commit.elapsed() >= STALL;
        let behind = s.remote_height.saturating_sub(height);
        let (sync_state, serving) = match role {
            "dev" => ("producing", true),
            "observer" if !s.following && stalled => ("cut_off", false),
            "observer" if behind > 0 => ("catching_up", behind <= OBSERVER_MAX_BEHIND),
            "observer" => ("in_step", true),
            _ if stalled => ("cut_off", false),
            _ => ("in_step", true),
        };
        Health {
            role,
            sync_state,
            behind,
            last_commit_age: s.committed_since_start.then(|| s.last_commit.elapsed()),
            last_fault: s.last_fault.clone().unwrap_or_default(),
            serving,
        }
    }
}
