//! RFC 3161 timestamps (a bundle's `rfc3161Timestamps[].signedTimestamp`,
//! a DER `TimeStampResp`) through `verify_timestamps`, over the message
//! `hello`, against a trusted root of two timestamp authorities: the real
//! sigstage TSA (chain of `tests/vectors/sigstore/rfc3161-client/sigstage`)
//! and the local test TSA of rfc3161-client (chain of three).
//!
//! Properties: verification never panics; a token is either one verified
//! time or one warning; the same token twice is refused as a list; a
//! verified time comes from a TSA of the root whose `validFor` holds it,
//! is the token's genTime (decoded here on its own), and goes away when
//! the TSA's `validFor` ends one second before it or starts one second
//! after it, or when the message is another one.
//!
//! Seeds (`fuzz/seeds/timestamp_token/`): the real responses of both TSAs
//! over `hello` (SHA-256/384/512 imprints, with and without the embedded
//! certificate, a tampered signature, injected certificates).
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use der::Decode;
use islet_verify::Check;
use islet_verify::timestamp::{TimeSource, verify_timestamps};
use islet_verify::trusted_root::{CertificateAuthority, TrustedRoot};
use libfuzzer_sys::fuzz_target;

const HELLO: &[u8] = b"hello";
const SIGSTAGE: &str = "https://timestamp.sigstage.dev/api/v1/timestamp";
const TEST_TSA: &str = "http://tsa.test";
const SIGSTAGE_CHAIN: &[u8] =
    include_bytes!("../../tests/vectors/sigstore/rfc3161-client/sigstage/ts_chain.pem");
const TEST_TSA_CHAIN: &[u8] =
    include_bytes!("../../tests/vectors/sigstore/rfc3161-client/test_tsa/ts_chain.pem");

fn chain(pem_text: &[u8]) -> Vec<Vec<u8>> {
    pem::parse_many(pem_text)
        .expect("the chain is PEM")
        .into_iter()
        .map(pem::Pem::into_contents)
        .collect()
}

fn at(s: &str) -> SystemTime {
    humantime::parse_rfc3339(s).expect("an RFC 3339 time")
}

fn root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| TrustedRoot {
        logs: Vec::new(),
        skipped: Vec::new(),
        certificate_authorities: Vec::new(),
        timestamp_authorities: vec![
            CertificateAuthority {
                uri: SIGSTAGE.into(),
                chain: chain(SIGSTAGE_CHAIN),
                valid_from: at("2025-04-01T00:00:00Z"),
                valid_until: None,
            },
            CertificateAuthority {
                uri: TEST_TSA.into(),
                chain: chain(TEST_TSA_CHAIN),
                valid_from: at("2024-10-01T00:00:00Z"),
                valid_until: Some(at("2030-01-01T00:00:00Z")),
            },
        ],
        ct_logs: Vec::new(),
    })
}

/// The genTime of a response, decoded without islet-verify.
fn gen_time(der: &[u8]) -> Option<SystemTime> {
    let resp = x509_tsp::TimeStampResp::from_der(der).ok()?;
    let signed: cms::signed_data::SignedData = resp.time_stamp_token?.content.decode_as().ok()?;
    let tst = signed
        .encap_content_info
        .econtent?
        .decode_as::<der::asn1::OctetString>()
        .ok()?;
    let info = x509_tsp::TstInfo::from_der(tst.as_bytes()).ok()?;
    Some(info.gen_time.to_system_time())
}

fn verified(root: &TrustedRoot, message: &[u8], token: &[u8]) -> usize {
    verify_timestamps(root, message, &[token.to_vec()])
        .expect("one timestamp is a valid list")
        .verified
        .len()
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    let token = data.to_vec();
    let out = verify_timestamps(root, HELLO, std::slice::from_ref(&token))
        .expect("one timestamp is a valid list");
    assert_eq!(
        out.verified.len() + out.warnings.len(),
        1,
        "one token, {out:?}"
    );
    // The same token twice: the list is refused.
    let twice = verify_timestamps(root, HELLO, &[token.clone(), token.clone()]);
    assert_eq!(
        twice.as_ref().map_err(|f| f.check),
        Err(Check::Timestamp),
        "{twice:?}"
    );
    let Some(v) = out.verified.first() else {
        return;
    };
    let TimeSource::TimestampAuthority { uri } = &v.source else {
        panic!("a timestamp gave a time of a log: {v:?}");
    };
    let (i, tsa) = root
        .timestamp_authorities
        .iter()
        .enumerate()
        .find(|(_, a)| a.uri == *uri)
        .expect("a verified time names a TSA of the root");
    assert!(
        tsa.valid_at(v.time),
        "{uri} is not valid at the verified time"
    );
    assert_eq!(
        gen_time(data),
        Some(v.time),
        "the verified time is not the genTime"
    );
    // The authority's validFor bounds the time, both ends.
    let second = Duration::from_secs(1);
    let mut ended = root.clone();
    ended.timestamp_authorities[i].valid_until = Some(v.time - second);
    assert_eq!(
        verified(&ended, HELLO, data),
        0,
        "verified after validFor.end"
    );
    let mut later = root.clone();
    later.timestamp_authorities[i].valid_from = v.time + second;
    assert_eq!(
        verified(&later, HELLO, data),
        0,
        "verified before validFor.start"
    );
    // The imprint binds the message.
    assert_eq!(
        verified(root, b"hellO", data),
        0,
        "verified over another message"
    );
});
