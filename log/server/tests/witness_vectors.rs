//! The witness endpoint over real HTTP on 127.0.0.1: every scenario of
//! `c2sp/witness-add-checkpoint.json` against `POST /witness/add-checkpoint`
//! of a freshly started islet (seeded through the endpoint itself), with
//! the vector's witness key and a clock fixed at the vectors' timestamp, so
//! that each 200 body is the vector's byte for byte; plus what the vectors
//! do not cover: the body cap, racing requests, forged lines, evidence and
//! the monitoring `GET`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use islet_server::witness_service::WitnessService;
use islet_server::{Prepared, prepare, serve};
use islet_store::config::RawWitnessedLog;
use islet_store::datadir::{DataDir, InitOptions};
use islet_testkit::cosig::Cosigner;
use islet_tlog::witness::MAX_BODY_BYTES;
use serde_json::Value;

const FILE: &str = "c2sp/witness-add-checkpoint.json";
const VECTOR_TIME: u64 = 1_700_000_000;

fn load(name: &str) -> Value {
    let dir = islet_testkit::vectors_dir(&[name]);
    serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} is not a string"))
}

/// The vector witness's signing key, from the cosignature vectors.
fn witness_skey(vkey: &str) -> String {
    let v = load("c2sp/cosignature.json");
    v["ed25519"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["vkey"].as_str() == Some(vkey) && c["skey"].is_string())
        .map(|c| s(c, "skey").to_owned())
        .expect("the vector witness's skey")
}

/// A running islet that witnesses the vector log with the vector key.
struct Site {
    addr: SocketAddr,
    store: Arc<islet_store::Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _tmp: tempfile::TempDir,
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start_witness(v: &Value, clock: u64) -> Site {
    start_witness_with(v, Arc::new(AtomicU64::new(clock))).await
}

async fn start_witness_with(v: &Value, clock: Arc<AtomicU64>) -> Site {
    let witness_vkey = s(v, "witness_vkey");
    start_witness_keyed(&witness_skey(witness_vkey), &[s(v, "log_vkey")], clock).await
}

/// A running islet witnessing the logs of `log_vkeys` with the cosigner
/// key `skey` (a note `PRIVATE+KEY+…` line) at the times `clock` gives.
async fn start_witness_keyed(skey: &str, log_vkeys: &[&str], clock: Arc<AtomicU64>) -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::new(tmp.path().join("w"));
    data.init(&InitOptions {
        tsa: false,
        ..InitOptions::default()
    })
    .unwrap();
    let key_path = data.root().join("keys/witness.key");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .unwrap();
        writeln!(f, "{skey}").unwrap();
    }
    let mut raw = data.load_config().unwrap();
    raw.listen = "127.0.0.1:0".into();
    raw.witness_service.name = Some(skey.split('+').nth(2).unwrap().to_owned());
    raw.witness_service.key = "keys/witness.key".into();
    raw.witness_service.logs = log_vkeys
        .iter()
        .map(|vkey| RawWitnessedLog {
            vkey: (*vkey).to_owned(),
            origin: None,
        })
        .collect();
    let config = raw.validate().unwrap();
    let mut prepared: Prepared = tokio::task::block_in_place(|| prepare(&data, config)).unwrap();
    // The same witness, with the vectors' clock.
    let signer = Arc::new(islet_signer::CosignatureV1Signer::from_skey(skey).unwrap());
    let store = Arc::clone(&prepared.state.store);
    prepared.state.witness = Some(Arc::new(
        WitnessService::new(
            Arc::clone(&store),
            signer,
            &prepared.config.witness_service,
            Arc::new(move || clock.load(Ordering::Relaxed)),
        )
        .unwrap(),
    ));
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
    Site {
        addr: addr_rx.await.unwrap(),
        store,
        stop: Some(stop),
        _tmp: tmp,
    }
}

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

async fn post(site: &Site, body: impl Into<reqwest::Body>) -> Reply {
    let r = reqwest::Client::new()
        .post(format!("http://{}/witness/add-checkpoint", site.addr))
        .body(body)
        .send()
        .await
        .unwrap();
    reply(r).await
}

async fn get(site: &Site, path: &str) -> Reply {
    let r = reqwest::get(format!("http://{}{path}", site.addr))
        .await
        .unwrap();
    reply(r).await
}

async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: r.text().await.unwrap(),
    }
}

fn scenario<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("scenario {id}"))
}

/// Brings a fresh witness to the scenario's stored state through the
/// endpoint: size 8 by `first-checkpoint`, size 13 by `consistent-update`.
async fn seed(site: &Site, v: &Value, state: &Value) {
    let size = state["size"].as_u64().unwrap();
    let steps: &[&str] = match size {
        0 => &[],
        8 => &["first-checkpoint"],
        13 => &["first-checkpoint", "consistent-update"],
        other => panic!("no way to seed size {other}"),
    };
    for id in steps {
        let r = post(site, s(scenario(v, id), "request_body").to_owned()).await;
        assert_eq!(r.status, 200, "seeding with {id}: {}", r.body);
    }
}

fn origin_path(origin: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(origin.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("/witness/{hash}/checkpoint")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_gets_its_status_and_body_over_http() {
    let v = load(FILE);
    let witness = Cosigner::from_vkey(s(&v, "witness_vkey"));
    let scenarios = v["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 17, "the vector file's scenarios");
    for c in scenarios {
        let id = s(c, "id");
        let site = start_witness(&v, VECTOR_TIME).await;
        if !c["witness_state"].is_null() {
            seed(&site, &v, &c["witness_state"]).await;
        }
        let before = site.store.witness_state(s(&v, "origin")).unwrap();
        let r = post(&site, s(c, "request_body").to_owned()).await;
        let want = c["expect_status"].as_u64().unwrap();
        assert_eq!(u64::from(r.status), want, "{id}: {}", r.body);
        let after = site.store.witness_state(s(&v, "origin")).unwrap();
        match r.status {
            200 => {
                if let Some(expected) = c["example_200_body"].as_str() {
                    assert_eq!(r.body, expected, "{id}: the 200 body");
                }
                // Checked with the independent verifier as well.
                let note = s(c, "request_body").split_once("\n\n").unwrap().1;
                let (text, _) = note.rsplit_once("\n\n").unwrap();
                let text = format!("{text}\n");
                assert_eq!(
                    witness.verify_line(&text, r.body.trim_end()),
                    Some(VECTOR_TIME),
                    "{id}: the cosignature verifies at the vectors' time"
                );
                let stored = after.expect("a 200 stores the state");
                assert!(stored.note.ends_with(&r.body), "{id}: stored and served");
            }
            409 => {
                assert_eq!(r.body, s(c, "expect_body"), "{id}: 409 body");
                assert_eq!(r.content_type, s(c, "expect_content_type"), "{id}");
                assert_eq!(before, after, "{id}: a 409 changes nothing");
            }
            _ => assert_eq!(before, after, "{id}: a refusal changes nothing"),
        }
        let evidence = site.store.witness_evidence(s(&v, "origin")).unwrap();
        let forks = [
            "bad-consistency-proof",
            "truncated-consistency-proof",
            "same-size-different-root",
        ];
        assert_eq!(
            evidence.len(),
            usize::from(forks.contains(&id)),
            "{id}: evidence is kept for a signed checkpoint that conflicts with a cosigned one"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitoring_get_serves_what_was_cosigned_and_never_a_forged_line() {
    let v = load(FILE);
    let witness = Cosigner::from_vkey(s(&v, "witness_vkey"));
    let site = start_witness(&v, VECTOR_TIME).await;
    let path = origin_path(s(&v, "origin"));
    assert_eq!(get(&site, &path).await.status, 404, "nothing cosigned yet");
    // The first checkpoint, with a forged line in the witness's name
    // appended: the log signature verifies, the forged line is not the
    // log's, so the request is cosigned, but the line must not be kept.
    let body = s(scenario(&v, "first-checkpoint"), "request_body");
    let forged = format!(
        "{body}\u{2014} witness.example/w1 D2/3YAAAAABlU/EAAAAA{}\n",
        "A".repeat(80)
    );
    let r = post(&site, forged.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let served = get(&site, &path).await;
    assert_eq!(served.status, 200);
    assert!(!served.body.contains("AAAAAAAAAAAAAAAA"), "{}", served.body);
    assert_eq!(witness.verify_in(&served.body), Some(VECTOR_TIME));
    let log_line = body.rsplit_once("\n\n").unwrap().1;
    assert!(
        served.body.contains(log_line),
        "the log's signature is served"
    );
    assert_eq!(
        served
            .body
            .lines()
            .filter(|l| l.starts_with('\u{2014}'))
            .count(),
        2,
        "the log's line and the witness's: {}",
        served.body
    );
    // A hash that is not 64 lowercase hex digits, and an unknown one.
    assert_eq!(get(&site, "/witness/ABC/checkpoint").await.status, 400);
    assert_eq!(get(&site, &origin_path("other.example")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_updates_from_one_state_move_it_once() {
    let v = load(FILE);
    let site = start_witness(&v, VECTOR_TIME).await;
    seed(&site, &v, &serde_json::json!({"size": 8})).await;
    let body = s(scenario(&v, "consistent-update"), "request_body").to_owned();
    let site = Arc::new(site);
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (site, body) = (Arc::clone(&site), body.clone());
        tasks.push(tokio::spawn(async move { post(&site, body).await }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        if r.status == 409 {
            assert_eq!(r.body, "13\n", "the losers learn the new size");
        }
        statuses.push(r.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        63,
        "{statuses:?}"
    );
    let state = site.store.witness_state(s(&v, "origin")).unwrap().unwrap();
    assert_eq!(state.size, 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_at_the_cap_are_read_and_one_byte_past_get_413() {
    let v = load(FILE);
    let site = start_witness(&v, VECTOR_TIME).await;
    // At the cap: read and refused for its content (no blank line).
    let r = post(&site, vec![b'x'; MAX_BODY_BYTES]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post(&site, vec![b'x'; MAX_BODY_BYTES + 1]).await;
    assert_eq!(r.status, 413, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_behind_the_last_cosignature_gets_503_and_changes_nothing() {
    let v = load(FILE);
    let clock = Arc::new(AtomicU64::new(VECTOR_TIME));
    let site = start_witness_with(&v, Arc::clone(&clock)).await;
    seed(&site, &v, &serde_json::json!({"size": 8})).await;
    let before = site.store.witness_state(s(&v, "origin")).unwrap().unwrap();
    clock.store(VECTOR_TIME - 10, Ordering::Relaxed);
    let update = s(scenario(&v, "consistent-update"), "request_body").to_owned();
    let r = post(&site, update.clone()).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("back in time"), "{}", r.body);
    let after = site.store.witness_state(s(&v, "origin")).unwrap().unwrap();
    assert_eq!(before, after, "a 503 changes nothing");
    clock.store(VECTOR_TIME, Ordering::Relaxed);
    assert_eq!(
        post(&site, update).await.status,
        200,
        "the same second again is fine"
    );
}

/// The note signer key of a cosignature vector: its `skey`, or one made
/// from its `ed25519_seed` (given as `SHA-256('<label>')`).
fn vector_skey(c: &Value) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    if let Some(skey) = c["skey"].as_str() {
        return skey.to_owned();
    }
    let label = s(c, "ed25519_seed")
        .strip_prefix("SHA-256('")
        .and_then(|l| l.strip_suffix("')"))
        .expect("a seed given as SHA-256('label')");
    let seed = Sha256::digest(label.as_bytes());
    let mut raw = vec![0x04];
    raw.extend_from_slice(&seed);
    let mut vkey = s(c, "vkey").split('+');
    let (name, id) = (vkey.next().unwrap(), vkey.next().unwrap());
    format!(
        "PRIVATE+KEY+{name}+{id}+{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_makes_every_ed25519_cosignature_vector_byte_for_byte() {
    use islet_tlog::note::NoteSigner;
    let v = load("c2sp/cosignature.json");
    let cases = v["ed25519"].as_array().unwrap();
    assert_eq!(cases.len(), 5, "the vector file's Ed25519 cases");
    for (i, c) in cases.iter().enumerate() {
        let note = s(c, "note");
        let (text, _) = note.rsplit_once("\n\n").unwrap();
        let text = format!("{text}\n");
        let mut lines = text.lines();
        let origin = lines.next().unwrap();
        // The cosignature covers the text only, so the witness is shown the
        // vector's checkpoint text signed by a log key of this test's own.
        let (log, _) = islet_signer::Ed25519Signer::generate(origin).unwrap();
        let signed = islet_tlog::note::sign_note(&text, &[&log as &dyn NoteSigner]).unwrap();
        let clock = Arc::new(AtomicU64::new(c["timestamp"].as_u64().unwrap()));
        let site = start_witness_keyed(&vector_skey(c), &[&log.verifier().to_vkey()], clock).await;
        let mut body = b"old 0\n\n".to_vec();
        body.extend_from_slice(&signed);
        let r = post(&site, body).await;
        if text.lines().count() > 3 {
            // Extension lines: islet's witness cosigns none (as Sunlight's);
            // the vector's line is checked by the verifiers instead.
            assert_eq!(r.status, 400, "case {i}: {}", r.body);
            assert!(r.body.contains("extension"), "case {i}: {}", r.body);
            let cosigner = Cosigner::from_vkey(s(c, "vkey"));
            assert_eq!(
                cosigner.verify_line(&text, s(c, "cosigner_line")),
                c["timestamp"].as_u64(),
                "case {i}"
            );
            continue;
        }
        assert_eq!(r.status, 200, "case {i}: {}", r.body);
        assert_eq!(r.body, format!("{}\n", s(c, "cosigner_line")), "case {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_negative_cosignature_vectors_fail_the_independent_verifier() {
    let v = load("c2sp/cosignature.json");
    for c in v["ed25519_negative"].as_array().unwrap() {
        let vkey = s(c, "vkey");
        let key_type = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            vkey.rsplit('+').next().unwrap(),
        )
        .unwrap()[0];
        if key_type != 0x04 {
            // The same key as a type 0x01 vkey is another key ID: not a
            // cosigner key at all.
            assert_eq!(key_type, 0x01);
            continue;
        }
        assert_eq!(Cosigner::from_vkey(vkey).verify_in(s(c, "note")), None);
    }
}
