//! Helpers shared by the certificate and timestamp tests: reading vectors,
//! the parts of a bundle they need, and trusted roots built around a chain.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_verify::trusted_root::TrustedRoot;
use serde_json::{Value, json};

/// `tests/vectors/sigstore` (and `rekor-v2`), after checking `needs`.
pub fn vectors(needs: &[&str]) -> PathBuf {
    islet_testkit::vectors_dir(needs)
}

/// The bytes of a vector file.
pub fn read(rel: &str) -> Vec<u8> {
    let dir = vectors(&[rel]);
    std::fs::read(dir.join(rel)).unwrap()
}

/// A vector JSON file.
pub fn json(rel: &str) -> Value {
    serde_json::from_slice(&read(rel)).unwrap()
}

/// A trusted root from a vector file.
pub fn root(rel: &str) -> TrustedRoot {
    TrustedRoot::parse(&read(rel)).unwrap()
}

/// A trusted root from JSON.
pub fn root_of(v: &Value) -> TrustedRoot {
    TrustedRoot::parse(&serde_json::to_vec(v).unwrap()).unwrap()
}

/// The DER certificates of a PEM file, in order.
pub fn pem_chain(rel: &str) -> Vec<Vec<u8>> {
    pem::parse_many(read(rel))
        .unwrap()
        .into_iter()
        .map(|p| p.into_contents())
        .collect()
}

/// A trusted root with only one timestamp authority.
pub fn tsa_root(uri: &str, chain: &[Vec<u8>], start: &str, end: Option<&str>) -> TrustedRoot {
    let mut valid = json!({ "start": start });
    if let Some(e) = end {
        valid["end"] = json!(e);
    }
    root_of(&json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "timestampAuthorities": [{
            "subject": { "organization": "test", "commonName": "test" },
            "uri": uri,
            "certChain": { "certificates": chain.iter().map(|c| json!({ "rawBytes": STANDARD.encode(c) })).collect::<Vec<_>>() },
            "validFor": valid,
        }],
    }))
}

/// The raw signature bytes a bundle's timestamps are over.
pub fn signature(bundle: &Value) -> Vec<u8> {
    let s = bundle["messageSignature"]["signature"]
        .as_str()
        .or_else(|| bundle["dsseEnvelope"]["signatures"][0]["sig"].as_str())
        .unwrap();
    STANDARD.decode(s).unwrap()
}

/// The bundle's RFC 3161 timestamps (DER `TimeStampResp`s).
pub fn timestamps(bundle: &Value) -> Vec<Vec<u8>> {
    bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    STANDARD
                        .decode(t["signedTimestamp"].as_str().unwrap())
                        .unwrap()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The bundle's signing certificate.
pub fn leaf(bundle: &Value) -> Vec<u8> {
    let vm = &bundle["verificationMaterial"];
    let s = vm["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
        .unwrap();
    STANDARD.decode(s).unwrap()
}

/// The integrated time of the bundle's first tlog entry.
pub fn integrated_time(bundle: &Value) -> SystemTime {
    let secs: u64 = bundle["verificationMaterial"]["tlogEntries"][0]["integratedTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// An RFC 3339 time.
pub fn at(s: &str) -> SystemTime {
    humantime::parse_rfc3339(s).unwrap()
}
