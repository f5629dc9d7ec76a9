//! C2SP tlog-witness `add-checkpoint` (`../shared/specs/c2sp.md` §8.1): the
//! request body and the witness's decision on it.
//!
//! [`AddCheckpoint::parse`] reads the body (`old <size>` line, consistency
//! proof lines, blank line, signed checkpoint note). [`decide`] then runs the
//! checks of the current spec in Sunlight's order and returns a typed
//! [`Decision`] that maps one to one onto an HTTP status. Signing the
//! cosignature, the clock and the compare-and-swap on the stored state belong
//! to the caller: this module does no I/O and reads no clock.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{Checkpoint, parse_tree_size};
use crate::error::{Error, Result};
use crate::merkle::{EMPTY_ROOT, HASH_SIZE, Hash, verify_consistency};
use crate::note::{NoteSignature, NoteVerifier, open};

/// Largest `add-checkpoint` body accepted: 128 KiB, Sunlight's cap (a note
/// is itself at most [`crate::note::MAX_NOTE_SIZE`]).
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// Most consistency-proof lines accepted. Trees below 2^63 leaves need at
/// most 63 hashes, and the spec forbids clients to send more; a longer proof
/// is refused as a bad request before any hashing.
pub const MAX_PROOF_LINES: usize = 63;

/// Content type of a 409 response, whose body is [`conflict_body`]. Clients
/// require exactly this value, with no parameters.
pub const CONFLICT_CONTENT_TYPE: &str = "text/x.tlog.size";

/// A parsed `add-checkpoint` request body (the note not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the client believes the witness holds (`old` line).
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The origin: the first line of the note, used to find the log's keys
    /// and the stored state before anything else is checked.
    pub origin: String,
    /// The signed checkpoint note, exactly as received.
    pub note: Vec<u8>,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedAddCheckpoint {
        reason: reason.into(),
    }
}

impl AddCheckpoint {
    /// Parses an `add-checkpoint` request body.
    ///
    /// The header ends at the *first* empty line; everything after it is the
    /// note, whose syntax and signatures [`decide`] checks (after the origin
    /// lookup, as the spec orders it).
    ///
    /// # Errors
    /// [`Error::AddCheckpointTooLarge`] over [`MAX_BODY_BYTES`];
    /// [`Error::MalformedAddCheckpoint`] naming the broken rule: no blank
    /// line, an `old` line that is not `old <canonical decimal below 2^63>`,
    /// more than [`MAX_PROOF_LINES`] proof lines, a proof line that is not
    /// canonical base64 of 32 bytes, or a note without an origin line.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint> {
        if body.len() > MAX_BODY_BYTES {
            return Err(Error::AddCheckpointTooLarge {
                len: body.len(),
                max: MAX_BODY_BYTES,
            });
        }
        let split = body
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or_else(|| malformed("no empty line after the consistency proof"))?;
        let header = std::str::from_utf8(&body[..split])
            .map_err(|_| malformed("header lines are not valid UTF-8"))?;
        let note = &body[split + 2..];
        let mut lines = header.split('\n');
        let first = lines.next().unwrap_or_default();
        let old_text = first
            .strip_prefix("old ")
            .ok_or_else(|| malformed(format!("first line {first:.40?} is not \"old <size>\"")))?;
        let old = parse_tree_size(old_text).ok_or_else(|| {
            malformed(format!(
                "old size {old_text:.24?} is not a canonical decimal below 2^63"
            ))
        })?;
        let proof_lines: Vec<&str> = lines.collect();
        if proof_lines.len() > MAX_PROOF_LINES {
            return Err(malformed(format!(
                "{} consistency proof lines is over the limit of {MAX_PROOF_LINES}",
                proof_lines.len()
            )));
        }
        let proof = proof_lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                B64.decode(line)
                    .ok()
                    .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
                    .ok_or_else(|| {
                        malformed(format!(
                            "proof line {} is not canonical base64 of {HASH_SIZE} bytes",
                            i + 1
                        ))
                    })
            })
            .collect::<Result<Vec<Hash>>>()?;
        let origin_end = note
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| malformed("checkpoint note has no origin line"))?;
        let origin = std::str::from_utf8(&note[..origin_end])
            .map_err(|_| malformed("checkpoint origin is not valid UTF-8"))?;
        if origin.is_empty() {
            return Err(malformed("checkpoint origin is empty"));
        }
        Ok(AddCheckpoint {
            old,
            proof,
            origin: origin.to_owned(),
            note: note.to_vec(),
        })
    }

    /// The request body: the inverse of [`AddCheckpoint::parse`] (a
    /// witness client builds its requests with it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(B64.encode(h).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.note);
        out
    }
}

/// What the witness does with an `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 200: the checkpoint is consistent with the stored state. The caller
    /// cosigns `text`, stores `(new_size, new_root)` with a compare-and-swap
    /// on the old stored size, and only then answers with the cosignature
    /// line(s).
    Cosign {
        /// The checkpoint's tree size.
        new_size: u64,
        /// The checkpoint's root hash.
        new_root: Hash,
        /// The checkpoint text to cosign (canonical, equal to the received
        /// text).
        text: String,
        /// The log signature lines that verified: what the witness may store
        /// and serve next to its own cosignature (never the unverified
        /// lines, which could imitate its own).
        log_signatures: Vec<NoteSignature>,
    },
    /// 404: no log is configured for this origin.
    UnknownOrigin,
    /// 403: no signature by a trusted log key, or a trusted key's signature
    /// does not verify.
    NotSigned(String),
    /// 400: the note or checkpoint is malformed, carries extension lines, or
    /// `old` is larger than the checkpoint's size.
    BadRequest(String),
    /// 409: `old` is not the size the witness holds. The body is
    /// [`conflict_body`]`(stored_size)` with [`CONFLICT_CONTENT_TYPE`].
    Conflict {
        /// The size of the witness's latest cosigned checkpoint (0 if none).
        stored_size: u64,
    },
    /// 422: the checkpoint does not extend the stored one (bad proof, same
    /// size with another root, a size-0 tree with a non-empty root). The
    /// note carried a valid log signature, so the request is evidence of a
    /// misbehaving log; it is never cosigned.
    Inconsistent(String),
}

impl Decision {
    /// The HTTP status of this decision (tlog-witness, current text).
    pub fn status(&self) -> u16 {
        match self {
            Decision::Cosign { .. } => 200,
            Decision::BadRequest(_) => 400,
            Decision::NotSigned(_) => 403,
            Decision::UnknownOrigin => 404,
            Decision::Conflict { .. } => 409,
            Decision::Inconsistent(_) => 422,
        }
    }
}

/// The body of a 409 response: the stored size in decimal and LF.
pub fn conflict_body(stored_size: u64) -> String {
    format!("{stored_size}\n")
}

/// Parses the body of a 409 answer strictly, as a witness client must:
/// a canonical decimal size (no sign, no leading zero, below 2^63) and one
/// LF, nothing else. `None` for anything else (the answer then cannot be
/// trusted to name a size, and is treated as "inconsistent").
pub fn parse_conflict_body(body: &[u8]) -> Option<u64> {
    let digits = std::str::from_utf8(body.strip_suffix(b"\n")?).ok()?;
    parse_tree_size(digits)
}

/// Decides an `add-checkpoint` request.
///
/// `stored` is the witness's latest cosigned `(size, root)` for the origin,
/// `None` if it never cosigned one (treated as the empty tree). `log_keys`
/// are the keys trusted for `request.origin`; `None` (or an empty list) means
/// the origin is not configured.
///
/// Checks, in this order (Sunlight's, which the C2SP vectors encode):
/// unknown origin (404); note syntax (400); log signature (403); checkpoint
/// syntax and no extension lines (400); `old > size` (400); size 0 with a
/// root other than SHA-256("") (422); `old` ≠ stored size (409); `old == 0`
/// with a proof, `old == size` with another root or a proof, or a proof that
/// does not verify (422). Otherwise [`Decision::Cosign`].
pub fn decide(
    request: &AddCheckpoint,
    stored: Option<(u64, Hash)>,
    log_keys: Option<&[NoteVerifier]>,
) -> Decision {
    let Some(keys) = log_keys.filter(|k| !k.is_empty()) else {
        return Decision::UnknownOrigin;
    };
    let opened = match open(&request.note, keys) {
        Ok(o) => o,
        Err(e @ Error::MalformedNote { .. }) => return Decision::BadRequest(e.to_string()),
        Err(e) => return Decision::NotSigned(e.to_string()),
    };
    let checkpoint = match Checkpoint::parse(&opened.note.text) {
        Ok(c) => c,
        Err(e) => return Decision::BadRequest(e.to_string()),
    };
    if !checkpoint.extensions.is_empty() {
        return Decision::BadRequest(format!(
            "checkpoint has {} extension line(s); this witness cosigns none",
            checkpoint.extensions.len()
        ));
    }
    if checkpoint.to_text() != opened.note.text {
        return Decision::BadRequest("checkpoint text is not in canonical form".into());
    }
    let (old, size, root) = (request.old, checkpoint.size, checkpoint.root);
    if old > size {
        return Decision::BadRequest(format!(
            "old size {old} is larger than the checkpoint size {size}"
        ));
    }
    if size == 0 && root != EMPTY_ROOT {
        return Decision::Inconsistent(
            "a checkpoint of size 0 must carry the empty-tree root SHA-256(\"\")".into(),
        );
    }
    let (stored_size, stored_root) = stored.unwrap_or((0, EMPTY_ROOT));
    if old != stored_size {
        return Decision::Conflict { stored_size };
    }
    if old == 0 {
        if !request.proof.is_empty() {
            return Decision::Inconsistent(format!(
                "old size 0 takes an empty proof, got {} hash(es)",
                request.proof.len()
            ));
        }
    } else if old == size {
        if !request.proof.is_empty() {
            return Decision::Inconsistent(format!(
                "old size equals the checkpoint size {size}: the proof must be empty, got {} hash(es)",
                request.proof.len()
            ));
        }
        if root != stored_root {
            return Decision::Inconsistent(format!(
                "checkpoint of size {size} has another root than the one cosigned"
            ));
        }
    } else if let Err(e) = verify_consistency(old, size, &stored_root, &root, &request.proof) {
        return Decision::Inconsistent(format!("from size {old} to {size}: {e}"));
    }
    let log_signatures = opened
        .note
        .signatures
        .iter()
        .filter(|s| {
            opened
                .verified
                .iter()
                .any(|v| v.name == s.name && v.key_id == s.key_id)
        })
        .fold(Vec::<NoteSignature>::new(), |mut acc, s| {
            if !acc.contains(s) {
                acc.push(s.clone());
            }
            acc
        });
    Decision::Cosign {
        new_size: size,
        new_root: root,
        text: opened.note.text,
        log_signatures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::MAX_TREE_SIZE;

    const ROOT: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    fn body_with_proof_lines(n: usize) -> Vec<u8> {
        let mut b = String::from("old 8\n");
        for _ in 0..n {
            b.push_str(ROOT);
            b.push('\n');
        }
        b.push_str("\no\n8\n");
        b.push_str(ROOT);
        b.push_str("\n\n— o AAAAAAA=\n");
        b.into_bytes()
    }

    #[test]
    fn proof_lines_at_the_limit_parse_and_one_past_does_not() {
        let at = AddCheckpoint::parse(&body_with_proof_lines(MAX_PROOF_LINES)).expect("63 lines");
        assert_eq!(at.proof.len(), MAX_PROOF_LINES);
        let err = AddCheckpoint::parse(&body_with_proof_lines(MAX_PROOF_LINES + 1))
            .expect_err("64 lines");
        assert!(
            err.to_string().contains("64 consistency proof lines"),
            "{err}"
        );
    }

    #[test]
    fn body_at_the_limit_parses_and_one_past_does_not() {
        let mut body = body_with_proof_lines(0);
        // Pad the note text (parse does not read past the origin line).
        let pad = MAX_BODY_BYTES - body.len();
        body.splice(8..8, std::iter::repeat_n(b'x', pad));
        assert_eq!(body.len(), MAX_BODY_BYTES);
        assert!(AddCheckpoint::parse(&body).is_ok());
        body.push(b'\n');
        assert!(matches!(
            AddCheckpoint::parse(&body),
            Err(Error::AddCheckpointTooLarge { len, max: MAX_BODY_BYTES }) if len == MAX_BODY_BYTES + 1
        ));
    }

    #[test]
    fn old_size_at_the_bound_parses_and_one_past_does_not() {
        let note = "o\n1\nx\n\n— o AAAAAAA=\n";
        let ok = format!("old {MAX_TREE_SIZE}\n\n{note}");
        assert_eq!(
            AddCheckpoint::parse(ok.as_bytes()).expect("2^63-1").old,
            MAX_TREE_SIZE
        );
        let over = u128::from(MAX_TREE_SIZE) + 1;
        let bad = format!("old {over}\n\n{note}");
        assert!(AddCheckpoint::parse(bad.as_bytes()).is_err());
    }

    #[test]
    fn non_canonical_old_lines_are_refused() {
        for first in [
            "old 08", "old +8", "old -0", "old ", "old", "old  8", "Old 8", "old 8 ", "old 0x8",
        ] {
            let body = format!("{first}\n\no\n8\n{ROOT}\n\n— o AAAAAAA=\n");
            assert!(
                matches!(
                    AddCheckpoint::parse(body.as_bytes()),
                    Err(Error::MalformedAddCheckpoint { .. })
                ),
                "{first:?} accepted"
            );
        }
    }

    #[test]
    fn proof_lines_must_be_canonical_base64_of_32_bytes() {
        for line in [
            "",
            "AAAA",
            // Same bytes as ROOT but non-zero padding bits in the last char.
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            " 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ] {
            let body = format!("old 8\n{line}\n\no\n8\n{ROOT}\n\n— o AAAAAAA=\n");
            assert!(
                AddCheckpoint::parse(body.as_bytes()).is_err(),
                "{line:?} accepted"
            );
        }
    }

    #[test]
    fn note_without_an_origin_line_is_a_bad_request() {
        assert!(AddCheckpoint::parse(b"old 0\n\n").is_err());
        assert!(AddCheckpoint::parse(b"old 0\n\n\nrest\n").is_err());
        assert!(AddCheckpoint::parse(b"old 0\n\nno-newline").is_err());
    }

    #[test]
    fn to_bytes_is_the_inverse_of_parse() {
        let body = body_with_proof_lines(3);
        let req = AddCheckpoint::parse(&body).expect("parses");
        assert_eq!(req.origin, "o");
        assert_eq!(req.to_bytes(), body);
    }

    #[test]
    fn unknown_origin_is_decided_before_the_note_is_read() {
        let req = AddCheckpoint::parse(b"old 0\n\ngarbage\n").expect("parses");
        assert_eq!(decide(&req, None, None), Decision::UnknownOrigin);
        assert_eq!(decide(&req, None, Some(&[])), Decision::UnknownOrigin);
    }

    #[test]
    fn conflict_body_is_the_decimal_size_and_lf() {
        assert_eq!(conflict_body(0), "0\n");
        assert_eq!(conflict_body(8), "8\n");
        assert_eq!(Decision::Conflict { stored_size: 8 }.status(), 409);
    }
}
