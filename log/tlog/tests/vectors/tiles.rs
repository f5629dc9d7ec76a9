//! tlog-tiles paths, layout facts, and the 300-entry example log.

use std::collections::BTreeMap;

use islet_tlog::merkle::{
    HashReader, MemoryTree, split_stored_hash_index, stored_hash_index, tree_hash,
};
use islet_tlog::tiles::{
    BundleId, TileId, TilePath, hash_from_tile, new_tiles, parse_hash_tile, partial_tiles,
    tile_for_stored_hash, tiles_for_size,
};
use sha2::{Digest, Sha256};

use crate::common::{hash_b64, load, record, s, u, vectors_dir};

#[test]
fn tile_paths_encode_and_parse_strictly() {
    let dir = vectors_dir(&["c2sp/tlog-tiles-paths.json"]);
    let v = load(&dir, "c2sp/tlog-tiles-paths.json");
    for e in v["encode"].as_array().expect("encode") {
        let width = u(e, "width") as u16;
        let index = u(e, "index");
        let path = match s(e, "kind") {
            "hash" => TilePath::Hash(TileId {
                level: u(e, "level") as u8,
                index,
                width,
            }),
            _ => TilePath::Entries(BundleId { index, width }),
        };
        assert_eq!(path.to_string(), s(e, "path"), "{e}");
        assert_eq!(TilePath::parse(s(e, "path")).expect("parses"), path, "{e}");
    }
    for e in v["parse_valid"].as_array().expect("valid") {
        let p = TilePath::parse(s(e, "path")).unwrap_or_else(|err| panic!("{e}: {err}"));
        assert_eq!(p.to_string(), s(e, "path"));
    }
    let invalid = v["parse_invalid"].as_array().expect("invalid");
    assert_eq!(invalid.len(), 24);
    for e in invalid
        .iter()
        .chain(v["sumdb_format_for_contrast"].as_array().expect("sumdb"))
    {
        assert!(TilePath::parse(s(e, "path")).is_err(), "accepted {e}");
    }
}

#[test]
fn tile_layout_facts_match_for_every_listed_size() {
    let dir = vectors_dir(&["c2sp/tlog-tiles-layout.json"]);
    let v = load(&dir, "c2sp/tlog-tiles-layout.json");
    for case in v["sizes"].as_array().expect("sizes") {
        let size = u(case, "size");
        let partial: Vec<String> = partial_tiles(size)
            .iter()
            .map(ToString::to_string)
            .collect();
        let want: Vec<&str> = case["partial_tiles"]
            .as_array()
            .expect("partials")
            .iter()
            .map(|p| p.as_str().expect("str"))
            .collect();
        assert_eq!(partial, want, "size {size}");
        for level in case["levels"].as_array().expect("levels") {
            let l = u(level, "level") as u8;
            let full = u(level, "full_tiles");
            let width = u(level, "partial_width");
            // Counting tiles is only feasible for small sizes; the formula is
            // checked everywhere through tile_width.
            if full > 0 {
                assert_eq!(
                    islet_tlog::tiles::tile_width(size, l, full - 1),
                    Some(256),
                    "size {size} level {l}"
                );
            }
            assert_eq!(
                islet_tlog::tiles::tile_width(size, l, full).map(u64::from),
                (width > 0).then_some(width),
                "size {size} level {l}"
            );
            if size < 100_000 {
                let count = tiles_for_size(size)
                    .filter(|t| t.level == l && t.width == 256)
                    .count() as u64;
                assert_eq!(count, full, "size {size} level {l}");
            }
        }
        for node in case["root_nodes"].as_array().expect("root nodes") {
            let idx = stored_hash_index(u(node, "level") as u8, u(node, "index"));
            let (tile, from, to) = tile_for_stored_hash(idx, size).expect("node in tree");
            assert_eq!(
                (tile.to_string().as_str(), from as u64, to as u64),
                (s(node, "tile"), u(node, "from"), u(node, "to")),
                "size {size} node {node}"
            );
        }
    }
    for case in v["new_tiles"].as_array().expect("new tiles") {
        let got: Vec<String> = new_tiles(u(case, "old_size"), u(case, "new_size"))
            .iter()
            .map(ToString::to_string)
            .collect();
        let want: Vec<&str> = case["tiles"]
            .as_array()
            .expect("tiles")
            .iter()
            .map(|p| p.as_str().expect("str"))
            .collect();
        assert_eq!(got, want, "{case}");
    }
    for case in v["stored_hash_index"].as_array().expect("stored") {
        let (level, n, i) = (
            u(case, "level") as u8,
            u(case, "index"),
            u(case, "stored_index"),
        );
        assert_eq!(stored_hash_index(level, n), i, "{case}");
        assert_eq!(split_stored_hash_index(i), (level, n), "{case}");
    }
}

#[test]
fn record_tree_proof_nodes_come_from_the_listed_tiles() {
    let dir = vectors_dir(&["c2sp/tlog-tiles-layout.json"]);
    let v = load(&dir, "c2sp/tlog-tiles-layout.json");
    let mut tree = MemoryTree::new();
    let mut tiles: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut builder = islet_tlog::tiles::TileBuilder::new();
    for i in 0..70_000 {
        let h = islet_tlog::merkle::leaf_hash(&record(i));
        tree.append_leaf_hash(h);
        builder.push(h, &mut |t, hs| {
            tiles.insert(t.to_string(), hs.concat());
        });
    }
    for case in v["record_tree_proof_tiles"].as_array().expect("cases") {
        let size = u(case, "size");
        let mut needed = std::collections::BTreeSet::new();
        for node in case["stored_nodes_needed"].as_array().expect("nodes") {
            let idx = stored_hash_index(u(node, "level") as u8, u(node, "index"));
            let (tile, from, to) = tile_for_stored_hash(idx, size).expect("in tree");
            assert_eq!(tile.to_string(), s(node, "tile"), "{node}");
            assert_eq!((from as u64, to as u64), (u(node, "from"), u(node, "to")));
            let want = hash_b64(&node["hash"]);
            assert_eq!(tree.read_hashes(&[idx]).expect("read")[0], want, "{node}");
            // The same hash out of the tile bytes (full tiles from the
            // builder; partial ones are prefixes of the eventual full tile).
            let full_path = tile.full().to_string();
            if let Some(bytes) = tiles.get(&full_path) {
                let hashes = parse_hash_tile(tile.full(), bytes).expect("tile");
                assert_eq!(
                    hash_from_tile(&hashes[..usize::from(tile.width)], from, to),
                    want
                );
            }
            needed.insert(tile.to_string());
        }
        let want: std::collections::BTreeSet<String> = case["tiles_needed"]
            .as_array()
            .expect("tiles")
            .iter()
            .map(|t| t.as_str().expect("str").to_owned())
            .collect();
        assert_eq!(needed, want, "{}", case["proof"]);
        let edge: Vec<String> = partial_tiles(size)
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut want_edge: Vec<String> = case["right_edge_tiles"]
            .as_array()
            .expect("edge")
            .iter()
            .map(|t| t.as_str().expect("str").to_owned())
            .collect();
        want_edge.sort();
        let mut edge_sorted = edge.clone();
        edge_sorted.sort();
        assert_eq!(edge_sorted, want_edge);
        assert_eq!(tree_hash(size, &tree).expect("root").len(), 32);
    }
}

#[test]
fn generated_70000_entry_log_matches_every_resource_digest() {
    let dir = vectors_dir(&["c2sp/tlog-tiles-layout.json"]);
    let v = load(&dir, "c2sp/tlog-tiles-layout.json");
    let want = v["record_tree_70000_resource_sha256"]
        .as_object()
        .expect("digests");
    assert_eq!(want.len(), 551);
    let tmp = tempfile::tempdir().expect("tempdir");
    let signer =
        islet_signer::Ed25519Signer::from_seed("record.example", &[1; 32]).expect("signer");
    islet_reader::tiledir::write_log(
        tmp.path(),
        "record.example",
        &signer,
        (0..70_000).map(record),
    )
    .expect("write");
    for (path, digest) in want {
        let bytes = std::fs::read(tmp.path().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            digest.as_str().expect("hex"),
            "{path}"
        );
    }
    // And nothing else but the checkpoint.
    let mut count = 0;
    for entry in walk(tmp.path()) {
        if entry.file_name().is_some_and(|n| n != "checkpoint") {
            count += 1;
        }
    }
    assert_eq!(count, 551);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn tiled_log_300_files_are_reproduced_by_the_writer() {
    let dir = vectors_dir(&["c2sp/tiled-log-300/log.json"]);
    let meta = load(&dir, "c2sp/tiled-log-300/log.json");
    let tmp = tempfile::tempdir().expect("tempdir");
    let signer =
        islet_signer::Ed25519Signer::from_seed("rome2026h1.example.org", &[2; 32]).expect("signer");
    let cp = islet_reader::tiledir::write_log(
        tmp.path(),
        "rome2026h1.example.org",
        &signer,
        (0..300).map(record),
    )
    .expect("write");
    assert_eq!(cp.root, hash_b64(&meta["root_hash"]));
    for (path, info) in meta["files"].as_object().expect("files") {
        if path == "checkpoint" {
            continue;
        }
        let ours = std::fs::read(tmp.path().join(path)).expect("ours");
        let theirs = dir.join("c2sp/tiled-log-300").join(path);
        let theirs = std::fs::read(&theirs).unwrap_or_else(|e| panic!("{}: {e}", theirs.display()));
        assert_eq!(ours, theirs, "{path}");
        assert_eq!(hex::encode(Sha256::digest(&ours)), s(info, "sha256"));
    }
}
