//! `c2sp.org/tlog-proof@v1` files: a byte-exact file built from the C2SP
//! vectors (the size-8 `record <i>` checkpoint and its witness cosignature),
//! its verification under a tlog-policy, every single-bit change, wrong
//! policies, a missing cosignature, malformed files and every limit.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use islet_tlog::Error;
use islet_tlog::merkle::leaf_hash;
use islet_tlog::note::Note;
use islet_tlog::policy::Policy;
use islet_tlog::proof_file::{
    HEADER, MAX_EXTRA_BYTES, MAX_PROOF_FILE_BYTES, MAX_PROOF_HASHES, TlogProof,
};
use serde_json::Value;

fn vectors(rel: &str) -> Value {
    let dir = islet_testkit::vectors_dir(&[rel]);
    let text = std::fs::read_to_string(dir.join(rel)).expect("vector file");
    serde_json::from_str(&text).expect("json")
}

/// The vector checkpoint (size 8, signed by the vector log key) followed by
/// the vector witness's cosignature line from the 200 example.
fn vector_checkpoint() -> (Value, Vec<u8>) {
    let v = vectors("c2sp/witness-add-checkpoint.json");
    let case = v["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .find(|c| c["id"] == "first-checkpoint")
        .expect("first-checkpoint scenario")
        .clone();
    let body = case["request_body"].as_str().expect("body");
    let note = body.strip_prefix("old 0\n\n").expect("old 0 body");
    let cosig = case["example_200_body"].as_str().expect("cosignature");
    (v, format!("{note}{cosig}").into_bytes())
}

/// The proof of leaf 5 (`record 5`) in the size-8 tree, as the researcher's
/// independent Python computed it (research notes §2.5).
const PROOF_5_OF_8: [&str; 3] = [
    "4/xhsimX2iSB/tWu1E/YKdvUyNH5pt75w0DiEhlhg+k=",
    "F40BxqSJpiYQXv/EO/V/rL0sAh5mHWjJrtMRUZJveVg=",
    "VQcmZi2PEzD1dmUTPcWs3MBK3Q2V32plYgXiT33KphE=",
];

fn golden_file() -> Vec<u8> {
    let (_, checkpoint) = vector_checkpoint();
    let mut text = format!("{HEADER}\nindex 5\n");
    for h in PROOF_5_OF_8 {
        text.push_str(h);
        text.push('\n');
    }
    text.push('\n');
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(&checkpoint);
    bytes
}

fn policy_text(witness_vkey: &str) -> String {
    let (v, _) = vector_checkpoint();
    format!(
        "log {}\nwitness w1 {witness_vkey}\nquorum w1\n",
        v["log_vkey"].as_str().expect("log vkey")
    )
}

fn vector_policy() -> Policy {
    let (v, _) = vector_checkpoint();
    Policy::parse(policy_text(v["witness_vkey"].as_str().expect("vkey")).as_bytes())
        .expect("policy")
}

fn leaf5() -> [u8; 32] {
    leaf_hash(b"record 5")
}

#[test]
fn golden_file_parses_writes_back_byte_for_byte_and_verifies() {
    let bytes = golden_file();
    let proof = TlogProof::parse(&bytes).expect("parse");
    assert_eq!(proof.index, 5);
    assert_eq!(proof.extra, None);
    assert_eq!(proof.proof.len(), 3);
    assert_eq!(proof.to_bytes(), bytes);
    let report = proof.verify(&leaf5(), &vector_policy()).expect("verifies");
    assert!(report.quorum_met);
    assert_eq!(report.checkpoint.size, 8);
    assert_eq!(report.cosigned.len(), 1);
    assert_eq!(report.cosigned[0].name, "w1");
    assert_eq!(report.cosigned[0].timestamp, 1_700_000_000);
    // The checkpoint root is the vector tree's size-8 root.
    let tree = vectors("c2sp/rfc6962-record-tree.json");
    let root8 = tree["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .find(|r| r["size"] == 8)
        .expect("size 8");
    assert_eq!(B64.encode(report.checkpoint.root), root8["root"]);
}

#[test]
fn every_single_bit_change_of_the_golden_file_is_refused() {
    let bytes = golden_file();
    let policy = vector_policy();
    let leaf = leaf5();
    let mut accepted = Vec::new();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            if let Ok(p) = TlogProof::parse(&b)
                && p.verify(&leaf, &policy).is_ok()
            {
                accepted.push((i, bit));
            }
        }
    }
    assert!(accepted.is_empty(), "accepted bit flips: {accepted:?}");
}

#[test]
fn another_entry_or_an_index_past_the_size_does_not_verify() {
    let proof = TlogProof::parse(&golden_file()).expect("parse");
    let err = proof
        .verify(&leaf_hash(b"record 4"), &vector_policy())
        .expect_err("other entry");
    assert!(matches!(err, Error::ProofMismatch { .. }), "{err}");
    let mut past = proof.clone();
    past.index = 8;
    let err = past
        .verify(&leaf5(), &vector_policy())
        .expect_err("index 8");
    assert!(matches!(err, Error::InvalidProofRequest { .. }), "{err}");
}

#[test]
fn a_policy_with_another_witness_or_without_the_log_refuses_the_proof() {
    let proof = TlogProof::parse(&golden_file()).expect("parse");
    // A witness key of the same name but another key: the vector line is
    // then an unknown signature and the quorum is not met.
    let other =
        islet_signer::CosignatureV1Signer::from_seed("witness.example/w1", &[9; 32]).expect("key");
    let policy = Policy::parse(
        policy_text(&islet_tlog::note::NoteSigner::verifier(&other).to_vkey()).as_bytes(),
    )
    .expect("policy");
    let err = proof.verify(&leaf5(), &policy).expect_err("wrong witness");
    assert!(
        matches!(err, Error::QuorumNotMet { ref cosigned, .. } if cosigned.is_empty()),
        "{err}"
    );
    // A policy for another log.
    let (v, _) = vector_checkpoint();
    let log = islet_signer::Ed25519Signer::from_seed("other.example/log", &[1; 32]).expect("key");
    let policy = Policy::parse(
        format!(
            "log {}\nwitness w1 {}\nquorum w1\n",
            islet_tlog::note::NoteSigner::verifier(&log).to_vkey(),
            v["witness_vkey"].as_str().expect("vkey")
        )
        .as_bytes(),
    )
    .expect("policy");
    let err = proof.verify(&leaf5(), &policy).expect_err("wrong log");
    assert!(matches!(err, Error::PolicyUnknownLog { .. }), "{err}");
}

#[test]
fn a_missing_cosignature_fails_the_quorum() {
    let mut proof = TlogProof::parse(&golden_file()).expect("parse");
    let mut note = Note::parse(&proof.checkpoint).expect("note");
    note.signatures.retain(|s| s.name != "witness.example/w1");
    proof.checkpoint = note.to_bytes();
    let err = proof
        .verify(&leaf5(), &vector_policy())
        .expect_err("no cosig");
    assert!(matches!(err, Error::QuorumNotMet { .. }), "{err}");
}

#[test]
fn extra_data_round_trips_and_is_not_authenticated() {
    let mut proof = TlogProof::parse(&golden_file()).expect("parse");
    proof.extra = Some(b"anything at all".to_vec());
    let bytes = proof.to_bytes();
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    assert!(text.starts_with(&format!(
        "{HEADER}\nextra {}\nindex 5\n",
        B64.encode("anything at all")
    )));
    let back = TlogProof::parse(&bytes).expect("parse");
    assert_eq!(back, proof);
    back.verify(&leaf5(), &vector_policy())
        .expect("extra changes nothing");
}

#[test]
fn malformed_files_are_refused() {
    let (_, cp) = vector_checkpoint();
    let cp = String::from_utf8(cp).expect("utf-8");
    let h = PROOF_5_OF_8[0];
    let short = B64.encode([0u8; 31]);
    for (name, text) in [
        ("no header", format!("index 5\n{h}\n\n{cp}")),
        (
            "old header",
            format!("c2sp.org/tlog-proof@v0\nindex 5\n\n{cp}"),
        ),
        ("no index", format!("{HEADER}\n{h}\n\n{cp}")),
        ("index with zero", format!("{HEADER}\nindex 05\n\n{cp}")),
        ("index negative", format!("{HEADER}\nindex -5\n\n{cp}")),
        (
            "index too big",
            format!("{HEADER}\nindex 9223372036854775807\n\n{cp}"),
        ),
        (
            "extra after index",
            format!("{HEADER}\nindex 5\nextra AAAA\n\n{cp}"),
        ),
        ("bad extra", format!("{HEADER}\nextra A\nindex 5\n\n{cp}")),
        (
            "bad hash base64",
            format!("{HEADER}\nindex 5\n{h}x\n\n{cp}"),
        ),
        ("short hash", format!("{HEADER}\nindex 5\n{short}\n\n{cp}")),
        ("no empty line", format!("{HEADER}\nindex 5\n{h}\n")),
        ("no checkpoint", format!("{HEADER}\nindex 5\n\n")),
        ("carriage return", format!("{HEADER}\r\nindex 5\n\n{cp}")),
    ] {
        let err = TlogProof::parse(text.as_bytes()).expect_err(name);
        assert!(
            matches!(err, Error::MalformedProofFile { .. }),
            "{name}: {err}"
        );
    }
}

fn with_hashes(n: usize) -> Vec<u8> {
    TlogProof {
        extra: None,
        index: 0,
        proof: vec![[7; 32]; n],
        checkpoint: b"x\n".to_vec(),
    }
    .to_bytes()
}

#[test]
fn proof_hash_limit_holds_at_the_limit_and_refuses_one_past() {
    let p = TlogProof::parse(&with_hashes(MAX_PROOF_HASHES)).expect("at limit");
    assert_eq!(p.proof.len(), MAX_PROOF_HASHES);
    let err = TlogProof::parse(&with_hashes(MAX_PROOF_HASHES + 1)).expect_err("one past");
    assert!(matches!(err, Error::MalformedProofFile { .. }), "{err}");
}

#[test]
fn extra_limit_holds_at_the_limit_and_refuses_one_past() {
    let file = |n: usize| {
        TlogProof {
            extra: Some(vec![1; n]),
            index: 0,
            proof: vec![],
            checkpoint: b"x\n".to_vec(),
        }
        .to_bytes()
    };
    let p = TlogProof::parse(&file(MAX_EXTRA_BYTES)).expect("at limit");
    assert_eq!(p.extra.map(|e| e.len()), Some(MAX_EXTRA_BYTES));
    let err = TlogProof::parse(&file(MAX_EXTRA_BYTES + 1)).expect_err("one past");
    assert!(matches!(err, Error::MalformedProofFile { .. }), "{err}");
}

#[test]
fn file_size_limit_holds_at_the_limit_and_refuses_one_past() {
    let head = format!("{HEADER}\nindex 0\n\n");
    let mut bytes = head.into_bytes();
    bytes.resize(MAX_PROOF_FILE_BYTES, b'x');
    assert_eq!(bytes.len(), MAX_PROOF_FILE_BYTES);
    TlogProof::parse(&bytes).expect("at limit");
    bytes.push(b'x');
    let err = TlogProof::parse(&bytes).expect_err("one past");
    assert!(matches!(err, Error::MalformedProofFile { .. }), "{err}");
}
