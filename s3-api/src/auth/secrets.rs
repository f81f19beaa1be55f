//! Secrets at rest: access-key secrets sealed with an AEAD (ChaCha20-Poly1305) under the master key,
//! and user passwords hashed with argon2id.
//!
//! SigV4 needs the plain secret of an access key to recompute signatures, so secrets cannot be hashed;
//! they are sealed instead, with the access key id as associated data (a sealed secret copied onto
//! another key id does not open). The master key comes from `CLOUDVAULT_MASTER_KEY` (any string; its
//! SHA-256 is the key). Without it, a random key is created once in the data directory (`master.key`,
//! mode 0600) and reused: fine for one node, but replicas must share the variable (or the volume).

use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of the sealed format, so the format can change later.
const SEALED_V1: &str = "v1:";

/// The key that seals access-key secrets.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Why the master key could not be loaded or a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `CLOUDVAULT_MASTER_KEY` is set but shorter than 16 characters.
    #[error("CLOUDVAULT_MASTER_KEY must be at least 16 characters")]
    MasterKeyTooShort,
    /// Reading or creating a key file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// `master.key` does not hold 64 hex digits.
    #[error("{} must hold 32 bytes as hex", .0.display())]
    Malformed(PathBuf),
    /// Another replica's `master.key` was linked into place and then disappeared.
    #[error("{} vanished while starting", .0.display())]
    Vanished(PathBuf),
    /// argon2 refused its input (never for a valid salt and the default parameters).
    #[error("password hashing: {0}")]
    Hashing(String),
}

/// `Result::map_err` for a file system call on `path`.
fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> SecretError + '_ {
    move |source| SecretError::Io { path: path.to_path_buf(), source }
}

/// A sealed secret that does not open: wrong master key, wrong key id, or a corrupted row.
#[derive(Debug, thiserror::Error)]
#[error("the secret cannot be opened with this master key")]
pub struct SealError;

impl MasterKey {
    /// Derives the key from `CLOUDVAULT_MASTER_KEY`, or loads / creates `master.key` in `data_dir`.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, SecretError> {
        if let Some(value) = configured {
            if value.len() < 16 {
                return Err(SecretError::MasterKeyTooShort);
            }
            return Ok(MasterKey(Sha256::digest(value.as_bytes()).into()));
        }
        let path = data_dir.join("master.key");
        if let Some(existing) = Self::read_key_file(&path)? {
            return Ok(existing);
        }
        // Several replicas may start at once on a shared volume: write the candidate key completely to
        // a private file, then hard-link it into place. Exactly one link wins; everyone else reads it.
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        let candidate = data_dir.join(format!(".master.key.{}", uuid::Uuid::new_v4().simple()));
        Self::write_candidate(&candidate, &fresh).map_err(io_at(&candidate))?;
        let linked = std::fs::hard_link(&candidate, &path);
        let _ = std::fs::remove_file(&candidate);
        match linked {
            Ok(()) => {
                tracing::warn!(path = %path.display(), "created a master key; set CLOUDVAULT_MASTER_KEY for replicas that do not share this volume");
                Ok(MasterKey(fresh))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::read_key_file(&path)?.ok_or(SecretError::Vanished(path))
            }
            Err(e) => Err(io_at(&path)(e)),
        }
    }

    /// Writes a candidate key, readable by the owner only, and makes it durable before it is linked.
    fn write_candidate(candidate: &Path, key: &[u8; 32]) -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create_new(candidate)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(hex::encode(key).as_bytes())?;
        file.sync_all()
    }

    fn read_key_file(path: &Path) -> Result<Option<Self>, SecretError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_at(path)(e)),
        };
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SecretError::Malformed(path.to_path_buf()))?;
        Ok(Some(MasterKey(bytes)))
    }

    /// A 32-byte key for another purpose (`label`), derived from the master key, so every replica that
    /// shares the master key derives the same one.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(label.as_bytes());
        h.finalize().into()
    }

    /// Seals `secret` for the access key `key_id`.
    pub fn seal(&self, key_id: &str, secret: &str) -> String {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0));
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret.as_bytes(), aad: key_id.as_bytes() })
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{SEALED_V1}{}", base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// Opens a secret sealed by [`MasterKey::seal`] for `key_id`.
    pub fn open(&self, key_id: &str, sealed: &str) -> Result<String, SealError> {
        let raw = sealed
            .strip_prefix(SEALED_V1)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or(SealError)?;
        let (nonce, ciphertext) = raw.split_at(12);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0));
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: key_id.as_bytes() })
            .map_err(|_| SealError)?;
        String::from_utf8(plain).map_err(|_| SealError)
    }
}

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| SecretError::Hashing(format!("salt: {e}")))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| SecretError::Hashing(e.to_string()))?
        .to_string())
}

thread_local! {
    /// This thread's argon2 working memory (19 MiB at the default cost), kept between checks: a check
    /// allocates nothing, so the threads that check passwords (the bounded pool's) hold one block each
    /// instead of leaving a freed one in the allocator per check.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Checks a password against a stored argon2 hash (PHC string; constant time in the hash comparison),
/// in this thread's reused working memory.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let (Ok(params), Ok(algorithm)) =
        (argon2::Params::try_from(&parsed), argon2::Algorithm::try_from(parsed.algorithm))
    else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let mut out = vec![0u8; expected.len()];
    let hashed = ARGON2_MEMORY.with_borrow_mut(|memory| {
        memory.resize(params.block_count(), argon2::Block::default());
        let argon = argon2::Argon2::new(algorithm, version, params);
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..]).is_ok()
    });
    // `Output`'s equality is constant-time.
    hashed && argon2::password_hash::Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// A random string of `len` ASCII letters and digits (access key ids, secrets, generated passwords).
pub fn random_alphanumeric(len: usize) -> String {
    use rand::Rng;
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(len).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_key_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = MasterKey::load(Some("correct horse battery staple"), dir.path()).expect("key");
        let sealed = key.seal("AKID1", "s3cr3t-value");
        assert!(sealed.starts_with("v1:") && !sealed.contains("s3cr3t"));
        assert_eq!(key.open("AKID1", &sealed).expect("open"), "s3cr3t-value");
        assert!(key.open("AKID2", &sealed).is_err(), "bound to its key id");
        let other = MasterKey::load(Some("another master key value"), dir.path()).expect("key");
        assert!(other.open("AKID1", &sealed).is_err(), "bound to the master key");
        assert!(key.open("AKID1", "plaintext").is_err());
        assert_ne!(key.seal("AKID1", "x"), key.seal("AKID1", "x"), "random nonces");
    }

    #[test]
    fn generated_master_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = MasterKey::load(None, dir.path()).expect("create");
        let second = MasterKey::load(None, dir.path()).expect("reuse");
        let sealed = first.seal("K", "v");
        assert_eq!(second.open("K", &sealed).expect("same key"), "v");
        assert!(MasterKey::load(Some("short"), dir.path()).is_err());
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("hunter2-hunter2").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("hunter2-hunter2", &hash));
        assert!(!verify_password("hunter3-hunter3", &hash));
        assert!(!verify_password("x", "not a hash"));
    }
}
