//! The error type of `islet-snapshot-format`: why a snapshot file is
//! refused, or could not be read.

/// Everything reading or writing a snapshot file can refuse.
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
    /// An I/O error with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// File or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The spec code refused something in the file (a checkpoint, a tile
    /// path).
    #[error(transparent)]
    Tlog(#[from] islet_tlog::Error),
}

impl Error {
    /// An [`Error::Io`] constructor for `map_err`, naming `path`.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
