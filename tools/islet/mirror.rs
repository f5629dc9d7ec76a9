//! `islet mirror sync | list`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use islet_mirror::Error;
use islet_mirror::sync::{DEFAULT_CONCURRENCY, Outcome, SyncRequest, Upstream, sync};
use islet_server::mirrors::origin_hash_hex;
use islet_store::Store;
use islet_store::datadir::DataDir;

use crate::keys::{KeyArgs, key_and_origin};
use crate::report::{failure, print_json};

#[derive(Subcommand)]
pub(crate) enum MirrorCommand {
    /// Bring the mirror of a log up to date from an upstream: a tlog-tiles
    /// log over HTTP(S) (such as a Rekor v2 shard's https://…/api/v2 or
    /// another islet), a directory (an rsync'd publish directory), or
    /// snapshot files.
    ///
    /// Nothing is stored before it is verified: the checkpoint with the
    /// pinned key, every entry re-hashed on top of the mirror's tree, the
    /// root equal to the signed root. An older upstream is not applied, a
    /// conflicting one is a fork (both checkpoints kept as evidence). An
    /// interrupted sync resumes where it stopped.
    ///
    /// Exit status: 0 when the mirror is up to date, 1 when the upstream is
    /// refused (the reason on stderr), 2 on a usage or I/O error.
    Sync(SyncArgs),
    /// List the mirrors of a data directory: origin, size, pinned key.
    List(ListArgs),
    /// Print the verifier key (a cosignature/v1 vkey) of the mirror key,
    /// which cosigns every mirrored checkpoint `islet serve` serves;
    /// creates the key on first use.
    Key(KeyCommandArgs),
}

#[derive(Args)]
pub(crate) struct KeyCommandArgs {
    /// The data directory (initialised with islet init).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
}

#[derive(Args)]
pub(crate) struct SyncArgs {
    /// The data directory holding the mirror (created when missing).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The upstream: one URL, one directory, or snapshot files.
    #[arg(long, value_name = "URL|DIR|FILE", num_args = 1.., required = true)]
    upstream: Vec<String>,
    #[command(flatten)]
    key: KeyArgs,
    /// Entry bundles fetched at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// A file holding a bearer token for an http(s) upstream whose reads
    /// are closed (`islet token add --scope read` there); mode 0600.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: &MirrorCommand) -> ExitCode {
    match command {
        MirrorCommand::Sync(a) => run_sync(a),
        MirrorCommand::List(a) => run_list(a),
        MirrorCommand::Key(a) => run_key(a),
    }
}

fn run_key(a: &KeyCommandArgs) -> ExitCode {
    let data = DataDir::new(&a.data);
    let loaded = data
        .load_config()
        .and_then(islet_store::config::RawConfig::validate)
        .and_then(|cfg| data.load_mirror_signer(&cfg));
    match loaded {
        Ok(signer) => {
            println!(
                "{}",
                islet_tlog::note::NoteSigner::verifier(signer.as_ref()).to_vkey()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(false, &e.into()),
    }
}

fn fail(json: bool, e: &Error) -> ExitCode {
    failure("islet mirror", json, e.is_refusal(), e)
}

fn usage(json: bool, reason: String) -> ExitCode {
    fail(json, &Error::Usage { reason })
}

/// The data directory's own origin, when it has an own log.
fn own_origin(data: &DataDir) -> Result<Option<String>, Error> {
    if !data.is_initialised() {
        return Ok(None);
    }
    Ok(data.load_config().map_err(Error::Store)?.origin)
}

fn run_sync(a: &SyncArgs) -> ExitCode {
    let (key, origin) = match key_and_origin(&a.key) {
        Ok(k) => k,
        Err(e) => return usage(a.json, e),
    };
    let token = match a
        .token_file
        .as_deref()
        .map(islet_store::tokens::read_token_file)
        .transpose()
    {
        Ok(t) => t,
        Err(e) => return usage(a.json, e.to_string()),
    };
    let upstream = match Upstream::from_args_with_token(&a.upstream, token.as_deref()) {
        Ok(u) => u,
        Err(e) => return fail(a.json, &e),
    };
    let data = DataDir::new(&a.data);
    let own_origin = match own_origin(&data) {
        Ok(o) => o,
        Err(e) => return fail(a.json, &e),
    };
    if let Err(e) = std::fs::create_dir_all(&a.data) {
        return usage(a.json, format!("{}: {e}", a.data.display()));
    }
    let store = match Store::open(&data.db_path(), true) {
        Ok(s) => s,
        Err(e) => return fail(a.json, &e.into()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return usage(a.json, format!("cannot start the runtime: {e}")),
    };
    let req = SyncRequest {
        store: &store,
        key,
        origin,
        own_origin,
        concurrency: a.concurrency,
        progress: !a.json,
    };
    match sync(&req, &upstream, runtime.handle()) {
        Ok(r) if a.json => {
            print_json(&r);
            ExitCode::SUCCESS
        }
        Ok(r) => {
            match r.outcome {
                Outcome::Applied => println!(
                    "synced {} from {}: size {} -> {} ({} entries added{}) in {:.2} s",
                    r.origin,
                    r.upstream,
                    r.previous_size,
                    r.size,
                    r.entries_added,
                    r.resumed_from
                        .map(|n| format!(", resumed at {n}"))
                        .unwrap_or_default(),
                    r.elapsed.as_secs_f64()
                ),
                Outcome::UpToDate => println!(
                    "{} is up to date at size {} with {}",
                    r.origin, r.size, r.upstream
                ),
            }
            if r.snapshots_skipped > 0 {
                println!(
                    "{} snapshot file(s) skipped: older than the mirror",
                    r.snapshots_skipped
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(a.json, &e),
    }
}

fn run_list(a: &ListArgs) -> ExitCode {
    let data = DataDir::new(&a.data);
    let store = match Store::open_read_only(&data.db_path()) {
        Ok(s) => s,
        Err(e) => return fail(a.json, &e.into()),
    };
    let mirrors = match store.mirrors() {
        Ok(m) => m,
        Err(e) => return fail(a.json, &e.into()),
    };
    let mut rows = Vec::new();
    for record in mirrors {
        let head = match store.tree_head(record.number) {
            Ok(h) => h,
            Err(e) => return fail(a.json, &e.into()),
        };
        let evidence = store.evidence(record.number).map_or(0, |e| e.len());
        rows.push(serde_json::json!({
            "origin": record.origin,
            "origin_hash": origin_hash_hex(&record.origin),
            "size": head.as_ref().map_or(0, |h| h.size),
            "vkeys": record.vkeys,
            "forks_recorded": evidence,
        }));
    }
    if a.json {
        println!("{}", serde_json::json!({ "ok": true, "mirrors": rows }));
    } else if rows.is_empty() {
        println!("no mirrors in {}", a.data.display());
    } else {
        for r in &rows {
            println!(
                "{}  size {}  /mirror/{}/  forks recorded: {}",
                r["origin"].as_str().unwrap_or_default(),
                r["size"],
                r["origin_hash"].as_str().unwrap_or_default(),
                r["forks_recorded"]
            );
        }
    }
    ExitCode::SUCCESS
}
