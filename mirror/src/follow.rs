//! Continuous mode: `islet serve` follows the upstreams of `islet.toml`
//! (`[[mirror.upstream]]`), each on a thread of its own, syncing every
//! `interval_secs`.
//!
//! A failed sync is reported and retried at the next interval (a fetch
//! that failed resumes from what it staged). A fork stops the follower:
//! the evidence is kept once, and an operator has to look.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use islet_store::Store;
use islet_store::config::Config;
use islet_store::datadir::DataDir;
use islet_tlog::note::NoteVerifier;

use crate::error::{Error, Result};
use crate::sync::{DEFAULT_CONCURRENCY, Outcome, SyncRequest, Upstream, sync};

/// An upstream ready to follow.
#[derive(Debug, Clone)]
pub struct Followed {
    /// Where from.
    pub upstream: Upstream,
    /// The log's key.
    pub key: NoteVerifier,
    /// The log's origin.
    pub origin: String,
    /// Time between syncs.
    pub interval: std::time::Duration,
}

/// The upstreams of a configuration, with their keys loaded (a `log_key`
/// path is relative to the data directory).
///
/// # Errors
/// [`Error::Usage`] for a key that does not load or an upstream that is
/// neither a URL nor a directory.
pub fn followed(data: &DataDir, cfg: &Config) -> Result<Vec<Followed>> {
    let mut out = Vec::new();
    for u in &cfg.upstreams {
        let key = match (&u.vkey, &u.log_key) {
            (Some(vkey), _) => NoteVerifier::from_vkey(vkey)?,
            (None, Some(path)) => {
                let path = data.root().join(path);
                let pem = std::fs::read(&path).map_err(|e| Error::Usage {
                    reason: format!("mirror.upstream {}: {}: {e}", u.url, path.display()),
                })?;
                NoteVerifier::from_public_key(&u.origin, &pem)?
            }
            (None, None) => {
                return Err(Error::Usage {
                    reason: format!("mirror.upstream {}: no key", u.url),
                });
            }
        };
        let token = u
            .token_file
            .as_ref()
            .map(|p| islet_store::tokens::read_token_file(&data.root().join(p)))
            .transpose()?;
        let upstream =
            Upstream::from_args_with_token(std::slice::from_ref(&u.url), token.as_deref())?;
        if matches!(upstream, Upstream::Snapshots(_)) {
            return Err(Error::Usage {
                reason: format!(
                    "mirror.upstream {}: follow a URL or a directory; import snapshot files with islet mirror sync",
                    u.url
                ),
            });
        }
        out.push(Followed {
            upstream,
            key,
            origin: u.origin.clone(),
            interval: u.interval,
        });
    }
    Ok(out)
}

/// What the followers did, per origin, for `/metrics`.
#[derive(Debug, Default)]
pub struct FollowMetrics {
    rows: Mutex<BTreeMap<String, FollowRow>>,
}

/// One followed log's figures.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FollowRow {
    /// The mirror's size after the last successful sync.
    pub size: u64,
    /// When the last sync succeeded (seconds since the epoch; 0: never).
    pub last_success: u64,
    /// Syncs that failed.
    pub failures: u64,
    /// The upstream forked and the follower stopped.
    pub forked: bool,
}

impl FollowMetrics {
    fn update(&self, origin: &str, f: impl FnOnce(&mut FollowRow)) {
        if let Ok(mut rows) = self.rows.lock() {
            f(rows.entry(origin.to_owned()).or_default());
        }
    }

    /// The figures of `origin`, if it is followed.
    pub fn row(&self, origin: &str) -> Option<FollowRow> {
        self.rows.lock().ok()?.get(origin).copied()
    }

    /// The Prometheus text of the followers' figures.
    pub fn render(&self, out: &mut String) {
        let Ok(rows) = self.rows.lock() else { return };
        let families: [Family; 4] = [
            (
                "islet_mirror_size",
                "gauge",
                "Size of a followed mirror after its last successful sync.",
                |r| r.size,
            ),
            (
                "islet_mirror_last_success_timestamp_seconds",
                "gauge",
                "When a followed mirror last synced successfully (0: never).",
                |r| r.last_success,
            ),
            (
                "islet_mirror_sync_failures_total",
                "counter",
                "Syncs of a followed mirror that failed.",
                |r| r.failures,
            ),
            (
                "islet_mirror_forked",
                "gauge",
                "1 when a followed upstream forked and its follower stopped.",
                |r| u64::from(r.forked),
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (origin, row) in rows.iter() {
                let origin = origin.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(out, "{name}{{origin=\"{origin}\"}} {}", value(row));
            }
        }
    }
}

/// A metric family: name, type, help, and how a row gives its value.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&FollowRow) -> u64,
);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Starts one thread per upstream. Fetches run on `runtime`. The returned
/// figures are kept current by the threads.
///
/// # Errors
/// [`Error::Thread`] naming the upstream whose thread cannot start.
pub fn spawn(
    store: Arc<Store>,
    own_origin: Option<String>,
    followed: Vec<Followed>,
    runtime: tokio::runtime::Handle,
) -> Result<Arc<FollowMetrics>> {
    let metrics = Arc::new(FollowMetrics::default());
    for f in followed {
        metrics.update(&f.origin, |_| {});
        let (store, own, rt) = (Arc::clone(&store), own_origin.clone(), runtime.clone());
        let m = Arc::clone(&metrics);
        let name = format!("islet-follow-{}", f.origin);
        let origin = f.origin.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || follow(&store, own, &f, &rt, &m))
            .map_err(|source| Error::Thread {
                thread: format!("the thread following {origin}"),
                source,
            })?;
    }
    Ok(metrics)
}

fn follow(
    store: &Store,
    own_origin: Option<String>,
    f: &Followed,
    runtime: &tokio::runtime::Handle,
    metrics: &FollowMetrics,
) {
    let req = SyncRequest {
        store,
        key: Some(f.key.clone()),
        origin: f.origin.clone(),
        own_origin,
        concurrency: DEFAULT_CONCURRENCY,
        progress: false,
    };
    let from = f.upstream.describe();
    loop {
        let result = sync(&req, &f.upstream, runtime);
        match &result {
            Ok(r) => metrics.update(&f.origin, |row| {
                row.size = r.size;
                row.last_success = unix_now();
            }),
            Err(e) => metrics.update(&f.origin, |row| {
                row.failures += 1;
                row.forked = matches!(e, Error::Fork { .. });
            }),
        }
        match result {
            Ok(r) if r.outcome == Outcome::Applied => eprintln!(
                "islet: mirror {}: {} -> {} from {from} in {:.2} s",
                r.origin,
                r.previous_size,
                r.size,
                r.elapsed.as_secs_f64()
            ),
            Ok(_) => {}
            Err(e @ Error::Fork { .. }) => {
                eprintln!("islet: mirror {}: {e}; stopped following {from}", f.origin);
                return;
            }
            Err(e) => eprintln!("islet: mirror {}: sync from {from} failed: {e}", f.origin),
        }
        std::thread::sleep(f.interval);
    }
}
