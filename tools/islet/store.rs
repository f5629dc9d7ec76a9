//! `islet store migrate`: a log moved between storage engines, RocksDB
//! (a data directory) and PostgreSQL (a `postgres://` URL), verified tile
//! for tile; `islet store schema`: a database's schema created or brought
//! to this islet's version.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use islet_pgstore::{LogKind, PgOptions, PgStore};
use islet_store::copy::{Copied, Side, copy_log};
use islet_store::datadir::DataDir;
use islet_store::{LogNumber, LogStore, Store};
use islet_tlog::note::NoteVerifier;

use crate::report::{failure, print_json};

/// How long the copy's sequencer lease on a PostgreSQL target lasts; it is
/// renewed after every commit, well inside that.
const COPY_LEASE: Duration = Duration::from_secs(30);

/// The name the copy holds the lease under.
const COPY_HOLDER: &str = "islet store migrate";

#[derive(Subcommand)]
pub(crate) enum StoreCommand {
    /// Copy the own log between a data directory (RocksDB) and a
    /// PostgreSQL database, either way: every entry re-hashed, every
    /// checkpoint checked with the log key, every tile and bundle of the
    /// copy compared byte for byte with the source. The target must not
    /// hold the log yet. Stop the servers of the source first.
    ///
    /// Exit status: 0 when copied and verified, 1 when the source or the
    /// copy does not verify, 2 on a usage or I/O error.
    Migrate(MigrateArgs),
    /// Create islet's schema in a PostgreSQL database, or bring it to this
    /// islet's version (after an upgrade, which the nodes refuse to start
    /// without). Migrations run in one transaction under an advisory lock
    /// and only add: nodes still running go on; nodes of an older islet
    /// then refuse to start, so upgrade every node's islet.
    ///
    /// Exit status: 0 when the schema is at this islet's version, 2 when
    /// the database cannot be reached or is newer than this islet.
    Schema(SchemaArgs),
}

#[derive(Args)]
pub(crate) struct SchemaArgs {
    /// The database: `postgres://user@host/db`.
    #[arg(long, value_name = "URL")]
    url: String,
    /// PEM certificates the database's TLS certificate must chain to
    /// (default: the system's roots).
    #[arg(long, value_name = "PEM")]
    pg_ca_file: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct MigrateArgs {
    /// Where the log is: a data directory, or `postgres://user@host/db`.
    #[arg(long, value_name = "DIR|URL")]
    from: String,
    /// Where it goes: a data directory (initialised with the same log key;
    /// its store empty), or `postgres://user@host/db` (the schema is
    /// created when missing).
    #[arg(long, value_name = "DIR|URL")]
    to: String,
    /// The data directory that names the log and its key, when both ends
    /// are databases (default: whichever end is a data directory).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// PEM certificates a database's TLS certificate must chain to, for a
    /// URL with `sslmode=require` (default: the system's roots). A database
    /// off this machine is reached only over TLS.
    #[arg(long, value_name = "PEM")]
    pg_ca_file: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: &StoreCommand) -> ExitCode {
    match command {
        StoreCommand::Migrate(a) => run_migrate(a),
        StoreCommand::Schema(a) => run_schema(a),
    }
}

fn run_schema(a: &SchemaArgs) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| failure("islet store schema", a.json, false, e);
    if !is_url(&a.url) {
        return fail(&format!("{:?} is not a postgres:// URL", a.url));
    }
    let mut options = PgOptions::new(1);
    if let Some(ca) = &a.pg_ca_file {
        options = options.with_ca_file(ca.clone());
    }
    let (store, before) = match PgStore::upgrade(&a.url, &options) {
        Ok(done) => done,
        Err(e) => return fail(&e),
    };
    let after = islet_pgstore::migrate::SCHEMA_VERSION;
    if a.json {
        print_json(serde_json::json!({
            "database": store.target(),
            "version_before": before,
            "version": after,
        }));
    } else if before == after {
        println!(
            "{}: islet schema version {after}, already current",
            store.target()
        );
    } else {
        println!(
            "{}: islet schema version {before} -> {after}",
            store.target()
        );
    }
    ExitCode::SUCCESS
}

fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The own log a data directory names: origin and verifier key.
fn own_log(dir: &DataDir) -> Result<(String, NoteVerifier), String> {
    dir.require_local_own_log("islet store migrate")
        .map_err(|e| e.to_string())?;
    let config = dir
        .load_config()
        .and_then(|raw| raw.validate())
        .map_err(|e| e.to_string())?;
    let own = config.own.as_ref().ok_or_else(|| {
        format!(
            "{} has no own log to migrate (a mirror-only data directory)",
            dir.root().display()
        )
    })?;
    let verifier =
        islet_server::engine::own_verifier(dir, &config, own).map_err(|e| e.to_string())?;
    Ok((own.origin.clone(), verifier))
}

/// One end of the migration, opened.
enum End {
    Rocks(Store, PathBuf),
    Pg(PgStore),
}

impl End {
    fn open(spec: &str, target: bool, ca_file: Option<&PathBuf>) -> Result<End, String> {
        if is_url(spec) {
            let mut options = PgOptions::new(2);
            options.ca_file = ca_file.cloned();
            let pg = if target {
                PgStore::create(spec, &options)
            } else {
                PgStore::open(spec, &options)
            };
            return pg.map(End::Pg).map_err(|e| e.to_string());
        }
        let dir = DataDir::new(PathBuf::from(spec));
        let store = if target {
            Store::open(&dir.db_path(), true)
        } else {
            Store::open_read_only(&dir.db_path())
        };
        store
            .map(|s| End::Rocks(s, PathBuf::from(spec)))
            .map_err(|e| e.to_string())
    }

    fn store(&self) -> &dyn LogStore {
        match self {
            End::Rocks(s, _) => s,
            End::Pg(p) => p,
        }
    }

    /// The log's number at this end (registered on a PostgreSQL target).
    fn log(&self, origin: &str, key: &NoteVerifier, target: bool) -> Result<LogNumber, String> {
        match self {
            End::Rocks(s, _) => Ok(s.own_log()),
            End::Pg(p) if target => p
                .register_log(origin, LogKind::Own, &key.to_vkey())
                .map_err(|e| e.to_string()),
            End::Pg(p) => {
                let row = p
                    .log(origin)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{} holds no log {origin}", p.target()))?;
                if row.kind != LogKind::Own || row.vkey != key.to_vkey() {
                    return Err(format!(
                        "{} holds {origin} with key {}, not the data directory's {}",
                        p.target(),
                        row.vkey,
                        key.to_vkey()
                    ));
                }
                Ok(row.number)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            End::Rocks(_, dir) => dir.display().to_string(),
            End::Pg(p) => format!("postgres://{}", p.target()),
        }
    }
}

fn run_migrate(a: &MigrateArgs) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| failure("islet store migrate", a.json, false, e);
    let names = a
        .data
        .clone()
        .or_else(|| (!is_url(&a.from)).then(|| PathBuf::from(&a.from)))
        .or_else(|| (!is_url(&a.to)).then(|| PathBuf::from(&a.to)));
    let Some(names) = names else {
        return fail(&"both ends are databases: --data names the data directory of the log");
    };
    let (origin, key) = match own_log(&DataDir::new(names)) {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    let ca = a.pg_ca_file.as_ref();
    let (from, to) = match (End::open(&a.from, false, ca), End::open(&a.to, true, ca)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return fail(&e),
    };
    let (from_log, to_log) = match (from.log(&origin, &key, false), to.log(&origin, &key, true)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return fail(&e),
    };
    let lease = match &to {
        End::Pg(p) => match p.take_lease(to_log, COPY_HOLDER, COPY_LEASE) {
            Ok(Some(l)) => Some(l),
            Ok(None) => {
                return fail(&format!(
                    "another node holds the sequencer lease of {origin} in {}: stop it first",
                    p.target()
                ));
            }
            Err(e) => return fail(&e),
        },
        End::Rocks(..) => None,
    };
    let total = from
        .store()
        .tree_head(from_log)
        .ok()
        .flatten()
        .map_or(0, |h| h.size);
    let bar = islet_snapshot::progress_bar(!a.json, total, "copying");
    let mut renewed = Instant::now();
    let mut progress = |size: u64| {
        bar.set_position(size);
        if let (End::Pg(p), Some(l)) = (&to, &lease)
            && renewed.elapsed() > COPY_LEASE / 3
        {
            // A failed renewal forgets the lease; the next commit then
            // fails and the copy stops.
            let _ = p.renew_lease(l, COPY_LEASE);
            renewed = Instant::now();
        }
    };
    let copied = copy_log(
        Side {
            store: from.store(),
            log: from_log,
        },
        Side {
            store: to.store(),
            log: to_log,
        },
        &key,
        &origin,
        &mut progress,
    );
    bar.finish_and_clear();
    if let (End::Pg(p), Some(l)) = (&to, &lease) {
        let _ = p.release_lease(l);
    }
    let copied = copied.and_then(|c| {
        if let End::Rocks(store, dir) = &to {
            record_guard(store, to_log, dir, c.size)?;
        }
        if let (End::Rocks(_, dir), End::Pg(p)) = (&from, &to) {
            // The source never appends again: one writable copy.
            DataDir::new(dir.clone())
                .mark_migrated(&format!("postgres://{}", p.target()), c.size)?;
        }
        Ok(c)
    });
    match copied {
        Ok(c) if a.json => {
            print_json(&c);
            ExitCode::SUCCESS
        }
        Ok(c) => {
            report(&c, &origin, &from, &to);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let refused = matches!(
                e,
                islet_store::Error::Corrupt { .. } | islet_store::Error::RootMismatch { .. }
            );
            failure("islet store migrate", a.json, refused, &e)
        }
    }
}

/// A data directory that received the log and has no fork-guard record
/// yet gets the copied head's checkpoint as its record, so that `islet
/// serve` starts on it; an existing record is left for the server to
/// check against the copy.
fn record_guard(
    store: &Store,
    log: LogNumber,
    dir: &std::path::Path,
    size: u64,
) -> Result<(), islet_store::Error> {
    let data = DataDir::new(dir.to_path_buf());
    let raw = data.load_config()?;
    let guard = islet_server::guard::CheckpointGuard::new(data.guard_record_path(&raw));
    if guard.path().exists() {
        return Ok(());
    }
    let note = store
        .checkpoint_at(log, size)?
        .ok_or_else(|| islet_store::Error::Corrupt {
            what: format!("the copy has no checkpoint of size {size}"),
        })?;
    guard.record(&note).map_err(|e| islet_store::Error::Usage {
        reason: format!("{}: {e}", guard.path().display()),
    })
}

fn report(c: &Copied, origin: &str, from: &End, to: &End) {
    println!(
        "copied {origin}: {} entries (root {}) from {} to {}",
        c.size,
        c.root,
        from.describe(),
        to.describe()
    );
    println!(
        "{} checkpoints in {} commits; {} tiles and {} bundles compared byte for byte",
        c.checkpoints, c.commits, c.tiles_compared, c.bundles_compared
    );
}
