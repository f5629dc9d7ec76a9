//! The `TransparencyLogEntry` a successful write returns: exactly the fields
//! of `../shared/specs/rekor-v2.md` §1.3, in protojson form and proto field
//! order (int64 as decimal strings, bytes as standard base64,
//! `integratedTime` "0", `inclusionPromise` null). sigstore-python refuses
//! extra fields, so there are none.

use serde::Serialize;

use islet_rekor::entry::EntryKind;
use islet_rekor::request::encode_base64;
use islet_tlog::merkle::Hash;

/// `dev.sigstore.rekor.v1.TransparencyLogEntry`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    log_index: String,
    log_id: LogId,
    kind_version: KindVersion,
    integrated_time: String,
    inclusion_promise: Option<()>,
    inclusion_proof: InclusionProof,
    canonicalized_body: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogId {
    key_id: String,
}

#[derive(Debug, Serialize)]
struct KindVersion {
    kind: &'static str,
    version: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InclusionProof {
    log_index: String,
    root_hash: String,
    tree_size: String,
    hashes: Vec<String>,
    checkpoint: CheckpointEnvelope,
}

#[derive(Debug, Serialize)]
struct CheckpointEnvelope {
    envelope: String,
}

/// The pieces of a response.
#[derive(Debug)]
pub struct EntryResponseParts<'a> {
    /// Entry index.
    pub index: u64,
    /// The log ID (full 32-byte key ID).
    pub log_id: &'a [u8; 32],
    /// Entry kind.
    pub kind: EntryKind,
    /// The leaf bytes.
    pub body: &'a [u8],
    /// Size of the checkpoint the proof is against.
    pub tree_size: u64,
    /// Its root.
    pub root: &'a Hash,
    /// The proof.
    pub proof: &'a [Hash],
    /// The signed checkpoint note.
    pub checkpoint: &'a [u8],
}

impl TransparencyLogEntry {
    /// Builds the response.
    pub fn new(p: &EntryResponseParts<'_>) -> Self {
        Self {
            log_index: p.index.to_string(),
            log_id: LogId {
                key_id: encode_base64(p.log_id),
            },
            kind_version: KindVersion {
                kind: p.kind.kind(),
                version: p.kind.version(),
            },
            integrated_time: "0".into(),
            inclusion_promise: None,
            inclusion_proof: InclusionProof {
                log_index: p.index.to_string(),
                root_hash: encode_base64(p.root),
                tree_size: p.tree_size.to_string(),
                hashes: p.proof.iter().map(|h| encode_base64(h)).collect(),
                checkpoint: CheckpointEnvelope {
                    envelope: String::from_utf8_lossy(p.checkpoint).into_owned(),
                },
            },
            canonicalized_body: encode_base64(p.body),
        }
    }
}

/// The gRPC-style error body: `{"code": N, "message": "…", "details": []}`.
#[derive(Debug, Serialize)]
pub struct StatusBody {
    /// gRPC status code.
    pub code: u32,
    /// Human-readable message.
    pub message: String,
    /// Always empty.
    pub details: [(); 0],
}

/// gRPC `INVALID_ARGUMENT`.
pub const CODE_INVALID_ARGUMENT: u32 = 3;
/// gRPC `DEADLINE_EXCEEDED`.
pub const CODE_DEADLINE_EXCEEDED: u32 = 4;
/// gRPC `ALREADY_EXISTS`.
pub const CODE_ALREADY_EXISTS: u32 = 6;
/// gRPC `INTERNAL`.
pub const CODE_INTERNAL: u32 = 13;
/// gRPC `UNAVAILABLE`.
pub const CODE_UNAVAILABLE: u32 = 14;
/// gRPC `NOT_FOUND`.
pub const CODE_NOT_FOUND: u32 = 5;
/// gRPC `PERMISSION_DENIED`.
pub const CODE_PERMISSION_DENIED: u32 = 7;
/// gRPC `RESOURCE_EXHAUSTED`.
pub const CODE_RESOURCE_EXHAUSTED: u32 = 8;
/// gRPC `UNAUTHENTICATED`.
pub const CODE_UNAUTHENTICATED: u32 = 16;
