//! Sigstore trusted roots: parsing never panics, a root that parses keeps
//! its lists within their limits, and it verifies the real staging bundle
//! (with its artifact and its signer's identity) without a panic. Whatever
//! the root, an acceptance can only be the bundle's one entry, in a log of
//! that root, with a verified time from a timestamp authority of that root
//! valid then.
//!
//! Seeds (`fuzz/seeds/trusted_root/`): the real staging and production
//! roots of the vectors, and the staging root's derived variants (no TSA,
//! a TSA ending before or at the genTime, a tlog without validFor.start);
//! the staging one accepts the bundle.
#![no_main]

use islet_verify::identity::IdentityPolicy;
use islet_verify::timestamp::TimeSource;
use islet_verify::trusted_root::{MAX_CHAIN_LENGTH, MAX_ROOT_ENTRIES, TrustedRoot};
use islet_verify::{Artifact, Policy, Subject, Verifier};
use libfuzzer_sys::fuzz_target;

const BUNDLE: &[u8] = include_bytes!(
    "../../tests/vectors/rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json"
);
/// The artifact the staging bundle signs.
const ARTIFACT: &[u8] =
    include_bytes!("../../tests/vectors/sigstore/sigstore-python/staging-rekor-v2.txt");

fuzz_target!(|data: &[u8]| {
    let Ok(root) = TrustedRoot::parse(data) else {
        return;
    };
    for log in &root.logs {
        assert!(
            root.find(&log.log_id).is_some(),
            "a log its own ID does not find"
        );
    }
    assert!(root.logs.len() + root.skipped.len() <= MAX_ROOT_ENTRIES);
    assert!(root.ct_logs.len() <= MAX_ROOT_ENTRIES);
    for list in [&root.certificate_authorities, &root.timestamp_authorities] {
        assert!(list.len() <= MAX_ROOT_ENTRIES);
        for a in list {
            assert!(
                (1..=MAX_CHAIN_LENGTH).contains(&a.chain.len()),
                "{}: a chain of {} certificates",
                a.uri,
                a.chain.len()
            );
        }
    }
    let policy = Policy {
        identity: Some(
            IdentityPolicy::new(
                Some("jku@goto.fi".into()),
                None,
                Some("https://github.com/login/oauth".into()),
                None,
            )
            .expect("the identity policy is valid"),
        ),
        artifact: Some(Subject::Artifact(Artifact::of(ARTIFACT))),
        ..Policy::default()
    };
    let verifier = Verifier::new(&root, None, policy);
    if let Ok(ok) = verifier.verify(BUNDLE) {
        let [e] = ok.entries.as_slice() else {
            panic!("{} entries accepted for a bundle of one", ok.entries.len());
        };
        assert_eq!(
            (
                e.kind.as_str(),
                e.version.as_str(),
                e.log_index,
                e.tree_size
            ),
            ("hashedrekord", "0.0.2", 645, 646),
            "the bundle's entry, as another one"
        );
        assert_eq!(e.local_size, None);
        assert!(
            root.logs
                .iter()
                .any(|l| l.base_url == e.log && l.host == e.origin),
            "accepted through {} (origin {}), not a log of the root",
            e.log,
            e.origin
        );
        assert!(!ok.times.is_empty(), "accepted without a verified time");
        for t in &ok.times {
            let TimeSource::TimestampAuthority { uri } = &t.source else {
                panic!("a Rekor v2 entry gave a verified time: {t:?}");
            };
            assert!(
                root.timestamp_authorities
                    .iter()
                    .any(|a| a.uri == *uri && a.valid_at(t.time)),
                "a verified time from {uri}, no TSA of the root valid then"
            );
        }
    }
});
