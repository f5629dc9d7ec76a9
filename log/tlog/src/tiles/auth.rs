//! Authenticated reads: stored hashes out of tiles, each tile trusted only
//! once it is authenticated against a verified tree head.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{
    TileId, hash_from_tile, parse_hash_tile, partial_tiles, perfect_root, root_from_partial_tiles,
    tile_for_stored_hash, tile_width,
};
use crate::error::{Error, Result};
use crate::merkle::{Hash, HashReader};

/// Fetches tiles by id (from disk, HTTP, a database).
pub trait TileFetcher {
    /// Returns the bytes of each tile, in order. A fetcher may serve a
    /// partial tile from the prefix of the full one.
    ///
    /// # Errors
    /// Whatever the source reports.
    fn fetch_tiles(&self, tiles: &[TileId]) -> Result<Vec<Vec<u8>>>;
}

/// Reads stored hashes out of tiles, trusting a tile only after it has been
/// authenticated against a verified tree head (x/mod `TileHashReader`):
/// right-edge tiles by recomputing the root, every other tile by its hash in
/// the (authenticated) parent tile.
pub struct TileHashReader<'a> {
    size: u64,
    root: Hash,
    fetcher: &'a dyn TileFetcher,
    authenticated: Mutex<BTreeMap<TileId, Vec<Hash>>>,
}

impl<'a> TileHashReader<'a> {
    /// A reader for the tree `(size, root)`, which the caller has verified
    /// (for example from a signed checkpoint).
    pub fn new(size: u64, root: Hash, fetcher: &'a dyn TileFetcher) -> Self {
        Self {
            size,
            root,
            fetcher,
            authenticated: Mutex::new(BTreeMap::new()),
        }
    }

    fn fetch_parsed(&self, tiles: &[TileId]) -> Result<Vec<Vec<Hash>>> {
        let data = self.fetcher.fetch_tiles(tiles)?;
        if data.len() != tiles.len() {
            return Err(Error::MissingTile {
                path: tiles
                    .get(data.len())
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            });
        }
        tiles
            .iter()
            .zip(&data)
            .map(|(t, d)| parse_hash_tile(*t, d))
            .collect()
    }

    /// Authenticates the partial tiles against the root.
    fn authenticate_right_edge(&self, cache: &mut BTreeMap<TileId, Vec<Hash>>) -> Result<()> {
        let edge = partial_tiles(self.size);
        if edge.iter().all(|t| cache.contains_key(t)) {
            return Ok(());
        }
        let hashes = self.fetch_parsed(&edge)?;
        let top = edge.last().map_or(0, |t| usize::from(t.level) + 1);
        let mut rows = vec![Vec::new(); top];
        for (t, h) in edge.iter().zip(&hashes) {
            rows[usize::from(t.level)] = h.clone();
        }
        let computed = root_from_partial_tiles(self.size, &rows)?;
        if computed != self.root {
            return Err(Error::TileNotAuthenticated {
                path: edge
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                reason: "partial tiles do not hash to the trusted root".into(),
            });
        }
        cache.extend(edge.into_iter().zip(hashes));
        Ok(())
    }

    /// Authenticates a full tile by walking up to an authenticated ancestor.
    fn authenticate(&self, tile: TileId, cache: &mut BTreeMap<TileId, Vec<Hash>>) -> Result<()> {
        // Collect the chain of unauthenticated tiles up to a cached one.
        let mut chain = vec![tile];
        loop {
            let child = *chain.last().unwrap_or(&tile);
            if cache.contains_key(&child) {
                chain.pop();
                break;
            }
            let parent_level = child.level + 1;
            let parent_index = child.index >> 8;
            let width = tile_width(self.size, parent_level, parent_index).ok_or_else(|| {
                Error::TileNotAuthenticated {
                    path: child.to_string(),
                    reason: "tile has no parent in this tree".into(),
                }
            })?;
            chain.push(TileId {
                level: parent_level,
                index: parent_index,
                width,
            });
        }
        let fetched = self.fetch_parsed(&chain)?;
        // Check from the top down: each tile against its parent.
        for i in (0..chain.len()).rev() {
            let child = chain[i];
            if !child.is_full() {
                return Err(Error::TileNotAuthenticated {
                    path: child.to_string(),
                    reason: "a partial tile that is not on the right edge".into(),
                });
            }
            let parent = TileId {
                level: child.level + 1,
                index: child.index >> 8,
                width: tile_width(self.size, child.level + 1, child.index >> 8).unwrap_or(0),
            };
            let expected = cache
                .get(&parent)
                .and_then(|h| h.get((child.index % 256) as usize))
                .copied()
                .ok_or_else(|| Error::TileNotAuthenticated {
                    path: child.to_string(),
                    reason: format!("parent {parent} does not cover it"),
                })?;
            if perfect_root(&fetched[i]) != expected {
                return Err(Error::TileNotAuthenticated {
                    path: child.to_string(),
                    reason: format!("does not hash to its entry in {parent}"),
                });
            }
            cache.insert(child, fetched[i].clone());
        }
        Ok(())
    }
}

impl HashReader for TileHashReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>> {
        let mut cache = self
            .authenticated
            .lock()
            .map_err(|_| Error::MissingHash { index: 0 })?;
        self.authenticate_right_edge(&mut cache)?;
        let located: Vec<(TileId, usize, usize)> = indexes
            .iter()
            .map(|&i| tile_for_stored_hash(i, self.size))
            .collect::<Result<_>>()?;
        let needed: BTreeSet<TileId> = located.iter().map(|(t, _, _)| *t).collect();
        for tile in needed {
            if !cache.contains_key(&tile) {
                self.authenticate(tile, &mut cache)?;
            }
        }
        Ok(located
            .iter()
            .map(|(t, from, to)| hash_from_tile(&cache[t], *from, *to))
            .collect())
    }
}
