//! Unit tests of the parent module.

use std::collections::BTreeMap;

use super::*;
use crate::merkle::{MemoryTree, inclusion_proof, leaf_hash};

#[test]
fn spec_example_70000_has_the_listed_partial_tiles() {
    let p: Vec<String> = partial_tiles(70000)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(p, ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]);
}

#[test]
fn tile_builder_root_matches_memory_tree_at_every_size() {
    let mut tree = MemoryTree::new();
    let mut b = TileBuilder::new();
    for i in 0..1100u32 {
        assert_eq!(b.root(), tree.root(), "size {i}");
        let h = leaf_hash(&i.to_be_bytes());
        tree.append_leaf_hash(h);
        b.push(h, &mut |_, _| {});
    }
}

/// A builder resumed from the partial tiles of any size gives the memory
/// tree's root at that size and at every size after it, across the ends
/// of level-0 and level-1 tiles (where its right edge is rebuilt from the
/// rows and where full rows collapse into the level above).
#[test]
fn a_resumed_tile_builder_root_matches_memory_tree() {
    let mut tree = MemoryTree::new();
    let mut whole = TileBuilder::new();
    let mut resumed: Vec<TileBuilder> = Vec::new();
    for i in 0..66_100u32 {
        if matches!(
            i,
            0 | 1 | 255 | 256 | 300 | 65_535 | 65_536 | 65_537 | 65_800
        ) {
            let rows = (0..3u8)
                .map(|level| {
                    whole
                        .partial_tiles()
                        .into_iter()
                        .find(|(t, _)| t.level == level)
                        .map(|(_, h)| h.to_vec())
                        .unwrap_or_default()
                })
                .collect();
            resumed.push(TileBuilder::resume(whole.size(), rows).expect("the rows of a real size"));
        }
        if i % 97 == 0 || (65_530..65_600).contains(&i) || i < 600 {
            for b in &resumed {
                assert_eq!(b.root(), tree.root(), "size {i}");
            }
        }
        let h = leaf_hash(&i.to_be_bytes());
        tree.append_leaf_hash(h);
        whole.push(h, &mut |_, _| {});
        for b in &mut resumed {
            b.push(h, &mut |_, _| {});
        }
    }
}

struct Tiles(BTreeMap<TileId, Vec<u8>>);
impl TileFetcher for Tiles {
    fn fetch_tiles(&self, tiles: &[TileId]) -> Result<Vec<Vec<u8>>> {
        tiles
            .iter()
            .map(|t| {
                self.0.get(t).cloned().ok_or(Error::MissingTile {
                    path: t.to_string(),
                })
            })
            .collect()
    }
}

fn tiles_of(n: u32) -> (MemoryTree, Tiles) {
    let mut tree = MemoryTree::new();
    let mut b = TileBuilder::new();
    let mut map = BTreeMap::new();
    for i in 0..n {
        let h = leaf_hash(&i.to_be_bytes());
        tree.append_leaf_hash(h);
        b.push(h, &mut |t, hs| {
            map.insert(t, encode_hash_tile(hs));
        });
    }
    for (t, hs) in b.partial_tiles() {
        map.insert(t, encode_hash_tile(hs));
    }
    (tree, Tiles(map))
}

#[test]
fn tile_hash_reader_gives_the_same_proofs_as_memory() {
    let (tree, tiles) = tiles_of(70_000);
    let reader = TileHashReader::new(tree.size(), tree.root(), &tiles);
    for index in [0u64, 1, 255, 256, 65_535, 65_536, 69_999] {
        assert_eq!(
            inclusion_proof(index, tree.size(), &reader).ok(),
            inclusion_proof(index, tree.size(), &tree).ok(),
            "index {index}"
        );
    }
}

#[test]
fn tile_hash_reader_rejects_a_tampered_full_tile() {
    let (tree, mut tiles) = tiles_of(70_000);
    let t = TileId {
        level: 0,
        index: 3,
        width: 256,
    };
    if let Some(data) = tiles.0.get_mut(&t) {
        data[100] ^= 1;
    }
    let reader = TileHashReader::new(tree.size(), tree.root(), &tiles);
    let err = inclusion_proof(3 * 256 + 1, tree.size(), &reader);
    assert!(
        matches!(err, Err(Error::TileNotAuthenticated { .. })),
        "{err:?}"
    );
}

#[test]
fn tile_hash_reader_rejects_a_wrong_root() {
    let (tree, tiles) = tiles_of(300);
    let reader = TileHashReader::new(tree.size(), [7; 32], &tiles);
    assert!(matches!(
        inclusion_proof(0, tree.size(), &reader),
        Err(Error::TileNotAuthenticated { .. })
    ));
}
