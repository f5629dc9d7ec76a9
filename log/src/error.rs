//! The one error type of `islet-log`.
//!
//! Variants carry the numbers and names a caller needs to act on them (which
//! tile, which index, expected and found), so tests can assert *which* check
//! failed and operators see precisely what is wrong.

/// Everything that can go wrong in `islet-log`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- Merkle proofs -------------------------------------------------
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

    // ---- tlog-tiles ----------------------------------------------------
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

    // ---- signed notes, keys --------------------------------------------
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

    // ---- checkpoints ---------------------------------------------------
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

    // ---- Rekor v2 entries ----------------------------------------------
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

    // ---- server --------------------------------------------------------
    /// A configuration value or data-directory state that stops a start.
    #[error("configuration: {reason}")]
    Config {
        /// The field and the rule.
        reason: String,
    },

    // ---- store ---------------------------------------------------------
    /// RocksDB refused an operation, or the store is inconsistent.
    #[error("store: {reason}")]
    Store {
        /// What happened.
        reason: String,
    },
    /// Starting would fork the log: the store is behind or disagrees with a
    /// published checkpoint.
    #[error("refusing to start: {reason}")]
    Fork {
        /// Which checkpoint and which store state disagree.
        reason: String,
    },
    /// The write queue is full (503 with Retry-After).
    #[error("reached max pushback; retry")]
    Overloaded,
    /// The sequencer is not accepting writes.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// An attempt to change a full tile or bundle that already exists.
    #[error("refusing to overwrite immutable {path} with different bytes")]
    ImmutableTile {
        /// The tile path.
        path: String,
    },

    // ---- fsck ----------------------------------------------------------
    /// A resource the log must serve is missing.
    #[error("{path}: missing")]
    Missing {
        /// The resource path.
        path: String,
    },
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

    /// Entries from outside disagree with the local copy of the log: the
    /// tree at the local size is not the local tree, or an entry the local
    /// copy holds comes with other bytes.
    #[error("diverges from the local copy: {reason}")]
    Diverges {
        /// Which size, root or entry differs.
        reason: String,
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
    /// The entries end at another size than the checkpoint's.
    #[error("the entries end at size {found}, the checkpoint says {expected}")]
    SizeMismatch {
        /// Entries received.
        found: u64,
        /// The checkpoint's size.
        expected: u64,
    },

    /// An error about one file or resource of a log, with its location.
    #[error("{path}: {source}")]
    InResource {
        /// File path or URL.
        path: String,
        /// What is wrong with it.
        source: Box<Error>,
    },

    // ---- I/O -----------------------------------------------------------
    /// An I/O error, with the path or URL it concerns.
    #[error("{path}: {source}")]
    Io {
        /// File or URL.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An HTTP fetch failed (transport error or unexpected status).
    #[error("{url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// A resource larger than the limit for its kind.
    #[error("{path}: larger than the {limit}-byte limit")]
    TooLarge {
        /// File or URL.
        path: String,
        /// The limit.
        limit: usize,
    },
}

impl Error {
    /// True when the error says the data is wrong (a verification failure),
    /// false when it says the data could not be read (I/O, usage).
    ///
    /// Command-line tools map the first to exit code 1 and the second to 2.
    pub fn is_verification_failure(&self) -> bool {
        match self {
            Error::Io { .. } | Error::Http { .. } | Error::Usage { .. } => false,
            Error::InResource { source, .. } => source.is_verification_failure(),
            _ => true,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
