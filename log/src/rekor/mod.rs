//! Rekor v2 entries (`../shared/specs/rekor-v2.md`): request decoding with
//! protojson rules, client-key parsing and the algorithm registry,
//! validation, and the byte-exact leaf. No I/O.

pub mod entry;
pub mod keys;
pub mod request;
