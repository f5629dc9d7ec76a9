//! `islet fsck` on the C2SP example log, on generated logs, on damaged
//! copies, and over HTTP.

use std::path::Path;

use islet_reader::tiledir::TileDirWriter;
use islet_signer::Ed25519Signer;
use islet_tlog::note::NoteSigner;

use crate::support::{StaticServer, copy_tree, flip_bit, islet, vectors_dir};

/// The cosigner vkey that signs the tiled-log-300 checkpoint.
fn vector_vkey(vectors: &Path) -> String {
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(vectors.join("c2sp/tiled-log-300/log.json")).unwrap(),
    )
    .unwrap();
    meta["checkpoint_signer"]["vkey"]
        .as_str()
        .unwrap()
        .to_owned()
}

const ORIGIN: &str = "rome2026h1.example.org";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn fsck_accepts_the_tiled_log_300_vector() {
    let vectors = vectors_dir(&["c2sp/tiled-log-300/log.json"]);
    let dir = vectors.join("c2sp/tiled-log-300");
    let vkey = vector_vkey(&vectors);
    let out = islet(&[
        "fsck",
        dir.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--origin",
        ORIGIN,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["size"], 300);
    assert_eq!(report["bundles"], 2);
    assert_eq!(report["tiles"], 3);
    assert_eq!(
        report["root"],
        "830df5c90aea65909c10e3ebcd7f9ba72de727a4209e04ca9fc1b59b48badae5"
    );
}

#[test]
fn fsck_fails_and_names_the_file_when_one_bit_flips_in_any_kind_of_file() {
    let vectors = vectors_dir(&["c2sp/tiled-log-300/log.json"]);
    let src = vectors.join("c2sp/tiled-log-300");
    let vkey = vector_vkey(&vectors);
    // (file, what it is)
    let files = [
        ("checkpoint", "checkpoint"),
        ("tile/0/000", "full level-0 tile"),
        ("tile/1/000.p/1", "level-1 tile"),
        ("tile/0/001.p/44", "partial level-0 tile"),
        ("tile/entries/000", "full entry bundle"),
        ("tile/entries/001.p/44", "partial entry bundle"),
    ];
    for (rel, what) in files {
        let len = std::fs::read(src.join(rel)).unwrap().len();
        // A bit at the start, the middle and near the end of each file.
        for byte in [0, len / 2, len - 2] {
            let tmp = tempfile::tempdir().unwrap();
            copy_tree(&src, tmp.path());
            let target = tmp.path().join(rel);
            flip_bit(&target, byte, 1);
            let out = islet(&[
                "fsck",
                tmp.path().to_str().unwrap(),
                "--vkey",
                &vkey,
                "--origin",
                ORIGIN,
            ]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{what} byte {byte}: {err}");
            assert!(
                err.contains(&format!("{}:", target.display())),
                "{what} byte {byte}: the message does not name {rel}: {err}"
            );
        }
    }
}

/// Writes a log of `n` entries ("entry <i>", padded to ~100 bytes).
fn generated_log(dir: &Path, n: u64, signer: &Ed25519Signer) {
    let mut w = TileDirWriter::new(dir);
    for i in 0..n {
        w.append(format!("entry {i:>94}").as_bytes()).unwrap();
    }
    w.finish(signer.name(), &[signer]).unwrap();
}

#[test]
fn fsck_checks_full_upper_tiles_and_reports_missing_and_truncated_files() {
    let signer = Ed25519Signer::from_seed("gen.example", &[3; 32]).unwrap();
    let vkey = signer.verifier().to_vkey();
    let good = tempfile::tempdir().unwrap();
    generated_log(good.path(), 70_000, &signer);
    let out = islet(&[
        "fsck",
        good.path().to_str().unwrap(),
        "--vkey",
        &vkey,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 273 full + 1 partial level-0 tiles, tile/1/000 and tile/1/001.p/17, tile/2/000.p/1.
    assert_eq!(
        (report["size"].as_u64(), report["tiles"].as_u64()),
        (Some(70_000), Some(274 + 2 + 1))
    );

    type Damage<'a> = (&'a str, &'a dyn Fn(&Path));
    let cases: [Damage; 4] = [
        ("tile/1/000", &|p| flip_bit(p, 4000, 7)),
        ("tile/entries/100", &|p| std::fs::remove_file(p).unwrap()),
        ("tile/0/150", &|p| {
            let d = std::fs::read(p).unwrap();
            std::fs::write(p, &d[..d.len() - 32]).unwrap();
        }),
        ("tile/entries/200", &|p| flip_bit(p, 5000, 0)),
    ];
    for (rel, damage) in cases {
        let tmp = tempfile::tempdir().unwrap();
        copy_tree(good.path(), tmp.path());
        let target = tmp.path().join(rel);
        damage(&target);
        let out = islet(&["fsck", tmp.path().to_str().unwrap(), "--vkey", &vkey]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{rel}: {err}");
        assert!(err.contains(&target.display().to_string()), "{rel}: {err}");
    }
}

#[test]
fn fsck_rejects_a_wrong_key_a_wrong_origin_and_reports_bad_usage() {
    let signer = Ed25519Signer::from_seed("gen.example", &[4; 32]).unwrap();
    let other = Ed25519Signer::from_seed("gen.example", &[5; 32]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    generated_log(dir.path(), 1000, &signer);
    let d = dir.path().to_str().unwrap();
    let out = islet(&["fsck", d, "--vkey", &other.verifier().to_vkey()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("checkpoint"), "{}", stderr(&out));
    let out = islet(&[
        "fsck",
        d,
        "--vkey",
        &signer.verifier().to_vkey(),
        "--origin",
        "other.example",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("origin"), "{}", stderr(&out));
    // A PEM public key with --origin works as well as a vkey.
    let pem = tempfile::NamedTempFile::new().unwrap();
    let spki = spki_pem_ed25519(&signer.public_key());
    std::fs::write(pem.path(), spki).unwrap();
    let out = islet(&[
        "fsck",
        d,
        "--log-key",
        pem.path().to_str().unwrap(),
        "--origin",
        "gen.example",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Usage errors exit 2.
    assert_eq!(islet(&["fsck", d]).status.code(), Some(2));
    assert_eq!(
        islet(&["fsck", d, "--log-key", pem.path().to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        islet(&["fsck", d, "--vkey", "not-a-vkey"]).status.code(),
        Some(2)
    );
    let missing = dir.path().join("nope");
    let out = islet(&[
        "fsck",
        missing.to_str().unwrap(),
        "--vkey",
        &signer.verifier().to_vkey(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

fn spki_pem_ed25519(key: &[u8; 32]) -> String {
    use base64::Engine;
    // SubjectPublicKeyInfo for Ed25519: fixed 12-byte prefix + key.
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(key);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

#[test]
fn fsck_verifies_a_log_over_http_and_names_the_url_of_a_bad_tile() {
    let signer = Ed25519Signer::from_seed("http.example", &[6; 32]).unwrap();
    let vkey = signer.verifier().to_vkey();
    let dir = tempfile::tempdir().unwrap();
    generated_log(dir.path(), 10_000, &signer);
    let server = StaticServer::start(dir.path());
    let out = islet(&[
        "fsck",
        &server.url,
        "--vkey",
        &vkey,
        "--json",
        "--concurrency",
        "8",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["size"], 10_000);
    flip_bit(&dir.path().join("tile/0/007"), 100, 3);
    let out = islet(&["fsck", &server.url, "--vkey", &vkey]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}/tile/0/007:", server.url)),
        "{}",
        stderr(&out)
    );
}

#[test]
fn fsck_falls_back_to_the_full_tile_when_a_partial_one_is_gone() {
    // A log directory that has grown past the checkpoint being checked and
    // has deleted the level-0 partial tile and bundle of that checkpoint.
    let signer = Ed25519Signer::from_seed("grow.example", &[8; 32]).unwrap();
    let vkey = signer.verifier().to_vkey();
    let small = tempfile::tempdir().unwrap();
    let big = tempfile::tempdir().unwrap();
    generated_log(small.path(), 70_000, &signer);
    generated_log(big.path(), 70_400, &signer);
    std::fs::copy(
        small.path().join("checkpoint"),
        big.path().join("checkpoint"),
    )
    .unwrap();
    for rel in ["tile/1/001.p/17", "tile/2/000.p/1"] {
        std::fs::copy(small.path().join(rel), big.path().join(rel)).unwrap();
    }
    assert!(!big.path().join("tile/0/273.p/112").exists());
    assert!(big.path().join("tile/0/273").exists());
    let out = islet(&[
        "fsck",
        big.path().to_str().unwrap(),
        "--vkey",
        &vkey,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}
