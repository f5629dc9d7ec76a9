//! C2SP checkpoints (c2sp.org/tlog-checkpoint): the note text
//! `<origin>\n<size>\n<base64 root>\n[<extension>\n]*`, parsed strictly and
//! formatted by the same code (`../shared/specs/c2sp.md` §5).
//!
//! Strict rules: origin non-empty; size canonical decimal below 2^63; root
//! canonical padded base64 of exactly 32 bytes; extension lines non-empty.
//! No I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Error, Result};
use crate::merkle::{Hash, hash_from_slice};
use crate::note::{NoteSigner, NoteVerifier, OpenedNote, PublicKey, open, sign_note};

/// Largest tree size a checkpoint may carry: sizes are below 2^63, as the
/// Go implementations parse them as int64.
pub const MAX_TREE_SIZE: u64 = i64::MAX as u64;

/// A tree size (or index) as C2SP formats write it: a canonical decimal (no
/// sign, no leading zero) of at most [`MAX_TREE_SIZE`]. Checkpoints,
/// tlog-witness requests and tlog-proof files share this rule.
pub(crate) fn parse_tree_size(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 19
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical
        .then(|| s.parse::<u64>().ok())
        .flatten()
        .filter(|&n| n <= MAX_TREE_SIZE)
}

/// A parsed checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// Extension lines, without their LF (each non-empty).
    pub extensions: Vec<String>,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedCheckpoint {
        reason: reason.into(),
    }
}

impl Checkpoint {
    /// Parses a checkpoint body (a note text).
    ///
    /// # Errors
    /// [`Error::MalformedCheckpoint`] naming the broken rule.
    pub fn parse(text: &str) -> Result<Checkpoint> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| malformed("does not end with a newline"))?;
        if text.contains('\r') {
            return Err(malformed("contains a carriage return"));
        }
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("fewer than 3 lines"));
        };
        if origin.is_empty() {
            return Err(malformed("empty origin"));
        }
        let size = parse_tree_size(size).ok_or_else(|| {
            malformed(format!(
                "tree size {size:.24?} is not a canonical decimal below 2^63"
            ))
        })?;
        let root_bytes = B64
            .decode(root)
            .map_err(|_| malformed("root hash is not canonical padded base64"))?;
        let root = hash_from_slice(&root_bytes).map_err(|_| {
            malformed(format!(
                "root hash has {} bytes, expected 32",
                root_bytes.len()
            ))
        })?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(malformed("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The checkpoint body (note text).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Signs this checkpoint with the given signers and returns the note.
    ///
    /// # Errors
    /// Signing errors; [`Error::MalformedNote`] if a field breaks note rules.
    pub fn sign(&self, signers: &[&dyn NoteSigner]) -> Result<Vec<u8>> {
        // Re-parse what we are about to sign: one parser for both directions.
        let text = self.to_text();
        Checkpoint::parse(&text)?;
        sign_note(&text, signers)
    }
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone)]
pub struct SignedCheckpoint {
    /// The parsed body.
    pub checkpoint: Checkpoint,
    /// The opened note (which signatures verified, which were ignored).
    pub note: OpenedNote,
    /// The exact bytes as received.
    pub raw: Vec<u8>,
}

impl SignedCheckpoint {
    /// Opens a signed checkpoint: the note must carry a valid signature by
    /// `key`; other known `cosigners` are verified too when present (a bad
    /// one rejects the checkpoint); unknown lines are ignored.
    ///
    /// The origin must equal `origin` when given; otherwise, for a log key
    /// (Ed25519 or ECDSA), it must equal the key's name (the Rekor and
    /// tlog-tiles convention). A checkpoint checked only against a
    /// `cosignature/v1` key (a mirror's or witness's) has no implied origin.
    ///
    /// # Errors
    /// Note errors; [`Error::NoKnownSignature`] when `key` did not sign;
    /// [`Error::OriginMismatch`]; [`Error::MalformedCheckpoint`].
    pub fn open(
        raw: &[u8],
        key: &NoteVerifier,
        cosigners: &[NoteVerifier],
        origin: Option<&str>,
    ) -> Result<SignedCheckpoint> {
        let mut verifiers = Vec::with_capacity(1 + cosigners.len());
        verifiers.push(key.clone());
        verifiers.extend_from_slice(cosigners);
        let note = open(raw, &verifiers)?;
        if !note
            .verified
            .iter()
            .any(|v| v.name == key.name() && v.key_id == key.key_id())
        {
            return Err(Error::NoKnownSignature {
                unknown: vec![format!(
                    "log key {}+{:08x} did not sign",
                    key.name(),
                    key.key_id()
                )],
            });
        }
        let checkpoint = Checkpoint::parse(&note.note.text)?;
        let expected = match (origin, key.public_key()) {
            (Some(o), _) => Some(o),
            (None, PublicKey::CosignatureV1(_)) => None,
            (None, _) => Some(key.name()),
        };
        if let Some(expected) = expected.filter(|e| *e != checkpoint.origin) {
            return Err(Error::OriginMismatch {
                expected: expected.to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(SignedCheckpoint {
            checkpoint,
            note,
            raw: raw.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_then_parse_is_identity() {
        let c = Checkpoint {
            origin: "example.com/log".into(),
            size: 42,
            root: [9; 32],
            extensions: vec!["ext one".into()],
        };
        assert_eq!(Checkpoint::parse(&c.to_text()).ok(), Some(c));
    }

    #[test]
    fn size_at_the_bound_parses_and_one_past_does_not() {
        let root = B64.encode([0u8; 32]);
        assert!(Checkpoint::parse(&format!("o\n{MAX_TREE_SIZE}\n{root}\n")).is_ok());
        let over = u128::from(MAX_TREE_SIZE) + 1;
        assert!(Checkpoint::parse(&format!("o\n{over}\n{root}\n")).is_err());
    }
}
