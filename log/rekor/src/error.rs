//! The error type of `islet-rekor`: why a Rekor v2 request is refused.
//!
//! Every variant is the client's fault and maps to 400 (or 413 for
//! [`Error::EntryTooLarge`]); nothing here is an I/O or server failure.

/// Why a request or entry is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- requests and entries ----------------------------------------------
    /// A request body that does not decode (400).
    #[error("{message}")]
    BadRequest {
        /// What is wrong, naming the field.
        message: String,
    },
    /// A request that decodes but fails validation: key, algorithm, digest
    /// length, signature (400).
    #[error("invalid entry: {reason}")]
    InvalidEntry {
        /// What is wrong.
        reason: String,
    },
    /// A signature that does not verify with the key given (400, told as
    /// an invalid entry, as Rekor does).
    #[error("invalid entry: {reason}")]
    SignatureInvalid {
        /// Which signature.
        reason: String,
    },
    /// A canonical entry larger than an entry bundle can hold: refused here,
    /// so a validated entry can always be sequenced.
    #[error("the canonical entry is {len} bytes; the log stores at most {max}")]
    EntryTooLarge {
        /// The canonical entry's size.
        len: usize,
        /// The limit ([`islet_tlog::tiles::MAX_ENTRY_SIZE`]).
        max: usize,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
