//! Offline verification of the real staging bundle from sigstore-python
//! (`tests/vectors/rekor-v2/sigstore-python` at the workspace root), and of tampered
//! variants, each failing at the check that catches it.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_verify::bundle::DigestAlgorithm;
use islet_verify::trusted_root::TrustedRoot;
use islet_verify::{ArtifactDigest, Check, Policy, Subject, Verified, Verifier};
use serde_json::Value;

const ARTIFACT_SHA256: &str = "15f67246115921bb7c1de0e7e9e9275c8016dc254a0c009888944b7ed3644aaa";

/// The directory of the staging bundle and its trusted root in the vectors.
fn vectors() -> PathBuf {
    islet_testkit::vectors_dir(&[
        "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
        "rekor-v2/sigstore-python/trusted_root.staging.json",
    ])
    .join("rekor-v2/sigstore-python")
}

fn load(dir: &Path) -> (Value, Value) {
    let bundle = std::fs::read(dir.join("staging-rekor-v2.txt.sigstore.json")).unwrap();
    let root = std::fs::read(dir.join("trusted_root.staging.json")).unwrap();
    (
        serde_json::from_slice(&bundle).unwrap(),
        serde_json::from_slice(&root).unwrap(),
    )
}

/// The default policy with the staging bundle's identity (its signer and
/// issuer, as `openssl x509 -ext subjectAltName` shows them and the
/// vectors' notes say) and the artifact's digest.
fn tlog_policy(artifact: Option<[u8; 32]>) -> Policy {
    Policy {
        identity: Some(
            islet_verify::identity::IdentityPolicy::new(
                Some("jku@goto.fi".into()),
                None,
                Some("https://github.com/login/oauth".into()),
                None,
            )
            .unwrap(),
        ),
        artifact: artifact.map(|d| {
            Subject::Digest(ArtifactDigest {
                algorithm: DigestAlgorithm::Sha256,
                digest: d.to_vec(),
            })
        }),
        ..Policy::default()
    }
}

fn verify_with(bundle: &Value, root: &Value, policy: Policy) -> Result<Verified, (Check, String)> {
    let root = TrustedRoot::parse(&serde_json::to_vec(root).unwrap()).unwrap();
    let v = Verifier::new(&root, None, policy);
    v.verify(&serde_json::to_vec(bundle).unwrap())
        .map_err(|f| (f.check, f.reason))
}

/// A Rekor v2 bundle made here has no RFC 3161 timestamp: every log check
/// passes, and it fails at the next step, the timestamp a Rekor v2 entry
/// needs.
fn passes_the_log_checks(bundle: &Value, root: &Value) {
    let (check, reason) = verify_test(bundle, root).unwrap_err();
    assert_eq!(check, Check::TimeThreshold, "{reason}");
    assert!(reason.contains("Rekor v2"), "{reason}");
}

/// A synthetic bundle of these tests with the test identity.
fn verify_test(bundle: &Value, root: &Value) -> Result<(), (Check, String)> {
    verify_with(bundle, root, test_policy()).map(|_| ())
}

fn verify(bundle: &Value, root: &Value, artifact: Option<[u8; 32]>) -> Result<(), (Check, String)> {
    verify_with(bundle, root, tlog_policy(artifact)).map(|_| ())
}

fn digest() -> [u8; 32] {
    hex::decode(ARTIFACT_SHA256).unwrap().try_into().unwrap()
}

fn entry(b: &mut Value) -> &mut Value {
    &mut b["verificationMaterial"]["tlogEntries"][0]
}

fn envelope(b: &mut Value) -> String {
    entry(b)["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn set_envelope(b: &mut Value, text: &str) {
    entry(b)["inclusionProof"]["checkpoint"]["envelope"] = Value::String(text.to_owned());
}

/// Flips one bit of a base64 field's decoded bytes.
fn flip_b64(v: &mut Value, at: usize) {
    let mut bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    bytes[at] ^= 1;
    *v = Value::String(STANDARD.encode(bytes));
}

#[test]
fn the_staging_bundle_verifies_offline_with_the_staging_root() {
    let dir = vectors();
    let (bundle, root) = load(&dir);
    let parsed = TrustedRoot::parse(&serde_json::to_vec(&root).unwrap()).unwrap();
    let v = Verifier::new(&parsed, None, tlog_policy(Some(digest())));
    let ok = v.verify(&serde_json::to_vec(&bundle).unwrap()).unwrap();
    let [e] = ok.entries.as_slice() else {
        panic!("one entry: {ok:?}")
    };
    assert_eq!(
        (
            e.kind.as_str(),
            e.version.as_str(),
            e.log_index,
            e.tree_size
        ),
        ("hashedrekord", "0.0.2", 645, 646)
    );
    assert_eq!(e.origin, "log2025-alpha1.rekor.sigstage.dev");
    assert!(ok.rekor_verified);
    assert!(!ok.signed_by_key);
}

#[test]
fn tampered_bundles_fail_at_the_check_that_catches_them() {
    let dir = vectors();
    let (bundle, root) = load(&dir);
    type Tamper = fn(&mut Value, &mut Value);
    let cases: Vec<(&str, Tamper, Check, &str)> = vec![
        (
            "one bit of the logged body (inside the certificate's base64)",
            |b, _| flip_b64(&mut entry(b)["canonicalizedBody"], 620),
            Check::InclusionProof,
            "",
        ),
        (
            "one bit of a proof hash",
            |b, _| flip_b64(&mut entry(b)["inclusionProof"]["hashes"][2], 5),
            Check::InclusionProof,
            "",
        ),
        (
            "the proof's root",
            |b, _| flip_b64(&mut entry(b)["inclusionProof"]["rootHash"], 0),
            Check::Checkpoint,
            "the proof is for",
        ),
        (
            "the checkpoint's root",
            |b, _| {
                let text = envelope(b).replace("kNum4Jmd", "kNum4JmE");
                set_envelope(b, &text);
            },
            Check::Checkpoint,
            "",
        ),
        (
            "the checkpoint's signature line",
            |b, _| {
                let text = envelope(b).replace("8w1amQA0XB55", "8w1amQA0XB56");
                set_envelope(b, &text);
            },
            Check::Checkpoint,
            "",
        ),
        (
            "the checkpoint's origin",
            |b, _| {
                let text = envelope(b).replacen("log2025-alpha1", "log2025-alpha9", 1);
                set_envelope(b, &text);
            },
            Check::Checkpoint,
            "",
        ),
        (
            "the signed digest",
            |b, _| flip_b64(&mut b["messageSignature"]["messageDigest"]["digest"], 3),
            Check::Signature,
            "does not verify",
        ),
        (
            "the signature",
            |b, _| flip_b64(&mut b["messageSignature"]["signature"], 20),
            Check::Signature,
            "does not verify",
        ),
        (
            "the entry's index",
            |b, _| entry(b)["logIndex"] = Value::String("644".into()),
            Check::InclusionProof,
            "index",
        ),
        (
            "a trusted root without the log",
            |_, r| {
                r["tlogs"].as_array_mut().unwrap().remove(1);
            },
            Check::UnknownLog,
            "f30d5a99",
        ),
        (
            "a trusted root with another key for the log",
            |_, r| {
                r["tlogs"][1]["publicKey"]["rawBytes"] =
                    r["tlogs"][2]["publicKey"]["rawBytes"].clone();
            },
            Check::Checkpoint,
            "",
        ),
        (
            "a trusted root with another host for the log",
            |_, r| {
                r["tlogs"][1]["baseUrl"] = "https://log2025-alpha1.example.org".into();
            },
            Check::Checkpoint,
            "",
        ),
        (
            "a trusted root whose key expired before the signing",
            |_, r| {
                r["tlogs"][1]["publicKey"]["validFor"]["end"] = "2025-05-01T00:00:00Z".into();
            },
            Check::KeyValidity,
            "2025-05-01",
        ),
        (
            "a trusted root whose key starts after the signing",
            |_, r| {
                r["tlogs"][1]["publicKey"]["validFor"]["start"] = "2025-07-01T00:00:00Z".into();
            },
            Check::KeyValidity,
            "2025-07-01",
        ),
        (
            "another media type",
            |b, _| b["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.4+json".into(),
            Check::Bundle,
            "unknown bundle version",
        ),
        (
            "no inclusion proof",
            |b, _| {
                entry(b).as_object_mut().unwrap().remove("inclusionProof");
            },
            Check::InclusionProof,
            "no inclusion proof",
        ),
        (
            "a kindVersion that is not the body's",
            |b, _| entry(b)["kindVersion"]["version"] = "0.0.3".into(),
            Check::Bundle,
            "the body is",
        ),
    ];
    for (what, tamper, check, says) in cases {
        let (mut b, mut r) = (bundle.clone(), root.clone());
        tamper(&mut b, &mut r);
        let (found, reason) = verify(&b, &r, None).unwrap_err();
        assert_eq!(found, check, "{what}: {reason}");
        assert!(reason.contains(says), "{what}: {reason}");
    }
    // The right artifact passes, another one fails.
    verify(&bundle, &root, Some(digest())).unwrap();
    let mut other = digest();
    other[0] ^= 1;
    let (found, reason) = verify(&bundle, &root, Some(other)).unwrap_err();
    assert_eq!(found, Check::Artifact, "{reason}");
    // Unknown cosignature lines on the checkpoint are ignored.
    let mut b = bundle.clone();
    let text = envelope(&mut b)
        + "\u{2014} witness.example.org AAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    set_envelope(&mut b, &text);
    verify(&b, &root, None).unwrap();
}

/// A test certificate authority (self-signed, P-256) that issues
/// code-signing certificates, as Fulcio does: its DER, and the entry the
/// trusted roots of these tests list it under.
struct TestCa {
    der: Vec<u8>,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

/// The email every test certificate names, and the identity policy for it
/// (these certificates have no OIDC-issuer extension, so only an issuer
/// pattern matching the empty string passes).
const SIGNER_EMAIL: &str = "signer@example.org";

fn signer_identity() -> islet_verify::identity::IdentityPolicy {
    islet_verify::identity::IdentityPolicy::new(Some(SIGNER_EMAIL.into()), None, None, Some(".*"))
        .unwrap()
}

fn test_ca() -> TestCa {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "islet test CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params.not_before = rcgen::date_time_ymd(1975, 1, 1);
    params.not_after = rcgen::date_time_ymd(4096, 1, 1);
    let der = params.self_signed(&key).unwrap().der().to_vec();
    TestCa { der, params, key }
}

impl TestCa {
    /// The trusted root's `certificateAuthorities` entry.
    fn entry(&self) -> Value {
        serde_json::json!([{
            "uri": "https://ca.example.org",
            "certChain": { "certificates": [{ "rawBytes": STANDARD.encode(&self.der) }] },
            "validFor": { "start": "1975-01-01T00:00:00Z" },
        }])
    }
}

/// A P-256 signing key and a code-signing certificate for it (DER) that
/// `ca` issued for [`SIGNER_EMAIL`].
fn certificate_signer(ca: &TestCa) -> (Vec<u8>, aws_lc_rs::signature::EcdsaKeyPair) {
    certificate_signer_valid(ca, (1975, 1, 1), (4096, 1, 1))
}

/// The same, valid from `from` to `until` (year, month, day; midnight UTC).
fn certificate_signer_valid(
    ca: &TestCa,
    from: (i32, u8, u8),
    until: (i32, u8, u8),
) -> (Vec<u8>, aws_lc_rs::signature::EcdsaKeyPair) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
    let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![rcgen::SanType::Rfc822Name(SIGNER_EMAIL.try_into().unwrap())];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
    let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
    let cert = params.signed_by(&signing, &issuer).unwrap().der().to_vec();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &signing.serialize_der())
        .unwrap();
    (cert, key)
}

/// The policy for the certificates made here: the test identity, no SCT
/// (the test CA logs to no CT log).
fn test_policy() -> Policy {
    Policy {
        identity: Some(signer_identity()),
        require_sct: false,
        ..Policy::default()
    }
}

/// A Rekor v1 log of two entries, made here by hand: an ECDSA P-256 log
/// key, a hashedrekord 0.0.1 body for a certificate-signed artifact, a
/// checkpoint in Rekor v1's shape (`<host> - <tree ID>`, a `Timestamp:`
/// line), a signed entry timestamp over the entry (its payload written out
/// by hand here: RFC 8785 orders the keys body, integratedTime, logID,
/// logIndex), and a bundle v0.1 with a certificate chain valid in 2023.
struct RekorV1 {
    bundle: Value,
    root: Value,
}

fn rekor_v1(integrated_time: u64) -> RekorV1 {
    use islet_signer::EcdsaP256Signer;
    use islet_tlog::checkpoint::Checkpoint;
    use islet_tlog::merkle::{leaf_hash, node_hash};
    use islet_tlog::note::NoteSigner;

    let (log_signer, log_pkcs8) = EcdsaP256Signer::generate("rekor.example.org").unwrap();
    let log_spki = log_signer.spki().to_vec();
    let ca = test_ca();
    let (cert_der, key) = certificate_signer_valid(&ca, (2023, 1, 1), (2024, 1, 1));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"a rekor v1 artifact");
    let sig = key.sign_digest(&digest).unwrap().as_ref().to_vec();
    // PEM as Go's encoding/pem writes it (what Rekor v1 logs).
    let b64_der = STANDARD.encode(&cert_der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64_der.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let body = format!(
        r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}}"#,
        hex::encode(digest.as_ref()),
        STANDARD.encode(&sig),
        STANDARD.encode(pem.as_bytes())
    );
    let other = leaf_hash(b"another entry");
    let root = node_hash(&leaf_hash(body.as_bytes()), &other);
    let note = Checkpoint {
        origin: "rekor.example.org - 2605736670972794746".into(),
        size: 2,
        root,
        extensions: vec!["Timestamp: 1700000000000000000".into()],
    }
    .sign(&[&log_signer as &dyn NoteSigner])
    .unwrap();
    let log_id = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &log_spki);
    let set_payload = format!(
        r#"{{"body":"{}","integratedTime":{integrated_time},"logID":"{}","logIndex":0}}"#,
        STANDARD.encode(body.as_bytes()),
        hex::encode(log_id.as_ref())
    );
    let set_key = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &log_pkcs8,
    )
    .unwrap();
    let set = set_key
        .sign(
            &aws_lc_rs::rand::SystemRandom::new(),
            set_payload.as_bytes(),
        )
        .unwrap();
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": { "certificates": [{ "rawBytes": STANDARD.encode(&cert_der) }] },
            "tlogEntries": [{
                "logIndex": "0",
                "logId": { "keyId": STANDARD.encode(log_id.as_ref()) },
                "kindVersion": { "kind": "hashedrekord", "version": "0.0.1" },
                "integratedTime": integrated_time.to_string(),
                "inclusionPromise": { "signedEntryTimestamp": STANDARD.encode(set.as_ref()) },
                "inclusionProof": {
                    "logIndex": "0",
                    "rootHash": STANDARD.encode(root),
                    "treeSize": "2",
                    "hashes": [STANDARD.encode(other)],
                    "checkpoint": { "envelope": String::from_utf8(note).unwrap() },
                },
                "canonicalizedBody": STANDARD.encode(body.as_bytes()),
            }],
        },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest.as_ref()) },
            "signature": STANDARD.encode(&sig),
        },
    });
    let root = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "certificateAuthorities": ca.entry(),
        "tlogs": [{
            "baseUrl": "https://rekor.example.org",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(&log_spki),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": { "start": "2023-01-01T00:00:00Z" },
            },
            "logId": { "keyId": STANDARD.encode(log_id.as_ref()) },
        }],
    });
    RekorV1 { bundle, root }
}

#[test]
fn rekor_v1_entries_with_a_proof_and_a_checkpoint_verify() {
    // 2023-11-14, inside the key's validity.
    let v1 = rekor_v1(1_700_000_000);
    verify_test(&v1.bundle, &v1.root).unwrap();

    // Integrated before the key's validity.
    let early = rekor_v1(1_600_000_000);
    let (check, reason) = verify_test(&early.bundle, &early.root).unwrap_err();
    assert_eq!(check, Check::KeyValidity, "{reason}");

    // A checkpoint origin that is not "<host> - <tree ID>".
    let mut b = v1.bundle.clone();
    let text = envelope(&mut b).replacen(" - 2605736670972794746", "", 1);
    set_envelope(&mut b, &text);
    let (check, reason) = verify_test(&b, &v1.root).unwrap_err();
    assert_eq!(check, Check::Checkpoint, "{reason}");
    assert!(reason.contains("tree ID"), "{reason}");

    // Another certificate in the bundle than the one logged.
    let other = rekor_v1(1_700_000_000);
    let mut b = v1.bundle.clone();
    b["verificationMaterial"]["x509CertificateChain"] =
        other.bundle["verificationMaterial"]["x509CertificateChain"].clone();
    let (check, reason) = verify_test(&b, &v1.root).unwrap_err();
    assert_eq!(check, Check::Body, "{reason}");
    assert!(reason.contains("certificate"), "{reason}");

    // Another signature: not the logged one.
    let mut b = v1.bundle.clone();
    b["messageSignature"]["signature"] = other.bundle["messageSignature"]["signature"].clone();
    let (check, _) = verify_test(&b, &v1.root).unwrap_err();
    assert_eq!(check, Check::Body);
}

/// The SET: a verified one makes the integrated time a verified time (the
/// default policy's one time for a certificate bundle); a bad one fails
/// the bundle; a v0.1 bundle without one is malformed; an integrated time
/// outside the certificate's validity fails.
#[test]
fn a_rekor_v1_set_gives_a_verified_time_and_a_bad_one_fails() {
    let v1 = rekor_v1(1_700_000_000);
    let policy = test_policy();
    let ok = verify_with(&v1.bundle, &v1.root, policy.clone()).unwrap();
    assert_eq!(ok.times.len(), 1, "{ok:?}");
    let time = serde_json::to_value(&ok.times[0]).unwrap();
    assert_eq!(
        time,
        serde_json::json!({
            "time": "2023-11-14T22:13:20Z",
            "source": { "type": "tlog", "log": "https://rekor.example.org", "log_index": 0 },
        })
    );
    assert_eq!(
        ok.entries[0].integrated_time.as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    assert!(ok.rekor_verified);
    // Hours from the SET's time to the verification time.
    let root = TrustedRoot::parse(&serde_json::to_vec(&v1.root).unwrap()).unwrap();
    let mut v = Verifier::new(&root, None, policy.clone());
    v.now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + 7 * 3600 + 59);
    let ok = v.verify(&serde_json::to_vec(&v1.bundle).unwrap()).unwrap();
    assert_eq!(ok.rekor_age_hours, Some(7));
    v.now = std::time::UNIX_EPOCH;
    let ok = v.verify(&serde_json::to_vec(&v1.bundle).unwrap()).unwrap();
    assert_eq!(ok.rekor_age_hours, Some(0));

    // One bit of the SET.
    let mut b = v1.bundle.clone();
    flip_b64(
        &mut entry(&mut b)["inclusionPromise"]["signedEntryTimestamp"],
        12,
    );
    let (check, reason) = verify_with(&b, &v1.root, policy.clone()).unwrap_err();
    assert_eq!(check, Check::InclusionPromise, "{reason}");
    // Another integrated time than the one signed.
    let mut b = v1.bundle.clone();
    entry(&mut b)["integratedTime"] = "1700000001".into();
    let (check, reason) = verify_with(&b, &v1.root, policy.clone()).unwrap_err();
    assert_eq!(check, Check::InclusionPromise, "{reason}");
    assert!(reason.contains("does not verify"), "{reason}");
    // Another log's key.
    let other = rekor_v1(1_700_000_000);
    let mut r = v1.root.clone();
    r["tlogs"][0]["publicKey"]["rawBytes"] =
        other.root["tlogs"][0]["publicKey"]["rawBytes"].clone();
    let (check, _) = verify_with(&v1.bundle, &r, policy.clone()).unwrap_err();
    assert!(matches!(check, Check::InclusionPromise), "{check:?}");

    // A v0.1 bundle without a SET is malformed; without its integrated
    // time and the SET, a v0.2 bundle has no verified time.
    let mut b = v1.bundle.clone();
    entry(&mut b)
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise");
    let (check, reason) = verify_with(&b, &v1.root, policy.clone()).unwrap_err();
    assert_eq!(check, Check::Bundle, "{reason}");
    assert!(reason.contains("inclusionPromise"), "{reason}");
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
    let (check, reason) = verify_with(&b, &v1.root, policy.clone()).unwrap_err();
    assert_eq!(check, Check::TimeThreshold, "{reason}");

    // 2024-03-09: the log key is valid, the certificate (2023) is not.
    let late = rekor_v1(1_710_000_000);
    let (check, reason) = verify_with(&late.bundle, &late.root, policy).unwrap_err();
    assert_eq!(check, Check::IntegratedTime, "{reason}");
    assert!(reason.contains("2024-03-09"), "{reason}");
}

#[test]
fn a_message_signature_without_its_digest_is_checked_against_the_artifact_or_the_log() {
    let dir = vectors();
    let (mut bundle, root) = load(&dir);
    bundle["messageSignature"]
        .as_object_mut()
        .unwrap()
        .remove("messageDigest");
    verify(&bundle, &root, None).unwrap();
    verify(&bundle, &root, Some(digest())).unwrap();
    let mut other = digest();
    other[31] ^= 1;
    let (check, reason) = verify(&bundle, &root, Some(other)).unwrap_err();
    assert_eq!(check, Check::Signature, "{reason}");
}

/// A log holding one historic dsse v0.0.2 entry (built by islet's entry
/// validation, as `islet serve` logs a `dsseRequestV002`), and a bundle
/// v0.2 for it with a certificate chain.
fn dsse_log() -> (Value, Value, [u8; 32]) {
    use aws_lc_rs::rand::SystemRandom;
    use islet_rekor::entry::{EntryPolicy, pae, validate};
    use islet_rekor::request::parse_request;
    use islet_signer::Ed25519Signer;
    use islet_tlog::checkpoint::Checkpoint;
    use islet_tlog::merkle::{leaf_hash, node_hash};
    use islet_tlog::note::NoteSigner;

    let ca = test_ca();
    let (cert, key) = certificate_signer(&ca);
    let subject = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"an attested artifact");
    let subject: [u8; 32] = subject.as_ref().try_into().unwrap();
    let payload = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "artifact", "digest": { "sha256": hex::encode(subject) } }],
        "predicateType": "https://islet.example/test/v1",
        "predicate": {},
    }))
    .unwrap();
    let payload_type = "application/vnd.in-toto+json";
    let sig = key
        .sign(&SystemRandom::new(), &pae(payload_type, &payload))
        .unwrap()
        .as_ref()
        .to_vec();
    let envelope = serde_json::json!({
        "payload": STANDARD.encode(&payload),
        "payloadType": payload_type,
        "signatures": [{ "sig": STANDARD.encode(&sig), "keyid": "" }],
    });
    let request = serde_json::json!({ "dsseRequestV002": {
        "envelope": envelope,
        "verifiers": [{
            "x509Certificate": { "rawBytes": STANDARD.encode(&cert) },
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
        }],
    }});
    let body = validate(
        parse_request(&serde_json::to_vec(&request).unwrap()).unwrap(),
        EntryPolicy::default(),
    )
    .unwrap()
    .body;
    let other = leaf_hash(b"the entry before");
    let root = node_hash(&other, &leaf_hash(&body));
    let log_key = Ed25519Signer::from_seed("dsse.example.org", &[3; 32]).unwrap();
    let note = Checkpoint {
        origin: "dsse.example.org".into(),
        size: 2,
        root,
        extensions: vec![],
    }
    .sign(&[&log_key as &dyn NoteSigner])
    .unwrap();
    let log_id = STANDARD.encode(log_key.verifier().rekor_log_id().unwrap());
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "verificationMaterial": {
            "x509CertificateChain": { "certificates": [{ "rawBytes": STANDARD.encode(&cert) }] },
            "tlogEntries": [{
                "logIndex": "1",
                "logId": { "keyId": log_id },
                "kindVersion": { "kind": "dsse", "version": "0.0.2" },
                "inclusionProof": {
                    "logIndex": "1",
                    "rootHash": STANDARD.encode(root),
                    "treeSize": "2",
                    "hashes": [STANDARD.encode(other)],
                    "checkpoint": { "envelope": String::from_utf8(note).unwrap() },
                },
                "canonicalizedBody": STANDARD.encode(&body),
            }],
        },
        "dsseEnvelope": envelope,
    });
    let spki = log_key.spki();
    let trusted = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "certificateAuthorities": ca.entry(),
        "tlogs": [{
            "baseUrl": "https://dsse.example.org",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(&spki),
                "keyDetails": "PKIX_ED25519",
                "validFor": { "start": "2024-01-01T00:00:00Z" },
            },
            "logId": { "keyId": log_id },
        }],
    });
    (bundle, trusted, subject)
}

#[test]
fn a_dsse_v002_entry_verifies_against_its_envelope_and_subject() {
    let (bundle, root, _subject) = dsse_log();
    passes_the_log_checks(&bundle, &root);

    // Another payload under the same signature: it does not verify.
    let mut b = bundle.clone();
    b["dsseEnvelope"]["payload"] = STANDARD.encode(b"{}").into();
    let (check, reason) = verify_test(&b, &root).unwrap_err();
    assert_eq!(check, Check::Signature, "{reason}");
    // A message signature where the log holds a dsse entry.
    let mut b = bundle.clone();
    b.as_object_mut().unwrap().remove("dsseEnvelope");
    b["messageSignature"] = serde_json::json!({ "signature": "AAAA" });
    let (check, reason) = verify_test(&b, &root).unwrap_err();
    assert_eq!(check, Check::Body, "{reason}");
}

/// Times are checked arithmetic: an integratedTime RFC 3339 can still write
/// is a time the key's validity is checked at; one second later, near
/// 2^63 or at the largest u64 is refused as a malformed bundle, never a
/// panic.
#[test]
fn integrated_times_past_9999_are_refused_and_the_last_second_of_9999_is_checked() {
    use islet_verify::MAX_TIME_SECONDS;
    let (bundle, root) = load(&vectors());
    let with_time = |t: String| {
        let mut b = bundle.clone();
        entry(&mut b)["integratedTime"] = Value::String(t);
        verify(&b, &root, Some(digest()))
    };
    // At the limit: a real time, checked against the key's validFor (the
    // staging key was valid in 2025 only).
    let (check, reason) = with_time(MAX_TIME_SECONDS.to_string()).unwrap_err();
    assert_eq!(check, Check::KeyValidity, "{reason}");
    assert!(
        reason.contains("at its integrated time 9999-12-31T23:59:59Z"),
        "{reason}"
    );
    for past in [
        (MAX_TIME_SECONDS + 1).to_string(),
        (i64::MAX as u64 - 1).to_string(),
        i64::MAX.to_string(),
    ] {
        let (check, reason) = with_time(past.clone()).expect_err(&past);
        assert_eq!(check, Check::Bundle, "{past}: {reason}");
        assert!(reason.contains("past 9999-12-31"), "{past}: {reason}");
    }
    // integratedTime is an int64: past 2^63-1, or negative, it is not one.
    for bad in [u64::MAX.to_string(), (i64::MAX as u64 + 1).to_string()] {
        let (check, reason) = with_time(bad.clone()).expect_err(&bad);
        assert_eq!(check, Check::Bundle, "{bad}: {reason}");
        assert!(reason.contains("int64"), "{bad}: {reason}");
    }
    let (check, reason) = with_time("-1".into()).unwrap_err();
    assert_eq!(check, Check::Bundle, "{reason}");
    assert!(reason.contains("negative"), "{reason}");
}

/// A Rekor v2 log holding one hashedrekord 0.0.2 entry for a
/// certificate-signed digest, built by islet's entry validation from a
/// request whose verifier is the certificate, or (`key_as_public_key`) the
/// certificate's public key as sigstore-js 5 sends it; and a bundle v0.3
/// carrying the certificate.
fn hashedrekord_v2_log(key_as_public_key: bool) -> (Value, Value) {
    use islet_rekor::entry::{EntryPolicy, validate};
    use islet_rekor::request::parse_request;
    use islet_signer::Ed25519Signer;
    use islet_tlog::checkpoint::Checkpoint;
    use islet_tlog::merkle::leaf_hash;
    use islet_tlog::note::NoteSigner;
    use x509_cert::der::{Decode, Encode};

    let ca = test_ca();
    let (cert, key) = certificate_signer(&ca);
    let spki = x509_cert::Certificate::from_der(&cert)
        .unwrap()
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"a js artifact");
    let sig = key.sign_digest(&digest).unwrap().as_ref().to_vec();
    let verifier = if key_as_public_key {
        serde_json::json!({ "publicKey": { "rawBytes": STANDARD.encode(&spki) }, "keyDetails": "PKIX_ECDSA_P256_SHA_256" })
    } else {
        serde_json::json!({ "x509Certificate": { "rawBytes": STANDARD.encode(&cert) }, "keyDetails": "PKIX_ECDSA_P256_SHA_256" })
    };
    let request = serde_json::json!({ "hashedRekordRequestV002": {
        "digest": STANDARD.encode(digest.as_ref()),
        "signature": { "content": STANDARD.encode(&sig), "verifier": verifier },
    }});
    let body = validate(
        parse_request(&serde_json::to_vec(&request).unwrap()).unwrap(),
        EntryPolicy::default(),
    )
    .unwrap()
    .body;
    let root = leaf_hash(&body);
    let log_key = Ed25519Signer::from_seed("js.log.example.org", &[5; 32]).unwrap();
    let note = Checkpoint {
        origin: "js.log.example.org".into(),
        size: 1,
        root,
        extensions: vec![],
    }
    .sign(&[&log_key as &dyn NoteSigner])
    .unwrap();
    let log_id = STANDARD.encode(log_key.verifier().rekor_log_id().unwrap());
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": { "rawBytes": STANDARD.encode(&cert) },
            "tlogEntries": [{
                "logIndex": "0",
                "logId": { "keyId": log_id },
                "kindVersion": { "kind": "hashedrekord", "version": "0.0.2" },
                "inclusionProof": {
                    "logIndex": "0",
                    "rootHash": STANDARD.encode(root),
                    "treeSize": "1",
                    "hashes": [],
                    "checkpoint": { "envelope": String::from_utf8(note).unwrap() },
                },
                "canonicalizedBody": STANDARD.encode(&body),
            }],
        },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest.as_ref()) },
            "signature": STANDARD.encode(&sig),
        },
    });
    let trusted = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "certificateAuthorities": ca.entry(),
        "tlogs": [{
            "baseUrl": "https://js.log.example.org",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(log_key.spki()),
                "keyDetails": "PKIX_ED25519",
                "validFor": { "start": "2024-01-01T00:00:00Z" },
            },
            "logId": { "keyId": log_id },
        }],
    });
    (bundle, trusted)
}

/// sigstore-js 5 logs the certificate's public key where the bundle
/// carries the certificate: the inclusion proof holds (the body is the
/// logged one), but the entry does not record the certificate, and the
/// verdict says so by name. The same log with the certificate recorded
/// verifies.
#[test]
fn a_log_entry_recording_the_certificates_key_instead_of_the_certificate_is_refused() {
    let (bundle, root) = hashedrekord_v2_log(false);
    passes_the_log_checks(&bundle, &root);
    let (bundle, root) = hashedrekord_v2_log(true);
    let (check, reason) = verify_test(&bundle, &root).unwrap_err();
    assert_eq!(check, Check::Body, "{reason}");
    assert_eq!(
        reason,
        "the log entry records the certificate's public key, not the certificate: sigstore-js 5 writes such entries; sigstore-go and sigstore-python refuse them"
    );
}
