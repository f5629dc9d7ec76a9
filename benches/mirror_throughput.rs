//! `islet mirror sync` throughput over loopback HTTP against `islet fsck`
//! of the same upstream, measured in the same run.
//!
//! ```text
//! cargo bench --profile bench-server --bench mirror_throughput       # 1,000,000 entries
//! ISLET_BENCH_ENTRIES=200000 cargo bench --profile bench-server --bench mirror_throughput
//! ISLET_BENCH_DIR=/tmp/bench-snap cargo bench … --bench mirror_throughput   # keep the log
//! ```
//!
//! It writes (or reuses, with `ISLET_BENCH_DIR`; the same log as
//! `snapshot_throughput`) a data directory whose own log holds the entries,
//! serves it with the real `islet serve` on a loopback port, and then
//! alternates `ISLET_BENCH_ROUNDS` times (default 5): `islet fsck` of
//! `http://127.0.0.1:PORT/api/v2` (every bundle re-hashed, every tile
//! recomputed), and `islet mirror sync` of the same URL into an empty data
//! directory (every bundle fetched, re-hashed, staged and committed to
//! RocksDB). Both fetch with 8 requests in flight. It prints each round,
//! the medians, entries/s, the ratio sync / fsck (target at least 0.9) and
//! a JSON line.

#![allow(missing_docs, clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::fixture::{bench_log, islet, islet_bin};
use support::{env_u64, median, timed};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env_u64("ISLET_BENCH_ENTRIES", 1_000_000);
    let rounds = env_u64("ISLET_BENCH_ROUNDS", 5).max(1);
    let scratch = tempfile::tempdir().unwrap();
    let base = std::env::var("ISLET_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| scratch.path().to_owned());
    let (data, vkey) = bench_log(&base, n);

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(islet_bin())
        .args(["serve", "--data", data.to_str().unwrap(), "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--public-url", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "islet serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let upstream = format!("{url}/api/v2");

    let (mut fsck_s, mut sync_s, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut peak = 0;
    for round in 0..rounds {
        let (t_fsck, report) = timed(|| islet(&["fsck", &upstream, "--vkey", &vkey, "--json"]));
        assert_eq!(report["size"].as_u64(), Some(n));
        let mirror = scratch.path().join(format!("mirror-{round}"));
        let (t_sync, report) = timed(|| {
            islet(&[
                "mirror",
                "sync",
                "--data",
                mirror.to_str().unwrap(),
                "--upstream",
                &upstream,
                "--vkey",
                &vkey,
                "--json",
            ])
        });
        assert_eq!(report["size"].as_u64(), Some(n));
        peak = report["peak_rss_bytes"].as_u64().unwrap_or(0);
        std::fs::remove_dir_all(&mirror).unwrap();
        println!(
            "round {round}: fsck {t_fsck:.2} s ({:.0} entries/s); mirror sync {t_sync:.2} s ({:.0} entries/s, peak RSS {} MiB); ratio {:.2}",
            n as f64 / t_fsck,
            n as f64 / t_sync,
            peak >> 20,
            t_fsck / t_sync
        );
        fsck_s.push(t_fsck);
        sync_s.push(t_sync);
        ratios.push(t_fsck / t_sync);
    }
    let _ = server.kill();
    let _ = server.wait();
    let (f, s, r) = (median(fsck_s), median(sync_s), median(ratios));
    println!(
        "medians over {rounds} rounds, {n} entries over loopback HTTP: fsck {:.0} entries/s, mirror sync {:.0} entries/s, ratio {r:.2} (target >= 0.9)",
        n as f64 / f,
        n as f64 / s
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "mirror_throughput", "entries": n, "rounds": rounds,
            "fsck_s": f, "sync_s": s, "ratio_median": r, "sync_peak_rss_bytes": peak,
        })
    );
}
