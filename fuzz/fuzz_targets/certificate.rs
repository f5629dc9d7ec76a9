//! Signing certificates (a bundle's leaf, DER) through the three checks
//! islet-verify makes of them: `identity::identity`,
//! `certificate::verify_certificate` and `sct::verify_scts`, against the
//! certificate authorities and CT logs of the real trusted roots of the
//! vectors, merged (staging, production, public-good, GitHub, and the
//! staging root of sigstore-rust's multi-intermediate vector).
//!
//! The certificate is checked at its own notBefore, the middle of its
//! validity and its notAfter (read here with x509-cert), so the real
//! Fulcio certificates (the seeds) chain and their mutations fail deep in
//! the path and SCT checks.
//!
//! Properties: no check panics; each fails only with its own check; an
//! identity is read from the certificate, not invented (its SAN and
//! issuer are bytes of the DER); a certificate never verifies without a
//! time nor one second outside its validity; one that verifies at several
//! times verifies at each, and the issuer returned is a certificate of an
//! authority valid at the first of them; verified SCTs come from at least one
//! and at most every CT log of the root.
//!
//! Seeds (`fuzz/seeds/certificate/`): the Fulcio certificates of the
//! vector bundles, decoded to DER.
#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use der::{Decode, Encode};
use islet_verify::Check;
use islet_verify::certificate::verify_certificate;
use islet_verify::identity::identity;
use islet_verify::sct::verify_scts;
use islet_verify::trusted_root::TrustedRoot;
use libfuzzer_sys::fuzz_target;

const ROOTS: [&[u8]; 5] = [
    include_bytes!("../../tests/vectors/rekor-v2/sigstore-python/trusted_root.staging.json"),
    include_bytes!("../../tests/vectors/rekor-v2/sigstore-python/trusted_root.production.json"),
    include_bytes!("../../tests/vectors/sigstore/sigstore-go/trusted-root-public-good.json"),
    include_bytes!("../../tests/vectors/sigstore/sigstore-rust/trusted_root_github.json"),
    include_bytes!(
        "../../tests/vectors/sigstore/sigstore-rust/sct-multi-intermediate.staging_trusted_root.json"
    ),
];

fn root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        let mut all = ROOTS
            .iter()
            .map(|r| TrustedRoot::parse(r).expect("a real root parses"));
        let mut root = all.next().expect("a root");
        for r in all {
            root.certificate_authorities
                .extend(r.certificate_authorities);
            root.ct_logs.extend(r.ct_logs);
        }
        root.logs.clear();
        root.timestamp_authorities.clear();
        root
    })
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// notBefore, notAfter and the issuer Name (DER), read with x509-cert.
fn read(der: &[u8]) -> Option<(SystemTime, SystemTime, Vec<u8>)> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    Some((
        tbs.validity.not_before.to_system_time(),
        tbs.validity.not_after.to_system_time(),
        tbs.issuer.to_der().ok()?,
    ))
}

/// The subject Name (DER) of a certificate.
fn subject(der: &[u8]) -> Option<Vec<u8>> {
    x509_cert::Certificate::from_der(der)
        .ok()?
        .tbs_certificate
        .subject
        .to_der()
        .ok()
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    let second = Duration::from_secs(1);

    match identity(data) {
        Ok(id) => {
            assert!(
                contains(data, id.san.as_bytes()),
                "a SAN not in the certificate: {id:?}"
            );
            if let Some(issuer) = &id.issuer {
                assert!(
                    contains(data, issuer.as_bytes()),
                    "an issuer not in the certificate: {id:?}"
                );
            }
            assert_eq!(identity(data), Ok(id), "two identities for one certificate");
        }
        Err(f) => assert_eq!(f.check, Check::Identity, "{f:?}"),
    }

    let fail = verify_certificate(root, data, &[]);
    assert_eq!(
        fail.map_err(|f| f.check),
        Err(Check::Certificate),
        "verified at no time"
    );

    let Some((not_before, not_after, issuer_name)) = read(data) else {
        // Unreadable here: the checks must fail without a panic.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        if let Err(f) = verify_certificate(root, data, &[t]) {
            assert_eq!(f.check, Check::Certificate, "{f:?}");
        }
        if let Some(ca) = root.certificate_authorities.first() {
            if let Err(f) = verify_scts(root, data, &ca.chain[0]) {
                assert_eq!(f.check, Check::Sct, "{f:?}");
            }
        }
        return;
    };
    let mut times = vec![not_before];
    if let Ok(span) = not_after.duration_since(not_before) {
        times.push(not_before + span / 2);
        times.push(not_after);
    }
    let verdict = verify_certificate(root, data, &times);
    // One second outside the leaf's validity, never.
    if let Some(before) = not_before.checked_sub(second) {
        let r = verify_certificate(root, data, &[before]);
        assert!(r.is_err(), "verified before notBefore");
    }
    if let Some(after) = not_after.checked_add(second) {
        let r = verify_certificate(root, data, &[after]);
        assert!(r.is_err(), "verified after notAfter");
    }
    let mut issuers: Vec<Vec<u8>> = Vec::new();
    match verdict {
        Ok(issuer) => {
            for &t in &times {
                assert!(
                    verify_certificate(root, data, &[t]).is_ok(),
                    "verified at all times, not at one"
                );
            }
            assert!(
                root.certificate_authorities
                    .iter()
                    .any(|ca| ca.chain.contains(&issuer) && ca.valid_at(times[0])),
                "an issuer of no authority valid at the first time"
            );
            issuers.push(issuer);
        }
        Err(f) => {
            assert_eq!(f.check, Check::Certificate, "{f:?}");
            // The SCT check on its own, with every certificate of the root
            // that could have issued this one.
            let mut seen = HashSet::new();
            for ca in &root.certificate_authorities {
                for c in &ca.chain {
                    if subject(c).as_deref() == Some(issuer_name.as_slice()) && seen.insert(c) {
                        issuers.push(c.clone());
                    }
                }
            }
        }
    }
    let logs: HashSet<&[u8]> = root.ct_logs.iter().map(|l| l.log_id.as_slice()).collect();
    for issuer in &issuers {
        match verify_scts(root, data, issuer) {
            Ok(n) => assert!(
                (1..=logs.len()).contains(&n),
                "{n} CT logs of {} verified",
                logs.len()
            ),
            Err(f) => assert_eq!(f.check, Check::Sct, "{f:?}"),
        }
    }
});
