//! # islet-pgstore
//!
//! The PostgreSQL engine of islet's store: one log kept in a database that
//! several `islet serve` nodes share (`../shared/specs/scale-out.md` is the
//! design). RocksDB (`islet-store`) stays the embedded default; both
//! implement [`islet_store::LogStore`].
//!
//! - [`migrate`]: the versioned schema, applied under an advisory lock.
//! - [`pool`]: a small pool of blocking connections, TLS by rustls (required
//!   for a database off this machine).
//! - [`store`]: [`PgStore`], the reads of [`islet_store::LogStore`] and the
//!   logs a database holds.
//! - [`cache`]: full tiles and bundles kept in memory (they never change).
//! - [`append`]: the one write: a batch and its head in one transaction,
//!   guarded by a compare-and-swap on the head's size, root and epoch.
//! - [`pending`]: the write path of several nodes: verified entries wait
//!   in `pending` for the lease holder; each node reads what became of
//!   its own and confirms it with a durability barrier before answering.
//! - [`lease`]: who sequences a log; taking it over raises the epoch, so a
//!   leader that lost it can never commit again.
//!
//! The client is `postgres` (the blocking face of `tokio-postgres`), so the
//! engine is called as RocksDB is: from the sequencer's thread and from
//! `spawn_blocking`, never on an async worker.

pub mod append;
pub mod cache;
pub mod error;
pub mod lease;
pub mod migrate;
pub mod pending;
pub mod pool;
pub mod store;
pub mod witnessed;

pub use append::Taken;
pub use error::{Error, Result};
pub use lease::Lease;
/// The blocking client connections are (dedicated ones are handed out).
pub use pool::Conn;
pub use pool::PgOptions;
pub use store::{LogKind, LogRow, PgStore};
pub use witnessed::Witnessed;
