//! The one error type of `islet-snapshot`.
//!
//! Import errors say which check refused the snapshot, so an operator knows
//! whether the file is damaged, forged, out of order or simply not for this
//! data directory. [`Error::is_refusal`] separates "the snapshot is wrong"
//! (exit 1) from "the snapshot could not be read" (exit 2).

/// Everything that can go wrong exporting or importing a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The manifest is malformed or does not describe a valid snapshot.
    #[error("manifest: {reason}")]
    Manifest {
        /// What is wrong.
        reason: String,
    },
    /// The archive breaks a structural rule (entry type, name, order,
    /// size, cap).
    #[error("archive: {reason}")]
    Archive {
        /// What is wrong.
        reason: String,
    },
    /// A file's bytes do not match the manifest.
    #[error("{name}: {reason}")]
    FileMismatch {
        /// The file inside the archive.
        name: String,
        /// Size or digest, with both values.
        reason: String,
    },
    /// The checkpoint is not signed by the pinned key, or names another
    /// origin.
    #[error("checkpoint: {reason}")]
    Checkpoint {
        /// What failed.
        reason: String,
    },
    /// The entries do not rebuild the signed tree.
    #[error("the entries do not rebuild the signed tree: {reason}")]
    TreeMismatch {
        /// Which root or tile differs.
        reason: String,
    },
    /// The snapshot does not apply to the local copy (wrong from-size, an
    /// older size: never rewind).
    #[error("{reason}")]
    DoesNotApply {
        /// Sizes and what to do.
        reason: String,
        /// True when the snapshot is older than the local copy (and agrees
        /// with it); false when it starts past the local size.
        older: bool,
    },
    /// The snapshot's log conflicts with the local copy: a fork. Both
    /// checkpoints are kept as evidence.
    #[error("fork: {reason}; both checkpoints are kept as evidence")]
    Fork {
        /// Sizes and roots.
        reason: String,
    },
    /// A usage error: an unknown origin, a size with no checkpoint, a bad
    /// level.
    #[error("{reason}")]
    Usage {
        /// What to change.
        reason: String,
    },
    /// The store failed, or refused what was staged.
    #[error(transparent)]
    Store(#[from] islet_store::Error),
    /// The spec code refused something in the snapshot.
    #[error(transparent)]
    Tlog(#[from] islet_tlog::Error),
    /// Reading a log failed.
    #[error(transparent)]
    Reader(#[from] islet_reader::Error),
    /// An I/O error with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// File or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// True when the snapshot itself is refused (damaged, forged, does not
    /// apply); false for I/O and usage errors.
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Io { .. } | Error::Usage { .. } => false,
            Error::Store(e) => e.is_verification_failure(),
            Error::Reader(e) => e.is_verification_failure(),
            _ => true,
        }
    }

    /// An [`Error::Io`] constructor for `map_err`, naming `path`.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// True when the same import may succeed later (an I/O failure); false
    /// for a refused snapshot and usage errors.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Io { .. } => true,
            Error::Store(e) => e.is_transient(),
            Error::Reader(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<islet_snapshot_format::Error> for Error {
    /// The snapshot file's refusals keep their kind.
    fn from(e: islet_snapshot_format::Error) -> Self {
        use islet_snapshot_format::Error as F;
        match e {
            F::Manifest { reason } => Error::Manifest { reason },
            F::Archive { reason } => Error::Archive { reason },
            F::FileMismatch { name, reason } => Error::FileMismatch { name, reason },
            F::Checkpoint { reason } => Error::Checkpoint { reason },
            F::Io { path, source } => Error::Io { path, source },
            F::Tlog(e) => Error::Tlog(e),
            other => Error::Archive {
                reason: other.to_string(),
            },
        }
    }
}
