//! A data directory opened read-only, as a local copy of logs for offline
//! verification: its own log (known by the origin in `islet.toml`) and
//! every mirror it holds. It may be served by `islet serve` at the same
//! time.

use std::path::Path;

use islet_reader::local::{LocalHead, LocalLogs};
use islet_tlog::merkle::{Hash, tree_hash};
use islet_tlog::note::NoteVerifier;

use crate::datadir::DataDir;
use crate::error::Result;
use crate::{LogNumber, Store};

/// The logs of a data directory, read-only.
#[derive(Debug)]
pub struct DataDirLogs {
    store: Store,
    own_origin: Option<String>,
}

impl DataDirLogs {
    /// Whether `path` is a data directory (it has a store).
    pub fn is_data_dir(path: &Path) -> bool {
        path.is_dir() && DataDir::new(path).db_path().is_dir()
    }

    /// Opens the data directory at `path` read-only.
    ///
    /// # Errors
    /// The store's errors ([`crate::Error::NoStore`] for a directory whose
    /// store was never completed); configuration errors.
    pub fn open(path: &Path) -> Result<DataDirLogs> {
        let data = DataDir::new(path);
        let store = Store::open_read_only(&data.db_path())?;
        let own_origin = if data.is_initialised() {
            data.load_config()?.origin
        } else {
            None
        };
        Ok(DataDirLogs { store, own_origin })
    }

    fn log(&self, origin: &str) -> Result<Option<LogNumber>> {
        if self.own_origin.as_deref() == Some(origin) {
            return Ok(Some(self.store.own_log()));
        }
        Ok(self.store.other_log(origin)?.map(|(number, _)| number))
    }

    fn known(&self, origin: &str) -> islet_reader::Result<LogNumber> {
        self.log(origin).map_err(backend)?.ok_or_else(|| {
            backend(crate::Error::Usage {
                reason: format!("the local data directory holds no log of origin {origin}"),
            })
        })
    }
}

fn backend(e: crate::Error) -> islet_reader::Error {
    islet_reader::Error::Backend {
        source: Box::new(e),
    }
}

impl LocalLogs for DataDirLogs {
    fn head(&self, origin: &str, _key: &NoteVerifier) -> islet_reader::Result<Option<LocalHead>> {
        // The store holds what was verified when it was written; its own
        // checkpoints are its own signatures.
        let Some(log) = self.log(origin).map_err(backend)? else {
            return Ok(None);
        };
        let head = self.store.tree_head(log).map_err(backend)?;
        Ok(Some(head.map_or(
            LocalHead {
                size: 0,
                root: islet_tlog::merkle::EMPTY_ROOT,
            },
            |h| LocalHead {
                size: h.size,
                root: h.root,
            },
        )))
    }

    fn entry(
        &self,
        origin: &str,
        head: &LocalHead,
        index: u64,
    ) -> islet_reader::Result<Option<Vec<u8>>> {
        let log = self.known(origin)?;
        self.store.entry(log, index, head.size).map_err(backend)
    }

    fn root_at(&self, origin: &str, head: &LocalHead, size: u64) -> islet_reader::Result<Hash> {
        if size == head.size {
            return Ok(head.root);
        }
        let log = self.known(origin)?;
        let reader = self.store.hash_reader(log, head.size);
        Ok(tree_hash(size, &reader)?)
    }
}
