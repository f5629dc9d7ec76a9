//! Rekor v2 entries: the worked example of rekor-v2.md §2.4 byte for byte,
//! a real staging body rebuilt from its parts, every allowed algorithm, and
//! the rejections.

#![allow(missing_docs)]

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_rekor::Error;
use islet_rekor::entry::{EntryKind, EntryPolicy, validate};
use islet_rekor::request::parse_request;
use islet_tlog::merkle::leaf_hash;
use islet_tlog::tiles::push_bundle_entry;
use sha2::{Digest as _, Sha256};

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

fn request(digest: &[u8], sig: &[u8], verifier_field: &str, raw: &[u8], details: &str) -> String {
    format!(
        r#"{{"hashedRekordRequestV002":{{"digest":"{}","signature":{{"content":"{}","verifier":{{"{verifier_field}":{{"rawBytes":"{}"}},"keyDetails":"{details}"}}}}}}}}"#,
        b64(digest),
        b64(sig),
        b64(raw)
    )
}

fn accept(body: &str) -> islet_rekor::entry::ValidatedEntry {
    validate(
        parse_request(body.as_bytes()).expect("parses"),
        EntryPolicy::default(),
    )
    .expect("valid")
}

/// True when `err` is [`Error::BadRequest`] and its message says `want`.
fn bad_request(err: &Error, want: &str) -> bool {
    matches!(err, Error::BadRequest { message } if message.contains(want))
}

/// True when `err` is [`Error::InvalidEntry`] and its reason says `want`.
fn invalid_entry(err: &Error, want: &str) -> bool {
    matches!(err, Error::InvalidEntry { reason } if reason.contains(want))
}

fn bad_signature(err: &Error, want: &str) -> bool {
    matches!(err, Error::SignatureInvalid { reason } if reason.contains(want))
}

fn reject(body: &str) -> Error {
    match parse_request(body.as_bytes()) {
        Err(e) => e,
        Ok(req) => validate(req, EntryPolicy::default()).expect_err("must be rejected"),
    }
}

/// rekor-v2.md §2.4: a real production request and the leaf it produced.
const WORKED_REQUEST: &str = r#"{"hashedRekordRequestV002":{"digest":"5dJ2SakUeOXY4ut1hBHPomz+hTn6tc0KTzcGosA+epE=","signature":{"content":"MEYCIQDcJO82nz1rrtu1DxSpruX1ogJum8dl4IiGBMPz3jYcbgIhAKwQ8wNu1On8pYfhAJCK8OqT0OOGTh/yAQ+An/e3d/dU","verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{"rawBytes":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0q9Q+tdG195CXKfmUx1YatvZ/mN3rhjpOfm1lvskWprH9Pxpe9Xc6LjEJbBcVPhutkfUvBB9RDk+42SNE6/5xg=="}}}}}"#;
const WORKED_LEAF: &str = r#"{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":"5dJ2SakUeOXY4ut1hBHPomz+hTn6tc0KTzcGosA+epE="},"signature":{"content":"MEYCIQDcJO82nz1rrtu1DxSpruX1ogJum8dl4IiGBMPz3jYcbgIhAKwQ8wNu1On8pYfhAJCK8OqT0OOGTh/yAQ+An/e3d/dU","verifier":{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{"rawBytes":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0q9Q+tdG195CXKfmUx1YatvZ/mN3rhjpOfm1lvskWprH9Pxpe9Xc6LjEJbBcVPhutkfUvBB9RDk+42SNE6/5xg=="}}}}}}"#;

#[test]
fn the_worked_example_reproduces_byte_for_byte() {
    let entry = accept(WORKED_REQUEST);
    assert_eq!(entry.kind, EntryKind::HashedRekord);
    assert_eq!(
        String::from_utf8(entry.body.clone()).expect("utf8"),
        WORKED_LEAF
    );
    assert_eq!(entry.body.len(), 489);
    assert_eq!(
        hex::encode(leaf_hash(&entry.body)),
        "d8528bd7a2162203357792a5766ffc9d41e62d7b80d3919e3b4f2fb35fed9d50"
    );
    assert_eq!(
        hex::encode(Sha256::digest(&entry.body)),
        "7bed3413ee246348347167617ea4b88a6597c0c6db3aba12b54f61c91bc46b30"
    );
    let mut bundle = Vec::new();
    push_bundle_entry(&mut bundle, &entry.body).expect("fits");
    assert_eq!(&bundle[..2], &[0x01, 0xe9]);
}

#[test]
fn other_encodings_of_the_same_request_give_the_same_leaf() {
    // snake_case names, URL-safe unpadded base64, the enum by number, keys in
    // another order: protojson normalises all of them.
    let url = |s: &str| {
        s.replace('+', "-")
            .replace('/', "_")
            .trim_end_matches('=')
            .to_owned()
    };
    let req = format!(
        r#"{{"hashed_rekord_request_v002":{{"signature":{{"verifier":{{"key_details":5,"public_key":{{"raw_bytes":"{}"}}}},"content":"{}"}},"digest":"{}"}}}}"#,
        url(
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0q9Q+tdG195CXKfmUx1YatvZ/mN3rhjpOfm1lvskWprH9Pxpe9Xc6LjEJbBcVPhutkfUvBB9RDk+42SNE6/5xg=="
        ),
        url(
            "MEYCIQDcJO82nz1rrtu1DxSpruX1ogJum8dl4IiGBMPz3jYcbgIhAKwQ8wNu1On8pYfhAJCK8OqT0OOGTh/yAQ+An/e3d/dU"
        ),
        url("5dJ2SakUeOXY4ut1hBHPomz+hTn6tc0KTzcGosA+epE="),
    );
    assert_eq!(
        String::from_utf8(accept(&req).body).expect("utf8"),
        WORKED_LEAF
    );
}

/// The logged body of the real staging bundle in the vectors, as bytes and
/// as JSON.
fn staging_body() -> (Vec<u8>, serde_json::Value) {
    const BUNDLE: &str = "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json";
    let vectors = islet_testkit::vectors_dir(&[BUNDLE]);
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(vectors.join(BUNDLE)).expect("bundle"))
            .expect("json");
    let body = STANDARD
        .decode(
            bundle["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
                .as_str()
                .expect("body"),
        )
        .expect("b64");
    let logged = serde_json::from_slice(&body).expect("json");
    (body, logged)
}

#[test]
fn a_real_staging_body_with_a_certificate_is_rebuilt_exactly_from_its_parts() {
    let (body, logged) = staging_body();
    let spec = &logged["spec"]["hashedRekordV002"];
    let req = format!(
        r#"{{"hashedRekordRequestV002":{{"digest":{},"signature":{}}}}}"#,
        spec["data"]["digest"], spec["signature"]
    );
    let entry = accept(&req);
    assert_eq!(entry.body, body, "rebuilt leaf differs from the logged one");
}

fn ecdsa_case(
    alg: &'static EcdsaSigningAlgorithm,
    hash: &'static digest::Algorithm,
    details: &str,
) {
    let key = EcdsaKeyPair::generate(alg).expect("key");
    let spki = key.public_key().as_der().expect("spki").as_ref().to_vec();
    let d = digest::digest(hash, b"artifact");
    let sig = key.sign_digest(&d).expect("sign");
    let entry = accept(&request(
        d.as_ref(),
        sig.as_ref(),
        "publicKey",
        &spki,
        details,
    ));
    assert!(
        String::from_utf8(entry.body)
            .expect("utf8")
            .contains(details)
    );
    // The same signature over another digest does not verify.
    let other = digest::digest(hash, b"other");
    let err = reject(&request(
        other.as_ref(),
        sig.as_ref(),
        "publicKey",
        &spki,
        details,
    ));
    assert!(bad_signature(&err, "does not verify"), "{err:?}");
    // Nor does a digest of the wrong length.
    let err = reject(&request(
        &d.as_ref()[1..],
        sig.as_ref(),
        "publicKey",
        &spki,
        details,
    ));
    assert!(invalid_entry(&err, "digest has"), "{err:?}");
}

#[test]
fn ecdsa_p256_p384_and_p521_are_accepted_and_checked() {
    ecdsa_case(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &digest::SHA256,
        "PKIX_ECDSA_P256_SHA_256",
    );
    ecdsa_case(
        &ECDSA_P384_SHA384_ASN1_SIGNING,
        &digest::SHA384,
        "PKIX_ECDSA_P384_SHA_384",
    );
    ecdsa_case(
        &ECDSA_P521_SHA512_ASN1_SIGNING,
        &digest::SHA512,
        "PKIX_ECDSA_P521_SHA_512",
    );
}

fn rsa_signed(size: KeySize) -> (Vec<u8>, Digest, Vec<u8>) {
    let key = RsaKeyPair::generate(size).expect("key");
    let spki = key.public_key().as_der().expect("spki").as_ref().to_vec();
    let d = digest::digest(&digest::SHA256, b"artifact");
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign_digest(&RSA_PKCS1_SHA256, &d, &mut sig)
        .expect("sign");
    (spki, d, sig)
}

#[test]
fn rsa_2048_3072_and_4096_are_accepted_and_8192_is_not() {
    for (size, details) in [
        (KeySize::Rsa2048, "PKIX_RSA_PKCS1V15_2048_SHA256"),
        (KeySize::Rsa3072, "PKIX_RSA_PKCS1V15_3072_SHA256"),
        (KeySize::Rsa4096, "PKIX_RSA_PKCS1V15_4096_SHA256"),
    ] {
        let (spki, d, sig) = rsa_signed(size);
        accept(&request(d.as_ref(), &sig, "publicKey", &spki, details));
        // A 2048-bit key declared as 4096 (same hash) is refused.
        let wrong = if details.contains("4096") {
            "PKIX_RSA_PKCS1V15_2048_SHA256"
        } else {
            "PKIX_RSA_PKCS1V15_4096_SHA256"
        };
        let err = reject(&request(d.as_ref(), &sig, "publicKey", &spki, wrong));
        assert!(invalid_entry(&err, "does not match"), "{err:?}");
    }
    let (spki, d, sig) = rsa_signed(KeySize::Rsa8192);
    let err = reject(&request(
        d.as_ref(),
        &sig,
        "publicKey",
        &spki,
        "PKIX_RSA_PKCS1V15_4096_SHA256",
    ));
    assert!(invalid_entry(&err, "8192 bits is not allowed"), "{err:?}");
}

#[test]
fn ed25519ph_is_accepted_and_pure_ed25519_is_refused() {
    use ed25519_dalek::SigningKey;
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(key.verifying_key().as_bytes());
    let prehash = sha2::Sha512::new().chain_update(b"artifact");
    let digest = prehash.clone().finalize();
    let sig = key.sign_prehashed(prehash, None).expect("sign");
    accept(&request(
        &digest,
        &sig.to_bytes(),
        "publicKey",
        &spki,
        "PKIX_ED25519_PH",
    ));
    let err = reject(&request(
        &digest,
        &sig.to_bytes(),
        "publicKey",
        &spki,
        "PKIX_ED25519",
    ));
    assert!(invalid_entry(&err, "pure Ed25519"), "{err:?}");
}

#[test]
fn malformed_and_mismatched_requests_are_rejected_with_a_reason() {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
    let spki = key.public_key().as_der().expect("spki").as_ref().to_vec();
    let d = digest::digest(&digest::SHA256, b"artifact");
    let sig = key.sign_digest(&d).expect("sign").as_ref().to_vec();
    let good = request(
        d.as_ref(),
        &sig,
        "publicKey",
        &spki,
        "PKIX_ECDSA_P256_SHA_256",
    );
    accept(&good);
    // Each case: the body, whether serde or the validation refuses it (a
    // body that does not decode, or one that decodes to no single entry, is
    // a BadRequest; one that fails validation is an InvalidEntry), and what
    // the refusal says.
    type RefusedAs = fn(&Error, &str) -> bool;
    let bad: RefusedAs = bad_request;
    let invalid: RefusedAs = invalid_entry;
    let cases: Vec<(String, RefusedAs, &str)> = vec![
        (String::new(), bad, "EOF"),
        ("{}".into(), bad, "invalid type"),
        (
            good.replace("hashedRekordRequestV002", "hashedRekordRequestV003"),
            bad,
            "unknown field",
        ),
        (
            good.replacen('{', r#"{"dsseRequestV002":{},"#, 1),
            bad,
            "only one",
        ),
        (
            good.replace("PKIX_ECDSA_P256_SHA_256", "PKIX_ECDSA_P384_SHA_384"),
            invalid,
            "does not match",
        ),
        (
            good.replace("PKIX_ECDSA_P256_SHA_256", "PKIX_RSA_PSS_2048_SHA256"),
            invalid,
            "not an allowed",
        ),
        (
            good.replace(r#","keyDetails":"PKIX_ECDSA_P256_SHA_256""#, ""),
            invalid,
            "keyDetails is missing",
        ),
        (
            good.replace("publicKey", "x509Certificate"),
            invalid,
            "certificate",
        ),
        (
            request(
                d.as_ref(),
                &sig,
                "publicKey",
                &spki[..spki.len() - 1],
                "PKIX_ECDSA_P256_SHA_256",
            ),
            invalid,
            "public key",
        ),
        (
            request(
                d.as_ref(),
                &[],
                "publicKey",
                &spki,
                "PKIX_ECDSA_P256_SHA_256",
            ),
            invalid,
            "content is empty",
        ),
        (
            request(&[], &sig, "publicKey", &spki, "PKIX_ECDSA_P256_SHA_256"),
            invalid,
            "digest is empty",
        ),
        (good.replace(&b64(d.as_ref()), "!!!!"), bad, "base64"),
        (
            good.replace(
                r#""keyDetails":"PKIX_ECDSA_P256_SHA_256""#,
                r#""keyDetails":true"#,
            ),
            bad,
            "PublicKeyDetails",
        ),
    ];
    for (body, refused_as, want) in cases {
        let err = reject(&body);
        assert!(refused_as(&err, want), "{body:.120}: {err:?}");
    }
}

/// DSSE's pre-authentication encoding, written out from the DSSE spec
/// rather than taken from the code under test.
fn spec_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(payload);
    pae
}

/// (signature, SPKI) of one DSSE signer.
type DsseSigner = (Vec<u8>, Vec<u8>);

/// A historic `dsseRequestV002` with two ECDSA P-256 signers, as sigstore-js
/// sends it. Returns the request and its signers.
fn dsse_request(payload_type: &str, payload: &[u8]) -> (String, Vec<DsseSigner>) {
    let pae = spec_pae(payload_type, payload);
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let signers: Vec<DsseSigner> = (0..2)
        .map(|_| {
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
            let spki = key.public_key().as_der().expect("spki").as_ref().to_vec();
            let sig = key.sign(&rng, &pae).expect("sign").as_ref().to_vec();
            (sig, spki)
        })
        .collect();
    let signatures: Vec<String> = signers
        .iter()
        .map(|(sig, _)| format!(r#"{{"sig":"{}","keyid":""}}"#, b64(sig)))
        .collect();
    // Verifiers in the opposite order of the signatures: pairing is by
    // verification, not position.
    let verifiers: Vec<String> = signers
        .iter()
        .rev()
        .map(|(_, spki)| {
            format!(
                r#"{{"publicKey":{{"rawBytes":"{}"}},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}"#,
                b64(spki)
            )
        })
        .collect();
    let body = format!(
        r#"{{"dsseRequestV002":{{"envelope":{{"payload":"{}","payloadType":"{payload_type}","signatures":[{}]}},"verifiers":[{}]}}}}"#,
        b64(payload),
        signatures.join(","),
        verifiers.join(",")
    );
    (body, signers)
}

#[test]
fn a_historic_dsse_entry_logs_the_payload_hash_and_the_signatures_sorted_by_their_bytes() {
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[]}"#;
    let (body, mut signers) = dsse_request("application/vnd.in-toto+json", payload);
    let entry = accept(&body);
    assert_eq!(entry.kind, EntryKind::Dsse);
    // rekor-v2.md §2.3, written out by hand: payloadHash is SHA-256 of the
    // payload; each signature is paired with the verifier that verified it;
    // signatures ascend by their raw bytes; payload, payloadType and keyid
    // are not logged.
    signers.sort_by(|a, b| a.0.cmp(&b.0));
    let sigs: Vec<String> = signers
        .iter()
        .map(|(sig, spki)| {
            format!(
                r#"{{"content":"{}","verifier":{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{{"rawBytes":"{}"}}}}}}"#,
                b64(sig),
                b64(spki)
            )
        })
        .collect();
    let expected = format!(
        r#"{{"apiVersion":"0.0.2","kind":"dsse","spec":{{"dsseV002":{{"payloadHash":{{"algorithm":"SHA2_256","digest":"{}"}},"signatures":[{}]}}}}}}"#,
        b64(&Sha256::digest(payload)),
        sigs.join(",")
    );
    assert_eq!(String::from_utf8(entry.body).expect("utf-8"), expected);
    assert_eq!(entry.artifact_digest.1, Sha256::digest(payload).to_vec());
    assert_eq!(entry.key_fingerprints.len(), 2);
}

#[test]
fn a_historic_dsse_entry_needs_every_signature_verified_and_can_be_turned_off() {
    let payload = b"payload";
    let (body, signers) = dsse_request("text/plain", payload);
    // One signature that no verifier verifies.
    let forged = body.replace(&b64(&signers[0].0), &b64(&signers[0].0[..8]));
    let err = reject(&forged);
    assert!(
        bad_signature(&err, "is not verified by any verifier"),
        "{err:?}"
    );
    // The payload is what was signed (through PAE): another payload fails.
    let other = body.replace(&b64(payload), &b64(b"payloaD"));
    let err = reject(&other);
    assert!(
        bad_signature(&err, "is not verified by any verifier"),
        "{err:?}"
    );
    // The same request on a log with DSSE turned off.
    let err = validate(
        parse_request(body.as_bytes()).expect("parses"),
        EntryPolicy { allow_dsse: false },
    )
    .expect_err("dsse is off");
    assert!(bad_request(&err, "dsse is disabled"), "{err:?}");
    // At most MAX_DSSE_SIGNATURES signatures: 11 copies of a good one.
    let one_sig = format!(r#"{{"sig":"{}","keyid":""}}"#, b64(&signers[0].0));
    let two_sigs = format!(r#"{one_sig},{{"sig":"{}","keyid":""}}"#, b64(&signers[1].0));
    let ten = [one_sig.as_str(); 10].join(",");
    let eleven = [one_sig.as_str(); 11].join(",");
    accept(&body.replace(&two_sigs, &ten));
    let err = reject(&body.replace(&two_sigs, &eleven));
    assert!(invalid_entry(&err, "1 to 10 signatures, got 11"), "{err:?}");
}

#[test]
fn a_dsse_envelope_sent_as_a_hashedrekord_over_its_pae_is_an_ordinary_hashedrekord() {
    // What sigstore-python >= 4.3 and sigstore-go send for attestations.
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let payload_type = "application/vnd.in-toto+json";
    let pae = spec_pae(payload_type, payload);
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("key");
    let spki = key.public_key().as_der().expect("spki").as_ref().to_vec();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = key.sign(&rng, &pae).expect("sign").as_ref().to_vec();
    let d = Sha256::digest(&pae);
    let entry = accept(&request(
        &d,
        &sig,
        "publicKey",
        &spki,
        "PKIX_ECDSA_P256_SHA_256",
    ));
    assert_eq!(entry.kind, EntryKind::HashedRekord);
    let expected = format!(
        r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"SHA2_256","digest":"{}"}},"signature":{{"content":"{}","verifier":{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{{"rawBytes":"{}"}}}}}}}}}}}}"#,
        b64(&d),
        b64(&sig),
        b64(&spki)
    );
    assert_eq!(String::from_utf8(entry.body).expect("utf-8"), expected);
}

#[test]
fn search_keys_read_back_from_a_logged_body_are_those_of_the_request() {
    use islet_rekor::index::entry_keys;
    // hashedrekord with a public key, a dsse entry, and (from the vectors)
    // hashedrekord with a certificate.
    let payload = b"payload";
    let (dsse, _) = dsse_request("text/plain", payload);
    let staging = validate(
        parse_request(WORKED_REQUEST.as_bytes()).expect("parses"),
        EntryPolicy::default(),
    )
    .expect("valid");
    let mut entries = vec![staging, accept(&dsse)];
    // The real staging body, whose verifier is an X.509 certificate.
    let (_, logged) = staging_body();
    let spec = &logged["spec"]["hashedRekordV002"];
    assert!(spec["signature"]["verifier"]["x509Certificate"].is_object());
    entries.push(accept(&format!(
        r#"{{"hashedRekordRequestV002":{{"digest":{},"signature":{}}}}}"#,
        spec["data"]["digest"], spec["signature"]
    )));
    for entry in entries {
        let mut keys = entry_keys(&entry.body);
        assert_eq!(
            keys.artifact_digest.as_deref(),
            Some(entry.artifact_digest.1.as_slice())
        );
        // A dsse body lists its signers sorted by signature bytes.
        let mut want = entry.key_fingerprints.clone();
        want.sort();
        keys.key_fingerprints.sort();
        assert_eq!(keys.key_fingerprints, want);
    }
    // Bodies of other logs that are not Rekor entries have no such keys.
    assert_eq!(entry_keys(b"not json"), Default::default());
    assert_eq!(entry_keys(br#"{"spec":{"other":{}}}"#), Default::default());
}

#[test]
fn a_canonical_entry_of_the_bundle_limit_is_accepted_and_one_byte_more_is_refused() {
    use islet_rekor::entry::check_entry_size;
    use islet_tlog::tiles::MAX_ENTRY_SIZE;
    assert_eq!(
        MAX_ENTRY_SIZE, 65_535,
        "an entry bundle's length prefix is 16 bits"
    );
    check_entry_size(&vec![b'x'; MAX_ENTRY_SIZE]).expect("at the limit");
    let err = check_entry_size(&vec![b'x'; MAX_ENTRY_SIZE + 1]).expect_err("one past");
    assert!(
        matches!(err, Error::EntryTooLarge { len, max } if len == MAX_ENTRY_SIZE + 1 && max == MAX_ENTRY_SIZE),
        "{err:?}"
    );
}

/// The direct writer of `entry::canonical` and the general RFC 8785
/// canonicalizer agree on every body it writes directly: nested objects
/// with ASCII keys (given out of order), and strings with every escape JCS
/// knows, controls, DEL, `/`, non-ASCII and astral characters.
#[test]
fn plain_json_is_canonical() {
    let mut strings: Vec<String> = (0u32..0x80)
        .filter_map(char::from_u32)
        .map(|c| format!("a{c}b"))
        .collect();
    strings.extend(
        [
            "",
            "é",
            "€",
            "😀",
            "\u{2028}\u{2029}",
            "\u{feff}",
            "/\\\"",
            "\u{7f}\u{80}\u{ffff}",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    for (i, text) in strings.iter().enumerate() {
        let value = serde_json::json!({
            "zeta": text,
            "Alpha": [text, null, true, false, {"b": text, "a": [], "B": {}}],
            "alpha": { "nested": { "z": "1", "a": text } },
            "_": i.to_string(),
            "spec": { "hashedRekordV002": { "data": { "digest": text, "algorithm": "SHA2_256" } } },
        });
        let fast = islet_rekor::entry::canonical(&value).expect("fast path");
        let general = serde_json_canonicalizer::to_vec(&value).expect("canonicalizer");
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&general),
            "{text:?}"
        );
    }
    // Numbers go through the general canonicalizer (JCS writes them as
    // ECMAScript does).
    let value = serde_json::json!({"n": 1e21, "m": 0.1, "k": -0.0});
    assert_eq!(
        islet_rekor::entry::canonical(&value).expect("numbers"),
        serde_json_canonicalizer::to_vec(&value).expect("canonicalizer")
    );
}
