//! The witness gate on real and vector data:
//! - real Rekor v2 checkpoints (production and staging) cosigned by three
//!   public witnesses (`tests/vectors/rekor-v2/checkpoints.json`), under
//!   policies written here from the recorded log keys and witness vkeys,
//!   and the derived negative cases of that file;
//! - the golden `c2sp.org/tlog-proof@v1` file of the C2SP vectors
//!   (`tests/vectors/c2sp/tlog-proof/`), checked byte for byte against the
//!   vector checkpoint and cosignature it is made of, then verified.
//!
//! Expected values are the vectors' own (timestamps, key IDs, the size-8
//! root of the record tree), never computed by the code under test.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_verify::witness::{check_checkpoint, parse_policy};
use islet_verify::{Check, WitnessPolicy, verify_tlog_proof};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn vector_json(rel: &str) -> Value {
    let dir = islet_testkit::vectors_dir(&[rel]);
    serde_json::from_slice(&std::fs::read(dir.join(rel)).unwrap()).unwrap()
}

fn vector_bytes(rel: &str) -> Vec<u8> {
    let dir = islet_testkit::vectors_dir(&[rel]);
    std::fs::read(dir.join(rel)).unwrap()
}

fn checkpoints() -> Value {
    vector_json("rekor-v2/checkpoints.json")
}

fn case<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("checkpoint {id} in the vectors"))
}

/// The Ed25519 log vkey of a recorded checkpoint, written out by hand:
/// the raw key is the last 32 bytes of the 44-byte SPKI, the key ID
/// `SHA-256(origin || LF || 0x01 || key)[:4]`.
fn log_vkey(c: &Value) -> String {
    assert_eq!(c["log_key_details"], "PKIX_ED25519");
    let spki = STANDARD
        .decode(c["log_public_key_spki_b64"].as_str().unwrap())
        .unwrap();
    assert_eq!(spki.len(), 44);
    let key = &spki[12..];
    let origin = c["expected_origin"].as_str().unwrap();
    let mut h = Sha256::new();
    h.update(origin.as_bytes());
    h.update([b'\n', 0x01]);
    h.update(key);
    let id = hex::encode(&h.finalize()[..4]);
    let mut raw = vec![0x01];
    raw.extend_from_slice(key);
    format!("{origin}+{id}+{}", STANDARD.encode(raw))
}

fn witness_vkeys(v: &Value) -> Vec<String> {
    v["witness_vkeys"]["vkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// A policy of the checkpoint's log and the three public witnesses, named
/// w0, w1, w2 in the vector's order, with `rest` (groups, quorum).
fn policy(v: &Value, c: &Value, rest: &str) -> WitnessPolicy {
    let mut text = format!("log {}\n", log_vkey(c));
    for (i, k) in witness_vkeys(v).iter().enumerate() {
        text.push_str(&format!("witness w{i} {k}\n"));
    }
    text.push_str(rest);
    parse_policy(text.as_bytes()).expect("policy")
}

#[test]
fn real_witnessed_checkpoints_meet_a_three_of_three_policy() {
    let v = checkpoints();
    let names: Vec<String> = witness_vkeys(&v)
        .iter()
        .map(|k| k.split('+').next().unwrap().to_owned())
        .collect();
    for id in [
        "log2025-1_114109027_witnessed",
        "log2025-alpha3_4026479_witnessed",
    ] {
        let c = case(&v, id);
        let p = policy(&v, c, "group all3 all w0 w1 w2\nquorum all3\n");
        let report = check_checkpoint(&p, c["envelope"].as_str().unwrap().as_bytes())
            .unwrap_or_else(|f| panic!("{id}: {f:?}"));
        assert!(report.quorum_met, "{id}");
        assert_eq!(report.quorum, "all3");
        assert!(report.ignored.is_empty(), "{id}: {:?}", report.ignored);
        // Each witness's key ID and timestamp as the vector records them.
        for (i, w) in report.witnesses.iter().enumerate() {
            assert_eq!(w.name, format!("w{i}"));
            assert_eq!(w.key_name, names[i]);
            let recorded = c["witness_cosignatures"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == names[i])
                .unwrap();
            assert_eq!(w.key_id, recorded["key_id_hex"].as_str().unwrap(), "{id}");
            assert_eq!(w.timestamp, recorded["timestamp"].as_u64(), "{id}");
            assert!(w.cosigned);
        }
    }
}

#[test]
fn real_checkpoints_fail_policies_they_do_not_meet() {
    let v = checkpoints();
    let c = case(&v, "log2025-1_114109027_witnessed");
    let note = c["envelope"].as_str().unwrap().as_bytes();
    // A fourth witness that did not cosign, needed by the quorum; its key
    // ID computed here. (With a wrong key ID the policy itself is refused
    // rather than the witness ignored.)
    let key = [0u8; 32];
    let mut h = Sha256::new();
    h.update(b"absent.example/w\n\x04");
    h.update(key);
    let id = hex::encode(&h.finalize()[..4]);
    let mut raw = vec![0x04];
    raw.extend_from_slice(&key);
    let absent = format!("absent.example/w+{id}+{}", STANDARD.encode(&raw));
    let mut text = format!("log {}\n", log_vkey(c));
    for (i, k) in witness_vkeys(&v).iter().enumerate() {
        text.push_str(&format!("witness w{i} {k}\n"));
    }
    let wrong_id = format!("absent.example/w+00000000+{}", STANDARD.encode(&raw));
    let e = parse_policy(format!("{text}witness absent {wrong_id}\nquorum absent\n").as_bytes())
        .expect_err("bad key ID");
    assert_eq!(e.check, Check::WitnessPolicy, "{}", e.reason);
    assert!(e.reason.contains("key ID"), "{}", e.reason);
    text.push_str(&format!(
        "witness absent {absent}\ngroup four all w0 w1 w2 absent\nquorum four\n"
    ));
    let p = parse_policy(text.as_bytes()).unwrap();
    let f = check_checkpoint(&p, note).expect_err("absent witness");
    assert_eq!(f.check, Check::WitnessQuorum, "{}", f.reason);
    assert!(
        f.reason
            .contains("has 3 of the 4 member(s) it needs: still needed 1 more of [absent]"),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("cosigned by w0 ("), "{}", f.reason);
    // Policy for the production log presented with the staging shard.
    let staging = case(&v, "log2025-alpha3_4026479_witnessed");
    let p = policy(&v, c, "quorum w0\n");
    let f = check_checkpoint(&p, staging["envelope"].as_str().unwrap().as_bytes())
        .expect_err("another log");
    assert_eq!(f.check, Check::WitnessPolicy, "{}", f.reason);
    assert!(
        f.reason.contains("log2025-alpha3.rekor.sigstage.dev"),
        "{}",
        f.reason
    );
}

#[test]
fn the_derived_negative_checkpoints_fail_at_their_step() {
    let v = checkpoints();
    let good = case(&v, "log2025-1_114109027_witnessed");
    let p = policy(&v, good, "group any1 any w0 w1 w2\nquorum any1\n");
    for (id, check, needle) in [
        // The log's line is checked first (it comes first in the note).
        (
            "NEG_root_tampered",
            Check::Checkpoint,
            "the log signature by log2025-1.rekor.sigstore.dev+",
        ),
        (
            "NEG_origin_changed",
            Check::WitnessPolicy,
            "\"log2025-2.rekor.sigstore.dev\" is not a log of the witness policy",
        ),
        (
            "NEG_no_signature_lines",
            Check::Checkpoint,
            "no signature lines",
        ),
        (
            "NEG_only_witness_lines",
            Check::WitnessPolicy,
            "did not sign the checkpoint",
        ),
    ] {
        let c = case(&v, id);
        let f = check_checkpoint(&p, c["envelope"].as_str().unwrap().as_bytes()).expect_err(id);
        assert_eq!(f.check, check, "{id}: {}", f.reason);
        assert!(f.reason.contains(needle), "{id}: {}", f.reason);
    }
}

/// The golden proof file: `record 5` in the size-8 record tree, with the
/// vector log's signature and the vector witness's cosignature.
#[test]
fn the_golden_tlog_proof_file_verifies() {
    let file = vector_bytes("c2sp/tlog-proof/record-5-of-8.tlog-proof");
    let entry = vector_bytes("c2sp/tlog-proof/record-5.entry");
    let policy_text = vector_bytes("c2sp/tlog-proof/record-5-of-8.policy");
    assert_eq!(entry, b"record 5");
    // The file is the vector checkpoint and cosignature, verbatim.
    let w = vector_json("c2sp/witness-add-checkpoint.json");
    let first = w["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "first-checkpoint")
        .unwrap();
    let note = first["request_body"]
        .as_str()
        .unwrap()
        .strip_prefix("old 0\n\n")
        .unwrap();
    let cosig = first["example_200_body"].as_str().unwrap();
    let text = String::from_utf8(file.clone()).unwrap();
    assert!(text.ends_with(&format!("\n\n{note}{cosig}")), "{text}");
    // The policy names the vector keys.
    let pt = String::from_utf8(policy_text.clone()).unwrap();
    assert!(pt.contains(w["log_vkey"].as_str().unwrap()));
    assert!(pt.contains(w["witness_vkey"].as_str().unwrap()));

    let p = parse_policy(&policy_text).unwrap();
    let v = verify_tlog_proof(&file, &entry, &p).expect("golden file verifies");
    let tree = vector_json("c2sp/rfc6962-record-tree.json");
    let root8 = tree["roots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["size"] == 8)
        .unwrap()["root"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        (v.origin.as_str(), v.index, v.size),
        ("log.example/vectors", 5, 8)
    );
    assert_eq!(
        hex::decode(&v.root).unwrap(),
        STANDARD.decode(root8).unwrap()
    );
    assert_eq!(v.log_key, "log.example/vectors+cf60eb2e");
    assert_eq!((v.quorum.as_str(), v.quorum_met), ("w1", true));
    let [wit] = v.witnesses.as_slice() else {
        panic!("{:?}", v.witnesses)
    };
    assert_eq!(
        (wit.key_name.as_str(), wit.key_id.as_str(), wit.timestamp),
        ("witness.example/w1", "0f6ff760", Some(1_700_000_000))
    );
    // Another entry of the tree does not verify with this file.
    let f = verify_tlog_proof(&file, b"record 4", &p).expect_err("record 4");
    assert_eq!(f.check, Check::InclusionProof, "{}", f.reason);
}
