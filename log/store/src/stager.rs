//! Staging: writing a large extension of a log past its committed size.
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

use islet_tlog::merkle::HASH_SIZE;
use islet_tlog::tiles::{BundleId, TILE_WIDTH, TileId, bundle_prefix_len};
use rocksdb::{Direction, IteratorMode, Options, WriteBatch, WriteOptions};

use crate::db::Store;
use crate::error::{Error, Result, corrupt, db, db_key};
use crate::schema::{
    CF_META, CF_TILES, CommitBatch, FAMILIES, LogNumber, StagedProgress, staged_key, tile_key,
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
pub(crate) const INGEST_LZ4_ACCELERATION: i32 = 8;
/// Directory inside the RocksDB directory where SST files are written
/// before they are ingested (emptied when the store opens).
pub(crate) const INGEST_DIR: &str = "ingest";

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
                w.open(&self.path).map_err(db("open SST file"))?;
                self.writer.insert(w)
            }
        };
        writer.put(key, value).map_err(db_key("SST put", key))?;
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
                w.finish().map_err(db("finish SST file"))?;
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
    /// most `SEALED_IN_FLIGHT` sets of files wait for it.
    ///
    /// # Errors
    /// [`Error::Db`] when the thread cannot be started.
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
            .map_err(|e| Error::Thread {
                thread: "ingest",
                reason: format!("cannot start: {e}"),
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
    /// [`Error::Db`].
    pub fn stage(&mut self, batch: &CommitBatch, progress: Option<&StagedProgress>) -> Result<()> {
        if !batch.bundle_appends.is_empty() {
            // An extension stages whole bundles.
            return Err(Error::Usage {
                reason: "staging takes whole bundles, not appends".to_owned(),
            });
        }
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
    /// [`Error::Db`], also for a failure of the background thread.
    pub fn finish(mut self) -> Result<()> {
        self.seal()?;
        self.drain()
    }

    /// Hands the open files and the held marker on: to the background
    /// thread when there is one (waiting while `SEALED_IN_FLIGHT` sets
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
            return Err(Error::Thread {
                thread: "ingest",
                reason: "stopped".into(),
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
                std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
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
        let outcome = self.done.recv().map_err(|_| Error::Thread {
            thread: "ingest",
            reason: "stopped".into(),
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
                .map_err(db("ingest"))?;
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

impl Store {
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
        self.db.write_opt(wb, &wo).map_err(db("staged write"))
    }

    /// Flushes every column family when `log` has staged rows that are
    /// only in memory, so the commit that follows never points at rows a
    /// crash could lose.
    pub(crate) fn flush_staged(&self, log: LogNumber) -> Result<()> {
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
        self.db.flush_cfs_opt(&families, &fo).map_err(db("flush"))?;
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
    /// [`Error::Db`].
    pub fn discard_staged(&self, log: LogNumber, committed: u64) -> Result<()> {
        let tiles = self.cf(CF_TILES)?;
        let mut wb = WriteBatch::default();
        wb.delete_cf(self.cf(CF_META)?, staged_key(log));
        for level in 0..=islet_tlog::tiles::MAX_TILE_LEVEL {
            let shift = u32::from(level) * islet_tlog::tiles::TILE_HEIGHT;
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
                let Some(data) = self.db.get_cf(tiles, key).map_err(db_key("get", &key))? else {
                    continue;
                };
                let keep = if kind == 0 {
                    usize::try_from(width).unwrap_or(0) * HASH_SIZE
                } else {
                    let id = BundleId {
                        index: edge,
                        width: u16::try_from(width).unwrap_or(TILE_WIDTH),
                    };
                    bundle_prefix_len(id, &data).map_err(|e| corrupt(e.to_string()))?
                };
                if data.len() > keep {
                    wb.put_cf(tiles, key, &data[..keep]);
                }
            }
        }
        self.db
            .write_opt(wb, &Self::synced())
            .map_err(db("synced write"))
    }

    /// Whether family `cf` holds a key in `from..to`.
    fn any_in(&self, cf: &rocksdb::ColumnFamily, from: &[u8], to: &[u8]) -> Result<bool> {
        let mut iter = self
            .db
            .iterator_cf(cf, IteratorMode::From(from, Direction::Forward));
        match iter.next() {
            Some(Ok((k, _))) => Ok(k.as_ref() < to),
            Some(Err(e)) => Err(db("iterate")(e)),
            None => Ok(false),
        }
    }

    /// The marker of an unfinished extension of `log`, if one was staged
    /// and neither committed nor discarded since.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn staged_progress(&self, log: LogNumber) -> Result<Option<StagedProgress>> {
        self.get(CF_META, &staged_key(log))?
            .map(|v| StagedProgress::decode(&v))
            .transpose()
    }
}
