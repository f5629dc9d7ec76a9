//! The real bundles of `tests/vectors/sigstore` (their README table, from
//! the project's vector collection) through the whole flow, each with the
//! trusted root, policy and artifact the table names, and the table's
//! verdict. Expected times and identities come from the vectors' notes
//! (checked there with openssl and sigstore-python / @sigstore/verify),
//! never from islet.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;

use islet_verify::binding::Binding;
use islet_verify::identity::IdentityPolicy;
use islet_verify::policy::read_public_key;
use islet_verify::trusted_root::TrustedRoot;
use islet_verify::{Artifact, Check, Policy, Subject, Verified, Verifier};

const FILES: &[&str] = &[
    "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
    "rekor-v2/sigstore-python/trusted_root.staging.json",
    "rekor-v2/sigstore-python/trusted_root.production.json",
    "sigstore/sigstore-python/staging-rekor-v2.txt",
    "sigstore/sigstore-python/trusted_root.staging.tsa-end-equals-gentime.DERIVED.json",
    "sigstore/sigstore-python/trusted_root.staging.tsa-end-before-gentime.DERIVED.json",
    "sigstore/sigstore-python/trusted_root.staging.no-tsa.DERIVED.json",
    "sigstore/sigstore-python/trusted_root.staging.tlog-validfor-no-start.DERIVED.json",
    "sigstore/sigstore-python/tsa/bundle.txt",
    "sigstore/sigstore-python/tsa/bundle.txt.sigstore",
    "sigstore/sigstore-python/tsa/bundle.txt.late_timestamp.sigstore",
    "sigstore/sigstore-python/tsa/trusted_root.staging+test-tsa.DERIVED.json",
    "sigstore/sigstore-python/bundle_v3_no_signed_time.txt",
    "sigstore/sigstore-python/bundle_v3_no_signed_time.txt.sigstore.json",
    "sigstore/sigstore-python/bundle_cve_2022_36056.txt",
    "sigstore/sigstore-python/bundle_cve_2022_36056.txt.sigstore",
    "sigstore/sigstore-rust/cosign-v3-blob.sigstore.json",
    "sigstore/sigstore-rust/cosign-v3-blob.txt",
    "sigstore/sigstore-rust/sct-multi-intermediate.staging_bundle.sigstore.json",
    "sigstore/sigstore-rust/sct-multi-intermediate.staging_trusted_root.json",
    "sigstore/sigstore-rust/conda-attestation-rekor2.sigstore.json",
    "sigstore/sigstore-rust/signed-package-2.1.0-hb0f4dca_0.conda",
    "sigstore/sigstore-rust/github_sha384_bundle.json",
    "sigstore/sigstore-rust/trusted_root_github.json",
    "sigstore/sigstore-go/public-key-validity.sigstore.json",
    "sigstore/sigstore-go/public-key-validity.trusted_root.json",
    "sigstore/sigstore-go/public-key-validity.pem",
    "sigstore/sigstore-go/public-key-validity.artifact.txt",
    "sigstore/sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json",
    "sigstore/sigstore-go/trusted-root-public-good.json",
];

fn dir() -> PathBuf {
    islet_testkit::vectors_dir(FILES)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(dir().join(rel)).unwrap()
}

const STAGING: &str = "rekor-v2/sigstore-python/trusted_root.staging.json";
const PRODUCTION: &str = "rekor-v2/sigstore-python/trusted_root.production.json";
const STAGING_V2: &str = "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json";
const STAGING_V2_ARTIFACT: &str = "sigstore/sigstore-python/staging-rekor-v2.txt";

const GITHUB_OAUTH: &str = "https://github.com/login/oauth";
const GOOGLE: &str = "https://accounts.google.com";
const ACTIONS: &str = "https://token.actions.githubusercontent.com";

/// The default policy with the table's identity and issuer (exact
/// values), for an artifact file.
fn policy_for(san: &str, issuer: &str, artifact: Option<&str>) -> Policy {
    Policy {
        identity: Some(
            IdentityPolicy::new(Some(san.into()), None, Some(issuer.into()), None).unwrap(),
        ),
        artifact: artifact.map(|a| Subject::Artifact(Artifact::of(&read(a)))),
        ..Policy::default()
    }
}

/// The staging Rekor v2 bundle's policy.
fn policy(artifact: Option<&str>) -> Policy {
    policy_for("jku@goto.fi", GITHUB_OAUTH, artifact)
}

fn run(bundle: &str, root: &str, policy: Policy) -> Result<Verified, (Check, String)> {
    let root = TrustedRoot::parse(&read(root)).unwrap();
    Verifier::new(&root, None, policy)
        .verify(&read(bundle))
        .map_err(|f| (f.check, f.reason))
}

fn times(v: &Verified) -> Vec<serde_json::Value> {
    v.times
        .iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect()
}

#[test]
fn the_staging_rekor_v2_bundle_is_valid_with_its_tsa_timestamp() {
    let ok = run(STAGING_V2, STAGING, policy(Some(STAGING_V2_ARTIFACT))).unwrap();
    assert_eq!(ok.identity.as_deref(), Some("jku@goto.fi"));
    assert_eq!(ok.issuer.as_deref(), Some(GITHUB_OAUTH));
    let t = times(&ok);
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0]["time"], "2025-06-09T11:57:38Z");
    assert_eq!(t[0]["source"]["type"], "timestamp_authority");
    assert!(ok.rekor_verified);
    assert_eq!(ok.entries[0].origin, "log2025-alpha1.rekor.sigstage.dev");
    assert_eq!(ok.entries[0].log_index, 645);
    assert!(matches!(
        ok.binding,
        Binding::MessageDigest {
            artifact_checked: true,
            ..
        }
    ));
    // Its TSA's validFor ending at genTime still counts (closed interval).
    run(
        STAGING_V2,
        "sigstore/sigstore-python/trusted_root.staging.tsa-end-equals-gentime.DERIVED.json",
        policy(Some(STAGING_V2_ARTIFACT)),
    )
    .unwrap();
}

#[test]
fn a_rekor_v2_bundle_without_a_verified_timestamp_fails() {
    for root in [
        "sigstore/sigstore-python/trusted_root.staging.tsa-end-before-gentime.DERIVED.json",
        "sigstore/sigstore-python/trusted_root.staging.no-tsa.DERIVED.json",
    ] {
        let (check, reason) = run(STAGING_V2, root, policy(Some(STAGING_V2_ARTIFACT))).unwrap_err();
        assert_eq!(check, Check::TimeThreshold, "{root}: {reason}");
        assert!(reason.contains("Rekor v2"), "{root}: {reason}");
    }
    // Even with the time threshold lowered to 0, the Rekor v2 rule holds;
    // with --min-tsa 0 as well, the certificate has no time to be checked
    // at (the current time is never used).
    let root = "sigstore/sigstore-python/trusted_root.staging.no-tsa.DERIVED.json";
    let lowered = Policy {
        min_timestamps: Some(0),
        ..policy(Some(STAGING_V2_ARTIFACT))
    };
    let (check, _) = run(STAGING_V2, root, lowered.clone()).unwrap_err();
    assert_eq!(check, Check::TimeThreshold);
    let (check, reason) = run(
        STAGING_V2,
        root,
        Policy {
            min_tsa: Some(0),
            ..lowered
        },
    )
    .unwrap_err();
    assert_eq!(check, Check::Certificate, "{reason}");
    assert!(reason.contains("no verified time"), "{reason}");
}

#[test]
fn a_trusted_root_whose_log_key_has_no_start_is_refused() {
    let err = TrustedRoot::parse(&read(
        "sigstore/sigstore-python/trusted_root.staging.tlog-validfor-no-start.DERIVED.json",
    ))
    .unwrap_err();
    assert!(err.contains("validFor.start"), "{err}");
}

#[test]
fn a_rekor_v1_bundle_with_two_timestamps_is_valid_with_the_good_one_and_its_set() {
    let alexis = || {
        policy_for(
            "alexis.challande@trailofbits.com",
            GOOGLE,
            Some("sigstore/sigstore-python/tsa/bundle.txt"),
        )
    };
    let ok = run(
        "sigstore/sigstore-python/tsa/bundle.txt.sigstore",
        "sigstore/sigstore-python/tsa/trusted_root.staging+test-tsa.DERIVED.json",
        alexis(),
    )
    .unwrap();
    let t = times(&ok);
    assert_eq!(t.len(), 2, "{t:?}");
    let kinds: Vec<_> = t.iter().map(|x| x["source"]["type"].clone()).collect();
    assert!(kinds.contains(&"tlog".into()), "{t:?}");
    assert!(kinds.contains(&"timestamp_authority".into()), "{t:?}");
    assert_eq!(ok.warnings.len(), 1, "{:?}", ok.warnings);
    // Rekor v1: the global index, and the shard-local proof index.
    assert_eq!(ok.entries[0].log_index, 35_355_462);
    assert_eq!(ok.entries[0].proof_index, 3_673_050);
    assert!(ok.entries[0].origin.starts_with("rekor.sigstage.dev - "));
    // With the plain staging root the local TSA is not trusted: the SET
    // alone is the verified time.
    let ok = run(
        "sigstore/sigstore-python/tsa/bundle.txt.sigstore",
        STAGING,
        alexis(),
    )
    .unwrap();
    assert_eq!(times(&ok).len(), 1);
    assert_eq!(times(&ok)[0]["source"]["type"], "tlog");
}

#[test]
fn a_timestamp_after_the_certificate_expired_fails() {
    let (check, reason) = run(
        "sigstore/sigstore-python/tsa/bundle.txt.late_timestamp.sigstore",
        STAGING,
        policy_for(
            "insecure-cloudtop-shared-user@cloudtop-prod-us-east.iam.gserviceaccount.com",
            GOOGLE,
            Some("sigstore/sigstore-python/tsa/bundle.txt"),
        ),
    )
    .unwrap_err();
    assert_eq!(check, Check::Certificate, "{reason}");
}

#[test]
fn identities_and_issuers_other_than_the_signers_fail() {
    for (san, issuer) in [
        ("jku@goto.fi.example", GITHUB_OAUTH),
        ("jku@goto.fi", GOOGLE),
    ] {
        let (check, reason) = run(
            STAGING_V2,
            STAGING,
            policy_for(san, issuer, Some(STAGING_V2_ARTIFACT)),
        )
        .unwrap_err();
        assert_eq!(check, Check::Identity, "{reason}");
    }
    // No identity policy for a certificate bundle.
    let (check, reason) = run(
        STAGING_V2,
        STAGING,
        Policy {
            identity: None,
            ..policy(Some(STAGING_V2_ARTIFACT))
        },
    )
    .unwrap_err();
    assert_eq!(check, Check::Policy, "{reason}");
    // The staging bundle against the production root.
    let (check, _) = run(STAGING_V2, PRODUCTION, policy(Some(STAGING_V2_ARTIFACT))).unwrap_err();
    assert_eq!(check, Check::UnknownLog);
}

#[test]
fn an_integrated_time_without_a_set_is_no_verified_time() {
    let (check, reason) = run(
        "sigstore/sigstore-python/bundle_v3_no_signed_time.txt.sigstore.json",
        PRODUCTION,
        policy(Some(
            "sigstore/sigstore-python/bundle_v3_no_signed_time.txt",
        )),
    )
    .unwrap_err();
    assert_eq!(check, Check::TimeThreshold, "{reason}");
}

#[test]
fn a_log_entry_of_another_signing_is_refused() {
    let (check, reason) = run(
        "sigstore/sigstore-python/bundle_cve_2022_36056.txt.sigstore",
        STAGING,
        policy_for(
            "william@yossarian.net",
            GITHUB_OAUTH,
            Some("sigstore/sigstore-python/bundle_cve_2022_36056.txt"),
        ),
    )
    .unwrap_err();
    assert_eq!(check, Check::Body, "{reason}");
}

#[test]
fn a_production_cosign_v3_bundle_is_valid_with_its_set_and_timestamp() {
    let ok = run(
        "sigstore/sigstore-rust/cosign-v3-blob.sigstore.json",
        PRODUCTION,
        policy_for(
            "w.vollprecht@gmail.com",
            GITHUB_OAUTH,
            Some("sigstore/sigstore-rust/cosign-v3-blob.txt"),
        ),
    )
    .unwrap();
    let t = times(&ok);
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(
        t.iter()
            .any(|x| x["time"] == "2025-12-03T18:36:42Z"
                && x["source"]["type"] == "timestamp_authority"),
        "{t:?}"
    );
    // Another artifact.
    let (check, _) = run(
        "sigstore/sigstore-rust/cosign-v3-blob.sigstore.json",
        PRODUCTION,
        policy_for(
            "w.vollprecht@gmail.com",
            GITHUB_OAUTH,
            Some("sigstore/sigstore-python/tsa/bundle.txt"),
        ),
    )
    .unwrap_err();
    assert_eq!(check, Check::Artifact);
}

#[test]
fn a_2026_staging_rekor_v2_bundle_is_valid_with_its_own_root_only() {
    let empty = Policy {
        artifact: Some(Subject::Artifact(Artifact::of(b""))),
        ..policy_for(
            "https://github.com/sigstore/root-signing-staging/.github/workflows/custom-test.yml@refs/heads/main",
            ACTIONS,
            None,
        )
    };
    let bundle = "sigstore/sigstore-rust/sct-multi-intermediate.staging_bundle.sigstore.json";
    let ok = run(
        bundle,
        "sigstore/sigstore-rust/sct-multi-intermediate.staging_trusted_root.json",
        empty.clone(),
    )
    .unwrap();
    assert_eq!(times(&ok)[0]["time"], "2026-07-08T05:25:12Z");
    let (check, reason) = run(bundle, STAGING, empty).unwrap_err();
    assert_eq!(check, Check::UnknownLog, "{reason}");
}

#[test]
fn a_dsse_attestation_logged_as_a_hashedrekord_is_valid_for_its_subject() {
    let bundle = "sigstore/sigstore-rust/conda-attestation-rekor2.sigstore.json";
    let conda = "sigstore/sigstore-rust/signed-package-2.1.0-hb0f4dca_0.conda";
    let ok = run(bundle, STAGING, policy(Some(conda))).unwrap();
    match &ok.binding {
        Binding::Subject {
            algorithm, digest, ..
        } => {
            assert_eq!(algorithm, "sha256");
            assert!(digest.starts_with("54303491"), "{digest}");
        }
        other => panic!("{other:?}"),
    }
    // Another artifact is no subject.
    let (check, reason) = run(
        bundle,
        STAGING,
        policy(Some("sigstore/sigstore-rust/cosign-v3-blob.txt")),
    )
    .unwrap_err();
    assert_eq!(check, Check::Artifact, "{reason}");
    assert!(reason.contains("no subject"), "{reason}");
    // Without an artifact, only the envelope is checked, and the report
    // says so.
    let ok = run(bundle, STAGING, policy(None)).unwrap();
    assert!(
        matches!(ok.binding, Binding::EnvelopeOnly { .. }),
        "{:?}",
        ok.binding
    );
}

#[test]
fn a_github_attestation_without_log_is_valid_only_with_no_tlog() {
    let bundle = "sigstore/sigstore-rust/github_sha384_bundle.json";
    let root = "sigstore/sigstore-rust/trusted_root_github.json";
    // No OIDC-issuer extension: only an issuer pattern matching "" passes.
    let github = || Policy {
        identity: Some(
            IdentityPolicy::new(
                Some("https://dotcom.releases.github.com".into()),
                None,
                None,
                Some(".*"),
            )
            .unwrap(),
        ),
        ..Policy::default()
    };
    let (check, reason) = run(bundle, root, github()).unwrap_err();
    assert_eq!(check, Check::TlogThreshold, "{reason}");
    let (check, reason) = run(
        bundle,
        root,
        Policy {
            min_tlog: 0,
            ..github()
        },
    )
    .unwrap_err();
    assert_eq!(check, Check::Sct, "{reason}");
    let ok = run(
        bundle,
        root,
        Policy {
            min_tlog: 0,
            require_sct: false,
            ..github()
        },
    )
    .unwrap();
    assert_eq!(
        ok.identity.as_deref(),
        Some("https://dotcom.releases.github.com")
    );
    assert_eq!(ok.issuer, None);
    assert!(!ok.rekor_verified);
    assert!(ok.entries.is_empty());
    assert_eq!(times(&ok).len(), 1);
}

#[test]
fn a_key_signed_bundle_needs_its_key() {
    let bundle = "sigstore/sigstore-go/public-key-validity.sigstore.json";
    let root = "sigstore/sigstore-go/public-key-validity.trusted_root.json";
    let key = read_public_key(&read("sigstore/sigstore-go/public-key-validity.pem")).unwrap();
    let with_key = Policy {
        key: Some(key),
        min_tlog: 0,
        min_tsa: Some(1),
        ..policy(Some(
            "sigstore/sigstore-go/public-key-validity.artifact.txt",
        ))
    };
    let ok = run(bundle, root, with_key.clone()).unwrap();
    assert!(ok.signed_by_key);
    assert_eq!(times(&ok).len(), 1);
    assert_eq!(times(&ok)[0]["time"], "2026-06-04T17:43:29Z");

    // No key.
    let (check, reason) = run(
        bundle,
        root,
        Policy {
            key: None,
            ..with_key.clone()
        },
    )
    .unwrap_err();
    assert_eq!(check, Check::Key, "{reason}");
    assert!(reason.contains("give it with --key"), "{reason}");
    // Another key (P-256, as the right one).
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let (check, reason) = run(
        bundle,
        root,
        Policy {
            key: Some(rcgen::PublicKeyData::subject_public_key_info(&other)),
            ..with_key.clone()
        },
    )
    .unwrap_err();
    assert_eq!(check, Check::Signature, "{reason}");
    // Another artifact.
    let (check, _) = run(
        bundle,
        root,
        Policy {
            artifact: Some(Subject::Artifact(Artifact::of(b"other content"))),
            ..with_key
        },
    )
    .unwrap_err();
    assert_eq!(check, Check::Artifact);
}

#[test]
fn npm_provenance_v0_1_with_a_set_is_valid_with_the_public_good_root_only() {
    let bundle = "sigstore/sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json";
    let js = || {
        policy_for(
            "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
            ACTIONS,
            None,
        )
    };
    let ok = run(
        bundle,
        "sigstore/sigstore-go/trusted-root-public-good.json",
        js(),
    )
    .unwrap();
    assert_eq!(ok.entries[0].kind, "intoto");
    assert_eq!(ok.entries[0].log_index, 31_821_305);
    assert_eq!(ok.entries[0].proof_index, 27_657_874);
    assert_eq!(times(&ok).len(), 1);
    assert_eq!(times(&ok)[0]["source"]["type"], "tlog");
    assert!(matches!(ok.binding, Binding::EnvelopeOnly { .. }));
    let (check, reason) = run(bundle, STAGING, js()).unwrap_err();
    assert_eq!(check, Check::UnknownLog, "{reason}");
}
