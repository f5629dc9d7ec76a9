//! Sigstore trusted roots: parsing never panics, and a root that parses
//! verifies the real staging bundle without a panic. Whatever the root, an
//! acceptance can only be the bundle's one entry, in a log of that root.
//!
//! Seed corpus (`fuzz/corpus/trusted_root/`): the real staging and
//! production roots of the vectors; the staging one accepts the bundle.
#![no_main]

use islet_verify::Verifier;
use islet_verify::trusted_root::TrustedRoot;
use libfuzzer_sys::fuzz_target;

const BUNDLE: &[u8] = include_bytes!(
    "../../tests/vectors/rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json"
);

/// SHA-256 of the artifact the staging bundle signs.
const ARTIFACT_SHA256: [u8; 32] = [
    0x15, 0xf6, 0x72, 0x46, 0x11, 0x59, 0x21, 0xbb, 0x7c, 0x1d, 0xe0, 0xe7, 0xe9, 0xe9, 0x27, 0x5c,
    0x80, 0x16, 0xdc, 0x25, 0x4a, 0x0c, 0x00, 0x98, 0x88, 0x94, 0x4b, 0x7e, 0xd3, 0x64, 0x4a, 0xaa,
];

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
    let verifier = Verifier::new(&root, None, Some(ARTIFACT_SHA256));
    if let Ok(ok) = verifier.verify(BUNDLE) {
        assert_eq!(
            (
                ok.kind.as_str(),
                ok.version.as_str(),
                ok.log_index,
                ok.tree_size
            ),
            ("hashedrekord", "0.0.2", 645, 646),
            "the bundle's entry, as another one"
        );
        assert_eq!(ok.local_size, None);
        assert!(
            root.logs
                .iter()
                .any(|l| l.base_url == ok.log && l.host == ok.origin),
            "accepted through {} (origin {}), not a log of the root",
            ok.log,
            ok.origin
        );
    }
});
