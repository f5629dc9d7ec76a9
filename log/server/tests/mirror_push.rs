//! tlog-mirror push over real HTTP on 127.0.0.1: the bodies of
//! `c2sp/mirror-add-entries.json` pushed to an islet that accepts the
//! vector log, the mirror then serving the vector log's tiles byte for
//! byte; and what a hostile pusher gets: a package that fails its proof is
//! refused (422) with nothing stored, and every other refusal has its
//! status.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_server::{prepare, serve};
use islet_store::config::RawWitnessedLog;
use islet_store::datadir::{DataDir, InitOptions};
use islet_testkit::cosig::Cosigner;
use serde_json::Value;

const FILE: &str = "c2sp/mirror-add-entries.json";
const TREE: &str = "c2sp/tiled-log-300";
const RECORDS: &str = "c2sp/rfc6962-record-tree.json";

fn load(name: &str) -> Value {
    let dir = islet_testkit::vectors_dir(&[name]);
    serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
}

struct Mirror {
    addr: SocketAddr,
    store: Arc<islet_store::Store>,
    cosigner: Cosigner,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _tmp: tempfile::TempDir,
}

impl Drop for Mirror {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start_mirror(log_vkey: &str) -> Mirror {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("m"));
    data.init(&InitOptions {
        tsa: false,
        ..InitOptions::default()
    })
    .unwrap();
    let mut raw = data.load_config().unwrap();
    raw.listen = "127.0.0.1:0".into();
    raw.mirror.accept = vec![RawWitnessedLog {
        vkey: log_vkey.to_owned(),
        origin: None,
    }];
    let config = raw.validate().unwrap();
    let prepared = tokio::task::block_in_place(|| prepare(&data, config)).unwrap();
    let cosigner = Cosigner::from_vkey(&prepared.mirror_vkey);
    let store = Arc::clone(&prepared.state.store);
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        serve(
            prepared,
            async move {
                let _ = stopped.await;
            },
            move |a| {
                let _ = addr_tx.send(a.addr);
            },
        )
        .await
        .unwrap();
    });
    Mirror {
        addr: addr_rx.await.unwrap(),
        store,
        cosigner,
        stop: Some(stop),
        _tmp: tmp,
    }
}

struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

async fn post(m: &Mirror, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", m.addr))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: r.bytes().await.unwrap().to_vec(),
    }
}

async fn add_checkpoint(m: &Mirror, old: u64, proof: &[String], note: &str) -> Reply {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(h);
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    post(m, "/mirror/add-checkpoint", "text/plain", body.into_bytes()).await
}

async fn add_entries(m: &Mirror, body: Vec<u8>) -> Reply {
    post(m, "/mirror/add-entries", "application/octet-stream", body).await
}

fn example(v: &Value, i: usize) -> (Vec<u8>, String) {
    let e = &v["examples"][i];
    (
        STANDARD.decode(e["body_b64"].as_str().unwrap()).unwrap(),
        e["pending_checkpoint"].as_str().unwrap().to_owned(),
    )
}

fn consistency(a: u64, b: u64) -> Vec<String> {
    let tree = load(RECORDS);
    tree["consistency_proofs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["size1"] == a && c["size2"] == b)
        .map(|c| {
            c["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_else(|| panic!("no {a}->{b} proof"))
}

fn origin_hash(origin: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// Every file of the vector log under `tile/`, relative paths.
fn tile_files(dir: &Path, rel: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir.join(rel)).unwrap() {
        let e = e.unwrap();
        let name = format!("{rel}/{}", e.file_name().to_str().unwrap());
        if e.file_type().unwrap().is_dir() {
            tile_files(dir, &name, out);
        } else {
            out.push(name);
        }
    }
}

fn mirror_size(m: &Mirror, origin: &str) -> u64 {
    let Some(record) = m.store.mirror(origin).unwrap() else {
        return 0;
    };
    m.store
        .tree_head(record.number)
        .unwrap()
        .map_or(0, |h| h.size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_vector_bodies_make_the_vector_log_byte_for_byte() {
    let v = load(FILE);
    let origin = v["origin"].as_str().unwrap();
    let m = start_mirror(v["log_vkey"].as_str().unwrap()).await;
    let (body0, note300) = example(&v, 0);
    let (body2, note600) = example(&v, 2);
    // add-entries before any checkpoint: the spec's 422.
    assert_eq!(add_entries(&m, body0.clone()).await.status, 422);
    let r = add_checkpoint(&m, 0, &[], &note300).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        r.body.is_empty(),
        "the mirror key does not sign a pending checkpoint"
    );
    let r = add_entries(&m, body0).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let text = note300.rsplit_once("\n\n").unwrap().0.to_owned() + "\n";
    let line = String::from_utf8(r.body).unwrap();
    assert!(
        m.cosigner.verify_line(&text, line.trim_end()).is_some(),
        "the 200 is the mirror's cosignature: {line}"
    );
    assert_eq!(mirror_size(&m, origin), 300);
    // The tiles and bundles it serves are the vector log's files.
    let dir = islet_testkit::vectors_dir(&[TREE]).join(TREE);
    let mut files = Vec::new();
    tile_files(&dir, "tile", &mut files);
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        let got = reqwest::get(format!(
            "http://{}/mirror/{}/{f}",
            m.addr,
            origin_hash(origin)
        ))
        .await
        .unwrap();
        assert_eq!(got.status(), 200, "{f}");
        assert_eq!(
            got.bytes().await.unwrap().to_vec(),
            std::fs::read(dir.join(f)).unwrap(),
            "{f}"
        );
    }
    // 300 -> 600 with the consistency proof, then its entries.
    let r = add_checkpoint(&m, 300, &consistency(300, 600), &note600).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = add_entries(&m, body2).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(mirror_size(&m, origin), 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_that_fails_its_proof_is_refused_with_nothing_stored() {
    let v = load(FILE);
    let origin = v["origin"].as_str().unwrap();
    let (body0, note300) = example(&v, 0);
    let header_len = 2 + origin.len() + 8 + 8 + 2;
    // One flipped byte of an entry (the first entry's text), one of a proof
    // hash (the last byte of the body is the second package's last hash).
    let mut entry_flip = body0.clone();
    entry_flip[header_len + 2] ^= 0x01;
    let mut proof_flip = body0.clone();
    let last = proof_flip.len() - 1;
    proof_flip[last] ^= 0x80;
    for (what, bad) in [("entry", entry_flip), ("proof", proof_flip)] {
        let m = start_mirror(v["log_vkey"].as_str().unwrap()).await;
        assert_eq!(add_checkpoint(&m, 0, &[], &note300).await.status, 200);
        let r = add_entries(&m, bad).await;
        assert_eq!(
            r.status,
            422,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(mirror_size(&m, origin), 0, "{what}: nothing committed");
        assert!(
            m.store.mirror(origin).unwrap().is_none(),
            "{what}: no mirror registered"
        );
        // And the good body still goes through afterwards.
        let r = add_entries(&m, body0.clone()).await;
        assert_eq!(
            r.status,
            200,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_has_its_status() {
    let v = load(FILE);
    let m = start_mirror(v["log_vkey"].as_str().unwrap()).await;
    let (body0, note300) = example(&v, 0);
    let (body1, _) = example(&v, 1);
    assert_eq!(add_checkpoint(&m, 0, &[], &note300).await.status, 200);
    // A stale old size: 409 with the pending size.
    let r = add_checkpoint(&m, 0, &[], &note300).await;
    assert_eq!((r.status, r.body.as_slice()), (409, &b"300\n"[..]));
    assert_eq!(r.content_type, "text/x.tlog.size");
    // Entries starting past what the mirror holds: 409 with where it is.
    let r = add_entries(&m, body1).await;
    assert_eq!(r.status, 409, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.content_type, "text/x.tlog.mirror-info");
    assert_eq!(r.body, b"300\n0\n\n");
    // Wrong content type, compressed bodies, garbage, unknown origins.
    assert_eq!(
        post(&m, "/mirror/add-entries", "text/plain", body0.clone())
            .await
            .status,
        415
    );
    let gz = reqwest::Client::new()
        .post(format!("http://{}/mirror/add-entries", m.addr))
        .header("content-type", "application/octet-stream")
        .header("content-encoding", "gzip")
        .body(body0.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(gz.status(), 415);
    assert_eq!(add_entries(&m, b"\x00".to_vec()).await.status, 400);
    let mut other = body0.clone();
    other[2] = b'L'; // "Log.example/vectors": not an accepted origin
    assert_eq!(add_entries(&m, other).await.status, 404);
    // Over the body cap.
    let r = add_entries(&m, vec![0; islet_tlog::mirror_push::MAX_BODY_BYTES + 1]).await;
    assert_eq!(r.status, 413);
    // None of it stored anything; the real body still works.
    assert_eq!(add_entries(&m, body0).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_stops_short_is_staged_202_and_the_next_one_finishes_it() {
    use islet_tlog::mirror_push::{AddEntries, encode_header};
    let v = load(FILE);
    let origin = v["origin"].as_str().unwrap();
    let m = start_mirror(v["log_vkey"].as_str().unwrap()).await;
    let (body0, note300) = example(&v, 0);
    // The 0 -> 300 body cut after its first package (entries 0..256), and
    // its second package (256..300, proven into 300) on a header 256 -> 300.
    let header = AddEntries::parse_header(&body0).unwrap();
    let mut packages = header.packages();
    packages.next().unwrap().unwrap();
    let cut = packages.offset();
    assert!(cut < body0.len());
    let first = body0[..cut].to_vec();
    let mut rest = encode_header(origin, 256, 300, &[]).unwrap();
    rest.extend_from_slice(&body0[cut..]);
    assert_eq!(add_checkpoint(&m, 0, &[], &note300).await.status, 200);
    let r = add_entries(&m, first).await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.content_type, "text/x.tlog.mirror-info");
    assert_eq!(r.body, b"300\n256\n\n", "pending 300, next entry 256");
    assert_eq!(mirror_size(&m, origin), 0, "staged, not yet the mirror");
    let r = add_entries(&m, rest).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(mirror_size(&m, origin), 300);
}
