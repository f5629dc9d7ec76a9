//! Every case class of the spec's §4 table (sigstore-conformance
//! bundle-verify), each built as a single mutation of one valid site
//! bundle made in-process (`tests/site`: a CA issuing a Fulcio-like leaf
//! with an SCT, a Rekor v2 log, an islet-tsa timestamp, a Rekor v1 log
//! for the SET classes) or of its trusted root, and the check it fails at
//! (or that it is valid).
//!
//! Built for every row (DSSE classes in Rekor v2 dsse 0.0.2 and
//! hashedrekord-over-DSSE entries, and in Rekor v1 dsse 0.0.1 and intoto
//! 0.0.2 entries whose bodies are written out by hand). Not built: the
//! conformance suite's own files (a staging bundle against the production
//! root is stood in for by another site's root; the beacon identity by a
//! site identity). Decisions the spec leaves open, documented here:
//! - "root certificate inside the bundle's chain": islet, like go and py,
//!   does not reject the root itself (real v0.1 npm bundles carry it) and
//!   builds the path from the trusted root only; the conformance case
//!   fails at the identity, and so does this one with the case's identity.
//! - "messageDigest ≠ artifact hash": changing only the bundle's digest
//!   makes the signature over it fail first (the log entry is rebuilt from
//!   the bundle and its signature checked, spec §3.3 step 4), so that
//!   mutation fails at `signature`; a bundle consistently signed and
//!   logged over another digest fails at `artifact`.
//! - "tlog validFor without start" is a trusted root that does not
//!   conform: `TrustedRoot::parse` refuses it, which `islet verify`
//!   reports as the `trusted_root` check (as [`site::verify_bytes`] does).
//! - A timestamp that does not verify is ignored with a warning (spec
//!   §3.4 step 8), so the TSA classes fail at `time_threshold`; each test
//!   also reads the warning that names the reason.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod site;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_signer::{CosignatureV1Signer, Ed25519Signer};
use islet_tlog::merkle::{leaf_hash, node_hash};
use islet_tlog::note::{NoteSigner, sign_note};
use islet_verify::identity::IdentityPolicy;
use islet_verify::timestamp::verify_timestamps;
use islet_verify::trusted_root::TrustedRoot;
use islet_verify::{Check, Failure, Policy, Verified};
use serde_json::{Value, json};
use site::*;

fn verify(bundle: &Value, root: &Value) -> Result<Verified, Failure> {
    verify_with(bundle, root, policy())
}

/// Asserts the bundle fails at `check` with a reason containing `says`.
#[track_caller]
fn fails(bundle: &Value, root: &Value, p: Policy, check: Check, says: &str) {
    match verify_with(bundle, root, p) {
        Ok(v) => panic!("verified, expected {check:?}: {v:?}"),
        Err(f) => {
            assert_eq!(f.check, check, "{}", f.reason);
            assert!(f.reason.contains(says), "{:?}: {}", f.check, f.reason);
        }
    }
}

#[track_caller]
fn valid(bundle: &Value, root: &Value) -> Verified {
    verify(bundle, root).unwrap_or_else(|f| panic!("{f:?}"))
}

fn site() -> (Value, Value) {
    let s = Site::get();
    (s.bundle.clone(), s.root.clone())
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

fn set_envelope(b: &mut Value, text: String) {
    entry(b)["inclusionProof"]["checkpoint"]["envelope"] = Value::String(text);
}

/// Flips bit 0 of byte `at` of a base64 field.
fn flip_b64(v: &mut Value, at: usize) {
    let mut bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 1;
    *v = Value::String(STANDARD.encode(bytes));
}

/// The warnings the timestamps of `bundle` get against `root`.
fn timestamp_warnings(bundle: &Value, root: &Value, signature: &[u8]) -> String {
    let root = TrustedRoot::parse(&serde_json::to_vec(root).unwrap()).unwrap();
    let tokens: Vec<Vec<u8>> =
        bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                STANDARD
                    .decode(t["signedTimestamp"].as_str().unwrap())
                    .unwrap()
            })
            .collect();
    let out = verify_timestamps(&root, signature, &tokens).unwrap();
    assert!(out.verified.is_empty(), "{out:?}");
    out.warnings.join("; ")
}

fn with_timestamps(b: &mut Value, tokens: &[Vec<u8>]) {
    b["verificationMaterial"]["timestampVerificationData"] = timestamp_data(tokens);
}

/// The checkpoint line signed by `name`, its base64 decoded.
fn signature_line(text: &str, name: &str) -> (String, Vec<u8>) {
    let prefix = format!("\u{2014} {name} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap()
        .to_owned();
    let sig = STANDARD.decode(&line[prefix.len()..]).unwrap();
    (line, sig)
}

// ---------------------------------------------------------------------------
// Happy paths (VALID)
// ---------------------------------------------------------------------------

#[test]
fn the_site_bundle_verifies_under_the_default_policy() {
    let (b, r) = site();
    let ok = valid(&b, &r);
    assert_eq!(ok.identity.as_deref(), Some(SIGNER_EMAIL));
    assert_eq!(ok.issuer.as_deref(), Some(ISSUER));
    assert!(ok.rekor_verified);
    assert_eq!(ok.entries.len(), 1);
    assert_eq!(ok.entries[0].origin, LOG_HOST);
    assert_eq!(
        serde_json::to_value(&ok.times).unwrap(),
        json!([{ "time": "2024-01-01T12:00:00Z", "source": { "type": "timestamp_authority", "uri": TSA_URI } }])
    );
}

#[test]
fn bundles_v0_1_with_a_set_v0_2_v0_3_and_the_new_v0_3_media_type_are_valid() {
    let s = Site::get();
    // v0.1: a Rekor v1 entry whose SET gives the verified time.
    let ok = valid(&s.v1_bundle(INTEGRATED_TIME), &s.root);
    assert_eq!(ok.times.len(), 1);
    assert_eq!(
        ok.entries[0].integrated_time.as_deref(),
        Some("2024-01-01T06:00:00Z")
    );
    // v0.2 with a one-certificate chain.
    let (mut b, r) = site();
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
    let vm = b["verificationMaterial"].as_object_mut().unwrap();
    let cert = vm.remove("certificate").unwrap();
    vm.insert(
        "x509CertificateChain".into(),
        json!({ "certificates": [cert] }),
    );
    valid(&b, &r);
    // v0.3, both media types.
    let (mut b, r) = site();
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.3".into();
    valid(&b, &r);
    let (b, r) = site();
    assert_eq!(
        b["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    valid(&b, &r);
}

#[test]
fn in_toto_in_dsse_and_a_hashedrekord_over_dsse_are_valid_for_the_subject() {
    let s = Site::get();
    for as_hashedrekord in [false, true] {
        let b = s.dsse_bundle(as_hashedrekord);
        let ok = valid(&b, &s.root);
        let kind = if as_hashedrekord {
            "hashedrekord"
        } else {
            "dsse"
        };
        assert_eq!(ok.entries[0].kind, kind);
    }
}

#[test]
fn an_sct_with_non_empty_extensions_is_valid() {
    let s = Site::get();
    // A Static CT leaf_index extension (type 0, 5 octets: index 42).
    let leaf = issue_leaf(
        &s.ca,
        &s.ct,
        &LeafSpec {
            sct: Some((SCT_MILLIS, vec![0, 0, 5, 0, 0, 0, 0, 42])),
            ..LeafSpec::default()
        },
    );
    let (b, _) = s.bundle_for(&leaf, ARTIFACT, GEN_TIME);
    valid(&b, &s.root);
}

#[test]
fn a_key_signed_bundle_is_valid_with_its_key_and_fails_without_it_or_with_another() {
    let s = Site::get();
    let (b, spki) = s.key_bundle();
    let with_key = |k: Option<Vec<u8>>| Policy { key: k, ..policy() };
    let ok = verify_with(&b, &s.root, with_key(Some(spki))).unwrap();
    assert!(ok.signed_by_key);
    fails(
        &b,
        &s.root,
        with_key(None),
        Check::Key,
        "give it with --key",
    );
    let (_, other) = s.key_bundle();
    fails(
        &b,
        &s.root,
        with_key(Some(other)),
        Check::Key,
        "does not record the key given with --key",
    );
}

// ---------------------------------------------------------------------------
// The bundle's format
// ---------------------------------------------------------------------------

#[test]
fn malformed_json_fails_at_bundle() {
    let (b, r) = site();
    let mut bytes = serde_json::to_vec(&b).unwrap();
    bytes.pop();
    let f = verify_bytes(&bytes, &serde_json::to_vec(&r).unwrap(), policy()).unwrap_err();
    assert_eq!(f.check, Check::Bundle);
    assert!(f.reason.starts_with("not a bundle: EOF"), "{}", f.reason);
}

#[test]
fn an_unknown_bundle_version_fails_at_bundle() {
    let (mut b, r) = site();
    b["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.4+json".into();
    fails(&b, &r, policy(), Check::Bundle, "unknown bundle version");
}

#[test]
fn an_invalid_base64_signature_fails_at_bundle() {
    let (mut b, r) = site();
    b["messageSignature"]["signature"] = "MEUCIQ*not-base64*".into();
    fails(
        &b,
        &r,
        policy(),
        Check::Bundle,
        "messageSignature.signature is not base64",
    );
}

#[test]
fn a_negative_log_index_fails_at_bundle() {
    let (mut b, r) = site();
    entry(&mut b)["logIndex"] = "-1".into();
    fails(&b, &r, policy(), Check::Bundle, "logIndex -1 is negative");
}

#[test]
fn an_empty_certificate_chain_fails_at_bundle() {
    let (mut b, r) = site();
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
    let vm = b["verificationMaterial"].as_object_mut().unwrap();
    vm.remove("certificate");
    vm.insert("x509CertificateChain".into(), json!({ "certificates": [] }));
    fails(
        &b,
        &r,
        policy(),
        Check::Bundle,
        "x509CertificateChain is empty",
    );
}

#[test]
fn a_root_certificate_inside_the_chain_is_ignored_and_the_identity_decides() {
    let s = Site::get();
    let (mut b, r) = site();
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
    let vm = b["verificationMaterial"].as_object_mut().unwrap();
    let cert = vm.remove("certificate").unwrap();
    vm.insert(
        "x509CertificateChain".into(),
        json!({ "certificates": [cert, { "rawBytes": STANDARD.encode(&s.ca.der) }] }),
    );
    // Not rejected for the root itself (real v0.1 npm bundles carry it).
    valid(&b, &r);
    // The conformance case's identity is not the signer's.
    let other = Policy {
        identity: Some(
            IdentityPolicy::new(
                Some("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main".into()),
                None,
                Some("https://token.actions.githubusercontent.com".into()),
                None,
            )
            .unwrap(),
        ),
        ..policy()
    };
    fails(&b, &r, other, Check::Identity, SIGNER_EMAIL);
}

// ---------------------------------------------------------------------------
// The trusted root
// ---------------------------------------------------------------------------

#[test]
fn a_bundle_checked_against_another_sites_root_fails_at_unknown_log() {
    let (b, _) = site();
    let other = Site::new();
    fails(
        &b,
        &other.root,
        policy(),
        Check::UnknownLog,
        &hex::encode(Site::get().log_id),
    );
}

#[test]
fn a_tlog_key_without_validfor_start_fails_the_trusted_root() {
    let (b, mut r) = site();
    r["tlogs"][0]["publicKey"]["validFor"]
        .as_object_mut()
        .unwrap()
        .remove("start");
    fails(&b, &r, policy(), Check::TrustedRoot, "tlogs[0]");
}

#[test]
fn validfor_intervals_are_closed_a_tlog_end_at_the_integrated_time_and_a_tsa_end_at_gen_time_are_valid()
 {
    let s = Site::get();
    let v1 = s.v1_bundle(INTEGRATED_TIME);
    let mut r = s.root.clone();
    r["tlogs"][1]["publicKey"]["validFor"]["end"] = "2024-01-01T06:00:00Z".into();
    valid(&v1, &r);
    r["tlogs"][1]["publicKey"]["validFor"]["end"] = "2024-01-01T05:59:59Z".into();
    fails(
        &v1,
        &r,
        policy(),
        Check::KeyValidity,
        "2024-01-01T05:59:59Z",
    );

    let (b, mut r) = site();
    r["timestampAuthorities"][0]["validFor"]["end"] = "2024-01-01T12:00:00Z".into();
    valid(&b, &r);
    r["timestampAuthorities"][0]["validFor"]["end"] = "2024-01-01T11:59:59Z".into();
    fails(
        &b,
        &r,
        policy(),
        Check::TimeThreshold,
        "0 RFC 3161 timestamp(s) verified",
    );
}

#[test]
fn a_wrong_ct_log_key_fails_at_sct() {
    let (b, mut r) = site();
    r["ctlogs"][0]["publicKey"]["rawBytes"] = STANDARD.encode(&CtLog::new().spki).into();
    fails(&b, &r, policy(), Check::Sct, "no SCT verifies");
}

#[test]
fn a_certificate_issued_outside_the_cas_validfor_fails_at_certificate() {
    let (b, mut r) = site();
    r["certificateAuthorities"][0]["validFor"]["end"] = "2023-12-31T23:59:59Z".into();
    fails(
        &b,
        &r,
        policy(),
        Check::Certificate,
        "no certificate authority of the trusted root is valid at 2024-01-01T12:00:00Z",
    );
}

// ---------------------------------------------------------------------------
// Timestamps and verified times
// ---------------------------------------------------------------------------

#[test]
fn a_rekor_v2_bundle_without_any_timestamp_fails_at_time_threshold() {
    let (mut b, r) = site();
    b["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("timestampVerificationData");
    fails(
        &b,
        &r,
        policy(),
        Check::TimeThreshold,
        "a Rekor v2 entry has no integrated time",
    );
}

#[test]
fn a_timestamp_outside_the_tsas_validfor_fails_at_time_threshold() {
    let s = Site::get();
    let (b, mut r) = site();
    r["timestampAuthorities"][0]["validFor"]["start"] = "2024-01-01T12:00:01Z".into();
    fails(
        &b,
        &r,
        policy(),
        Check::TimeThreshold,
        "0 RFC 3161 timestamp(s) verified",
    );
    let w = timestamp_warnings(&b, &r, &s.signature);
    assert!(
        w.contains("genTime 2024-01-01T12:00:00Z is outside the authority's validFor"),
        "{w}"
    );
}

#[test]
fn a_timestamp_issued_after_the_tsa_chain_expired_fails_at_time_threshold() {
    let s = Site::get();
    // The same TSA leaf (key, issuer, serial) re-issued to end before
    // genTime: the TSA still issued with its longer-lived certificate.
    let short = Tsa::leaf(
        &s.tsa.root,
        &s.tsa.leaf_key,
        "site TSA",
        (2023, 1, 1),
        (2024, 1, 1),
    );
    let (mut b, mut r) = site();
    r["timestampAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] =
        STANDARD.encode(&short).into();
    // Without embedded certificates (with them, the embedded leaf is not
    // the trusted one, a failure of its own).
    let token = s.timestamp(&s.signature, GEN_TIME, false);
    with_timestamps(&mut b, &[token]);
    fails(
        &b,
        &r,
        policy(),
        Check::TimeThreshold,
        "0 RFC 3161 timestamp(s) verified",
    );
    let w = timestamp_warnings(&b, &r, &s.signature);
    assert!(
        w.contains("at genTime 2024-01-01T12:00:00Z: the timestamp 2024-01-01T12:00:00Z is outside the certificate's validity (2023-01-01T00:00:00Z to 2024-01-01T00:00:00Z)"),
        "{w}"
    );
    // The long-lived leaf in the root: valid.
    r["timestampAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] =
        STANDARD.encode(&s.tsa.leaf_der).into();
    valid(&b, &r);
}

#[test]
fn a_tsa_chain_expired_now_but_valid_at_gen_time_is_valid() {
    let s = Site::get();
    // The site's TSA chain ended on 2025-01-01.
    let (_, na) = tsa_leaf_validity(&s.tsa.leaf_der);
    assert_eq!(na, at("2025-01-01T00:00:00Z"));
    assert!(na < std::time::SystemTime::now());
    let (b, r) = site();
    valid(&b, &r);
}

fn tsa_leaf_validity(der: &[u8]) -> (std::time::SystemTime, std::time::SystemTime) {
    use x509_cert::der::Decode;
    let c = x509_cert::Certificate::from_der(der).unwrap();
    let v = &c.tbs_certificate.validity;
    (v.not_before.to_system_time(), v.not_after.to_system_time())
}

#[test]
fn timestamps_with_and_without_embedded_certificates_from_the_trusted_tsa_are_valid() {
    let s = Site::get();
    for certs in [true, false] {
        let (mut b, r) = site();
        with_timestamps(&mut b, &[s.timestamp(&s.signature, GEN_TIME, certs)]);
        valid(&b, &r);
    }
}

#[test]
fn a_timestamp_from_an_untrusted_tsa_fails_with_or_without_embedded_certificates() {
    let s = Site::get();
    // Another TSA, made by islet-tsa's issue_chain.
    let issued = islet_tsa::issue_chain(&islet_tsa::ChainParams {
        organization: "elsewhere.example".into(),
        common_name: "elsewhere TSA".into(),
        not_before: at("2023-01-01T00:00:00Z"),
        validity: std::time::Duration::from_secs(2 * 365 * 86_400),
        key_type: islet_tsa::TsaKeyType::P384,
    })
    .unwrap();
    let elsewhere = Tsa {
        root: Ca::new("unused", 2023, 2025),
        leaf_key: rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        leaf_der: issued.leaf_der.clone(),
        key_pem: issued.key_pem.clone(),
        chain_pem: issued.chain_pem.clone(),
    };
    // An impostor: the trusted TSA's names and serial, other keys.
    let impostor = Tsa::new("site TSA", 2023, 2025);
    let cases = [
        (
            &elsewhere,
            true,
            "no timestamp authority of the trusted root has the signer's certificate",
        ),
        (
            &elsewhere,
            false,
            "no timestamp authority of the trusted root has the signer's certificate",
        ),
        (
            &impostor,
            true,
            "the embedded signer certificate is not the trusted one",
        ),
        (
            &impostor,
            false,
            "the signed attributes: the signature does not verify",
        ),
    ];
    for (tsa, certs, why) in cases {
        {
            let (mut b, r) = site();
            with_timestamps(
                &mut b,
                &[tsa.timestamp(&s.signature, at_secs(GEN_TIME), certs)],
            );
            fails(
                &b,
                &r,
                policy(),
                Check::TimeThreshold,
                "0 RFC 3161 timestamp(s) verified",
            );
            let w = timestamp_warnings(&b, &r, &s.signature);
            assert!(w.contains(why), "{w}");
        }
    }
}

#[test]
fn a_timestamp_over_another_bundles_signature_fails_at_time_threshold() {
    let s = Site::get();
    let (other, other_sig) = s.bundle_for(&s.leaf, b"another artifact", GEN_TIME);
    let (mut b, r) = site();
    b["verificationMaterial"]["timestampVerificationData"] =
        other["verificationMaterial"]["timestampVerificationData"].clone();
    assert_ne!(other_sig, s.signature);
    fails(
        &b,
        &r,
        policy(),
        Check::TimeThreshold,
        "0 RFC 3161 timestamp(s) verified",
    );
    let w = timestamp_warnings(&b, &r, &s.signature);
    assert!(
        w.contains("its imprint is not the hash of the signature"),
        "{w}"
    );
}

#[test]
fn a_tsa_time_outside_the_signing_certificates_validity_fails_at_certificate() {
    let s = Site::get();
    // The leaf ends 2024-01-02T00:00:00Z; the TSA says one second later.
    let (mut b, r) = site();
    with_timestamps(
        &mut b,
        &[s.timestamp(&s.signature, GEN_TIME + 12 * 3600 + 1, true)],
    );
    fails(
        &b,
        &r,
        policy(),
        Check::Certificate,
        "the timestamp 2024-01-02T00:00:01Z is outside the certificate's validity",
    );
    // And one second before it began.
    let (mut b, r) = site();
    with_timestamps(
        &mut b,
        &[s.timestamp(&s.signature, GEN_TIME - 12 * 3600 - 1, true)],
    );
    fails(
        &b,
        &r,
        policy(),
        Check::Certificate,
        "the timestamp 2023-12-31T23:59:59Z is outside",
    );
}

#[test]
fn a_set_integrated_time_outside_the_signing_certificates_validity_fails_at_integrated_time() {
    let s = Site::get();
    let b = s.v1_bundle(GEN_TIME + 12 * 3600 + 1);
    fails(
        &b,
        &s.root,
        policy(),
        Check::IntegratedTime,
        "integrated time 2024-01-02T00:00:01Z is outside the certificate's validity",
    );
}

#[test]
fn a_set_with_an_invalid_signature_fails_at_inclusion_promise() {
    let s = Site::get();
    let mut b = s.v1_bundle(INTEGRATED_TIME);
    flip_b64(
        &mut entry(&mut b)["inclusionPromise"]["signedEntryTimestamp"],
        20,
    );
    fails(
        &b,
        &s.root,
        policy(),
        Check::InclusionPromise,
        "the signed entry timestamp does not verify with the key of https://rekor.example.org",
    );
}

// ---------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------

/// The site bundle with its entry's checkpoint re-signed by `signers`
/// (the same tree).
fn signed_by(signers: &[&dyn NoteSigner]) -> Value {
    let s = Site::get();
    let (mut b, _) = site();
    let body = STANDARD
        .decode(entry(&mut b)["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    b["verificationMaterial"]["tlogEntries"][0] =
        v2_entry(&s.log_id, "hashedrekord", &body, signers);
    b
}

fn witness(name: &str, seed: u8) -> CosignatureV1Signer {
    CosignatureV1Signer::from_seed(name, &[seed; 32]).unwrap()
}

#[test]
fn a_checkpoint_signature_line_with_a_wrong_key_hint_fails_at_checkpoint() {
    let (mut b, r) = site();
    let text = envelope(&mut b);
    let (line, mut sig) = signature_line(&text, LOG_HOST);
    sig[0] ^= 0x80;
    let bad = format!("\u{2014} {LOG_HOST} {}", STANDARD.encode(&sig));
    set_envelope(&mut b, text.replace(&line, &bad));
    fails(
        &b,
        &r,
        policy(),
        Check::Checkpoint,
        "no signature by a known key (signed only by log.example.org+",
    );
}

#[test]
fn a_checkpoint_with_an_invalid_signature_fails_at_checkpoint() {
    let (mut b, r) = site();
    let text = envelope(&mut b);
    let (line, mut sig) = signature_line(&text, LOG_HOST);
    let last = sig.len() - 1;
    sig[last] ^= 1;
    let bad = format!("\u{2014} {LOG_HOST} {}", STANDARD.encode(&sig));
    set_envelope(&mut b, text.replace(&line, &bad));
    fails(
        &b,
        &r,
        policy(),
        Check::Checkpoint,
        "invalid signature by log.example.org",
    );
}

#[test]
fn a_checkpoint_with_a_wrong_root_hash_fails_at_checkpoint() {
    let s = Site::get();
    // The root line edited: the signature no longer verifies.
    let (mut b, r) = site();
    let text = envelope(&mut b);
    let root_line = text.lines().nth(2).unwrap().to_owned();
    let mut root = STANDARD.decode(&root_line).unwrap();
    root[0] ^= 1;
    set_envelope(
        &mut b,
        text.replacen(&root_line, &STANDARD.encode(&root), 1),
    );
    fails(
        &b,
        &r,
        policy(),
        Check::Checkpoint,
        "invalid signature by log.example.org",
    );
    // Signed by the log over another root: not the proof's.
    let (mut b, r) = site();
    let root: [u8; 32] = root.try_into().unwrap();
    set_envelope(&mut b, checkpoint(LOG_HOST, 3, root, &[], &[&s.log]));
    fails(
        &b,
        &r,
        policy(),
        Check::Checkpoint,
        "the checkpoint signs size 3 root",
    );
}

#[test]
fn a_checkpoint_missing_its_origin_size_or_root_line_fails_at_checkpoint() {
    let s = Site::get();
    let (mut b, r) = site();
    let text = envelope(&mut b);
    let body_lines: Vec<&str> = text.split("\n\n").next().unwrap().lines().collect();
    for missing in 0..3 {
        let kept: Vec<&str> = body_lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, l)| *l)
            .collect();
        let note = format!("{}\n", kept.join("\n"));
        // Signed by the log key: only the missing line is wrong.
        let signed = sign_note(&note, &[&s.log as &dyn NoteSigner]).unwrap();
        let mut b = b.clone();
        set_envelope(&mut b, String::from_utf8(signed).unwrap());
        fails(&b, &r, policy(), Check::Checkpoint, "malformed checkpoint");
        // And the line simply cut out of the signed note.
        let mut b2 = b.clone();
        let cut = text.replacen(&format!("{}\n", body_lines[missing]), "", 1);
        set_envelope(&mut b2, cut);
        fails(
            &b2,
            &r,
            policy(),
            Check::Checkpoint,
            "invalid signature by log.example.org",
        );
    }
}

#[test]
fn a_checkpoint_whose_log_signature_was_removed_fails_at_checkpoint() {
    let w = witness("witness.example.org", 1);
    let b = signed_by(&[&w]);
    fails(
        &b,
        &Site::get().root,
        policy(),
        Check::Checkpoint,
        "no signature by a known key (signed only by witness.example.org+",
    );
}

#[test]
fn a_checkpoint_signed_under_another_name_than_the_log_host_fails_at_checkpoint() {
    // The log's own key, named otherwise.
    let renamed = Ed25519Signer::from_seed("other.example.org", &Site::get().log_seed).unwrap();
    let b = signed_by(&[&renamed]);
    fails(
        &b,
        &Site::get().root,
        policy(),
        Check::Checkpoint,
        "no signature by a known key (signed only by other.example.org+",
    );
}

#[test]
fn checkpoints_with_cosignatures_in_any_order_and_unknown_same_origin_keys_are_valid() {
    let s = Site::get();
    let w1 = witness("witness.example.org", 1);
    let w2 = witness("witness2.example.org", 2);
    let stranger = Ed25519Signer::from_seed(LOG_HOST, &[8; 32]).unwrap();
    let r = &s.root;
    // A witness cosignature.
    valid(&signed_by(&[&s.log, &w1]), r);
    // Several.
    valid(&signed_by(&[&s.log, &w1, &w2]), r);
    // The log's line not first.
    let b = signed_by(&[&w1, &w2, &s.log]);
    let text =
        b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
    let sig_lines: Vec<&str> = text.split("\n\n").nth(1).unwrap().lines().collect();
    assert!(sig_lines[0].contains("witness.example.org"), "{text}");
    valid(&b, r);
    // An extra signature from the same origin with a key the root does
    // not hold, before and after the log's.
    valid(&signed_by(&[&stranger, &s.log]), r);
    valid(&signed_by(&[&s.log, &stranger]), r);
}

// ---------------------------------------------------------------------------
// Inclusion proofs
// ---------------------------------------------------------------------------

#[test]
fn an_inclusion_proof_with_a_flipped_hash_fails_at_inclusion_proof() {
    let (mut b, r) = site();
    flip_b64(&mut entry(&mut b)["inclusionProof"]["hashes"][1], 7);
    fails(
        &b,
        &r,
        policy(),
        Check::InclusionProof,
        "computed root differs from the expected root",
    );
}

#[test]
fn a_stale_proof_for_another_tree_fails_at_inclusion_proof() {
    let s = Site::get();
    let (mut b, r) = site();
    // The log grew to four entries; the checkpoint and the proof's size
    // and root are the new tree's, its hashes still the three-entry one's.
    let body = STANDARD
        .decode(entry(&mut b)["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    let l = |d: &[u8]| leaf_hash(d);
    let root4 = node_hash(
        &node_hash(&l(OTHER_LEAVES[0]), &l(&body)),
        &node_hash(&l(OTHER_LEAVES[1]), &l(OTHER_LEAVES[2])),
    );
    let e = entry(&mut b);
    e["inclusionProof"]["treeSize"] = "4".into();
    e["inclusionProof"]["rootHash"] = STANDARD.encode(root4).into();
    set_envelope(&mut b, checkpoint(LOG_HOST, 4, root4, &[], &[&s.log]));
    fails(
        &b,
        &r,
        policy(),
        Check::InclusionProof,
        "computed root differs from the expected root",
    );
    // The same proof with the new tree's hashes: valid.
    entry(&mut b)["inclusionProof"]["hashes"][1] = STANDARD
        .encode(node_hash(&l(OTHER_LEAVES[1]), &l(OTHER_LEAVES[2])))
        .into();
    valid(&b, &r);
}

#[test]
fn an_entry_without_an_inclusion_proof_fails_at_inclusion_proof() {
    let (mut b, r) = site();
    entry(&mut b)
        .as_object_mut()
        .unwrap()
        .remove("inclusionProof");
    fails(
        &b,
        &r,
        policy(),
        Check::InclusionProof,
        "no inclusion proof",
    );
}

// ---------------------------------------------------------------------------
// The log entry against the bundle
// ---------------------------------------------------------------------------

#[test]
fn a_log_entry_of_another_hashedrekord_fails_at_body() {
    let s = Site::get();
    // The log holds (with a valid proof) the same signer's entry for
    // another artifact.
    let (other, _) = s.bundle_for(&s.leaf, b"another artifact", GEN_TIME);
    let (mut b, r) = site();
    b["verificationMaterial"]["tlogEntries"] = other["verificationMaterial"]["tlogEntries"].clone();
    fails(
        &b,
        &r,
        policy(),
        Check::Body,
        "the logged body is not the one the bundle's content gives",
    );
}

#[test]
fn another_certificate_and_signature_than_the_logged_ones_fail_at_body() {
    let s = Site::get();
    let other_leaf = issue_leaf(&s.ca, &s.ct, &LeafSpec::default());
    let (other, _) = s.bundle_for(&other_leaf, ARTIFACT, GEN_TIME);
    let (mut b, r) = site();
    b["verificationMaterial"]["certificate"] = other["verificationMaterial"]["certificate"].clone();
    b["messageSignature"] = other["messageSignature"].clone();
    b["verificationMaterial"]["timestampVerificationData"] =
        other["verificationMaterial"]["timestampVerificationData"].clone();
    fails(
        &b,
        &r,
        policy(),
        Check::Body,
        "the logged body is not the one the bundle's content gives",
    );
    // In a Rekor v1 entry, compared field by field.
    let mut v1 = s.v1_bundle(INTEGRATED_TIME);
    v1["verificationMaterial"]["x509CertificateChain"]["certificates"][0] =
        other["verificationMaterial"]["certificate"].clone();
    v1["messageSignature"] = other["messageSignature"].clone();
    fails(&v1, &r, policy(), Check::Body, "logged body's signature");
}

#[test]
fn a_log_entry_recording_a_modified_public_key_fails_at_body() {
    let s = Site::get();
    // The logged body names another certificate (the log proves that
    // body); the bundle's certificate, digest and signature are the ones
    // of the site.
    let (mut b, r) = site();
    let body = STANDARD
        .decode(entry(&mut b)["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    let mut logged: Value = serde_json::from_slice(&body).unwrap();
    let other = issue_leaf(&s.ca, &s.ct, &LeafSpec::default());
    let verifier = &mut logged["spec"]["hashedRekordV002"]["signature"]["verifier"];
    assert!(
        verifier["x509Certificate"]["rawBytes"].is_string(),
        "{logged}"
    );
    verifier["x509Certificate"]["rawBytes"] = STANDARD.encode(&other.der).into();
    let modified = serde_json::to_vec(&logged).unwrap();
    b["verificationMaterial"]["tlogEntries"][0] = s.v2_entry("hashedrekord", &modified);
    fails(
        &b,
        &r,
        policy(),
        Check::Body,
        "the logged body is not the one the bundle's content gives",
    );
}

#[test]
fn a_log_entry_recording_the_certificates_key_instead_of_the_certificate_fails_at_body() {
    let s = Site::get();
    let body = logged_body(&hashedrekord_request(
        &s.digest,
        &s.signature,
        key_verifier(&s.leaf.spki),
    ));
    let (mut b, r) = site();
    b["verificationMaterial"]["tlogEntries"][0] = s.v2_entry("hashedrekord", &body);
    fails(
        &b,
        &r,
        policy(),
        Check::Body,
        islet_verify::tlog::KEY_AS_PUBLIC_KEY,
    );
}

// ---------------------------------------------------------------------------
// The signature and the artifact
// ---------------------------------------------------------------------------

#[test]
fn a_wrong_artifact_fails_at_artifact() {
    let (b, r) = site();
    let p = Policy {
        artifact: Some(islet_verify::Subject::Artifact(islet_verify::Artifact::of(
            b"another artifact",
        ))),
        ..policy()
    };
    fails(&b, &r, p, Check::Artifact, "the artifact has SHA2_256");
}

#[test]
fn a_message_digest_that_is_not_the_artifacts_hash_fails() {
    let s = Site::get();
    // Only the bundle's digest changed: the signature over it fails first.
    let (mut b, r) = site();
    flip_b64(&mut b["messageSignature"]["messageDigest"]["digest"], 0);
    fails(
        &b,
        &r,
        policy(),
        Check::Signature,
        "signature does not verify over the digest",
    );
    // Signed and logged consistently over another digest.
    let (other, _) = s.bundle_for(&s.leaf, b"not the artifact", GEN_TIME);
    fails(
        &other,
        &r,
        policy(),
        Check::Artifact,
        &format!(
            "the bundle signs {}",
            hex::encode(sha256(b"not the artifact"))
        ),
    );
}

#[test]
fn a_bad_signature_fails_at_signature() {
    let (mut b, r) = site();
    flip_b64(&mut b["messageSignature"]["signature"], 10);
    fails(
        &b,
        &r,
        policy(),
        Check::Signature,
        "signature does not verify over the digest",
    );
}

// ---------------------------------------------------------------------------
// DSSE
// ---------------------------------------------------------------------------

#[test]
fn a_dsse_envelope_with_an_invalid_signature_fails_at_signature() {
    let s = Site::get();
    for as_hashedrekord in [false, true] {
        let mut b = s.dsse_bundle(as_hashedrekord);
        flip_b64(&mut b["dsseEnvelope"]["signatures"][0]["sig"], 12);
        let why = if as_hashedrekord {
            "hashedrekord: signature does not verify over the digest"
        } else {
            "dsse: signature 0 is not verified by any verifier"
        };
        fails(&b, &s.root, policy(), Check::Signature, why);
    }
}

#[test]
fn a_dsse_envelope_other_than_the_logged_one_fails_at_body() {
    let s = Site::get();
    for as_hashedrekord in [false, true] {
        let mut b = s.dsse_bundle(as_hashedrekord);
        // Another statement, validly signed by the same key.
        let (env, _) = s.envelope("application/vnd.in-toto+json", "another statement");
        b["dsseEnvelope"] = env;
        fails(
            &b,
            &s.root,
            policy(),
            Check::Body,
            "the logged body is not the one the bundle's content gives",
        );
    }
}

#[test]
fn a_dsse_signature_other_than_the_logged_one_fails_at_body() {
    let s = Site::get();
    for as_hashedrekord in [false, true] {
        let mut b = s.dsse_bundle(as_hashedrekord);
        // The same statement signed again (ECDSA: another signature).
        let (env, _) = s.envelope("application/vnd.in-toto+json", "dsse");
        assert_eq!(env["payload"], b["dsseEnvelope"]["payload"]);
        assert_ne!(env["signatures"], b["dsseEnvelope"]["signatures"]);
        b["dsseEnvelope"] = env;
        fails(
            &b,
            &s.root,
            policy(),
            Check::Body,
            "the logged body is not the one the bundle's content gives",
        );
    }
}

// ---------------------------------------------------------------------------
// The identity
// ---------------------------------------------------------------------------

fn identity(
    san: Option<&str>,
    san_re: Option<&str>,
    issuer: Option<&str>,
    issuer_re: Option<&str>,
) -> Policy {
    Policy {
        identity: Some(
            IdentityPolicy::new(
                san.map(Into::into),
                san_re,
                issuer.map(Into::into),
                issuer_re,
            )
            .unwrap(),
        ),
        ..policy()
    }
}

#[test]
fn another_identity_fails_at_identity() {
    let (b, r) = site();
    let p = identity(Some("someone@example.org"), None, Some(ISSUER), None);
    fails(&b, &r, p, Check::Identity, SIGNER_EMAIL);
}

#[test]
fn another_issuer_fails_at_identity() {
    let (b, r) = site();
    let p = identity(
        Some(SIGNER_EMAIL),
        None,
        Some("https://accounts.example.com"),
        None,
    );
    fails(&b, &r, p, Check::Identity, ISSUER);
}

#[test]
fn regular_expression_identities_match_unanchored_and_fail_at_identity_otherwise() {
    let (b, r) = site();
    verify_with(
        &b,
        &r,
        identity(
            None,
            Some("@example\\.org$"),
            None,
            Some("^https://oidc\\."),
        ),
    )
    .unwrap();
    // Unanchored search, as cosign's MatchString.
    verify_with(&b, &r, identity(None, Some("signer"), None, Some("oidc"))).unwrap();
    fails(
        &b,
        &r,
        identity(None, Some("^someone@"), None, Some(".*")),
        Check::Identity,
        "does not match \"^someone@\"",
    );
    fails(
        &b,
        &r,
        identity(None, Some(".*"), None, Some("^https://accounts\\.")),
        Check::Identity,
        "OIDC issuer (\"https://oidc.example.org\") does not match",
    );
}

// ---------------------------------------------------------------------------
// DSSE in Rekor v1 (dsse 0.0.1 and intoto 0.0.2 entries)
// ---------------------------------------------------------------------------

#[test]
fn rekor_v1_dsse_and_intoto_entries_verify_and_every_dsse_class_fails() {
    let s = Site::get();
    let (env, sig) = s.envelope("application/vnd.in-toto+json", "rekor v1");
    for intoto in [false, true] {
        let kind = if intoto { "intoto" } else { "dsse" };
        let b = s.v1_dsse_bundle(&env, &sig, intoto);
        let ok = valid(&b, &s.root);
        assert_eq!(ok.entries[0].kind, kind);
        // Envelope differs from the logged one (another statement, validly
        // signed by the same key).
        let (other_env, _) = s.envelope("application/vnd.in-toto+json", "another statement");
        let mut m = b.clone();
        m["dsseEnvelope"] = other_env;
        fails(
            &m,
            &s.root,
            policy(),
            Check::Body,
            "the logged body's payload hash is not the bundle's",
        );
        // Signature differs from the logged one (the same statement signed
        // again).
        let (again, _) = s.envelope("application/vnd.in-toto+json", "rekor v1");
        let mut m = b.clone();
        m["dsseEnvelope"] = again;
        fails(
            &m,
            &s.root,
            policy(),
            Check::Body,
            "the logged body's signature is not the bundle's",
        );
        // An invalid signature, logged as it is: the entry matches, the
        // envelope's signature does not verify.
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let mut bad_env = env.clone();
        bad_env["signatures"][0]["sig"] = STANDARD.encode(&bad).into();
        let m = s.v1_dsse_bundle(&bad_env, &bad, intoto);
        fails(
            &m,
            &s.root,
            policy(),
            Check::Signature,
            "the DSSE envelope's signature: invalid entry: signature does not verify",
        );
    }
}

#[test]
fn a_tsa_time_outside_the_certificates_validity_fails_for_in_toto_bundles_too() {
    let s = Site::get();
    let mut b = s.dsse_bundle(false);
    let sig = STANDARD
        .decode(b["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    with_timestamps(
        &mut b,
        &[s.timestamp(&sig, GEN_TIME + 12 * 3600 + 1, false)],
    );
    fails(
        &b,
        &s.root,
        policy(),
        Check::Certificate,
        "the timestamp 2024-01-02T00:00:01Z is outside the certificate's validity",
    );
}
