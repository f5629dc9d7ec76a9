//! Sigstore bundles through the whole offline verifier (`islet verify`
//! without `--log`: no network, no store), under three policies, from the
//! most lenient to the strictest:
//!
//! - lax: the identity only (no SCT, no thresholds);
//! - default: [`Policy::default`] with the identity;
//! - strict: the default and the artifact.
//!
//! Properties: verification never panics; a bundle verifies the same way
//! twice (the second time through the remembered checkpoint); a stricter
//! policy can only take acceptance away (what a stricter policy accepts,
//! a laxer one accepts with the same report, the binding aside when the
//! artifact is the difference); an accepted bundle names only logs of the
//! trusted root, each entry at an index inside the tree its proof is for,
//! and has at least one verified time when it is signed by a certificate,
//! each time from the root's logs or timestamp authorities.
//!
//! The trusted root is fixed: the real staging and production roots of the
//! vectors, merged, so the real staging bundle (the seed,
//! `fuzz/seeds/bundle/`) with the identity of its signer
//! (jku@goto.fi, GitHub's OAuth issuer) gets through every check and its
//! mutations fail deep inside them.
#![no_main]

use std::sync::OnceLock;

use islet_verify::identity::IdentityPolicy;
use islet_verify::timestamp::TimeSource;
use islet_verify::trusted_root::TrustedRoot;
use islet_verify::{Artifact, Failure, Policy, Subject, Verified, Verifier};
use libfuzzer_sys::fuzz_target;

const STAGING_ROOT: &[u8] =
    include_bytes!("../../tests/vectors/rekor-v2/sigstore-python/trusted_root.staging.json");
const PRODUCTION_ROOT: &[u8] =
    include_bytes!("../../tests/vectors/rekor-v2/sigstore-python/trusted_root.production.json");
/// The artifact the staging bundle signs.
const ARTIFACT: &[u8] =
    include_bytes!("../../tests/vectors/sigstore/sigstore-python/staging-rekor-v2.txt");

const IDENTITY: &str = "jku@goto.fi";
const ISSUER: &str = "https://github.com/login/oauth";

fn root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        let mut root = TrustedRoot::parse(STAGING_ROOT).expect("the staging root parses");
        let production = TrustedRoot::parse(PRODUCTION_ROOT).expect("the production root parses");
        root.logs.extend(production.logs);
        root.skipped.extend(production.skipped);
        root.certificate_authorities
            .extend(production.certificate_authorities);
        root.timestamp_authorities
            .extend(production.timestamp_authorities);
        root.ct_logs.extend(production.ct_logs);
        root
    })
}

fn identity() -> IdentityPolicy {
    IdentityPolicy::new(Some(IDENTITY.into()), None, Some(ISSUER.into()), None)
        .expect("the identity policy is valid")
}

struct Verifiers {
    lax: Verifier<'static>,
    default: Verifier<'static>,
    strict: Verifier<'static>,
}

fn verifiers() -> &'static Verifiers {
    static VERIFIERS: OnceLock<Verifiers> = OnceLock::new();
    VERIFIERS.get_or_init(|| {
        let default = Policy {
            identity: Some(identity()),
            ..Policy::default()
        };
        let lax = Policy {
            min_tlog: 0,
            min_tsa: Some(0),
            min_timestamps: Some(0),
            require_sct: false,
            ..default.clone()
        };
        let strict = Policy {
            artifact: Some(Subject::Artifact(Artifact::of(ARTIFACT))),
            ..default.clone()
        };
        let mut v = Verifiers {
            lax: Verifier::new(root(), None, lax),
            default: Verifier::new(root(), None, default),
            strict: Verifier::new(root(), None, strict),
        };
        // One clock for all three, so their reports compare.
        let now = v.default.now;
        v.lax.now = now;
        v.strict.now = now;
        v
    })
}

fn check_accepted(v: &Verified) {
    assert_eq!(v.rekor_verified, !v.entries.is_empty());
    for e in &v.entries {
        assert!(
            e.proof_index < e.tree_size,
            "accepted index {} in a tree of size {}",
            e.proof_index,
            e.tree_size
        );
        assert_eq!(e.local_size, None, "no local log, yet a local size");
        assert!(
            matches!(
                (e.kind.as_str(), e.version.as_str()),
                ("hashedrekord" | "dsse", "0.0.1" | "0.0.2") | ("intoto", "0.0.2")
            ),
            "accepted an entry of kind {} version {}",
            e.kind,
            e.version
        );
        let log = root()
            .logs
            .iter()
            .find(|l| l.base_url == e.log)
            .expect("an accepted bundle names a log of the trusted root");
        assert!(
            e.origin == log.host
                || e.origin
                    .strip_prefix(log.host.as_str())
                    .is_some_and(|rest| rest.starts_with(" - ")),
            "origin {:?} for a log of host {:?}",
            e.origin,
            log.host
        );
    }
    if !v.signed_by_key {
        assert!(
            !v.times.is_empty(),
            "a certificate bundle with no verified time"
        );
        assert_eq!(v.identity.as_deref(), Some(IDENTITY));
        assert_eq!(v.issuer.as_deref(), Some(ISSUER));
    }
    assert!(
        v.times.windows(2).all(|w| w[0].time <= w[1].time),
        "times out of order"
    );
    assert_eq!(v.rekor_age_hours.is_some(), !v.times.is_empty());
    for t in &v.times {
        match &t.source {
            TimeSource::TimestampAuthority { uri } => assert!(
                root()
                    .timestamp_authorities
                    .iter()
                    .any(|a| a.uri == *uri && a.valid_at(t.time)),
                "a verified time from {uri}, no TSA of the root valid then"
            ),
            TimeSource::Tlog { log, log_index } => assert!(
                v.entries
                    .iter()
                    .any(|e| e.log == *log && e.log_index == *log_index),
                "an integrated time of {log} {log_index}, not an entry of the bundle"
            ),
        }
    }
}

fn verify(v: &Verifier<'_>, data: &[u8]) -> Result<Verified, Failure> {
    let first = v.verify(data);
    // The second time, an accepted checkpoint comes from memory. Reasons
    // may differ (one can quote the clock), the check that failed may not.
    let second = v.verify(data);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "two verdicts for one bundle"),
        (Err(a), Err(b)) => assert_eq!(a.check, b.check, "{a:?}, then {b:?}"),
        _ => panic!("two verdicts for one bundle: {first:?}, then {second:?}"),
    }
    if let Ok(ok) = &first {
        check_accepted(ok);
    }
    first
}

fuzz_target!(|data: &[u8]| {
    let v = verifiers();
    let lax = verify(&v.lax, data);
    let default = verify(&v.default, data);
    let strict = verify(&v.strict, data);
    if let Ok(ok) = &default {
        assert_eq!(lax.as_ref(), Ok(ok), "accepted by the default policy only");
    }
    if let Ok(ok) = &strict {
        let Ok(d) = &default else {
            panic!("accepted with the artifact only: {default:?}");
        };
        let mut d = d.clone();
        d.binding = ok.binding.clone();
        assert_eq!(&d, ok, "the artifact changed more than the binding");
    }
});
