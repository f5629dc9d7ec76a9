//! `islet snapshot export | import | inspect`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use islet_pgstore::PgStore;
use islet_snapshot::export::{ExportRequest, export, log_of};
use islet_snapshot::import::{ImportRequest, Outcome, import};
use islet_snapshot::inspect::{Signature, inspect};
use islet_snapshot::{DEFAULT_ZSTD_LEVEL, Error};
use islet_store::config::StoreSettings;
use islet_store::datadir::DataDir;
use islet_store::{LogStore, Store};

use crate::EXIT_VERIFICATION;
use crate::keys::{KeyArgs, key_and_origin};
use crate::report::{failure, print_json};

#[derive(Subcommand)]
pub(crate) enum SnapshotCommand {
    /// Write a log (the own one, or a mirror with --origin) as a snapshot:
    /// a full one, or an increment with --from.
    Export(ExportArgs),
    /// Verify a snapshot end to end and apply it to the mirror of its log
    /// (created, with the key pinned, on the first import).
    ///
    /// Exit status: 0 when applied or already present, 1 when the snapshot
    /// is refused (the reason on stderr), 2 on a usage or I/O error.
    Import(ImportArgs),
    /// Show a snapshot's manifest, sizes and checkpoint (and, with a key,
    /// whether the checkpoint's signature verifies).
    Inspect(InspectArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("target").required(true)))]
pub(crate) struct ExportArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Export the mirror of this origin instead of the own log.
    #[arg(long, value_name = "NAME")]
    origin: Option<String>,
    /// Size the snapshot extends: 0 for a full snapshot, or the size of the
    /// previous snapshot for an increment.
    #[arg(long, value_name = "N", default_value_t = 0)]
    from: u64,
    /// Size to end at (default: the current size); a checkpoint must have
    /// been signed at it.
    #[arg(long, value_name = "M")]
    to: Option<u64>,
    /// zstd level, 1 to 19.
    #[arg(long, value_name = "LEVEL", default_value_t = DEFAULT_ZSTD_LEVEL)]
    zstd_level: i32,
    /// The snapshot file to write (`.tar.zst`).
    #[arg(short = 'o', long = "output", value_name = "FILE", group = "target")]
    output: Option<PathBuf>,
    /// Write the snapshot into this OCI image layout (created when
    /// missing), as an ORAS artifact tagged --tag.
    #[arg(long, value_name = "DIR", group = "target")]
    oci_layout: Option<PathBuf>,
    /// Push the snapshot to an OCI registry as an ORAS artifact
    /// (`registry/repository:tag`).
    #[arg(long, value_name = "REF", group = "target")]
    push: Option<String>,
    #[command(flatten)]
    oci: OciArgs,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Options of OCI layouts and registries.
#[derive(Args)]
pub(crate) struct OciArgs {
    /// Tag of the snapshot in an OCI image layout.
    #[arg(long, value_name = "TAG", default_value = islet_snapshot::oci::DEFAULT_TAG)]
    tag: String,
    /// Talk to the registry over plain HTTP (only for registries on a
    /// trusted network; the snapshot is verified on import either way).
    #[arg(long)]
    plain_http: bool,
}

/// The log key: `--vkey`, or `--log-key` with `--origin`.

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true)))]
pub(crate) struct ImportArgs {
    /// The data directory (created when missing).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    #[command(flatten)]
    key: KeyArgs,
    /// The snapshot file, or a directory of snapshot files: every one of
    /// the log the mirror does not hold yet is imported, in order (full
    /// and incremental alike; a missing range stops it).
    #[arg(group = "source", value_name = "FILE|DIR")]
    file: Option<PathBuf>,
    /// Import the snapshot tagged --tag in this OCI image layout.
    #[arg(long, value_name = "DIR", group = "source")]
    oci_layout: Option<PathBuf>,
    /// Pull the snapshot from an OCI registry (`registry/repository:tag`).
    #[arg(long, value_name = "REF", group = "source")]
    pull: Option<String>,
    #[command(flatten)]
    oci: OciArgs,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The snapshot file.
    file: PathBuf,
    #[command(flatten)]
    key: KeyArgs,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: &SnapshotCommand) -> ExitCode {
    match command {
        SnapshotCommand::Export(a) => run_export(a),
        SnapshotCommand::Import(a) => run_import(a),
        SnapshotCommand::Inspect(a) => run_inspect(a),
    }
}

fn fail(json: bool, e: &Error) -> ExitCode {
    failure("islet snapshot", json, e.is_refusal(), e)
}

fn usage(json: bool, reason: String) -> ExitCode {
    fail(json, &Error::Usage { reason })
}

/// The data directory's own log: `None` when it only mirrors (with or
/// without an `islet.toml`), and the engine that keeps it.
fn own_log(
    data: &DataDir,
) -> islet_store::Result<Option<(islet_store::config::OwnLog, StoreSettings)>> {
    if !data.is_initialised() {
        return Ok(None);
    }
    let config = data.load_config()?.validate()?;
    Ok(config.own.map(|own| (own, config.store)))
}

/// The own log of the data directory in PostgreSQL, when its `[store]`
/// keeps it there (`None` for RocksDB, or a directory without a log).
pub(crate) fn own_log_if_in_postgres(
    data: &DataDir,
) -> islet_store::Result<Option<(PgStore, islet_pgstore::LogRow)>> {
    match own_log(data)? {
        Some((own, StoreSettings::Postgres(pg))) => {
            own_log_in_postgres(data, &pg, &own.origin).map(Some)
        }
        _ => Ok(None),
    }
}

/// The own log in PostgreSQL, for a node whose `[store]` keeps it there.
fn own_log_in_postgres(
    data: &DataDir,
    pg: &islet_store::config::PostgresSettings,
    origin: &str,
) -> islet_store::Result<(PgStore, islet_pgstore::LogRow)> {
    let store = PgStore::open(&pg.url, &islet_server::engine::pg_options(data, pg))?;
    let row = store
        .log(origin)?
        .ok_or_else(|| islet_store::Error::Usage {
            reason: format!("{} holds no log {origin} yet", store.target()),
        })?;
    Ok((store, row))
}

fn run_export(a: &ExportArgs) -> ExitCode {
    let data = DataDir::new(&a.data);
    // A data directory that only mirrors has no own log; its mirrors
    // export by --origin.
    let own = match own_log(&data) {
        Ok(own) => own,
        Err(e) => return fail(a.json, &e.into()),
    };
    let store = match Store::open_read_only(&data.db_path()) {
        Ok(s) => s,
        Err(e) => return fail(a.json, &e.into()),
    };
    let own_origin = own.as_ref().map(|(o, _)| o.origin.as_str());
    let (mut log, origin, mut log_keys) = match log_of(&store, own_origin, a.origin.as_deref()) {
        Ok(l) => l,
        Err(e) => return fail(a.json, &e),
    };
    let mut in_postgres = None;
    if let Some((own, engine)) = own.as_ref().filter(|_| log == store.own_log()) {
        if own.key.is_some() {
            match data.load_signer(own) {
                Ok(s) => log_keys = vec![s.verifier().to_vkey()],
                Err(e) => return fail(a.json, &e.into()),
            }
        }
        if let StoreSettings::Postgres(pg) = engine {
            match own_log_in_postgres(&data, pg, &own.origin) {
                Ok((pg_store, row)) => {
                    log = row.number;
                    in_postgres = Some(pg_store);
                    // A node without the key exports under the key the
                    // database registered for the log.
                    if own.key.is_none() {
                        log_keys = vec![row.vkey];
                    }
                }
                Err(e) => return fail(a.json, &e.into()),
            }
        }
    }
    let source: &dyn LogStore = match &in_postgres {
        Some(pg) => pg,
        None => &store,
    };
    let req = ExportRequest {
        store: source,
        log,
        origin,
        log_keys,
        from: a.from,
        to: a.to,
        zstd_level: a.zstd_level,
        progress: !a.json,
    };
    // Registries and layouts get the file from a staging directory.
    let staging = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return usage(a.json, format!("cannot make a staging directory: {e}")),
    };
    let output = a.output.clone().unwrap_or_else(|| {
        let to = a.to.map_or_else(|| "latest".to_owned(), |t| t.to_string());
        staging.path().join(format!(
            "{}-{}-{to}.tar.zst",
            islet_snapshot::schedule::safe_name(&req.origin),
            a.from
        ))
    });
    let report = match export(&req, &output) {
        Ok(r) => r,
        Err(e) => return fail(a.json, &e),
    };
    let mut published = None;
    if let Some(layout) = &a.oci_layout {
        match islet_snapshot::oci::write_layout(layout, &output, &a.oci.tag) {
            Ok(digest) => {
                published = Some(format!("{}:{} ({digest})", layout.display(), a.oci.tag))
            }
            Err(e) => return fail(a.json, &e),
        }
    }
    if let Some(reference) = &a.push {
        let opts = islet_snapshot::registry::RegistryOptions {
            plain_http: a.oci.plain_http,
        };
        match block_on(islet_snapshot::registry::push(reference, &output, &opts)) {
            Ok(digest) => published = Some(format!("{reference} ({digest})")),
            Err(e) => return fail(a.json, &e),
        }
    }
    let r = report;
    if a.json {
        let mut v = serde_json::to_value(&r).unwrap_or_default();
        if let Some(p) = &published {
            v["published"] = p.clone().into();
        }
        print_json(v);
        return ExitCode::SUCCESS;
    }
    if let Some(p) = &published {
        println!("published {p}");
    }
    println!(
        "wrote {}: {} from size {} to {}, {} files, {:.1} MB of tiles and bundles in {:.1} MB, in {:.2} s",
        output.display(),
        r.origin,
        r.from_size,
        r.to_size,
        r.files,
        r.content_bytes as f64 / 1e6,
        r.archive_bytes as f64 / 1e6,
        r.elapsed.as_secs_f64()
    );
    println!("sha256 {}", r.sha256);
    ExitCode::SUCCESS
}

/// Runs a future on a small runtime of its own.
fn block_on<T>(
    f: impl std::future::Future<Output = islet_snapshot::Result<T>>,
) -> islet_snapshot::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            path: "tokio runtime".into(),
            source: e,
        })?
        .block_on(f)
}

fn import_directory_report(json: bool, req: &ImportRequest<'_>, dir: &std::path::Path) -> ExitCode {
    use islet_snapshot::import_dir::{Step, import_directory};
    let steps = match import_directory(req, dir) {
        Ok(s) => s,
        Err(e) => return fail(json, &e),
    };
    if json {
        print_json(serde_json::json!({ "origin": req.origin, "steps": steps }));
        return ExitCode::SUCCESS;
    }
    for step in &steps {
        match step {
            Step::Imported { file, report } => println!(
                "imported {}: size {} -> {} ({} entries added)",
                file.display(),
                report.previous_size,
                report.to_size,
                report.entries_added
            ),
            Step::AlreadyHeld {
                file,
                from_size,
                to_size,
            } => println!(
                "skipped {} ({from_size} -> {to_size}): already held",
                file.display()
            ),
            Step::OtherLog { file, origin } => {
                println!("skipped {}: a snapshot of {origin}", file.display());
            }
        }
    }
    let imported = steps
        .iter()
        .filter(|s| matches!(s, Step::Imported { .. }))
        .count();
    println!("{}: {imported} snapshot(s) imported", req.origin);
    ExitCode::SUCCESS
}

fn run_import(a: &ImportArgs) -> ExitCode {
    let (key, origin) = match key_and_origin(&a.key) {
        Ok(k) => k,
        Err(e) => return usage(a.json, e),
    };
    let data = DataDir::new(&a.data);
    let own_origin = match own_log(&data) {
        Ok(own) => own.map(|(o, _)| o.origin),
        Err(e) => return fail(a.json, &e.into()),
    };
    if let Err(e) = std::fs::create_dir_all(&a.data) {
        return usage(a.json, format!("{}: {e}", a.data.display()));
    }
    let store = match Store::open(&data.db_path(), true) {
        Ok(s) => s,
        Err(e) => return fail(a.json, &e.into()),
    };
    let staging = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return usage(a.json, format!("cannot make a staging directory: {e}")),
    };
    if let Some(dir) = a.file.as_ref().filter(|f| f.is_dir()) {
        let req = ImportRequest {
            store: &store,
            key,
            origin,
            own_origin,
            source: dir.display().to_string(),
            progress: !a.json,
        };
        return import_directory_report(a.json, &req, dir);
    }
    let (path, source) = if let Some(f) = &a.file {
        (f.clone(), f.display().to_string())
    } else if let Some(layout) = &a.oci_layout {
        match islet_snapshot::oci::read_layout(layout, &a.oci.tag) {
            Ok((blob, _)) => (blob, format!("{}:{}", layout.display(), a.oci.tag)),
            Err(e) => return fail(a.json, &e),
        }
    } else if let Some(reference) = &a.pull {
        let opts = islet_snapshot::registry::RegistryOptions {
            plain_http: a.oci.plain_http,
        };
        match block_on(islet_snapshot::registry::pull(
            reference,
            staging.path(),
            &opts,
        )) {
            Ok(file) => (file, reference.clone()),
            Err(e) => return fail(a.json, &e),
        }
    } else {
        return usage(
            a.json,
            "give a snapshot FILE, --oci-layout DIR or --pull REF".into(),
        );
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => std::io::BufReader::with_capacity(1 << 20, f),
        Err(e) => return usage(a.json, format!("{}: {e}", path.display())),
    };
    let req = ImportRequest {
        store: &store,
        key,
        origin,
        own_origin,
        source,
        progress: !a.json,
    };
    match import(&req, file) {
        Ok(r) if a.json => {
            print_json(&r);
            ExitCode::SUCCESS
        }
        Ok(r) => {
            match r.outcome {
                Outcome::Applied => println!(
                    "imported {}: size {} -> {} ({} entries added) in {:.2} s",
                    r.origin,
                    r.previous_size,
                    r.to_size,
                    r.entries_added,
                    r.elapsed.as_secs_f64()
                ),
                Outcome::AlreadyPresent => println!(
                    "{} is already at size {} with this checkpoint: nothing to do",
                    r.origin, r.to_size
                ),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(a.json, &e),
    }
}

fn run_inspect(a: &InspectArgs) -> ExitCode {
    let key = if a.key.vkey.is_some() || a.key.log_key.is_some() {
        match key_and_origin(&a.key) {
            Ok((k, _)) => k,
            Err(e) => return usage(a.json, e),
        }
    } else {
        None
    };
    let file = match std::fs::File::open(&a.file) {
        Ok(f) => std::io::BufReader::new(f),
        Err(e) => return usage(a.json, format!("{}: {e}", a.file.display())),
    };
    match inspect(file, key.as_ref()) {
        Ok(i) if a.json => {
            let bad = matches!(i.signature, Signature::Invalid(_));
            print_json(&i);
            if bad {
                ExitCode::from(EXIT_VERIFICATION)
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(i) => {
            println!("origin     {}", i.origin);
            println!("sizes      {} -> {}", i.from_size, i.to_size);
            println!("root       {}", i.root);
            println!("files      {} ({} bytes)", i.files, i.content_bytes);
            println!("log keys   {}", i.log_keys.join(", "));
            let status = match &i.signature {
                Signature::NotChecked => "not checked (give --vkey)".to_owned(),
                Signature::Verified => "verified".to_owned(),
                Signature::Invalid(why) => format!("INVALID: {why}"),
            };
            println!("signature  {status}");
            print!("{}", i.checkpoint);
            if matches!(i.signature, Signature::Invalid(_)) {
                ExitCode::from(EXIT_VERIFICATION)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => fail(a.json, &islet_snapshot::Error::from(e)),
    }
}
