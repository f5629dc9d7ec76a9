//! A log of Rekor-like entries written straight into a data directory's
//! store, for the benchmarks that need a large log quickly.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_server::guard::CheckpointGuard;
use islet_store::datadir::DataDir;
use islet_store::{CommitBatch, OWN_LOG, Store, TreeHead};
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::grow::{Grown, LogGrower};
use islet_tlog::note::NoteSigner;
use islet_tlog::tiles::encode_hash_tile;

/// Origin of the benchmark logs.
pub(crate) const ORIGIN: &str = "bench.example.org";

/// Deterministic pseudo-random bytes.
pub(crate) fn noise(seed: u64, out: &mut [u8]) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

/// A leaf shaped like a Rekor v2 hashedrekord body: random digest and
/// signature, one of 64 keys.
pub(crate) fn entry(i: u64, keys: &[String]) -> Vec<u8> {
    let (mut digest, mut sig) = ([0u8; 32], [0u8; 71]);
    noise(2 * i, &mut digest);
    noise(2 * i + 1, &mut sig);
    format!(
        r#"{{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{{"hashedRekordV002":{{"data":{{"algorithm":"SHA2_256","digest":"{}"}},"signature":{{"content":"{}","verifier":{{"keyDetails":"PKIX_ECDSA_P256_SHA_256","publicKey":{{"rawBytes":"{}"}}}}}}}}}}}}"#,
        STANDARD.encode(digest),
        STANDARD.encode(sig),
        keys[(i % 64) as usize]
    )
    .into_bytes()
}

pub(crate) fn run_islet(args: &[&str]) -> Vec<u8> {
    let out = Command::new(islet_bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "islet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs an islet command that prints one JSON object.
pub(crate) fn islet(args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&run_islet(args)).unwrap()
}

/// The 64 signing keys of the entries (SubjectPublicKeyInfo-sized noise).
pub(crate) fn key_spkis() -> Vec<[u8; 91]> {
    (0..64)
        .map(|k| {
            let mut spki = [0u8; 91];
            noise(1_000_000_007 + k, &mut spki);
            spki
        })
        .collect()
}

/// Commits `batch` to the own log with the signed head of `size` and
/// `root`, and records that checkpoint in the fork guard as `islet serve`
/// does after each commit (without it the server refuses to start on
/// this store).
pub(crate) fn commit_signed(
    store: &Store,
    signer: &dyn NoteSigner,
    dir: &DataDir,
    batch: &CommitBatch,
    size: u64,
    root: islet_tlog::merkle::Hash,
) {
    let note = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root,
        extensions: vec![],
    }
    .sign(&[signer])
    .unwrap();
    let head = TreeHead {
        size,
        root,
        checkpoint: note,
    };
    store.commit(OWN_LOG, batch, &head).unwrap();
    CheckpointGuard::new(dir.guard_path())
        .record(&head.checkpoint)
        .unwrap();
}

/// Initialises `data` and writes `n` entries into its own log.
pub(crate) fn make_log(data: &Path, n: u64) -> String {
    run_islet(&["init", "--data", data.to_str().unwrap(), "--origin", ORIGIN]);
    let dir = DataDir::new(data);
    let config = dir.load_config().unwrap().validate().unwrap();
    let signer = dir.load_signer(config.own.as_ref().unwrap()).unwrap();
    let store = Store::open(&dir.db_path(), true).unwrap();
    let keys: Vec<String> = key_spkis().iter().map(|k| STANDARD.encode(k)).collect();
    let mut log = LogGrower::new();
    let mut batch = CommitBatch::default();
    for i in 0..n {
        log.push(&entry(i, &keys), &mut |g| match g {
            Grown::Tile(t, h) => batch.tiles.push((t, encode_hash_tile(h))),
            Grown::Bundle(b, d) => batch.bundles.push((b, bytes::Bytes::copy_from_slice(d))),
        })
        .unwrap();
        if (i + 1) % 65_536 == 0 || i + 1 == n {
            let edge = log.edge();
            for (t, h) in edge.tiles {
                batch.tiles.push((t, encode_hash_tile(h)));
            }
            if let Some((b, d)) = edge.bundle {
                batch.bundles.push((b, bytes::Bytes::copy_from_slice(d)));
            }
            let (size, root) = (log.size(), log.root());
            commit_signed(
                &store,
                signer.as_ref(),
                &dir,
                &std::mem::take(&mut batch),
                size,
                root,
            );
        }
    }
    signer.verifier().to_vkey()
}

/// The `islet` binary of this build.
pub(crate) fn islet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_islet")
}

/// The data directory `base/log-<n>` with `n` entries, written on first
/// use; returns it and the log's vkey.
pub(crate) fn bench_log(base: &Path, n: u64) -> (std::path::PathBuf, String) {
    let data = base.join(format!("log-{n}"));
    let vkey_file = data.join("bench.vkey");
    if let Ok(vkey) = std::fs::read_to_string(&vkey_file)
        && DataDir::new(&data).guard_path().exists()
    {
        return (data, vkey);
    }
    let _ = std::fs::remove_dir_all(&data);
    eprintln!("writing a log of {n} entries into {}", data.display());
    let vkey = make_log(&data, n);
    std::fs::write(&vkey_file, &vkey).unwrap();
    (data, vkey)
}
