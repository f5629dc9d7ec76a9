//! The error type of `islet-tlog`: what the spec code refuses.
//!
//! Variants carry the numbers and names a caller needs to act on them (which
//! tile, which index, expected and found), so tests can assert *which* check
//! failed and operators see precisely what is wrong.

/// A boxed error from outside this crate, kept as the source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything the spec code can refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- Merkle proofs -----------------------------------------------------
    /// A hash in a proof, root or leaf was not 32 bytes.
    #[error("hash has {len} bytes, expected 32")]
    BadHashLength {
        /// The length found.
        len: usize,
    },
    /// An index or size combination that has no proof (for example a leaf
    /// index at or past the tree size, or an old size above the new one).
    #[error("invalid proof request: {reason}")]
    InvalidProofRequest {
        /// What was wrong with the arguments.
        reason: &'static str,
    },
    /// A proof did not verify.
    #[error("{kind} proof does not verify: {reason}")]
    ProofMismatch {
        /// `inclusion`, `consistency`, `subtree inclusion`, ...
        kind: &'static str,
        /// Why: wrong length, root mismatch, ...
        reason: &'static str,
    },
    /// A hash source could not provide a stored hash.
    #[error("stored hash {index} is not available")]
    MissingHash {
        /// The stored-hash index asked for.
        index: u64,
    },

    // ---- tlog-tiles --------------------------------------------------------
    /// A tile path that is not in canonical tlog-tiles form.
    #[error("invalid tile path {path:?}: {reason}")]
    InvalidTilePath {
        /// The path as given (truncated to a sane length).
        path: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A hash tile whose byte length does not match its width.
    #[error("{path}: tile has {found} bytes, expected {expected}")]
    TileLength {
        /// The tile path.
        path: String,
        /// `32 * width`.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// An entry bundle that does not decode to exactly the expected entries.
    #[error("{path}: malformed entry bundle: {reason}")]
    BundleMalformed {
        /// The bundle path.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// An entry too large for a bundle's u16 length prefix.
    #[error("entry of {len} bytes exceeds the {max}-byte entry limit")]
    EntryTooLarge {
        /// The entry size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Tiles that do not hash to the trusted root (or to their parent).
    #[error("tile {path} does not authenticate: {reason}")]
    TileNotAuthenticated {
        /// The tile path.
        path: String,
        /// Which check failed.
        reason: String,
    },
    /// A [`crate::tiles::TileFetcher`] returned fewer tiles than asked for.
    #[error("tile {path} is missing")]
    MissingTile {
        /// The tile path.
        path: String,
    },

    // ---- signed notes, keys ------------------------------------------------
    /// A note that is not syntactically valid.
    #[error("malformed note: {reason}")]
    MalformedNote {
        /// The rule it breaks.
        reason: String,
    },
    /// A signature by a known key that does not verify: the whole note is
    /// rejected.
    #[error("invalid signature by {name} ({key_id:08x})")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No signature by any known key.
    #[error("note has no signature by a known key{}", if .unknown.is_empty() { String::new() } else { format!(" (signed only by {})", .unknown.join(", ")) })]
    NoKnownSignature {
        /// The `name+keyid` of the signatures that were present.
        unknown: Vec<String>,
    },
    /// Two configured verifiers share a name and key ID and one of them is
    /// referenced.
    #[error("ambiguous key {name} ({key_id:08x}): configured twice")]
    AmbiguousKey {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// A verifier key (vkey) that is not syntactically valid.
    #[error("malformed verifier key: {reason}")]
    MalformedKey {
        /// The rule it breaks.
        reason: String,
    },
    /// A vkey whose key ID field does not match the key.
    #[error(
        "verifier key {name}: key ID {given:08x} does not match the key (computed {computed:08x})"
    )]
    KeyIdMismatch {
        /// Key name.
        name: String,
        /// The ID written in the vkey.
        given: u32,
        /// The ID computed from the key.
        computed: u32,
    },
    /// A key type byte islet does not support.
    #[error("unknown or unsupported key type 0x{key_type:02x}")]
    UnsupportedKeyType {
        /// The type byte.
        key_type: u8,
    },
    /// Key material of the wrong length or encoding for its type.
    #[error("bad key for type 0x{key_type:02x}: {reason}")]
    BadKey {
        /// The type byte.
        key_type: u8,
        /// What is wrong.
        reason: String,
    },
    /// A signing operation failed.
    #[error("signing failed: {0}")]
    Signing(String),

    // ---- checkpoints -------------------------------------------------------
    /// A checkpoint body that breaks c2sp.org/tlog-checkpoint.
    #[error("malformed checkpoint: {reason}")]
    MalformedCheckpoint {
        /// The rule it breaks.
        reason: String,
    },
    /// A checkpoint whose origin is not the one expected.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The expected origin.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },

    // ---- tlog-witness -------------------------------------------------------
    /// An `add-checkpoint` request body larger than
    /// [`crate::witness::MAX_BODY_BYTES`] (an HTTP server answers 413).
    #[error("add-checkpoint body of {len} bytes is over the {max}-byte limit")]
    AddCheckpointTooLarge {
        /// The body length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An `add-checkpoint` request body that breaks c2sp.org/tlog-witness
    /// syntax (an HTTP server answers 400).
    #[error("malformed add-checkpoint request: {reason}")]
    MalformedAddCheckpoint {
        /// The rule it breaks.
        reason: String,
    },

    // ---- readers outside this crate ----------------------------------------
    /// A [`crate::merkle::HashReader`] or [`crate::tiles::TileFetcher`]
    /// implemented outside this crate failed (storage, network); the source
    /// is that crate's own error.
    #[error(transparent)]
    Source(BoxError),
}

impl Error {
    /// Wraps an error of a reader implemented outside this crate.
    pub fn source(e: impl Into<BoxError>) -> Self {
        Error::Source(e.into())
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
