//! The PostgreSQL store end to end: `islet store migrate` carries a log
//! that `islet serve` wrote from its data directory into PostgreSQL and
//! back into another data directory, tile for tile, and the copy serves
//! and grows.

use std::path::Path;

use islet_store::{LogStore, Store};
use islet_testkit::pg::PgCluster;
use islet_tlog::tiles::{BundleId, TILE_WIDTH, tile_width, tiles_for_size};

use crate::support::{Islet, copy_tree, islet, write_entries};

fn migrate(from: &str, to: &str) -> serde_json::Value {
    let out = islet(&["store", "migrate", "--from", from, "--to", to, "--json"]);
    assert!(
        out.status.success(),
        "islet store migrate --from {from} --to {to}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every tile, bundle and checkpoint of two data directories' own logs.
fn assert_same_log(a: &Path, b: &Path) -> u64 {
    let (x, y) = (
        Store::open_read_only(&a.join("db")).unwrap(),
        Store::open_read_only(&b.join("db")).unwrap(),
    );
    let (lx, ly) = (x.own_log(), y.own_log());
    let head = LogStore::tree_head(&x, lx).unwrap().unwrap();
    assert_eq!(Some(head.clone()), LogStore::tree_head(&y, ly).unwrap());
    let size = head.size;
    for tile in tiles_for_size(size) {
        let t = x.tile_at(lx, tile, size).unwrap();
        assert!(t.is_some(), "{tile}");
        assert_eq!(t, y.tile_at(ly, tile, size).unwrap(), "{tile}");
    }
    for index in 0..size.div_ceil(u64::from(TILE_WIDTH)) {
        let id = BundleId {
            index,
            width: tile_width(size, 0, index).unwrap(),
        };
        let bx = x.bundle_at(lx, id, size).unwrap();
        assert!(bx.is_some(), "{id}");
        assert_eq!(bx, y.bundle_at(ly, id, size).unwrap(), "{id}");
    }
    let mut next = 0;
    let mut checkpoints = 0;
    while let Some((s, note)) = x.checkpoint_covering(lx, next).unwrap() {
        assert_eq!(
            y.checkpoint_at(ly, s).unwrap(),
            Some(note),
            "checkpoint {s}"
        );
        checkpoints += 1;
        next = s + 1;
    }
    assert!(checkpoints > 1);
    size
}

#[test]
fn a_log_migrated_to_postgres_and_back_is_identical_and_serves_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("site");
    let mut server = Islet::start(&data);
    write_entries(&server, "before the move", 300);
    server.kill();
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");

    let there = migrate(data.to_str().unwrap(), &url);
    assert_eq!(there["size"], 300);
    assert_eq!(
        there["tiles_compared"].as_u64().unwrap(),
        tiles_for_size(300).count() as u64
    );
    assert_eq!(there["bundles_compared"], 2);
    // Twice is refused: never two writable copies.
    let again = islet(&[
        "store",
        "migrate",
        "--from",
        data.to_str().unwrap(),
        "--to",
        &url,
    ]);
    assert_eq!(again.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds"), "{stderr}");

    // Back into a data directory with the same keys and configuration and
    // no store.
    let back = tmp.path().join("back");
    copy_tree(&data, &back);
    std::fs::remove_dir_all(back.join("db")).unwrap();
    let home = migrate(&url, back.to_str().unwrap());
    assert_eq!(home["root"], there["root"]);
    assert_eq!(assert_same_log(&data, &back), 300);

    // The copy serves and takes writes; fsck of it over HTTP is clean.
    let server = Islet::start(&back);
    write_entries(&server, "after the move", 20);
    let vkey = crate::snapshot::log_key(&back).to_vkey();
    let fsck = islet(&["fsck", "--vkey", &vkey, &format!("{}/api/v2", server.url)]);
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stderr)
    );
}

#[test]
fn a_migration_needs_a_log_a_key_and_a_database_that_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = PgCluster::start();
    let url = cluster.create_db("empty");
    // Two databases and no data directory to name the log.
    let out = islet(&["store", "migrate", "--from", &url, "--to", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data"));
    // A database without islet's schema is no source.
    let data = tmp.path().join("site");
    let server = Islet::start(&data);
    drop(server);
    let out = islet(&[
        "store",
        "migrate",
        "--from",
        &url,
        "--to",
        data.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("islet init --store"), "{stderr}");
    // Nobody listening.
    let closed = format!(
        "postgres://islet@127.0.0.1:{}/islet",
        islet_testkit::pg::free_port()
    );
    let out = islet(&[
        "store",
        "migrate",
        "--from",
        data.to_str().unwrap(),
        "--to",
        &closed,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:"),
        "{stderr}"
    );
}
