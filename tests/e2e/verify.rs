//! `islet verify` with the real binary: the staging bundle from the
//! vectors, bundles sigstore-python made against a running islet (with
//! and without `--log`: the data directory, its URL, a mirror), verdict
//! lines and exit codes, and the bundle file limit.

use std::path::{Path, PathBuf};

use islet_verify::bundle::MAX_BUNDLE_FILE_BYTES;
use islet_verify::trusted_root::MAX_TRUSTED_ROOT_BYTES;

use crate::snapshot::log_key;
use crate::support::{Islet, free_port, islet, sigstore_python, vectors_dir, write_entries};

/// The directory of the staging bundle and the trusted roots in the vectors.
fn staging() -> PathBuf {
    vectors_dir(&[
        "rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json",
        "rekor-v2/sigstore-python/trusted_root.staging.json",
        "rekor-v2/sigstore-python/trusted_root.production.json",
    ])
    .join("rekor-v2/sigstore-python")
}

/// The identity the staging bundle's certificate names.
const STAGING_POLICY: [&str; 4] = [
    "--certificate-identity",
    "jku@goto.fi",
    "--certificate-oidc-issuer",
    "https://github.com/login/oauth",
];

/// The identity `site_ca.py` issues certificates for (with an SCT of the
/// site's CT log, which the trusted root names).
pub(crate) const SITE_POLICY: [&str; 4] = [
    "--certificate-identity",
    "signer@islet.test",
    "--certificate-oidc-issuer",
    "https://oidc.islet.test",
];

pub(crate) fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = islet(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_staging_bundle_verifies_and_its_verdict_names_the_check() {
    let dir = staging();
    let bundle = dir.join("staging-rekor-v2.txt.sigstore.json");
    let root = dir.join("trusted_root.staging.json");
    let (b, r) = (bundle.to_str().unwrap(), root.to_str().unwrap());
    let (code, out, err) = run(&[
        &[
            "verify",
            "--bundle",
            b,
            "--trusted-root",
            r,
            "--digest",
            "sha256:15f67246115921bb7c1de0e7e9e9275c8016dc254a0c009888944b7ed3644aaa",
        ][..],
        &STAGING_POLICY,
    ]
    .concat());
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("OK ")
            && out.contains("signed by jku@goto.fi (issuer https://github.com/login/oauth)")
            && out.contains("2025-06-09T11:57:38Z (timestamp of https://timestamp.sigstage.dev")
            && out.contains("entry 645 of log2025-alpha1.rekor.sigstage.dev"),
        "{out}"
    );
    // Another identity, or no identity policy at all, fails.
    let (code, out, _) = run(&[
        &["verify", "--bundle", b, "--trusted-root", r][..],
        &["--certificate-identity", "someone@else.example"],
        &STAGING_POLICY[2..],
    ]
    .concat());
    assert_eq!(code, Some(1));
    assert!(
        out.contains("identity:") && out.contains("jku@goto.fi"),
        "{out}"
    );
    let (code, out, _) = run(&["verify", "--bundle", b, "--trusted-root", r]);
    assert_eq!(code, Some(1));
    assert!(out.contains("policy:"), "{out}");

    // A wrong digest: one FAIL line naming the check, exit 1; --json says
    // the same.
    let wrong = "sha256:25f67246115921bb7c1de0e7e9e9275c8016dc254a0c009888944b7ed3644aaa";
    let (code, out, _) = run(&[
        &[
            "verify",
            "--bundle",
            b,
            "--trusted-root",
            r,
            "--digest",
            wrong,
        ][..],
        &STAGING_POLICY,
    ]
    .concat());
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("FAIL ") && out.contains("artifact:"),
        "{out}"
    );
    let (code, out, _) = run(&[
        &[
            "verify",
            "--bundle",
            b,
            b,
            "--trusted-root",
            r,
            "--digest",
            wrong,
            "--json",
        ][..],
        &STAGING_POLICY,
    ]
    .concat());
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["verified"].as_u64(), v["failed"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(v["results"][0]["check"], "artifact");

    // The production root does not hold the staging log.
    let prod = dir.join("trusted_root.production.json");
    let (code, out, _) = run(&[
        "verify",
        "--bundle",
        b,
        "--trusted-root",
        prod.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(out.contains("unknown_log:"), "{out}");

    // A file that is no trusted root is a verdict on every bundle.
    let (code, out, _) = run(&["verify", "--bundle", b, "--trusted-root", b]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("trusted_root:"), "{out}");
    // Usage errors: exit 2.
    let (code, _, err) = run(&[
        "verify",
        "--bundle",
        b,
        "--trusted-root",
        r,
        "--certificate-identity",
        "jku@goto.fi",
    ]);
    assert_eq!(code, Some(2), "an identity without an issuer: {err}");
    let (code, _, err) = run(&[
        "verify",
        "--bundle",
        b,
        "--trusted-root",
        r,
        "--digest",
        "md5:00",
    ]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn bundle_and_trusted_root_files_are_read_up_to_their_limits_and_not_one_byte_more() {
    let dir = staging();
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(dir.join("staging-rekor-v2.txt.sigstore.json")).unwrap();
    let limit = usize::try_from(MAX_BUNDLE_FILE_BYTES).unwrap();
    bytes.resize(limit, b' ');
    let at = tmp.path().join("at-limit.json");
    std::fs::write(&at, &bytes).unwrap();
    bytes.push(b' ');
    let past = tmp.path().join("past-limit.json");
    std::fs::write(&past, &bytes).unwrap();
    let root = dir.join("trusted_root.staging.json");
    let r = root.to_str().unwrap();
    let (code, out, err) = run(&[
        &[
            "verify",
            "--bundle",
            at.to_str().unwrap(),
            "--trusted-root",
            r,
        ][..],
        &STAGING_POLICY,
    ]
    .concat());
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, _) = run(&[
        "verify",
        "--bundle",
        past.to_str().unwrap(),
        "--trusted-root",
        r,
    ]);
    assert_eq!(code, Some(2));
    assert!(out.contains("larger than the 16777216-byte limit"), "{out}");

    // The trusted root likewise.
    let mut root_bytes = std::fs::read(&root).unwrap();
    let limit = usize::try_from(MAX_TRUSTED_ROOT_BYTES).unwrap();
    root_bytes.resize(limit, b' ');
    let root_at = tmp.path().join("root-at-limit.json");
    std::fs::write(&root_at, &root_bytes).unwrap();
    root_bytes.push(b' ');
    let root_past = tmp.path().join("root-past-limit.json");
    std::fs::write(&root_past, &root_bytes).unwrap();
    let b = dir.join("staging-rekor-v2.txt.sigstore.json");
    let b = b.to_str().unwrap();
    let (code, out, err) = run(&[
        &[
            "verify",
            "--bundle",
            b,
            "--trusted-root",
            root_at.to_str().unwrap(),
        ][..],
        &STAGING_POLICY,
    ]
    .concat());
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, _, err) = run(&[
        "verify",
        "--bundle",
        b,
        "--trusted-root",
        root_past.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("larger than the 16777216-byte limit"), "{err}");

    // A file that is not a bundle is a verdict of its own, not a crash.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, b"\x00\xffnot json").unwrap();
    let (code, out, _) = run(&[
        &[
            "verify",
            "--bundle",
            junk.to_str().unwrap(),
            b,
            "--trusted-root",
            r,
        ][..],
        &STAGING_POLICY,
    ]
    .concat());
    assert_eq!(code, Some(1));
    assert!(
        out.contains("FAIL") && out.contains("bundle: not a bundle"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("OK ")).count(),
        1,
        "{out}"
    );
}

/// sigstore-python logs `n` entries in `server` and writes their bundles
/// and artifacts into `dir`, with certificates of the site CA kept in
/// `ca_dir` and timestamps of the server's TSA.
pub(crate) fn sigstore_bundles(
    server_data: &Path,
    dir: &Path,
    n: usize,
    ca_dir: &Path,
) -> Vec<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/python/sigstore_bundles.py");
    let out = std::process::Command::new(sigstore_python())
        .arg(&script)
        .arg(server_data.join("client_trust_config.json"))
        .arg(dir)
        .arg(n.to_string())
        .arg(ca_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sigstore-python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    (0..n)
        .map(|i| dir.join(format!("bundle-{i}.sigstore.json")))
        .collect()
}

#[test]
fn bundles_sigstore_python_made_against_islet_verify_with_and_without_the_local_log() {
    let tmp = tempfile::tempdir().unwrap();
    let site = Islet::start(&tmp.path().join("a"));
    write_entries(&site, "before", 10);
    let out_dir = tmp.path().join("bundles");
    std::fs::create_dir_all(&out_dir).unwrap();
    let bundles = sigstore_bundles(&site.data, &out_dir, 6, &out_dir);
    let names: Vec<&str> = bundles.iter().map(|p| p.to_str().unwrap()).collect();
    // The trusted root with the site's CA and CT log, as the site
    // publishes it.
    let root = tmp.path().join("trusted_root.json");
    let ctlog = format!(
        "https://ct.islet.test={}",
        out_dir.join("ct.pub.pem").display()
    );
    let printed = islet(&[
        "trust-root",
        "--data",
        site.data.to_str().unwrap(),
        "--ca",
        out_dir.join("ca.pem").to_str().unwrap(),
        "--ctlog",
        &ctlog,
    ]);
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    std::fs::write(&root, &printed.stdout).unwrap();
    let r = root.to_str().unwrap();
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--trusted-root", r, "--bundle"];
        args.extend_from_slice(&names);
        args.extend_from_slice(&SITE_POLICY);
        args.extend_from_slice(extra);
        run(&args)
    };

    // Offline, from the bundles alone.
    let (code, out, err) = verify(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("OK ")
                && l.contains("signed by signer@islet.test")
                && l.contains(&format!("(timestamp of {}/api/v1/timestamp)", site.url)))
            .count(),
        6,
        "{out}"
    );
    // The site's trusted root without its CA verifies none of them.
    let bare = site.data.join("trusted_root.json");
    let mut args = vec![
        "verify",
        "--trusted-root",
        bare.to_str().unwrap(),
        "--bundle",
    ];
    args.extend_from_slice(&names);
    args.extend_from_slice(&SITE_POLICY);
    let (code, out, _) = run(&args);
    assert_eq!(code, Some(1));
    assert_eq!(out.matches("certificate:").count(), 6, "{out}");
    // Against the data directory while it serves, and against its URL.
    let data = site.data.to_str().unwrap();
    for log in [data.to_owned(), format!("{}/api/v2", site.url)] {
        let (code, out, err) = verify(&["--log", &log]);
        assert_eq!(code, Some(0), "--log {log}: {out}{err}");
        assert_eq!(out.matches("present in the local log").count(), 6, "{out}");
    }
    // Each with its own artifact; another bundle's artifact fails.
    for i in [0usize, 1, 2] {
        let artifact = out_dir.join(format!("artifact-{i}"));
        let (code, out, _) = run(&[
            &[
                "verify",
                "--trusted-root",
                r,
                "--bundle",
                names[i],
                "--artifact",
                artifact.to_str().unwrap(),
            ][..],
            &SITE_POLICY,
        ]
        .concat());
        assert_eq!(code, Some(0), "bundle {i}: {out}");
        let other = out_dir.join(format!("artifact-{}", (i + 2) % 6));
        let (code, out, _) = run(&[
            &[
                "verify",
                "--trusted-root",
                r,
                "--bundle",
                names[i],
                "--artifact",
                other.to_str().unwrap(),
            ][..],
            &SITE_POLICY,
        ]
        .concat());
        assert_eq!(code, Some(1), "bundle {i}: {out}");
        // Bundle 2 carries no digest: the signature is checked over the
        // other artifact's digest, and does not verify.
        assert!(
            out.contains("artifact:") || out.contains("signature:"),
            "{out}"
        );
    }

    // A mirror that has every entry verifies them; one that is behind says so.
    let vkey = log_key(&site.data).to_vkey();
    let mirror = tmp.path().join("m");
    let port = free_port();
    assert!(
        islet(&[
            "init",
            "--data",
            mirror.to_str().unwrap(),
            "--origin",
            "site-b.example",
            "--public-url",
            &format!("http://127.0.0.1:{port}")
        ])
        .status
        .success()
    );
    let sync = |dir: &Path| {
        let out = islet(&[
            "mirror",
            "sync",
            "--data",
            dir.to_str().unwrap(),
            "--upstream",
            &format!("{}/api/v2", site.url),
            "--vkey",
            &vkey,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sync(&mirror);
    let (code, out, err) = verify(&["--log", mirror.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    write_entries(&site, "after", 3);
    let later_dir = tmp.path().join("later");
    std::fs::create_dir_all(&later_dir).unwrap();
    let later = sigstore_bundles(&site.data, &later_dir, 1, &out_dir);
    let (code, out, _) = run(&[
        &[
            "verify",
            "--trusted-root",
            r,
            "--bundle",
            later[0].to_str().unwrap(),
            "--log",
            mirror.to_str().unwrap(),
        ][..],
        &SITE_POLICY,
    ]
    .concat());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("local_behind:") && out.contains("sync the mirror"),
        "{out}"
    );
    sync(&mirror);
    let (code, out, _) = run(&[
        &[
            "verify",
            "--trusted-root",
            r,
            "--bundle",
            later[0].to_str().unwrap(),
            "--log",
            mirror.to_str().unwrap(),
        ][..],
        &SITE_POLICY,
    ]
    .concat());
    assert_eq!(code, Some(0), "{out}");

    // A local log that is another log under the same origin: the entry is
    // not there, or the checkpoint is not consistent with it.
    let other = Islet::start(&tmp.path().join("other"));
    write_entries(&other, "other", 30);
    let (code, out, _) = verify(&["--log", &format!("{}/api/v2", other.url)]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("local_consistency:") || out.contains("local_entry:"),
        "{out}"
    );
}
