//! The fork guard: the latest published checkpoint, recorded outside the
//! database, so that a store restored from an older copy refuses to start
//! instead of signing a second tree at sizes already published.
//!
//! The record is written after the batch is committed and before any
//! client sees the checkpoint, into the older of two slots of one file
//! (one write and one `fdatasync`; `guard/record.rs` has the format and why a
//! crash cannot lose both). On start the store must be at or ahead of the
//! record, and its tree at the record's size must have the record's root.
//!
//! On a store several nodes share (PostgreSQL), each node keeps its own
//! record (`../shared/specs/scale-out.md` §3.7). A node without one joins
//! the log as the database holds it: it records the stored checkpoint
//! (already verified with the log key) and guards from there on.

mod record;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use self::record::{Recorded, Writer};
use crate::error::{Error, Result};
use islet_store::{LogNumber, LogStore, TreeHead};
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::tree_hash;
use islet_tlog::note::NoteVerifier;

/// The record of the latest published checkpoint.
#[derive(Debug)]
pub struct CheckpointGuard {
    path: PathBuf,
    /// The store is shared with other nodes: a missing record means a
    /// node joining, not a data directory restored without its record.
    shared_store: bool,
    /// The record file, open after the first record of this process.
    writer: Mutex<Option<Writer>>,
}

impl CheckpointGuard {
    /// A guard recording into `path` (in the data directory, outside `db/`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            shared_store: false,
            writer: Mutex::new(None),
        }
    }

    /// A guard of one node of a store other nodes share: without a record
    /// the node records the stored head it starts from.
    pub fn for_shared_store(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            shared_store: true,
            writer: Mutex::new(None),
        }
    }

    /// Where the record lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses to create a new log where a checkpoint was already published.
    ///
    /// # Errors
    /// [`Error::Fork`] when a record exists.
    pub fn check_new_log(&self) -> Result<()> {
        if self.path.exists() {
            return Err(Error::Fork {
                reason: format!(
                    "{} records a published checkpoint, but the store is empty: the database was \
                     replaced or lost; refusing to start a new tree under the same key",
                    self.path.display()
                ),
            });
        }
        Ok(())
    }

    /// Checks the store's committed head against the record.
    ///
    /// # Errors
    /// [`Error::Fork`] naming the mismatch.
    pub fn check(
        &self,
        store: &dyn LogStore,
        log: LogNumber,
        head: &TreeHead,
        key: &NoteVerifier,
        origin: &str,
    ) -> Result<()> {
        let raw = match std::fs::read(&self.path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && head.size == 0 => {
                // A new log that stopped between its first commit and its
                // first record: nothing was published, an empty tree cannot
                // fork. Record it now.
                return self.record(&head.checkpoint);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.shared_store => {
                // A node joining a log other nodes wrote: what it will
                // guard from is the stored head, whose checkpoint the
                // caller verified with the log key.
                return self.record(&head.checkpoint);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Fork {
                    reason: format!(
                        "{} is missing while the store holds a tree of size {}: refusing to sign \
                         without knowing what was published",
                        self.path.display(),
                        head.size
                    ),
                });
            }
            Err(e) => return Err(Error::io(&self.path)(e)),
        };
        let note = match record::parse(&raw) {
            Ok(Recorded::Whole(note) | Recorded::Slot { note, .. }) => note,
            Err(why) => {
                return Err(Error::Fork {
                    reason: format!(
                        "{}: {why}: refusing to sign without knowing what was published",
                        self.path.display()
                    ),
                });
            }
        };
        let recorded =
            SignedCheckpoint::open(note, key, &[], Some(origin)).map_err(|e| Error::Fork {
                reason: format!(
                    "{} does not verify with the log key: {e}",
                    self.path.display()
                ),
            })?;
        let cp = recorded.checkpoint;
        if cp.size > head.size {
            return Err(Error::Fork {
                reason: format!(
                    "the store is at size {} but a checkpoint of size {} was published ({}): the \
                     store was restored from an older copy; signing now would fork the log",
                    head.size,
                    cp.size,
                    self.path.display()
                ),
            });
        }
        let root_then = tree_hash(
            cp.size,
            &islet_store::engine::hash_reader(store, log, head.size),
        )?;
        if root_then != cp.root {
            return Err(Error::Fork {
                reason: format!(
                    "the store's tree at size {} has root {}, but the published checkpoint has root {} ({})",
                    cp.size,
                    hex::encode(root_then),
                    hex::encode(cp.root),
                    self.path.display()
                ),
            });
        }
        Ok(())
    }

    /// Records a checkpoint durably: over the older slot of the record
    /// file, or, the first time (no file, a file from before slots, a note
    /// too long for its slots), into a new file put in place by rename.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn record(&self, note: &[u8]) -> Result<()> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        // After a failed write the slot it wrote may be torn: forget the
        // file, so that a later record reads it again first.
        let mut open = writer.take();
        if open.is_none() {
            open = Writer::open(&self.path)?;
        }
        let next = match open {
            Some(mut w) if w.fits(note) => {
                w.write(&self.path, note)?;
                w
            }
            other => {
                let seq = other.as_ref().map_or(1, Writer::next_seq);
                Writer::create(&self.path, note, seq)?
            }
        };
        *writer = Some(next);
        Ok(())
    }
}
