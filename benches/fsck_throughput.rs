//! `islet fsck` throughput against plain SHA-256 over the same bytes,
//! measured in the same run.
//!
//! ```text
//! cargo bench --bench fsck_throughput                  # 1,000,000 entries of 500 bytes
//! ISLET_BENCH_ENTRIES=200000 cargo bench --bench fsck_throughput
//! ISLET_BENCH_DIR=/tmp/bench-log cargo bench --bench fsck_throughput   # keep the log
//! ```
//!
//! It writes a log with `islet_reader::tiledir`, then alternates, `ISLET_BENCH_ROUNDS`
//! times (default 5): (a) one thread reading every entry bundle and hashing
//! its bytes with SHA-256; (b) the real `islet fsck` binary on the directory.
//! Both read from the page cache (one untimed pass of each warms it). It prints each round, the medians and the
//! ratio fsck / SHA-256 (the target is at least 1.5), and a JSON line.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use islet_reader::tiledir::TileDirWriter;
use islet_signer::Ed25519Signer;
use islet_tlog::note::NoteSigner;
use sha2::{Digest, Sha256};

const ENTRY_BYTES: usize = 500;

mod support;
use support::{env_u64, median};

/// Deterministic, incompressible-looking entries of ENTRY_BYTES bytes.
fn entry(i: u64, buf: &mut [u8; ENTRY_BYTES]) {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    buf[..8].copy_from_slice(&i.to_be_bytes());
}

fn bundle_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("tile/entries")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}

/// One thread: read each bundle and SHA-256 its bytes. Returns (seconds, bytes).
fn plain_sha256(files: &[std::path::PathBuf]) -> (f64, u64) {
    let start = Instant::now();
    let mut bytes = 0u64;
    let mut sink = 0u8;
    for f in files {
        let data = std::fs::read(f).unwrap();
        bytes += data.len() as u64;
        sink ^= Sha256::digest(&data)[0];
    }
    std::hint::black_box(sink);
    (start.elapsed().as_secs_f64(), bytes)
}

fn run_fsck(dir: &Path, vkey: &str) -> (f64, serde_json::Value) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_islet"))
        .args(["fsck", dir.to_str().unwrap(), "--vkey", vkey, "--json"])
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "fsck failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, serde_json::from_slice(&out.stdout).unwrap())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass other
    // flags: only run when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        println!("fsck_throughput: run with `cargo bench --bench fsck_throughput`");
        return;
    }
    let entries = env_u64("ISLET_BENCH_ENTRIES", 1_000_000);
    let rounds = env_u64("ISLET_BENCH_ROUNDS", 5).max(1);
    // ISLET_BENCH_DIR keeps the generated log between runs.
    let tmp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("ISLET_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(tmp.path());
    let signer = Ed25519Signer::from_seed("bench.example", &[9; 32]).unwrap();
    let vkey = signer.verifier().to_vkey();

    let start = Instant::now();
    let reuse = std::fs::read(dir.join("checkpoint"))
        .ok()
        .and_then(|c| String::from_utf8(c).ok())
        .is_some_and(|c| c.lines().nth(1) == Some(entries.to_string().as_str()));
    if !reuse {
        let mut w = TileDirWriter::new(dir);
        let mut buf = [0u8; ENTRY_BYTES];
        for i in 0..entries {
            entry(i, &mut buf);
            w.append(&buf).unwrap();
        }
        w.finish(signer.name(), &[&signer]).unwrap();
    }
    let files = bundle_files(dir);
    println!("log at {} (vkey {vkey})", dir.display());
    println!(
        "log of {entries} entries of {ENTRY_BYTES} bytes ({} bundles) in {:.1} s",
        files.len(),
        start.elapsed().as_secs_f64()
    );

    // One pass over every file first, so that both sides read from the
    // page cache from the first round on.
    plain_sha256(&files);
    run_fsck(dir, &vkey);
    let (mut sha_rates, mut fsck_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut bundle_bytes = 0;
    for round in 1..=rounds {
        let (sha_secs, bytes) = plain_sha256(&files);
        bundle_bytes = bytes;
        let (fsck_secs, report) = run_fsck(dir, &vkey);
        assert_eq!(report["size"].as_u64(), Some(entries));
        let sha_rate = bytes as f64 / sha_secs / 1e6;
        let fsck_rate = bytes as f64 / fsck_secs / 1e6;
        println!(
            "round {round}: sha256 {sha_rate:8.1} MB/s ({sha_secs:.2} s)   fsck {fsck_rate:8.1} MB/s ({fsck_secs:.2} s, {:.0} entries/s)   ratio {:.2}",
            entries as f64 / fsck_secs,
            fsck_rate / sha_rate
        );
        sha_rates.push(sha_rate);
        fsck_rates.push(fsck_rate);
        ratios.push(fsck_rate / sha_rate);
        std::thread::sleep(Duration::from_millis(200));
    }
    let (sha, fsck, ratio) = (median(sha_rates), median(fsck_rates), median(ratios));
    println!(
        "median over {rounds} rounds: plain SHA-256 {sha:.1} MB/s, islet fsck {fsck:.1} MB/s ({:.0} entries/s), fsck/SHA-256 = {ratio:.2} (target >= 1.5)",
        fsck * 1e6 / (bundle_bytes as f64 / entries as f64)
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "fsck_throughput",
            "entries": entries,
            "entry_bytes": ENTRY_BYTES,
            "bundle_bytes": bundle_bytes,
            "rounds": rounds,
            "sha256_mb_per_s_median": sha,
            "fsck_mb_per_s_median": fsck,
            "ratio_median": ratio,
        })
    );
}
