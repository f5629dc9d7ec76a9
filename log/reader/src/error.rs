//! The error type of `islet-reader`: reading a tlog-tiles log from a
//! directory or over HTTP(S), and what a whole-log check (fsck) finds wrong.
//!
//! [`Error::is_transient`] says a later try may succeed (a network or disk
//! failure, a file an upstream has not written yet);
//! [`Error::is_verification_failure`] says the log itself is wrong.

use std::path::Path;

/// Everything that can go wrong reading or checking a log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- reading -----------------------------------------------------------
    /// An I/O error, with the path or URL it concerns.
    #[error("{path}: {source}")]
    Io {
        /// File or URL.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An HTTP request failed in transport (connect, TLS, timeout, reset).
    #[error("{url}: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The HTTP client's error.
        source: reqwest::Error,
    },
    /// An HTTP request was answered with a status other than success or 404.
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The storage behind a local copy failed (a [`crate::local::LocalLogs`]
    /// implemented by another crate, such as the store).
    #[error("{source}")]
    Backend {
        /// That crate's error.
        source: islet_tlog::error::BoxError,
    },
    /// A worker thread or task failed (it panicked or was cancelled).
    #[error("{task} failed: {source}")]
    Worker {
        /// Which worker.
        task: &'static str,
        /// Why.
        source: tokio::task::JoinError,
    },
    /// A worker thread stopped before sending all it was given (it panicked).
    #[error("{task} stopped before finishing its work")]
    WorkerStopped {
        /// Which worker.
        task: &'static str,
    },
    /// A resource larger than the limit for its kind.
    #[error("{path}: larger than the {limit}-byte limit")]
    TooLarge {
        /// File or URL.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// A resource the log must serve is missing.
    #[error("{path}: missing")]
    Missing {
        /// The resource path.
        path: String,
    },

    // ---- what a whole-log check finds --------------------------------------
    /// A hash in a tile differs from the one recomputed from the entries.
    #[error("{path}: hash {position} (covering {what} {index}) is {found}, recomputed {expected}")]
    TileHashMismatch {
        /// The tile path.
        path: String,
        /// Position inside the tile (0..256).
        position: usize,
        /// `entry` for level 0, `tile` above.
        what: &'static str,
        /// The entry index (level 0) or the level-(L-1) tile index.
        index: u64,
        /// Recomputed hash.
        expected: String,
        /// Hash found in the tile.
        found: String,
    },
    /// An entry whose leaf hash differs from its level-0 tile, where the
    /// tile agrees with the rest of the tree: the entry bundle is corrupt.
    #[error(
        "{path}: entry {index} hashes to {computed}, but {tile} (which agrees with the tree above it) holds {expected}"
    )]
    EntryHashMismatch {
        /// The bundle path.
        path: String,
        /// The entry's index in the log.
        index: u64,
        /// Leaf hash of the entry as found.
        computed: String,
        /// The level-0 tile that disagrees.
        tile: String,
        /// Hash in that tile.
        expected: String,
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
    /// An error about one file or resource of a log, with its location.
    #[error("{path}: {source}")]
    InResource {
        /// File path or URL.
        path: String,
        /// What is wrong with it.
        source: Box<Error>,
    },

    // ---- spec code ---------------------------------------------------------
    /// The spec code refused what was read.
    #[error(transparent)]
    Tlog(islet_tlog::Error),
}

impl Error {
    /// An [`Error::Io`] constructor for `map_err`, naming `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// True when the same read may succeed later: I/O and network failures,
    /// 5xx and 429 answers, a file the log does not have yet. False when
    /// what was read is wrong, or too large.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Io { .. } | Error::Transport { .. } | Error::Missing { .. } => true,
            Error::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Error::InResource { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// True when the error says the log is wrong (a verification failure),
    /// false when it says the log could not be read.
    ///
    /// Command-line tools map the first to exit code 1 and the second to 2.
    pub fn is_verification_failure(&self) -> bool {
        match self {
            Error::Io { .. }
            | Error::Transport { .. }
            | Error::Status { .. }
            | Error::Backend { .. }
            | Error::Worker { .. }
            | Error::WorkerStopped { .. }
            | Error::Tlog(islet_tlog::Error::Source(_)) => false,
            Error::InResource { source, .. } => source.is_verification_failure(),
            _ => true,
        }
    }
}

impl From<islet_tlog::Error> for Error {
    /// Spec-code errors become [`Error::Tlog`], except a reader error of
    /// this crate that passed through the spec code (a failed fetch under a
    /// [`islet_tlog::tiles::TileHashReader`]), which comes back as itself.
    fn from(e: islet_tlog::Error) -> Self {
        match e {
            islet_tlog::Error::Source(source) => match source.downcast::<Error>() {
                Ok(mine) => *mine,
                Err(other) => Error::Tlog(islet_tlog::Error::Source(other)),
            },
            e => Error::Tlog(e),
        }
    }
}

impl From<Error> for islet_tlog::Error {
    /// A reader error handed through the spec code's reader traits.
    fn from(e: Error) -> Self {
        match e {
            Error::Tlog(e) => e,
            e => islet_tlog::Error::source(e),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
