//! Reading a snapshot archive on a thread of its own: zstd (its frames
//! decoded on the pool of [`crate::frames`]), tar ([`crate::ustar`]), and
//! every check of the archive against its manifest (entry types, names,
//! order, sizes, caps, digests), so that import can rebuild the tree from
//! one file while the next ones are decompressed and hashed.
//!
//! The reader sends the checkpoint and the manifest, then waits for the
//! [`Plan`] the importer derives from them (the files to expect and the
//! decompression cap); it then sends every file, checked, and finally
//! [`Item::End`] once the tar has ended and only padding followed. Any
//! failure is sent as the last item. At most [`READ_AHEAD_FILES`] files
//! wait in the queue.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use bytes::Bytes;
use islet_tlog::note::MAX_NOTE_SIZE;
use islet_tlog::tiles::TilePath;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::manifest::{
    CHECKPOINT_NAME, FileEntry, FileKind, MANIFEST_NAME, MAX_MANIFEST_BYTES, Manifest,
};
use crate::ustar::{EntryKind, TarStream};
use crate::{BLOCK, END_SLACK, MAX_BUNDLE_BYTES};

/// Files read ahead of the importer (each at most one bundle, 16 MiB).
pub const READ_AHEAD_FILES: usize = 4;

/// An [`Error::Archive`] saying `reason`.
pub fn archive(reason: impl Into<String>) -> Error {
    Error::Archive {
        reason: reason.into(),
    }
}

/// Decompressed bytes consumed and the current cap, shared with the
/// importer.
#[derive(Debug)]
pub struct Counters {
    /// Decompressed bytes consumed so far.
    pub read: AtomicU64,
    /// Decompressed bytes allowed in all (raised once the manifest is read).
    pub limit: AtomicU64,
}

impl Counters {
    /// Counters at zero, with the cap `limit`.
    pub fn new(limit: u64) -> Arc<Counters> {
        Arc::new(Counters {
            read: AtomicU64::new(0),
            limit: AtomicU64::new(limit),
        })
    }
}

/// What the reader sends, in archive order.
#[derive(Debug)]
pub enum Item {
    /// The first file.
    Checkpoint(Vec<u8>),
    /// The second file.
    Manifest(Vec<u8>),
    /// A tile or bundle, with the name, size and digest the plan gave
    /// (the digest is its SHA-256). Its bytes share the decoded frame.
    File(TilePath, Bytes, [u8; 32]),
    /// The archive ended where the manifest said, with only padding after.
    End,
}

/// What the importer tells the reader once it has read the manifest.
#[derive(Debug)]
pub struct Plan {
    /// The files after the checkpoint and the manifest, in order.
    pub files: Vec<FileEntry>,
    /// The decompressed bytes allowed in all.
    pub limit: u64,
}

impl Plan {
    /// The plan for `manifest`, read after `read` decompressed bytes: the
    /// files after the checkpoint, and a cap of what they declare (each
    /// padded to whole blocks, with its header), plus the tar's end.
    pub fn for_manifest(manifest: &Manifest, read: u64) -> Plan {
        let declared: u64 = manifest
            .files
            .iter()
            .map(|f| BLOCK.saturating_add(f.size.div_ceil(BLOCK).saturating_mul(BLOCK)))
            .fold(0u64, u64::saturating_add);
        Plan {
            files: manifest.files.get(1..).unwrap_or_default().to_vec(),
            limit: read.saturating_add(declared).saturating_add(END_SLACK),
        }
    }
}

/// Reads the archive from `reader` and sends its items to `items`; waits
/// on `plan` after the manifest. Returns when done, on a failure (sent),
/// or when the importer hangs up.
pub fn read_archive<R: Read>(
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
        let mut tar = TarStream::new(reader, Arc::clone(&self.counters))?;
        let mut previous: Option<FileKind> = None;

        // The checkpoint, then the manifest.
        let data = read_leading(&mut tar, &mut previous, FileKind::Checkpoint, |size| {
            (size > MAX_NOTE_SIZE as u64).then(|| {
                format!(
                    "{CHECKPOINT_NAME} is {size} bytes; a checkpoint is at most {MAX_NOTE_SIZE}"
                )
            })
        })?;
        if send(Item::Checkpoint(data.to_vec())).is_err() {
            return Ok(());
        }
        let data = read_leading(&mut tar, &mut previous, FileKind::Manifest, |size| {
            (size > MAX_MANIFEST_BYTES).then(|| {
                format!(
                    "{MANIFEST_NAME} is {size} bytes; at most {MAX_MANIFEST_BYTES} are accepted"
                )
            })
        })?;
        if send(Item::Manifest(data.to_vec())).is_err() {
            return Ok(());
        }
        drop(data);
        let Ok(plan) = plan.recv() else {
            return Ok(());
        };
        self.counters.limit.store(plan.limit, Ordering::Relaxed);

        // Every further file, as the manifest lists it.
        for expected in &plan.files {
            let (kind, size) = next_file(&mut tar, &mut previous)?;
            if kind.name() != expected.name {
                return Err(archive(format!(
                    "holds {:?} where the manifest lists {:?}",
                    kind.name(),
                    expected.name
                )));
            }
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
            let data = tar.data(&expected.name, size)?;
            let digest = check_file(expected, &data)?;
            if send(Item::File(path, data, digest)).is_err() {
                return Ok(());
            }
        }
        if let Some(h) = tar.next_header()? {
            return Err(archive(format!(
                "holds {:?}, which the manifest does not list",
                h.name
            )));
        }
        tar.expect_only_padding(END_SLACK)?;
        let _ = send(Item::End);
        Ok(())
    }
}

/// Reads the next file, which must be `want` (the checkpoint or the
/// manifest) and pass `too_large` (the refusal for its size, if any).
fn read_leading<R: Read>(
    tar: &mut TarStream<R>,
    previous: &mut Option<FileKind>,
    want: FileKind,
    too_large: impl FnOnce(u64) -> Option<String>,
) -> Result<Bytes> {
    let (kind, size) = next_file(tar, previous)?;
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
    if let Some(reason) = too_large(size) {
        return Err(archive(reason));
    }
    tar.data(&want.name(), size)
}

/// The next archive entry's header, checked: a regular file with a known
/// name, after the previous one in archive order. Its data comes next.
fn next_file<R: Read>(
    tar: &mut TarStream<R>,
    previous: &mut Option<FileKind>,
) -> Result<(FileKind, u64)> {
    let Some(header) = tar.next_header()? else {
        return Err(archive("ends before all the files the manifest lists"));
    };
    let name = header.name;
    if let EntryKind::Other(what) = header.kind {
        return Err(archive(format!(
            "{name:?} is a {what}; only regular files are accepted"
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
    Ok((file, header.size))
}

/// The bytes of a file must have the manifest's size and digest; that
/// digest.
pub fn check_file(expected: &FileEntry, data: &[u8]) -> Result<[u8; 32]> {
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
