//! Shards in the store: the freeze, the move of the own log to a fresh
//! number, and the refusals that keep a rotation from going wrong.

#![allow(missing_docs, clippy::unwrap_used)]

use islet_store::{CommitBatch, Error, Frozen, OWN_LOG, ShardRecord, Store, TreeHead};

fn head(size: u64, root: u8, note: &str) -> TreeHead {
    TreeHead {
        size,
        root: [root; 32],
        checkpoint: note.as_bytes().to_vec(),
    }
}

fn record(number: u32, frozen: &Frozen) -> ShardRecord {
    ShardRecord {
        number,
        origin: "log2025.example".into(),
        vkey: "log2025.example+00000000+AA==".into(),
        public_key_der: "AA==".into(),
        key_details: "PKIX_ED25519".into(),
        valid_from: "2025-01-01T00:00:00Z".into(),
        public_url: "https://log2025.example".into(),
        frozen: frozen.clone(),
    }
}

fn usage(e: &Error, want: &str) -> bool {
    matches!(e, Error::Usage { reason } if reason.contains(want))
}

#[test]
fn a_rotation_freezes_records_and_moves_the_own_log_and_survives_a_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("db");
    let store = Store::open(&path, true).unwrap();
    assert_eq!(store.own_log(), OWN_LOG);
    let e = store
        .freeze(OWN_LOG, &head(0, 0, "x"), "2026-01-01T00:00:00Z")
        .unwrap_err();
    assert!(usage(&e, "empty log"), "{e:?}");
    store
        .commit(OWN_LOG, &CommitBatch::default(), &head(7, 1, "seven"))
        .unwrap();
    // Starting the next shard before the freeze is refused.
    let not_yet = Frozen {
        size: 7,
        frozen_at: "2026-01-01T00:00:00Z".into(),
    };
    let e = store
        .start_next_shard(&record(OWN_LOG, &not_yet))
        .unwrap_err();
    assert!(usage(&e, "freeze the log first"), "{e:?}");
    // A final checkpoint for another tree is refused.
    let e = store
        .freeze(OWN_LOG, &head(7, 2, "other root"), "2026-01-01T00:00:00Z")
        .unwrap_err();
    assert!(usage(&e, "final checkpoint"), "{e:?}");
    let frozen = store
        .freeze(OWN_LOG, &head(7, 1, "seven, final"), "2026-01-01T00:00:00Z")
        .unwrap();
    assert_eq!(frozen, not_yet);
    assert_eq!(store.frozen(OWN_LOG).unwrap(), Some(frozen.clone()));
    assert_eq!(
        store.tree_head(OWN_LOG).unwrap().unwrap().checkpoint,
        b"seven, final"
    );
    assert_eq!(
        store.checkpoint_at(OWN_LOG, 7).unwrap().unwrap(),
        b"seven, final"
    );
    let e = store
        .freeze(OWN_LOG, &head(7, 1, "again"), "2026-01-02T00:00:00Z")
        .unwrap_err();
    assert!(usage(&e, "already frozen"), "{e:?}");
    // A record that is not the own log, or not its freeze, is refused.
    let e = store.start_next_shard(&record(3, &frozen)).unwrap_err();
    assert!(usage(&e, "not the own log"), "{e:?}");
    let other = Frozen {
        size: 6,
        ..frozen.clone()
    };
    let e = store
        .start_next_shard(&record(OWN_LOG, &other))
        .unwrap_err();
    assert!(usage(&e, "does not match"), "{e:?}");

    let next = store.start_next_shard(&record(OWN_LOG, &frozen)).unwrap();
    assert_ne!(next, OWN_LOG);
    assert_eq!(store.own_log(), next);
    assert_eq!(
        store.tree_head(next).unwrap(),
        None,
        "the new shard starts empty"
    );
    assert_eq!(store.shards().unwrap(), vec![record(OWN_LOG, &frozen)]);
    assert_eq!(
        store.other_log("log2025.example").unwrap().map(|(n, _)| n),
        Some(OWN_LOG)
    );
    assert!(
        store.next_log_number().unwrap() > next,
        "numbers are never reused"
    );
    drop(store);
    let store = Store::open(&path, false).unwrap();
    assert_eq!(store.own_log(), next, "the move is durable");
    let read_only = Store::open_read_only(&path);
    drop(store);
    assert_eq!(read_only.unwrap().own_log(), next);
}
