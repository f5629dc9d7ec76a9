//! Every limit of snapshot import, at the limit and one past it.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use islet_snapshot::manifest::{MANIFEST_NAME, MAX_FILES, MAX_MANIFEST_BYTES, Manifest};
use islet_snapshot::{Error, MAX_BUNDLE_BYTES, ZSTD_WINDOW_LOG_MAX};
use islet_store::Store;
use islet_tlog::note::MAX_NOTE_SIZE;
use support::*;

fn valid(dir: &std::path::Path) -> Vec<u8> {
    let source = source_store(&dir.join("src"), "lim", 300, &[]);
    let file = dir.join("s.tar.zst");
    export_own(&source, 0, None, &file);
    std::fs::read(file).unwrap()
}

fn refusal(store: &Store, members: &[Member]) -> Error {
    import_bytes(store, key(), &pack(members)).unwrap_err()
}

#[test]
fn member_sizes_are_capped_at_their_limits() {
    let dir = tempfile::tempdir().unwrap();
    let good = valid(dir.path());
    let store = Store::open(&dir.path().join("t/db"), true).unwrap();

    // The checkpoint: at the size limit it is read (and then fails to
    // verify); one byte more and it is refused unread.
    for (size, capped) in [(MAX_NOTE_SIZE, false), (MAX_NOTE_SIZE + 1, true)] {
        let mut m = unpack(&good);
        m[0].data = vec![b'x'; size];
        let e = refusal(&store, &m);
        let refused = if capped {
            matches!(&e, Error::Archive { reason } if reason.contains("a checkpoint is at most"))
        } else {
            matches!(e, Error::Checkpoint { .. })
        };
        assert!(refused, "{size}: {e:?}");
    }
    // The manifest: padded with whitespace to exactly the limit it is read
    // and parses; one byte more is refused.
    for (pad_to, capped) in [(MAX_MANIFEST_BYTES, false), (MAX_MANIFEST_BYTES + 1, true)] {
        let mut m = unpack(&good);
        let i = m.iter().position(|x| x.name() == MANIFEST_NAME).unwrap();
        let mut data = m[i].data.clone();
        data.resize(usize::try_from(pad_to).unwrap(), b' ');
        m[i].data = data;
        let r = import_bytes(&store, key(), &pack(&m));
        if capped {
            let e = r.unwrap_err();
            assert!(
                matches!(&e, Error::Archive { reason } if reason.contains("at most")),
                "{e:?}"
            );
        } else {
            r.unwrap();
        }
    }
}

#[test]
fn a_manifest_may_list_at_most_max_files() {
    let entry = |i: usize| islet_snapshot::manifest::FileEntry {
        name: format!("f{i:07}"),
        size: 0,
        sha256: "0".repeat(64),
    };
    for (n, capped) in [(MAX_FILES, false), (MAX_FILES + 1, true)] {
        let m = Manifest {
            version: 1,
            origin: ORIGIN.into(),
            log_keys: vec![],
            from_size: 0,
            to_size: 0,
            files: (0..n).map(entry).collect(),
        };
        // Both are refused (the files are not those of a snapshot); only
        // one past the limit for being too many.
        let e = Manifest::parse(&m.to_bytes()).unwrap_err();
        assert!(
            matches!(
                &e,
                islet_snapshot_format::Error::Manifest { reason }
                    if reason.contains("at most") == capped
            ),
            "{n}: {e:?}"
        );
    }
}

#[test]
fn a_bundle_member_is_capped_at_the_largest_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let good = valid(dir.path());
    let store = Store::open(&dir.path().join("t/db"), true).unwrap();
    let name = "tile/entries/000";
    for (size, capped) in [(MAX_BUNDLE_BYTES, false), (MAX_BUNDLE_BYTES + 1, true)] {
        let mut m = unpack(&good);
        let i = m.iter().position(|x| x.name() == name).unwrap();
        m[i].data = vec![0; usize::try_from(size).unwrap()];
        let mi = m.iter().position(|x| x.name() == MANIFEST_NAME).unwrap();
        let mut manifest = Manifest::parse(&m[mi].data).unwrap();
        manifest
            .files
            .iter_mut()
            .find(|f| f.name == name)
            .unwrap()
            .size = size;
        m[mi].data = manifest.to_bytes();
        // Both are refused (the digest is not the manifest's); only one
        // past the limit for its size.
        let e = refusal(&store, &m);
        assert!(
            matches!(
                &e,
                Error::FileMismatch { reason, .. } if reason.contains("fit its kind") == capped
            ),
            "{size}: {e:?}"
        );
    }
}

#[test]
fn the_zstd_window_is_accepted_up_to_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let tar = zstd::decode_all(valid(dir.path()).as_slice()).unwrap();
    for (log, ok) in [
        (ZSTD_WINDOW_LOG_MAX, true),
        (ZSTD_WINDOW_LOG_MAX + 1, false),
    ] {
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.window_log(log).unwrap();
        enc.long_distance_matching(true).unwrap();
        std::io::Write::write_all(&mut enc, &tar).unwrap();
        let bytes = enc.finish().unwrap();
        let store = Store::open(&dir.path().join(format!("t{log}/db")), true).unwrap();
        let r = import_bytes(&store, key(), &bytes);
        assert_eq!(
            r.is_ok(),
            ok,
            "window 2^{log}: {:?}",
            r.err().map(|e| e.to_string())
        );
    }
}
