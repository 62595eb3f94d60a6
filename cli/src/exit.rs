//! How a command ends, for scripts: a documented exit status for each kind of failure
//! (README, "Scripting the CLI"), and in JSON mode the failure as a JSON object on
//! stdout. A closed stdout (`kyoto status | head -1`) ends the program quietly.

use std::io::Write;
use std::process::ExitCode;

/// The ledger or the node refused the request (a refusal code: the receipt's, or the
/// node's admission check).
pub const REFUSED: u8 = 1;
/// The command line or an input it names is wrong (clap's own status for usage
/// errors too): malformed ids, hashes, dates, amounts, key files.
pub const USAGE: u8 = 2;
/// What was asked for does not exist: a transaction, block, account, Party, project
/// or proposal.
pub const NOT_FOUND: u8 = 3;
/// The node cannot be reached, or answered that it is unavailable.
pub const UNREACHABLE: u8 = 4;
/// The node failed (an internal error), answered with something the CLI cannot read,
/// or did not commit an accepted transaction in time.
pub const NODE: u8 = 5;

/// A refusal reported by the node or the ledger, with its stable code: exit status 1,
/// or 3 when the node answered that what was asked for does not exist.
#[derive(Debug)]
pub struct Refused {
    pub code: String,
    pub message: String,
    /// The node answered NOT_FOUND (UNKNOWN_ACCOUNT, UNKNOWN_BLOCK, ...).
    pub not_found: bool,
    /// The refusal is already on stdout (the committed transaction's receipt).
    pub printed: bool,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}: {}", self.code, self.message)
    }
}

impl std::error::Error for Refused {}

/// A failure that is not a refusal, with the exit status it ends with.
#[derive(Debug)]
pub enum Failure {
    NotFound(String),
    Unreachable(String),
    Node(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotFound(m) | Failure::Unreachable(m) | Failure::Node(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Failure {}

/// Whether the error is a write to a stdout that the reader closed.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The articles and decisions a message cites ("Art. 3.7", "decision 11/CMP.1"); a
/// list ("Art. 24, 25, 27") is one rule per number.
pub fn cited_rules(message: &str) -> Vec<String> {
    fn token(tail: &str) -> (String, usize) {
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '(' | ')')))
            .unwrap_or(tail.len());
        let cited = tail[..len].trim_end_matches(['.', ')']);
        // "(Art. 3.7)" leaves a ")" that belongs to the sentence; "6.1(a)" keeps its own.
        let cited = if cited.matches('(').count() > cited.matches(')').count() {
            format!("{cited})")
        } else {
            cited.to_owned()
        };
        (cited, len)
    }
    let mut rules = Vec::new();
    for prefix in ["Art. ", "decision "] {
        let mut rest = message;
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            loop {
                let (cited, len) = token(rest);
                if !cited.is_empty() {
                    rules.push(format!("{prefix}{cited}"));
                }
                rest = &rest[len..];
                match rest.strip_prefix(", ") {
                    Some(next) if next.starts_with(|c: char| c.is_ascii_digit()) => rest = next,
                    _ => break,
                }
            }
        }
    }
    rules
}

/// Prints the failure (stderr as text; in JSON mode also stdout as an object) and
/// returns the exit status.
pub fn report(e: &anyhow::Error, json: bool) -> ExitCode {
    if broken_pipe(e) {
        return ExitCode::SUCCESS;
    }
    let (status, code, message, already_printed) = if let Some(r) = e.downcast_ref::<Refused>() {
        let status = if r.not_found { NOT_FOUND } else { REFUSED };
        (status, r.code.clone(), r.message.clone(), r.printed)
    } else if let Some(f) = e.downcast_ref::<Failure>() {
        let (status, code) = match f {
            Failure::NotFound(_) => (NOT_FOUND, "NOT_FOUND"),
            Failure::Unreachable(_) => (UNREACHABLE, "UNREACHABLE"),
            Failure::Node(_) => (NODE, "NODE_ERROR"),
        };
        (status, code.to_owned(), format!("{e:#}"), false)
    } else {
        (USAGE, "USAGE".to_owned(), format!("{e:#}"), false)
    };
    match e.downcast_ref::<Refused>() {
        Some(r) => eprintln!("kyoto: {r}"),
        None => eprintln!("kyoto: error: {message}"),
    }
    if json && !already_printed {
        let object = serde_json::json!({
            "error": {
                "code": code,
                "message": message,
                "rules": cited_rules(&message),
                "exitStatus": status,
            }
        });
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&object).unwrap_or_default()
        );
    }
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cited_rules_are_found_in_refusal_messages() {
        assert_eq!(
            cited_rules(
                "issuing 5 AAU would bring JPN's period 1 issuance to more than its assigned amount of 3 (2 already issued; Art. 3.7, DES check 5008)"
            ),
            vec!["Art. 3.7"]
        );
        assert_eq!(
            cited_rules(
                "transfer would leave JPN below its commitment period reserve of 9 for period 1 (it would hold 8; decision 11/CMP.1)"
            ),
            vec!["decision 11/CMP.1"]
        );
        assert_eq!(
            cited_rules("JI project P is not approved by both (Art. 6.1(a))"),
            vec!["Art. 6.1(a)"]
        );
        assert_eq!(
            cited_rules("the Protocol is not in force for X (Art. 24, 25, 27), so"),
            vec!["Art. 24", "Art. 25", "Art. 27"]
        );
        assert!(cited_rules("no account JPN-100-9").is_empty());
    }
}
