//! Who sequences a log: the lease, and the epoch that fences a leader that
//! lost it.
//!
//! The `lease` table has one row per log. Taking it (when it expired, by
//! the database's clock, or when this holder already has it) raises the
//! epoch, and in the same transaction the head's epoch is raised to it:
//! from then on the head's compare-and-swap ([`crate::append`]) fails for
//! every writer of an older epoch, even one whose size and root are still
//! right. Safety rests on that epoch and the database's `now()`, never on
//! a node's clock; the holder renews well before the lease runs out and
//! stops writing when a renewal fails.

use std::time::Duration;

use islet_store::LogNumber;

use crate::error::{Error, Result, stmt};
use crate::store::{PgStore, log_id};

/// How long a lease lasts unless renewed, when the configuration says
/// nothing (`[store] lease_ttl_ms`).
pub const DEFAULT_LEASE_TTL: Duration = islet_store::config::store_limits::DEFAULT_LEASE_TTL;

/// The shortest and longest lease a configuration may set.
pub const LEASE_TTL_RANGE: (Duration, Duration) = (
    islet_store::config::store_limits::MIN_LEASE_TTL,
    islet_store::config::store_limits::MAX_LEASE_TTL,
);

/// A lease this process holds on a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The log.
    pub log: LogNumber,
    /// Who holds it (the node's name).
    pub holder: String,
    /// Its fencing epoch: commits carry it.
    pub epoch: i64,
}

const TAKE: &str = "UPDATE lease SET holder = $2, epoch = epoch + 1, \
     expires_at = now() + make_interval(secs => $3) \
     WHERE log_id = $1 AND (expires_at < now() OR holder = $2) RETURNING epoch";

const FENCE_HEAD: &str = "UPDATE head SET epoch = $2 WHERE log_id = $1 AND epoch < $2";

const RENEW: &str = "UPDATE lease SET expires_at = now() + make_interval(secs => $4) \
     WHERE log_id = $1 AND holder = $2 AND epoch = $3";

const RELEASE: &str =
    "UPDATE lease SET expires_at = now() WHERE log_id = $1 AND holder = $2 AND epoch = $3";

/// Who holds a log's lease, as the database says: holder, epoch and
/// whether it has expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    /// The holder ("" before anyone took it).
    pub holder: String,
    /// The current epoch.
    pub epoch: i64,
    /// True when it has run out (anyone may take it).
    pub expired: bool,
}

fn check_ttl(ttl: Duration) -> Result<f64> {
    let (min, max) = LEASE_TTL_RANGE;
    if ttl < min || ttl > max {
        return Err(Error::Inconsistent {
            what: format!(
                "a lease of {} ms is outside {}..={} ms",
                ttl.as_millis(),
                min.as_millis(),
                max.as_millis()
            ),
        });
    }
    Ok(ttl.as_secs_f64())
}

impl PgStore {
    /// Takes the lease of `log` for `holder` if it is free (expired) or
    /// already this holder's; `None` when another holder has it.
    ///
    /// # Errors
    /// [`Error::Statement`]; a `ttl` outside [`LEASE_TTL_RANGE`].
    pub fn take_lease(&self, log: LogNumber, holder: &str, ttl: Duration) -> Result<Option<Lease>> {
        let secs = check_ttl(ttl)?;
        let id = log_id(log)?;
        let mut client = self.pool.get()?;
        let mut tx = client.transaction().map_err(stmt("begin lease"))?;
        let Some(row) = tx
            .query_opt(TAKE, &[&id, &holder, &secs])
            .map_err(stmt("take lease"))?
        else {
            return Ok(None);
        };
        let epoch: i64 = row.get(0);
        tx.execute(FENCE_HEAD, &[&id, &epoch])
            .map_err(stmt("fence head"))?;
        tx.commit().map_err(stmt("commit lease"))?;
        let lease = Lease {
            log,
            holder: holder.to_owned(),
            epoch,
        };
        self.leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(log, lease.clone());
        Ok(Some(lease))
    }

    /// Renews a lease for another `ttl`; false (and the lease forgotten)
    /// when it was lost: expired and taken by another holder.
    ///
    /// # Errors
    /// [`Error::Statement`].
    pub fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<bool> {
        let secs = check_ttl(ttl)?;
        let renewed = self
            .pool
            .get()?
            .execute(
                RENEW,
                &[&log_id(lease.log)?, &lease.holder, &lease.epoch, &secs],
            )
            .map_err(stmt("renew lease"))?
            == 1;
        if !renewed {
            self.forget_lease(lease);
        }
        Ok(renewed)
    }

    /// Gives a lease up at once, so another node takes over without
    /// waiting for it to expire.
    ///
    /// # Errors
    /// [`Error::Statement`].
    pub fn release_lease(&self, lease: &Lease) -> Result<()> {
        self.forget_lease(lease);
        self.pool
            .get()?
            .execute(RELEASE, &[&log_id(lease.log)?, &lease.holder, &lease.epoch])
            .map_err(stmt("release lease"))?;
        Ok(())
    }

    /// Stops writing under `lease` (its commits fail with
    /// [`Error::NoLease`] from now on).
    pub fn forget_lease(&self, lease: &Lease) {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.get(&lease.log) == Some(lease) {
            leases.remove(&lease.log);
        }
    }

    /// The lease of `log` as the database holds it.
    ///
    /// # Errors
    /// [`Error::Statement`]; [`Error::Inconsistent`] for a log without one.
    pub fn lease_state(&self, log: LogNumber) -> Result<LeaseState> {
        let row = self
            .pool
            .get()?
            .query_opt(
                "SELECT holder, epoch, expires_at < now() FROM lease WHERE log_id = $1",
                &[&log_id(log)?],
            )
            .map_err(stmt("read lease"))?
            .ok_or_else(|| Error::Inconsistent {
                what: format!("log {log} has no lease row"),
            })?;
        Ok(LeaseState {
            holder: row.get(0),
            epoch: row.get(1),
            expired: row.get(2),
        })
    }
}
