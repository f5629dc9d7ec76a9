//! # islet-store
//!
//! Where islet keeps logs: the RocksDB store of a data directory, the
//! growth of a stored log from outside, and the data directory itself.
//!
//! - [`engine`]: [`LogStore`], what every storage engine of a log does
//!   (RocksDB here, PostgreSQL in `islet-pgstore`).
//! - [`schema`]: column families, keys and stored values.
//! - [`db`]: opening the store ([`Store`]).
//! - [`read`], [`commit`]: reads as of a tree size; synced commits.
//! - [`records`]: mirrored logs, fork evidence, the mirrors' search index.
//! - [`stager`]: staging a large extension past the committed size.
//! - [`extend`]: growing a stored log with verified entries from outside
//!   (snapshot import, mirror sync).
//! - [`datadir`], [`config`]: the data directory, its keys and `islet.toml`.
//! - [`pending`]: the pending checkpoints of pushed mirrors.
//! - [`witnessed`]: what islet holds as a witness for other logs.
//! - [`view`]: a read-only data directory as [`islet_reader::local::LocalLogs`],
//!   for offline verification.
//!
//! Built on `islet-tlog`, `islet-signer`, `islet-rekor` and `islet-reader`.
//! It must never depend on the server (`islet-server`) or an HTTP stack:
//! mirror, snapshot and verify build on it, and nothing here imports them.

pub mod commit;
pub mod config;
pub mod copy;
pub mod datadir;
pub mod db;
pub mod engine;
pub mod error;
pub mod extend;
pub mod pending;
pub mod read;
pub mod records;
pub mod schema;
pub mod shards;
pub mod stager;
pub mod tokens;
pub mod view;
pub mod witnessed;

pub use db::Store;
pub use engine::{LogStore, SharedLog, StoreHashReader};
pub use error::{Error, Result};
pub use schema::{
    BundleAppend, CommitBatch, Evidence, LogNumber, LogRecord, MAX_LOGS, OWN_LOG, SearchKind,
    StagedProgress, TreeHead,
};
pub use shards::{Frozen, ShardRecord};
pub use stager::Stager;
