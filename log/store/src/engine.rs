//! The storage engine of a log, as the sequencer, the HTTP layer, mirrors,
//! snapshots and fsck see it: [`LogStore`].
//!
//! Two engines implement it: RocksDB ([`crate::Store`], embedded, the
//! default) and PostgreSQL (`islet-pgstore`, for one log served by several
//! nodes). An engine provides the raw reads (the tree head, a tile or
//! bundle at its latest width, checkpoints, the dedup and search indexes)
//! and one write, [`LogStore::append`]: a batch committed together with
//! the new head only if the stored head is still the one the writer grew
//! from. Everything else (a tile or bundle as of a tree size, an entry, a
//! hash reader for proofs) is built here on those, the same for both.

use islet_tlog::grow::{Grown, LogGrower};
use islet_tlog::merkle::{Hash, HashReader};
use islet_tlog::tiles::{
    BundleId, TILE_WIDTH, TileId, bundle_prefix_len, encode_hash_tile, for_each_bundle_entry,
    hash_from_tile, parse_hash_tile, partial_tiles, tile_for_stored_hash, tile_width,
};

use crate::error::{Result, corrupt};
use crate::schema::{BundleAppend, CommitBatch, LogNumber, SearchKind, TreeHead};

/// What a storage engine of islet answers and does.
///
/// Reads are as of the moment of the call; a tile or bundle is returned at
/// the latest width the engine holds (callers cut it to a tree size with
/// the provided methods). Implementations are shared between threads.
pub trait LogStore: Send + Sync {
    /// The engine's name for messages and metrics (`rocksdb`, `postgres`).
    fn engine(&self) -> &'static str;

    /// Whether [`LogStore::append`] takes [`CommitBatch::bundle_appends`]
    /// (an engine that does not is never given any).
    fn appends_bundles(&self) -> bool {
        false
    }

    /// The committed tree head of a log, if it has one.
    ///
    /// # Errors
    /// The engine's failure.
    fn tree_head(&self, log: LogNumber) -> Result<Option<TreeHead>>;

    /// The stored bytes of hash tile `(level, index)` at its latest width.
    ///
    /// # Errors
    /// The engine's failure.
    fn tile(&self, log: LogNumber, level: u8, index: u64) -> Result<Option<Vec<u8>>>;

    /// The stored bytes of entry bundle `index` at its latest width.
    ///
    /// # Errors
    /// The engine's failure.
    fn bundle(&self, log: LogNumber, index: u64) -> Result<Option<Vec<u8>>>;

    /// The signed checkpoint of `size`, if one was signed.
    ///
    /// # Errors
    /// The engine's failure.
    fn checkpoint_at(&self, log: LogNumber, size: u64) -> Result<Option<Vec<u8>>>;

    /// The smallest signed checkpoint whose size is at least `size`.
    ///
    /// # Errors
    /// The engine's failure.
    fn checkpoint_covering(&self, log: LogNumber, size: u64) -> Result<Option<(u64, Vec<u8>)>>;

    /// The index of an entry already in the log, by its leaf hash.
    ///
    /// # Errors
    /// The engine's failure.
    fn dedup_lookup(&self, log: LogNumber, leaf: &Hash) -> Result<Option<u64>>;

    /// Indexes of entries under a search key of `kind` (not
    /// [`SearchKind::LeafHash`], which is the dedup index), ascending, at
    /// most `limit`.
    ///
    /// # Errors
    /// The engine's failure.
    fn search_index(
        &self,
        log: LogNumber,
        kind: SearchKind,
        key: &[u8],
        limit: usize,
    ) -> Result<Vec<u64>>;

    /// Commits `batch` and the new head `head` as one durable change, only
    /// if the stored head of `log` is still `expected` (size and root; no
    /// head at all when `expected` is `None`, a new log). Full tiles and
    /// bundles never change and partial ones only grow.
    ///
    /// # Errors
    /// [`crate::Error::HeadMoved`] when the stored head is not `expected`
    /// (another writer committed, or took the log over): nothing is
    /// written; [`crate::Error::ImmutableTile`]; the engine's failure.
    fn append(
        &self,
        log: LogNumber,
        expected: Option<&TreeHead>,
        batch: &CommitBatch,
        head: &TreeHead,
    ) -> Result<()>;

    /// The hash tile `tile` as of a tree of `size` (its prefix, for a
    /// partial tile), or `None` when that size has no such tile.
    ///
    /// # Errors
    /// The engine's failure; corruption when the stored tile is missing or
    /// too short.
    fn tile_at(&self, log: LogNumber, tile: TileId, size: u64) -> Result<Option<Vec<u8>>> {
        if tile_width(size, tile.level, tile.index).is_none_or(|w| w < tile.width) {
            return Ok(None);
        }
        let Some(mut data) = self.tile(log, tile.level, tile.index)? else {
            return Err(corrupt(format!("{tile} is missing")));
        };
        if data.len() < tile.byte_len() {
            return Err(corrupt(format!("{tile} is shorter than its width")));
        }
        data.truncate(tile.byte_len());
        Ok(Some(data))
    }

    /// The entry bundle `bundle` as of a tree of `size`.
    ///
    /// # Errors
    /// As [`LogStore::tile_at`].
    fn bundle_at(&self, log: LogNumber, bundle: BundleId, size: u64) -> Result<Option<Vec<u8>>> {
        if tile_width(size, 0, bundle.index).is_none_or(|w| w < bundle.width) {
            return Ok(None);
        }
        let Some(mut data) = self.bundle(log, bundle.index)? else {
            return Err(corrupt(format!("{bundle} is missing")));
        };
        let end = bundle_prefix_len(bundle, &data).map_err(|e| corrupt(e.to_string()))?;
        data.truncate(end);
        Ok(Some(data))
    }

    /// The entry at `index` of a log of `size` entries.
    ///
    /// # Errors
    /// As [`LogStore::tile_at`].
    fn entry(&self, log: LogNumber, index: u64, size: u64) -> Result<Option<Vec<u8>>> {
        if index >= size {
            return Ok(None);
        }
        let bundle_index = index / u64::from(TILE_WIDTH);
        let width = tile_width(size, 0, bundle_index).unwrap_or(TILE_WIDTH);
        let id = BundleId {
            index: bundle_index,
            width,
        };
        let Some(data) = self.bundle_at(log, id, size)? else {
            return Ok(None);
        };
        let want = usize::try_from(index % u64::from(TILE_WIDTH)).unwrap_or(0);
        let mut found = None;
        let mut i = 0;
        for_each_bundle_entry(id, &data, |e| {
            if i == want {
                found = Some(e.to_vec());
            }
            i += 1;
        })?;
        Ok(found)
    }

    /// Indexes of entries matching a search key, ascending, at most
    /// `limit`; a leaf hash is looked up in the dedup index.
    ///
    /// # Errors
    /// The engine's failure; a leaf hash of the wrong length.
    fn search(
        &self,
        log: LogNumber,
        kind: SearchKind,
        key: &[u8],
        limit: usize,
    ) -> Result<Vec<u64>> {
        if kind == SearchKind::LeafHash {
            let leaf = islet_tlog::merkle::hash_from_slice(key)?;
            return Ok(self
                .dedup_lookup(log, &leaf)?
                .into_iter()
                .take(limit)
                .collect());
        }
        self.search_index(log, kind, key, limit)
    }
}

/// A grower for the stored tree of `log` at `size` entries, from its
/// partial tiles and bundle (staged or committed).
///
/// # Errors
/// The engine's failure; corruption when a tile is missing.
pub fn grower_at(store: &dyn LogStore, log: LogNumber, size: u64) -> Result<LogGrower> {
    if size == 0 {
        return Ok(LogGrower::new());
    }
    let mut rows: Vec<Vec<Hash>> = Vec::new();
    for t in partial_tiles(size) {
        let data = store
            .tile_at(log, t, size)?
            .ok_or_else(|| corrupt(format!("tile {t} of the local copy is missing")))?;
        rows.resize(usize::from(t.level), Vec::new());
        rows.push(parse_hash_tile(t, &data)?);
    }
    let index = size / u64::from(TILE_WIDTH);
    let bundle = match tile_width(size, 0, index) {
        Some(width) if width < TILE_WIDTH => store
            .bundle_at(log, BundleId { index, width }, size)?
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(LogGrower::resume(size, rows, bundle)?)
}

/// Appends entries (with their leaf hashes) to `log` and adds the tiles
/// and bundles they complete or grow, the right edge included, to
/// `batch`: what a sequencer commits with the new head. Every bundle goes
/// whole into `batch.bundles`.
///
/// # Errors
/// The tree's refusal (an entry too large for a bundle).
pub fn grow_batch(
    log: &mut LogGrower,
    entries: &[(&[u8], Hash)],
    batch: &mut CommitBatch,
) -> Result<()> {
    grow(log, entries, batch, None)
}

/// [`grow_batch`] for a store that holds `log`'s edge bundle exactly as
/// `log` has it (the caller committed it) and
/// [appends bundles](LogStore::appends_bundles): the bundle that was at
/// the edge is written as a [`BundleAppend`] of the new entries only.
///
/// # Errors
/// As [`grow_batch`].
pub fn grow_batch_appending(
    log: &mut LogGrower,
    entries: &[(&[u8], Hash)],
    batch: &mut CommitBatch,
) -> Result<()> {
    let stored = log.edge().bundle.map(|(id, data)| (id.index, data.len()));
    grow(log, entries, batch, stored)
}

/// Grows `log`; the bundle `stored.0`, of which the store holds the first
/// `stored.1` bytes, becomes an append.
fn grow(
    log: &mut LogGrower,
    entries: &[(&[u8], Hash)],
    batch: &mut CommitBatch,
    stored: Option<(u64, usize)>,
) -> Result<()> {
    let add_bundle = |batch: &mut CommitBatch, id: BundleId, data: &[u8]| match stored {
        Some((index, stored_len)) if index == id.index => {
            batch.bundle_appends.push(BundleAppend {
                bundle: id,
                tail: bytes::Bytes::copy_from_slice(&data[stored_len..]),
            });
        }
        _ => batch
            .bundles
            .push((id, bytes::Bytes::copy_from_slice(data))),
    };
    for (e, leaf) in entries {
        log.push_hashed(e, *leaf, &mut |grown| match grown {
            Grown::Tile(t, hashes) => batch.tiles.push((t, encode_hash_tile(hashes))),
            Grown::Bundle(id, data) => add_bundle(batch, id, data),
        })?;
    }
    let edge = log.edge();
    for (t, hashes) in edge.tiles {
        batch.tiles.push((t, encode_hash_tile(hashes)));
    }
    if let Some((id, data)) = edge.bundle {
        add_bundle(batch, id, data);
    }
    Ok(())
}

/// A hash reader over a log as of a tree of `size`. It keeps the tiles it
/// reads and the nodes it computes inside them, so many proofs against one
/// size (a batch) read each tile and hash each node once.
pub fn hash_reader(store: &dyn LogStore, log: LogNumber, size: u64) -> StoreHashReader<'_> {
    StoreHashReader {
        store,
        log,
        size,
        cache: std::sync::Mutex::new(ReaderCache::default()),
    }
}

/// What a [`StoreHashReader`] keeps.
#[derive(Debug, Default)]
struct ReaderCache {
    tiles: rustc_hash::FxHashMap<TileId, Vec<Hash>>,
    /// Nodes computed inside tiles, by tile and range of tile positions
    /// (FxHash: the keys are our own, and SipHash was 1% of a write's CPU).
    nodes: rustc_hash::FxHashMap<(TileId, usize, usize), Hash>,
}

/// The hash of the node over `hashes[from..to]` (a power-of-two range)
/// of `tile`, computed from its two halves, each remembered in `nodes`:
/// a node is hashed once however many proofs need it.
fn node_in_tile(
    nodes: &mut rustc_hash::FxHashMap<(TileId, usize, usize), Hash>,
    tile: TileId,
    hashes: &[Hash],
    from: usize,
    to: usize,
) -> Hash {
    if to - from == 1 {
        return hash_from_tile(hashes, from, to);
    }
    if let Some(h) = nodes.get(&(tile, from, to)) {
        return *h;
    }
    let mid = from + (to - from) / 2;
    let left = node_in_tile(nodes, tile, hashes, from, mid);
    let right = node_in_tile(nodes, tile, hashes, mid, to);
    let h = islet_tlog::merkle::node_hash(&left, &right);
    nodes.insert((tile, from, to), h);
    h
}

/// Reads stored hashes out of a store's tiles (trusted: our own data).
pub struct StoreHashReader<'a> {
    store: &'a dyn LogStore,
    log: LogNumber,
    size: u64,
    cache: std::sync::Mutex<ReaderCache>,
}

impl std::fmt::Debug for StoreHashReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHashReader")
            .field("engine", &self.store.engine())
            .field("log", &self.log)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl HashReader for StoreHashReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> islet_tlog::Result<Vec<Hash>> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| islet_tlog::Error::source(corrupt("hash reader lock")))?;
        let ReaderCache { tiles, nodes } = &mut *cache;
        indexes
            .iter()
            .map(|&i| {
                let (tile, from, to) = tile_for_stored_hash(i, self.size)?;
                let hashes = match tiles.entry(tile) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let data = self
                            .store
                            .tile_at(self.log, tile, self.size)
                            .map_err(islet_tlog::Error::source)?
                            .ok_or(islet_tlog::Error::MissingHash { index: i })?;
                        e.insert(islet_tlog::tiles::parse_hash_tile(tile, &data)?)
                    }
                };
                Ok(node_in_tile(nodes, tile, hashes, from, to))
            })
            .collect()
    }
}

/// One log of a shared store: the engine and the log's number in it, as
/// the server's own-log paths (the read API, proofs, the publisher, the
/// sequencer) hold it, whichever engine keeps the log.
#[derive(Clone)]
pub struct SharedLog {
    store: std::sync::Arc<dyn LogStore>,
    log: LogNumber,
}

impl std::fmt::Debug for SharedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLog")
            .field("engine", &self.store.engine())
            .field("log", &self.log)
            .finish()
    }
}

impl SharedLog {
    /// Log `log` of `store`.
    pub fn new(store: std::sync::Arc<dyn LogStore>, log: LogNumber) -> SharedLog {
        SharedLog { store, log }
    }

    /// The engine.
    pub fn store(&self) -> &std::sync::Arc<dyn LogStore> {
        &self.store
    }

    /// The log's number in its engine.
    pub fn log(&self) -> LogNumber {
        self.log
    }

    /// The committed tree head.
    ///
    /// # Errors
    /// The engine's.
    pub fn tree_head(&self) -> Result<Option<TreeHead>> {
        self.store.tree_head(self.log)
    }

    /// A tile as of a tree of `size` ([`LogStore::tile_at`]).
    ///
    /// # Errors
    /// The engine's.
    pub fn tile_at(&self, tile: TileId, size: u64) -> Result<Option<Vec<u8>>> {
        self.store.tile_at(self.log, tile, size)
    }

    /// A bundle as of a tree of `size` ([`LogStore::bundle_at`]).
    ///
    /// # Errors
    /// The engine's.
    pub fn bundle_at(&self, bundle: BundleId, size: u64) -> Result<Option<Vec<u8>>> {
        self.store.bundle_at(self.log, bundle, size)
    }

    /// Entry `index` of a tree of `size` ([`LogStore::entry`]).
    ///
    /// # Errors
    /// The engine's.
    pub fn entry(&self, index: u64, size: u64) -> Result<Option<Vec<u8>>> {
        self.store.entry(self.log, index, size)
    }

    /// The signed checkpoint of the tree of `size`, if one was stored.
    ///
    /// # Errors
    /// The engine's.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<Vec<u8>>> {
        self.store.checkpoint_at(self.log, size)
    }

    /// Indexes of entries under a search key ([`LogStore::search`]).
    ///
    /// # Errors
    /// The engine's.
    pub fn search(&self, kind: SearchKind, key: &[u8], limit: usize) -> Result<Vec<u64>> {
        self.store.search(self.log, kind, key, limit)
    }

    /// A hash reader over the tree of `size` ([`hash_reader`]).
    pub fn hash_reader(&self, size: u64) -> StoreHashReader<'_> {
        hash_reader(self.store.as_ref(), self.log, size)
    }
}
