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

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;
use std::rc::Rc;
use std::time::{Duration, Instant};

use islet_log::checkpoint::SignedCheckpoint;
use islet_log::extend::{Extension, MirrorTarget, Standing};
use islet_log::note::{MAX_NOTE_SIZE, NoteVerifier};
use islet_log::store::{Store, TreeHead};
use islet_log::tiles::{TileId, TilePath, parse_hash_tile};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::manifest::{CHECKPOINT_NAME, FileKind, MANIFEST_NAME, MAX_MANIFEST_BYTES, Manifest};
use crate::{MAX_BUNDLE_BYTES, ZSTD_WINDOW_LOG_MAX, progress_bar};

/// Bytes of a tar header block.
const BLOCK: u64 = 512;
/// Decompressed bytes allowed before the manifest has said how large the
/// archive is: two headers, the largest checkpoint and the largest
/// manifest, each padded to a block.
pub const PRE_MANIFEST_CAP: u64 = 4 * BLOCK + MAX_NOTE_SIZE as u64 + MAX_MANIFEST_BYTES;
/// What may follow the last file: tar's end-of-archive blocks and record
/// padding (a tar record is at most 20 blocks of zeros here).
pub const END_SLACK: u64 = 20 * BLOCK;
pub use islet_log::extend::STAGE_BATCH_BYTES;

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

fn archive(reason: impl Into<String>) -> Error {
    Error::Archive {
        reason: reason.into(),
    }
}

/// Caps the decompressed stream; the cap can be raised once the manifest
/// says how much is coming.
struct Capped<R> {
    inner: R,
    read: Rc<Cell<u64>>,
    limit: Rc<Cell<u64>>,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.limit.get().saturating_sub(self.read.get());
        if left == 0 {
            // Is there more? One byte past the cap is too much.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.exceeded.set(true);
                    Err(std::io::Error::other("decompressed past the cap"))
                }
            };
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
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

/// Imports the snapshot read from `reader`.
///
/// # Errors
/// [`Error::is_refusal`] errors for a snapshot that is damaged, forged or
/// does not apply; [`Error::Io`], [`Error::Usage`] otherwise. The store is
/// unchanged after any error (except for evidence of a fork, which is
/// kept).
pub fn import(req: &ImportRequest<'_>, reader: impl Read) -> Result<ImportReport> {
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

    let read = Rc::new(Cell::new(0u64));
    let limit = Rc::new(Cell::new(PRE_MANIFEST_CAP));
    let exceeded = Rc::new(Cell::new(false));
    let mut decoder =
        zstd::stream::read::Decoder::new(reader).map_err(|e| archive(format!("not zstd: {e}")))?;
    decoder
        .window_log_max(ZSTD_WINDOW_LOG_MAX)
        .map_err(|e| archive(format!("zstd: {e}")))?;
    let capped = Capped {
        inner: decoder,
        read: Rc::clone(&read),
        limit: Rc::clone(&limit),
        exceeded: Rc::clone(&exceeded),
    };
    let mut session = Session {
        req,
        key,
        local,
        read,
        limit,
        exceeded,
        started,
    };
    let result = session.run(capped);
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
    read: Rc<Cell<u64>>,
    limit: Rc<Cell<u64>>,
    exceeded: Rc<Cell<bool>>,
    started: Instant,
}

impl Session<'_, '_> {
    fn run<R: Read>(&mut self, stream: Capped<R>) -> Result<ImportReport> {
        let mut tar = tar::Archive::new(stream);
        let mut entries = tar
            .entries()
            .map_err(|e| archive(format!("not a tar archive: {e}")))?;
        let mut previous: Option<FileKind> = None;

        // 1. The checkpoint.
        let (kind, mut entry) = self.next_file(&mut entries, &mut previous)?;
        if kind != FileKind::Checkpoint {
            return Err(archive(format!(
                "the first file is {:?}, not {CHECKPOINT_NAME:?}",
                kind.name()
            )));
        }
        let size = entry.size();
        if size > MAX_NOTE_SIZE as u64 {
            return Err(archive(format!(
                "{CHECKPOINT_NAME} is {size} bytes; a checkpoint is at most {MAX_NOTE_SIZE}"
            )));
        }
        let cp_bytes = self.read(&mut entry, size, CHECKPOINT_NAME)?;
        drop(entry);
        let signed = SignedCheckpoint::open(&cp_bytes, &self.key, &[], Some(&self.req.origin))
            .map_err(|e| Error::Checkpoint {
                reason: e.to_string(),
            })?;
        let (to, root) = (signed.checkpoint.size, signed.checkpoint.root);

        // 2. The manifest.
        let (kind, mut entry) = self.next_file(&mut entries, &mut previous)?;
        if kind != FileKind::Manifest {
            return Err(archive(format!(
                "the second file is {:?}, not {MANIFEST_NAME:?}",
                kind.name()
            )));
        }
        let size = entry.size();
        if size > MAX_MANIFEST_BYTES {
            return Err(archive(format!(
                "{MANIFEST_NAME} is {size} bytes; at most {MAX_MANIFEST_BYTES} are accepted"
            )));
        }
        let manifest = Manifest::parse(&self.read(&mut entry, size, MANIFEST_NAME)?)?;
        drop(entry);
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
        let declared: u64 = manifest
            .files
            .iter()
            .map(|f| BLOCK + f.size.div_ceil(BLOCK) * BLOCK)
            .sum();
        self.limit.set(
            self.read
                .get()
                .saturating_add(declared)
                .saturating_add(END_SLACK),
        );

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

        // 4 and 5. Tiles, then bundles, rebuilt on top of the local tree.
        let mut rebuild = Extension::start(
            self.req.store,
            self.local.log,
            self.local.head.as_ref(),
            from,
        )
        .map_err(diverges)?
        .track_tiles();
        let mut carried: BTreeMap<TileId, [u8; 32]> = BTreeMap::new();
        let bar = progress_bar(self.req.progress, to - from, "import");
        for expected in manifest.files.iter().skip(1) {
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
            check_file(expected, &data)?;
            match path {
                TilePath::Hash(t) => {
                    parse_hash_tile(t, &data)?;
                    carried.insert(t, Sha256::digest(&data).into());
                }
                TilePath::Entries(b) => {
                    let before = rebuild.size();
                    rebuild.push_bundle(b, data).map_err(diverges)?;
                    bar.inc(rebuild.size() - before);
                }
            }
        }
        bar.finish_and_clear();
        self.expect_end(&mut entries)?;
        let stream = tar.into_inner();
        self.expect_only_padding(stream)?;

        // The tree the entries make must be the signed one, tile for tile.
        let finished = rebuild.finish(to, root).map_err(|e| match e {
            islet_log::Error::SizeMismatch { found, expected } => Error::TreeMismatch {
                reason: format!("the bundles hold {found} entries, the checkpoint says {expected}"),
            },
            islet_log::Error::RootMismatch {
                computed, signed, ..
            } => Error::TreeMismatch {
                reason: format!(
                    "the entries hash to root {computed}, the checkpoint signs {signed}"
                ),
            },
            other => Error::Log(other),
        })?;
        for (t, digest) in &carried {
            if finished.produced.get(t) != Some(digest) {
                return Err(Error::TreeMismatch {
                    reason: format!("{t} is not the tile the entries produce"),
                });
            }
        }

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
            unpacked_bytes: self.read.get(),
            elapsed: self.started.elapsed(),
        }
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

    /// After the tar's end: nothing but zeros, within [`END_SLACK`], and a
    /// zstd frame that ends cleanly (its checksum is checked there).
    fn expect_only_padding<R: Read>(&self, mut stream: Capped<R>) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut trailing = 0u64;
        loop {
            let n = stream.read(&mut buf).map_err(|e| self.stream_error(&e))?;
            if n == 0 {
                return Ok(());
            }
            trailing += n as u64;
            if trailing > END_SLACK {
                return Err(archive(format!(
                    "decompresses past {} bytes, more than its files declare (a zstd bomb?)",
                    self.read.get()
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
        } else if self.exceeded.get() {
            archive(format!(
                "decompresses past {} bytes, more than its files declare (a zstd bomb?)",
                self.limit.get()
            ))
        } else {
            archive(format!("cannot be read: {text}"))
        }
    }
}

/// Finding the mirror: usage errors stay usage errors, a key other than
/// the pinned one is a checkpoint refusal.
fn target_error(e: islet_log::Error) -> Error {
    match e {
        islet_log::Error::Usage { reason } => Error::Usage {
            reason: reason.replace("mirror it into", "import it into"),
        },
        islet_log::Error::KeyNotPinned { reason } => Error::Checkpoint { reason },
        other => Error::Log(other),
    }
}

/// Entries that disagree with the local copy are a fork, told in the
/// snapshot's words.
fn diverges(e: islet_log::Error) -> Error {
    match e {
        islet_log::Error::Diverges { reason } => Error::Fork {
            reason: reason.replace("the first", "the snapshot's first"),
        },
        islet_log::Error::BundleMalformed { path, reason }
            if reason.starts_with("does not continue") =>
        {
            archive(format!("{path} is out of order"))
        }
        other => Error::Log(other),
    }
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

/// The bytes of a file must have the manifest's size and digest.
fn check_file(expected: &crate::manifest::FileEntry, data: &[u8]) -> Result<()> {
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
    let digest = hex::encode(Sha256::digest(data));
    if digest != expected.sha256 {
        return Err(Error::FileMismatch {
            name: expected.name.clone(),
            reason: format!(
                "has SHA-256 {digest}; the manifest says {}",
                expected.sha256
            ),
        });
    }
    Ok(())
}
