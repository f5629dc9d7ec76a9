//! Staging rows of an extension: whole level-0 tiles and bundles of a
//! large stage are written as SST files and ingested, and the progress
//! marker never runs ahead of the rows it describes.

#![allow(missing_docs, clippy::unwrap_used)]

use islet_store::stager::{INGEST_FILE_BYTES, INGEST_MIN_BYTES};
use islet_store::{CommitBatch, StagedProgress, Store};
use islet_tlog::tiles::{BundleId, TileId};

const LOG: u32 = 1;

fn full_bundle(index: u64) -> BundleId {
    BundleId { index, width: 256 }
}

/// `len` bytes that do not compress (bundles are stored with LZ4), the
/// first one `tag`.
fn noise(len: usize, tag: u8) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(tag) ^ len as u64;
    let mut v: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    if let Some(b) = v.first_mut() {
        *b = tag;
    }
    v
}

/// Whole bundles `first..` whose bytes add up to exactly `total`, each
/// starting with `tag`.
fn bundles(first: u64, total: usize, count: usize, tag: u8) -> CommitBatch {
    let mut batch = CommitBatch::default();
    let each = total / count;
    for i in 0..count {
        let len = if i + 1 == count {
            total - each * (count - 1)
        } else {
            each
        };
        batch
            .bundles
            .push((full_bundle(first + i as u64), noise(len, tag).into()));
    }
    batch
}

fn progress(size: u64) -> StagedProgress {
    StagedProgress {
        base: 0,
        size,
        target: b"checkpoint".to_vec(),
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    (tmp, store)
}

/// What is left in the store's directory of SST files being written.
fn leftover_files(tmp: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tmp.join("db").join("ingest"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// Stages `batch` without a marker and finishes.
fn stage_once(store: &Store, batch: &CommitBatch) {
    let mut stager = store.stager(LOG);
    stager.stage(batch, None).unwrap();
    stager.finish().unwrap();
}

#[test]
fn a_stage_with_a_mebibyte_of_whole_bundles_is_ingested_and_one_byte_less_is_not() {
    let (_tmp, store) = open();
    stage_once(&store, &bundles(0, INGEST_MIN_BYTES, 4, 1));
    assert_eq!(store.ingestions(), 1);
    assert_eq!(
        store.bundle(LOG, 3).unwrap().unwrap().len(),
        INGEST_MIN_BYTES / 4
    );

    let (_tmp, store) = open();
    stage_once(&store, &bundles(0, INGEST_MIN_BYTES - 1, 4, 1));
    assert_eq!(store.ingestions(), 0, "written through the memtable");
    let first = store.bundle(LOG, 0).unwrap().unwrap();
    assert!(
        first == noise((INGEST_MIN_BYTES - 1) / 4, 1),
        "bundle 0 as staged"
    );
}

#[test]
fn partial_tiles_and_higher_levels_are_never_ingested() {
    let (_tmp, store) = open();
    let mut batch = bundles(0, INGEST_MIN_BYTES, 4, 1);
    let partial = TileId {
        level: 0,
        index: 4,
        width: 3,
    };
    let upper = TileId {
        level: 1,
        index: 0,
        width: 4,
    };
    batch.tiles.push((partial, vec![7; 96]));
    batch.tiles.push((upper, vec![8; 128]));
    batch
        .bundles
        .push((BundleId { index: 4, width: 3 }, vec![9; 50].into()));
    let mut stager = store.stager(LOG);
    stager.stage(&batch, None).unwrap();
    // Rows that are not bulk are in the store at once; the bulk only once
    // the files are ingested.
    assert_eq!(store.tile(LOG, 0, 4).unwrap().unwrap(), vec![7; 96]);
    assert_eq!(store.tile(LOG, 1, 0).unwrap().unwrap(), vec![8; 128]);
    assert_eq!(store.bundle(LOG, 4).unwrap().unwrap(), vec![9; 50]);
    assert_eq!(store.bundle(LOG, 0).unwrap(), None);
    stager.finish().unwrap();
    assert_eq!(store.ingestions(), 1);
    assert_eq!(
        store.bundle(LOG, 0).unwrap().unwrap().len(),
        INGEST_MIN_BYTES / 4
    );
}

#[test]
fn the_marker_waits_until_the_rows_it_describes_are_ingested() {
    let (_tmp, store) = open();
    let mut stager = store.stager(LOG);
    // A first small stage goes through the memtable, marker and all.
    stager
        .stage(&bundles(0, 1000, 1, 1), Some(&progress(256)))
        .unwrap();
    assert_eq!(store.staged_progress(LOG).unwrap(), Some(progress(256)));
    // A large one opens files: its rows and its marker wait for them.
    stager
        .stage(&bundles(1, INGEST_MIN_BYTES, 4, 2), Some(&progress(1280)))
        .unwrap();
    assert_eq!(store.staged_progress(LOG).unwrap(), Some(progress(256)));
    assert_eq!(store.bundle(LOG, 1).unwrap(), None);
    stager.finish().unwrap();
    assert_eq!(store.staged_progress(LOG).unwrap(), Some(progress(1280)));
    let last = store.bundle(LOG, 4).unwrap().unwrap();
    assert!(last == noise(INGEST_MIN_BYTES / 4, 2), "bundle 4 as staged");
}

#[test]
fn a_stager_dropped_unfinished_leaves_no_files_no_rows_and_the_old_marker() {
    let (tmp, store) = open();
    let mut stager = store.stager(LOG);
    stager
        .stage(&bundles(0, 1000, 1, 1), Some(&progress(256)))
        .unwrap();
    stager
        .stage(&bundles(1, INGEST_MIN_BYTES, 4, 2), Some(&progress(1280)))
        .unwrap();
    drop(stager);
    assert_eq!(store.ingestions(), 0);
    assert_eq!(store.staged_progress(LOG).unwrap(), Some(progress(256)));
    assert_eq!(store.bundle(LOG, 1).unwrap(), None);
    let left = leftover_files(tmp.path());
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn rows_staged_again_out_of_order_keep_the_latest_bytes() {
    let (_tmp, store) = open();
    let mut stager = store.stager(LOG);
    stager
        .stage(&bundles(0, INGEST_MIN_BYTES, 4, 1), None)
        .unwrap();
    // The same bundles again, other bytes (a range written twice).
    stager
        .stage(&bundles(0, INGEST_MIN_BYTES, 4, 3), None)
        .unwrap();
    stager.finish().unwrap();
    assert_eq!(store.ingestions(), 2, "the open files went in first");
    for i in 0..4 {
        assert_eq!(store.bundle(LOG, i).unwrap().unwrap()[0], 3);
    }
}

#[test]
fn files_are_ingested_as_they_fill_not_only_at_the_end() {
    let (_tmp, store) = open();
    let mut stager = store.stager(LOG);
    let per_stage = 8 * 1024 * 1024;
    let mut first = 0;
    let mut staged = 0u64;
    // The files go in once they hold INGEST_FILE_BYTES: not a stage
    // before, and at the latest with the stage that gets them there.
    while store.ingestions() == 0 {
        assert!(
            staged <= INGEST_FILE_BYTES,
            "nothing ingested after {staged} bytes"
        );
        stager
            .stage(&bundles(first, per_stage, 64, 5), None)
            .unwrap();
        first += 64;
        staged += per_stage as u64;
    }
    assert!(staged >= INGEST_FILE_BYTES, "ingested after {staged} bytes");
    // New files start; finishing ingests them.
    stager
        .stage(&bundles(first, per_stage, 64, 6), None)
        .unwrap();
    assert_eq!(store.ingestions(), 1);
    stager.finish().unwrap();
    assert_eq!(store.ingestions(), 2);
    assert_eq!(store.bundle(LOG, first + 63).unwrap().unwrap()[0], 6);
}

#[test]
fn discarding_removes_ingested_rows_and_cuts_the_edge_back() {
    let (_tmp, store) = open();
    stage_once(&store, &bundles(0, INGEST_MIN_BYTES, 4, 1));
    assert_eq!(store.ingestions(), 1);
    // Back to 256 committed entries: bundle 0 stays, bundles 1 to 3 go.
    store.discard_staged(LOG, 256).unwrap();
    assert!(store.bundle(LOG, 0).unwrap().is_some());
    for i in 1..4 {
        assert_eq!(store.bundle(LOG, i).unwrap(), None, "bundle {i}");
    }
}

#[test]
fn files_left_by_a_crash_are_removed_when_the_store_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    drop(Store::open(&db, true).unwrap());
    std::fs::create_dir_all(db.join("ingest")).unwrap();
    std::fs::write(db.join("ingest").join("1-0-bundles.sst"), b"half a file").unwrap();
    let store = Store::open(&db, false).unwrap();
    assert!(!db.join("ingest").exists());
    drop(store);
}

/// Bundles from `first` on, in stages of a little over 8 MiB, until one
/// set of files holds INGEST_FILE_BYTES and has been handed to the
/// background thread (no files are open after it); the next index.
fn fill_one_set(stager: &mut islet_store::Stager<'_>, first: u64, tag: u8) -> u64 {
    let per_stage = 8 * 1024 * 1024 + 64 * 1024;
    let mut next = first;
    let mut staged = 0u64;
    while staged < INGEST_FILE_BYTES {
        stager
            .stage(&bundles(next, per_stage, 64, tag), None)
            .unwrap();
        next += 64;
        staged += per_stage as u64;
    }
    next
}

#[test]
fn with_a_background_thread_a_memtable_row_below_files_in_flight_still_wins() {
    let (_tmp, store) = open();
    let mut set = 0;
    std::thread::scope(|scope| {
        // One large set sealed and on its way in, then a small stage (it
        // goes through the memtable) rewriting a bundle inside that set.
        let mut stager = store.stager(LOG).ingest_on(scope).unwrap();
        set = fill_one_set(&mut stager, 0, 5);
        stager.stage(&bundles(3, 1000, 1, 9), None).unwrap();
        stager.finish().unwrap();
    });
    assert_eq!(store.ingestions(), 1);
    assert_eq!(store.bundle(LOG, 2).unwrap().unwrap()[0], 5);
    assert_eq!(store.bundle(LOG, set - 1).unwrap().unwrap()[0], 5);
    let rewritten = store.bundle(LOG, 3).unwrap().unwrap();
    assert_eq!(rewritten.len(), 1000, "the later, smaller bundle");
    assert_eq!(rewritten[0], 9);
}

#[test]
fn with_a_background_thread_the_marker_follows_the_files_it_describes() {
    let (_tmp, store) = open();
    std::thread::scope(|scope| {
        let mut stager = store.stager(LOG).ingest_on(scope).unwrap();
        let next = fill_one_set(&mut stager, 0, 1);
        // A small stage while that set may still be going in: its marker
        // must not be written before the set is.
        stager
            .stage(
                &bundles(next, 1000, 1, 2),
                Some(&progress((next + 1) * 256)),
            )
            .unwrap();
        if let Some(p) = store.staged_progress(LOG).unwrap() {
            assert_eq!(p, progress((next + 1) * 256));
            assert!(store.bundle(LOG, next - 1).unwrap().is_some());
        }
        stager.finish().unwrap();
        assert_eq!(
            store.staged_progress(LOG).unwrap(),
            Some(progress((next + 1) * 256))
        );
        for i in [0, next - 1, next] {
            assert!(store.bundle(LOG, i).unwrap().is_some(), "bundle {i}");
        }
    });
    assert_eq!(store.ingestions(), 1);
}

#[test]
fn with_a_background_thread_a_dropped_stager_leaves_no_files_and_no_marker_ahead_of_its_rows() {
    let (tmp, store) = open();
    let mut next = 0;
    std::thread::scope(|scope| {
        let mut stager = store.stager(LOG).ingest_on(scope).unwrap();
        next = fill_one_set(&mut stager, 0, 1);
        stager
            .stage(&bundles(next, INGEST_MIN_BYTES, 4, 2), Some(&progress(1)))
            .unwrap();
        drop(stager);
    });
    // The marker of the open files was never written, and no file is
    // left behind, ingested or not.
    assert_eq!(store.staged_progress(LOG).unwrap(), None);
    assert_eq!(store.bundle(LOG, next).unwrap(), None);
    let left = leftover_files(tmp.path());
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_store_whose_creation_was_interrupted_says_so_and_the_next_open_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    // A process killed before RocksDB wrote CURRENT leaves the directory
    // with its lock and log files only.
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("LOCK"), b"").unwrap();
    let e = Store::open_read_only(&db).unwrap_err();
    assert!(
        matches!(
            e,
            islet_store::Error::NoStore {
                interrupted: true,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("its creation was interrupted"),
        "{e}"
    );
    // No directory at all is not an interrupted creation, and a read-only
    // open leaves nothing behind.
    let none = tmp.path().join("none");
    let e = Store::open_read_only(&none).unwrap_err();
    assert!(
        matches!(
            e,
            islet_store::Error::NoStore {
                interrupted: false,
                ..
            }
        ),
        "{e}"
    );
    assert!(!none.exists());
    drop(Store::open(&db, true).unwrap());
    let store = Store::open_read_only(&db).unwrap();
    assert!(store.mirrors().unwrap().is_empty());
}
