//! The publish directory: a complete tree is published tiles first and
//! checkpoint last; a store that lacks a tile or bundle of the tree it
//! claims publishes no checkpoint at all.

#![allow(missing_docs, clippy::unwrap_used)]

use islet_server::Error;
use islet_server::publish::publish;
use islet_store::{CommitBatch, OWN_LOG, Store, TreeHead};
use islet_tlog::grow::{Grown, LogGrower};
use islet_tlog::tiles::encode_hash_tile;

const SIZE: u64 = 300;

/// A store whose own log holds `SIZE` entries, every tile and bundle of it.
fn grown_store(dir: &std::path::Path) -> (Store, TreeHead) {
    let store = Store::open(&dir.join("db"), true).unwrap();
    let mut log = LogGrower::new();
    let mut batch = CommitBatch::default();
    for i in 0..SIZE {
        log.push(format!("entry {i}").as_bytes(), &mut |grown| match grown {
            Grown::Tile(t, hashes) => batch.tiles.push((t, encode_hash_tile(hashes))),
            Grown::Bundle(id, data) => batch
                .bundles
                .push((id, bytes::Bytes::copy_from_slice(data))),
        })
        .unwrap();
    }
    let edge = log.edge();
    for (t, hashes) in edge.tiles {
        batch.tiles.push((t, encode_hash_tile(hashes)));
    }
    if let Some((id, data)) = edge.bundle {
        batch
            .bundles
            .push((id, bytes::Bytes::copy_from_slice(data)));
    }
    let head = TreeHead {
        size: SIZE,
        root: log.root(),
        checkpoint: b"a checkpoint of size 300\n".to_vec(),
    };
    store.commit(OWN_LOG, &batch, &head).unwrap();
    (store, head)
}

/// The own log of `store`, as the publisher holds it.
fn own(store: Store) -> islet_store::SharedLog {
    islet_store::SharedLog::new(std::sync::Arc::new(store), OWN_LOG)
}

#[test]
fn a_complete_tree_is_published_with_its_checkpoint_last() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, head) = grown_store(tmp.path());
    let public = tmp.path().join("public");
    publish(&own(store), &public, 0, SIZE, &head.checkpoint).unwrap();
    assert_eq!(
        std::fs::read(public.join("checkpoint")).unwrap(),
        head.checkpoint
    );
    assert!(public.join("tile/0/000").is_file());
    assert!(public.join("tile/0/001.p/44").is_file());
    assert!(public.join("tile/entries/001.p/44").is_file());
}

#[test]
fn a_store_missing_a_tile_of_its_tree_publishes_no_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    // A head of 300 entries with none of their tiles or bundles.
    let head = TreeHead {
        size: SIZE,
        root: [7; 32],
        checkpoint: b"a checkpoint of size 300\n".to_vec(),
    };
    store
        .commit(OWN_LOG, &CommitBatch::default(), &head)
        .unwrap();
    let public = tmp.path().join("public");
    let e = publish(&own(store), &public, 0, SIZE, &head.checkpoint).unwrap_err();
    assert!(
        matches!(&e, Error::Store(islet_store::Error::Corrupt { what }) if what.contains("tile/0/000")),
        "{e:?}"
    );
    assert!(!public.join("checkpoint").exists());
}
