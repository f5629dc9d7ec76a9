//! The air-gap flow with the real binary: entries written through
//! `islet serve`, exported while it serves, imported into a second data
//! directory, served there as a mirror, and verified there by islet and by
//! sigstore-python.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::{inclusion_proof, leaf_hash, verify_inclusion};
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{
    BundleId, TileFetcher, TileHashReader, TileId, TilePath, parse_bundle, tile_width,
};
use sha2::{Digest, Sha256};

use crate::support::{Islet, free_port, http_get, islet, sigstore_python, write_entries};

/// The log key of data directory `data` as a verifier.
pub(crate) fn log_key(data: &Path) -> NoteVerifier {
    let root: serde_json::Value =
        serde_json::from_slice(&islet(&["trust-root", "--data", data.to_str().unwrap()]).stdout)
            .unwrap();
    let spki = STANDARD
        .decode(root["tlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    NoteVerifier::from_public_key("127.0.0.1", &spki).unwrap()
}

/// Runs an islet command that prints one JSON object; requires success.
pub(crate) fn islet_json(args: &[&str]) -> serde_json::Value {
    let out = islet(args);
    assert!(
        out.status.success(),
        "islet {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Reads a mirror's tiles over HTTP.
struct MirrorTiles {
    port: u16,
    prefix: String,
}

impl TileFetcher for MirrorTiles {
    fn fetch_tiles(&self, tiles: &[TileId]) -> islet_tlog::Result<Vec<Vec<u8>>> {
        Ok(tiles
            .iter()
            .map(|t| {
                let (status, body) = http_get(
                    self.port,
                    &format!("{}/{}", self.prefix, TilePath::Hash(*t)),
                );
                assert_eq!(status, 200, "{t}");
                body
            })
            .collect())
    }
}

/// The TransparencyLogEntry of entry `index`, rebuilt from what the mirror
/// at `port`/`prefix` serves, after checking it with islet's own
/// verification: the checkpoint against the log key, the tiles against the
/// signed root, the entry's inclusion proof against the root.
pub(crate) fn entry_from_mirror(
    port: u16,
    prefix: &str,
    key: &NoteVerifier,
    index: u64,
) -> serde_json::Value {
    let (status, note) = http_get(port, &format!("{prefix}/checkpoint"));
    assert_eq!(status, 200);
    let signed = SignedCheckpoint::open(&note, key, &[], Some("127.0.0.1")).unwrap();
    let (size, root) = (signed.checkpoint.size, signed.checkpoint.root);
    let bundle_index = index / 256;
    let bundle = BundleId {
        index: bundle_index,
        width: tile_width(size, 0, bundle_index).unwrap(),
    };
    let (status, data) = http_get(port, &format!("{prefix}/{}", TilePath::Entries(bundle)));
    assert_eq!(status, 200);
    let body = parse_bundle(bundle, &data).unwrap()[(index % 256) as usize].to_vec();
    let fetcher = MirrorTiles {
        port,
        prefix: prefix.to_owned(),
    };
    let reader = TileHashReader::new(size, root, &fetcher);
    let proof = inclusion_proof(index, size, &reader).unwrap();
    verify_inclusion(index, size, &leaf_hash(&body), &proof, &root).unwrap();
    let kind: serde_json::Value = serde_json::from_slice(&body).unwrap();
    serde_json::json!({
        "logIndex": index.to_string(),
        "logId": { "keyId": STANDARD.encode(key.rekor_log_id().unwrap()) },
        "kindVersion": { "kind": kind["kind"], "version": kind["apiVersion"] },
        "integratedTime": "0",
        "inclusionProof": {
            "logIndex": index.to_string(),
            "rootHash": STANDARD.encode(root),
            "treeSize": size.to_string(),
            "hashes": proof.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
            "checkpoint": { "envelope": String::from_utf8(note).unwrap() },
        },
        "canonicalizedBody": STANDARD.encode(&body),
    })
}

#[test]
fn the_air_gap_flow_carries_entries_that_verify_with_islet_and_sigstore_python() {
    let python = sigstore_python();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("site-a"), dir.path().join("site-b"));
    let site_a = Islet::start(&a);
    // Entries from sigstore-python's own client, then enough others to
    // fill a tile and leave a partial one.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/python/sigstore_client.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(a.join("client_trust_config.json"))
        .arg("4")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let python_indexes: Vec<u64> = written["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    write_entries(&site_a, "air gap", 296);
    let key = log_key(&a);
    let vkey = key.to_vkey();

    // Full snapshot, exported while site A serves.
    let full = dir.path().join("full.tar.zst");
    let export = export_own(&a, &full);
    assert_eq!(export["to_size"], 300);
    assert_eq!(
        export["sha256"].as_str().unwrap(),
        hex::encode(Sha256::digest(std::fs::read(&full).unwrap()))
    );
    let inspect = islet_json(&[
        "snapshot",
        "inspect",
        full.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--json",
    ]);
    assert_eq!(inspect["signature"]["status"], "verified");
    assert_eq!(
        (inspect["from_size"].as_u64(), inspect["to_size"].as_u64()),
        (Some(0), Some(300))
    );

    // Site B has its own log, of another origin.
    let b_port = free_port();
    let out = islet(&[
        "init",
        "--data",
        b.to_str().unwrap(),
        "--public-url",
        &format!("http://127.0.0.1:{b_port}"),
        "--origin",
        "site-b.test",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let import = islet_json(&import_args(&b, &vkey, &full));
    assert_eq!(import["outcome"], "applied");
    assert_eq!(import["entries_added"], 300);
    let peak = import["peak_rss_bytes"].as_u64().unwrap();
    assert!(peak < 256 << 20, "import peaked at {peak} bytes");

    // An increment after more writes.
    write_entries(&site_a, "after the first crossing", 60);
    let inc = dir.path().join("inc.tar.zst");
    islet_json(&[
        "snapshot",
        "export",
        "--data",
        a.to_str().unwrap(),
        "--from",
        "300",
        "-o",
        inc.to_str().unwrap(),
        "--json",
    ]);
    let import = islet_json(&[
        "snapshot",
        "import",
        "--data",
        b.to_str().unwrap(),
        "--origin",
        "127.0.0.1",
        inc.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        (import["previous_size"].as_u64(), import["to_size"].as_u64()),
        (Some(300), Some(360))
    );
    // The same file again changes nothing.
    let again = islet_json(&import_args(&b, &vkey, &inc));
    assert_eq!(again["outcome"], "already_present");
    // The first snapshot is older than the copy now: refused, exit 1.
    let out = islet(&[
        "snapshot",
        "import",
        "--data",
        b.to_str().unwrap(),
        "--vkey",
        &vkey,
        full.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("never rewinds"));
    drop(site_a);

    // Site B serves the mirror; fsck passes on it over HTTP.
    let site_b = Islet::start_on(&b, b_port);
    let prefix = format!("/mirror/{}", hex::encode(Sha256::digest(b"127.0.0.1")));
    let out = islet(&[
        "fsck",
        &format!("{}{prefix}", site_b.url),
        "--vkey",
        &vkey,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["size"], 360);
    assert_eq!(http_get(site_b.port, "/mirror/00/checkpoint").0, 400);
    assert_eq!(
        http_get(
            site_b.port,
            &format!("/mirror/{}/checkpoint", "0".repeat(64))
        )
        .0,
        404
    );

    // The mirror is searchable like the own log (indexed in the
    // background): by artifact digest, as sigstore-python wrote it.
    let digest = hex::encode(Sha256::digest(b"islet artifact 0"));
    let log_hash = hex::encode(Sha256::digest(b"127.0.0.1"));
    let query = format!("/api/v2/islet/search?digest=sha256:{digest}&log={log_hash}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let found = loop {
        let (status, body) = http_get(site_b.port, &query);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if v["entries"].as_array().is_some_and(|e| !e.is_empty()) {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mirror was not indexed within 20 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        found["entries"][0]["logIndex"],
        python_indexes[0].to_string()
    );
    assert_eq!(found["entries"][0]["inclusionProof"]["treeSize"], "360");
    // The same digest is not in site B's own log, and an unknown log is 404.
    let (_, own) = http_get(
        site_b.port,
        &format!("/api/v2/islet/search?digest=sha256:{digest}"),
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&own).unwrap()["entries"],
        serde_json::json!([])
    );
    let (status, _) = http_get(
        site_b.port,
        &format!(
            "/api/v2/islet/search?digest=sha256:{digest}&log={}",
            "1".repeat(64)
        ),
    );
    assert_eq!(status, 404);

    // Entries from the copy verify with islet's own checks and with
    // sigstore-python's, against site A's trust config.
    let mut files = Vec::new();
    for index in python_indexes.iter().copied().chain([299, 359]) {
        let tle = entry_from_mirror(site_b.port, &prefix, &key, index);
        let path = dir.path().join(format!("entry-{index}.json"));
        std::fs::write(&path, tle.to_string()).unwrap();
        files.push(path);
    }
    let verify = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/python/sigstore_verify.py");
    let out = std::process::Command::new(&python)
        .arg(&verify)
        .arg(a.join("client_trust_config.json"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        files.len()
    );
    // A tampered body is not accepted by sigstore-python.
    let mut tle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let mut body = STANDARD
        .decode(tle["canonicalizedBody"].as_str().unwrap())
        .unwrap();
    let last = body.len() - 5;
    body[last] ^= 1;
    tle["canonicalizedBody"] = STANDARD.encode(&body).into();
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, tle.to_string()).unwrap();
    let out = std::process::Command::new(&python)
        .arg(&verify)
        .arg(a.join("client_trust_config.json"))
        .arg(&tampered)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "sigstore-python accepted a tampered body"
    );
}

#[test]
fn hostile_snapshots_are_refused_by_the_binary_within_256_mib() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let server = Islet::start(&a);
    write_entries(&server, "hostile", 300);
    drop(server);
    let vkey = log_key(&a).to_vkey();
    let good = dir.path().join("good.tar.zst");
    export_own(&a, &good);
    let tar = zstd::decode_all(std::fs::read(&good).unwrap().as_slice()).unwrap();
    // A small file that expands to 512 MiB past the archive's end.
    let mut bomb = tar.clone();
    bomb.extend(std::iter::repeat_n(0u8, 512 << 20));
    let bomb = zstd::encode_all(bomb.as_slice(), 3).unwrap();
    assert!(bomb.len() < 1 << 20, "the bomb is {} bytes", bomb.len());
    // A frame that asks for a 1 GiB window.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.window_log(30).unwrap();
    enc.long_distance_matching(true).unwrap();
    std::io::Write::write_all(&mut enc, &tar).unwrap();
    let window = enc.finish().unwrap();
    // The archive as exported (independent frames), then 128 more frames
    // of 4 MiB of zeros each, every one declaring its size.
    let mut frames_bomb = std::fs::read(&good).unwrap();
    let zeros = zstd::bulk::compress(&vec![0u8; 4 << 20], 3).unwrap();
    for _ in 0..128 {
        frames_bomb.extend_from_slice(&zeros);
    }
    assert!(frames_bomb.len() < 1 << 20, "{} bytes", frames_bomb.len());
    let b = dir.path().join("b");
    for (name, bytes, expect) in [
        ("bomb", bomb, "decompresses past"),
        ("bomb of frames", frames_bomb, "decompresses past"),
        ("window", window, "zstd window is larger"),
    ] {
        let file = dir.path().join(format!("{name}.tar.zst"));
        std::fs::write(&file, bytes).unwrap();
        let out = islet(&import_args(&b, &vkey, &file));
        assert_eq!(out.status.code(), Some(1), "{name}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            report["error"].as_str().unwrap().contains(expect),
            "{name}: {report}"
        );
        let peak = report["peak_rss_bytes"].as_u64().unwrap();
        assert!(peak < 256 << 20, "{name}: import peaked at {peak} bytes");
    }
    // Nothing was imported.
    let store = islet_store::Store::open_read_only(&b.join("db")).unwrap();
    assert!(store.mirrors().unwrap().is_empty());
}

/// `islet init` of a data directory whose own log is `origin`.
fn init(data: &Path, origin: &str) {
    let out = islet(&["init", "--data", data.to_str().unwrap(), "--origin", origin]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `islet snapshot export --json` of the own log of `data`, whole, to
/// `out`; its report.
pub(crate) fn export_own(data: &Path, out: &Path) -> serde_json::Value {
    export_json(data, &[], out)
}

/// `islet snapshot export --json` of the mirror of `origin` in `data` to
/// `out`; its report.
fn export_mirror(data: &Path, origin: &str, out: &Path) -> serde_json::Value {
    export_json(data, &["--origin", origin], out)
}

fn export_json(data: &Path, which: &[&str], out: &Path) -> serde_json::Value {
    let mut args = vec!["snapshot", "export", "--data", data.to_str().unwrap()];
    args.extend_from_slice(which);
    args.extend(["-o", out.to_str().unwrap(), "--json"]);
    islet_json(&args)
}

/// The arguments of `islet snapshot import --json` of `file` into `data`
/// with the key `vkey`.
fn import_args<'a>(data: &'a Path, vkey: &'a str, file: &'a Path) -> [&'a str; 8] {
    [
        "snapshot",
        "import",
        "--data",
        data.to_str().unwrap(),
        "--vkey",
        vkey,
        file.to_str().unwrap(),
        "--json",
    ]
}

/// A snapshot of a log of `entries` signed by a key from `seed`: written as
/// a tlog-tiles directory, mirrored into site `dir/a` and exported from
/// there to `dir/<name>.tar.zst`. Returns the log's vkey, the file and the
/// export's report.
fn snapshot_of(
    dir: &Path,
    origin: &str,
    seed: u8,
    entries: impl IntoIterator<Item = Vec<u8>>,
    name: &str,
) -> (String, std::path::PathBuf, serde_json::Value) {
    use islet_signer::Ed25519Signer;
    use islet_tlog::note::NoteSigner;

    let signer = Ed25519Signer::from_seed(origin, &[seed; 32]).unwrap();
    let vkey = signer.verifier().to_vkey();
    let upstream = dir.join("upstream");
    let written = islet_reader::tiledir::write_log(&upstream, origin, &signer, entries).unwrap();
    let a = dir.join("a");
    init(&a, "site-a.example");
    let synced = islet_json(&[
        "mirror",
        "sync",
        "--data",
        a.to_str().unwrap(),
        "--upstream",
        upstream.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--json",
    ]);
    assert_eq!(synced["size"].as_u64(), Some(written.size));
    let file = dir.join(format!("{name}.tar.zst"));
    let exported = export_mirror(&a, origin, &file);
    (vkey, file, exported)
}

#[test]
fn an_import_killed_at_any_moment_leaves_nothing_and_the_next_one_applies() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    // A log large enough that importing it takes a while (70,000 entries
    // of about 1 KB: whole bundles are staged into SST files and ingested
    // every 64 MiB, so once on the way and once at the end).
    let origin = "killed.example.org";
    let entries = (0..70_000u64).map(|i| {
        format!(
            r#"{{"kind":"test","i":{i},"pad":"{}"}}"#,
            "k".repeat(1000 + (i % 17) as usize)
        )
        .into_bytes()
    });
    let (vkey, file, exported) = snapshot_of(dir.path(), origin, 7, entries, "full");

    // Site B: imports killed (SIGKILL) at several moments.
    let b = dir.path().join("b");
    init(&b, "site-b.example");
    let ingest = b.join("db").join("ingest");
    let mut killed = 0;
    let mut staged_when_killed = 0;
    for delay_ms in [30u64, 120, 250, 400] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_islet"))
            .args([
                "snapshot",
                "import",
                "--data",
                b.to_str().unwrap(),
                "--vkey",
                &vkey,
                file.to_str().unwrap(),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.signal() == Some(9) {
            killed += 1;
            // Files being written for ingestion, or ingested ones: the kill
            // came in the middle of staging.
            let in_flight = std::fs::read_dir(&ingest).map_or(0, Iterator::count);
            // A kill before the store was created (a loaded machine) finds
            // no db directory: nothing was staged.
            let ssts = std::fs::read_dir(b.join("db")).map_or(0, |dir| {
                dir.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "sst")
                })
                .count()
            });
            if in_flight > 0 || ssts > 0 {
                staged_when_killed += 1;
            }
            // Whatever it staged, nothing became the log (a kill before
            // the store was created leaves no store at all).
            match islet_store::Store::open_read_only(&b.join("db")) {
                Ok(store) => assert!(
                    store.mirrors().unwrap().is_empty(),
                    "killed after {delay_ms} ms: a mirror was registered"
                ),
                Err(e) => assert!(
                    e.to_string().contains("has no islet store yet"),
                    "killed after {delay_ms} ms: {e}"
                ),
            }
        } else {
            // It finished before the kill: start again from nothing.
            assert!(status.success(), "after {delay_ms} ms: {status}");
            break;
        }
    }
    assert!(killed >= 2, "only {killed} imports were killed mid-way");
    assert!(
        staged_when_killed >= 1,
        "no kill landed while rows were being staged"
    );

    // Whatever the kills left, an import now applies (or finds the state
    // the finished one left), and the mirror is the log byte for byte: its
    // export is the same file.
    let out = islet(&import_args(&b, &vkey, &file));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let again = dir.path().join("again.tar.zst");
    let re_exported = export_mirror(&b, origin, &again);
    assert_eq!(re_exported["sha256"], exported["sha256"]);
    let left = std::fs::read_dir(&ingest).map_or(0, Iterator::count);
    assert_eq!(left, 0, "files left in {}", ingest.display());
}

#[test]
fn snapshots_of_the_largest_bundles_export_and_import_within_256_mib() {
    use islet_tlog::tiles::MAX_ENTRY_SIZE;

    let dir = tempfile::tempdir().unwrap();
    // Eight bundles of 256 entries of the largest size: 16 MiB each, so
    // read-ahead, stages in flight and SST writing all hold large buffers.
    let origin = "large.example.org";
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..MAX_ENTRY_SIZE.div_ceil(8))
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .take(MAX_ENTRY_SIZE)
        .collect();
    let entries = (0..8 * 256u64).map(|i| {
        let mut e = noise.clone();
        e[..8].copy_from_slice(&i.to_be_bytes());
        e
    });
    let (vkey, file, export) = snapshot_of(dir.path(), origin, 8, entries, "large");
    assert!(export["content_bytes"].as_u64().unwrap() > 8 * 16_000_000);
    let b = dir.path().join("b");
    init(&b, "site-b.example");
    let import = islet_json(&import_args(&b, &vkey, &file));
    assert_eq!(import["to_size"], 8 * 256);
    for (what, report) in [("export", &export), ("import", &import)] {
        let peak = report["peak_rss_bytes"].as_u64().unwrap();
        assert!(peak < 256 << 20, "{what} peaked at {} MiB", peak >> 20);
    }
}

/// A data directory that only mirrors (never `islet init`: no own log, no
/// islet.toml) exports its mirrors by `--origin`, and without `--origin`
/// says there is no own log instead of failing on the missing file.
#[test]
fn a_mirror_only_data_directory_exports_its_mirrors() {
    const VKEY: &str = "mirror.example.org+3fb148ef+BAAjjch9GyYz0sJsJx7ALhbdAtz2ov0unbzSl1vMp94O";
    const ORIGIN: &str = "rome2026h1.example.org";
    let dir = tempfile::tempdir().unwrap();
    let (site, copy) = (dir.path().join("site"), dir.path().join("copy"));
    let upstream =
        crate::support::vectors_dir(&["c2sp/tiled-log-300/checkpoint"]).join("c2sp/tiled-log-300");
    let synced = islet(&[
        "mirror",
        "sync",
        "--data",
        site.to_str().unwrap(),
        "--upstream",
        upstream.to_str().unwrap(),
        "--vkey",
        VKEY,
        "--origin",
        ORIGIN,
    ]);
    assert!(synced.status.success(), "{synced:?}");
    let out = dir.path().join("mirror.tar.zst");
    let report = export_mirror(&site, ORIGIN, &out);
    assert_eq!(report["to_size"], 300, "{report}");
    let mut args = import_args(&copy, VKEY, &out).to_vec();
    args.extend(["--origin", ORIGIN]);
    let imported = islet_json(&args);
    assert_eq!(imported["to_size"], 300, "{imported}");

    let own = islet(&[
        "snapshot",
        "export",
        "--data",
        site.to_str().unwrap(),
        "-o",
        dir.path().join("own.tar.zst").to_str().unwrap(),
    ]);
    assert_eq!(own.status.code(), Some(2), "{own:?}");
    let stderr = String::from_utf8_lossy(&own.stderr);
    assert!(stderr.contains("no log of its own"), "{stderr}");
}
