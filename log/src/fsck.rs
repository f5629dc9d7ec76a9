//! `islet fsck`: verifies a whole tlog-tiles log.
//!
//! Checks, in order: the checkpoint's signature and origin; every entry
//! bundle re-hashed and compared with its level-0 tile; every hash tile
//! above recomputed from the tiles below and compared byte for byte; the
//! root recomputed from the partial tiles and compared with the signed root.
//! The first problem is reported with the file, the index, and both hashes.
//!
//! Bundles are fetched and hashed concurrently (hashing on the blocking
//! pool, so every core works); results are consumed in order, so memory is
//! bounded by the number of fetches in flight.

use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::checkpoint::SignedCheckpoint;
use crate::error::{Error, Result};
use crate::merkle::{EMPTY_ROOT, Hash, leaf_hash, perfect_root};
use crate::note::NoteVerifier;
use crate::source::{LogSource, Resource};
use crate::tiles::{
    BundleId, TILE_WIDTH, TileBuilder, TileId, for_each_bundle_entry, parse_hash_tile,
    root_from_partial_tiles, tiles_for_size,
};

/// Default number of bundles fetched and hashed at once.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// How fsck runs.
#[derive(Debug, Clone)]
pub struct FsckOptions {
    /// Bundles fetched and hashed at once (at least 1).
    pub concurrency: usize,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// The origin the checkpoint must carry (default: the log key's name;
    /// required knowledge when checking with a cosigner key).
    pub origin: Option<String>,
}

impl Default for FsckOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            progress: false,
            origin: None,
        }
    }
}

/// What a successful fsck checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FsckReport {
    /// Checkpoint origin.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
    /// Entry bundles checked.
    pub bundles: u64,
    /// Hash tiles checked.
    pub tiles: u64,
    /// Bytes of entry data hashed (without length prefixes).
    pub entry_bytes: u64,
    /// Bytes read in all (checkpoint, bundles, tiles).
    pub bytes_read: u64,
    /// Wall-clock time.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Result of checking one bundle against its level-0 tile.
struct BundleCheck {
    /// Hash of the full tile's 256 leaves (for level 1), or the leaf hashes
    /// of a partial tile (for the root).
    summary: BundleSummary,
    entry_bytes: u64,
    bytes_read: u64,
}

enum BundleSummary {
    Full(Hash),
    Partial(Vec<Hash>),
}

fn in_resource(source: &LogSource, r: Resource) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e {
        // These already name their file.
        Error::Missing { .. }
        | Error::TileHashMismatch { .. }
        | Error::BundleMalformed { .. }
        | Error::TileLength { .. }
        | Error::TooLarge { .. }
        | Error::Io { .. }
        | Error::Http { .. } => e,
        other => Error::InResource {
            path: source.locate(r),
            source: Box::new(other),
        },
    }
}

async fn check_bundle(source: &LogSource, tile: TileId) -> Result<BundleCheck> {
    let bundle = tile.bundle();
    let (bundle_bytes, tile_bytes) =
        futures::try_join!(source.fetch_bundle(bundle), source.fetch_tile(tile))?;
    let bundle_path = source.locate(Resource::Tile(crate::tiles::TilePath::Entries(bundle)));
    let tile_path = source.locate(Resource::Tile(crate::tiles::TilePath::Hash(tile)));
    tokio::task::spawn_blocking(move || {
        hash_bundle(bundle, &bundle_bytes, &tile_bytes, &bundle_path, &tile_path)
    })
    .await
    .map_err(|e| Error::Io {
        path: "hashing worker".into(),
        source: std::io::Error::other(e.to_string()),
    })?
}

fn hash_bundle(
    bundle: BundleId,
    bundle_bytes: &[u8],
    tile_bytes: &[u8],
    bundle_path: &str,
    tile_path: &str,
) -> Result<BundleCheck> {
    let tile = bundle.tile();
    let stored = parse_hash_tile(tile, tile_bytes).map_err(|_| Error::TileLength {
        path: tile_path.to_owned(),
        expected: tile.byte_len(),
        found: tile_bytes.len(),
    })?;
    let mut leaves = Vec::with_capacity(usize::from(bundle.width));
    let mut entry_bytes = 0u64;
    for_each_bundle_entry(bundle, bundle_bytes, |e| {
        entry_bytes += e.len() as u64;
        leaves.push(leaf_hash(e));
    })
    .map_err(|e| match e {
        Error::BundleMalformed { reason, .. } => Error::BundleMalformed {
            path: bundle_path.to_owned(),
            reason,
        },
        other => other,
    })?;
    if let Some(position) = (0..leaves.len()).find(|&i| leaves[i] != stored[i]) {
        return Err(Error::TileHashMismatch {
            path: tile_path.to_owned(),
            position,
            what: "entry",
            index: bundle.first_entry() + position as u64,
            expected: leaves[position],
            found: stored[position],
        });
    }
    let summary = if bundle.width == TILE_WIDTH {
        BundleSummary::Full(perfect_root(&leaves))
    } else {
        BundleSummary::Partial(leaves)
    };
    Ok(BundleCheck {
        summary,
        entry_bytes,
        bytes_read: (bundle_bytes.len() + tile_bytes.len()) as u64,
    })
}

/// Compares a fetched upper-level tile with the hashes recomputed from the
/// level below.
async fn check_upper_tile(source: &LogSource, tile: TileId, recomputed: &[Hash]) -> Result<u64> {
    let r = Resource::Tile(crate::tiles::TilePath::Hash(tile));
    let bytes = source.fetch_tile(tile).await?;
    let stored = parse_hash_tile(tile, &bytes).map_err(|_| Error::TileLength {
        path: source.locate(r),
        expected: tile.byte_len(),
        found: bytes.len(),
    })?;
    if let Some(position) = (0..stored.len()).find(|&i| stored[i] != recomputed[i]) {
        return Err(Error::TileHashMismatch {
            path: source.locate(r),
            position,
            what: "tile",
            index: tile.index * u64::from(TILE_WIDTH) + position as u64,
            expected: recomputed[position],
            found: stored[position],
        });
    }
    Ok(bytes.len() as u64)
}

fn progress_bar(enabled: bool, len: u64) -> ProgressBar {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} fsck [{bar:40}] {human_pos}/{human_len} entries ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// Verifies the whole log at `source` against the log key.
///
/// # Errors
/// The first problem found; [`Error::is_verification_failure`] tells a bad
/// log from one that could not be read.
pub async fn fsck(
    source: &LogSource,
    log_key: &NoteVerifier,
    opts: &FsckOptions,
) -> Result<FsckReport> {
    let started = Instant::now();
    let raw = source.fetch_required(Resource::Checkpoint).await?;
    let signed = SignedCheckpoint::open(&raw, log_key, &[], opts.origin.as_deref())
        .map_err(in_resource(source, Resource::Checkpoint))?;
    let cp = signed.checkpoint;
    let mut report = FsckReport {
        origin: cp.origin.clone(),
        size: cp.size,
        root: hex::encode(cp.root),
        bundles: 0,
        tiles: 0,
        entry_bytes: 0,
        bytes_read: raw.len() as u64,
        elapsed: Duration::ZERO,
    };
    if cp.size == 0 {
        if cp.root != EMPTY_ROOT {
            return Err(Error::RootMismatch {
                size: 0,
                computed: EMPTY_ROOT,
                signed: cp.root,
            });
        }
        report.elapsed = started.elapsed();
        return Ok(report);
    }

    let bar = progress_bar(opts.progress, cp.size);
    // Level-0 tiles in order; the level-1+ tiles are recomputed by feeding
    // each full level-0 tile's hash into a builder whose "level L" is the
    // log's level L+1.
    let level0: Vec<TileId> = tiles_for_size(cp.size)
        .take_while(|t| t.level == 0)
        .collect();
    let mut upper = TileBuilder::new();
    let mut level0_partial: Vec<Hash> = Vec::new();
    let mut upper_full: Vec<(TileId, Vec<Hash>)> = Vec::new();
    let mut checks = futures::stream::iter(level0.iter().copied().map(|t| check_bundle(source, t)))
        .buffered(opts.concurrency.max(1));
    while let Some(check) = checks.next().await {
        let check = check?;
        report.bundles += 1;
        report.tiles += 1;
        report.entry_bytes += check.entry_bytes;
        report.bytes_read += check.bytes_read;
        match check.summary {
            BundleSummary::Full(h) => {
                bar.inc(u64::from(TILE_WIDTH));
                upper.push(h, &mut |t, hashes| {
                    upper_full.push((
                        TileId {
                            level: t.level + 1,
                            ..t
                        },
                        hashes.to_vec(),
                    ));
                });
                for (tile, hashes) in upper_full.drain(..) {
                    report.bytes_read += check_upper_tile(source, tile, &hashes).await?;
                    report.tiles += 1;
                }
            }
            BundleSummary::Partial(leaves) => {
                bar.inc(leaves.len() as u64);
                level0_partial = leaves;
            }
        }
    }
    let mut rows = vec![level0_partial];
    for (t, hashes) in upper.partial_tiles() {
        let tile = TileId {
            level: t.level + 1,
            ..t
        };
        report.bytes_read += check_upper_tile(source, tile, hashes).await?;
        report.tiles += 1;
        rows.resize(usize::from(tile.level), Vec::new());
        rows.push(hashes.to_vec());
    }
    bar.finish_and_clear();
    let computed = root_from_partial_tiles(cp.size, &rows)?;
    if computed != cp.root {
        return Err(Error::RootMismatch {
            size: cp.size,
            computed,
            signed: cp.root,
        });
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
