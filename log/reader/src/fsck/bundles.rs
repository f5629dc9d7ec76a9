//! The level-0 pass of fsck: every entry bundle re-hashed and compared with
//! its level-0 tile, in log order.
//!
//! A directory log is read and hashed by one thread per core, each with its
//! own buffers, claiming runs of bundles in order from a shared counter: nothing is
//! allocated per bundle, and the results (a tile's root, a few bytes) are
//! put back in log order for the caller. A log over HTTP is fetched with
//! `concurrency` requests in flight and hashed on the blocking pool.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::source::{LogSource, Resource, read_bundle_in_dir, read_tile_in_dir};
use islet_tlog::merkle::{HASH_SIZE, Hash, leaf_hash, perfect_root_in_place};
use islet_tlog::tiles::{
    BundleId, TILE_WIDTH, TileId, TilePath, for_each_bundle_entry, parse_hash_tile,
};

/// The result of checking one bundle against its level-0 tile.
pub(super) struct BundleCheck {
    pub(super) bundle: BundleId,
    /// The first position where the entries and the tile disagree.
    pub(super) mismatch: Option<usize>,
    /// For a full bundle whose tile agrees: the root of its 256 leaves (the
    /// hash its parent tile must hold).
    pub(super) root: Option<Hash>,
    /// The recomputed leaf hashes, kept only for a partial bundle or a
    /// mismatch (they are needed for the root and for the blame).
    pub(super) leaves: Vec<Hash>,
    /// The level-0 tile's hashes, kept only when `leaves` is.
    pub(super) stored: Vec<Hash>,
    /// Number of entries in the bundle.
    pub(super) entries: u64,
    pub(super) entry_bytes: u64,
    pub(super) bytes_read: u64,
}

/// Buffers one hashing thread reuses from bundle to bundle.
#[derive(Default)]
struct Buffers {
    bundle: Vec<u8>,
    tile: Vec<u8>,
    leaves: Vec<Hash>,
}

pub(super) fn bundle_location(source: &LogSource, bundle: BundleId) -> String {
    source.locate(Resource::Tile(TilePath::Entries(bundle)))
}

pub(super) fn tile_location(source: &LogSource, tile: TileId) -> String {
    source.locate(Resource::Tile(TilePath::Hash(tile)))
}

/// Checks the bundles of `tiles` (level-0 tiles, in order) and yields the
/// results in that order.
pub(super) fn level0_checks<'a>(
    source: &'a LogSource,
    tiles: Vec<TileId>,
    concurrency: usize,
) -> BoxStream<'a, Result<BundleCheck>> {
    if let LogSource::Dir(dir) = source {
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(concurrency.max(1));
        return in_dir(source.clone(), dir.clone(), tiles, workers).boxed();
    }
    futures::stream::iter(tiles.into_iter().map(move |t| fetched(source, t)))
        .buffered(concurrency.max(1))
        .boxed()
}

async fn fetched(source: &LogSource, tile: TileId) -> Result<BundleCheck> {
    let bundle = tile.bundle();
    let (bundle_bytes, tile_bytes) =
        futures::try_join!(source.fetch_bundle(bundle), source.fetch_tile(tile))?;
    let source = source.clone();
    tokio::task::spawn_blocking(move || {
        hash_bundle(
            &source,
            bundle,
            &bundle_bytes,
            &tile_bytes,
            &mut Vec::with_capacity(usize::from(TILE_WIDTH)),
        )
    })
    .await
    .map_err(|source| Error::Worker {
        task: "hashing worker",
        source,
    })?
}

/// Bundles a hashing thread claims at a time: its results travel together,
/// so the reader is woken once per claim rather than once per bundle.
const CLAIM: usize = 16;

/// Sets the flag when dropped: the workers stop once nobody reads.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn in_dir(
    source: LogSource,
    dir: PathBuf,
    tiles: Vec<TileId>,
    workers: usize,
) -> impl futures::Stream<Item = Result<BundleCheck>> + 'static {
    let total = tiles.len();
    let tiles: Arc<[TileId]> = tiles.into();
    let claimed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..workers {
        let (source, dir, tiles) = (source.clone(), dir.clone(), Arc::clone(&tiles));
        let (claimed, stop, tx) = (Arc::clone(&claimed), Arc::clone(&stop), tx.clone());
        std::thread::spawn(move || {
            let mut buffers = Buffers::default();
            while !stop.load(Ordering::Relaxed) {
                let first = claimed.fetch_add(CLAIM, Ordering::Relaxed);
                let Some(claim) = tiles.get(first..(first + CLAIM).min(tiles.len())) else {
                    break;
                };
                let mut results = Vec::with_capacity(claim.len());
                for &tile in claim {
                    let result = check_in_dir(&source, &dir, tile, &mut buffers);
                    let failed = result.is_err();
                    results.push(result);
                    if failed {
                        break;
                    }
                }
                // Every bundle claimed is answered up to the first error,
                // which ends only this worker: the reader never waits for a
                // bundle nobody has, and meets the error first.
                let failed = results.last().is_some_and(Result::is_err);
                if tx.send((first, results)).is_err() || failed {
                    break;
                }
            }
        });
    }
    drop(tx);
    let state = (rx, BTreeMap::new(), 0usize, StopOnDrop(stop));
    futures::stream::unfold(state, move |(mut rx, mut early, next, stop)| async move {
        if next == total {
            return None;
        }
        loop {
            if let Some(result) = early.remove(&next) {
                return Some((result, (rx, early, next + 1, stop)));
            }
            match rx.recv().await {
                Some((first, results)) => {
                    early.extend((first..).zip(results));
                }
                None => {
                    let stopped = Err(Error::WorkerStopped {
                        task: "hashing thread",
                    });
                    return Some((stopped, (rx, early, total, stop)));
                }
            }
        }
    })
}

fn check_in_dir(
    source: &LogSource,
    dir: &Path,
    tile: TileId,
    buffers: &mut Buffers,
) -> Result<BundleCheck> {
    let bundle = tile.bundle();
    read_tile_in_dir(dir, tile, &mut buffers.tile)?;
    read_bundle_in_dir(dir, bundle, &mut buffers.bundle)?;
    hash_bundle(
        source,
        bundle,
        &buffers.bundle,
        &buffers.tile,
        &mut buffers.leaves,
    )
}

/// Hashes the entries of `bundle_bytes` into `leaves` and compares them with
/// the tile; for a full tile that agrees, reduces them to its root.
fn hash_bundle(
    source: &LogSource,
    bundle: BundleId,
    bundle_bytes: &[u8],
    tile_bytes: &[u8],
    leaves: &mut Vec<Hash>,
) -> Result<BundleCheck> {
    let tile = bundle.tile();
    if tile_bytes.len() != tile.byte_len() {
        return Err(Error::Tlog(islet_tlog::Error::TileLength {
            path: tile_location(source, tile),
            expected: tile.byte_len(),
            found: tile_bytes.len(),
        }));
    }
    leaves.clear();
    let mut entry_bytes = 0u64;
    for_each_bundle_entry(bundle, bundle_bytes, |e| {
        entry_bytes += e.len() as u64;
        leaves.push(leaf_hash(e));
    })
    .map_err(|e| match e {
        islet_tlog::Error::BundleMalformed { reason, .. } => {
            Error::Tlog(islet_tlog::Error::BundleMalformed {
                path: bundle_location(source, bundle),
                reason,
            })
        }
        other => Error::from(other),
    })?;
    let mismatch = leaves
        .iter()
        .zip(tile_bytes.chunks_exact(HASH_SIZE))
        .position(|(leaf, stored)| leaf[..] != *stored);
    let full = bundle.width == TILE_WIDTH;
    let (root, kept, stored) = if full && mismatch.is_none() {
        (Some(perfect_root_in_place(leaves)), Vec::new(), Vec::new())
    } else {
        let stored = parse_hash_tile(tile, tile_bytes)?;
        (None, leaves.clone(), stored)
    };
    Ok(BundleCheck {
        bundle,
        mismatch,
        root,
        leaves: kept,
        stored,
        entries: u64::from(bundle.width),
        entry_bytes,
        bytes_read: (bundle_bytes.len() + tile_bytes.len()) as u64,
    })
}
