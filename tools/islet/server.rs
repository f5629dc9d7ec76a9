//! `islet serve`, `islet init`, `islet trust-root`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use islet_server::trust;
use islet_store::config::{EngineKind, KeyType, NodeRole, RawStore, StoreSettings};
use islet_store::datadir::{DEFAULT_DATA_DIR, DataDir, InitOptions};

use crate::EXIT_USAGE_OR_IO;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum KeyTypeArg {
    Ed25519,
    EcdsaP256,
}

/// `--role`: whether a node of a log in PostgreSQL may sequence.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// It bids for the sequencer lease and needs the log key.
    Eligible,
    /// It never sequences and carries no key.
    Never,
}

impl From<RoleArg> for NodeRole {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Eligible => NodeRole::Eligible,
            RoleArg::Never => NodeRole::Never,
        }
    }
}

impl From<KeyTypeArg> for KeyType {
    fn from(k: KeyTypeArg) -> Self {
        match k {
            KeyTypeArg::Ed25519 => KeyType::Ed25519,
            KeyTypeArg::EcdsaP256 => KeyType::EcdsaP256,
        }
    }
}

#[derive(Args)]
pub(crate) struct InitArgs {
    /// The data directory to create.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The URL clients reach the log at; its host is the origin.
    #[arg(long, value_name = "URL", default_value = islet_store::datadir::DEFAULT_PUBLIC_URL)]
    public_url: String,
    /// The checkpoint origin, when it is not the host of --public-url.
    #[arg(long, value_name = "NAME")]
    origin: Option<String>,
    /// Algorithm of a new log key.
    #[arg(long, value_enum, default_value = "ed25519")]
    key_type: KeyTypeArg,
    /// Use this PKCS#8 PEM private key instead of generating one.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = islet_store::datadir::DEFAULT_LISTEN)]
    listen: String,
    /// Do not issue a timestamp authority key and chain; `[tsa]` is
    /// written with `enabled = false`.
    #[arg(long)]
    no_tsa: bool,
    /// The site's Fulcio, listed as `caUrls` in the signing config.
    #[arg(long, value_name = "URL")]
    ca_url: Option<String>,
    /// A data directory without a log of its own, that only keeps mirrors
    /// of other logs (a relay host): no origin, no log key, no timestamp
    /// authority.
    #[arg(long, conflicts_with_all = ["origin", "key", "key_type", "no_tsa", "ca_url", "store"])]
    mirror_only: bool,
    /// Keep the own log in PostgreSQL (`[store] engine = "postgres"`):
    /// creates or migrates islet's schema there and registers the log. A
    /// further node of a log already registered gives the same `--key`.
    #[arg(long, value_name = "postgres://…")]
    store: Option<String>,
    /// PEM roots the database's TLS certificate must chain to (`[store]
    /// ca_file`; default the system's).
    #[arg(long, value_name = "FILE", requires = "store")]
    pg_ca_file: Option<PathBuf>,
    /// This node's name in the sequencer lease (`[store] node`; default
    /// the host name).
    #[arg(long, value_name = "NAME", requires = "store")]
    node: Option<String>,
    /// Whether this node may hold the sequencer lease (`[store] role`).
    /// A `never` node writes no key: it takes the verifier key of the
    /// log an eligible node registered in the database.
    #[arg(long, value_enum, requires = "store", conflicts_with = "key")]
    role: Option<RoleArg>,
    /// Start even when the database has no synchronous standby (`[store]
    /// require_sync_standby = false`): acknowledged entries then live on
    /// the database's machine only.
    #[arg(long, requires = "store")]
    no_sync_standby: bool,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The data directory. Without `islet.toml` it is initialised on
    /// first start, unless it holds only mirrors (made by `islet mirror
    /// sync` or `islet snapshot import`): then it is served as it is.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// Address to listen on (overrides islet.toml).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// The URL clients reach the log at (overrides islet.toml; on first
    /// start it also sets the origin).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Keep a static tlog-tiles tree in this directory (overrides islet.toml):
    /// tiles and bundles first, the checkpoint last.
    #[arg(long, value_name = "DIR")]
    publish_dir: Option<PathBuf>,
    /// Refuse historic dsseRequestV002 entries (overrides allow_dsse in
    /// islet.toml); DSSE envelopes sent as hashedrekord are still accepted.
    #[arg(long)]
    no_dsse: bool,
    /// Serve no timestamp authority (overrides `[tsa] enabled`).
    #[arg(long)]
    no_tsa: bool,
}

#[derive(Args)]
pub(crate) struct TrustRootArgs {
    /// The data directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// The URL clients reach the log at (default: public_url of islet.toml).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Print a ClientTrustConfig (trusted root and SigningConfig v0.2)
    /// instead of the trusted root alone.
    #[arg(long)]
    signing_config: bool,
    /// A certificate authority of the site (a site Fulcio or PKI): a PEM
    /// chain, intermediates first and the anchor last. Repeatable; added
    /// to `[trust] ca` of islet.toml.
    #[arg(long, value_name = "FILE")]
    ca: Vec<PathBuf>,
    /// A CT log whose SCTs the site's certificates carry: its URL and its
    /// PEM public key file. Repeatable; added to `[[trust.ctlog]]` of
    /// islet.toml.
    #[arg(long, value_name = "URL=FILE")]
    ctlog: Vec<String>,
    /// Start of the validity of the `--ctlog` keys (RFC 3339; default the
    /// log's `valid_from`): SCTs older than it do not verify, so a CT log
    /// older than this islet needs its own start.
    #[arg(long, value_name = "TIME", requires = "ctlog")]
    ctlog_valid_from: Option<String>,
    /// The site's Fulcio, listed as `caUrls` in the signing config
    /// (overrides `[trust] ca_url`).
    #[arg(long, value_name = "URL")]
    ca_url: Option<String>,
}

fn fail(message: &str) -> ExitCode {
    eprintln!("islet: {message}");
    ExitCode::from(EXIT_USAGE_OR_IO)
}

pub(crate) fn init(args: &InitArgs) -> ExitCode {
    let data = DataDir::new(&args.data);
    if args.mirror_only {
        return match data.init_mirror_only(&args.public_url, &args.listen) {
            Ok(_) => {
                println!(
                    "initialised {} to keep mirrors only (no log of its own)",
                    args.data.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        };
    }
    let opts = InitOptions {
        public_url: args.public_url.clone(),
        origin: args.origin.clone(),
        key_type: args.key_type.into(),
        key_file: args.key.clone(),
        listen: args.listen.clone(),
        tsa: !args.no_tsa,
        ca_url: args.ca_url.clone(),
        store: match &args.store {
            None => RawStore::default(),
            Some(url) => RawStore {
                engine: EngineKind::Postgres,
                url: Some(url.clone()),
                ca_file: args.pg_ca_file.clone(),
                node: args.node.clone(),
                role: args.role.map(NodeRole::from),
                require_sync_standby: args.no_sync_standby.then_some(false),
                ..RawStore::default()
            },
        },
    };
    // The database is reached and its schema made before anything is
    // written here.
    let database = match opts.store.validate() {
        Ok(StoreSettings::Rocksdb) => None,
        Ok(StoreSettings::Postgres(pg)) => match islet_server::engine::create_schema(&data, &pg) {
            Ok(db) => Some(db),
            Err(e) => return fail(&e.to_string()),
        },
        Err(e) => return fail(&e.to_string()),
    };
    // A node without the key takes the log's verifier key from the
    // database, where an eligible node registered it.
    let registered = match (&database, args.role) {
        (Some(db), Some(RoleArg::Never)) => {
            let origin = match &opts.origin {
                Some(o) => o.clone(),
                None => match islet_store::config::origin_of(&opts.public_url) {
                    Ok(o) => o,
                    Err(e) => return fail(&e.to_string()),
                },
            };
            match db.log(&origin) {
                Ok(Some(row)) if row.kind == islet_pgstore::LogKind::Own => Some(row),
                Ok(_) => {
                    return fail(&format!(
                        "{} holds no own log {origin}: a node with --role never carries no key, \
                         so initialise a node that has it first",
                        db.target()
                    ));
                }
                Err(e) => return fail(&e.to_string()),
            }
        }
        _ => None,
    };
    let config = match data.init(&opts).and_then(|cfg| cfg.validate()) {
        Ok(config) => config,
        Err(e) => return fail(&e.to_string()),
    };
    let Some(own) = &config.own else {
        return fail("islet init wrote a configuration without a log");
    };
    println!(
        "initialised {} for origin {}",
        args.data.display(),
        own.origin
    );
    if let (Some(db), Some(row)) = (&database, registered) {
        println!("verifier key {} (registered in {})", row.vkey, db.target());
        println!(
            "the log is number {}; this node never sequences and holds no key",
            row.number
        );
        return ExitCode::SUCCESS;
    }
    let vkey = match data.load_signer(own) {
        Ok(signer) => signer.verifier().to_vkey(),
        Err(e) => return fail(&e.to_string()),
    };
    println!("verifier key {vkey}");
    if let Some(db) = database {
        match db.register_log(&own.origin, islet_pgstore::LogKind::Own, &vkey) {
            Ok(log) => println!("the log is number {log} in {}", db.target()),
            Err(e) => {
                return fail(&format!(
                    "{e}; remove {} and give `islet init` the key of the log the database holds \
                     (--key), or another origin",
                    args.data.display()
                ));
            }
        }
    }
    ExitCode::SUCCESS
}

pub(crate) fn serve(args: &ServeArgs) -> ExitCode {
    let data = DataDir::new(&args.data);
    if !data.is_initialised() && !data.holds_only_mirrors() {
        let mut opts = InitOptions::default();
        if let Some(url) = &args.public_url {
            opts.public_url.clone_from(url);
        }
        if let Some(listen) = &args.listen {
            opts.listen.clone_from(listen);
        }
        if let Err(e) = data.init(&opts) {
            return fail(&e.to_string());
        }
        eprintln!(
            "islet: initialised {} with a new Ed25519 key",
            args.data.display()
        );
    }
    let mut raw = match data.load_config_or_mirror_only() {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    if let Some(listen) = &args.listen {
        raw.listen.clone_from(listen);
    }
    if let Some(url) = &args.public_url {
        raw.public_url.clone_from(url);
    }
    if let Some(dir) = &args.publish_dir {
        raw.publish_dir = Some(dir.clone());
    }
    if args.no_dsse {
        raw.allow_dsse = false;
    }
    if args.no_tsa {
        raw.tsa.enabled = false;
    }
    let config = match raw.validate() {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        let mut prepared = tokio::task::block_in_place(|| islet_server::prepare(&data, config))?;
        let origin = prepared.config.own.as_ref().map(|o| o.origin.clone());
        let vkey = prepared.vkey.clone();
        let mirror_vkey = prepared.mirror_vkey.clone();
        let witness_vkey = prepared.witness_vkey.clone();
        let witnessed = prepared.config.witness_service.logs.len();
        let witnesses = prepared
            .config
            .witness
            .as_ref()
            .map(|w| (w.policy.clone(), w.mode));
        let followed = islet_mirror::follow::followed(&data, &prepared.config).map_err(|e| {
            islet_server::Error::Config {
                reason: e.to_string(),
            }
        })?;
        let following = followed.len();
        let follow = islet_mirror::follow::spawn(
            std::sync::Arc::clone(&prepared.state.store),
            origin.clone(),
            followed,
            tokio::runtime::Handle::current(),
        )
        .map_err(|e| islet_server::Error::Config {
            reason: e.to_string(),
        })?;
        prepared.state.follow = Some(follow);
        let exporters: Vec<_> = prepared
            .config
            .exports
            .iter()
            .map(|job| {
                let own = prepared
                    .config
                    .own
                    .as_ref()
                    .zip(prepared.vkey.as_ref())
                    .map(|(o, v)| (o.origin.clone(), vec![v.clone()]));
                islet_snapshot::schedule::Exporter::new(job.clone(), data.root(), own)
            })
            .collect();
        let exporting = exporters.len();
        if exporting > 0 {
            let metrics = islet_snapshot::schedule::spawn(
                std::sync::Arc::clone(&prepared.state.store),
                prepared.state.own_store.clone(),
                exporters,
            )
            .map_err(|e| islet_server::Error::Config {
                reason: format!("export: {e}"),
            })?;
            prepared
                .state
                .more_metrics
                .push(std::sync::Arc::new(ExportMetricsSource(metrics)));
        }
        let trusted_root = data.trusted_root_path();
        let trust_config = data.client_trust_config_path();
        let mirrored: Vec<String> = prepared
            .state
            .store
            .mirrors()?
            .into_iter()
            .map(|m| m.origin)
            .collect();
        let access = prepared.config.access.clone();
        islet_server::serve(prepared, shutdown_signal(), move |listening| {
            let scheme = if listening.tls { "https" } else { "http" };
            let addr = listening.addr;
            match (&origin, &vkey) {
                (Some(origin), Some(vkey)) => {
                    eprintln!("islet: serving log {origin} on {scheme}://{addr}");
                    eprintln!("islet: verifier key {vkey}");
                }
                _ => eprintln!(
                    "islet: serving {} mirrored log(s) on {scheme}://{addr}; no log of its own",
                    mirrored.len()
                ),
            }
            if let Some(plain) = listening.plain {
                eprintln!("islet: plain HTTP for this host on http://{plain}");
            }
            let closed: Vec<String> = [
                ("write", access.write),
                ("timestamp", access.timestamp),
                ("witness", access.witness),
                ("read", access.read),
            ]
            .iter()
            .filter(|(_, mode)| mode.is_closed())
            .map(|(group, mode)| format!("{group} ({mode:?})"))
            .collect();
            if !closed.is_empty() {
                eprintln!("islet: closed to anonymous clients: {}", closed.join(", "));
            }
            for m in &mirrored {
                eprintln!(
                    "islet: mirror of {m} at /mirror/{}/",
                    islet_server::mirrors::origin_hash_hex(m)
                );
            }
            eprintln!("islet: mirror key {mirror_vkey}");
            if let Some(w) = &witness_vkey {
                eprintln!("islet: witness key {w} (witnessing {witnessed} log(s))");
            }
            if let Some((policy, mode)) = &witnesses {
                eprintln!(
                    "islet: checkpoints cosigned by the witnesses of {} ({mode:?})",
                    policy.display()
                );
            }
            if following > 0 {
                eprintln!("islet: following {following} upstream log(s)");
            }
            if exporting > 0 {
                eprintln!("islet: {exporting} scheduled export(s)");
            }
            if origin.is_some() {
                eprintln!("islet: trusted root {}", trusted_root.display());
                eprintln!("islet: client trust config {}", trust_config.display());
            }
        })
        .await
    });
    match result {
        Ok(islet_server::Stopped::Shutdown) => ExitCode::SUCCESS,
        Ok(islet_server::Stopped::StoreFailed) => {
            // Never a panic here: stderr may be a file on the full disk.
            let status = crate::EXIT_STORE_FAILED;
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("islet: stopped after a storage failure (exit status {status})\n"),
            );
            ExitCode::from(status)
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// The scheduled exports' figures on `/metrics`.
#[derive(Debug)]
struct ExportMetricsSource(std::sync::Arc<islet_snapshot::schedule::ExportMetrics>);

impl islet_server::http::MetricsSource for ExportMetricsSource {
    fn render(&self, out: &mut String) {
        self.0.render(out);
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

pub(crate) fn trust_root(args: &TrustRootArgs) -> ExitCode {
    match trust_root_json(args) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn trust_root_json(args: &TrustRootArgs) -> Result<String, String> {
    let data = DataDir::new(&args.data);
    let mut raw = data.load_config().map_err(|e| e.to_string())?;
    let cwd = std::env::current_dir().map_err(|e| format!("the current directory: {e}"))?;
    raw.trust.ca.extend(args.ca.iter().map(|p| cwd.join(p)));
    for spec in &args.ctlog {
        let Some((url, file)) = spec.split_once('=').filter(|(u, _)| u.contains("://")) else {
            return Err(format!(
                "--ctlog {spec:?}: give the log's URL and its public key file as URL=FILE"
            ));
        };
        let url = url.to_owned();
        raw.trust.ctlog.push(islet_store::config::RawCtlog {
            key: cwd.join(file),
            url,
            valid_from: args.ctlog_valid_from.clone(),
        });
    }
    if let Some(url) = &args.ca_url {
        raw.trust.ca_url = Some(url.clone());
    }
    let config = raw.validate().map_err(|e| e.to_string())?;
    let Some(own) = &config.own else {
        return Err(format!(
            "{} keeps no log of its own (it only mirrors), so there is no trusted root to print",
            args.data.display()
        ));
    };
    let log_key =
        islet_server::engine::own_verifier(&data, &config, own).map_err(|e| e.to_string())?;
    // The shards that ended and the freeze, from the store once it exists.
    let (frozen, shards) = if data.db_path().exists() {
        let store =
            islet_store::Store::open_read_only(&data.db_path()).map_err(|e| e.to_string())?;
        let frozen = store.frozen(store.own_log()).map_err(|e| e.to_string())?;
        let shards =
            islet_server::shards::ShardIndex::load(&store, None).map_err(|e| e.to_string())?;
        (frozen, shards)
    } else {
        (None, islet_server::shards::ShardIndex::default())
    };
    // With [tls], clients reach the log over https whatever scheme
    // public_url was written with.
    let base_url = match &args.public_url {
        Some(url) => {
            islet_store::config::client_url(url, config.tls.is_some()).map_err(|e| e.to_string())?
        }
        None => config.client_url.clone(),
    };
    let site = trust::site_trust(&data, &config, &base_url, shards.first_valid_from())
        .map_err(|e| e.to_string())?;
    let inputs = trust::TrustInputs {
        base_url: &base_url,
        log_key,
        valid_from: &own.valid_from,
        valid_until: frozen.as_ref().map(|f| f.frozen_at.as_str()),
        retired: islet_server::shards::retired(&shards),
        tsa: site.tsa,
        cas: site.cas,
        ctlogs: site.ctlogs,
        ca_url: site.ca_url,
    };
    let value = if args.signing_config {
        trust::client_trust_config(&inputs)
    } else {
        trust::trusted_root(&inputs)
    }
    .map_err(|e| e.to_string())?;
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}
