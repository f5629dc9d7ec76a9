//! Rekor v2 entries (`../shared/specs/rekor-v2.md`): request decoding with
//! protojson rules, client-key parsing and the algorithm registry,
//! validation, the byte-exact leaf, and the search keys of a logged body.
//! No I/O.

pub mod entry;
pub mod index;
pub mod keys;
pub mod request;
