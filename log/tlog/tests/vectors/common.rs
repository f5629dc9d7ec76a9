//! Finding and decoding vectors.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_tlog::merkle::Hash;
use serde_json::Value;

/// The vectors directory (see `islet_testkit::vectors_dir`).
pub(crate) use islet_testkit::vectors_dir;

/// Loads a JSON file below the vectors directory.
pub(crate) fn load(dir: &Path, rel: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Standard base64 (lenient on input: vectors are data, not under test).
pub(crate) fn b64(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("bad base64 {s:?}: {e}"))
}

/// A 32-byte hash from base64.
pub(crate) fn hash_b64(v: &Value) -> Hash {
    b64(v)
        .try_into()
        .unwrap_or_else(|_| panic!("not 32 bytes: {v}"))
}

/// A 32-byte hash from hex.
pub(crate) fn hash_hex(v: &Value) -> Hash {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    hex::decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .unwrap_or_else(|| panic!("not 32 hex bytes: {s}"))
}

/// A list of base64 hashes (null or missing = empty).
pub(crate) fn hashes_b64(v: &Value) -> Vec<Hash> {
    v.as_array()
        .map(|a| a.iter().map(hash_b64).collect())
        .unwrap_or_default()
}

/// u64 field.
pub(crate) fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a u64 in {v}"))
}

/// String field.
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

/// SHA-256 of a label, as the vectors derive seeds: `SHA-256('label')`.
pub(crate) fn seed_from_label(label_expr: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let label = label_expr
        .strip_prefix("SHA-256('")
        .and_then(|r| r.strip_suffix("')"))
        .unwrap_or_else(|| panic!("unexpected seed expression {label_expr}"));
    Sha256::digest(label.as_bytes()).into()
}

/// The "record <i>" tree of the record-tree vectors.
pub(crate) fn record(i: u64) -> Vec<u8> {
    format!("record {i}").into_bytes()
}
