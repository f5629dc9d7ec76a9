//! Continuous mode: `islet serve` follows the upstreams of `islet.toml`
//! (`[[mirror.upstream]]`), each on a thread of its own, syncing every
//! `interval_secs`.
//!
//! A failed sync is reported and retried at the next interval (a fetch
//! that failed resumes from what it staged). A fork stops the follower:
//! the evidence is kept once, and an operator has to look.

use std::sync::Arc;

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
        let upstream = Upstream::from_args(std::slice::from_ref(&u.url))?;
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

/// Starts one thread per upstream. Fetches run on `runtime`.
///
/// # Errors
/// [`Error::Thread`] naming the upstream whose thread cannot start.
pub fn spawn(
    store: Arc<Store>,
    own_origin: String,
    followed: Vec<Followed>,
    runtime: tokio::runtime::Handle,
) -> Result<()> {
    for f in followed {
        let (store, own, rt) = (Arc::clone(&store), own_origin.clone(), runtime.clone());
        let name = format!("islet-follow-{}", f.origin);
        let origin = f.origin.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || follow(&store, own, &f, &rt))
            .map_err(|source| Error::Thread {
                thread: format!("the thread following {origin}"),
                source,
            })?;
    }
    Ok(())
}

fn follow(store: &Store, own_origin: String, f: &Followed, runtime: &tokio::runtime::Handle) {
    let req = SyncRequest {
        store,
        key: Some(f.key.clone()),
        origin: f.origin.clone(),
        own_origin: Some(own_origin),
        concurrency: DEFAULT_CONCURRENCY,
        progress: false,
    };
    let from = f.upstream.describe();
    loop {
        match sync(&req, &f.upstream, runtime) {
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
