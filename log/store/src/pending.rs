//! The pending checkpoints of pushed mirrors (C2SP tlog-mirror): per
//! origin, the latest checkpoint a log pushed with `add-checkpoint`, which
//! its `add-entries` requests then fill in. Changed only by a
//! compare-and-swap on its size, in one synced write; the key is
//! `mirror-pending/` ‖ SHA-256(origin).

use rocksdb::WriteBatch;
use sha2::{Digest, Sha256};

use crate::db::Store;
use crate::error::{Error, Result, corrupt, db_key};
use crate::schema::CF_META;

const PREFIX: &[u8] = b"mirror-pending/";

/// A pushed checkpoint the mirror has verified and not yet caught up with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingCheckpoint {
    /// The log's origin.
    pub origin: String,
    /// Its tree size.
    pub size: u64,
    /// Its root hash (lowercase hex).
    pub root: String,
    /// The checkpoint with the log signatures that verified.
    pub note: String,
}

fn key(origin: &str) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(&Sha256::digest(origin.as_bytes()));
    k
}

impl Store {
    /// The pending checkpoint of `origin`, if a log pushed one.
    ///
    /// # Errors
    /// [`Error::Db`]; [`Error::Corrupt`].
    pub fn mirror_pending(&self, origin: &str) -> Result<Option<PendingCheckpoint>> {
        self.get(CF_META, &key(origin))?
            .map(|v| serde_json::from_slice(&v).map_err(|_| corrupt("pending checkpoint")))
            .transpose()
    }

    /// Replaces the pending checkpoint of `new.origin` if its stored size is
    /// still `expected_size` (`None`: none stored), in one synced write.
    ///
    /// # Errors
    /// [`Error::WitnessRace`] when another request moved it first;
    /// [`Error::Db`].
    pub fn swap_mirror_pending(
        &self,
        expected_size: Option<u64>,
        new: &PendingCheckpoint,
    ) -> Result<()> {
        let _guard = self.registry.lock().map_err(|_| corrupt("registry lock"))?;
        let stored = self.mirror_pending(&new.origin)?.map(|p| p.size);
        if stored != expected_size {
            return Err(Error::WitnessRace {
                origin: new.origin.clone(),
                expected: expected_size.unwrap_or(0),
                stored: stored.unwrap_or(0),
            });
        }
        let k = key(&new.origin);
        let value = serde_json::to_vec(new).map_err(|_| corrupt("pending checkpoint"))?;
        let mut wb = WriteBatch::default();
        wb.put_cf(self.cf(CF_META)?, &k, value);
        self.db
            .write_opt(wb, &Self::synced())
            .map_err(db_key("synced write", &k))
    }
}
