//! Reading a snapshot archive on a thread of its own: zstd, tar, and every
//! check of the archive against its manifest (entry types, names, order,
//! sizes, caps, digests), so that import can rebuild the tree from one
//! file while the next ones are decompressed and hashed.
//!
//! The reader sends the checkpoint and the manifest, then waits for the
//! [`Plan`] the importer derives from them (the files to expect and the
//! decompression cap); it then sends every file, checked, and finally
//! [`Item::End`] once the tar has ended and only padding followed. Any
//! failure is sent as the last item. At most [`READ_AHEAD_FILES`] files
//! wait in the queue.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use islet_log::note::MAX_NOTE_SIZE;
use islet_log::tiles::TilePath;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::manifest::{CHECKPOINT_NAME, FileEntry, FileKind, MANIFEST_NAME, MAX_MANIFEST_BYTES};
use crate::{MAX_BUNDLE_BYTES, ZSTD_WINDOW_LOG_MAX};

/// Files read ahead of the importer (each at most one bundle, 16 MiB).
pub const READ_AHEAD_FILES: usize = 4;

pub(crate) fn archive(reason: impl Into<String>) -> Error {
    Error::Archive {
        reason: reason.into(),
    }
}

/// Decompressed bytes read and the current cap, shared with the importer.
#[derive(Debug)]
pub(crate) struct Counters {
    /// Decompressed bytes read so far.
    pub(crate) read: AtomicU64,
    limit: AtomicU64,
    exceeded: AtomicBool,
}

impl Counters {
    pub(crate) fn new(limit: u64) -> Arc<Counters> {
        Arc::new(Counters {
            read: AtomicU64::new(0),
            limit: AtomicU64::new(limit),
            exceeded: AtomicBool::new(false),
        })
    }
}

/// Caps the decompressed stream; the cap is raised once the manifest says
/// how much is coming.
struct Capped<R> {
    inner: R,
    counters: Arc<Counters>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let c = &self.counters;
        let read = c.read.load(Ordering::Relaxed);
        let left = c.limit.load(Ordering::Relaxed).saturating_sub(read);
        if left == 0 {
            // Is there more? One byte past the cap is too much.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    c.exceeded.store(true, Ordering::Relaxed);
                    Err(std::io::Error::other("decompressed past the cap"))
                }
            };
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        c.read.store(read + n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What the reader sends, in archive order.
#[derive(Debug)]
pub(crate) enum Item {
    /// The first file.
    Checkpoint(Vec<u8>),
    /// The second file.
    Manifest(Vec<u8>),
    /// A tile or bundle, with the name, size and digest the plan gave
    /// (the digest is its SHA-256).
    File(TilePath, Vec<u8>, [u8; 32]),
    /// The archive ended where the manifest said, with only padding after.
    End,
}

/// What the importer tells the reader once it has read the manifest.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The files after the checkpoint and the manifest, in order.
    pub(crate) files: Vec<FileEntry>,
    /// The decompressed bytes allowed in all.
    pub(crate) limit: u64,
}

/// Reads the archive from `reader` and sends its items to `items`; waits
/// on `plan` after the manifest. Returns when done, on a failure (sent),
/// or when the importer hangs up.
pub(crate) fn read_archive<R: Read>(
    reader: R,
    counters: Arc<Counters>,
    items: &SyncSender<Result<Item>>,
    plan: &Receiver<Plan>,
) {
    let reading = Reading {
        counters: Arc::clone(&counters),
    };
    if let Err(e) = reading.run(reader, items, plan) {
        let _ = items.send(Err(e));
    }
}

struct Reading {
    counters: Arc<Counters>,
}

/// The importer stopped listening: nothing more to do.
struct HungUp;

impl From<HungUp> for Error {
    fn from(_: HungUp) -> Error {
        archive("the import stopped")
    }
}

impl Reading {
    fn run<R: Read>(
        &self,
        reader: R,
        items: &SyncSender<Result<Item>>,
        plan: &Receiver<Plan>,
    ) -> Result<()> {
        let send = |item: Item| items.send(Ok(item)).map_err(|_| HungUp);
        let mut decoder = zstd::stream::read::Decoder::new(reader)
            .map_err(|e| archive(format!("not zstd: {e}")))?;
        decoder
            .window_log_max(ZSTD_WINDOW_LOG_MAX)
            .map_err(|e| archive(format!("zstd: {e}")))?;
        let stream = Capped {
            inner: decoder,
            counters: Arc::clone(&self.counters),
        };
        let mut tar = tar::Archive::new(stream);
        let mut entries = tar
            .entries()
            .map_err(|e| archive(format!("not a tar archive: {e}")))?;
        let mut previous: Option<FileKind> = None;

        // The checkpoint, then the manifest.
        let data =
            self.read_leading(&mut entries, &mut previous, FileKind::Checkpoint, |size| {
                (size > MAX_NOTE_SIZE as u64).then(|| {
                    format!(
                        "{CHECKPOINT_NAME} is {size} bytes; a checkpoint is at most {MAX_NOTE_SIZE}"
                    )
                })
            })?;
        if send(Item::Checkpoint(data)).is_err() {
            return Ok(());
        }
        let data = self.read_leading(&mut entries, &mut previous, FileKind::Manifest, |size| {
            (size > MAX_MANIFEST_BYTES).then(|| {
                format!(
                    "{MANIFEST_NAME} is {size} bytes; at most {MAX_MANIFEST_BYTES} are accepted"
                )
            })
        })?;
        if send(Item::Manifest(data)).is_err() {
            return Ok(());
        }
        let Ok(plan) = plan.recv() else {
            return Ok(());
        };
        self.counters.limit.store(plan.limit, Ordering::Relaxed);

        // Every further file, as the manifest lists it.
        for expected in &plan.files {
            let (kind, mut entry) = self.next_file(&mut entries, &mut previous)?;
            if kind.name() != expected.name {
                return Err(archive(format!(
                    "holds {:?} where the manifest lists {:?}",
                    kind.name(),
                    expected.name
                )));
            }
            let size = entry.size();
            if size != expected.size {
                return Err(Error::FileMismatch {
                    name: expected.name.clone(),
                    reason: format!("is {size} bytes; the manifest says {}", expected.size),
                });
            }
            let FileKind::Tile(path) = kind else {
                return Err(archive(format!("{:?} appears twice", kind.name())));
            };
            let cap = match path {
                TilePath::Hash(t) => t.byte_len() as u64,
                TilePath::Entries(_) => MAX_BUNDLE_BYTES,
            };
            if size > cap {
                return Err(Error::FileMismatch {
                    name: expected.name.clone(),
                    reason: format!("is {size} bytes; at most {cap} fit its kind"),
                });
            }
            let data = self.read(&mut entry, size, &expected.name)?;
            drop(entry);
            let digest = check_file(expected, &data)?;
            if send(Item::File(path, data, digest)).is_err() {
                return Ok(());
            }
        }
        self.expect_end(&mut entries)?;
        self.expect_only_padding(tar.into_inner())?;
        let _ = send(Item::End);
        Ok(())
    }

    /// Reads the next file, which must be `want` (the checkpoint or the
    /// manifest) and pass `too_large` (the refusal for its size, if any).
    fn read_leading<R: Read>(
        &self,
        entries: &mut tar::Entries<'_, R>,
        previous: &mut Option<FileKind>,
        want: FileKind,
        too_large: impl FnOnce(u64) -> Option<String>,
    ) -> Result<Vec<u8>> {
        let (kind, mut entry) = self.next_file(entries, previous)?;
        if kind != want {
            let which = if want == FileKind::Checkpoint {
                "first"
            } else {
                "second"
            };
            return Err(archive(format!(
                "the {which} file is {:?}, not {:?}",
                kind.name(),
                want.name()
            )));
        }
        let size = entry.size();
        if let Some(reason) = too_large(size) {
            return Err(archive(reason));
        }
        self.read(&mut entry, size, &want.name())
    }

    /// The next archive entry, checked: a regular file, no extended headers,
    /// a known name, after the previous one in archive order.
    fn next_file<'e, R: Read>(
        &self,
        entries: &mut tar::Entries<'e, R>,
        previous: &mut Option<FileKind>,
    ) -> Result<(FileKind, tar::Entry<'e, R>)> {
        let entry = match entries.next() {
            None => return Err(archive("ends before all the files the manifest lists")),
            Some(e) => e.map_err(|e| self.stream_error(&e))?,
        };
        let mut entry = entry;
        let header_name = entry.header().path_bytes().into_owned();
        let name_bytes = entry.path_bytes().into_owned();
        let name = String::from_utf8(name_bytes.clone())
            .map_err(|_| archive("an entry name is not UTF-8"))?;
        if header_name != name_bytes {
            return Err(archive(format!(
                "{name:?} is named by an extended header; only plain names are accepted"
            )));
        }
        if let Ok(Some(_)) = entry.pax_extensions() {
            return Err(archive(format!("{name:?} carries pax extended headers")));
        }
        let kind = entry.header().entry_type();
        if kind != tar::EntryType::Regular {
            return Err(archive(format!(
                "{name:?} is a {}; only regular files are accepted",
                entry_type_name(kind)
            )));
        }
        let file = match name.as_str() {
            CHECKPOINT_NAME => FileKind::Checkpoint,
            MANIFEST_NAME => FileKind::Manifest,
            other => FileKind::Tile(TilePath::parse(other).map_err(|e| archive(format!("{e}")))?),
        };
        if let Some(p) = previous
            && *p >= file
        {
            return Err(archive(if *p == file {
                format!("{name:?} appears twice")
            } else {
                format!("{name:?} is out of order (after {:?})", p.name())
            }));
        }
        *previous = Some(file);
        Ok((file, entry))
    }

    fn expect_end<R: Read>(&self, entries: &mut tar::Entries<'_, R>) -> Result<()> {
        match entries.next() {
            None => Ok(()),
            Some(Ok(e)) => Err(archive(format!(
                "holds {:?}, which the manifest does not list",
                String::from_utf8_lossy(&e.path_bytes())
            ))),
            Some(Err(e)) => Err(self.stream_error(&e)),
        }
    }

    /// After the tar's end: nothing but zeros, within [`crate::import::END_SLACK`],
    /// and a zstd frame that ends cleanly (its checksum is checked there).
    fn expect_only_padding<R: Read>(&self, mut stream: Capped<R>) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut trailing = 0u64;
        loop {
            let n = stream.read(&mut buf).map_err(|e| self.stream_error(&e))?;
            if n == 0 {
                return Ok(());
            }
            trailing += n as u64;
            if trailing > crate::import::END_SLACK {
                return Err(archive(format!(
                    "decompresses past {} bytes, more than its files declare (a zstd bomb?)",
                    self.counters.read.load(Ordering::Relaxed)
                )));
            }
            if buf[..n].iter().any(|b| *b != 0) {
                return Err(archive("data follows the end of the archive"));
            }
        }
    }

    fn read(&self, entry: &mut impl Read, size: u64, name: &str) -> Result<Vec<u8>> {
        read_entry(entry, size, name).map_err(|e| self.stream_error(&e))
    }

    fn stream_error(&self, e: &std::io::Error) -> Error {
        let text = e.to_string();
        if text.contains("Frame requires too much memory") {
            archive(format!(
                "its zstd window is larger than the 2^{ZSTD_WINDOW_LOG_MAX} bytes accepted"
            ))
        } else if self.counters.exceeded.load(Ordering::Relaxed) {
            archive(format!(
                "decompresses past {} bytes, more than its files declare (a zstd bomb?)",
                self.counters.limit.load(Ordering::Relaxed)
            ))
        } else {
            archive(format!("cannot be read: {text}"))
        }
    }
}

/// Reads a whole archive entry of `size` bytes (already checked against
/// its cap).
fn read_entry(entry: &mut impl Read, size: u64, name: &str) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    entry.take(size).read_to_end(&mut data)?;
    if data.len() as u64 != size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{name} ends after {} of {size} bytes", data.len()),
        ));
    }
    Ok(data)
}

fn entry_type_name(t: tar::EntryType) -> &'static str {
    match t {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Directory => "directory",
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::XHeader | tar::EntryType::XGlobalHeader => "pax header",
        tar::EntryType::GNULongName | tar::EntryType::GNULongLink => "GNU long name",
        tar::EntryType::GNUSparse => "sparse file",
        _ => "special entry",
    }
}

/// The bytes of a file must have the manifest's size and digest; that
/// digest.
pub(crate) fn check_file(expected: &FileEntry, data: &[u8]) -> Result<[u8; 32]> {
    if data.len() as u64 != expected.size {
        return Err(Error::FileMismatch {
            name: expected.name.clone(),
            reason: format!(
                "is {} bytes; the manifest says {}",
                data.len(),
                expected.size
            ),
        });
    }
    let sha256: [u8; 32] = Sha256::digest(data).into();
    let digest = hex::encode(sha256);
    if digest != expected.sha256 {
        return Err(Error::FileMismatch {
            name: expected.name.clone(),
            reason: format!(
                "has SHA-256 {digest}; the manifest says {}",
                expected.sha256
            ),
        });
    }
    Ok(sha256)
}
