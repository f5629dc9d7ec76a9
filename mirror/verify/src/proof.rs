//! `islet verify --tlog-proof FILE --entry FILE`: a C2SP
//! `c2sp.org/tlog-proof@v1` file (`../shared/specs/c2sp.md` §10) checked
//! offline against a tlog-policy ([`verify_tlog_proof`]) or a single log
//! key ([`verify_tlog_proof_with_key`]).
//!
//! The steps, in the spec's order; the first that fails is the verdict:
//! 1. the entry (at most [`MAX_ENTRY_BYTES`]) and its leaf hash
//!    `SHA-256(0x00 || entry)` ([`Check::ProofEntry`]);
//! 2. the file's syntax ([`Check::ProofFile`]);
//! 3. the checkpoint's syntax ([`Check::Checkpoint`]);
//! 4. its origin, a `log` of the policy ([`Check::WitnessPolicy`]);
//! 5. the log's signature ([`Check::Checkpoint`], or
//!    [`Check::WitnessPolicy`] when the policy's key did not sign);
//! 6. every policy witness's cosignature present ([`Check::Cosignature`]),
//!    then the quorum ([`Check::WitnessQuorum`]);
//! 7. the index below the checkpoint's size, and the inclusion proof to
//!    its root ([`Check::InclusionProof`]).
//!
//! The file's `extra` data is not authenticated and is not used.

use islet_tlog::merkle::{leaf_hash, verify_inclusion};
use islet_tlog::note::{NoteVerifier, PublicKey};
use islet_tlog::proof_file::TlogProof;
use serde::Serialize;

use crate::failure::{Check, Failure};
use crate::witness::{self, WitnessPolicy, WitnessStatus};

pub use islet_tlog::proof_file::MAX_PROOF_FILE_BYTES;

/// Largest entry checked: the largest a tlog-tiles entry bundle can hold
/// (a 16-bit length), which bounds every Rekor v2 and islet entry.
pub const MAX_ENTRY_BYTES: usize = islet_tlog::tiles::MAX_ENTRY_SIZE;

/// What a verified proof showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProofVerdict {
    /// The checkpoint's origin (a log of the policy).
    pub origin: String,
    /// The entry's index.
    pub index: u64,
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint's root hash, lowercase hex.
    pub root: String,
    /// The entry's leaf hash `SHA-256(0x00 || entry)`, lowercase hex.
    pub leaf_hash: String,
    /// The log key that signed the checkpoint, `name+keyid`.
    pub log_key: String,
    /// The name on the policy's `quorum` line; `none` without a policy.
    pub quorum: String,
    /// The quorum is met (always true in a verdict: a quorum not met is a
    /// failure).
    pub quorum_met: bool,
    /// Every witness of the policy, whether it cosigned and when; empty
    /// without a policy.
    pub witnesses: Vec<WitnessStatus>,
    /// Signature lines by keys outside the policy (`name+keyid`): not
    /// verified, they count for nothing.
    pub ignored: Vec<String>,
}

/// Verifies a tlog-proof file of `entry` (the raw log entry) under a
/// witness policy.
///
/// # Errors
/// The first step that fails (see the module documentation).
pub fn verify_tlog_proof(
    proof_file: &[u8],
    entry: &[u8],
    policy: &WitnessPolicy,
) -> Result<ProofVerdict, Failure> {
    if entry.len() > MAX_ENTRY_BYTES {
        return Err(Failure::new(
            Check::ProofEntry,
            format!(
                "the entry has {} bytes, over the {MAX_ENTRY_BYTES}-byte limit",
                entry.len()
            ),
        ));
    }
    let leaf = leaf_hash(entry);
    let proof =
        TlogProof::parse(proof_file).map_err(|e| Failure::new(Check::ProofFile, e.to_string()))?;
    let witnessed = witness::check(policy, &proof.checkpoint, "the proof's checkpoint")?;
    let cp = &witnessed.checkpoint;
    if proof.index >= cp.size {
        return Err(Failure::new(
            Check::InclusionProof,
            format!(
                "the proof's index {} is not below the checkpoint's tree size {}",
                proof.index, cp.size
            ),
        ));
    }
    verify_inclusion(proof.index, cp.size, &leaf, &proof.proof, &cp.root).map_err(|e| {
        Failure::new(
            Check::InclusionProof,
            format!(
                "the entry is not at index {} of the tree of size {}: {e}",
                proof.index, cp.size
            ),
        )
    })?;
    let log_key = policy
        .log(&cp.origin)
        .map(|l| format!("{}+{:08x}", l.verifier.name(), l.verifier.key_id()))
        .unwrap_or_default();
    Ok(ProofVerdict {
        origin: cp.origin.clone(),
        index: proof.index,
        size: cp.size,
        root: hex::encode(cp.root),
        leaf_hash: hex::encode(leaf),
        log_key,
        quorum: witnessed.report.quorum,
        quorum_met: witnessed.report.quorum_met,
        witnesses: witnessed.report.witnesses,
        ignored: witnessed.report.ignored,
    })
}

/// Verifies a tlog-proof file of `entry` with one log key and no witness
/// quorum (`--vkey`): the checkpoint's origin must be the key's name.
///
/// # Errors
/// [`Check::WitnessPolicy`] for a `cosignature/v1` key (not a log key);
/// otherwise as [`verify_tlog_proof`].
pub fn verify_tlog_proof_with_key(
    proof_file: &[u8],
    entry: &[u8],
    log_key: &NoteVerifier,
) -> Result<ProofVerdict, Failure> {
    let policy = single_log_policy(log_key)?;
    verify_tlog_proof(proof_file, entry, &policy)
}

/// A log verifier key from a vkey (`<name>+<key ID>+<base64>`): Ed25519
/// (0x01) or ECDSA (0x02), never a witness's `cosignature/v1` key.
///
/// # Errors
/// A [`Check::WitnessPolicy`] failure saying what is wrong with the vkey.
pub fn log_key_from_vkey(vkey: &str) -> Result<NoteVerifier, Failure> {
    let key = NoteVerifier::from_vkey(vkey)
        .map_err(|e| Failure::new(Check::WitnessPolicy, format!("the log vkey: {e}")))?;
    single_log_policy(&key)?;
    Ok(key)
}

/// The policy `log <vkey>` + `quorum none`.
fn single_log_policy(key: &NoteVerifier) -> Result<WitnessPolicy, Failure> {
    if matches!(key.public_key(), PublicKey::CosignatureV1(_)) {
        return Err(Failure::new(
            Check::WitnessPolicy,
            format!(
                "{}+{:08x} is a cosignature/v1 (witness) key, not a log key",
                key.name(),
                key.key_id()
            ),
        ));
    }
    let text = format!("log {}\nquorum none\n", key.to_vkey());
    witness::parse_policy(text.as_bytes())
}
