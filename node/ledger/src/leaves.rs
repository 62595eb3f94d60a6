//! The state as leaves: each Party, account, nonce, project and proposal is one leaf,
//! encoded with postcard and hashed; the state root is a hash over every leaf in key
//! order (ARCHITECTURE.md, "State root"). A block's writes are the leaves it changed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::governance::records::{Governance, Proposal};
use crate::state::{Account, CdmRegistry, Holder, Meta, Params, Party, Project, State};
use crate::types::{AccountId, Hash, PartyCode, PublicKey};

/// A leaf of the state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateKey {
    Meta,
    Params,
    Cdm,
    Party(PartyCode),
    Account(AccountId),
    Nonce(PublicKey),
    Project(String),
    Governance,
    Proposal(u64),
}

impl StateKey {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            StateKey::Meta => b"m".to_vec(),
            StateKey::Params => b"g".to_vec(),
            StateKey::Cdm => b"c".to_vec(),
            StateKey::Project(id) => [b"x/".as_slice(), id.as_bytes()].concat(),
            StateKey::Governance => b"v".to_vec(),
            StateKey::Proposal(id) => [b"q/".as_slice(), &id.to_be_bytes()].concat(),
            StateKey::Party(p) => [b"p/", p.as_str().as_bytes()].concat(),
            StateKey::Account(a) => [b"a/".as_slice(), a.to_string().as_bytes()].concat(),
            StateKey::Nonce(pk) => [b"n/".as_slice(), pk.as_slice()].concat(),
        }
    }
}

/// A failure to encode or decode the state (never caused by a transaction).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state leaf {key} could not be encoded: {source}")]
    Encode {
        key: String,
        source: postcard::Error,
    },
    #[error("state leaf {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("state is incomplete (chain position, parameters or CDM registry leaf missing)")]
    MissingMeta,
}

/// A stored leaf: key bytes and encoding.
pub type Leaf = (Vec<u8>, Vec<u8>);

/// A leaf write: key bytes and the new encoding (`None` deletes the leaf).
pub type LeafWrite = (Vec<u8>, Option<Vec<u8>>);

pub(crate) fn encode<T: Serialize>(key: &[u8], value: &T) -> Result<Vec<u8>, StateError> {
    postcard::to_allocvec(value).map_err(|source| StateError::Encode {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

pub(crate) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StateError> {
    postcard::from_bytes(bytes).map_err(|e| StateError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

pub(crate) fn leaf_hash(value: &[u8]) -> Hash {
    Sha256::digest(value).into()
}

impl State {
    /// Encodes the current value of a leaf (`None` if it no longer exists).
    pub(crate) fn encode_leaf(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        let k = key.to_bytes();
        Ok(match key {
            StateKey::Meta => Some(encode(&k, &self.meta)?),
            StateKey::Params => Some(encode(&k, &self.params)?),
            StateKey::Cdm => Some(encode(&k, &self.cdm)?),
            StateKey::Project(id) => self.projects.get(id).map(|v| encode(&k, v)).transpose()?,
            StateKey::Governance => Some(encode(&k, &self.governance)?),
            StateKey::Proposal(id) => self.proposals.get(id).map(|v| encode(&k, v)).transpose()?,
            StateKey::Party(p) => self.parties.get(p).map(|v| encode(&k, v)).transpose()?,
            StateKey::Account(a) => self.accounts.get(a).map(|v| encode(&k, v)).transpose()?,
            StateKey::Nonce(pk) => self.nonces.get(pk).map(|v| encode(&k, v)).transpose()?,
        })
    }

    /// Re-encodes the touched leaves, updates their hashes, and returns the writes.
    pub(crate) fn flush_leaves(
        &mut self,
        touched: BTreeSet<StateKey>,
    ) -> Result<Vec<LeafWrite>, StateError> {
        let mut writes = Vec::with_capacity(touched.len());
        for key in touched {
            let bytes = self.encode_leaf(&key)?;
            let k = key.to_bytes();
            match &bytes {
                Some(v) => {
                    self.leaf_hashes.insert(k.clone(), leaf_hash(v));
                }
                None => {
                    self.leaf_hashes.remove(&k);
                }
            }
            writes.push((k, bytes));
        }
        Ok(writes)
    }

    /// SHA-256 over every leaf (key length, key, hash of value) in key order.
    pub fn state_root(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(b"kyoto-ledger/state/v1");
        for (k, v) in &self.leaf_hashes {
            h.update((k.len() as u32).to_be_bytes());
            h.update(k);
            h.update(v);
        }
        h.finalize().into()
    }

    /// Rebuilds the state from its stored leaves (as written by [`State::flush_leaves`]).
    pub fn from_leaves<I>(leaves: I) -> Result<Self, StateError>
    where
        I: IntoIterator<Item = Leaf>,
    {
        let mut meta = None;
        let mut params = None;
        let mut cdm = None;
        let mut projects = BTreeMap::new();
        let mut governance = None;
        let mut proposals = BTreeMap::new();
        let mut parties = BTreeMap::new();
        let mut accounts = BTreeMap::new();
        let mut nonces = BTreeMap::new();
        let mut leaf_hashes = BTreeMap::new();
        for (k, v) in leaves {
            let name = String::from_utf8_lossy(&k).into_owned();
            let corrupt = |reason: &str| StateError::Corrupt {
                key: name.clone(),
                reason: reason.to_owned(),
            };
            if k == b"m" {
                meta = Some(decode::<Meta>(&k, &v)?);
            } else if k == b"g" {
                params = Some(decode::<Params>(&k, &v)?);
            } else if k == b"v" {
                governance = Some(decode::<Governance>(&k, &v)?);
            } else if let Some(id) = k.strip_prefix(b"q/") {
                let proposal: Proposal = decode(&k, &v)?;
                let id: [u8; 8] = id
                    .try_into()
                    .map_err(|_| corrupt("proposal key is not 8 bytes"))?;
                if proposal.id != u64::from_be_bytes(id) {
                    return Err(corrupt("proposal id does not match its key"));
                }
                proposals.insert(proposal.id, proposal);
            } else if k == b"c" {
                cdm = Some(decode::<CdmRegistry>(&k, &v)?);
            } else if let Some(id) = k.strip_prefix(b"x/") {
                let project: Project = decode(&k, &v)?;
                let pid = match &project {
                    Project::Ji { id, .. } | Project::Cdm { id, .. } => id.clone(),
                };
                if pid.as_bytes() != id {
                    return Err(corrupt("project id does not match its key"));
                }
                projects.insert(pid, project);
            } else if let Some(code) = k.strip_prefix(b"p/") {
                let party: Party = decode(&k, &v)?;
                if party.code.as_str().as_bytes() != code {
                    return Err(corrupt("Party code does not match its key"));
                }
                parties.insert(party.code.clone(), party);
            } else if let Some(id) = k.strip_prefix(b"a/") {
                let account: Account = decode(&k, &v)?;
                if account.id.to_string().as_bytes() != id {
                    return Err(corrupt("account id does not match its key"));
                }
                let ordered = account
                    .blocks
                    .windows(2)
                    .all(|w| (&w[0].origin, w[0].end) < (&w[1].origin, w[1].start));
                if account
                    .blocks
                    .iter()
                    .any(|b| b.end < b.start || b.end == u64::MAX)
                    || !ordered
                {
                    return Err(corrupt("malformed or overlapping serial blocks"));
                }
                accounts.insert(account.id.clone(), account);
            } else if let Some(pk) = k.strip_prefix(b"n/") {
                let pk: PublicKey = pk
                    .try_into()
                    .map_err(|_| corrupt("nonce key is not 32 bytes"))?;
                nonces.insert(pk, decode::<u64>(&k, &v)?);
            } else {
                return Err(corrupt("unknown leaf kind"));
            }
            leaf_hashes.insert(k, leaf_hash(&v));
        }
        let meta = meta.ok_or(StateError::MissingMeta)?;
        let params = params.ok_or(StateError::MissingMeta)?;
        let cdm = cdm.ok_or(StateError::MissingMeta)?;
        let governance = governance.ok_or(StateError::MissingMeta)?;
        let holder_keys = accounts
            .values()
            .filter_map(|a: &Account| match &a.holder {
                Holder::Key(k) => Some(*k),
                _ => None,
            })
            .collect();
        Ok(State {
            meta,
            params,
            cdm,
            projects,
            governance,
            proposals,
            parties,
            accounts,
            nonces,
            leaf_hashes,
            holder_keys,
        })
    }

    /// Every leaf with its encoding, in key order (used to verify a reload and in tests).
    pub fn leaves(&self) -> Result<Vec<Leaf>, StateError> {
        let mut keys: Vec<StateKey> = vec![
            StateKey::Meta,
            StateKey::Params,
            StateKey::Cdm,
            StateKey::Governance,
        ];
        keys.extend(self.proposals.keys().copied().map(StateKey::Proposal));
        keys.extend(self.projects.keys().cloned().map(StateKey::Project));
        keys.extend(self.parties.keys().cloned().map(StateKey::Party));
        keys.extend(self.accounts.keys().cloned().map(StateKey::Account));
        keys.extend(self.nonces.keys().copied().map(StateKey::Nonce));
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(v) = self.encode_leaf(&key)? {
                out.push((key.to_bytes(), v));
            }
        }
        out.sort();
        Ok(out)
    }
}
