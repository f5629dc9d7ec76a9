//! Search keys of a logged Rekor v2 entry, read back from its canonical
//! body: what a mirror indexes so that its entries can be searched like the
//! own log's (artifact digest, signer key fingerprints).
//!
//! The bodies come from another log and are not trusted: anything that does
//! not parse as a hashedrekord or dsse v0.0.2 body simply has no such keys
//! (its leaf hash is still indexed).

use serde_json::Value;

use super::keys::{ClientKey, HashAlgorithm};
use super::request::decode_proto_base64;

/// The search keys of one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryKeys {
    /// The artifact digest (hashedrekord) or payload hash (dsse).
    pub artifact_digest: Option<Vec<u8>>,
    /// SHA-256 of each signer's SubjectPublicKeyInfo.
    pub key_fingerprints: Vec<[u8; 32]>,
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    decode_proto_base64(v.as_str()?)
}

fn fingerprint(verifier: &Value) -> Option<[u8; 32]> {
    let key = if let Some(raw) = verifier.pointer("/publicKey/rawBytes") {
        ClientKey::from_spki(&bytes(raw)?).ok()?
    } else {
        ClientKey::from_certificate(&bytes(verifier.pointer("/x509Certificate/rawBytes")?)?).ok()?
    };
    HashAlgorithm::Sha256.digest(key.spki()).try_into().ok()
}

/// Reads the search keys out of a logged body.
pub fn entry_keys(body: &[u8]) -> EntryKeys {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return EntryKeys::default();
    };
    if let Some(h) = v.pointer("/spec/hashedRekordV002") {
        return EntryKeys {
            artifact_digest: h.pointer("/data/digest").and_then(bytes),
            key_fingerprints: h
                .pointer("/signature/verifier")
                .and_then(fingerprint)
                .into_iter()
                .collect(),
        };
    }
    if let Some(d) = v.pointer("/spec/dsseV002") {
        return EntryKeys {
            artifact_digest: d.pointer("/payloadHash/digest").and_then(bytes),
            key_fingerprints: d
                .get("signatures")
                .and_then(Value::as_array)
                .map(|sigs| {
                    sigs.iter()
                        .filter_map(|s| s.get("verifier").and_then(fingerprint))
                        .collect()
                })
                .unwrap_or_default(),
        };
    }
    EntryKeys::default()
}
