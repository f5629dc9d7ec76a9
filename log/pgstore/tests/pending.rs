//! The write path several nodes share, against a real PostgreSQL server:
//! entries put in line once, taken in line order within the byte limit,
//! read back with the head in one snapshot, and the durability barrier,
//! which must not report a wait for the standby that was cancelled as a
//! success.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use islet_pgstore::append::append;
use islet_pgstore::pending::{self, MAX_TAKE_BYTES};
use islet_pgstore::{Error, LogKind, PgOptions, PgStore, Taken};
use islet_store::{CommitBatch, LogNumber, LogStore, TreeHead};
use islet_testkit::pg::PgCluster;
use islet_tlog::merkle::{EMPTY_ROOT, Hash, leaf_hash};

const TTL: Duration = Duration::from_secs(5);

fn own_log(store: &PgStore) -> (LogNumber, islet_pgstore::Lease) {
    let log = store
        .register_log(
            "test.example/log",
            LogKind::Own,
            "test.example/log+01234567+AQID",
        )
        .unwrap();
    let lease = store.take_lease(log, "node-a", TTL).unwrap().unwrap();
    let empty = TreeHead {
        size: 0,
        root: EMPTY_ROOT,
        checkpoint: b"test.example/log\n0\n".to_vec(),
    };
    let mut client = store.pool().get().unwrap();
    append(
        &mut client,
        log,
        &lease,
        None,
        &CommitBatch::default(),
        &empty,
        None,
    )
    .unwrap();
    (log, lease)
}

fn item(body: &[u8]) -> (Hash, &[u8]) {
    (leaf_hash(body), body)
}

#[test]
fn an_entry_is_put_in_line_once_and_not_at_all_once_the_log_holds_it() {
    let cluster = PgCluster::start();
    let store = PgStore::create(&cluster.create_db("line"), &PgOptions::new(2)).unwrap();
    let (log, lease) = own_log(&store);
    let (one, two, three) = (b"one".as_slice(), b"two".as_slice(), b"three".as_slice());
    let mine = store
        .enqueue(log, "node-a", &[item(one), item(two)])
        .unwrap();
    assert_eq!(mine.len(), 2);
    // Another node's copy of `one` is not put in line again.
    let theirs = store
        .enqueue(log, "node-b", &[item(one), item(three)])
        .unwrap();
    assert_eq!(
        theirs.iter().map(|(h, _)| *h).collect::<Vec<_>>(),
        vec![leaf_hash(three)]
    );

    // The holder takes them in line order and integrates `one`.
    let mut client = store.pool().connect().unwrap();
    let rows = pending::take_pending(&mut client, log, 10).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.body.as_slice()).collect::<Vec<_>>(),
        vec![one, two, three]
    );
    let (mut batch, root) = common::grow_by(&store, log, 0, 1, |_| one.to_vec());
    batch.dedup = vec![(leaf_hash(one), 0)];
    let head = TreeHead {
        size: 1,
        root,
        checkpoint: b"test.example/log\n1\n".to_vec(),
    };
    let expected = store.tree_head(log).unwrap();
    let taken = Taken {
        leaf_rows: vec![rows[0].pseq],
        rows: vec![rows[0].pseq],
    };
    append(
        &mut client,
        log,
        &lease,
        expected.as_ref(),
        &batch,
        &head,
        Some(&taken),
    )
    .unwrap();
    // In the log now: never in line again.
    assert!(
        store
            .enqueue(log, "node-c", &[item(one)])
            .unwrap()
            .is_empty()
    );

    let mut watched = store.connect_watched().unwrap();
    let hashes = [leaf_hash(one), leaf_hash(two), leaf_hash(b"never sent")];
    let outcomes = pending::read_outcomes(&mut watched, log, &hashes).unwrap();
    assert_eq!(outcomes.head.unwrap().size, 1);
    let logged = outcomes.logged[&leaf_hash(one)];
    assert_eq!((logged.index, logged.pseq), (0, Some(mine[0].1)));
    assert_eq!(outcomes.logged.len(), 1);
    assert!(outcomes.pending.contains(&leaf_hash(two)));
    assert!(!outcomes.pending.contains(&leaf_hash(b"never sent")));
    // Without a synchronous standby the barrier returns at once.
    pending::barrier(&mut watched).unwrap();
}

#[test]
fn the_holder_takes_up_to_the_byte_limit_and_always_at_least_one_entry() {
    let cluster = PgCluster::start();
    let store = PgStore::create(&cluster.create_db("bytes"), &PgOptions::new(2)).unwrap();
    let (log, _lease) = own_log(&store);
    let half = usize::try_from(MAX_TAKE_BYTES / 2).unwrap();
    let (a, b, c) = (vec![b'a'; half], vec![b'b'; half], vec![b'c'; 1]);
    store
        .enqueue(log, "node-a", &[item(&a), item(&b), item(&c)])
        .unwrap();
    let mut client = store.pool().connect().unwrap();
    // At the limit: both halves; one byte past it: not the third.
    let rows = pending::take_pending(&mut client, log, 10).unwrap();
    assert_eq!(rows.len(), 2);
    pending::drop_rows(&mut client, log, &[rows[0].pseq, rows[1].pseq]).unwrap();
    let rows = pending::take_pending(&mut client, log, 10).unwrap();
    assert_eq!(rows.len(), 1);
    pending::drop_rows(&mut client, log, &[rows[0].pseq]).unwrap();
    // A single entry over the limit is still taken, alone.
    let big = vec![b'd'; usize::try_from(MAX_TAKE_BYTES).unwrap() + 1];
    let mine = store
        .enqueue(log, "node-a", &[item(&big), item(&c)])
        .unwrap();
    assert_eq!(mine.len(), 2);
    let rows = pending::take_pending(&mut client, log, 10).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.body.len()).collect::<Vec<_>>(),
        vec![big.len()]
    );
}

#[test]
fn a_barrier_whose_wait_for_the_standby_was_cancelled_is_not_a_confirmation() {
    let primary = PgCluster::start();
    let url = primary.create_db("barrier");
    let standby = primary.start_sync_standby("standby1");
    let store = PgStore::create(&url, &PgOptions::new(2)).unwrap();
    let mut watched = store.connect_watched().unwrap();
    pending::barrier(&mut watched).unwrap();
    let pid: i32 = watched
        .client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    // The standby gone, the barrier waits; an operator (or a tool)
    // cancels the wait, which PostgreSQL reports as a success with a
    // warning.
    standby.stop();
    let waiting = std::thread::spawn(move || pending::barrier(&mut watched));
    let mut admin = store.pool().get().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let cancelled: bool = admin
            .query_one(
                "SELECT coalesce(bool_or(pg_cancel_backend(pid)), false) FROM pg_stat_activity \
                 WHERE pid = $1 AND wait_event = 'SyncRep'",
                &[&pid],
            )
            .unwrap()
            .get(0);
        if cancelled {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the barrier never waited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let outcome = waiting.join().unwrap();
    assert!(matches!(outcome, Err(Error::Unconfirmed)), "{outcome:?}");
}

#[test]
fn cosignatures_keep_the_log_signature_and_the_witnessed_checkpoint_only_grows() {
    use islet_signer::Ed25519Signer;
    use islet_tlog::checkpoint::Checkpoint;
    use islet_tlog::note::NoteSigner;
    let cluster = PgCluster::start();
    let store = PgStore::create(&cluster.create_db("witnessed"), &PgOptions::new(2)).unwrap();
    let origin = "test.example/log";
    let key = Ed25519Signer::from_seed(origin, &[7; 32]).unwrap();
    let (b, c) = (
        Ed25519Signer::from_seed("witness-b", &[8; 32]).unwrap(),
        Ed25519Signer::from_seed("witness-c", &[9; 32]).unwrap(),
    );
    let log = store
        .register_log(origin, LogKind::Own, &key.verifier().to_vkey())
        .unwrap();
    let lease = store.take_lease(log, "node-a", TTL).unwrap().unwrap();
    let checkpoint = |size: u64, root: Hash| Checkpoint {
        origin: origin.into(),
        size,
        root,
        extensions: Vec::new(),
    };
    let mut client = store.pool().get().unwrap();
    let empty = checkpoint(0, EMPTY_ROOT);
    let head = |cp: &Checkpoint| TreeHead {
        size: cp.size,
        root: cp.root,
        checkpoint: cp.sign(&[&key]).unwrap(),
    };
    append(
        &mut client,
        log,
        &lease,
        None,
        &CommitBatch::default(),
        &head(&empty),
        None,
    )
    .unwrap();
    let (batch, root) = common::grow_by(&store, log, 0, 1, |_| b"one".to_vec());
    let one = checkpoint(1, root);
    append(
        &mut client,
        log,
        &lease,
        Some(&head(&empty)),
        &batch,
        &head(&one),
        None,
    )
    .unwrap();
    drop(client);

    // The stored note with a cosignature added is taken; without the
    // quorum nothing is recorded as witnessed.
    let with_b = one.sign(&[&key, &b]).unwrap();
    store.record_cosignatures(log, 1, &with_b, false).unwrap();
    assert_eq!(store.checkpoint_at(log, 1).unwrap().unwrap(), with_b);
    assert_eq!(store.witnessed(log).unwrap(), None);
    // With the quorum it is.
    let with_both = one.sign(&[&key, &b, &c]).unwrap();
    store.record_cosignatures(log, 1, &with_both, true).unwrap();
    let witnessed = store.witnessed(log).unwrap().unwrap();
    assert_eq!(
        (witnessed.size, witnessed.checkpoint),
        (1, with_both.clone())
    );

    // A note that drops the log's signature, or has another text, or a
    // size never stored, is refused, and nothing changes.
    let refused = |size: u64, note: &[u8]| {
        let e = store
            .record_cosignatures(log, size, note, true)
            .unwrap_err();
        assert!(matches!(e, Error::Inconsistent { .. }), "{e:?}");
    };
    refused(1, &one.sign(&[&b, &c]).unwrap());
    refused(1, &checkpoint(1, [9; 32]).sign(&[&key, &b, &c]).unwrap());
    refused(2, &with_both);
    assert_eq!(store.checkpoint_at(log, 1).unwrap().unwrap(), with_both);

    // The witnessed checkpoint never goes back to a smaller one.
    let empty_cosigned = empty.sign(&[&key, &b, &c]).unwrap();
    store
        .record_cosignatures(log, 0, &empty_cosigned, true)
        .unwrap();
    assert_eq!(store.witnessed(log).unwrap().unwrap().size, 1);
}
