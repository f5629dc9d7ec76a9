//! # islet-log
//!
//! The transparency-log layer of islet.
//!
//! Format modules, which do no I/O and know nothing of storage or HTTP:
//! - [`merkle`]: RFC 6962 hashing, proofs over any [`merkle::HashReader`],
//!   verification, subtree proofs.
//! - [`tiles`]: C2SP tlog-tiles paths, tile and bundle codecs, tile sets,
//!   authenticated reads out of tiles.
//! - [`grow`]: growing a log entry by entry into bundles and tiles.
//! - [`note`]: C2SP signed notes, vkeys, Ed25519 / ECDSA / `cosignature/v1`.
//! - [`checkpoint`]: C2SP checkpoints.
//! - [`rekor`]: Rekor v2 requests, client keys, validation and the leaf.
//!
//! Built on them, with I/O (feature `io`, on by default):
//! - `tiledir`: writes a complete tlog-tiles directory from entries.
//! - `source`: reads a tlog-tiles log from a directory or over HTTP(S).
//! - `fsck`: verifies a whole tlog-tiles log.
//! - `store`: the RocksDB store (feature `server`).
//! - `extend`: extending a stored log with verified entries from outside
//!   (feature `server`).
//! - `server`: sequencer, HTTP API, configuration (feature `server`).
//!
//! Specs: `../shared/specs/c2sp.md`, `../shared/specs/rekor-v2.md`.

pub mod checkpoint;
pub mod error;
#[cfg(feature = "server")]
pub mod extend;
#[cfg(feature = "io")]
pub mod fsck;
pub mod grow;
pub mod merkle;
pub mod note;
pub mod rekor;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "io")]
pub mod source;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "io")]
pub mod tiledir;
pub mod tiles;

pub use error::{Error, Result};
