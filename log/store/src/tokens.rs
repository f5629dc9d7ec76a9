//! Bearer tokens (`islet token add|list|revoke`): the file that records
//! them in the data directory, and the lookup the server does with it.
//!
//! A token is `islet_` and 43 base64url characters (256 random bits). Only
//! its SHA-256 is stored: the file, a backup of it, or a snapshot of the
//! data directory never lets anyone write. A plain hash is enough because
//! the secret is random, not chosen by a person: there is nothing to guess.
//!
//! Revoking keeps the record (with the time), so a client presenting a
//! revoked token is told so, and the name is never reused by mistake.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The file's name in the data directory.
pub const TOKENS_FILE: &str = "tokens.json";
/// Every token starts with this, so that secret scanners and people can
/// tell what it is.
pub const TOKEN_PREFIX: &str = "islet_";
/// Random bytes of a token.
pub const TOKEN_SECRET_BYTES: usize = 32;
/// Characters of a token: the prefix and the unpadded base64url of the
/// secret.
pub const TOKEN_CHARS: usize = TOKEN_PREFIX.len() + (TOKEN_SECRET_BYTES * 4).div_ceil(3);
/// Tokens (live and revoked) one data directory records.
pub const MAX_TOKENS: usize = 10_000;
/// Largest tokens file read (10,000 records of about 250 bytes each fit).
pub const MAX_TOKENS_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Longest token name.
pub const MAX_TOKEN_NAME_CHARS: usize = 64;
/// The file's format version.
pub const TOKENS_FILE_VERSION: u32 = 1;

/// The groups of routes that access rules and per-client limits apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteGroup {
    /// Log writes.
    Write,
    /// Timestamps.
    Timestamp,
    /// Witness and mirror-push calls.
    Witness,
    /// Reads.
    Read,
}

impl RouteGroup {
    /// Every group, in label order.
    pub const ALL: [RouteGroup; 4] = [
        RouteGroup::Write,
        RouteGroup::Timestamp,
        RouteGroup::Witness,
        RouteGroup::Read,
    ];

    /// The name in `islet.toml`, in token scopes and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteGroup::Write => "write",
            RouteGroup::Timestamp => "timestamp",
            RouteGroup::Witness => "witness",
            RouteGroup::Read => "read",
        }
    }

    /// Parses a name of [`RouteGroup::as_str`].
    ///
    /// # Errors
    /// [`Error::Usage`] naming the groups.
    pub fn parse(text: &str) -> Result<RouteGroup> {
        RouteGroup::ALL
            .into_iter()
            .find(|g| g.as_str() == text)
            .ok_or_else(|| Error::Usage {
                reason: format!("{text:?} is not a route group: write, timestamp, witness or read"),
            })
    }
}

/// One token as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// Its name (who holds it: a pipeline, a service).
    pub name: String,
    /// Lowercase hex SHA-256 of the token.
    pub sha256: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// When it stops working (RFC 3339), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The route groups it admits to.
    pub scopes: Vec<RouteGroup>,
    /// When it was revoked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

impl TokenRecord {
    /// Its expiry, parsed.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires
            .as_deref()
            .and_then(|e| humantime::parse_rfc3339(e).ok())
    }

    /// `live`, `revoked` or `expired` at `now`.
    pub fn state(&self, now: SystemTime) -> &'static str {
        if self.revoked.is_some() {
            "revoked"
        } else if self.expires_at().is_some_and(|e| e <= now) {
            "expired"
        } else {
            "live"
        }
    }
}

/// The tokens file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    /// [`TOKENS_FILE_VERSION`].
    pub version: u32,
    /// Every token, revoked ones included.
    pub tokens: Vec<TokenRecord>,
}

impl Default for TokenFile {
    /// An empty file of this version.
    fn default() -> Self {
        TokenFile {
            version: TOKENS_FILE_VERSION,
            tokens: Vec::new(),
        }
    }
}

/// A token made by [`TokenFile::add`]: the secret, shown once.
#[derive(Debug)]
pub struct NewToken {
    /// The token to give its holder.
    pub secret: String,
    /// The record written.
    pub record: TokenRecord,
}

impl TokenFile {
    /// Reads the file; a missing file is an empty one.
    ///
    /// # Errors
    /// [`Error::Io`], and [`Error::Config`] for a file too large, that does
    /// not parse, or holds a bad record.
    pub fn load(path: &Path) -> Result<TokenFile> {
        use std::io::Read;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TokenFile::default());
            }
            Err(e) => return Err(Error::io(path)(e)),
        };
        let mut text = Vec::new();
        file.take(MAX_TOKENS_FILE_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(Error::io(path))?;
        if text.len() as u64 > MAX_TOKENS_FILE_BYTES {
            return Err(bad_file(
                path,
                &format!("larger than {MAX_TOKENS_FILE_BYTES} bytes"),
            ));
        }
        let parsed: TokenFile =
            serde_json::from_slice(&text).map_err(|e| bad_file(path, &e.to_string()))?;
        parsed.check().map_err(|reason| bad_file(path, &reason))?;
        Ok(parsed)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.version != TOKENS_FILE_VERSION {
            return Err(format!(
                "version {} (this islet reads version {TOKENS_FILE_VERSION})",
                self.version
            ));
        }
        if self.tokens.len() > MAX_TOKENS {
            return Err(format!("more than {MAX_TOKENS} tokens"));
        }
        let mut names = std::collections::HashSet::new();
        for t in &self.tokens {
            check_name(&t.name)?;
            if !names.insert(t.name.as_str()) {
                return Err(format!("the name {:?} is there twice", t.name));
            }
            if t.sha256.len() != 64 || hex::decode(&t.sha256).is_err() {
                return Err(format!("token {:?}: sha256 is not 64 hex digits", t.name));
            }
            for (field, value) in [
                ("created", Some(&t.created)),
                ("expires", t.expires.as_ref()),
                ("revoked", t.revoked.as_ref()),
            ] {
                if let Some(v) = value {
                    humantime::parse_rfc3339(v)
                        .map_err(|e| format!("token {:?}: {field} {v:?}: {e}", t.name))?;
                }
            }
        }
        Ok(())
    }

    /// Writes the file: a temporary file (mode 0600), synced and renamed
    /// over it, then the directory synced. The server sees the change at
    /// its next request that presents a token.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::Config {
            reason: format!("the tokens file does not encode: {e}"),
        })?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(Error::io(&tmp))?;
        f.write_all(&text)
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .map_err(Error::io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(Error::io(path))?;
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(Error::io(dir))?;
        }
        Ok(())
    }

    /// Makes a token named `name` admitting to `scopes`, until `expires`.
    ///
    /// # Errors
    /// [`Error::Usage`]: a bad or taken name, no scope, an expiry in the
    /// past, or [`MAX_TOKENS`] reached.
    pub fn add(
        &mut self,
        name: &str,
        scopes: &[RouteGroup],
        expires: Option<SystemTime>,
        now: SystemTime,
    ) -> Result<NewToken> {
        check_name(name).map_err(|reason| Error::Usage { reason })?;
        if let Some(old) = self.tokens.iter().find(|t| t.name == name) {
            return Err(Error::Usage {
                reason: format!(
                    "a token named {name:?} exists ({}); names are never reused, pick another",
                    old.state(now)
                ),
            });
        }
        if self.tokens.len() >= MAX_TOKENS {
            return Err(Error::Usage {
                reason: format!("{MAX_TOKENS} tokens are recorded, the most there may be"),
            });
        }
        if scopes.is_empty() {
            return Err(Error::Usage {
                reason: "a token needs at least one scope".into(),
            });
        }
        if expires.is_some_and(|e| e <= now) {
            return Err(Error::Usage {
                reason: "the expiry is in the past".into(),
            });
        }
        let mut secret_bytes = [0u8; TOKEN_SECRET_BYTES];
        aws_lc_rs::rand::fill(&mut secret_bytes).map_err(|_| Error::Usage {
            reason: "the system's random number generator failed".into(),
        })?;
        let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret_bytes));
        let mut scopes = scopes.to_vec();
        scopes.sort_unstable();
        scopes.dedup();
        let record = TokenRecord {
            name: name.to_owned(),
            sha256: hex::encode(token_hash(&secret)),
            created: rfc3339(now),
            expires: expires.map(rfc3339),
            scopes,
            revoked: None,
        };
        self.tokens.push(record.clone());
        Ok(NewToken { secret, record })
    }

    /// Revokes the token named `name`.
    ///
    /// # Errors
    /// [`Error::Usage`] when there is none, or it was revoked already.
    pub fn revoke(&mut self, name: &str, now: SystemTime) -> Result<&TokenRecord> {
        let Some(t) = self.tokens.iter_mut().find(|t| t.name == name) else {
            return Err(Error::Usage {
                reason: format!("no token is named {name:?}"),
            });
        };
        if let Some(at) = &t.revoked {
            return Err(Error::Usage {
                reason: format!("the token {name:?} was revoked already, at {at}"),
            });
        }
        t.revoked = Some(rfc3339(now));
        Ok(t)
    }
}

fn bad_file(path: &Path, reason: &str) -> Error {
    Error::Config {
        reason: format!("{}: {reason}", path.display()),
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A token name: 1 to [`MAX_TOKEN_NAME_CHARS`] of `A-Z a-z 0-9 . _ -`
/// (it appears in logs and metric-free messages; nothing to escape).
///
/// # Errors
/// The rule broken.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > MAX_TOKEN_NAME_CHARS {
        return Err(format!(
            "a token name has 1 to {MAX_TOKEN_NAME_CHARS} characters"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(format!(
            "token name {name:?}: only letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// SHA-256 of a token's text.
pub fn token_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Longest token file read for islet's own outgoing requests.
pub const MAX_TOKEN_FILE_BYTES: usize = 4096;

/// Reads a bearer token islet presents to another server (a log with
/// closed reads, a witness or mirror with closed routes): the file's text
/// without surrounding whitespace, visible ASCII only; the file must not
/// be readable by group or others.
///
/// # Errors
/// [`Error::Io`], [`Error::Config`] naming the file and the rule.
pub fn read_token_file(path: &Path) -> Result<String> {
    let bytes = crate::datadir::read_private_key(path)?;
    let bad = |reason: &str| Error::Config {
        reason: format!("token file {}: {reason}", path.display()),
    };
    if bytes.len() > MAX_TOKEN_FILE_BYTES {
        return Err(bad(&format!("larger than {MAX_TOKEN_FILE_BYTES} bytes")));
    }
    let token = bytes.trim_ascii();
    if token.is_empty() {
        return Err(bad("is empty"));
    }
    if !token.iter().all(u8::is_ascii_graphic) {
        return Err(bad("holds characters other than visible ASCII"));
    }
    String::from_utf8(token.to_vec()).map_err(|_| bad("is not text"))
}

/// Why a presented token does not have the shape of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenShape {
    /// Not [`TOKEN_CHARS`] long.
    Length,
    /// Does not start with [`TOKEN_PREFIX`].
    Prefix,
    /// Holds a character outside base64url.
    Characters,
}

/// Checks that `text` has the shape of a token before it is hashed.
///
/// # Errors
/// The [`TokenShape`] it lacks.
pub fn check_shape(text: &[u8]) -> std::result::Result<&str, TokenShape> {
    if text.len() != TOKEN_CHARS {
        return Err(TokenShape::Length);
    }
    let Some(rest) = text.strip_prefix(TOKEN_PREFIX.as_bytes()) else {
        return Err(TokenShape::Prefix);
    };
    if !rest
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        return Err(TokenShape::Characters);
    }
    std::str::from_utf8(text).map_err(|_| TokenShape::Characters)
}

/// What a presented token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck<'a> {
    /// Live: its record.
    Live(&'a TokenRecord),
    /// Recorded, and revoked.
    Revoked(&'a TokenRecord),
    /// Recorded, and past its expiry.
    Expired(&'a TokenRecord),
    /// Not recorded.
    Unknown,
}

/// The tokens by hash, for the server's lookups.
#[derive(Debug, Default)]
pub struct TokenIndex {
    by_hash: HashMap<[u8; 32], TokenRecord>,
}

impl TokenIndex {
    /// Indexes `file`.
    pub fn new(file: TokenFile) -> TokenIndex {
        let by_hash = file
            .tokens
            .into_iter()
            .filter_map(|t| {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(&t.sha256, &mut hash).ok()?;
                Some((hash, t))
            })
            .collect();
        TokenIndex { by_hash }
    }

    /// Tokens indexed.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// What the token `secret` (of the right shape) is at `now`.
    pub fn check(&self, secret: &str, now: SystemTime) -> TokenCheck<'_> {
        match self.by_hash.get(&token_hash(secret)) {
            None => TokenCheck::Unknown,
            Some(t) if t.revoked.is_some() => TokenCheck::Revoked(t),
            Some(t) if t.expires_at().is_some_and(|e| e <= now) => TokenCheck::Expired(t),
            Some(t) => TokenCheck::Live(t),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_new_token_has_the_documented_shape_and_only_its_hash_is_kept() {
        let now = SystemTime::now();
        let mut file = TokenFile::default();
        let t = file.add("ci", &[RouteGroup::Write], None, now).unwrap();
        assert_eq!(t.secret.len(), TOKEN_CHARS);
        assert_eq!(TOKEN_CHARS, 49);
        assert_eq!(check_shape(t.secret.as_bytes()), Ok(t.secret.as_str()));
        let text = serde_json::to_string(&file).unwrap();
        assert!(!text.contains(&t.secret[TOKEN_PREFIX.len()..]));
        let index = TokenIndex::new(file);
        assert!(matches!(index.check(&t.secret, now), TokenCheck::Live(r) if r.name == "ci"));
    }

    #[test]
    fn revoked_expired_and_unknown_tokens_are_told_apart() {
        let now = SystemTime::now();
        let mut file = TokenFile::default();
        let a = file.add("a", &[RouteGroup::Write], None, now).unwrap();
        let b = file
            .add(
                "b",
                &[RouteGroup::Write],
                Some(now + Duration::from_secs(10)),
                now,
            )
            .unwrap();
        file.revoke("a", now).unwrap();
        assert!(file.revoke("a", now).is_err());
        assert!(file.add("a", &[RouteGroup::Write], None, now).is_err());
        let index = TokenIndex::new(file);
        assert!(matches!(
            index.check(&a.secret, now),
            TokenCheck::Revoked(_)
        ));
        assert!(matches!(index.check(&b.secret, now), TokenCheck::Live(_)));
        let later = now + Duration::from_secs(10);
        assert!(matches!(
            index.check(&b.secret, later),
            TokenCheck::Expired(_)
        ));
        let other = format!("{TOKEN_PREFIX}{}", "A".repeat(TOKEN_CHARS - 6));
        assert_eq!(index.check(&other, now), TokenCheck::Unknown);
    }

    #[test]
    fn token_shapes_are_checked_at_the_limit_and_one_past() {
        let good = format!(
            "{TOKEN_PREFIX}{}",
            "a".repeat(TOKEN_CHARS - TOKEN_PREFIX.len())
        );
        assert!(check_shape(good.as_bytes()).is_ok());
        let long = format!("{good}a");
        assert_eq!(check_shape(long.as_bytes()), Err(TokenShape::Length));
        assert_eq!(
            check_shape(&good.as_bytes()[..TOKEN_CHARS - 1]),
            Err(TokenShape::Length)
        );
        let prefix = good.replacen("islet_", "islet-", 1);
        assert_eq!(check_shape(prefix.as_bytes()), Err(TokenShape::Prefix));
        let mut bad = good.clone().into_bytes();
        bad[10] = 0xff;
        assert_eq!(check_shape(&bad), Err(TokenShape::Characters));
        bad[10] = b'+';
        assert_eq!(check_shape(&bad), Err(TokenShape::Characters));
    }

    #[test]
    fn names_are_checked_at_the_limit_and_one_past() {
        assert!(check_name(&"n".repeat(MAX_TOKEN_NAME_CHARS)).is_ok());
        assert!(check_name(&"n".repeat(MAX_TOKEN_NAME_CHARS + 1)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("release-bot_2.0").is_ok());
    }

    #[test]
    fn the_file_round_trips_and_refuses_what_it_cannot_trust() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKENS_FILE);
        assert!(TokenFile::load(&path).unwrap().tokens.is_empty());
        let now = SystemTime::now();
        let mut file = TokenFile::load(&path).unwrap();
        file.add("x", &[RouteGroup::Read, RouteGroup::Write], None, now)
            .unwrap();
        file.save(&path).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(TokenFile::load(&path).unwrap(), file);
        std::fs::write(&path, b"{\"version\":2,\"tokens\":[]}").unwrap();
        assert!(TokenFile::load(&path).is_err());
        std::fs::write(&path, b"not json").unwrap();
        assert!(TokenFile::load(&path).is_err());
        let big = vec![b' '; usize::try_from(MAX_TOKENS_FILE_BYTES).unwrap() + 1];
        std::fs::write(&path, big).unwrap();
        let e = TokenFile::load(&path).unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
    }
}
