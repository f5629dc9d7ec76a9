//! Sigstore bundles (`dev.sigstore.bundle.v1.Bundle`, media types v0.1 to
//! v0.3) read with protojson's rules and turned into typed values: every
//! byte field decoded, every int64 a checked number, every rule of the
//! bundle format (spec §3.1) checked before anything is verified.
//!
//! protojson refuses fields it does not know, and so does this parser; it
//! takes the JSON names and the proto names of fields, int64 as a string or
//! a number, bytes as standard or URL-safe base64, and `null` as absent.

use std::collections::HashSet;

use islet_rekor::request::decode_proto_base64;
use islet_tlog::merkle::{Hash, hash_from_slice};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Largest bundle file read (a DSSE attestation can be large; Rekor
/// itself takes requests of at most 4 MiB by default).
pub const MAX_BUNDLE_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Most transparency-log entries a bundle may carry (sigstore-go
/// `limits.go`, sigstore-python).
pub const MAX_TLOG_ENTRIES: usize = 32;

pub use crate::timestamp::MAX_TIMESTAMPS;

/// Most certificates an `x509CertificateChain` may list (only the first is
/// used; the rest are ignored, as every client does).
pub const MAX_CHAIN_CERTIFICATES: usize = 32;

/// Most hashes an inclusion proof may list (a tree of 2^64 leaves needs 64).
pub const MAX_PROOF_HASHES: usize = 64;

/// The media types accepted, oldest first.
pub const MEDIA_TYPES: [&str; 4] = [
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

/// The bundle format version its media type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum BundleVersion {
    /// v0.1: a Rekor v1 entry must carry an inclusion promise.
    V0_1,
    /// v0.2: entries carry inclusion proofs.
    V0_2,
    /// v0.3: a single `certificate`, no chain.
    V0_3,
}

/// How the bundle names its signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// The signing certificate (DER): `certificate`, or the first of an
    /// `x509CertificateChain` (v0.1, v0.2); the rest of a chain is ignored.
    Certificate(Vec<u8>),
    /// A key named by an opaque hint: the verifier must be given the key.
    PublicKey {
        /// The hint.
        hint: String,
    },
}

/// A hash algorithm of a `messageDigest`, an in-toto subject or an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DigestAlgorithm {
    /// SHA-256 (`SHA2_256`, `sha256`).
    Sha256,
    /// SHA-384 (`SHA2_384`, `sha384`).
    Sha384,
    /// SHA-512 (`SHA2_512`, `sha512`).
    Sha512,
}

impl DigestAlgorithm {
    /// The protobuf enum name (`SHA2_256`, …).
    pub fn proto_name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA2_256",
            DigestAlgorithm::Sha384 => "SHA2_384",
            DigestAlgorithm::Sha512 => "SHA2_512",
        }
    }

    /// The in-toto digest-set name (`sha256`, …).
    pub fn intoto_name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha384 => "sha384",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha384 => 48,
            DigestAlgorithm::Sha512 => 64,
        }
    }

    /// Reads a protobuf enum name.
    pub fn from_proto_name(name: &str) -> Option<DigestAlgorithm> {
        [
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ]
        .into_iter()
        .find(|a| a.proto_name() == name)
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            DigestAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            DigestAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
            DigestAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// What the bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A signature over a digest of the artifact.
    MessageSignature {
        /// The digest signed, with its algorithm (optional in bundles).
        digest: Option<(DigestAlgorithm, Vec<u8>)>,
        /// The signature.
        signature: Vec<u8>,
    },
    /// A DSSE envelope with exactly one signature.
    Dsse(Dsse),
}

/// A DSSE envelope with its one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsse {
    /// The payload (decoded).
    pub payload: Vec<u8>,
    /// The payload's base64, as the bundle writes it.
    pub payload_b64: String,
    /// `payloadType`.
    pub payload_type: String,
    /// The signature.
    pub signature: Vec<u8>,
    /// The signature's base64, as the bundle writes it.
    pub signature_b64: String,
    /// The signature's `keyid`.
    pub keyid: String,
}

impl Content {
    /// The raw signature bytes (what RFC 3161 timestamps are over).
    pub fn signature(&self) -> &[u8] {
        match self {
            Content::MessageSignature { signature, .. } => signature,
            Content::Dsse(d) => &d.signature,
        }
    }
}

/// An inclusion proof with its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The index in the tree the proof is for (shard-local for Rekor v1).
    pub log_index: u64,
    /// The root.
    pub root_hash: Hash,
    /// The tree size.
    pub tree_size: u64,
    /// Hashes, leaf sibling first.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint (non-empty).
    pub checkpoint: String,
}

/// A transparency-log entry of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    /// The global log index (Rekor v1: across shards).
    pub log_index: u64,
    /// `logId.keyId`.
    pub log_id: Vec<u8>,
    /// `kindVersion.kind`, equal to the body's `kind`.
    pub kind: String,
    /// `kindVersion.version`, equal to the body's `apiVersion`.
    pub version: String,
    /// Seconds since the epoch; 0 when absent (Rekor v2).
    pub integrated_time: u64,
    /// The signed entry timestamp (Rekor v1).
    pub inclusion_promise: Option<Vec<u8>>,
    /// The inclusion proof.
    pub inclusion_proof: Option<InclusionProof>,
    /// The logged body.
    pub body: Vec<u8>,
}

/// A bundle, parsed and checked against the format's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The format version.
    pub version: BundleVersion,
    /// The certificate or key hint.
    pub signer: Signer,
    /// What is signed.
    pub content: Content,
    /// The log entries (at most [`MAX_TLOG_ENTRIES`]).
    pub tlog_entries: Vec<TlogEntry>,
    /// DER `TimeStampResp`s (at most [`MAX_TIMESTAMPS`], no two equal).
    pub timestamps: Vec<Vec<u8>>,
}

// ---------------------------------------------------------------------------
// protojson shapes
// ---------------------------------------------------------------------------

/// An int64 as protojson writes it: a decimal string or a JSON number.
#[derive(Debug, Clone, Copy)]
struct Int64(i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Int64, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an int64 (a decimal string or a number)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v)
                    .map(Int64)
                    .map_err(|_| E::custom(format!("{v} is out of the int64 range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int64, E> {
                Err(E::custom(format!("{v} is not an integer")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Int64, E> {
                let digits = s.strip_prefix('-').unwrap_or(s);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format!("{s:.24?} is not a decimal integer")));
                }
                s.parse()
                    .map(Int64)
                    .map_err(|_| E::custom(format!("{s:.24?} is out of the int64 range")))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBundle {
    #[serde(alias = "media_type")]
    media_type: Option<String>,
    #[serde(alias = "verification_material")]
    verification_material: Option<RawMaterial>,
    #[serde(alias = "message_signature")]
    message_signature: Option<RawMessageSignature>,
    #[serde(alias = "dsse_envelope")]
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMaterial {
    #[serde(alias = "public_key")]
    public_key: Option<RawHint>,
    #[serde(alias = "x509_certificate_chain")]
    x509_certificate_chain: Option<RawChain>,
    certificate: Option<RawBytes>,
    #[serde(alias = "tlog_entries")]
    tlog_entries: Option<Vec<RawTlogEntry>>,
    #[serde(alias = "timestamp_verification_data")]
    timestamp_verification_data: Option<RawTimestampData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHint {
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChain {
    certificates: Option<Vec<RawBytes>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBytes {
    #[serde(alias = "raw_bytes")]
    raw_bytes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTimestampData {
    #[serde(alias = "rfc3161_timestamps")]
    rfc3161_timestamps: Option<Vec<RawSignedTimestamp>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSignedTimestamp {
    #[serde(alias = "signed_timestamp")]
    signed_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTlogEntry {
    #[serde(alias = "log_index")]
    log_index: Option<Int64>,
    #[serde(alias = "log_id")]
    log_id: Option<RawLogId>,
    #[serde(alias = "kind_version")]
    kind_version: Option<RawKindVersion>,
    #[serde(alias = "integrated_time")]
    integrated_time: Option<Int64>,
    #[serde(alias = "inclusion_promise")]
    inclusion_promise: Option<RawPromise>,
    #[serde(alias = "inclusion_proof")]
    inclusion_proof: Option<RawProof>,
    #[serde(alias = "canonicalized_body")]
    canonicalized_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLogId {
    #[serde(alias = "key_id")]
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKindVersion {
    kind: Option<String>,
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPromise {
    #[serde(alias = "signed_entry_timestamp")]
    signed_entry_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawProof {
    #[serde(alias = "log_index")]
    log_index: Option<Int64>,
    #[serde(alias = "root_hash")]
    root_hash: Option<String>,
    #[serde(alias = "tree_size")]
    tree_size: Option<Int64>,
    hashes: Option<Vec<String>>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckpoint {
    envelope: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMessageSignature {
    #[serde(alias = "message_digest")]
    message_digest: Option<RawDigest>,
    signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    algorithm: Option<String>,
    digest: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEnvelope {
    payload: Option<String>,
    #[serde(alias = "payload_type")]
    payload_type: Option<String>,
    signatures: Option<Vec<RawDsseSignature>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDsseSignature {
    sig: Option<String>,
    keyid: Option<String>,
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// Decodes a protojson base64 field.
///
/// # Errors
/// A message naming the field.
pub fn b64(s: &str, field: &str) -> Result<Vec<u8>, String> {
    decode_proto_base64(s).ok_or_else(|| format!("{field} is not base64"))
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("{field} is missing"))
}

/// A required, non-empty base64 field.
fn bytes(v: Option<String>, field: &str) -> Result<Vec<u8>, String> {
    let s = required(v, field)?;
    let b = b64(&s, field)?;
    if b.is_empty() {
        return Err(format!("{field} is empty"));
    }
    Ok(b)
}

/// A non-negative int64.
fn unsigned(v: Int64, field: &str) -> Result<u64, String> {
    u64::try_from(v.0).map_err(|_| format!("{field} {} is negative", v.0))
}

fn hash(s: &str, field: &str) -> Result<Hash, String> {
    hash_from_slice(&b64(s, field)?).map_err(|_| format!("{field} is not a 32-byte hash"))
}

fn version_of(media_type: &str) -> Result<BundleVersion, String> {
    match media_type {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => Ok(BundleVersion::V0_1),
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => Ok(BundleVersion::V0_2),
        "application/vnd.dev.sigstore.bundle+json;version=0.3"
        | "application/vnd.dev.sigstore.bundle.v0.3+json" => Ok(BundleVersion::V0_3),
        other => Err(format!(
            "unknown bundle version: media type {other:.80?} is not a Sigstore bundle v0.1 to v0.3"
        )),
    }
}

impl Bundle {
    /// Parses a bundle and checks the format's rules (spec §3.1).
    ///
    /// # Errors
    /// A message naming the field or the rule broken.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, String> {
        let raw: RawBundle =
            serde_json::from_slice(bytes).map_err(|e| format!("not a bundle: {e}"))?;
        let media_type = required(raw.media_type, "mediaType")?;
        let version = version_of(&media_type)?;
        let material = required(raw.verification_material, "verificationMaterial")?;
        let content = match (raw.message_signature, raw.dsse_envelope) {
            (Some(_), Some(_)) => {
                return Err("sets both messageSignature and dsseEnvelope".into());
            }
            (None, None) => return Err("has neither messageSignature nor dsseEnvelope".into()),
            (Some(ms), None) => message_signature(ms)?,
            (None, Some(env)) => Content::Dsse(envelope(env)?),
        };
        let signer = signer(version, &material)?;
        let tlog_entries = material
            .tlog_entries
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, e)| entry(i, e));
        let tlog_entries = collect_capped(tlog_entries, MAX_TLOG_ENTRIES, "tlogEntries")?;
        check_entries(version, &tlog_entries)?;
        let timestamps = timestamps(material.timestamp_verification_data)?;
        Ok(Bundle {
            version,
            signer,
            content,
            tlog_entries,
            timestamps,
        })
    }

    /// The signing certificate's DER, when the bundle carries one.
    pub fn certificate(&self) -> Option<&[u8]> {
        match &self.signer {
            Signer::Certificate(der) => Some(der),
            Signer::PublicKey { .. } => None,
        }
    }
}

/// Collects at most `max` items, failing on the first error or one more.
fn collect_capped<T>(
    items: impl Iterator<Item = Result<T, String>>,
    max: usize,
    field: &str,
) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for item in items {
        if out.len() == max {
            return Err(format!("{field} has more than {max} items"));
        }
        out.push(item?);
    }
    Ok(out)
}

fn message_signature(ms: RawMessageSignature) -> Result<Content, String> {
    let signature = bytes(ms.signature, "messageSignature.signature")?;
    let digest = ms
        .message_digest
        .map(|d| {
            let name = required(d.algorithm, "messageSignature.messageDigest.algorithm")?;
            let algorithm = DigestAlgorithm::from_proto_name(&name).ok_or_else(|| {
                format!("messageDigest.algorithm {name:.40?} is not SHA2_256, SHA2_384 or SHA2_512")
            })?;
            let value = bytes(d.digest, "messageSignature.messageDigest.digest")?;
            if value.len() != algorithm.output_len() {
                return Err(format!(
                    "messageDigest.digest has {} bytes; {name} has {}",
                    value.len(),
                    algorithm.output_len()
                ));
            }
            Ok((algorithm, value))
        })
        .transpose()?;
    Ok(Content::MessageSignature { digest, signature })
}

fn envelope(env: RawEnvelope) -> Result<Dsse, String> {
    let payload_b64 = required(env.payload, "dsseEnvelope.payload")?;
    let payload = b64(&payload_b64, "dsseEnvelope.payload")?;
    let payload_type = required(env.payload_type, "dsseEnvelope.payloadType")?;
    let signatures = env.signatures.unwrap_or_default();
    let [sig] = <[RawDsseSignature; 1]>::try_from(signatures).map_err(|s| {
        format!(
            "dsseEnvelope has {} signatures; a bundle's envelope has exactly one",
            s.len()
        )
    })?;
    let signature_b64 = required(sig.sig, "dsseEnvelope.signatures.sig")?;
    let signature = b64(&signature_b64, "dsseEnvelope.signatures.sig")?;
    if signature.is_empty() {
        return Err("dsseEnvelope.signatures.sig is empty".into());
    }
    Ok(Dsse {
        payload,
        payload_b64,
        payload_type,
        signature,
        signature_b64,
        keyid: sig.keyid.unwrap_or_default(),
    })
}

fn signer(version: BundleVersion, m: &RawMaterial) -> Result<Signer, String> {
    let set = [
        m.public_key.is_some(),
        m.x509_certificate_chain.is_some(),
        m.certificate.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        return Err(
            "verificationMaterial must give exactly one of publicKey, x509CertificateChain and certificate"
                .into(),
        );
    }
    if let Some(h) = &m.public_key {
        return Ok(Signer::PublicKey {
            hint: h.hint.clone().unwrap_or_default(),
        });
    }
    if let Some(chain) = &m.x509_certificate_chain {
        if version >= BundleVersion::V0_3 {
            return Err("a bundle v0.3 carries a certificate, not an x509CertificateChain".into());
        }
        let certs = chain.certificates.as_deref().unwrap_or_default();
        if certs.len() > MAX_CHAIN_CERTIFICATES {
            return Err(format!(
                "x509CertificateChain has more than {MAX_CHAIN_CERTIFICATES} certificates"
            ));
        }
        let Some(leaf) = certs.first() else {
            return Err("x509CertificateChain is empty".into());
        };
        return Ok(Signer::Certificate(bytes(
            leaf.raw_bytes.clone(),
            "x509CertificateChain.certificates.rawBytes",
        )?));
    }
    let raw = m.certificate.as_ref().and_then(|c| c.raw_bytes.clone());
    Ok(Signer::Certificate(bytes(raw, "certificate.rawBytes")?))
}

fn entry(i: usize, e: RawTlogEntry) -> Result<TlogEntry, String> {
    let f = |name: &str| format!("tlogEntries[{i}].{name}");
    let log_index = unsigned(required(e.log_index, &f("logIndex"))?, &f("logIndex"))?;
    let log_id = bytes(required(e.log_id, &f("logId"))?.key_id, &f("logId.keyId"))?;
    let kv = required(e.kind_version, &f("kindVersion"))?;
    let kind = required(kv.kind, &f("kindVersion.kind"))?;
    let version = required(kv.version, &f("kindVersion.version"))?;
    let integrated_time = e
        .integrated_time
        .map(|t| unsigned(t, &f("integratedTime")))
        .transpose()?
        .unwrap_or(0);
    let inclusion_promise = e
        .inclusion_promise
        .map(|p| {
            bytes(
                p.signed_entry_timestamp,
                &f("inclusionPromise.signedEntryTimestamp"),
            )
        })
        .transpose()?;
    let inclusion_proof = e.inclusion_proof.map(|p| proof(i, p)).transpose()?;
    let body = bytes(e.canonicalized_body, &f("canonicalizedBody"))?;
    // kindVersion must name what the body is.
    let parsed: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("{} is not JSON: {e}", f("canonicalizedBody")))?;
    if parsed["kind"] != kind.as_str() || parsed["apiVersion"] != version.as_str() {
        return Err(format!(
            "{} is {kind} {version}, the body is {} {}",
            f("kindVersion"),
            parsed["kind"],
            parsed["apiVersion"]
        ));
    }
    Ok(TlogEntry {
        log_index,
        log_id,
        kind,
        version,
        integrated_time,
        inclusion_promise,
        inclusion_proof,
        body,
    })
}

fn proof(i: usize, p: RawProof) -> Result<InclusionProof, String> {
    let f = |name: &str| format!("tlogEntries[{i}].inclusionProof.{name}");
    let log_index = unsigned(required(p.log_index, &f("logIndex"))?, &f("logIndex"))?;
    let tree_size = unsigned(required(p.tree_size, &f("treeSize"))?, &f("treeSize"))?;
    let root_hash = hash(&required(p.root_hash, &f("rootHash"))?, &f("rootHash"))?;
    let raw_hashes = p.hashes.unwrap_or_default();
    if raw_hashes.len() > MAX_PROOF_HASHES {
        return Err(format!("{} has more than {MAX_PROOF_HASHES}", f("hashes")));
    }
    let hashes = raw_hashes
        .iter()
        .map(|h| hash(h, &f("hashes")))
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoint = p
        .checkpoint
        .and_then(|c| c.envelope)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| format!("{} has no checkpoint envelope", f("")))?;
    Ok(InclusionProof {
        log_index,
        root_hash,
        tree_size,
        hashes,
        checkpoint,
    })
}

fn check_entries(version: BundleVersion, entries: &[TlogEntry]) -> Result<(), String> {
    if version == BundleVersion::V0_1
        && !entries.is_empty()
        && entries.iter().all(|e| e.inclusion_promise.is_none())
    {
        return Err("a bundle v0.1 needs an inclusionPromise in one of its entries".into());
    }
    let mut seen = HashSet::new();
    for e in entries {
        if !seen.insert((e.log_id.as_slice(), e.log_index)) {
            return Err(format!(
                "two entries for index {} of log {}",
                e.log_index,
                hex::encode(&e.log_id)
            ));
        }
    }
    Ok(())
}

fn timestamps(data: Option<RawTimestampData>) -> Result<Vec<Vec<u8>>, String> {
    let raw = data.and_then(|d| d.rfc3161_timestamps).unwrap_or_default();
    let items = raw.into_iter().enumerate().map(|(i, t)| {
        bytes(
            t.signed_timestamp,
            &format!("rfc3161Timestamps[{i}].signedTimestamp"),
        )
    });
    let out = collect_capped(items, MAX_TIMESTAMPS, "rfc3161Timestamps")?;
    let mut seen = HashSet::new();
    if out.iter().any(|t| !seen.insert(t.as_slice())) {
        return Err("the same RFC 3161 timestamp is given twice".into());
    }
    Ok(out)
}
