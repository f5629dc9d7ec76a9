//! Round trips for each client form: requests built as sigstore-python,
//! sigstore-go and @sigstore/sign build them (with RustCrypto's x509-tsp
//! types or JSON text), replies read back independently (tests/common).

mod common;

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::{SHA256, SHA384, SHA512, fresh_chain, hash, read_reply, serial};
use der::asn1::{Any, Int, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use islet_tsa::{HashAlg, Outcome, RefusalReason, TsaConfig, TsaKeyType};
use x509_cert::spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion};

const SIGNATURE: &[u8] = b"raw signature bytes of a bundle";

/// A DER request: imprint of SIGNATURE with `alg`, optional nonce and policy.
fn der_request(
    alg: ObjectIdentifier,
    nonce: Option<&[u8]>,
    cert_req: bool,
    policy: Option<ObjectIdentifier>,
) -> Vec<u8> {
    TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: alg,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(hash(&alg, SIGNATURE)).expect("digest"),
        },
        req_policy: policy,
        nonce: nonce.map(|n| Int::new(n).expect("nonce")),
        cert_req,
        extensions: None,
    }
    .to_der()
    .expect("encode request")
}

/// Answers a request and checks the common parts of the reply; returns it.
fn issue(
    key_type: TsaKeyType,
    content_type: &str,
    body: &[u8],
) -> (common::Reply, islet_tsa::IssuedChain, Outcome) {
    let chain = fresh_chain(key_type);
    let tsa = common::authority(&chain, TsaConfig::default());
    let now = SystemTime::now();
    let answer = tsa.answer(content_type, body, now, serial(7));
    assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
    assert_eq!(answer.content_type, "application/timestamp-reply");
    let reply = read_reply(&answer.body, &chain.leaf_der);
    // genTime: now, whole seconds.
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert_eq!(
        reply.tst.gen_time.to_unix_duration(),
        Duration::from_secs(secs)
    );
    assert_eq!(
        reply.signing_time.to_unix_duration(),
        Duration::from_secs(secs)
    );
    assert_eq!(reply.tst.policy, common::SIGSTORE_POLICY);
    assert_eq!(
        reply.tst.serial_number.as_bytes(),
        &serial(7).as_bytes()[..],
        "serial as given (top bit clear: no padding)"
    );
    (reply, chain, answer.outcome)
}

fn assert_imprint(reply: &common::Reply, alg: ObjectIdentifier) {
    let imprint = &reply.tst.message_imprint;
    assert_eq!(imprint.hash_algorithm.oid, alg);
    assert_eq!(imprint.hashed_message.as_bytes(), hash(&alg, SIGNATURE));
}

#[test]
fn like_sigstore_python_sha256_nonce_cert_req() {
    let nonce = [0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07];
    let req = der_request(SHA256, Some(&nonce), true, None);
    for key_type in [TsaKeyType::P384, TsaKeyType::P256] {
        let (reply, chain, outcome) = issue(key_type, "application/timestamp-query", &req);
        assert!(matches!(
            outcome,
            Outcome::Issued {
                hash: HashAlg::Sha256,
                json: false,
                ..
            }
        ));
        assert_imprint(&reply, SHA256);
        assert_eq!(
            reply.tst.nonce.as_ref().map(Int::as_bytes),
            Some(&nonce[..])
        );
        assert_eq!(reply.certs, vec![chain.leaf_der.clone()], "only the leaf");
    }
}

#[test]
fn like_sigstore_go_no_nonce_no_cert_req() {
    let req = der_request(SHA256, None, false, None);
    let (reply, _, _) = issue(TsaKeyType::P384, "application/timestamp-query", &req);
    assert_imprint(&reply, SHA256);
    assert!(reply.tst.nonce.is_none(), "no nonce, none echoed");
    assert!(
        reply.signed_data.certificates.is_none(),
        "certificates field omitted"
    );
}

#[test]
fn sha384_and_sha512_imprints() {
    for alg in [SHA384, SHA512] {
        let req = der_request(alg, Some(&[0x01; 8]), true, None);
        let (reply, _, outcome) = issue(TsaKeyType::P384, "application/timestamp-query", &req);
        assert_imprint(&reply, alg);
        let expected = if alg == SHA384 {
            HashAlg::Sha384
        } else {
            HashAlg::Sha512
        };
        assert!(matches!(outcome, Outcome::Issued { hash, .. } if hash == expected));
    }
}

#[test]
fn imprint_copied_verbatim_with_absent_parameters() {
    // Parameters absent instead of NULL: copied as sent.
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: SHA256,
                parameters: None,
            },
            hashed_message: OctetString::new(hash(&SHA256, SIGNATURE)).expect("digest"),
        },
        req_policy: None,
        nonce: None,
        cert_req: false,
        extensions: None,
    };
    let (reply, _, _) = issue(
        TsaKeyType::P256,
        "application/timestamp-query",
        &req.to_der().expect("request"),
    );
    assert_eq!(
        reply.tst.message_imprint.to_der().expect("imprint"),
        req.message_imprint.to_der().expect("imprint")
    );
}

#[test]
fn accepted_policy_is_used() {
    let other = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1");
    let chain = fresh_chain(TsaKeyType::P256);
    let config = TsaConfig {
        accepted_policies: vec![other],
        ..TsaConfig::default()
    };
    let tsa = common::authority(&chain, config);
    let req = der_request(SHA256, None, false, Some(other));
    let answer = tsa.answer(
        "application/timestamp-query",
        &req,
        SystemTime::now(),
        serial(1),
    );
    assert_eq!(answer.http_status, 200);
    let reply = read_reply(&answer.body, &chain.leaf_der);
    assert_eq!(reply.tst.policy, other);
    // The default policy requested explicitly is accepted too.
    let req = der_request(SHA256, None, false, Some(common::SIGSTORE_POLICY));
    let answer = tsa.answer(
        "application/timestamp-query",
        &req,
        SystemTime::now(),
        serial(2),
    );
    assert_eq!(answer.http_status, 200);
    // Any other is refused.
    let req = der_request(
        SHA256,
        None,
        false,
        Some(ObjectIdentifier::new_unwrap("1.2.3.4")),
    );
    let answer = tsa.answer(
        "application/timestamp-query",
        &req,
        SystemTime::now(),
        serial(3),
    );
    assert_eq!(answer.http_status, 400);
    assert!(
        matches!(
            answer.outcome,
            Outcome::Refused {
                reason: RefusalReason::UnacceptedPolicy,
                ..
            }
        ),
        "{:?}",
        answer.outcome
    );
}

#[test]
fn include_chain_embeds_every_certificate() {
    let chain = fresh_chain(TsaKeyType::P384);
    let config = TsaConfig {
        include_chain: true,
        ..TsaConfig::default()
    };
    let tsa = common::authority(&chain, config);
    let req = der_request(SHA256, None, true, None);
    let answer = tsa.answer(
        "application/timestamp-query",
        &req,
        SystemTime::now(),
        serial(1),
    );
    let reply = read_reply(&answer.body, &chain.leaf_der);
    let mut expected = vec![chain.leaf_der.clone(), chain.root_der.clone()];
    expected.sort(); // a DER SET OF is sorted by encoding
    assert_eq!(reply.certs, expected);
}

#[test]
fn like_sigstore_js_json_form() {
    let digest = hash(&SHA256, SIGNATURE);
    let body = format!(
        r#"{{"artifactHash":"{}","hashAlgorithm":"sha256"}}"#,
        B64.encode(&digest)
    );
    let (reply, _, outcome) = issue(TsaKeyType::P384, "application/json", body.as_bytes());
    assert!(matches!(
        outcome,
        Outcome::Issued {
            hash: HashAlg::Sha256,
            json: true,
            ..
        }
    ));
    assert_imprint(&reply, SHA256);
    // The JSON form's imprint carries NULL parameters.
    assert_eq!(
        reply.tst.message_imprint.hash_algorithm.parameters,
        Some(Any::null())
    );
    assert!(reply.tst.nonce.is_none());
    assert!(reply.signed_data.certificates.is_none());
}

#[test]
fn json_form_with_nonce_certificates_policy_and_case() {
    let digest = hash(&SHA512, SIGNATURE);
    // 2^100 + 7 = 1267650600228229401496703205383 = 0x10 0000…0007 (13 octets).
    let body = format!(
        r#"{{"artifactHash":"{}","hashAlgorithm":"SHA512","certificates":true,"nonce":1267650600228229401496703205383,"tsaPolicyOID":"1.3.6.1.4.1.57264.2","unknown":1}}"#,
        B64.encode(&digest)
    );
    let (reply, chain, _) = issue(
        TsaKeyType::P256,
        "Application/JSON; charset=utf-8",
        body.as_bytes(),
    );
    assert_imprint(&reply, SHA512);
    let mut expected = vec![0x10];
    expected.extend([0u8; 11]);
    expected.push(7);
    assert_eq!(
        reply.tst.nonce.as_ref().map(Int::as_bytes),
        Some(&expected[..])
    );
    assert_eq!(reply.certs, vec![chain.leaf_der.clone()]);
    // A nonce with its top bit set gets a zero octet: 2^63 = 0x00 80 00….
    let body = format!(
        r#"{{"artifactHash":"{}","hashAlgorithm":"sha512","nonce":9223372036854775808}}"#,
        B64.encode(&digest)
    );
    let (reply, _, _) = issue(TsaKeyType::P256, "application/json", body.as_bytes());
    let nonce_der = reply
        .tst
        .nonce
        .as_ref()
        .expect("nonce")
        .to_der()
        .expect("der");
    assert_eq!(nonce_der, [0x02, 0x09, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn json_errors_are_upstream_json() {
    let chain = fresh_chain(TsaKeyType::P256);
    let tsa = common::authority(&chain, TsaConfig::default());
    let cases = [
        (
            r#"{"artifactHash":"AAAA","hashAlgorithm":"sha1"}"#.to_string(),
            "Weak hash algorithm in timestamp request",
            RefusalReason::WeakAlgorithm,
        ),
        (
            format!(
                r#"{{"artifactHash":"{}","hashAlgorithm":"sha384"}}"#,
                B64.encode([1u8; 32])
            ),
            "Message digest has incorrect length for specified algorithm",
            RefusalReason::BadDigestLength,
        ),
        (
            r#"{"artifactHash":"AAAA","hashAlgorithm":"md5"}"#.to_string(),
            "Error generating timestamp response",
            RefusalReason::BadAlgorithm,
        ),
        (
            "{".to_string(),
            "Error generating timestamp response",
            RefusalReason::Malformed,
        ),
        (
            format!(
                r#"{{"artifactHash":"{}","hashAlgorithm":"sha256","nonce":1.5}}"#,
                B64.encode([1u8; 32])
            ),
            "Error generating timestamp response",
            RefusalReason::Malformed,
        ),
        (
            format!(
                r#"{{"artifactHash":"{}","hashAlgorithm":"sha256","tsaPolicyOID":"1.2.3"}}"#,
                B64.encode([1u8; 32])
            ),
            "unaccepted policy: 1.2.3",
            RefusalReason::UnacceptedPolicy,
        ),
    ];
    for (body, message, reason) in cases {
        let answer = tsa.answer(
            "application/json",
            body.as_bytes(),
            SystemTime::now(),
            serial(1),
        );
        assert_eq!(answer.http_status, 400, "{body}");
        assert_eq!(answer.content_type, "application/json");
        let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON body");
        assert_eq!(json["code"], 400);
        let got = json["message"].as_str().expect("message");
        assert!(got.starts_with(message), "{body}: {got}");
        assert!(
            matches!(answer.outcome, Outcome::Refused { reason: r, json: true, .. } if r == reason),
            "{body}: {:?}",
            answer.outcome
        );
    }
}

#[test]
fn content_types() {
    let chain = fresh_chain(TsaKeyType::P256);
    let tsa = common::authority(&chain, TsaConfig::default());
    let req = der_request(SHA256, None, false, None);
    for (content_type, status) in [
        ("application/timestamp-query", 200),
        ("application/timestamp-query; charset=binary", 200),
        ("APPLICATION/TIMESTAMP-QUERY", 200),
        ("application/octet-stream", 400),
        ("text/plain", 415),
        ("", 415),
        ("garbage", 415),
    ] {
        let answer = tsa.answer(content_type, &req, SystemTime::now(), serial(1));
        assert_eq!(answer.http_status, status, "{content_type:?}");
        if status != 200 {
            assert_eq!(answer.content_type, "application/json");
            let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
            assert_eq!(json["code"], status);
            assert!(matches!(
                answer.outcome,
                Outcome::Refused {
                    reason: RefusalReason::UnsupportedMediaType,
                    ..
                }
            ));
        }
    }
}

#[test]
fn clock_going_back_is_refused() {
    let chain = fresh_chain(TsaKeyType::P256);
    let tsa = common::authority(&chain, TsaConfig::default());
    let req = der_request(SHA256, None, false, None);
    let now = SystemTime::now();
    let first = tsa.answer("application/timestamp-query", &req, now, serial(1));
    assert_eq!(first.http_status, 200);
    // The same second again is fine; one second earlier is not.
    let again = tsa.answer("application/timestamp-query", &req, now, serial(2));
    assert_eq!(again.http_status, 200);
    let earlier = tsa.answer(
        "application/timestamp-query",
        &req,
        now - Duration::from_secs(1),
        serial(3),
    );
    assert_eq!(earlier.http_status, 503);
    assert_eq!(earlier.content_type, "application/timestamp-reply");
    assert!(matches!(
        earlier.outcome,
        Outcome::Refused {
            reason: RefusalReason::TimeNotAvailable,
            ..
        }
    ));
    // The rejection carries timeNotAvailable (bit 14): BIT STRING 03 03 01 00 02.
    assert!(
        earlier
            .body
            .windows(5)
            .any(|w| w == [0x03, 0x03, 0x01, 0x00, 0x02]),
        "{}",
        hex::encode(&earlier.body)
    );
    assert!(tsa.last_gen_time().is_some());
    // A floor in the future refuses now.
    tsa.raise_clock_floor(now + Duration::from_secs(60));
    let floored = tsa.answer("application/timestamp-query", &req, now, serial(4));
    assert_eq!(floored.http_status, 503);
}

#[test]
fn outside_the_chain_validity_is_refused() {
    let chain = fresh_chain(TsaKeyType::P256);
    let tsa = common::authority(&chain, TsaConfig::default());
    let (start, end) = tsa.validity();
    let req = der_request(SHA256, None, false, None);
    let before = tsa.answer(
        "application/timestamp-query",
        &req,
        start - Duration::from_secs(1),
        serial(1),
    );
    assert!(matches!(
        before.outcome,
        Outcome::Refused {
            reason: RefusalReason::CertificateNotValid,
            ..
        }
    ));
    let at_end = tsa.answer("application/timestamp-query", &req, end, serial(2));
    assert_eq!(at_end.http_status, 200, "{:?}", at_end.outcome);
    let after = tsa.answer(
        "application/timestamp-query",
        &req,
        end + Duration::from_secs(1),
        serial(3),
    );
    assert_eq!(after.http_status, 503);
}

#[test]
fn chain_accessors() {
    let chain = fresh_chain(TsaKeyType::P384);
    let tsa = common::authority(&chain, TsaConfig::default());
    assert_eq!(tsa.key_type(), TsaKeyType::P384);
    assert_eq!(
        tsa.chain_der(),
        [chain.leaf_der.clone(), chain.root_der.clone()]
    );
    assert_eq!(tsa.chain_pem(), chain.chain_pem);
    let pems = pem::parse_many(tsa.chain_pem()).expect("PEM");
    assert_eq!(pems.len(), 2);
    assert_eq!(pems[0].contents(), chain.leaf_der);
    assert_eq!(pems[1].contents(), chain.root_der);
    let _ = x509_cert::Certificate::from_der(&chain.root_der).expect("root parses");
}
