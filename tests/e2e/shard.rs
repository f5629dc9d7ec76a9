//! Shard rotation: a log frozen (final checkpoint, writes refused with
//! rekor-tiles' 405), the next shard started with a new key and origin in
//! the same data directory, both served, mirrored and verified, by
//! sigstore-python with the trusted root `islet trust-root` prints.

use std::path::{Path, PathBuf};

use crate::support::{Islet, http_get, http_request, islet, sigstore_python, write_entries};
use crate::verify::{SITE_POLICY, run, sigstore_bundles};

/// rekor-tiles' answer to a write to a frozen log.
const FROZEN: &[u8] = b"This log has been frozen, please switch to the latest log.\n";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = islet(args);
    assert!(
        out.status.success(),
        "islet {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// sigstore-python's Verifier over `(bundle, artifact)` pairs with the
/// trusted root at `root`: whether all verified, and its output.
fn python_verifies(root: &Path, pairs: &[(PathBuf, PathBuf)]) -> (bool, String) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/python/sigstore_verify_bundles.py");
    let mut cmd = std::process::Command::new(sigstore_python());
    cmd.arg(&script)
        .arg(root)
        .arg(SITE_POLICY[1])
        .arg(SITE_POLICY[3]);
    for (b, a) in pairs {
        cmd.arg(b).arg(a);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn pairs(dir: &Path, n: usize) -> Vec<(PathBuf, PathBuf)> {
    (0..n)
        .map(|i| {
            (
                dir.join(format!("bundle-{i}.sigstore.json")),
                dir.join(format!("artifact-{i}")),
            )
        })
        .collect()
}

#[test]
fn a_frozen_shard_and_its_successor_both_verify_with_sigstore_python_and_islet() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("site");
    let mut server = Islet::start(&data);
    let first_origin = "127.0.0.1";
    write_entries(&server, "shard one", 3);
    let ca_dir = tmp.path().join("ca");
    let one = tmp.path().join("one");
    for d in [&ca_dir, &one] {
        std::fs::create_dir_all(d).unwrap();
    }
    sigstore_bundles(&server.data, &one, 2, &ca_dir);
    let first_vkey = crate::snapshot::log_key(&data).to_vkey();

    // Freeze: the server is stopped for it.
    server.kill();
    let frozen: serde_json::Value =
        serde_json::from_str(&ok(&["shard", "freeze", "--data", s(&data), "--json"])).unwrap();
    assert_eq!(frozen["size"], 5, "{frozen}");
    let again = islet(&["shard", "freeze", "--data", s(&data)]);
    assert!(!again.status.success(), "a second freeze is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already frozen"));
    server.restart();
    let (status, body) = http_get(server.port, "/api/v2/checkpoint");
    assert_eq!(status, 200);
    let final_checkpoint = String::from_utf8(body).unwrap();
    assert!(
        final_checkpoint.starts_with(&format!("{first_origin}\n5\n"))
            && final_checkpoint.contains("\nLog frozen — "),
        "{final_checkpoint}"
    );
    // Writing to the frozen shard: rekor-tiles' 405, word for word.
    let body = crate::support::Signer::new().request(b"too late");
    let (status, head, answer) = http_request(
        server.port,
        "POST",
        "/api/v2/log/entries",
        Some("application/json"),
        body.as_bytes(),
    );
    assert_eq!(status, 405);
    assert!(head.contains("content-type: text/plain"), "{head}");
    assert_eq!(answer, FROZEN);
    let (status, _) = http_get(server.port, "/api/v2/tile/entries/000.p/5");
    assert_eq!(status, 200, "a frozen log is still served");

    // The next shard, in the same data directory.
    server.kill();
    let next: serde_json::Value = serde_json::from_str(&ok(&[
        "shard",
        "new",
        "--data",
        s(&data),
        "--origin",
        "localhost",
        "--json",
    ]))
    .unwrap();
    assert_eq!(next["previous"], first_origin);
    // The new shard's URL has its origin as host (sigstore-go checks it).
    assert_eq!(
        next["public_url"],
        format!("http://localhost:{}", server.port)
    );
    let url = format!("http://localhost:{}", server.port);
    server.restart_with_public_url(&url);
    write_entries(&server, "shard two", 2);
    let two = tmp.path().join("two");
    std::fs::create_dir_all(&two).unwrap();
    sigstore_bundles(&server.data, &two, 2, &ca_dir);
    let (status, body) = http_get(server.port, "/api/v2/checkpoint");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).starts_with("localhost\n4\n"));
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        first_origin.as_bytes(),
    ));
    let (status, body) = http_get(server.port, &format!("/shards/{hash}/api/v2/checkpoint"));
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap(), final_checkpoint);
    let (status, _, answer) = http_request(
        server.port,
        "POST",
        &format!("/shards/{hash}/api/v2/log/entries"),
        Some("application/json"),
        &body_of_one(),
    );
    assert_eq!((status, answer.as_slice()), (405, FROZEN));

    // The trusted root lists both shards with their validFor windows.
    let ctlog = format!(
        "https://ct.islet.test={}",
        ca_dir.join("ct.pub.pem").display()
    );
    let root_text = ok(&[
        "trust-root",
        "--data",
        s(&data),
        "--ca",
        s(&ca_dir.join("ca.pem")),
        "--ctlog",
        &ctlog,
    ]);
    let root_json: serde_json::Value = serde_json::from_str(&root_text).unwrap();
    let tlogs = root_json["tlogs"].as_array().unwrap();
    assert_eq!(tlogs.len(), 2, "{root_json}");
    assert_eq!(
        tlogs[0]["baseUrl"],
        format!("http://127.0.0.1:{}/shards/{hash}", server.port)
    );
    assert_eq!(
        tlogs[0]["publicKey"]["validFor"]["end"],
        frozen["frozen_at"]
    );
    assert!(tlogs[1]["publicKey"]["validFor"].get("end").is_none());
    let root = tmp.path().join("root.json");
    std::fs::write(&root, &root_text).unwrap();

    // sigstore-python verifies the entries of both shards.
    let all: Vec<(PathBuf, PathBuf)> = pairs(&one, 2).into_iter().chain(pairs(&two, 2)).collect();
    let (verified, out) = python_verifies(&root, &all);
    assert!(verified, "{out}");
    assert_eq!(out.matches("verified ").count(), 4, "{out}");
    // Without the frozen shard in the trusted root, its entries do not.
    let mut without = root_json.clone();
    without["tlogs"].as_array_mut().unwrap().remove(0);
    let without_path = tmp.path().join("root-without.json");
    std::fs::write(&without_path, without.to_string()).unwrap();
    let (verified, out) = python_verifies(&without_path, &pairs(&one, 1));
    assert!(!verified, "{out}");

    // islet verify agrees, offline and against the local data directory.
    let bundles: Vec<&str> = all.iter().map(|(b, _)| s(b)).collect();
    let mut args = vec!["verify", "--trusted-root", s(&root), "--bundle"];
    args.extend_from_slice(&bundles);
    args.extend_from_slice(&SITE_POLICY);
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(0), "{out}{err}");
    args.extend_from_slice(&["--log", s(&data)]);
    server.kill();
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.matches("present in the local log").count(), 4, "{out}");
    server.restart();

    // A mirror of the frozen shard, over HTTP from its shard URL: the
    // final checkpoint (with its extension line) verifies and is kept.
    let mirror = tmp.path().join("mirror");
    ok(&[
        "mirror",
        "sync",
        "--data",
        s(&mirror),
        "--upstream",
        &format!("http://127.0.0.1:{}/shards/{hash}/api/v2", server.port),
        "--vkey",
        &first_vkey,
    ]);
    let first_shard = pairs(&one, 2);
    let mut args = vec!["verify", "--trusted-root", s(&root), "--bundle"];
    args.extend(first_shard.iter().map(|(b, _)| s(b)));
    args.extend_from_slice(&SITE_POLICY);
    args.extend_from_slice(&["--log", s(&mirror)]);
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(0), "{out}{err}");
    // At its old host the frozen shard is still the log at /api/v2/: a
    // monitor that follows it by its URL syncs it there; the new host gets
    // the new shard.
    assert_eq!(
        get_with_host(
            server.port,
            &format!("127.0.0.1:{}", server.port),
            "/api/v2/checkpoint"
        ),
        final_checkpoint
    );
    assert!(
        get_with_host(
            server.port,
            &format!("localhost:{}", server.port),
            "/api/v2/checkpoint"
        )
        .starts_with("localhost\n4\n")
    );
    let old_host = format!("127.0.0.1:{}", server.port);
    let (status, answer) = request_with_host(
        server.port,
        "POST",
        &old_host,
        "/api/v2/log/entries",
        &body_of_one(),
    );
    assert_eq!(
        (status, answer.as_bytes()),
        (405, FROZEN),
        "a write at the old URL"
    );
    let by_old_url = tmp.path().join("by-old-url");
    ok(&[
        "mirror",
        "sync",
        "--data",
        s(&by_old_url),
        "--upstream",
        &format!("http://127.0.0.1:{}/api/v2", server.port),
        "--vkey",
        &first_vkey,
        "--json",
    ]);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&["mirror", "list", "--data", s(&by_old_url), "--json"])).unwrap();
    assert_eq!(listed["mirrors"][0]["size"], 5, "{listed}");
    let (status, _, answer) = http_request(
        server.port,
        "POST",
        "/api/v2/log/entries",
        Some("application/json"),
        &body_of_one(),
    );
    // http_request names Host "t": the current shard takes it.
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));

    let listed: serde_json::Value =
        serde_json::from_str(&ok(&["shard", "list", "--data", s(&data), "--json"])).unwrap();
    let shards = listed["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    assert_eq!(
        (shards[0]["frozen"].as_bool(), shards[1]["frozen"].as_bool()),
        (Some(true), Some(false))
    );
}

/// `method path` with the `Host` header `host` and `body`: the status and
/// the body.
fn request_with_host(
    port: u16,
    method: &str,
    host: &str,
    path: &str,
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, body.to_owned())
}

/// GET `path` with the `Host` header `host`; the body (status 200 asserted).
fn get_with_host(port: u16, host: &str, path: &str) -> String {
    let (status, body) = request_with_host(port, "GET", host, path, b"");
    assert_eq!(status, 200, "{body}");
    body
}

fn body_of_one() -> Vec<u8> {
    crate::support::Signer::new()
        .request(b"to the old shard")
        .into_bytes()
}
