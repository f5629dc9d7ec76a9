//! tlog-witness `add-checkpoint`: every scenario of
//! `c2sp/witness-add-checkpoint.json` through [`AddCheckpoint::parse`] and
//! [`decide`], with the expected status; where the vector gives the 200
//! body, the cosignature made with islet-signer reproduces it byte for byte.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_signer::{CosignatureV1Signer, Ed25519Signer};
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::note::{NoteSignature, NoteVerifier, open};
use islet_tlog::witness::{AddCheckpoint, Decision, conflict_body, decide};
use serde_json::Value;

use crate::common::{hash_b64, load, s, u, vectors_dir};

const FILE: &str = "c2sp/witness-add-checkpoint.json";

/// The witness's signing key, from the cosignature vectors (same vkey).
fn witness_skey(dir: &std::path::Path, vkey: &str) -> String {
    let v = load(dir, "c2sp/cosignature.json");
    v["ed25519"]
        .as_array()
        .expect("ed25519 cases")
        .iter()
        .find(|c| c["vkey"].as_str() == Some(vkey) && c["skey"].is_string())
        .map(|c| s(c, "skey").to_owned())
        .expect("skey of the vector witness")
}

/// The timestamp inside an expected cosignature line (bytes 4..12 of the
/// decoded signature), read from the vector itself.
fn timestamp_of_line(line: &str) -> u64 {
    let b64 = line
        .trim_end_matches('\n')
        .rsplit(' ')
        .next()
        .expect("signature field");
    let raw = STANDARD.decode(b64).expect("base64");
    u64::from_be_bytes(raw[4..12].try_into().expect("8 bytes"))
}

fn stored_state(state: &Value) -> Option<(u64, [u8; 32])> {
    if state["root_hash"].is_null() {
        // Never cosigned: an empty state (the vector writes size 0).
        assert_eq!(u(state, "size"), 0);
        None
    } else {
        Some((u(state, "size"), hash_b64(&state["root_hash"])))
    }
}

#[test]
fn every_add_checkpoint_scenario_gets_the_expected_status_and_cosignature() {
    let dir = vectors_dir(&[FILE, "c2sp/cosignature.json"]);
    let v = load(&dir, FILE);
    let origin = s(&v, "origin");
    let log_key = NoteVerifier::from_vkey(s(&v, "log_vkey")).expect("log vkey");
    let witness_vkey = s(&v, "witness_vkey");
    let witness_key = NoteVerifier::from_vkey(witness_vkey).expect("witness vkey");
    let signer = CosignatureV1Signer::from_skey(&witness_skey(&dir, witness_vkey)).expect("skey");
    let scenarios = v["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 17);
    let mut cosignatures_checked = 0;
    for c in scenarios {
        let id = s(c, "id");
        let body = s(c, "request_body").as_bytes();
        let expect = u(c, "expect_status");
        let (stored, keys) = if c["witness_state"].is_null() {
            (None, None)
        } else {
            assert_eq!(s(&c["witness_state"], "origin"), origin, "{id}");
            (
                stored_state(&c["witness_state"]),
                Some(&[log_key.clone()][..]),
            )
        };
        let decision = match AddCheckpoint::parse(body) {
            Ok(req) => {
                if keys.is_some() {
                    assert_eq!(req.origin, origin, "{id}");
                }
                decide(&req, stored, keys)
            }
            Err(e) => Decision::BadRequest(e.to_string()),
        };
        if let Some(ok) = c["acceptable_statuses"].as_array() {
            assert!(
                ok.iter()
                    .any(|s| s.as_u64() == Some(u64::from(decision.status()))),
                "{id}: {decision:?} not among {ok:?}"
            );
        }
        assert_eq!(
            u64::from(decision.status()),
            expect,
            "{id}: decided {decision:?}"
        );
        match &decision {
            Decision::Conflict { stored_size } => {
                assert_eq!(conflict_body(*stored_size), s(c, "expect_body"), "{id}");
                assert_eq!(
                    islet_tlog::witness::CONFLICT_CONTENT_TYPE,
                    s(c, "expect_content_type"),
                    "{id}"
                );
            }
            Decision::Cosign {
                new_size,
                new_root,
                text,
                log_signatures,
            } => {
                let cp = Checkpoint::parse(text).expect("cosigned text parses");
                assert_eq!((cp.size, cp.root), (*new_size, *new_root), "{id}");
                assert_eq!(log_signatures.len(), 1, "{id}: the log line is kept");
                if let Some(expected) = c["example_200_body"].as_str() {
                    let ts = timestamp_of_line(expected);
                    let raw = signer.sign_at(text, ts);
                    let line = NoteSignature {
                        name: witness_key.name().to_owned(),
                        key_id: witness_key.key_id(),
                        signature: raw,
                    }
                    .to_line();
                    assert_eq!(format!("{line}\n"), expected, "{id}: cosignature line");
                    cosignatures_checked += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        cosignatures_checked, 2,
        "both example 200 bodies reproduced"
    );
}

/// A note signed by the vector's log key over `text`.
fn signed_by_log(v: &Value, text: &str) -> Vec<u8> {
    let log = Ed25519Signer::from_skey(s(v, "log_skey_TEST_ONLY")).expect("log skey");
    islet_tlog::note::sign_note(text, &[&log]).expect("sign")
}

#[test]
fn a_checkpoint_with_extension_lines_is_a_bad_request() {
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    let log_key = NoteVerifier::from_vkey(s(&v, "log_vkey")).expect("log vkey");
    let text = "log.example/vectors\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n";
    let note = signed_by_log(&v, text);
    open(&note, std::slice::from_ref(&log_key)).expect("the log signature verifies");
    let mut body = b"old 0\n\n".to_vec();
    body.extend_from_slice(&note);
    let req = AddCheckpoint::parse(&body).expect("parses");
    let d = decide(&req, None, Some(std::slice::from_ref(&log_key)));
    assert!(
        matches!(&d, Decision::BadRequest(r) if r.contains("extension")),
        "{d:?}"
    );
}

#[test]
fn unverified_signature_lines_are_not_kept_for_storage() {
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    let log_key = NoteVerifier::from_vkey(s(&v, "log_vkey")).expect("log vkey");
    let first = &v["scenarios"][0];
    assert_eq!(s(first, "id"), "first-checkpoint");
    // Append a forged line in the witness's own name.
    let mut body = s(first, "request_body").as_bytes().to_vec();
    body.extend_from_slice(
        "— witness.example/w1 D2/3YAAAAABlU/EAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"
            .as_bytes(),
    );
    let req = AddCheckpoint::parse(&body).expect("parses");
    match decide(&req, None, Some(std::slice::from_ref(&log_key))) {
        Decision::Cosign { log_signatures, .. } => {
            assert_eq!(log_signatures.len(), 1);
            assert_eq!(log_signatures[0].name, "log.example/vectors");
            assert_eq!(log_signatures[0].key_id, log_key.key_id());
        }
        d => panic!("expected Cosign, got {d:?}"),
    }
}

/// Checks that fire in the spec's order when a request breaks several
/// rules at once (bodies signed with the vector's test log key).
#[test]
fn checks_fire_in_the_spec_order() {
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    let log_key = NoteVerifier::from_vkey(s(&v, "log_vkey")).expect("log vkey");
    let keys = Some(std::slice::from_ref(&log_key));
    let empty = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let other = "OzZ9bbe8UXJtkYsY6aeeD85T+Gf744Zx9gnmu1nUYDU=";
    let root8 = hash_b64(&Value::from("A27QlqfT8xteg2jNSWWsr4KLUMv0ZAidtY27v/pt7B8="));
    let request = |old: u64, text: &str| {
        let mut body = format!("old {old}\n\n").into_bytes();
        body.extend_from_slice(&signed_by_log(&v, text));
        AddCheckpoint::parse(&body).expect("parses")
    };
    let status = |req: &AddCheckpoint, stored| decide(req, stored, keys).status();

    // Size 0 with a wrong root is 422 even when `old` is stale (not 409).
    let zero_wrong = request(0, &format!("log.example/vectors\n0\n{other}\n"));
    assert_eq!(status(&zero_wrong, Some((8, root8))), 422);
    // `old > size` is 400 before the stale-size 409.
    let old_past = request(5, &format!("log.example/vectors\n0\n{empty}\n"));
    assert_eq!(status(&old_past, Some((8, root8))), 400);
    // A witness that never cosigned answers 409 with size 0 to `old` > 0.
    let from_8 = request(
        8,
        "log.example/vectors\n8\nA27QlqfT8xteg2jNSWWsr4KLUMv0ZAidtY27v/pt7B8=\n",
    );
    assert_eq!(
        decide(&from_8, None, keys),
        Decision::Conflict { stored_size: 0 }
    );
    // Same size with another root but a stale `old`: 409 (size first).
    let other8 = request(0, &format!("log.example/vectors\n8\n{other}\n"));
    assert_eq!(status(&other8, Some((8, root8))), 409);
    // Bad signature beats a malformed checkpoint: 403 before 400.
    let mut forged = format!("old 0\n\nlog.example/vectors\nnot a size\n{empty}\n\n").into_bytes();
    let sig = signed_by_log(&v, "log.example/vectors\n0\nx\n");
    let sig_line = sig.split(|&b| b == b'\n').nth(4).expect("signature line");
    forged.extend_from_slice(sig_line);
    forged.push(b'\n');
    let forged = AddCheckpoint::parse(&forged).expect("parses");
    assert_eq!(status(&forged, None), 403);
    // Unknown origin beats everything in the note.
    assert_eq!(decide(&forged, None, None), Decision::UnknownOrigin);
}

#[test]
fn a_conflict_body_is_parsed_strictly() {
    use islet_tlog::witness::parse_conflict_body;
    // The vector's own 409 body, and the edges a client must refuse
    // (transparency-dev/formats refuses the same shapes).
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    let stale = v["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .find(|c| c["id"] == "stale-old-size")
        .expect("stale-old-size");
    assert_eq!(
        parse_conflict_body(s(stale, "expect_body").as_bytes()),
        Some(8)
    );
    assert_eq!(parse_conflict_body(b"0\n"), Some(0));
    assert_eq!(
        parse_conflict_body(b"9223372036854775807\n"),
        Some(9_223_372_036_854_775_807)
    );
    for bad in [
        &b"50"[..],
        b"050\n",
        b"+5\n",
        b"5\n\n",
        b"5 \n",
        b"\n",
        b"",
        b"9223372036854775808\n",
        b"5\r\n",
    ] {
        assert_eq!(
            parse_conflict_body(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}
