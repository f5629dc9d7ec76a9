//! Mirror records (the logs a store holds besides its own), fork evidence
//! and the search index of mirrored logs.

use rocksdb::WriteBatch;

use crate::db::Store;
use crate::error::{Error, Result, corrupt, db, db_key};
use crate::schema::{
    CF_DEDUP, CF_META, CF_SEARCH, Evidence, LogNumber, LogRecord, MAX_LOGS, OWN_LOG, SearchKind,
    log_prefixed,
};

impl Store {
    /// The mirrored log of `origin`, if the store has one.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn mirror(&self, origin: &str) -> Result<Option<LogRecord>> {
        let key = [b"log/".as_slice(), origin.as_bytes()].concat();
        self.get(CF_META, &key)?
            .map(|v| serde_json::from_slice(&v).map_err(|_| corrupt("log record")))
            .transpose()
    }

    /// Every mirrored log, by origin.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn mirrors(&self) -> Result<Vec<LogRecord>> {
        self.json_values(CF_META, b"log/", "log record")
    }

    /// The number a new log would get: one past the highest in use (by a
    /// mirror, the own log or a shard that ended).
    /// It is taken when a commit registers the mirror
    /// ([`crate::CommitBatch::register`]).
    ///
    /// # Errors
    /// [`Error::Db`], also when the store holds [`MAX_LOGS`] logs.
    pub fn next_log_number(&self) -> Result<LogNumber> {
        let highest = self
            .mirrors()?
            .iter()
            .map(|r| r.number)
            .chain(self.own_and_shard_numbers()?)
            .max();
        let next = highest.map_or(OWN_LOG + 1, |n| n + 1);
        if next >= MAX_LOGS {
            return Err(Error::TooManyLogs { max: MAX_LOGS });
        }
        Ok(next)
    }

    /// Keeps evidence of a conflicting checkpoint of `log`. Durable when it
    /// returns.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn record_evidence(&self, log: LogNumber, evidence: &Evidence) -> Result<()> {
        let _guard = self.registry.lock().map_err(|_| corrupt("registry lock"))?;
        let sequence = self.evidence(log)?.len() as u64;
        let mut key = b"evidence/".to_vec();
        key.extend_from_slice(&log.to_be_bytes());
        key.extend_from_slice(&sequence.to_be_bytes());
        let value = serde_json::to_vec(evidence).map_err(|_| corrupt("evidence"))?;
        self.db
            .put_cf_opt(self.cf(CF_META)?, &key, value, &Self::synced())
            .map_err(db_key("put", &key))
    }

    /// The evidence kept for `log`, oldest first.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn evidence(&self, log: LogNumber) -> Result<Vec<Evidence>> {
        let mut prefix = b"evidence/".to_vec();
        prefix.extend_from_slice(&log.to_be_bytes());
        self.json_values(CF_META, &prefix, "evidence")
    }

    /// How many entries of `log` (a mirror) the search index covers.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn indexed_size(&self, log: LogNumber) -> Result<u64> {
        let key = [b"indexed/".as_slice(), &log.to_be_bytes()].concat();
        Ok(self
            .get(CF_META, &key)?
            .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// Adds search rows for entries of `log` and moves its index mark to
    /// `indexed` (one batch; the rows are derived data, rebuilt from the
    /// mark after a crash, so the write is not synced).
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn add_to_index(
        &self,
        log: LogNumber,
        rows: &[(SearchKind, Vec<u8>, u64)],
        indexed: u64,
    ) -> Result<()> {
        let (meta, search, dedup) = (self.cf(CF_META)?, self.cf(CF_SEARCH)?, self.cf(CF_DEDUP)?);
        let mut wb = WriteBatch::default();
        for (kind, key, index) in rows {
            if *kind == SearchKind::LeafHash {
                wb.put_cf(dedup, log_prefixed(log, key), index.to_be_bytes());
                continue;
            }
            let mut k = log_prefixed(log, &[*kind as u8]);
            k.extend_from_slice(key);
            k.extend_from_slice(&index.to_be_bytes());
            wb.put_cf(search, k, []);
        }
        wb.put_cf(
            meta,
            [b"indexed/".as_slice(), &log.to_be_bytes()].concat(),
            indexed.to_be_bytes(),
        );
        self.db.write(wb).map_err(db("write"))
    }
}
