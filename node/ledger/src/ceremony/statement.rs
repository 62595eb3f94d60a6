//! The records of a genesis ceremony as they appear in a genesis file: each registry's
//! signed statement of its keys, and the rule the Parties chose for validators.

use serde::{Deserialize, Serialize};

/// Domain tag of the bytes a statement's keys sign: the tag, a zero byte, then the
/// SHA-256 of the statement's body as compact JSON.
pub const STATEMENT_DOMAIN: &[u8] = b"kyoto-ledger/genesis-statement/v1";

/// How a genesis was agreed: the statements its keys come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisCeremony {
    /// Each Party runs at most one validator (the Parties' choice, made in the draft).
    pub one_validator_per_party: bool,
    /// The signed statements, in the draft's order: the Parties, the CDM executive
    /// board, the Depositary. Empty in a draft.
    #[serde(default)]
    pub statements: Vec<Statement>,
}

/// Whose keys a statement gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementRole {
    /// A Party's registry: its authority key and the validators it runs.
    Party,
    /// The CDM executive board (Art. 12).
    CdmBoard,
    /// The Depositary (Art. 23).
    Depositary,
}

/// A validator a registry runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementValidator {
    pub name: String,
    /// Hex Ed25519 public key.
    pub public_key: String,
}

/// What a registry states, for one draft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementBody {
    /// Hex SHA-256 of the draft the statement was made for (its genesis hash).
    pub draft_hash: String,
    pub role: StatementRole,
    /// The Party, for [`StatementRole::Party`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// Hex Ed25519 public key: the Party's registry authority, the CDM board's or the
    /// Depositary's.
    pub authority_key: String,
    #[serde(default)]
    pub validators: Vec<StatementValidator>,
}

/// A statement signed by its authority key and by each of its validators' keys, so
/// that nobody can state a key they do not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub body: StatementBody,
    /// Hex signature by `authority_key`.
    pub authority_signature: String,
    /// Hex signatures by each validator's key, in the order of `body.validators`.
    #[serde(default)]
    pub validator_signatures: Vec<String>,
}

impl StatementBody {
    /// Who the statement speaks for, as errors name it: the Party's code, `CDM board`
    /// or `Depositary`.
    pub fn speaker(&self) -> String {
        match self.role {
            StatementRole::Party => self.party.clone().unwrap_or_else(|| "?".to_owned()),
            StatementRole::CdmBoard => "CDM board".to_owned(),
            StatementRole::Depositary => "Depositary".to_owned(),
        }
    }
}
