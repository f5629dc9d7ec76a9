//! The PostgreSQL store end to end: `islet store migrate` carries a log
//! that `islet serve` wrote from its data directory into PostgreSQL and
//! back into another data directory, tile for tile, and the copy serves
//! and grows.

use std::path::Path;

use islet_pgstore::{PgOptions, PgStore};
use islet_store::{LogStore, Store};
use islet_testkit::pg::PgCluster;
use islet_tlog::tiles::{BundleId, TILE_WIDTH, tile_width, tiles_for_size};

use crate::support::{
    Islet, copy_tree, free_port, islet, islet_serve_refuses, sigstore_client, write_entries,
};

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
    // The source keeps its copy but never appends to it again.
    let refused = islet_serve_refuses(&data);
    assert!(refused.contains("was copied to postgres://"), "{refused}");
    assert!(refused.contains("engine = \"postgres\""), "{refused}");

    // Back into a data directory with the same keys and configuration and
    // no store.
    let back = tmp.path().join("back");
    copy_tree(&data, &back);
    std::fs::remove_dir_all(back.join("db")).unwrap();
    std::fs::remove_file(back.join("migrated-to")).unwrap();
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

/// `islet init --data DIR --store URL …` for a node on `port`; requires
/// success and returns stdout.
pub(crate) fn init_on_postgres(data: &Path, port: u16, url: &str, extra: &[&str]) -> String {
    let public = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "init",
        "--data",
        data.to_str().unwrap(),
        "--public-url",
        &public,
        "--listen",
        &listen,
        "--store",
        url,
    ];
    args.extend_from_slice(extra);
    let out = islet(&args);
    assert!(
        out.status.success(),
        "islet init --store: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sigstore_python_writes_and_verifies_against_a_node_whose_log_is_in_postgres() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node-a");
    let port = free_port();
    let said = init_on_postgres(
        &data,
        port,
        &url,
        &["--node", "node-a", "--no-sync-standby"],
    );
    assert!(said.contains("the log is number 0 in "), "{said}");
    let toml = std::fs::read_to_string(data.join("islet.toml")).unwrap();
    assert!(toml.contains("engine = \"postgres\""), "{toml}");

    let mut server = Islet::start_on(&data, port);
    let result = sigstore_client(&data.join("client_trust_config.json"), 6);
    let indexes: Vec<u64> = result["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(indexes, (0..6).collect::<Vec<_>>());
    let dups = result["duplicate_errors"].as_array().unwrap();
    assert_eq!(dups.len(), 2, "{result}");
    let vkey = crate::snapshot::log_key(&data).to_vkey();
    let fsck = islet(&["fsck", "--vkey", &vkey, &format!("{}/api/v2", server.url)]);
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stderr)
    );

    // The log is in the database, under this node's lease, and nowhere in
    // the data directory.
    let pg = PgStore::open(&url, &PgOptions::default()).unwrap();
    let row = pg.log("127.0.0.1").unwrap().unwrap();
    assert_eq!(row.vkey, vkey);
    assert_eq!(
        LogStore::tree_head(&pg, row.number).unwrap().unwrap().size,
        6
    );
    let lease = pg.lease_state(row.number).unwrap();
    assert_eq!((lease.holder.as_str(), lease.expired), ("node-a", false));
    server.kill();
    let local = Store::open_read_only(&data.join("db")).unwrap();
    assert_eq!(LogStore::tree_head(&local, local.own_log()).unwrap(), None);
    drop(local);
    // `islet proof` reads the own log from the database, not the empty
    // one of the data directory, and the proof verifies offline.
    let (proof, entry) = (tmp.path().join("0.tlog-proof"), tmp.path().join("0.entry"));
    let out = islet(&[
        "proof",
        "--data",
        data.to_str().unwrap(),
        "--index",
        "0",
        "-o",
        proof.to_str().unwrap(),
        "--entry-out",
        entry.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = islet(&[
        "verify",
        "--tlog-proof",
        proof.to_str().unwrap(),
        "--entry",
        entry.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(said["ok"], true, "{said}");

    // Restarted, the node takes its lease again under a new epoch and
    // the log grows on from the database.
    let server = Islet::start_on(&data, port);
    write_entries(&server, "after a restart", 3);
    assert_eq!(
        LogStore::tree_head(&pg, row.number).unwrap().unwrap().size,
        9
    );
    assert!(pg.lease_state(row.number).unwrap().epoch > lease.epoch);
}

#[test]
fn a_node_on_postgres_refuses_a_database_without_a_synchronous_standby_or_with_another_key() {
    let cluster = PgCluster::start();
    let url = cluster.create_db("islet");
    let tmp = tempfile::tempdir().unwrap();
    // The database is reached before anything is written.
    let bad = tmp.path().join("bad");
    let out = islet(&[
        "init",
        "--data",
        bad.to_str().unwrap(),
        "--store",
        &format!("postgres://islet@127.0.0.1:{}/islet", free_port()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!bad.join("islet.toml").exists());
    let out = islet(&[
        "init",
        "--data",
        bad.to_str().unwrap(),
        "--store",
        "mysql://h/db",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("store.url"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!bad.join("islet.toml").exists());

    // Durability by default: no synchronous standby, no start.
    let data = tmp.path().join("node");
    init_on_postgres(&data, free_port(), &url, &[]);
    let stderr = islet_serve_refuses(&data);
    assert!(stderr.contains("no synchronous standby"), "{stderr}");

    // Another key under the same origin: one key, one log.
    let other = tmp.path().join("other");
    let out = islet(&[
        "init",
        "--data",
        other.to_str().unwrap(),
        "--store",
        &url,
        "--no-sync-standby",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not as an own log with key"), "{stderr}");
    assert!(stderr.contains("--key"), "{stderr}");
    // The same key is a further node of the same log.
    let again = tmp.path().join("again");
    let out = islet(&[
        "init",
        "--data",
        again.to_str().unwrap(),
        "--store",
        &url,
        "--no-sync-standby",
        "--key",
        data.join("keys/log.pem").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("the log is number 0"));

    // A database whose schema an older islet made (version 1: before the
    // `witnessed` table) is refused by a node, naming the command that
    // brings it up; that command does, once.
    let pg = islet_pgstore::PgStore::open(&url, &islet_pgstore::PgOptions::new(1)).unwrap();
    pg.pool()
        .get()
        .unwrap()
        .batch_execute("DROP TABLE witnessed; UPDATE islet_schema SET version = 1")
        .unwrap();
    let stderr = islet_serve_refuses(&again);
    assert!(
        stderr.contains("version 1, older") && stderr.contains("islet store schema"),
        "{stderr}"
    );
    let out = islet(&["store", "schema", "--url", &url, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(said["version_before"], 1);
    assert_eq!(said["version"], islet_pgstore::migrate::SCHEMA_VERSION);
    let out = islet(&["store", "schema", "--url", &url]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already current"));
    assert!(pg.witnessed(0).unwrap().is_none());

    // Shards are not built for a shared log: a freeze refuses, saying why.
    let out = islet(&["shard", "freeze", "--data", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("shards are not built"), "{stderr}");
}

/// POSTs one entry to a server; its status and body (status 0 when the
/// connection failed). Blocks, with its own runtime.
/// Sets `[store] lease_ttl_ms` in a data directory's islet.toml.
pub(crate) fn set_lease_ttl(data: &Path, ms: u64) {
    let path = data.join("islet.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "engine = \"postgres\"",
        &format!("engine = \"postgres\"\nlease_ttl_ms = {ms}"),
        1,
    );
    assert!(text.contains("lease_ttl_ms"));
    std::fs::write(path, text).unwrap();
}
