//! Committing to the store: one synced `WriteBatch` per batch of entries,
//! full tiles immutable.

use islet_tlog::tiles::TILE_WIDTH;
use rocksdb::{WriteBatch, WriteOptions};

use crate::db::Store;
use crate::error::{Error, Result, corrupt, db};
use crate::schema::{
    CF_CHECKPOINTS, CF_DEDUP, CF_META, CF_SEARCH, CF_TILES, CommitBatch, LogNumber, TreeHead,
    log_prefixed, staged_key, tile_key, tree_key,
};

impl Store {
    /// Writes a batch and the new tree head (with its signed checkpoint) in
    /// one synced `WriteBatch`. A full tile that already exists with other
    /// bytes is refused: full tiles are immutable.
    ///
    /// # Errors
    /// [`Error::Db`]; [`Error::ImmutableTile`].
    pub fn commit(&self, log: LogNumber, batch: &CommitBatch, head: &TreeHead) -> Result<()> {
        self.flush_staged(log)?;
        let (tiles, meta, cps, dedup, search) = (
            self.cf(CF_TILES)?,
            self.cf(CF_META)?,
            self.cf(CF_CHECKPOINTS)?,
            self.cf(CF_DEDUP)?,
            self.cf(CF_SEARCH)?,
        );
        let mut wb = WriteBatch::default();
        for (tile, data) in &batch.tiles {
            if tile.is_full() {
                self.check_immutable(log, 0, tile.level, tile.index, data, &tile.to_string())?;
            }
            wb.put_cf(tiles, tile_key(log, 0, tile.level, tile.index), data);
        }
        for (bundle, data) in &batch.bundles {
            if bundle.width == TILE_WIDTH {
                self.check_immutable(log, 1, 0, bundle.index, data, &bundle.to_string())?;
            }
            wb.put_cf(tiles, tile_key(log, 1, 0, bundle.index), data);
        }
        for (h, index) in &batch.dedup {
            wb.put_cf(dedup, log_prefixed(log, h), index.to_be_bytes());
        }
        for (kind, key, index) in &batch.search {
            let mut k = log_prefixed(log, &[*kind as u8]);
            k.extend_from_slice(key);
            k.extend_from_slice(&index.to_be_bytes());
            wb.put_cf(search, k, []);
        }
        if !head.checkpoint.is_empty() {
            wb.put_cf(
                cps,
                log_prefixed(log, &head.size.to_be_bytes()),
                &head.checkpoint,
            );
        }
        wb.put_cf(meta, tree_key(log), head.encode());
        // Whatever was staged is now the log (or superseded by it).
        wb.delete_cf(meta, staged_key(log));
        if let Some(record) = &batch.register {
            if record.number != log || self.mirror(&record.origin)?.is_some() {
                return Err(Error::Usage {
                    reason: format!("cannot register {} as log {log}", record.origin),
                });
            }
            wb.put_cf(
                meta,
                [b"log/".as_slice(), record.origin.as_bytes()].concat(),
                serde_json::to_vec(record).map_err(|_| corrupt("log record"))?,
            );
        }
        self.db
            .write_opt(wb, &Self::synced())
            .map_err(db("synced write"))
    }

    fn check_immutable(
        &self,
        log: LogNumber,
        kind: u8,
        level: u8,
        index: u64,
        data: &[u8],
        name: &str,
    ) -> Result<()> {
        match self.get(CF_TILES, &tile_key(log, kind, level, index))? {
            Some(old) if old.len() == data.len() && old != data => Err(Error::ImmutableTile {
                path: name.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    pub(crate) fn synced() -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        wo
    }
}
