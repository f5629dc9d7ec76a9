//! Shards: a log that ends (frozen: a final checkpoint, no more writes)
//! and the next one that starts in the same store, with a new key and
//! origin, as Sigstore's yearly shards do.
//!
//! The own log is the log numbered [`Store::own_log`] (0 until the first
//! rotation). Freezing it records its final size and checkpoint; starting
//! the next shard records the frozen one as a [`ShardRecord`] and moves
//! the own log to a fresh number, in one synced write. A frozen log's
//! tiles and checkpoints stay where they are: nothing is copied.

use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use crate::db::Store;
use crate::error::{Error, Result, corrupt, db, db_key};
use crate::schema::{
    CF_CHECKPOINTS, CF_META, LogNumber, OWN_LOG, TreeHead, log_prefixed, tree_key,
};

const OWN_LOG_KEY: &[u8] = b"own-log";
const FROZEN_PREFIX: &[u8] = b"frozen/";
const SHARD_PREFIX: &[u8] = b"shard/";

/// The freeze of a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frozen {
    /// Its final size.
    pub size: u64,
    /// When it was frozen (RFC 3339, UTC).
    pub frozen_at: String,
}

/// A shard that ended and was followed by another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardRecord {
    /// Its number in the store.
    pub number: LogNumber,
    /// Its checkpoint origin.
    pub origin: String,
    /// Its verifier key (vkey).
    pub vkey: String,
    /// Its public key, DER SubjectPublicKeyInfo, base64 (for trusted
    /// roots).
    pub public_key_der: String,
    /// The trusted root's key details string of its key
    /// (`PKIX_ED25519`, `PKIX_ECDSA_P256_SHA_256`).
    pub key_details: String,
    /// Start of its validity (RFC 3339).
    pub valid_from: String,
    /// The URL clients reached it at (its host is its origin, by the
    /// Rekor convention).
    pub public_url: String,
    /// Its freeze.
    pub frozen: Frozen,
}

fn frozen_key(log: LogNumber) -> Vec<u8> {
    [FROZEN_PREFIX, &log.to_be_bytes()].concat()
}

fn shard_key(origin: &str) -> Vec<u8> {
    [SHARD_PREFIX, origin.as_bytes()].concat()
}

impl Store {
    /// The number of the own log: [`OWN_LOG`] until the first rotation.
    pub fn own_log(&self) -> LogNumber {
        self.own_log.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Reads the own log's number into the store (at open).
    pub(crate) fn load_own_log(&self) -> Result<()> {
        let number = match self.get(CF_META, OWN_LOG_KEY)? {
            None => OWN_LOG,
            Some(v) => v
                .as_slice()
                .try_into()
                .map(LogNumber::from_be_bytes)
                .map_err(|_| corrupt("own log number"))?,
        };
        self.own_log
            .store(number, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// The freeze of `log`, when it was frozen.
    ///
    /// # Errors
    /// [`Error::Db`], [`Error::Corrupt`].
    pub fn frozen(&self, log: LogNumber) -> Result<Option<Frozen>> {
        self.get(CF_META, &frozen_key(log))?
            .map(|v| serde_json::from_slice(&v).map_err(|_| corrupt("freeze record")))
            .transpose()
    }

    /// Freezes `log` at its current size: `checkpoint` (the final one,
    /// signed for the stored size and root) becomes its checkpoint, and
    /// the freeze is recorded, in one synced write.
    ///
    /// # Errors
    /// [`Error::Usage`] when the log is empty, already frozen, or `head`
    /// is not its stored size and root; [`Error::Db`].
    pub fn freeze(&self, log: LogNumber, head: &TreeHead, frozen_at: &str) -> Result<Frozen> {
        let _guard = self.registry.lock().map_err(|_| corrupt("registry lock"))?;
        if let Some(f) = self.frozen(log)? {
            return Err(Error::Usage {
                reason: format!(
                    "the log was already frozen at size {} on {}",
                    f.size, f.frozen_at
                ),
            });
        }
        let stored = self.tree_head(log)?.ok_or_else(|| Error::Usage {
            reason: "an empty log has nothing to freeze".into(),
        })?;
        if stored.size != head.size || stored.root != head.root {
            return Err(Error::Usage {
                reason: format!(
                    "the final checkpoint is for size {}, the log is at {}",
                    head.size, stored.size
                ),
            });
        }
        let frozen = Frozen {
            size: head.size,
            frozen_at: frozen_at.to_owned(),
        };
        let mut wb = WriteBatch::default();
        wb.put_cf(
            self.cf(CF_CHECKPOINTS)?,
            log_prefixed(log, &head.size.to_be_bytes()),
            &head.checkpoint,
        );
        wb.put_cf(self.cf(CF_META)?, tree_key(log), head.encode());
        wb.put_cf(
            self.cf(CF_META)?,
            frozen_key(log),
            serde_json::to_vec(&frozen).map_err(|_| corrupt("freeze record"))?,
        );
        self.db
            .write_opt(wb, &Self::synced())
            .map_err(db("synced write"))?;
        Ok(frozen)
    }

    /// Every shard that ended, oldest first.
    ///
    /// # Errors
    /// [`Error::Db`], [`Error::Corrupt`].
    pub fn shards(&self) -> Result<Vec<ShardRecord>> {
        let mut shards: Vec<ShardRecord> =
            self.json_values(CF_META, SHARD_PREFIX, "shard record")?;
        shards.sort_by_key(|s| s.number);
        Ok(shards)
    }

    /// The shard of `origin` that ended, if there is one.
    ///
    /// # Errors
    /// [`Error::Db`], [`Error::Corrupt`].
    pub fn shard(&self, origin: &str) -> Result<Option<ShardRecord>> {
        self.get(CF_META, &shard_key(origin))?
            .map(|v| serde_json::from_slice(&v).map_err(|_| corrupt("shard record")))
            .transpose()
    }

    /// Ends the own log: records it as `shard` (whose number must be the
    /// own log's, frozen) and makes a fresh, empty log the own one. One
    /// synced write. Returns the new own log's number.
    ///
    /// # Errors
    /// [`Error::Usage`] when the own log is not frozen, `shard` is not it,
    /// or its origin is already a shard or a mirror; [`Error::Db`],
    /// [`Error::TooManyLogs`].
    pub fn start_next_shard(&self, shard: &ShardRecord) -> Result<LogNumber> {
        let _guard = self.registry.lock().map_err(|_| corrupt("registry lock"))?;
        let own = self.own_log();
        if shard.number != own {
            return Err(Error::Usage {
                reason: format!("log {} is not the own log ({own})", shard.number),
            });
        }
        match self.frozen(own)? {
            Some(f) if f == shard.frozen => {}
            Some(_) => {
                return Err(Error::Usage {
                    reason: "the shard record does not match the freeze".into(),
                });
            }
            None => {
                return Err(Error::Usage {
                    reason: "freeze the log first (islet shard freeze)".into(),
                });
            }
        }
        if self.shard(&shard.origin)?.is_some() || self.mirror(&shard.origin)?.is_some() {
            return Err(Error::Usage {
                reason: format!(
                    "{} is already a shard or a mirror of this store",
                    shard.origin
                ),
            });
        }
        let next = self.next_log_number()?;
        let meta = self.cf(CF_META)?;
        let mut wb = WriteBatch::default();
        let key = shard_key(&shard.origin);
        wb.put_cf(
            meta,
            &key,
            serde_json::to_vec(shard).map_err(|_| corrupt("shard record"))?,
        );
        wb.put_cf(meta, OWN_LOG_KEY, next.to_be_bytes());
        self.db
            .write_opt(wb, &Self::synced())
            .map_err(db_key("put", &key))?;
        self.own_log
            .store(next, std::sync::atomic::Ordering::Release);
        Ok(next)
    }

    /// The log of `origin` that is not the own one: a mirror, or a shard
    /// that ended. Its number and pinned keys.
    ///
    /// # Errors
    /// [`Error::Db`], [`Error::Corrupt`].
    pub fn other_log(&self, origin: &str) -> Result<Option<(LogNumber, Vec<String>)>> {
        if let Some(m) = self.mirror(origin)? {
            return Ok(Some((m.number, m.vkeys)));
        }
        Ok(self.shard(origin)?.map(|s| (s.number, vec![s.vkey])))
    }

    /// Numbers in use by logs that are not mirrors: the own log and the
    /// shards that ended.
    pub(crate) fn own_and_shard_numbers(&self) -> Result<Vec<LogNumber>> {
        let mut numbers = vec![self.own_log()];
        numbers.extend(self.shards()?.iter().map(|s| s.number));
        Ok(numbers)
    }
}
