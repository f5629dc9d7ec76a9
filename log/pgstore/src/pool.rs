//! A small pool of blocking PostgreSQL connections.
//!
//! At most [`Pool::max`] connections are open; a caller beyond that waits
//! for one to come back. A connection that broke (the server restarted, a
//! failover) is dropped when it comes back, and the next caller opens a
//! new one, so the pool heals by itself after the database returns.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::{Error, Result};

/// The most connections a pool opens when the configuration says nothing.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// The most connections a pool may be configured with.
pub const MAX_POOL_SIZE: usize = 256;

/// How long a new connection may take before it is given up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings every connection of islet runs with: no transaction may sit
/// idle holding locks (a paused leader inside its commit would otherwise
/// hold the head row for good).
pub const SESSION_SETTINGS: &str = "SET idle_in_transaction_session_timeout = '10s'; \
     SET application_name = 'islet'";

struct State {
    idle: Vec<postgres::Client>,
    open: usize,
}

/// A pool of connections to one database.
pub struct Pool {
    config: postgres::Config,
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
    /// most `max` connections (1 to [`MAX_POOL_SIZE`]). Nothing is
    /// connected until the first [`Pool::get`].
    ///
    /// # Errors
    /// [`Error::Url`] for a URL that does not parse or a size out of range.
    pub fn new(url: &str, max: usize) -> Result<Pool> {
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
        Ok(Pool {
            config,
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
    pub fn connect(&self) -> Result<postgres::Client> {
        let mut client = self
            .config
            .connect(postgres::NoTls)
            .map_err(|source| Error::Connect {
                target: self.target(),
                source,
            })?;
        client
            .batch_execute(SESSION_SETTINGS)
            .map_err(crate::error::stmt("session settings"))?;
        Ok(client)
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

    fn put_back(&self, client: postgres::Client) {
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

/// A connection lent by a [`Pool`].
pub struct Pooled<'a> {
    pool: &'a Pool,
    client: Option<postgres::Client>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        // Some until drop.
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut postgres::Client {
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
