//! Shards (`islet shard freeze`, `islet shard new`): the own log ends with
//! a final checkpoint and the next one starts with a new key and origin in
//! the same data directory, as Sigstore's yearly shards do.
//!
//! A frozen log takes no more writes: `POST /api/v2/log/entries` answers
//! 405 with rekor-tiles' text for a frozen log. Its final checkpoint
//! carries rekor-tiles' extension line `Log frozen — <date>`. After `shard
//! new`, the frozen shard is served read-only under
//! `/shards/<SHA-256 of its origin>/api/v2/` (its `baseUrl` in the trusted
//! root, with `validFor` ending at the freeze) and the new log under
//! `/api/v2/`. When the new shard has another host than the old one (the
//! default: a shard's host is its origin), a request whose `Host` is the
//! old shard's host gets the old shard at `/api/v2/` too, so monitors and
//! mirrors that follow it by its URL keep working. Nothing is copied: the
//! shard's tiles stay where they were.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use islet_store::config::{Config, KeyType, OwnLog, RawConfig};
use islet_store::datadir::DataDir;
use islet_store::{Frozen, ShardRecord, Store, TreeHead};
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::merkle::Hash;

use crate::api::{ApiError, ApiResult};
use crate::error::{Error, Result};
use crate::guard::CheckpointGuard;
use crate::http::AppState;
use crate::mirrors::{origin_hash_hex, parse_origin_hash};
use crate::read::{TileSource, serve_tile};

/// rekor-tiles' answer to a write to a frozen log (HTTP 405, plain text).
pub const FROZEN_MESSAGE: &str = "This log has been frozen, please switch to the latest log.\n";

/// The 405 of a write to a frozen log.
pub fn frozen_response() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        FROZEN_MESSAGE,
    )
        .into_response()
}

/// The extension line of a final checkpoint: `Log frozen — ` and the time
/// in the format of Unix `date` in UTC (`Fri Dec  4 20:07:56 UTC 2026`), as
/// rekor-tiles' freeze-checkpoint writes it.
pub fn frozen_line(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "Log frozen — {} {} {day:>2} {:02}:{:02}:{:02} UTC {year}",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[usize::try_from(month - 1).unwrap_or(0)],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month (1–12) and day of the month of a day count since
/// 1970-01-01 (the proleptic Gregorian calendar).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shifted so that years start in March: leap days fall at the end.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// What `islet shard freeze` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FreezeReport {
    /// The log's origin.
    pub origin: String,
    /// Its final size.
    pub size: u64,
    /// When (RFC 3339).
    pub frozen_at: String,
    /// The final checkpoint.
    pub checkpoint: String,
}

/// Freezes the own log of a data directory (the server must be stopped):
/// checks the store against the fork guard, signs the final checkpoint
/// with the `Log frozen` line, stores it with the freeze in one synced
/// write, and records it in the guard.
///
/// # Errors
/// [`Error::Config`] without an own log; [`Error::Fork`] when the store
/// is behind what was published; store, key and I/O errors; an empty or
/// already frozen log.
pub fn freeze(data: &DataDir, config: &Config, now: SystemTime) -> Result<FreezeReport> {
    let own = own_log(config)?;
    let signer = data.load_signer(own)?;
    let store = Store::open(&data.db_path(), false)?;
    let log = store.own_log();
    let head = store.tree_head(log)?.ok_or_else(|| Error::Config {
        reason: format!("{} has no entries: there is nothing to freeze", own.origin),
    })?;
    let guard = CheckpointGuard::new(data.guard_record_path(&config.raw));
    guard.check(&store, log, &head, &signer.verifier(), &own.origin)?;
    let note = Checkpoint {
        origin: own.origin.clone(),
        size: head.size,
        root: head.root,
        extensions: vec![frozen_line(now)],
    }
    .sign(&[signer.as_ref()])
    .map_err(Error::Tlog)?;
    let frozen_at = humantime::format_rfc3339_seconds(now).to_string();
    let final_head = TreeHead {
        size: head.size,
        root: head.root,
        checkpoint: note.clone(),
    };
    store.freeze(log, &final_head, &frozen_at)?;
    guard.record(&note)?;
    Ok(FreezeReport {
        origin: own.origin.clone(),
        size: head.size,
        frozen_at,
        checkpoint: String::from_utf8_lossy(&note).into_owned(),
    })
}

/// What `islet shard new` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewShardReport {
    /// The shard that ended.
    pub previous: String,
    /// Its final size.
    pub previous_size: u64,
    /// The new log's origin.
    pub origin: String,
    /// Its public URL.
    pub public_url: String,
    /// Its verifier key.
    pub vkey: String,
    /// Its key file, relative to the data directory.
    pub key: PathBuf,
}

/// Starts the next shard of a data directory whose own log is frozen (the
/// server must be stopped): a new key, the frozen log recorded as a shard
/// and a fresh own log in one synced write, the guard record of the
/// frozen log kept beside it under its origin, and `islet.toml` rewritten
/// for the new origin (and `public_url`, when given), with the names of
/// the mirror and witness keys written down so they stay the same.
///
/// # Errors
/// [`Error::Config`] when the own log is not frozen or the origin is in
/// use; key, store and I/O errors.
pub fn start_next(
    data: &DataDir,
    config: &Config,
    origin: &str,
    public_url: Option<&str>,
    key_type: KeyType,
    now: SystemTime,
) -> Result<NewShardReport> {
    let own = own_log(config)?;
    if origin == own.origin || !islet_tlog::note::is_valid_key_name(origin) {
        return Err(Error::Config {
            reason: format!("--origin {origin:?}: give a valid origin other than the current one"),
        });
    }
    let store = Store::open(&data.db_path(), false)?;
    let log = store.own_log();
    let frozen = store.frozen(log)?.ok_or_else(|| Error::Config {
        reason: format!(
            "{} is not frozen: run `islet shard freeze` first (with the server stopped)",
            own.origin
        ),
    })?;
    if store.other_log(origin)?.is_some() {
        return Err(Error::Config {
            reason: format!("{origin} is already a mirror or a shard of this data directory"),
        });
    }
    let signer = data.load_signer(own)?;
    let verifier = signer.verifier();
    let (spki, details) = crate::trust::public_key(&signer.verifier());
    let record = ShardRecord {
        number: log,
        origin: own.origin.clone(),
        vkey: verifier.to_vkey(),
        public_key_der: islet_rekor::request::encode_base64(&spki),
        key_details: details.to_owned(),
        valid_from: own.valid_from.clone(),
        public_url: config.raw.public_url.clone(),
        frozen: frozen.clone(),
    };
    let key_rel = PathBuf::from(format!("keys/{origin}.pem"));
    let new_signer = data.new_log_key(&key_rel, key_type, origin)?;
    store.start_next_shard(&record)?;
    // The frozen log's guard record stays, named after it: the new log
    // starts without one.
    let guard = data.guard_record_path(&config.raw);
    if guard.exists() {
        let kept = guard.with_extension(format!("{}.frozen", own.origin));
        std::fs::rename(&guard, &kept).map_err(Error::io(&guard))?;
    }
    let mut raw: RawConfig = config.raw.clone();
    raw.origin = Some(origin.to_owned());
    raw.key = Some(key_rel.clone());
    raw.key_type = Some(key_type);
    raw.valid_from = Some(humantime::format_rfc3339_seconds(now).to_string());
    // The mirror and witness keep their identities: their names default
    // to the origin's, so they are written down before it changes.
    raw.mirror.name = Some(config.mirror_name.clone());
    raw.witness_service.name = Some(config.witness_service.name.clone());
    raw.public_url = match public_url {
        Some(url) => url.to_owned(),
        None => with_host(&config.raw.public_url, origin)?,
    };
    raw.clone().validate()?;
    data.write_config(&raw)?;
    Ok(NewShardReport {
        previous: own.origin.clone(),
        previous_size: frozen.size,
        origin: origin.to_owned(),
        public_url: raw.public_url.clone(),
        vkey: new_signer.verifier().to_vkey(),
        key: key_rel,
    })
}

/// `url` with its host replaced by `host`: the default URL of a new shard,
/// whose host is its origin.
fn with_host(url: &str, host: &str) -> Result<String> {
    let mut parsed = url::Url::parse(url).map_err(|e| Error::Config {
        reason: format!("public_url {url:?}: {e}"),
    })?;
    parsed.set_host(Some(host)).map_err(|e| Error::Config {
        reason: format!(
            "--origin {host:?} is not a host name for public_url: {e}; give --public-url"
        ),
    })?;
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

fn own_log(config: &Config) -> Result<&OwnLog> {
    config.own.as_ref().ok_or_else(|| Error::Config {
        reason: "this data directory keeps no log of its own (it only mirrors)".into(),
    })
}

/// The shards that ended, by SHA-256 of their origin and by the host
/// they were served at, for the routes.
#[derive(Debug, Default)]
pub struct ShardIndex {
    shards: Vec<(Hash, ShardRecord)>,
    /// `host[:port]` of a shard's old public URL, lowercase, when it is
    /// not the current one's: requests for it are the shard's.
    hosts: Vec<(String, usize)>,
}

/// `host[:port]` of a URL, lowercase (the port only when not the
/// scheme's default), as a `Host` header names it.
fn authority(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

impl ShardIndex {
    /// Reads the shards of `store`. `public_url` is the current one: a
    /// shard whose old public URL had another host is also served at that
    /// host's `/api/v2/` (monitors that follow it by its URL keep working).
    ///
    /// # Errors
    /// Store errors.
    pub fn load(store: &Store, public_url: Option<&str>) -> Result<ShardIndex> {
        let shards: Vec<(Hash, ShardRecord)> = store
            .shards()?
            .into_iter()
            .map(|s| {
                let hash = crate::mirrors::origin_hash(&s.origin);
                (hash, s)
            })
            .collect();
        let current = public_url.and_then(authority);
        let hosts = shards
            .iter()
            .enumerate()
            .filter_map(|(i, (_, s))| authority(&s.public_url).map(|a| (a, i)))
            .filter(|(a, _)| Some(a) != current.as_ref())
            .collect();
        Ok(ShardIndex { shards, hosts })
    }

    /// The shard a request is for by its `Host` header, when that is the
    /// host a shard that ended was served at (and not the current one's).
    pub fn for_host(&self, headers: &axum::http::HeaderMap) -> Option<&ShardRecord> {
        let host = headers
            .get(header::HOST)?
            .to_str()
            .ok()?
            .to_ascii_lowercase();
        self.hosts
            .iter()
            .find(|(a, _)| *a == host)
            .and_then(|(_, i)| self.shards.get(*i))
            .map(|(_, s)| s)
    }

    /// The start of the first shard that ended, when there is one.
    pub fn first_valid_from(&self) -> Option<&str> {
        self.shards.first().map(|(_, s)| s.valid_from.as_str())
    }

    /// Every shard, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &ShardRecord> {
        self.shards.iter().map(|(_, s)| s)
    }

    fn find(&self, origin_hash: &str) -> std::result::Result<&ShardRecord, ApiError> {
        let hash = parse_origin_hash(origin_hash).ok_or_else(|| {
            ApiError::bad_request("a shard is named by the SHA-256 of its origin in lowercase hex")
        })?;
        self.shards
            .iter()
            .find(|(h, _)| *h == hash)
            .map(|(_, s)| s)
            .ok_or_else(|| {
                ApiError::not_found(format!("no shard of this log has hash {origin_hash}"))
            })
    }
}

/// The base URL of a shard that ended: below the `public_url` it had, so
/// that its host stays its origin (the Rekor convention clients such as
/// sigstore-go check); that host keeps reaching this islet.
pub fn shard_base_url(public_url: &str, origin: &str) -> String {
    format!(
        "{}/shards/{}",
        public_url.trim_end_matches('/'),
        origin_hash_hex(origin)
    )
}

/// `GET /shards/<hash>/api/v2/checkpoint`: the shard's final checkpoint.
pub(crate) async fn checkpoint(
    State(s): State<Arc<AppState>>,
    Path(origin_hash): Path<String>,
) -> ApiResult {
    let shard = s.shards.find(&origin_hash)?;
    shard_checkpoint(&s, shard).await
}

/// The final checkpoint of `shard`.
pub(crate) async fn shard_checkpoint(s: &AppState, shard: &ShardRecord) -> ApiResult {
    let (store, number) = (Arc::clone(&s.store), shard.number);
    let head = tokio::task::spawn_blocking(move || store.tree_head(number))
        .await?
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| ApiError::internal(&"a shard without a tree head"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        head.checkpoint,
    )
        .into_response())
}

/// `GET /shards/<hash>/api/v2/tile/…`.
pub(crate) async fn tile(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((origin_hash, rest)): Path<(String, String)>,
) -> ApiResult {
    let shard = s.shards.find(&origin_hash)?;
    let source = TileSource::local(&s, shard.number, shard.frozen.size);
    serve_tile(&s.tiles, source, &rest, &headers).await
}

/// `POST /shards/<hash>/api/v2/log/entries`: 405, the shard is frozen.
pub(crate) async fn write(
    State(s): State<Arc<AppState>>,
    Path(origin_hash): Path<String>,
) -> ApiResult {
    s.shards.find(&origin_hash)?;
    Ok(frozen_response())
}

/// The shards that ended, as the trust material lists them.
pub fn retired(index: &ShardIndex) -> Vec<crate::trust::RetiredLog> {
    index
        .records()
        .map(|s| crate::trust::RetiredLog {
            base_url: shard_base_url(&s.public_url, &s.origin),
            vkey: s.vkey.clone(),
            public_key_der: s.public_key_der.clone(),
            key_details: s.key_details.clone(),
            valid_from: s.valid_from.clone(),
            valid_until: s.frozen.frozen_at.clone(),
        })
        .collect()
}

/// The freeze of the own log, when it is frozen.
pub(crate) fn own_freeze(store: &Store) -> Result<Option<Frozen>> {
    Ok(store.frozen(store.own_log())?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A store whose own log (size 3) ended as a shard served at
    /// `old_url`.
    fn rotated(dir: &std::path::Path, old_url: &str) -> Store {
        let store = Store::open(&dir.join("db"), true).unwrap();
        let head = TreeHead {
            size: 3,
            root: [7; 32],
            checkpoint: b"final".to_vec(),
        };
        store
            .commit(store.own_log(), &islet_store::CommitBatch::default(), &head)
            .unwrap();
        let frozen = store
            .freeze(store.own_log(), &head, "2026-01-01T00:00:00Z")
            .unwrap();
        store
            .start_next_shard(&ShardRecord {
                number: store.own_log(),
                origin: "old.example".into(),
                vkey: "old.example+00000000+AA==".into(),
                public_key_der: "AA==".into(),
                key_details: "PKIX_ED25519".into(),
                valid_from: "2025-01-01T00:00:00Z".into(),
                public_url: old_url.into(),
                frozen,
            })
            .unwrap();
        store
    }

    fn host(h: &str) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::HOST, h.parse().unwrap());
        headers
    }

    #[test]
    fn the_old_host_gets_the_shard_only_when_the_new_shard_has_another_host() {
        let tmp = tempfile::tempdir().unwrap();
        let store = rotated(tmp.path(), "https://Old.Example:8443/");
        let index = ShardIndex::load(&store, Some("https://new.example")).unwrap();
        let shard = index.for_host(&host("old.example:8443")).unwrap();
        assert_eq!(shard.origin, "old.example");
        assert!(
            index.for_host(&host("OLD.example:8443")).is_some(),
            "hosts are case-blind"
        );
        for other in ["old.example", "old.example:443", "new.example", "t"] {
            assert!(index.for_host(&host(other)).is_none(), "{other}");
        }
        assert!(index.for_host(&axum::http::HeaderMap::new()).is_none());
        // A rotation that kept the host: the host is the new shard's.
        let same = ShardIndex::load(&store, Some("https://old.example:8443")).unwrap();
        assert!(same.for_host(&host("old.example:8443")).is_none());
        assert_eq!(same.records().count(), 1, "still served under /shards/");
    }

    #[test]
    fn the_frozen_line_writes_the_date_as_unix_date_does() {
        // Expected values from GNU `date -u -d @SECONDS`.
        for (secs, want) in [
            (0, "Thu Jan  1 00:00:00 UTC 1970"),
            (1_000_000_000, "Sun Sep  9 01:46:40 UTC 2001"),
            (951_782_400, "Tue Feb 29 00:00:00 UTC 2000"),
            (4_102_444_799, "Thu Dec 31 23:59:59 UTC 2099"),
        ] {
            let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            assert_eq!(frozen_line(at), format!("Log frozen — {want}"));
        }
    }
}
