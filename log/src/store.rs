//! The RocksDB store: the single source of truth of a data directory.
//!
//! Column families (every key starts with the 4-byte big-endian number of
//! the log it belongs to: 0 is the own log, mirrors get their own):
//!
//! | family | key | value |
//! |---|---|---|
//! | `meta` | `tree` + log | tree head: size (u64 BE) ‖ root ‖ latest signed checkpoint |
//! | `meta` | `schema` | [`SCHEMA_VERSION`] |
//! | `tiles` | log ‖ 0 ‖ level ‖ index (u64 BE) | hash tile bytes at its current width |
//! | `tiles` | log ‖ 1 ‖ 0 ‖ index (u64 BE) | entry bundle bytes at its current width |
//! | `checkpoints` | log ‖ size (u64 BE) | the signed checkpoint of that size |
//! | `dedup` | log ‖ leaf hash (SHA-256 of 0x00 ‖ entry) | index (u64 BE): dedup and leaf-hash search |
//! | `search` | log ‖ kind ‖ hash ‖ index (u64 BE) | empty |
//! | `meta` | `log/` ‖ origin | [`LogRecord`] of a mirrored log (JSON) |
//! | `meta` | `evidence/` ‖ log ‖ sequence (u64 BE) | [`Evidence`] of a fork (JSON) |
//! | `meta` | `indexed/` ‖ log | entries of a mirror in the search index (u64 BE) |
//! | `meta` | `staged/` ‖ log | [`StagedProgress`] of an unfinished extension |
//!
//! A tile is stored once, at its latest width; a partial tile `.p/W` is the
//! prefix of the stored one (tiles only grow, and prefixes never change).
//! Everything a batch changes goes into one `WriteBatch` written with
//! `sync = true`: a crash leaves the old tree or the new one. RocksDB's LOCK
//! file keeps a second process out.
//!
//! A log that grows by a large import or sync is written in stages by a
//! [`Stager`]: tiles and bundles past the committed size, invisible to
//! readers, who never look past the committed size; one synced commit of
//! the new tree head makes them the log. What a failed extension staged is
//! removed by [`Store::discard_staged`]. A stage may carry a
//! [`StagedProgress`] marker, written only once the rows it describes are
//! in the store, so an interrupted mirror sync resumes where its last
//! stage ended rather than from the committed size.
//!
//! The bulk of a large extension, its whole level-0 tiles and whole
//! bundles, does not go through the memtable: it is written into SST files
//! (bundles with fast LZ4) and ingested every [`INGEST_FILE_BYTES`], so the
//! bytes are written once, land at the bottom level and are not compacted
//! while fresh. With [`Stager::ingest_on`], full files are synced and
//! ingested on a thread of their own while the next ones fill. The rest
//! goes through the memtable without the WAL and is flushed by the commit.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options,
    WriteBatch, WriteOptions,
};

use crate::error::{Error, Result};
use crate::merkle::{HASH_SIZE, Hash, HashReader};
use crate::tiles::{
    BundleId, TILE_WIDTH, TileId, bundle_prefix_len, for_each_bundle_entry, hash_from_tile,
    tile_for_stored_hash, tile_width,
};

/// A stage carrying at least this many bytes of whole level-0 tiles and
/// whole bundles writes them into SST files for ingestion; smaller ones
/// (a mirror's routine sync of a few entries) go through the memtable, so
/// a mirror that follows a log does not collect tiny files.
pub const INGEST_MIN_BYTES: usize = 1024 * 1024;
/// SST files written for ingestion are ingested once they hold this many
/// bytes (and when the extension's last stage is written): one file
/// synced per 64 MiB rather than per stage.
pub const INGEST_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// LZ4 acceleration of ingested bundles. Bundles (JSON, base64) shrink to
/// about 43% with LZ4 at any acceleration; at 8 it costs a third of the CPU
/// of the default (measured on 480 MB of Rekor-like bundles: 216 MB
/// stored, against 500 MB uncompressed and 223 MB at acceleration 1).
/// Hash tiles do not compress and are stored as they are.
const INGEST_LZ4_ACCELERATION: i32 = 8;
/// Directory inside the RocksDB directory where SST files are written
/// before they are ingested (emptied when the store opens).
const INGEST_DIR: &str = "ingest";

/// Version of the key schema above; a store with another version is refused.
/// (2: the dedup index is keyed by leaf hash and serves leaf-hash search.)
pub const SCHEMA_VERSION: u32 = 2;
/// RocksDB block cache shared by all column families.
pub const BLOCK_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// The block cache of a store opened read-only. Its readers (export,
/// verify, mirror list) read each block once or twice, so a large cache
/// only costs memory and time: an export of 1M entries peaked at 606 MB
/// with the 256 MiB cache (cached blocks are kept decompressed) and at
/// 63 MB with this one, and ran faster.
pub const READ_ONLY_BLOCK_CACHE_BYTES: usize = 8 * 1024 * 1024;

const CF_META: &str = "meta";
const CF_TILES: &str = "tiles";
const CF_CHECKPOINTS: &str = "checkpoints";
const CF_DEDUP: &str = "dedup";
const CF_SEARCH: &str = "search";
const FAMILIES: [&str; 5] = [CF_META, CF_TILES, CF_CHECKPOINTS, CF_DEDUP, CF_SEARCH];

/// Writes the stages of one extension of a log: rows past the committed
/// size, invisible until a [`Store::commit`] moves the head over them.
///
/// Whole level-0 tiles and whole bundles, the bulk of a large extension,
/// are appended to two SST files (one per kind, each in ascending key
/// order) and ingested every [`INGEST_FILE_BYTES`]: written once, never
/// through the memtable, and landing below everything else, so fresh data
/// is not compacted. The rest (edge tiles, higher levels) and the
/// [`StagedProgress`] marker go through the memtable without the WAL. A
/// marker is written only once every row it describes is in the store
/// (ingestion is durable when it returns; memtable rows and the marker
/// are flushed together), so a crash never leaves a marker ahead of its
/// rows. [`Stager::finish`] ingests what is left; dropping a stager
/// without it loses the unfinished files (and the marker held for them).
pub struct Stager<'s> {
    store: &'s Store,
    log: LogNumber,
    open: Option<OpenFiles<'s>>,
    /// The latest marker, waiting for the open files to be ingested.
    held: Option<StagedProgress>,
    /// The thread that finishes and ingests full files, when there is one.
    background: Option<Background<'s>>,
}

/// Full SST files and the marker that waits for them, handed to the
/// background thread; either may be missing.
struct Sealed<'s> {
    files: Option<OpenFiles<'s>>,
    marker: Option<StagedProgress>,
}

/// The background side of a [`Stager`]: sealed files go out in order on
/// `jobs`, one result per job comes back on `done`.
struct Background<'s> {
    jobs: Option<std::sync::mpsc::Sender<Sealed<'s>>>,
    done: std::sync::mpsc::Receiver<Result<()>>,
    /// Jobs sent whose result has not been received.
    pending: usize,
    /// Highest tile and bundle index in the files of pending jobs: a
    /// memtable row at or below them must wait until they are in, or the
    /// older file would win over it.
    sealed_last: (Option<u64>, Option<u64>),
    /// Set when the stager is dropped unfinished: queued jobs are dropped.
    abandoned: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Sealed jobs that may wait for the background thread: one being
/// ingested while the next files fill.
const SEALED_IN_FLIGHT: usize = 1;

impl std::fmt::Debug for Stager<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stager(log {})", self.log)
    }
}

/// The SST files a [`Stager`] is filling.
struct OpenFiles<'s> {
    tiles: SstRun<'s>,
    bundles: SstRun<'s>,
}

/// One SST file being written, in ascending key order.
struct SstRun<'s> {
    path: std::path::PathBuf,
    writer: Option<rocksdb::SstFileWriter<'s>>,
    /// Index of the last row appended.
    last: Option<u64>,
}

impl<'s> SstRun<'s> {
    fn new(path: std::path::PathBuf) -> Self {
        SstRun {
            path,
            writer: None,
            last: None,
        }
    }

    /// Whether a row of `index` can follow the rows appended so far.
    fn takes(&self, index: u64) -> bool {
        self.last.is_none_or(|l| index > l)
    }

    fn append(&mut self, options: &'s Options, key: &[u8], index: u64, value: &[u8]) -> Result<()> {
        let writer = match &mut self.writer {
            Some(w) => w,
            None => {
                let w = rocksdb::SstFileWriter::create(options);
                w.open(&self.path).map_err(db_err)?;
                self.writer.insert(w)
            }
        };
        writer.put(key, value).map_err(db_err)?;
        self.last = Some(index);
        Ok(())
    }

    fn bytes(&self) -> u64 {
        self.writer
            .as_ref()
            .map_or(0, rocksdb::SstFileWriter::file_size)
    }

    /// Finishes the file; its path when it holds rows.
    fn finish(&mut self) -> Result<Option<std::path::PathBuf>> {
        match self.writer.take() {
            Some(mut w) => {
                w.finish().map_err(db_err)?;
                Ok(Some(self.path.clone()))
            }
            None => Ok(None),
        }
    }
}

impl Drop for SstRun<'_> {
    fn drop(&mut self) {
        // An ingested file was moved (RocksDB unlinked it); an unfinished
        // one is abandoned.
        drop(self.writer.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

impl<'s> Stager<'s> {
    /// Finishes and ingests full files on a thread of `scope`, so that
    /// the stages after them are written while the disk syncs them. At
    /// most [`SEALED_IN_FLIGHT`] sets of files wait for it.
    ///
    /// # Errors
    /// [`Error::Store`] when the thread cannot be started.
    pub fn ingest_on<'scope>(
        mut self,
        scope: &'scope std::thread::Scope<'scope, '_>,
    ) -> Result<Self>
    where
        's: 'scope,
    {
        let (jobs, queue) = std::sync::mpsc::channel::<Sealed<'s>>();
        let (report, done) = std::sync::mpsc::channel();
        let abandoned = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (store, log, stop) = (self.store, self.log, std::sync::Arc::clone(&abandoned));
        std::thread::Builder::new()
            .name("islet-ingest".into())
            .spawn_scoped(scope, move || {
                for sealed in queue {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        continue;
                    }
                    let outcome = ingest_sealed(store, log, sealed);
                    if report.send(outcome).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| Error::Store {
                reason: format!("cannot start the ingesting thread: {e}"),
            })?;
        self.background = Some(Background {
            jobs: Some(jobs),
            done,
            pending: 0,
            sealed_last: (None, None),
            abandoned,
        });
        Ok(self)
    }

    /// Writes one stage: `batch`'s rows and, with `progress`, the marker
    /// of how far the extension got.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn stage(&mut self, batch: &CommitBatch, progress: Option<&StagedProgress>) -> Result<()> {
        let store = self.store;
        let tiles = store.cf(CF_TILES)?;
        let bulk: usize = batch
            .tiles
            .iter()
            .filter(|(t, _)| is_bulk_tile(t))
            .map(|(_, d)| d.len())
            .chain(
                batch
                    .bundles
                    .iter()
                    .filter(|(b, _)| b.width == TILE_WIDTH)
                    .map(|(_, d)| d.len()),
            )
            .sum();
        let to_files = self.open.is_some() || bulk >= INGEST_MIN_BYTES;
        self.collect()?;
        let mut wb = WriteBatch::default();
        // Level-0 tiles and bundles bound for the memtable at or below the
        // files being ingested must wait for them.
        let (mut last_tile, mut last_bundle) = (None::<u64>, None::<u64>);
        for (t, data) in &batch.tiles {
            let key = tile_key(self.log, 0, t.level, t.index);
            if to_files && is_bulk_tile(t) {
                self.append(false, &key, t.index, data)?;
            } else {
                if t.level == 0 {
                    last_tile = last_tile.max(Some(t.index));
                }
                wb.put_cf(tiles, key, data);
            }
        }
        for (b, data) in &batch.bundles {
            let key = tile_key(self.log, 1, 0, b.index);
            if to_files && b.width == TILE_WIDTH {
                self.append(true, &key, b.index, data)?;
            } else {
                last_bundle = last_bundle.max(Some(b.index));
                wb.put_cf(tiles, key, data);
            }
        }
        if let Some(bg) = &self.background {
            let (tiles_in, bundles_in) = bg.sealed_last;
            let below = |row: Option<u64>, sealed: Option<u64>| {
                row.zip(sealed).is_some_and(|(r, s)| r <= s)
            };
            if below(last_tile, tiles_in) || below(last_bundle, bundles_in) {
                self.drain()?;
            }
        }
        let waiting = self.background.as_ref().is_some_and(|bg| bg.pending > 0);
        match (&self.open, progress) {
            (Some(_), Some(p)) => self.held = Some(p.clone()),
            // Files still being ingested: the marker follows them.
            (None, Some(p)) if waiting => self.held = Some(p.clone()),
            (None, Some(p)) => wb.put_cf(store.cf(CF_META)?, staged_key(self.log), p.encode()),
            (_, None) => {}
        }
        store.stage_rows(self.log, wb)?;
        if self.open.is_none() && self.held.is_some() {
            self.seal()?;
        }
        let full = self
            .open
            .as_ref()
            .is_some_and(|o| o.tiles.bytes() + o.bundles.bytes() >= INGEST_FILE_BYTES);
        if full {
            self.seal()?;
        }
        Ok(())
    }

    /// Ingests what the open files hold and writes the marker held for
    /// them, and waits for the background thread: every stage written so
    /// far is then in the store.
    ///
    /// # Errors
    /// [`Error::Store`], also for a failure of the background thread.
    pub fn finish(mut self) -> Result<()> {
        self.seal()?;
        self.drain()
    }

    /// Hands the open files and the held marker on: to the background
    /// thread when there is one (waiting while [`SEALED_IN_FLIGHT`] sets
    /// are ahead of them), or ingests them here.
    fn seal(&mut self) -> Result<()> {
        let sealed = Sealed {
            files: self.open.take(),
            marker: self.held.take(),
        };
        if sealed.files.is_none() && sealed.marker.is_none() {
            return Ok(());
        }
        let Some(bg) = &mut self.background else {
            return ingest_sealed(self.store, self.log, sealed);
        };
        while bg.pending >= SEALED_IN_FLIGHT {
            bg.wait_one()?;
        }
        if let Some(files) = &sealed.files {
            bg.sealed_last.0 = bg.sealed_last.0.max(files.tiles.last);
            bg.sealed_last.1 = bg.sealed_last.1.max(files.bundles.last);
        }
        let sent = bg.jobs.as_ref().is_some_and(|j| j.send(sealed).is_ok());
        if !sent {
            return Err(Error::Store {
                reason: "the ingesting thread stopped".into(),
            });
        }
        bg.pending += 1;
        Ok(())
    }

    /// Waits until the background thread has ingested everything sent.
    fn drain(&mut self) -> Result<()> {
        if let Some(bg) = &mut self.background {
            while bg.pending > 0 {
                bg.wait_one()?;
            }
            bg.sealed_last = (None, None);
        }
        Ok(())
    }

    /// Takes the results the background thread has already reported.
    fn collect(&mut self) -> Result<()> {
        if let Some(bg) = &mut self.background {
            while bg.pending > 0 {
                match bg.done.try_recv() {
                    Ok(outcome) => {
                        bg.pending -= 1;
                        outcome?;
                    }
                    Err(_) => break,
                }
            }
            if bg.pending == 0 {
                bg.sealed_last = (None, None);
            }
        }
        Ok(())
    }

    fn append(&mut self, bundle: bool, key: &[u8], index: u64, value: &[u8]) -> Result<()> {
        let store = self.store;
        let takes = self.open.as_ref().is_none_or(|o| {
            if bundle {
                o.bundles.takes(index)
            } else {
                o.tiles.takes(index)
            }
        });
        if !takes {
            // Out of order (a range written again): what is open goes in
            // first (ingestion keeps the order), and new files start.
            self.seal()?;
        }
        let log = self.log;
        let open = match &mut self.open {
            Some(open) => open,
            None => {
                let dir = store.db.path().join(INGEST_DIR);
                std::fs::create_dir_all(&dir).map_err(|e| Error::Store {
                    reason: format!("cannot create {}: {e}", dir.display()),
                })?;
                let number = store
                    .ingest_files
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = |kind: &str| dir.join(format!("{log}-{number}-{kind}.sst"));
                self.open.insert(OpenFiles {
                    tiles: SstRun::new(name("tiles")),
                    bundles: SstRun::new(name("bundles")),
                })
            }
        };
        let (run, options) = if bundle {
            (&mut open.bundles, &store.ingest_bundle_options)
        } else {
            (&mut open.tiles, &store.ingest_tile_options)
        };
        run.append(options, key, index, value)
    }
}

impl Background<'_> {
    fn wait_one(&mut self) -> Result<()> {
        let outcome = self.done.recv().map_err(|_| Error::Store {
            reason: "the ingesting thread stopped".into(),
        })?;
        self.pending -= 1;
        outcome
    }
}

impl Drop for Stager<'_> {
    fn drop(&mut self) {
        // Unfinished: what was not ingested yet is lost, as without a
        // background thread (its files are removed as they drop).
        if let Some(bg) = &mut self.background {
            bg.abandoned
                .store(true, std::sync::atomic::Ordering::Relaxed);
            bg.jobs = None;
        }
    }
}

/// Finishes and ingests `sealed`'s files, then writes its marker: every
/// row the marker describes is then in the store.
fn ingest_sealed(store: &Store, log: LogNumber, sealed: Sealed<'_>) -> Result<()> {
    if let Some(mut open) = sealed.files {
        let files: Vec<_> = [open.tiles.finish()?, open.bundles.finish()?]
            .into_iter()
            .flatten()
            .collect();
        if !files.is_empty() {
            let mut io = rocksdb::IngestExternalFileOptions::default();
            io.set_move_files(true);
            store
                .db
                .ingest_external_file_cf_opts(store.cf(CF_TILES)?, &io, files)
                .map_err(db_err)?;
            store
                .ingestions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    if let Some(p) = sealed.marker {
        let mut wb = WriteBatch::default();
        wb.put_cf(store.cf(CF_META)?, staged_key(log), p.encode());
        store.stage_rows(log, wb)?;
    }
    Ok(())
}

/// Whether a staged hash tile belongs to the bulk written as SST files.
fn is_bulk_tile(t: &TileId) -> bool {
    t.level == 0 && t.is_full()
}

/// Number of a log inside a store.
pub type LogNumber = u32;
/// The own log.
pub const OWN_LOG: LogNumber = 0;
/// Most logs one store holds (the own log and its mirrors).
pub const MAX_LOGS: u32 = 4096;

/// How far an unfinished extension of a log got: it started on the
/// committed tree of `base` entries and staged everything up to `size`
/// entries (edge tiles and bundle included), on its way to the signed
/// checkpoint `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedProgress {
    /// The committed size the extension started from.
    pub base: u64,
    /// Entries staged (tiles, edge and bundles complete up to here).
    pub size: u64,
    /// The signed checkpoint the extension was heading for.
    pub target: Vec<u8>,
}

impl StagedProgress {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + self.target.len());
        v.extend_from_slice(&self.base.to_be_bytes());
        v.extend_from_slice(&self.size.to_be_bytes());
        v.extend_from_slice(&self.target);
        v
    }

    fn decode(v: &[u8]) -> Result<StagedProgress> {
        let (Some(base), Some(size)) = (v.get(..8), v.get(8..16)) else {
            return Err(corrupt("staged progress"));
        };
        let word = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
        Ok(StagedProgress {
            base: word(base),
            size: word(size),
            target: v[16..].to_vec(),
        })
    }
}

fn staged_key(log: LogNumber) -> Vec<u8> {
    [b"staged/".as_slice(), &log.to_be_bytes()].concat()
}

/// A mirrored log: its number in the store, its origin and the verifier
/// keys pinned when it was first imported or synced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    /// Number of the log in the store.
    pub number: LogNumber,
    /// The checkpoint origin.
    pub origin: String,
    /// Pinned verifier keys (vkeys); a checkpoint must verify with one.
    pub vkeys: Vec<String>,
}

/// Two checkpoints of one log that cannot both be true: kept when a source
/// offered a checkpoint that conflicts with the local copy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// What was found: "same size, different root", "not consistent", ….
    pub reason: String,
    /// The local signed checkpoint.
    pub local: String,
    /// The conflicting signed checkpoint.
    pub offered: String,
    /// Where the conflicting one came from.
    pub source: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
}

/// What the search index maps to entry indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SearchKind {
    /// The artifact digest of a hashedrekord, the payload hash of a DSSE.
    ArtifactDigest = 0,
    /// SHA-256 of a signer's SubjectPublicKeyInfo.
    KeyFingerprint = 1,
    /// RFC 6962 leaf hash (served by the dedup index).
    LeafHash = 2,
}

/// The state of a tree as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of entries.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed checkpoint for this size (empty until the first one).
    pub checkpoint: Vec<u8>,
}

impl TreeHead {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + HASH_SIZE + self.checkpoint.len());
        v.extend_from_slice(&self.size.to_be_bytes());
        v.extend_from_slice(&self.root);
        v.extend_from_slice(&self.checkpoint);
        v
    }

    fn decode(v: &[u8]) -> Result<TreeHead> {
        if v.len() < 8 + HASH_SIZE {
            return Err(corrupt("tree head is truncated"));
        }
        let (size, rest) = v.split_at(8);
        let (root, checkpoint) = rest.split_at(HASH_SIZE);
        Ok(TreeHead {
            size: u64::from_be_bytes(size.try_into().map_err(|_| corrupt("tree head size"))?),
            root: crate::merkle::hash_from_slice(root)?,
            checkpoint: checkpoint.to_vec(),
        })
    }
}

/// Everything one sequencing batch changes, written atomically.
#[derive(Debug, Default)]
pub struct CommitBatch {
    /// New or grown hash tiles.
    pub tiles: Vec<(TileId, Vec<u8>)>,
    /// New or grown entry bundles (shared bytes, so that a bundle read
    /// from a snapshot or a mirror is staged without a copy).
    pub bundles: Vec<(BundleId, bytes::Bytes)>,
    /// Dedup keys, the leaf hash of each new entry, with its index.
    pub dedup: Vec<(Hash, u64)>,
    /// Search index rows.
    pub search: Vec<(SearchKind, Vec<u8>, u64)>,
    /// A mirror to register with this commit (its first).
    pub register: Option<LogRecord>,
}

fn corrupt(what: &str) -> Error {
    Error::Store {
        reason: format!("store is corrupt: {what}"),
    }
}

fn db_err(e: rocksdb::Error) -> Error {
    Error::Store {
        reason: e.to_string(),
    }
}

fn tile_key(log: LogNumber, kind: u8, level: u8, index: u64) -> [u8; 14] {
    let mut k = [0u8; 14];
    k[..4].copy_from_slice(&log.to_be_bytes());
    k[4] = kind;
    k[5] = level;
    k[6..].copy_from_slice(&index.to_be_bytes());
    k
}

fn tree_key(log: LogNumber) -> Vec<u8> {
    let mut k = b"tree".to_vec();
    k.extend_from_slice(&log.to_be_bytes());
    k
}

fn log_prefixed(log: LogNumber, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + rest.len());
    k.extend_from_slice(&log.to_be_bytes());
    k.extend_from_slice(rest);
    k
}

/// Options of column family `name`, sharing the block-based `table`.
fn family_options(name: &str, table: &BlockBasedOptions) -> Options {
    let mut o = Options::default();
    o.set_compression_type(rocksdb::DBCompressionType::Lz4);
    if name == CF_TILES {
        // Fresh tiles and bundles (hashes, base64) barely compress: LZ4 at
        // flush time took a fifth of a mirror sync's CPU. Deeper levels,
        // rewritten by compaction in the background, still compress.
        use rocksdb::DBCompressionType::{Lz4, None as Plain};
        o.set_compression_per_level(&[Plain, Plain, Lz4, Lz4, Lz4, Lz4, Lz4]);
        // A large import or sync flushes many memtables in a row; merging
        // them as they arrive competed with the sync for the CPU (16% of
        // it at 4 files, 10% at 8). Point lookups with bloom filters stay
        // cheap over more level-0 files: compaction starts at 16 (about
        // 1 GB of fresh tiles), and writes slow down only past 24.
        o.set_level_zero_file_num_compaction_trigger(16);
        o.set_level_zero_slowdown_writes_trigger(24);
    }
    o.set_block_based_table_factory(table);
    o
}

/// Options of SST files written for ingestion into `tiles`: the family's
/// table format, and LZ4 at `lz4_acceleration` or no compression (an SST
/// writer would otherwise use the last level's compression). Ingested
/// files land at the bottom level and are not compacted again, so what
/// they are written with is how they are stored.
fn ingest_options(table: &BlockBasedOptions, lz4_acceleration: Option<i32>) -> Options {
    let mut o = family_options(CF_TILES, table);
    o.set_compression_per_level(&[]);
    match lz4_acceleration {
        Some(acceleration) => {
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            // RocksDB reads a negative level as LZ4's acceleration.
            o.set_compression_options(-14, -acceleration, 0, 0);
        }
        None => o.set_compression_type(rocksdb::DBCompressionType::None),
    }
    o
}

/// The RocksDB store of a data directory.
pub struct Store {
    db: DB,
    /// Serialises changes to the log registry and the evidence sequence.
    registry: std::sync::Mutex<()>,
    /// Logs with staged rows written without the WAL and not yet flushed
    /// (their next commit flushes first).
    unflushed: std::sync::Mutex<std::collections::HashSet<LogNumber>>,
    /// Options of the SST files of hash tiles written for ingestion.
    ingest_tile_options: Options,
    /// Options of the SST files of bundles written for ingestion.
    ingest_bundle_options: Options,
    /// Numbers the SST files written for ingestion.
    ingest_files: std::sync::atomic::AtomicU64,
    /// Ingestions since the store was opened.
    ingestions: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.db.path().display())
    }
}

impl Store {
    /// Opens (creating if `create` is set) the store at `path`.
    ///
    /// # Errors
    /// [`Error::Store`] when RocksDB refuses (including a second process
    /// holding the LOCK), or the schema version differs.
    pub fn open(path: &Path, create: bool) -> Result<Store> {
        Self::open_mode(path, create, false)
    }

    /// Opens the store at `path` for reading only, as of the moment it is
    /// opened. It works beside a running `islet serve` (no LOCK is taken),
    /// so snapshots can be exported from a live log.
    ///
    /// # Errors
    /// [`Error::Store`] when there is no store or the schema differs.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        Self::open_mode(path, false, true)
    }

    fn open_mode(path: &Path, create: bool, read_only: bool) -> Result<Store> {
        let mut opts = Options::default();
        opts.create_if_missing(create);
        opts.create_missing_column_families(create);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        // A process killed while writing a batch's WAL record (RocksDB
        // writes a large record in several system calls) leaves a torn last
        // record. That batch was never synced, so never acknowledged: drop
        // it and open. Corruption anywhere before the tail still refuses to
        // open, and the fork guard refuses a store behind the published
        // checkpoint. (AbsoluteConsistency refused to start after such a
        // crash; the SIGKILL test caught it.)
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        opts.set_paranoid_checks(true);
        // Staged rows are written without the WAL and flushed before the
        // commit that makes them the log; column families flush together,
        // so a staged batch's rows and its progress marker (another family)
        // are on disk together or not at all.
        opts.set_atomic_flush(true);
        let cache = Cache::new_lru_cache(if read_only {
            READ_ONLY_BLOCK_CACHE_BYTES
        } else {
            BLOCK_CACHE_BYTES
        });
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        let families = FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, family_options(name, &table)));
        // Before RocksDB looks at it (a read-only open creates the
        // directory for its log file).
        let half_created = path.is_dir() && !path.join("CURRENT").exists();
        let opened = if read_only {
            DB::open_cf_descriptors_read_only(&opts, path, families, false)
        } else {
            DB::open_cf_descriptors(&opts, path, families)
        };
        let db = opened.map_err(|e| {
            let text = e.to_string();
            let interrupted = half_created || text.contains("Column family not found");
            if read_only && interrupted {
                // A process killed while creating the store leaves a
                // directory without CURRENT (RocksDB writes it last), or
                // some of the column families, created one by one, and no
                // schema yet. The next writable open completes it.
                return Error::Store {
                    reason: format!(
                        "{} has no islet store yet (its creation was interrupted)",
                        path.display()
                    ),
                };
            }
            let hint = if text.contains("LOCK") {
                " (another islet, such as a running `islet serve`, has this data directory open)"
            } else {
                ""
            };
            Error::Store {
                reason: format!("cannot open {}: {text}{hint}", path.display()),
            }
        })?;
        let ingest_tile_options = ingest_options(&table, None);
        let ingest_bundle_options = ingest_options(&table, Some(INGEST_LZ4_ACCELERATION));
        if !read_only {
            // SST files of a stage that never got ingested (a crash).
            match std::fs::remove_dir_all(path.join(INGEST_DIR)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Store {
                        reason: format!("cannot empty {}: {e}", path.join(INGEST_DIR).display()),
                    });
                }
                _ => {}
            }
        }
        let store = Store {
            db,
            registry: std::sync::Mutex::new(()),
            unflushed: std::sync::Mutex::default(),
            ingest_tile_options,
            ingest_bundle_options,
            ingest_files: std::sync::atomic::AtomicU64::new(0),
            ingestions: std::sync::atomic::AtomicU64::new(0),
        };
        let meta = store.cf(CF_META)?;
        match store.db.get_cf(meta, b"schema").map_err(db_err)? {
            Some(v) if v.as_slice() == SCHEMA_VERSION.to_be_bytes() => {}
            Some(v) => {
                return Err(Error::Store {
                    reason: format!("store schema {v:?} is not version {SCHEMA_VERSION}"),
                });
            }
            None if read_only => {
                return Err(Error::Store {
                    reason: format!("{} has no islet store yet", path.display()),
                });
            }
            None => {
                store
                    .db
                    .put_cf_opt(
                        meta,
                        b"schema",
                        SCHEMA_VERSION.to_be_bytes(),
                        &Self::synced(),
                    )
                    .map_err(db_err)?;
            }
        }
        Ok(store)
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| corrupt("missing column family"))
    }

    /// The committed tree head of a log, if it has one.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn tree_head(&self, log: LogNumber) -> Result<Option<TreeHead>> {
        self.db
            .get_cf(self.cf(CF_META)?, tree_key(log))
            .map_err(db_err)?
            .map(|v| TreeHead::decode(&v))
            .transpose()
    }

    /// The stored bytes of hash tile `(level, index)` at its latest width.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn tile(&self, log: LogNumber, level: u8, index: u64) -> Result<Option<Vec<u8>>> {
        self.db
            .get_cf(self.cf(CF_TILES)?, tile_key(log, 0, level, index))
            .map_err(db_err)
    }

    /// The stored bytes of entry bundle `index` at its latest width.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn bundle(&self, log: LogNumber, index: u64) -> Result<Option<Vec<u8>>> {
        self.db
            .get_cf(self.cf(CF_TILES)?, tile_key(log, 1, 0, index))
            .map_err(db_err)
    }

    /// The hash tile `tile` as of a tree of `size` (its prefix, for a
    /// partial tile), or `None` when that size has no such tile.
    ///
    /// # Errors
    /// [`Error::Store`]; corruption when the stored tile is too short.
    pub fn tile_at(&self, log: LogNumber, tile: TileId, size: u64) -> Result<Option<Vec<u8>>> {
        if tile_width(size, tile.level, tile.index).is_none_or(|w| w < tile.width) {
            return Ok(None);
        }
        let Some(mut data) = self.tile(log, tile.level, tile.index)? else {
            return Err(corrupt(&format!("{tile} is missing")));
        };
        if data.len() < tile.byte_len() {
            return Err(corrupt(&format!("{tile} is shorter than its width")));
        }
        data.truncate(tile.byte_len());
        Ok(Some(data))
    }

    /// The entry bundle `bundle` as of a tree of `size`.
    ///
    /// # Errors
    /// As [`Store::tile_at`].
    pub fn bundle_at(
        &self,
        log: LogNumber,
        bundle: BundleId,
        size: u64,
    ) -> Result<Option<Vec<u8>>> {
        if tile_width(size, 0, bundle.index).is_none_or(|w| w < bundle.width) {
            return Ok(None);
        }
        let Some(mut data) = self.bundle(log, bundle.index)? else {
            return Err(corrupt(&format!("{bundle} is missing")));
        };
        let end = bundle_prefix_len(bundle, &data).map_err(|e| corrupt(&e.to_string()))?;
        data.truncate(end);
        Ok(Some(data))
    }

    /// The entry at `index` of a log of `size` entries.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn entry(&self, log: LogNumber, index: u64, size: u64) -> Result<Option<Vec<u8>>> {
        if index >= size {
            return Ok(None);
        }
        let bundle_index = index / u64::from(TILE_WIDTH);
        let width = tile_width(size, 0, bundle_index).unwrap_or(TILE_WIDTH);
        let id = BundleId {
            index: bundle_index,
            width,
        };
        let Some(data) = self.bundle_at(log, id, size)? else {
            return Ok(None);
        };
        let want = usize::try_from(index % u64::from(TILE_WIDTH)).unwrap_or(0);
        let mut found = None;
        let mut i = 0;
        for_each_bundle_entry(id, &data, |e| {
            if i == want {
                found = Some(e.to_vec());
            }
            i += 1;
        })?;
        Ok(found)
    }

    /// The signed checkpoint of `size`, if one was signed.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn checkpoint_at(&self, log: LogNumber, size: u64) -> Result<Option<Vec<u8>>> {
        self.db
            .get_cf(
                self.cf(CF_CHECKPOINTS)?,
                log_prefixed(log, &size.to_be_bytes()),
            )
            .map_err(db_err)
    }

    /// The smallest signed checkpoint whose size is at least `size`.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn checkpoint_covering(&self, log: LogNumber, size: u64) -> Result<Option<(u64, Vec<u8>)>> {
        let start = log_prefixed(log, &size.to_be_bytes());
        let mut iter = self.db.iterator_cf(
            self.cf(CF_CHECKPOINTS)?,
            IteratorMode::From(&start, Direction::Forward),
        );
        match iter.next() {
            Some(Ok((k, v))) if k.len() == 12 && k[..4] == log.to_be_bytes() => {
                let s =
                    u64::from_be_bytes(k[4..].try_into().map_err(|_| corrupt("checkpoint key"))?);
                Ok(Some((s, v.to_vec())))
            }
            Some(Err(e)) => Err(db_err(e)),
            _ => Ok(None),
        }
    }

    /// The index of an entry already in the log, by its leaf hash.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn dedup_lookup(&self, log: LogNumber, leaf: &Hash) -> Result<Option<u64>> {
        Ok(self
            .db
            .get_cf(self.cf(CF_DEDUP)?, log_prefixed(log, leaf))
            .map_err(db_err)?
            .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes)))
    }

    /// Indexes of entries matching a search key, ascending, at most `limit`.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn search(
        &self,
        log: LogNumber,
        kind: SearchKind,
        key: &[u8],
        limit: usize,
    ) -> Result<Vec<u64>> {
        if kind == SearchKind::LeafHash {
            let leaf = crate::merkle::hash_from_slice(key)?;
            return Ok(self
                .dedup_lookup(log, &leaf)?
                .into_iter()
                .take(limit)
                .collect());
        }
        let mut prefix = log_prefixed(log, &[kind as u8]);
        prefix.extend_from_slice(key);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_SEARCH)?,
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (k, _) = item.map_err(db_err)?;
            if !k.starts_with(&prefix) || k.len() != prefix.len() + 8 || out.len() >= limit {
                break;
            }
            out.push(u64::from_be_bytes(
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| corrupt("search key"))?,
            ));
        }
        Ok(out)
    }

    /// Writes a batch and the new tree head (with its signed checkpoint) in
    /// one synced `WriteBatch`. A full tile that already exists with other
    /// bytes is refused: full tiles are immutable.
    ///
    /// # Errors
    /// [`Error::Store`]; [`Error::ImmutableTile`].
    pub fn commit(&self, log: LogNumber, batch: &CommitBatch, head: &TreeHead) -> Result<()> {
        self.flush_staged(log)?;
        let (tiles, meta, cps, dedup, search) = (
            self.cf(CF_TILES)?,
            self.cf(CF_META)?,
            self.cf(CF_CHECKPOINTS)?,
            self.cf(CF_DEDUP)?,
            self.cf(CF_SEARCH)?,
        );
        let mut wb = WriteBatch::default();
        for (tile, data) in &batch.tiles {
            if tile.is_full() {
                self.check_immutable(log, 0, tile.level, tile.index, data, &tile.to_string())?;
            }
            wb.put_cf(tiles, tile_key(log, 0, tile.level, tile.index), data);
        }
        for (bundle, data) in &batch.bundles {
            if bundle.width == TILE_WIDTH {
                self.check_immutable(log, 1, 0, bundle.index, data, &bundle.to_string())?;
            }
            wb.put_cf(tiles, tile_key(log, 1, 0, bundle.index), data);
        }
        for (h, index) in &batch.dedup {
            wb.put_cf(dedup, log_prefixed(log, h), index.to_be_bytes());
        }
        for (kind, key, index) in &batch.search {
            let mut k = log_prefixed(log, &[*kind as u8]);
            k.extend_from_slice(key);
            k.extend_from_slice(&index.to_be_bytes());
            wb.put_cf(search, k, []);
        }
        if !head.checkpoint.is_empty() {
            wb.put_cf(
                cps,
                log_prefixed(log, &head.size.to_be_bytes()),
                &head.checkpoint,
            );
        }
        wb.put_cf(meta, tree_key(log), head.encode());
        // Whatever was staged is now the log (or superseded by it).
        wb.delete_cf(meta, staged_key(log));
        if let Some(record) = &batch.register {
            if record.number != log || self.mirror(&record.origin)?.is_some() {
                return Err(Error::Store {
                    reason: format!("cannot register {} as log {log}", record.origin),
                });
            }
            wb.put_cf(
                meta,
                [b"log/".as_slice(), record.origin.as_bytes()].concat(),
                serde_json::to_vec(record).map_err(|_| corrupt("log record"))?,
            );
        }
        self.db.write_opt(wb, &Self::synced()).map_err(db_err)
    }

    fn check_immutable(
        &self,
        log: LogNumber,
        kind: u8,
        level: u8,
        index: u64,
        data: &[u8],
        name: &str,
    ) -> Result<()> {
        match self
            .db
            .get_cf(self.cf(CF_TILES)?, tile_key(log, kind, level, index))
            .map_err(db_err)?
        {
            Some(old) if old.len() == data.len() && old != data => Err(Error::ImmutableTile {
                path: name.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    fn synced() -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        wo
    }

    /// The mirrored log of `origin`, if the store has one.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn mirror(&self, origin: &str) -> Result<Option<LogRecord>> {
        let key = [b"log/".as_slice(), origin.as_bytes()].concat();
        self.db
            .get_cf(self.cf(CF_META)?, key)
            .map_err(db_err)?
            .map(|v| serde_json::from_slice(&v).map_err(|_| corrupt("log record")))
            .transpose()
    }

    /// Every mirrored log, by origin.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn mirrors(&self) -> Result<Vec<LogRecord>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_META)?,
            IteratorMode::From(b"log/", Direction::Forward),
        ) {
            let (k, v) = item.map_err(db_err)?;
            if !k.starts_with(b"log/") {
                break;
            }
            out.push(serde_json::from_slice(&v).map_err(|_| corrupt("log record"))?);
        }
        Ok(out)
    }

    /// The number a new mirror would get: one past the highest in use.
    /// It is taken when a commit registers the mirror
    /// ([`CommitBatch::register`]).
    ///
    /// # Errors
    /// [`Error::Store`], also when the store holds [`MAX_LOGS`] logs.
    pub fn next_log_number(&self) -> Result<LogNumber> {
        let highest = self.mirrors()?.iter().map(|r| r.number).max();
        let next = highest.map_or(OWN_LOG + 1, |n| n + 1);
        if next >= MAX_LOGS {
            return Err(Error::Store {
                reason: format!("the store already holds {MAX_LOGS} logs"),
            });
        }
        Ok(next)
    }

    /// Keeps evidence of a conflicting checkpoint of `log`. Durable when it
    /// returns.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn record_evidence(&self, log: LogNumber, evidence: &Evidence) -> Result<()> {
        let _guard = self.registry.lock().map_err(|_| corrupt("registry lock"))?;
        let sequence = self.evidence(log)?.len() as u64;
        let mut key = b"evidence/".to_vec();
        key.extend_from_slice(&log.to_be_bytes());
        key.extend_from_slice(&sequence.to_be_bytes());
        let value = serde_json::to_vec(evidence).map_err(|_| corrupt("evidence"))?;
        self.db
            .put_cf_opt(self.cf(CF_META)?, key, value, &Self::synced())
            .map_err(db_err)
    }

    /// The evidence kept for `log`, oldest first.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn evidence(&self, log: LogNumber) -> Result<Vec<Evidence>> {
        let mut prefix = b"evidence/".to_vec();
        prefix.extend_from_slice(&log.to_be_bytes());
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_META)?,
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (k, v) = item.map_err(db_err)?;
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(serde_json::from_slice(&v).map_err(|_| corrupt("evidence"))?);
        }
        Ok(out)
    }

    /// How many entries of `log` (a mirror) the search index covers.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn indexed_size(&self, log: LogNumber) -> Result<u64> {
        let key = [b"indexed/".as_slice(), &log.to_be_bytes()].concat();
        Ok(self
            .db
            .get_cf(self.cf(CF_META)?, key)
            .map_err(db_err)?
            .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// Adds search rows for entries of `log` and moves its index mark to
    /// `indexed` (one batch; the rows are derived data, rebuilt from the
    /// mark after a crash, so the write is not synced).
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn add_to_index(
        &self,
        log: LogNumber,
        rows: &[(SearchKind, Vec<u8>, u64)],
        indexed: u64,
    ) -> Result<()> {
        let (meta, search, dedup) = (self.cf(CF_META)?, self.cf(CF_SEARCH)?, self.cf(CF_DEDUP)?);
        let mut wb = WriteBatch::default();
        for (kind, key, index) in rows {
            if *kind == SearchKind::LeafHash {
                wb.put_cf(dedup, log_prefixed(log, key), index.to_be_bytes());
                continue;
            }
            let mut k = log_prefixed(log, &[*kind as u8]);
            k.extend_from_slice(key);
            k.extend_from_slice(&index.to_be_bytes());
            wb.put_cf(search, k, []);
        }
        wb.put_cf(
            meta,
            [b"indexed/".as_slice(), &log.to_be_bytes()].concat(),
            indexed.to_be_bytes(),
        );
        self.db.write(wb).map_err(db_err)
    }

    /// How many times staged rows were ingested as SST files since the
    /// store was opened (see [`Stager`]).
    pub fn ingestions(&self) -> u64 {
        self.ingestions.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A writer of the stages of one extension of `log` (see [`Stager`]).
    pub fn stager(&self, log: LogNumber) -> Stager<'_> {
        Stager {
            store: self,
            log,
            open: None,
            held: None,
            background: None,
        }
    }

    /// Writes rows of `log` past its committed size through the memtable
    /// without the WAL (they are flushed by the commit that makes them the
    /// log), with the progress marker in the same batch.
    fn stage_rows(&self, log: LogNumber, wb: WriteBatch) -> Result<()> {
        if wb.is_empty() {
            return Ok(());
        }
        if let Ok(mut u) = self.unflushed.lock() {
            u.insert(log);
        }
        let mut wo = WriteOptions::default();
        wo.disable_wal(true);
        self.db.write_opt(wb, &wo).map_err(db_err)
    }

    /// Flushes every column family when `log` has staged rows that are
    /// only in memory, so the commit that follows never points at rows a
    /// crash could lose.
    fn flush_staged(&self, log: LogNumber) -> Result<()> {
        let pending = self
            .unflushed
            .lock()
            .map_err(|_| corrupt("staging lock"))?
            .contains(&log);
        if !pending {
            return Ok(());
        }
        let families = FAMILIES
            .iter()
            .map(|name| self.cf(name))
            .collect::<Result<Vec<_>>>()?;
        let mut fo = rocksdb::FlushOptions::default();
        fo.set_wait(true);
        self.db.flush_cfs_opt(&families, &fo).map_err(db_err)?;
        if let Ok(mut u) = self.unflushed.lock() {
            u.remove(&log);
        }
        Ok(())
    }

    /// Removes what was staged for `log` past `committed` entries: tiles and
    /// bundles beyond the right edge are deleted, and the edge tiles and
    /// bundle are cut back to their committed widths. Ranges with nothing
    /// in them get no range deletion (a tombstone over the whole log would
    /// put every file ingested after it at level 0, to be compacted).
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn discard_staged(&self, log: LogNumber, committed: u64) -> Result<()> {
        let tiles = self.cf(CF_TILES)?;
        let mut wb = WriteBatch::default();
        wb.delete_cf(self.cf(CF_META)?, staged_key(log));
        for level in 0..=crate::tiles::MAX_TILE_LEVEL {
            let shift = u32::from(level) * crate::tiles::TILE_HEIGHT;
            let hashes = if shift >= 64 { 0 } else { committed >> shift };
            let (edge, width) = (hashes >> 8, hashes % u64::from(TILE_WIDTH));
            for kind in [0u8, 1] {
                if kind == 1 && level > 0 {
                    continue;
                }
                // Everything after the edge tile goes.
                let first_gone = if width == 0 { edge } else { edge + 1 };
                let (from, to) = (
                    tile_key(log, kind, level, first_gone),
                    tile_key(log, kind, level + 1, 0),
                );
                if self.any_in(tiles, &from, &to)? {
                    wb.delete_range_cf(tiles, from, to);
                }
                if first_gone == u64::MAX {
                    wb.delete_cf(tiles, tile_key(log, kind, level, u64::MAX));
                }
                if width == 0 {
                    continue;
                }
                let key = tile_key(log, kind, level, edge);
                let Some(data) = self.db.get_cf(tiles, key).map_err(db_err)? else {
                    continue;
                };
                let keep = if kind == 0 {
                    usize::try_from(width).unwrap_or(0) * HASH_SIZE
                } else {
                    let id = BundleId {
                        index: edge,
                        width: u16::try_from(width).unwrap_or(TILE_WIDTH),
                    };
                    bundle_prefix_len(id, &data).map_err(|e| corrupt(&e.to_string()))?
                };
                if data.len() > keep {
                    wb.put_cf(tiles, key, &data[..keep]);
                }
            }
        }
        self.db.write_opt(wb, &Self::synced()).map_err(db_err)
    }

    /// Whether family `cf` holds a key in `from..to`.
    fn any_in(&self, cf: &rocksdb::ColumnFamily, from: &[u8], to: &[u8]) -> Result<bool> {
        let mut iter = self
            .db
            .iterator_cf(cf, IteratorMode::From(from, Direction::Forward));
        match iter.next() {
            Some(Ok((k, _))) => Ok(k.as_ref() < to),
            Some(Err(e)) => Err(db_err(e)),
            None => Ok(false),
        }
    }

    /// The marker of an unfinished extension of `log`, if one was staged
    /// and neither committed nor discarded since.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub fn staged_progress(&self, log: LogNumber) -> Result<Option<StagedProgress>> {
        self.db
            .get_cf(self.cf(CF_META)?, staged_key(log))
            .map_err(db_err)?
            .map(|v| StagedProgress::decode(&v))
            .transpose()
    }

    /// A hash reader over a log as of a tree of `size`. It keeps the tiles
    /// it reads and the nodes it computes inside them, so many proofs
    /// against one size (a batch) read each tile and hash each node once.
    pub fn hash_reader(&self, log: LogNumber, size: u64) -> StoreHashReader<'_> {
        StoreHashReader {
            store: self,
            log,
            size,
            cache: std::sync::Mutex::new(ReaderCache::default()),
        }
    }
}

/// What a [`StoreHashReader`] keeps.
#[derive(Debug, Default)]
struct ReaderCache {
    tiles: std::collections::HashMap<TileId, Vec<Hash>>,
    /// Nodes computed inside tiles, by tile and range of tile positions.
    nodes: std::collections::HashMap<(TileId, usize, usize), Hash>,
}

/// The hash of the node over `hashes[from..to]` (a power-of-two range)
/// of `tile`, computed from its two halves, each remembered in `nodes`:
/// a node is hashed once however many proofs need it.
fn node_in_tile(
    nodes: &mut std::collections::HashMap<(TileId, usize, usize), Hash>,
    tile: TileId,
    hashes: &[Hash],
    from: usize,
    to: usize,
) -> Hash {
    if to - from == 1 {
        return hash_from_tile(hashes, from, to);
    }
    if let Some(h) = nodes.get(&(tile, from, to)) {
        return *h;
    }
    let mid = from + (to - from) / 2;
    let left = node_in_tile(nodes, tile, hashes, from, mid);
    let right = node_in_tile(nodes, tile, hashes, mid, to);
    let h = crate::merkle::node_hash(&left, &right);
    nodes.insert((tile, from, to), h);
    h
}

/// Reads stored hashes out of the store's tiles (trusted: our own data).
#[derive(Debug)]
pub struct StoreHashReader<'a> {
    store: &'a Store,
    log: LogNumber,
    size: u64,
    cache: std::sync::Mutex<ReaderCache>,
}

impl HashReader for StoreHashReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>> {
        let mut cache = self.cache.lock().map_err(|_| corrupt("hash reader lock"))?;
        let ReaderCache { tiles, nodes } = &mut *cache;
        indexes
            .iter()
            .map(|&i| {
                let (tile, from, to) = tile_for_stored_hash(i, self.size)?;
                let hashes = match tiles.entry(tile) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let data = self
                            .store
                            .tile_at(self.log, tile, self.size)?
                            .ok_or(Error::MissingHash { index: i })?;
                        e.insert(crate::tiles::parse_hash_tile(tile, &data)?)
                    }
                };
                Ok(node_in_tile(nodes, tile, hashes, from, to))
            })
            .collect()
    }
}
