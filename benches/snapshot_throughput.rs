//! Snapshot export and import throughput against zstd and SHA-256 alone
//! over the same bytes, measured in the same run.
//!
//! ```text
//! cargo bench --bench snapshot_throughput                  # 1,000,000 entries
//! ISLET_BENCH_ENTRIES=200000 cargo bench --bench snapshot_throughput
//! ISLET_BENCH_DIR=/tmp/bench-snap cargo bench --bench snapshot_throughput   # keep the log
//! ```
//!
//! It initialises a data directory with the real `islet init`, fills its
//! own log with Rekor-like hashedrekord entries (JSON with base64 digests,
//! signatures and keys, about 480 bytes each) straight into the store,
//! then alternates `ISLET_BENCH_ROUNDS` times (default 5):
//! - `islet snapshot export` of the whole log, against zstd (level 3, one
//!   thread, as the `zstd` tool; export compresses its frames on two)
//!   compressing the same tar bytes;
//! - `islet snapshot import` of that file into an empty data directory,
//!   against zstd decompressing the file and SHA-256 hashing the tar
//!   bytes, each alone.
//!
//! It prints each round, the medians, entries/s and the ratios (targets:
//! export at least half of compression alone; import at least 0.8 of the
//! slower of decompression and SHA-256 alone), and a JSON line.

#![allow(missing_docs, clippy::unwrap_used)]

use sha2::{Digest, Sha256};

mod support;
use support::fixture::{bench_log, islet};
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
    let file = scratch.path().join("snapshot.tar.zst");
    let (mut export_s, mut compress_s, mut import_s, mut decompress_s, mut sha_s) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut tar_bytes = 0u64;
    let mut file_bytes = 0u64;
    for round in 0..rounds {
        let (t_export, exported) = timed(|| {
            islet(&[
                "snapshot",
                "export",
                "--data",
                data.to_str().unwrap(),
                "-o",
                file.to_str().unwrap(),
                "--json",
            ])
        });
        let compressed = std::fs::read(&file).unwrap();
        file_bytes = compressed.len() as u64;
        let (t_decompress, tar) = timed(|| zstd::decode_all(compressed.as_slice()).unwrap());
        tar_bytes = tar.len() as u64;
        let (t_compress, again) = timed(|| zstd::encode_all(tar.as_slice(), 3).unwrap());
        std::hint::black_box(again.len());
        let (t_sha, digest) = timed(|| Sha256::digest(&tar));
        std::hint::black_box(digest);
        drop(tar);
        let target = scratch.path().join(format!("import-{round}"));
        let (t_import, report) = timed(|| {
            islet(&[
                "snapshot",
                "import",
                "--data",
                target.to_str().unwrap(),
                "--vkey",
                &vkey,
                file.to_str().unwrap(),
                "--json",
            ])
        });
        assert_eq!(report["to_size"].as_u64(), Some(n));
        std::fs::remove_dir_all(&target).unwrap();
        println!(
            "round {round}: export {t_export:.2} s (zstd -3 alone {t_compress:.2} s); import {t_import:.2} s (unzstd alone {t_decompress:.2} s, SHA-256 alone {t_sha:.2} s); peak RSS export {} MiB, import {} MiB",
            exported["peak_rss_bytes"].as_u64().unwrap_or(0) >> 20,
            report["peak_rss_bytes"].as_u64().unwrap_or(0) >> 20
        );
        export_s.push(t_export);
        compress_s.push(t_compress);
        import_s.push(t_import);
        decompress_s.push(t_decompress);
        sha_s.push(t_sha);
    }
    let (e, c, i, d, s) = (
        median(export_s),
        median(compress_s),
        median(import_s),
        median(decompress_s),
        median(sha_s),
    );
    let slower = d.max(s);
    println!(
        "medians over {rounds} rounds, {n} entries, {:.0} MB of tar, {:.0} MB compressed:",
        tar_bytes as f64 / 1e6,
        file_bytes as f64 / 1e6
    );
    println!(
        "  export {:.0} entries/s; zstd -3 alone {:.0} entries/s; ratio {:.2} (target >= 0.50)",
        n as f64 / e,
        n as f64 / c,
        c / e
    );
    println!(
        "  import {:.0} entries/s; unzstd alone {:.0}, SHA-256 alone {:.0} entries/s; ratio to the slower {:.2} (target >= 0.8)",
        n as f64 / i,
        n as f64 / d,
        n as f64 / s,
        slower / i
    );
    println!(
        "{}",
        serde_json::json!({
            "entries": n, "rounds": rounds, "tar_bytes": tar_bytes, "file_bytes": file_bytes,
            "export_s": e, "zstd_compress_s": c, "export_ratio": c / e,
            "import_s": i, "zstd_decompress_s": d, "sha256_s": s, "import_ratio": slower / i,
        })
    );
}
