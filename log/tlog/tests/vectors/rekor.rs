//! Rekor v2 vectors: key IDs of real logs, real checkpoints, and the
//! one-entry example log.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_signer::Ed25519Signer;
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::leaf_hash;
use islet_tlog::note::{NoteSigner, NoteVerifier};

use crate::common::{b64, hash_b64, load, s, vectors_dir};

#[test]
fn key_ids_of_every_trusted_root_log_are_reproduced() {
    let dir = vectors_dir(&["rekor-v2/key-ids.json"]);
    let v = load(&dir, "rekor-v2/key-ids.json");
    let rows = v["rows"].as_array().expect("rows");
    assert!(rows.len() >= 5);
    for row in rows {
        let origin = s(row, "origin_assumed");
        let spki = b64(&row["spki_der_b64"]);
        let verifier =
            NoteVerifier::from_public_key(origin, &spki).unwrap_or_else(|e| panic!("{row}: {e}"));
        let id = verifier.rekor_log_id().expect("log key");
        assert_eq!(
            STANDARD.encode(id),
            s(row, "computed_full_key_id_b64"),
            "{origin}"
        );
        assert_eq!(
            format!("{:08x}", verifier.key_id()),
            s(row, "computed_key_hint_hex"),
            "{origin}"
        );
        if row["matches_trusted_root"].as_bool() == Some(true) {
            assert_eq!(STANDARD.encode(id), s(row, "trusted_root_logId_b64"));
        }
    }
}

#[test]
fn real_rekor_checkpoints_verify_and_derived_negatives_fail() {
    let dir = vectors_dir(&["rekor-v2/checkpoints.json"]);
    let v = load(&dir, "rekor-v2/checkpoints.json");
    let witnesses: Vec<NoteVerifier> = v["witness_vkeys"]["vkeys"]
        .as_array()
        .expect("witness vkeys")
        .iter()
        .map(|k| NoteVerifier::from_vkey(k.as_str().expect("vkey")).expect("witness vkey"))
        .collect();
    let cases = v["checkpoints"].as_array().expect("checkpoints");
    assert!(cases.len() >= 9);
    for c in cases {
        let id = s(c, "id");
        let log_key = NoteVerifier::from_public_key(
            s(c, "expected_origin"),
            &b64(&c["log_public_key_spki_b64"]),
        )
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        let result =
            SignedCheckpoint::open(s(c, "envelope").as_bytes(), &log_key, &witnesses, None);
        if c["expected_log_signature_valid"]
            .as_bool()
            .expect("expected")
        {
            let signed = result.unwrap_or_else(|e| panic!("{id}: {e}"));
            let cosigned = c["witness_cosignatures"].as_array().map_or(0, Vec::len);
            assert_eq!(
                signed.note.verified.len(),
                1 + cosigned,
                "{id}: log + every witness verified"
            );
        } else {
            assert!(result.is_err(), "{id}: accepted");
        }
    }
}

#[test]
fn rekor_example_leaf_hash_is_the_size_one_root() {
    let dir = vectors_dir(&["c2sp/rekor-v2-example.json"]);
    let v = load(&dir, "c2sp/rekor-v2-example.json");
    let body = b64(&v["canonicalized_body_b64"]);
    assert_eq!(body, s(&v, "canonicalized_body").as_bytes());
    let leaf = leaf_hash(&body);
    assert_eq!(leaf, hash_b64(&v["leaf_hash_b64"]));
    let envelope = s(&v, "checkpoint_envelope");
    let note = islet_tlog::note::Note::parse(envelope.as_bytes()).expect("note parses");
    let cp = islet_tlog::checkpoint::Checkpoint::parse(&note.text).expect("checkpoint parses");
    assert_eq!((cp.size, cp.root), (1, leaf));
    let key_id = b64(&v["log_id_key_id_b64"]);
    assert_eq!(hex::encode(&key_id[..4]), s(&v, "signature_key_id_hex"));
    assert_eq!(note.signatures[0].key_id.to_be_bytes(), key_id[..4]);
}

#[test]
fn rekor_local_test_keys_give_the_published_ids_and_verify_the_example() {
    let dir = vectors_dir(&["rekor-v2/rekor-tiles/rekor-local-testdata.json"]);
    let v = load(&dir, "rekor-v2/rekor-tiles/rekor-local-testdata.json");
    let log = &v["log"];
    let origin = s(log, "origin");
    let verifier =
        NoteVerifier::from_public_key(origin, &b64(&log["public_key_spki_der_b64"])).expect("spki");
    assert_eq!(verifier.to_vkey(), s(log, "note_vkey"));
    assert_eq!(
        format!("{:08x}", verifier.key_id()),
        s(log, "checkpoint_key_id_hex")
    );
    assert_eq!(
        STANDARD.encode(verifier.rekor_log_id().expect("id")),
        s(log, "log_id_keyId_b64")
    );
    assert_ne!(
        STANDARD.encode(verifier.rekor_log_id().expect("id")),
        s(log, "spki_sha256_b64_NOT_the_log_id")
    );
    let signer = Ed25519Signer::from_pkcs8(origin, s(log, "private_key_pkcs8_pem").as_bytes())
        .expect("pkcs8");
    assert_eq!(signer.verifier(), verifier);
    // rekor-v2.md §3.3: the same key under origin 127.0.0.1 has another ID.
    let local = NoteVerifier::from_public_key("127.0.0.1", &b64(&log["public_key_spki_der_b64"]))
        .expect("spki");
    assert_eq!(format!("{:08x}", local.key_id()), "271c6a03");
    let example = &v["clients_md_example_response_STALE_FORMAT"];
    let envelope = s(&example["inclusionProof"]["checkpoint"], "envelope");
    let signed = SignedCheckpoint::open(envelope.as_bytes(), &verifier, &[], None)
        .expect("example checkpoint verifies");
    assert_eq!(
        signed.checkpoint.root,
        leaf_hash(&b64(&example["canonicalizedBody"]))
    );
    let w = &v["witness"];
    let wname = s(w, "name");
    let wsigner = Ed25519Signer::from_skey(s(w, "note_private_key")).expect("witness skey");
    assert_eq!(
        wsigner.verifier().to_vkey(),
        s(w, "vkey_as_in_policy_type01")
    );
    let cosig_id = islet_tlog::note::standard_key_id(
        wname,
        islet_tlog::note::TYPE_COSIGNATURE_V1,
        &wsigner.public_key(),
    );
    assert_eq!(
        format!("{cosig_id:08x}"),
        s(w, "cosignature_key_id_hex_type04")
    );
}
