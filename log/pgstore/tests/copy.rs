//! `islet store migrate`'s copy between engines: RocksDB to PostgreSQL and
//! back gives the same tiles, bundles, checkpoints and dedup index, with a
//! stretch between two checkpoints longer than one copy chunk.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use islet_pgstore::{LogKind, PgOptions, PgStore};
use islet_signer::Ed25519Signer;
use islet_store::copy::{COPY_CHUNK_ENTRIES, Side, copy_log};
use islet_store::{Error, LogNumber, LogStore, Store, TreeHead};
use islet_testkit::pg::PgCluster;
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::merkle::{Hash, leaf_hash};
use islet_tlog::note::{NoteSigner, NoteVerifier};
use islet_tlog::tiles::{BundleId, TILE_WIDTH, tile_width, tiles_for_size};

const ORIGIN: &str = "copy.example/log";

fn signed(signer: &dyn NoteSigner, size: u64, root: Hash) -> Vec<u8> {
    Checkpoint {
        origin: ORIGIN.into(),
        size,
        root,
        extensions: Vec::new(),
    }
    .sign(&[signer])
    .unwrap()
}

/// Grows `store`'s log to `to`, committing with a checkpoint signed by
/// `signer`.
fn commit(store: &dyn LogStore, log: LogNumber, to: u64, signer: &dyn NoteSigner) {
    let expected = store.tree_head(log).unwrap();
    let from = expected.as_ref().map_or(0, |h| h.size);
    let (batch, root) = common::grow_by(store, log, from, to, |i| {
        format!("copied entry {i}").into_bytes()
    });
    let head = TreeHead {
        size: to,
        root,
        checkpoint: signed(signer, to, root),
    };
    store.append(log, expected.as_ref(), &batch, &head).unwrap();
}

fn assert_same(a: Side<'_>, b: Side<'_>, size: u64) {
    for tile in tiles_for_size(size) {
        let x = a.store.tile_at(a.log, tile, size).unwrap();
        assert!(x.is_some(), "{tile}");
        assert_eq!(x, b.store.tile_at(b.log, tile, size).unwrap(), "{tile}");
    }
    for index in 0..size.div_ceil(u64::from(TILE_WIDTH)) {
        let id = BundleId {
            index,
            width: tile_width(size, 0, index).unwrap(),
        };
        let x = a.store.bundle_at(a.log, id, size).unwrap();
        assert!(x.is_some(), "{id}");
        assert_eq!(x, b.store.bundle_at(b.log, id, size).unwrap(), "{id}");
    }
    let mut next = 0;
    while let Some((s, note)) = a.store.checkpoint_covering(a.log, next).unwrap() {
        assert_eq!(
            b.store.checkpoint_at(b.log, s).unwrap(),
            Some(note),
            "checkpoint {s}"
        );
        next = s + 1;
    }
    assert_eq!(
        a.store.tree_head(a.log).unwrap(),
        b.store.tree_head(b.log).unwrap()
    );
    for i in [0, 299, 300, size / 2, size - 1] {
        let leaf = leaf_hash(format!("copied entry {i}").as_bytes());
        assert_eq!(b.store.dedup_lookup(b.log, &leaf).unwrap(), Some(i));
    }
}

#[test]
fn rocksdb_to_postgres_and_back_is_identical_tile_for_tile() {
    let (signer, _) = Ed25519Signer::generate(ORIGIN).unwrap();
    let key: NoteVerifier = signer.verifier();
    let dir = tempfile::tempdir().unwrap();
    let source = Store::open(&dir.path().join("a"), true).unwrap();
    let slog = source.own_log();
    // The empty tree, a small commit, one longer than a copy chunk, one more.
    let long = 300 + COPY_CHUNK_ENTRIES + 7_000;
    for to in [0, 300, long, long + 1] {
        commit(&source, slog, to, &signer);
    }
    let size = long + 1;
    let cluster = PgCluster::start();
    let url = cluster.create_db("copy");
    let pg = PgStore::create(&url, &PgOptions::new(2)).unwrap();
    let plog = pg
        .register_log(ORIGIN, LogKind::Own, &key.to_vkey())
        .unwrap();
    pg.take_lease(plog, "copy", Duration::from_secs(30))
        .unwrap()
        .unwrap();
    let mut seen = Vec::new();
    let there = copy_log(
        Side {
            store: &source,
            log: slog,
        },
        Side {
            store: &pg,
            log: plog,
        },
        &key,
        ORIGIN,
        &mut |s| seen.push(s),
    )
    .unwrap();
    assert_eq!(there.size, size);
    assert_eq!(there.checkpoints, 4);
    // The long stretch went in two commits, the first without a checkpoint.
    assert_eq!(seen, vec![300, 300 + COPY_CHUNK_ENTRIES, long, long + 1]);
    assert_eq!(there.commits, 5);
    assert_eq!(
        pg.checkpoint_at(plog, 300 + COPY_CHUNK_ENTRIES).unwrap(),
        None
    );
    assert_same(
        Side {
            store: &source,
            log: slog,
        },
        Side {
            store: &pg,
            log: plog,
        },
        size,
    );

    let back = Store::open(&dir.path().join("b"), true).unwrap();
    let blog = back.own_log();
    let again = copy_log(
        Side {
            store: &pg,
            log: plog,
        },
        Side {
            store: &back,
            log: blog,
        },
        &key,
        ORIGIN,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        (again.size, again.root.clone()),
        (there.size, there.root.clone())
    );
    assert_same(
        Side {
            store: &source,
            log: slog,
        },
        Side {
            store: &back,
            log: blog,
        },
        size,
    );
    assert_eq!(again.tiles_compared, tiles_for_size(size).count() as u64);

    // Never into a target that holds the log already.
    let e = copy_log(
        Side {
            store: &source,
            log: slog,
        },
        Side {
            store: &back,
            log: blog,
        },
        &key,
        ORIGIN,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, Error::Usage { .. }), "{e}");
    // A source whose checkpoints another key signed is refused, and the
    // target keeps nothing past what verified.
    let (other, _) = Ed25519Signer::generate(ORIGIN).unwrap();
    let third = Store::open(&dir.path().join("c"), true).unwrap();
    let e = copy_log(
        Side {
            store: &source,
            log: slog,
        },
        Side {
            store: &third,
            log: third.own_log(),
        },
        &other.verifier(),
        ORIGIN,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    assert_eq!(third.tree_head(third.own_log()).unwrap(), None);
}
