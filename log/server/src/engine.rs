//! Which engine keeps the own log (`[store]` of islet.toml), opened for
//! `islet serve`: RocksDB in the data directory, or PostgreSQL, where the
//! node registers the log (or finds it registered with the same key),
//! checks the durability the database gives; the node's write path and
//! its bid for the sequencer lease are `crate::cluster`'s. [`LeaseKeeper`]
//! keeps a lease renewed (`../shared/specs/scale-out.md` §3.6).
//!
//! Losing the lease is a store failure for this node: its commits are
//! fenced by the epoch anyway, and the process exits for its supervisor to
//! restart it, when it serves again and bids for the lease anew.

use std::sync::Arc;
use std::time::{Duration, Instant};

use islet_pgstore::lease::Lease;
use islet_pgstore::{LogKind, PgOptions, PgStore};
use islet_store::config::{Config, NodeRole, OwnLog, PostgresSettings, StoreSettings};
use islet_store::datadir::DataDir;
use islet_store::{LogNumber, SharedLog, Store};
use islet_tlog::note::NoteVerifier;

use crate::error::{Error, Result};
use crate::sequencer::Shared;

/// The own log's engine, opened.
#[derive(Debug)]
pub struct OwnEngine {
    /// The own log in its engine.
    pub log: SharedLog,
    /// Its verifier key: the log key's, or on a node that carries no key,
    /// the one the database registered for the log.
    pub verifier: NoteVerifier,
    /// On PostgreSQL: this node of the log, which takes the sequencer
    /// lease when it is free (`crate::cluster`).
    pub node: Option<PgNode>,
}

/// A node of a log on PostgreSQL.
#[derive(Debug)]
pub struct PgNode {
    /// The database.
    pub store: Arc<PgStore>,
    /// The node's name (lease holder, `pending.node`).
    pub name: String,
    /// How long its lease lasts unless renewed.
    pub lease_ttl: Duration,
    /// Whether it may hold the lease.
    pub role: NodeRole,
}

/// A held sequencer lease, not yet renewed by a thread.
#[derive(Debug)]
pub struct LeaseKeeper {
    store: Arc<PgStore>,
    lease: Lease,
    ttl: Duration,
}

/// Opens the engine `settings` name for the own log of `origin`, whose
/// key is `key` (`None` on a node that carries none, which takes the
/// verifier key the database registered); `local` is the data
/// directory's store.
///
/// # Errors
/// [`Error::Config`] for a database that cannot be reached, lacks the
/// schema, holds the origin with another key (or, for a key-less node,
/// not at all), or has no synchronous standby when one is required;
/// [`Error::Store`] for a failing database.
pub fn open_own(
    data: &DataDir,
    settings: &StoreSettings,
    origin: &str,
    key: Option<&NoteVerifier>,
    local: &Arc<Store>,
) -> Result<OwnEngine> {
    match settings {
        StoreSettings::Rocksdb => {
            if let Some(target) = data.migrated_to()? {
                return Err(Error::Config {
                    reason: format!(
                        "the own log of {} was copied to {target} by `islet store migrate` \
                         ({}); it is served from there: set [store] engine = \"postgres\" and its \
                         url in islet.toml. This directory's copy is never appended to again, so \
                         that the log has one writable copy",
                        data.root().display(),
                        data.migrated_marker_path().display()
                    ),
                });
            }
            let verifier = key.cloned().ok_or_else(|| Error::Config {
                reason: "a log in RocksDB has one node, which signs: it needs the log key".into(),
            })?;
            Ok(OwnEngine {
                log: SharedLog::new(Arc::clone(local) as _, local.own_log()),
                verifier,
                node: None,
            })
        }
        StoreSettings::Postgres(pg) => open_postgres(data, pg, origin, key),
    }
}

/// The own log's verifier key: its key file's, or on a node that carries
/// no key (`[store] role = "never"`), the one its database registered.
///
/// # Errors
/// Key errors; as [`registered_verifier`].
pub fn own_verifier(data: &DataDir, config: &Config, own: &OwnLog) -> Result<NoteVerifier> {
    match (&own.key, &config.store) {
        (None, StoreSettings::Postgres(pg)) => registered_verifier(data, pg, &own.origin),
        _ => Ok(data.load_signer(own)?.verifier()),
    }
}

/// The verifier key the database at `pg` registered for the own log of
/// `origin` (what a node without the key checks checkpoints with).
///
/// # Errors
/// [`Error::Config`] when the database cannot be reached or holds no own
/// log of that origin; [`Error::Store`] for a failing database.
pub fn registered_verifier(
    data: &DataDir,
    pg: &PostgresSettings,
    origin: &str,
) -> Result<NoteVerifier> {
    let store = PgStore::open(&pg.url, &pg_options(data, pg)).map_err(|e| Error::Config {
        reason: format!("[store] {e}"),
    })?;
    Ok(verifier_of(&store, origin)?.1)
}

/// The number and registered verifier key of the own log of `origin`.
fn verifier_of(store: &PgStore, origin: &str) -> Result<(LogNumber, NoteVerifier)> {
    let row = store.log(origin).map_err(islet_store::Error::from)?;
    let row = match row {
        Some(row) if row.kind == LogKind::Own => row,
        Some(_) => {
            return Err(Error::Config {
                reason: format!(
                    "{} holds {origin} as a mirrored log, not as this node's own",
                    store.target()
                ),
            });
        }
        None => {
            return Err(Error::Config {
                reason: format!(
                    "{} holds no log {origin} yet: a node with role = \"never\" carries no key, \
                     so a node that has it must register the log first (`islet init --store` or \
                     `islet serve` there)",
                    store.target()
                ),
            });
        }
    };
    let verifier = NoteVerifier::from_vkey(&row.vkey).map_err(|e| Error::Config {
        reason: format!("{}: the key registered for {origin}: {e}", store.target()),
    })?;
    Ok((row.number, verifier))
}

/// The options a node's pool connects with.
pub fn pg_options(data: &DataDir, pg: &PostgresSettings) -> PgOptions {
    let options = PgOptions::new(pg.pool_size);
    match &pg.ca_file {
        Some(ca) => options.with_ca_file(data.resolve(ca)),
        None => options,
    }
}

fn open_postgres(
    data: &DataDir,
    pg: &PostgresSettings,
    origin: &str,
    key: Option<&NoteVerifier>,
) -> Result<OwnEngine> {
    let config = |e: islet_pgstore::Error| Error::Config {
        reason: format!("[store] {e}"),
    };
    let store = Arc::new(PgStore::open(&pg.url, &pg_options(data, pg)).map_err(config)?);
    let standbys = store
        .synchronous_standbys()
        .map_err(islet_store::Error::from)?;
    if standbys.trim().is_empty() {
        if pg.require_sync_standby {
            return Err(Error::Config {
                reason: format!(
                    "[store] the database at {} has no synchronous standby \
                     (synchronous_standby_names is empty), so an acknowledged entry would live on \
                     one machine only; configure one, or set require_sync_standby = false",
                    store.target()
                ),
            });
        }
        eprintln!(
            "islet: the database at {} has no synchronous standby: acknowledged entries live on \
             its machine only (require_sync_standby = false)",
            store.target()
        );
    }
    let (log, verifier) = match key {
        Some(key) => {
            let log = store
                .register_log(origin, LogKind::Own, &key.to_vkey())
                .map_err(config)?;
            (log, key.clone())
        }
        None => verifier_of(&store, origin)?,
    };
    Ok(OwnEngine {
        log: SharedLog::new(Arc::clone(&store) as _, log),
        verifier,
        node: Some(PgNode {
            store,
            name: pg.node.clone().unwrap_or_else(host_name),
            lease_ttl: pg.lease_ttl,
            role: pg.role,
        }),
    })
}

/// The machine's host name, the default lease holder name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "islet".into())
}

impl LeaseKeeper {
    /// A lease this node took, to keep renewed.
    pub fn new(store: Arc<PgStore>, lease: Lease, ttl: Duration) -> LeaseKeeper {
        LeaseKeeper { store, lease, ttl }
    }

    /// Renews the lease every third of its time to live on a thread of its
    /// own. When it is lost (another node took it) or cannot be renewed
    /// before it would run out, this node stops committing and `shared`
    /// is marked failed, so the server exits for its supervisor.
    ///
    /// # Errors
    /// [`Error::Thread`] when the thread cannot start.
    pub fn keep(self, shared: Arc<Shared>) -> Result<()> {
        std::thread::Builder::new()
            .name("islet-lease".into())
            .spawn(move || self.run(&shared))
            .map_err(|e| Error::Thread {
                thread: "islet-lease",
                reason: e.to_string(),
            })?;
        Ok(())
    }

    fn run(self, shared: &Shared) {
        let mut renewed = Instant::now();
        // Stop before the database could give the lease away: a third of
        // the ttl is left for the commit in flight.
        let margin = self.ttl / 3;
        while shared.healthy() {
            std::thread::sleep(self.ttl / 3);
            match self.store.renew_lease(&self.lease, self.ttl) {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => {
                    shared.fail(&"another node took the sequencer lease");
                    return;
                }
                Err(e) if renewed.elapsed() + margin >= self.ttl => {
                    self.store.forget_lease(&self.lease);
                    shared.fail(&format!(
                        "the sequencer lease could not be renewed for {} ms: {e}",
                        renewed.elapsed().as_millis()
                    ));
                    return;
                }
                Err(e) => eprintln!("islet: renewing the sequencer lease failed (will retry): {e}"),
            }
        }
        // The server is stopping: hand the lease over at once.
        let _ = self.store.release_lease(&self.lease);
    }
}

/// Connects to the database `pg` names and creates or migrates islet's
/// schema there (`islet init --store`, before it writes anything).
///
/// # Errors
/// [`Error::Config`] for a database that cannot be reached or migrated.
pub fn create_schema(data: &DataDir, pg: &PostgresSettings) -> Result<PgStore> {
    PgStore::create(&pg.url, &pg_options(data, pg)).map_err(|e| Error::Config {
        reason: format!("[store] {e}"),
    })
}
