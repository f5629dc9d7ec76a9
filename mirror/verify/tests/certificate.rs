//! Real Fulcio certificates from real bundles: their chains at their
//! verified times, their SCTs against the trusted roots' CT logs, their
//! identities, and the ways each check fails. Identities and times come
//! from the vectors' notes (and `openssl x509 -text`).

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use islet_verify::Check;
use islet_verify::certificate::verify_certificate;
use islet_verify::identity::{Identity, IdentityPolicy, MAX_REGEX_LENGTH, identity};
use islet_verify::sct::verify_scts;
use islet_verify::trusted_root::TrustedRoot;
use serde_json::Value;

const STAGING: &str = "rekor-v2/sigstore-python/trusted_root.staging.json";
const PRODUCTION: &str = "rekor-v2/sigstore-python/trusted_root.production.json";
const GH_ACTIONS: &str = "https://token.actions.githubusercontent.com";
const GH_OAUTH: &str = "https://github.com/login/oauth";

struct Case {
    bundle: &'static str,
    root: &'static str,
    /// A verified time of the bundle (a TSA genTime or a SET-backed
    /// integrated time), RFC 3339, or None for the first entry's
    /// integrated time.
    time: Option<&'static str>,
    san: &'static str,
    issuer: Option<&'static str>,
    /// Whether the certificate carries SCTs.
    scts: bool,
}

const CASES: &[Case] = &[
    Case {
        bundle: "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
        root: STAGING,
        time: Some("2025-06-09T11:57:38Z"),
        san: "jku@goto.fi",
        issuer: Some(GH_OAUTH),
        scts: true,
    },
    Case {
        bundle: "sigstore/sigstore-python/tsa/bundle.txt.sigstore",
        root: "sigstore/sigstore-python/tsa/trusted_root.staging+test-tsa.DERIVED.json",
        time: Some("2024-10-31T10:23:39Z"),
        san: "alexis.challande@trailofbits.com",
        issuer: Some("https://accounts.google.com"),
        scts: true,
    },
    Case {
        bundle: "sigstore/sigstore-rust/cosign-v3-blob.sigstore.json",
        root: PRODUCTION,
        time: Some("2025-12-03T18:36:42Z"),
        san: "w.vollprecht@gmail.com",
        issuer: Some(GH_OAUTH),
        scts: true,
    },
    Case {
        bundle: "sigstore/sigstore-rust/sct-multi-intermediate.staging_bundle.sigstore.json",
        root: "sigstore/sigstore-rust/sct-multi-intermediate.staging_trusted_root.json",
        time: Some("2026-07-08T05:25:12Z"),
        san: "https://github.com/sigstore/root-signing-staging/.github/workflows/custom-test.yml@refs/heads/main",
        issuer: Some(GH_ACTIONS),
        scts: true,
    },
    Case {
        bundle: "sigstore/sigstore-rust/conda-attestation-rekor2.sigstore.json",
        root: STAGING,
        time: Some("2026-05-26T07:42:21Z"),
        san: "jku@goto.fi",
        issuer: Some(GH_OAUTH),
        scts: true,
    },
    Case {
        bundle: "sigstore/sigstore-rust/github_sha384_bundle.json",
        root: "sigstore/sigstore-rust/trusted_root_github.json",
        time: Some("2026-03-02T09:52:15Z"),
        san: "https://dotcom.releases.github.com",
        issuer: None,
        scts: false,
    },
    Case {
        bundle: "sigstore/sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json",
        root: "sigstore/sigstore-go/trusted-root-public-good.json",
        time: None,
        san: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
        issuer: Some(GH_ACTIONS),
        scts: true,
    },
];

fn time_of(c: &Case, b: &Value) -> SystemTime {
    c.time.map_or_else(|| integrated_time(b), at)
}

#[test]
fn real_fulcio_certificates_chain_and_their_scts_verify() {
    for c in CASES {
        let b = json(c.bundle);
        let root = root(c.root);
        let leaf = leaf(&b);
        let issuer = verify_certificate(&root, &leaf, &[time_of(c, &b)])
            .unwrap_or_else(|f| panic!("{}: {f:?}", c.bundle));
        // The issuer is a certificate of one of the root's CAs.
        assert!(
            root.certificate_authorities
                .iter()
                .any(|ca| ca.chain.contains(&issuer)),
            "{}",
            c.bundle
        );
        let scts = verify_scts(&root, &leaf, &issuer);
        if c.scts {
            assert_eq!(
                scts.unwrap_or_else(|f| panic!("{}: {f:?}", c.bundle)),
                1,
                "{}",
                c.bundle
            );
        } else {
            let f = scts.unwrap_err();
            assert_eq!(f.check, Check::Sct);
            assert!(f.reason.contains("no SCT list"), "{}", f.reason);
        }
    }
}

#[test]
fn identities_extract_as_the_vectors_say() {
    for c in CASES {
        let b = json(c.bundle);
        assert_eq!(
            identity(&leaf(&b)).unwrap(),
            Identity {
                san: c.san.into(),
                issuer: c.issuer.map(Into::into),
            },
            "{}",
            c.bundle
        );
    }
}

#[test]
fn both_bundle_times_must_hold() {
    // The python TSA bundle: SET time and TSA time, both in the cert.
    let b = json("sigstore/sigstore-python/tsa/bundle.txt.sigstore");
    let root = root(STAGING);
    verify_certificate(
        &root,
        &leaf(&b),
        &[integrated_time(&b), at("2024-10-31T10:23:39Z")],
    )
    .unwrap();
}

#[test]
fn a_time_outside_the_leaf_validity_fails_with_a_precise_message() {
    // Cert valid 2025-05-12 18:48:26..18:58:26Z; the TSA says 19:00:27Z.
    // (Its issuing intermediate, a newer staging one, is not in this root:
    // only the leaf-time check, which comes first, is exercised here.)
    let b = json("sigstore/sigstore-python/tsa/bundle.txt.late_timestamp.sigstore");
    let root = root(STAGING);
    let leaf = leaf(&b);
    for inside in ["2025-05-12T18:48:26Z", "2025-05-12T18:58:26Z"] {
        let f = verify_certificate(&root, &leaf, &[at(inside)]).unwrap_err();
        assert!(f.reason.contains("does not chain"), "{}", f.reason);
    }
    let f = verify_certificate(
        &root,
        &leaf,
        &[at("2025-05-12T18:48:27Z"), at("2025-05-12T19:00:27Z")],
    )
    .unwrap_err();
    assert_eq!(f.check, Check::Certificate);
    assert_eq!(
        f.reason,
        "the timestamp 2025-05-12T19:00:27Z is outside the certificate's validity (2025-05-12T18:48:26Z to 2025-05-12T18:58:26Z)"
    );
    let f = verify_certificate(&root, &leaf, &[at("2025-05-12T18:48:25Z")]).unwrap_err();
    assert!(
        f.reason
            .starts_with("the timestamp 2025-05-12T18:48:25Z is outside"),
        "{}",
        f.reason
    );
    // No time at all.
    assert_eq!(
        verify_certificate(&root, &leaf, &[]).unwrap_err().check,
        Check::Certificate
    );
}

/// The staging root with every CA's validFor ending at `end`.
fn staging_with_ca_end(end: &str) -> TrustedRoot {
    let mut v = json(STAGING);
    for ca in v["certificateAuthorities"].as_array_mut().unwrap() {
        ca["validFor"]["end"] = Value::String(end.into());
    }
    root_of(&v)
}

#[test]
fn a_certificate_issued_outside_the_ca_validfor_fails() {
    let b = json("rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json");
    let t = at("2025-06-09T11:57:38Z");
    // Closed interval: end == t still verifies.
    verify_certificate(
        &staging_with_ca_end("2025-06-09T11:57:38Z"),
        &leaf(&b),
        &[t],
    )
    .unwrap();
    let f = verify_certificate(
        &staging_with_ca_end("2025-06-09T11:57:37Z"),
        &leaf(&b),
        &[t],
    )
    .unwrap_err();
    assert_eq!(f.check, Check::Certificate);
    assert_eq!(
        f.reason,
        "no certificate authority of the trusted root is valid at 2025-06-09T11:57:38Z"
    );
}

#[test]
fn another_ca_does_not_vouch_for_the_certificate() {
    // A staging certificate against the production root.
    let b = json("rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json");
    let f = verify_certificate(&root(PRODUCTION), &leaf(&b), &[at("2025-06-09T11:57:38Z")])
        .unwrap_err();
    assert_eq!(f.check, Check::Certificate);
    assert!(f.reason.contains("does not chain"), "{}", f.reason);
}

#[test]
fn a_wrong_ct_key_fails_the_sct_check() {
    let b = json("rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json");
    let leaf = leaf(&b);
    let good = root(STAGING);
    let issuer = verify_certificate(&good, &leaf, &[at("2025-06-09T11:57:38Z")]).unwrap();
    assert_eq!(verify_scts(&good, &leaf, &issuer).unwrap(), 1);

    // Give every ECDSA CT log the key of the Rekor v1 log (another P-256
    // key), keeping the log IDs.
    let mut v = json(STAGING);
    let rekor_key = v["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["publicKey"]["keyDetails"] == "PKIX_ECDSA_P256_SHA_256")
        .unwrap()["publicKey"]["rawBytes"]
        .clone();
    for ct in v["ctlogs"].as_array_mut().unwrap() {
        if ct["publicKey"]["keyDetails"] == "PKIX_ECDSA_P256_SHA_256" {
            ct["publicKey"]["rawBytes"] = rekor_key.clone();
        }
    }
    let f = verify_scts(&root_of(&v), &leaf, &issuer).unwrap_err();
    assert_eq!(f.check, Check::Sct);
    assert!(f.reason.contains("does not verify"), "{}", f.reason);

    // Without the CT logs at all.
    let mut none = good.clone();
    none.ct_logs.clear();
    let f = verify_scts(&none, &leaf, &issuer).unwrap_err();
    assert!(
        f.reason.contains("no CT log of the trusted root"),
        "{}",
        f.reason
    );

    // The SCT's time outside the log key's validity.
    let mut late = good.clone();
    for l in &mut late.ct_logs {
        l.valid_from = at("2030-01-01T00:00:00Z");
    }
    let f = verify_scts(&late, &leaf, &issuer).unwrap_err();
    assert!(f.reason.contains("outside the validity"), "{}", f.reason);

    // The wrong issuer (the CA root instead of the intermediate).
    let ca = good
        .certificate_authorities
        .iter()
        .find(|ca| ca.chain[0] == issuer)
        .unwrap();
    if ca.chain.len() > 1 {
        let f = verify_scts(&good, &leaf, ca.chain.last().unwrap()).unwrap_err();
        assert_eq!(f.check, Check::Sct);
    }
}

#[test]
fn a_missing_validfor_start_fails_the_root_and_names_the_entry() {
    let e = TrustedRoot::parse(&read(
        "sigstore/sigstore-python/trusted_root.staging.tlog-validfor-no-start.DERIVED.json",
    ))
    .unwrap_err();
    assert!(e.starts_with("tlogs["), "{e}");
    assert!(e.contains("publicKey.validFor.start is missing"), "{e}");

    let mut v = json(STAGING);
    v["ctlogs"][1]["publicKey"]["validFor"]
        .as_object_mut()
        .unwrap()
        .remove("start");
    let e = TrustedRoot::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(
        e.starts_with("ctlogs[1] (https://ctfe.sigstage.dev/2022)"),
        "{e}"
    );

    let mut v = json(STAGING);
    v["ctlogs"][0]["publicKey"]
        .as_object_mut()
        .unwrap()
        .remove("validFor");
    let e = TrustedRoot::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.contains("ctlogs[0]"), "{e}");
}

#[test]
fn trusted_roots_read_their_authorities() {
    let r = root(STAGING);
    assert_eq!(r.certificate_authorities.len(), 1);
    assert_eq!(
        r.certificate_authorities[0].uri,
        "https://fulcio.sigstage.dev"
    );
    assert_eq!(r.timestamp_authorities.len(), 1);
    assert_eq!(
        r.timestamp_authorities[0].valid_from,
        at("2025-04-09T00:00:00Z")
    );
    assert_eq!(r.timestamp_authorities[0].valid_until, None);
    assert_eq!(r.ct_logs.len(), 4);
    assert_eq!(r.ct_logs[0].key_details, "PKCS1_RSA_PKCS1V5");
    let gh = root("sigstore/sigstore-rust/trusted_root_github.json");
    assert_eq!(gh.certificate_authorities.len(), 6);
    assert_eq!(gh.timestamp_authorities.len(), 6);
    assert!(gh.ct_logs.is_empty() && gh.logs.is_empty());
}

#[test]
fn trusted_root_media_types() {
    let mut v = json(STAGING);
    v["mediaType"] = "application/vnd.dev.sigstore.trustedroot.v0.2+json".into();
    root_of(&v);
    v["mediaType"] = "application/vnd.dev.sigstore.trustedroot+json;version=0.2".into();
    let e = TrustedRoot::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.contains("media type"), "{e}");
}

#[test]
fn trusted_root_chains_are_bounded_and_parsed() {
    use islet_verify::trusted_root::{MAX_CHAIN_LENGTH, MAX_ROOT_ENTRIES};
    let base = json(STAGING);
    let ca = base["certificateAuthorities"][0].clone();
    let cert = ca["certChain"]["certificates"][0].clone();

    let with_chain = |n: usize| {
        let mut v = base.clone();
        v["certificateAuthorities"][0]["certChain"]["certificates"] =
            Value::Array(vec![cert.clone(); n]);
        TrustedRoot::parse(&serde_json::to_vec(&v).unwrap())
    };
    with_chain(MAX_CHAIN_LENGTH).unwrap();
    assert!(
        with_chain(MAX_CHAIN_LENGTH + 1)
            .unwrap_err()
            .contains("certificateAuthorities[0]")
    );
    assert!(with_chain(0).is_err());

    let with_cas = |n: usize| {
        let mut v = base.clone();
        v["certificateAuthorities"] = Value::Array(vec![ca.clone(); n]);
        TrustedRoot::parse(&serde_json::to_vec(&v).unwrap())
    };
    assert_eq!(
        with_cas(MAX_ROOT_ENTRIES)
            .unwrap()
            .certificate_authorities
            .len(),
        MAX_ROOT_ENTRIES
    );
    assert!(
        with_cas(MAX_ROOT_ENTRIES + 1)
            .unwrap_err()
            .contains("more than")
    );

    // A certificate that is not DER.
    let mut v = base.clone();
    v["timestampAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] =
        STANDARD.encode(b"not a certificate").into();
    let e = TrustedRoot::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.starts_with("timestampAuthorities[0] (https://timestamp.sigstage.dev/api/v1/timestamp): certificate 0"), "{e}");

    // URL-safe base64 is read too.
    let mut v = base.clone();
    let std = v["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = std.replace('+', "-").replace('/', "_");
    assert_ne!(std, url);
    v["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] = url.into();
    assert_eq!(
        root_of(&v).certificate_authorities,
        root(STAGING).certificate_authorities
    );
}

#[test]
fn certificate_size_limit() {
    use islet_verify::trusted_root::MAX_CERTIFICATE_BYTES;
    let root = root(STAGING);
    let big = vec![0x30u8; MAX_CERTIFICATE_BYTES + 1];
    let f = verify_certificate(&root, &big, &[at("2025-06-09T11:57:38Z")]).unwrap_err();
    assert!(f.reason.contains("more than the"), "{}", f.reason);
    let at_limit = vec![0x30u8; MAX_CERTIFICATE_BYTES];
    let f = verify_certificate(&root, &at_limit, &[at("2025-06-09T11:57:38Z")]).unwrap_err();
    assert!(f.reason.contains("not DER"), "{}", f.reason);
}

#[test]
fn policies_match_and_mismatch() {
    let id = Identity {
        san:
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
                .into(),
        issuer: Some(GH_ACTIONS.into()),
    };
    let p = |i: Option<&str>, ir: Option<&str>, s: Option<&str>, sr: Option<&str>| {
        IdentityPolicy::new(i.map(Into::into), ir, s.map(Into::into), sr).unwrap()
    };
    p(Some(&id.san), None, Some(GH_ACTIONS), None)
        .check(&id)
        .unwrap();
    // Unanchored search.
    p(None, Some("sigstore-js/"), None, Some("githubusercontent"))
        .check(&id)
        .unwrap();
    // Both exact and regexp: both must hold.
    p(
        Some(&id.san),
        Some("^https://github.com/sigstore/"),
        Some(GH_ACTIONS),
        Some("^https://token"),
    )
    .check(&id)
    .unwrap();
    let f = p(
        Some(&id.san),
        Some("^https://gitlab.com/"),
        Some(GH_ACTIONS),
        None,
    )
    .check(&id)
    .unwrap_err();
    assert_eq!(f.check, Check::Identity);
    assert!(
        f.reason.contains("does not match \"^https://gitlab.com/\""),
        "{}",
        f.reason
    );

    let f = p(Some("someone@example.org"), None, Some(GH_ACTIONS), None)
        .check(&id)
        .unwrap_err();
    assert_eq!(
        f.reason,
        format!(
            "the certificate's identity is {:?}, the policy expects \"someone@example.org\"",
            id.san
        )
    );
    let f = p(
        Some(&id.san),
        None,
        Some("https://accounts.google.com"),
        None,
    )
    .check(&id)
    .unwrap_err();
    assert_eq!(
        f.reason,
        "the certificate's OIDC issuer is \"https://token.actions.githubusercontent.com\", the policy expects \"https://accounts.google.com\""
    );

    // A certificate without an issuer matches only an issuer regexp that
    // matches the empty string.
    let gh = Identity {
        san: "https://dotcom.releases.github.com".into(),
        issuer: None,
    };
    p(Some(&gh.san), None, None, Some(".*")).check(&gh).unwrap();
    let f = p(Some(&gh.san), None, Some(GH_ACTIONS), None)
        .check(&gh)
        .unwrap_err();
    assert!(f.reason.contains("no OIDC issuer"), "{}", f.reason);
}

#[test]
fn policies_need_both_criteria_and_valid_bounded_regexps() {
    let e = IdentityPolicy::new(Some("a".into()), None, None, None).unwrap_err();
    assert_eq!(e.check, Check::Policy);
    let e = IdentityPolicy::new(None, None, Some("a".into()), None).unwrap_err();
    assert_eq!(e.check, Check::Policy);
    let e = IdentityPolicy::new(None, Some("("), Some("a".into()), None).unwrap_err();
    assert_eq!(e.check, Check::Policy);
    assert!(
        e.reason.starts_with("--certificate-identity-regexp \"(\""),
        "{}",
        e.reason
    );
    // Length: at the limit and one past it.
    let at_limit = "a".repeat(MAX_REGEX_LENGTH);
    IdentityPolicy::new(None, Some(&at_limit), Some("a".into()), None).unwrap();
    let over = "a".repeat(MAX_REGEX_LENGTH + 1);
    let e = IdentityPolicy::new(None, Some(&over), Some("a".into()), None).unwrap_err();
    assert!(e.reason.contains("longer than"), "{}", e.reason);
    // Compiled size: a short pattern that expands past the limit.
    let e =
        IdentityPolicy::new(None, Some(r"\w{1000}\w{1000}"), Some("a".into()), None).unwrap_err();
    assert_eq!(e.check, Check::Policy);
}

#[test]
fn truncated_and_flipped_certificates_never_panic() {
    let b = json("rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json");
    let root = root(STAGING);
    let leaf = leaf(&b);
    let t = at("2025-06-09T11:57:38Z");
    let issuer = verify_certificate(&root, &leaf, &[t]).unwrap();
    for len in 0..leaf.len() {
        let x = &leaf[..len];
        assert!(verify_certificate(&root, x, &[t]).is_err());
        assert!(verify_scts(&root, x, &issuer).is_err());
        assert!(identity(x).is_err());
    }
    for i in 0..leaf.len() {
        let mut x = leaf.clone();
        x[i] ^= 0x01;
        // The signature covers every byte of the TBSCertificate; a flip in
        // the outer header or the signature itself must fail too.
        let chained = verify_certificate(&root, &x, &[t]).is_ok();
        assert!(!chained, "a flip at {i} still chains");
        let _ = verify_scts(&root, &x, &issuer);
        let _ = identity(&x);
    }
}

/// The certificate with its SCT list replaced by `n` copies of its first
/// SCT (the SCTs sign the certificate without the list, so each copy
/// still verifies).
fn with_sct_copies(leaf: &[u8], n: usize) -> Vec<u8> {
    use der::asn1::OctetString;
    use der::{Decode, Encode};
    let mut cert = x509_cert::Certificate::from_der(leaf).unwrap();
    let exts = cert.tbs_certificate.extensions.as_mut().unwrap();
    let ext = exts
        .iter_mut()
        .find(|e| e.extn_id.to_string() == "1.3.6.1.4.1.11129.2.4.2")
        .unwrap();
    let inner = OctetString::from_der(ext.extn_value.as_bytes()).unwrap();
    let list = inner.as_bytes();
    // TLS: u16 list length, then u16-prefixed SCTs.
    let first_len = usize::from(u16::from_be_bytes([list[2], list[3]]));
    let first = &list[2..4 + first_len];
    let body: Vec<u8> = first.repeat(n);
    let mut tls = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    tls.extend_from_slice(&body);
    ext.extn_value = OctetString::new(OctetString::new(tls).unwrap().to_der().unwrap()).unwrap();
    cert.to_der().unwrap()
}

#[test]
fn sct_count_limit() {
    use islet_verify::sct::MAX_SCTS;
    let b = json("rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json");
    let root = root(STAGING);
    let leaf = leaf(&b);
    let issuer = verify_certificate(&root, &leaf, &[at("2025-06-09T11:57:38Z")]).unwrap();
    // Many SCTs of one log count as one log.
    assert_eq!(
        verify_scts(&root, &with_sct_copies(&leaf, MAX_SCTS), &issuer).unwrap(),
        1
    );
    let f = verify_scts(&root, &with_sct_copies(&leaf, MAX_SCTS + 1), &issuer).unwrap_err();
    assert_eq!(f.check, Check::Sct);
    assert!(f.reason.contains("more than 32"), "{}", f.reason);
}

#[test]
fn a_timestamping_certificate_is_not_a_signing_certificate() {
    // The sigstage TSA leaf under its own root, used as a CA entry: the
    // chain holds, the purpose does not.
    let chain = pem_chain("sigstore/rfc3161-client/sigstage/ts_chain.pem");
    let mut v = json(STAGING);
    v["certificateAuthorities"][0]["certChain"]["certificates"] =
        serde_json::json!([{ "rawBytes": STANDARD.encode(&chain[1]) }]);
    v["certificateAuthorities"][0]["validFor"] =
        serde_json::json!({ "start": "2025-01-01T00:00:00Z" });
    let f = verify_certificate(&root_of(&v), &chain[0], &[at("2025-06-01T00:00:00Z")]).unwrap_err();
    assert_eq!(f.check, Check::Certificate);
    assert!(
        f.reason.contains("does not include codeSigning"),
        "{}",
        f.reason
    );
    // And the CA itself is not a leaf.
    let f = verify_certificate(&root_of(&v), &chain[1], &[at("2025-06-01T00:00:00Z")]).unwrap_err();
    assert!(f.reason.contains("is a CA certificate"), "{}", f.reason);
}
