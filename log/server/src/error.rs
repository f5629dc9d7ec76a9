//! The error type of `islet-server`: starting the log, sequencing, and
//! serving it.
//!
//! Errors of the layers below keep their own types ([`Error::Store`],
//! [`Error::Tlog`]). Only storage and signing failures reach the
//! sequencer's thread, and they stop it; a refused entry is answered before
//! it is queued (see `crate::sequencer`).

use std::path::Path;

/// Everything that can go wrong starting or running the log server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- starting ----------------------------------------------------------
    /// A configuration value or data-directory state that stops a start.
    #[error("configuration: {reason}")]
    Config {
        /// The field and the rule.
        reason: String,
    },
    /// Starting would fork the log: the store is behind or disagrees with a
    /// published checkpoint.
    #[error("refusing to start: {reason}")]
    Fork {
        /// Which checkpoint and which store state disagree.
        reason: String,
    },
    /// Too few witnesses answered the start-up probe to vouch that the data
    /// directory is current (`[witness] start_check`).
    #[error("refusing to start: {reason}")]
    WitnessStart {
        /// Who did not answer, and why.
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
    /// A thread of the server could not start or failed.
    #[error("thread {thread}: {reason}")]
    Thread {
        /// Which thread.
        thread: &'static str,
        /// What happened.
        reason: String,
    },

    // ---- sequencing --------------------------------------------------------
    /// The write queue is full (503 with Retry-After).
    #[error("reached max pushback; retry")]
    Overloaded,
    /// The sequencer is not accepting writes.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// The store holds something the sequencer cannot continue from.
    #[error("store: {what}")]
    Inconsistent {
        /// What is inconsistent.
        what: String,
    },

    // ---- the layers below --------------------------------------------------
    /// The store failed.
    #[error(transparent)]
    Store(#[from] islet_store::Error),
    /// The spec code refused something, or signing failed.
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
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
