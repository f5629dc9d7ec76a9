//! The key schema of the store: column families, keys and the values
//! stored under them.
//!
//! Column families (every key starts with the 4-byte big-endian number of
//! the log it belongs to: 0 is the own log, mirrors get their own):
//!
//! | family | key | value |
//! |---|---|---|
//! | `meta` | `tree` + log | tree head: size (u64 BE) ‖ root ‖ latest signed checkpoint |
//! | `meta` | `schema` | [`SCHEMA_VERSION`] |
//! | `tiles` | log ‖ 0 ‖ level ‖ index (u64 BE) | hash tile bytes at its current width |
//! | `tiles` | log ‖ 1 ‖ 0 ‖ index (u64 BE) | entry bundle bytes at its current width |
//! | `checkpoints` | log ‖ size (u64 BE) | the signed checkpoint of that size |
//! | `dedup` | log ‖ leaf hash (SHA-256 of 0x00 ‖ entry) | index (u64 BE): dedup and leaf-hash search |
//! | `search` | log ‖ kind ‖ hash ‖ index (u64 BE) | empty |
//! | `meta` | `log/` ‖ origin | [`LogRecord`] of a mirrored log (JSON) |
//! | `meta` | `evidence/` ‖ log ‖ sequence (u64 BE) | [`Evidence`] of a fork (JSON) |
//! | `meta` | `indexed/` ‖ log | entries of a mirror in the search index (u64 BE) |
//! | `meta` | `staged/` ‖ log | [`StagedProgress`] of an unfinished extension |
//!
//! A tile is stored once, at its latest width; a partial tile `.p/W` is the
//! prefix of the stored one (tiles only grow, and prefixes never change).
//! The sequencer grows a stored bundle by merge operands that RocksDB
//! appends to its value (`islet.append`, see [`BundleAppend`]); a read
//! sees the concatenation.
//! Everything a batch changes goes into one `WriteBatch` written with
//! `sync = true`: a crash leaves the old tree or the new one. RocksDB's LOCK
//! file keeps a second process out.

use islet_tlog::merkle::{HASH_SIZE, Hash};
use islet_tlog::tiles::{BundleId, TileId};

use crate::error::{Result, corrupt};

/// Version of the key schema above; a store with another version is refused.
/// (2: the dedup index is keyed by leaf hash and serves leaf-hash search.)
pub const SCHEMA_VERSION: u32 = 2;

pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_TILES: &str = "tiles";
pub(crate) const CF_CHECKPOINTS: &str = "checkpoints";
pub(crate) const CF_DEDUP: &str = "dedup";
pub(crate) const CF_SEARCH: &str = "search";
pub(crate) const FAMILIES: [&str; 5] = [CF_META, CF_TILES, CF_CHECKPOINTS, CF_DEDUP, CF_SEARCH];

/// Number of a log inside a store.
pub type LogNumber = u32;
/// The own log.
pub const OWN_LOG: LogNumber = 0;
/// Most logs one store holds (the own log and its mirrors).
pub const MAX_LOGS: u32 = 4096;

/// How far an unfinished extension of a log got: it started on the
/// committed tree of `base` entries and staged everything up to `size`
/// entries (edge tiles and bundle included), on its way to the signed
/// checkpoint `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedProgress {
    /// The committed size the extension started from.
    pub base: u64,
    /// Entries staged (tiles, edge and bundles complete up to here).
    pub size: u64,
    /// The signed checkpoint the extension was heading for.
    pub target: Vec<u8>,
}

impl StagedProgress {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + self.target.len());
        v.extend_from_slice(&self.base.to_be_bytes());
        v.extend_from_slice(&self.size.to_be_bytes());
        v.extend_from_slice(&self.target);
        v
    }

    pub(crate) fn decode(v: &[u8]) -> Result<StagedProgress> {
        let (Some(base), Some(size)) = (v.get(..8), v.get(8..16)) else {
            return Err(corrupt("staged progress"));
        };
        let word = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
        Ok(StagedProgress {
            base: word(base),
            size: word(size),
            target: v[16..].to_vec(),
        })
    }
}

pub(crate) fn staged_key(log: LogNumber) -> Vec<u8> {
    [b"staged/".as_slice(), &log.to_be_bytes()].concat()
}

/// A mirrored log: its number in the store, its origin and the verifier
/// keys pinned when it was first imported or synced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    /// Number of the log in the store.
    pub number: LogNumber,
    /// The checkpoint origin.
    pub origin: String,
    /// Pinned verifier keys (vkeys); a checkpoint must verify with one.
    pub vkeys: Vec<String>,
}

/// Two checkpoints of one log that cannot both be true: kept when a source
/// offered a checkpoint that conflicts with the local copy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// What was found: "same size, different root", "not consistent", ….
    pub reason: String,
    /// The local signed checkpoint.
    pub local: String,
    /// The conflicting signed checkpoint.
    pub offered: String,
    /// Where the conflicting one came from.
    pub source: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
}

/// What the search index maps to entry indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SearchKind {
    /// The artifact digest of a hashedrekord, the payload hash of a DSSE.
    ArtifactDigest = 0,
    /// SHA-256 of a signer's SubjectPublicKeyInfo.
    KeyFingerprint = 1,
    /// RFC 6962 leaf hash (served by the dedup index).
    LeafHash = 2,
}

/// The state of a tree as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of entries.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed checkpoint for this size (empty until the first one).
    pub checkpoint: Vec<u8>,
}

impl TreeHead {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + HASH_SIZE + self.checkpoint.len());
        v.extend_from_slice(&self.size.to_be_bytes());
        v.extend_from_slice(&self.root);
        v.extend_from_slice(&self.checkpoint);
        v
    }

    pub(crate) fn decode(v: &[u8]) -> Result<TreeHead> {
        if v.len() < 8 + HASH_SIZE {
            return Err(corrupt("tree head is truncated"));
        }
        let (size, rest) = v.split_at(8);
        let (root, checkpoint) = rest.split_at(HASH_SIZE);
        Ok(TreeHead {
            size: u64::from_be_bytes(size.try_into().map_err(|_| corrupt("tree head size"))?),
            root: islet_tlog::merkle::hash_from_slice(root)?,
            checkpoint: checkpoint.to_vec(),
        })
    }
}

/// Entries appended to a bundle the store holds exactly as far as the
/// writer's tree had it (the sequencer that committed it appends): the
/// bundle becomes `bundle` (its new width) by adding `tail`. A partial
/// bundle would otherwise be written whole by every batch that grows it
/// (up to 128 KiB of Rekor entries, for a batch of a few dozen).
#[derive(Debug, Clone)]
pub struct BundleAppend {
    /// The bundle at its new width.
    pub bundle: BundleId,
    /// The bytes that follow the stored ones: the new entries,
    /// length-prefixed.
    pub tail: bytes::Bytes,
}

/// Everything one sequencing batch changes, written atomically.
#[derive(Debug, Default)]
pub struct CommitBatch {
    /// New or grown hash tiles.
    pub tiles: Vec<(TileId, Vec<u8>)>,
    /// New or grown entry bundles (shared bytes, so that a bundle read
    /// from a snapshot or a mirror is staged without a copy).
    pub bundles: Vec<(BundleId, bytes::Bytes)>,
    /// Bundles grown past a prefix the store already holds: only the
    /// entries after it travel (see [`BundleAppend`]). Produced only for an
    /// engine whose [`crate::LogStore::appends_bundles`] is true.
    pub bundle_appends: Vec<BundleAppend>,
    /// Dedup keys, the leaf hash of each new entry, with its index.
    pub dedup: Vec<(Hash, u64)>,
    /// Search index rows.
    pub search: Vec<(SearchKind, Vec<u8>, u64)>,
    /// A mirror to register with this commit (its first).
    pub register: Option<LogRecord>,
}

pub(crate) fn tile_key(log: LogNumber, kind: u8, level: u8, index: u64) -> [u8; 14] {
    let mut k = [0u8; 14];
    k[..4].copy_from_slice(&log.to_be_bytes());
    k[4] = kind;
    k[5] = level;
    k[6..].copy_from_slice(&index.to_be_bytes());
    k
}

pub(crate) fn tree_key(log: LogNumber) -> Vec<u8> {
    let mut k = b"tree".to_vec();
    k.extend_from_slice(&log.to_be_bytes());
    k
}

pub(crate) fn log_prefixed(log: LogNumber, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + rest.len());
    k.extend_from_slice(&log.to_be_bytes());
    k.extend_from_slice(rest);
    k
}
