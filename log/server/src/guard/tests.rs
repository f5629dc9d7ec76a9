#![allow(clippy::unwrap_used)]

use super::CheckpointGuard;
use super::record::{HEADER_BYTES, Recorded, SLOT_ALIGN, parse};

fn note(n: u64) -> Vec<u8> {
    format!("example.com/log\n{n}\nroot{n}=\n\n— example.com/log sig{n}\n").into_bytes()
}

fn recorded(guard: &CheckpointGuard) -> (usize, u64, Vec<u8>, usize) {
    let raw = std::fs::read(guard.path()).unwrap();
    match parse(&raw).unwrap() {
        Recorded::Slot {
            index,
            seq,
            note,
            slot_bytes,
        } => (index, seq, note.to_vec(), slot_bytes),
        Recorded::Whole(_) => panic!("not slotted"),
    }
}

#[test]
fn records_alternate_slots_and_the_newest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let guard = CheckpointGuard::new(dir.path().join("checkpoint.published"));
    for (n, slot) in (1..=5).zip([0, 1, 0, 1, 0]) {
        guard.record(&note(n)).unwrap();
        let (index, seq, got, slot_bytes) = recorded(&guard);
        assert_eq!((index, seq, got), (slot, n, note(n)));
        assert_eq!(slot_bytes, SLOT_ALIGN);
        assert_eq!(
            std::fs::metadata(guard.path()).unwrap().len(),
            2 * SLOT_ALIGN as u64
        );
    }
    assert!(!dir.path().join("checkpoint.tmp").exists());
    // Another process (a restart) continues after the newest record, over
    // the older slot.
    let again = CheckpointGuard::new(guard.path());
    again.record(&note(6)).unwrap();
    assert_eq!(recorded(&again), (1, 6, note(6), SLOT_ALIGN));
}

#[test]
fn a_torn_newest_slot_leaves_the_record_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let guard = CheckpointGuard::new(dir.path().join("checkpoint.published"));
    guard.record(&note(1)).unwrap();
    guard.record(&note(2)).unwrap();
    let mut raw = std::fs::read(guard.path()).unwrap();
    // Record 2 is in slot 1: tear its note (a crash mid-write).
    raw[SLOT_ALIGN + HEADER_BYTES + 3] ^= 0x20;
    std::fs::write(guard.path(), &raw).unwrap();
    assert_eq!(recorded(&guard).2, note(1));
    // A torn header too.
    raw[SLOT_ALIGN] = 0;
    assert_eq!(
        parse(&raw).unwrap(),
        Recorded::Slot {
            index: 0,
            seq: 1,
            note: &note(1),
            slot_bytes: SLOT_ALIGN
        }
    );
    // Slot 0 torn instead: still recognised as a slotted file by slot 1.
    let mut raw = std::fs::read(guard.path()).unwrap();
    raw[SLOT_ALIGN + HEADER_BYTES + 3] ^= 0x20;
    raw[..SLOT_ALIGN].fill(0);
    assert_eq!(
        parse(&raw).unwrap(),
        Recorded::Slot {
            index: 1,
            seq: 2,
            note: &note(2),
            slot_bytes: SLOT_ALIGN
        }
    );
}

#[test]
fn no_intact_slot_is_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let guard = CheckpointGuard::new(dir.path().join("checkpoint.published"));
    guard.record(&note(1)).unwrap();
    guard.record(&note(2)).unwrap();
    let mut raw = std::fs::read(guard.path()).unwrap();
    raw[HEADER_BYTES + 1] ^= 1;
    raw[SLOT_ALIGN + HEADER_BYTES + 1] ^= 1;
    let err = parse(&raw).unwrap_err();
    assert_eq!(
        err,
        "neither slot holds an intact record (slot 0: checksum mismatch (a torn write); \
         slot 1: checksum mismatch (a torn write))"
    );
}

#[test]
fn a_record_from_before_slots_is_read_whole_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.published");
    std::fs::write(&path, note(7)).unwrap();
    let raw = std::fs::read(&path).unwrap();
    assert_eq!(parse(&raw).unwrap(), Recorded::Whole(&note(7)));
    let guard = CheckpointGuard::new(&path);
    guard.record(&note(8)).unwrap();
    assert_eq!(recorded(&guard), (0, 1, note(8), SLOT_ALIGN));
}

#[test]
fn a_note_that_fills_the_slot_fits_and_one_byte_more_grows_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let guard = CheckpointGuard::new(dir.path().join("checkpoint.published"));
    guard.record(&note(1)).unwrap();
    let full = vec![b'x'; SLOT_ALIGN - HEADER_BYTES];
    guard.record(&full).unwrap();
    assert_eq!(recorded(&guard), (1, 2, full.clone(), SLOT_ALIGN));
    let over = vec![b'y'; SLOT_ALIGN - HEADER_BYTES + 1];
    guard.record(&over).unwrap();
    // A new file of two-page slots, its sequence going on.
    assert_eq!(recorded(&guard), (0, 3, over, 2 * SLOT_ALIGN));
    guard.record(&note(4)).unwrap();
    assert_eq!(recorded(&guard), (1, 4, note(4), 2 * SLOT_ALIGN));
}

#[test]
fn slots_never_hold_stale_bytes_past_the_note() {
    let dir = tempfile::tempdir().unwrap();
    let guard = CheckpointGuard::new(dir.path().join("checkpoint.published"));
    guard.record(&vec![b'z'; 1000]).unwrap();
    guard.record(&note(2)).unwrap();
    guard.record(&note(3)).unwrap();
    let raw = std::fs::read(guard.path()).unwrap();
    let tail = &raw[HEADER_BYTES + note(3).len()..SLOT_ALIGN];
    assert!(tail.iter().all(|&b| b == 0));
}
