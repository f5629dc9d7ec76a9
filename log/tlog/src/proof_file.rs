//! C2SP `c2sp.org/tlog-proof@v1` files (`.tlog-proof`, `c2sp.md` §10): an
//! inclusion proof a verifier can carry, with the (cosigned) checkpoint it
//! proves against.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <decimal>
//! <base64 hash>        (zero or more, leaf sibling first)
//!
//! <checkpoint note, verbatim, with every signature line>
//! ```
//!
//! Strict rules: LF only; canonical padded base64; `index` a canonical
//! decimal below 2^63; every hash 32 bytes; the `extra` data is kept but
//! never trusted. Verification follows the spec's order: the checkpoint's
//! origin must be a policy log and carry its signature, the cosignatures
//! must meet the policy's quorum, then the index must be below the size and
//! the inclusion proof must lead to the checkpoint's root.
//!
//! No I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{MAX_TREE_SIZE, parse_tree_size};
use crate::error::{Error, Result};
use crate::merkle::{Hash, hash_from_slice, verify_inclusion};
use crate::note::MAX_NOTE_SIZE;
use crate::policy::{Policy, QuorumReport};

/// The first line of every proof file.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Most inclusion-proof hashes: a tree below 2^63 leaves needs at most 63.
pub const MAX_PROOF_HASHES: usize = 63;
/// Largest decoded `extra` data.
pub const MAX_EXTRA_BYTES: usize = 16 * 1024;
/// Largest proof file: a note at its limit plus the header lines (with
/// `extra` at its limit and every hash).
pub const MAX_PROOF_FILE_BYTES: usize = MAX_NOTE_SIZE + 32 * 1024;

/// A parsed `c2sp.org/tlog-proof@v1` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Unauthenticated application data (never trusted).
    pub extra: Option<Vec<u8>>,
    /// The entry's index.
    pub index: u64,
    /// The inclusion proof, leaf sibling first.
    pub proof: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedProofFile {
        reason: reason.into(),
    }
}

fn parse_index(s: &str) -> Result<u64> {
    // An index is below some tree size, so below the largest one.
    parse_tree_size(s)
        .filter(|&i| i < MAX_TREE_SIZE)
        .ok_or_else(|| {
            malformed(format!(
                "index {s:.24?} is not a canonical decimal below 2^63 - 1"
            ))
        })
}

impl TlogProof {
    /// Parses a proof file. The checkpoint note is kept as bytes; it is
    /// parsed and verified by [`TlogProof::verify`].
    ///
    /// # Errors
    /// [`Error::MalformedProofFile`] naming the broken rule.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof> {
        if bytes.len() > MAX_PROOF_FILE_BYTES {
            return Err(malformed(format!(
                "{} bytes is over the {MAX_PROOF_FILE_BYTES}-byte limit",
                bytes.len()
            )));
        }
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or_else(|| malformed("no empty line before the checkpoint"))?;
        let head = bytes.get(..split).unwrap_or_default();
        let checkpoint = bytes.get(split + 2..).unwrap_or_default().to_vec();
        if checkpoint.is_empty() {
            return Err(malformed("no checkpoint after the empty line"));
        }
        let head = std::str::from_utf8(head).map_err(|_| malformed("header is not UTF-8"))?;
        if let Some(b) = head.bytes().find(|&b| b < 0x20 && b != b'\n') {
            return Err(malformed(format!("control byte 0x{b:02x} in the header")));
        }
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(malformed(format!("first line is not {HEADER:?}")));
        }
        let mut line = lines.next();
        let mut extra = None;
        if let Some(b64) = line.and_then(|l| l.strip_prefix("extra ")) {
            let data = B64
                .decode(b64)
                .map_err(|_| malformed("extra data is not canonical base64"))?;
            if data.len() > MAX_EXTRA_BYTES {
                return Err(malformed(format!(
                    "extra data of {} bytes is over the {MAX_EXTRA_BYTES}-byte limit",
                    data.len()
                )));
            }
            extra = Some(data);
            line = lines.next();
        }
        let index = line
            .and_then(|l| l.strip_prefix("index "))
            .ok_or_else(|| malformed("no index line"))?;
        let index = parse_index(index)?;
        let mut proof = Vec::new();
        for l in lines {
            if proof.len() == MAX_PROOF_HASHES {
                return Err(malformed(format!(
                    "more than {MAX_PROOF_HASHES} proof hashes"
                )));
            }
            let raw = B64
                .decode(l)
                .map_err(|_| malformed(format!("proof line {l:.48?} is not canonical base64")))?;
            let hash = hash_from_slice(&raw).map_err(|_| {
                malformed(format!("proof hash has {} bytes, expected 32", raw.len()))
            })?;
            proof.push(hash);
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint,
        })
    }

    /// The proof file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint);
        bytes
    }

    /// Verifies that the entry whose leaf hash is `leaf_hash` is in the log
    /// at `index`, under `policy`: log signature, witness quorum, then the
    /// inclusion proof. Returns the policy's report on the checkpoint.
    ///
    /// # Errors
    /// The errors of [`Policy::check_checkpoint`]; [`Error::QuorumNotMet`];
    /// [`Error::InvalidProofRequest`] or [`Error::ProofMismatch`] when the
    /// index is not below the size or the proof does not verify.
    pub fn verify(&self, leaf_hash: &Hash, policy: &Policy) -> Result<QuorumReport> {
        let report = policy.check_checkpoint(&self.checkpoint)?;
        if !report.quorum_met {
            return Err(Error::QuorumNotMet {
                origin: report.checkpoint.origin.clone(),
                cosigned: report.cosigned.iter().map(|c| c.name.clone()).collect(),
            });
        }
        if self.index >= report.checkpoint.size {
            return Err(Error::InvalidProofRequest {
                reason: "proof index is not below the checkpoint's tree size",
            });
        }
        verify_inclusion(
            self.index,
            report.checkpoint.size,
            leaf_hash,
            &self.proof,
            &report.checkpoint.root,
        )?;
        Ok(report)
    }
}
