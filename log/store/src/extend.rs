//! Extending a stored log with entries from outside: a snapshot being
//! imported, an upstream log being mirrored.
//!
//! An [`Extension`] rebuilds the tree on top of the local copy, entry by
//! entry, and stages the tiles and bundles it produces past the committed
//! size (through a [`crate::Stager`]): readers do not see them, and nothing becomes
//! the log until the caller has checked the rebuilt root against a signed
//! checkpoint ([`Extension::finish`]) and committed the new tree head.
//!
//! Two checks tie what arrives to what the store already holds:
//! - entries the local copy already has (an unaligned start, or a source
//!   that starts below the local size) must be the same bytes, and the tree
//!   at the local size must be the local tree ([`Error::Diverges`]);
//! - the root of the rebuilt tree must be the signed one
//!   ([`Error::RootMismatch`]).
//!
//! Every stage of about [`STAGE_BATCH_BYTES`] of a resumable extension
//! also writes the edge (partial tiles and bundle) and a [`StagedProgress`]
//! marker (once the stage's rows are in the store), so an interrupted
//! extension can resume from its last marker
//! ([`Extension::resume_staged`]) instead of from the committed size.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::{CommitBatch, Evidence, LogNumber, LogRecord, StagedProgress, Store, TreeHead};
use islet_tlog::grow::{Grown, LogGrower};
use islet_tlog::merkle::Hash;
use islet_tlog::merkle::tree_hash;
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{BundleId, TILE_WIDTH, TileId, encode_hash_tile, for_each_bundle_entry};

/// Staged tiles and bundles are written to the store in batches of about
/// this many bytes.
pub const STAGE_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of stages waiting for the writer thread of
/// [`Extension::with_stage_writer`] (about 4 stages; one stage always goes,
/// however large): hashing goes on while the writer waits for the disk to
/// sync a file it ingests (with one 8 MiB stage in flight, a 1M-entry
/// import took 1.95 s instead of 1.7 s). Bounded in bytes, not stages, so
/// bundles of the largest entries (16 MiB each) do not multiply it.
pub const STAGED_IN_FLIGHT_BYTES: usize = 32 * 1024 * 1024;

/// The local copy of a mirrored log that a snapshot or an upstream is
/// about to extend.
#[derive(Debug, Clone)]
pub struct MirrorTarget {
    /// Its number in the store (a new one for a first import or sync).
    pub log: LogNumber,
    /// `None` for a log the store does not mirror yet (registered by the
    /// first commit).
    pub record: Option<LogRecord>,
    /// The key its checkpoints must verify with.
    pub key: NoteVerifier,
    /// Its committed tree.
    pub head: Option<TreeHead>,
}

impl MirrorTarget {
    /// Finds the mirror of `origin`. `key` is the key given on the command
    /// line: required for a first import, and then it must be the pinned
    /// one. `own_origin` (the data directory's own log) cannot be mirrored.
    ///
    /// # Errors
    /// [`Error::Usage`] for the own origin or an unknown mirror without a
    /// key; [`Error::KeyNotPinned`]; [`Error::Db`].
    pub fn find(
        store: &Store,
        origin: &str,
        key: Option<&NoteVerifier>,
        own_origin: Option<&str>,
    ) -> Result<MirrorTarget> {
        if own_origin == Some(origin) {
            return Err(Error::Usage {
                reason: format!(
                    "{origin} is this data directory's own log; mirror it into another data directory"
                ),
            });
        }
        let record = store.mirror(origin)?;
        let key = match (key, &record) {
            (Some(k), Some(r)) => {
                if !r.vkeys.contains(&k.to_vkey()) {
                    return Err(Error::KeyNotPinned {
                        reason: format!(
                            "the key given is not the one pinned for {origin} ({}); a mirror's key never changes",
                            r.vkeys.join(", ")
                        ),
                    });
                }
                k.clone()
            }
            (Some(k), None) => k.clone(),
            (None, Some(r)) => {
                let vkey = r.vkeys.first().ok_or_else(|| Error::Usage {
                    reason: format!("the mirror of {origin} has no pinned key"),
                })?;
                NoteVerifier::from_vkey(vkey)?
            }
            (None, None) => {
                return Err(Error::Usage {
                    reason: format!(
                        "this data directory has no mirror of {origin} yet: give its key (--vkey, or --log-key with --origin)"
                    ),
                });
            }
        };
        let (log, head) = match &record {
            Some(r) => (r.number, store.tree_head(r.number)?),
            None => (store.next_log_number()?, None),
        };
        Ok(MirrorTarget {
            log,
            record,
            key,
            head,
        })
    }

    /// The committed size.
    pub fn size(&self) -> u64 {
        self.head.as_ref().map_or(0, |h| h.size)
    }

    /// Where a verified checkpoint of `size` and `root` stands against the
    /// local copy.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn standing(&self, store: &Store, size: u64, root: Hash) -> Result<Standing> {
        let Some(head) = &self.head else {
            return Ok(Standing::Ahead);
        };
        if size > head.size {
            return Ok(Standing::Ahead);
        }
        let local = if size == head.size {
            head.root
        } else {
            tree_hash(size, &store.hash_reader(self.log, head.size))?
        };
        if local != root && size == head.size {
            return Ok(Standing::Fork(format!(
                "same size {size}, different roots: offered {}, local {}",
                hex::encode(root),
                hex::encode(local)
            )));
        }
        if local != root {
            return Ok(Standing::Fork(format!(
                "the checkpoint of size {size} has root {}, the local tree at {size} has {}",
                hex::encode(root),
                hex::encode(local)
            )));
        }
        Ok(if size == head.size {
            Standing::Same
        } else {
            Standing::Behind
        })
    }

    /// The commit that makes a verified extension the log: the new head,
    /// and the mirror's record on a first commit.
    pub fn commit_batch(&self, origin: &str) -> CommitBatch {
        CommitBatch {
            register: match &self.record {
                Some(_) => None,
                None => Some(LogRecord {
                    number: self.log,
                    origin: origin.to_owned(),
                    vkeys: vec![self.key.to_vkey()],
                }),
            },
            ..CommitBatch::default()
        }
    }

    /// Keeps both checkpoints of a fork as evidence (durably); returns the
    /// reason, with a note when keeping them failed.
    pub fn keep_evidence(
        &self,
        store: &Store,
        offered: &[u8],
        source: &str,
        reason: String,
    ) -> String {
        let evidence = Evidence {
            reason: reason.clone(),
            local: self
                .head
                .as_ref()
                .map(|h| String::from_utf8_lossy(&h.checkpoint).into_owned())
                .unwrap_or_default(),
            offered: String::from_utf8_lossy(offered).into_owned(),
            source: source.to_owned(),
            recorded_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string(),
        };
        match store.record_evidence(self.log, &evidence) {
            Ok(()) => reason,
            Err(e) => format!("{reason} (and keeping the evidence failed: {e})"),
        }
    }
}

/// Where a verified checkpoint stands against the local copy of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// It is larger (or the log has no local copy yet): extend.
    Ahead,
    /// The local copy is exactly this tree.
    Same,
    /// It is an older tree of the local copy: never rewind.
    Behind,
    /// The local tree at its size has another root.
    Fork(String),
}

/// A stored log being extended. Entries are pushed inside
/// [`Extension::with_stage_writer`], whose thread writes the stages.
#[derive(Debug)]
pub struct Extension<'s> {
    store: &'s Store,
    log: LogNumber,
    /// The committed size: only what lies past it is staged.
    committed: u64,
    /// The committed root (`None` for a log with no tree yet).
    committed_root: Option<Hash>,
    grower: LogGrower,
    pending: CommitBatch,
    pending_bytes: usize,
    /// SHA-256 of every hash tile produced, when asked for.
    produced: Option<BTreeMap<TileId, [u8; 32]>>,
    /// The checkpoint being extended towards, written with each stage so
    /// the extension can resume.
    target: Option<Vec<u8>>,
    /// Where stages go: the writer thread of
    /// [`Extension::with_stage_writer`] (`None` outside it).
    queue: Option<(Sender<StageJob>, Arc<InFlight>)>,
}

/// One stage for a writer thread: the rows, their size and, for a
/// resumable extension, the progress marker written with them.
type StageJob = (CommitBatch, usize, Option<StagedProgress>);

/// The bytes of stages handed to the writer thread and not written yet.
#[derive(Debug, Default)]
struct InFlight {
    /// Bytes in flight, and whether the writer has stopped.
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl InFlight {
    /// Waits until `bytes` more fit in [`STAGED_IN_FLIGHT_BYTES`] (or
    /// nothing is in flight) and counts them.
    fn take(&self, bytes: usize) -> Result<()> {
        let stopped = || Error::Thread {
            thread: "staging writer",
            reason: "stopped".into(),
        };
        let mut state = self.state.lock().map_err(|_| stopped())?;
        while !state.1 && state.0 > 0 && state.0 + bytes > STAGED_IN_FLIGHT_BYTES {
            state = self.changed.wait(state).map_err(|_| stopped())?;
        }
        if state.1 {
            return Err(stopped());
        }
        state.0 += bytes;
        Ok(())
    }

    /// `bytes` were written.
    fn give(&self, bytes: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.0 = state.0.saturating_sub(bytes);
        }
        self.changed.notify_all();
    }

    /// The writer stopped: nobody waits for room any more.
    fn stop(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.1 = true;
        }
        self.changed.notify_all();
    }
}

/// Writes the stages that arrive on `jobs` into `log` of `store`, in
/// order, until the sender hangs up, and then finishes them (what a
/// failed extension staged is kept, for a resume, or discarded by the
/// caller). Full SST files are synced and ingested by a second thread
/// ([`crate::Stager::ingest_on`]) while this one fills the next.
///
/// # Errors
/// The first [`crate::Stager`] error; later stages are not
/// written.
fn write_stages(
    store: &Store,
    log: LogNumber,
    jobs: &Receiver<StageJob>,
    in_flight: &InFlight,
) -> Result<()> {
    let written = std::thread::scope(|scope| {
        let mut stager = store.stager(log).ingest_on(scope)?;
        for (batch, bytes, progress) in jobs {
            stager.stage(&batch, progress.as_ref())?;
            drop(batch);
            in_flight.give(bytes);
        }
        stager.finish()
    });
    in_flight.stop();
    written
}

/// What a finished extension produced.
#[derive(Debug, Default)]
pub struct Finished {
    /// SHA-256 of every hash tile the entries produced (when
    /// [`Extension::track_tiles`] was asked for).
    pub produced: BTreeMap<TileId, [u8; 32]>,
}

impl<'s> Extension<'s> {
    /// Starts extending `log`, whose committed tree is `head`, from the
    /// local tree at `from` entries (at most the committed size).
    ///
    /// # Errors
    /// [`Error::Db`] when the local tiles at `from` are missing;
    /// [`Error::Diverges`] when `from` is past the committed size.
    pub fn start(
        store: &'s Store,
        log: LogNumber,
        head: Option<&TreeHead>,
        from: u64,
    ) -> Result<Self> {
        let committed = head.map_or(0, |h| h.size);
        if from > committed {
            return Err(Error::Diverges {
                reason: format!("cannot extend from {from}: the local copy holds {committed}"),
            });
        }
        Ok(Extension {
            store,
            log,
            committed,
            committed_root: head.map(|h| h.root),
            grower: grower_at(store, log, from)?,
            pending: CommitBatch::default(),
            pending_bytes: 0,
            produced: None,
            target: None,
            queue: None,
        })
    }

    /// Resumes an extension of `log` that staged up to `progress.size`
    /// entries on top of the committed tree `head`. `None` when the marker
    /// does not belong to that tree (the caller then discards and starts
    /// again).
    ///
    /// # Errors
    /// [`Error::Db`] when the staged tiles are not there.
    pub fn resume_staged(
        store: &'s Store,
        log: LogNumber,
        head: Option<&TreeHead>,
        progress: &StagedProgress,
    ) -> Result<Option<Self>> {
        let committed = head.map_or(0, |h| h.size);
        if progress.base != committed || progress.size <= committed {
            return Ok(None);
        }
        Ok(Some(Extension {
            store,
            log,
            committed,
            committed_root: head.map(|h| h.root),
            grower: grower_at(store, log, progress.size)?,
            pending: CommitBatch::default(),
            pending_bytes: 0,
            produced: None,
            target: Some(progress.target.clone()),
            queue: None,
        }))
    }

    /// Keeps the SHA-256 of every hash tile produced (snapshot import
    /// compares them with the tiles a snapshot carries).
    #[must_use]
    pub fn track_tiles(mut self) -> Self {
        self.produced = Some(BTreeMap::new());
        self
    }

    /// Writes a [`StagedProgress`] marker heading for the signed checkpoint
    /// `target` with every stage, so the extension can be resumed.
    #[must_use]
    pub fn resumable(mut self, target: Vec<u8>) -> Self {
        self.target = Some(target);
        self
    }

    /// Runs `work` on this extension with its stages written by a thread
    /// of its own, so hashing goes on while the store writes the rows.
    /// When it returns, every stage `work` made is written (also after a
    /// failure: a resumable extension keeps them; otherwise the caller
    /// discards them).
    ///
    /// # Errors
    /// What `work` returns; the writer's [`Error::Db`] first.
    pub fn with_stage_writer<T, E: From<Error>>(
        mut self,
        work: impl FnOnce(&mut Self) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let (store, log) = (self.store, self.log);
        let (queue, jobs) = std::sync::mpsc::channel();
        let in_flight = Arc::new(InFlight::default());
        self.queue = Some((queue, Arc::clone(&in_flight)));
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || write_stages(store, log, &jobs, &in_flight));
            let outcome = work(&mut self);
            // Dropping the extension hangs up the queue; the writer drains
            // it and finishes.
            drop(self);
            let written = writer.join().unwrap_or_else(|_| {
                Err(Error::Thread {
                    thread: "staging writer",
                    reason: "panicked".into(),
                })
            });
            match (outcome, written) {
                (_, Err(e)) => Err(e.into()),
                (outcome, Ok(())) => outcome,
            }
        })
    }

    /// Entries in the rebuilt tree so far.
    pub fn size(&self) -> u64 {
        self.grower.size()
    }

    /// The root of the rebuilt tree so far (what a log extending itself
    /// signs and passes to [`Extension::finish`]).
    pub fn root(&self) -> Hash {
        self.grower.root()
    }

    /// Appends one entry.
    ///
    /// # Errors
    /// [`Error::Diverges`] when the tree reaches the committed size with
    /// another root; [`islet_tlog::Error::EntryTooLarge`]; [`Error::Db`].
    pub fn push(&mut self, entry: &[u8]) -> Result<()> {
        let (produced, pending, pending_bytes, committed) = (
            &mut self.produced,
            &mut self.pending,
            &mut self.pending_bytes,
            self.committed,
        );
        self.grower.push(entry, &mut |g| {
            take(produced, pending, pending_bytes, committed, g);
        })?;
        if self.grower.size() == self.committed
            && let Some(root) = self.committed_root
            && self.grower.root() != root
        {
            return Err(Error::Diverges {
                reason: format!(
                    "the first {} entries do not hash to the local root",
                    self.committed
                ),
            });
        }
        if self.pending_bytes >= STAGE_BATCH_BYTES {
            self.stage(false)?;
        }
        Ok(())
    }

    /// Appends the entries of bundle `b` (its bytes `data`) that the tree
    /// does not hold yet. The first
    /// bundle of an unaligned start begins with entries the tree holds:
    /// they must be the same bytes.
    ///
    /// # Errors
    /// [`Error::OutOfOrder`] for a bundle that does not continue the tree;
    /// a spec-code error for one that does not parse; [`Error::Diverges`];
    /// as [`Extension::push`].
    pub fn push_bundle(&mut self, b: BundleId, data: bytes::Bytes) -> Result<()> {
        let first = b.index * u64::from(TILE_WIDTH);
        let size = self.grower.size();
        let skip = size.saturating_sub(first);
        if size < first || skip >= u64::from(b.width) {
            return Err(Error::OutOfOrder {
                path: b.to_string(),
                size,
            });
        }
        // A whole bundle past the committed size: its bytes are the bundle
        // the tree would build, so they are staged as they came.
        if b.width == TILE_WIDTH && first == size && first >= self.committed {
            let (produced, pending, pending_bytes, committed) = (
                &mut self.produced,
                &mut self.pending,
                &mut self.pending_bytes,
                self.committed,
            );
            self.grower.push_full_bundle(&data, &mut |g| {
                take(produced, pending, pending_bytes, committed, g);
            })?;
            self.pending_bytes += data.len();
            self.pending.bundles.push((b, data));
            if self.pending_bytes >= STAGE_BATCH_BYTES {
                self.stage(false)?;
            }
            return Ok(());
        }
        let data = &data[..];
        let known = self
            .grower
            .edge()
            .bundle
            .map(|(_, d)| d.to_vec())
            .unwrap_or_default();
        let mut position = 0u64;
        let mut offset = 0usize;
        let mut failure = None;
        for_each_bundle_entry(b, data, |e| {
            if failure.is_some() {
                return;
            }
            if position < skip {
                offset += 2 + e.len();
            } else if let Err(err) = self.push(e) {
                failure = Some(err);
            }
            position += 1;
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if data.get(..offset) != Some(known.as_slice()) {
            return Err(Error::Diverges {
                reason: format!("{b} starts with entries other than the local copy's"),
            });
        }
        Ok(())
    }

    /// Stages what is pending now, with the edge and (for a resumable
    /// extension) a progress marker at the current size, so a later
    /// [`Extension::resume_staged`] continues exactly here (a pushed
    /// mirror between two `add-entries` requests).
    ///
    /// # Errors
    /// [`Error::Usage`] outside [`Extension::with_stage_writer`];
    /// [`Error::Thread`].
    pub fn stage_now(&mut self) -> Result<()> {
        self.stage(false)
    }

    /// Stages the edge, checks that the tree has `size` entries and the
    /// signed `root`, and stages what is pending. The caller commits the
    /// new tree head (or discards the staged rows on any error).
    ///
    /// # Errors
    /// [`Error::SizeMismatch`]; [`Error::RootMismatch`]; [`Error::Db`].
    pub fn finish(&mut self, size: u64, root: Hash) -> Result<Finished> {
        if self.grower.size() != size {
            return Err(Error::SizeMismatch {
                found: self.grower.size(),
                expected: size,
            });
        }
        self.add_edge();
        let built = self.grower.root();
        if built != root {
            return Err(Error::RootMismatch {
                size,
                computed: hex::encode(built),
                signed: hex::encode(root),
            });
        }
        self.stage(true)?;
        Ok(Finished {
            produced: self.produced.take().unwrap_or_default(),
        })
    }

    /// The edge tiles and bundle, into the pending batch (they are past
    /// the committed size whenever the tree is).
    fn add_edge(&mut self) {
        if self.grower.size() <= self.committed {
            return;
        }
        let edge = self.grower.edge();
        for (t, hashes) in &edge.tiles {
            let bytes = encode_hash_tile(hashes);
            if let Some(p) = &mut self.produced {
                p.insert(*t, Sha256::digest(&bytes).into());
            }
            self.pending_bytes += bytes.len();
            self.pending.tiles.push((*t, bytes));
        }
        if let Some((b, d)) = edge.bundle {
            self.pending_bytes += d.len();
            self.pending
                .bundles
                .push((b, bytes::Bytes::copy_from_slice(d)));
        }
    }

    /// Writes what is pending; with a target, also the edge (unless
    /// `edge_added`) and the progress marker, so the staged rows are a tree
    /// that can be resumed.
    fn stage(&mut self, edge_added: bool) -> Result<()> {
        let progress = match &self.target {
            Some(target) if self.grower.size() > self.committed => {
                let target = target.clone();
                if !edge_added {
                    self.add_edge();
                }
                Some(StagedProgress {
                    base: self.committed,
                    size: self.grower.size(),
                    target,
                })
            }
            _ => None,
        };
        if !self.pending.tiles.is_empty() || !self.pending.bundles.is_empty() || progress.is_some()
        {
            let batch = std::mem::take(&mut self.pending);
            let bytes = std::mem::take(&mut self.pending_bytes);
            match &self.queue {
                Some((queue, in_flight)) => {
                    in_flight.take(bytes)?;
                    queue
                        .send((batch, bytes, progress))
                        .map_err(|_| Error::Thread {
                            thread: "staging writer",
                            reason: "stopped".into(),
                        })?;
                }
                None => {
                    return Err(Error::Usage {
                        reason: "an extension stages only inside with_stage_writer".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// A grown tile or bundle into the pending batch, when it covers entries
/// past the committed size.
fn take(
    produced: &mut Option<BTreeMap<TileId, [u8; 32]>>,
    pending: &mut CommitBatch,
    pending_bytes: &mut usize,
    committed: u64,
    grown: Grown<'_>,
) {
    match grown {
        Grown::Tile(t, hashes) => {
            let bytes = encode_hash_tile(hashes);
            if let Some(p) = produced {
                p.insert(t, Sha256::digest(&bytes).into());
            }
            if ends_after(t.level, t.index, t.width, committed) {
                *pending_bytes += bytes.len();
                pending.tiles.push((t, bytes));
            }
        }
        Grown::Bundle(b, data) => {
            if ends_after(0, b.index, b.width, committed) {
                *pending_bytes += data.len();
                pending
                    .bundles
                    .push((b, bytes::Bytes::copy_from_slice(data)));
            }
        }
    }
}

/// Whether tile `(level, index)` of `width` covers any entry at or past
/// `size`.
fn ends_after(level: u8, index: u64, width: u16, size: u64) -> bool {
    let shift = 8 * u32::from(level);
    let end = (index * u64::from(TILE_WIDTH) + u64::from(width))
        .checked_shl(shift)
        .unwrap_or(u64::MAX);
    end > size
}

pub use crate::engine::grower_at;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{InFlight, STAGED_IN_FLIGHT_BYTES, ends_after};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn stages_in_flight_are_bounded_in_bytes_and_one_always_goes() {
        // One stage goes however large, with nothing in flight.
        let f = InFlight::default();
        f.take(STAGED_IN_FLIGHT_BYTES + 1).unwrap();
        // Up to the limit, at once.
        let f = InFlight::default();
        f.take(STAGED_IN_FLIGHT_BYTES - 1).unwrap();
        f.take(1).unwrap();
        // One byte past it waits for the writer to give some back.
        let f = Arc::new(InFlight::default());
        f.take(STAGED_IN_FLIGHT_BYTES).unwrap();
        let (done, waited) = std::sync::mpsc::channel();
        let waiter = Arc::clone(&f);
        let t = std::thread::spawn(move || {
            waiter.take(1).unwrap();
            done.send(()).unwrap();
        });
        assert!(waited.recv_timeout(Duration::from_millis(200)).is_err());
        f.give(1);
        waited.recv_timeout(Duration::from_secs(10)).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn a_stopped_writer_releases_whoever_waits_for_room() {
        let f = Arc::new(InFlight::default());
        f.take(STAGED_IN_FLIGHT_BYTES).unwrap();
        let waiter = Arc::clone(&f);
        let t = std::thread::spawn(move || waiter.take(1));
        std::thread::sleep(Duration::from_millis(50));
        f.stop();
        assert!(t.join().unwrap().is_err());
        assert!(
            f.take(1).is_err(),
            "nothing is taken once the writer stopped"
        );
    }

    #[test]
    fn ends_after_counts_the_tile_span() {
        // Level 0, tile 1 of width 10 covers entries 256..266.
        assert!(ends_after(0, 1, 10, 265));
        assert!(!ends_after(0, 1, 10, 266));
        // Level 1, tile 0 of width 2 covers entries 0..512.
        assert!(ends_after(1, 0, 2, 511));
        assert!(!ends_after(1, 0, 2, 512));
        // A level so high the span overflows covers everything.
        assert!(ends_after(8, 1, 1, u64::MAX - 1));
    }
}
