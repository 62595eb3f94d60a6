//! Signing and hashing (the signing contract, ARCHITECTURE.md "Signing"), and key files.
//!
//! A transaction signature is Ed25519 over `"kyoto-ledger/tx/v1" || 0x00 || body`.
//! Every node must give the same answer for the same bytes, whether it checks one
//! signature (a submission, a gossiped transaction) or a block's worth at once, so
//! transaction signatures follow the ZIP-215 rules (`ed25519-zebra`): the cofactored
//! equation `[8][s]B = [8]R + [8][k]A`, `s` canonical, under which single and batched
//! verification accept exactly the same signatures (RFC 8032's rules leave the
//! choice of equation open, and with it signatures one node accepts and another
//! refuses). On top of ZIP-215 the signer key must be a valid point of large order
//! (weak keys are refused), checked once per key. Every honestly made Ed25519
//! signature verifies under these rules. Key files are PKCS#8 PEM ("PRIVATE KEY"),
//! the format OpenSSL and most tools read.

use std::{fs, io::Write, path::Path};

use ed25519_dalek::{
    Signer, SigningKey, VerifyingKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding},
};
use sha2::{Digest, Sha256};

use kyoto_ledger::{Hash, PublicKey};

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
fn checked_key(pk: &PublicKey) -> Result<ed25519_zebra::VerificationKey, SignatureError> {
    static CACHE: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<PublicKey, ed25519_zebra::VerificationKey>>,
    > = std::sync::LazyLock::new(Default::default);
    if let Ok(cache) = CACHE.lock()
        && let Some(vk) = cache.get(pk)
    {
        return Ok(*vk);
    }
    if VerifyingKey::from_bytes(pk)
        .map_err(|_| SignatureError::BadKey)?
        .is_weak()
    {
        return Err(SignatureError::WeakKey);
    }
    let vk = ed25519_zebra::VerificationKey::try_from(*pk).map_err(|_| SignatureError::BadKey)?;
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= KEY_CACHE {
            cache.clear();
        }
        cache.insert(*pk, vk);
    }
    Ok(vk)
}

/// A transaction signature whose key and lengths are checked, ready to be verified
/// on its own or in a batch.
#[derive(Clone, Debug)]
pub struct PendingSignature {
    key: ed25519_zebra::VerificationKey,
    public_key: PublicKey,
    signature: ed25519_zebra::Signature,
    payload: Vec<u8>,
}

impl PendingSignature {
    /// Checks the lengths and the signer key of a transaction signature over the
    /// received body bytes.
    pub fn new(public_key: &[u8], body: &[u8], signature: &[u8]) -> Result<Self, SignatureError> {
        let pk: PublicKey = public_key
            .try_into()
            .map_err(|_| SignatureError::KeyLength)?;
        let sig: [u8; 64] = signature
            .try_into()
            .map_err(|_| SignatureError::SignatureLength)?;
        Ok(PendingSignature {
            key: checked_key(&pk)?,
            public_key: pk,
            signature: ed25519_zebra::Signature::from_bytes(&sig),
            payload: signing_payload(TX_DOMAIN, body),
        })
    }

    /// The signer's public key.
    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// Verifies this one signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        self.key
            .verify(&self.signature, &self.payload)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// Verifies many signatures at once (about three times faster than one by one).
/// Under ZIP-215 the answer is the one single verification would give for every
/// signature: `Ok` if all verify. On `Err`, verify them one by one to find which.
pub fn verify_batch(pending: &[PendingSignature]) -> Result<(), SignatureError> {
    match pending {
        [] => Ok(()),
        [one] => one.verify(),
        _ => {
            let mut batch = ed25519_zebra::batch::Verifier::new();
            for p in pending {
                batch.queue((
                    ed25519_zebra::VerificationKeyBytes::from(p.public_key),
                    p.signature,
                    &p.payload,
                ));
            }
            // The random coefficients only make forging a passing batch infeasible;
            // they never change the answer for valid signatures.
            batch
                .verify(rand_core::OsRng)
                .map_err(|_| SignatureError::Invalid)
        }
    }
}

/// Verifies many signatures, in one batch when all are valid; otherwise one by one,
/// to say which are not. One result per signature, in order.
pub fn verify_each(pending: &[PendingSignature]) -> Vec<Result<(), SignatureError>> {
    if verify_batch(pending).is_ok() {
        return vec![Ok(()); pending.len()];
    }
    pending.iter().map(PendingSignature::verify).collect()
}

/// Verifies a transaction signature over the received body bytes.
pub fn verify_tx(
    public_key: &[u8],
    body: &[u8],
    signature: &[u8],
) -> Result<PublicKey, SignatureError> {
    let pending = PendingSignature::new(public_key, body, signature)?;
    pending.verify()?;
    Ok(pending.public_key)
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
    #[error(
        "key file {path} can be read by other users (mode {mode:04o}); a private key must be readable by its owner only: chmod 600 {path}"
    )]
    Unprotected { path: String, mode: u32 },
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
/// Reads a PKCS#8 PEM key file. As ssh does, a file that other users can read (any
/// group or other permission bit on Unix) is refused: its key must be treated as known.
pub fn read_key_file(path: &Path) -> Result<SigningKey, KeyFileError> {
    let p = path.display().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|source| KeyFileError::Read {
                path: p.clone(),
                source,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Unprotected { path: p, mode });
        }
    }
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

    fn pending(key: &SigningKey, body: &[u8], sig: &[u8]) -> PendingSignature {
        PendingSignature::new(&key.verifying_key().to_bytes(), body, sig).unwrap()
    }

    /// A signature whose R has an 8-torsion component: `[s]B = R' + [k]A` fails, but
    /// the cofactored `[8][s]B = [8]R + [8][k]A` holds. RFC 8032 verifiers differ on
    /// it (ed25519-dalek's `verify_strict` refuses it, a batch verifier accepts it);
    /// under ZIP-215 both our paths accept it.
    fn torsioned_signature(secret: [u8; 32], body: &[u8]) -> ([u8; 32], [u8; 64]) {
        use curve25519_dalek::{Scalar, constants};
        use sha2::Sha512;
        let a = Scalar::from_bytes_mod_order(secret);
        let pk = (constants::ED25519_BASEPOINT_POINT * a)
            .compress()
            .to_bytes();
        let r = Scalar::from_bytes_mod_order([9; 32]);
        let big_r = constants::ED25519_BASEPOINT_POINT * r + constants::EIGHT_TORSION[1];
        let r_bytes = big_r.compress().to_bytes();
        let msg = signing_payload(TX_DOMAIN, body);
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(r_bytes)
                .chain_update(pk)
                .chain_update(&msg)
                .finalize()
                .into(),
        );
        let s = r + k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r_bytes);
        sig[32..].copy_from_slice(s.as_bytes());
        (pk, sig)
    }

    #[test]
    fn single_and_batched_verification_agree_even_on_torsioned_signatures() {
        let (pk, sig) = torsioned_signature([3; 32], b"body");
        let vk = VerifyingKey::from_bytes(&pk).unwrap();
        // RFC 8032's cofactorless equation refuses it ...
        assert!(
            vk.verify_strict(
                &signing_payload(TX_DOMAIN, b"body"),
                &ed25519_dalek::Signature::from_bytes(&sig)
            )
            .is_err()
        );
        // ... while ours gives one answer, alone and in a batch.
        assert_eq!(verify_tx(&pk, b"body", &sig), Ok(pk));
        let honest = SigningKey::from_bytes(&[4; 32]);
        let batch = vec![
            PendingSignature::new(&pk, b"body", &sig).unwrap(),
            pending(&honest, b"b", &sign_tx(&honest, b"b")),
        ];
        assert_eq!(verify_batch(&batch), Ok(()));
        assert_eq!(verify_tx(&pk, b"other", &sig), Err(SignatureError::Invalid));
    }

    #[test]
    fn a_non_canonical_s_is_refused_alone_and_in_a_batch() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let mut sig = sign_tx(&key, b"b");
        // s = l, the group order: a non-canonical encoding of zero.
        sig[32..].copy_from_slice(&[
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ]);
        let pk = key.verifying_key().to_bytes();
        assert_eq!(verify_tx(&pk, b"b", &sig), Err(SignatureError::Invalid));
        let batch = vec![
            pending(&key, b"b", &sig),
            pending(&key, b"b", &sign_tx(&key, b"b")),
        ];
        assert_eq!(verify_batch(&batch), Err(SignatureError::Invalid));
    }

    proptest::proptest! {
        /// Batched verification accepts exactly when every signature verifies alone.
        #[test]
        fn a_batch_verifies_exactly_when_each_signature_does(
            items in proptest::collection::vec((0u8..4, proptest::collection::vec(0u8..=255, 0..40), 0u8..4), 0..12),
        ) {
            let batch: Vec<PendingSignature> = items
                .iter()
                .map(|(signer, body, fault)| {
                    let key = SigningKey::from_bytes(&[*signer + 1; 32]);
                    let mut sig = match fault {
                        0 => key.sign(body).to_bytes(), // no domain tag
                        _ => sign_tx(&key, body),
                    };
                    if *fault == 1 {
                        sig[5] ^= 1;
                    }
                    if *fault == 2 {
                        let (pk, torsioned) = torsioned_signature([*signer + 1; 32], body);
                        return PendingSignature::new(&pk, body, &torsioned).unwrap();
                    }
                    pending(&key, body, &sig)
                })
                .collect();
            let each = batch.iter().all(|p| p.verify().is_ok());
            proptest::prop_assert_eq!(verify_batch(&batch).is_ok(), each);
        }
    }

    #[test]
    #[cfg(unix)]
    fn a_key_file_other_users_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_key_file(&path, &generate_key()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&path).unwrap_err();
        assert!(matches!(err, KeyFileError::Unprotected { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(read_key_file(&path).is_ok());
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path().join("bad"), fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            read_key_file(&dir.path().join("bad")),
            Err(KeyFileError::Format { .. })
        ));
    }
}
