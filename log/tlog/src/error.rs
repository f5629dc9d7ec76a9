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

    // ---- tlog-mirror push ---------------------------------------------------
    /// An `add-entries` body larger than
    /// [`crate::mirror_push::MAX_BODY_BYTES`] (an HTTP server answers 413).
    #[error("add-entries body of {len} bytes is over the {max}-byte limit")]
    AddEntriesTooLarge {
        /// The body length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An `add-entries` body that breaks c2sp.org/tlog-mirror syntax, found
    /// at byte `offset` (a mirror stops reading there: 400 when no package
    /// was stored, 202 otherwise).
    #[error("malformed add-entries body at byte {offset}{}: {reason}", .package.map(|p| format!(" (package {p})")).unwrap_or_default())]
    MalformedAddEntries {
        /// Offset in the body of the first byte that breaks the rule (for a
        /// truncated field, where that field starts).
        offset: usize,
        /// The package being read (its index in the canonical sequence),
        /// `None` in the header.
        package: Option<u64>,
        /// The rule it breaks.
        reason: String,
    },
    /// A pushed package that is refused before anything of it is stored (an
    /// HTTP server answers 422 for a failed proof).
    #[error(
        "add-entries package {package} (subtree [{start}, {end}) of the tree of size {size}) refused: {check}"
    )]
    PackageRefused {
        /// The package's index in the canonical sequence.
        package: u64,
        /// First leaf of the subtree the package proves.
        start: u64,
        /// One past its last leaf.
        end: u64,
        /// The size of the pending tree it is checked against.
        size: u64,
        /// The check that failed.
        check: crate::mirror_push::PackageCheck,
    },
    /// An `add-entries` header a mirror cannot take in its current state
    /// (an HTTP server answers 409 with a `text/x.tlog.mirror-info` body).
    #[error("add-entries conflict: {reason}")]
    UploadConflict {
        /// Which rule the header breaks.
        reason: String,
    },
    /// A `text/x.tlog.mirror-info` body that breaks the format.
    #[error("malformed mirror-info body: {reason}")]
    MalformedMirrorInfo {
        /// The rule it breaks.
        reason: String,
    },
    /// An `add-entries` request the push client was asked to encode that
    /// breaks a rule or a limit (nothing is written).
    #[error("cannot encode add-entries: {reason}")]
    InvalidAddEntries {
        /// The rule or limit.
        reason: String,
    },

    // ---- tlog-policy -------------------------------------------------------
    /// A policy file larger than [`crate::policy::MAX_POLICY_BYTES`].
    #[error("policy is {len} bytes, over the {max}-byte limit")]
    PolicyTooLarge {
        /// The size found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A policy line that breaks the tlog-policy syntax (bad byte, wrong
    /// number of fields, reserved or invalid name, inline comment).
    #[error("policy line {line}: {reason}")]
    PolicySyntax {
        /// 1-based line number.
        line: usize,
        /// The rule it breaks.
        reason: String,
    },
    /// A policy line whose first word is not `log`, `witness`, `group` or
    /// `quorum`.
    #[error("policy line {line}: unknown keyword {keyword:?}")]
    PolicyUnknownKeyword {
        /// 1-based line number.
        line: usize,
        /// The keyword found (truncated).
        keyword: String,
    },
    /// A vkey in a policy that does not parse or has the wrong type for its
    /// line.
    #[error("policy line {line}: bad key: {reason}")]
    PolicyKey {
        /// 1-based line number.
        line: usize,
        /// What is wrong with the key.
        reason: String,
    },
    /// A witness or group name defined twice (they share one namespace).
    #[error("policy line {line}: name {name:?} is already defined on line {first_line}")]
    PolicyDuplicateName {
        /// 1-based line number of the second definition.
        line: usize,
        /// The name.
        name: String,
        /// Where it was first defined.
        first_line: usize,
    },
    /// Two `log` lines, or two `witness` lines, with the same public key.
    #[error("policy line {line}: the same public key is already listed on line {first_line}")]
    PolicyDuplicateKey {
        /// 1-based line number of the second listing.
        line: usize,
        /// Where the key was first listed.
        first_line: usize,
    },
    /// A group that lists the same member twice.
    #[error("policy line {line}: member {name:?} is listed twice")]
    PolicyDuplicateMember {
        /// 1-based line number.
        line: usize,
        /// The member.
        name: String,
    },
    /// A group member or quorum that names nothing defined anywhere.
    #[error("policy line {line}: {name:?} is not defined")]
    PolicyUndefinedName {
        /// 1-based line number.
        line: usize,
        /// The name.
        name: String,
    },
    /// A group member or quorum that refers to itself or to a name defined
    /// only later: tlog-policy allows references to earlier lines only, which
    /// is what rules out cycles.
    #[error(
        "policy line {line}: {name:?} is defined on line {defined_at}, not before: references must point to earlier lines (no cycles)"
    )]
    PolicyCycle {
        /// 1-based line number.
        line: usize,
        /// The name.
        name: String,
        /// The line that defines it (this line or a later one).
        defined_at: usize,
    },
    /// A group threshold that is not `all`, `any` or a decimal in `1..=n`.
    #[error(
        "policy line {line}: threshold {threshold:?} is not all, any or a number from 1 to {members}"
    )]
    PolicyThreshold {
        /// 1-based line number.
        line: usize,
        /// The threshold as written (truncated).
        threshold: String,
        /// The number of members.
        members: usize,
    },
    /// A policy with more of something than the named limit allows.
    #[error("policy line {line}: more than {max} {what}")]
    PolicyLimit {
        /// 1-based line number where the limit was passed.
        line: usize,
        /// What is counted (`logs`, `witnesses`, `group members`, ...).
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A policy with a second `quorum` line.
    #[error("policy line {line}: second quorum line (the first is on line {first_line})")]
    PolicyDuplicateQuorum {
        /// 1-based line number.
        line: usize,
        /// The first quorum line.
        first_line: usize,
    },
    /// A policy without a `quorum` line.
    #[error("policy has no quorum line")]
    PolicyMissingQuorum,
    /// A checkpoint whose origin is not one of the policy's logs.
    #[error("checkpoint origin {origin:?} is not a log of the policy")]
    PolicyUnknownLog {
        /// The origin found.
        origin: String,
    },

    /// A checkpoint whose witness cosignatures do not meet the policy's
    /// quorum.
    #[error("checkpoint of {origin:?} does not meet the witness quorum (cosigned by: {})", if .cosigned.is_empty() { "none".to_owned() } else { .cosigned.join(", ") })]
    QuorumNotMet {
        /// The checkpoint's origin.
        origin: String,
        /// The policy witnesses that did cosign.
        cosigned: Vec<String>,
    },

    // ---- tlog-proof --------------------------------------------------------
    /// A `c2sp.org/tlog-proof@v1` file that breaks the format.
    #[error("malformed tlog-proof file: {reason}")]
    MalformedProofFile {
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
