//! `islet serve`: a real client, duplicates, fsck of the served log.

use std::path::Path;

use crate::support::{Islet, Signer, islet, sigstore_client};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn vkey_of(data: &Path) -> String {
    // The trusted root written at start carries the key; the vkey is easier
    // to get from the checkpoint-verifying side: ask trust-root and rebuild.
    let raw = std::fs::read_to_string(data.join("islet.toml")).unwrap();
    assert!(raw.contains("origin"));
    let out = islet(&["trust-root", "--data", data.to_str().unwrap()]);
    assert!(out.status.success());
    let root: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spki = root["tlogs"][0]["publicKey"]["rawBytes"]
        .as_str()
        .unwrap()
        .to_owned();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(spki)
        .unwrap();
    islet_tlog::note::NoteVerifier::from_public_key("127.0.0.1", &der)
        .unwrap()
        .to_vkey()
}

/// Waits (up to a minute) until the publish directory's checkpoint has
/// `size` entries: the publisher runs behind the log.
fn wait_for_published(public: &Path, size: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let want = size.to_string();
    while std::fs::read_to_string(public.join("checkpoint"))
        .unwrap_or_default()
        .lines()
        .nth(1)
        != Some(want.as_str())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the publish directory did not reach size {size}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs `islet fsck --json` on a log, requires success, returns its size.
fn fsck_size(log: &str, vkey: &str) -> u64 {
    let out = islet(&["fsck", log, "--vkey", vkey, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["size"].as_u64().unwrap()
}

#[test]
fn sigstore_python_writes_and_verifies_entries_and_gets_409_on_resubmission() {
    let dir = tempfile::tempdir().unwrap();
    let server = Islet::start(dir.path());
    let config = dir.path().join("client_trust_config.json");
    let result = sigstore_client(&config, 6);
    let indexes: Vec<u64> = result["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(indexes, (0..6).collect::<Vec<_>>());
    let dups = result["duplicate_errors"].as_array().unwrap();
    assert_eq!(dups.len(), 2);
    for d in dups {
        assert!(
            d.as_str().unwrap().starts_with(
                "6: an equivalent entry already exists in the transparency log with index "
            ),
            "{d}"
        );
    }
    // And the log the client wrote passes fsck over HTTP.
    assert_eq!(
        fsck_size(&format!("{}/api/v2", server.url), &vkey_of(dir.path())),
        6
    );
}

#[test]
fn a_thousand_concurrent_identical_submissions_give_one_leaf_and_999_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Islet::start(dir.path());
    let body = Signer::new().request(b"the same artifact");
    let rt = runtime();
    let client = reqwest::Client::new();
    let post = |client: reqwest::Client, url: String, body: String| async move {
        let r = client.post(url).body(body).send().await.unwrap();
        let status = r.status().as_u16();
        let index = r
            .headers()
            .get("x-log-index")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = r.text().await.unwrap();
        (status, index, text)
    };
    let url = format!("{}/api/v2/log/entries", server.url);
    let results = rt.block_on(futures::future::join_all(
        (0..1000).map(|_| post(client.clone(), url.clone(), body.clone())),
    ));
    let created: Vec<_> = results.iter().filter(|r| r.0 == 201).collect();
    let conflicts: Vec<_> = results.iter().filter(|r| r.0 == 409).collect();
    assert_eq!(
        created.len(),
        1,
        "{:?}",
        results
            .iter()
            .map(|r| r.0)
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert_eq!(conflicts.len(), 999);
    let index: serde_json::Value = serde_json::from_str(&created[0].2).unwrap();
    let index = index["logIndex"].as_str().unwrap().to_owned();
    assert!(
        conflicts
            .iter()
            .all(|c| c.1.as_deref() == Some(index.as_str()))
    );
    assert!(conflicts[0].2.contains(&format!("with index {index}")));
    // After a restart the dedup index still answers with the original index.
    server.restart();
    let (status, idx, _) = rt.block_on(post(client, url, body));
    assert_eq!((status, idx.as_deref()), (409, Some(index.as_str())));
    let cp = rt.block_on(async {
        reqwest::get(format!("{}/api/v2/checkpoint", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(cp.lines().nth(1), Some("1"), "exactly one leaf: {cp}");
}

#[test]
fn fsck_passes_over_http_and_on_the_publish_directory_after_ten_thousand_appends() {
    let dir = tempfile::tempdir().unwrap();
    let public = dir.path().join("public");
    let server = Islet::start_with(
        &dir.path().join("data"),
        crate::support::free_port(),
        &["--publish-dir", public.to_str().unwrap()],
    );
    let data = dir.path().join("data");
    let rt = runtime();
    let client = reqwest::Client::new();
    let url = format!("{}/api/v2/log/entries", server.url);
    let signer = Signer::new();
    let bodies: Vec<String> = (0..10_000)
        .map(|i| signer.request(format!("artifact {i}").as_bytes()))
        .collect();
    let statuses: Vec<u16> = rt.block_on(async {
        use futures::StreamExt;
        futures::stream::iter(bodies.into_iter().map(|b| {
            let client = client.clone();
            let url = url.clone();
            async move {
                client
                    .post(url)
                    .body(b)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        }))
        .buffer_unordered(64)
        .collect()
        .await
    });
    assert!(
        statuses.iter().all(|s| *s == 201),
        "{:?}",
        statuses
            .iter()
            .filter(|s| **s != 201)
            .take(5)
            .collect::<Vec<_>>()
    );
    let vkey = vkey_of(&data);
    assert_eq!(fsck_size(&format!("{}/api/v2", server.url), &vkey), 10_000);
    // The publisher runs behind the log: wait for its checkpoint to reach
    // the final size, then check the static tree.
    wait_for_published(&public, 10_000);
    assert_eq!(fsck_size(public.to_str().unwrap(), &vkey), 10_000);
}

/// `islet serve` with no flags listens on 127.0.0.1:3000. Port 3000 is
/// taken in a network namespace of the test's own (`unshare -rn`, inside a
/// user namespace, so no privilege is needed; loopback only), so the test
/// never collides with anything on the machine.
#[test]
fn serve_with_no_flags_creates_islet_data_and_listens_on_port_3000() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    // Inside the namespace: loopback up, the server started with no
    // flags, its checkpoint fetched from port 3000 on stdout, the server
    // killed. Everything is bounded: 10 s of polling, `timeout` around all.
    let script = r#"
ip link set lo up || exit 90
"$ISLET" serve 2>serve.stderr &
server=$!
python3 - <<'PY'
import sys, time, urllib.request
for _ in range(200):
    try:
        sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:3000/api/v2/checkpoint", timeout=2).read().decode())
        break
    except Exception:
        time.sleep(0.05)
PY
kill -9 "$server"
wait "$server" 2>/dev/null
exit 0
"#;
    let out = Command::new("timeout")
        .args(["-s", "KILL", "120", "unshare", "-rn", "sh", "-c", script])
        .env("ISLET", env!("CARGO_BIN_EXE_islet"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the namespace script failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let checkpoint = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = std::fs::read_to_string(dir.path().join("serve.stderr")).unwrap_or_default();
    assert!(
        checkpoint.starts_with("127.0.0.1\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"),
        "{checkpoint}\n{stderr}"
    );
    let data = dir.path().join("islet-data");
    let mode = std::fs::metadata(data.join("keys/log.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(data.join("trusted_root.json").exists());
    assert!(stderr.contains("verifier key 127.0.0.1+"), "{stderr}");
    assert!(stderr.contains("trusted_root.json"), "{stderr}");
}

#[test]
fn an_ecdsa_p256_log_serves_search_proofs_past_checkpoints_and_metrics() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = crate::support::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let out = islet(&[
        "init",
        "--data",
        data.to_str().unwrap(),
        "--public-url",
        &url,
        "--key-type",
        "ecdsa-p256",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Islet::start_on(&data, port);
    let rt = runtime();
    let signer = Signer::new();
    let client = reqwest::Client::new();
    let (first, second) = rt.block_on(async {
        let post = |body: String| {
            client
                .post(format!("{url}/api/v2/log/entries"))
                .body(body)
                .send()
        };
        let a = post(signer.request(b"one"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let b = post(signer.request(b"two"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            post(signer.request(b"one"))
                .await
                .unwrap()
                .status()
                .as_u16(),
            201,
            "ECDSA signatures differ each time"
        );
        assert_eq!(post("{}".into()).await.unwrap().status().as_u16(), 400);
        (a, b)
    });
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    let second: serde_json::Value = serde_json::from_str(&second).unwrap();
    assert_eq!(
        (first["logIndex"].as_str(), second["logIndex"].as_str()),
        (Some("0"), Some("1"))
    );
    // The log ID of an ECDSA log is SHA-256 of its SPKI; the vkey is type 0x02.
    let root: serde_json::Value =
        serde_json::from_slice(&islet(&["trust-root", "--data", data.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(
        root["tlogs"][0]["publicKey"]["keyDetails"],
        "PKIX_ECDSA_P256_SHA_256"
    );
    let spki = b64
        .decode(root["tlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    let key = islet_tlog::note::NoteVerifier::from_public_key("127.0.0.1", &spki).unwrap();
    assert_eq!(key.key_type(), 0x02);
    assert_eq!(
        first["logId"]["keyId"].as_str().unwrap(),
        b64.encode(key.rekor_log_id().unwrap())
    );
    assert_eq!(fsck_size(&format!("{url}/api/v2"), &key.to_vkey()), 3);
    // Search by the artifact digest: the entry with a proof that verifies.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"two");
    let found: serde_json::Value = rt.block_on(async {
        let t = reqwest::get(format!(
            "{url}/api/v2/islet/search?digest=sha256:{}",
            hex_lower(digest.as_ref())
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        serde_json::from_str(&t).unwrap()
    });
    let entries = found["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e["canonicalizedBody"], second["canonicalizedBody"]);
    let proof: Vec<[u8; 32]> = e["inclusionProof"]["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| b64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    let leaf = islet_tlog::merkle::leaf_hash(
        &b64.decode(e["canonicalizedBody"].as_str().unwrap())
            .unwrap(),
    );
    let cp = islet_tlog::checkpoint::SignedCheckpoint::open(
        e["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap()
            .as_bytes(),
        &key,
        &[],
        None,
    )
    .unwrap();
    islet_tlog::merkle::verify_inclusion(1, cp.checkpoint.size, &leaf, &proof, &cp.checkpoint.root)
        .unwrap();
    // A past checkpoint, bad queries, and the metrics.
    rt.block_on(async {
        let past = reqwest::get(format!("{url}/api/v2/islet/checkpoint/1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(past.starts_with("127.0.0.1\n1\n"), "{past}");
        for bad in [
            "islet/checkpoint/01",
            "islet/search?digest=md5:00",
            "islet/proof/inclusion?index=9",
        ] {
            let status = reqwest::get(format!("{url}/api/v2/{bad}"))
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(status, 400, "{bad}");
        }
        let m = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in [
            "islet_entries_appended_total 3",
            "islet_tree_size 3",
            "islet_rejections_total{reason=\"malformed\"} 1",
            "islet_sequencer_healthy 1",
        ] {
            assert!(m.contains(line), "{line} missing from\n{m}");
        }
        // Every committed batch timed its synced commit and its record.
        let value = |name: &str| {
            m.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
        };
        let batches = value("islet_batches_total").expect("islet_batches_total");
        assert!(batches >= 1.0, "{m}");
        for histogram in ["islet_store_commit_seconds", "islet_guard_record_seconds"] {
            assert!(m.contains(&format!("# TYPE {histogram} histogram")), "{m}");
            assert_eq!(value(&format!("{histogram}_count")), Some(batches), "{m}");
            assert!(
                value(&format!("{histogram}_sum")).is_some_and(|s| s > 0.0),
                "{m}"
            );
        }
    });
    drop(server);
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Tiles and bundles are served as a static file server serves immutable
/// files: the publish directory's bytes, `Cache-Control: immutable`, a
/// strong `ETag` from their SHA-256 and 304 for a conditional request that
/// names it, HEAD, a bundle's gzip form (its own tag) for a client that asks
/// for it, and nothing ahead of the tree or off the canonical paths.
#[test]
fn tiles_and_bundles_are_served_like_immutable_files_with_etags_304s_and_gzip() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let public = dir.path().join("public");
    let server = Islet::start_with(
        &dir.path().join("data"),
        crate::support::free_port(),
        &["--publish-dir", public.to_str().unwrap()],
    );
    let rt = runtime();
    // No automatic decompression: the test sees the bytes on the wire.
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let signer = Signer::new();
    rt.block_on(async {
        for i in 0..300 {
            let status = client
                .post(format!("{}/api/v2/log/entries", server.url))
                .body(signer.request(format!("tile cache {i}").as_bytes()))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 201);
        }
    });
    wait_for_published(&public, 300);
    let get = |path: &str, headers: &[(&str, &str)], head: bool| {
        let mut request = if head {
            client.head(format!("{}/api/v2/{path}", server.url))
        } else {
            client.get(format!("{}/api/v2/{path}", server.url))
        };
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        rt.block_on(async {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let h = response.headers().clone();
            let body = response.bytes().await.unwrap().to_vec();
            (status, h, body)
        })
    };
    let header = |h: &reqwest::header::HeaderMap, name: &str| {
        h.get(name).map(|v| v.to_str().unwrap().to_owned())
    };
    let tag_of = |body: &[u8]| format!("\"{}\"", hex_lower(&sha2::Sha256::digest(body)[..16]));

    for path in [
        "tile/0/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
        "tile/entries/000",
        "tile/entries/001.p/44",
    ] {
        let on_disk = std::fs::read(public.join(path)).unwrap();
        let bundle = path.starts_with("tile/entries");
        // Twice: from the store, then from memory; the same answer.
        for round in 0..2 {
            let (status, h, body) = get(path, &[], false);
            assert_eq!(status, 200, "{path} round {round}");
            assert!(
                body == on_disk,
                "{path} round {round}: not the published bytes"
            );
            assert_eq!(header(&h, "etag").unwrap(), tag_of(&on_disk), "{path}");
            assert_eq!(
                header(&h, "cache-control").unwrap(),
                "public, max-age=604800, immutable"
            );
            assert_eq!(
                header(&h, "content-type").unwrap(),
                "application/octet-stream"
            );
            assert_eq!(header(&h, "content-encoding"), None);
            assert_eq!(
                header(&h, "vary").as_deref(),
                bundle.then_some("accept-encoding"),
                "{path}"
            );
            assert_eq!(
                header(&h, "content-length").unwrap(),
                on_disk.len().to_string()
            );
        }
        let tag = tag_of(&on_disk);
        // Conditional: the tag (strong or weak, alone or in a list) or *.
        for condition in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"other\", {tag}"),
            "*".to_owned(),
        ] {
            let (status, h, body) = get(path, &[("if-none-match", &condition)], false);
            assert_eq!(status, 304, "{path} with {condition}");
            assert!(body.is_empty());
            assert_eq!(header(&h, "etag").unwrap(), tag);
            assert_eq!(
                header(&h, "cache-control").unwrap(),
                "public, max-age=604800, immutable"
            );
        }
        let (status, _, body) = get(path, &[("if-none-match", "\"other\"")], false);
        assert_eq!(status, 200);
        assert!(body == on_disk);
        // HEAD: the headers of GET, no body.
        let (status, h, body) = get(path, &[], true);
        assert_eq!(status, 200);
        assert!(body.is_empty());
        assert_eq!(
            header(&h, "content-length").unwrap(),
            on_disk.len().to_string()
        );
        // gzip: bundles only, decompressing to the same bytes, their own tag.
        let (status, h, body) = get(path, &[("accept-encoding", "br, gzip")], false);
        assert_eq!(status, 200);
        if bundle {
            assert_eq!(header(&h, "content-encoding").as_deref(), Some("gzip"));
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)
                .unwrap();
            assert!(plain == on_disk, "{path}: gzip form differs");
            assert!(body.len() < on_disk.len());
            let gz_tag = header(&h, "etag").unwrap();
            assert_eq!(gz_tag, format!("{}-gzip\"", &tag[..tag.len() - 1]));
            let (status, _, _) = get(
                path,
                &[("accept-encoding", "gzip"), ("if-none-match", &gz_tag)],
                false,
            );
            assert_eq!(status, 304);
            // The plain form's tag does not match the gzip form.
            let (status, _, _) = get(
                path,
                &[("accept-encoding", "gzip"), ("if-none-match", &tag)],
                false,
            );
            assert_eq!(status, 200);
            let (_, h, body) = get(path, &[("accept-encoding", "gzip;q=0")], false);
            assert_eq!(header(&h, "content-encoding"), None);
            assert!(body == on_disk);
        } else {
            assert_eq!(header(&h, "content-encoding"), None, "{path}");
            assert!(body == on_disk);
        }
    }
    // Nothing ahead of the tree, cached or not, and canonical paths only.
    for (path, status) in [
        ("tile/0/001.p/45", 404),
        ("tile/entries/001.p/45", 404),
        ("tile/entries/002", 404),
        ("tile/1/000", 404),
        ("tile/entries/x000/001.p/44", 400),
        ("tile/00/000", 400),
        ("tile/entries/001.p/256", 400),
    ] {
        let (got, _, _) = get(path, &[], false);
        assert_eq!(got, status, "{path}");
    }
}
