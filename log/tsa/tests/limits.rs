//! Every limit at the limit and one past it; hostile DER and JSON
//! (every truncation, thousands of deterministic bit flips, trailing
//! bytes): never a panic, never a 5xx.

#![allow(clippy::cast_possible_truncation)]

mod common;

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::{SHA256, fresh_chain, hash, read_reply, serial};
use der::Encode;
use der::asn1::{Any, Int, OctetString};
use islet_tsa::{
    MAX_DER_REQUEST_BYTES, MAX_JSON_REQUEST_BYTES, MAX_NONCE_BYTES, Outcome, RefusalReason,
    TimestampAuthority, TsaConfig, TsaKeyType,
};
use x509_cert::spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion};

fn tsa() -> (TimestampAuthority, islet_tsa::IssuedChain) {
    let chain = fresh_chain(TsaKeyType::P256);
    (common::authority(&chain, TsaConfig::default()), chain)
}

fn request(nonce: Option<Vec<u8>>, extensions: Option<x509_cert::ext::Extensions>) -> Vec<u8> {
    TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: SHA256,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(hash(&SHA256, b"limits")).expect("digest"),
        },
        req_policy: None,
        nonce: nonce.map(|n| Int::new(&n).expect("nonce")),
        cert_req: true,
        extensions,
    }
    .to_der()
    .expect("request")
}

fn reason(outcome: &Outcome) -> Option<RefusalReason> {
    match outcome {
        Outcome::Refused { reason, .. } => Some(*reason),
        _ => None,
    }
}

fn der(tsa: &TimestampAuthority, body: &[u8]) -> islet_tsa::Answer {
    tsa.answer(
        "application/timestamp-query",
        body,
        SystemTime::now(),
        serial(1),
    )
}

fn json(tsa: &TimestampAuthority, body: &[u8]) -> islet_tsa::Answer {
    tsa.answer("application/json", body, SystemTime::now(), serial(1))
}

#[test]
fn der_request_size_at_and_past_the_limit() {
    let (tsa, _) = tsa();
    // A request padded with one extension to exactly the limit is read
    // (and refused for its extension); one octet more is too large.
    let sized = |total: usize| {
        let mut pad = 0usize;
        loop {
            let ext = x509_cert::ext::Extension {
                extn_id: der::asn1::ObjectIdentifier::new_unwrap("1.2.3.4"),
                critical: false,
                extn_value: OctetString::new(vec![0u8; pad]).expect("value"),
            };
            let body = request(None, Some(vec![ext]));
            if body.len() >= total {
                assert_eq!(body.len(), total, "padding reaches the size exactly");
                return body;
            }
            pad += 1;
        }
    };
    let at = sized(MAX_DER_REQUEST_BYTES);
    let answer = der(&tsa, &at);
    assert_eq!(
        reason(&answer.outcome),
        Some(RefusalReason::UnacceptedExtension)
    );
    let past = sized(MAX_DER_REQUEST_BYTES + 1);
    let answer = der(&tsa, &past);
    assert_eq!(reason(&answer.outcome), Some(RefusalReason::TooLarge));
    assert_eq!(answer.http_status, 400);
    assert_eq!(answer.content_type, "application/timestamp-reply");
}

#[test]
fn json_request_size_at_and_past_the_limit() {
    let (tsa, chain) = tsa();
    let core = format!(
        r#"{{"artifactHash":"{}","hashAlgorithm":"sha256"}}"#,
        B64.encode(hash(&SHA256, b"limits"))
    );
    let padded = |total: usize| {
        let mut body = core.clone().into_bytes();
        body.resize(total, b' '); // JSON allows trailing whitespace
        body
    };
    let answer = json(&tsa, &padded(MAX_JSON_REQUEST_BYTES));
    assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
    read_reply(&answer.body, &chain.leaf_der);
    let answer = json(&tsa, &padded(MAX_JSON_REQUEST_BYTES + 1));
    assert_eq!(answer.http_status, 400);
    assert_eq!(reason(&answer.outcome), Some(RefusalReason::TooLarge));
    let body: serde_json::Value = serde_json::from_slice(&answer.body).expect("JSON");
    assert_eq!(body["code"], 400);
    assert_eq!(body["message"], "timestamp request is too large");
}

#[test]
fn der_nonce_at_and_past_the_limit() {
    let (tsa, chain) = tsa();
    let mut at = vec![0x7f];
    at.resize(MAX_NONCE_BYTES, 0xee);
    let answer = der(&tsa, &request(Some(at.clone()), None));
    assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
    let reply = read_reply(&answer.body, &chain.leaf_der);
    assert_eq!(reply.tst.nonce.as_ref().map(Int::as_bytes), Some(&at[..]));
    let mut past = vec![0x7f];
    past.resize(MAX_NONCE_BYTES + 1, 0xee);
    let answer = der(&tsa, &request(Some(past), None));
    assert_eq!(answer.http_status, 400);
    assert_eq!(reason(&answer.outcome), Some(RefusalReason::NonceTooLarge));
}

#[test]
fn json_nonce_at_and_past_the_limit() {
    let (tsa, chain) = tsa();
    let artifact = B64.encode(hash(&SHA256, b"limits"));
    let with_nonce = |nonce: &str| {
        format!(r#"{{"artifactHash":"{artifact}","hashAlgorithm":"sha256","nonce":{nonce}}}"#)
    };
    // 2^511 − 1 = 0x7f ff … ff: 64 octets.
    let at = "6703903964971298549787012499102923063739682910296196688861780721860882015036773488400937149083451713845015929093243025426876941405973284973216824503042047";
    let answer = json(&tsa, with_nonce(at).as_bytes());
    assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
    let reply = read_reply(&answer.body, &chain.leaf_der);
    let mut expected = vec![0x7f];
    expected.resize(64, 0xff);
    assert_eq!(
        reply.tst.nonce.as_ref().map(Int::as_bytes),
        Some(&expected[..])
    );
    // 2^511 = 0x00 80 00 … 00: 65 octets with the sign octet.
    let past = "6703903964971298549787012499102923063739682910296196688861780721860882015036773488400937149083451713845015929093243025426876941405973284973216824503042048";
    let answer = json(&tsa, with_nonce(past).as_bytes());
    assert_eq!(answer.http_status, 400);
    assert_eq!(reason(&answer.outcome), Some(RefusalReason::NonceTooLarge));
    // 2^504 = 0x01 00 … 00: 64 octets, fine.
    let answer = json(&tsa, with_nonce("52374249726338269920211035149241586435466272736689036631732661889538140742474792878132321477214466514414186946040961136147476104734166288853256441430016").as_bytes());
    assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
}

/// The answer to a hostile body: 200 or a 4xx with the right content
/// type, never a 5xx (the clock and chain are fine here).
fn assert_sane(answer: &islet_tsa::Answer, json_form: bool, what: &str) {
    match answer.http_status {
        200 => assert!(matches!(answer.outcome, Outcome::Issued { .. }), "{what}"),
        400 => {
            let expected = if json_form {
                "application/json"
            } else {
                "application/timestamp-reply"
            };
            assert_eq!(answer.content_type, expected, "{what}");
            assert!(matches!(answer.outcome, Outcome::Refused { .. }), "{what}");
        }
        other => panic!("{what}: HTTP {other}: {:?}", answer.outcome),
    }
}

#[test]
fn every_truncation_of_a_der_request_is_refused() {
    let (tsa, _) = tsa();
    let body = request(
        Some(vec![0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]),
        None,
    );
    assert_eq!(der(&tsa, &body).http_status, 200);
    for len in 0..body.len() {
        let answer = der(&tsa, &body[..len]);
        assert_eq!(answer.http_status, 400, "truncated to {len}");
        assert_sane(&answer, false, &format!("truncated to {len}"));
    }
    // Trailing bytes are refused too.
    let mut longer = body.clone();
    longer.push(0);
    assert_eq!(
        reason(&der(&tsa, &longer).outcome),
        Some(RefusalReason::Malformed)
    );
}

#[test]
fn thousands_of_bit_flips_never_panic_or_fail() {
    let (tsa, _) = tsa();
    let body = request(
        Some(vec![0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]),
        None,
    );
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // xorshift64*: deterministic, no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let bits = body.len() * 8;
    for round in 0..4000 {
        let mut flipped = body.clone();
        let flips = 1 + (next() % 3) as usize;
        for _ in 0..flips {
            let bit = (next() % bits as u64) as usize;
            flipped[bit / 8] ^= 0x80 >> (bit % 8);
        }
        let answer = der(&tsa, &flipped);
        assert_sane(
            &answer,
            false,
            &format!("round {round}: {}", hex::encode(&flipped)),
        );
    }
    // Every single-bit flip, exhaustively.
    for bit in 0..bits {
        let mut flipped = body.clone();
        flipped[bit / 8] ^= 0x80 >> (bit % 8);
        assert_sane(&der(&tsa, &flipped), false, &format!("bit {bit}"));
    }
}

#[test]
fn hostile_json_never_panics_or_fails() {
    let (tsa, _) = tsa();
    let body = format!(
        r#"{{"artifactHash":"{}","hashAlgorithm":"sha256","certificates":true,"nonce":123456789012345678901234567890,"tsaPolicyOID":"1.3.6.1.4.1.57264.2"}}"#,
        B64.encode(hash(&SHA256, b"limits"))
    );
    assert_eq!(json(&tsa, body.as_bytes()).http_status, 200);
    let bytes = body.as_bytes();
    for len in 0..bytes.len() {
        let answer = json(&tsa, &bytes[..len]);
        assert_eq!(answer.http_status, 400, "truncated to {len}");
        assert_sane(&answer, true, &format!("truncated to {len}"));
    }
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.to_vec();
        flipped[bit / 8] ^= 0x80 >> (bit % 8);
        assert_sane(&json(&tsa, &flipped), true, &format!("bit {bit}"));
    }
    for odd in [
        "null",
        "[]",
        "{}",
        r#"{"artifactHash":null,"hashAlgorithm":"sha256"}"#,
        r#"{"artifactHash":"AAAA","hashAlgorithm":"sha256","nonce":"12"}"#,
        r#"{"artifactHash":"AAAA","hashAlgorithm":"sha256","nonce":-1e400}"#,
        r#"{"artifactHash":"AAAA","hashAlgorithm":"sha256","artifactHash":"AAAA"}"#,
    ] {
        let answer = json(&tsa, odd.as_bytes());
        assert_eq!(answer.http_status, 400, "{odd}");
        assert_sane(&answer, true, odd);
    }
}

#[test]
fn the_sigstage_request_is_answered() {
    // rfc3161-client's default request (SHA-512, nonce, certReq).
    let path = "sigstore/rfc3161-client/sigstage/request.der";
    let dir = islet_testkit::vectors_dir(&[path]);
    let body = std::fs::read(dir.join(path)).expect("request");
    let (tsa, chain) = tsa();
    let answer = der(&tsa, &body);
    assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
    let reply = read_reply(&answer.body, &chain.leaf_der);
    assert_eq!(reply.certs, vec![chain.leaf_der.clone()]);
    assert!(reply.tst.nonce.is_some());
}
