//! The write path shared by several nodes (`../shared/specs/scale-out.md`
//! §3.3–3.4): submissions any node verified wait in `pending` until the
//! lease holder integrates them; every node learns the outcome from the
//! database and answers only once a durability barrier confirmed what it
//! read.
//!
//! - [`PgStore::enqueue`]: a node's verified entries into `pending`, unless
//!   they are in the log already or another node's copy is in flight.
//! - [`take_pending`] and [`logged`]: what the lease holder integrates, and
//!   which of it is in the log already.
//! - [`read_outcomes`] and [`barrier`]: what became of a node's waiting
//!   entries, read in one snapshot, then confirmed on the same connection.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use islet_store::{LogNumber, TreeHead};
use islet_tlog::merkle::{Hash, hash_from_slice};

use crate::error::{Error, Result, stmt, to_u64};
use crate::pool::Conn;
use crate::store::{PgStore, log_id};

/// The channel the lease holder `LISTEN`s on for new pending rows; the
/// payload is the log number.
pub const PENDING_CHANNEL: &str = "islet_pending";

/// The most bytes of entry bodies one integration takes from `pending`
/// (at least one row is always taken).
pub const MAX_TAKE_BYTES: i64 = 8 << 20;

/// A node's entries into `pending`, skipping those in `entries` already
/// (the log has them) and those another node's copy holds a row for.
///
/// The lookups in `entries` are written as `LATERAL` subqueries so that
/// each is one probe of its primary key whatever the planner believes of
/// the table's size (a log that grew faster than `ANALYZE` ran would
/// otherwise be read whole, measured at 5 ms per call at 5,000 entries).
const ENQUEUE: &str = "INSERT INTO pending (log_id, hash, body, node) \
     SELECT $1, u.hash, u.body, $2 FROM unnest($3::bytea[], $4::bytea[]) AS u(hash, body) \
     LEFT JOIN LATERAL (SELECT true AS logged FROM entries e \
       WHERE e.log_id = $1 AND e.hash = u.hash LIMIT 1) AS x ON true \
     WHERE x.logged IS NULL \
     ON CONFLICT (log_id, hash) DO NOTHING RETURNING hash, pseq";

/// The oldest pending rows, up to a count and (past the first row) a
/// number of body bytes.
const TAKE: &str = "SELECT pseq, hash, body FROM ( \
       SELECT pseq, hash, body, sum(octet_length(body)) OVER (ORDER BY pseq) AS upto \
       FROM pending WHERE log_id = $1 ORDER BY pseq LIMIT $2) AS oldest \
     WHERE upto <= $3 OR pseq = (SELECT min(pseq) FROM pending WHERE log_id = $1) \
     ORDER BY pseq";

/// Where each of some hashes is in the log: one primary-key probe each
/// (see [`ENQUEUE`]).
const LOGGED: &str = "SELECT e.hash, e.leaf_index, e.pseq FROM unnest($2::bytea[]) AS u(hash) \
     CROSS JOIN LATERAL (SELECT hash, leaf_index, pseq FROM entries \
       WHERE log_id = $1 AND hash = u.hash LIMIT 1) AS e";

/// Which of some hashes are in line: one probe each of `pending`'s key.
const STILL_PENDING: &str = "SELECT p.hash FROM unnest($2::bytea[]) AS u(hash) \
     CROSS JOIN LATERAL (SELECT hash FROM pending \
       WHERE log_id = $1 AND hash = u.hash LIMIT 1) AS p";

const HEAD: &str = "SELECT size, root, checkpoint FROM head WHERE log_id = $1";

const NOTIFY: &str = "SELECT pg_notify($1, $2)";

const DROP_ROWS: &str = "DELETE FROM pending WHERE log_id = $1 AND pseq = ANY($2)";

/// A WAL record that commits with `synchronous_commit = on`: it returns
/// once the synchronous standby holds everything before it.
const BARRIER: &str = "SELECT pg_logical_emit_message(true, 'islet', '')";

/// A submission waiting in `pending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    /// Its place in line (`pending.pseq`); the leaf it becomes records it.
    pub pseq: i64,
    /// Its leaf hash.
    pub hash: Hash,
    /// The entry's canonical body.
    pub body: Vec<u8>,
}

/// Where an entry is in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    /// Its leaf index.
    pub index: u64,
    /// The pending row that became the leaf, when it came that way.
    pub pseq: Option<i64>,
}

/// What a node reads, in one snapshot, about the entries it waits for.
#[derive(Debug, Clone, Default)]
pub struct Outcomes {
    /// The log's head then (none before its first).
    pub head: Option<TreeHead>,
    /// The waited-for entries the log holds, by leaf hash.
    pub logged: HashMap<Hash, Logged>,
    /// The waited-for entries still in `pending`.
    pub pending: HashSet<Hash>,
    /// The newest checkpoint the witnesses' quorum cosigned, if any.
    pub witnessed: Option<crate::Witnessed>,
}

fn hash(what: &str, bytes: &[u8]) -> Result<Hash> {
    hash_from_slice(bytes).map_err(|_| Error::Inconsistent {
        what: format!("{what} is {} bytes, not 32", bytes.len()),
    })
}

fn read_logged(
    client: &mut impl postgres::GenericClient,
    logged: &postgres::Statement,
    id: i32,
    hashes: &[&[u8]],
) -> Result<HashMap<Hash, Logged>> {
    client
        .query(logged, &[&id, &hashes])
        .map_err(stmt("read entries"))?
        .iter()
        .map(|row| {
            Ok((
                hash("an entry hash", row.get(0))?,
                Logged {
                    index: to_u64("leaf index", row.get(1))?,
                    pseq: row.get(2),
                },
            ))
        })
        .collect()
}

impl PgStore {
    /// Puts `items` (leaf hash, body) of `log` in `pending` for the lease
    /// holder, as submitted through `node`, in one transaction, and wakes
    /// the holder. Returns the rows this call inserted, with their place
    /// in line: an item missing from the answer is in the log already or
    /// in line as another submission's copy.
    ///
    /// The transaction commits with `synchronous_commit = off`, waiting
    /// for no flush: nothing is acknowledged on it, the integration commit
    /// that takes the row flushes the WAL before it (in order), and a row
    /// a crash or a failover loses is inserted again by the node that
    /// waits for it. (The scale-out spec proposed `local`; that costs an
    /// fsync per micro-batch and buys nothing the re-insertion does not.)
    ///
    /// # Errors
    /// [`Error::Connect`], [`Error::Statement`].
    pub fn enqueue(
        &self,
        log: LogNumber,
        node: &str,
        items: &[(Hash, &[u8])],
    ) -> Result<Vec<(Hash, i64)>> {
        let id = log_id(log)?;
        let hashes: Vec<&[u8]> = items.iter().map(|(h, _)| h.as_slice()).collect();
        let bodies: Vec<&[u8]> = items.iter().map(|(_, b)| *b).collect();
        let mut client = self.pool.get()?;
        let (enqueue, notify) = (client.prepared(ENQUEUE)?, client.prepared(NOTIFY)?);
        let mut tx = client.transaction().map_err(stmt("begin enqueue"))?;
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .map_err(stmt("enqueue durability"))?;
        let mine = tx
            .query(&enqueue, &[&id, &node, &hashes, &bodies])
            .map_err(stmt("enqueue"))?
            .iter()
            .map(|row| Ok((hash("a pending hash", row.get(0))?, row.get::<_, i64>(1))))
            .collect::<Result<Vec<_>>>()?;
        if !mine.is_empty() {
            tx.execute(&notify, &[&PENDING_CHANNEL, &log.to_string()])
                .map_err(stmt("notify pending"))?;
        }
        tx.commit().map_err(stmt("commit enqueue"))?;
        Ok(mine)
    }

    /// Opens a connection of its own whose barrier ([`barrier`]) can tell
    /// a confirmed commit from one whose wait for the standby was
    /// cancelled (which PostgreSQL reports as a success with a warning).
    ///
    /// # Errors
    /// [`Error::Connect`].
    pub fn connect_watched(&self) -> Result<Watched> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancelled);
        let mut client = self.pool.connect_with_notices(move |notice| {
            if notice.message().contains("synchronous replication") {
                flag.store(true, Ordering::SeqCst);
            }
        })?;
        client
            .batch_execute("SET synchronous_commit = on")
            .map_err(stmt("barrier durability"))?;
        Ok(Watched { client, cancelled })
    }
}

/// A connection whose notices are watched for a cancelled wait for the
/// synchronous standby.
pub struct Watched {
    /// The connection.
    pub client: Conn,
    cancelled: Arc<AtomicBool>,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched").finish_non_exhaustive()
    }
}

/// Takes the oldest pending rows of `log`, in line order: at most `rows`
/// of them and [`MAX_TAKE_BYTES`] of bodies (always the first).
///
/// # Errors
/// [`Error::Statement`], [`Error::Inconsistent`].
pub fn take_pending(client: &mut Conn, log: LogNumber, rows: usize) -> Result<Vec<PendingRow>> {
    let id = log_id(log)?;
    let limit = i64::try_from(rows).unwrap_or(i64::MAX);
    let take = client.prepared(TAKE)?;
    client
        .query(&take, &[&id, &limit, &MAX_TAKE_BYTES])
        .map_err(stmt("take pending"))?
        .iter()
        .map(|row| {
            Ok(PendingRow {
                pseq: row.get(0),
                hash: hash("a pending hash", row.get(1))?,
                body: row.get(2),
            })
        })
        .collect()
}

/// Which of `hashes` the log of `log` holds already.
///
/// # Errors
/// [`Error::Statement`], [`Error::Inconsistent`].
pub fn logged(client: &mut Conn, log: LogNumber, hashes: &[Hash]) -> Result<HashMap<Hash, Logged>> {
    let hashes: Vec<&[u8]> = hashes.iter().map(Hash::as_slice).collect();
    let statement = client.prepared(LOGGED)?;
    read_logged(&mut **client, &statement, log_id(log)?, &hashes)
}

/// Waits up to `timeout` for a notification on a channel `client`
/// listens on; true when one came (the others already queued are taken
/// with it: one look at the database answers them all).
///
/// # Errors
/// [`Error::Statement`] when the connection broke.
pub fn wait_notification(client: &mut postgres::Client, timeout: Duration) -> Result<bool> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut notifications = client.notifications();
    let heard = notifications
        .timeout_iter(timeout)
        .next()
        .map_err(stmt("wait for a notification"))?
        .is_some();
    if heard {
        let mut queued = notifications.iter();
        while queued.next().map_err(stmt("read notifications"))?.is_some() {}
    }
    Ok(heard)
}

/// Deletes pending rows of `log` whose entries the log holds already (a
/// copy put in line while the first was being integrated).
///
/// # Errors
/// [`Error::Statement`].
pub fn drop_rows(client: &mut Conn, log: LogNumber, rows: &[i64]) -> Result<()> {
    let delete = client.prepared(DROP_ROWS)?;
    client
        .execute(&delete, &[&log_id(log)?, &rows])
        .map_err(stmt("drop logged pending rows"))?;
    Ok(())
}

/// Reads, in one `REPEATABLE READ` snapshot, the head of `log` and where
/// each of `hashes` is: in the log, still pending, or neither (lost in a
/// failover, to be enqueued again). Nothing read may be answered before a
/// [`barrier`] on the same connection.
///
/// # Errors
/// [`Error::Statement`], [`Error::Inconsistent`].
pub fn read_outcomes(watched: &mut Watched, log: LogNumber, hashes: &[Hash]) -> Result<Outcomes> {
    let id = log_id(log)?;
    let keys: Vec<&[u8]> = hashes.iter().map(Hash::as_slice).collect();
    let conn = &mut watched.client;
    let (read_head, read_logged_rows, still_pending, read_witnessed) = (
        conn.prepared(HEAD)?,
        conn.prepared(LOGGED)?,
        conn.prepared(STILL_PENDING)?,
        conn.prepared(crate::witnessed::READ_WITNESSED)?,
    );
    let mut tx = conn
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(stmt("begin read outcomes"))?;
    let head = tx
        .query_opt(&read_head, &[&id])
        .map_err(stmt("read head"))?
        .map(|row| {
            Ok::<_, Error>(TreeHead {
                size: to_u64("head size", row.get(0))?,
                root: hash("head root", row.get(1))?,
                checkpoint: row.get(2),
            })
        })
        .transpose()?;
    let (logged, pending) = if keys.is_empty() {
        (HashMap::new(), HashSet::new())
    } else {
        let logged = read_logged(&mut tx, &read_logged_rows, id, &keys)?;
        let pending = tx
            .query(&still_pending, &[&id, &keys])
            .map_err(stmt("read pending"))?
            .iter()
            .map(|row| hash("a pending hash", row.get(0)))
            .collect::<Result<HashSet<Hash>>>()?;
        (logged, pending)
    };
    let witnessed = tx
        .query_opt(&read_witnessed, &[&id])
        .map_err(stmt("read witnessed"))?;
    let witnessed = crate::witnessed::from_row(witnessed.as_ref())?;
    tx.commit().map_err(stmt("end read outcomes"))?;
    Ok(Outcomes {
        head,
        logged,
        pending,
        witnessed,
    })
}

/// The durability barrier (scale-out spec §3.4): a WAL-writing commit with
/// `synchronous_commit = on` on the connection that read, so that it
/// returns only once the synchronous standby holds everything that
/// connection saw. A wait the server cancelled ends in a warning and a
/// seeming success: that is [`Error::Unconfirmed`].
///
/// # Errors
/// [`Error::Statement`], [`Error::Unconfirmed`].
pub fn barrier(watched: &mut Watched) -> Result<()> {
    watched.cancelled.store(false, Ordering::SeqCst);
    watched
        .client
        .batch_execute(BARRIER)
        .map_err(stmt("durability barrier"))?;
    if watched.cancelled.swap(false, Ordering::SeqCst) {
        return Err(Error::Unconfirmed);
    }
    Ok(())
}
