//! The error type of `islet-pgstore`, and how it becomes the store's
//! [`islet_store::Error`] behind [`islet_store::LogStore`].

use islet_store::LogNumber;

/// Everything that can go wrong with the PostgreSQL store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `postgres://` URL does not parse.
    #[error("the database URL does not parse: {reason}")]
    Url {
        /// The client library's reason.
        reason: String,
    },
    /// No connection could be made.
    #[error("cannot connect to PostgreSQL at {target}: {}", chain(.source))]
    Connect {
        /// Hosts and database, without the password.
        target: String,
        /// The client's error.
        source: postgres::Error,
    },
    /// A statement failed.
    #[error("PostgreSQL: {op}: {}", chain(.source))]
    Statement {
        /// What islet was doing.
        op: &'static str,
        /// The server's or the client's error.
        source: postgres::Error,
    },
    /// The database holds no islet schema (run `islet init --store`).
    #[error("the database holds no islet schema; `islet init --store URL` creates it")]
    NoSchema,
    /// The database's schema is older than this islet's.
    #[error(
        "the database's islet schema is version {found}, older than this islet's {known}; \
         `islet store schema --url URL` brings it up (migrations only add: running nodes go on, \
         and nodes of an older islet then refuse to start, so upgrade every node)"
    )]
    SchemaOlder {
        /// The version in the database.
        found: i32,
        /// This build's version.
        known: i32,
    },
    /// The database was migrated by a newer islet.
    #[error("the database's islet schema is version {found}; this islet knows up to {known}")]
    SchemaNewer {
        /// The version in the database.
        found: i32,
        /// The newest version this build has.
        known: i32,
    },
    /// This node holds no lease on the log it tried to write.
    #[error("log {log}: this node does not hold the sequencer lease")]
    NoLease {
        /// The log.
        log: LogNumber,
    },
    /// The lease was taken over: the epoch of this writer is not the log's.
    #[error("log {log}: the lease of epoch {mine} was taken over (the log is at epoch {current})")]
    LeaseLost {
        /// The log.
        log: LogNumber,
        /// The epoch this writer held.
        mine: i64,
        /// The epoch the database holds.
        current: i64,
    },
    /// A durability barrier whose wait for the synchronous standby was
    /// cancelled: what the connection read may be on the primary only.
    #[error("the synchronous standby did not confirm the barrier (its wait was cancelled)")]
    Unconfirmed,
    /// A value read from the database breaks islet's rules.
    #[error("the database is inconsistent: {what}")]
    Inconsistent {
        /// What is wrong.
        what: String,
    },
    /// A number that does not fit the column it goes to.
    #[error("{what} {value} is out of range for the database")]
    OutOfRange {
        /// Which number.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// The store's own error (the head moved, a tile that may not change).
    #[error(transparent)]
    Store(#[from] islet_store::Error),
}

/// The result type of `islet-pgstore`.
pub type Result<T> = std::result::Result<T, Error>;

/// An error with its causes, each once: the client's own message says
/// "error performing TLS handshake" and keeps the reason (a certificate
/// from an unknown issuer) as its source.
fn chain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Wraps a failed statement with what islet was doing.
pub(crate) fn stmt(op: &'static str) -> impl FnOnce(postgres::Error) -> Error {
    move |source| Error::Statement { op, source }
}

impl From<Error> for islet_store::Error {
    fn from(e: Error) -> islet_store::Error {
        match e {
            Error::Store(inner) => inner,
            Error::Inconsistent { what } => islet_store::Error::Corrupt { what },
            other => islet_store::Error::Engine {
                engine: "postgres",
                op: other.op(),
                reason: other.to_string(),
            },
        }
    }
}

impl Error {
    /// A short name of the failed operation, for the store's error.
    fn op(&self) -> &'static str {
        match self {
            Error::Url { .. } => "url",
            Error::Connect { .. } => "connect",
            Error::Statement { op, .. } => op,
            Error::NoSchema | Error::SchemaOlder { .. } | Error::SchemaNewer { .. } => "schema",
            Error::NoLease { .. } | Error::LeaseLost { .. } => "lease",
            Error::Unconfirmed => "barrier",
            Error::Inconsistent { .. } | Error::OutOfRange { .. } | Error::Store(_) => "value",
        }
    }

    /// True when the database refused a write that would change a full
    /// tile or shrink a partial one (the tables' trigger).
    pub fn is_immutable_refusal(&self) -> bool {
        matches!(self, Error::Statement { source, .. }
            if source.code() == Some(&postgres::error::SqlState::INTEGRITY_CONSTRAINT_VIOLATION))
    }
}

/// A tree size or index as the database's `bigint`.
pub(crate) fn to_i64(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::OutOfRange { what, value })
}

/// A `bigint` read back as a size or index.
pub(crate) fn to_u64(what: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Inconsistent {
        what: format!("{what} {value} is negative"),
    })
}
