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
    #[error(
        "key file {path} is encrypted: give its passphrase ({PASSPHRASE_ENV} in the environment, or at the prompt)"
    )]
    Encrypted { path: String },
    #[error("cannot decrypt key file {path}: wrong passphrase, or the file is damaged")]
    Passphrase { path: String },
    #[error(
        "key file {path} asks for a key derivation costlier than this software allows ({what}); re-encrypt it with `kyoto keys generate --encrypt`'s settings"
    )]
    TooCostly { path: String, what: String },
}

/// The environment variable a key file's passphrase may come from (scripts, and
/// `kyotod`, which has no terminal to ask at).
pub const PASSPHRASE_ENV: &str = "KYOTO_KEY_PASSPHRASE";

/// The costliest scrypt (N, r, p) and PBKDF2 iteration count a key file may ask for:
/// a key file is input too, and one that asks for terabytes of memory or years of
/// hashing is refused rather than obeyed. The files this software writes use
/// scrypt N = 2^17, r = 8, p = 1 ([`SCRYPT_LOG_N`]: 128 MiB, the scrypt crate's
/// recommendation); it reads OpenSSL's (`openssl pkcs8 -topk8 -scrypt`, N = 2^14).
const MAX_SCRYPT_LOG_N: u32 = 20;
/// scrypt's cost for the files this software writes: N = 2^17.
const SCRYPT_LOG_N: u8 = 17;
const MAX_SCRYPT_R: u16 = 16;
const MAX_SCRYPT_P: u16 = 4;
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Checks an encrypted key's key-derivation cost against the bounds above.
fn check_kdf_cost(der: &[u8], path: &str) -> Result<(), KeyFileError> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let format = |reason: String| KeyFileError::Format {
        path: path.to_owned(),
        reason,
    };
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der).map_err(|e| format(e.to_string()))?;
    let params = info
        .encryption_algorithm
        .pbes2()
        .ok_or_else(|| format("only PBES2 encryption is supported".into()))?;
    let costly = |what: String| KeyFileError::TooCostly {
        path: path.to_owned(),
        what,
    };
    match &params.kdf {
        Kdf::Scrypt(p) => {
            let n = p.cost_parameter;
            if n > 1u64 << MAX_SCRYPT_LOG_N
                || p.block_size > MAX_SCRYPT_R
                || p.parallelization > MAX_SCRYPT_P
            {
                return Err(costly(format!(
                    "scrypt N = {n}, r = {}, p = {}; at most N = 2^{MAX_SCRYPT_LOG_N}, r = {MAX_SCRYPT_R}, p = {MAX_SCRYPT_P}",
                    p.block_size, p.parallelization
                )));
            }
        }
        Kdf::Pbkdf2(p) => {
            if p.iteration_count > MAX_PBKDF2_ITERATIONS {
                return Err(costly(format!(
                    "PBKDF2 with {} iterations; at most {MAX_PBKDF2_ITERATIONS}",
                    p.iteration_count
                )));
            }
        }
        _ => return Err(format("an unknown key derivation function".into())),
    }
    Ok(())
}

/// Writes a key as a passphrase-encrypted PKCS#8 PEM file (PBES2: scrypt and
/// AES-256-CBC), readable only by its owner, never overwriting an existing file.
pub fn write_encrypted_key_file(
    path: &Path,
    key: &SigningKey,
    passphrase: &str,
) -> Result<(), KeyFileError> {
    use rand_core::RngCore;
    let format = |reason: String| KeyFileError::Format {
        path: path.display().to_string(),
        reason,
    };
    let (mut salt, mut iv) = ([0u8; 16], [0u8; 16]);
    rand_core::OsRng.fill_bytes(&mut salt);
    rand_core::OsRng.fill_bytes(&mut iv);
    let cost = pkcs8::pkcs5::scrypt::Params::new(SCRYPT_LOG_N, 8, 1, 32)
        .map_err(|e| format(e.to_string()))?;
    let params = pkcs8::pkcs5::pbes2::Parameters::scrypt_aes256cbc(cost, &salt, &iv)
        .map_err(|e| format(e.to_string()))?;
    let der = key.to_pkcs8_der().map_err(|e| format(e.to_string()))?;
    let info =
        pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| format(e.to_string()))?;
    let pem = info
        .encrypt_with_params(params, passphrase)
        .and_then(|doc| {
            doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
                .map_err(Into::into)
        })
        .map_err(|e| format(e.to_string()))?;
    write_private_file(path, pem.as_bytes())
}

/// Writes a key as PKCS#8 PEM, readable only by its owner (mode 0600), never
/// overwriting an existing file.
pub fn write_key_file(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyFileError::Format {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    write_private_file(path, pem.as_bytes())
}

/// Creates `path` with `bytes`, mode 0600, flushed; never overwrites.
fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    let p = path.display().to_string();
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
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|source| KeyFileError::Write { path: p, source })
}

/// Reads a PKCS#8 PEM key file, plain or encrypted; an encrypted file's passphrase
/// comes from [`PASSPHRASE_ENV`]. See [`read_key_file_with`].
pub fn read_key_file(path: &Path) -> Result<SigningKey, KeyFileError> {
    read_key_file_with(path, || std::env::var(PASSPHRASE_ENV).ok())
}

/// Reads a PKCS#8 PEM Ed25519 key file: a plain private key, or one encrypted with a
/// passphrase (`ENCRYPTED PRIVATE KEY`), which `passphrase` is asked for. As ssh does,
/// a file that other users can read (any group or other permission bit on Unix) is
/// refused: its key must be treated as known.
pub fn read_key_file_with(
    path: &Path,
    passphrase: impl FnOnce() -> Option<String>,
) -> Result<SigningKey, KeyFileError> {
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
    if !pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyFileError::Format {
            path: p,
            reason: e.to_string(),
        });
    }
    let (_, der) = pkcs8::Document::from_pem(&pem).map_err(|e| KeyFileError::Format {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    check_kdf_cost(der.as_bytes(), &p)?;
    let passphrase = passphrase().ok_or_else(|| KeyFileError::Encrypted { path: p.clone() })?;
    SigningKey::from_pkcs8_encrypted_der(der.as_bytes(), passphrase.as_bytes())
        .map_err(|_| KeyFileError::Passphrase { path: p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_key_files_round_trip_and_refuse_a_wrong_passphrase_or_a_costly_kdf() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let key = SigningKey::from_bytes(&[9; 32]);
        write_encrypted_key_file(&path, &key, "pw").unwrap();
        let read = read_key_file_with(&path, || Some("pw".into())).unwrap();
        assert_eq!(read.to_bytes(), key.to_bytes());
        assert!(matches!(
            read_key_file_with(&path, || Some("nope".into())),
            Err(KeyFileError::Passphrase { .. })
        ));
        assert!(matches!(
            read_key_file_with(&path, || None),
            Err(KeyFileError::Encrypted { .. })
        ));
        // The same file asking for scrypt r = 127: refused before any hashing.
        let pem = std::fs::read_to_string(&path).unwrap();
        let (label, der) = pkcs8::Document::from_pem(&pem).unwrap();
        assert_eq!(label, "ENCRYPTED PRIVATE KEY");
        let mut der = der.as_bytes().to_vec();
        let at = der
            .windows(9)
            .position(|w| w == [0x02, 0x03, 0x02, 0x00, 0x00, 0x02, 0x01, 0x08, 0x02])
            .expect("N = 2^17 then r = 8");
        der[at + 7] = 0x7f;
        let costly = dir.path().join("costly.pem");
        let doc = pkcs8::Document::try_from(der).unwrap();
        std::fs::write(
            &costly,
            doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF).unwrap(),
        )
        .unwrap();
        std::fs::set_permissions(&costly, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            read_key_file_with(&costly, || Some("pw".into())),
            Err(KeyFileError::TooCostly { .. })
        ));
    }

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
