//! C2SP signed notes (c2sp.org/signed-note), verifier keys (vkeys), and the
//! signature types islet uses: Ed25519 (0x01), ECDSA P-256 as Rekor v2 and
//! transparency-dev sign checkpoints (0x02), and Ed25519 `cosignature/v1`
//! (0x04). See `../shared/specs/c2sp.md` §6–7.
//!
//! Strictness: base64 must be canonical standard base64 with padding (Go's
//! decoder is laxer about padding bits); vkey key IDs must be lowercase hex.
//!
//! No I/O.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Largest signed note we parse. Checkpoints with a few dozen Ed25519 or
/// ML-DSA cosignatures fit easily; the Sunlight witness caps requests at
/// 128 KiB, the figure we adopt (`c2sp.md` §5).
pub const MAX_NOTE_SIZE: usize = 128 * 1024;
/// Most signature lines a note may carry. C2SP requires accepting at least
/// 16; Go's `note.Open` rejects more than 100, and so do we.
pub const MAX_NOTE_SIGNATURES: usize = 100;

/// Signature type: Ed25519 over the note text.
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type: ECDSA (SPKI key, key ID = the first 4 bytes of SHA-256(SPKI)).
pub const TYPE_ECDSA: u8 = 0x02;
/// Signature type: Ed25519 `cosignature/v1`.
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;

const EM_DASH_PREFIX: &str = "\u{2014} ";

/// True for a valid key name: non-empty, no Unicode whitespace, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// `SHA-256(name || LF || type || key)[:4]` as a big-endian u32: the key ID
/// of every signature type except ECDSA.
pub fn standard_key_id(name: &str, key_type: u8, key: &[u8]) -> u32 {
    let d = standard_key_hash(name, key_type, key);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn standard_key_hash(name: &str, key_type: u8, key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', key_type]);
    h.update(key);
    h.finalize().into()
}

/// The key ID of an ECDSA P-256 key: the first 4 bytes of SHA-256 of its
/// DER SubjectPublicKeyInfo (Rekor's rule).
pub fn ecdsa_key_id(spki: &[u8]) -> u32 {
    let d = Sha256::digest(spki);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID (first 4 bytes of the decoded signature).
    pub key_id: u32,
    /// Signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, without its final LF.
    pub fn to_line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        format!("{EM_DASH_PREFIX}{} {}", self.name, B64.encode(raw))
    }
}

/// A syntactically valid signed note (signatures not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in LF.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::MalformedNote {
        reason: reason.into(),
    }
}

/// Checks the rules every note text obeys: valid UTF-8 (by type), ends with
/// LF, no control byte other than LF.
fn check_text(text: &str) -> Result<()> {
    if !text.ends_with('\n') {
        return Err(malformed("text does not end with a newline"));
    }
    if let Some(b) = text.bytes().find(|&b| b < 0x20 && b != b'\n') {
        return Err(malformed(format!("control byte 0x{b:02x}")));
    }
    Ok(())
}

impl Note {
    /// Parses a signed note, enforcing every syntax rule of c2sp.org/signed-note.
    ///
    /// # Errors
    /// [`Error::MalformedNote`] naming the broken rule.
    pub fn parse(msg: &[u8]) -> Result<Note> {
        if msg.len() > MAX_NOTE_SIZE {
            return Err(malformed(format!(
                "{} bytes is over the {MAX_NOTE_SIZE}-byte limit",
                msg.len()
            )));
        }
        let msg = std::str::from_utf8(msg).map_err(|_| malformed("not valid UTF-8"))?;
        if let Some(b) = msg.bytes().find(|&b| b < 0x20 && b != b'\n') {
            return Err(malformed(format!("control byte 0x{b:02x}")));
        }
        let split = msg
            .rfind("\n\n")
            .ok_or_else(|| malformed("no blank line before the signatures"))?;
        let text = &msg[..=split];
        let block = &msg[split + 2..];
        if block.is_empty() {
            return Err(malformed("no signature lines"));
        }
        if !block.ends_with('\n') {
            return Err(malformed("signature block does not end with a newline"));
        }
        let lines: Vec<&str> = block[..block.len() - 1].split('\n').collect();
        if lines.len() > MAX_NOTE_SIGNATURES {
            return Err(malformed(format!(
                "{} signature lines is over the limit of {MAX_NOTE_SIGNATURES}",
                lines.len()
            )));
        }
        let signatures = lines
            .into_iter()
            .map(parse_signature_line)
            .collect::<Result<_>>()?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note as bytes on the wire: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
            out.push('\n');
        }
        out.into_bytes()
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature> {
    let rest = line.strip_prefix(EM_DASH_PREFIX).ok_or_else(|| {
        malformed(format!(
            "line {line:.40?} is not a signature line (em dash, space)"
        ))
    })?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| malformed("signature line has no space between name and signature"))?;
    if !is_valid_key_name(name) {
        return Err(malformed(format!("invalid key name {name:.64?}")));
    }
    let raw = B64
        .decode(b64)
        .map_err(|_| malformed(format!("signature of {name} is not canonical base64")))?;
    if raw.len() < 5 {
        return Err(malformed(format!(
            "signature of {name} is shorter than 5 bytes"
        )));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        signature: raw[4..].to_vec(),
    })
}

// ---------------------------------------------------------------------------
// Verifiers
// ---------------------------------------------------------------------------

/// The public part of a note key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519, type 0x01: signs the note text.
    Ed25519([u8; 32]),
    /// ECDSA P-256, type 0x02: DER SubjectPublicKeyInfo; signs SHA-256(text).
    EcdsaP256 {
        /// The DER SPKI.
        spki: Vec<u8>,
        /// The uncompressed point inside it.
        point: Vec<u8>,
    },
    /// Ed25519 `cosignature/v1`, type 0x04.
    CosignatureV1([u8; 32]),
}

/// A note verifier: a key name, its key ID and the public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: PublicKey,
}

/// A verified signature: which key, and for cosignatures the timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// `cosignature/v1` timestamp (seconds since the epoch).
    pub timestamp: Option<u64>,
}

/// The result of opening a note: the text, and which signatures verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The note as parsed.
    pub note: Note,
    /// Signatures by known keys, all of which verified (deduplicated).
    pub verified: Vec<VerifiedSignature>,
    /// Signatures by keys not configured (ignored, deduplicated).
    pub unverified: Vec<NoteSignature>,
}

fn parse_p256_spki(spki: &[u8]) -> Result<Vec<u8>> {
    use spki::der::Decode;
    let bad = |reason: &str| Error::BadKey {
        key_type: TYPE_ECDSA,
        reason: reason.into(),
    };
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki)
        .map_err(|_| bad("not a DER SubjectPublicKeyInfo"))?;
    const EC_PUBLIC_KEY: spki::ObjectIdentifier =
        spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const P256: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    if info.algorithm.oid != EC_PUBLIC_KEY {
        return Err(bad("not an EC public key"));
    }
    let curve = info
        .algorithm
        .parameters_oid()
        .map_err(|_| bad("EC key without a named curve"))?;
    if curve != P256 {
        return Err(bad("EC key is not on P-256"));
    }
    let point = info
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad("public key bit string is not byte aligned"))?;
    if point.len() != 65 || point[0] != 4 {
        return Err(bad("P-256 point is not 65 bytes uncompressed"));
    }
    Ok(point.to_vec())
}

/// A raw Ed25519 public key from `key`, which must be 32 bytes.
///
/// # Errors
/// [`Error::BadKey`] for another length.
pub fn ed25519_key(key_type: u8, key: &[u8]) -> Result<[u8; 32]> {
    key.try_into().map_err(|_| Error::BadKey {
        key_type,
        reason: format!("bad key length: {} bytes, expected 32", key.len()),
    })
}

/// The `cosignature/v1` signed message for a note text and timestamp.
pub fn cosignature_v1_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

impl NoteVerifier {
    /// A verifier for `key` under `name`, with the key ID the rules of its
    /// type give (the standard key ID for Ed25519 and `cosignature/v1`, the
    /// SPKI hash for ECDSA).
    ///
    /// # Errors
    /// [`Error::MalformedKey`] for an invalid key name.
    pub fn new(name: &str, key: PublicKey) -> Result<NoteVerifier> {
        if !is_valid_key_name(name) {
            return Err(Error::MalformedKey {
                reason: format!("invalid key name {name:?}"),
            });
        }
        let key_id = match &key {
            PublicKey::Ed25519(k) => standard_key_id(name, TYPE_ED25519, k),
            PublicKey::EcdsaP256 { spki, .. } => ecdsa_key_id(spki),
            PublicKey::CosignatureV1(k) => standard_key_id(name, TYPE_COSIGNATURE_V1, k),
        };
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Parses a verifier key `<name>+<8 hex key ID>+<base64(type || key)>`,
    /// recomputing the key ID.
    ///
    /// # Errors
    /// [`Error::MalformedKey`], [`Error::KeyIdMismatch`],
    /// [`Error::UnsupportedKeyType`] or [`Error::BadKey`], checked in that
    /// order.
    pub fn from_vkey(vkey: &str) -> Result<NoteVerifier> {
        let bad = |reason: &str| Error::MalformedKey {
            reason: reason.into(),
        };
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected <name>+<key ID>+<key>"));
        };
        if !is_valid_key_name(name) {
            return Err(bad("invalid key name"));
        }
        if id_hex.len() != 8
            || !id_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("key ID is not 8 lowercase hex digits"));
        }
        let given = u32::from_str_radix(id_hex, 16).map_err(|_| bad("key ID is not hex"))?;
        let raw = B64
            .decode(key_b64)
            .map_err(|_| bad("key is not canonical base64"))?;
        let Some((&key_type, key)) = raw.split_first() else {
            return Err(bad("empty key"));
        };
        let computed = if key_type == TYPE_ECDSA {
            ecdsa_key_id(key)
        } else {
            standard_key_id(name, key_type, key)
        };
        if computed != given {
            return Err(Error::KeyIdMismatch {
                name: name.to_owned(),
                given,
                computed,
            });
        }
        let key = match key_type {
            TYPE_ED25519 => PublicKey::Ed25519(ed25519_key(key_type, key)?),
            TYPE_COSIGNATURE_V1 => PublicKey::CosignatureV1(ed25519_key(key_type, key)?),
            TYPE_ECDSA => PublicKey::EcdsaP256 {
                point: parse_p256_spki(key)?,
                spki: key.to_vec(),
            },
            other => return Err(Error::UnsupportedKeyType { key_type: other }),
        };
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: given,
            key,
        })
    }

    /// A verifier for a log key given as a PEM or DER SubjectPublicKeyInfo
    /// (Ed25519 or ECDSA P-256) under the key name `name` (the origin).
    ///
    /// # Errors
    /// [`Error::BadKey`] for anything but an Ed25519 or P-256 public key;
    /// [`Error::MalformedKey`] for an invalid name.
    pub fn from_public_key(name: &str, pem_or_der: &[u8]) -> Result<NoteVerifier> {
        use spki::der::Decode;
        if !is_valid_key_name(name) {
            return Err(Error::MalformedKey {
                reason: format!("invalid key name {name:?}"),
            });
        }
        let der = match pem::parse(pem_or_der) {
            Ok(p) if p.tag() == "PUBLIC KEY" => p.into_contents(),
            Ok(p) => {
                return Err(Error::BadKey {
                    key_type: 0,
                    reason: format!("PEM block is {:?}, expected PUBLIC KEY", p.tag()),
                });
            }
            Err(_) => pem_or_der.to_vec(),
        };
        let info = spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(|_| Error::BadKey {
            key_type: 0,
            reason: "not a PEM or DER SubjectPublicKeyInfo".into(),
        })?;
        const ED25519_OID: spki::ObjectIdentifier =
            spki::ObjectIdentifier::new_unwrap("1.3.101.112");
        if info.algorithm.oid == ED25519_OID {
            let raw = info.subject_public_key.raw_bytes();
            let key = ed25519_key(TYPE_ED25519, raw)?;
            return Ok(NoteVerifier {
                name: name.to_owned(),
                key_id: standard_key_id(name, TYPE_ED25519, &key),
                key: PublicKey::Ed25519(key),
            });
        }
        let point = parse_p256_spki(&der)?;
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: ecdsa_key_id(&der),
            key: PublicKey::EcdsaP256 { spki: der, point },
        })
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The signature type byte.
    pub fn key_type(&self) -> u8 {
        match self.key {
            PublicKey::Ed25519(_) => TYPE_ED25519,
            PublicKey::EcdsaP256 { .. } => TYPE_ECDSA,
            PublicKey::CosignatureV1(_) => TYPE_COSIGNATURE_V1,
        }
    }

    /// The vkey string for this verifier.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![self.key_type()];
        match &self.key {
            PublicKey::Ed25519(k) | PublicKey::CosignatureV1(k) => raw.extend_from_slice(k),
            PublicKey::EcdsaP256 { spki, .. } => raw.extend_from_slice(spki),
        }
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    /// The full 32-byte key hash that Rekor v2 publishes as `logId.keyId`
    /// and the trusted root's `checkpointKeyId`: for Ed25519
    /// `SHA-256(name || LF || 0x01 || key)`, for ECDSA `SHA-256(SPKI)`.
    /// `None` for cosigner keys.
    pub fn rekor_log_id(&self) -> Option<[u8; 32]> {
        match &self.key {
            PublicKey::Ed25519(k) => Some(standard_key_hash(&self.name, TYPE_ED25519, k)),
            PublicKey::EcdsaP256 { spki, .. } => Some(Sha256::digest(spki).into()),
            PublicKey::CosignatureV1(_) => None,
        }
    }

    /// Verifies one signature (the bytes after the key ID) over a note text.
    /// Returns the cosignature timestamp for `cosignature/v1` keys.
    pub fn verify(&self, text: &str, sig: &[u8]) -> Option<Option<u64>> {
        match &self.key {
            PublicKey::Ed25519(k) => UnparsedPublicKey::new(&ED25519, k)
                .verify(text.as_bytes(), sig)
                .ok()
                .map(|()| None),
            PublicKey::EcdsaP256 { point, .. } => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
                    .verify(text.as_bytes(), sig)
                    .ok()
                    .map(|()| None)
            }
            PublicKey::CosignatureV1(k) => {
                let (ts, sig) = sig.split_first_chunk::<8>()?;
                let ts = u64::from_be_bytes(*ts);
                if ts > i64::MAX as u64 || sig.len() != 64 {
                    return None;
                }
                UnparsedPublicKey::new(&ED25519, k)
                    .verify(&cosignature_v1_message(text, ts), sig)
                    .ok()
                    .map(|()| Some(ts))
            }
        }
    }
}

/// Parses and verifies a signed note against a set of verifiers, with the
/// C2SP policy: signatures by unknown (name, key ID) pairs are ignored; a
/// signature by a known key that does not verify rejects the note; a note
/// with no verified signature is rejected.
///
/// # Errors
/// [`Error::MalformedNote`], [`Error::InvalidSignature`],
/// [`Error::NoKnownSignature`] or [`Error::AmbiguousKey`].
pub fn open(msg: &[u8], verifiers: &[NoteVerifier]) -> Result<OpenedNote> {
    let note = Note::parse(msg)?;
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    let mut unverified: Vec<NoteSignature> = Vec::new();
    for sig in &note.signatures {
        let mut matching = verifiers
            .iter()
            .filter(|v| v.name == sig.name && v.key_id == sig.key_id);
        let Some(verifier) = matching.next() else {
            if !unverified.contains(sig) {
                unverified.push(sig.clone());
            }
            continue;
        };
        if matching.next().is_some() {
            return Err(Error::AmbiguousKey {
                name: sig.name.clone(),
                key_id: sig.key_id,
            });
        }
        let Some(timestamp) = verifier.verify(&note.text, &sig.signature) else {
            return Err(Error::InvalidSignature {
                name: sig.name.clone(),
                key_id: sig.key_id,
            });
        };
        if !verified
            .iter()
            .any(|v| v.name == sig.name && v.key_id == sig.key_id)
        {
            verified.push(VerifiedSignature {
                name: sig.name.clone(),
                key_id: sig.key_id,
                timestamp,
            });
        }
    }
    if verified.is_empty() {
        return Err(Error::NoKnownSignature {
            unknown: unverified
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.key_id))
                .collect(),
        });
    }
    Ok(OpenedNote {
        note,
        verified,
        unverified,
    })
}

// ---------------------------------------------------------------------------
// Signers
// ---------------------------------------------------------------------------

/// Something that signs note texts.
pub trait NoteSigner: Send + Sync + std::fmt::Debug {
    /// Key name.
    fn name(&self) -> &str;
    /// Key ID.
    fn key_id(&self) -> u32;
    /// Signs a note text; returns the bytes that follow the key ID.
    ///
    /// # Errors
    /// [`Error::Signing`] when the crypto library fails.
    fn sign(&self, text: &str) -> Result<Vec<u8>>;
    /// The matching verifier.
    fn verifier(&self) -> NoteVerifier;
}

/// Signs `text` with each signer and returns the whole note.
///
/// # Errors
/// [`Error::MalformedNote`] if `text` is not a valid note text; signing
/// errors.
pub fn sign_note(text: &str, signers: &[&dyn NoteSigner]) -> Result<Vec<u8>> {
    check_text(text)?;
    let signatures = signers
        .iter()
        .map(|s| {
            Ok(NoteSignature {
                name: s.name().to_owned(),
                key_id: s.key_id(),
                signature: s.sign(text)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Note {
        text: text.to_owned(),
        signatures,
    }
    .to_bytes())
}

/// The DER SubjectPublicKeyInfo of a raw Ed25519 public key: the fixed
/// RFC 8410 prefix, then the key.
pub fn ed25519_spki(key: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(key);
    der
}
