//! `[store]`: which engine keeps the own log. RocksDB in the data
//! directory is the default; PostgreSQL lets several `islet serve`
//! processes serve one log (`../shared/specs/scale-out.md`).
//!
//! ```toml
//! [store]
//! engine = "postgres"
//! url = "postgres://islet@db.example/islet"
//! pool_size = 16
//! ca_file = "pg-ca.pem"       # TLS to the database off loopback
//! node = "node-a"             # the name this node holds the lease under
//! role = "eligible"           # or "never": a node that never sequences and carries no key
//! lease_ttl_ms = 3000
//! require_sync_standby = true # refuse to start without one
//! ```
//!
//! Whatever the engine, the data directory keeps the node's own records
//! (configuration, keys, the fork guard's file, tokens, mirrors).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::invalid;
use crate::error::Result;

/// Limits of `[store]`.
pub mod limits {
    use std::time::Duration;

    /// Connections of one node's pool: each is a PostgreSQL backend
    /// process; more than this starves the database, not the node.
    pub const MAX_POOL_SIZE: usize = 256;
    /// The pool size when none is given.
    pub const DEFAULT_POOL_SIZE: usize = 16;
    /// The sequencer lease's time to live when none is given: a killed
    /// leader is replaced after at most this long.
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(3);
    /// Shortest lease: renewal every third of it must survive a loaded
    /// database's round trips.
    pub const MIN_LEASE_TTL: Duration = Duration::from_millis(500);
    /// Longest lease: a minute without a sequencer is an outage.
    pub const MAX_LEASE_TTL: Duration = Duration::from_secs(60);
    /// A node name is a label in the lease row and the metrics.
    pub const MAX_NODE_NAME_BYTES: usize = 64;
}

/// The engine of `[store] engine`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// RocksDB in the data directory (the default).
    #[default]
    Rocksdb,
    /// PostgreSQL at `url`.
    Postgres,
}

/// Whether a node of a log on PostgreSQL may hold the sequencer lease
/// (`[store] role`, `../shared/specs/scale-out.md` §3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// It bids for the lease, and signs checkpoints while it holds it: it
    /// needs the log key (the default).
    #[default]
    Eligible,
    /// It verifies, deduplicates, answers and serves reads, but never
    /// sequences: it carries no log key, and learns the verifier key
    /// from the database's `logs` row.
    Never,
}

/// `[store]` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// The engine.
    #[serde(default)]
    pub engine: EngineKind,
    /// `postgres://…` (with `engine = "postgres"` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Connections of this node's pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<usize>,
    /// PEM roots the database's certificate must chain to (relative to
    /// the data directory unless absolute); the system's roots otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The name this node holds the sequencer lease under (default: the
    /// host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Whether this node may sequence (default `eligible`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<NodeRole>,
    /// The sequencer lease's time to live, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ttl_ms: Option<u64>,
    /// Refuse to start when the database's `synchronous_standby_names` is
    /// empty, so that an acknowledged entry never lives on one machine
    /// only (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_sync_standby: Option<bool>,
}

impl RawStore {
    /// Whether the table was left out (RocksDB with nothing else set).
    pub fn is_unset(&self) -> bool {
        self.engine == EngineKind::Rocksdb
            && self.url.is_none()
            && self.pool_size.is_none()
            && self.ca_file.is_none()
            && self.node.is_none()
            && self.role.is_none()
            && self.lease_ttl_ms.is_none()
            && self.require_sync_standby.is_none()
    }

    /// Validates the table on its own (`islet init --store` checks it
    /// before it writes anything).
    ///
    /// # Errors
    /// As [`RawConfig::validate`](super::RawConfig::validate) for `[store]`.
    pub fn validate(&self) -> Result<StoreSettings> {
        validate_store(self)
    }
}

/// The validated `[store]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// RocksDB in the data directory.
    Rocksdb,
    /// PostgreSQL.
    Postgres(PostgresSettings),
}

/// The validated `[store]` of a PostgreSQL node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// The connection URL, as written.
    pub url: String,
    /// Connections of the pool.
    pub pool_size: usize,
    /// PEM roots for TLS, when given.
    pub ca_file: Option<PathBuf>,
    /// This node's name in the lease row; `None` for the host name.
    pub node: Option<String>,
    /// Whether this node may hold the lease (and so needs the key).
    pub role: NodeRole,
    /// The sequencer lease's time to live.
    pub lease_ttl: Duration,
    /// Refuse to start without a synchronous standby.
    pub require_sync_standby: bool,
}

impl StoreSettings {
    /// True for a node that never sequences and carries no log key.
    pub fn is_keyless(&self) -> bool {
        matches!(self, StoreSettings::Postgres(pg) if pg.role == NodeRole::Never)
    }
}

/// Validates `[store]`.
pub(super) fn validate_store(raw: &RawStore) -> Result<StoreSettings> {
    if raw.engine == EngineKind::Rocksdb {
        for (field, set) in [
            ("store.url", raw.url.is_some()),
            ("store.pool_size", raw.pool_size.is_some()),
            ("store.ca_file", raw.ca_file.is_some()),
            ("store.node", raw.node.is_some()),
            ("store.role", raw.role.is_some()),
            ("store.lease_ttl_ms", raw.lease_ttl_ms.is_some()),
            (
                "store.require_sync_standby",
                raw.require_sync_standby.is_some(),
            ),
        ] {
            if set {
                return Err(invalid(
                    field,
                    "is for engine = \"postgres\"; the RocksDB store lives in the data directory",
                ));
            }
        }
        return Ok(StoreSettings::Rocksdb);
    }
    let url = raw.url.clone().ok_or_else(|| {
        invalid(
            "store.url",
            "engine = \"postgres\" needs url = \"postgres://…\"",
        )
    })?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            "store.url",
            "must begin with postgres:// or postgresql://",
        ));
    }
    let pool_size = raw.pool_size.unwrap_or(limits::DEFAULT_POOL_SIZE);
    if !(1..=limits::MAX_POOL_SIZE).contains(&pool_size) {
        return Err(invalid(
            "store.pool_size",
            format!("must be 1..={}", limits::MAX_POOL_SIZE),
        ));
    }
    if let Some(node) = &raw.node {
        let ok = !node.is_empty()
            && node.len() <= limits::MAX_NODE_NAME_BYTES
            && node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(invalid(
                "store.node",
                format!(
                    "must be 1 to {} of A-Z a-z 0-9 - _ .",
                    limits::MAX_NODE_NAME_BYTES
                ),
            ));
        }
    }
    let lease_ttl = raw
        .lease_ttl_ms
        .map_or(limits::DEFAULT_LEASE_TTL, Duration::from_millis);
    if !(limits::MIN_LEASE_TTL..=limits::MAX_LEASE_TTL).contains(&lease_ttl) {
        return Err(invalid(
            "store.lease_ttl_ms",
            format!(
                "must be {}..={}",
                limits::MIN_LEASE_TTL.as_millis(),
                limits::MAX_LEASE_TTL.as_millis()
            ),
        ));
    }
    Ok(StoreSettings::Postgres(PostgresSettings {
        url,
        pool_size,
        ca_file: raw.ca_file.clone(),
        node: raw.node.clone(),
        role: raw.role.unwrap_or_default(),
        lease_ttl,
        require_sync_standby: raw.require_sync_standby.unwrap_or(true),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pg(extra: &str) -> Result<StoreSettings> {
        let raw: RawStore = toml::from_str(&format!(
            "engine = \"postgres\"\nurl = \"postgres://islet@127.0.0.1:5432/islet\"\n{extra}"
        ))
        .unwrap();
        validate_store(&raw)
    }

    fn message(r: Result<StoreSettings>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn the_default_is_rocksdb_and_postgres_fields_are_refused_with_it() {
        assert_eq!(
            validate_store(&RawStore::default()).unwrap(),
            StoreSettings::Rocksdb
        );
        let raw: RawStore = toml::from_str("url = \"postgres://h/db\"").unwrap();
        assert!(message(validate_store(&raw)).contains("store.url"));
    }

    #[test]
    fn a_role_is_eligible_or_never_and_only_on_postgres() {
        let role = |r: Result<StoreSettings>| match r.unwrap() {
            StoreSettings::Postgres(p) => p.role,
            StoreSettings::Rocksdb => panic!("rocksdb"),
        };
        assert_eq!(role(pg("")), NodeRole::Eligible);
        assert_eq!(role(pg("role = \"eligible\"")), NodeRole::Eligible);
        assert_eq!(role(pg("role = \"never\"")), NodeRole::Never);
        assert!(pg("role = \"never\"").unwrap().is_keyless());
        assert!(!pg("").unwrap().is_keyless());
        assert!(toml::from_str::<RawStore>("role = \"leader\"").is_err());
        let raw: RawStore = toml::from_str("role = \"never\"").unwrap();
        assert!(message(validate_store(&raw)).contains("store.role"));
    }

    #[test]
    fn postgres_needs_a_postgres_url() {
        let raw: RawStore = toml::from_str("engine = \"postgres\"").unwrap();
        assert!(message(validate_store(&raw)).contains("needs url"));
        let raw: RawStore =
            toml::from_str("engine = \"postgres\"\nurl = \"mysql://h/db\"").unwrap();
        assert!(message(validate_store(&raw)).contains("postgres://"));
        assert!(toml::from_str::<RawStore>("engine = \"sqlite\"").is_err());
    }

    #[test]
    fn pool_size_and_lease_are_checked_at_their_limits() {
        let max = limits::MAX_POOL_SIZE;
        assert!(pg(&format!("pool_size = {max}")).is_ok());
        assert!(message(pg(&format!("pool_size = {}", max + 1))).contains("store.pool_size"));
        assert!(message(pg("pool_size = 0")).contains("store.pool_size"));
        let (min, max) = (
            limits::MIN_LEASE_TTL.as_millis(),
            limits::MAX_LEASE_TTL.as_millis(),
        );
        assert!(pg(&format!("lease_ttl_ms = {min}")).is_ok());
        assert!(pg(&format!("lease_ttl_ms = {max}")).is_ok());
        assert!(message(pg(&format!("lease_ttl_ms = {}", min - 1))).contains("lease_ttl_ms"));
        assert!(message(pg(&format!("lease_ttl_ms = {}", max + 1))).contains("lease_ttl_ms"));
        let StoreSettings::Postgres(p) = pg("").unwrap() else {
            panic!("postgres");
        };
        assert_eq!(p.pool_size, limits::DEFAULT_POOL_SIZE);
        assert_eq!(p.lease_ttl, limits::DEFAULT_LEASE_TTL);
        assert!(p.require_sync_standby, "durability by default");
    }

    #[test]
    fn node_names_are_labels() {
        let long = "n".repeat(limits::MAX_NODE_NAME_BYTES);
        assert!(pg(&format!("node = \"{long}\"")).is_ok());
        assert!(message(pg(&format!("node = \"{long}n\""))).contains("store.node"));
        for bad in ["", "a b", "a/b", "ä"] {
            assert!(
                message(pg(&format!("node = \"{bad}\""))).contains("store.node"),
                "{bad}"
            );
        }
        assert!(pg("node = \"node-a.1_b\"").is_ok());
    }
}
