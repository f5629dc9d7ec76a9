//! Snapshot files: whatever the bytes, `inspect` and the archive reader
//! (zstd frames, the strict tar reader, the manifest and every check of the
//! archive against it) answer with a verdict, never a panic, a hang or
//! unbounded memory. The reader is driven as import drives it: checkpoint,
//! manifest, the plan the manifest gives, then every file until the end.
#![no_main]

use std::io::Cursor;
use std::sync::atomic::Ordering;

use islet_snapshot_format::archive::{Counters, Item, Plan, read_archive};
use islet_snapshot_format::inspect::inspect;
use islet_snapshot_format::manifest::Manifest;
use islet_snapshot_format::PRE_MANIFEST_CAP;
use islet_snapshot_format::archive::READ_AHEAD_FILES;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let inspected = inspect(Cursor::new(data), None);

    let counters = Counters::new(PRE_MANIFEST_CAP);
    let (item_tx, items) = std::sync::mpsc::sync_channel(READ_AHEAD_FILES);
    let (plan_tx, plan_rx) = std::sync::mpsc::channel::<Plan>();
    let finished = std::thread::scope(|scope| {
        let reading = std::sync::Arc::clone(&counters);
        scope.spawn(move || read_archive(Cursor::new(data), reading, &item_tx, &plan_rx));
        // Both ends are dropped when this closure returns, as import drops
        // them, so the reader is released whatever the verdict.
        let (items, plan_tx) = (items, plan_tx);
        let Ok(Ok(Item::Checkpoint(_))) = items.recv() else {
            return false;
        };
        let Ok(Ok(Item::Manifest(bytes))) = items.recv() else {
            return false;
        };
        let Ok(manifest) = Manifest::parse(&bytes) else {
            return false;
        };
        let plan = Plan::for_manifest(&manifest, counters.read.load(Ordering::Relaxed));
        let limit = plan.limit;
        if plan_tx.send(plan).is_err() {
            return false;
        }
        loop {
            match items.recv() {
                Ok(Ok(Item::File(..))) => {
                    // Decompressed bytes never pass the cap the plan set.
                    assert!(counters.read.load(Ordering::Relaxed) <= limit);
                }
                Ok(Ok(Item::End)) => return true,
                Ok(Ok(_)) | Ok(Err(_)) | Err(_) => return false,
            }
        }
    });
    // A file the reader takes whole has a checkpoint and a manifest that
    // inspect reads too.
    if finished {
        assert!(inspected.is_ok(), "{inspected:?}");
    }
});
