//! A synchronous streaming standby: the primary killed as a crash kills it
//! and the standby promoted, every acknowledged commit is there and the log
//! goes on from it.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use islet_pgstore::{LogKind, PgOptions, PgStore};
use islet_store::{LogNumber, LogStore, TreeHead};
use islet_testkit::pg::PgCluster;
use islet_tlog::merkle::leaf_hash;
use islet_tlog::tiles::tiles_for_size;

const TTL: Duration = Duration::from_millis(500);

fn body(i: u64) -> Vec<u8> {
    format!("replicated entry {i}").into_bytes()
}

fn append(store: &dyn LogStore, log: LogNumber, to: u64) -> TreeHead {
    let expected = store.tree_head(log).unwrap();
    let from = expected.as_ref().map_or(0, |h| h.size);
    let (batch, root) = common::grow_by(store, log, from, to, body);
    let head = TreeHead {
        size: to,
        root,
        checkpoint: format!("standby.example/log\n{to}\n").into_bytes(),
    };
    store.append(log, expected.as_ref(), &batch, &head).unwrap();
    head
}

#[test]
fn a_promoted_synchronous_standby_holds_every_acknowledged_commit() {
    let primary = PgCluster::start();
    let url = primary.create_db("islet");
    let standby = primary.start_sync_standby("standby1");
    let pg = PgStore::create(&url, &PgOptions::new(2)).unwrap();
    assert_eq!(pg.synchronous_standbys().unwrap(), "FIRST 1 (standby1)");
    let log = pg
        .register_log("standby.example/log", LogKind::Own, "standby+1+AQ")
        .unwrap();
    pg.take_lease(log, "node-a", TTL).unwrap().unwrap();
    let mut acknowledged = None;
    for to in (1..=40).map(|k| k * 37) {
        acknowledged = Some(append(&pg, log, to));
    }
    let acknowledged = acknowledged.unwrap();
    // The crash: every process of the primary killed at once.
    primary.kill();
    drop(pg);
    standby.promote();
    let url2 = standby.url("islet");
    let pg = PgStore::open(&url2, &PgOptions::new(2)).unwrap();
    assert_eq!(pg.synchronous_standbys().unwrap(), "");
    assert_eq!(pg.tree_head(log).unwrap(), Some(acknowledged.clone()));
    let size = acknowledged.size;
    for tile in tiles_for_size(size) {
        assert!(pg.tile_at(log, tile, size).unwrap().is_some(), "{tile}");
    }
    for i in 0..size {
        assert_eq!(pg.dedup_lookup(log, &leaf_hash(&body(i))).unwrap(), Some(i));
        assert_eq!(pg.entry(log, i, size).unwrap(), Some(body(i)));
    }
    // The dead leader's lease runs out by the new primary's clock; another
    // node takes over and the log goes on.
    std::thread::sleep(TTL + Duration::from_millis(200));
    let lease = pg.take_lease(log, "node-b", TTL).unwrap().unwrap();
    assert_eq!(lease.epoch, 2);
    let next = append(&pg, log, size + 10);
    assert_eq!(pg.tree_head(log).unwrap(), Some(next));
}
