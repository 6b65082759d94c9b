//! Secrets at rest: the master key, the keyring of its versions, AEAD sealing of stored secrets,
//! salted hashes of user and organization secrets, and keyed lookup hashes.
//!
//! This module owns every cryptographic decision of the store and nothing else: it does no IO
//! except reading or creating the key file, and knows nothing of SQL.
//!
//! - Vendor secrets, OAuth tokens and instance tokens are *sealed* (AES-256-GCM, a random 96-bit
//!   nonce per value, the record's identity as associated data, the key version beside the value)
//!   because Junction must read them back.
//! - User and organization secrets are only ever *verified*, so they are stored as salted
//!   HMAC-SHA256 hashes and compared in constant time.
//! - Anything that must be found by its secret (an instance token, a user secret) also gets a
//!   *lookup hash*: HMAC-SHA256 under a lookup key, so an index can find it without the store ever
//!   holding the secret in clear.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of an AES-GCM nonce: 96 bits, the size GCM is specified and fastest for.
const NONCE_LEN: usize = 12;

/// Errors of the crypto layer. No variant ever carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The master key text is not base64 of exactly 32 bytes.
    #[error("the master key must be base64 of exactly 32 bytes")]
    InvalidKey,
    /// A value was sealed under a key version this keyring does not hold.
    #[error("no key with version {0} in the keyring: the master key does not match this database")]
    UnknownKeyVersion(i64),
    /// Authentication of a sealed value failed: wrong key, or the value, nonce, version or
    /// associated data were altered.
    #[error("a sealed value failed authentication: wrong master key or tampered data")]
    Unauthentic,
    /// Reading or creating the key file failed.
    #[error("master key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
}

/// A 256-bit master key.
///
/// Deliberately neither `Debug`, `Display` nor `Serialize`: it cannot reach a log line or a response
/// by accident. The bytes are only reachable inside this module.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses base64 (standard alphabet, padded) of exactly 32 bytes, as in `JUNCTION_MASTER_KEY`.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| CryptoError::InvalidKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self(bytes))
    }

    /// The key as base64, for writing the key file or printing it once to an operator.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads the key file at `path`, or creates it with a fresh key when it does not exist.
    ///
    /// The file is created with `create_new` and mode 0600 in one step, so there is no window in
    /// which another user could read it, and two processes starting at once cannot both write one.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let io_err = |source| CryptoError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        let key = Self::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", key.to_base64()).as_bytes()).map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                Ok(key)
            }
            // Another process won the race: use its key.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::from_base64(&std::fs::read_to_string(path).map_err(io_err)?)
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// The key's version: the first 31 bits of HMAC-SHA256(key, "junction key version").
    ///
    /// A fingerprint rather than a counter, so that operators never have to number their keys and a
    /// wrong key is recognised before any decryption is attempted.
    pub fn version(&self) -> i64 {
        let tag = hmac(&self.0, b"junction key version");
        i64::from(u32::from_be_bytes([tag[0], tag[1], tag[2], tag[3]]) >> 1)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }
}

/// A value sealed with AES-256-GCM. Safe to store: it reveals only the plaintext's length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// Version of the master key that sealed it (see [`MasterKey::version`]).
    pub key_version: i64,
    /// A random 96-bit nonce, fresh for every seal.
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 16-byte GCM tag.
    pub ciphertext: Vec<u8>,
}

impl Sealed {
    /// One-column form for storage: base64 of `nonce || ciphertext`. The key version is kept in its
    /// own column so that rotation can find stale rows with an index.
    pub fn encode_payload(&self) -> String {
        let mut bytes = self.nonce.clone();
        bytes.extend_from_slice(&self.ciphertext);
        STANDARD.encode(bytes)
    }

    /// Inverse of [`Sealed::encode_payload`].
    pub fn decode_payload(key_version: i64, payload: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(payload).map_err(|_| CryptoError::Unauthentic)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Unauthentic);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        Ok(Self { key_version, nonce: nonce.to_vec(), ciphertext: ciphertext.to_vec() })
    }
}

/// The master keys a store can read: the current one, which seals everything new, and older ones
/// kept readable until a rotation has re-sealed every value.
#[derive(Clone)]
pub struct Keyring {
    current: (i64, MasterKey),
    older: Vec<(i64, MasterKey)>,
}

impl Keyring {
    /// A keyring holding one key.
    pub fn new(current: MasterKey) -> Self {
        Self { current: (current.version(), current), older: Vec::new() }
    }

    /// A keyring for rotation: `current` seals, `older` keys stay readable.
    pub fn with_older(current: MasterKey, older: impl IntoIterator<Item = MasterKey>) -> Self {
        let older = older.into_iter().map(|k| (k.version(), k)).collect();
        Self { current: (current.version(), current), older }
    }

    /// Version of the key that seals new values.
    pub fn current_version(&self) -> i64 {
        self.current.0
    }

    /// Seals `plaintext`, binding it to `aad` (the record's identity, e.g. `instance:42:token`) so that
    /// a sealed value copied onto another record does not open there.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Sealed {
        let (version, key) = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = key
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &bound_aad(*version, aad) })
            .expect("AES-GCM encryption cannot fail for inputs under 64 GiB");
        Sealed { key_version: *version, nonce: nonce.to_vec(), ciphertext }
    }

    /// Opens a sealed value. Fails with [`CryptoError::UnknownKeyVersion`] when the key is not in this
    /// keyring and [`CryptoError::Unauthentic`] when the value, nonce, version or `aad` differ from
    /// what was sealed: never returns garbage.
    pub fn open(&self, sealed: &Sealed, aad: &str) -> Result<Vec<u8>, CryptoError> {
        let key = self.key(sealed.key_version)?;
        if sealed.nonce.len() != NONCE_LEN {
            return Err(CryptoError::Unauthentic);
        }
        key.cipher()
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload { msg: &sealed.ciphertext, aad: &bound_aad(sealed.key_version, aad) },
            )
            .map_err(|_| CryptoError::Unauthentic)
    }

    /// Verifies that this keyring opens the database's canary (a value sealed when the database was
    /// created, re-sealed by every rotation), and returns its plaintext. A wrong master key fails
    /// here, at startup, with a clear error instead of later with undecryptable rows.
    pub fn check(&self, canary: &Sealed) -> Result<Vec<u8>, CryptoError> {
        self.open(canary, CANARY_AAD)
    }

    fn key(&self, version: i64) -> Result<&MasterKey, CryptoError> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|(v, _)| *v == version)
            .map(|(_, k)| k)
            .ok_or(CryptoError::UnknownKeyVersion(version))
    }
}

/// Associated data of the keyring canary.
pub const CANARY_AAD: &str = "keyring-canary";

/// The key version is authenticated too, so rewriting the version column is detected rather than
/// silently selecting another key.
fn bound_aad(version: i64, aad: &str) -> Vec<u8> {
    format!("v{version}|{aad}").into_bytes()
}

/// The key under which lookup hashes are computed.
///
/// It is a random key stored sealed in the canary row rather than a derivation of the master key:
/// user and organization secrets are kept only as hashes, so their lookup hashes could never be
/// recomputed under a rotated master key. Sealing the lookup key makes it exactly as secret as the
/// master key and lets it survive rotation.
#[derive(Clone)]
pub struct LookupKey([u8; 32]);

impl LookupKey {
    /// A fresh random lookup key, for a new database.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Rebuilds the key from the canary's plaintext.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self(bytes.try_into().map_err(|_| CryptoError::Unauthentic)?))
    }

    /// The raw bytes, for sealing into the canary row.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// HMAC-SHA256 of `secret` under this key, separated by `purpose` (`"user"`, `"organization"`,
    /// `"instance-token"`) so a secret of one kind never matches a lookup of another. Base64url.
    pub fn lookup_hash(&self, purpose: &str, secret: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(secret.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// A salted hash of a user or organization secret: `HMAC-SHA256(key = salt, secret)`, 16-byte salt.
///
/// Not a slow password hash: Junction generates these secrets with 256 bits of entropy, which no
/// brute force can search, so argon2's cost would buy nothing. (Operator-chosen bootstrap secrets are
/// the exception; their strength is the operator's responsibility.) Returns `(salt, hash)`, base64.
pub fn hash_secret(secret: &str) -> (String, String) {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    (STANDARD.encode(salt), STANDARD.encode(hmac(&salt, secret.as_bytes())))
}

/// Checks `secret` against a stored `(salt, hash)` in constant time (`hmac`'s `verify_slice`).
pub fn verify_secret(secret: &str, salt: &str, hash: &str) -> bool {
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&salt).expect("HMAC takes keys of any length");
    mac.update(secret.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// A new secret: 32 random bytes, base64url without padding (43 characters, safe in headers and URLs).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl fmt::Debug for Keyring {
    /// Versions only: never key bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let older: Vec<i64> = self.older.iter().map(|(v, _)| *v).collect();
        f.debug_struct("Keyring").field("current", &self.current.0).field("older", &older).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(MasterKey::generate())
    }

    #[test]
    fn sealed_values_round_trip() {
        let ring = ring();
        let sealed = ring.seal(b"refresh-token-value", "instance:1:secrets");
        assert_eq!(ring.open(&sealed, "instance:1:secrets").unwrap(), b"refresh-token-value");
        let again = Sealed::decode_payload(sealed.key_version, &sealed.encode_payload()).unwrap();
        assert_eq!(again, sealed);
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let ring = ring();
        assert_ne!(ring.seal(b"x", "a").nonce, ring.seal(b"x", "a").nonce);
    }

    #[test]
    fn tampering_with_any_part_is_detected() {
        let ring = ring();
        let sealed = ring.seal(b"secret", "instance:1:token");
        let mut ct = sealed.clone();
        ct.ciphertext[0] ^= 1;
        assert!(matches!(ring.open(&ct, "instance:1:token"), Err(CryptoError::Unauthentic)));
        let mut nonce = sealed.clone();
        nonce.nonce[0] ^= 1;
        assert!(matches!(ring.open(&nonce, "instance:1:token"), Err(CryptoError::Unauthentic)));
        assert!(matches!(ring.open(&sealed, "instance:2:token"), Err(CryptoError::Unauthentic)));
        let mut version = sealed.clone();
        version.key_version += 1;
        assert!(matches!(ring.open(&version, "instance:1:token"), Err(CryptoError::UnknownKeyVersion(_))));
    }

    #[test]
    fn a_version_pointing_at_another_known_key_is_detected() {
        let (a, b) = (MasterKey::generate(), MasterKey::generate());
        let ring = Keyring::with_older(a, [b.clone()]);
        let mut sealed = ring.seal(b"secret", "x");
        sealed.key_version = b.version();
        assert!(matches!(ring.open(&sealed, "x"), Err(CryptoError::Unauthentic)));
    }

    #[test]
    fn a_wrong_key_is_a_clear_error() {
        let canary = ring().seal(b"lookup key", CANARY_AAD);
        let other = ring();
        assert!(matches!(other.check(&canary), Err(CryptoError::UnknownKeyVersion(_))));
        let message = other.check(&canary).unwrap_err().to_string();
        assert!(message.contains("master key does not match"), "{message}");
    }

    #[test]
    fn older_keys_stay_readable_after_rotation() {
        let old = MasterKey::generate();
        let sealed = Keyring::new(old.clone()).seal(b"v", "r");
        let rotated = Keyring::with_older(MasterKey::generate(), [old]);
        assert_eq!(rotated.open(&sealed, "r").unwrap(), b"v");
        assert_ne!(rotated.seal(b"v", "r").key_version, sealed.key_version);
    }

    #[test]
    fn secret_hashes_verify_only_the_right_secret() {
        let (salt, hash) = hash_secret("s3cret");
        assert!(verify_secret("s3cret", &salt, &hash));
        assert!(!verify_secret("s3cret!", &salt, &hash));
        assert!(!verify_secret("s3cret", "not base64!", &hash));
        assert_ne!(hash_secret("s3cret").1, hash, "salted: equal secrets hash differently");
    }

    #[test]
    fn lookup_hashes_are_stable_and_separated_by_purpose() {
        let key = LookupKey::generate();
        assert_eq!(key.lookup_hash("user", "a"), key.lookup_hash("user", "a"));
        assert_ne!(key.lookup_hash("user", "a"), key.lookup_hash("organization", "a"));
        assert_ne!(key.lookup_hash("user", "a"), LookupKey::generate().lookup_hash("user", "a"));
    }

    #[test]
    fn generated_secrets_are_32_random_bytes_base64url() {
        let s = generate_secret();
        assert_eq!(URL_SAFE_NO_PAD.decode(&s).unwrap().len(), 32);
        assert_ne!(s, generate_secret());
    }

    #[test]
    fn master_key_parsing_rejects_wrong_lengths() {
        assert!(MasterKey::from_base64(&STANDARD.encode([0u8; 31])).is_err());
        assert!(MasterKey::from_base64("%%%").is_err());
        let key = MasterKey::generate();
        assert_eq!(MasterKey::from_base64(&key.to_base64()).unwrap().version(), key.version());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_created_with_mode_0600_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("junction-key-{}", generate_secret()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("junction.db.key");
        let created = MasterKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(created.version(), loaded.version());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
