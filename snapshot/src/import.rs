//! Import: a snapshot into the mirror of its log, trusting nothing in the
//! file (`../shared/DESIGN.md` §6).
//!
//! In order, while the archive streams past:
//! 1. the first file is the checkpoint, and it verifies with the pinned key
//!    (or the key given, on a first import) and names the expected origin;
//! 2. the second is the manifest, which must describe exactly the files of
//!    a snapshot from its `from_size` to the checkpoint's size;
//! 3. the snapshot must apply: it starts at or below the local size and
//!    ends above it (an older or equal size is a no-op, a refusal or a
//!    fork, never a rewind);
//! 4. every further file has exactly the name, size and SHA-256 the
//!    manifest gives, in archive order;
//! 5. every entry is re-hashed from the bundles on top of the local tree
//!    at `from_size`, the tree at the local size must be the local tree,
//!    every hash tile the snapshot carries must be the one the entries
//!    produce, and the root must be the signed root.
//!
//! Tiles and bundles past the local size are staged in the store as they
//! are verified (readers never look past the committed size); one synced
//! commit of the new tree head then makes them the log. Any failure
//! discards what was staged, so the state changes atomically or not at
//! all.
//!
//! The archive is read entry by entry, never unpacked: only regular files
//! with the expected names, no links, devices, directories or extended
//! headers; the decompressed stream is capped by what the manifest
//! declares, and the zstd window by [`crate::ZSTD_WINDOW_LOG_MAX`].

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use islet_store::extend::{Extension, MirrorTarget, Standing};
use islet_store::{Store, TreeHead};
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{TileId, TilePath, parse_hash_tile};

use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::progress_bar;
use islet_snapshot_format::archive::{Counters, Item, Plan, archive, check_file, read_archive};

pub use islet_snapshot_format::archive::READ_AHEAD_FILES;
pub use islet_snapshot_format::{END_SLACK, PRE_MANIFEST_CAP};
pub use islet_store::extend::STAGE_BATCH_BYTES;

/// What to import into.
#[derive(Debug)]
pub struct ImportRequest<'a> {
    /// The store of the data directory.
    pub store: &'a Store,
    /// The key given on the command line (`None`: the pinned key of an
    /// existing mirror of `origin`).
    pub key: Option<NoteVerifier>,
    /// The origin the snapshot must be of.
    pub origin: String,
    /// The own log's origin, when the data directory has one: it cannot be
    /// imported into.
    pub own_origin: Option<String>,
    /// Where the snapshot came from (for evidence and messages).
    pub source: String,
    /// Draw a progress bar on a terminal.
    pub progress: bool,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The mirror grew to the snapshot's size.
    Applied,
    /// The mirror already holds exactly this checkpoint: nothing changed.
    AlreadyPresent,
}

/// The result of an import.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// What happened.
    pub outcome: Outcome,
    /// The log's origin.
    pub origin: String,
    /// The snapshot's sizes.
    pub from_size: u64,
    /// See `from_size`.
    pub to_size: u64,
    /// The mirror's size before.
    pub previous_size: u64,
    /// Entries added.
    pub entries_added: u64,
    /// Decompressed bytes read.
    pub unpacked_bytes: u64,
    /// Wall-clock time.
    #[serde(serialize_with = "crate::secs")]
    pub elapsed: Duration,
}

/// Imports the snapshot read from `reader`.
///
/// # Errors
/// [`Error::is_refusal`] errors for a snapshot that is damaged, forged or
/// does not apply; [`Error::Io`], [`Error::Usage`] otherwise. The store is
/// unchanged after any error (except for evidence of a fork, which is
/// kept).
pub fn import(req: &ImportRequest<'_>, reader: impl Read + Send) -> Result<ImportReport> {
    let started = Instant::now();
    let local = MirrorTarget::find(
        req.store,
        &req.origin,
        req.key.as_ref(),
        req.own_origin.as_deref(),
    )
    .map_err(target_error)?;
    let key = local.key.clone();
    // Whatever an interrupted import staged goes first.
    req.store.discard_staged(local.log, local.size())?;

    // The archive is read, and checked against its manifest, on a thread
    // of its own while this one rebuilds the tree.
    let counters = Counters::new(PRE_MANIFEST_CAP);
    let (item_tx, items) = std::sync::mpsc::sync_channel(READ_AHEAD_FILES);
    let (plan, plan_rx) = std::sync::mpsc::channel();
    let mut session = Session {
        req,
        key,
        local,
        counters: std::sync::Arc::clone(&counters),
        started,
    };
    let result = std::thread::scope(|scope| {
        let reading = std::sync::Arc::clone(&counters);
        scope.spawn(move || read_archive(reader, reading, &item_tx, &plan_rx));
        // The queue is hung up as soon as the session ends: a reader blocked
        // on a full queue after a refusal is released (and the scope can
        // end) instead of waiting forever for an importer that has left.
        let items = items;
        let result = session.run(&items, plan);
        drop(items);
        result
    });
    if result.is_err() {
        // Nothing staged survives a refusal.
        req.store
            .discard_staged(session.local.log, session.local.size())?;
    }
    result
}

struct Session<'a, 'r> {
    req: &'r ImportRequest<'a>,
    key: NoteVerifier,
    local: MirrorTarget,
    counters: std::sync::Arc<Counters>,
    started: Instant,
}

/// The next item from the reader; its failure as the import's.
fn next_item(items: &Receiver<islet_snapshot_format::Result<Item>>) -> Result<Item> {
    Ok(items
        .recv()
        .map_err(|_| archive("the archive reader stopped"))??)
}

impl Session<'_, '_> {
    fn run(
        &mut self,
        items: &Receiver<islet_snapshot_format::Result<Item>>,
        plan: Sender<Plan>,
    ) -> Result<ImportReport> {
        // 1. The checkpoint.
        let Item::Checkpoint(cp_bytes) = next_item(items)? else {
            return Err(archive("the archive reader sent files out of order").into());
        };
        let signed = SignedCheckpoint::open(&cp_bytes, &self.key, &[], Some(&self.req.origin))
            .map_err(|e| Error::Checkpoint {
                reason: e.to_string(),
            })?;
        let (to, root) = (signed.checkpoint.size, signed.checkpoint.root);

        // 2. The manifest.
        let Item::Manifest(manifest_bytes) = next_item(items)? else {
            return Err(archive("the archive reader sent files out of order").into());
        };
        let manifest = Manifest::parse(&manifest_bytes)?;
        if manifest.origin != self.req.origin || manifest.to_size != to {
            return Err(Error::Manifest {
                reason: format!(
                    "describes {} at size {}, but the checkpoint is of {} at size {to}",
                    manifest.origin, manifest.to_size, self.req.origin
                ),
            });
        }
        let cp_entry = &manifest.files[0];
        check_file(cp_entry, &cp_bytes)?;
        let plan_of_files =
            Plan::for_manifest(&manifest, self.counters.read.load(Ordering::Relaxed));

        // 3. Does it apply?
        let from = manifest.from_size;
        let local_size = self.local.size();
        match self.local.standing(self.req.store, to, root)? {
            Standing::Fork(reason) => {
                let reason =
                    self.local
                        .keep_evidence(self.req.store, &cp_bytes, &self.req.source, reason);
                return Err(Error::Fork { reason });
            }
            Standing::Behind => {
                return Err(Error::DoesNotApply {
                    reason: format!(
                        "the snapshot ends at size {to}, older than the local copy at {local_size}: a mirror never rewinds"
                    ),
                    older: true,
                });
            }
            Standing::Same => return Ok(self.report(Outcome::AlreadyPresent, from, to, 0)),
            Standing::Ahead => {}
        }
        if from > local_size {
            return Err(Error::DoesNotApply {
                reason: format!(
                    "the snapshot extends size {from}, but the local copy of {} is at {local_size}: import the snapshots from {local_size} first",
                    self.req.origin
                ),
                older: false,
            });
        }

        // 4 and 5. Tiles, then bundles, checked by the reader against the
        // manifest and rebuilt here on top of the local tree.
        plan.send(plan_of_files)
            .map_err(|_| archive("the archive reader stopped"))?;
        let rebuild = Extension::start(
            self.req.store,
            self.local.log,
            self.local.head.as_ref(),
            from,
        )
        .map_err(diverges)?
        .track_tiles();
        // Stages are written by a thread of their own while this one
        // hashes.
        rebuild.with_stage_writer(|rebuild| {
            let mut carried: BTreeMap<TileId, [u8; 32]> = BTreeMap::new();
            let bar = progress_bar(self.req.progress, to - from, "import");
            loop {
                match next_item(items)? {
                    Item::File(TilePath::Hash(t), data, digest) => {
                        parse_hash_tile(t, &data)?;
                        carried.insert(t, digest);
                    }
                    Item::File(TilePath::Entries(b), data, _) => {
                        let before = rebuild.size();
                        rebuild.push_bundle(b, data).map_err(diverges)?;
                        bar.inc(rebuild.size() - before);
                    }
                    Item::End => break,
                    Item::Checkpoint(_) | Item::Manifest(_) => {
                        return Err(archive("the archive reader sent files out of order").into());
                    }
                }
            }
            bar.finish_and_clear();

            // The tree the entries make must be the signed one, tile for
            // tile.
            let finished = rebuild.finish(to, root).map_err(|e| match e {
                islet_store::Error::SizeMismatch { found, expected } => Error::TreeMismatch {
                    reason: format!(
                        "the bundles hold {found} entries, the checkpoint says {expected}"
                    ),
                },
                islet_store::Error::RootMismatch {
                    computed, signed, ..
                } => Error::TreeMismatch {
                    reason: format!(
                        "the entries hash to root {computed}, the checkpoint signs {signed}"
                    ),
                },
                other => Error::Store(other),
            })?;
            for (t, digest) in &carried {
                if finished.produced.get(t) != Some(digest) {
                    return Err(Error::TreeMismatch {
                        reason: format!("{t} is not the tile the entries produce"),
                    });
                }
            }
            Ok(())
        })?;

        // Commit: the new head (and the mirror, on a first import) at once.
        let batch = self.local.commit_batch(&self.req.origin);
        let head = TreeHead {
            size: to,
            root,
            checkpoint: cp_bytes,
        };
        self.req.store.commit(self.local.log, &batch, &head)?;
        Ok(self.report(Outcome::Applied, from, to, to - local_size))
    }

    fn report(&self, outcome: Outcome, from: u64, to: u64, added: u64) -> ImportReport {
        ImportReport {
            outcome,
            origin: self.req.origin.clone(),
            from_size: from,
            to_size: to,
            previous_size: self.local.size(),
            entries_added: added,
            unpacked_bytes: self.counters.read.load(Ordering::Relaxed),
            elapsed: self.started.elapsed(),
        }
    }
}

/// Finding the mirror: usage errors stay usage errors, a key other than
/// the pinned one is a checkpoint refusal.
fn target_error(e: islet_store::Error) -> Error {
    match e {
        islet_store::Error::Usage { reason } => Error::Usage {
            reason: reason.replace("mirror it into", "import it into"),
        },
        islet_store::Error::KeyNotPinned { reason } => Error::Checkpoint { reason },
        other => Error::Store(other),
    }
}

/// Entries that disagree with the local copy are a fork, told in the
/// snapshot's words.
fn diverges(e: islet_store::Error) -> Error {
    match e {
        islet_store::Error::Diverges { reason } => Error::Fork {
            reason: reason.replace("the first", "the snapshot's first"),
        },
        islet_store::Error::OutOfOrder { path, .. } => {
            archive(format!("{path} is out of order")).into()
        }
        // A bundle that does not parse is the snapshot's fault, told as
        // the spec code's refusal.
        islet_store::Error::Tlog(e) => Error::Tlog(e),
        other => Error::Store(other),
    }
}
