//! # islet-server
//!
//! The log server: the sequencer, the Rekor v2 and tlog-tiles HTTP API,
//! the mirrored logs it serves, the publish directory and the trust
//! material for clients. Built on every crate under `log/`; nothing
//! imports it but the binary (`tools/islet`): mirror, snapshot and verify
//! stand on the store and the spec crates.

pub mod access;
pub mod api;
pub mod batch;
mod body;
mod bucket;
pub mod cluster;
pub mod engine;
pub mod error;
pub mod extensions;
pub mod guard;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod mirror_push;
pub mod mirrors;
pub mod publish;
pub mod pushing;
pub mod read;
pub mod response;
pub mod sequencer;
pub mod shards;
pub mod tile_cache;
pub mod timestamp;
pub mod tls;
pub mod trust;
pub mod witness_service;
pub mod witnessing;
pub mod write;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use self::guard::CheckpointGuard;
use self::http::{AppState, app};
use self::sequencer::{SequencerParts, start};
pub use error::{Error, Result};
use islet_rekor::entry::EntryPolicy;
use islet_store::Store;
use islet_store::config::{Config, OwnLog};
use islet_store::datadir::DataDir;

/// A server ready to accept connections.
#[derive(Debug)]
pub struct Prepared {
    /// The router's state.
    pub state: AppState,
    /// The own log's verifier key (vkey); `None` in a data directory that
    /// only mirrors.
    pub vkey: Option<String>,
    /// The mirror key's verifier key (a `cosignature/v1` vkey).
    pub mirror_vkey: String,
    /// The witness key's verifier key, when this islet witnesses logs.
    pub witness_vkey: Option<String>,
    /// The configuration in force.
    pub config: Config,
    /// HTTPS, when `[tls]` is set.
    pub tls: Option<Arc<tls::TlsState>>,
}

/// Opens the store, starts the own log (when the data directory has one)
/// and the services for other logs.
///
/// # Errors
/// Anything that must stop a start: configuration, key, store, fork guard.
pub fn prepare(data: &DataDir, config: Config) -> Result<Prepared> {
    // The TLS files are checked before anything else is opened.
    let tls = config
        .tls
        .as_ref()
        .map(|t| {
            tls::TlsState::load(tls::TlsFiles {
                cert: data.resolve(&t.cert),
                key: data.resolve(&t.key),
                client_ca: config
                    .access
                    .client_ca
                    .iter()
                    .map(|p| data.resolve(p))
                    .collect(),
                client_crl: config
                    .access
                    .client_crl
                    .iter()
                    .map(|p| data.resolve(p))
                    .collect(),
            })
            .map(Arc::new)
        })
        .transpose()?;
    let access = access::Access::new(&config.access, access::TokenWatch::new(data.tokens_path()));
    let mirror_signer = data.load_mirror_signer(&config)?;
    let witness_signer = if config.witness_service.logs.is_empty() {
        None
    } else {
        Some(data.load_witness_signer(&config, &mirror_signer)?)
    };
    // Keys and the TSA are checked before the store is opened (or made);
    // a node without the log key checks its TSA once the database told
    // it the log's verifier key.
    let own_keys = match &config.own {
        Some(own) => {
            let signer = own
                .key
                .as_ref()
                .map(|_| data.load_signer(own))
                .transpose()?;
            let tsa = signer
                .as_ref()
                .map(|s| start_tsa(data, &config, &s.verifier()))
                .transpose()?;
            Some((own, signer, tsa))
        }
        None => None,
    };
    let store = Arc::new(Store::open(&data.db_path(), true)?);
    let shards = Arc::new(shards::ShardIndex::load(
        &store,
        Some(&config.raw.public_url),
    )?);
    let own = match own_keys {
        Some((own, signer, tsa)) => {
            let engine = engine::open_own(
                data,
                &config.store,
                &own.origin,
                signer.as_ref().map(|s| s.verifier()).as_ref(),
                &store,
            )?;
            let tsa = match tsa {
                Some(checked) => checked,
                None => start_tsa(data, &config, &engine.verifier)?,
            };
            let parts = OwnParts {
                own,
                signer,
                tsa,
                engine,
            };
            Some(start_own_log(data, &config, parts, &store, &shards)?)
        }
        None => None,
    };
    let witness_vkey = witness_signer
        .as_ref()
        .map(|s| islet_tlog::note::NoteSigner::verifier(s.as_ref()).to_vkey());
    let witness = witness_signer
        .map(|signer| {
            witness_service::WitnessService::new(
                Arc::clone(&store),
                signer,
                &config.witness_service,
                witness_service::system_clock(),
            )
            .map(Arc::new)
        })
        .transpose()?;
    let push = if config.mirror_accept.is_empty() {
        None
    } else {
        let logs: Vec<(String, String)> = config
            .mirror_accept
            .iter()
            .map(|l| (l.origin.clone(), l.vkey.clone()))
            .collect();
        let own_origin = config.own.as_ref().map(|o| o.origin.as_str());
        Some(Arc::new(
            islet_mirror::push::PushReceiver::new(Arc::clone(&store), own_origin, &logs).map_err(
                |e| Error::Config {
                    reason: format!("mirror.accept: {e}"),
                },
            )?,
        ))
    };
    let mirrors = Arc::new(mirrors::MirrorIndex::load(&store)?);
    mirrors::spawn_indexer(Arc::clone(&store))?;
    let (own, own_store, vkey, tsa, witnessing) = match own {
        Some(o) => (
            Some(o.state),
            o.own_store,
            Some(o.vkey),
            o.tsa,
            o.witnessing,
        ),
        None => (
            None,
            islet_store::SharedLog::new(Arc::clone(&store) as _, store.own_log()),
            None,
            None,
            None,
        ),
    };
    let mut state = AppState {
        store,
        own_store,
        own,
        shards,
        max_request_bytes: config.raw.max_request_bytes,
        body_read_timeout: config.http.body_read_timeout,
        mirrors,
        mirror_signer: Arc::clone(&mirror_signer),
        tsa,
        witness,
        witnessing,
        push,
        follow: None,
        started: std::time::SystemTime::now(),
        more_metrics: Vec::new(),
        access: access.clone(),
        tiles: Arc::default(),
    };
    if let Some(a) = access {
        state.more_metrics.push(a);
    }
    if let Some(t) = &tls {
        state
            .more_metrics
            .push(Arc::clone(t) as Arc<dyn http::MetricsSource>);
    }
    Ok(Prepared {
        state,
        vkey,
        mirror_vkey: islet_tlog::note::NoteSigner::verifier(mirror_signer.as_ref()).to_vkey(),
        witness_vkey,
        config,
        tls,
    })
}

/// The own log, started.
struct StartedLog {
    state: http::OwnLogState,
    own_store: islet_store::SharedLog,
    vkey: String,
    tsa: Option<Arc<timestamp::TsaService>>,
    witnessing: Option<Arc<witnessing::Witnessing>>,
}

/// What the own log starts from: its configuration, key, timestamp
/// authority and engine.
struct OwnParts<'a> {
    own: &'a OwnLog,
    /// `None` on a node that never sequences.
    signer: Option<Arc<dyn islet_tlog::note::NoteSigner>>,
    tsa: Option<Arc<timestamp::TsaService>>,
    engine: engine::OwnEngine,
}

/// Checks the own log against the fork guard and its witnesses, starts
/// its sequencer, publisher and pushes, its timestamp authority, and
/// writes the trust material for clients.
fn start_own_log(
    data: &DataDir,
    config: &Config,
    parts: OwnParts<'_>,
    store: &Arc<Store>,
    shards: &shards::ShardIndex,
) -> Result<StartedLog> {
    let OwnParts {
        own,
        signer,
        tsa,
        engine,
    } = parts;
    // A frozen log signs nothing more: nothing goes to its witnesses or
    // mirrors, and writes get 405.
    let frozen = shards::own_freeze(store)?;
    let (witnessed, mut pushed) = if frozen.is_some() {
        (None, Vec::new())
    } else {
        (config.witness.clone(), config.mirror_push.clone())
    };
    for target in &mut pushed {
        if let Some(path) = &mut target.token_file {
            *path = data.resolve(path);
        }
    }
    if store.mirror(&own.origin)?.is_some() {
        return Err(Error::Config {
            reason: format!(
                "this data directory mirrors a log of origin {}, the origin of its own log; give the own log another origin",
                own.origin
            ),
        });
    }
    let verifier = engine.verifier.clone();
    let log_id = verifier.rekor_log_id().ok_or_else(|| Error::Config {
        reason: "the log key must be Ed25519 or ECDSA P-256".into(),
    })?;
    let publisher = config
        .raw
        .publish_dir
        .clone()
        .map(|dir| publish::Publisher::start(engine.log.clone(), dir))
        .transpose()?;
    // Witnesses are asked before anything is signed: a data directory
    // behind what they hold must not sign a single checkpoint. On
    // PostgreSQL that is done by the node that takes the lease, once it
    // holds it (`cluster::ClusterParts::before_sequencing`): until then
    // other nodes sign, push and ask witnesses.
    let (witnessing, hook, hook_rx, on_lease) = match &engine.node {
        None => {
            let signer = signer.as_deref().ok_or_else(|| Error::Config {
                reason: "a log in RocksDB has one node, which signs: it needs the log key".into(),
            })?;
            let inputs = WitnessingStart {
                witness: witnessed.as_ref(),
                mirror_push: &pushed,
                own,
                log: &engine.log,
                recorder: witnessing::Recorder::Local(Arc::clone(store)),
                signer,
            };
            let witnessing = start_witnessing(data, inputs)?;
            let (hook, rx) = match &witnessing {
                Some((w, _)) => {
                    let (hook, rx) = w.channel();
                    (Some(hook), Some(rx))
                }
                None => (None, None),
            };
            (witnessing, hook, rx, OnLease::default())
        }
        Some(node) => {
            if signer.is_none() && !pushed.is_empty() {
                eprintln!(
                    "islet: [[mirror.push]]: this node never sequences (role = \"never\"); \
                     the node holding the sequencer lease pushes"
                );
                pushed.clear();
            }
            let recorder = witnessing::Recorder::Shared(Arc::clone(&node.store), engine.log.log());
            let witnesses = witnessed
                .as_ref()
                .map(|settings| {
                    load_witnessing(data, settings, own, &verifier, &engine.log, recorder)
                })
                .transpose()?;
            let on_lease = on_lease(signer.is_some(), &pushed, &own.origin, witnesses)?;
            (None, None, None, on_lease)
        }
    };
    let guard_path = data.guard_record_path(&config.raw);
    let sequencer = match engine.node {
        Some(node) => cluster::start(cluster::ClusterParts {
            store: node.store,
            log: engine.log.log(),
            node: node.name,
            lease_ttl: node.lease_ttl,
            signer: signer.clone(),
            verifier: verifier.clone(),
            origin: own.origin.clone(),
            guard: CheckpointGuard::for_shared_store(guard_path),
            config: config.sequencer.clone(),
            publisher: publisher.clone(),
            before_sequencing: on_lease.before_sequencing,
            witness_hook: on_lease.hook,
            witnesses: on_lease.witnesses.clone(),
        })?,
        None => start(SequencerParts {
            store: Arc::clone(engine.log.store()),
            log: engine.log.log(),
            signer: signer.clone().ok_or_else(|| Error::Config {
                reason: "a log in RocksDB has one node, which signs: it needs the log key".into(),
            })?,
            origin: own.origin.clone(),
            guard: CheckpointGuard::new(guard_path),
            config: config.sequencer.clone(),
            publisher: publisher.clone(),
            witness: hook,
        })?,
    };
    if !pushed.is_empty() {
        pushing::spawn(
            engine.log.clone(),
            own.origin.clone(),
            &pushed,
            Arc::clone(sequencer.shared()),
        )?;
    }
    let witnessing = match (witnessing, hook_rx) {
        (Some((w, probed)), Some(rx)) => {
            w.spawn(
                rx,
                probed,
                Arc::clone(sequencer.shared()),
                publisher.clone(),
            );
            Some(w)
        }
        _ => on_lease.witnesses,
    };
    if let Some(p) = &publisher {
        let head = sequencer.shared().latest();
        p.send(0, head.size, head.note.clone());
    }
    let site = trust::site_trust(data, config, &config.client_url, shards.first_valid_from())?;
    let inputs = trust::TrustInputs {
        base_url: &config.client_url,
        log_key: verifier.clone(),
        valid_from: &own.valid_from,
        valid_until: frozen.as_ref().map(|f| f.frozen_at.as_str()),
        retired: shards::retired(shards),
        tsa: site.tsa.filter(|_| tsa.is_some()),
        cas: site.cas,
        ctlogs: site.ctlogs,
        ca_url: site.ca_url,
    };
    for (path, value) in [
        (data.trusted_root_path(), trust::trusted_root(&inputs)?),
        (
            data.client_trust_config_path(),
            trust::client_trust_config(&inputs)?,
        ),
    ] {
        let text = serde_json::to_string_pretty(&value).map_err(|e| Error::Config {
            reason: format!("the trust material does not encode: {e}"),
        })?;
        std::fs::write(&path, text).map_err(Error::io(&path))?;
    }
    Ok(StartedLog {
        own_store: engine.log,
        state: http::OwnLogState {
            sequencer,
            log_id,
            policy: EntryPolicy {
                allow_dsse: config.raw.allow_dsse,
            },
            frozen,
        },
        vkey: verifier.to_vkey(),
        tsa,
        witnessing,
    })
}

/// The head this log would sign from: the stored one (with the
/// cosignatures it gathered), or for a new log the empty tree, signed in
/// memory only (an empty tree is consistent with every tree).
fn head_to_show(
    own: &OwnLog,
    log: &islet_store::SharedLog,
    signer: &dyn islet_tlog::note::NoteSigner,
) -> Result<sequencer::SignedHead> {
    Ok(match log.tree_head()? {
        Some(h) => {
            let note = log.checkpoint_at(h.size)?.unwrap_or(h.checkpoint);
            sequencer::SignedHead {
                size: h.size,
                root: h.root,
                note,
                signed_at: std::time::SystemTime::now(),
            }
        }
        None => sequencer::SignedHead {
            size: 0,
            root: islet_tlog::merkle::EMPTY_ROOT,
            note: sequencer::sign_head(&own.origin, 0, islet_tlog::merkle::EMPTY_ROOT, signer)?,
            signed_at: std::time::SystemTime::now(),
        },
    })
}

/// Shows the witnesses and the mirrors this log pushes to the head it
/// would sign from, before anything is signed, refusing to start when one
/// holds more (the data directory was restored from an older copy) or
/// another tree. Returns the witnesses with what they answered.
/// What [`start_witnessing`] shows the head to, and signs it with.
struct WitnessingStart<'a> {
    witness: Option<&'a islet_store::config::WitnessSettings>,
    mirror_push: &'a [islet_store::config::RawPushTarget],
    own: &'a OwnLog,
    log: &'a islet_store::SharedLog,
    recorder: witnessing::Recorder,
    signer: &'a dyn islet_tlog::note::NoteSigner,
}

fn start_witnessing(
    data: &DataDir,
    start: WitnessingStart<'_>,
) -> Result<Option<(Arc<witnessing::Witnessing>, witnessing::Probed)>> {
    let WitnessingStart {
        witness,
        mirror_push,
        own,
        log,
        recorder,
        signer,
    } = start;
    if witness.is_none() && mirror_push.is_empty() {
        return Ok(None);
    }
    let head = Arc::new(head_to_show(own, log, signer)?);
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::Config {
        reason:
            "witnessing and pushing run on the server's async runtime; start the server inside one"
                .into(),
    })?;
    if !mirror_push.is_empty() {
        let probe = pushing::probe(mirror_push, &head, &own.origin);
        tokio::task::block_in_place(|| runtime.block_on(probe))?;
    }
    let Some(settings) = witness else {
        return Ok(None);
    };
    let w = load_witnessing(data, settings, own, &signer.verifier(), log, recorder)?;
    let probe = w.probe(head);
    let probed = tokio::task::block_in_place(|| runtime.block_on(probe))?;
    Ok(Some((w, probed)))
}

/// The witnesses of `[witness]`: its policy read and checked against the
/// log's key.
fn load_witnessing(
    data: &DataDir,
    settings: &islet_store::config::WitnessSettings,
    own: &OwnLog,
    log_key: &islet_tlog::note::NoteVerifier,
    log: &islet_store::SharedLog,
    recorder: witnessing::Recorder,
) -> Result<Arc<witnessing::Witnessing>> {
    let mut settings = settings.clone();
    for path in settings.tokens.values_mut() {
        *path = data.resolve(path);
    }
    let path = data.root().join(&settings.policy);
    let text = read_policy(&path)?;
    Ok(Arc::new(witnessing::Witnessing::new(
        &text,
        log_key,
        &own.origin,
        settings,
        log.clone(),
        recorder,
    )?))
}

/// What a node of a log on PostgreSQL does once it holds the lease.
#[derive(Default)]
struct OnLease {
    /// The step before it signs (see [`on_lease`]).
    before_sequencing: Option<cluster::BeforeSequencing>,
    /// Where it hands committed heads to its witnessing task.
    hook: Option<witnessing::WitnessHook>,
    /// The log's witnesses, whose quorum every node's answers follow.
    witnesses: Option<Arc<witnessing::Witnessing>>,
}

/// The lease holder's duties, for a node that may hold the lease
/// (`eligible`): once it holds it, and before it signs, it shows the head
/// it signs from to each mirror it pushes to and each witness, refusing
/// (a fork: the database was restored from an older copy) when one holds
/// more; then it asks the witnesses to cosign each head it commits.
fn on_lease(
    eligible: bool,
    targets: &[islet_store::config::RawPushTarget],
    origin: &str,
    witnesses: Option<Arc<witnessing::Witnessing>>,
) -> Result<OnLease> {
    if !eligible || (targets.is_empty() && witnesses.is_none()) {
        return Ok(OnLease {
            witnesses,
            ..OnLease::default()
        });
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::Config {
        reason: "witnessing and pushing run on the server's async runtime; start the server \
                 inside one"
            .into(),
    })?;
    let (hook, rx) = match &witnesses {
        Some(w) => {
            let (hook, rx) = w.channel();
            (Some(hook), Some(rx))
        }
        None => (None, None),
    };
    let (targets, origin, tasked) = (targets.to_vec(), origin.to_owned(), witnesses.clone());
    let step: cluster::BeforeSequencing = Box::new(move |head, shared| {
        if !targets.is_empty() {
            runtime.block_on(pushing::probe(&targets, head, &origin))?;
        }
        if let (Some(w), Some(rx)) = (tasked, rx) {
            let probed = runtime.block_on(w.probe(Arc::new(head.clone())))?;
            let _entered = runtime.enter();
            w.spawn(rx, probed, Arc::clone(shared), None);
        }
        Ok(())
    });
    Ok(OnLease {
        before_sequencing: Some(step),
        hook,
        witnesses,
    })
}

/// Reads a witness policy file, at most [`islet_tlog::policy::MAX_POLICY_BYTES`].
fn read_policy(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let limit = islet_tlog::policy::MAX_POLICY_BYTES;
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut text))
        .map_err(Error::io(path))?;
    if text.len() > limit {
        return Err(Error::Config {
            reason: format!(
                "witness.policy {}: larger than {limit} bytes",
                path.display()
            ),
        });
    }
    Ok(text)
}

/// Loads the TSA key and chain (issuing them on a data directory made
/// before islet had a TSA), checks the chain and that its key is not the
/// log key, and opens the serial record.
fn start_tsa(
    data: &DataDir,
    config: &Config,
    log_key: &islet_tlog::note::NoteVerifier,
) -> Result<Option<Arc<timestamp::TsaService>>> {
    let Some(settings) = &config.tsa else {
        return Ok(None);
    };
    let Some((key, chain)) = data.load_tsa(config)? else {
        return Ok(None);
    };
    let mut tsa_config = islet_tsa::TsaConfig::default();
    if let Some(policy) = &settings.policy {
        let oid = policy.parse().map_err(|e| Error::Config {
            reason: format!("tsa.policy {policy:?}: {e}"),
        })?;
        tsa_config.policy = oid;
    }
    let authority = islet_tsa::TimestampAuthority::new(&key, &chain, tsa_config).map_err(|e| {
        Error::Config {
            reason: format!("tsa: {e}"),
        }
    })?;
    if let islet_tlog::note::PublicKey::EcdsaP256 { spki, .. } = log_key.public_key()
        && timestamp::leaf_spki(authority.chain_der()).as_deref() == Some(spki.as_slice())
    {
        return Err(Error::Config {
            reason: format!(
                "tsa: {} is the log key; the timestamp authority signs with a key of its own",
                settings.key.display()
            ),
        });
    }
    let serials =
        islet_tsa::Serials::open_now(&data.tsa_state_path()).map_err(|e| Error::Config {
            reason: format!("tsa: {e}"),
        })?;
    authority.raise_clock_floor(serials.boot_time());
    Ok(Some(Arc::new(timestamp::TsaService::new(
        authority,
        serials,
        settings.rate_per_second,
        settings.burst,
    ))))
}

/// Why [`serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// `shutdown` completed.
    Shutdown,
    /// The store failed ([`sequencer::Shared::fail`]): the server answered
    /// 503 for [`sequencer::FAILED_STORE_EXIT_AFTER`], then stopped, so
    /// that the process exits and its supervisor restarts it.
    StoreFailed,
}

/// Where [`serve`] listens, told to its `on_listening`.
#[derive(Debug, Clone, Copy)]
pub struct Listening {
    /// The bound `listen` address (useful with port 0).
    pub addr: SocketAddr,
    /// True when `listen` serves HTTPS.
    pub tls: bool,
    /// The plain-HTTP loopback listener beside HTTPS, if any.
    pub plain: Option<SocketAddr>,
}

async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Io {
            path: format!("listen {addr}"),
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| Error::Io {
        path: format!("listen {addr}"),
        source,
    })?;
    Ok((listener, bound))
}

/// Reloads the TLS files on every SIGHUP (and says so on stderr). Without
/// TLS a SIGHUP only says there is nothing to reload: it never stops the
/// server, as the signal's default action would.
fn reload_on_sighup(tls: Option<Arc<tls::TlsState>>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        eprintln!("islet: cannot listen for SIGHUP; certificates reload only on restart");
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match &tls {
                None => eprintln!("islet: SIGHUP: no [tls] to reload"),
                Some(t) => match t.reload() {
                    Ok(()) => eprintln!(
                        "islet: SIGHUP: reloaded {}; new connections get it",
                        t.cert_path().display()
                    ),
                    Err(e) => eprintln!("islet: SIGHUP: {e}; the previous certificate stays"),
                },
            }
        }
    });
}

/// Serves until `shutdown` completes, or until
/// [`sequencer::FAILED_STORE_EXIT_AFTER`] after the store failed.
/// `on_listening` is told where it listens.
///
/// # Errors
/// Binding errors.
pub async fn serve(
    prepared: Prepared,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(Listening),
) -> Result<Stopped> {
    let (main, addr) = bind(prepared.config.listen).await?;
    let (plain, plain_addr) = match prepared.config.tls.as_ref().and_then(|t| t.plain_listen) {
        Some(a) => {
            let (l, bound) = bind(a).await?;
            (Some(l), Some(bound))
        }
        None => (None, None),
    };
    on_listening(Listening {
        addr,
        tls: prepared.tls.is_some(),
        plain: plain_addr,
    });
    reload_on_sighup(prepared.tls.clone());
    // A data directory that only mirrors has no sequencer to fail.
    let shared = prepared
        .state
        .own
        .as_ref()
        .map(|own| Arc::clone(own.sequencer.shared()));
    let failed = shared.clone();
    let stop = async move {
        let store_failed = async {
            match failed {
                Some(failed) => {
                    failed.store_failed().await;
                    tokio::time::sleep(sequencer::FAILED_STORE_EXIT_AFTER).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown => {}
            () = store_failed => {}
        }
    };
    let listeners = listener::Listeners {
        main,
        tls: prepared.tls,
        plain,
    };
    listener::run(listeners, app(prepared.state), prepared.config.http, stop).await;
    Ok(if shared.is_none_or(|s| s.healthy()) {
        Stopped::Shutdown
    } else {
        Stopped::StoreFailed
    })
}
