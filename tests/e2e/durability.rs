//! Crashes, stale restores, second writers, key permissions.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::{hash_from_slice, verify_consistency};
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{BundleId, parse_bundle, tile_width};

use crate::support::{Islet, Signer, copy_tree, islet, islet_serve_refuses, write_entries};

fn log_key(data: &Path) -> NoteVerifier {
    let out = islet(&["trust-root", "--data", data.to_str().unwrap()]);
    assert!(out.status.success());
    let root: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let der = STANDARD
        .decode(root["tlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    NoteVerifier::from_public_key("127.0.0.1", &der).unwrap()
}

/// Acknowledged entries: index → canonicalized body; checkpoints seen.
#[derive(Default)]
struct Observed {
    acked: BTreeMap<u64, Vec<u8>>,
    checkpoints: Vec<String>,
}

async fn writer(
    url: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    observed: Arc<Mutex<Observed>>,
    id: usize,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let signer = Signer::new();
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let body = signer.request(format!("writer {id} artifact {n}").as_bytes());
        let Ok(resp) = client
            .post(format!("{url}/api/v2/log/entries"))
            .body(body)
            .send()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if resp.status().as_u16() != 201 {
            continue;
        }
        let Ok(text) = resp.text().await else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let index: u64 = v["logIndex"].as_str().unwrap().parse().unwrap();
        let body = STANDARD
            .decode(v["canonicalizedBody"].as_str().unwrap())
            .unwrap();
        let cp = v["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut o = observed.lock().unwrap();
        assert!(
            o.acked.insert(index, body).is_none(),
            "index {index} acknowledged twice"
        );
        o.checkpoints.push(cp);
    }
}

/// SIGKILLs sent to the server under load.
const KILLS: usize = 24;

#[test]
fn sigkill_at_random_moments_under_load_loses_nothing_acknowledged_and_never_forks() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Islet::start(dir.path());
    let key = log_key(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let observed = Arc::new(Mutex::new(Observed::default()));
    let writers: Vec<_> = (0..16)
        .map(|i| {
            rt.spawn(writer(
                server.url.clone(),
                Arc::clone(&stop),
                Arc::clone(&observed),
                i,
            ))
        })
        .collect();
    // 24 SIGKILLs at pseudo-random moments (a fixed LCG: reproducible).
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    // Each kill must hit a live server; a kill counts as under load when
    // entries were acknowledged since the one before it.
    let (mut kills, mut under_load, mut acked_before) = (0, 0, 0);
    for _ in 0..KILLS {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_millis(30 + (seed >> 33) % 400));
        let acked_now = observed.lock().unwrap().acked.len();
        if acked_now > acked_before {
            under_load += 1;
        }
        acked_before = acked_now;
        kills += server.restart();
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    rt.block_on(async {
        for w in writers {
            w.await.unwrap();
        }
    });
    assert_eq!(kills, KILLS, "a SIGKILL found no live server");
    eprintln!("{under_load} of {KILLS} kills landed while entries were being acknowledged");
    assert!(
        under_load >= KILLS / 2,
        "only {under_load} of {KILLS} kills landed while entries were being acknowledged"
    );
    let observed = observed.lock().unwrap();
    assert!(
        observed.acked.len() > 100,
        "only {} entries were acknowledged",
        observed.acked.len()
    );

    // The final state: every acknowledged entry is there, byte for byte.
    let final_cp = rt.block_on(async {
        reqwest::get(format!("{}/api/v2/checkpoint", server.url))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    let final_cp = SignedCheckpoint::open(&final_cp, &key, &[], None)
        .unwrap()
        .checkpoint;
    let mut bundles: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    for (index, body) in &observed.acked {
        assert!(
            *index < final_cp.size,
            "acknowledged index {index} is beyond the final size {}",
            final_cp.size
        );
        let b = index / 256;
        let entries = bundles.entry(b).or_insert_with(|| {
            let width = tile_width(final_cp.size, 0, b).unwrap();
            let id = BundleId { index: b, width };
            let bytes = rt.block_on(async {
                reqwest::get(format!("{}/api/v2/{id}", server.url))
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            });
            parse_bundle(id, &bytes)
                .unwrap()
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect()
        });
        assert_eq!(
            &entries[usize::try_from(index % 256).unwrap()],
            body,
            "entry {index} changed"
        );
    }
    // Every checkpoint seen verifies and is consistent with the final one.
    let mut seen: BTreeMap<u64, [u8; 32]> = BTreeMap::new();
    for note in &observed.checkpoints {
        let cp = SignedCheckpoint::open(note.as_bytes(), &key, &[], None)
            .unwrap()
            .checkpoint;
        if let Some(root) = seen.insert(cp.size, cp.root) {
            assert_eq!(root, cp.root, "two roots at size {}", cp.size);
        }
    }
    for (size, root) in &seen {
        let proof: serde_json::Value = rt.block_on(async {
            reqwest::get(format!(
                "{}/api/v2/islet/proof/consistency?first={size}&second={}",
                server.url, final_cp.size
            ))
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap()
        });
        let hashes: Vec<[u8; 32]> = proof["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash_from_slice(&STANDARD.decode(h.as_str().unwrap()).unwrap()).unwrap())
            .collect();
        verify_consistency(*size, final_cp.size, root, &final_cp.root, &hashes).unwrap_or_else(
            |e| {
                panic!(
                    "checkpoint {size} is not consistent with {}: {e}",
                    final_cp.size
                )
            },
        );
    }
    let vkey = key.to_vkey();
    let out = islet(&["fsck", &format!("{}/api/v2", server.url), "--vkey", &vkey]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Posts `n` fresh entries one by one and checks each got 201.

#[test]
fn a_data_directory_restored_from_an_older_copy_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Islet::start(&data);
    write_entries(&server, "first", 10);
    server.kill();
    let old_db = dir.path().join("db-at-10");
    copy_tree(&data.join("db"), &old_db);
    server.restart();
    write_entries(&server, "second", 10);
    server.kill();
    let guard_before = std::fs::read(data.join("checkpoint.published")).unwrap();
    std::fs::remove_dir_all(data.join("db")).unwrap();
    copy_tree(&old_db, &data.join("db"));
    let err = islet_serve_refuses(&data);
    assert!(
        err.contains("store is at size 10 but a checkpoint of size 20 was published"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(data.join("checkpoint.published")).unwrap(),
        guard_before,
        "a checkpoint was signed"
    );
}

#[test]
fn a_store_with_another_tree_of_the_same_size_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    // Two data directories with the same key, then different entries.
    drop(Islet::start(&a));
    copy_tree(&a, &b);
    let server_a = Islet::start(&a);
    write_entries(&server_a, "tree a", 5);
    drop(server_a);
    let server_b = Islet::start(&b);
    write_entries(&server_b, "tree b", 5);
    drop(server_b);
    std::fs::remove_dir_all(a.join("db")).unwrap();
    copy_tree(&b.join("db"), &a.join("db"));
    let err = islet_serve_refuses(&a);
    assert!(err.contains("tree at size 5 has root"), "{err}");
    assert!(
        err.contains("but the published checkpoint has root"),
        "{err}"
    );
}

#[test]
fn a_second_process_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _server = Islet::start(dir.path());
    let err = islet_serve_refuses(dir.path());
    assert!(err.contains("is in use by another process"), "{err}");
}

#[test]
fn a_key_file_readable_by_others_refuses_to_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    drop(Islet::start(dir.path()));
    let key = dir.path().join("keys/log.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = islet_serve_refuses(dir.path());
    assert!(err.contains("key file mode is 640"), "{err}");
}

#[test]
fn a_missing_checkpoint_record_refuses_unless_the_log_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Islet::start(dir.path());
    server.kill();
    // Empty log: nothing was published, so a lost record is recreated.
    std::fs::remove_file(dir.path().join("checkpoint.published")).unwrap();
    server.restart();
    write_entries(&server, "one", 1);
    server.kill();
    std::fs::remove_file(dir.path().join("checkpoint.published")).unwrap();
    let err = islet_serve_refuses(dir.path());
    assert!(
        err.contains("checkpoint.published is missing while the store holds a tree of size 1"),
        "{err}"
    );
}

/// The sequence number in the header of the fork guard record's slot at
/// `offset` (`islet-guard-1 SEQ …`).
fn guard_slot_seq(raw: &[u8], offset: usize) -> u64 {
    std::str::from_utf8(&raw[offset + 14..offset + 34])
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_torn_checkpoint_record_falls_back_to_its_older_slot_and_a_ruined_one_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.published");
    let mut server = Islet::start(dir.path());
    write_entries(&server, "one", 3);
    server.kill();
    let mut raw = std::fs::read(&path).unwrap();
    let half = raw.len() / 2;
    let newest = if guard_slot_seq(&raw, 0) > guard_slot_seq(&raw, half) {
        0
    } else {
        half
    };
    // A crash in the middle of writing the newest record: its note torn.
    raw[newest + 200] ^= 0x01;
    std::fs::write(&path, &raw).unwrap();
    server.restart();
    write_entries(&server, "two", 2);
    server.kill();
    let note = crate::support::guard_record_note(&std::fs::read(&path).unwrap());
    assert!(
        String::from_utf8_lossy(&note).lines().nth(1) == Some("5"),
        "the record after the restart: {}",
        String::from_utf8_lossy(&note)
    );
    // Both slots ruined: what was published is unknown.
    let mut raw = std::fs::read(&path).unwrap();
    raw[200] ^= 0x01;
    raw[half + 200] ^= 0x01;
    std::fs::write(&path, &raw).unwrap();
    let err = islet_serve_refuses(dir.path());
    assert!(
        err.contains("neither slot holds an intact record (slot 0: checksum mismatch"),
        "{err}"
    );
}

#[test]
fn a_checkpoint_record_from_before_slots_is_read_and_rewritten_in_slots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.published");
    let mut server = Islet::start(dir.path());
    write_entries(&server, "one", 2);
    server.kill();
    // The record as islet wrote it before slots: the note alone.
    let note = crate::support::guard_record_note(&std::fs::read(&path).unwrap());
    std::fs::write(&path, &note).unwrap();
    server.restart();
    write_entries(&server, "two", 1);
    server.kill();
    let raw = std::fs::read(&path).unwrap();
    assert!(raw.starts_with(b"islet-guard-1 "), "not rewritten in slots");
    let note = crate::support::guard_record_note(&raw);
    assert_eq!(String::from_utf8_lossy(&note).lines().nth(1), Some("3"));
}
