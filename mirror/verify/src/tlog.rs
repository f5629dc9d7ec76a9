//! One transparency-log entry of a bundle (spec §3.3): the log, its key's
//! validity, the SET (Rekor v1), the checkpoint (and, with a witness
//! policy, its cosignatures) and the inclusion proof,
//! the logged body against the bundle's content, and the local copy.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_rekor::entry::{EntryPolicy, pae, validate};
use islet_rekor::request::parse_request;
use islet_tlog::merkle::{leaf_hash, verify_inclusion};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::bundle::{Bundle, Content, DigestAlgorithm, TlogEntry, b64};
use crate::failure::{Check, Failure};
use crate::report::LogEntryReport;
use crate::trusted_root::TrustedLog;
use crate::{MAX_TIME_SECONDS, SignerKey, Verifier, local, rfc3339, witness};

/// What a verified entry gives the rest of the verification.
pub(crate) struct EntryOutcome {
    /// For the report.
    pub(crate) report: LogEntryReport,
    /// The integrated time a verified SET vouches for.
    pub(crate) set_time: Option<SystemTime>,
    /// The digest the logged body records (a message signature may give
    /// none).
    pub(crate) logged_digest: Option<(DigestAlgorithm, Vec<u8>)>,
    /// A Rekor v2 entry (no integrated time: needs an RFC 3161 timestamp).
    pub(crate) rekor_v2: bool,
}

/// The message a log entry recording the certificate's public key in place
/// of the certificate is refused with.
pub const KEY_AS_PUBLIC_KEY: &str = "the log entry records the certificate's public key, not the certificate: sigstore-js 5 writes such entries; sigstore-go and sigstore-python refuse them";

/// Whether entries of this kind and version are Rekor v2 ones.
pub(crate) fn is_rekor_v2(entry: &TlogEntry) -> bool {
    matches!(
        (entry.kind.as_str(), entry.version.as_str()),
        ("hashedrekord", "0.0.2") | ("dsse", "0.0.2")
    )
}

/// Verifies one entry.
pub(crate) fn verify_entry(
    v: &Verifier<'_>,
    bundle: &Bundle,
    entry: &TlogEntry,
    signer: &SignerKey,
) -> Result<EntryOutcome, Failure> {
    let log = v.root.find(&entry.log_id).ok_or_else(|| {
        Failure::new(
            Check::UnknownLog,
            format!(
                "no log of the trusted root has log ID {}",
                hex::encode(&entry.log_id)
            ),
        )
    })?;
    let (kind, version) = (entry.kind.as_str(), entry.version.as_str());
    let rekor_v2 = is_rekor_v2(entry);
    let proof = entry.inclusion_proof.as_ref().ok_or_else(|| {
        Failure::new(
            Check::InclusionProof,
            "the entry has no inclusion proof (offline verification needs one)",
        )
    })?;

    // 1. The key was valid then.
    check_validity(log, entry, signer.certificate())?;

    // 2. The SET (Rekor v1).
    let set_time = crate::set::verify(log, entry)?;

    // 3. The checkpoint, and the proof to its root. A Rekor v1 proof's
    // index is within the shard; a Rekor v2 one is the entry's index.
    let origin = if rekor_v2 {
        log.host.clone()
    } else {
        v1_origin(&proof.checkpoint, &log.host)?
    };
    let (signed_size, signed_root) = v.open_checkpoint(log, &origin, &proof.checkpoint)?;
    // 3b. The witness policy: the same checkpoint, from a log of the
    // policy, with the quorum's cosignatures.
    let witness = match &v.policy.witness_policy {
        Some(policy) => Some(
            witness::check(
                policy,
                proof.checkpoint.as_bytes(),
                &format!(
                    "the checkpoint of the entry at log index {} of {}",
                    entry.log_index, log.base_url
                ),
            )?
            .report,
        ),
        None => None,
    };
    let (index, size, root) = (proof.log_index, proof.tree_size, proof.root_hash);
    if rekor_v2 && index != entry.log_index {
        return Err(Failure::new(
            Check::InclusionProof,
            format!(
                "the proof is for index {index}, the entry is at {}",
                entry.log_index
            ),
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
    verify_inclusion(index, size, &leaf_hash(&entry.body), &proof.hashes, &root)
        .map_err(|e| Failure::new(Check::InclusionProof, e.to_string()))?;

    // 4. The body is the bundle's content.
    let artifact = v.artifact_sha256();
    let logged_digest = match (kind, version) {
        ("hashedrekord", "0.0.2") | ("dsse", "0.0.2") => {
            check_v2_body(bundle, kind, &entry.body, signer, artifact)?
        }
        ("hashedrekord", "0.0.1") => check_v1_hashedrekord(bundle, &entry.body, signer, artifact)?,
        ("intoto", "0.0.2") => {
            check_v1_intoto(bundle, &entry.body, signer)?;
            None
        }
        ("dsse", "0.0.1") => {
            check_v1_dsse(bundle, &entry.body, signer)?;
            None
        }
        _ => {
            return Err(Failure::new(
                Check::Body,
                format!("entries of kind {kind} version {version} are not supported"),
            ));
        }
    };

    // 5. The integrated time is inside the certificate's validity.
    if entry.integrated_time != 0
        && let Some(der) = signer.certificate()
    {
        let t = seconds(entry.integrated_time)?;
        let (nb, na) = certificate_validity(der)?;
        if t < nb || t > na {
            return Err(Failure::new(
                Check::IntegratedTime,
                format!(
                    "the entry's integrated time {} is outside the certificate's validity {} to {}",
                    rfc3339(t),
                    rfc3339(nb),
                    rfc3339(na)
                ),
            ));
        }
    }

    // 6. The local log.
    let local_size = match v.local {
        Some(l) => Some(local::check(
            l,
            &origin,
            &log.key,
            index,
            &entry.body,
            size,
            root,
        )?),
        None => None,
    };
    Ok(EntryOutcome {
        report: LogEntryReport {
            kind: kind.to_owned(),
            version: version.to_owned(),
            log: log.base_url.clone(),
            origin,
            log_index: entry.log_index,
            proof_index: index,
            tree_size: size,
            integrated_time: set_time.map(rfc3339),
            local_size,
            witness,
        },
        set_time,
        logged_digest,
        rekor_v2,
    })
}

/// Seconds since the epoch as a time RFC 3339 can write.
fn seconds(secs: u64) -> Result<SystemTime, Failure> {
    Some(secs)
        .filter(|s| *s <= MAX_TIME_SECONDS)
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .ok_or_else(|| {
            Failure::new(
                Check::Bundle,
                format!("integratedTime {secs} is past 9999-12-31"),
            )
        })
}

/// `validFor`: the key must have been valid when the entry was made.
fn check_validity(
    log: &TrustedLog,
    entry: &TlogEntry,
    certificate: Option<&[u8]>,
) -> Result<(), Failure> {
    let (from, until, basis) = if entry.integrated_time > 0 {
        let t = seconds(entry.integrated_time)?;
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

/// The certificate's notBefore and notAfter.
pub(crate) fn certificate_validity(der: &[u8]) -> Result<(SystemTime, SystemTime), Failure> {
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

fn differs(what: &str) -> Failure {
    Failure::new(
        Check::Body,
        format!("the logged body's {what} is not the bundle's"),
    )
}

/// The verifier a Rekor v2 entry must record for this signer: the
/// certificate (`x509Certificate`) for certificate bundles, the key
/// (`publicKey`) for key bundles, with the logged `keyDetails`. A logged
/// `publicKey` equal to the certificate's key is refused by name.
fn expected_verifier(signer: &SignerKey, logged: &Value) -> Result<Value, Failure> {
    let b64e = |b: &[u8]| STANDARD.encode(b);
    let logged_key = logged["publicKey"]["rawBytes"]
        .as_str()
        .and_then(|s| b64(s, "publicKey.rawBytes").ok());
    match signer {
        SignerKey::Certificate { der, key } => {
            if let Some(k) = logged_key {
                return Err(if k == key.spki() {
                    Failure::new(Check::Body, KEY_AS_PUBLIC_KEY)
                } else {
                    Failure::new(
                        Check::Body,
                        "the log entry records a public key that is not the certificate's; the bundle carries a certificate",
                    )
                });
            }
            Ok(json!({
                "x509Certificate": { "rawBytes": b64e(der) },
                "keyDetails": logged["keyDetails"],
            }))
        }
        SignerKey::Key(key) => {
            if logged_key.as_deref() != Some(key.spki()) {
                return Err(Failure::new(
                    Check::Key,
                    "the log entry does not record the key given with --key",
                ));
            }
            Ok(json!({
                "publicKey": { "rawBytes": b64e(key.spki()) },
                "keyDetails": logged["keyDetails"],
            }))
        }
    }
}

/// Rebuilds a Rekor v2 body from the bundle's content, as the log builds
/// it, and compares it with the logged one byte for byte. Returns the
/// digest a hashedrekord records.
fn check_v2_body(
    bundle: &Bundle,
    kind: &str,
    body: &[u8],
    signer: &SignerKey,
    artifact: Option<[u8; 32]>,
) -> Result<Option<(DigestAlgorithm, Vec<u8>)>, Failure> {
    let logged = body_json(body)?;
    let b64e = |b: &[u8]| STANDARD.encode(b);
    let mut recorded = None;
    let request = match kind {
        "hashedrekord" => {
            let spec = &logged["spec"]["hashedRekordV002"];
            let verifier = expected_verifier(signer, &spec["signature"]["verifier"])?;
            let logged_digest = spec["data"]["digest"]
                .as_str()
                .and_then(|d| b64(d, "digest").ok());
            let logged_alg = spec["data"]["algorithm"]
                .as_str()
                .and_then(DigestAlgorithm::from_proto_name);
            let (digest, signature) = hashedrekord_content(bundle, artifact, logged_digest)?;
            recorded = logged_alg.map(|a| (a, digest.clone()));
            json!({ "hashedRekordRequestV002": {
                "digest": b64e(&digest),
                "signature": { "content": b64e(&signature), "verifier": verifier },
            }})
        }
        _ => {
            let Content::Dsse(env) = &bundle.content else {
                return Err(Failure::new(
                    Check::Body,
                    "a dsse entry, but the bundle's content is not a DSSE envelope",
                ));
            };
            let sigs = logged["spec"]["dsseV002"]["signatures"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let verifiers = sigs
                .iter()
                .map(|s| expected_verifier(signer, &s["verifier"]))
                .collect::<Result<Vec<_>, _>>()?;
            json!({ "dsseRequestV002": {
                "envelope": {
                    "payload": env.payload_b64,
                    "payloadType": env.payload_type,
                    "signatures": [{ "sig": env.signature_b64, "keyid": env.keyid }],
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
    Ok(recorded)
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
    match &bundle.content {
        Content::MessageSignature { digest, signature } => {
            let digest = match (digest, artifact, logged_digest) {
                (Some((_, d)), _, _) => d.clone(),
                (None, Some(a), _) => a.to_vec(),
                (None, None, Some(l)) => l,
                (None, None, None) => {
                    return Err(Failure::new(
                        Check::Body,
                        "the bundle gives no digest and the logged body none either",
                    ));
                }
            };
            Ok((digest, signature.clone()))
        }
        Content::Dsse(env) => Ok((
            Sha256::digest(pae(&env.payload_type, &env.payload)).to_vec(),
            env.signature.clone(),
        )),
    }
}

/// The DER a logged base64-of-PEM key or certificate holds.
fn logged_pem(value: &Value, what: &str) -> Result<(String, Vec<u8>), Failure> {
    let text = value
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| differs(what))?;
    let p = pem::parse(&text).map_err(|_| differs(what))?;
    Ok((p.tag().to_owned(), p.into_contents()))
}

/// A logged Rekor v1 verifier (PEM certificate or public key) against the
/// signer.
fn check_v1_verifier(signer: &SignerKey, value: &Value) -> Result<(), Failure> {
    let (tag, der) = logged_pem(value, "public key")?;
    match signer {
        SignerKey::Certificate { der: leaf, key } => {
            if tag == "CERTIFICATE" && der == *leaf {
                Ok(())
            } else if der == key.spki() {
                Err(Failure::new(Check::Body, KEY_AS_PUBLIC_KEY))
            } else {
                Err(differs("certificate"))
            }
        }
        SignerKey::Key(key) => {
            if tag == "PUBLIC KEY" && der == key.spki() {
                Ok(())
            } else {
                Err(Failure::new(
                    Check::Key,
                    "the log entry does not record the key given with --key",
                ))
            }
        }
    }
}

/// A Rekor v1 hashedrekord 0.0.1 body, field by field: the digest, the
/// signature, the certificate (or key), and the signature over the digest.
fn check_v1_hashedrekord(
    bundle: &Bundle,
    body: &[u8],
    signer: &SignerKey,
    artifact: Option<[u8; 32]>,
) -> Result<Option<(DigestAlgorithm, Vec<u8>)>, Failure> {
    let logged = body_json(body)?;
    let spec = &logged["spec"];
    if !matches!(bundle.content, Content::MessageSignature { .. }) {
        return Err(Failure::new(
            Check::Body,
            "a Rekor v1 hashedrekord needs a message signature",
        ));
    }
    let logged_alg = match spec["data"]["hash"]["algorithm"].as_str() {
        Some("sha256") => DigestAlgorithm::Sha256,
        Some("sha384") => DigestAlgorithm::Sha384,
        Some("sha512") => DigestAlgorithm::Sha512,
        _ => return Err(differs("digest algorithm")),
    };
    let logged_digest = spec["data"]["hash"]["value"]
        .as_str()
        .and_then(|h| hex::decode(h).ok());
    let (digest, signature) = hashedrekord_content(bundle, artifact, logged_digest)?;
    if let Content::MessageSignature {
        digest: Some((alg, _)),
        ..
    } = &bundle.content
        && *alg != logged_alg
    {
        return Err(differs("digest algorithm"));
    }
    if spec["data"]["hash"]["value"] != hex::encode(&digest) {
        return Err(differs("digest"));
    }
    if spec["signature"]["content"] != STANDARD.encode(&signature) {
        return Err(differs("signature"));
    }
    check_v1_verifier(signer, &spec["signature"]["publicKey"]["content"])?;
    let key = signer.key();
    key.verify_digest(key.key_details(), &digest, &signature)
        .map_err(|e| Failure::new(Check::Signature, e.to_string()))?;
    Ok(Some((logged_alg, digest)))
}

/// The bundle's DSSE envelope, for a DSSE-logging entry.
fn envelope_of<'b>(bundle: &'b Bundle, kind: &str) -> Result<&'b crate::bundle::Dsse, Failure> {
    match &bundle.content {
        Content::Dsse(env) => Ok(env),
        Content::MessageSignature { .. } => Err(Failure::new(
            Check::Body,
            format!("an {kind} entry, but the bundle's content is not a DSSE envelope"),
        )),
    }
}

/// A Rekor v1 intoto 0.0.2 body: the payload's SHA-256, the payload type,
/// the one signature (logged as base64 of its base64) and the verifier.
fn check_v1_intoto(bundle: &Bundle, body: &[u8], signer: &SignerKey) -> Result<(), Failure> {
    let env = envelope_of(bundle, "intoto")?;
    let logged = body_json(body)?;
    let content = &logged["spec"]["content"];
    if content["payloadHash"]["algorithm"] != "sha256"
        || content["payloadHash"]["value"] != hex::encode(Sha256::digest(&env.payload))
    {
        return Err(differs("payload hash"));
    }
    let logged_env = &content["envelope"];
    if logged_env["payloadType"] != env.payload_type.as_str() {
        return Err(differs("payload type"));
    }
    let [sig] = logged_env["signatures"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    else {
        return Err(differs("signature list"));
    };
    let logged_sig = sig["sig"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|inner| String::from_utf8(inner).ok())
        .and_then(|inner| b64(&inner, "sig").ok());
    if logged_sig.as_deref() != Some(env.signature.as_slice()) {
        return Err(differs("signature"));
    }
    check_v1_verifier(signer, &sig["publicKey"])
}

/// A Rekor v1 dsse 0.0.1 body: the payload's SHA-256, the one signature
/// and its verifier.
fn check_v1_dsse(bundle: &Bundle, body: &[u8], signer: &SignerKey) -> Result<(), Failure> {
    let env = envelope_of(bundle, "dsse")?;
    let logged = body_json(body)?;
    let spec = &logged["spec"];
    if spec["payloadHash"]["algorithm"] != "sha256"
        || spec["payloadHash"]["value"] != hex::encode(Sha256::digest(&env.payload))
    {
        return Err(differs("payload hash"));
    }
    let [sig] = spec["signatures"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    else {
        return Err(differs("signature list"));
    };
    let logged_sig = sig["signature"]
        .as_str()
        .and_then(|s| b64(s, "signature").ok());
    if logged_sig.as_deref() != Some(env.signature.as_slice()) {
        return Err(differs("signature"));
    }
    check_v1_verifier(signer, &sig["verifier"])
}
