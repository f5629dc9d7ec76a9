//! Copying a log from one storage engine to another (`islet store
//! migrate`), verified as it goes and tile for tile at the end.
//!
//! The copy replays the source's history: for every checkpoint the source
//! signed, in order, the entries up to its size are read back from the
//! source's bundles, re-hashed, grown into tiles and bundles, checked
//! against that checkpoint (signature by the log key, size and root), and
//! committed to the target with that checkpoint as its head; a stretch
//! longer than [`COPY_CHUNK_ENTRIES`] between two checkpoints goes in
//! chunks whose heads carry no checkpoint, so a server started on a
//! half-copied target refuses to sign rather than serve it. The dedup and
//! search indexes are rebuilt from the entries. At the end every tile and
//! bundle of the target is compared with the source's, byte for byte.
//! The target must not hold the log yet: never two writable copies.

use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::grow::LogGrower;
use islet_tlog::merkle::{Hash, leaf_hash};
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{BundleId, TILE_WIDTH, for_each_bundle_entry, tile_width, tiles_for_size};

use crate::engine::{LogStore, grow_batch};
use crate::error::{Error, Result, corrupt};
use crate::schema::{CommitBatch, LogNumber, SearchKind, TreeHead};

/// The most entries one commit of a copy carries (a stretch between two
/// checkpoints longer than this is split). It bounds the copy's memory:
/// the entries of one chunk and their tiles and bundles are held at once
/// (about 50 MB of Rekor-sized entries).
pub const COPY_CHUNK_ENTRIES: u64 = 16 * 1024;

/// One end of a copy: a store and the log in it.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    /// The store.
    pub store: &'a dyn LogStore,
    /// The log's number in that store.
    pub log: LogNumber,
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// Entries copied (the source's size).
    pub size: u64,
    /// The root of that tree, hex.
    pub root: String,
    /// Signed checkpoints carried over.
    pub checkpoints: u64,
    /// Commits made to the target.
    pub commits: u64,
    /// Hash tiles compared byte for byte at the end.
    pub tiles_compared: u64,
    /// Entry bundles compared byte for byte at the end.
    pub bundles_compared: u64,
}

/// The source's signed checkpoints, ascending by size.
fn checkpoints(from: Side<'_>, size: u64) -> Result<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut next = 0;
    while next <= size {
        let Some((s, note)) = from.store.checkpoint_covering(from.log, next)? else {
            break;
        };
        if s > size {
            break;
        }
        out.push((s, note));
        next = s + 1;
    }
    Ok(out)
}

/// Copies the log `from` into `to`, which must not hold it, checking every
/// checkpoint with `key` (for `origin`); `progress` hears the size copied
/// so far.
///
/// # Errors
/// [`Error::Usage`] when the target already holds the log or the source
/// holds none; [`Error::RootMismatch`] and corruption when the source's
/// entries, tiles or checkpoints disagree; the engines' failures.
pub fn copy_log(
    from: Side<'_>,
    to: Side<'_>,
    key: &NoteVerifier,
    origin: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<Copied> {
    let Some(source_head) = from.store.tree_head(from.log)? else {
        return Err(Error::Usage {
            reason: format!("the source holds no log {origin}"),
        });
    };
    if let Some(h) = to.store.tree_head(to.log)? {
        return Err(Error::Usage {
            reason: format!(
                "the target already holds {origin} (size {}); a copy goes only to an empty target",
                h.size
            ),
        });
    }
    let marks = checkpoints(from, source_head.size)?;
    if marks.last().map(|(s, _)| *s) != Some(source_head.size) {
        return Err(corrupt(format!(
            "the source's head of size {} has no stored checkpoint",
            source_head.size
        )));
    }
    let mut grower = LogGrower::new();
    let mut committed: Option<TreeHead> = None;
    let mut commits = 0;
    for (size, note) in &marks {
        let signed = SignedCheckpoint::open(note, key, &[], Some(origin)).map_err(|e| {
            corrupt(format!(
                "the source's checkpoint of size {size} does not verify: {e}"
            ))
        })?;
        if signed.checkpoint.size != *size {
            return Err(corrupt(format!(
                "the source's checkpoint stored at size {size} is of size {}",
                signed.checkpoint.size
            )));
        }
        while grower.size() < *size {
            let end = (*size).min(grower.size() + COPY_CHUNK_ENTRIES);
            let mut batch = CommitBatch::default();
            grow_from(from, source_head.size, &mut grower, end, &mut batch)?;
            let head = TreeHead {
                size: end,
                root: grower.root(),
                checkpoint: if end == *size {
                    note.clone()
                } else {
                    Vec::new()
                },
            };
            if end == *size && head.root != signed.checkpoint.root {
                return Err(Error::RootMismatch {
                    size: end,
                    computed: hex::encode(head.root),
                    signed: hex::encode(signed.checkpoint.root),
                });
            }
            to.store.append(to.log, committed.as_ref(), &batch, &head)?;
            committed = Some(head);
            commits += 1;
            progress(end);
        }
        if *size == 0 && committed.is_none() {
            // The empty tree's checkpoint: a head with no entries.
            let head = TreeHead {
                size: 0,
                root: signed.checkpoint.root,
                checkpoint: note.clone(),
            };
            to.store
                .append(to.log, None, &CommitBatch::default(), &head)?;
            committed = Some(head);
            commits += 1;
        }
    }
    let (tiles_compared, bundles_compared) = compare(from, to, source_head.size)?;
    Ok(Copied {
        size: source_head.size,
        root: hex::encode(source_head.root),
        checkpoints: marks.len() as u64,
        commits,
        tiles_compared,
        bundles_compared,
    })
}

/// Grows `grower` to `end` entries read from the source's bundles (as of
/// `size`), adding tiles, bundles, dedup and search rows to `batch`.
fn grow_from(
    from: Side<'_>,
    size: u64,
    grower: &mut LogGrower,
    end: u64,
    batch: &mut CommitBatch,
) -> Result<()> {
    let start = grower.size();
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let mut index = start;
    while index < end {
        let b = index / u64::from(TILE_WIDTH);
        let id = BundleId {
            index: b,
            width: tile_width(size, 0, b).unwrap_or(TILE_WIDTH),
        };
        let data = from
            .store
            .bundle_at(from.log, id, size)?
            .ok_or_else(|| corrupt(format!("the source's {id} is missing")))?;
        let mut position = b * u64::from(TILE_WIDTH);
        for_each_bundle_entry(id, &data, |e| {
            if position >= index && position < end {
                bodies.push(e.to_vec());
            }
            position += 1;
        })?;
        if position <= index {
            return Err(corrupt(format!(
                "the source's {id} ends before entry {index}"
            )));
        }
        index = position.min(end);
    }
    let leaves: Vec<(&[u8], Hash)> = bodies
        .iter()
        .map(|b| (b.as_slice(), leaf_hash(b)))
        .collect();
    for (offset, (body, leaf)) in leaves.iter().enumerate() {
        let i = start + offset as u64;
        batch.dedup.push((*leaf, i));
        let keys = islet_rekor::index::entry_keys(body);
        if let Some(d) = keys.artifact_digest {
            batch.search.push((SearchKind::ArtifactDigest, d, i));
        }
        for fp in keys.key_fingerprints {
            batch
                .search
                .push((SearchKind::KeyFingerprint, fp.to_vec(), i));
        }
    }
    grow_batch(grower, &leaves, batch)
}

/// Compares every hash tile and entry bundle of a tree of `size` in both
/// stores; returns how many of each were compared.
fn compare(from: Side<'_>, to: Side<'_>, size: u64) -> Result<(u64, u64)> {
    let mut tiles = 0;
    for tile in tiles_for_size(size) {
        let (a, b) = (
            from.store.tile_at(from.log, tile, size)?,
            to.store.tile_at(to.log, tile, size)?,
        );
        if a.is_none() || a != b {
            return Err(corrupt(format!(
                "{tile} differs between the source and the copy"
            )));
        }
        tiles += 1;
    }
    let mut bundles = 0;
    for index in 0..size.div_ceil(u64::from(TILE_WIDTH)) {
        let id = BundleId {
            index,
            width: tile_width(size, 0, index).unwrap_or(TILE_WIDTH),
        };
        let (a, b) = (
            from.store.bundle_at(from.log, id, size)?,
            to.store.bundle_at(to.log, id, size)?,
        );
        if a.is_none() || a != b {
            return Err(corrupt(format!(
                "{id} differs between the source and the copy"
            )));
        }
        bundles += 1;
    }
    Ok((tiles, bundles))
}
