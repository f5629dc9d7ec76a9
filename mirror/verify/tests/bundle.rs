//! The bundle format's rules (spec §3.1), each broken on the real staging
//! bundle (`tests/vectors/rekor-v2/sigstore-python`), and the in-toto
//! subject limits on a key-signed DSSE bundle made here.

#![allow(missing_docs, clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_verify::binding::{Binding, MAX_SUBJECTS};
use islet_verify::bundle::{Bundle, BundleVersion, MAX_TIMESTAMPS, MAX_TLOG_ENTRIES};
use islet_verify::trusted_root::TrustedRoot;
use islet_verify::{Artifact, ArtifactDigest, Check, Policy, Subject, Verifier};
use serde_json::{Value, json};

fn staging() -> Value {
    let dir = islet_testkit::vectors_dir(&[
        "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
    ]);
    serde_json::from_slice(
        &std::fs::read(dir.join("rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json"))
            .unwrap(),
    )
    .unwrap()
}

fn parse(b: &Value) -> Result<Bundle, String> {
    Bundle::parse(&serde_json::to_vec(b).unwrap())
}

fn refused(b: &Value, says: &str) {
    let e = parse(b).unwrap_err();
    assert!(e.contains(says), "expected {says:?} in {e:?}");
}

fn entry(b: &mut Value) -> &mut Value {
    &mut b["verificationMaterial"]["tlogEntries"][0]
}

#[test]
fn the_real_bundle_parses_and_its_fields_are_typed() {
    let b = parse(&staging()).unwrap();
    assert_eq!(b.version, BundleVersion::V0_3);
    assert_eq!(b.tlog_entries.len(), 1);
    assert_eq!(b.tlog_entries[0].log_index, 645);
    assert_eq!(b.timestamps.len(), 1);
    assert!(b.certificate().is_some());
}

#[test]
fn media_types_other_than_v0_1_to_v0_3_are_an_unknown_bundle_version() {
    for (mt, known) in [
        ("application/vnd.dev.sigstore.bundle+json;version=0.1", true),
        ("application/vnd.dev.sigstore.bundle+json;version=0.2", true),
        ("application/vnd.dev.sigstore.bundle+json;version=0.3", true),
        ("application/vnd.dev.sigstore.bundle.v0.3+json", true),
        ("application/vnd.dev.sigstore.bundle.v0.4+json", false),
        (
            "application/vnd.dev.sigstore.bundle+json;version=0.4",
            false,
        ),
        ("application/vnd.dev.sigstore.bundle+json", false),
        ("application/json", false),
        ("", false),
    ] {
        let mut b = staging();
        b["mediaType"] = mt.into();
        match parse(&b) {
            Ok(_) => assert!(known, "{mt}"),
            // v0.1 is a known version with other rules (this bundle has no
            // SET).
            Err(e) if known => {
                assert!(mt.ends_with("0.1"), "{mt}: {e}");
                assert!(e.contains("inclusionPromise"), "{mt}: {e}");
            }
            Err(e) => assert!(e.contains("unknown bundle version"), "{mt}: {e}"),
        }
    }
    let mut b = staging();
    b.as_object_mut().unwrap().remove("mediaType");
    refused(&b, "mediaType is missing");
}

#[test]
fn malformed_json_and_bad_base64_are_refused() {
    assert!(
        Bundle::parse(b"{\"mediaType\": ")
            .unwrap_err()
            .contains("not a bundle")
    );
    assert!(Bundle::parse(b"[]").unwrap_err().contains("not a bundle"));
    let mut b = staging();
    b["messageSignature"]["signature"] = "not base64!".into();
    refused(&b, "messageSignature.signature is not base64");
    let mut b = staging();
    b["messageSignature"]["signature"] = "".into();
    refused(&b, "messageSignature.signature is empty");
}

#[test]
fn unknown_fields_are_refused_and_proto_names_accepted() {
    let mut b = staging();
    b["extra"] = 1.into();
    refused(&b, "unknown field");
    let mut b = staging();
    entry(&mut b)["inclusionProof"]["extra"] = 1.into();
    refused(&b, "unknown field");
    let mut b = staging();
    b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["x"] = 1.into();
    refused(&b, "unknown field");
    // protojson readers take the proto field names too.
    let mut b = staging();
    let mt = b.as_object_mut().unwrap().remove("mediaType").unwrap();
    b["media_type"] = mt;
    let e = entry(&mut b).as_object_mut().unwrap();
    let body = e.remove("canonicalizedBody").unwrap();
    e.insert("canonicalized_body".into(), body);
    parse(&b).unwrap();
    // null is absent.
    let mut b = staging();
    b["dsseEnvelope"] = Value::Null;
    parse(&b).unwrap();
}

#[test]
fn int64_fields_are_strings_or_numbers_and_never_negative() {
    let mut b = staging();
    entry(&mut b)["logIndex"] = 645.into();
    entry(&mut b)["inclusionProof"]["treeSize"] = 646.into();
    assert_eq!(parse(&b).unwrap().tlog_entries[0].log_index, 645);
    for bad in [json!("-1"), json!(-1), json!(i64::MIN)] {
        let mut b = staging();
        entry(&mut b)["logIndex"] = bad;
        refused(&b, "logIndex -");
    }
    let mut b = staging();
    entry(&mut b)["inclusionProof"]["logIndex"] = "-645".into();
    refused(&b, "negative");
    for bad in [
        json!("1.5"),
        json!(1.5),
        json!("0x10"),
        json!(""),
        json!("+1"),
    ] {
        let mut b = staging();
        entry(&mut b)["logIndex"] = bad.clone();
        refused(&b, "not a bundle");
    }
}

#[test]
fn verification_material_is_exactly_one_signer() {
    let mut b = staging();
    b["verificationMaterial"]["publicKey"] = json!({ "hint": "k" });
    refused(&b, "exactly one of publicKey");
    let mut b = staging();
    b["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("certificate");
    refused(&b, "exactly one of publicKey");
    // A chain: not in v0.3; in v0.2 never empty.
    let mut b = staging();
    let cert = b["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("certificate")
        .unwrap();
    b["verificationMaterial"]["x509CertificateChain"] = json!({ "certificates": [cert] });
    refused(&b, "v0.3 carries a certificate");
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
    assert_eq!(parse(&b).unwrap().version, BundleVersion::V0_2);
    b["verificationMaterial"]["x509CertificateChain"] = json!({ "certificates": [] });
    refused(&b, "x509CertificateChain is empty");
    b["verificationMaterial"]["x509CertificateChain"] = json!({});
    refused(&b, "x509CertificateChain is empty");
}

#[test]
fn content_is_exactly_one_of_a_message_signature_and_an_envelope() {
    let envelope = json!({
        "payload": STANDARD.encode(b"{}"),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{ "sig": "AAAA", "keyid": "" }],
    });
    let mut b = staging();
    b["dsseEnvelope"] = envelope.clone();
    refused(&b, "both messageSignature and dsseEnvelope");
    b.as_object_mut().unwrap().remove("messageSignature");
    parse(&b).unwrap();
    for sigs in [json!([]), json!([{ "sig": "AAAA" }, { "sig": "AAAB" }])] {
        let mut b2 = b.clone();
        b2["dsseEnvelope"]["signatures"] = sigs;
        refused(&b2, "exactly one");
    }
    b.as_object_mut().unwrap().remove("dsseEnvelope");
    refused(&b, "neither messageSignature nor dsseEnvelope");
}

#[test]
fn tlog_entries_follow_the_entry_rules() {
    // Duplicate (logId, logIndex).
    let mut b = staging();
    let e = entry(&mut b).clone();
    b["verificationMaterial"]["tlogEntries"] = json!([e.clone(), e.clone()]);
    refused(&b, "two entries for index 645");
    // Another index of the same log is another entry.
    let mut other = e.clone();
    other["logIndex"] = "646".into();
    b["verificationMaterial"]["tlogEntries"] = json!([e.clone(), other]);
    parse(&b).unwrap();
    // Required fields.
    for field in ["logIndex", "logId", "kindVersion", "canonicalizedBody"] {
        let mut b = staging();
        entry(&mut b).as_object_mut().unwrap().remove(field);
        refused(&b, &format!("{field} is missing"));
    }
    // A proof needs its checkpoint.
    let mut b = staging();
    entry(&mut b)["inclusionProof"]
        .as_object_mut()
        .unwrap()
        .remove("checkpoint");
    refused(&b, "no checkpoint envelope");
    let mut b = staging();
    entry(&mut b)["inclusionProof"]["checkpoint"]["envelope"] = "".into();
    refused(&b, "no checkpoint envelope");
    // kindVersion is the body's.
    let mut b = staging();
    entry(&mut b)["kindVersion"]["kind"] = "dsse".into();
    refused(&b, "the body is");
    // v0.1 needs a SET.
    let mut b = staging();
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1".into();
    let cert = b["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("certificate")
        .unwrap();
    b["verificationMaterial"]["x509CertificateChain"] = json!({ "certificates": [cert] });
    refused(&b, "needs an inclusionPromise");
}

#[test]
fn at_most_32_entries_and_32_timestamps() {
    assert_eq!((MAX_TLOG_ENTRIES, MAX_TIMESTAMPS), (32, 32));
    let base = staging();
    let e = base["verificationMaterial"]["tlogEntries"][0].clone();
    let entries = |n: usize| {
        (0..n)
            .map(|i| {
                let mut x = e.clone();
                x["logIndex"] = i.to_string().into();
                x
            })
            .collect::<Vec<_>>()
    };
    let mut b = base.clone();
    b["verificationMaterial"]["tlogEntries"] = entries(MAX_TLOG_ENTRIES).into();
    assert_eq!(parse(&b).unwrap().tlog_entries.len(), MAX_TLOG_ENTRIES);
    b["verificationMaterial"]["tlogEntries"] = entries(MAX_TLOG_ENTRIES + 1).into();
    refused(&b, "tlogEntries has more than 32");

    let stamps = |n: usize| {
        (0..n)
            .map(|i| json!({ "signedTimestamp": STANDARD.encode(format!("token {i}")) }))
            .collect::<Vec<_>>()
    };
    let mut b = base.clone();
    b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] =
        stamps(MAX_TIMESTAMPS).into();
    assert_eq!(parse(&b).unwrap().timestamps.len(), MAX_TIMESTAMPS);
    b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] =
        stamps(MAX_TIMESTAMPS + 1).into();
    refused(&b, "rfc3161Timestamps has more than 32");
    // The same timestamp twice.
    let mut b = base.clone();
    let t = b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0].clone();
    b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] = json!([t, t]);
    refused(&b, "given twice");
}

/// A key-signed bundle v0.3 without log entries over a DSSE in-toto
/// statement of `subjects` subjects, the last one the artifact: the P-256
/// key signs the PAE (built here from the DSSE specification's format).
fn key_dsse(subjects: usize, payload_type: &str) -> (Value, Vec<u8>, [u8; 32]) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
    let artifact = b"the artifact";
    let sha256: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, artifact)
        .as_ref()
        .try_into()
        .unwrap();
    let mut list: Vec<Value> = (0..subjects.saturating_sub(1))
        .map(|i| json!({ "name": format!("other {i}"), "digest": { "sha256": format!("{i:064x}") } }))
        .collect();
    list.push(json!({ "name": "the artifact", "digest": { "sha256": hex::encode(sha256) } }));
    let payload = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": list,
        "predicateType": "https://islet.example/test/v1",
        "predicate": {},
    }))
    .unwrap();
    let pae = [
        format!(
            "DSSEv1 {} {payload_type} {} ",
            payload_type.len(),
            payload.len()
        )
        .as_bytes(),
        &payload,
    ]
    .concat();
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
    let sig = key.sign(&rng, &pae).unwrap();
    // SubjectPublicKeyInfo of a P-256 point: the fixed prefix of RFC 5480.
    let mut spki = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    spki.extend_from_slice(key.public_key().as_ref());
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": { "publicKey": { "hint": "test" } },
        "dsseEnvelope": {
            "payload": STANDARD.encode(&payload),
            "payloadType": payload_type,
            "signatures": [{ "sig": STANDARD.encode(sig.as_ref()), "keyid": "" }],
        },
    });
    (bundle, spki, sha256)
}

fn verify_key(
    bundle: &Value,
    key: Vec<u8>,
    subject: Option<Subject>,
) -> Result<Binding, (Check, String)> {
    let root = TrustedRoot::parse(
        br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
    )
    .unwrap();
    let policy = Policy {
        key: Some(key),
        artifact: subject,
        min_tlog: 0,
        ..Policy::default()
    };
    Verifier::new(&root, None, policy)
        .verify(&serde_json::to_vec(bundle).unwrap())
        .map(|v| v.binding)
        .map_err(|f| (f.check, f.reason))
}

#[test]
fn in_toto_subjects_are_matched_up_to_1024() {
    assert_eq!(MAX_SUBJECTS, 1024);
    let (b, key, sha256) = key_dsse(MAX_SUBJECTS, "application/vnd.in-toto+json");
    let artifact = Some(Subject::Artifact(Artifact::of(b"the artifact")));
    match verify_key(&b, key.clone(), artifact.clone()).unwrap() {
        Binding::Subject {
            name,
            subjects,
            digest,
            ..
        } => {
            assert_eq!(
                (name.as_str(), subjects, digest),
                ("the artifact", MAX_SUBJECTS, hex::encode(sha256))
            );
        }
        other => panic!("{other:?}"),
    }
    // --digest sha256:… matches too, another digest does not.
    let given =
        Subject::Digest(ArtifactDigest::parse(&format!("sha256:{}", hex::encode(sha256))).unwrap());
    verify_key(&b, key.clone(), Some(given)).unwrap();
    let (check, reason) = verify_key(
        &b,
        key.clone(),
        Some(Subject::Artifact(Artifact::of(b"another artifact"))),
    )
    .unwrap_err();
    assert_eq!(check, Check::Artifact, "{reason}");
    // Without an artifact: the envelope only.
    assert!(matches!(
        verify_key(&b, key, None).unwrap(),
        Binding::EnvelopeOnly { .. }
    ));
    // One subject more than the limit.
    let (b, key, _) = key_dsse(MAX_SUBJECTS + 1, "application/vnd.in-toto+json");
    let (check, reason) = verify_key(&b, key, artifact.clone()).unwrap_err();
    assert_eq!(check, Check::Artifact, "{reason}");
    assert!(reason.contains("1025 subjects"), "{reason}");
    // Another payload type cannot be matched against an artifact.
    let (b, key, _) = key_dsse(1, "application/json");
    verify_key(&b, key.clone(), None).unwrap();
    let (check, reason) = verify_key(&b, key, artifact).unwrap_err();
    assert_eq!(check, Check::Artifact, "{reason}");
    assert!(reason.contains("payload type"), "{reason}");
}

#[test]
fn artifact_digests_are_given_as_alg_hex() {
    let d = ArtifactDigest::parse(&format!("sha384:{}", "ab".repeat(48))).unwrap();
    assert_eq!(d.digest.len(), 48);
    for bad in [
        "sha256:abcd",
        "md5:00",
        "sha256",
        &format!("sha512:{}", "zz".repeat(64)),
    ] {
        assert!(ArtifactDigest::parse(bad).is_err(), "{bad}");
    }
}
