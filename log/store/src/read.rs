//! Reading the RocksDB store: the raw reads of [`LogStore`] and, for the
//! callers that hold a [`Store`], the same reads as inherent methods.

use islet_tlog::merkle::Hash;
use islet_tlog::tiles::{BundleId, TileId};
use rocksdb::{Direction, IteratorMode};

use crate::db::Store;
use crate::engine::{LogStore, StoreHashReader};
use crate::error::{Result, corrupt, db};
use crate::schema::{
    CF_CHECKPOINTS, CF_DEDUP, CF_META, CF_SEARCH, CF_TILES, CommitBatch, LogNumber, SearchKind,
    TreeHead, log_prefixed, tile_key, tree_key,
};

impl LogStore for Store {
    fn engine(&self) -> &'static str {
        "rocksdb"
    }

    fn appends_bundles(&self) -> bool {
        true
    }

    fn tree_head(&self, log: LogNumber) -> Result<Option<TreeHead>> {
        self.get(CF_META, &tree_key(log))?
            .map(|v| TreeHead::decode(&v))
            .transpose()
    }

    fn tile(&self, log: LogNumber, level: u8, index: u64) -> Result<Option<Vec<u8>>> {
        self.get(CF_TILES, &tile_key(log, 0, level, index))
    }

    fn bundle(&self, log: LogNumber, index: u64) -> Result<Option<Vec<u8>>> {
        let key = tile_key(log, 1, 0, index);
        if self.bundles_bypass_cache {
            // A server keeps the bundles it serves in its own cache; in the
            // block cache they (up to 128 KiB each) would only push out the
            // index, filter and hash-tile blocks that writes and proofs
            // read again and again.
            self.get_uncached(CF_TILES, &key)
        } else {
            self.get(CF_TILES, &key)
        }
    }

    fn checkpoint_at(&self, log: LogNumber, size: u64) -> Result<Option<Vec<u8>>> {
        self.get(CF_CHECKPOINTS, &log_prefixed(log, &size.to_be_bytes()))
    }

    fn checkpoint_covering(&self, log: LogNumber, size: u64) -> Result<Option<(u64, Vec<u8>)>> {
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

    fn dedup_lookup(&self, log: LogNumber, leaf: &Hash) -> Result<Option<u64>> {
        Ok(self
            .get(CF_DEDUP, &log_prefixed(log, leaf))?
            .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes)))
    }

    fn search_index(
        &self,
        log: LogNumber,
        kind: SearchKind,
        key: &[u8],
        limit: usize,
    ) -> Result<Vec<u64>> {
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

    /// RocksDB has one writer per data directory (its LOCK file), so the
    /// check of the head is a read before the synced write.
    fn append(
        &self,
        log: LogNumber,
        expected: Option<&TreeHead>,
        batch: &CommitBatch,
        head: &TreeHead,
    ) -> Result<()> {
        let stored = LogStore::tree_head(self, log)?;
        let same = match (&stored, expected) {
            (None, None) => true,
            (Some(s), Some(e)) => s.size == e.size && s.root == e.root,
            _ => false,
        };
        if !same {
            return Err(crate::Error::HeadMoved {
                log,
                expected: expected.map(|e| e.size),
                stored: stored.map(|s| s.size),
            });
        }
        self.commit(log, batch, head)
    }
}

/// The reads of [`LogStore`] on a [`Store`] without the trait in scope.
impl Store {
    /// The committed tree head of a log, if it has one.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn tree_head(&self, log: LogNumber) -> Result<Option<TreeHead>> {
        LogStore::tree_head(self, log)
    }

    /// The stored bytes of hash tile `(level, index)` at its latest width.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn tile(&self, log: LogNumber, level: u8, index: u64) -> Result<Option<Vec<u8>>> {
        LogStore::tile(self, log, level, index)
    }

    /// The stored bytes of entry bundle `index` at its latest width.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn bundle(&self, log: LogNumber, index: u64) -> Result<Option<Vec<u8>>> {
        LogStore::bundle(self, log, index)
    }

    /// See [`LogStore::tile_at`].
    ///
    /// # Errors
    /// [`crate::Error::Db`]; corruption when the stored tile is too short.
    pub fn tile_at(&self, log: LogNumber, tile: TileId, size: u64) -> Result<Option<Vec<u8>>> {
        LogStore::tile_at(self, log, tile, size)
    }

    /// See [`LogStore::bundle_at`].
    ///
    /// # Errors
    /// As [`Store::tile_at`].
    pub fn bundle_at(
        &self,
        log: LogNumber,
        bundle: BundleId,
        size: u64,
    ) -> Result<Option<Vec<u8>>> {
        LogStore::bundle_at(self, log, bundle, size)
    }

    /// The entry at `index` of a log of `size` entries.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn entry(&self, log: LogNumber, index: u64, size: u64) -> Result<Option<Vec<u8>>> {
        LogStore::entry(self, log, index, size)
    }

    /// The signed checkpoint of `size`, if one was signed.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn checkpoint_at(&self, log: LogNumber, size: u64) -> Result<Option<Vec<u8>>> {
        LogStore::checkpoint_at(self, log, size)
    }

    /// The smallest signed checkpoint whose size is at least `size`.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn checkpoint_covering(&self, log: LogNumber, size: u64) -> Result<Option<(u64, Vec<u8>)>> {
        LogStore::checkpoint_covering(self, log, size)
    }

    /// The index of an entry already in the log, by its leaf hash.
    ///
    /// # Errors
    /// [`crate::Error::Db`].
    pub fn dedup_lookup(&self, log: LogNumber, leaf: &Hash) -> Result<Option<u64>> {
        LogStore::dedup_lookup(self, log, leaf)
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
        LogStore::search(self, log, kind, key, limit)
    }

    /// A hash reader over a log as of a tree of `size` (see
    /// [`crate::engine::hash_reader`]).
    pub fn hash_reader(&self, log: LogNumber, size: u64) -> StoreHashReader<'_> {
        crate::engine::hash_reader(self, log, size)
    }
}
