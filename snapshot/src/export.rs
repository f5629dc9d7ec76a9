//! Export: a log (the own one or a mirror) from the store into a snapshot.
//!
//! The archive is reproducible: files in archive order (`checkpoint`, the
//! manifest, hash tiles, bundles; see [`crate::manifest`]), every header with mode 0644, uid and gid 0,
//! mtime 0 and no user or group names, and zstd at a fixed level, cut into
//! frames at fixed offsets ([`crate::frames`]). The same log, sizes and
//! level give the same bytes.
//!
//! Memory is bounded whatever the log size: files are read from the store
//! one at a time, twice (once to list their sizes and digests in the
//! manifest, which comes first, once to write them).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use islet_store::{LogNumber, LogStore, Store};
use islet_tlog::tiles::TilePath;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::frames::FrameWriter;
use crate::manifest::{FORMAT_VERSION, FileEntry, FileKind, Manifest, expected_files};
use crate::{MAX_ZSTD_LEVEL, MIN_ZSTD_LEVEL, progress_bar};

/// Files read ahead of the compressor (bundles are up to 16 MiB, typically
/// under 1 MiB). At 8, an export of the largest bundles peaked at 234 MiB.
pub const READ_AHEAD_FILES: usize = 4;

/// Which log to export, and how.
#[derive(Clone)]
pub struct ExportRequest<'a> {
    /// The store holding the log (either engine).
    pub store: &'a dyn LogStore,
    /// The log's number in the store.
    pub log: LogNumber,
    /// Its checkpoint origin.
    pub origin: String,
    /// Its verifier keys, written into the manifest (informative).
    pub log_keys: Vec<String>,
    /// Size the snapshot extends (0: a full snapshot).
    pub from: u64,
    /// Size it ends at (`None`: the log's current size).
    pub to: Option<u64>,
    /// zstd level.
    pub zstd_level: i32,
    /// Draw a progress bar on a terminal.
    pub progress: bool,
}

impl std::fmt::Debug for ExportRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportRequest")
            .field("engine", &self.store.engine())
            .field("log", &self.log)
            .field("origin", &self.origin)
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// What an export wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportReport {
    /// The log's origin.
    pub origin: String,
    /// Size extended.
    pub from_size: u64,
    /// Size reached.
    pub to_size: u64,
    /// Files in the archive, the manifest included.
    pub files: usize,
    /// Bytes of file contents.
    pub content_bytes: u64,
    /// Bytes of the compressed archive.
    pub archive_bytes: u64,
    /// SHA-256 of the archive, hex.
    pub sha256: String,
    /// Wall-clock time.
    #[serde(serialize_with = "crate::secs")]
    pub elapsed: Duration,
}

/// Reads one file of the snapshot out of the store.
fn read_file(
    req: &ExportRequest<'_>,
    kind: FileKind,
    to: u64,
    checkpoint: &[u8],
) -> Result<Vec<u8>> {
    let missing = |name: String| {
        Error::Store(islet_store::Error::Corrupt {
            what: format!("{name} of size {to} is missing from the store"),
        })
    };
    match kind {
        FileKind::Checkpoint => Ok(checkpoint.to_vec()),
        FileKind::Manifest => Err(Error::Usage {
            reason: "the manifest is not read from the store".into(),
        }),
        FileKind::Tile(TilePath::Hash(t)) => req
            .store
            .tile_at(req.log, t, to)?
            .ok_or_else(|| missing(t.to_string())),
        FileKind::Tile(TilePath::Entries(b)) => req
            .store
            .bundle_at(req.log, b, to)?
            .ok_or_else(|| missing(b.to_string())),
    }
}

fn header(name: &str, size: u64) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).map_err(|e| Error::Archive {
        reason: format!("cannot name {name:?}: {e}"),
    })?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(h)
}

/// A writer that hashes and counts what passes through.
struct Tee<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the snapshot to `out` (through a temporary file in the same
/// directory, synced and renamed: a crash leaves no half snapshot).
///
/// # Errors
/// [`Error::Usage`] for sizes the log has no checkpoint for or a bad level;
/// store and I/O errors.
pub fn export(req: &ExportRequest<'_>, out: &Path) -> Result<ExportReport> {
    let started = Instant::now();
    if !(MIN_ZSTD_LEVEL..=MAX_ZSTD_LEVEL).contains(&req.zstd_level) {
        return Err(Error::Usage {
            reason: format!(
                "zstd level {} is not in {MIN_ZSTD_LEVEL}..={MAX_ZSTD_LEVEL}",
                req.zstd_level
            ),
        });
    }
    let head = req.store.tree_head(req.log)?.ok_or_else(|| Error::Usage {
        reason: format!("the store has no entries of {} yet", req.origin),
    })?;
    let to = req.to.unwrap_or(head.size);
    if to > head.size || req.from > to {
        return Err(Error::Usage {
            reason: format!(
                "need from <= to <= {} (the size of {}); got from {} to {to}",
                head.size, req.origin, req.from
            ),
        });
    }
    // The stored checkpoint at that size carries the cosignatures its
    // witnesses added; the tree head's copy is the log's signature alone.
    let stored = req.store.checkpoint_at(req.log, to)?;
    let checkpoint = if to == head.size {
        stored.unwrap_or_else(|| head.checkpoint.clone())
    } else {
        stored.ok_or_else(|| Error::Usage {
            reason: format!(
                "no checkpoint of size {to} was signed for {}; choose a size one was signed at",
                req.origin
            ),
        })?
    };
    let files = expected_files(req.from, to);
    let bar = progress_bar(req.progress, 2 * files.len() as u64 + 1, "export");

    // Pass 1: sizes and digests for the manifest.
    let mut entries = Vec::with_capacity(files.len());
    let mut content_bytes = 0u64;
    for kind in &files {
        let data = read_file(req, *kind, to, &checkpoint)?;
        content_bytes += data.len() as u64;
        entries.push(FileEntry {
            name: kind.name(),
            size: data.len() as u64,
            sha256: hex::encode(Sha256::digest(&data)),
        });
        bar.inc(1);
    }
    let manifest = Manifest {
        version: FORMAT_VERSION,
        origin: req.origin.clone(),
        log_keys: req.log_keys.clone(),
        from_size: req.from,
        to_size: to,
        files: entries,
    };
    let manifest_bytes = manifest.to_bytes();

    // Pass 2: the archive, in name order.
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
    let file = tmp.as_file().try_clone().map_err(Error::io(tmp.path()))?;
    let tee = Tee {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let zstd = FrameWriter::new(tee, req.zstd_level).map_err(Error::io(out))?;
    let mut tar = tar::Builder::new(zstd);
    let mut order = files.clone();
    order.push(FileKind::Manifest);
    order.sort();
    // Reading the store and compressing each take about half the time:
    // a reader thread feeds the compressor through a short queue.
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<(FileKind, Vec<u8>)>>(READ_AHEAD_FILES);
        let reader_order = order.clone();
        let (checkpoint, manifest_bytes) = (&checkpoint, &manifest_bytes);
        scope.spawn(move || {
            for kind in reader_order {
                let data = match kind {
                    FileKind::Manifest => Ok(manifest_bytes.clone()),
                    k => read_file(req, k, to, checkpoint),
                };
                let failed = data.is_err();
                if tx.send(data.map(|d| (kind, d))).is_err() || failed {
                    return;
                }
            }
        });
        for _ in 0..order.len() {
            let (kind, data) = rx.recv().map_err(|_| Error::Usage {
                reason: "the store reader stopped".into(),
            })??;
            let h = header(&kind.name(), data.len() as u64)?;
            tar.append(&h, data.as_slice()).map_err(Error::io(out))?;
            if kind == FileKind::Manifest {
                // The checkpoint and the manifest get a frame of their own,
                // so import can check them while the rest is decoded.
                tar.get_mut().end_frame().map_err(Error::io(out))?;
            }
            bar.inc(1);
        }
        Ok(())
    })?;
    let zstd = tar.into_inner().map_err(Error::io(out))?;
    let mut tee = zstd.finish().map_err(Error::io(out))?;
    tee.flush().map_err(Error::io(out))?;
    let (archive_bytes, sha256) = (tee.bytes, hex::encode(tee.hasher.finalize()));
    tmp.as_file().sync_all().map_err(Error::io(tmp.path()))?;
    tmp.persist(out).map_err(|e| Error::Io {
        path: out.display().to_string(),
        source: e.error,
    })?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))?;
    bar.finish_and_clear();
    Ok(ExportReport {
        origin: req.origin.clone(),
        from_size: req.from,
        to_size: to,
        files: files.len() + 1,
        content_bytes,
        archive_bytes,
        sha256,
        elapsed: started.elapsed(),
    })
}

/// The log to export: the own log (its origin is `own_origin`, when the
/// data directory has one) unless `origin` names a mirror. Returns its
/// number, its origin and, for a mirror, its pinned keys.
///
/// # Errors
/// [`Error::Usage`] when the store has no log of that origin, or no own
/// log and no `origin` was given.
pub fn log_of(
    store: &Store,
    own_origin: Option<&str>,
    origin: Option<&str>,
) -> Result<(LogNumber, String, Vec<String>)> {
    match (origin, own_origin) {
        (None, Some(own)) => Ok((store.own_log(), own.to_owned(), Vec::new())),
        (None, None) => Err(Error::Usage {
            reason: "this data directory has no log of its own (it only mirrors): give --origin of a log it mirrors".into(),
        }),
        (Some(o), Some(own)) if o == own => Ok((store.own_log(), o.to_owned(), Vec::new())),
        (Some(o), _) => store
            .other_log(o)?
            .map(|(number, vkeys)| (number, o.to_owned(), vkeys))
            .ok_or_else(|| Error::Usage {
                reason: format!("this data directory has no log of origin {o:?}"),
            }),
    }
}
