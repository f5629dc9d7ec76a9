//! Timestamp requests through islet's TSA (`TimestampAuthority::answer`),
//! as the body of `POST /api/v1/timestamp` in both forms: each input is
//! sent as `application/timestamp-query` (a DER `TimeStampReq`) and as
//! `application/json`, and is also stamped itself (a DER request over its
//! SHA-256/384/512, built here by hand) and the token verified by
//! islet-verify.
//!
//! Two authorities share one chain issued once (`issue_chain`, P-256): the
//! upstream defaults, and one that embeds the whole chain, omits the
//! accuracy and accepts a second policy. The clock is fixed inside the
//! chain's validity, so the authority can always tell the time.
//!
//! Properties: answering never panics; a 5xx answer is only a failure of
//! the authority (`Outcome::Failed`), never a refusal; 200 is exactly an
//! issued token, in a DER body that begins with a granted status, whose
//! TSTInfo has the request's imprint and nonce (the request and the reply
//! decoded here with x509-tsp, not with the authority's code); a refused
//! DER request gets a DER rejection (status 2, a failure bit, no token),
//! a refused JSON request the upstream JSON error; a request built from a
//! message is granted and its token verifies over the message with
//! `verify_timestamps` at the fixed clock, echoing the nonce and embedding
//! certificates exactly when asked.
//!
//! Seeds (`fuzz/seeds/tsa_request/`): the DER request rfc3161-client
//! (sigstore-python's client) sent to sigstage, DER requests of
//! `openssl ts -query` over `hello` (SHA-256/384/512 and a refused SHA-1,
//! with and without nonce, policy, certReq), and JSON requests of the
//! upstream form (with a nonce of any size, a policy, `certificates`), and
//! one the fuzzer found: a non-UTF-8 octet inside an unknown member.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use der::Decode;
use islet_tsa::{
    Answer, CONTENT_TYPE_JSON, CONTENT_TYPE_REPLY, ChainParams, DEFAULT_POLICY, ObjectIdentifier,
    Outcome, SerialNumber, TimestampAuthority, TsaConfig, TsaKeyType, issue_chain,
};
use islet_verify::timestamp::{TimeSource, verify_timestamps};
use islet_verify::trusted_root::{CertificateAuthority, TrustedRoot};
use libfuzzer_sys::fuzz_target;
use sha2::Digest;
use x509_tsp::{TimeStampReq, TimeStampResp, TstInfo};

const DER_TYPE: &str = "application/timestamp-query";
const URI: &str = "https://tsa.fuzz.test/api/v1/timestamp";
/// A second policy the lenient authority accepts.
const OTHER_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2.1");

struct Fixture {
    upstream: TimestampAuthority,
    lenient: TimestampAuthority,
    root: TrustedRoot,
    now: SystemTime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let not_before = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600); // 2025-01-01
        let issued = issue_chain(&ChainParams {
            organization: "islet fuzz".into(),
            common_name: "islet fuzz TSA".into(),
            not_before,
            validity: Duration::from_secs(365 * 86_400),
            key_type: TsaKeyType::P256,
        })
        .expect("a chain is issued");
        let upstream = TimestampAuthority::new(
            issued.key_pem.as_bytes(),
            issued.chain_pem.as_bytes(),
            TsaConfig::default(),
        )
        .expect("the authority starts");
        let lenient = TimestampAuthority::new(
            issued.key_pem.as_bytes(),
            issued.chain_pem.as_bytes(),
            TsaConfig {
                accepted_policies: vec![OTHER_POLICY],
                accuracy_seconds: 0,
                include_chain: true,
                ..TsaConfig::default()
            },
        )
        .expect("the authority starts");
        let root = TrustedRoot {
            logs: Vec::new(),
            skipped: Vec::new(),
            certificate_authorities: Vec::new(),
            timestamp_authorities: vec![CertificateAuthority {
                uri: URI.into(),
                chain: upstream.chain_der().to_vec(),
                valid_from: not_before,
                valid_until: None,
            }],
            ct_logs: Vec::new(),
        };
        Fixture {
            upstream,
            lenient,
            root,
            now: not_before + Duration::from_secs(86_400),
        }
    })
}

fn serial(data: &[u8]) -> SerialNumber {
    let mut s = [0u8; 20];
    for (i, b) in data.iter().take(20).enumerate() {
        s[i] = *b;
    }
    SerialNumber::from_bytes(s)
}

/// The length of a DER header at the start of `der`, and of its content.
fn header(der: &[u8]) -> Option<(usize, usize)> {
    match *der.get(1)? {
        n @ 0..=0x7f => Some((2, usize::from(n))),
        0x81 => Some((3, usize::from(*der.get(2)?))),
        0x82 => Some((
            4,
            usize::from(*der.get(2)?) << 8 | usize::from(*der.get(3)?),
        )),
        _ => None,
    }
}

/// The decoded reply and its TSTInfo, when granted.
fn granted(body: &[u8]) -> (TstInfo, cms::signed_data::SignedData) {
    // Begins with SEQUENCE { SEQUENCE { INTEGER 0 } …
    assert_eq!(body.first(), Some(&0x30), "a reply that is no SEQUENCE");
    let (h, len) = header(body).expect("a reply with a DER length");
    assert_eq!(h + len, body.len(), "a reply with bytes after it");
    assert_eq!(
        body.get(h..h + 5),
        Some(&[0x30, 0x03, 0x02, 0x01, 0x00][..]),
        "a 200 reply whose status is not granted"
    );
    let resp = TimeStampResp::from_der(body).expect("a granted reply decodes");
    assert_eq!(resp.status.status, cmpv2::status::PkiStatus::Accepted);
    assert!(resp.status.fail_info.is_none());
    let token = resp
        .time_stamp_token
        .clone()
        .expect("a granted reply has a token");
    let signed: cms::signed_data::SignedData =
        token.content.decode_as().expect("the token is SignedData");
    let tst = signed
        .encap_content_info
        .econtent
        .as_ref()
        .expect("the token has content")
        .decode_as::<der::asn1::OctetString>()
        .expect("the content is an OCTET STRING");
    let info = TstInfo::from_der(tst.as_bytes()).expect("the TSTInfo decodes");
    (info, signed)
}

fn check(answer: &Answer, json: bool, body: &[u8], now: SystemTime) {
    if answer.http_status >= 500 {
        assert!(
            matches!(answer.outcome, Outcome::Failed { .. }),
            "HTTP {} without a failure: {:?}",
            answer.http_status,
            answer.outcome
        );
    }
    match &answer.outcome {
        Outcome::Issued {
            json: j, gen_time, ..
        } => {
            assert_eq!(answer.http_status, 200);
            assert_eq!(*j, json);
            assert_eq!(*gen_time, now);
            assert_eq!(answer.content_type, CONTENT_TYPE_REPLY);
            let (info, _) = granted(&answer.body);
            assert_eq!(info.gen_time.to_system_time(), now);
            if json {
                let v: serde_json::Value =
                    serde_json::from_slice(body).expect("a granted JSON request is JSON");
                let hash = v["artifactHash"].as_str().expect("artifactHash");
                use base64::Engine;
                let digest = base64::engine::general_purpose::STANDARD
                    .decode(hash)
                    .expect("artifactHash is base64");
                assert_eq!(info.message_imprint.hashed_message.as_bytes(), digest);
            } else if let Ok(req) = TimeStampReq::from_der(body) {
                assert_eq!(info.message_imprint, req.message_imprint, "another imprint");
                assert_eq!(info.nonce, req.nonce, "another nonce");
                assert_eq!(
                    info.policy,
                    req.req_policy.unwrap_or(DEFAULT_POLICY),
                    "another policy"
                );
            }
        }
        Outcome::Refused { json: j, .. } => {
            assert_ne!(answer.http_status, 200);
            assert!(
                answer.http_status < 500,
                "a refusal with HTTP {}: {:?}",
                answer.http_status,
                answer.outcome
            );
            assert_eq!(*j, json);
            if json {
                assert_eq!(answer.content_type, CONTENT_TYPE_JSON);
                let v: serde_json::Value =
                    serde_json::from_slice(&answer.body).expect("a JSON error body");
                assert_eq!(v["code"].as_u64(), Some(u64::from(answer.http_status)));
                assert!(v["message"].is_string(), "{v}");
            } else {
                assert_eq!(answer.content_type, CONTENT_TYPE_REPLY);
                assert_eq!(answer.http_status, 400);
                let resp = TimeStampResp::from_der(&answer.body).expect("a DER rejection");
                assert_eq!(resp.status.status, cmpv2::status::PkiStatus::Rejection);
                assert!(
                    resp.status.fail_info.is_some(),
                    "a rejection without a reason"
                );
                assert!(resp.time_stamp_token.is_none(), "a rejection with a token");
            }
        }
        Outcome::Failed { .. } => assert_eq!(answer.http_status, 500),
    }
}

/// DER TLV with a short length (every part here is under 128 octets).
fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let content: Vec<u8> = parts.concat();
    assert!(content.len() < 128);
    let mut out = vec![tag, content.len() as u8];
    out.extend(content);
    out
}

/// A DER request over `message`, built by hand; options from `flags`.
/// Returns it and the nonce's content octets.
fn request_for(message: &[u8], flags: u8) -> (Vec<u8>, Option<Vec<u8>>, bool, Option<u8>) {
    let (oid_last, digest) = match flags % 3 {
        0 => (1u8, sha2::Sha256::digest(message).to_vec()),
        1 => (2, sha2::Sha384::digest(message).to_vec()),
        _ => (3, sha2::Sha512::digest(message).to_vec()),
    };
    let alg = tlv(
        0x30,
        &[
            &[
                0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, oid_last,
            ],
            &[0x05, 0x00],
        ],
    );
    let imprint = tlv(0x30, &[&alg, &tlv(0x04, &[&digest])]);
    let mut parts: Vec<Vec<u8>> = vec![vec![0x02, 0x01, 0x01], imprint];
    // reqPolicy: DEFAULT_POLICY (…57264.2) or the second one (….2.1).
    let policy = match (flags >> 2) % 3 {
        0 => None,
        1 => Some(2),
        _ => Some(1),
    };
    match policy {
        Some(2) => parts.push(vec![
            0x06, 0x09, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x83, 0xBF, 0x30, 0x02,
        ]),
        Some(_) => parts.push(vec![
            0x06, 0x0A, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x83, 0xBF, 0x30, 0x02, 0x01,
        ]),
        None => {}
    }
    let nonce = (flags & 0x10 != 0).then(|| {
        let mut n = vec![0x01];
        n.extend_from_slice(&digest[..7]);
        n
    });
    if let Some(n) = &nonce {
        parts.push(tlv(0x02, &[n]));
    }
    let cert_req = flags & 0x20 != 0;
    if cert_req {
        parts.push(vec![0x01, 0x01, 0xFF]);
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    (tlv(0x30, &refs), nonce, cert_req, policy)
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let tsa = if data.len() % 2 == 0 {
        &f.upstream
    } else {
        &f.lenient
    };
    let s = serial(data);
    let der = tsa.answer(DER_TYPE, data, f.now, s.clone());
    check(&der, false, data, f.now);
    let json = tsa.answer("application/json; charset=utf-8", data, f.now, s.clone());
    check(&json, true, data, f.now);

    // The input as a message, stamped with a request built here.
    let flags = data.first().copied().unwrap_or(0);
    let (request, nonce, cert_req, policy) = request_for(data, flags);
    let answer = tsa.answer(DER_TYPE, &request, f.now, s);
    check(&answer, false, &request, f.now);
    let lenient = std::ptr::eq(tsa, &f.lenient);
    if policy == Some(1) && !lenient {
        assert_eq!(answer.http_status, 400, "an unaccepted policy granted");
        return;
    }
    assert_eq!(answer.http_status, 200, "{:?}", answer.outcome);
    let (info, signed) = granted(&answer.body);
    let nonce_in_token = info.nonce.as_ref().map(|n| n.as_bytes().to_vec());
    assert_eq!(nonce_in_token, nonce, "the nonce is not echoed");
    let embedded = signed.certificates.as_ref().map_or(0, |c| c.0.len());
    let expected = match (cert_req, lenient) {
        (false, _) => 0,
        (true, false) => 1,
        (true, true) => tsa.chain_der().len(),
    };
    assert_eq!(
        embedded, expected,
        "certReq {cert_req}, {embedded} certificates"
    );
    let out = verify_timestamps(&f.root, data, &[answer.body.clone()])
        .expect("one timestamp is a valid list");
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let [v] = out.verified.as_slice() else {
        panic!("{} verified times", out.verified.len());
    };
    assert_eq!(v.time, f.now);
    assert_eq!(v.source, TimeSource::TimestampAuthority { uri: URI.into() });
});
