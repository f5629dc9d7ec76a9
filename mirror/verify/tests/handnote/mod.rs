//! Signed-note keys, vkeys and signature lines made by hand for the
//! witness tests, independently of `islet_tlog::note` (the code under
//! test opens them): key IDs are `SHA-256(name || 0x0A || type || key)[:4]`
//! computed here with `sha2`, Ed25519 signatures come straight from
//! aws-lc-rs, and the `cosignature/v1` message is written out here
//! (`c2sp.md` §7: `"cosignature/v1\ntime <ts>\n" || note text`). Tree
//! hashes are RFC 6962's, computed here too.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Ed25519 signature type (a log key).
pub const TYPE_ED25519: u8 = 0x01;
/// `cosignature/v1` signature type (a witness key).
pub const TYPE_COSIGNATURE: u8 = 0x04;

/// An Ed25519 key under a key name.
pub struct HandKey {
    pub name: String,
    pub pair: Ed25519KeyPair,
    pub public: [u8; 32],
}

impl HandKey {
    /// The key with this 32-byte seed.
    pub fn new(name: &str, seed: [u8; 32]) -> HandKey {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let public = pair.public_key().as_ref().try_into().unwrap();
        HandKey {
            name: name.to_owned(),
            pair,
            public,
        }
    }

    /// The key ID for signature type `ty`.
    pub fn key_id(&self, ty: u8) -> [u8; 4] {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update([b'\n', ty]);
        h.update(self.public);
        let d = h.finalize();
        [d[0], d[1], d[2], d[3]]
    }

    /// The key ID as 8 lowercase hex digits.
    pub fn key_id_hex(&self, ty: u8) -> String {
        hex::encode(self.key_id(ty))
    }

    /// The vkey `<name>+<hex id>+<base64(type || key)>`.
    pub fn vkey(&self, ty: u8) -> String {
        let mut raw = vec![ty];
        raw.extend_from_slice(&self.public);
        format!(
            "{}+{}+{}",
            self.name,
            self.key_id_hex(ty),
            STANDARD.encode(raw)
        )
    }

    /// A log signature line (type 0x01) over a note text, with its LF.
    pub fn log_line(&self, text: &str) -> String {
        let mut raw = self.key_id(TYPE_ED25519).to_vec();
        raw.extend_from_slice(self.pair.sign(text.as_bytes()).as_ref());
        format!("\u{2014} {} {}\n", self.name, STANDARD.encode(raw))
    }

    /// A `cosignature/v1` line over a note text at `ts`, with its LF.
    pub fn cosig_line(&self, text: &str, ts: u64) -> String {
        let message = format!("cosignature/v1\ntime {ts}\n{text}");
        let mut raw = self.key_id(TYPE_COSIGNATURE).to_vec();
        raw.extend_from_slice(&ts.to_be_bytes());
        raw.extend_from_slice(self.pair.sign(message.as_bytes()).as_ref());
        format!("\u{2014} {} {}\n", self.name, STANDARD.encode(raw))
    }
}

/// RFC 6962 leaf hash.
pub fn leaf(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 node hash.
pub fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// A checkpoint note text.
pub fn checkpoint_text(origin: &str, size: u64, root: &[u8; 32]) -> String {
    format!("{origin}\n{size}\n{}\n", STANDARD.encode(root))
}

/// The text of a signed note (everything up to and including the LF
/// before the blank line).
pub fn note_text(note: &str) -> &str {
    let i = note.rfind("\n\n").expect("a blank line");
    &note[..=i]
}
