//! A local copy of logs, as offline verification reads it.
//!
//! [`LocalLogs`] is what `islet verify --log` checks a bundle against: the
//! tree a local copy holds of a log, its entries and the roots of its older
//! trees. The copy may be a data directory (the store implements the trait
//! for a read-only view of one), a tlog-tiles directory or a URL
//! ([`TileLog`], here). The verifier sees only the trait, so it never opens
//! a database.

use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::{Hash, tree_hash};
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{BundleId, TILE_WIDTH, TileHashReader, parse_bundle, tile_width};

use crate::error::{Error, Result};
use crate::source::{LogSource, Resource, SourceTiles};

/// The tree a local copy holds of one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalHead {
    /// Its size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

/// A local copy of one or more logs, each known by its origin.
pub trait LocalLogs: Send + Sync + std::fmt::Debug {
    /// The tree the copy holds of the log `origin` (whose checkpoints verify
    /// with `key`), or `None` when it holds no log of that origin.
    ///
    /// # Errors
    /// [`Error::Tlog`] when the copy's own checkpoint does not verify; read
    /// errors otherwise.
    fn head(&self, origin: &str, key: &NoteVerifier) -> Result<Option<LocalHead>>;

    /// Entry `index` of `origin` in its tree `head`, or `None` when the copy
    /// lacks it.
    ///
    /// # Errors
    /// Read errors; a malformed bundle.
    fn entry(&self, origin: &str, head: &LocalHead, index: u64) -> Result<Option<Vec<u8>>>;

    /// The root of `origin`'s tree of `size` entries (at most `head.size`),
    /// from the hashes the copy stores.
    ///
    /// # Errors
    /// Read errors; hashes that do not authenticate against `head`.
    fn root_at(&self, origin: &str, head: &LocalHead, size: u64) -> Result<Hash>;
}

/// A tlog-tiles log in a directory or behind a URL, as a local copy of the
/// one log its checkpoint names. Its checkpoint is fetched and verified once
/// per origin and key.
pub struct TileLog {
    source: LogSource,
    runtime: tokio::runtime::Runtime,
    head: std::sync::OnceLock<(String, u32, LocalHead)>,
}

impl std::fmt::Debug for TileLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TileLog({:?}, {:?})",
            self.source,
            self.head.get().map(|h| h.2.size)
        )
    }
}

impl TileLog {
    /// Reads the log at `arg`: a directory or an `http(s)://` prefix.
    ///
    /// # Errors
    /// As [`LogSource::from_arg`]; [`Error::Io`] when the runtime for the
    /// fetches cannot start.
    pub fn open(arg: &str) -> Result<TileLog> {
        let source = LogSource::from_arg(arg)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                path: "the runtime for fetches".into(),
                source,
            })?;
        Ok(TileLog {
            source,
            runtime,
            head: std::sync::OnceLock::new(),
        })
    }

    fn tiles(&self) -> SourceTiles<'_> {
        SourceTiles {
            source: &self.source,
            runtime: self.runtime.handle(),
        }
    }
}

impl LocalLogs for TileLog {
    fn head(&self, origin: &str, key: &NoteVerifier) -> Result<Option<LocalHead>> {
        if let Some((o, id, head)) = self.head.get()
            && o == origin
            && *id == key.key_id()
        {
            return Ok(Some(*head));
        }
        let note = self
            .runtime
            .block_on(self.source.fetch_required(Resource::Checkpoint))?;
        let signed = SignedCheckpoint::open(&note, key, &[], Some(origin))?;
        let head = LocalHead {
            size: signed.checkpoint.size,
            root: signed.checkpoint.root,
        };
        // A second origin or key in the same run is verified each time.
        let _first = self.head.set((origin.to_owned(), key.key_id(), head));
        Ok(Some(head))
    }

    fn entry(&self, _origin: &str, head: &LocalHead, index: u64) -> Result<Option<Vec<u8>>> {
        if index >= head.size {
            return Ok(None);
        }
        let b = index / u64::from(TILE_WIDTH);
        let id = BundleId {
            index: b,
            width: tile_width(head.size, 0, b).unwrap_or(TILE_WIDTH),
        };
        let data = self.runtime.block_on(self.source.fetch_bundle(id))?;
        let entries = parse_bundle(id, &data)?;
        let at = usize::try_from(index % u64::from(TILE_WIDTH)).unwrap_or(usize::MAX);
        Ok(entries.get(at).map(|e| e.to_vec()))
    }

    fn root_at(&self, _origin: &str, head: &LocalHead, size: u64) -> Result<Hash> {
        if size == head.size {
            return Ok(head.root);
        }
        let tiles = self.tiles();
        let reader = TileHashReader::new(head.size, head.root, &tiles);
        Ok(tree_hash(size, &reader)?)
    }
}
