//! What islet holds as a witness for other logs (C2SP tlog-witness): per
//! origin, the latest checkpoint it cosigned, and the evidence of forks it
//! was shown.
//!
//! The state is changed only by [`Store::witness_swap`], a compare-and-swap
//! on the stored size written in one synced `WriteBatch`: a witness answers
//! 200 only after the new state is durable, and two racing requests can
//! never both move the state from the same size (the spec's rollback
//! race). Keys are fixed-length: `witness/` ‖ SHA-256(origin), and
//! `witness-evidence/` ‖ SHA-256(origin) ‖ u64 sequence.

use rocksdb::WriteBatch;
use sha2::{Digest, Sha256};

use crate::db::Store;
use crate::error::{Error, Result, corrupt, db_key};
use crate::schema::{CF_META, Evidence};

/// Evidence records kept per witnessed origin. A log whose key signs
/// conflicting checkpoints could otherwise fill the disk; past the cap the
/// witness still refuses the checkpoints and counts them, it only stops
/// keeping copies.
pub const MAX_WITNESS_EVIDENCE: usize = 1000;

const STATE_PREFIX: &[u8] = b"witness/";
const EVIDENCE_PREFIX: &[u8] = b"witness-evidence/";

/// The latest checkpoint a witness cosigned for one origin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessState {
    /// The log's origin.
    pub origin: String,
    /// The cosigned tree size.
    pub size: u64,
    /// The cosigned root hash (lowercase hex).
    pub root: String,
    /// The checkpoint as served to monitors: the verified log signatures
    /// and the witness's own cosignature.
    pub note: String,
    /// The timestamp of that cosignature (seconds since the epoch); the
    /// next one for this origin is never earlier.
    pub timestamp: u64,
}

/// What [`Store::witness_record_evidence`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceKept {
    /// A new record was written (durable).
    Recorded,
    /// The same offered checkpoint is already kept.
    Duplicate,
    /// [`MAX_WITNESS_EVIDENCE`] records are kept already.
    Full,
}

fn origin_key(prefix: &[u8], origin: &str) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&Sha256::digest(origin.as_bytes()));
    k
}

impl Store {
    /// The state of `origin`, if this witness ever cosigned it.
    ///
    /// # Errors
    /// [`Error::Db`]; [`Error::Corrupt`] for a record that does not decode.
    pub fn witness_state(&self, origin: &str) -> Result<Option<WitnessState>> {
        self.get(CF_META, &origin_key(STATE_PREFIX, origin))?
            .map(|v| serde_json::from_slice(&v).map_err(|_| corrupt("witness state")))
            .transpose()
    }

    /// Every witnessed origin's state.
    ///
    /// # Errors
    /// [`Error::Db`]; [`Error::Corrupt`].
    pub fn witness_states(&self) -> Result<Vec<WitnessState>> {
        self.json_values(CF_META, STATE_PREFIX, "witness state")
    }

    /// Replaces the state of `new.origin` if its stored size is still
    /// `expected_size` (0 when nothing is stored), in one synced write.
    ///
    /// # Errors
    /// [`Error::WitnessRace`] when another request moved the state first;
    /// [`Error::Db`].
    pub fn witness_swap(&self, expected_size: u64, new: &WitnessState) -> Result<()> {
        let _guard = self.registry.lock().map_err(|_| corrupt("registry lock"))?;
        let stored = self.witness_state(&new.origin)?.map_or(0, |s| s.size);
        if stored != expected_size {
            return Err(Error::WitnessRace {
                origin: new.origin.clone(),
                expected: expected_size,
                stored,
            });
        }
        let key = origin_key(STATE_PREFIX, &new.origin);
        let value = serde_json::to_vec(new).map_err(|_| corrupt("witness state"))?;
        let mut wb = WriteBatch::default();
        wb.put_cf(self.cf(CF_META)?, &key, value);
        self.db
            .write_opt(wb, &Self::synced())
            .map_err(db_key("synced write", &key))
    }

    /// Keeps evidence that the log of `origin` signed a checkpoint that
    /// conflicts with the cosigned one: durable when it returns
    /// [`EvidenceKept::Recorded`]. The same offered checkpoint is kept once.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub fn witness_record_evidence(
        &self,
        origin: &str,
        evidence: &Evidence,
    ) -> Result<EvidenceKept> {
        let _guard = self.registry.lock().map_err(|_| corrupt("registry lock"))?;
        let kept = self.witness_evidence(origin)?;
        if kept.iter().any(|e| e.offered == evidence.offered) {
            return Ok(EvidenceKept::Duplicate);
        }
        if kept.len() >= MAX_WITNESS_EVIDENCE {
            return Ok(EvidenceKept::Full);
        }
        let mut key = origin_key(EVIDENCE_PREFIX, origin);
        key.extend_from_slice(&(kept.len() as u64).to_be_bytes());
        let value = serde_json::to_vec(evidence).map_err(|_| corrupt("evidence"))?;
        self.db
            .put_cf_opt(self.cf(CF_META)?, &key, value, &Self::synced())
            .map_err(db_key("put", &key))?;
        Ok(EvidenceKept::Recorded)
    }

    /// The evidence kept for `origin`, oldest first.
    ///
    /// # Errors
    /// [`Error::Db`]; [`Error::Corrupt`].
    pub fn witness_evidence(&self, origin: &str) -> Result<Vec<Evidence>> {
        self.json_values(CF_META, &origin_key(EVIDENCE_PREFIX, origin), "evidence")
    }
}
