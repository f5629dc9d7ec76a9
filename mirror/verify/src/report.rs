//! What a verified bundle showed: the report `islet verify` prints (as
//! JSON with `--json`).

use std::time::SystemTime;

use serde::Serialize;

use crate::binding::Binding;
use crate::bundle::BundleVersion;
use crate::timestamp::VerifiedTime;
use crate::witness::WitnessReport;

/// One verified transparency-log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntryReport {
    /// `hashedrekord`, `dsse` or `intoto`.
    pub kind: String,
    /// Entry version.
    pub version: String,
    /// The log's `baseUrl`.
    pub log: String,
    /// The checkpoint origin.
    pub origin: String,
    /// The entry's (global) index.
    pub log_index: u64,
    /// The index in the tree the proof is for (Rekor v1: within the shard).
    pub proof_index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// The integrated time a verified SET vouches for (RFC 3339).
    pub integrated_time: Option<String>,
    /// The local log's size, with `--log`.
    pub local_size: Option<u64>,
    /// With a witness policy: which of its witnesses cosigned the entry's
    /// checkpoint, and whether the quorum is met. `None` without one.
    pub witness: Option<WitnessReport>,
}

/// What a verified bundle showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The bundle format version.
    pub bundle_version: BundleVersion,
    /// The bundle is signed by a key (`--key`), not a certificate.
    pub signed_by_key: bool,
    /// The certificate's subject alternative name, when known.
    pub identity: Option<String>,
    /// The certificate's OIDC issuer, when known.
    pub issuer: Option<String>,
    /// Every log entry, each verified.
    pub entries: Vec<LogEntryReport>,
    /// Every verified time, earliest first.
    pub times: Vec<VerifiedTime>,
    /// At least one transparency-log entry verified.
    pub rekor_verified: bool,
    /// Whole hours (rounded down) from the earliest verified time to the
    /// verification time; 0 when that time is in the future, `None`
    /// without a verified time.
    pub rekor_age_hours: Option<u64>,
    /// What the signature binds: a digest, an in-toto subject, or only the
    /// envelope.
    pub binding: Binding,
    /// What was ignored on the way (a timestamp that did not verify).
    pub warnings: Vec<String>,
}

/// Whole hours from `earliest` to `now`, rounded down; 0 when `earliest`
/// is later than `now`.
pub fn age_hours(earliest: SystemTime, now: SystemTime) -> u64 {
    now.duration_since(earliest)
        .map(|d| d.as_secs() / 3600)
        .unwrap_or(0)
}
