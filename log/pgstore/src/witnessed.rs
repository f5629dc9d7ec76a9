//! Witnesses' cosignatures of a log on PostgreSQL: the lease holder's
//! witnessing task adds them to the stored checkpoints, and records the
//! newest checkpoint the policy's quorum cosigned in `witnessed`, which
//! every node reads with the outcomes of its waiting writes
//! ([`crate::pending::read_outcomes`]).

use islet_store::LogNumber;
use islet_tlog::note::Note;

use crate::append::HEAD_CHANNEL;
use crate::error::{Error, Result, stmt, to_i64, to_u64};
use crate::store::{PgStore, log_id};

/// The newest checkpoint of a log that the witnesses' quorum cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witnessed {
    /// Its tree size.
    pub size: u64,
    /// The note with the log's signature and the cosignatures.
    pub checkpoint: Vec<u8>,
}

pub(crate) const READ_WITNESSED: &str = "SELECT size, checkpoint FROM witnessed WHERE log_id = $1";

/// Reads the `witnessed` row of a log from a query's result.
pub(crate) fn from_row(row: Option<&postgres::Row>) -> Result<Option<Witnessed>> {
    row.map(|row| {
        Ok(Witnessed {
            size: to_u64("witnessed size", row.get(0))?,
            checkpoint: row.get(1),
        })
    })
    .transpose()
}

impl PgStore {
    /// Replaces the stored checkpoint of `size` by `note`, the same
    /// checkpoint with cosignatures added, and when `quorum` (the policy
    /// is satisfied by them) records it as the log's newest witnessed
    /// checkpoint, unless a larger one is recorded; then tells every node
    /// (`islet_head`). Refused unless `note` has the stored text and keeps
    /// every signature line of the log's key.
    ///
    /// # Errors
    /// [`Error::Inconsistent`] for a note that is not the stored one with
    /// lines added, or no stored checkpoint of that size;
    /// [`Error::Statement`].
    pub fn record_cosignatures(
        &self,
        log: LogNumber,
        size: u64,
        note: &[u8],
        quorum: bool,
    ) -> Result<()> {
        let (id, size_i64) = (log_id(log)?, to_i64("size", size)?);
        let mut client = self.pool().get()?;
        let mut tx = client.transaction().map_err(stmt("begin cosignatures"))?;
        let stored: Vec<u8> = tx
            .query_opt(
                "SELECT checkpoint FROM checkpoints WHERE log_id = $1 AND size = $2 FOR UPDATE",
                &[&id, &size_i64],
            )
            .map_err(stmt("read checkpoint"))?
            .ok_or_else(|| Error::Inconsistent {
                what: format!("no checkpoint of size {size} is stored to add cosignatures to"),
            })?
            .get(0);
        keeps_the_log_signature(&stored, note, size)?;
        tx.execute(
            "UPDATE checkpoints SET checkpoint = $3 WHERE log_id = $1 AND size = $2",
            &[&id, &size_i64, &note],
        )
        .map_err(stmt("add cosignatures"))?;
        if quorum {
            tx.execute(
                "INSERT INTO witnessed (log_id, size, checkpoint) VALUES ($1, $2, $3) \
                 ON CONFLICT (log_id) DO UPDATE SET size = EXCLUDED.size, \
                 checkpoint = EXCLUDED.checkpoint WHERE witnessed.size <= EXCLUDED.size",
                &[&id, &size_i64, &note],
            )
            .map_err(stmt("record witnessed checkpoint"))?;
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&HEAD_CHANNEL, &format!("{log} {size} witnessed")],
            )
            .map_err(stmt("notify"))?;
        }
        tx.commit().map_err(stmt("commit cosignatures"))
    }

    /// The log's newest checkpoint the witnesses' quorum cosigned.
    ///
    /// # Errors
    /// [`Error::Statement`], [`Error::Inconsistent`].
    pub fn witnessed(&self, log: LogNumber) -> Result<Option<Witnessed>> {
        let row = self
            .pool()
            .get()?
            .query_opt(READ_WITNESSED, &[&log_id(log)?])
            .map_err(stmt("read witnessed"))?;
        from_row(row.as_ref())
    }
}

/// Checks that `note` is `stored` with lines added: the same text, and
/// every signature of the log's key (named after the origin, the text's
/// first line) still there.
fn keeps_the_log_signature(stored: &[u8], note: &[u8], size: u64) -> Result<()> {
    let parse = |bytes: &[u8]| {
        Note::parse(bytes).map_err(|e| Error::Inconsistent {
            what: format!("the checkpoint of size {size}: {e}"),
        })
    };
    let (old, new) = (parse(stored)?, parse(note)?);
    let origin = old.text.lines().next().unwrap_or_default();
    let kept = old
        .signatures
        .iter()
        .filter(|s| s.name == origin)
        .all(|s| new.signatures.contains(s));
    if old.text != new.text || !kept {
        return Err(Error::Inconsistent {
            what: format!(
                "the cosigned checkpoint of size {size} is not the stored one with lines added"
            ),
        });
    }
    Ok(())
}
