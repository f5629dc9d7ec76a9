//! Reading the store: tree heads, tiles and bundles as of a tree size,
//! entries, checkpoints, the dedup and search indexes, and hash readers
//! for proofs.

use islet_tlog::merkle::{Hash, HashReader};
use islet_tlog::tiles::{
    BundleId, TILE_WIDTH, TileId, bundle_prefix_len, for_each_bundle_entry, hash_from_tile,
    tile_for_stored_hash, tile_width,
};
use rocksdb::{Direction, IteratorMode};

use crate::db::Store;
use crate::error::{Result, corrupt, db};
use crate::schema::{
    CF_CHECKPOINTS, CF_DEDUP, CF_META, CF_SEARCH, CF_TILES, LogNumber, SearchKind, TreeHead,
    log_prefixed, tile_key, tree_key,
};

impl Store {
    /// The committed tree head of a log, if it has one.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn tree_head(&self, log: LogNumber) -> Result<Option<TreeHead>> {
        self.get(CF_META, &tree_key(log))?
            .map(|v| TreeHead::decode(&v))
            .transpose()
    }

    /// The stored bytes of hash tile `(level, index)` at its latest width.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn tile(&self, log: LogNumber, level: u8, index: u64) -> Result<Option<Vec<u8>>> {
        self.get(CF_TILES, &tile_key(log, 0, level, index))
    }

    /// The stored bytes of entry bundle `index` at its latest width.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn bundle(&self, log: LogNumber, index: u64) -> Result<Option<Vec<u8>>> {
        self.get(CF_TILES, &tile_key(log, 1, 0, index))
    }

    /// The hash tile `tile` as of a tree of `size` (its prefix, for a
    /// partial tile), or `None` when that size has no such tile.
    ///
    /// # Errors
    /// [`crate::Error::Db`]; corruption when the stored tile is too short.
    pub fn tile_at(&self, log: LogNumber, tile: TileId, size: u64) -> Result<Option<Vec<u8>>> {
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
    /// As [`Store::tile_at`].
    pub fn bundle_at(
        &self,
        log: LogNumber,
        bundle: BundleId,
        size: u64,
    ) -> Result<Option<Vec<u8>>> {
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
    /// [`crate::Error::Db`].
    pub fn entry(&self, log: LogNumber, index: u64, size: u64) -> Result<Option<Vec<u8>>> {
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

    /// The signed checkpoint of `size`, if one was signed.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn checkpoint_at(&self, log: LogNumber, size: u64) -> Result<Option<Vec<u8>>> {
        self.get(CF_CHECKPOINTS, &log_prefixed(log, &size.to_be_bytes()))
    }

    /// The smallest signed checkpoint whose size is at least `size`.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn checkpoint_covering(&self, log: LogNumber, size: u64) -> Result<Option<(u64, Vec<u8>)>> {
        let start = log_prefixed(log, &size.to_be_bytes());
        let mut iter = self.db.iterator_cf(
            self.cf(CF_CHECKPOINTS)?,
            IteratorMode::From(&start, Direction::Forward),
        );
        match iter.next() {
            Some(Ok((k, v))) if k.len() == 12 && k[..4] == log.to_be_bytes() => {
                let s =
                    u64::from_be_bytes(k[4..].try_into().map_err(|_| corrupt("checkpoint key"))?);
                Ok(Some((s, v.to_vec())))
            }
            Some(Err(e)) => Err(db("iterate")(e)),
            _ => Ok(None),
        }
    }

    /// The index of an entry already in the log, by its leaf hash.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn dedup_lookup(&self, log: LogNumber, leaf: &Hash) -> Result<Option<u64>> {
        Ok(self
            .get(CF_DEDUP, &log_prefixed(log, leaf))?
            .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes)))
    }

    /// Indexes of entries matching a search key, ascending, at most `limit`.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn search(
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
        let mut prefix = log_prefixed(log, &[kind as u8]);
        prefix.extend_from_slice(key);
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_SEARCH)?,
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (k, _) = item.map_err(db("iterate"))?;
            if !k.starts_with(&prefix) || k.len() != prefix.len() + 8 || out.len() >= limit {
                break;
            }
            out.push(u64::from_be_bytes(
                k[prefix.len()..]
                    .try_into()
                    .map_err(|_| corrupt("search key"))?,
            ));
        }
        Ok(out)
    }

    /// A hash reader over a log as of a tree of `size`. It keeps the tiles
    /// it reads and the nodes it computes inside them, so many proofs
    /// against one size (a batch) read each tile and hash each node once.
    pub fn hash_reader(&self, log: LogNumber, size: u64) -> StoreHashReader<'_> {
        StoreHashReader {
            store: self,
            log,
            size,
            cache: std::sync::Mutex::new(ReaderCache::default()),
        }
    }
}

/// What a [`StoreHashReader`] keeps.
#[derive(Debug, Default)]
struct ReaderCache {
    tiles: std::collections::HashMap<TileId, Vec<Hash>>,
    /// Nodes computed inside tiles, by tile and range of tile positions.
    nodes: std::collections::HashMap<(TileId, usize, usize), Hash>,
}

/// The hash of the node over `hashes[from..to]` (a power-of-two range)
/// of `tile`, computed from its two halves, each remembered in `nodes`:
/// a node is hashed once however many proofs need it.
fn node_in_tile(
    nodes: &mut std::collections::HashMap<(TileId, usize, usize), Hash>,
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

/// Reads stored hashes out of the store's tiles (trusted: our own data).
#[derive(Debug)]
pub struct StoreHashReader<'a> {
    store: &'a Store,
    log: LogNumber,
    size: u64,
    cache: std::sync::Mutex<ReaderCache>,
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
