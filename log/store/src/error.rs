//! The error type of `islet-store`: the store, the growth of a stored log,
//! and the data directory with its configuration.
//!
//! A RocksDB failure keeps RocksDB's error, the operation and the key
//! ([`Error::Db`]); refusals of entries from outside say which check failed
//! ([`Error::Diverges`], [`Error::RootMismatch`], ...).

use std::path::Path;

use crate::schema::LogNumber;

/// Everything that can go wrong in the store or the data directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- the store ---------------------------------------------------------
    /// RocksDB refused an operation.
    #[error("store: {op}{}: {source}", .key.as_ref().map(|k| format!(" of key {k}")).unwrap_or_default())]
    Db {
        /// The operation (`get`, `write`, `ingest`, ...).
        op: &'static str,
        /// The key, hex-encoded, when the operation had one.
        key: Option<String>,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// The store cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The store's directory.
        path: String,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// Another process has the store open for writing.
    #[error("{path} is in use by another process (such as a running `islet serve`)")]
    Locked {
        /// The store's directory.
        path: String,
    },
    /// There is no store at the path, or its creation was interrupted.
    #[error("{path} has no islet store yet{}", if *.interrupted { " (its creation was interrupted)" } else { "" })]
    NoStore {
        /// The store's directory.
        path: String,
        /// True when a store was being created there and its creation was
        /// interrupted (the next writable open completes it).
        interrupted: bool,
    },
    /// A store of another schema version.
    #[error("store schema {found} is not version {expected}")]
    Schema {
        /// The version found, as stored.
        found: String,
        /// The version this build reads.
        expected: u32,
    },
    /// What the store holds breaks its own rules.
    #[error("store is corrupt: {what}")]
    Corrupt {
        /// What is wrong.
        what: String,
    },
    /// The store holds as many logs as it can.
    #[error("the store holds {max} logs, the most it can")]
    TooManyLogs {
        /// The limit.
        max: u32,
    },
    /// A thread of the store could not start, or stopped with a failure.
    #[error("store thread {thread}: {reason}")]
    Thread {
        /// Which thread.
        thread: &'static str,
        /// What happened.
        reason: String,
    },
    /// A witness state changed between reading it and writing the next one
    /// (another `add-checkpoint` for the same origin won the race).
    #[error("the witness state of {origin} moved from size {expected} to {stored} meanwhile")]
    WitnessRace {
        /// The witnessed origin.
        origin: String,
        /// The size the caller decided from.
        expected: u64,
        /// The size stored now.
        stored: u64,
    },
    /// The stored head is not the one a writer grew its batch from:
    /// another writer committed, or took the log over. Nothing was written.
    #[error("the head of log {log} moved: expected size {}, stored {}", fmt_size(*.expected), fmt_size(*.stored))]
    HeadMoved {
        /// The log.
        log: LogNumber,
        /// The size the writer grew from (`None`: a new log).
        expected: Option<u64>,
        /// The size stored now (`None`: no head).
        stored: Option<u64>,
    },
    /// A storage engine other than RocksDB failed (PostgreSQL: the
    /// connection, a statement, the server's refusal).
    #[error("{engine}: {op}: {reason}")]
    Engine {
        /// The engine.
        engine: &'static str,
        /// The operation.
        op: &'static str,
        /// The engine's error, as it says it.
        reason: String,
    },
    /// An attempt to change a full tile or bundle that already exists.
    #[error("refusing to overwrite immutable {path} with different bytes")]
    ImmutableTile {
        /// The tile path.
        path: String,
    },

    // ---- growing a stored log from outside ---------------------------------
    /// Entries from outside disagree with the local copy of the log: the
    /// tree at the local size is not the local tree, or an entry the local
    /// copy holds comes with other bytes.
    #[error("diverges from the local copy: {reason}")]
    Diverges {
        /// Which size, root or entry differs.
        reason: String,
    },
    /// The root recomputed from the log differs from the checkpoint's.
    #[error("root of the tree of size {size} is {computed}, checkpoint says {signed}")]
    RootMismatch {
        /// Tree size.
        size: u64,
        /// Root recomputed from the entries.
        computed: String,
        /// Root in the signed checkpoint.
        signed: String,
    },
    /// The entries end at another size than the checkpoint's.
    #[error("the entries end at size {found}, the checkpoint says {expected}")]
    SizeMismatch {
        /// Entries received.
        found: u64,
        /// The checkpoint's size.
        expected: u64,
    },
    /// The key given for a mirrored log is not the one pinned for it.
    #[error("{reason}")]
    KeyNotPinned {
        /// Both keys.
        reason: String,
    },
    /// A request that cannot be carried out as asked (an own origin as a
    /// mirror, a mirror with no key known yet).
    #[error("{reason}")]
    Usage {
        /// What to change.
        reason: String,
    },

    /// An entry bundle that does not continue the tree being grown.
    #[error("{path}: does not continue a tree of {size} entries")]
    OutOfOrder {
        /// The bundle path.
        path: String,
        /// The size of the tree so far.
        size: u64,
    },

    // ---- the data directory ------------------------------------------------
    /// A configuration value or data-directory state that stops a start.
    #[error("configuration: {reason}")]
    Config {
        /// The field and the rule.
        reason: String,
    },
    /// An I/O error, with the path or URL it concerns.
    #[error("{path}: {source}")]
    Io {
        /// File or URL.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },

    // ---- spec code ---------------------------------------------------------
    /// The spec code refused something (a tile, a bundle, a checkpoint, a key).
    #[error(transparent)]
    Tlog(#[from] islet_tlog::Error),
}

impl Error {
    /// An [`Error::Io`] constructor for `map_err`, naming `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// True when what was given from outside is wrong (forged, damaged,
    /// diverging); false for storage, I/O, configuration and usage errors.
    pub fn is_verification_failure(&self) -> bool {
        match self {
            Error::Diverges { .. }
            | Error::RootMismatch { .. }
            | Error::SizeMismatch { .. }
            | Error::KeyNotPinned { .. }
            | Error::OutOfOrder { .. }
            | Error::ImmutableTile { .. } => true,
            Error::Tlog(e) => !matches!(e, islet_tlog::Error::Source(_)),
            _ => false,
        }
    }

    /// True when the same operation may succeed later (an I/O failure, a
    /// store held by another process); false for refusals and corruption.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Io { .. } | Error::Locked { .. })
    }
}

/// A [`Error::Db`] constructor for `map_err`, for an operation without a key.
pub(crate) fn db(op: &'static str) -> impl FnOnce(rocksdb::Error) -> Error {
    move |source| Error::Db {
        op,
        key: None,
        source,
    }
}

/// A [`Error::Db`] constructor for `map_err`, for an operation on `key`.
pub(crate) fn db_key<'k>(
    op: &'static str,
    key: &'k [u8],
) -> impl FnOnce(rocksdb::Error) -> Error + 'k {
    move |source| Error::Db {
        op,
        key: Some(hex::encode(key)),
        source,
    }
}

/// A [`Error::Corrupt`] saying `what`.
pub(crate) fn corrupt(what: impl Into<String>) -> Error {
    Error::Corrupt { what: what.into() }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A tree size in a message, or "none" for a log with no head.
fn fmt_size(size: Option<u64>) -> String {
    size.map_or_else(|| "none".to_owned(), |s| s.to_string())
}
