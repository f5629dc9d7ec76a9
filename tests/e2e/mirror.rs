//! Mirrors with the real binary: `islet mirror sync` over HTTP from a
//! running islet that takes writes, from a directory copied by Debian's
//! `rsync`, never rewinding and keeping forks as evidence; `islet serve`
//! following its upstreams from `islet.toml` and cosigning what it serves.

use std::path::Path;
use std::time::{Duration, Instant};

use islet_tlog::note::{NoteVerifier, open};
use islet_tlog::tiles::{TilePath, tiles_for_size};
use sha2::{Digest, Sha256};

use crate::snapshot::{entry_from_mirror, islet_json, log_key};
use crate::support::{Islet, copy_tree, flip_bit, free_port, http_get, islet, write_entries};

/// `islet init` of a second site whose own log has another origin.
fn init_site(data: &Path, port: u16) {
    let out = islet(&[
        "init",
        "--data",
        data.to_str().unwrap(),
        "--origin",
        "site-b.example",
        "--public-url",
        &format!("http://127.0.0.1:{port}"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sync(data: &Path, upstream: &str, vkey: &str) -> std::process::Output {
    islet(&[
        "mirror",
        "sync",
        "--data",
        data.to_str().unwrap(),
        "--upstream",
        upstream,
        "--vkey",
        vkey,
        "--json",
    ])
}

fn sync_ok(data: &Path, upstream: &str, vkey: &str) -> serde_json::Value {
    let out = sync(data, upstream, vkey);
    assert!(
        out.status.success(),
        "sync from {upstream}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The size of the mirror of 127.0.0.1 in `data`, as `islet mirror list`
/// reports it (0 when there is none).
fn mirror_size(data: &Path) -> (u64, u64) {
    let v = islet_json(&["mirror", "list", "--data", data.to_str().unwrap(), "--json"]);
    v["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["origin"] == "127.0.0.1")
        .map_or((0, 0), |m| {
            (
                m["size"].as_u64().unwrap(),
                m["forks_recorded"].as_u64().unwrap(),
            )
        })
}

fn size_of_checkpoint(note: &[u8]) -> u64 {
    std::str::from_utf8(note)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

fn origin_hash() -> String {
    hex::encode(Sha256::digest(b"127.0.0.1"))
}

#[test]
fn a_mirror_of_a_running_islet_taking_writes_verifies_entry_for_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let site_a = Islet::start(&tmp.path().join("a"));
    let key = log_key(&site_a.data);
    let vkey = key.to_vkey();
    let upstream = format!("{}/api/v2", site_a.url);
    let b = tmp.path().join("b");
    let port_b = free_port();
    init_site(&b, port_b);

    // Sync again and again while the log takes 400 writes.
    let mut sizes = Vec::new();
    std::thread::scope(|s| {
        let writer = s.spawn(|| write_entries(&site_a, "mirror", 400));
        while !writer.is_finished() {
            let r = sync_ok(&b, &upstream, &vkey);
            sizes.push(r["size"].as_u64().unwrap());
            std::thread::sleep(Duration::from_millis(300));
        }
        writer.join().unwrap();
    });
    let last = sync_ok(&b, &upstream, &vkey);
    assert_eq!(last["size"], 400);
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    assert!(
        sizes.iter().any(|s| *s > 0 && *s < 400),
        "no sync saw the log mid-way: {sizes:?}"
    );
    let again = sync_ok(&b, &upstream, &vkey);
    assert_eq!(again["outcome"], "up_to_date");

    // Served by the second site: fsck passes, every tile is the upstream's,
    // every entry verifies with its inclusion proof against the mirror.
    let site_b = Islet::start_on(&b, port_b);
    let prefix = format!("/mirror/{}", origin_hash());
    let report = islet_json(&[
        "fsck",
        &format!("{}{prefix}", site_b.url),
        "--vkey",
        &vkey,
        "--json",
    ]);
    assert_eq!(report["size"], 400);
    for t in tiles_for_size(400) {
        for path in [TilePath::Hash(t), TilePath::Entries(t.bundle())] {
            if matches!(path, TilePath::Entries(_)) && t.level > 0 {
                continue;
            }
            let theirs = http_get(site_a.port, &format!("/api/v2/{path}"));
            let ours = http_get(site_b.port, &format!("{prefix}/{path}"));
            assert_eq!((theirs.0, ours.0), (200, 200), "{path}");
            assert_eq!(theirs.1, ours.1, "{path}");
        }
    }
    for index in 0..400 {
        entry_from_mirror(site_b.port, &prefix, &key, index);
    }

    // The served checkpoint carries the log's signature and the mirror's
    // cosignature, which verifies with `islet mirror key`.
    let (status, note) = http_get(site_b.port, &format!("{prefix}/checkpoint"));
    assert_eq!(status, 200);
    let mirror_vkey =
        String::from_utf8(islet(&["mirror", "key", "--data", b.to_str().unwrap()]).stdout).unwrap();
    let mirror_key = NoteVerifier::from_vkey(mirror_vkey.trim()).unwrap();
    assert_eq!(mirror_key.name(), "site-b.example/mirror");
    let opened = open(&note, &[key.clone(), mirror_key.clone()]).unwrap();
    assert_eq!(opened.verified.len(), 2, "log signature and cosignature");
    let cosigned = opened
        .verified
        .iter()
        .find(|v| v.key_id == mirror_key.key_id())
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts = cosigned.timestamp.unwrap();
    assert!(
        ts <= now && now - ts < 120,
        "cosignature time {ts}, now {now}"
    );
    // A client that knows only the log key still verifies it.
    open(&note, std::slice::from_ref(&key)).unwrap();
}

#[test]
fn serve_follows_the_upstreams_of_its_config_and_serves_them_searchable() {
    let tmp = tempfile::tempdir().unwrap();
    let site_a = Islet::start(&tmp.path().join("a"));
    let key = log_key(&site_a.data);
    write_entries(&site_a, "followed", 30);
    let b = tmp.path().join("b");
    let port_b = free_port();
    init_site(&b, port_b);
    let config = b.join("islet.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[mirror.upstream]]\nurl = \"{}/api/v2\"\nvkey = \"{}\"\ninterval_secs = 1\n",
        site_a.url,
        key.to_vkey()
    ));
    std::fs::write(&config, text).unwrap();
    let site_b = Islet::start_on(&b, port_b);
    let prefix = format!("/mirror/{}", origin_hash());

    let wait_for = |size: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, note) = http_get(site_b.port, &format!("{prefix}/checkpoint"));
            if status == 200 && size_of_checkpoint(&note) == size {
                return note;
            }
            assert!(Instant::now() < deadline, "the mirror did not reach {size}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for(30);
    write_entries(&site_a, "followed more", 20);
    let note = wait_for(50);
    open(&note, std::slice::from_ref(&key)).unwrap();

    // Searchable like the own log.
    let digest = hex::encode(Sha256::digest(b"followed more 7"));
    let query = format!(
        "/api/v2/islet/search?digest=sha256:{digest}&log={}",
        origin_hash()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = http_get(site_b.port, &query);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if let Some(found) = v["entries"].as_array().filter(|e| !e.is_empty()) {
            assert_eq!(found[0]["logIndex"], "37");
            break;
        }
        assert!(Instant::now() < deadline, "not indexed within 20 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Copies a publish directory as the README tells operators to: the
/// checkpoint first, compared by content (`--checksum`: a new checkpoint
/// often has the old one's length and modification second, which rsync's
/// quick check takes for unchanged), then the tiles and bundles, which are
/// immutable by name, leaving out the publisher's temporary files and the
/// checkpoint (a newer one may name tiles this pass did not see).
fn rsync(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for args in [
        vec![
            "-a".to_owned(),
            "--checksum".to_owned(),
            format!("{}/checkpoint", from.display()),
            format!("{}/checkpoint", to.display()),
        ],
        vec![
            "-a".to_owned(),
            "--exclude=*.islet-tmp".to_owned(),
            "--exclude=/checkpoint".to_owned(),
            format!("{}/", from.display()),
            to.display().to_string(),
        ],
    ] {
        let out = std::process::Command::new("rsync")
            .args(&args)
            .output()
            .expect("rsync (Debian package rsync)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_publish_directory_copied_by_rsync_while_writing_is_mirrored_and_tampering_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let publish = tmp.path().join("public");
    let site_a = Islet::start_with(
        &tmp.path().join("a"),
        free_port(),
        &["--publish-dir", publish.to_str().unwrap()],
    );
    let vkey = log_key(&site_a.data).to_vkey();
    let copy = tmp.path().join("copy");
    let m = tmp.path().join("m");

    // rsync the directory again and again while the log takes writes; each
    // copy is a consistent log that syncs.
    let mut sizes = Vec::new();
    std::thread::scope(|s| {
        let writer = s.spawn(|| write_entries(&site_a, "rsync", 300));
        while !writer.is_finished() {
            rsync(&publish, &copy);
            let r = sync_ok(&m, copy.to_str().unwrap(), &vkey);
            sizes.push(r["size"].as_u64().unwrap());
            std::thread::sleep(Duration::from_millis(200));
        }
        writer.join().unwrap();
    });
    assert!(sizes.len() >= 2, "{sizes:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while size_of_checkpoint(&std::fs::read(publish.join("checkpoint")).unwrap()) < 300 {
        assert!(Instant::now() < deadline, "not published");
        std::thread::sleep(Duration::from_millis(100));
    }
    rsync(&publish, &copy);
    assert_eq!(sync_ok(&m, copy.to_str().unwrap(), &vkey)["size"], 300);

    // More writes; a copy with one flipped bit in a new bundle is refused
    // and the mirror stays where it was.
    write_entries(&site_a, "rsync more", 60);
    let deadline = Instant::now() + Duration::from_secs(20);
    while size_of_checkpoint(&std::fs::read(publish.join("checkpoint")).unwrap()) < 360 {
        assert!(Instant::now() < deadline, "not published");
        std::thread::sleep(Duration::from_millis(100));
    }
    let tampered = tmp.path().join("tampered");
    copy_tree(&publish, &tampered);
    flip_bit(&tampered.join("tile/entries/001.p/104"), 300, 0);
    let out = sync(&m, tampered.to_str().unwrap(), &vkey);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused"), "{err}");
    assert_eq!(mirror_size(&m), (300, 0));
    // A bit flipped in the checkpoint's signature: refused too.
    let tampered_cp = tmp.path().join("tampered-cp");
    copy_tree(&publish, &tampered_cp);
    let cp = tampered_cp.join("checkpoint");
    let len = std::fs::metadata(&cp).unwrap().len();
    flip_bit(&cp, usize::try_from(len).unwrap() - 5, 1);
    let out = sync(&m, tampered_cp.to_str().unwrap(), &vkey);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mirror_size(&m), (300, 0));
    // The honest copy applies.
    rsync(&publish, &copy);
    assert_eq!(sync_ok(&m, copy.to_str().unwrap(), &vkey)["size"], 360);
}

#[test]
fn an_older_upstream_is_not_applied_and_a_forked_one_is_refused_with_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let publish = tmp.path().join("public");
    let site_a = Islet::start_with(
        &tmp.path().join("a"),
        free_port(),
        &["--publish-dir", publish.to_str().unwrap()],
    );
    let vkey = log_key(&site_a.data).to_vkey();
    let wait_published = |size: u64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while size_of_checkpoint(&std::fs::read(publish.join("checkpoint")).unwrap()) < size {
            assert!(Instant::now() < deadline, "not published");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    write_entries(&site_a, "old", 40);
    wait_published(40);
    let old = tmp.path().join("old");
    copy_tree(&publish, &old);
    write_entries(&site_a, "new", 40);
    wait_published(80);
    let m = tmp.path().join("m");
    assert_eq!(
        sync_ok(&m, &format!("{}/api/v2", site_a.url), &vkey)["size"],
        80
    );

    // An upstream serving the older checkpoint: not applied, exit 1.
    let out = sync(&m, old.to_str().unwrap(), &vkey);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("never rewinds"), "{err}");
    assert_eq!(mirror_size(&m), (80, 0));

    // Another log under the same key and origin, with 80 other entries.
    let forked_data = tmp.path().join("fork");
    let out = islet(&[
        "init",
        "--data",
        forked_data.to_str().unwrap(),
        "--key",
        site_a.data.join("keys/log.pem").to_str().unwrap(),
        "--public-url",
        &site_a.url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fork = Islet::start(&forked_data);
    write_entries(&fork, "forked", 80);
    let out = sync(&m, &format!("{}/api/v2", fork.url), &vkey);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fork") && err.contains("same size 80"),
        "{err}"
    );
    assert_eq!(mirror_size(&m), (80, 1));
    // Larger and forked: caught by consistency with the mirror's tree.
    write_entries(&fork, "forked more", 10);
    let out = sync(&m, &format!("{}/api/v2", fork.url), &vkey);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fork") && err.contains("implies root"),
        "{err}"
    );
    assert_eq!(mirror_size(&m), (80, 2));
    // The genuine upstream still applies.
    write_entries(&site_a, "newer", 5);
    assert_eq!(
        sync_ok(&m, &format!("{}/api/v2", site_a.url), &vkey)["size"],
        85
    );
}
