//! `--publish-dir`: a static tlog-tiles tree kept current from the store,
//! for nginx or rsync.
//!
//! A publisher thread receives each new head, coalesces whatever queued up,
//! and writes the tiles and bundles that changed (tlog-tiles `NewTiles`)
//! before the checkpoint, each through a temporary file, fsync and rename,
//! so a reader of the directory always sees a consistent log. Publishing is
//! off the sequencer's path: a slow disk delays the static copy, never a
//! client.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::error::{Error, Result};
use islet_store::SharedLog;
use islet_tlog::tiles::{TilePath, new_tiles};

/// A head to publish: the previous published size and the new note.
#[derive(Debug)]
struct Job {
    old_size: u64,
    size: u64,
    note: Vec<u8>,
}

/// Sends heads to the publisher thread.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Job>,
}

/// Writes `bytes` to `dir/rel` durably: temporary file, fsync, rename, fsync
/// of the directory.
///
/// # Errors
/// [`Error::Io`].
pub fn write_durably(dir: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(rel);
    let parent = path.parent().unwrap_or(dir).to_owned();
    std::fs::create_dir_all(&parent).map_err(Error::io(&parent))?;
    let tmp = path.with_extension("islet-tmp");
    let mut f = File::create(&tmp).map_err(Error::io(&tmp))?;
    f.write_all(bytes).map_err(Error::io(&tmp))?;
    f.sync_all().map_err(Error::io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
    File::open(&parent)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(&parent))
}

/// Publishes the tree from `old_size` to `size` into `dir`, checkpoint last.
///
/// # Errors
/// Store and I/O errors; [`Error::Inconsistent`] when the store lacks a
/// tile or bundle of the tree (the checkpoint is then not published, so the
/// directory never names a tree it does not hold).
pub fn publish(log: &SharedLog, dir: &Path, old_size: u64, size: u64, note: &[u8]) -> Result<()> {
    let missing = |path: &TilePath| Error::Inconsistent {
        what: format!("{path} of the tree of size {size} is missing"),
    };
    for tile in new_tiles(old_size, size) {
        let path = TilePath::Hash(tile);
        let data = log.tile_at(tile, size)?.ok_or_else(|| missing(&path))?;
        write_durably(dir, &path.to_string(), &data)?;
        if tile.level == 0 {
            let bundle = tile.bundle();
            let path = TilePath::Entries(bundle);
            let data = log.bundle_at(bundle, size)?.ok_or_else(|| missing(&path))?;
            write_durably(dir, &path.to_string(), &data)?;
        }
    }
    write_durably(dir, "checkpoint", note)
}

impl Publisher {
    /// Starts the publisher thread. Its first job publishes from size 0,
    /// so the directory is complete whatever state it was left in.
    ///
    /// # Errors
    /// [`Error::Io`] when the thread cannot start.
    pub fn start(log: SharedLog, dir: PathBuf) -> Result<Publisher> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("islet-publisher".into())
            .spawn(move || {
                let mut published = 0u64;
                while let Ok(mut job) = rx.recv() {
                    // Coalesce: only the newest head matters.
                    while let Ok(next) = rx.try_recv() {
                        job = Job {
                            old_size: job.old_size,
                            ..next
                        };
                    }
                    if job.size < published {
                        // A late cosigned copy of an older head: the
                        // directory already names a larger tree.
                        continue;
                    }
                    let from = published.min(job.old_size);
                    match publish(&log, &dir, from, job.size, &job.note) {
                        Ok(()) => published = job.size,
                        Err(e) => eprintln!(
                            "islet: publishing to {} failed (will retry): {e}",
                            dir.display()
                        ),
                    }
                }
            })
            .map_err(Error::io(Path::new("publisher thread")))?;
        Ok(Publisher { tx })
    }

    /// Queues a new head.
    pub fn send(&self, old_size: u64, size: u64, note: Vec<u8>) {
        let _ = self.tx.send(Job {
            old_size,
            size,
            note,
        });
    }
}
