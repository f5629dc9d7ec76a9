//! transparency-dev/merkle testdata: all 518 inclusion, consistency, subtree
//! inclusion and subtree consistency cases.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_tlog::merkle::{
    Hash, hash_from_slice, verify_consistency, verify_inclusion, verify_subtree_consistency,
    verify_subtree_inclusion,
};
use serde_json::Value;

use crate::common::vectors_dir;

/// The cases whose 12-byte placeholder hashes the library does not length
/// check; a verifier that requires 32-byte hashes rejects exactly these
/// (`tests/vectors/PROVENANCE.md`, merkle-testdata).
const PLACEHOLDER_CASES: [&str; 4] = [
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
    "subtreeconsistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
    "subtreeconsistency/additional/subtree-is-empty-sizes-are-equal-one-subtree-root-valid-tree-root-random-proof-is-empty.json",
    "subtreeconsistency/additional/subtree-is-empty-sizes-are-equal-zero-subtree-root-valid-tree-root-random-proof-is-empty.json",
];

#[derive(Debug)]
enum Outcome {
    Accepted,
    /// A field could not even be parsed into typed values (wrong hash
    /// length, negative index).
    BadInput(Unparsed),
    Rejected(String),
}

/// Why a field of a case could not be parsed.
#[derive(Debug)]
enum Unparsed {
    /// The library refuses the hash (`hash_from_slice`: wrong length).
    Hash(islet_tlog::Error),
    /// The JSON is not of the expected shape.
    Json(String),
}

impl std::fmt::Display for Unparsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unparsed::Hash(e) => write!(f, "{e}"),
            Unparsed::Json(e) => f.write_str(e),
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Accepted => f.write_str("accepted"),
            Outcome::BadInput(e) => write!(f, "bad input: {e}"),
            Outcome::Rejected(e) => write!(f, "rejected: {e}"),
        }
    }
}

fn bytes(v: &Value) -> Result<Vec<u8>, Unparsed> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => STANDARD
            .decode(s)
            .map_err(|e| Unparsed::Json(e.to_string())),
        other => Err(Unparsed::Json(format!("not bytes: {other}"))),
    }
}

fn hash(v: &Value) -> Result<Hash, Unparsed> {
    hash_from_slice(&bytes(v)?).map_err(Unparsed::Hash)
}

fn proof(v: &Value) -> Result<Vec<Hash>, Unparsed> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a.iter().map(hash).collect(),
        other => Err(Unparsed::Json(format!("not a proof: {other}"))),
    }
}

fn num(v: &Value, key: &str) -> Result<u64, Unparsed> {
    v[key]
        .as_u64()
        .ok_or_else(|| Unparsed::Json(format!("{key} is not a u64: {}", v[key])))
}

fn run(kind: &str, v: &Value) -> Outcome {
    let parsed = || -> Result<Result<(), islet_tlog::Error>, Unparsed> {
        Ok(match kind {
            "inclusion" => verify_inclusion(
                num(v, "leafIdx")?,
                num(v, "treeSize")?,
                &hash(&v["leafHash"])?,
                &proof(&v["proof"])?,
                &hash(&v["root"])?,
            ),
            "consistency" => verify_consistency(
                num(v, "size1")?,
                num(v, "size2")?,
                &hash(&v["root1"])?,
                &hash(&v["root2"])?,
                &proof(&v["proof"])?,
            ),
            "subtreeinclusion" => verify_subtree_inclusion(
                num(v, "leafIdx")?,
                num(v, "start")?,
                num(v, "end")?,
                &hash(&v["leafHash"])?,
                &proof(&v["proof"])?,
                &hash(&v["root"])?,
            ),
            "subtreeconsistency" => verify_subtree_consistency(
                num(v, "start")?,
                num(v, "end")?,
                num(v, "size")?,
                &hash(&v["root1"])?,
                &hash(&v["root2"])?,
                &proof(&v["proof"])?,
            ),
            other => panic!("unknown kind {other}"),
        })
    };
    match parsed() {
        Err(e) => Outcome::BadInput(e),
        Ok(Ok(())) => Outcome::Accepted,
        Ok(Err(e)) => Outcome::Rejected(e.to_string()),
    }
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = entry.expect("dir entry").path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

#[test]
fn every_merkle_testdata_case_agrees_with_the_library_policy() {
    let vectors = vectors_dir(&["c2sp/merkle-testdata"]);
    let root = vectors.join("c2sp/merkle-testdata");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    assert_eq!(files.len(), 518, "the collection has 518 cases");
    let mut failures = Vec::new();
    let (mut happy, mut rejected, mut placeholders) = (0, 0, 0);
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .expect("prefix")
            .to_string_lossy()
            .replace('\\', "/");
        let kind = rel.split('/').next().expect("kind");
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(f).expect("read")).expect("json");
        let want_err = v["wantErr"].as_bool().expect("wantErr");
        let outcome = run(kind, &v);
        let ok = if PLACEHOLDER_CASES.contains(&rel.as_str()) {
            assert!(!want_err, "{rel} is listed as a placeholder success case");
            placeholders += 1;
            matches!(
                &outcome,
                Outcome::BadInput(Unparsed::Hash(islet_tlog::Error::BadHashLength { .. }))
            )
        } else if want_err {
            rejected += 1;
            !matches!(outcome, Outcome::Accepted)
        } else {
            happy += 1;
            matches!(outcome, Outcome::Accepted)
        };
        if !ok {
            failures.push(format!("{rel}: wantErr={want_err}, got {outcome}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(placeholders, PLACEHOLDER_CASES.len());
    assert!(
        happy > 20 && rejected > 400,
        "happy {happy}, rejected {rejected}"
    );
}
