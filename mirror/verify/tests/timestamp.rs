//! RFC 3161 timestamps: real responses of the sigstore staging TSA and of
//! a local timestamp-authority, and the timestamps of real bundles, each
//! checked against the trusted roots they belong to. Expected genTimes
//! come from the vectors' notes (and `openssl ts -reply -text`), never
//! from the code under test.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use islet_verify::Check;
use islet_verify::timestamp::{MAX_TIMESTAMPS, TimeSource, verify_timestamps};

const SIGSTAGE: &str = "https://timestamp.sigstage.dev/api/v1/timestamp";
const HELLO: &[u8] = b"hello";

fn sigstage_root(start: &str, end: Option<&str>) -> islet_verify::trusted_root::TrustedRoot {
    tsa_root(
        SIGSTAGE,
        &pem_chain("sigstore/rfc3161-client/sigstage/ts_chain.pem"),
        start,
        end,
    )
}

fn token(name: &str) -> Vec<u8> {
    read(&format!("sigstore/rfc3161-client/{name}"))
}

#[test]
fn the_message_is_hello() {
    assert_eq!(read("sigstore/rfc3161-client/message.hello.txt"), HELLO);
}

#[test]
fn sigstage_tokens_over_hello_verify_with_each_imprint_hash() {
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    // genTimes from openssl ts -reply -text.
    for (name, gen_time) in [
        ("sigstage/response-sha256.tsr", "2025-05-09T11:58:55Z"),
        ("sigstage/response-sha384.tsr", "2025-05-09T11:58:55Z"),
        ("sigstage/response-sha512.tsr", "2025-05-09T11:58:56Z"),
        (
            "sigstage/response-no-embedded-cert.tsr",
            "2025-06-18T08:13:02Z",
        ),
    ] {
        let out = verify_timestamps(&root, HELLO, &[token(name)]).unwrap();
        assert_eq!(out.verified.len(), 1, "{name}: {:?}", out.warnings);
        assert!(out.warnings.is_empty(), "{name}: {:?}", out.warnings);
        let v = &out.verified[0];
        assert_eq!(v.time, at(gen_time), "{name}");
        assert_eq!(
            v.source,
            TimeSource::TimestampAuthority {
                uri: SIGSTAGE.into()
            }
        );
    }
}

#[test]
fn a_token_over_other_data_is_ignored() {
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    let out = verify_timestamps(&root, b"hellO", &[token("sigstage/response-sha256.tsr")]).unwrap();
    assert!(out.verified.is_empty());
    assert!(out.warnings[0].contains("imprint"), "{:?}", out.warnings);
}

#[test]
fn the_tampered_token_is_ignored_with_a_warning() {
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    let good = token("sigstage/response-sha256.tsr");
    let bad = token("sigstage/response-invalid-signature.tsr");
    let out = verify_timestamps(&root, HELLO, std::slice::from_ref(&bad)).unwrap();
    assert!(out.verified.is_empty());
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].starts_with("timestamp 0 does not verify"),
        "{:?}",
        out.warnings
    );
    // Beside a good one, only the good one counts.
    let out = verify_timestamps(&root, HELLO, &[bad, good]).unwrap();
    assert_eq!(out.verified.len(), 1);
    assert_eq!(out.warnings.len(), 1);
}

#[test]
fn one_tsa_counts_once() {
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    let out = verify_timestamps(
        &root,
        HELLO,
        &[
            token("sigstage/response-sha256.tsr"),
            token("sigstage/response-sha384.tsr"),
        ],
    )
    .unwrap();
    assert_eq!(out.verified.len(), 1);
    assert!(
        out.warnings[0].contains("counted once"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn validfor_is_closed_and_bounds_gentime() {
    let t = token("sigstage/response-sha256.tsr");
    // end == genTime: verifies (closed interval).
    let root = sigstage_root("2025-04-01T00:00:00Z", Some("2025-05-09T11:58:55Z"));
    assert_eq!(
        verify_timestamps(&root, HELLO, std::slice::from_ref(&t))
            .unwrap()
            .verified
            .len(),
        1
    );
    // start == genTime: verifies.
    let root = sigstage_root("2025-05-09T11:58:55Z", None);
    assert_eq!(
        verify_timestamps(&root, HELLO, std::slice::from_ref(&t))
            .unwrap()
            .verified
            .len(),
        1
    );
    // end one second before genTime: not verified.
    let root = sigstage_root("2025-04-01T00:00:00Z", Some("2025-05-09T11:58:54Z"));
    let out = verify_timestamps(&root, HELLO, std::slice::from_ref(&t)).unwrap();
    assert!(out.verified.is_empty());
    assert!(out.warnings[0].contains("validFor"), "{:?}", out.warnings);
    // start one second after: not verified.
    let root = sigstage_root("2025-05-09T11:58:56Z", None);
    assert!(
        verify_timestamps(&root, HELLO, &[t])
            .unwrap()
            .verified
            .is_empty()
    );
}

#[test]
fn a_tsa_missing_from_the_root_never_verifies() {
    // The local test TSA's token against the sigstage TSA: untrusted, even
    // though the token embeds its certificate.
    let sigstage = sigstage_root("2024-01-01T00:00:00Z", None);
    let out = verify_timestamps(&sigstage, HELLO, &[token("test_tsa/response.tsr")]).unwrap();
    assert!(out.verified.is_empty());
    assert!(
        out.warnings[0].contains("no timestamp authority"),
        "{:?}",
        out.warnings
    );
    // A root without TSAs.
    let staging = root("rekor-v2/sigstore-python/trusted_root.staging.json");
    let mut none = staging.clone();
    none.timestamp_authorities.clear();
    let out = verify_timestamps(&none, HELLO, &[token("sigstage/response-sha256.tsr")]).unwrap();
    assert!(out.verified.is_empty());
}

#[test]
fn the_local_tsa_chain_of_three_verifies_and_injected_certificates_do_not_fool_it() {
    let chain = pem_chain("sigstore/rfc3161-client/test_tsa/ts_chain.pem");
    assert_eq!(chain.len(), 3);
    let root = tsa_root("http://tsa.test", &chain, "2024-10-01T00:00:00Z", None);
    for name in [
        "test_tsa/response.tsr",
        "test_tsa/response-injected-certs.tsr",
    ] {
        let out = verify_timestamps(&root, HELLO, &[token(name)]).unwrap();
        assert_eq!(out.verified.len(), 1, "{name}: {:?}", out.warnings);
        assert_eq!(out.verified[0].time, at("2024-10-08T15:40:32Z"));
        assert_eq!(
            out.verified[0].source,
            TimeSource::TimestampAuthority {
                uri: "http://tsa.test".into()
            }
        );
    }
    // Without the intermediate the path cannot be built.
    let short = tsa_root(
        "http://tsa.test",
        &[chain[0].clone(), chain[2].clone()],
        "2024-10-01T00:00:00Z",
        None,
    );
    let out = verify_timestamps(&short, HELLO, &[token("test_tsa/response.tsr")]).unwrap();
    assert!(out.verified.is_empty(), "{:?}", out.verified);
}

#[test]
fn an_embedded_signer_certificate_must_be_the_trusted_leaf() {
    // The sigstage token embeds the sigstage leaf; a root whose leaf has the
    // same issuer and serial but other bytes cannot exist without a forged
    // CA, so swap in the test TSA leaf bytes under the sigstage entry: the
    // sid no longer matches and the TSA is unknown.
    let chain = pem_chain("sigstore/rfc3161-client/sigstage/ts_chain.pem");
    let other = pem_chain("sigstore/rfc3161-client/test_tsa/ts_chain.pem");
    let root = tsa_root(
        SIGSTAGE,
        &[other[0].clone(), chain[1].clone()],
        "2024-01-01T00:00:00Z",
        None,
    );
    let out = verify_timestamps(&root, HELLO, &[token("sigstage/response-sha256.tsr")]).unwrap();
    assert!(out.verified.is_empty());
}

#[test]
fn duplicates_and_too_many_timestamps_fail() {
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    let t = token("sigstage/response-sha256.tsr");
    let f = verify_timestamps(&root, HELLO, &[t.clone(), t.clone()]).unwrap_err();
    assert_eq!(f.check, Check::Timestamp);
    assert!(f.reason.contains("the same"), "{}", f.reason);

    // At the limit: distinct (bit-flipped) tokens, none verify but none fail the list.
    let distinct: Vec<Vec<u8>> = (0..MAX_TIMESTAMPS)
        .map(|i| {
            let mut x = t.clone();
            x.push(u8::try_from(i).unwrap());
            x
        })
        .collect();
    let out = verify_timestamps(&root, HELLO, &distinct).unwrap();
    assert_eq!(out.warnings.len(), MAX_TIMESTAMPS);
    let mut over = distinct;
    over.push(t);
    let f = verify_timestamps(&root, HELLO, &over).unwrap_err();
    assert_eq!(f.check, Check::Timestamp);
}

#[test]
fn trailing_bytes_make_a_token_unreadable() {
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    let mut t = token("sigstage/response-sha256.tsr");
    t.push(0);
    let out = verify_timestamps(&root, HELLO, &[t]).unwrap();
    assert!(out.verified.is_empty());
    assert!(
        out.warnings[0].contains("not a DER TimeStampResp"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn truncations_and_bit_flips_never_panic_and_never_verify_a_changed_signed_byte() {
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    let t = token("sigstage/response-sha256.tsr");
    for len in 0..t.len() {
        let out = verify_timestamps(&root, HELLO, &[t[..len].to_vec()]).unwrap();
        assert!(out.verified.is_empty(), "truncated to {len}");
    }
    // The embedded copy of the leaf: a flip in its issuer or serial makes
    // it another certificate, which is ignored (the leaf comes from the
    // trusted root); any other changed byte must fail.
    let leaf = &pem_chain("sigstore/rfc3161-client/sigstage/ts_chain.pem")[0];
    let start = t
        .windows(leaf.len())
        .position(|w| w == leaf.as_slice())
        .unwrap();
    let embedded = start..start + leaf.len();
    let mut bad = Vec::new();
    for i in 0..t.len() {
        for bit in [0x01u8, 0x80] {
            let mut x = t.clone();
            x[i] ^= bit;
            let out = verify_timestamps(&root, HELLO, &[x]).unwrap();
            if !(out.verified.is_empty() || embedded.contains(&i)) {
                bad.push((i, bit));
            }
        }
    }
    assert!(bad.is_empty(), "flips that still verify: {bad:?}");
}

#[test]
fn bundle_timestamps_verify_against_their_trusted_roots() {
    // (bundle, root, expected genTimes verified)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
            "rekor-v2/sigstore-python/trusted_root.staging.json",
            &["2025-06-09T11:57:38Z"],
        ),
        (
            "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
            "sigstore/sigstore-python/trusted_root.staging.tsa-end-equals-gentime.DERIVED.json",
            &["2025-06-09T11:57:38Z"],
        ),
        (
            "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
            "sigstore/sigstore-python/trusted_root.staging.tsa-end-before-gentime.DERIVED.json",
            &[],
        ),
        (
            "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
            "sigstore/sigstore-python/trusted_root.staging.no-tsa.DERIVED.json",
            &[],
        ),
        (
            "sigstore/sigstore-python/tsa/bundle.txt.sigstore",
            "sigstore/sigstore-python/tsa/trusted_root.staging+test-tsa.DERIVED.json",
            &["2024-10-31T10:23:39Z"],
        ),
        (
            "sigstore/sigstore-python/tsa/bundle.txt.sigstore",
            "rekor-v2/sigstore-python/trusted_root.staging.json",
            &[],
        ),
        (
            "sigstore/sigstore-python/tsa/bundle.txt.late_timestamp.sigstore",
            "rekor-v2/sigstore-python/trusted_root.staging.json",
            &["2025-05-12T19:00:27Z"],
        ),
        (
            "sigstore/sigstore-rust/cosign-v3-blob.sigstore.json",
            "rekor-v2/sigstore-python/trusted_root.production.json",
            &["2025-12-03T18:36:42Z"],
        ),
        (
            "sigstore/sigstore-rust/sct-multi-intermediate.staging_bundle.sigstore.json",
            "sigstore/sigstore-rust/sct-multi-intermediate.staging_trusted_root.json",
            &["2026-07-08T05:25:12Z"],
        ),
        (
            "sigstore/sigstore-rust/sct-multi-intermediate.staging_bundle.sigstore.json",
            "rekor-v2/sigstore-python/trusted_root.staging.json",
            &[],
        ),
        (
            "sigstore/sigstore-rust/conda-attestation-rekor2.sigstore.json",
            "rekor-v2/sigstore-python/trusted_root.staging.json",
            &["2026-05-26T07:42:21Z"],
        ),
        (
            // sigstore-go's in-test TSA: no embedded certificate, validFor
            // with nanoseconds; genTime from its notes.
            "sigstore/sigstore-go/public-key-validity.sigstore.json",
            "sigstore/sigstore-go/public-key-validity.trusted_root.json",
            &["2026-06-04T17:43:29Z"],
        ),
        (
            // SignerInfo with SHA-384 and ecdsa-with-SHA384; genTime from
            // openssl ts -reply -text.
            "sigstore/sigstore-rust/github_sha384_bundle.json",
            "sigstore/sigstore-rust/trusted_root_github.json",
            &["2026-03-02T09:52:15Z"],
        ),
    ];
    for (bundle, root_file, want) in cases {
        let b = json(bundle);
        let r = root(root_file);
        let out = verify_timestamps(&r, &signature(&b), &timestamps(&b)).unwrap();
        let got: Vec<_> = out.verified.iter().map(|v| v.time).collect();
        let want: Vec<_> = want.iter().map(|t| at(t)).collect();
        assert_eq!(got, want, "{bundle} with {root_file}: {:?}", out.warnings);
    }
}

#[test]
fn the_python_bundle_keeps_one_good_and_warns_about_the_other() {
    let b = json("sigstore/sigstore-python/tsa/bundle.txt.sigstore");
    let r = root("sigstore/sigstore-python/tsa/trusted_root.staging+test-tsa.DERIVED.json");
    let out = verify_timestamps(&r, &signature(&b), &timestamps(&b)).unwrap();
    assert_eq!(out.verified.len(), 1);
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].starts_with("timestamp 1 "),
        "{:?}",
        out.warnings
    );
}

#[test]
fn a_token_without_certificates_verifies_with_the_leaf_from_the_root() {
    let r = root("rekor-v2/sigstore-python/trusted_root.staging.json");
    let message = read("sigstore/sigstore-python/tsa/issue1482-message");
    let t = read("sigstore/sigstore-python/tsa/issue1482-timestamp-with-no-cert");
    let out = verify_timestamps(&r, &message, &[t]).unwrap();
    assert_eq!(out.verified.len(), 1, "{:?}", out.warnings);
    assert_eq!(out.verified[0].time, at("2025-07-25T19:53:04Z"));
}

#[test]
fn verified_times_serialize_as_rfc3339_with_a_snake_case_source() {
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    let out = verify_timestamps(&root, HELLO, &[token("sigstage/response-sha256.tsr")]).unwrap();
    assert_eq!(
        serde_json::to_value(&out.verified[0]).unwrap(),
        serde_json::json!({
            "time": "2025-05-09T11:58:55Z",
            "source": { "type": "timestamp_authority", "uri": SIGSTAGE },
        })
    );
}

#[test]
fn token_size_limit() {
    use islet_verify::timestamp::MAX_TIMESTAMP_BYTES;
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    let out = verify_timestamps(&root, HELLO, &[vec![0x30; MAX_TIMESTAMP_BYTES]]).unwrap();
    assert!(
        out.warnings[0].contains("not a DER TimeStampResp"),
        "{:?}",
        out.warnings
    );
    let out = verify_timestamps(&root, HELLO, &[vec![0x30; MAX_TIMESTAMP_BYTES + 1]]).unwrap();
    assert!(
        out.warnings[0].contains("more than the"),
        "{:?}",
        out.warnings
    );
}

/// The sigstage token with `extra` more certificates in its bag (copies
/// of the TSA root with one signature byte changed each: they parse, and
/// none is the signer).
fn with_extra_certificates(extra: usize) -> Vec<u8> {
    use cms::cert::CertificateChoices;
    use cms::signed_data::{CertificateSet, SignedData};
    use der::asn1::SetOfVec;
    use der::{Any, Decode, Encode};
    use x509_cert::Certificate;
    use x509_tsp::TimeStampResp;

    let t = token("sigstage/response-sha256.tsr");
    let mut resp = TimeStampResp::from_der(&t).unwrap();
    let mut token = resp.time_stamp_token.take().unwrap();
    let mut sd: SignedData = token.content.decode_as().unwrap();
    let anchor = pem_chain("sigstore/rfc3161-client/sigstage/ts_chain.pem")[1].clone();
    let mut certs: Vec<CertificateChoices> = sd.certificates.take().unwrap().0.into_vec();
    for i in 0..extra {
        let mut c = Certificate::from_der(&anchor).unwrap();
        let mut sig = c.signature.raw_bytes().to_vec();
        let n = sig.len();
        sig[n - 1 - i / 256] ^= u8::try_from(i % 256).unwrap() ^ 0x5a;
        c.signature = der::asn1::BitString::from_bytes(&sig).unwrap();
        certs.push(CertificateChoices::Certificate(c));
    }
    sd.certificates = Some(CertificateSet(SetOfVec::try_from(certs).unwrap()));
    token.content = Any::encode_from(&sd).unwrap();
    resp.time_stamp_token = Some(token);
    resp.to_der().unwrap()
}

#[test]
fn embedded_certificate_limit() {
    use islet_verify::timestamp::MAX_EMBEDDED_CERTIFICATES;
    let root = sigstage_root("2025-04-01T00:00:00Z", None);
    // The token embeds the leaf already.
    let at_limit = with_extra_certificates(MAX_EMBEDDED_CERTIFICATES - 1);
    let out = verify_timestamps(&root, HELLO, &[at_limit]).unwrap();
    assert_eq!(out.verified.len(), 1, "{:?}", out.warnings);
    let over = with_extra_certificates(MAX_EMBEDDED_CERTIFICATES);
    let out = verify_timestamps(&root, HELLO, &[over]).unwrap();
    assert!(out.verified.is_empty());
    assert!(
        out.warnings[0].contains("embeds 17 certificates"),
        "{:?}",
        out.warnings
    );
}
