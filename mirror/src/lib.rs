//! # islet-mirror
//!
//! Verified local copies of other logs (`../shared/DESIGN.md` §1,
//! `../shared/specs/c2sp.md` §9). Offline verification of Sigstore bundles
//! is the crate `islet-verify` beside this one (`mirror/verify`).
//!
//! - [`sync`]: brings the mirror of a log up to date from an upstream
//!   tlog-tiles log (HTTP(S) or a directory) or from snapshot files,
//!   storing nothing before it is verified, resumable, never rewinding;
//! - [`follow`]: continuous mode, the upstreams of `islet.toml` followed
//!   by `islet serve`.
//!
//! Built on the store and the spec crates; never on the server.

pub mod error;
pub mod follow;
pub mod push;
pub mod sync;

pub use error::{Error, Result};
