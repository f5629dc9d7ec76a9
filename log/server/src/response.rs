//! The `TransparencyLogEntry` a successful write returns: exactly the fields
//! of `../shared/specs/rekor-v2.md` §1.3, in protojson form and proto field
//! order (int64 as decimal strings, bytes as standard base64,
//! `integratedTime` "0", `inclusionPromise` null). sigstore-python refuses
//! extra fields, so there are none.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
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

impl TransparencyLogEntry {
    /// The response's JSON, written straight into one buffer: the same
    /// bytes as `serde_json::to_vec(&TransparencyLogEntry::new(p))` (a test
    /// holds them equal), without the intermediate strings or serde's
    /// escaping scan over base64 text, which cannot hold a character JSON
    /// escapes.
    pub fn encode(p: &EntryResponseParts<'_>) -> Vec<u8> {
        let index = p.index.to_string();
        let mut out = Vec::with_capacity(
            400 + p.body.len().div_ceil(3) * 4 + p.proof.len() * 48 + p.checkpoint.len() * 11 / 10,
        );
        out.extend_from_slice(b"{\"logIndex\":\"");
        out.extend_from_slice(index.as_bytes());
        out.extend_from_slice(b"\",\"logId\":{\"keyId\":\"");
        push_base64(&mut out, p.log_id);
        out.extend_from_slice(b"\"},\"kindVersion\":{\"kind\":");
        push_json_str(&mut out, p.kind.kind());
        out.extend_from_slice(b",\"version\":");
        push_json_str(&mut out, p.kind.version());
        out.extend_from_slice(b"},\"integratedTime\":\"0\",\"inclusionPromise\":null,\"inclusionProof\":{\"logIndex\":\"");
        out.extend_from_slice(index.as_bytes());
        out.extend_from_slice(b"\",\"rootHash\":\"");
        push_base64(&mut out, p.root);
        out.extend_from_slice(b"\",\"treeSize\":\"");
        out.extend_from_slice(p.tree_size.to_string().as_bytes());
        out.extend_from_slice(b"\",\"hashes\":[");
        for (i, h) in p.proof.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            push_base64(&mut out, h);
            out.push(b'"');
        }
        out.extend_from_slice(b"],\"checkpoint\":{\"envelope\":");
        push_json_str(&mut out, &String::from_utf8_lossy(p.checkpoint));
        out.extend_from_slice(b"}},\"canonicalizedBody\":\"");
        push_base64(&mut out, p.body);
        out.extend_from_slice(b"\"}");
        out
    }
}

/// Appends `s` as a JSON string, quoted and escaped as serde_json does.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Serializing a `str` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Appends standard base64 (padded) of `bytes`, encoded in place rather
/// than through the crate's chunked `String` writer.
fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    // The slice is exactly the padded encoded length: encoding cannot fail.
    let _ = STANDARD.encode_slice(bytes, &mut out[start..]);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The hand-written encoder gives exactly serde's bytes for the typed
    /// document: every field, proofs of 0, 1 and many hashes, and
    /// checkpoints whose text JSON must escape (line ends, quotes,
    /// backslashes, control characters, non-ASCII, bytes that are not
    /// UTF-8).
    #[test]
    fn encode_writes_the_bytes_serde_writes() {
        let checkpoints: [&[u8]; 4] = [
            b"example.com/log\n7\nq80=\n\n\xe2\x80\x94 example.com/log AbCd==\n",
            b"a \"quoted\" origin\\ with a tab\t and \x01\n",
            b"not utf-8: \xff\xfe\n",
            b"",
        ];
        let proofs: [Vec<Hash>; 3] = [
            Vec::new(),
            vec![[7; 32]],
            (0u8..20).map(|i| [i.wrapping_mul(37); 32]).collect(),
        ];
        let body: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        for (kind, checkpoint, proof) in [
            (EntryKind::HashedRekord, checkpoints[0], &proofs[0]),
            (EntryKind::Dsse, checkpoints[1], &proofs[1]),
            (EntryKind::HashedRekord, checkpoints[2], &proofs[2]),
            (EntryKind::Dsse, checkpoints[3], &proofs[2]),
        ] {
            let parts = EntryResponseParts {
                index: 1_234_567_890_123,
                log_id: &[0xab; 32],
                kind,
                body: &body,
                tree_size: u64::MAX,
                root: &[0x5c; 32],
                proof,
                checkpoint,
            };
            let expected = serde_json::to_vec(&TransparencyLogEntry::new(&parts)).unwrap();
            assert_eq!(
                String::from_utf8(TransparencyLogEntry::encode(&parts)).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
