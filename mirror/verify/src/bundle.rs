//! Sigstore bundles (`dev.sigstore.bundle.v1.Bundle`, media types v0.1 to
//! v0.3) as protojson, parsed into the parts the transparency-log check
//! needs. Fields islet does not use are ignored, as protojson readers do.

use islet_rekor::request::decode_proto_base64;
use serde::Deserialize;

/// Largest bundle file read (a DSSE attestation can be large; Rekor
/// itself takes requests of at most 4 MiB by default).
pub const MAX_BUNDLE_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The media types accepted, oldest first.
pub const MEDIA_TYPES: [&str; 4] = [
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

/// A bundle.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// One of [`MEDIA_TYPES`].
    pub media_type: String,
    /// Certificate or key, and the log entries.
    pub verification_material: VerificationMaterial,
    /// A signature over a digest.
    #[serde(default)]
    pub message_signature: Option<MessageSignature>,
    /// A DSSE envelope.
    #[serde(default)]
    pub dsse_envelope: Option<DsseEnvelope>,
}

/// `VerificationMaterial`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// v0.3: the signing certificate.
    #[serde(default)]
    pub certificate: Option<RawBytes>,
    /// v0.1, v0.2: the chain, leaf first.
    #[serde(default)]
    pub x509_certificate_chain: Option<CertificateChain>,
    /// A key named by hint only.
    #[serde(default)]
    pub public_key: Option<PublicKeyHint>,
    /// The log entries.
    #[serde(default)]
    pub tlog_entries: Vec<TlogEntry>,
}

/// `{ "rawBytes": base64 }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBytes {
    /// base64 of DER.
    pub raw_bytes: String,
}

/// `X509CertificateChain`.
#[derive(Debug, Deserialize)]
pub struct CertificateChain {
    /// Leaf first.
    #[serde(default)]
    pub certificates: Vec<RawBytes>,
}

/// `PublicKeyIdentifier`.
#[derive(Debug, Deserialize)]
pub struct PublicKeyHint {
    /// The hint.
    #[serde(default)]
    pub hint: String,
}

/// `TransparencyLogEntry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlogEntry {
    /// Decimal string (protojson int64).
    pub log_index: String,
    /// `{ "keyId": base64 }`.
    pub log_id: LogId,
    /// Kind and version of the body.
    pub kind_version: KindVersion,
    /// Rekor v1 only; "0" or absent for v2.
    #[serde(default)]
    pub integrated_time: Option<String>,
    /// The proof (required here: offline verification needs it).
    #[serde(default)]
    pub inclusion_proof: Option<InclusionProof>,
    /// base64 of the logged body.
    pub canonicalized_body: String,
}

/// `LogId`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    /// base64.
    pub key_id: String,
}

/// `KindVersion`.
#[derive(Debug, Deserialize)]
pub struct KindVersion {
    /// `hashedrekord`, `dsse`.
    pub kind: String,
    /// `0.0.1`, `0.0.2`.
    pub version: String,
}

/// `InclusionProof`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// Decimal string.
    pub log_index: String,
    /// base64.
    pub root_hash: String,
    /// Decimal string.
    pub tree_size: String,
    /// base64 hashes, leaf sibling first.
    #[serde(default)]
    pub hashes: Vec<String>,
    /// The signed checkpoint.
    #[serde(default)]
    pub checkpoint: Option<CheckpointEnvelope>,
}

/// `Checkpoint`.
#[derive(Debug, Deserialize)]
pub struct CheckpointEnvelope {
    /// The signed note.
    pub envelope: String,
}

/// `MessageSignature`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    /// The digest signed.
    #[serde(default)]
    pub message_digest: Option<MessageDigest>,
    /// base64 signature.
    pub signature: String,
}

/// `HashOutput`.
#[derive(Debug, Deserialize)]
pub struct MessageDigest {
    /// `SHA2_256`, …
    pub algorithm: String,
    /// base64.
    pub digest: String,
}

/// `io.intoto.Envelope`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DsseEnvelope {
    /// base64 payload.
    pub payload: String,
    /// Its type.
    pub payload_type: String,
    /// Signatures.
    #[serde(default)]
    pub signatures: Vec<DsseSignature>,
}

/// `io.intoto.Signature`.
#[derive(Debug, Deserialize)]
pub struct DsseSignature {
    /// base64 signature.
    pub sig: String,
    /// Optional key hint.
    #[serde(default)]
    pub keyid: String,
}

impl Bundle {
    /// Parses a bundle and checks its media type.
    ///
    /// # Errors
    /// A message naming the field or the media type.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, String> {
        let b: Bundle = serde_json::from_slice(bytes).map_err(|e| format!("not a bundle: {e}"))?;
        if !MEDIA_TYPES.contains(&b.media_type.as_str()) {
            return Err(format!(
                "media type {:.80?} is not a Sigstore bundle v0.1 to v0.3",
                b.media_type
            ));
        }
        match (&b.message_signature, &b.dsse_envelope) {
            (Some(_), Some(_)) => Err("sets both messageSignature and dsseEnvelope".into()),
            (None, None) => Err("has neither messageSignature nor dsseEnvelope".into()),
            _ => Ok(b),
        }
    }

    /// The signing certificate's DER, when the bundle carries one.
    ///
    /// # Errors
    /// Bad base64.
    pub fn certificate(&self) -> Result<Option<Vec<u8>>, String> {
        let vm = &self.verification_material;
        let raw = vm.certificate.as_ref().or_else(|| {
            vm.x509_certificate_chain
                .as_ref()
                .and_then(|c| c.certificates.first())
        });
        raw.map(|r| b64(&r.raw_bytes, "certificate")).transpose()
    }
}

/// Decodes a protojson base64 field.
///
/// # Errors
/// A message naming the field.
pub fn b64(s: &str, field: &str) -> Result<Vec<u8>, String> {
    decode_proto_base64(s).ok_or_else(|| format!("{field} is not base64"))
}
