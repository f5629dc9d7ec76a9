//! A second, deliberately small implementation of C2SP `cosignature/v1`
//! verification, written from the spec with `ed25519-dalek` (islet signs
//! and verifies with aws-lc-rs): tests check the cosignatures islet makes
//! or serves with this, so that a bug in islet's note code cannot confirm
//! itself.
//!
//! - vkey: `<name>+<8 hex key ID>+<base64(0x04 ‖ 32-byte Ed25519 key)>`;
//! - key ID: the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x04 ‖ key);
//! - a line: `— <name> <base64(key ID ‖ u64 BE timestamp ‖ 64-byte signature)>`;
//! - the signed message: `cosignature/v1\ntime <decimal timestamp>\n` ‖ the
//!   note text.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// A cosigner's public key, parsed from its vkey.
#[derive(Debug, Clone)]
pub struct Cosigner {
    /// The cosigner name.
    pub name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl Cosigner {
    /// Parses a `cosignature/v1` vkey (type 0x04).
    ///
    /// # Panics
    /// On anything that is not such a vkey (tests give their own).
    pub fn from_vkey(vkey: &str) -> Cosigner {
        let mut parts = vkey.splitn(3, '+');
        let (name, id, key) = (
            parts.next().expect("vkey name"),
            parts.next().expect("vkey id"),
            parts.next().expect("vkey key"),
        );
        let raw = STANDARD.decode(key).expect("vkey base64");
        assert_eq!(
            raw.len(),
            33,
            "a cosignature/v1 vkey holds 0x04 and 32 bytes"
        );
        assert_eq!(raw[0], 0x04, "not a cosignature/v1 key");
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n");
        h.update(&raw);
        let digest = h.finalize();
        let key_id: [u8; 4] = digest[..4].try_into().expect("4 bytes");
        assert_eq!(hex(&key_id), id, "the vkey's key ID does not match its key");
        let key = VerifyingKey::from_bytes(&raw[1..].try_into().expect("32 bytes"))
            .expect("an Ed25519 point");
        Cosigner {
            name: name.to_owned(),
            key_id,
            key,
        }
    }

    /// The timestamp of the first line of `note` (a whole signed note,
    /// text, blank line and signature lines) that is this cosigner's and
    /// verifies over the note's text; `None` when there is none.
    pub fn verify_in(&self, note: &str) -> Option<u64> {
        let (text, sigs) = split_note(note)?;
        sigs.lines().find_map(|line| self.verify_line(text, line))
    }

    /// The timestamp of `line` when it is this cosigner's valid
    /// cosignature of `text`.
    pub fn verify_line(&self, text: &str, line: &str) -> Option<u64> {
        let rest = line.strip_prefix("\u{2014} ")?;
        let (name, b64) = rest.split_once(' ')?;
        if name != self.name {
            return None;
        }
        let raw = STANDARD.decode(b64.trim_end()).ok()?;
        if raw.len() != 4 + 8 + 64 || raw[..4] != self.key_id {
            return None;
        }
        let time = u64::from_be_bytes(raw[4..12].try_into().ok()?);
        let msg = format!("cosignature/v1\ntime {time}\n{text}");
        let sig = Signature::from_bytes(&raw[12..].try_into().ok()?);
        self.key.verify(msg.as_bytes(), &sig).ok().map(|()| time)
    }
}

/// Splits a signed note into its text (ending in a newline) and its
/// signature lines, at the last blank line.
fn split_note(note: &str) -> Option<(&str, &str)> {
    let at = note.rfind("\n\n")?;
    Some((&note[..=at], &note[at + 2..]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
