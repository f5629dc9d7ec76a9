//! # islet-verify
//!
//! `islet verify`: the transparency-log part of a Sigstore bundle, checked
//! entirely offline. A local copy of the log is read through
//! [`islet_reader::local::LocalLogs`] (a data directory, a tile directory
//! or a URL); this crate never opens a store and never depends on the
//! server.
//!
//! For every log entry of the bundle, in this order (the first failure is
//! the verdict):
//! 1. the log is the trusted root's log whose `logId.keyId` the entry names
//!    (sigstore-go's lookup), and its key was valid when the entry was made
//!    (`validFor`; the time is the entry's integrated time for Rekor v1, the
//!    signing certificate's validity otherwise, or now);
//! 2. the checkpoint is signed by that key, named by the host of the log's
//!    `baseUrl`, with that host as origin (Rekor v2; Rekor v1 origins are
//!    `<host> - <tree ID>`); unknown cosignature lines are ignored;
//! 3. it signs the size and root of the inclusion proof, and the proof
//!    leads from the leaf (the canonicalized body) to that root;
//! 4. the body is the one the bundle's content gives, rebuilt as the log
//!    builds it (hashedrekord and dsse v0.0.2 through islet's own entry
//!    validation, which also checks the signature over the digest; Rekor
//!    v1 hashedrekord field by field);
//! 5. with an artifact, its SHA-256 is the signed digest (or a subject of
//!    the in-toto statement);
//! 6. with a local log, it holds the same body at that index, and the
//!    bundle's checkpoint is consistent with it (the local tree at the
//!    checkpoint's size has the checkpoint's root).

pub mod bundle;
pub mod certificate;
pub mod failure;
pub mod identity;
pub mod local;
mod pki;
pub mod sct;
pub mod timestamp;
pub mod trusted_root;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_rekor::entry::{EntryPolicy, pae, validate};
use islet_rekor::keys::ClientKey;
use islet_rekor::request::parse_request;
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::{Hash, hash_from_slice, leaf_hash, verify_inclusion};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use self::bundle::{Bundle, TlogEntry, b64};
pub use self::failure::{Check, Failure};
use self::trusted_root::{TrustedLog, TrustedRoot};
use islet_reader::local::LocalLogs;

/// What a verified bundle showed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    /// `hashedrekord` or `dsse`, and the version.
    pub kind: String,
    /// Entry version.
    pub version: String,
    /// The log's `baseUrl`.
    pub log: String,
    /// The checkpoint origin.
    pub origin: String,
    /// Index of the entry.
    pub log_index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// The local log's size, with `--log`.
    pub local_size: Option<u64>,
    /// The bundle names its key by hint only: the signature was checked
    /// with the key the log recorded.
    pub key_from_log: bool,
}

/// Checkpoints verified so far are remembered (many bundles share one);
/// the memory is cleared when it holds this many.
pub const MAX_REMEMBERED_CHECKPOINTS: usize = 1024;

/// A checkpoint that verified: log ID, origin, envelope.
type CheckpointKey = (Vec<u8>, String, String);

/// What bundles are checked against.
#[derive(Debug)]
pub struct Verifier<'a> {
    /// The trusted root.
    pub root: &'a TrustedRoot,
    /// `--log`.
    pub local: Option<&'a dyn LocalLogs>,
    /// SHA-256 of the artifact, when given.
    pub artifact: Option<[u8; 32]>,
    /// Checkpoints that verified.
    verified: std::sync::Mutex<std::collections::HashMap<CheckpointKey, (u64, Hash)>>,
}

impl<'a> Verifier<'a> {
    /// A verifier for the logs of `root`.
    pub fn new(
        root: &'a TrustedRoot,
        local: Option<&'a dyn LocalLogs>,
        artifact: Option<[u8; 32]>,
    ) -> Self {
        Self {
            root,
            local,
            artifact,
            verified: std::sync::Mutex::default(),
        }
    }

    /// Opens a checkpoint with the log's key, or finds it opened before.
    fn open_checkpoint(
        &self,
        log: &TrustedLog,
        origin: &str,
        envelope: &str,
    ) -> Result<(u64, Hash), Failure> {
        let key = (log.log_id.clone(), origin.to_owned(), envelope.to_owned());
        if let Some(found) = self.verified.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(found);
        }
        let signed = SignedCheckpoint::open(envelope.as_bytes(), &log.key, &[], Some(origin))
            .map_err(|e| Failure::new(Check::Checkpoint, e.to_string()))?;
        let opened = (signed.checkpoint.size, signed.checkpoint.root);
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= MAX_REMEMBERED_CHECKPOINTS {
                m.clear();
            }
            m.insert(key, opened);
        }
        Ok(opened)
    }

    /// Verifies one bundle (its bytes).
    ///
    /// # Errors
    /// The first check that fails.
    pub fn verify(&self, bytes: &[u8]) -> Result<Verified, Failure> {
        let bundle = Bundle::parse(bytes).map_err(|e| Failure::new(Check::Bundle, e))?;
        let entries = &bundle.verification_material.tlog_entries;
        let Some(first) = entries.first() else {
            return Err(Failure::new(Check::Bundle, "has no transparency log entry"));
        };
        let verified = self.verify_entry(&bundle, first)?;
        for e in &entries[1..] {
            self.verify_entry(&bundle, e)?;
        }
        Ok(verified)
    }

    fn verify_entry(&self, bundle: &Bundle, entry: &TlogEntry) -> Result<Verified, Failure> {
        let bad = |r: String| Failure::new(Check::Bundle, r);
        let log_id = b64(&entry.log_id.key_id, "logId.keyId").map_err(bad)?;
        let log = self.root.find(&log_id).ok_or_else(|| {
            Failure::new(
                Check::UnknownLog,
                format!(
                    "no log of the trusted root has log ID {}",
                    hex::encode(&log_id)
                ),
            )
        })?;
        let index = decimal(&entry.log_index, "logIndex")?;
        let (kind, version) = (
            entry.kind_version.kind.as_str(),
            entry.kind_version.version.as_str(),
        );
        let rekor_v1 = version == "0.0.1";
        let proof = entry.inclusion_proof.as_ref().ok_or_else(|| {
            Failure::new(
                Check::InclusionProof,
                "the entry has no inclusion proof (offline verification needs one)",
            )
        })?;
        let envelope = proof.checkpoint.as_ref().ok_or_else(|| {
            Failure::new(Check::Checkpoint, "the inclusion proof has no checkpoint")
        })?;
        let body = b64(&entry.canonicalized_body, "canonicalizedBody").map_err(bad)?;
        let certificate = bundle.certificate().map_err(bad)?;

        // 1. The key was valid then.
        check_validity(log, entry, certificate.as_deref())?;

        // 2 and 3. The checkpoint, and the proof to its root.
        let origin = if rekor_v1 {
            v1_origin(&envelope.envelope, &log.host)?
        } else {
            log.host.clone()
        };
        let (signed_size, signed_root) = self.open_checkpoint(log, &origin, &envelope.envelope)?;
        let size = decimal(&proof.tree_size, "inclusionProof.treeSize")?;
        let proof_index = decimal(&proof.log_index, "inclusionProof.logIndex")?;
        let root = hash(&proof.root_hash, "inclusionProof.rootHash")?;
        if proof_index != index {
            return Err(Failure::new(
                Check::InclusionProof,
                format!("the proof is for index {proof_index}, the entry is at {index}"),
            ));
        }
        if (signed_size, signed_root) != (size, root) {
            return Err(Failure::new(
                Check::Checkpoint,
                format!(
                    "the checkpoint signs size {signed_size} root {}, the proof is for size {size} root {}",
                    hex::encode(signed_root),
                    hex::encode(root)
                ),
            ));
        }
        let hashes = proof
            .hashes
            .iter()
            .map(|h| hash(h, "inclusionProof.hashes"))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(index, size, &leaf_hash(&body), &hashes, &root)
            .map_err(|e| Failure::new(Check::InclusionProof, e.to_string()))?;

        // 4. The body is the bundle's content.
        let key_from_log = match (kind, version) {
            ("hashedrekord", "0.0.2") | ("dsse", "0.0.2") => {
                check_v2_body(bundle, kind, &body, certificate.as_deref(), self.artifact)?
            }
            ("hashedrekord", "0.0.1") => {
                check_v1_body(bundle, &body, certificate.as_deref(), self.artifact)?
            }
            _ => {
                return Err(Failure::new(
                    Check::Body,
                    format!("entries of kind {kind} version {version} are not supported"),
                ));
            }
        };

        // 5. The artifact.
        if let Some(digest) = &self.artifact {
            check_artifact(bundle, digest)?;
        }

        // 6. The local log.
        let local_size = match self.local {
            Some(local) => Some(local::check(
                local, &origin, &log.key, index, &body, size, root,
            )?),
            None => None,
        };
        Ok(Verified {
            kind: kind.to_owned(),
            version: version.to_owned(),
            log: log.base_url.clone(),
            origin,
            log_index: index,
            tree_size: size,
            local_size,
            key_from_log,
        })
    }
}

fn decimal(s: &str, field: &str) -> Result<u64, Failure> {
    s.parse()
        .map_err(|_| Failure::new(Check::Bundle, format!("{field} {s:.24?} is not a number")))
}

fn hash(s: &str, field: &str) -> Result<Hash, Failure> {
    let bytes = b64(s, field).map_err(|e| Failure::new(Check::Bundle, e))?;
    hash_from_slice(&bytes)
        .map_err(|_| Failure::new(Check::Bundle, format!("{field} is not a 32-byte hash")))
}

/// The last second RFC 3339 (and X.509) can write: 9999-12-31T23:59:59Z.
pub const MAX_TIME_SECONDS: u64 = 253_402_300_799;

/// `t` in RFC 3339, for messages; times RFC 3339 cannot write say so.
fn rfc3339(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.as_secs() <= MAX_TIME_SECONDS => {
            humantime::format_rfc3339_seconds(t).to_string()
        }
        Ok(_) => "a time after 9999-12-31".into(),
        Err(_) => "a time before 1970".into(),
    }
}

/// `validFor`: the key must have been valid when the entry was made.
fn check_validity(
    log: &TrustedLog,
    entry: &TlogEntry,
    certificate: Option<&[u8]>,
) -> Result<(), Failure> {
    let integrated = entry
        .integrated_time
        .as_deref()
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0);
    let (from, until, basis) = if let Some(secs) = integrated {
        let t = Some(secs)
            .filter(|s| *s <= MAX_TIME_SECONDS)
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
            .ok_or_else(|| {
                Failure::new(
                    Check::Bundle,
                    format!("integratedTime {secs} is past 9999-12-31"),
                )
            })?;
        (t, t, format!("at its integrated time {}", rfc3339(t)))
    } else if let Some(der) = certificate {
        let (nb, na) = certificate_validity(der)?;
        (
            nb,
            na,
            format!(
                "during its certificate's validity {} to {}",
                rfc3339(nb),
                rfc3339(na)
            ),
        )
    } else {
        let now = SystemTime::now();
        (now, now, format!("now ({})", rfc3339(now)))
    };
    if log.valid_during(from, until) {
        return Ok(());
    }
    Err(Failure::new(
        Check::KeyValidity,
        format!(
            "the key of {} is valid {} to {}, not {basis}",
            log.base_url,
            log.valid_from.map_or("(no start)".into(), rfc3339),
            log.valid_until.map_or("(no end)".into(), rfc3339)
        ),
    ))
}

fn certificate_validity(der: &[u8]) -> Result<(SystemTime, SystemTime), Failure> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| {
        Failure::new(
            Check::Bundle,
            format!("the certificate does not parse: {e}"),
        )
    })?;
    let v = &cert.tbs_certificate.validity;
    Ok((v.not_before.to_system_time(), v.not_after.to_system_time()))
}

/// A Rekor v1 checkpoint's origin is `<host> - <tree ID>`.
fn v1_origin(envelope: &str, host: &str) -> Result<String, Failure> {
    let origin = envelope.split('\n').next().unwrap_or_default();
    let ok = origin
        .strip_prefix(host)
        .and_then(|rest| rest.strip_prefix(" - "))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(origin.to_owned())
    } else {
        Err(Failure::new(
            Check::Checkpoint,
            format!(
                "origin {origin:.80?} is not \"{host} - <tree ID>\", as a Rekor v1 checkpoint of {host} must be"
            ),
        ))
    }
}

/// The logged body as JSON.
fn body_json(body: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(body)
        .map_err(|e| Failure::new(Check::Body, format!("the logged body is not JSON: {e}")))
}

/// Rebuilds a Rekor v2 body from the bundle's content, as the log builds
/// it, and compares it with the logged one byte for byte. The verifier is
/// the bundle's certificate; a bundle that names its key by hint only is
/// checked with the key the log recorded (returns true then).
fn check_v2_body(
    bundle: &Bundle,
    kind: &str,
    body: &[u8],
    certificate: Option<&[u8]>,
    artifact: Option<[u8; 32]>,
) -> Result<bool, Failure> {
    let logged = body_json(body)?;
    let b64e = |b: &[u8]| STANDARD.encode(b);
    let request = match kind {
        "hashedrekord" => {
            let spec = &logged["spec"]["hashedRekordV002"];
            let verifier = spec["signature"]["verifier"].clone();
            let logged_digest = spec["data"]["digest"]
                .as_str()
                .and_then(|d| b64(d, "digest").ok());
            let (digest, signature) = hashedrekord_content(bundle, artifact, logged_digest)?;
            let verifier = match certificate {
                Some(der) => json!({
                    "x509Certificate": { "rawBytes": b64e(der) },
                    "keyDetails": verifier["keyDetails"],
                }),
                None => verifier,
            };
            json!({ "hashedRekordRequestV002": {
                "digest": b64e(&digest),
                "signature": { "content": b64e(&signature), "verifier": verifier },
            }})
        }
        _ => {
            let Some(env) = &bundle.dsse_envelope else {
                return Err(Failure::new(
                    Check::Body,
                    "a dsse entry, but the bundle's content is not a DSSE envelope",
                ));
            };
            let sigs = logged["spec"]["dsseV002"]["signatures"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let verifiers: Vec<Value> = match certificate {
                Some(der) => sigs
                    .iter()
                    .map(|s| {
                        json!({
                            "x509Certificate": { "rawBytes": b64e(der) },
                            "keyDetails": s["verifier"]["keyDetails"],
                        })
                    })
                    .collect(),
                None => sigs.iter().map(|s| s["verifier"].clone()).collect(),
            };
            json!({ "dsseRequestV002": {
                "envelope": {
                    "payload": env.payload,
                    "payloadType": env.payload_type,
                    "signatures": env.signatures.iter().map(|s| json!({ "sig": s.sig, "keyid": s.keyid })).collect::<Vec<_>>(),
                },
                "verifiers": verifiers,
            }})
        }
    };
    let text = serde_json::to_vec(&request)
        .map_err(|e| Failure::new(Check::Body, format!("the request does not encode: {e}")))?;
    let rebuilt = parse_request(&text)
        .and_then(|r| validate(r, EntryPolicy { allow_dsse: true }))
        .map_err(|e| {
            let reason = e.to_string();
            if matches!(e, islet_rekor::Error::SignatureInvalid { .. }) {
                Failure::new(Check::Signature, reason)
            } else {
                Failure::new(
                    Check::Body,
                    format!("the bundle's content does not make a valid entry: {reason}"),
                )
            }
        })?;
    if rebuilt.body != body {
        return Err(Failure::new(
            Check::Body,
            "the logged body is not the one the bundle's content gives",
        ));
    }
    Ok(certificate.is_none())
}

/// The digest and signature a hashedrekord logs for this bundle: the
/// message signature, or (sigstore-python 4.3 and later) a DSSE envelope
/// logged as a hashedrekord over its PAE. A message signature without its
/// digest (optional in bundles, "for artifact identification only") is
/// over the artifact's digest when one is given, else over the digest the
/// log recorded.
fn hashedrekord_content(
    bundle: &Bundle,
    artifact: Option<[u8; 32]>,
    logged_digest: Option<Vec<u8>>,
) -> Result<(Vec<u8>, Vec<u8>), Failure> {
    let bad = |r: String| Failure::new(Check::Bundle, r);
    if let Some(ms) = &bundle.message_signature {
        let digest = match (&ms.message_digest, artifact, logged_digest) {
            (Some(d), _, _) => b64(&d.digest, "messageDigest.digest").map_err(bad)?,
            (None, Some(a), _) => a.to_vec(),
            (None, None, Some(l)) => l,
            (None, None, None) => {
                return Err(Failure::new(
                    Check::Body,
                    "the bundle gives no digest and the logged body none either",
                ));
            }
        };
        return Ok((
            digest,
            b64(&ms.signature, "messageSignature.signature").map_err(bad)?,
        ));
    }
    let env = bundle
        .dsse_envelope
        .as_ref()
        .ok_or_else(|| Failure::new(Check::Bundle, "no content"))?;
    let [sig] = env.signatures.as_slice() else {
        return Err(Failure::new(
            Check::Body,
            format!(
                "a DSSE envelope logged as a hashedrekord has one signature, this one {}",
                env.signatures.len()
            ),
        ));
    };
    let payload = b64(&env.payload, "dsseEnvelope.payload").map_err(bad)?;
    Ok((
        Sha256::digest(pae(&env.payload_type, &payload)).to_vec(),
        b64(&sig.sig, "dsseEnvelope.signatures.sig").map_err(bad)?,
    ))
}

/// A Rekor v1 hashedrekord 0.0.1 body, field by field: the digest, the
/// signature, the certificate (or key), and the signature over the digest.
fn check_v1_body(
    bundle: &Bundle,
    body: &[u8],
    certificate: Option<&[u8]>,
    artifact: Option<[u8; 32]>,
) -> Result<bool, Failure> {
    let logged = body_json(body)?;
    let spec = &logged["spec"];
    let logged_digest = spec["data"]["hash"]["value"]
        .as_str()
        .and_then(|h| hex::decode(h).ok());
    let (digest, signature) = match &bundle.message_signature {
        Some(_) => hashedrekord_content(bundle, artifact, logged_digest)?,
        None => {
            return Err(Failure::new(
                Check::Body,
                "a Rekor v1 hashedrekord needs a message signature",
            ));
        }
    };
    let differs = |what: &str| {
        Failure::new(
            Check::Body,
            format!("the logged body's {what} is not the bundle's"),
        )
    };
    if spec["data"]["hash"]["algorithm"] != "sha256"
        || spec["data"]["hash"]["value"] != hex::encode(&digest)
    {
        return Err(differs("digest"));
    }
    if spec["signature"]["content"] != STANDARD.encode(&signature) {
        return Err(differs("signature"));
    }
    let pem_text = spec["signature"]["publicKey"]["content"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| differs("public key"))?;
    let logged_der = pem::parse(&pem_text)
        .map_err(|_| differs("public key"))?
        .into_contents();
    let key = match certificate {
        Some(der) if der == logged_der.as_slice() => ClientKey::from_certificate(der),
        Some(_) => return Err(differs("certificate")),
        None => {
            ClientKey::from_certificate(&logged_der).or_else(|_| ClientKey::from_spki(&logged_der))
        }
    }
    .map_err(|e| Failure::new(Check::Body, format!("the logged key: {e}")))?;
    key.verify_digest(key.key_details(), &digest, &signature)
        .map_err(|e| Failure::new(Check::Signature, e.to_string()))?;
    Ok(certificate.is_none())
}

/// The artifact's SHA-256 must be the signed digest, or a subject of the
/// in-toto statement a DSSE envelope carries.
fn check_artifact(bundle: &Bundle, digest: &[u8; 32]) -> Result<(), Failure> {
    let bad = |r: String| Failure::new(Check::Bundle, r);
    if let Some(ms) = &bundle.message_signature {
        // Without a digest in the bundle, the artifact's digest was the one
        // the signature and the logged body were checked against.
        let Some(d) = ms.message_digest.as_ref() else {
            return Ok(());
        };
        if d.algorithm != "SHA2_256" {
            return Err(Failure::new(
                Check::Artifact,
                format!(
                    "the bundle signs a {} digest; islet compares SHA2_256",
                    d.algorithm
                ),
            ));
        }
        let signed = b64(&d.digest, "messageDigest.digest").map_err(bad)?;
        if signed != digest {
            return Err(Failure::new(
                Check::Artifact,
                format!(
                    "the artifact has SHA-256 {}, the bundle signs {}",
                    hex::encode(digest),
                    hex::encode(signed)
                ),
            ));
        }
        return Ok(());
    }
    let env = bundle
        .dsse_envelope
        .as_ref()
        .ok_or_else(|| Failure::new(Check::Bundle, "no content"))?;
    let payload = b64(&env.payload, "dsseEnvelope.payload").map_err(bad)?;
    let statement: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
    let want = hex::encode(digest);
    let found = statement["subject"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x["digest"]["sha256"] == want.as_str()));
    if found {
        Ok(())
    } else {
        Err(Failure::new(
            Check::Artifact,
            format!("no subject of the attestation has SHA-256 {want}"),
        ))
    }
}
