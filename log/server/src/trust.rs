//! `islet trust-root`: the Sigstore trust material clients need to use this
//! log: a `TrustedRoot` (v0.1, the version sigstore-python 4.5 loads) whose
//! tlog has the log's key and full key ID, and a `SigningConfig` v0.2 that
//! points at it with `majorApiVersion: 2`.

use crate::error::{Error, Result};
use serde_json::{Value, json};

use islet_rekor::request::encode_base64;
use islet_tlog::note::{NoteSigner, PublicKey};

/// What describes the log to clients.
#[derive(Debug)]
pub struct TrustInputs<'a> {
    /// The URL clients reach the log at.
    pub base_url: &'a str,
    /// The log key.
    pub signer: &'a dyn NoteSigner,
    /// Start of validity, RFC 3339.
    pub valid_from: &'a str,
}

/// DER SubjectPublicKeyInfo and `keyDetails` of the log key.
fn public_key(signer: &dyn NoteSigner) -> (Vec<u8>, &'static str) {
    match signer.verifier().public_key() {
        PublicKey::Ed25519(k) | PublicKey::CosignatureV1(k) => {
            (islet_tlog::note::ed25519_spki(k), "PKIX_ED25519")
        }
        PublicKey::EcdsaP256 { spki, .. } => (spki.clone(), "PKIX_ECDSA_P256_SHA_256"),
    }
}

/// The `TrustedRoot` JSON.
///
/// # Errors
/// [`Error::Config`] for a log key that has no Rekor log ID (neither
/// Ed25519 nor ECDSA P-256): a trusted root without the log's ID would
/// verify nothing.
pub fn trusted_root(t: &TrustInputs<'_>) -> Result<Value> {
    let (spki, details) = public_key(t.signer);
    let log_id = t
        .signer
        .verifier()
        .rekor_log_id()
        .ok_or_else(|| Error::Config {
            reason: "the log key must be Ed25519 or ECDSA P-256".into(),
        })?;
    Ok(json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": t.base_url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": encode_base64(&spki),
                "keyDetails": details,
                "validFor": { "start": t.valid_from },
            },
            "logId": { "keyId": encode_base64(&log_id) },
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    }))
}

/// The `SigningConfig` v0.2 JSON. Signing needs a certificate authority
/// entry to be well formed; `ca_url` is used when given, else a placeholder
/// that nothing listens on (key-based flows never call it).
pub fn signing_config(t: &TrustInputs<'_>, ca_url: Option<&str>) -> Value {
    let service = |url: &str, version: u32| json!({ "url": url, "majorApiVersion": version, "validFor": { "start": t.valid_from }, "operator": "islet" });
    json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": [service(ca_url.unwrap_or("http://127.0.0.1:9"), 1)],
        "oidcUrls": [],
        "rekorTlogUrls": [service(t.base_url, 2)],
        "tsaUrls": [],
        "rekorTlogConfig": { "selector": "ANY" },
        "tsaConfig": { "selector": "ANY" },
    })
}

/// A `ClientTrustConfig` holding both.
///
/// # Errors
/// As [`trusted_root`].
pub fn client_trust_config(t: &TrustInputs<'_>, ca_url: Option<&str>) -> Result<Value> {
    Ok(json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": trusted_root(t)?,
        "signingConfig": signing_config(t, ca_url),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trusted_root_carries_the_full_note_key_id_not_the_spki_hash() {
        let s = islet_signer::Ed25519Signer::from_seed("127.0.0.1", &[1; 32]).expect("signer");
        let v = trusted_root(&TrustInputs {
            base_url: "http://127.0.0.1:3000",
            signer: &s,
            valid_from: "2020-01-01T00:00:00Z",
        })
        .expect("an Ed25519 key has a log ID");
        let id = v["tlogs"][0]["logId"]["keyId"].as_str().expect("id");
        let want = encode_base64(&s.verifier().rekor_log_id().expect("id"));
        assert_eq!(id, want);
        let hint = u32::from_be_bytes(
            s.verifier().rekor_log_id().expect("id")[..4]
                .try_into()
                .expect("4"),
        );
        assert_eq!(hint, s.key_id());
    }
}
