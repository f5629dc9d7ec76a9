//! Growing a log entry by entry: the entry bundles and hash tiles that
//! appending produces, with bounded memory (one bundle and one row of at
//! most 256 hashes per level).
//!
//! The sequencer, the tile-directory writer and snapshot import all grow
//! logs through this one type, so a tile or bundle means the same bytes
//! everywhere.

use crate::error::{Error, Result};
use crate::merkle::{Hash, leaf_hash};
use crate::tiles::{
    BundleId, TILE_WIDTH, TileBuilder, TileId, for_each_bundle_entry, push_bundle_entry,
};

/// A tile or bundle that became full while growing.
#[derive(Debug, Clone, Copy)]
pub enum Grown<'a> {
    /// A full hash tile and its hashes.
    Tile(TileId, &'a [Hash]),
    /// A full entry bundle and its bytes.
    Bundle(BundleId, &'a [u8]),
}

/// The right edge of a log: its partial tiles and partial bundle.
#[derive(Debug)]
pub struct Edge<'a> {
    /// Partial hash tiles, lowest level first.
    pub tiles: Vec<(TileId, &'a [Hash])>,
    /// The partial entry bundle, when the size is not a multiple of 256.
    pub bundle: Option<(BundleId, &'a [u8])>,
}

/// A log being grown.
#[derive(Debug, Clone, Default)]
pub struct LogGrower {
    tiles: TileBuilder,
    bundle: Vec<u8>,
    bundle_entries: u16,
}

impl LogGrower {
    /// A grower for an empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes on a log of `size` entries from its partial tiles (`rows` as
    /// [`TileBuilder::resume`] takes them) and its partial bundle (empty
    /// when `size` is a multiple of 256).
    ///
    /// # Errors
    /// [`Error::TileLength`] for rows of the wrong width;
    /// [`Error::BundleMalformed`] for a bundle that does not hold exactly
    /// the entries past the last full bundle.
    pub fn resume(size: u64, rows: Vec<Vec<Hash>>, bundle: Vec<u8>) -> Result<Self> {
        let tiles = TileBuilder::resume(size, rows)?;
        let expected = u16::try_from(size % u64::from(TILE_WIDTH)).unwrap_or(0);
        let id = BundleId {
            index: size / u64::from(TILE_WIDTH),
            width: expected.max(1),
        };
        let mut count = 0u16;
        if expected > 0 {
            for_each_bundle_entry(id, &bundle, |_| count += 1)?;
        }
        if count != expected || (expected == 0 && !bundle.is_empty()) {
            return Err(Error::BundleMalformed {
                path: id.to_string(),
                reason: format!("holds {count} entries where the log has {expected}"),
            });
        }
        Ok(Self {
            tiles,
            bundle,
            bundle_entries: expected,
        })
    }

    /// Entries so far.
    pub fn size(&self) -> u64 {
        self.tiles.size()
    }

    /// The root of the log so far.
    pub fn root(&self) -> Hash {
        self.tiles.root()
    }

    /// Appends one entry; calls `on_full` with each tile and bundle it
    /// completes (tiles lowest level first, then the bundle).
    ///
    /// # Errors
    /// [`Error::EntryTooLarge`] for an entry over 65,535 bytes (nothing is
    /// appended then).
    pub fn push(&mut self, entry: &[u8], on_full: &mut dyn FnMut(Grown<'_>)) -> Result<()> {
        self.push_hashed(entry, leaf_hash(entry), on_full)
    }

    /// [`LogGrower::push`] with the entry's leaf hash already computed (for
    /// callers that hash on other threads). The hash is trusted.
    ///
    /// # Errors
    /// As [`LogGrower::push`].
    pub fn push_hashed(
        &mut self,
        entry: &[u8],
        leaf: Hash,
        on_full: &mut dyn FnMut(Grown<'_>),
    ) -> Result<()> {
        push_bundle_entry(&mut self.bundle, entry)?;
        self.bundle_entries += 1;
        self.tiles
            .push(leaf, &mut |tile, hashes| on_full(Grown::Tile(tile, hashes)));
        if self.bundle_entries == TILE_WIDTH {
            let id = BundleId {
                index: (self.size() - 1) / u64::from(TILE_WIDTH),
                width: TILE_WIDTH,
            };
            on_full(Grown::Bundle(id, &self.bundle));
            self.bundle.clear();
            self.bundle_entries = 0;
        }
        Ok(())
    }

    /// Appends a whole entry bundle of 256 entries at a bundle boundary,
    /// hashing its entries into the tiles without copying its bytes: the
    /// caller keeps `data`, which is exactly the bundle this grower would
    /// have built. Calls `on_full` with each tile it completes (no
    /// [`Grown::Bundle`]).
    ///
    /// # Errors
    /// [`Error::BundleMalformed`] when `data` is not 256 well-formed
    /// entries or the size is not a multiple of 256 (nothing is appended
    /// then).
    pub fn push_full_bundle(
        &mut self,
        data: &[u8],
        on_full: &mut dyn FnMut(Grown<'_>),
    ) -> Result<BundleId> {
        if self.bundle_entries != 0 {
            return Err(Error::BundleMalformed {
                path: format!("tile/entries at size {}", self.size()),
                reason: "a full bundle starts only where the previous one ended".into(),
            });
        }
        let id = BundleId {
            index: self.size() / u64::from(TILE_WIDTH),
            width: TILE_WIDTH,
        };
        let mut leaves = Vec::with_capacity(usize::from(TILE_WIDTH));
        for_each_bundle_entry(id, data, |e| leaves.push(leaf_hash(e)))?;
        for leaf in leaves {
            self.tiles
                .push(leaf, &mut |tile, hashes| on_full(Grown::Tile(tile, hashes)));
        }
        Ok(id)
    }

    /// The partial tiles and bundle of the current size.
    pub fn edge(&self) -> Edge<'_> {
        let bundle = (self.bundle_entries > 0).then(|| {
            (
                BundleId {
                    index: self.size() / u64::from(TILE_WIDTH),
                    width: self.bundle_entries,
                },
                self.bundle.as_slice(),
            )
        });
        Edge {
            tiles: self.tiles.partial_tiles(),
            bundle,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tiles::{encode_hash_tile, partial_tiles};

    fn entry(i: u64) -> Vec<u8> {
        format!("entry {i}").into_bytes()
    }

    /// Grows `n` entries; returns every full tile and bundle and the grower.
    fn grow(n: u64) -> (Vec<(String, Vec<u8>)>, LogGrower) {
        let mut g = LogGrower::new();
        let mut out = Vec::new();
        for i in 0..n {
            g.push(&entry(i), &mut |grown| match grown {
                Grown::Tile(t, h) => out.push((t.to_string(), encode_hash_tile(h))),
                Grown::Bundle(b, d) => out.push((b.to_string(), d.to_vec())),
            })
            .unwrap();
        }
        (out, g)
    }

    /// Rows for [`LogGrower::resume`], indexed by level.
    fn rows_of(edge: &Edge<'_>) -> Vec<Vec<Hash>> {
        let mut rows: Vec<Vec<Hash>> = Vec::new();
        for (t, h) in &edge.tiles {
            rows.resize(usize::from(t.level), Vec::new());
            rows.push(h.to_vec());
        }
        rows
    }

    #[test]
    fn a_resumed_grower_emits_what_an_uninterrupted_one_does() {
        for split in [0u64, 1, 255, 256, 257, 300, 511, 512, 65_535, 65_536] {
            let total = 66_000;
            let (whole, whole_g) = grow(total);
            let (mut parts, first) = grow(split);
            let edge = first.edge();
            let rows = rows_of(&edge);
            assert_eq!(
                edge.tiles.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
                partial_tiles(split)
            );
            let bundle = edge.bundle.map(|(_, d)| d.to_vec()).unwrap_or_default();
            let mut g = LogGrower::resume(split, rows, bundle).unwrap();
            for i in split..total {
                g.push(&entry(i), &mut |grown| match grown {
                    Grown::Tile(t, h) => parts.push((t.to_string(), encode_hash_tile(h))),
                    Grown::Bundle(b, d) => parts.push((b.to_string(), d.to_vec())),
                })
                .unwrap();
            }
            assert_eq!(g.root(), whole_g.root(), "split at {split}");
            assert_eq!(parts, whole, "split at {split}");
        }
    }

    #[test]
    fn resume_refuses_a_bundle_that_does_not_match_the_size() {
        let (_, g) = grow(300);
        let edge = g.edge();
        let rows = rows_of(&edge);
        let (_, bundle) = edge.bundle.unwrap();
        // 44 entries in the bundle; claim 43 or 45 by cutting or adding one.
        let mut short = bundle.to_vec();
        short.truncate(short.len() - 2 - entry(299).len());
        assert!(LogGrower::resume(300, rows.clone(), short).is_err());
        let mut long = bundle.to_vec();
        push_bundle_entry(&mut long, b"extra").unwrap();
        assert!(LogGrower::resume(300, rows.clone(), long).is_err());
        assert!(LogGrower::resume(300, rows, bundle.to_vec()).is_ok());
        // At a multiple of 256 there is no partial bundle.
        let (_, g) = grow(256);
        let rows = rows_of(&g.edge());
        assert!(LogGrower::resume(256, rows.clone(), Vec::new()).is_ok());
        let mut one = Vec::new();
        push_bundle_entry(&mut one, b"x").unwrap();
        assert!(LogGrower::resume(256, rows, one).is_err());
    }
}
