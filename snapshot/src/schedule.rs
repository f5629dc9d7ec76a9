//! Scheduled exports (`[[export]]` in `islet.toml`): `islet serve` writes a
//! snapshot of a log every interval, into a directory or an OCI
//! repository, so a relay host produces its daily carry without cron.
//!
//! Each export starts where the last one of the same job ended (or at 0
//! for a full one) and is skipped while the log has not grown. What the
//! last export reached is recorded in the data directory
//! (`exports/<job>.size`, written after the snapshot is in place), so a
//! restart neither repeats nor skips a range. A directory keeps its
//! `keep` newest snapshots of the log; older ones are removed after a new
//! one is in place.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use islet_store::config::{ExportJob, ExportMode, ExportTarget};
use islet_store::{LogStore, SharedLog, Store};
use sha2::{Digest, Sha256};

use crate::DEFAULT_ZSTD_LEVEL;
use crate::error::{Error, Result};
use crate::export::{ExportReport, ExportRequest, export, log_of};

/// Directory of the records of what each job last exported, in the data
/// directory.
pub const STATE_DIR: &str = "exports";
/// Wait after a failed export before the next try (the interval still
/// applies after a success).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// The name of a snapshot file of `origin` from `from` to `to`, as
/// `islet snapshot export` names it too.
pub fn snapshot_file_name(origin: &str, from: u64, to: u64) -> String {
    format!("{}-{from}-{to}.tar.zst", safe_name(origin))
}

/// An origin as a file-name part: every byte but ASCII letters, digits,
/// `.` and `-` becomes `_`.
pub fn safe_name(origin: &str) -> String {
    origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The sizes in a snapshot file name of `origin` made by
/// [`snapshot_file_name`], or `None` for any other name.
pub fn parse_snapshot_file_name(origin: &str, name: &str) -> Option<(u64, u64)> {
    let rest = name
        .strip_prefix(&safe_name(origin))?
        .strip_prefix('-')?
        .strip_suffix(".tar.zst")?;
    let (from, to) = rest.split_once('-')?;
    let canonical = |s: &str| s == "0" || (!s.is_empty() && !s.starts_with('0'));
    if !canonical(from) || !canonical(to) {
        return None;
    }
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// A metric family: name, type, help, and the value of a row.
type Family = (&'static str, &'static str, &'static str, fn(&Row) -> u64);

/// What one job did last, for `/metrics`.
#[derive(Debug, Clone, Default)]
struct Row {
    size: u64,
    last_success: u64,
    failures: u64,
    interval: u64,
}

/// The figures of the scheduled exports, kept current by their threads.
#[derive(Debug, Default)]
pub struct ExportMetrics {
    rows: Mutex<BTreeMap<(String, String), Row>>,
}

impl ExportMetrics {
    fn update(&self, job: &ExportJob, f: impl FnOnce(&mut Row)) {
        if let Ok(mut rows) = self.rows.lock() {
            f(rows
                .entry((job.origin.clone(), describe(&job.target)))
                .or_default());
        }
    }

    /// Appends the Prometheus text of every job to `out`.
    pub fn render(&self, out: &mut String) {
        let Ok(rows) = self.rows.lock() else {
            return;
        };
        let families: [Family; 4] = [
            (
                "islet_export_size",
                "gauge",
                "Size of the log the last scheduled export reached.",
                |r| r.size,
            ),
            (
                "islet_export_last_success_timestamp_seconds",
                "gauge",
                "Unix time of the last scheduled export that succeeded or found nothing new (0: none yet).",
                |r| r.last_success,
            ),
            (
                "islet_export_failures_total",
                "counter",
                "Scheduled exports that failed.",
                |r| r.failures,
            ),
            (
                "islet_export_interval_seconds",
                "gauge",
                "Seconds between scheduled exports, as configured.",
                |r| r.interval,
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((origin, target), row) in rows.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{origin=\"{}\",target=\"{}\"}} {}",
                    escape(origin),
                    escape(target),
                    value(row)
                );
            }
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A target for messages and metric labels.
pub fn describe(target: &ExportTarget) -> String {
    match target {
        ExportTarget::Directory { path, .. } => path.display().to_string(),
        ExportTarget::Oci { repository, .. } => format!("oci://{repository}"),
    }
}

/// What one run of a job did.
#[derive(Debug, Clone)]
pub enum RunOutcome {
    /// A snapshot was written (and published).
    Exported {
        /// The export's figures.
        report: ExportReport,
        /// Where it went: the file, or `repository:tag`.
        written: String,
        /// Older snapshot files removed by `keep`.
        removed: usize,
    },
    /// The log has not grown since the last export (or is empty).
    Unchanged {
        /// Its size.
        size: u64,
    },
}

/// One export job with what it needs.
#[derive(Debug, Clone)]
pub struct Exporter {
    job: ExportJob,
    data_root: PathBuf,
    own: Option<(String, Vec<String>)>,
}

impl Exporter {
    /// A job of the data directory at `data_root`; `own` is the own log's
    /// origin and verifier keys, when there is one.
    pub fn new(job: ExportJob, data_root: &Path, own: Option<(String, Vec<String>)>) -> Self {
        Self {
            job,
            data_root: data_root.to_owned(),
            own,
        }
    }

    /// The job.
    pub fn job(&self) -> &ExportJob {
        &self.job
    }

    /// The file recording the size this job last exported to.
    pub fn state_path(&self) -> PathBuf {
        let mut h = Sha256::new();
        h.update(self.job.origin.as_bytes());
        h.update([0]);
        h.update(describe(&self.job.target).as_bytes());
        let id = hex::encode(&h.finalize()[..8]);
        self.data_root
            .join(STATE_DIR)
            .join(format!("{}-{id}.size", safe_name(&self.job.origin)))
    }

    /// The size the last export of this job reached (0: none yet).
    ///
    /// # Errors
    /// I/O errors, and a record that is not a decimal size.
    pub fn last_size(&self) -> Result<u64> {
        let path = self.state_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map_err(|_| Error::Usage {
                reason: format!("{}: not a size; remove it to export from 0", path.display()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::io(&path)(e)),
        }
    }

    fn record_size(&self, size: u64) -> Result<()> {
        let path = self.state_path();
        let dir = self.data_root.join(STATE_DIR);
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(Error::io(&dir))?;
        tmp.write_all(format!("{size}\n").as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(Error::io(&path))?;
        tmp.persist(&path).map_err(|e| Error::io(&path)(e.error))?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(Error::io(&dir))
    }

    /// Exports once: from the last size (or 0 when full) to the current
    /// one, unless the log has not grown. Mirrors are read from `store`;
    /// the own log from `own_log`, the engine that keeps it (the data
    /// directory's RocksDB, or PostgreSQL).
    ///
    /// # Errors
    /// Store, export, registry and I/O errors; nothing is recorded then,
    /// so the next run covers the same range.
    pub fn run_once(&self, store: &Store, own_log: &SharedLog) -> Result<RunOutcome> {
        let own_origin = self.own.as_ref().map(|(o, _)| o.as_str());
        let (mut log, origin, mut log_keys) = log_of(store, own_origin, Some(&self.job.origin))?;
        let mut source: &dyn LogStore = store;
        if let Some((o, keys)) = &self.own
            && *o == origin
        {
            log_keys.clone_from(keys);
            source = own_log.store().as_ref();
            log = own_log.log();
        }
        let store = source;
        let size = store.tree_head(log)?.map_or(0, |h| h.size);
        let last = self.last_size()?;
        if size == 0 || size == last {
            return Ok(RunOutcome::Unchanged { size });
        }
        if size < last {
            return Err(Error::Usage {
                reason: format!(
                    "{origin} is at {size}, below the {last} its last export reached ({}); \
                     was the data directory restored from an older copy?",
                    self.state_path().display()
                ),
            });
        }
        let from = match self.job.mode {
            ExportMode::Incremental => last,
            ExportMode::Full => 0,
        };
        let req = ExportRequest {
            store,
            log,
            origin: origin.clone(),
            log_keys,
            from,
            to: Some(size),
            zstd_level: DEFAULT_ZSTD_LEVEL,
            progress: false,
        };
        let name = snapshot_file_name(&origin, from, size);
        let (report, written, removed) = match &self.job.target {
            ExportTarget::Directory { path, keep } => {
                let dir = self.data_root.join(path);
                std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
                let file = dir.join(&name);
                let report = export(&req, &file)?;
                let removed = prune(&dir, &origin, *keep)?;
                (report, file.display().to_string(), removed)
            }
            ExportTarget::Oci {
                repository,
                plain_http,
            } => {
                let staging = tempfile::tempdir().map_err(Error::io(Path::new("/tmp")))?;
                let file = staging.path().join(&name);
                let report = export(&req, &file)?;
                let reference = format!("{repository}:{from}-{size}");
                let opts = crate::registry::RegistryOptions {
                    plain_http: *plain_http,
                };
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Io {
                        path: "the export's runtime".into(),
                        source: e,
                    })?;
                let digest = runtime.block_on(crate::registry::push(&reference, &file, &opts))?;
                (report, format!("{reference} ({digest})"), 0)
            }
        };
        self.record_size(report.to_size)?;
        Ok(RunOutcome::Exported {
            report,
            written,
            removed,
        })
    }
}

/// Removes all but the `keep` snapshot files of `origin` in `dir` that
/// reach furthest, of two that reach as far the one that starts earlier
/// (it serves more sites); 0 keeps all. Returns how many were removed.
fn prune(dir: &Path, origin: &str, keep: usize) -> Result<usize> {
    if keep == 0 {
        return Ok(0);
    }
    let mut files: Vec<((u64, std::cmp::Reverse<u64>), PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let name = entry.file_name();
        if let Some(sizes) = name
            .to_str()
            .and_then(|n| parse_snapshot_file_name(origin, n))
        {
            files.push(((sizes.1, std::cmp::Reverse(sizes.0)), entry.path()));
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut removed = 0;
    for (_, path) in files.iter().skip(keep) {
        std::fs::remove_file(path).map_err(Error::io(path))?;
        removed += 1;
    }
    Ok(removed)
}

/// Starts one thread per job: the first export right away, then every
/// interval. Returns their figures.
///
/// # Errors
/// [`Error::Io`] when a thread cannot start.
pub fn spawn(
    store: Arc<Store>,
    own_log: SharedLog,
    exporters: Vec<Exporter>,
) -> Result<Arc<ExportMetrics>> {
    let metrics = Arc::new(ExportMetrics::default());
    for exporter in exporters {
        let (store, own_log, m) = (Arc::clone(&store), own_log.clone(), Arc::clone(&metrics));
        let name = format!("islet-export-{}", exporter.job.origin);
        let interval = exporter.job.interval.as_secs();
        m.update(&exporter.job, |row| row.interval = interval);
        std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || run_forever(&store, &own_log, &exporter, &m))
            .map_err(|e| Error::Io {
                path: name,
                source: e,
            })?;
    }
    Ok(metrics)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn run_forever(store: &Store, own_log: &SharedLog, exporter: &Exporter, metrics: &ExportMetrics) {
    let job = &exporter.job;
    let target = describe(&job.target);
    loop {
        let wait = match exporter.run_once(store, own_log) {
            Ok(outcome) => {
                let size = match &outcome {
                    RunOutcome::Exported {
                        report,
                        written,
                        removed,
                    } => {
                        eprintln!(
                            "islet: export {}: {} -> {} to {written} ({} bytes){}",
                            job.origin,
                            report.from_size,
                            report.to_size,
                            report.archive_bytes,
                            if *removed > 0 {
                                format!(", {removed} older snapshot(s) removed")
                            } else {
                                String::new()
                            }
                        );
                        report.to_size
                    }
                    RunOutcome::Unchanged { size } => *size,
                };
                metrics.update(job, |row| {
                    row.size = size;
                    row.last_success = unix_now();
                });
                job.interval
            }
            Err(e) => {
                eprintln!("islet: export {} to {target}: {e}", job.origin);
                metrics.update(job, |row| row.failures += 1);
                RETRY_AFTER_FAILURE.min(job.interval)
            }
        };
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_file_names_round_trip_and_nothing_else_parses() {
        let name = snapshot_file_name("log2025-1.rekor.sigstore.dev", 10, 200);
        assert_eq!(name, "log2025-1.rekor.sigstore.dev-10-200.tar.zst");
        assert_eq!(
            parse_snapshot_file_name("log2025-1.rekor.sigstore.dev", &name),
            Some((10, 200))
        );
        assert_eq!(snapshot_file_name("a/b c", 0, 1), "a_b_c-0-1.tar.zst");
        for other in [
            "log2025-1.rekor.sigstore.dev-010-200.tar.zst",
            "log2025-1.rekor.sigstore.dev-10-200.tar",
            "log2025-1.rekor.sigstore.dev-10.tar.zst",
            "log2025-1.rekor.sigstore.dev-10-x.tar.zst",
            "other.example-10-200.tar.zst",
        ] {
            assert_eq!(
                parse_snapshot_file_name("log2025-1.rekor.sigstore.dev", other),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn prune_keeps_the_snapshots_that_reach_furthest_and_leaves_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "o.example-0-10.tar.zst",
            "o.example-10-20.tar.zst",
            "o.example-0-20.tar.zst",
            "o.example-20-30.tar.zst",
            "other.example-0-99.tar.zst",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert_eq!(prune(dir.path(), "o.example", 2).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "o.example-0-20.tar.zst",
                "o.example-20-30.tar.zst",
                "other.example-0-99.tar.zst"
            ]
        );
        assert_eq!(prune(dir.path(), "o.example", 0).unwrap(), 0, "0 keeps all");
    }
}
