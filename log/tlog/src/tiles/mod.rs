//! C2SP tlog-tiles: resource paths, hash-tile and entry-bundle codecs, the
//! tiles a tree size needs, and reading authenticated hashes out of tiles
//! (`../shared/specs/c2sp.md` §3–4).
//!
//! No I/O: fetching is behind [`TileFetcher`].

use std::fmt;

use crate::error::{Error, Result};
use crate::merkle::{HASH_SIZE, Hash, node_hash, perfect_root, split_stored_hash_index};

/// Tile height: each tile holds 8 levels of the tree.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile (and entries in a full bundle).
pub const TILE_WIDTH: u16 = 256;
/// Bytes in a full hash tile.
pub const FULL_TILE_BYTES: usize = TILE_WIDTH as usize * HASH_SIZE;
/// Highest level a tile path may name (the spec's bound; with 64-bit tree
/// sizes only levels 0..=7 ever hold hashes).
pub const MAX_TILE_LEVEL: u8 = 63;
/// Largest entry a bundle can hold: its length prefix is a big-endian u16.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;
/// Index groups in a tile path. Seven base-1000 groups cover every u64.
const MAX_INDEX_GROUPS: usize = 7;
/// Longest tile path we will even look at:
/// `tile/entries/` + 7 groups of `x123/` + `.p/255`.
pub const MAX_TILE_PATH_LEN: usize = 64;

/// A hash tile: `tile/<level>/<index>[.p/<width>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Tile level (level 0 holds leaf hashes).
    pub level: u8,
    /// Tile index within its level.
    pub index: u64,
    /// Number of hashes, 1..=256 (256 is a full tile).
    pub width: u16,
}

/// An entry bundle: `tile/entries/<index>[.p/<width>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BundleId {
    /// Bundle index (the same as the level-0 tile index).
    pub index: u64,
    /// Number of entries, 1..=256 (256 is a full bundle).
    pub width: u16,
}

/// A parsed tlog-tiles resource path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TilePath {
    /// A hash tile.
    Hash(TileId),
    /// An entry bundle.
    Entries(BundleId),
}

fn write_index(f: &mut fmt::Formatter<'_>, index: u64, width: u16) -> fmt::Result {
    let mut groups = Vec::with_capacity(MAX_INDEX_GROUPS);
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            write!(f, "x{g:03}/")?;
        } else {
            write!(f, "{g:03}")?;
        }
    }
    if width < TILE_WIDTH {
        write!(f, ".p/{width}")?;
    }
    Ok(())
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tile/{}/", self.level)?;
        write_index(f, self.index, self.width)
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tile/entries/")?;
        write_index(f, self.index, self.width)
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TilePath::Hash(t) => t.fmt(f),
            TilePath::Entries(b) => b.fmt(f),
        }
    }
}

impl TileId {
    /// Bytes of this tile: `32 * width`.
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }

    /// True for a full (256-wide) tile.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The same tile at full width.
    pub fn full(&self) -> TileId {
        TileId {
            width: TILE_WIDTH,
            ..*self
        }
    }

    /// The level-0 tile's bundle (same index and width).
    pub fn bundle(&self) -> BundleId {
        BundleId {
            index: self.index,
            width: self.width,
        }
    }
}

impl BundleId {
    /// The level-0 hash tile holding these entries' leaf hashes.
    pub fn tile(&self) -> TileId {
        TileId {
            level: 0,
            index: self.index,
            width: self.width,
        }
    }

    /// Index of the first entry in the bundle.
    pub fn first_entry(&self) -> u64 {
        self.index * u64::from(TILE_WIDTH)
    }
}

fn path_err(path: &str, reason: &'static str) -> Error {
    let mut shown: String = path.chars().take(MAX_TILE_PATH_LEN + 8).collect();
    if shown.len() < path.len() {
        shown.push('…');
    }
    Error::InvalidTilePath {
        path: shown,
        reason,
    }
}

fn parse_3_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.bytes().fold(0, |n, b| n * 10 + u64::from(b - b'0')))
}

/// Parses a canonical decimal with no sign and no leading zeros.
fn parse_canonical_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse::<u64>().ok().filter(|&n| n <= max)
}

impl TilePath {
    /// Parses a tlog-tiles path relative to the log prefix, accepting only
    /// the canonical form (what [`fmt::Display`] writes).
    ///
    /// # Errors
    /// [`Error::InvalidTilePath`] naming the broken rule.
    pub fn parse(path: &str) -> Result<TilePath> {
        if path.len() > MAX_TILE_PATH_LEN {
            return Err(path_err(path, "too long"));
        }
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| path_err(path, "does not start with tile/"))?;
        let (kind, rest) = rest
            .split_once('/')
            .ok_or_else(|| path_err(path, "missing index"))?;
        let level = if kind == "entries" {
            None
        } else {
            let level =
                parse_canonical_decimal(kind, u64::from(MAX_TILE_LEVEL)).ok_or_else(|| {
                    path_err(path, "level is not a decimal 0..=63 without leading zeros")
                })?;
            Some(crate::merkle::level_u8(level))
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((index_part, w)) => {
                let w = parse_canonical_decimal(w, u64::from(TILE_WIDTH) - 1)
                    .filter(|&w| w >= 1)
                    .and_then(|w| u16::try_from(w).ok())
                    .ok_or_else(|| {
                        path_err(
                            path,
                            "partial width is not a decimal 1..=255 without leading zeros",
                        )
                    })?;
                (index_part, w)
            }
            None => (rest, TILE_WIDTH),
        };
        // Allocation-free: servers parse one path per tile request.
        let mut groups = [""; MAX_INDEX_GROUPS];
        let mut count = 0;
        for g in index_part.split('/') {
            if count == MAX_INDEX_GROUPS {
                return Err(path_err(path, "index has too many groups"));
            }
            groups[count] = g;
            count += 1;
        }
        let (last, leading) = groups[..count]
            .split_last()
            .ok_or_else(|| path_err(path, "missing index"))?;
        // Canonical form only: the most significant group of a multi-group
        // index is never zero (a leading x000/ group would re-encode
        // shorter), which is all that separates a parsed path from the one
        // Display writes.
        if leading.first() == Some(&"x000") {
            return Err(path_err(path, "not in canonical form (leading x000 group)"));
        }
        let mut index: u64 = 0;
        for g in leading {
            let digits = g
                .strip_prefix('x')
                .ok_or_else(|| path_err(path, "non-final index group lacks the x prefix"))?;
            let v = parse_3_digits(digits)
                .ok_or_else(|| path_err(path, "index group is not x + 3 digits"))?;
            index = index
                .checked_mul(1000)
                .and_then(|i| i.checked_add(v))
                .ok_or_else(|| path_err(path, "index overflows"))?;
        }
        let v = parse_3_digits(last)
            .ok_or_else(|| path_err(path, "final index group is not exactly 3 digits"))?;
        index = index
            .checked_mul(1000)
            .and_then(|i| i.checked_add(v))
            .ok_or_else(|| path_err(path, "index overflows"))?;
        let parsed = match level {
            Some(level) => TilePath::Hash(TileId {
                level,
                index,
                width,
            }),
            None => TilePath::Entries(BundleId { index, width }),
        };
        debug_assert_eq!(parsed.to_string(), path);
        Ok(parsed)
    }
}

// ---------------------------------------------------------------------------
// Codecs
// ---------------------------------------------------------------------------

/// Splits a hash tile into its hashes, checking the length against the width.
///
/// # Errors
/// [`Error::TileLength`] when `data` is not `32 * width` bytes.
pub fn parse_hash_tile(tile: TileId, data: &[u8]) -> Result<Vec<Hash>> {
    if data.len() != tile.byte_len() {
        return Err(Error::TileLength {
            path: tile.to_string(),
            expected: tile.byte_len(),
            found: data.len(),
        });
    }
    Ok(data
        .chunks_exact(HASH_SIZE)
        .map(|c| {
            let mut h = [0u8; HASH_SIZE];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Concatenates hashes into tile bytes.
pub fn encode_hash_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// Iterates over the entries of an entry bundle without copying.
///
/// # Errors
/// [`Error::BundleMalformed`] for a dangling length prefix, a truncated
/// entry, or an entry count other than the bundle's width.
pub fn parse_bundle(bundle: BundleId, data: &[u8]) -> Result<Vec<&[u8]>> {
    let mut entries = Vec::with_capacity(usize::from(bundle.width));
    for_each_bundle_entry(bundle, data, |e| entries.push(e))?;
    Ok(entries)
}

/// Calls `f` on each entry of a bundle, checking its structure as
/// [`parse_bundle`] does, without allocating.
///
/// # Errors
/// As [`parse_bundle`].
pub fn for_each_bundle_entry<'a>(
    bundle: BundleId,
    data: &'a [u8],
    mut f: impl FnMut(&'a [u8]),
) -> Result<()> {
    let malformed = |reason: String| Error::BundleMalformed {
        path: bundle.to_string(),
        reason,
    };
    let mut rest = data;
    let mut count = 0u16;
    while !rest.is_empty() {
        if count == bundle.width {
            return Err(malformed(format!(
                "{} trailing bytes after the {} expected entries",
                rest.len(),
                bundle.width
            )));
        }
        let [hi, lo, tail @ ..] = rest else {
            return Err(malformed(format!(
                "dangling length prefix after entry {count}"
            )));
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if tail.len() < len {
            return Err(malformed(format!(
                "entry {count} declares {len} bytes but only {} remain",
                tail.len()
            )));
        }
        let (entry, after) = tail.split_at(len);
        f(entry);
        rest = after;
        count += 1;
    }
    if count != bundle.width {
        return Err(malformed(format!(
            "{count} entries, expected {}",
            bundle.width
        )));
    }
    Ok(())
}

/// Length in bytes of the first `width` entries of a bundle whose stored
/// bytes may hold more (a partial bundle is a prefix of any later one).
///
/// # Errors
/// [`Error::BundleMalformed`] when `data` has fewer than `width` whole
/// entries.
pub fn bundle_prefix_len(bundle: BundleId, data: &[u8]) -> Result<usize> {
    let mut end = 0usize;
    for count in 0..bundle.width {
        let rest = &data[end..];
        let [hi, lo, tail @ ..] = rest else {
            return Err(Error::BundleMalformed {
                path: bundle.to_string(),
                reason: format!("{count} entries, expected at least {}", bundle.width),
            });
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if tail.len() < len {
            return Err(Error::BundleMalformed {
                path: bundle.to_string(),
                reason: format!(
                    "entry {count} declares {len} bytes but only {} remain",
                    tail.len()
                ),
            });
        }
        end += 2 + len;
    }
    Ok(end)
}

/// Appends one entry, with its u16 length prefix, to a bundle being built.
///
/// # Errors
/// [`Error::EntryTooLarge`] for an entry over [`MAX_ENTRY_SIZE`].
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<()> {
    let len = u16::try_from(entry.len()).map_err(|_| Error::EntryTooLarge {
        len: entry.len(),
        max: MAX_ENTRY_SIZE,
    })?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

// ---------------------------------------------------------------------------
// Which tiles a size needs
// ---------------------------------------------------------------------------

/// Hashes at level `8 * level` in a tree of `size` leaves (`size >> 8L`).
fn level_size(size: u64, level: u8) -> u64 {
    let shift = u32::from(level) * TILE_HEIGHT;
    if shift >= 64 { 0 } else { size >> shift }
}

/// `m mod 256`: the width of the partial tile of a level holding `m` hashes.
fn partial_width(m: u64) -> u16 {
    u16::from(m.to_le_bytes()[0])
}

/// Width of tile `(level, index)` in a tree of `size` leaves, or `None` when
/// the tree has no such tile.
pub fn tile_width(size: u64, level: u8, index: u64) -> Option<u16> {
    let m = level_size(size, level);
    let full = m >> 8;
    if index < full {
        Some(TILE_WIDTH)
    } else if index == full && partial_width(m) != 0 {
        Some(partial_width(m))
    } else {
        None
    }
}

/// Every hash tile of a tree of `size` leaves, level by level, full tiles
/// then the partial one. Entry bundles are the level-0 tiles'
/// [`TileId::bundle`].
pub fn tiles_for_size(size: u64) -> impl Iterator<Item = TileId> {
    (0..=7u8)
        .take_while(move |&l| level_size(size, l) > 0)
        .flat_map(move |level| {
            let m = level_size(size, level);
            let full = m >> 8;
            let partial = (partial_width(m) != 0).then_some(TileId {
                level,
                index: full,
                width: partial_width(m),
            });
            (0..full)
                .map(move |index| TileId {
                    level,
                    index,
                    width: TILE_WIDTH,
                })
                .chain(partial)
        })
}

/// The partial tiles of `size`: exactly the tiles needed to recompute the
/// root, lowest level first.
pub fn partial_tiles(size: u64) -> Vec<TileId> {
    (0..=7u8)
        .filter_map(|level| {
            let m = level_size(size, level);
            (partial_width(m) != 0).then_some(TileId {
                level,
                index: m >> 8,
                width: partial_width(m),
            })
        })
        .collect()
}

/// The tiles that are new or changed when a tree grows from `old` to `new`
/// leaves (x/mod `NewTiles`), lowest level first.
pub fn new_tiles(old: u64, new: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    for level in 0..=7u8 {
        let (o, n) = (level_size(old, level), level_size(new, level));
        if n == 0 {
            break;
        }
        if o == n {
            continue;
        }
        for index in (o >> 8)..(n >> 8) {
            out.push(TileId {
                level,
                index,
                width: TILE_WIDTH,
            });
        }
        if partial_width(n) != 0 {
            out.push(TileId {
                level,
                index: n >> 8,
                width: partial_width(n),
            });
        }
    }
    out
}

/// Where a stored hash lives: its tile (at the width the tree `size`
/// implies) and the range `[from, to)` of tile positions it reduces.
///
/// # Errors
/// [`Error::MissingHash`] when the node is not complete in a tree of `size`.
pub fn tile_for_stored_hash(stored_index: u64, size: u64) -> Result<(TileId, usize, usize)> {
    let (level, n) = split_stored_hash_index(stored_index);
    let tile_level = crate::merkle::level_u8(u32::from(level) / TILE_HEIGHT);
    let r = u32::from(level) % TILE_HEIGHT;
    let first = n << r; // index of the first level-8L hash the node covers
    let tile_index = first >> 8;
    let from = usize::from(partial_width(first));
    let to = from + (1usize << r);
    let width = tile_width(size, tile_level, tile_index)
        .filter(|&w| usize::from(w) >= to)
        .ok_or(Error::MissingHash {
            index: stored_index,
        })?;
    Ok((
        TileId {
            level: tile_level,
            index: tile_index,
            width,
        },
        from,
        to,
    ))
}

/// The hash of a node out of its tile's hashes: the stored hash itself at
/// in-tile level 0, the perfect reduction of `hashes[from..to]` above.
pub fn hash_from_tile(hashes: &[Hash], from: usize, to: usize) -> Hash {
    if to - from == 1 {
        hashes[from]
    } else {
        perfect_root(&hashes[from..to])
    }
}

/// The root of a tree of `size` leaves from its partial tiles' hashes.
///
/// `rows[L]` holds the hashes of the partial tile at level L (empty when the
/// level has none), as [`partial_tiles`] lists them.
///
/// # Errors
/// [`Error::TileLength`] when a row does not have the width `size` implies.
pub fn root_from_partial_tiles(size: u64, rows: &[Vec<Hash>]) -> Result<Hash> {
    for (level, row) in rows.iter().enumerate() {
        let want = usize::from(partial_width(level_size(
            size,
            crate::merkle::level_u8(level as u64),
        )));
        if row.len() != want {
            return Err(Error::TileLength {
                path: format!("partial tile at level {level}"),
                expected: want * HASH_SIZE,
                found: row.len() * HASH_SIZE,
            });
        }
    }
    let mut nodes: Vec<Hash> = Vec::new();
    // Right-edge perfect nodes, largest first: one per set bit of size.
    for b in (0..64u32).rev().filter(|b| size >> b & 1 == 1) {
        let tile_level = (b / TILE_HEIGHT) as usize;
        let r = b % TILE_HEIGHT;
        let node = (size >> b) - 1;
        let first = node << r;
        let from = usize::from(partial_width(first));
        let to = from + (1usize << r);
        let row = rows.get(tile_level).ok_or_else(|| Error::TileLength {
            path: format!("partial tile at level {tile_level}"),
            expected: to * HASH_SIZE,
            found: 0,
        })?;
        nodes.push(hash_from_tile(row, from, to));
    }
    let mut iter = nodes.iter().rev();
    let Some(last) = iter.next() else {
        return Ok(crate::merkle::EMPTY_ROOT);
    };
    Ok(iter.fold(*last, |acc, h| node_hash(h, &acc)))
}

// ---------------------------------------------------------------------------
// Building tiles from leaves
// ---------------------------------------------------------------------------

/// Builds hash tiles from a stream of leaf hashes, with bounded memory (one
/// row of at most 256 hashes per level).
#[derive(Debug, Clone, Default)]
pub struct TileBuilder {
    size: u64,
    rows: Vec<Vec<Hash>>,
    /// For each row, the roots of the perfect subtrees its hashes make up,
    /// largest first (one per set bit of the row's length): the tree's
    /// right edge, kept as the leaves arrive (one node hash per hash
    /// pushed, as hashing each full tile cost), so that [`TileBuilder::root`]
    /// hashes one node per set bit of the size instead of the partial tiles
    /// again (that was a tenth of a write's instructions in small batches).
    edges: Vec<Vec<Hash>>,
}

/// Pushes `hash`, the row's hash number `len_after`, onto the row's right
/// edge, merging the perfect subtrees it completes.
fn push_edge(edge: &mut Vec<Hash>, len_after: usize, hash: Hash) {
    edge.push(hash);
    for _ in 0..len_after.trailing_zeros() {
        // A row of `len_after` hashes has one edge node per set bit of its
        // length, so a merge always finds two.
        if let (Some(right), Some(left)) = (edge.pop(), edge.pop()) {
            edge.push(node_hash(&left, &right));
        }
    }
}

impl TileBuilder {
    /// A builder for an empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes building on a tree of `size` leaves from its partial tiles:
    /// `rows[L]` holds the hashes of the partial tile at level L (empty when
    /// the level has none), as [`partial_tiles`] lists them.
    ///
    /// # Errors
    /// [`Error::TileLength`] for rows of the wrong width.
    pub fn resume(size: u64, rows: Vec<Vec<Hash>>) -> Result<Self> {
        root_from_partial_tiles(size, &rows)?;
        let edges = rows
            .iter()
            .map(|row| {
                let mut edge = Vec::new();
                for (i, h) in row.iter().enumerate() {
                    push_edge(&mut edge, i + 1, *h);
                }
                edge
            })
            .collect();
        Ok(Self { size, rows, edges })
    }

    /// Leaves pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; calls `on_full_tile` for each tile it completes
    /// (level 0 first, then any level above that fills up).
    pub fn push(&mut self, leaf: Hash, on_full_tile: &mut dyn FnMut(TileId, &[Hash])) {
        let mut level = 0usize;
        let mut hash = leaf;
        let mut index_at_level = self.size;
        self.size += 1;
        loop {
            if self.rows.len() <= level {
                self.rows.push(Vec::with_capacity(usize::from(TILE_WIDTH)));
                self.edges.push(Vec::new());
            }
            let row = &mut self.rows[level];
            let edge = &mut self.edges[level];
            row.push(hash);
            push_edge(edge, row.len(), hash);
            if row.len() < usize::from(TILE_WIDTH) {
                return;
            }
            let tile = TileId {
                level: crate::merkle::level_u8(level as u64),
                index: index_at_level >> 8,
                width: TILE_WIDTH,
            };
            on_full_tile(tile, row);
            // A full row's edge is one node: the tile's root.
            hash = edge.pop().unwrap_or_else(|| perfect_root(row));
            edge.clear();
            row.clear();
            level += 1;
            index_at_level >>= 8;
        }
    }

    /// The partial tiles of the current size with their hashes, lowest
    /// level first.
    pub fn partial_tiles(&self) -> Vec<(TileId, &[Hash])> {
        partial_tiles(self.size)
            .into_iter()
            .map(|t| (t, self.rows[usize::from(t.level)].as_slice()))
            .collect()
    }

    /// The root of the current tree.
    pub fn root(&self) -> Hash {
        // The edge nodes, smallest first: lowest level first, and within a
        // row the reverse of its largest-first order. The root folds them
        // from the smallest up (RFC 6962's split at the largest power of
        // two, from the right).
        let mut nodes = self.edges.iter().flat_map(|edge| edge.iter().rev());
        let Some(smallest) = nodes.next() else {
            return crate::merkle::EMPTY_ROOT;
        };
        nodes.fold(*smallest, |acc, h| node_hash(h, &acc))
    }
}

pub mod auth;
pub use auth::{TileFetcher, TileHashReader};

#[cfg(test)]
mod tests;
