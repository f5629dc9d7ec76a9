//! The one error type of `islet-mirror`.
//!
//! A sync or a verification says which check refused what it was given.
//! [`Error::is_refusal`] separates "the upstream or bundle is wrong"
//! (exit 1) from "it could not be read" (exit 2).

/// Everything that can go wrong syncing a mirror or verifying a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The upstream checkpoint is not signed by the pinned key, or names
    /// another origin.
    #[error("checkpoint: {reason}")]
    Checkpoint {
        /// What failed.
        reason: String,
    },
    /// The upstream serves an older tree than the mirror holds: not
    /// applied (a mirror never rewinds).
    #[error("{reason}")]
    Behind {
        /// Both sizes.
        reason: String,
    },
    /// The upstream conflicts with the mirror: a fork. Both checkpoints are
    /// kept as evidence.
    #[error("fork: {reason}; both checkpoints are kept as evidence")]
    Fork {
        /// Sizes and roots.
        reason: String,
    },
    /// The upstream's entries do not rebuild its signed tree.
    #[error("the upstream's entries do not rebuild its signed tree: {reason}")]
    TreeMismatch {
        /// Which size or root differs.
        reason: String,
    },
    /// A usage error: no key for a new mirror, an own origin, a bad flag.
    #[error("{reason}")]
    Usage {
        /// What to change.
        reason: String,
    },
    /// A thread could not start.
    #[error("cannot start {thread}: {source}")]
    Thread {
        /// Which thread.
        thread: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A snapshot file given as the upstream was refused or unreadable.
    #[error("{file}: {source}")]
    Snapshot {
        /// The file.
        file: String,
        /// Why.
        source: Box<islet_snapshot::Error>,
    },
    /// The store failed, or refused what was staged.
    #[error(transparent)]
    Store(#[from] islet_store::Error),
    /// Reading the upstream failed.
    #[error(transparent)]
    Reader(#[from] islet_reader::Error),
    /// The spec code refused what the upstream served.
    #[error(transparent)]
    Tlog(#[from] islet_tlog::Error),
}

impl Error {
    /// True when what was given is refused (forged, damaged, forked,
    /// behind); false for I/O and usage errors.
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Usage { .. } | Error::Thread { .. } => false,
            Error::Snapshot { source, .. } => source.is_refusal(),
            // An upstream without a file it should have is incomplete (an
            // rsync still running, a CDN lagging): try again later.
            Error::Reader(e) => !e.is_transient() && e.is_verification_failure(),
            Error::Store(e) => e.is_verification_failure(),
            _ => true,
        }
    }

    /// True when a later sync may succeed where this one failed: a failed
    /// fetch or read (what was staged is kept, and the next sync resumes
    /// it). False for refusals, which discard what was staged.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Reader(e) => e.is_transient(),
            Error::Store(e) => e.is_transient(),
            Error::Snapshot { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
