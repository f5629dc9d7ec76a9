//! Validating a create-entry request and building the leaf: the byte-exact
//! Rekor v2 body, RFC 8785 canonical JSON of the protojson `Entry`
//! (`../shared/specs/rekor-v2.md` §2).

use islet_tlog::tiles::MAX_ENTRY_SIZE;
use serde_json::{Value, json};
use sha2::Digest;

use super::keys::{ClientKey, HashAlgorithm, KeyDetails};
use super::request::{
    CreateEntryRequest, DsseRequest, HashedRekordRequest, KeyDetailsField, Verifier, encode_base64,
};
use crate::error::{Error, Result};

/// At most this many verifiers and signatures in a historic DSSE request
/// (rekor-tiles v2.0–v2.2).
pub const MAX_DSSE_VERIFIERS: usize = 10;
/// See [`MAX_DSSE_VERIFIERS`].
pub const MAX_DSSE_SIGNATURES: usize = 10;

/// What a log accepts.
#[derive(Debug, Clone, Copy)]
pub struct EntryPolicy {
    /// Accept `dsseRequestV002` with the historic v0.0.2 semantics.
    pub allow_dsse: bool,
}

impl Default for EntryPolicy {
    fn default() -> Self {
        Self { allow_dsse: true }
    }
}

/// The entry kinds of Rekor v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// hashedrekord 0.0.2.
    HashedRekord,
    /// dsse 0.0.2.
    Dsse,
}

impl EntryKind {
    /// `kindVersion.kind`.
    pub fn kind(self) -> &'static str {
        match self {
            EntryKind::HashedRekord => "hashedrekord",
            EntryKind::Dsse => "dsse",
        }
    }

    /// `kindVersion.version`.
    pub fn version(self) -> &'static str {
        "0.0.2"
    }
}

/// A request that passed every check, with its leaf.
#[derive(Debug, Clone)]
pub struct ValidatedEntry {
    /// Entry kind.
    pub kind: EntryKind,
    /// The leaf: canonical JSON of the `Entry`.
    pub body: Vec<u8>,
    /// The artifact digest (hashedrekord) or payload hash (DSSE), for search.
    pub artifact_digest: (HashAlgorithm, Vec<u8>),
    /// SHA-256 of each signer's SubjectPublicKeyInfo, for search.
    pub key_fingerprints: Vec<[u8; 32]>,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidEntry {
        reason: reason.into(),
    }
}

/// Validates a request and builds its leaf.
///
/// # Errors
/// [`Error::InvalidEntry`] or [`Error::BadRequest`] naming the problem;
/// [`Error::EntryTooLarge`] when the canonical entry does not fit in an
/// entry bundle.
pub fn validate(req: CreateEntryRequest, policy: EntryPolicy) -> Result<ValidatedEntry> {
    let entry = validate_kind(req, policy)?;
    check_entry_size(&entry.body)?;
    Ok(entry)
}

/// A canonical entry must fit an entry bundle's 16-bit length prefix
/// ([`MAX_ENTRY_SIZE`] bytes), so that every validated entry can be
/// sequenced.
///
/// # Errors
/// [`Error::EntryTooLarge`] past the limit.
pub fn check_entry_size(body: &[u8]) -> Result<()> {
    if body.len() > MAX_ENTRY_SIZE {
        return Err(Error::EntryTooLarge {
            len: body.len(),
            max: MAX_ENTRY_SIZE,
        });
    }
    Ok(())
}

fn validate_kind(req: CreateEntryRequest, policy: EntryPolicy) -> Result<ValidatedEntry> {
    match (req.hashed_rekord, req.dsse) {
        (Some(_), Some(_)) => Err(Error::BadRequest {
            message: "a request may set only one of hashedRekordRequestV002 and dsseRequestV002"
                .into(),
        }),
        (Some(h), None) => validate_hashed_rekord(h),
        (None, Some(d)) if policy.allow_dsse => validate_dsse(d),
        (None, Some(_)) => Err(Error::BadRequest {
            message: "invalid type, must be hashedrekord (dsse is disabled on this log)".into(),
        }),
        (None, None) => Err(Error::BadRequest {
            message: if policy.allow_dsse {
                "invalid type, must be either hashedrekord or dsse".into()
            } else {
                "invalid type, must be hashedrekord".into()
            },
        }),
    }
}

/// Parses a verifier: exactly one of publicKey and x509Certificate, and key
/// details that match the key. Returns the key, the details and the
/// protojson of the verifier as it goes into the leaf.
fn parse_verifier(v: &Verifier, what: &str) -> Result<(ClientKey, KeyDetails, Value)> {
    let (key, raw, field) = match (&v.public_key, &v.x509_certificate) {
        (Some(_), Some(_)) => {
            return Err(invalid(format!(
                "{what}: set only one of publicKey and x509Certificate"
            )));
        }
        (None, None) => {
            return Err(invalid(format!(
                "{what}: missing publicKey or x509Certificate"
            )));
        }
        (Some(k), None) => {
            if k.raw_bytes.0.is_empty() {
                return Err(invalid(format!("{what}: publicKey.rawBytes is empty")));
            }
            (
                ClientKey::from_spki(&k.raw_bytes.0)?,
                &k.raw_bytes.0,
                "publicKey",
            )
        }
        (None, Some(c)) => {
            if c.raw_bytes.0.is_empty() {
                return Err(invalid(format!(
                    "{what}: x509Certificate.rawBytes is empty"
                )));
            }
            (
                ClientKey::from_certificate(&c.raw_bytes.0)?,
                &c.raw_bytes.0,
                "x509Certificate",
            )
        }
    };
    let details = match &v.key_details {
        KeyDetailsField::Known(d) => *d,
        KeyDetailsField::Unspecified => {
            return Err(invalid(format!("{what}: keyDetails is missing")));
        }
        KeyDetailsField::Other(name) => {
            return Err(invalid(format!(
                "{what}: keyDetails {name} is not an allowed algorithm"
            )));
        }
    };
    if !key.matches(details) {
        return Err(invalid(format!(
            "{what}: keyDetails {} does not match the key, which is {} ({})",
            details.name(),
            key.kind(),
            key.key_details().name()
        )));
    }
    let mut verifier = serde_json::Map::new();
    verifier.insert("keyDetails".into(), Value::String(details.name().into()));
    verifier.insert(field.into(), json!({ "rawBytes": encode_base64(raw) }));
    Ok((key, details, Value::Object(verifier)))
}

fn fingerprint(key: &ClientKey) -> [u8; 32] {
    sha2::Sha256::digest(key.spki()).into()
}

/// The canonical (RFC 8785, JCS) bytes of an entry body.
///
/// The bodies made here hold objects with ASCII keys, strings, arrays,
/// booleans and null. For those, serde_json's compact output is already
/// the canonical form: its maps are sorted by key bytes, which for ASCII
/// keys is JCS's UTF-16 order, and it escapes strings exactly as JCS does
/// (`\"`, `\\`, `\b \f \n \r \t`, other controls as lowercase
/// `\u00xx`, nothing else). It is written directly, a fifth of the cost of
/// the general canonicalizer, which still takes anything else (numbers,
/// other keys); `plain_json_is_canonical` checks the two agree.
pub fn canonical(entry: &Value) -> Result<Vec<u8>> {
    if is_plain(entry) {
        serde_json::to_vec(entry).map_err(|e| invalid(format!("canonicalization failed: {e}")))
    } else {
        serde_json_canonicalizer::to_vec(entry)
            .map_err(|e| invalid(format!("canonicalization failed: {e}")))
    }
}

/// Whether `value` holds only what [`canonical`] writes directly.
fn is_plain(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        Value::Number(_) => false,
        Value::Array(items) => items.iter().all(is_plain),
        Value::Object(map) => map.iter().all(|(k, v)| k.is_ascii() && is_plain(v)),
    }
}

fn validate_hashed_rekord(h: HashedRekordRequest) -> Result<ValidatedEntry> {
    let sig = h
        .signature
        .ok_or_else(|| invalid("hashedrekord: missing signature"))?;
    if sig.content.0.is_empty() {
        return Err(invalid("hashedrekord: signature.content is empty"));
    }
    if h.digest.0.is_empty() {
        return Err(invalid("hashedrekord: digest is empty"));
    }
    let verifier = sig
        .verifier
        .ok_or_else(|| invalid("hashedrekord: missing signature.verifier"))?;
    let (key, details, verifier_json) = parse_verifier(&verifier, "hashedrekord verifier")?;
    let hash = details.hash().ok_or_else(|| {
        invalid("hashedrekord: pure Ed25519 (PKIX_ED25519) is not allowed; use PKIX_ED25519_PH")
    })?;
    key.verify_digest(details, &h.digest.0, &sig.content.0)
        .map_err(|e| match e {
            Error::SignatureInvalid { reason } => Error::SignatureInvalid {
                reason: format!("hashedrekord: {reason}"),
            },
            Error::InvalidEntry { reason } => invalid(format!("hashedrekord: {reason}")),
            other => other,
        })?;
    let entry = json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": { "hashedRekordV002": {
            "data": { "algorithm": hash.name(), "digest": encode_base64(&h.digest.0) },
            "signature": { "content": encode_base64(&sig.content.0), "verifier": verifier_json },
        }},
    });
    Ok(ValidatedEntry {
        kind: EntryKind::HashedRekord,
        body: canonical(&entry)?,
        artifact_digest: (hash, h.digest.0),
        key_fingerprints: vec![fingerprint(&key)],
    })
}

/// DSSE pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn validate_dsse(d: DsseRequest) -> Result<ValidatedEntry> {
    let env = d
        .envelope
        .ok_or_else(|| invalid("dsse: missing envelope"))?;
    let payload_type = env.payload_type.unwrap_or_default();
    if env.payload.0.is_empty() {
        return Err(invalid("dsse: envelope payload is empty"));
    }
    let signatures = env.signatures.unwrap_or_default();
    let verifiers = d.verifiers.unwrap_or_default();
    if signatures.is_empty() || signatures.len() > MAX_DSSE_SIGNATURES {
        return Err(invalid(format!(
            "dsse: needs 1 to {MAX_DSSE_SIGNATURES} signatures, got {}",
            signatures.len()
        )));
    }
    if verifiers.is_empty() || verifiers.len() > MAX_DSSE_VERIFIERS {
        return Err(invalid(format!(
            "dsse: needs 1 to {MAX_DSSE_VERIFIERS} verifiers, got {}",
            verifiers.len()
        )));
    }
    let parsed: Vec<(ClientKey, KeyDetails, Value)> = verifiers
        .iter()
        .enumerate()
        .map(|(i, v)| parse_verifier(v, &format!("dsse verifier {i}")))
        .collect::<Result<_>>()?;
    let message = pae(&payload_type, &env.payload.0);
    let mut logged: Vec<(Vec<u8>, Value)> = Vec::with_capacity(signatures.len());
    let mut fingerprints = Vec::new();
    for (i, s) in signatures.iter().enumerate() {
        if s.sig.0.is_empty() {
            return Err(invalid(format!("dsse: signature {i} is empty")));
        }
        let (key, _, verifier_json) = parsed
            .iter()
            .find(|(key, details, _)| key.verify_message(*details, &message, &s.sig.0).is_ok())
            .ok_or_else(|| Error::SignatureInvalid {
                reason: format!("dsse: signature {i} is not verified by any verifier"),
            })?;
        fingerprints.push(fingerprint(key));
        logged.push((s.sig.0.clone(), verifier_json.clone()));
    }
    // Logged signatures are sorted by their raw bytes.
    logged.sort_by(|a, b| a.0.cmp(&b.0));
    let payload_hash = HashAlgorithm::Sha256.digest(&env.payload.0);
    let sigs: Vec<Value> = logged
        .iter()
        .map(|(sig, verifier)| json!({ "content": encode_base64(sig), "verifier": verifier }))
        .collect();
    let entry = json!({
        "apiVersion": "0.0.2",
        "kind": "dsse",
        "spec": { "dsseV002": {
            "payloadHash": { "algorithm": "SHA2_256", "digest": encode_base64(&payload_hash) },
            "signatures": sigs,
        }},
    });
    Ok(ValidatedEntry {
        kind: EntryKind::Dsse,
        body: canonical(&entry)?,
        artifact_digest: (HashAlgorithm::Sha256, payload_hash),
        key_fingerprints: fingerprints,
    })
}
