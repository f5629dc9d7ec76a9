//! `islet mirror sync`: brings the mirror of a log up to date from an
//! upstream, storing nothing before it is verified.
//!
//! From a tlog-tiles upstream (HTTP(S) or a directory, such as an rsync'd
//! publish directory):
//! 1. the checkpoint is fetched and verified with the pinned key (or the
//!    key given, on a first sync) and must name the origin;
//! 2. it is compared with the mirror's tree: an older tree is not applied
//!    (never rewind), a tree of the same or an older size with another root
//!    is a fork, kept as evidence; for a larger tree, the upstream's hash
//!    tiles, authenticated against the signed root, must give the mirror's
//!    root at the mirror's size (consistency), or it is a fork too;
//! 3. the entry bundles from the mirror's size to the checkpoint's are
//!    fetched, several at once, and re-hashed on top of the mirror's tree
//!    (so the new tree is consistent with the old one by construction);
//!    only the partial bundle the checkpoint implies is asked for, and the
//!    full bundle when that is gone (404);
//! 4. the rebuilt root must be the signed root; then one synced commit
//!    makes the staged tiles and bundles the mirror.
//!
//! Staging writes a progress marker every few megabytes
//! ([`islet_store::extend`]): a sync interrupted by a failed fetch, a kill or
//! a crash resumes from there, and the resumed tree is still checked
//! against the signed root. A refusal discards everything staged.
//!
//! From snapshot files, each is imported as `islet snapshot import` does,
//! in whatever order they apply.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use islet_reader::source::{LogSource, Resource, SourceTiles};
use islet_snapshot::import::{ImportRequest, Outcome as ImportOutcome, import};
use islet_store::extend::{Extension, MirrorTarget, Standing};
use islet_store::{Store, TreeHead};
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::tree_hash;
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{BundleId, TILE_WIDTH, TileHashReader, tile_width};

use crate::error::{Error, Result};

/// Bundle fetches in flight unless asked otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Most bundle fetches in flight. With at most this many fetched bundles
/// plus [`FETCHED_QUEUE`] waiting, the fetched bytes stay bounded by
/// `(MAX_CONCURRENCY + FETCHED_QUEUE) ×` the largest bundle (16 MiB), and
/// by far less for real entries; staged bytes waiting for the writer by
/// [`islet_store::extend::STAGED_IN_FLIGHT_BYTES`].
pub const MAX_CONCURRENCY: usize = 32;
/// Fetched bundles waiting to be hashed.
pub const FETCHED_QUEUE: usize = 2;

/// Where a mirror is fed from.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A tlog-tiles log over HTTP(S) or in a directory.
    Log(LogSource),
    /// Snapshot files.
    Snapshots(Vec<PathBuf>),
}

impl Upstream {
    /// The upstream the `--upstream` arguments name: one URL, one
    /// directory, or one or more snapshot files.
    ///
    /// # Errors
    /// [`Error::Usage`] for no argument, a mix, or a path that is neither a
    /// directory nor a file.
    pub fn from_args(args: &[String]) -> Result<Upstream> {
        Self::from_args_with_token(args, None)
    }

    /// As [`Upstream::from_args`], presenting `token` to an HTTP(S) log
    /// whose reads are closed.
    ///
    /// # Errors
    /// As [`Upstream::from_args`]; [`Error::Usage`] for a token with a
    /// directory or snapshot files.
    pub fn from_args_with_token(args: &[String], token: Option<&str>) -> Result<Upstream> {
        let usage = |reason: String| Error::Usage { reason };
        match args {
            [] => Err(usage("give --upstream URL, DIR or FILE…".into())),
            [one] if one.starts_with("http://") || one.starts_with("https://") => {
                Ok(Upstream::Log(LogSource::from_arg_with_token(one, token)?))
            }
            _ if token.is_some() => Err(usage(
                "a token is sent only to an http(s) upstream, not to a directory or files".into(),
            )),
            [one] if std::path::Path::new(one).is_dir() => {
                Ok(Upstream::Log(LogSource::Dir(PathBuf::from(one))))
            }
            many => {
                let mut files = Vec::new();
                for a in many {
                    let path = PathBuf::from(a);
                    if a.starts_with("http://") || a.starts_with("https://") || path.is_dir() {
                        return Err(usage(format!(
                            "{a}: one URL or one directory per sync, or snapshot files only"
                        )));
                    }
                    if !path.is_file() {
                        return Err(usage(format!("{a}: no such file or directory")));
                    }
                    files.push(path);
                }
                Ok(Upstream::Snapshots(files))
            }
        }
    }

    /// For messages and evidence.
    pub fn describe(&self) -> String {
        match self {
            Upstream::Log(LogSource::Http { base, .. }) => base.clone(),
            Upstream::Log(LogSource::Dir(d)) => d.display().to_string(),
            Upstream::Snapshots(files) => files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// What to sync into.
#[derive(Debug)]
pub struct SyncRequest<'a> {
    /// The store of the data directory.
    pub store: &'a Store,
    /// The key given (`None`: the pinned key of the existing mirror).
    pub key: Option<NoteVerifier>,
    /// The origin of the mirrored log.
    pub origin: String,
    /// The data directory's own origin, which cannot be mirrored into it.
    pub own_origin: Option<String>,
    /// Bundle fetches in flight (1 to [`MAX_CONCURRENCY`]).
    pub concurrency: usize,
    /// Draw a progress bar on a terminal.
    pub progress: bool,
}

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The mirror grew.
    Applied,
    /// The mirror already held the upstream's tree.
    UpToDate,
}

/// The result of a sync.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    /// What happened.
    pub outcome: Outcome,
    /// The mirrored log.
    pub origin: String,
    /// Where from.
    pub upstream: String,
    /// The mirror's size before.
    pub previous_size: u64,
    /// The mirror's size now.
    pub size: u64,
    /// Entries added.
    pub entries_added: u64,
    /// When an interrupted sync was resumed: the size its staging had
    /// reached.
    pub resumed_from: Option<u64>,
    /// Entry-bundle bytes fetched.
    pub fetched_bytes: u64,
    /// Snapshot files skipped because the mirror already holds more.
    pub snapshots_skipped: usize,
    /// Wall-clock time.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Brings the mirror up to date from `upstream`. Fetches run on `runtime`;
/// hashing and storing on the calling thread, which must not be a thread
/// of that runtime.
///
/// # Errors
/// [`Error::is_refusal`] errors when the upstream is forged, damaged,
/// forked or behind; others when it cannot be read. The mirror is unchanged
/// after any error (evidence of a fork is kept; after a failed fetch what
/// was staged stays, for the next sync to resume).
pub fn sync(
    req: &SyncRequest<'_>,
    upstream: &Upstream,
    runtime: &tokio::runtime::Handle,
) -> Result<SyncReport> {
    if !(1..=MAX_CONCURRENCY).contains(&req.concurrency) {
        return Err(Error::Usage {
            reason: format!(
                "concurrency {} is out of range: 1 to {MAX_CONCURRENCY}",
                req.concurrency
            ),
        });
    }
    match upstream {
        Upstream::Log(source) => sync_log(req, source, runtime),
        Upstream::Snapshots(files) => sync_snapshots(req, files),
    }
}

fn find_target(req: &SyncRequest<'_>) -> Result<MirrorTarget> {
    MirrorTarget::find(
        req.store,
        &req.origin,
        req.key.as_ref(),
        req.own_origin.as_deref(),
    )
    .map_err(|e| match e {
        islet_store::Error::Usage { reason } => Error::Usage { reason },
        islet_store::Error::KeyNotPinned { reason } => Error::Checkpoint { reason },
        other => Error::Store(other),
    })
}

fn sync_log(
    req: &SyncRequest<'_>,
    source: &LogSource,
    runtime: &tokio::runtime::Handle,
) -> Result<SyncReport> {
    let started = Instant::now();
    let target = find_target(req)?;
    let described = Upstream::Log(source.clone()).describe();
    let cp_bytes = runtime.block_on(source.fetch_required(Resource::Checkpoint))?;
    let signed =
        SignedCheckpoint::open(&cp_bytes, &target.key, &[], Some(&req.origin)).map_err(|e| {
            Error::Checkpoint {
                reason: format!("{}: {e}", source.locate(Resource::Checkpoint)),
            }
        })?;
    let (to, root) = (signed.checkpoint.size, signed.checkpoint.root);
    let local_size = target.size();
    let report = |outcome, size, resumed_from, fetched_bytes| SyncReport {
        outcome,
        origin: req.origin.clone(),
        upstream: described.clone(),
        previous_size: local_size,
        size,
        entries_added: size - local_size,
        resumed_from,
        fetched_bytes,
        snapshots_skipped: 0,
        elapsed: started.elapsed(),
    };
    match target.standing(req.store, to, root)? {
        Standing::Fork(reason) => {
            let reason = target.keep_evidence(req.store, &cp_bytes, &described, reason);
            return Err(Error::Fork { reason });
        }
        Standing::Behind => {
            return Err(Error::Behind {
                reason: format!(
                    "the upstream's checkpoint is of size {to}, older than the mirror at {local_size}: not applied (a mirror never rewinds)"
                ),
            });
        }
        Standing::Same => return Ok(report(Outcome::UpToDate, to, None, 0)),
        Standing::Ahead => {}
    }
    // Consistency with the mirror's checkpoint, before any entry is
    // fetched: the upstream's tree at the mirror's size, read from its
    // tiles authenticated against the signed root, must be the mirror's.
    if let Some(head) = &target.head {
        let fetcher = SourceTiles { source, runtime };
        let reader = TileHashReader::new(to, root, &fetcher);
        let theirs =
            tree_hash(head.size, &reader).map_err(|e| match islet_reader::Error::from(e) {
                e if e.is_transient() => Error::Reader(e),
                other => Error::TreeMismatch {
                    reason: format!(
                        "its tiles do not prove its tree at the mirror's size: {other}"
                    ),
                },
            })?;
        if theirs != head.root {
            let reason = format!(
                "the upstream's checkpoint of size {to} implies root {} at size {}, the mirror has {}",
                hex::encode(theirs),
                head.size,
                hex::encode(head.root)
            );
            let reason = target.keep_evidence(req.store, &cp_bytes, &described, reason);
            return Err(Error::Fork { reason });
        }
    }

    // Resume what an interrupted sync staged, when it is on this tree.
    let (log, head) = (target.log, target.head.as_ref());
    let mut resumed_from = None;
    let mut extension = None;
    if let Some(progress) = req.store.staged_progress(log)?
        && progress.size <= to
        && let Some(ext) = Extension::resume_staged(req.store, log, head, &progress)?
    {
        resumed_from = Some(progress.size);
        extension = Some(ext.resumable(cp_bytes.clone()));
    }
    let extension = match extension {
        Some(e) => e,
        None => {
            req.store.discard_staged(log, local_size)?;
            Extension::start(req.store, log, head, local_size)?.resumable(cp_bytes.clone())
        }
    };

    // Stages are written by a thread of their own while this one hashes.
    let outcome = extension.with_stage_writer(|extension| {
        let bytes = fetch_and_extend(req, source, runtime, extension, to)?;
        extension.finish(to, root).map_err(tree_error)?;
        Ok(bytes)
    });
    let fetched_bytes = match outcome {
        Ok(n) => n,
        Err(e) => return Err(abandon(req.store, &target, e)),
    };
    let new_head = TreeHead {
        size: to,
        root,
        checkpoint: cp_bytes,
    };
    req.store
        .commit(log, &target.commit_batch(&req.origin), &new_head)?;
    Ok(report(Outcome::Applied, to, resumed_from, fetched_bytes))
}

/// After a failed sync: a failed fetch keeps what was staged (the next
/// sync resumes it); any refusal discards it.
fn abandon(store: &Store, target: &MirrorTarget, e: Error) -> Error {
    if !e.is_transient() {
        // Should this fail too, the refusal still stands, and what is left
        // is invisible: the next sync discards it, or resumes it and checks
        // it against the signed root again.
        let _ = store.discard_staged(target.log, target.size());
    }
    e
}

fn tree_error(e: islet_store::Error) -> Error {
    match e {
        islet_store::Error::SizeMismatch { found, expected } => Error::TreeMismatch {
            reason: format!("the bundles hold {found} entries, the checkpoint says {expected}"),
        },
        islet_store::Error::RootMismatch {
            computed, signed, ..
        } => Error::TreeMismatch {
            reason: format!("the entries hash to root {computed}, the checkpoint signs {signed}"),
        },
        // The tree at the mirror's size was proven before any entry was
        // fetched: entries that differ from the mirror's are damaged.
        islet_store::Error::Diverges { reason } => Error::TreeMismatch { reason },
        other => Error::Store(other),
    }
}

/// Fetches the bundles from the extension's size to `to`, `concurrency` at
/// a time, in order, and feeds them to the extension. Returns the bytes
/// fetched.
fn fetch_and_extend(
    req: &SyncRequest<'_>,
    source: &LogSource,
    runtime: &tokio::runtime::Handle,
    extension: &mut Extension<'_>,
    to: u64,
) -> Result<u64> {
    let start = extension.size();
    if start >= to {
        return Ok(0);
    }
    let width = u64::from(TILE_WIDTH);
    let (first, last) = (start / width, (to - 1) / width);
    let ids = (first..=last).map(move |index| BundleId {
        index,
        width: tile_width(to, 0, index).unwrap_or(TILE_WIDTH),
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel(FETCHED_QUEUE);
    let (source, concurrency) = (source.clone(), req.concurrency);
    let fetcher = runtime.spawn(async move {
        let mut fetches = futures::stream::iter(ids)
            .map(|id| {
                let source = source.clone();
                async move { (id, source.fetch_bundle(id).await) }
            })
            .buffered(concurrency);
        while let Some(item) = fetches.next().await {
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    let _stop = AbortOnDrop(fetcher);
    let bar = islet_snapshot::progress_bar(req.progress, to - start, "sync");
    let mut bytes = 0u64;
    while let Some((id, data)) = rx.blocking_recv() {
        let data = data?;
        bytes += data.len() as u64;
        let before = extension.size();
        extension.push_bundle(id, data.into()).map_err(tree_error)?;
        bar.inc(extension.size() - before);
    }
    bar.finish_and_clear();
    Ok(bytes)
}

/// Stops the fetch task when the sync returns early.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn sync_snapshots(req: &SyncRequest<'_>, files: &[PathBuf]) -> Result<SyncReport> {
    let started = Instant::now();
    let before = find_target(req)?;
    let mut remaining: Vec<&PathBuf> = files.iter().collect();
    let mut skipped = 0;
    let mut applied = 0;
    // Files apply in whatever order they were given: each pass applies
    // those that start at or below the mirror's size.
    let mut gap = None;
    while !remaining.is_empty() {
        let mut progressed = false;
        let mut waiting = Vec::new();
        gap = None;
        for file in remaining {
            match import_one(req, file) {
                Ok(ImportOutcome::Applied) => {
                    applied += 1;
                    progressed = true;
                }
                Ok(ImportOutcome::AlreadyPresent) => {}
                Err(islet_snapshot::Error::DoesNotApply { older: true, .. }) => skipped += 1,
                Err(e @ islet_snapshot::Error::DoesNotApply { older: false, .. }) => {
                    gap.get_or_insert((file, e));
                    waiting.push(file);
                }
                Err(source) => {
                    return Err(Error::Snapshot {
                        file: file.display().to_string(),
                        source: Box::new(source),
                    });
                }
            }
        }
        remaining = waiting;
        if !progressed {
            break;
        }
    }
    if let Some((file, source)) = gap
        && !remaining.is_empty()
    {
        return Err(Error::Snapshot {
            file: file.display().to_string(),
            source: Box::new(source),
        });
    }
    let after = find_target(req)?;
    if applied == 0 && skipped == files.len() {
        return Err(Error::Behind {
            reason: format!(
                "every snapshot given is older than the mirror at {}: not applied (a mirror never rewinds)",
                after.size()
            ),
        });
    }
    Ok(SyncReport {
        outcome: if after.size() > before.size() {
            Outcome::Applied
        } else {
            Outcome::UpToDate
        },
        origin: req.origin.clone(),
        upstream: Upstream::Snapshots(files.to_vec()).describe(),
        previous_size: before.size(),
        size: after.size(),
        entries_added: after.size() - before.size(),
        resumed_from: None,
        fetched_bytes: 0,
        snapshots_skipped: skipped,
        elapsed: started.elapsed(),
    })
}

fn import_one(req: &SyncRequest<'_>, file: &PathBuf) -> islet_snapshot::Result<ImportOutcome> {
    let f = std::fs::File::open(file).map_err(|source| islet_snapshot::Error::Io {
        path: file.display().to_string(),
        source,
    })?;
    let request = ImportRequest {
        store: req.store,
        key: req.key.clone(),
        origin: req.origin.clone(),
        own_origin: req.own_origin.clone(),
        source: file.display().to_string(),
        progress: req.progress,
    };
    import(&request, std::io::BufReader::with_capacity(1 << 20, f)).map(|r| r.outcome)
}
