//! `islet.toml`: the configuration of a data directory, parsed into raw
//! values and then validated, with a precise message for each mistake.
//! Command-line flags override the file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod access;
mod export;
mod mirror;
mod store;
mod urls;
pub use urls::{client_url, origin_of};
mod witness;
pub use access::{
    AccessMode, AccessSettings, Rate, RawAuth, RawClientLimits, RawTls, TlsSettings,
    limits as access_limits,
};
pub use export::{ExportJob, ExportMode, ExportTarget, RawExport};
pub use mirror::{RawMirror, RawPushTarget, RawUpstream, Upstream};
pub use store::{
    EngineKind, NodeRole, PostgresSettings, RawStore, StoreSettings, limits as store_limits,
};
pub use witness::{
    RawGuard, RawWitness, RawWitnessService, RawWitnessedLog, StartCheck, WitnessMode,
    WitnessServiceSettings, WitnessSettings, WitnessedLog,
};

use crate::error::{Error, Result};
use islet_rekor::request::MAX_REQUEST_BYTES;

/// Limits on tuning values, with the reason for each.
pub mod limits;

/// Log key algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// Ed25519 (the default, as every public Rekor v2 shard).
    Ed25519,
    /// ECDSA P-256.
    EcdsaP256,
}

/// The file as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Checkpoint origin and key name (the host of `public_url`). Absent,
    /// with `key` and `valid_from`, in a data directory that only keeps
    /// mirrors of other logs (`islet init --mirror-only`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The URL clients use (the trusted root's `baseUrl`).
    pub public_url: String,
    /// Listen address.
    pub listen: String,
    /// The log key, PKCS#8 PEM, relative to the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Its algorithm (default Ed25519).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<KeyType>,
    /// Start of the key's validity in trusted roots (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// Keep a static tlog-tiles tree here.
    #[serde(default)]
    pub publish_dir: Option<PathBuf>,
    /// Accept historic `dsseRequestV002` entries.
    #[serde(default = "yes")]
    pub allow_dsse: bool,
    /// Sequencer tuning.
    #[serde(default)]
    pub sequencer: RawSequencer,
    /// Largest request body in bytes.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Limits on clients.
    #[serde(default)]
    pub http: RawHttp,
    /// Mirrors: the mirror key and the upstreams `islet serve` follows.
    #[serde(default)]
    pub mirror: RawMirror,
    /// The site's RFC 3161 timestamp authority.
    #[serde(default)]
    pub tsa: RawTsa,
    /// What else the trust material names: the site's certificate
    /// authorities and CT logs.
    #[serde(default)]
    pub trust: RawTrust,
    /// The witnesses this log's checkpoints go to.
    #[serde(default, skip_serializing_if = "RawWitness::is_unset")]
    pub witness: RawWitness,
    /// The logs this islet witnesses.
    #[serde(default, skip_serializing_if = "RawWitnessService::is_unset")]
    pub witness_service: RawWitnessService,
    /// The fork guard's record.
    #[serde(default, skip_serializing_if = "RawGuard::is_unset")]
    pub guard: RawGuard,
    /// Snapshots `islet serve` writes on a schedule (`[[export]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export: Vec<RawExport>,
    /// HTTPS on `listen` (`[tls]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<RawTls>,
    /// Who may call which route group (`[auth]`).
    #[serde(default, skip_serializing_if = "RawAuth::is_unset")]
    pub auth: RawAuth,
    /// Per-client rate limits (`[client_limits]`).
    #[serde(default, skip_serializing_if = "RawClientLimits::is_unset")]
    pub client_limits: RawClientLimits,
    /// The engine that keeps the own log (`[store]`).
    #[serde(default, skip_serializing_if = "RawStore::is_unset")]
    pub store: RawStore,
}

/// `[tsa]`: the timestamp authority `islet serve` runs beside the log at
/// `/api/v1/timestamp`, with a key of its own (never the log key).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTsa {
    /// Serve timestamps (`islet serve --no-tsa` overrides).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The TSA key, PKCS#8 PEM (ECDSA P-384 or P-256), relative to the
    /// data directory.
    #[serde(default = "default_tsa_key")]
    pub key: PathBuf,
    /// Its certificate chain, PEM, leaf first and root last.
    #[serde(default = "default_tsa_chain")]
    pub chain: PathBuf,
    /// The policy OID of issued timestamps (default Sigstore's
    /// 1.3.6.1.4.1.57264.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Sustained timestamps per second before 429.
    #[serde(default = "default_tsa_rate")]
    pub rate_per_second: u32,
    /// Timestamps that may be issued at once above the sustained rate.
    #[serde(default = "default_tsa_burst")]
    pub burst: u32,
}

impl Default for RawTsa {
    fn default() -> Self {
        Self {
            enabled: true,
            key: default_tsa_key(),
            chain: default_tsa_chain(),
            policy: None,
            rate_per_second: default_tsa_rate(),
            burst: default_tsa_burst(),
        }
    }
}

fn default_tsa_key() -> PathBuf {
    PathBuf::from("keys/tsa.pem")
}

fn default_tsa_chain() -> PathBuf {
    PathBuf::from("keys/tsa-chain.pem")
}

/// Default for [`RawTsa::rate_per_second`]: every signature a client makes
/// takes one timestamp and one log entry, and the log sustains about 4,000
/// entries per second on 2 cores; 1,000 timestamps per second keeps the
/// TSA from taking more than a quarter of that budget.
fn default_tsa_rate() -> u32 {
    1000
}

fn default_tsa_burst() -> u32 {
    2000
}

/// `[trust]`: the rest of the site's trust material, named in the trusted
/// root `islet serve` writes and `islet trust-root` prints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrust {
    /// The site's Fulcio (`caUrls` of the signing config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_url: Option<String>,
    /// Certificate authorities: PEM files, each one chain (intermediates
    /// first, the anchor last), relative to the data directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca: Vec<PathBuf>,
    /// CT logs whose SCTs certificates carry (`[[trust.ctlog]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ctlog: Vec<RawCtlog>,
}

/// `[[trust.ctlog]]`: a certificate transparency log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCtlog {
    /// Its public key, PEM SubjectPublicKeyInfo, relative to the data
    /// directory.
    pub key: PathBuf,
    /// Its URL (informational in trusted roots).
    pub url: String,
    /// Start of the key's validity (RFC 3339; default the log's
    /// `valid_from`). SCTs older than this do not verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
}

/// The validated `[tsa]`, when the TSA is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsaSettings {
    /// Key file (relative to the data directory unless absolute).
    pub key: PathBuf,
    /// Chain file.
    pub chain: PathBuf,
    /// Policy OID, dotted.
    pub policy: Option<String>,
    /// Sustained rate.
    pub rate_per_second: u32,
    /// Burst.
    pub burst: u32,
}

/// `[http]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// Longest time to receive a request head, and longest idle time of a
    /// kept-alive connection, in milliseconds.
    pub header_read_timeout_ms: u64,
    /// Longest time to receive a write request's body, in milliseconds.
    pub body_read_timeout_ms: u64,
    /// Most connections open at once.
    pub max_connections: usize,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Default for RawHttp {
    fn default() -> Self {
        let d = HttpLimits::default();
        Self {
            header_read_timeout_ms: millis(d.header_read_timeout),
            body_read_timeout_ms: millis(d.body_read_timeout),
            max_connections: d.max_connections,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_max_request_bytes() -> usize {
    MAX_REQUEST_BYTES
}

/// `[sequencer]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSequencer {
    /// Most entries per batch.
    pub batch_max_size: usize,
    /// Longest wait for a batch to fill, in milliseconds.
    pub batch_max_age_ms: u64,
    /// Queue depth before 503.
    pub max_pending: usize,
}

impl Default for RawSequencer {
    fn default() -> Self {
        let d = SequencerConfig::default();
        Self {
            batch_max_size: d.batch_max_size,
            batch_max_age_ms: millis(d.batch_max_age),
            max_pending: d.max_pending,
        }
    }
}

/// The data directory's own log, when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnLog {
    /// Checkpoint origin and key name.
    pub origin: String,
    /// The log key file, relative to the data directory unless absolute;
    /// `None` on a node that never sequences (`[store] role = "never"`).
    pub key: Option<PathBuf>,
    /// Its algorithm.
    pub key_type: KeyType,
    /// Start of the key's validity in trusted roots (RFC 3339).
    pub valid_from: String,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file's values.
    pub raw: RawConfig,
    /// The own log; `None` in a data directory that only mirrors.
    pub own: Option<OwnLog>,
    /// The name the site's other identities derive from: the own log's
    /// origin, or the host of `public_url` in a mirror-only directory.
    pub site_name: String,
    /// Parsed listen address.
    pub listen: SocketAddr,
    /// Sequencer tuning.
    pub sequencer: SequencerConfig,
    /// Limits on clients.
    pub http: HttpLimits,
    /// The cosigner name of the mirror key.
    pub mirror_name: String,
    /// The upstreams to follow.
    pub upstreams: Vec<Upstream>,
    /// The logs that may push to this islet's mirrors.
    pub mirror_accept: Vec<WitnessedLog>,
    /// The mirrors this log pushes to.
    pub mirror_push: Vec<RawPushTarget>,
    /// The timestamp authority, unless `[tsa] enabled = false`.
    pub tsa: Option<TsaSettings>,
    /// The witnesses of this log, when `[witness] policy` is set.
    pub witness: Option<WitnessSettings>,
    /// The logs this islet witnesses.
    pub witness_service: WitnessServiceSettings,
    /// Scheduled exports.
    pub exports: Vec<ExportJob>,
    /// HTTPS, when `[tls]` is set.
    pub tls: Option<TlsSettings>,
    /// The engine that keeps the own log.
    pub store: StoreSettings,
    /// Who may call which route group, and per-client rates.
    pub access: AccessSettings,
    /// The URL clients use: `public_url`, its scheme `https` when TLS is
    /// on (what the trusted root and signing config name).
    pub client_url: String,
}

pub(crate) fn invalid(field: &str, reason: impl std::fmt::Display) -> Error {
    Error::Config {
        reason: format!("{field}: {reason}"),
    }
}

impl RawConfig {
    /// Validates every field.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field and the rule.
    pub fn validate(self) -> Result<Config> {
        let store = store::validate_store(&self.store)?;
        let own = self.validate_own(store.is_keyless())?;
        let site_name = match &own {
            Some(own) => own.origin.clone(),
            None => origin_of(&self.public_url)?,
        };
        origin_of(&self.public_url)?;
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|e| invalid("listen", format!("{:?}: {e}", self.listen)))?;
        let s = &self.sequencer;
        if !(1..=limits::MAX_BATCH_SIZE).contains(&s.batch_max_size) {
            return Err(invalid(
                "sequencer.batch_max_size",
                format!("must be 1..={}", limits::MAX_BATCH_SIZE),
            ));
        }
        if s.batch_max_age_ms > limits::MAX_BATCH_AGE_MS {
            return Err(invalid(
                "sequencer.batch_max_age_ms",
                format!("must be 0..={}", limits::MAX_BATCH_AGE_MS),
            ));
        }
        if !(1..=limits::MAX_PENDING).contains(&s.max_pending) {
            return Err(invalid(
                "sequencer.max_pending",
                format!("must be 1..={}", limits::MAX_PENDING),
            ));
        }
        if !(limits::MIN_REQUEST_BYTES..=limits::MAX_REQUEST_BYTES)
            .contains(&self.max_request_bytes)
        {
            return Err(invalid(
                "max_request_bytes",
                format!(
                    "must be {}..={}",
                    limits::MIN_REQUEST_BYTES,
                    limits::MAX_REQUEST_BYTES
                ),
            ));
        }
        let h = &self.http;
        for (field, value) in [
            ("http.header_read_timeout_ms", h.header_read_timeout_ms),
            ("http.body_read_timeout_ms", h.body_read_timeout_ms),
        ] {
            if !(limits::MIN_TIMEOUT_MS..=limits::MAX_TIMEOUT_MS).contains(&value) {
                return Err(invalid(
                    field,
                    format!(
                        "must be {}..={}",
                        limits::MIN_TIMEOUT_MS,
                        limits::MAX_TIMEOUT_MS
                    ),
                ));
            }
        }
        if !(1..=limits::MAX_CONNECTIONS).contains(&h.max_connections) {
            return Err(invalid(
                "http.max_connections",
                format!("must be 1..={}", limits::MAX_CONNECTIONS),
            ));
        }
        let http = HttpLimits {
            header_read_timeout: Duration::from_millis(h.header_read_timeout_ms),
            body_read_timeout: Duration::from_millis(h.body_read_timeout_ms),
            max_connections: h.max_connections,
        };
        let sequencer = SequencerConfig {
            batch_max_size: s.batch_max_size,
            batch_max_age: Duration::from_millis(s.batch_max_age_ms),
            max_pending: s.max_pending,
        };
        let (mirror_name, upstreams) = self.validate_mirror(&site_name)?;
        let tsa = self.validate_tsa()?.filter(|_| own.is_some());
        self.validate_trust()?;
        let witness = self.validate_witness()?;
        let witness_service = self.validate_witness_service(&site_name, &mirror_name)?;
        let mirror_accept = self.validate_logs("mirror.accept", &self.mirror.accept)?;
        let mirror_push = self.validate_push()?;
        let exports = self.validate_exports(own.as_ref())?;
        let tls = access::validate_tls(self.tls.as_ref())?;
        let access = access::validate_access(&self.auth, &self.client_limits, tls.as_ref())?;
        if let Some(plain) = tls.as_ref().and_then(|t| t.plain_listen)
            && plain == listen
        {
            return Err(invalid(
                "tls.plain_listen",
                format!("{plain} is also listen, where HTTPS is served"),
            ));
        }
        let client_url = client_url(&self.public_url, tls.is_some())?;
        if own.is_none() {
            for (table, set) in [
                ("store", store != StoreSettings::Rocksdb),
                ("witness", witness.is_some()),
                ("mirror.push", !mirror_push.is_empty()),
                ("guard", !self.guard.is_unset()),
                ("publish_dir", self.publish_dir.is_some()),
            ] {
                if set {
                    return Err(invalid(
                        table,
                        "concerns the data directory's own log, and this one has none \
                         (no origin and key: it only mirrors)",
                    ));
                }
            }
        }
        Ok(Config {
            raw: self,
            own,
            site_name,
            listen,
            sequencer,
            http,
            mirror_name,
            upstreams,
            tsa,
            witness,
            witness_service,
            mirror_accept,
            mirror_push,
            exports,
            tls,
            store,
            access,
            client_url,
        })
    }

    /// The own log: `origin`, `key` and `valid_from` all given, or none
    /// of them (a directory that only mirrors). A `keyless` node (`[store]
    /// role = "never"`) gives `origin` and `valid_from` but never `key`.
    fn validate_own(&self, keyless: bool) -> Result<Option<OwnLog>> {
        if keyless && (self.key.is_some() || self.key_type.is_some()) {
            return Err(invalid(
                "key",
                "a node with [store] role = \"never\" never signs and carries no log key; \
                 remove key and key_type (the verifier key comes from the database)",
            ));
        }
        let (origin, key, valid_from) = match (&self.origin, &self.key, &self.valid_from) {
            (None, None, None) if self.key_type.is_none() => return Ok(None),
            (Some(o), None, Some(v)) if keyless => (o, None, v),
            (Some(o), Some(k), Some(v)) => (o, Some(k), v),
            _ => {
                return Err(invalid(
                    "origin",
                    "origin, key and valid_from go together: all three for a data directory \
                     with a log of its own, none for one that only mirrors",
                ));
            }
        };
        if !islet_tlog::note::is_valid_key_name(origin) {
            return Err(invalid(
                "origin",
                format!("{origin:?} is not a valid key name (no spaces, no '+')"),
            ));
        }
        humantime::parse_rfc3339(valid_from).map_err(|e| invalid("valid_from", e))?;
        Ok(Some(OwnLog {
            origin: origin.clone(),
            key: key.cloned(),
            key_type: self.key_type.unwrap_or(KeyType::Ed25519),
            valid_from: valid_from.clone(),
        }))
    }

    /// True when `origin` is the own log's.
    fn is_own_origin(&self, origin: &str) -> bool {
        self.origin.as_deref() == Some(origin)
    }

    fn validate_tsa(&self) -> Result<Option<TsaSettings>> {
        let t = &self.tsa;
        if let Some(policy) = &t.policy
            && !is_dotted_oid(policy)
        {
            return Err(invalid(
                "tsa.policy",
                format!("{policy:?} is not a dotted object identifier such as 1.3.6.1.4.1.57264.2"),
            ));
        }
        for (field, value) in [
            ("tsa.rate_per_second", t.rate_per_second),
            ("tsa.burst", t.burst),
        ] {
            if !(1..=limits::MAX_TSA_RATE).contains(&value) {
                return Err(invalid(
                    field,
                    format!("must be 1..={}", limits::MAX_TSA_RATE),
                ));
            }
        }
        Ok(t.enabled.then(|| TsaSettings {
            key: t.key.clone(),
            chain: t.chain.clone(),
            policy: t.policy.clone(),
            rate_per_second: t.rate_per_second,
            burst: t.burst,
        }))
    }

    fn validate_trust(&self) -> Result<()> {
        let t = &self.trust;
        if let Some(url) = &t.ca_url {
            let parsed = url::Url::parse(url).map_err(|e| invalid("trust.ca_url", e))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid("trust.ca_url", "must be http:// or https://"));
            }
        }
        if t.ca.len() > limits::MAX_TRUST_ENTRIES || t.ctlog.len() > limits::MAX_TRUST_ENTRIES {
            return Err(invalid(
                "trust",
                format!(
                    "at most {} CAs and {} CT logs",
                    limits::MAX_TRUST_ENTRIES,
                    limits::MAX_TRUST_ENTRIES
                ),
            ));
        }
        for (i, c) in t.ctlog.iter().enumerate() {
            url::Url::parse(&c.url).map_err(|e| invalid(&format!("trust.ctlog[{i}].url"), e))?;
            if let Some(v) = &c.valid_from {
                humantime::parse_rfc3339(v)
                    .map_err(|e| invalid(&format!("trust.ctlog[{i}].valid_from"), e))?;
            }
        }
        Ok(())
    }

    fn validate_mirror(&self, site_name: &str) -> Result<(String, Vec<Upstream>)> {
        let m = &self.mirror;
        let name = m
            .name
            .clone()
            .unwrap_or_else(|| format!("{site_name}/mirror"));
        if !islet_tlog::note::is_valid_key_name(&name) {
            return Err(invalid(
                "mirror.name",
                format!("{name:?} is not a valid key name (no spaces, no '+')"),
            ));
        }
        if self.is_own_origin(&name) {
            return Err(invalid(
                "mirror.name",
                "must differ from the log's origin: a mirror cosigns as its own identity",
            ));
        }
        if m.upstreams.len() > limits::MAX_UPSTREAMS {
            return Err(invalid(
                "mirror.upstream",
                format!("at most {} upstreams", limits::MAX_UPSTREAMS),
            ));
        }
        let mut out: Vec<Upstream> = Vec::new();
        for (i, u) in m.upstreams.iter().enumerate() {
            let field = |f: &str| format!("mirror.upstream[{i}].{f}");
            if u.url.is_empty() {
                return Err(invalid(&field("url"), "is empty"));
            }
            if !(limits::MIN_FOLLOW_INTERVAL_SECS..=limits::MAX_FOLLOW_INTERVAL_SECS)
                .contains(&u.interval_secs)
            {
                return Err(invalid(
                    &field("interval_secs"),
                    format!(
                        "must be {}..={}",
                        limits::MIN_FOLLOW_INTERVAL_SECS,
                        limits::MAX_FOLLOW_INTERVAL_SECS
                    ),
                ));
            }
            let origin = match (&u.vkey, &u.log_key, &u.origin) {
                (Some(vkey), None, origin) => {
                    let v = islet_tlog::note::NoteVerifier::from_vkey(vkey)
                        .map_err(|e| invalid(&field("vkey"), e))?;
                    origin.clone().unwrap_or_else(|| v.name().to_owned())
                }
                (None, Some(_), Some(origin)) => origin.clone(),
                _ => {
                    return Err(invalid(&field("vkey"), "give vkey, or log_key with origin"));
                }
            };
            if self.is_own_origin(&origin) {
                return Err(invalid(
                    &field("origin"),
                    format!("{origin} is this data directory's own log"),
                ));
            }
            if out.iter().any(|o| o.origin == origin) {
                return Err(invalid(
                    &field("origin"),
                    format!("{origin} is followed twice"),
                ));
            }
            out.push(Upstream {
                url: u.url.clone(),
                origin,
                vkey: u.vkey.clone(),
                log_key: u.log_key.clone(),
                interval: Duration::from_secs(u.interval_secs),
                token_file: u.token_file.clone(),
            });
        }
        Ok((name, out))
    }

    /// Parses `islet.toml` text.
    ///
    /// # Errors
    /// [`Error::Config`] with the TOML error (line and column).
    pub fn parse(text: &str) -> Result<RawConfig> {
        toml::from_str(text).map_err(|e| Error::Config {
            reason: format!("islet.toml: {e}"),
        })
    }

    /// The file text.
    ///
    /// # Errors
    /// [`Error::Config`] when the configuration does not encode as TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config {
            reason: format!("islet.toml does not encode: {e}"),
        })
    }
}

/// True for a dotted object identifier: at least two arcs of decimal
/// digits, the first 0, 1 or 2.
fn is_dotted_oid(s: &str) -> bool {
    let arcs: Vec<&str> = s.split('.').collect();
    arcs.len() >= 2
        && arcs
            .iter()
            .all(|a| !a.is_empty() && a.len() <= 20 && a.bytes().all(|b| b.is_ascii_digit()))
        && matches!(arcs[0], "0" | "1" | "2")
}

/// Sequencer tuning; see [`SequencerConfig::default`] for the defaults and
/// why.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// Most entries in one batch (one fsync).
    pub batch_max_size: usize,
    /// How long a batch waits for more entries after its first, at most: it
    /// closes earlier once no write is on its way to it (received and
    /// being validated), see `islet_server::batch`.
    pub batch_max_age: Duration,
    /// Entries queued beyond this are refused with 503 (pushback).
    pub max_pending: usize,
}

impl Default for SequencerConfig {
    /// 512 entries or 10 ms, and 8,192 pending entries, chosen with the
    /// hammer on 2 cores (64 connections, server and hammer sharing the
    /// cores; README, Benchmarks). A batch costs fixed work (two fsyncs,
    /// the checkpoint signature, rewriting the partial bundle), so larger
    /// batches mean less CPU per entry. Before a batch closed as soon as no
    /// write was on its way, a batch with fewer clients in flight than
    /// `batch_max_size` always closed at its age, so the age bounded
    /// latency and, for a fixed number of clients, throughput. Medians of
    /// two runs each then, entries/s, p50 latency, server CPU per entry:
    ///
    /// | `batch_max_age` | entries/s | p50 | CPU per entry |
    /// |---|---|---|---|
    /// | 2 ms | 4,800 | 13.5 ms | 241 µs |
    /// | 5 ms | 5,020 | 12.0 ms | 204 µs |
    /// | 10 ms | 3,950 | 15.9 ms | 160 µs |
    /// | 25 ms | 2,030 | 31.0 ms | 224 µs |
    ///
    /// Now 64 clients close their batch once all their writes are in it:
    /// 10,640 entries/s at 110 µs and p50 5.7 ms with the same 10 ms
    /// (`benches/scripts/writes.sh`, medians of three). The age only bounds
    /// the wait for writes still arriving under a steady stream; 512
    /// entries bounds one fsync's work when thousands of clients are in
    /// flight. 8,192 pending entries bound memory (a request is at most
    /// 4 MiB, a typical entry 1 to 2 KiB) and queueing delay (under a
    /// second at 10,000 entries/s) before clients get 503.
    fn default() -> Self {
        Self {
            batch_max_size: 512,
            batch_max_age: Duration::from_millis(10),
            max_pending: 8192,
        }
    }
}

/// Limits on clients, from `[http]` in `islet.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest time to receive a request head, and longest idle time of a
    /// kept-alive connection.
    pub header_read_timeout: Duration,
    /// Longest time to receive the body of a write request.
    pub body_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Default for [`HttpLimits::header_read_timeout`]: a client has this long
/// to send a whole request head, and an idle kept-alive connection is
/// closed after it (Sunlight reads with a 5 s timeout; reliability.md asks
/// for 10 s or less).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`HttpLimits::body_read_timeout`]: a 4 MiB body at 1 Mbit/s
/// takes 32 s; real entries are a few KiB.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`HttpLimits::max_connections`]: each open connection costs
/// a file descriptor and a few KiB of buffers; past this many, new
/// connections wait in the kernel's backlog until one closes.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
