//! C2SP tlog-mirror push (`../shared/specs/c2sp.md` §9): the `add-entries`
//! request codec, the check of each pushed package against the pending
//! checkpoint, the `text/x.tlog.mirror-info` body, and the mirror's
//! `add-checkpoint` decision (which moves the *pending* checkpoint).
//!
//! A push goes in three steps. `add-checkpoint` moves the pending checkpoint
//! ([`decide_pending`]). `add-entries` uploads entries up to a pending size:
//! the server reads the header ([`AddEntries::parse_header`]), checks it
//! against its state ([`check_upload`]), then takes the packages one by one
//! ([`AddEntries::packages`]) and refuses any package whose entries do not
//! hash into a subtree consistent with the pending root
//! ([`verify_package`]) before storing anything of it. Once every entry up
//! to the pending size is stored, the mirror commits and cosigns.
//!
//! The push client builds the same bodies with [`encode_header`],
//! [`package_ranges`] and [`encode_package`].
//!
//! Statuses a mirror answers `add-entries` with, from these results:
//! - [`crate::Error::AddEntriesTooLarge`]: 413; a header [`crate::Error::MalformedAddEntries`]:
//!   400; unknown origin: 404; no pending checkpoint ever received: 422 (the
//!   spec digest; Sunlight answers 404 there); [`crate::Error::UploadConflict`]: 409
//!   with a [`MirrorInfo`] body.
//! - Per package, in order: an `Err` item of [`Packages`] or a
//!   [`PackageCheck::Proof`] refusal stops the upload. A failed proof is
//!   422; a body that ends or breaks the format is 202 when a package was
//!   stored, else 400 (also when the body ends between packages before
//!   [`Packages::is_complete`]).
//! - Complete: commit, cosign, 200 with the cosignature lines.
//!
//! Signing, tickets (which a mirror must authenticate), storage and the
//! clock belong to the caller: this module does no I/O.

use crate::tiles::TILE_WIDTH;

/// Longest origin accepted in an `add-entries` header, in bytes. The wire
/// allows 65,535; origins in use are a few dozen bytes, and the bound keeps
/// the lookup key small.
pub const MAX_ORIGIN_LEN: usize = 1024;

/// Longest ticket accepted, in bytes. Tickets are opaque and issued by the
/// mirror; Sunlight's is the pending checkpoint note, encrypted, so the
/// bound leaves room for a checkpoint with several post-quantum signatures.
pub const MAX_TICKET_LEN: usize = 16 * 1024;

/// Entries in one package: one entry bundle (tlog-tiles width 256).
pub const MAX_ENTRIES_PER_PACKAGE: usize = TILE_WIDTH as usize;

/// Largest entry a package carries: the limit of an entry bundle
/// ([`crate::tiles::MAX_ENTRY_SIZE`], a big-endian u16 length prefix).
pub const MAX_ENTRY_SIZE: usize = crate::tiles::MAX_ENTRY_SIZE;

/// Hashes in a package's subtree consistency proof: trees below 2^63
/// leaves need at most 63, and the count is a single byte on the wire.
pub const MAX_PROOF_HASHES: usize = 63;

/// Packages read from one request. Clients SHOULD send at most 32 (the
/// spec); a mirror takes up to twice that and stops reading after it, which
/// the client sees as a partial upload (202) to resume.
pub const MAX_PACKAGES_PER_REQUEST: usize = 64;

/// Largest `add-entries` body, after any `Content-Encoding` is undone:
/// 20 MiB, Sunlight's cap. One package of 256 entries of the largest size
/// (about 16 MiB) still fits.
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// Already-stored entries a request may send again (`min(upload_end, next
/// entry) − upload_start`) before it is answered 409: Sunlight's value.
pub const MAX_RESENT_ENTRIES: u64 = 2048;

/// Content type of an `add-entries` request.
pub const ADD_ENTRIES_CONTENT_TYPE: &str = "application/octet-stream";

/// Content type of a 409 or 202 `add-entries` response, whose body is
/// [`MirrorInfo::to_body`].
pub const MIRROR_INFO_CONTENT_TYPE: &str = "text/x.tlog.mirror-info";

/// Longest `text/x.tlog.mirror-info` body accepted: two decimal lines of at
/// most 19 digits and the base64 of a ticket of [`MAX_TICKET_LEN`] bytes.
pub const MAX_MIRROR_INFO_BYTES: usize = 2 * (19 + 1) + MAX_TICKET_LEN.div_ceil(3) * 4 + 1;

const WIDTH: u64 = TILE_WIDTH as u64;

mod check;
mod encode;
mod info;
mod parse;
mod pending;
mod ranges;

pub use check::{PackageCheck, VerifiedPackage, check_upload, verify_package};
pub use encode::{encode_header, encode_package};
pub use info::MirrorInfo;
pub use parse::{AddEntries, Package, Packages};
pub use pending::{PendingDecision, decide_pending};
pub use ranges::{PackageRange, PackageRanges, package_ranges};

#[cfg(test)]
mod tests;
