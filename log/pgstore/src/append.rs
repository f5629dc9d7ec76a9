//! The one write: a batch of tiles, bundles, dedup and search rows, the
//! checkpoint and the new head, in one transaction whose first statement is
//! a compare-and-swap on the head.
//!
//! The head row is the commit point. `UPDATE head ... WHERE size = $old AND
//! root = $old_root AND epoch = $mine` either touches the one row (this
//! writer grew the tree from the stored head and still holds the lease of
//! that epoch) or none: another writer committed, or took the log over and
//! raised the epoch; then nothing of the batch is written. In READ
//! COMMITTED a racing writer waits for the row lock and re-checks the
//! predicate, so the swap needs no retries. Every other statement's row
//! count is checked too, and the tables' trigger refuses a full tile that
//! changes or a partial one that shrinks: any surprise rolls back.

use islet_store::{CommitBatch, LogNumber, TreeHead};
use islet_tlog::tiles::TILE_WIDTH;

use crate::error::{Error, Result, stmt, to_i64};
use crate::lease::Lease;
use crate::pool::Conn;
use crate::store::log_id;

/// The channel `LISTEN`ers hear of new heads on; the payload is
/// `<log number> <size>`.
pub const HEAD_CHANNEL: &str = "islet_head";

const CAS_HEAD: &str = "UPDATE head SET size = $2, root = $3, checkpoint = $4, updated_at = now() \
     WHERE log_id = $1 AND size = $5 AND root = $6 AND epoch = $7";

/// The first head of a log, written only by the holder of the current
/// lease: the lease row is locked (`FOR SHARE`) so that a takeover waits
/// for this commit and then fences the head it wrote, rather than leaving
/// a head of an older epoch that no new leader could ever swap.
const FIRST_HEAD: &str = "INSERT INTO head (log_id, size, root, epoch, checkpoint) \
     SELECT $1, $2, $3, $4, $5 FROM lease WHERE log_id = $1 AND epoch = $4 FOR SHARE \
     ON CONFLICT (log_id) DO NOTHING";

const UPSERT_TILES: &str = "INSERT INTO tiles (log_id, level, idx, width, data) \
     SELECT $1, * FROM unnest($2::smallint[], $3::bigint[], $4::smallint[], $5::bytea[]) \
     ON CONFLICT (log_id, level, idx) DO UPDATE SET width = EXCLUDED.width, data = EXCLUDED.data \
     WHERE tiles.width <= EXCLUDED.width";

const UPSERT_BUNDLES: &str = "INSERT INTO bundles (log_id, idx, width, data) \
     SELECT $1, * FROM unnest($2::bigint[], $3::smallint[], $4::bytea[]) \
     ON CONFLICT (log_id, idx) DO UPDATE SET width = EXCLUDED.width, data = EXCLUDED.data \
     WHERE bundles.width <= EXCLUDED.width";

const INSERT_ENTRIES: &str = "INSERT INTO entries (log_id, hash, leaf_index) \
     SELECT $1, * FROM unnest($2::bytea[], $3::bigint[])";

const INSERT_ENTRIES_TAKEN: &str = "INSERT INTO entries (log_id, hash, leaf_index, pseq) \
     SELECT $1, * FROM unnest($2::bytea[], $3::bigint[], $4::bigint[])";

const DELETE_TAKEN: &str = "DELETE FROM pending WHERE log_id = $1 AND pseq = ANY($2)";

const INSERT_SEARCH: &str = "INSERT INTO search (log_id, kind, key, leaf_index) \
     SELECT $1, * FROM unnest($2::smallint[], $3::bytea[], $4::bigint[]) ON CONFLICT DO NOTHING";

const INSERT_CHECKPOINT: &str =
    "INSERT INTO checkpoints (log_id, size, checkpoint) VALUES ($1, $2, $3)";

/// What an integration took from `pending` (`crate::pending`): the row
/// each new leaf came from, in the order of the batch's dedup rows, and
/// every row it took (those also found in the log already included), all
/// deleted in the commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taken {
    /// The pending row of each new leaf, as `CommitBatch::dedup`.
    pub leaf_rows: Vec<i64>,
    /// Every pending row taken.
    pub rows: Vec<i64>,
}

/// Commits `batch` and `head` for `log` as the holder of `lease`, if the
/// stored head is still `expected` (see the module docs); with `taken`,
/// the pending rows the batch came from go in the same transaction.
///
/// # Errors
/// [`islet_store::Error::HeadMoved`] (inside [`Error::Store`]) when the
/// swap touched no row; [`islet_store::Error::ImmutableTile`] when the
/// trigger refused a tile or bundle; [`Error::Statement`]. Nothing is
/// written in any of these cases.
pub fn append(
    client: &mut Conn,
    log: LogNumber,
    lease: &Lease,
    expected: Option<&TreeHead>,
    batch: &CommitBatch,
    head: &TreeHead,
    taken: Option<&Taken>,
) -> Result<()> {
    if !batch.bundle_appends.is_empty() {
        // `LogStore::appends_bundles` is false here: bundles come whole.
        return Err(islet_store::Error::Usage {
            reason: "the PostgreSQL store takes whole bundles, not appends".to_owned(),
        }
        .into());
    }
    let id = log_id(log)?;
    let statements = Statements::prepare(client, expected.is_some())?;
    let mut tx = client.transaction().map_err(stmt("begin append"))?;
    let swapped = match expected {
        Some(old) => tx
            .execute(
                &statements.head,
                &[
                    &id,
                    &to_i64("size", head.size)?,
                    &head.root.as_slice(),
                    &head.checkpoint,
                    &to_i64("size", old.size)?,
                    &old.root.as_slice(),
                    &lease.epoch,
                ],
            )
            .map_err(stmt("swap head"))?,
        None => tx
            .execute(
                &statements.head,
                &[
                    &id,
                    &to_i64("size", head.size)?,
                    &head.root.as_slice(),
                    &lease.epoch,
                    &head.checkpoint,
                ],
            )
            .map_err(stmt("first head"))?,
    };
    if swapped != 1 {
        let stored: Option<i64> = tx
            .query_opt("SELECT size FROM head WHERE log_id = $1", &[&id])
            .map_err(stmt("read head"))?
            .map(|row| row.get(0));
        return Err(Error::Store(islet_store::Error::HeadMoved {
            log,
            expected: expected.map(|e| e.size),
            stored: stored.and_then(|s| u64::try_from(s).ok()),
        }));
    }
    write_rows(&mut tx, &statements, id, batch, taken).map_err(|e| {
        if e.is_immutable_refusal() {
            Error::Store(islet_store::Error::ImmutableTile {
                path: e.to_string(),
            })
        } else {
            e
        }
    })?;
    if !head.checkpoint.is_empty() {
        tx.execute(
            &statements.checkpoint,
            &[&id, &to_i64("size", head.size)?, &head.checkpoint],
        )
        .map_err(stmt("insert checkpoint"))?;
    }
    tx.execute(
        &statements.notify,
        &[&HEAD_CHANNEL, &format!("{log} {}", head.size)],
    )
    .map_err(stmt("notify"))?;
    tx.commit().map_err(stmt("commit append"))
}

/// Checks that a statement wrote as many rows as it was given.
fn expect_rows(what: &'static str, wrote: u64, given: usize) -> Result<()> {
    if usize::try_from(wrote).ok() == Some(given) {
        return Ok(());
    }
    Err(Error::Inconsistent {
        what: format!(
            "{what}: {wrote} of {given} rows written (a narrower copy over a wider one?)"
        ),
    })
}

/// The statements of a commit, prepared on its connection.
struct Statements {
    head: postgres::Statement,
    tiles: postgres::Statement,
    bundles: postgres::Statement,
    entries: postgres::Statement,
    entries_taken: postgres::Statement,
    delete_taken: postgres::Statement,
    search: postgres::Statement,
    checkpoint: postgres::Statement,
    notify: postgres::Statement,
}

impl Statements {
    /// The statements of a commit swapping the head (`swap`) or writing
    /// the first.
    fn prepare(conn: &mut Conn, swap: bool) -> Result<Statements> {
        Ok(Statements {
            head: conn.prepared(if swap { CAS_HEAD } else { FIRST_HEAD })?,
            tiles: conn.prepared(UPSERT_TILES)?,
            bundles: conn.prepared(UPSERT_BUNDLES)?,
            entries: conn.prepared(INSERT_ENTRIES)?,
            entries_taken: conn.prepared(INSERT_ENTRIES_TAKEN)?,
            delete_taken: conn.prepared(DELETE_TAKEN)?,
            search: conn.prepared(INSERT_SEARCH)?,
            checkpoint: conn.prepared(INSERT_CHECKPOINT)?,
            notify: conn.prepared(NOTIFY)?,
        })
    }
}

const NOTIFY: &str = "SELECT pg_notify($1, $2)";

fn write_rows(
    tx: &mut postgres::Transaction<'_>,
    statements: &Statements,
    id: i32,
    batch: &CommitBatch,
    taken: Option<&Taken>,
) -> Result<()> {
    if !batch.tiles.is_empty() {
        let mut levels = Vec::with_capacity(batch.tiles.len());
        let mut indexes = Vec::with_capacity(batch.tiles.len());
        let mut widths = Vec::with_capacity(batch.tiles.len());
        let mut data = Vec::with_capacity(batch.tiles.len());
        for (tile, bytes) in &batch.tiles {
            levels.push(i16::from(tile.level));
            indexes.push(to_i64("tile index", tile.index)?);
            widths.push(width(tile.width)?);
            data.push(bytes.as_slice());
        }
        let wrote = tx
            .execute(&statements.tiles, &[&id, &levels, &indexes, &widths, &data])
            .map_err(stmt("write tiles"))?;
        expect_rows("tiles", wrote, batch.tiles.len())?;
    }
    if !batch.bundles.is_empty() {
        let mut indexes = Vec::with_capacity(batch.bundles.len());
        let mut widths = Vec::with_capacity(batch.bundles.len());
        let mut data = Vec::with_capacity(batch.bundles.len());
        for (bundle, bytes) in &batch.bundles {
            indexes.push(to_i64("bundle index", bundle.index)?);
            widths.push(width(bundle.width)?);
            data.push(bytes.as_ref());
        }
        let wrote = tx
            .execute(&statements.bundles, &[&id, &indexes, &widths, &data])
            .map_err(stmt("write bundles"))?;
        expect_rows("bundles", wrote, batch.bundles.len())?;
    }
    if !batch.dedup.is_empty() {
        let hashes: Vec<&[u8]> = batch.dedup.iter().map(|(h, _)| h.as_slice()).collect();
        let indexes = batch
            .dedup
            .iter()
            .map(|(_, i)| to_i64("leaf index", *i))
            .collect::<Result<Vec<i64>>>()?;
        let wrote = match taken {
            Some(taken) => {
                if taken.leaf_rows.len() != batch.dedup.len() {
                    return Err(Error::Inconsistent {
                        what: format!(
                            "{} pending rows for {} new leaves",
                            taken.leaf_rows.len(),
                            batch.dedup.len()
                        ),
                    });
                }
                tx.execute(
                    &statements.entries_taken,
                    &[&id, &hashes, &indexes, &taken.leaf_rows],
                )
            }
            None => tx.execute(&statements.entries, &[&id, &hashes, &indexes]),
        }
        .map_err(stmt("write entries"))?;
        expect_rows("entries", wrote, batch.dedup.len())?;
    }
    if let Some(taken) = taken.filter(|t| !t.rows.is_empty()) {
        let deleted = tx
            .execute(&statements.delete_taken, &[&id, &taken.rows])
            .map_err(stmt("delete taken pending rows"))?;
        expect_rows("pending rows deleted", deleted, taken.rows.len())?;
    }
    if !batch.search.is_empty() {
        let kinds: Vec<i16> = batch
            .search
            .iter()
            .map(|(k, _, _)| i16::from(*k as u8))
            .collect();
        let keys: Vec<&[u8]> = batch.search.iter().map(|(_, k, _)| k.as_slice()).collect();
        let indexes = batch
            .search
            .iter()
            .map(|(_, _, i)| to_i64("leaf index", *i))
            .collect::<Result<Vec<i64>>>()?;
        tx.execute(&statements.search, &[&id, &kinds, &keys, &indexes])
            .map_err(stmt("write search"))?;
    }
    Ok(())
}

/// A tile or bundle width as the database's `smallint`.
fn width(w: u16) -> Result<i16> {
    if w == 0 || w > TILE_WIDTH {
        return Err(Error::OutOfRange {
            what: "tile width",
            value: u64::from(w),
        });
    }
    i16::try_from(w).map_err(|_| Error::OutOfRange {
        what: "tile width",
        value: u64::from(w),
    })
}
