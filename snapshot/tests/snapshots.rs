//! Snapshots end to end in process: round trips, increments,
//! reproducibility, refusals that never change the store, and every kind of
//! hostile archive.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use islet_signer::Ed25519Signer;
use islet_snapshot::Error;
use islet_snapshot::import::Outcome;
use islet_store::{OWN_LOG, Store};
use islet_tlog::note::NoteSigner;
use support::*;

#[test]
fn a_full_snapshot_of_100000_entries_imports_into_an_empty_store_tile_for_tile() {
    let dir = tempfile::tempdir().unwrap();
    let source = source_store(&dir.path().join("a"), "rt", 100_000, &[]);
    let file = dir.path().join("full.tar.zst");
    export_own(&source, 0, None, &file);
    let target = Store::open(&dir.path().join("b/db"), true).unwrap();
    let report = import_file(&target, key(), &file).unwrap();
    assert_eq!(report.outcome, Outcome::Applied);
    assert_eq!(
        (report.previous_size, report.to_size, report.entries_added),
        (0, 100_000, 100_000)
    );
    let mirror = target.mirror(ORIGIN).unwrap().unwrap();
    assert_eq!(mirror.vkeys, vec![signer().verifier().to_vkey()]);
    let (a, b) = (
        source.tree_head(OWN_LOG).unwrap().unwrap(),
        target.tree_head(mirror.number).unwrap().unwrap(),
    );
    assert_eq!(a, b, "same size, root and checkpoint");
    let files = all_files(&target, mirror.number, 100_000);
    assert!(
        all_files(&source, OWN_LOG, 100_000) == files,
        "every tile and bundle is identical"
    );
    // And the imported copy, laid out as a tlog-tiles directory, passes fsck.
    let published = dir.path().join("published");
    for (name, data) in &files {
        let path = published.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    std::fs::write(published.join("checkpoint"), &b.checkpoint).unwrap();
    let report = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(islet_reader::fsck::fsck(
            &islet_reader::source::LogSource::Dir(published),
            &signer().verifier(),
            &islet_reader::fsck::FsckOptions::default(),
        ))
        .unwrap();
    assert_eq!(report.size, 100_000);
}

#[test]
fn an_increment_on_top_gives_the_state_of_a_full_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // Checkpoints at the sizes the snapshots end at; 70,000 is unaligned.
    let source = source_store(&dir.path().join("a"), "inc", 70_300, &[300, 65_536, 70_000]);
    let (full_300, inc, inc2, full) = (
        dir.path().join("300.tar.zst"),
        dir.path().join("300-70000.tar.zst"),
        dir.path().join("70000-70300.tar.zst"),
        dir.path().join("full.tar.zst"),
    );
    export_own(&source, 0, Some(300), &full_300);
    export_own(&source, 300, Some(70_000), &inc);
    export_own(&source, 70_000, None, &inc2);
    export_own(&source, 0, None, &full);
    let stepwise = Store::open(&dir.path().join("b/db"), true).unwrap();
    for f in [&full_300, &inc, &inc2] {
        assert_eq!(
            import_file(&stepwise, key(), f).unwrap().outcome,
            Outcome::Applied
        );
    }
    let whole = Store::open(&dir.path().join("c/db"), true).unwrap();
    import_file(&whole, key(), &full).unwrap();
    let (s, w) = (
        stepwise.mirror(ORIGIN).unwrap().unwrap().number,
        whole.mirror(ORIGIN).unwrap().unwrap().number,
    );
    assert_eq!(stepwise.tree_head(s).unwrap(), whole.tree_head(w).unwrap());
    assert!(all_files(&stepwise, s, 70_300) == all_files(&whole, w, 70_300));
    // A full snapshot also applies to a mirror that is part way (its first
    // entries are checked against the local tree, the rest appended).
    let part = Store::open(&dir.path().join("d/db"), true).unwrap();
    import_file(&part, key(), &full_300).unwrap();
    import_file(&part, key(), &full).unwrap();
    let p = part.mirror(ORIGIN).unwrap().unwrap().number;
    assert!(all_files(&part, p, 70_300) == all_files(&whole, w, 70_300));
}

#[test]
fn export_is_reproducible_and_reimport_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let source = source_store(&dir.path().join("a"), "rep", 1000, &[]);
    let (one, two) = (dir.path().join("1.tar.zst"), dir.path().join("2.tar.zst"));
    export_own(&source, 0, None, &one);
    export_own(&source, 0, None, &two);
    assert!(
        std::fs::read(&one).unwrap() == std::fs::read(&two).unwrap(),
        "byte for byte"
    );
    let target = Store::open(&dir.path().join("b/db"), true).unwrap();
    import_file(&target, key(), &one).unwrap();
    let before = all_files(&target, 1, 1000);
    let again = import_file(&target, key(), &two).unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyPresent);
    assert_eq!(again.entries_added, 0);
    assert!(all_files(&target, 1, 1000) == before);
}

#[test]
fn an_older_snapshot_is_refused_and_a_fork_is_kept_as_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let source = source_store(&dir.path().join("a"), "main", 600, &[300]);
    let (old, new) = (
        dir.path().join("300.tar.zst"),
        dir.path().join("600.tar.zst"),
    );
    export_own(&source, 0, Some(300), &old);
    export_own(&source, 0, None, &new);
    let target = Store::open(&dir.path().join("b/db"), true).unwrap();
    import_file(&target, key(), &new).unwrap();
    let e = import_file(&target, key(), &old).unwrap_err();
    assert!(
        matches!(e, Error::DoesNotApply { older: true, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("never rewinds"), "{e}");
    assert!(target.evidence(1).unwrap().is_empty());

    // The same key signs another tree of the same size: a fork.
    let forked = source_store(&dir.path().join("f"), "fork", 600, &[]);
    let other = dir.path().join("fork.tar.zst");
    export_own(&forked, 0, None, &other);
    let e = import_file(&target, key(), &other).unwrap_err();
    assert!(matches!(e, Error::Fork { .. }), "{e}");
    assert!(
        e.to_string().contains("same size 600, different roots"),
        "{e}"
    );
    let evidence = target.evidence(1).unwrap();
    assert_eq!(evidence.len(), 1);
    let ours = String::from_utf8(target.tree_head(1).unwrap().unwrap().checkpoint).unwrap();
    assert_eq!(evidence[0].local, ours);
    assert_ne!(evidence[0].offered, ours);
    // And an older checkpoint of the other tree is a fork too.
    let forked_old = dir.path().join("fork-300.tar.zst");
    let forked2 = source_store(&dir.path().join("g"), "fork", 600, &[300]);
    export_own(&forked2, 0, Some(300), &forked_old);
    let e = import_file(&target, key(), &forked_old).unwrap_err();
    assert!(matches!(e, Error::Fork { .. }), "{e}");
    assert_eq!(target.evidence(1).unwrap().len(), 2);
    assert_eq!(target.tree_head(1).unwrap().unwrap().size, 600);
}

#[test]
fn an_increment_needs_its_from_size_and_a_later_import_the_pinned_key() {
    let dir = tempfile::tempdir().unwrap();
    let source = source_store(&dir.path().join("a"), "k", 900, &[300, 600]);
    let (a, b) = (dir.path().join("0-300"), dir.path().join("600-900"));
    export_own(&source, 0, Some(300), &a);
    export_own(&source, 600, None, &b);
    let target = Store::open(&dir.path().join("b/db"), true).unwrap();
    let e = import_file(&target, key(), &b).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::DoesNotApply { older: false, reason } if reason.contains("extends size 600")
        ),
        "{e:?}"
    );
    import_file(&target, key(), &a).unwrap();
    let e = import_file(&target, key(), &b).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::DoesNotApply { older: false, reason }
                if reason.contains("the local copy of log.example.org is at 300")
        ),
        "{e:?}"
    );
    // Another key for the same origin is never accepted once one is pinned.
    let other = Ed25519Signer::from_seed(ORIGIN, &[8; 32]).unwrap();
    let e = import_file(&target, Some(other.verifier()), &a).unwrap_err();
    assert!(
        matches!(&e, Error::Checkpoint { reason } if reason.contains("not the one pinned")),
        "{e:?}"
    );
    // Without a key, the pinned one is used.
    assert_eq!(
        import_file(&target, None, &a).unwrap().outcome,
        Outcome::AlreadyPresent
    );
}
