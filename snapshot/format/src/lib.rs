//! # islet-snapshot-format
//!
//! The snapshot file, apart from any store: what `islet snapshot import`
//! and `inspect` read from hostile files, and what export writes.
//!
//! - [`frames`]: zstd as independent frames, compressed and decoded on more
//!   than one core, every window and size checked before memory is spent;
//! - [`ustar`]: the strict tar reader (files as slices of decoded frames);
//! - [`manifest`]: the manifest and which files a snapshot must hold;
//! - [`archive`]: reading an archive and checking it against its manifest,
//!   on a thread of its own;
//! - [`inspect`]: what a snapshot holds, with or without a key.
//!
//! Built on the spec crate `islet-tlog` only: no store, no runtime, so the
//! fuzz targets of snapshot files build without RocksDB. `islet-snapshot`
//! builds export and import on it.

pub mod archive;
pub mod error;
pub mod frames;
pub mod inspect;
pub mod manifest;
pub mod ustar;

pub use error::{Error, Result};

use islet_tlog::note::MAX_NOTE_SIZE;

/// Largest zstd window import accepts, as a power of two (16 MiB). A frame
/// that asks for more is refused before any memory is spent on it.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 24;
/// Largest entry bundle: 256 entries of at most 65,535 bytes, each with a
/// 2-byte length.
pub const MAX_BUNDLE_BYTES: u64 = 256 * (2 + 65_535);
/// Bytes of a tar block (a header, or a unit of file data and padding).
pub const BLOCK: u64 = 512;
/// Decompressed bytes allowed before the manifest has said how large the
/// archive is: two headers, the largest checkpoint and the largest
/// manifest, each padded to a block.
pub const PRE_MANIFEST_CAP: u64 = 4 * BLOCK + MAX_NOTE_SIZE as u64 + manifest::MAX_MANIFEST_BYTES;
/// What may follow the last file: tar's end-of-archive blocks and record
/// padding (a tar record is at most 20 blocks of zeros here).
pub const END_SLACK: u64 = 20 * BLOCK;
