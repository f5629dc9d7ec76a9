//! # islet-rekor
//!
//! Rekor v2 entries (`../shared/specs/rekor-v2.md`): request decoding with
//! protojson rules, client-key parsing and the algorithm registry,
//! validation (the entry-size limit included, so a validated entry can
//! always be sequenced), the byte-exact leaf, and the search keys of a
//! logged body.
//!
//! No I/O. Depends only on the spec crate `islet-tlog`; never on storage,
//! tokio or HTTP.

pub mod entry;
pub mod error;
pub mod index;
pub mod keys;
pub mod request;

pub use error::{Error, Result};
