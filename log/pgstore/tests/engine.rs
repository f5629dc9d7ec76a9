//! The PostgreSQL engine against a real PostgreSQL server (Debian's, in a
//! temporary directory; `islet_testkit::pg`), and against the RocksDB
//! engine as its oracle: the same batches committed to both read back the
//! same, tile for tile.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use islet_pgstore::{Error as PgError, LogKind, PgOptions, PgStore};
use islet_store::{CommitBatch, Error, LogNumber, LogStore, SearchKind, Store, TreeHead};
use islet_testkit::pg::PgCluster;
use islet_tlog::merkle::leaf_hash;
use islet_tlog::tiles::{BundleId, TILE_WIDTH, tile_width, tiles_for_size};

const VKEY: &str = "test.example/log+01234567+AQID";
const TTL: Duration = Duration::from_millis(500);

fn pg(cluster: &PgCluster, db: &str) -> PgStore {
    PgStore::create(&cluster.create_db(db), &PgOptions::new(4)).unwrap()
}

fn entry(i: u64) -> Vec<u8> {
    format!(
        "{{\"entry\":{i},\"pad\":\"{}\"}}",
        "x".repeat((i % 97) as usize)
    )
    .into_bytes()
}

/// The batch and head that grow `store`'s `log` by entries `from..to`.
fn grow(store: &dyn LogStore, log: LogNumber, from: u64, to: u64) -> (CommitBatch, TreeHead) {
    let (mut batch, root) = common::grow_by(store, log, from, to, entry);
    for index in from..to {
        batch.search.push((
            SearchKind::ArtifactDigest,
            entry(index)[..12].to_vec(),
            index,
        ));
    }
    let head = TreeHead {
        size: to,
        root,
        checkpoint: format!("test.example/log\n{to}\n").into_bytes(),
    };
    (batch, head)
}

fn append(store: &dyn LogStore, log: LogNumber, to: u64) -> islet_store::Result<TreeHead> {
    let expected = store.tree_head(log)?;
    let from = expected.as_ref().map_or(0, |h| h.size);
    let (batch, head) = grow(store, log, from, to);
    store.append(log, expected.as_ref(), &batch, &head)?;
    Ok(head)
}

fn own_log(store: &PgStore, holder: &str) -> LogNumber {
    let log = store
        .register_log("test.example/log", LogKind::Own, VKEY)
        .unwrap();
    store.take_lease(log, holder, TTL).unwrap().unwrap();
    log
}

fn count(store: &PgStore, table: &str) -> i64 {
    store
        .pool()
        .get()
        .unwrap()
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

#[test]
fn batches_committed_to_postgres_read_back_as_rocksdb_reads_them() {
    let cluster = PgCluster::start();
    let pg = pg(&cluster, "oracle");
    let log = own_log(&pg, "node-a");
    let dir = tempfile::tempdir().unwrap();
    let rocks = Store::open(&dir.path().join("store"), true).unwrap();
    let rlog = rocks.own_log();
    // Sizes that cross bundle and tile edges on levels 0, 1 and 2.
    let sizes = [
        1, 2, 255, 256, 257, 511, 1000, 4096, 20_000, 65_535, 65_536, 65_537, 66_000,
    ];
    for &to in &sizes {
        let a = append(&pg, log, to).unwrap();
        let b = append(&rocks, rlog, to).unwrap();
        assert_eq!(a, b, "heads at {to}");
        assert_eq!(pg.tree_head(log).unwrap(), Some(a));
    }
    let size = *sizes.last().unwrap();
    for &at in &sizes {
        for tile in tiles_for_size(at) {
            assert_eq!(
                pg.tile_at(log, tile, at).unwrap(),
                rocks.tile_at(rlog, tile, at).unwrap(),
                "{tile} at {at}"
            );
        }
        for index in 0..at.div_ceil(u64::from(TILE_WIDTH)) {
            let width = tile_width(at, 0, index).unwrap();
            let id = BundleId { index, width };
            let got = pg.bundle_at(log, id, at).unwrap();
            assert!(got.is_some(), "{id} at {at}");
            assert_eq!(got, rocks.bundle_at(rlog, id, at).unwrap(), "{id} at {at}");
        }
        assert_eq!(
            pg.checkpoint_at(log, at).unwrap(),
            rocks.checkpoint_at(rlog, at).unwrap()
        );
        assert_eq!(
            pg.checkpoint_covering(log, at - 1).unwrap(),
            rocks.checkpoint_covering(rlog, at - 1).unwrap()
        );
    }
    assert_eq!(pg.checkpoint_covering(log, size + 1).unwrap(), None);
    for index in [0, 1, 255, 256, 30_000, 65_536, size - 1] {
        let body = entry(index);
        assert_eq!(pg.entry(log, index, size).unwrap(), Some(body.clone()));
        assert_eq!(
            pg.dedup_lookup(log, &leaf_hash(&body)).unwrap(),
            Some(index)
        );
        let found = pg
            .search(log, SearchKind::ArtifactDigest, &body[..12], 1000)
            .unwrap();
        assert_eq!(
            found,
            rocks
                .search(rlog, SearchKind::ArtifactDigest, &body[..12], 1000)
                .unwrap()
        );
        assert!(found.contains(&index));
    }
    assert_eq!(pg.entry(log, size, size).unwrap(), None);
    assert_eq!(pg.dedup_lookup(log, &[7; 32]).unwrap(), None);
    // A full tile is a row of 8 KiB; a partial one only grows in place.
    let tiles = count(&pg, "tiles");
    assert_eq!(
        u64::try_from(tiles).unwrap(),
        tiles_for_size(size).count() as u64
    );
}

#[test]
fn a_commit_from_a_head_that_moved_writes_nothing() {
    let cluster = PgCluster::start();
    let pg = pg(&cluster, "moved");
    let log = own_log(&pg, "node-a");
    append(&pg, log, 300).unwrap();
    let old = pg.tree_head(log).unwrap().unwrap();
    let (batch, head) = grow(&pg, log, 300, 310);
    append(&pg, log, 320).unwrap();
    let rows = (count(&pg, "entries"), count(&pg, "checkpoints"));
    let e = pg.append(log, Some(&old), &batch, &head).unwrap_err();
    assert!(
        matches!(
            e,
            Error::HeadMoved {
                expected: Some(300),
                stored: Some(320),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(pg.tree_head(log).unwrap().unwrap().size, 320);
    assert_eq!((count(&pg, "entries"), count(&pg, "checkpoints")), rows);
    // A first head where one exists moves nothing either.
    let e = pg.append(log, None, &batch, &head).unwrap_err();
    assert!(matches!(e, Error::HeadMoved { expected: None, .. }), "{e}");
    // Nor does a batch carrying bundle appends: PostgreSQL takes bundles
    // whole, and says so.
    assert!(!pg.appends_bundles());
    let current = pg.tree_head(log).unwrap().unwrap();
    let (mut batch, head) = grow(&pg, log, 320, 330);
    let (bundle, bytes) = batch.bundles.pop().unwrap();
    batch.bundle_appends.push(islet_store::BundleAppend {
        bundle,
        tail: bytes,
    });
    let e = pg.append(log, Some(&current), &batch, &head).unwrap_err();
    assert!(
        matches!(&e, Error::Usage { reason } if reason.contains("whole bundles")),
        "{e}"
    );
    assert_eq!(pg.tree_head(log).unwrap().unwrap().size, 320);
    assert_eq!((count(&pg, "entries"), count(&pg, "checkpoints")), rows);
}

#[test]
fn racing_writers_from_one_head_commit_exactly_once() {
    let cluster = PgCluster::start();
    let pg = Arc::new(pg(&cluster, "race"));
    let log = own_log(&pg, "node-a");
    append(pg.as_ref(), log, 100).unwrap();
    let old = pg.tree_head(log).unwrap().unwrap();
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let pg = Arc::clone(&pg);
            let old = old.clone();
            let (batch, head) = grow(pg.as_ref(), log, 100, 101 + w);
            std::thread::spawn(move || pg.append(log, Some(&old), &batch, &head))
        })
        .collect();
    let results: Vec<_> = writers.into_iter().map(|t| t.join().unwrap()).collect();
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, Error::HeadMoved { .. }), "{r}");
    }
    let size = pg.tree_head(log).unwrap().unwrap().size;
    assert_eq!(count(&pg, "entries"), i64::try_from(size).unwrap());
}

#[test]
fn a_leader_whose_lease_was_taken_over_can_never_commit_again() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("fence");
    let a = PgStore::create(&url, &PgOptions::new(2)).unwrap();
    let b = PgStore::open(&url, &PgOptions::new(2)).unwrap();
    let log = own_log(&a, "node-a");
    append(&a, log, 10).unwrap();
    // While A's lease runs, B cannot take it, and B cannot write without it.
    assert_eq!(b.take_lease(log, "node-b", TTL).unwrap(), None);
    let e = append(&b, log, 11).unwrap_err();
    assert!(
        e.to_string().contains("does not hold the sequencer lease"),
        "{e}"
    );
    // A pauses past its lease; B takes over (epoch 2), and A's next commit,
    // grown from the head that is still the stored one, fails on the epoch.
    std::thread::sleep(TTL + Duration::from_millis(200));
    let lease_b = b.take_lease(log, "node-b", TTL).unwrap().unwrap();
    assert_eq!(lease_b.epoch, 2);
    let e = append(&a, log, 11).unwrap_err();
    assert!(
        matches!(
            e,
            Error::HeadMoved {
                expected: Some(10),
                stored: Some(10),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(a.tree_head(log).unwrap().unwrap().size, 10);
    append(&b, log, 12).unwrap();
    // A's renewal fails and it forgets the lease.
    let lease_a = islet_pgstore::Lease {
        log,
        holder: "node-a".into(),
        epoch: 1,
    };
    assert!(!a.renew_lease(&lease_a, TTL).unwrap());
    assert!(b.renew_lease(&lease_b, TTL).unwrap());
    // A clean hand-over: released, taken at once.
    b.release_lease(&lease_b).unwrap();
    let again = a.take_lease(log, "node-a", TTL).unwrap().unwrap();
    assert_eq!(again.epoch, 3);
    append(&a, log, 13).unwrap();
    let state = a.lease_state(log).unwrap();
    assert_eq!(
        (state.holder.as_str(), state.epoch, state.expired),
        ("node-a", 3, false)
    );
}

#[test]
fn full_tiles_never_change_and_partial_ones_only_grow() {
    let cluster = PgCluster::start();
    let pg = pg(&cluster, "immutable");
    let log = own_log(&pg, "node-a");
    let head = append(&pg, log, 300).unwrap();
    let rows = count(&pg, "entries");
    // The full level-0 tile 0 with one hash changed.
    let mut tile = pg.tile(log, 0, 0).unwrap().unwrap();
    tile[5] ^= 1;
    let mut batch = CommitBatch::default();
    batch.tiles.push((
        islet_tlog::tiles::TileId {
            level: 0,
            index: 0,
            width: 256,
        },
        tile,
    ));
    let next = TreeHead {
        size: 301,
        root: [9; 32],
        checkpoint: b"x".to_vec(),
    };
    let e = pg.append(log, Some(&head), &batch, &next).unwrap_err();
    assert!(matches!(e, Error::ImmutableTile { .. }), "{e}");
    // The partial tile 1 (44 hashes) rewritten narrower: refused.
    let partial = pg.tile(log, 0, 1).unwrap().unwrap();
    assert_eq!(partial.len(), 44 * 32);
    let mut batch = CommitBatch::default();
    batch.tiles.push((
        islet_tlog::tiles::TileId {
            level: 0,
            index: 1,
            width: 40,
        },
        partial[..40 * 32].to_vec(),
    ));
    let e = pg.append(log, Some(&head), &batch, &next).unwrap_err();
    assert!(e.to_string().contains("0 of 1 rows"), "{e}");
    // The same width with other bytes: refused by the trigger.
    let mut other = partial.clone();
    other[0] ^= 1;
    let mut batch = CommitBatch::default();
    batch.tiles.push((
        islet_tlog::tiles::TileId {
            level: 0,
            index: 1,
            width: 44,
        },
        other,
    ));
    let e = pg.append(log, Some(&head), &batch, &next).unwrap_err();
    assert!(matches!(e, Error::ImmutableTile { .. }), "{e}");
    // Nothing of any refused batch stayed.
    assert_eq!(pg.tree_head(log).unwrap(), Some(head));
    assert_eq!(pg.tile(log, 0, 1).unwrap(), Some(partial));
    assert_eq!(count(&pg, "entries"), rows);
}

#[test]
fn one_origin_is_one_log_with_one_key() {
    let cluster = PgCluster::start();
    let pg = pg(&cluster, "registry");
    let own = pg
        .register_log("test.example/log", LogKind::Own, VKEY)
        .unwrap();
    let mirror = pg
        .register_log("upstream.example/log", LogKind::Mirror, "upstream+1+AQ")
        .unwrap();
    assert_ne!(own, mirror);
    assert_eq!(
        pg.register_log("test.example/log", LogKind::Own, VKEY)
            .unwrap(),
        own
    );
    let e = pg
        .register_log("test.example/log", LogKind::Own, "other+1+AQ")
        .unwrap_err();
    assert!(matches!(e, PgError::Inconsistent { .. }), "{e}");
    let e = pg
        .register_log("test.example/log", LogKind::Mirror, VKEY)
        .unwrap_err();
    assert!(matches!(e, PgError::Inconsistent { .. }), "{e}");
    let logs = pg.logs().unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(
        pg.log("upstream.example/log").unwrap().unwrap().kind,
        LogKind::Mirror
    );
}

#[test]
fn migrations_apply_once_however_many_nodes_start_together() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("migrate");
    // A database without the schema is refused by open, with what to do.
    let e = PgStore::open(&url, &PgOptions::new(1)).unwrap_err();
    assert!(matches!(e, PgError::NoSchema), "{e}");
    assert!(e.to_string().contains("islet init --store"), "{e}");
    let starters: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::create(&url, &PgOptions::new(1)).map(|_| ()))
        })
        .collect();
    for s in starters {
        s.join().unwrap().unwrap();
    }
    let pg = PgStore::open(&url, &PgOptions::new(1)).unwrap();
    let version: i32 = pg
        .pool()
        .get()
        .unwrap()
        .query_one("SELECT version FROM islet_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, islet_pgstore::migrate::SCHEMA_VERSION);
    // A database a newer islet migrated is refused, not touched.
    pg.pool()
        .get()
        .unwrap()
        .execute("UPDATE islet_schema SET version = version + 1", &[])
        .unwrap();
    for e in [
        PgStore::open(&url, &PgOptions::new(1)).unwrap_err(),
        PgStore::create(&url, &PgOptions::new(1)).unwrap_err(),
    ] {
        assert!(matches!(e, PgError::SchemaNewer { .. }), "{e}");
    }
}

#[test]
fn a_lease_shorter_or_longer_than_allowed_is_refused() {
    let cluster = PgCluster::start();
    let pg = pg(&cluster, "ttl");
    let log = pg
        .register_log("test.example/log", LogKind::Own, VKEY)
        .unwrap();
    let (min, max) = islet_pgstore::lease::LEASE_TTL_RANGE;
    assert!(
        pg.take_lease(log, "a", min - Duration::from_millis(1))
            .is_err()
    );
    assert!(
        pg.take_lease(log, "a", max + Duration::from_millis(1))
            .is_err()
    );
    assert!(pg.take_lease(log, "a", max).unwrap().is_some());
    assert!(pg.take_lease(log, "a", min).unwrap().is_some());
}

#[test]
fn full_tiles_and_bundles_are_read_once_and_partial_ones_every_time() {
    let cluster = PgCluster::start();
    let store = pg(&cluster, "cache");
    let log = own_log(&store, "node-a");
    append(&store, log, 300).unwrap();
    let full_tile = store.tile(log, 0, 0).unwrap().unwrap();
    let full_bundle = store.bundle(log, 0).unwrap().unwrap();
    assert_eq!(full_tile.len(), 32 * usize::from(TILE_WIDTH));
    assert!(store.tile(log, 0, 1).unwrap().is_some());
    assert!(store.bundle(log, 1).unwrap().is_some());
    // The rows gone behind the store's back (only a test may: the trigger
    // guards updates, nothing deletes): the full ones are still served from
    // memory, the partial ones are read again and are missing.
    store
        .pool()
        .get()
        .unwrap()
        .batch_execute("DELETE FROM tiles; DELETE FROM bundles")
        .unwrap();
    assert_eq!(store.tile(log, 0, 0).unwrap(), Some(full_tile));
    assert_eq!(store.bundle(log, 0).unwrap(), Some(full_bundle));
    assert_eq!(store.tile(log, 0, 1).unwrap(), None);
    assert_eq!(store.bundle(log, 1).unwrap(), None);
}
