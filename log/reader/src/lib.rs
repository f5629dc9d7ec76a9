//! # islet-reader
//!
//! Reading tlog-tiles logs, wherever they are:
//! - [`source`]: a log in a directory or behind an `http(s)://` prefix, with
//!   per-resource size limits.
//! - [`fsck`]: verifying a whole log (checkpoint, every bundle, every tile).
//! - [`tiledir`]: writing a complete tlog-tiles directory from entries.
//! - [`local`]: the [`local::LocalLogs`] trait through which offline
//!   verification reads a local copy of a log, whatever holds it.
//!
//! Built on the spec crate `islet-tlog`; never depends on the store, the
//! server or their databases.

pub mod error;
pub mod fsck;
pub mod local;
pub mod source;
pub mod tiledir;

pub use error::{Error, Result};
