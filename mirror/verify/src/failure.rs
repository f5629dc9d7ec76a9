//! The verdict of a failed verification: which check, and why.

/// The check that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The file is not a readable bundle of a supported version.
    Bundle,
    /// No log of the trusted root has the entry's log ID.
    UnknownLog,
    /// The log's key was not valid when the entry was made.
    KeyValidity,
    /// The checkpoint is not signed by the log's key, names another
    /// origin, or signs another tree than the proof.
    Checkpoint,
    /// The inclusion proof does not lead to the checkpoint's root.
    InclusionProof,
    /// The logged body is not the one the bundle's content gives.
    Body,
    /// The signature does not verify over the digest.
    Signature,
    /// The artifact's digest is not the signed one.
    Artifact,
    /// The local log holds another entry there, or no such log.
    LocalEntry,
    /// The local log is behind the bundle.
    LocalBehind,
    /// The bundle's checkpoint is not consistent with the local log.
    LocalConsistency,
    /// The local log cannot be read.
    LocalLog,
    /// A Rekor v1 signed entry timestamp does not verify.
    InclusionPromise,
    /// An integrated time is outside the signing certificate's validity.
    IntegratedTime,
    /// Fewer transparency logs verified the bundle than the policy asks.
    TlogThreshold,
    /// Fewer verified times (RFC 3161 timestamps, SET-backed integrated
    /// times) than the policy asks.
    TimeThreshold,
    /// A bundle signed by a key: no key given, or not the one given.
    Key,
    /// The trusted root is malformed or does not conform (a missing
    /// `validFor.start`, an unreadable chain).
    TrustedRoot,
    /// The RFC 3161 timestamps are malformed as a list (too many, or the
    /// same one twice); single bad timestamps are only warnings.
    Timestamp,
    /// The signing certificate does not chain to a certificate authority
    /// of the trusted root at every verified time, or is not fit for code
    /// signing.
    Certificate,
    /// No signed certificate timestamp of the certificate verifies with a
    /// CT log of the trusted root.
    Sct,
    /// The certificate's identity (SAN or OIDC issuer) is not the one the
    /// policy asks for, or cannot be read.
    Identity,
    /// The identity policy itself is invalid (a regular expression that
    /// does not compile or is too large, a missing criterion).
    Policy,
    /// The witness policy (`--policy`, a C2SP tlog-policy) does not parse,
    /// does not list the checkpoint's log, or its key for that log did not
    /// sign the checkpoint.
    WitnessPolicy,
    /// A cosignature by a witness of the policy does not verify (which
    /// rejects the whole checkpoint, as signed notes require).
    Cosignature,
    /// The checkpoint's witness cosignatures do not meet the policy's
    /// quorum; the reason names who cosigned and what is still needed.
    WitnessQuorum,
    /// A `c2sp.org/tlog-proof@v1` file that does not parse.
    ProofFile,
    /// The entry given with a tlog-proof file is over the size limit.
    ProofEntry,
}

/// Why a bundle failed: the check and the precise reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// Which check.
    pub check: Check,
    /// What was found.
    pub reason: String,
}

impl Failure {
    pub(crate) fn new(check: Check, reason: impl Into<String>) -> Failure {
        Failure {
            check,
            reason: reason.into(),
        }
    }
}
