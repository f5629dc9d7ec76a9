//! [`PgStore`]: a log's tiles, bundles, head and indexes in PostgreSQL, read
//! through a pool of connections.

use std::collections::HashMap;
use std::sync::Mutex;

use islet_store::{CommitBatch, LogNumber, LogStore, SearchKind, TreeHead};
use islet_tlog::merkle::{Hash, hash_from_slice};
use islet_tlog::tiles::TILE_WIDTH;

use crate::cache::Key;
use crate::error::{Error, Result, stmt, to_i64, to_u64};
use crate::lease::Lease;
use crate::migrate;
use crate::pool::{PgOptions, Pool};

/// Whose log a database row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// A log this installation signs.
    Own,
    /// A verified copy of another log.
    Mirror,
}

impl LogKind {
    fn as_str(self) -> &'static str {
        match self {
            LogKind::Own => "own",
            LogKind::Mirror => "mirror",
        }
    }
}

/// A log the database holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// Its number in this database.
    pub number: LogNumber,
    /// Its checkpoint origin.
    pub origin: String,
    /// Whose it is.
    pub kind: LogKind,
    /// Its verifier key (note vkey).
    pub vkey: String,
}

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PgStore {
    pub(crate) pool: Pool,
    /// Full tiles and bundles read before (they never change).
    pub(crate) full: crate::cache::FullCache,
    /// The leases this process holds, by log: the epoch its commits carry.
    pub(crate) leases: Mutex<HashMap<LogNumber, Lease>>,
}

/// The bytes of a full hash tile.
const FULL_TILE_BYTES: usize = 32 * TILE_WIDTH as usize;

/// A log number as the database's `integer`.
pub(crate) fn log_id(log: LogNumber) -> Result<i32> {
    i32::try_from(log).map_err(|_| Error::OutOfRange {
        what: "log number",
        value: u64::from(log),
    })
}

fn hash_of(what: &str, bytes: &[u8]) -> Result<Hash> {
    hash_from_slice(bytes).map_err(|_| Error::Inconsistent {
        what: format!("{what} is {} bytes, not 32", bytes.len()),
    })
}

impl PgStore {
    /// Connects to the database at `url` (see [`PgOptions`]) and checks
    /// that it holds this build's schema.
    ///
    /// # Errors
    /// [`Error::Url`], [`Error::Connect`], [`Error::NoSchema`],
    /// [`Error::SchemaNewer`].
    pub fn open(url: &str, options: &PgOptions) -> Result<PgStore> {
        let store = PgStore {
            pool: Pool::new(url, options)?,
            full: crate::cache::FullCache::default(),
            leases: Mutex::new(HashMap::new()),
        };
        migrate::check(&mut *store.pool.get()?)?;
        Ok(store)
    }

    /// Connects to the database at `url`, creating or migrating islet's
    /// schema first (`islet init --store`).
    ///
    /// # Errors
    /// As [`PgStore::open`]; a migration that fails.
    pub fn create(url: &str, options: &PgOptions) -> Result<PgStore> {
        let pool = Pool::new(url, options)?;
        migrate::migrate(&mut *pool.get()?)?;
        Ok(PgStore {
            pool,
            full: crate::cache::FullCache::default(),
            leases: Mutex::new(HashMap::new()),
        })
    }

    /// Connects to the database at `url` and brings islet's schema to
    /// this build's version (`islet store schema`); returns the store and
    /// the version the database had (0 for none).
    ///
    /// # Errors
    /// As [`PgStore::create`].
    pub fn upgrade(url: &str, options: &PgOptions) -> Result<(PgStore, i32)> {
        let pool = Pool::new(url, options)?;
        let before = migrate::migrate(&mut *pool.get()?)?;
        let store = PgStore {
            pool,
            full: crate::cache::FullCache::default(),
            leases: Mutex::new(HashMap::new()),
        };
        Ok((store, before))
    }

    /// Where the store connects, without the password.
    pub fn target(&self) -> String {
        self.pool.target()
    }

    /// The connection pool (for callers that run their own statements,
    /// such as the tests).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Registers a log: its origin, kind and verifier key, and its lease
    /// (held by nobody, epoch 0). Its head comes with its first
    /// [`LogStore::append`]. An origin already registered with the same
    /// kind and key returns its number; with another kind or key, it is
    /// refused (one key, one log).
    ///
    /// # Errors
    /// [`Error::Inconsistent`] for an origin registered otherwise.
    pub fn register_log(&self, origin: &str, kind: LogKind, vkey: &str) -> Result<LogNumber> {
        let mut client = self.pool.get()?;
        let mut tx = client.transaction().map_err(stmt("begin register"))?;
        tx.execute("LOCK TABLE logs IN SHARE ROW EXCLUSIVE MODE", &[])
            .map_err(stmt("lock logs"))?;
        if let Some(row) = tx
            .query_opt(
                "SELECT log_id, kind, vkey FROM logs WHERE origin = $1",
                &[&origin],
            )
            .map_err(stmt("find log"))?
        {
            let (number, found_kind, found_vkey): (i32, String, String) =
                (row.get(0), row.get(1), row.get(2));
            if found_kind != kind.as_str() || found_vkey != vkey {
                return Err(Error::Inconsistent {
                    what: format!(
                        "the database holds {origin} as an {found_kind} log with key {found_vkey}, \
                         not as an {} log with key {vkey}",
                        kind.as_str()
                    ),
                });
            }
            return LogNumber::try_from(number).map_err(|_| Error::Inconsistent {
                what: format!("log number {number}"),
            });
        }
        let next: i32 = tx
            .query_one("SELECT COALESCE(max(log_id) + 1, 0) FROM logs", &[])
            .map_err(stmt("next log number"))?
            .get(0);
        tx.execute(
            "INSERT INTO logs (log_id, origin, kind, vkey) VALUES ($1, $2, $3, $4)",
            &[&next, &origin, &kind.as_str(), &vkey],
        )
        .map_err(stmt("insert log"))?;
        tx.execute(
            "INSERT INTO lease (log_id, holder, epoch, expires_at) VALUES ($1, '', 0, '-infinity')",
            &[&next],
        )
        .map_err(stmt("insert lease"))?;
        tx.commit().map_err(stmt("commit register"))?;
        LogNumber::try_from(next).map_err(|_| Error::Inconsistent {
            what: format!("log number {next}"),
        })
    }

    /// The server's `synchronous_standby_names`: empty when a commit waits
    /// for no standby (then an acknowledged write lives on one machine).
    ///
    /// # Errors
    /// [`Error::Statement`].
    pub fn synchronous_standbys(&self) -> Result<String> {
        Ok(self
            .pool
            .get()?
            .query_one("SHOW synchronous_standby_names", &[])
            .map_err(stmt("show synchronous_standby_names"))?
            .get(0))
    }

    /// The logs the database holds, by number.
    ///
    /// # Errors
    /// [`Error::Statement`]; [`Error::Inconsistent`].
    pub fn logs(&self) -> Result<Vec<LogRow>> {
        let rows = self
            .pool
            .get()?
            .query(
                "SELECT log_id, origin, kind, vkey FROM logs ORDER BY log_id",
                &[],
            )
            .map_err(stmt("list logs"))?;
        rows.iter()
            .map(|row| {
                let number: i32 = row.get(0);
                let kind: String = row.get(2);
                Ok(LogRow {
                    number: LogNumber::try_from(number).map_err(|_| Error::Inconsistent {
                        what: format!("log number {number}"),
                    })?,
                    origin: row.get(1),
                    kind: match kind.as_str() {
                        "own" => LogKind::Own,
                        "mirror" => LogKind::Mirror,
                        other => {
                            return Err(Error::Inconsistent {
                                what: format!("log kind {other}"),
                            });
                        }
                    },
                    vkey: row.get(3),
                })
            })
            .collect()
    }

    /// The log registered under `origin`, if any.
    ///
    /// # Errors
    /// As [`PgStore::logs`].
    pub fn log(&self, origin: &str) -> Result<Option<LogRow>> {
        Ok(self.logs()?.into_iter().find(|l| l.origin == origin))
    }

    fn read_head(&self, log: LogNumber) -> Result<Option<TreeHead>> {
        let row = self
            .pool
            .get()?
            .query_opt(
                "SELECT size, root, checkpoint FROM head WHERE log_id = $1",
                &[&log_id(log)?],
            )
            .map_err(stmt("read head"))?;
        row.map(|row| {
            Ok(TreeHead {
                size: to_u64("head size", row.get(0))?,
                root: hash_of("head root", row.get(1))?,
                checkpoint: row.get(2),
            })
        })
        .transpose()
    }

    fn read_bytes(
        &self,
        op: &'static str,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Vec<u8>>> {
        let mut conn = self.pool.get()?;
        let statement = conn.prepared(sql)?;
        Ok(conn
            .query_opt(&statement, params)
            .map_err(stmt(op))?
            .map(|row| row.get(0)))
    }
}

impl LogStore for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn tree_head(&self, log: LogNumber) -> islet_store::Result<Option<TreeHead>> {
        Ok(self.read_head(log)?)
    }

    fn tile(&self, log: LogNumber, level: u8, index: u64) -> islet_store::Result<Option<Vec<u8>>> {
        let key = Key::Tile(log, level, index);
        if let Some(data) = self.full.get(key) {
            return Ok(Some(data));
        }
        let data = self.read_bytes(
            "read tile",
            "SELECT data FROM tiles WHERE log_id = $1 AND level = $2 AND idx = $3",
            &[
                &log_id(log)?,
                &i16::from(level),
                &to_i64("tile index", index)?,
            ],
        )?;
        if let Some(d) = data.as_ref().filter(|d| d.len() == FULL_TILE_BYTES) {
            self.full.put(key, d);
        }
        Ok(data)
    }

    fn bundle(&self, log: LogNumber, index: u64) -> islet_store::Result<Option<Vec<u8>>> {
        let key = Key::Bundle(log, index);
        if let Some(data) = self.full.get(key) {
            return Ok(Some(data));
        }
        let mut conn = self.pool.get()?;
        let statement =
            conn.prepared("SELECT width, data FROM bundles WHERE log_id = $1 AND idx = $2")?;
        let row = conn
            .query_opt(
                &statement,
                &[&log_id(log)?, &to_i64("bundle index", index)?],
            )
            .map_err(stmt("read bundle"))?;
        Ok(row.map(|row| {
            let (width, data): (i16, Vec<u8>) = (row.get(0), row.get(1));
            if i32::from(width) == i32::from(TILE_WIDTH) {
                self.full.put(key, &data);
            }
            data
        }))
    }

    fn checkpoint_at(&self, log: LogNumber, size: u64) -> islet_store::Result<Option<Vec<u8>>> {
        Ok(self.read_bytes(
            "read checkpoint",
            "SELECT checkpoint FROM checkpoints WHERE log_id = $1 AND size = $2",
            &[&log_id(log)?, &to_i64("size", size)?],
        )?)
    }

    fn checkpoint_covering(
        &self,
        log: LogNumber,
        size: u64,
    ) -> islet_store::Result<Option<(u64, Vec<u8>)>> {
        let row = self
            .pool
            .get()
            .map_err(islet_store::Error::from)?
            .query_opt(
                "SELECT size, checkpoint FROM checkpoints WHERE log_id = $1 AND size >= $2 \
                 ORDER BY size LIMIT 1",
                &[&log_id(log)?, &to_i64("size", size)?],
            )
            .map_err(stmt("read checkpoint"))?;
        Ok(row
            .map(|row| Ok::<_, Error>((to_u64("checkpoint size", row.get(0))?, row.get(1))))
            .transpose()?)
    }

    fn dedup_lookup(&self, log: LogNumber, leaf: &Hash) -> islet_store::Result<Option<u64>> {
        let row = self
            .pool
            .get()
            .map_err(islet_store::Error::from)?
            .query_opt(
                "SELECT leaf_index FROM entries WHERE log_id = $1 AND hash = $2",
                &[&log_id(log)?, &leaf.as_slice()],
            )
            .map_err(stmt("dedup lookup"))?;
        Ok(row
            .map(|row| to_u64("leaf index", row.get(0)))
            .transpose()?)
    }

    fn search_index(
        &self,
        log: LogNumber,
        kind: SearchKind,
        key: &[u8],
        limit: usize,
    ) -> islet_store::Result<Vec<u64>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .pool
            .get()
            .map_err(islet_store::Error::from)?
            .query(
                "SELECT leaf_index FROM search WHERE log_id = $1 AND kind = $2 AND key = $3 \
                 ORDER BY leaf_index LIMIT $4",
                &[&log_id(log)?, &i16::from(kind as u8), &key, &limit],
            )
            .map_err(stmt("search"))?;
        Ok(rows
            .iter()
            .map(|row| to_u64("leaf index", row.get(0)))
            .collect::<Result<Vec<u64>>>()?)
    }

    fn append(
        &self,
        log: LogNumber,
        expected: Option<&TreeHead>,
        batch: &CommitBatch,
        head: &TreeHead,
    ) -> islet_store::Result<()> {
        let lease = self
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&log)
            .cloned()
            .ok_or(Error::NoLease { log })?;
        let mut client = self.pool.get()?;
        Ok(crate::append::append(
            &mut client,
            log,
            &lease,
            expected,
            batch,
            head,
            None,
        )?)
    }
}
