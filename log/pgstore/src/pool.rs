//! A small pool of blocking PostgreSQL connections, each with the
//! statements it prepared ([`Conn::prepared`]).
//!
//! At most [`Pool::max`] connections are open; a caller beyond that waits
//! for one to come back. A connection that broke (the server restarted, a
//! failover) is dropped when it comes back, and the next caller opens a
//! new one, so the pool heals by itself after the database returns.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use postgres::config::{Host, SslMode};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};

/// The most connections a pool opens when the configuration says nothing
/// (`[store] pool_size`).
pub const DEFAULT_POOL_SIZE: usize = islet_store::config::store_limits::DEFAULT_POOL_SIZE;

/// The most connections a pool may be configured with.
pub const MAX_POOL_SIZE: usize = islet_store::config::store_limits::MAX_POOL_SIZE;

/// How long a new connection may take before it is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings every connection of islet runs with: no transaction may sit
/// idle holding locks (a paused leader inside its commit would otherwise
/// hold the head row for good).
pub const SESSION_SETTINGS: &str = "SET idle_in_transaction_session_timeout = '10s'; \
     SET application_name = 'islet'";

/// The system's certificate bundle (Debian's `ca-certificates`), the roots
/// TLS to the database trusts when no `ca_file` is given.
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// How a store connects: pool size and the roots TLS trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// The most connections the pool opens (1 to [`MAX_POOL_SIZE`]).
    pub pool_size: usize,
    /// PEM certificates the database's certificate must chain to
    /// (default: [`SYSTEM_ROOTS`]). Used with `sslmode=require`.
    pub ca_file: Option<PathBuf>,
}

impl PgOptions {
    /// A pool of `pool_size` connections and the system's roots.
    pub fn new(pool_size: usize) -> PgOptions {
        PgOptions {
            pool_size,
            ca_file: None,
        }
    }

    /// The same, trusting the certificates in `ca_file` instead.
    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> PgOptions {
        self.ca_file = Some(ca_file.into());
        self
    }
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions::new(DEFAULT_POOL_SIZE)
    }
}

/// Plain TCP (loopback only) or TLS by rustls.
#[derive(Clone)]
enum Connector {
    Plain,
    Tls(MakeRustlsConnect),
}

/// True for a host on this machine: a Unix socket, `localhost`, or a
/// loopback address.
fn is_local(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// The TLS client of a store: aws-lc-rs, TLS 1.2 and 1.3, the database's
/// certificate checked against the roots in `ca_file` and its name.
fn tls_connector(ca_file: &Path) -> Result<MakeRustlsConnect> {
    let bad = |reason: String| Error::Url {
        reason: format!("{}: {reason}", ca_file.display()),
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file).map_err(|e| bad(e.to_string()))?;
    for cert in certs {
        roots
            .add(cert.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no certificate".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Checks the URL's `sslmode` against where it points and makes the
/// connector: TLS is required for any host off this machine (`prefer`
/// would fall back to plaintext, and the password and the log would
/// cross the network in the clear).
fn connector(config: &postgres::Config, options: &PgOptions) -> Result<Connector> {
    let local = config.get_hosts().iter().all(is_local);
    match config.get_ssl_mode() {
        SslMode::Require => {
            let roots = options
                .ca_file
                .clone()
                .unwrap_or_else(|| PathBuf::from(SYSTEM_ROOTS));
            Ok(Connector::Tls(tls_connector(&roots)?))
        }
        _ if local => Ok(Connector::Plain),
        _ => Err(Error::Url {
            reason: format!(
                "{} is not on this machine: add sslmode=require to the URL (islet speaks to a \
                 database elsewhere only over TLS, checking its certificate)",
                target(config)
            ),
        }),
    }
}

struct State {
    idle: Vec<Conn>,
    open: usize,
}

/// A pool of connections to one database.
pub struct Pool {
    config: postgres::Config,
    connector: Connector,
    max: usize,
    state: Mutex<State>,
    returned: Condvar,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("target", &target(&self.config))
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// Hosts, ports and database of a configuration, for messages (never the
/// password).
pub fn target(config: &postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(h, p)| match h {
            postgres::config::Host::Tcp(name) => format!("{name}:{p}"),
            postgres::config::Host::Unix(path) => format!("{}:{p}", path.display()),
        })
        .collect();
    format!(
        "{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("(default database)")
    )
}

impl Pool {
    /// A pool for `url` (`postgres://user@host:port/db?...`), opening at
    /// most `options.pool_size` connections. Nothing is connected until
    /// the first [`Pool::get`].
    ///
    /// # Errors
    /// [`Error::Url`] for a URL that does not parse, a size out of range,
    /// a host off this machine without `sslmode=require`, or roots that do
    /// not load.
    pub fn new(url: &str, options: &PgOptions) -> Result<Pool> {
        let max = options.pool_size;
        let mut config: postgres::Config =
            url.parse().map_err(|e: postgres::Error| Error::Url {
                reason: e.to_string(),
            })?;
        if !(1..=MAX_POOL_SIZE).contains(&max) {
            return Err(Error::Url {
                reason: format!("the pool size {max} is not between 1 and {MAX_POOL_SIZE}"),
            });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let connector = connector(&config, options)?;
        Ok(Pool {
            config,
            connector,
            max,
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        })
    }

    /// The most connections this pool opens.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Where the pool connects, without the password.
    pub fn target(&self) -> String {
        target(&self.config)
    }

    /// Opens a connection of its own, outside the pool's count (for the
    /// sequencer's lease and commits, which must not wait behind readers).
    ///
    /// # Errors
    /// [`Error::Connect`].
    pub fn connect(&self) -> Result<Conn> {
        self.open(&self.config)
    }

    /// Opens a connection of its own, as [`Pool::connect`], whose notices
    /// (warnings the server sends beside results) go to `on_notice`.
    ///
    /// # Errors
    /// [`Error::Connect`].
    pub fn connect_with_notices(
        &self,
        on_notice: impl Fn(postgres::error::DbError) + Send + Sync + 'static,
    ) -> Result<Conn> {
        let mut config = self.config.clone();
        config.notice_callback(on_notice);
        self.open(&config)
    }

    fn open(&self, config: &postgres::Config) -> Result<Conn> {
        let connected = match &self.connector {
            Connector::Plain => config.connect(postgres::NoTls),
            Connector::Tls(tls) => config.connect(tls.clone()),
        };
        let mut client = connected.map_err(|source| Error::Connect {
            target: self.target(),
            source,
        })?;
        client
            .batch_execute(SESSION_SETTINGS)
            .map_err(crate::error::stmt("session settings"))?;
        Ok(Conn::new(client))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection, open and ready; it goes back to the pool when dropped.
    ///
    /// # Errors
    /// [`Error::Connect`] when a new connection was needed and failed.
    pub fn get(&self) -> Result<Pooled<'_>> {
        let mut state = self.lock();
        loop {
            while let Some(client) = state.idle.pop() {
                if client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Pooled {
                    pool: self,
                    client: Some(client),
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(client) => Ok(Pooled {
                        pool: self,
                        client: Some(client),
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn put_back(&self, client: Conn) {
        let mut state = self.lock();
        if client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(client);
        }
        drop(state);
        self.returned.notify_one();
    }
}

/// A connection and the statements it prepared: each hot statement is
/// parsed and planned by the server once per connection, not on every
/// call. It dereferences to the [`postgres::Client`].
pub struct Conn {
    client: postgres::Client,
    statements: HashMap<&'static str, postgres::Statement>,
}

impl Conn {
    fn new(client: postgres::Client) -> Conn {
        Conn {
            client,
            statements: HashMap::new(),
        }
    }

    /// `sql` prepared on this connection (the first call prepares it).
    ///
    /// # Errors
    /// [`Error::Statement`] when the server refuses to prepare it.
    pub fn prepared(&mut self, sql: &'static str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let prepared = self
            .client
            .prepare(sql)
            .map_err(crate::error::stmt("prepare"))?;
        self.statements.insert(sql, prepared.clone());
        Ok(prepared)
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("prepared", &self.statements.len())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Conn {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        &self.client
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.client
    }
}

/// A connection lent by a [`Pool`].
pub struct Pooled<'a> {
    pool: &'a Pool,
    client: Option<Conn>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        // Some until drop.
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.client.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.pool.put_back(client);
        }
    }
}
