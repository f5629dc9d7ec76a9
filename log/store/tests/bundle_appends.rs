//! A sequencer's batches after its first append only the new entries of
//! the edge bundle (a merge operand); the bundles read back, before and
//! after the store is reopened and compacted, are the ones whole writes
//! give.

#![allow(missing_docs, clippy::unwrap_used)]

use islet_store::engine::{grow_batch, grow_batch_appending, grower_at};
use islet_store::{BundleAppend, CommitBatch, Error, LogStore, OWN_LOG, Store, TreeHead};
use islet_tlog::merkle::{Hash, leaf_hash};
use islet_tlog::tiles::BundleId;

fn body(i: u64) -> Vec<u8> {
    // Lengths vary, so that a misplaced append shifts every later entry.
    format!("entry {i} {}", "x".repeat((i % 97) as usize)).into_bytes()
}

/// Grows `store` to each size of `sizes` in turn, one commit each: the
/// first batch whole, the later ones appending when `append` is set.
fn grow(store: &Store, sizes: &[u64], append: bool) -> Vec<usize> {
    let mut grower = grower_at(store, OWN_LOG, 0).unwrap();
    let mut committed: Option<TreeHead> = None;
    let mut appends = Vec::new();
    for &to in sizes {
        let from = grower.size();
        let bodies: Vec<Vec<u8>> = (from..to).map(body).collect();
        let leaves: Vec<(&[u8], Hash)> = bodies
            .iter()
            .map(|b| (b.as_slice(), leaf_hash(b)))
            .collect();
        let mut batch = CommitBatch::default();
        if append && committed.is_some() {
            grow_batch_appending(&mut grower, &leaves, &mut batch).unwrap();
        } else {
            grow_batch(&mut grower, &leaves, &mut batch).unwrap();
        }
        appends.push(batch.bundle_appends.len());
        let head = TreeHead {
            size: to,
            root: grower.root(),
            checkpoint: Vec::new(),
        };
        store
            .append(OWN_LOG, committed.as_ref(), &batch, &head)
            .unwrap();
        committed = Some(head);
    }
    appends
}

fn bundles(store: &Store, size: u64) -> Vec<Vec<u8>> {
    (0..size.div_ceil(256))
        .map(|index| {
            let width = (size - index * 256).min(256) as u16;
            store
                .bundle_at(OWN_LOG, BundleId { index, width }, size)
                .unwrap()
                .unwrap()
        })
        .collect()
}

#[test]
fn appended_bundles_read_back_as_whole_writes_give_them_through_reopen_and_compaction() {
    // Batches inside one bundle, across a bundle's end, filling one
    // exactly, and spanning several bundles.
    let sizes = [1, 5, 40, 255, 256, 300, 511, 700, 1024, 1025, 1400];
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = Store::open(whole_dir.path(), true).unwrap();
    grow(&whole, &sizes, false);
    let expected = bundles(&whole, 1400);

    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), true).unwrap();
        let appends = grow(&store, &sizes, true);
        // Every batch after the first grew a stored partial bundle, except
        // the ones that started on a bundle boundary (at 256 and 1024).
        assert_eq!(appends, [0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1]);
        assert_eq!(bundles(&store, 1400), expected);
        // Every partial width is the prefix of the stored bundle.
        let head = store.tree_head(OWN_LOG).unwrap().unwrap();
        assert_eq!(head.root, whole.tree_head(OWN_LOG).unwrap().unwrap().root);
    }
    let store = Store::open(dir.path(), false).unwrap();
    assert_eq!(bundles(&store, 1400), expected, "after reopening");
    store.compact().unwrap();
    assert_eq!(bundles(&store, 1400), expected, "after compaction");
    let read_only = {
        drop(store);
        Store::open_read_only(dir.path()).unwrap()
    };
    assert_eq!(bundles(&read_only, 1400), expected, "read-only");
}

#[test]
fn staging_refuses_appends_and_stages_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), true).unwrap();
    let batch = CommitBatch {
        bundle_appends: vec![BundleAppend {
            bundle: BundleId { index: 0, width: 2 },
            tail: body(1).into(),
        }],
        ..CommitBatch::default()
    };
    let mut stager = store.stager(OWN_LOG);
    let e = stager.stage(&batch, None).unwrap_err();
    assert!(
        matches!(&e, Error::Usage { reason } if reason.contains("whole bundles")),
        "{e}"
    );
    stager.finish().unwrap();
    assert_eq!(store.bundle(OWN_LOG, 0).unwrap(), None);
}
