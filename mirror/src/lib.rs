//! # islet-mirror
//!
//! Verified local copies of other logs (`../shared/DESIGN.md` §1,
//! `../shared/specs/c2sp.md` §9), and offline verification against them.
//!
//! - [`sync`]: brings the mirror of a log up to date from an upstream
//!   tlog-tiles log (HTTP(S) or a directory) or from snapshot files,
//!   storing nothing before it is verified, resumable, never rewinding;
//! - [`follow`]: continuous mode, the upstreams of `islet.toml` followed
//!   by `islet serve`;
//! - [`verify`]: the transparency-log part of Sigstore bundles, checked
//!   offline, optionally against a local log or mirror.

pub mod error;
pub mod follow;
pub mod sync;
pub mod verify;

pub use error::{Error, Result};
