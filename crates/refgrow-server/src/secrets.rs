//! Secrets at rest: webhook signing secrets and Stripe webhook secrets are kept encrypted
//! with ChaCha20-Poly1305 (an AEAD) under the operator's key, `REFGROW_SECRET_KEY`.
//!
//! A stored value is `enc:v1:{key id}:{base64 of nonce and ciphertext}`; the key id is the
//! first 8 hex digits of the SHA-256 of the key, so a value sealed under another key is told
//! apart (and named in the error) instead of failing as garbage. A value without the prefix
//! is clear text from before encryption: it is still read, and [`seal_clear_rows`] (run at
//! every start and by `refgrow-server secret rotate`) encrypts it.
//!
//! When `REFGROW_SECRET_KEY` is unset the server still starts: it reads the key from
//! `REFGROW_SECRET_KEY_FILE` (default `refgrow-secret.key` beside the SQLite file, or in the
//! working directory for PostgreSQL), creating that file (mode 0600) with a new key the
//! first time and logging that it did. Replicas of one database must share one key.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use diesel::prelude::*;

use crate::config::Config;
use crate::db::schema::{programs, webhook_endpoints};
use crate::db::DbConn;
use crate::error::ApiError;

/// The prefix of an encrypted value (format version 1).
pub const PREFIX: &str = "enc:v1:";
/// Bytes in a key.
pub const KEY_BYTES: usize = 32;
/// Bytes in a nonce.
const NONCE_BYTES: usize = 12;
/// The default name of the key file.
pub const KEY_FILE: &str = "refgrow-secret.key";

/// Why a secret could not be opened, or a key not used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The key text is not base64 of 32 bytes.
    #[error("the secret key must be the base64 of 32 bytes (make one with `refgrow-server secret generate`)")]
    BadKey,
    /// The value was sealed under another key.
    #[error("this value was encrypted under key {found}, but the server has key {ours}: set the REFGROW_SECRET_KEY it was written with")]
    OtherKey {
        /// The value's key id.
        found: String,
        /// This key's id.
        ours: String,
    },
    /// The value is damaged or was tampered with.
    #[error("an encrypted value is damaged (it does not authenticate under key {0})")]
    Damaged(String),
    /// The key file.
    #[error("secret key file {path}: {reason}")]
    File {
        /// Its path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        ApiError::internal(e)
    }
}

/// A new key, as the base64 text `REFGROW_SECRET_KEY` takes.
pub fn generate_key() -> String {
    STANDARD.encode(crate::idgen::random_bytes(KEY_BYTES))
}

/// Encrypts and decrypts stored secrets under one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
    kid: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("kid", &self.kid).finish()
    }
}

impl Sealer {
    /// A sealer for a key given as base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Sealer, SecretError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SecretError::BadKey)?;
        if bytes.len() != KEY_BYTES {
            return Err(SecretError::BadKey);
        }
        use sha2::{Digest, Sha256};
        let kid = hex::encode(&Sha256::digest(&bytes)[..4]);
        Ok(Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
            kid,
        })
    }

    /// The key's id (8 hex digits), safe to log.
    pub fn key_id(&self) -> &str {
        &self.kid
    }

    /// Encrypts a secret for storage.
    pub fn seal(&self, plain: &str) -> String {
        let nonce_bytes = crate::idgen::random_bytes(NONCE_BYTES);
        let nonce = Nonce::from_slice(&nonce_bytes);
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let ct = self
            .cipher
            .encrypt(nonce, plain.as_bytes())
            .unwrap_or_default();
        let mut blob = nonce_bytes;
        blob.extend_from_slice(&ct);
        format!("{PREFIX}{}:{}", self.kid, STANDARD.encode(blob))
    }

    /// The secret in a stored value: decrypted, or as it is when it was stored in clear.
    pub fn open(&self, stored: &str) -> Result<String, SecretError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (kid, data) = rest
            .split_once(':')
            .ok_or_else(|| SecretError::Damaged(self.kid.clone()))?;
        if kid != self.kid {
            return Err(SecretError::OtherKey {
                found: kid.to_string(),
                ours: self.kid.clone(),
            });
        }
        let blob = STANDARD
            .decode(data)
            .map_err(|_| SecretError::Damaged(self.kid.clone()))?;
        if blob.len() < NONCE_BYTES {
            return Err(SecretError::Damaged(self.kid.clone()));
        }
        let (nonce, ct) = blob.split_at(NONCE_BYTES);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Damaged(self.kid.clone()))?;
        String::from_utf8(plain).map_err(|_| SecretError::Damaged(self.kid.clone()))
    }

    /// Whether a stored value is sealed under this key already.
    pub fn sealed_here(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(kid, _)| kid == self.kid)
    }
}

/// Whether a stored value is encrypted (under any key).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// Where the key file is: `REFGROW_SECRET_KEY_FILE`, else beside the SQLite file, else the
/// working directory.
pub fn key_file_path(config: &Config) -> PathBuf {
    if let Some(p) = config
        .secret_key_file
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        return PathBuf::from(p);
    }
    if let Ok(t) = crate::db::parse_database_url(&config.database_url) {
        if t.backend == crate::db::Backend::Sqlite && t.conninfo != ":memory:" {
            if let Some(dir) = Path::new(&t.conninfo).parent() {
                return dir.join(KEY_FILE);
            }
        }
    }
    PathBuf::from(KEY_FILE)
}

/// The server's sealer: from `REFGROW_SECRET_KEY`, else from the key file, which is created
/// (mode 0600, never overwritten) with a new key when it does not exist.
pub fn load(config: &Config) -> Result<Sealer, SecretError> {
    if let Some(k) = config.secret_key.as_ref().and_then(|k| k.value()) {
        return Sealer::from_base64(k);
    }
    let path = key_file_path(config);
    let shown = path.display().to_string();
    let file_err = |reason: String| SecretError::File {
        path: shown.clone(),
        reason,
    };
    match read_key_file(&path) {
        Ok(Some(text)) => return Sealer::from_base64(&text),
        Ok(None) => {}
        Err(e) => return Err(file_err(e.to_string())),
    }
    let key = generate_key();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(format!("{key}\n").as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| file_err(e.to_string()))?;
            log::warn!(
                "REFGROW_SECRET_KEY is unset: created a new secret key in {shown} (mode 0600). \
                 Back it up with the database; every replica must use the same key."
            );
            Sealer::from_base64(&key)
        }
        // Another process (a replica starting at the same time) created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match read_key_file(&path) {
            Ok(Some(text)) => Sealer::from_base64(&text),
            Ok(None) => Err(file_err("is empty".into())),
            Err(e) => Err(file_err(e.to_string())),
        },
        Err(e) => Err(file_err(format!("cannot create it: {e}"))),
    }
}

fn read_key_file(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(t) if t.trim().is_empty() => Ok(None),
        Ok(t) => Ok(Some(t.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every webhook endpoint's id, secret and previous secret, as stored.
fn endpoint_secrets(c: &mut DbConn) -> QueryResult<Vec<(String, String, Option<String>)>> {
    webhook_endpoints::table
        .select((
            webhook_endpoints::id,
            webhook_endpoints::secret,
            webhook_endpoints::previous_secret,
        ))
        .load(c)
}

/// Re-encrypts every stored secret under `new`: clear values, and values sealed under `old`
/// (when given). Values already under `new` are left alone, so a rerun is harmless. Returns
/// how many values were written. One transaction: all or nothing.
pub fn reseal_all(c: &mut DbConn, old: Option<&Sealer>, new: &Sealer) -> Result<usize, ApiError> {
    let convert = |v: &str| -> Result<Option<String>, ApiError> {
        if new.sealed_here(v) {
            return Ok(None);
        }
        let plain = if is_sealed(v) {
            match old {
                Some(o) => o.open(v)?,
                None => new.open(v)?,
            }
        } else {
            v.to_string()
        };
        Ok(Some(new.seal(&plain)))
    };
    c.transaction(|c| {
        let mut n = 0;
        let eps = endpoint_secrets(c)?;
        for (id, secret, previous) in eps {
            let s = convert(&secret)?;
            let p = match &previous {
                Some(p) => convert(p)?,
                None => None,
            };
            if s.is_none() && p.is_none() {
                continue;
            }
            diesel::update(webhook_endpoints::table.find(&id))
                .set((
                    webhook_endpoints::secret.eq(s.unwrap_or(secret)),
                    webhook_endpoints::previous_secret.eq(p.or(previous)),
                ))
                .execute(c)?;
            n += 1;
        }
        let progs: Vec<(String, Option<String>)> = programs::table
            .filter(programs::stripe_webhook_secret.is_not_null())
            .select((programs::id, programs::stripe_webhook_secret))
            .load(c)?;
        for (id, secret) in progs {
            let Some(secret) = secret else { continue };
            if let Some(s) = convert(&secret)? {
                diesel::update(programs::table.find(&id))
                    .set(programs::stripe_webhook_secret.eq(Some(s)))
                    .execute(c)?;
                n += 1;
            }
        }
        Ok::<_, ApiError>(n)
    })
    .inspect(|n| {
        if *n > 0 {
            crate::db::programs::cache::clear();
        }
    })
}

/// Encrypts the secrets still stored in clear (rows from before encryption). Values sealed
/// under another key are left alone here (and fail loudly when used).
pub fn seal_clear_rows(c: &mut DbConn, sealer: &Sealer) -> Result<usize, ApiError> {
    let any_clear = {
        let eps: i64 = webhook_endpoints::table
            .filter(
                webhook_endpoints::secret
                    .not_like(format!("{PREFIX}%"))
                    .or(webhook_endpoints::previous_secret.not_like(format!("{PREFIX}%"))),
            )
            .count()
            .get_result(c)?;
        let progs: i64 = programs::table
            .filter(programs::stripe_webhook_secret.not_like(format!("{PREFIX}%")))
            .count()
            .get_result(c)?;
        eps + progs > 0
    };
    if !any_clear {
        return Ok(0);
    }
    // Only clear values are converted: a value under another key stays as it is.
    c.transaction(|c| {
        let mut n = 0;
        let eps = endpoint_secrets(c)?;
        for (id, secret, previous) in eps {
            if is_sealed(&secret) && previous.as_deref().is_none_or(is_sealed) {
                continue;
            }
            let s = if is_sealed(&secret) {
                secret
            } else {
                sealer.seal(&secret)
            };
            let p = previous.map(|p| if is_sealed(&p) { p } else { sealer.seal(&p) });
            diesel::update(webhook_endpoints::table.find(&id))
                .set((
                    webhook_endpoints::secret.eq(s),
                    webhook_endpoints::previous_secret.eq(p),
                ))
                .execute(c)?;
            n += 1;
        }
        let progs: Vec<(String, Option<String>)> = programs::table
            .filter(programs::stripe_webhook_secret.not_like(format!("{PREFIX}%")))
            .select((programs::id, programs::stripe_webhook_secret))
            .load(c)?;
        for (id, secret) in progs {
            let Some(secret) = secret else { continue };
            diesel::update(programs::table.find(&id))
                .set(programs::stripe_webhook_secret.eq(Some(sealer.seal(&secret))))
                .execute(c)?;
            n += 1;
        }
        crate::db::programs::cache::clear();
        Ok::<_, ApiError>(n)
    })
}

/// The key id of a stored secret sealed under another key than `sealer`'s, if any: a server
/// (or replica) started with the wrong key finds out at start, not at its first delivery.
pub fn foreign_key_id(c: &mut DbConn, sealer: &Sealer) -> Result<Option<String>, ApiError> {
    let any = format!("{PREFIX}%");
    let ours = format!("{PREFIX}{}:%", sealer.key_id());
    let mut found: Vec<String> = webhook_endpoints::table
        .filter(
            webhook_endpoints::secret
                .like(any.clone())
                .and(webhook_endpoints::secret.not_like(ours.clone())),
        )
        .select(webhook_endpoints::secret)
        .limit(1)
        .load(c)?;
    if found.is_empty() {
        found = programs::table
            .filter(
                programs::stripe_webhook_secret
                    .like(any)
                    .and(programs::stripe_webhook_secret.not_like(ours)),
            )
            .select(programs::stripe_webhook_secret)
            .limit(1)
            .load::<Option<String>>(c)?
            .into_iter()
            .flatten()
            .collect();
    }
    Ok(found.first().and_then(|v| {
        v.strip_prefix(PREFIX)
            .and_then(|r| r.split_once(':'))
            .map(|(kid, _)| kid.to_string())
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seal_and_open() {
        let s = Sealer::from_base64(&generate_key()).unwrap();
        let sealed = s.seal("whsec_abc");
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, s.seal("whsec_abc"), "a fresh nonce each time");
        assert_eq!(s.open(&sealed).unwrap(), "whsec_abc");
        assert_eq!(s.open("whsec_clear").unwrap(), "whsec_clear");
        assert!(s.sealed_here(&sealed));
    }

    #[test]
    fn another_key_or_tampering_is_an_error() {
        let a = Sealer::from_base64(&generate_key()).unwrap();
        let b = Sealer::from_base64(&generate_key()).unwrap();
        let sealed = a.seal("x");
        assert!(matches!(b.open(&sealed), Err(SecretError::OtherKey { .. })));
        let mut bad = sealed.clone();
        bad.pop();
        bad.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&bad).is_err());
        assert!(Sealer::from_base64("short").is_err());
        assert!(Sealer::from_base64(&STANDARD.encode([0u8; 16])).is_err());
    }
}
