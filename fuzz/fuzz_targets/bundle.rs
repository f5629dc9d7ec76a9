//! Sigstore bundles through the whole offline verifier (`islet verify`
//! without `--log`: no network, no store): verification never panics, a
//! bundle verifies the same way twice (the second time through the
//! remembered checkpoint), an artifact can only take acceptance away, and
//! an accepted bundle names a log of the trusted root and an index inside
//! the tree its proof is for.
//!
//! The trusted root is fixed: the real staging and production roots of the
//! vectors, so the real staging bundle (the seed corpus,
//! `fuzz/corpus/bundle/`) gets through every check and its mutations fail
//! deep inside them.
#![no_main]

use std::sync::OnceLock;

use islet_verify::trusted_root::TrustedRoot;
use islet_verify::{Failure, Verified, Verifier};
use libfuzzer_sys::fuzz_target;

const STAGING_ROOT: &[u8] =
    include_bytes!("../../tests/vectors/rekor-v2/sigstore-python/trusted_root.staging.json");
const PRODUCTION_ROOT: &[u8] =
    include_bytes!("../../tests/vectors/rekor-v2/sigstore-python/trusted_root.production.json");

/// SHA-256 of the artifact the staging bundle signs.
const ARTIFACT_SHA256: [u8; 32] = [
    0x15, 0xf6, 0x72, 0x46, 0x11, 0x59, 0x21, 0xbb, 0x7c, 0x1d, 0xe0, 0xe7, 0xe9, 0xe9, 0x27, 0x5c,
    0x80, 0x16, 0xdc, 0x25, 0x4a, 0x0c, 0x00, 0x98, 0x88, 0x94, 0x4b, 0x7e, 0xd3, 0x64, 0x4a, 0xaa,
];

fn root() -> &'static TrustedRoot {
    static ROOT: OnceLock<TrustedRoot> = OnceLock::new();
    ROOT.get_or_init(|| {
        let mut root = TrustedRoot::parse(STAGING_ROOT).expect("the staging root parses");
        let production = TrustedRoot::parse(PRODUCTION_ROOT).expect("the production root parses");
        root.logs.extend(production.logs);
        root.skipped.extend(production.skipped);
        root
    })
}

/// Without an artifact, and with the staging bundle's artifact.
fn verifiers() -> &'static (Verifier<'static>, Verifier<'static>) {
    static VERIFIERS: OnceLock<(Verifier<'static>, Verifier<'static>)> = OnceLock::new();
    VERIFIERS.get_or_init(|| {
        (
            Verifier::new(root(), None, None),
            Verifier::new(root(), None, Some(ARTIFACT_SHA256)),
        )
    })
}

fn check_accepted(v: &Verified) {
    assert!(
        v.log_index < v.tree_size,
        "accepted index {} in a tree of size {}",
        v.log_index,
        v.tree_size
    );
    assert_eq!(v.local_size, None, "no local log, yet a local size");
    assert!(
        matches!(
            (v.kind.as_str(), v.version.as_str()),
            ("hashedrekord", "0.0.1" | "0.0.2") | ("dsse", "0.0.2")
        ),
        "accepted an entry of kind {} version {}",
        v.kind,
        v.version
    );
    let log = root()
        .logs
        .iter()
        .find(|l| l.base_url == v.log)
        .expect("an accepted bundle names a log of the trusted root");
    assert!(
        v.origin == log.host
            || v.origin
                .strip_prefix(log.host.as_str())
                .is_some_and(|rest| rest.starts_with(" - ")),
        "origin {:?} for a log of host {:?}",
        v.origin,
        log.host
    );
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
    let (plain, with_artifact) = verifiers();
    let without = verify(plain, data);
    let with = verify(with_artifact, data);
    // The artifact is one more check: a bundle accepted with it is accepted
    // without it, with the same verdict.
    if let Ok(ok) = &with {
        assert_eq!(without.as_ref(), Ok(ok), "accepted with the artifact only");
    }
});
