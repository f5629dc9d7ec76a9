//! `islet fsck`: verifies a whole tlog-tiles log.
//!
//! Checks, in order: the checkpoint's signature and origin; every entry
//! bundle re-hashed and compared with its level-0 tile; every hash tile
//! above recomputed from the tiles below and compared byte for byte; the
//! root recomputed from the partial tiles and compared with the signed root.
//! The first problem is reported with the file, the index, and both hashes.
//!
//! Bundles are read and hashed on every core (the `bundles` module); the results
//! are consumed in log order.

mod bundles;

use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};
use crate::source::{LogSource, Resource};
use bundles::{BundleCheck, bundle_location, tile_location};
use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::merkle::{EMPTY_ROOT, Hash, perfect_root};
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{
    TILE_WIDTH, TileBuilder, TileId, parse_hash_tile, root_from_partial_tiles, tile_width,
    tiles_for_size,
};

/// Default number of bundles fetched and hashed at once.
pub const DEFAULT_CONCURRENCY: u16 = 16;

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
            concurrency: usize::from(DEFAULT_CONCURRENCY),
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

fn in_resource<E: Into<Error>>(source: &LogSource, r: Resource) -> impl FnOnce(E) -> Error + '_ {
    move |e| match e.into() {
        // These already name their file.
        e @ (Error::Missing { .. }
        | Error::TileHashMismatch { .. }
        | Error::Tlog(islet_tlog::Error::BundleMalformed { .. })
        | Error::Tlog(islet_tlog::Error::TileLength { .. })
        | Error::TooLarge { .. }
        | Error::Io { .. }
        | Error::Transport { .. }
        | Error::Status { .. }
        | Error::Worker { .. }
        | Error::WorkerStopped { .. }
        | Error::Backend { .. }) => e,
        other => Error::InResource {
            path: source.locate(r),
            source: Box::new(other),
        },
    }
}

/// Which of two disagreeing files is corrupt: the bundle when the tile
/// agrees with the tree above (`tile_agrees`), else the tile.
fn blame(source: &LogSource, check: &BundleCheck, position: usize, tile_agrees: bool) -> Error {
    let tile = check.bundle.tile();
    if tile_agrees {
        Error::EntryHashMismatch {
            path: bundle_location(source, check.bundle),
            index: check.bundle.first_entry() + position as u64,
            computed: hex::encode(check.leaves[position]),
            tile: tile_location(source, tile),
            expected: hex::encode(check.stored[position]),
        }
    } else {
        Error::TileHashMismatch {
            path: tile_location(source, tile),
            position,
            what: "entry",
            index: check.bundle.first_entry() + position as u64,
            expected: hex::encode(check.leaves[position]),
            found: hex::encode(check.stored[position]),
        }
    }
}

/// Resolves a mismatch in a full level-0 tile against its parent's hash.
async fn blame_full(source: &LogSource, size: u64, check: &BundleCheck, position: usize) -> Error {
    let index = check.bundle.index;
    let parent_hash = async {
        let width = tile_width(size, 1, index >> 8)?;
        let parent = TileId {
            level: 1,
            index: index >> 8,
            width,
        };
        let bytes = source.fetch_tile(parent).await.ok()?;
        parse_hash_tile(parent, &bytes)
            .ok()?
            .get(partial_pos(index))
            .copied()
    }
    .await;
    let tile_agrees = parent_hash.is_some_and(|p| p == perfect_root(&check.stored));
    blame(source, check, position, tile_agrees)
}

fn partial_pos(index: u64) -> usize {
    usize::from(index.to_le_bytes()[0])
}

/// Compares a fetched upper-level tile with the hashes recomputed from the
/// level below.
async fn check_upper_tile(source: &LogSource, tile: TileId, recomputed: &[Hash]) -> Result<u64> {
    let bytes = source.fetch_tile(tile).await?;
    let stored = parse_hash_tile(tile, &bytes).map_err(|_| {
        Error::Tlog(islet_tlog::Error::TileLength {
            path: tile_location(source, tile),
            expected: tile.byte_len(),
            found: bytes.len(),
        })
    })?;
    if let Some(position) = (0..stored.len()).find(|&i| stored[i] != recomputed[i]) {
        return Err(Error::TileHashMismatch {
            path: tile_location(source, tile),
            position,
            what: "tile",
            index: tile.index * u64::from(TILE_WIDTH) + position as u64,
            expected: hex::encode(recomputed[position]),
            found: hex::encode(stored[position]),
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
                computed: hex::encode(EMPTY_ROOT),
                signed: hex::encode(cp.root),
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
    let mut checks = bundles::level0_checks(source, level0, opts.concurrency);
    let mut partial_mismatch: Option<(BundleCheck, usize)> = None;
    while let Some(check) = checks.next().await {
        let check = check?;
        report.bundles += 1;
        report.tiles += 1;
        report.entry_bytes += check.entry_bytes;
        report.bytes_read += check.bytes_read;
        bar.inc(check.entries);
        if check.bundle.width < TILE_WIDTH {
            // The partial tile feeds only the root: checked below.
            if let Some(position) = check.mismatch {
                partial_mismatch = Some((check, position));
            } else {
                level0_partial = check.leaves;
            }
            continue;
        }
        // A full bundle has a root exactly when its tile agrees.
        let Some(root) = check.root else {
            let position = check.mismatch.unwrap_or_default();
            return Err(blame_full(source, cp.size, &check, position).await);
        };
        upper.push(root, &mut |t, hashes| {
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
    let mut upper_rows = Vec::new();
    for (t, hashes) in upper.partial_tiles() {
        let level = usize::from(t.level) + 1;
        upper_rows.resize(level, Vec::new());
        upper_rows.push(hashes.to_vec());
    }
    let root_with = |level0: &[Hash]| {
        let mut rows = upper_rows.clone();
        if rows.is_empty() {
            rows.push(Vec::new());
        }
        rows[0] = level0.to_vec();
        root_from_partial_tiles(cp.size, &rows)
    };
    if let Some((check, position)) = partial_mismatch {
        // No parent for a partial tile: the signed root decides.
        let tile_agrees = root_with(&check.stored).is_ok_and(|r| r == cp.root);
        return Err(blame(source, &check, position, tile_agrees));
    }
    for (t, hashes) in upper.partial_tiles() {
        let tile = TileId {
            level: t.level + 1,
            ..t
        };
        report.bytes_read += check_upper_tile(source, tile, hashes).await?;
        report.tiles += 1;
    }
    bar.finish_and_clear();
    let computed = root_with(&level0_partial)?;
    if computed != cp.root {
        return Err(Error::RootMismatch {
            size: cp.size,
            computed: hex::encode(computed),
            signed: hex::encode(cp.root),
        });
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
