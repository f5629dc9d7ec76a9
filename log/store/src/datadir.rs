//! The data directory (`../shared/DESIGN.md` §2): `islet.toml`, the log key,
//! the RocksDB store, the fork-guard record and the trust material.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::{
    Config, KeyType, OwnLog, RawConfig, RawGuard, RawHttp, RawMirror, RawSequencer, RawTrust,
    RawTsa, RawWitness, RawWitnessService, TsaSettings, origin_of,
};
use crate::error::{Error, Result};
use islet_rekor::request::MAX_REQUEST_BYTES;
use islet_signer::{CosignatureV1Signer, EcdsaP256Signer, Ed25519Signer};
use islet_tlog::note::NoteSigner;

/// Default data directory of `islet serve`.
pub const DEFAULT_DATA_DIR: &str = "islet-data";
/// Default public URL (and so origin `127.0.0.1`).
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:3000";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// What `islet init` is told.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The URL clients use.
    pub public_url: String,
    /// The origin, when not the host of the public URL.
    pub origin: Option<String>,
    /// Key algorithm for a new key.
    pub key_type: KeyType,
    /// An existing PKCS#8 PEM key to use instead of a new one.
    pub key_file: Option<PathBuf>,
    /// Listen address.
    pub listen: String,
    /// Issue a timestamp authority key and chain (`islet init --no-tsa`
    /// turns it off).
    pub tsa: bool,
    /// The site's Fulcio, listed in the signing config.
    pub ca_url: Option<String>,
    /// `[store]`: where the own log is kept (RocksDB here by default).
    pub store: crate::config::RawStore,
}

/// How long the TSA chain `islet init` issues is valid. Timestamps stay
/// verifiable after it expires (verifiers check the chain at the
/// timestamp's time); the site issues a new chain before then.
pub const TSA_CHAIN_VALIDITY: std::time::Duration =
    std::time::Duration::from_secs(10 * 365 * 24 * 60 * 60);

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            public_url: DEFAULT_PUBLIC_URL.into(),
            origin: None,
            key_type: KeyType::Ed25519,
            key_file: None,
            listen: DEFAULT_LISTEN.into(),
            tsa: true,
            ca_url: None,
            store: crate::config::RawStore::default(),
        }
    }
}

fn load_signer_pem(key_type: KeyType, origin: &str, pem: &[u8]) -> Result<Arc<dyn NoteSigner>> {
    Ok(match key_type {
        KeyType::Ed25519 => Arc::new(Ed25519Signer::from_pkcs8(origin, pem)?),
        KeyType::EcdsaP256 => Arc::new(EcdsaP256Signer::from_pkcs8(origin, pem)?),
    })
}

impl DataDir {
    /// A data directory at `root` (not touched until used).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Its root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `islet.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("islet.toml")
    }

    /// The marker `islet store migrate` leaves in a data directory whose
    /// own log it copied into PostgreSQL: from then on the directory's
    /// copy is never appended to (never two writable copies of one log).
    pub fn migrated_marker_path(&self) -> PathBuf {
        self.root.join("migrated-to")
    }

    /// Records that the own log was copied to `target` (a database,
    /// named without its password), durably.
    ///
    /// # Errors
    /// I/O errors.
    pub fn mark_migrated(&self, target: &str, size: u64) -> Result<()> {
        let path = self.migrated_marker_path();
        let text = format!("{target}\n{size}\n");
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(Error::io(&tmp))?;
            f.write_all(text.as_bytes()).map_err(Error::io(&tmp))?;
            f.sync_all().map_err(Error::io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
        std::fs::File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(Error::io(&self.root))
    }

    /// Where the own log was migrated to, if `islet store migrate` moved
    /// it out of this directory (the marker's first line).
    ///
    /// # Errors
    /// I/O errors other than a missing marker.
    pub fn migrated_to(&self) -> Result<Option<String>> {
        let path = self.migrated_marker_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.lines().next().unwrap_or("").to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path)(e)),
        }
    }

    /// The RocksDB directory.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("db")
    }

    /// The fork-guard record's default place, outside `db/`.
    pub fn guard_path(&self) -> PathBuf {
        self.root.join("checkpoint.published")
    }

    /// The fork-guard record `cfg` names (`[guard] record`, relative to the
    /// data directory unless absolute), or [`DataDir::guard_path`].
    pub fn guard_record_path(&self, cfg: &RawConfig) -> PathBuf {
        cfg.guard
            .record
            .as_ref()
            .map_or_else(|| self.guard_path(), |p| self.root.join(p))
    }

    /// Where `serve` writes the trusted root for clients.
    pub fn trusted_root_path(&self) -> PathBuf {
        self.root.join("trusted_root.json")
    }

    /// Where `serve` writes the client trust config (trusted root and
    /// signing config together).
    pub fn client_trust_config_path(&self) -> PathBuf {
        self.root.join("client_trust_config.json")
    }

    /// The timestamp authority's boot record: the second it last started,
    /// which keeps serial numbers unique across restarts.
    pub fn tsa_state_path(&self) -> PathBuf {
        self.root.join("tsa.boot")
    }

    /// True once `islet init` ran here.
    pub fn is_initialised(&self) -> bool {
        self.config_path().exists()
    }

    /// Creates the data directory: the config and the log key (a new one,
    /// or a copy of `key_file`), mode 0600.
    ///
    /// # Errors
    /// [`Error::Config`] when it is already initialised or an option is
    /// invalid; key and I/O errors.
    pub fn init(&self, opts: &InitOptions) -> Result<RawConfig> {
        if self.is_initialised() {
            return Err(Error::Config {
                reason: format!(
                    "{} already exists; refusing to overwrite",
                    self.config_path().display()
                ),
            });
        }
        let origin = match &opts.origin {
            Some(o) => o.clone(),
            None => origin_of(&opts.public_url)?,
        };
        let keys = self.root.join("keys");
        std::fs::create_dir_all(&keys).map_err(Error::io(&keys))?;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))
            .map_err(Error::io(&keys))?;
        // A node that never sequences carries no key: it learns the
        // verifier key from the database.
        let keyless = opts.store.role == Some(crate::config::NodeRole::Never);
        if keyless && opts.key_file.is_some() {
            return Err(Error::Config {
                reason: "a node with role \"never\" carries no log key; leave out --key".into(),
            });
        }
        let key_rel = if keyless {
            None
        } else {
            let pem = match &opts.key_file {
                Some(path) => {
                    let pem = std::fs::read(path).map_err(Error::io(path))?;
                    load_signer_pem(opts.key_type, &origin, &pem)?;
                    pem
                }
                None => {
                    let der = match opts.key_type {
                        KeyType::Ed25519 => Ed25519Signer::generate(&origin)?.1,
                        KeyType::EcdsaP256 => EcdsaP256Signer::generate(&origin)?.1,
                    };
                    pem::encode(&pem::Pem::new("PRIVATE KEY", der)).into_bytes()
                }
            };
            let key_rel = PathBuf::from("keys/log.pem");
            write_private_key(&self.root.join(&key_rel), &pem)?;
            Some(key_rel)
        };
        let raw = RawConfig {
            origin: Some(origin.clone()),
            public_url: opts.public_url.clone(),
            listen: opts.listen.clone(),
            key_type: key_rel.as_ref().map(|_| opts.key_type),
            key: key_rel,
            valid_from: Some(
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            ),
            publish_dir: None,
            allow_dsse: true,
            sequencer: RawSequencer::default(),
            max_request_bytes: MAX_REQUEST_BYTES,
            http: RawHttp::default(),
            mirror: RawMirror::default(),
            tsa: RawTsa {
                enabled: opts.tsa,
                ..RawTsa::default()
            },
            trust: RawTrust {
                ca_url: opts.ca_url.clone(),
                ..RawTrust::default()
            },
            witness: RawWitness::default(),
            witness_service: RawWitnessService::default(),
            guard: RawGuard::default(),
            export: Vec::new(),
            tls: None,
            auth: crate::config::RawAuth::default(),
            client_limits: crate::config::RawClientLimits::default(),
            store: opts.store.clone(),
        };
        let config = raw.clone().validate()?;
        if let Some(tsa) = &config.tsa {
            self.issue_tsa_chain(&origin, tsa)?;
        }
        let cfg = self.config_path();
        std::fs::write(&cfg, raw.to_toml()?).map_err(Error::io(&cfg))?;
        Ok(raw)
    }

    /// Refuses a command that reads or writes the own log in this
    /// directory's RocksDB when `[store]` keeps it in PostgreSQL (where
    /// the directory's RocksDB holds none of it).
    ///
    /// # Errors
    /// [`Error::Config`] naming the command and what to use instead; the
    /// errors of reading `islet.toml`.
    pub fn require_local_own_log(&self, command: &str) -> Result<()> {
        if !self.is_initialised() {
            return Ok(());
        }
        let raw = self.load_config()?;
        if raw.store.engine == crate::config::EngineKind::Rocksdb {
            return Ok(());
        }
        Err(Error::Config {
            reason: format!(
                "{command}: the own log of {} is kept in PostgreSQL ([store] of islet.toml), not \
                 in this directory; read it over HTTP (`islet fsck --log URL`) or copy it to a \
                 directory of its own (`islet store migrate --from postgres://… --to DIR`)",
                self.root.display()
            ),
        })
    }

    /// True when the directory holds a store but no `islet.toml`: it was
    /// made by `islet mirror sync` or a snapshot import and only keeps
    /// mirrors of other logs. `islet serve` serves it as it is.
    pub fn holds_only_mirrors(&self) -> bool {
        !self.is_initialised() && self.db_path().exists()
    }

    /// Writes an `islet.toml` for a data directory without a log of its
    /// own (`islet init --mirror-only`): no origin, no log key, no
    /// timestamp authority. The mirror key is made on first use.
    ///
    /// # Errors
    /// [`Error::Config`] when it is already initialised or an option is
    /// invalid; I/O errors.
    pub fn init_mirror_only(&self, public_url: &str, listen: &str) -> Result<RawConfig> {
        if self.is_initialised() {
            return Err(Error::Config {
                reason: format!(
                    "{} already exists; refusing to overwrite",
                    self.config_path().display()
                ),
            });
        }
        let raw = mirror_only_config(public_url, listen);
        raw.clone().validate()?;
        std::fs::create_dir_all(&self.root).map_err(Error::io(&self.root))?;
        let cfg = self.config_path();
        std::fs::write(&cfg, raw.to_toml()?).map_err(Error::io(&cfg))?;
        Ok(raw)
    }

    /// Reads `islet.toml`, or for a directory that
    /// [holds only mirrors](Self::holds_only_mirrors) the configuration
    /// `islet init --mirror-only` would write.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Config`].
    pub fn load_config_or_mirror_only(&self) -> Result<RawConfig> {
        if self.holds_only_mirrors() {
            return Ok(mirror_only_config(DEFAULT_PUBLIC_URL, DEFAULT_LISTEN));
        }
        self.load_config()
    }

    /// Makes a new log key at `rel` (relative to the data directory),
    /// mode 0600, refusing to overwrite a file. For `islet shard new`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file exists or cannot be written; key errors.
    pub fn new_log_key(
        &self,
        rel: &Path,
        key_type: KeyType,
        origin: &str,
    ) -> Result<Arc<dyn NoteSigner>> {
        let der = match key_type {
            KeyType::Ed25519 => Ed25519Signer::generate(origin)?.1,
            KeyType::EcdsaP256 => EcdsaP256Signer::generate(origin)?.1,
        };
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der)).into_bytes();
        let path = self.root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        write_private_key(&path, &pem)?;
        load_signer_pem(key_type, origin, &pem)
    }

    /// The bearer tokens of `islet token` (`tokens.json`).
    pub fn tokens_path(&self) -> PathBuf {
        self.root.join(crate::tokens::TOKENS_FILE)
    }

    /// `path` relative to the data directory unless absolute.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }

    /// Replaces `islet.toml` (a temporary file, synced and renamed, then
    /// the directory synced: a crash leaves the old file or the new one).
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Config`].
    pub fn write_config(&self, raw: &RawConfig) -> Result<()> {
        let path = self.config_path();
        let tmp = path.with_extension("toml.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(Error::io(&tmp))?;
        f.write_all(raw.to_toml()?.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(Error::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io(&path))?;
        std::fs::File::open(&self.root)
            .and_then(|d| d.sync_all())
            .map_err(Error::io(&self.root))
    }

    /// Reads `islet.toml`.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Config`].
    pub fn load_config(&self) -> Result<RawConfig> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        RawConfig::parse(&text)
    }

    /// Loads the log key, refusing a key file readable by group or others.
    ///
    /// # Errors
    /// [`Error::Config`] for loose permissions, or for a node that carries
    /// no key (`[store] role = "never"`); key and I/O errors.
    pub fn load_signer(&self, own: &OwnLog) -> Result<Arc<dyn NoteSigner>> {
        let Some(key) = &own.key else {
            return Err(Error::Config {
                reason: format!(
                    "{} carries no log key for {} ([store] role = \"never\"): it never signs",
                    self.root.display(),
                    own.origin
                ),
            });
        };
        let pem = read_private_key(&self.root.join(key))?;
        load_signer_pem(own.key_type, &own.origin, &pem)
    }

    /// The timestamp authority's key and chain (PEM), issuing both when
    /// neither file exists yet (a data directory made before islet had a
    /// TSA gets one on its first start). One file without the other is
    /// refused: the chain must be the key's.
    ///
    /// # Errors
    /// [`Error::Config`] for a missing half or loose permissions; key,
    /// issuing and I/O errors.
    pub fn load_tsa(&self, cfg: &Config) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let Some(tsa) = &cfg.tsa else {
            return Ok(None);
        };
        let (key, chain) = (self.root.join(&tsa.key), self.root.join(&tsa.chain));
        match (key.exists(), chain.exists()) {
            (false, false) => self.issue_tsa_chain(&cfg.site_name, tsa)?,
            (true, true) => {}
            (has_key, _) => {
                let (present, missing) = if has_key {
                    (&key, &chain)
                } else {
                    (&chain, &key)
                };
                return Err(Error::Config {
                    reason: format!(
                        "tsa: {} exists but {} does not; give both (or neither, and islet issues a new chain)",
                        present.display(),
                        missing.display()
                    ),
                });
            }
        }
        let chain_pem = std::fs::read(&chain).map_err(Error::io(&chain))?;
        Ok(Some((read_private_key(&key)?, chain_pem)))
    }

    /// Issues a TSA key and a two-certificate chain (a root that signs
    /// only this leaf, and the leaf with a critical timeStamping EKU).
    fn issue_tsa_chain(&self, origin: &str, tsa: &TsaSettings) -> Result<()> {
        let issued = islet_tsa::issue_chain(&islet_tsa::ChainParams {
            organization: origin.to_owned(),
            common_name: format!("{origin} timestamp authority"),
            not_before: std::time::SystemTime::now(),
            validity: TSA_CHAIN_VALIDITY,
            key_type: islet_tsa::TsaKeyType::P384,
        })
        .map_err(|e| Error::Config {
            reason: format!("tsa: issuing a key and chain: {e}"),
        })?;
        let (key, chain) = (self.root.join(&tsa.key), self.root.join(&tsa.chain));
        for path in [&key, &chain] {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            }
        }
        write_private_key(&key, issued.key_pem.as_bytes())?;
        write_public_file(&chain, issued.chain_pem.as_bytes())
    }

    /// Loads the mirror key (a `cosignature/v1` Ed25519 key named
    /// `cfg.mirror_name`), creating it on first use. It must not be the log
    /// key: one key, one identity.
    ///
    /// # Errors
    /// [`Error::Config`] for loose permissions or the log key reused; key
    /// and I/O errors.
    pub fn load_mirror_signer(&self, cfg: &Config) -> Result<Arc<CosignatureV1Signer>> {
        let path = self.root.join(&cfg.raw.mirror.key);
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            }
            let der = Ed25519Signer::generate(&cfg.mirror_name)?.1;
            let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der)).into_bytes();
            write_private_key(&path, &pem)?;
        }
        let pem = read_private_key(&path)?;
        let mirror = Ed25519Signer::from_pkcs8(&cfg.mirror_name, &pem)?;
        if let Some(log) = self.own_ed25519_key(cfg)?
            && log.public_key() == mirror.public_key()
        {
            return Err(Error::Config {
                reason: format!(
                    "mirror.key: {} is the log key; a mirror cosigns with a key of its own",
                    path.display()
                ),
            });
        }
        Ok(Arc::new(CosignatureV1Signer::from_pkcs8(
            &cfg.mirror_name,
            &pem,
        )?))
    }
}

impl DataDir {
    /// Loads the witness key (`[witness_service] key`), creating an Ed25519
    /// key on first use. The file holds a PKCS#8 PEM key or a note signer
    /// key (`PRIVATE+KEY+<name>+<id>+…`, type 0x04, whose name must be the
    /// configured cosigner name). The key must be neither the log key nor
    /// the mirror key: a cosignature does not say in which role it was made.
    ///
    /// # Errors
    /// [`Error::Config`] for a shared key, a name mismatch or loose
    /// permissions; key and I/O errors.
    pub fn load_witness_signer(
        &self,
        cfg: &Config,
        mirror: &CosignatureV1Signer,
    ) -> Result<Arc<CosignatureV1Signer>> {
        let settings = &cfg.witness_service;
        let path = self.root.join(&settings.key);
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            }
            let der = Ed25519Signer::generate(&settings.name)?.1;
            let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der)).into_bytes();
            write_private_key(&path, &pem)?;
        }
        let raw = read_private_key(&path)?;
        let text = String::from_utf8_lossy(&raw);
        let signer = if text.trim_start().starts_with("PRIVATE+KEY+") {
            let signer = CosignatureV1Signer::from_skey(text.trim())?;
            let name = signer.name();
            if name != settings.name {
                return Err(Error::Config {
                    reason: format!(
                        "witness_service.key: {} is a key of {name:?}, but the witness name is {:?}",
                        path.display(),
                        settings.name
                    ),
                });
            }
            signer
        } else {
            CosignatureV1Signer::from_pkcs8(&settings.name, &raw)?
        };
        let public = signer.verifier().public_key().clone();
        let shared_with = |role: &str| Error::Config {
            reason: format!(
                "witness_service.key: {} is the {role} key; a witness cosigns with a key of its own",
                path.display()
            ),
        };
        if mirror.verifier().public_key() == &public {
            return Err(shared_with("mirror"));
        }
        if let Some(log) = self.own_ed25519_key(cfg)?
            && islet_tlog::note::PublicKey::CosignatureV1(log.public_key()) == public
        {
            return Err(shared_with("log"));
        }
        Ok(Arc::new(signer))
    }

    /// The own log's key when it is Ed25519 (the only kind a cosigner key
    /// could be the same as); `None` for a mirror-only directory.
    fn own_ed25519_key(&self, cfg: &Config) -> Result<Option<Ed25519Signer>> {
        let Some((own, key)) = cfg.own.as_ref().and_then(|o| Some((o, o.key.as_ref()?))) else {
            return Ok(None);
        };
        let pem = read_private_key(&self.root.join(key))?;
        Ok(Ed25519Signer::from_pkcs8(&own.origin, &pem).ok())
    }
}

/// The configuration of a data directory that only mirrors.
fn mirror_only_config(public_url: &str, listen: &str) -> RawConfig {
    RawConfig {
        origin: None,
        public_url: public_url.to_owned(),
        listen: listen.to_owned(),
        key: None,
        key_type: None,
        valid_from: None,
        publish_dir: None,
        allow_dsse: true,
        sequencer: RawSequencer::default(),
        max_request_bytes: MAX_REQUEST_BYTES,
        http: RawHttp::default(),
        mirror: RawMirror::default(),
        tsa: RawTsa {
            enabled: false,
            ..RawTsa::default()
        },
        trust: RawTrust::default(),
        witness: RawWitness::default(),
        witness_service: RawWitnessService::default(),
        guard: RawGuard::default(),
        export: Vec::new(),
        tls: None,
        auth: crate::config::RawAuth::default(),
        client_limits: crate::config::RawClientLimits::default(),
        store: crate::config::RawStore::default(),
    }
}

/// Writes a new private key file, mode 0600, synced.
fn write_private_key(path: &Path, pem: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io(path))?;
    f.write_all(pem)
        .and_then(|()| f.sync_all())
        .map_err(Error::io(path))
}

/// Writes a new public file (a certificate chain), synced.
fn write_public_file(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(Error::io(path))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(Error::io(path))
}

/// Reads a private key file, refusing one readable by group or others.
///
/// # Errors
/// [`Error::Io`], and [`Error::Config`] for the mode.
pub fn read_private_key(path: &Path) -> Result<Vec<u8>> {
    let mode = std::fs::metadata(path)
        .map_err(Error::io(path))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(Error::Config {
            reason: format!(
                "{}: key file mode is {:o}; it must not be readable by group or others (chmod 600)",
                path.display(),
                mode & 0o777
            ),
        });
    }
    std::fs::read(path).map_err(Error::io(path))
}
