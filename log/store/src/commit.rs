//! Committing to the store: one synced `WriteBatch` per batch of entries,
//! full tiles immutable.

use islet_tlog::tiles::TILE_WIDTH;
use rocksdb::{WriteBatch, WriteOptions};

use crate::db::Store;
use crate::error::{Error, Result, corrupt, db, db_key};
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
        for append in &batch.bundle_appends {
            // Concatenated to the stored prefix by the family's merge
            // operator ([`crate::db::APPEND_OPERATOR`]): the WAL and the
            // memtable carry the new entries only.
            wb.merge_cf(
                tiles,
                tile_key(log, 1, 0, append.bundle.index),
                &append.tail,
            );
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
            if record.number != log
                || self.mirror(&record.origin)?.is_some()
                || self.shard(&record.origin)?.is_some()
            {
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

    /// Replaces the stored checkpoint of `log` at `size` with `note`, the
    /// same checkpoint with cosignatures added. Refused unless a checkpoint
    /// of that size is stored and `note` has the same text and keeps every
    /// signature line the stored one has (so the log's signature can never
    /// be lost or swapped). Not synced: cosignatures can be asked for again.
    ///
    /// # Errors
    /// [`Error::Usage`] for a note that is not the stored one with lines
    /// added; [`Error::Db`].
    pub fn attach_cosignatures(&self, log: LogNumber, size: u64, note: &[u8]) -> Result<()> {
        let key = log_prefixed(log, &size.to_be_bytes());
        let Some(stored) = self.get(CF_CHECKPOINTS, &key)? else {
            return Err(Error::Usage {
                reason: format!("no checkpoint of size {size} is stored to add cosignatures to"),
            });
        };
        let (old, new) = (
            islet_tlog::note::Note::parse(&stored)?,
            islet_tlog::note::Note::parse(note)?,
        );
        let kept = old
            .signatures
            .iter()
            .filter(|s| s.name == old_text_signer(&old))
            .all(|s| new.signatures.contains(s));
        if old.text != new.text || !kept {
            return Err(Error::Usage {
                reason: format!(
                    "the cosigned checkpoint of size {size} is not the stored one with lines added"
                ),
            });
        }
        self.db
            .put_cf(self.cf(CF_CHECKPOINTS)?, &key, note)
            .map_err(db_key("put", &key))
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

/// The origin of a checkpoint note: the name its log signature carries.
fn old_text_signer(note: &islet_tlog::note::Note) -> &str {
    note.text.split('\n').next().unwrap_or("")
}
