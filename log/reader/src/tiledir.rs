//! Writes a complete tlog-tiles directory (`checkpoint`, `tile/…`,
//! `tile/entries/…`) from a stream of entries and a signing key.
//!
//! Tests and benches use it to make logs of any size; memory stays bounded
//! (one bundle and one row of hashes per level). Files are written to a
//! temporary name and renamed, tiles and bundles first and the checkpoint
//! last, so a reader never sees a checkpoint ahead of its tiles.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::grow::{Grown, LogGrower};
use islet_tlog::note::NoteSigner;
use islet_tlog::tiles::{BundleId, TilePath, encode_hash_tile};

/// Builds a tlog-tiles directory entry by entry.
#[derive(Debug)]
pub struct TileDirWriter {
    dir: PathBuf,
    log: LogGrower,
}

fn bundle_path(id: BundleId) -> String {
    TilePath::Entries(id).to_string()
}

/// Writes `bytes` at `dir/rel` through a temporary file and a rename.
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_file_atomic(dir: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    let tmp = path.with_extension("islet-tmp");
    std::fs::write(&tmp, bytes).map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(Error::io(&path))
}

impl TileDirWriter {
    /// A writer for an empty log in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            log: LogGrower::new(),
        }
    }

    /// Entries written so far.
    pub fn size(&self) -> u64 {
        self.log.size()
    }

    /// Appends one entry.
    ///
    /// # Errors
    /// [`islet_tlog::Error::EntryTooLarge`] for an entry over 65,535 bytes; I/O errors.
    pub fn append(&mut self, entry: &[u8]) -> Result<()> {
        let dir = &self.dir;
        let mut failed = None;
        self.log.push(entry, &mut |grown| {
            if failed.is_some() {
                return;
            }
            failed = match grown {
                Grown::Tile(tile, hashes) => {
                    write_file_atomic(dir, &tile.to_string(), &encode_hash_tile(hashes))
                }
                Grown::Bundle(id, data) => write_file_atomic(dir, &bundle_path(id), data),
            }
            .err();
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Writes the partial tiles and bundle, then the checkpoint signed by
    /// `signers` (whose first key's name is the origin), and returns it.
    ///
    /// # Errors
    /// I/O and signing errors.
    pub fn finish(self, origin: &str, signers: &[&dyn NoteSigner]) -> Result<Checkpoint> {
        let edge = self.log.edge();
        for (tile, hashes) in edge.tiles {
            write_file_atomic(&self.dir, &tile.to_string(), &encode_hash_tile(hashes))?;
        }
        if let Some((id, data)) = edge.bundle {
            write_file_atomic(&self.dir, &bundle_path(id), data)?;
        }
        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            size: self.size(),
            root: self.log.root(),
            extensions: Vec::new(),
        };
        let note = checkpoint.sign(signers)?;
        write_file_atomic(&self.dir, "checkpoint", &note)?;
        Ok(checkpoint)
    }
}

/// Writes a whole log of `entries` into `dir` and signs its checkpoint.
///
/// # Errors
/// As [`TileDirWriter::append`] and [`TileDirWriter::finish`].
pub fn write_log<I, E>(
    dir: &Path,
    origin: &str,
    signer: &dyn NoteSigner,
    entries: I,
) -> Result<Checkpoint>
where
    I: IntoIterator<Item = E>,
    E: AsRef<[u8]>,
{
    let mut w = TileDirWriter::new(dir);
    for e in entries {
        w.append(e.as_ref())?;
    }
    w.finish(origin, &[signer])
}
