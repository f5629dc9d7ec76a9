//! One log grown to tens of millions of entries: what `islet serve` costs
//! at 1M, 10M and 50M.
//!
//! ```text
//! cargo bench --profile bench-server --bench scale
//! ISLET_SCALE_STAGES=1000000,2000000 cargo bench --profile bench-server --bench scale
//! ISLET_BENCH_DIR=/var/tmp/scale cargo bench --profile bench-server --bench scale   # keep the log
//! ```
//!
//! The log is the data directory's own log, grown through the store's bulk
//! path (an `islet_store::extend::Extension`: tiles and bundles staged and
//! ingested as SST files, then one commit per 262,144 entries carrying the
//! dedup and search rows the sequencer would have written and the signed
//! head), with Rekor-like hashedrekord entries of about 480 bytes, then
//! waits for RocksDB's background compactions of what it grew
//! (`Store::settle`). At each stage it measures, with `islet serve` running
//! on the data directory:
//!
//! - start-up: from spawning `islet serve` to `/healthz` answering 200
//!   (median of `ISLET_BENCH_ROUNDS` starts, default 3);
//! - resident memory after start-up and after the load below (VmRSS, and
//!   the peak, VmHWM);
//! - writes through HTTP: `hammer` (64 connections, `ISLET_SCALE_WRITES`
//!   entries, default 20,000) `ISLET_BENCH_ROUNDS` times: entries/s and
//!   server CPU per entry in single-core ECDSA P-256 verifications, each
//!   measured by hammer in the same run (medians);
//! - tile GET latency: 2,000 GETs, over one keep-alive connection, of full
//!   hash tiles and bundles at random places in the whole log (so mostly
//!   not cached), p50 and p99;
//! - inclusion proof latency: 2,000 GETs of
//!   `/api/v2/islet/proof/inclusion?index=R` for random R, p50 and p99;
//! - disk bytes per entry: the data directory's bytes over the tree size.
//!
//! It prints a table, each figure's ratio to the first stage's, and a JSON
//! line per stage.

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_store::datadir::DataDir;
use islet_store::extend::Extension;
use islet_store::{CommitBatch, OWN_LOG, SearchKind, Store};
use islet_tlog::merkle::leaf_hash;
use sha2::{Digest, Sha256};

mod support;
use support::fixture::{ORIGIN, commit_signed, entry, key_spkis, noise, run_islet};
use support::{env_u64, median};

/// Entries per commit of the bulk path.
const COMMIT_ENTRIES: u64 = 1 << 18;
/// GETs per latency figure.
const LATENCY_SAMPLES: usize = 2000;

/// The 64 signing keys of the fixture's entries, as the entries carry
/// them (base64 SPKI) and as the search index keys them (SHA-256 of it).
struct Keys {
    encoded: Vec<String>,
    fingerprints: Vec<[u8; 32]>,
}

fn keys() -> Keys {
    let raw = key_spkis();
    Keys {
        encoded: raw.iter().map(|k| STANDARD.encode(k)).collect(),
        fingerprints: raw.iter().map(|k| Sha256::digest(k).into()).collect(),
    }
}

/// Grows the own log of `data` to `target` entries through the bulk path.
fn grow(data: &Path, target: u64, keys: &Keys) {
    let dir = DataDir::new(data);
    let config = dir.load_config().unwrap().validate().unwrap();
    let signer = dir.load_signer(config.own.as_ref().unwrap()).unwrap();
    let store = Store::open(&dir.db_path(), true).unwrap();
    let started = Instant::now();
    let stored_size = || store.tree_head(OWN_LOG).unwrap().map_or(0, |h| h.size);
    let from = stored_size();
    loop {
        let head = store.tree_head(OWN_LOG).unwrap();
        let size = head.as_ref().map_or(0, |h| h.size);
        if size >= target {
            break;
        }
        let end = target.min(size + COMMIT_ENTRIES);
        let mut rows = CommitBatch::default();
        let ext = Extension::start(&store, OWN_LOG, head.as_ref(), size).unwrap();
        let (size, root) = ext
            .with_stage_writer(|ext| -> Result<_, islet_store::Error> {
                for i in size..end {
                    let e = entry(i, &keys.encoded);
                    ext.push(&e)?;
                    let mut digest = [0u8; 32];
                    noise(2 * i, &mut digest);
                    rows.dedup.push((leaf_hash(&e), i));
                    rows.search
                        .push((SearchKind::ArtifactDigest, digest.to_vec(), i));
                    rows.search.push((
                        SearchKind::KeyFingerprint,
                        keys.fingerprints[(i % 64) as usize].to_vec(),
                        i,
                    ));
                }
                let (size, root) = (ext.size(), ext.root());
                ext.finish(size, root)?;
                Ok((size, root))
            })
            .unwrap();
        commit_signed(&store, signer.as_ref(), &dir, &rows, size, root);
        if size % (1 << 22) == 0 || size == target {
            eprintln!(
                "  grown to {size} entries ({:.0} entries/s)",
                (size - from) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    // A log that grew over months has long compacted what the bulk path
    // leaves behind; the measurement should not pay for it.
    let settling = Instant::now();
    store.settle().unwrap();
    eprintln!(
        "  settled (background compactions done) in {:.1} s",
        settling.elapsed().as_secs_f64()
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 GET on a keep-alive connection: the status and the body.
fn get(conn: &mut BufReader<TcpStream>, path: &str) -> (u16, Vec<u8>) {
    write!(
        conn.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).unwrap();
    (status, body)
}

fn connect(port: u16) -> BufReader<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_nodelay(true).unwrap();
    BufReader::new(s)
}

/// `islet serve` on `data`, up; the seconds it took to answer /healthz.
/// The caller waits for the child ([`stop`]).
#[allow(clippy::zombie_processes)]
fn start(data: &Path, port: u16) -> (Child, f64) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_islet"))
        .args(["serve", "--data", data.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = started + Duration::from_secs(600);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            let mut conn = BufReader::new(s);
            if get(&mut conn, "/healthz").0 == 200 {
                return (child, started.elapsed().as_secs_f64());
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("islet serve did not come up");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
}

/// VmRSS and VmHWM of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap()
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn dir_bytes(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// A deterministic stream of random numbers below `n`.
struct Picks(u64);

impl Picks {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn percentile(mut v: Vec<f64>, per_mille: usize) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * per_mille / 1000).min(v.len() - 1)]
}

/// p50 and p99 in milliseconds of GETs of the paths `path(i)` makes.
fn latency(port: u16, mut path: impl FnMut() -> String) -> (f64, f64) {
    let mut conn = connect(port);
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let p = path();
        let t = Instant::now();
        let (status, _) = get(&mut conn, &p);
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, 200, "{p}");
    }
    (percentile(samples.clone(), 500), percentile(samples, 990))
}

fn tile_path(kind: &str, index: u64) -> String {
    let mut groups = vec![format!("{:03}", index % 1000)];
    let mut rest = index / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    format!("/api/v2/tile/{kind}/{}", groups.join("/"))
}

#[derive(serde::Serialize)]
struct Stage {
    entries: u64,
    start_s: f64,
    rss_after_start_mib: f64,
    rss_after_load_mib: f64,
    peak_rss_mib: f64,
    write_entries_per_s: f64,
    write_cpu_us_per_entry: f64,
    write_cpu_in_verifications: f64,
    verification_us: f64,
    tile_get_ms: (f64, f64),
    proof_ms: (f64, f64),
    disk_bytes_per_entry: f64,
}

fn hammer(port: u16, pid: u32, entries: u64) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_hammer"))
        .args([
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--entries",
            &entries.to_string(),
            "--server-pid",
            &pid.to_string(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn measure(data: &Path, port: u16, rounds: usize, writes: u64) -> Stage {
    let mut starts = Vec::new();
    for _ in 0..rounds.saturating_sub(1) {
        let (child, secs) = start(data, port);
        starts.push(secs);
        stop(child);
    }
    let (child, secs) = start(data, port);
    starts.push(secs);
    let pid = child.id();
    let (rss_after_start, _) = memory(pid);
    let size = {
        let mut conn = connect(port);
        let (_, body) = get(&mut conn, "/api/v2/checkpoint");
        String::from_utf8(body)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let mut picks = Picks(0x9E37_79B9_7F4A_7C15 ^ size);
    let full_tiles = size / 256;
    let tiles = latency(port, || {
        let i = picks.below(full_tiles);
        if picks.below(2) == 0 {
            tile_path("0", i)
        } else {
            tile_path("entries", i)
        }
    });
    let proofs = latency(port, || {
        format!("/api/v2/islet/proof/inclusion?index={}", picks.below(size))
    });
    let runs: Vec<serde_json::Value> = (0..rounds).map(|_| hammer(port, pid, writes)).collect();
    let pick = |k: &str| median(runs.iter().map(|r| r[k].as_f64().unwrap()).collect());
    let (rss_after_load, peak) = memory(pid);
    stop(child);
    Stage {
        entries: size,
        start_s: median(starts),
        rss_after_start_mib: rss_after_start,
        rss_after_load_mib: rss_after_load,
        peak_rss_mib: peak,
        write_entries_per_s: pick("entries_per_s"),
        write_cpu_us_per_entry: pick("server_cpu_s_per_entry") * 1e6,
        write_cpu_in_verifications: pick("server_cpu_per_entry_in_verifications"),
        verification_us: pick("ecdsa_p256_verify_s") * 1e6,
        tile_get_ms: tiles,
        proof_ms: proofs,
        disk_bytes_per_entry: dir_bytes(data) as f64 / size as f64,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let stages: Vec<u64> = std::env::var("ISLET_SCALE_STAGES")
        .unwrap_or_else(|_| "1000000,10000000,50000000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let rounds = usize::try_from(env_u64("ISLET_BENCH_ROUNDS", 3)).unwrap();
    let writes = env_u64("ISLET_SCALE_WRITES", 20_000);
    let temp = tempfile::tempdir_in(std::env::var("ISLET_BENCH_DIR").unwrap_or("/var/tmp".into()))
        .unwrap();
    let base =
        std::env::var("ISLET_BENCH_DIR").map_or_else(|_| temp.path().to_path_buf(), PathBuf::from);
    let data = base.join("scale-log");
    let port = free_port();
    if !data.join("islet.toml").exists() {
        run_islet(&[
            "init",
            "--data",
            data.to_str().unwrap(),
            "--origin",
            ORIGIN,
            "--public-url",
            &format!("http://127.0.0.1:{port}"),
            "--no-tsa",
        ]);
    }
    // The port may differ from the one the log was made with.
    let config = data.join("islet.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("listen") {
                format!("listen = \"127.0.0.1:{port}\"")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, text + "\n").unwrap();
    let keys = keys();
    let mut table: Vec<Stage> = Vec::new();
    for target in stages {
        eprintln!("growing the log to {target} entries");
        grow(&data, target, &keys);
        eprintln!("measuring at {target} entries");
        let stage = measure(&data, port, rounds, writes);
        println!("{}", serde_json::to_string(&stage).unwrap());
        table.push(stage);
    }
    let first = &table[0];
    println!(
        "\n| entries | start-up s | RSS after start / load / peak MiB | write entries/s | CPU per entry (verifications) | tile GET p50 / p99 ms | proof p50 / p99 ms | disk bytes per entry |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for s in &table {
        println!(
            "| {} | {:.3} | {:.0} / {:.0} / {:.0} | {:.0} | {:.0} µs ({:.2}) | {:.2} / {:.2} | {:.2} / {:.2} | {:.0} |",
            s.entries,
            s.start_s,
            s.rss_after_start_mib,
            s.rss_after_load_mib,
            s.peak_rss_mib,
            s.write_entries_per_s,
            s.write_cpu_us_per_entry,
            s.write_cpu_in_verifications,
            s.tile_get_ms.0,
            s.tile_get_ms.1,
            s.proof_ms.0,
            s.proof_ms.1,
            s.disk_bytes_per_entry
        );
    }
    println!("\nratios to the first stage:");
    for s in &table[1..] {
        println!(
            "{} entries: peak RSS {:.2}, CPU per entry {:.2}, tile GET p50 {:.2}, proof p50 {:.2}, start-up {:.2}",
            s.entries,
            s.peak_rss_mib / first.peak_rss_mib,
            s.write_cpu_in_verifications / first.write_cpu_in_verifications,
            s.tile_get_ms.0 / first.tile_get_ms.0,
            s.proof_ms.0 / first.proof_ms.0,
            s.start_s / first.start_s
        );
    }
}
