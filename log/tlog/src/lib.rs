//! # islet-tlog
//!
//! The spec code of transparency logs, as islet implements them:
//! - [`merkle`]: RFC 6962 hashing, proofs over any [`merkle::HashReader`],
//!   verification, subtree proofs.
//! - [`tiles`]: C2SP tlog-tiles paths, tile and bundle codecs, tile sets,
//!   authenticated reads out of tiles.
//! - [`grow`]: growing a log entry by entry into bundles and tiles.
//! - [`note`]: C2SP signed notes, vkeys, verifiers for Ed25519, ECDSA and
//!   `cosignature/v1`, and the [`note::NoteSigner`] trait.
//! - [`checkpoint`]: C2SP checkpoints.
//! - [`witness`]: the C2SP tlog-witness `add-checkpoint` request and the
//!   witness's decision on it (without signing, storage or clock).
//! - [`mirror_push`]: C2SP tlog-mirror push (`add-entries`, mirror-info, pending checkpoint).
//! - [`policy`]: C2SP tlog-policy files and witness quorums over cosigned
//!   checkpoints.
//! - [`proof_file`]: C2SP `tlog-proof@v1` files: carryable inclusion proofs.
//!
//! This crate does no I/O, reads no clock and draws no randomness: given the
//! same bytes it gives the same answer. Signing keys live in `islet-signer`,
//! reading logs in `islet-reader`, storage in `islet-store`. It must never
//! depend on tokio, an HTTP stack or a database; `cargo tree -p islet-tlog`
//! shows that it does not.
//!
//! Specs: `../shared/specs/c2sp.md`.

pub mod checkpoint;
pub mod error;
pub mod grow;
pub mod merkle;
pub mod mirror_push;
pub mod note;
pub mod policy;
pub mod proof_file;
pub mod tiles;
pub mod witness;

pub use error::{Error, Result};
