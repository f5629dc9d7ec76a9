//! A witness's stored state: the compare-and-swap, and the evidence kept
//! once per offered checkpoint, at most MAX_WITNESS_EVIDENCE per log.

#![allow(missing_docs, clippy::unwrap_used)]

use islet_store::witnessed::{EvidenceKept, MAX_WITNESS_EVIDENCE, WitnessState};
use islet_store::{Error, Evidence, Store};

fn evidence(i: usize) -> Evidence {
    Evidence {
        reason: "same size, different root".into(),
        local: "local".into(),
        offered: format!("offered {i}"),
        source: "test".into(),
        recorded_at: "2026-12-04T00:00:00Z".into(),
    }
}

#[test]
fn evidence_is_kept_once_per_checkpoint_up_to_the_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    for i in 0..MAX_WITNESS_EVIDENCE {
        assert_eq!(
            store
                .witness_record_evidence("a.example", &evidence(i))
                .unwrap(),
            EvidenceKept::Recorded
        );
    }
    assert_eq!(
        store
            .witness_record_evidence("a.example", &evidence(0))
            .unwrap(),
        EvidenceKept::Duplicate
    );
    assert_eq!(
        store
            .witness_record_evidence("a.example", &evidence(MAX_WITNESS_EVIDENCE))
            .unwrap(),
        EvidenceKept::Full
    );
    let kept = store.witness_evidence("a.example").unwrap();
    assert_eq!(kept.len(), MAX_WITNESS_EVIDENCE);
    assert_eq!(kept[0], evidence(0), "oldest first");
    assert!(
        store.witness_evidence("b.example").unwrap().is_empty(),
        "per log"
    );
}

#[test]
fn the_state_moves_only_from_the_size_it_was_decided_on() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    let state = |size| WitnessState {
        origin: "a.example".into(),
        size,
        root: "00".repeat(32),
        note: format!("note {size}"),
        timestamp: 1,
    };
    store.witness_swap(0, &state(8)).unwrap();
    let e = store.witness_swap(0, &state(13)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::WitnessRace {
                expected: 0,
                stored: 8,
                ..
            }
        ),
        "{e:?}"
    );
    store.witness_swap(8, &state(13)).unwrap();
    assert_eq!(store.witness_state("a.example").unwrap(), Some(state(13)));
    assert_eq!(store.witness_states().unwrap(), vec![state(13)]);
}
