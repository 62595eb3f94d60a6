//! Signing and hashing (DESIGN.md §4), and key files.
//!
//! A transaction signature is Ed25519 over `"kyoto-ledger/tx/v1" || 0x00 || body`.
//! Verification is strict (`verify_strict`: canonical signatures only, weak public
//! keys refused), so every node gives the same answer for the same bytes. Key files
//! are PKCS#8 PEM ("PRIVATE KEY"), the format OpenSSL and most tools read.

use std::{fs, io::Write, path::Path};

use ed25519_dalek::{
    Signature, Signer, SigningKey, VerifyingKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding},
};
use sha2::{Digest, Sha256};

use crate::ledger::{Hash, PublicKey};

/// Domain tag of client transactions.
pub const TX_DOMAIN: &[u8] = b"kyoto-ledger/tx/v1";

fn signing_payload(domain: &[u8], body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(domain.len() + 1 + body.len());
    msg.extend_from_slice(domain);
    msg.push(0);
    msg.extend_from_slice(body);
    msg
}

/// Signs a transaction body.
pub fn sign_tx(key: &SigningKey, body: &[u8]) -> [u8; 64] {
    key.sign(&signing_payload(TX_DOMAIN, body)).to_bytes()
}

#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the public key is not 32 bytes")]
    KeyLength,
    #[error("the signature is not 64 bytes")]
    SignatureLength,
    #[error("the public key is not a valid Ed25519 point")]
    BadKey,
    #[error("the public key is weak (small order) and is refused")]
    WeakKey,
    #[error("the signature does not verify")]
    Invalid,
}

/// Most decompressed signer keys remembered (a registry network has a few thousand
/// signers; past this the cache starts afresh).
const KEY_CACHE: usize = 16_384;

/// The signer key, decompressed and checked (valid point, not of small order) once per
/// key rather than once per signature: decompression and the small-order check cost
/// about as much as a third of a verification.
fn checked_key(pk: &PublicKey) -> Result<VerifyingKey, SignatureError> {
    static CACHE: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<PublicKey, VerifyingKey>>,
    > = std::sync::LazyLock::new(Default::default);
    if let Ok(cache) = CACHE.lock()
        && let Some(vk) = cache.get(pk)
    {
        return Ok(*vk);
    }
    let vk = VerifyingKey::from_bytes(pk).map_err(|_| SignatureError::BadKey)?;
    if vk.is_weak() {
        return Err(SignatureError::WeakKey);
    }
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= KEY_CACHE {
            cache.clear();
        }
        cache.insert(*pk, vk);
    }
    Ok(vk)
}

/// Verifies a transaction signature strictly over the received body bytes.
pub fn verify_tx(
    public_key: &[u8],
    body: &[u8],
    signature: &[u8],
) -> Result<PublicKey, SignatureError> {
    let pk: PublicKey = public_key
        .try_into()
        .map_err(|_| SignatureError::KeyLength)?;
    let sig: [u8; 64] = signature
        .try_into()
        .map_err(|_| SignatureError::SignatureLength)?;
    let vk = checked_key(&pk)?;
    vk.verify_strict(
        &signing_payload(TX_DOMAIN, body),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| SignatureError::Invalid)?;
    Ok(pk)
}

/// Whether 32 bytes are a usable (valid, not weak) Ed25519 public key.
pub fn is_valid_public_key(pk: &[u8]) -> bool {
    <[u8; 32]>::try_from(pk)
        .ok()
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .is_some_and(|vk| !vk.is_weak())
}

/// SHA-256.
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// A fresh key from the operating system's randomness.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path} already exists; refusing to overwrite it")]
    Exists { path: String },
    #[error("{path} is not an Ed25519 PKCS#8 PEM private key: {reason}")]
    Format { path: String, reason: String },
}

/// Writes a key as PKCS#8 PEM, readable only by its owner (mode 0600), never
/// overwriting an existing file.
pub fn write_key_file(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    let p = path.display().to_string();
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyFileError::Format {
            path: p.clone(),
            reason: e.to_string(),
        })?;
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyFileError::Exists { path: p.clone() }
        } else {
            KeyFileError::Write {
                path: p.clone(),
                source,
            }
        }
    })?;
    f.write_all(pem.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|source| KeyFileError::Write { path: p, source })
}

/// Reads a PKCS#8 PEM Ed25519 private key.
pub fn read_key_file(path: &Path) -> Result<SigningKey, KeyFileError> {
    let p = path.display().to_string();
    let pem = fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: p.clone(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyFileError::Format {
        path: p,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_over_the_signed_body_and_domain() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let body = b"body bytes";
        let sig = sign_tx(&key, body);
        let pk = key.verifying_key().to_bytes();
        assert_eq!(verify_tx(&pk, body, &sig), Ok(pk));
        assert_eq!(verify_tx(&pk, b"other", &sig), Err(SignatureError::Invalid));
        let plain = key.sign(body).to_bytes();
        assert_eq!(verify_tx(&pk, body, &plain), Err(SignatureError::Invalid));
        assert_eq!(
            verify_tx(&pk[..31], body, &sig),
            Err(SignatureError::KeyLength)
        );
        assert_eq!(
            verify_tx(&pk, body, &sig[..63]),
            Err(SignatureError::SignatureLength)
        );
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(!is_valid_public_key(&identity));
        assert_eq!(
            verify_tx(&identity, b"x", &[0; 64]),
            Err(SignatureError::WeakKey)
        );
    }

    #[test]
    fn key_files_round_trip_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let key = generate_key();
        write_key_file(&path, &key).unwrap();
        assert_eq!(read_key_file(&path).unwrap().to_bytes(), key.to_bytes());
        assert!(matches!(
            write_key_file(&path, &key),
            Err(KeyFileError::Exists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        fs::write(dir.path().join("bad"), "nope").unwrap();
        assert!(matches!(
            read_key_file(&dir.path().join("bad")),
            Err(KeyFileError::Format { .. })
        ));
    }
}
