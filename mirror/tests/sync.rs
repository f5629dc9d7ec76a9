//! `mirror sync` from tlog-tiles directories: growth, up to date, never
//! rewind, forks kept as evidence, tampered upstreams refused with the
//! mirror unchanged, and an interrupted sync resumed.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use islet_mirror::Error;
use islet_mirror::sync::{Outcome, SyncReport, SyncRequest, Upstream, sync};
use islet_reader::source::LogSource;
use islet_reader::tiledir::write_log;
use islet_signer::Ed25519Signer;
use islet_store::Store;
use islet_tlog::note::NoteSigner;
use islet_tlog::tiles::{BundleId, TilePath, tiles_for_size};

const ORIGIN: &str = "upstream.example.org";

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(ORIGIN, &[9; 32]).unwrap()
}

fn entry(tag: &str, i: u64, pad: usize) -> Vec<u8> {
    format!(
        r#"{{"apiVersion":"0.0.2","kind":"test","spec":{{"tag":"{tag}","i":{i},"pad":"{}"}}}}"#,
        "p".repeat(pad + (i % 13) as usize)
    )
    .into_bytes()
}

/// A tlog-tiles directory of `size` entries tagged `tag`.
fn upstream(dir: &Path, tag: &str, size: u64, pad: usize) -> PathBuf {
    write_log(
        dir,
        ORIGIN,
        &signer(),
        (0..size).map(|i| entry(tag, i, pad)),
    )
    .unwrap();
    dir.to_path_buf()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sync_dir(store: &Store, dir: &Path) -> Result<SyncReport, Error> {
    let req = SyncRequest {
        store,
        key: Some(signer().verifier()),
        origin: ORIGIN.into(),
        own_origin: None,
        concurrency: 4,
        progress: false,
    };
    let rt = runtime();
    sync(
        &req,
        &Upstream::Log(LogSource::Dir(dir.to_path_buf())),
        rt.handle(),
    )
}

/// The mirror holds exactly the upstream's tiles and bundles at `size`.
fn assert_same_tiles(store: &Store, dir: &Path, size: u64) {
    let log = store.mirror(ORIGIN).unwrap().unwrap().number;
    let head = store.tree_head(log).unwrap().unwrap();
    assert_eq!(head.size, size);
    let mut checked = 0;
    let paths = tiles_for_size(size).flat_map(|t| {
        let bundle = (t.level == 0).then(|| TilePath::Entries(t.bundle()));
        std::iter::once(TilePath::Hash(t)).chain(bundle)
    });
    for path in paths {
        let name = path.to_string();
        let ours = match path {
            TilePath::Hash(t) => store.tile_at(log, t, size).unwrap().unwrap(),
            TilePath::Entries(b) => store.bundle_at(log, b, size).unwrap().unwrap(),
        };
        let theirs = std::fs::read(dir.join(&name)).unwrap();
        assert_eq!(ours, theirs, "{name}");
        checked += 1;
    }
    assert!(checked > 0);
    assert_eq!(
        head.checkpoint,
        std::fs::read(dir.join("checkpoint")).unwrap()
    );
}

/// Nothing past the committed size is staged.
fn assert_nothing_staged(store: &Store) {
    let log = store.mirror(ORIGIN).unwrap().unwrap().number;
    let size = store.tree_head(log).unwrap().unwrap().size;
    assert_eq!(store.staged_progress(log).unwrap(), None);
    let next = size / 256 + 1;
    assert_eq!(
        store.bundle(log, next).unwrap(),
        None,
        "bundle {next} staged"
    );
    if !size.is_multiple_of(256) {
        let edge = store.bundle(log, size / 256).unwrap().unwrap();
        let width = u16::try_from(size % 256).unwrap();
        let id = BundleId {
            index: size / 256,
            width,
        };
        assert_eq!(
            islet_tlog::tiles::bundle_prefix_len(id, &edge).unwrap(),
            edge.len(),
            "the edge bundle holds more than {size} entries"
        );
    }
}

#[test]
fn a_mirror_follows_its_upstream_and_is_identical_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let small = upstream(&tmp.path().join("u300"), "a", 300, 20);
    let large = upstream(&tmp.path().join("u1000"), "a", 1000, 20);
    let store = Store::open(&tmp.path().join("db"), true).unwrap();

    let r = sync_dir(&store, &small).unwrap();
    assert_eq!(
        (r.outcome, r.previous_size, r.size),
        (Outcome::Applied, 0, 300)
    );
    assert_same_tiles(&store, &small, 300);

    // 300 is not a multiple of 256: the growth re-fetches bundle 1 and
    // checks its first 44 entries against the mirror's.
    let r = sync_dir(&store, &large).unwrap();
    assert_eq!(
        (r.outcome, r.previous_size, r.size),
        (Outcome::Applied, 300, 1000)
    );
    assert_eq!(r.entries_added, 700);
    assert!(r.fetched_bytes > 0);
    assert_same_tiles(&store, &large, 1000);

    let r = sync_dir(&store, &large).unwrap();
    assert_eq!((r.outcome, r.size), (Outcome::UpToDate, 1000));
    assert_nothing_staged(&store);
}

#[test]
fn an_older_upstream_is_not_applied_and_a_fork_is_kept_as_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let small = upstream(&tmp.path().join("u300"), "a", 300, 20);
    let large = upstream(&tmp.path().join("u1000"), "a", 1000, 20);
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    sync_dir(&store, &large).unwrap();
    let log = store.mirror(ORIGIN).unwrap().unwrap().number;
    let before = store.tree_head(log).unwrap().unwrap();

    let e = sync_dir(&store, &small).unwrap_err();
    assert!(matches!(e, Error::Behind { .. }), "{e}");
    assert!(e.is_refusal());
    assert!(e.to_string().contains("never rewinds"), "{e}");
    assert_eq!(store.tree_head(log).unwrap().unwrap(), before);
    assert!(store.evidence(log).unwrap().is_empty());

    // The same key signs another tree of the same size.
    let forked = upstream(&tmp.path().join("f1000"), "b", 1000, 20);
    let e = sync_dir(&store, &forked).unwrap_err();
    assert!(matches!(e, Error::Fork { .. }), "{e}");
    assert!(e.to_string().contains("same size 1000"), "{e}");
    let evidence = store.evidence(log).unwrap();
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].local.as_bytes(), before.checkpoint.as_slice());
    assert_eq!(
        evidence[0].offered.as_bytes(),
        std::fs::read(forked.join("checkpoint")).unwrap().as_slice()
    );
    // An older tree of the other log, and a larger one, are forks too.
    let forked_small = upstream(&tmp.path().join("f300"), "b", 300, 20);
    let e = sync_dir(&store, &forked_small).unwrap_err();
    assert!(matches!(e, Error::Fork { .. }), "{e}");
    let forked_large = upstream(&tmp.path().join("f2000"), "b", 2000, 20);
    let e = sync_dir(&store, &forked_large).unwrap_err();
    assert!(matches!(e, Error::Fork { .. }), "{e}");
    assert!(e.to_string().contains("implies root"), "{e}");
    assert_eq!(store.evidence(log).unwrap().len(), 3);
    assert_eq!(store.tree_head(log).unwrap().unwrap(), before);
    assert_nothing_staged(&store);
}

/// The entry-bundle files of a directory log, with their bundles.
fn bundle_files(dir: &Path) -> Vec<(BundleId, PathBuf)> {
    walk(&dir.join("tile/entries"))
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
            let TilePath::Entries(b) = TilePath::parse(&rel).unwrap() else {
                panic!("{rel}");
            };
            (b, p)
        })
        .collect()
}

/// Removes entry bundles `first..` of a directory log (an rsync that has
/// not got there yet).
fn remove_bundles_from(dir: &Path, first: u64) {
    let mut removed = 0;
    for (b, p) in bundle_files(dir) {
        if b.index >= first {
            std::fs::remove_file(&p).unwrap();
            removed += 1;
        }
    }
    assert!(removed > 0);
}

fn copy_dir(from: &Path, to: &Path) {
    for item in walk(from) {
        let rel = item.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&item, &dest).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// True when `e` is [`Error::TreeMismatch`] and its reason says `says`.
fn tree_mismatch(e: &Error, says: &str) -> bool {
    matches!(e, Error::TreeMismatch { reason } if reason.contains(says))
}

#[test]
fn tampered_upstreams_are_refused_and_the_mirror_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let small = upstream(&tmp.path().join("u300"), "a", 300, 20);
    let large = upstream(&tmp.path().join("u1000"), "a", 1000, 20);
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    sync_dir(&store, &small).unwrap();
    let log = store.mirror(ORIGIN).unwrap().unwrap().number;
    let before = store.tree_head(log).unwrap().unwrap();

    type Tamper = fn(&Path);
    // Each case: how the upstream is tampered with, and the refusal it
    // must get. Entries past the mirror's size rebuild another root; an
    // entry the mirror holds differs from the local copy (both are a
    // TreeMismatch, told apart by the reason).
    type Refused = fn(&Error) -> bool;
    let cases: [(&str, Tamper, Refused); 4] = [
        (
            "a flipped bit in a full bundle",
            |d| flip_entry(&d.join("tile/entries/002"), 3),
            |e| tree_mismatch(e, "hash to root"),
        ),
        (
            "a flipped bit in the partial bundle",
            |d| flip_entry(&d.join("tile/entries/003.p/232"), 100),
            |e| tree_mismatch(e, "hash to root"),
        ),
        (
            "a flipped bit in the checkpoint's signature",
            |d| {
                let p = d.join("checkpoint");
                let len = std::fs::metadata(&p).unwrap().len();
                flip(&p, usize::try_from(len).unwrap() - 10);
            },
            |e| matches!(e, Error::Checkpoint { .. }),
        ),
        (
            "an entry the mirror holds, changed",
            |d| flip_entry(&d.join("tile/entries/001"), 2),
            |e| tree_mismatch(e, "other than the local copy"),
        ),
    ];
    for (i, (what, tamper, refused)) in cases.into_iter().enumerate() {
        let dir = tmp.path().join(format!("t{i}"));
        copy_dir(&large, &dir);
        tamper(&dir);
        let e = sync_dir(&store, &dir).unwrap_err();
        assert!(e.is_refusal(), "{what}: {e}");
        assert!(refused(&e), "{what}: {e:?}");
        assert_eq!(store.tree_head(log).unwrap().unwrap(), before, "{what}");
        assert_nothing_staged(&store);
        assert!(store.evidence(log).unwrap().is_empty(), "{what}: {e}");
    }
    // The untouched upstream still syncs.
    sync_dir(&store, &large).unwrap();
    assert_same_tiles(&store, &large, 1000);
}

/// Flips a bit inside the `n`-th entry's JSON (its `"tag"` value), so the
/// bundle still parses.
fn flip_entry(path: &Path, n: usize) {
    let bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(6)
        .enumerate()
        .filter(|(_, w)| *w == b"\"tag\":")
        .nth(n)
        .unwrap()
        .0;
    flip(path, at + 7);
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn an_interrupted_sync_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    // About 1 KB per entry: 30,000 entries stage several times.
    let full = upstream(&tmp.path().join("u"), "a", 30_000, 1000);
    let store = Store::open(&tmp.path().join("db"), true).unwrap();

    // The upstream is missing its last bundles (an rsync still running).
    let partial = tmp.path().join("partial");
    copy_dir(&full, &partial);
    remove_bundles_from(&partial, 100);
    let e = sync_dir(&store, &partial).unwrap_err();
    assert!(!e.is_refusal(), "a missing file is not a refusal: {e}");
    let log = store.next_log_number().unwrap();
    assert!(store.mirror(ORIGIN).unwrap().is_none(), "nothing committed");
    let progress = store.staged_progress(log).unwrap().expect("progress kept");
    assert_eq!(progress.base, 0);
    assert!(progress.size > 10_000, "staged {}", progress.size);
    assert!(progress.size <= 25_600, "staged {}", progress.size);

    let r = sync_dir(&store, &full).unwrap();
    assert_eq!(r.resumed_from, Some(progress.size));
    assert_eq!((r.previous_size, r.size), (0, 30_000));
    // It fetched the bundles from the one holding entry progress.size on,
    // and nothing before.
    let expected: u64 = bundle_files(&full)
        .into_iter()
        .filter(|(b, _)| b.index >= progress.size / 256)
        .map(|(_, p)| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(r.fetched_bytes, expected);
    assert_same_tiles(&store, &full, 30_000);
    assert_nothing_staged(&store);
}

#[test]
fn a_resumed_sync_still_checks_the_signed_root() {
    let tmp = tempfile::tempdir().unwrap();
    let full = upstream(&tmp.path().join("u"), "a", 30_000, 1000);
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    let partial = tmp.path().join("partial");
    copy_dir(&full, &partial);
    remove_bundles_from(&partial, 100);
    sync_dir(&store, &partial).unwrap_err();
    let log = store.next_log_number().unwrap();
    assert!(store.staged_progress(log).unwrap().is_some());

    // The staged entries came from one log; the upstream now serves
    // another, signed by the same key: the rebuilt root is not its root.
    let other = upstream(&tmp.path().join("o"), "b", 30_000, 1000);
    let e = sync_dir(&store, &other).unwrap_err();
    assert!(matches!(e, Error::TreeMismatch { .. }), "{e}");
    assert_eq!(store.staged_progress(log).unwrap(), None, "discarded");
    assert!(store.mirror(ORIGIN).unwrap().is_none());
    // And the right log syncs from scratch.
    let r = sync_dir(&store, &other).unwrap();
    assert_eq!(r.resumed_from, None);
    assert_same_tiles(&store, &other, 30_000);
}

#[test]
fn upstream_arguments_name_one_url_one_directory_or_snapshot_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = upstream(&tmp.path().join("u"), "a", 3, 0);
    let file = tmp.path().join("s.tar.zst");
    std::fs::write(&file, b"not checked here").unwrap();
    let arg = |p: &Path| p.to_str().unwrap().to_owned();
    assert!(matches!(
        Upstream::from_args(&[arg(&dir)]).unwrap(),
        Upstream::Log(LogSource::Dir(_))
    ));
    assert!(matches!(
        Upstream::from_args(&["https://log.example/api/v2".into()]).unwrap(),
        Upstream::Log(LogSource::Http { .. })
    ));
    assert!(matches!(
        Upstream::from_args(&[arg(&file), arg(&file)]).unwrap(),
        Upstream::Snapshots(f) if f.len() == 2
    ));
    for bad in [
        vec![],
        vec![arg(&dir), arg(&file)],
        vec![arg(&file), "https://log.example/api/v2".into()],
        vec![arg(&tmp.path().join("missing"))],
    ] {
        let e = Upstream::from_args(&bad).unwrap_err();
        assert!(
            matches!(e, Error::Usage { .. }) && !e.is_refusal(),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn the_key_is_pinned_and_the_origin_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let small = upstream(&tmp.path().join("u300"), "a", 300, 20);
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    let rt = runtime();
    let source = Upstream::Log(LogSource::Dir(small.clone()));
    let other_key = Ed25519Signer::from_seed(ORIGIN, &[10; 32])
        .unwrap()
        .verifier();
    let mut req = SyncRequest {
        store: &store,
        key: Some(other_key.clone()),
        origin: ORIGIN.into(),
        own_origin: None,
        concurrency: 4,
        progress: false,
    };
    let e = sync(&req, &source, rt.handle()).unwrap_err();
    assert!(matches!(e, Error::Checkpoint { .. }), "{e}");
    assert!(store.mirror(ORIGIN).unwrap().is_none());

    // Without a key there is nothing to pin: a usage error.
    req.key = None;
    let e = sync(&req, &source, rt.handle()).unwrap_err();
    assert!(matches!(e, Error::Usage { .. }) && !e.is_refusal(), "{e}");

    // Pinned by the first sync; another key is refused later.
    req.key = Some(signer().verifier());
    sync(&req, &source, rt.handle()).unwrap();
    req.key = Some(other_key);
    let e = sync(&req, &source, rt.handle()).unwrap_err();
    assert!(
        matches!(&e, Error::Checkpoint { reason } if reason.contains("not the one pinned")),
        "{e:?}"
    );
    req.key = None;
    assert_eq!(
        sync(&req, &source, rt.handle()).unwrap().outcome,
        Outcome::UpToDate
    );

    // The own origin cannot be mirrored; concurrency is bounded.
    req.own_origin = Some(ORIGIN.into());
    assert!(matches!(
        sync(&req, &source, rt.handle()).unwrap_err(),
        Error::Usage { .. }
    ));
    req.own_origin = None;
    for (c, ok) in [(0, false), (1, true), (32, true), (33, false)] {
        req.concurrency = c;
        let r = sync(&req, &source, rt.handle());
        assert_eq!(r.is_ok(), ok, "concurrency {c}: {r:?}");
    }
}

#[test]
fn partial_bundles_that_are_gone_are_read_from_the_full_ones() {
    // The upstream's files are at 512 entries (no partial files left at
    // 300), but the checkpoint it serves is still the one of size 300: the
    // partial bundle 1 of width 44 is asked for, is not there, and comes
    // from the first 44 entries of the full bundle.
    let tmp = tempfile::tempdir().unwrap();
    let at_300 = upstream(&tmp.path().join("u300"), "a", 300, 20);
    let at_512 = upstream(&tmp.path().join("u512"), "a", 512, 20);
    assert!(!at_512.join("tile/entries/001.p/44").exists());
    std::fs::copy(at_300.join("checkpoint"), at_512.join("checkpoint")).unwrap();
    let store = Store::open(&tmp.path().join("db"), true).unwrap();
    let r = sync_dir(&store, &at_512).unwrap();
    assert_eq!((r.outcome, r.size), (Outcome::Applied, 300));
    assert_same_tiles(&store, &at_300, 300);
    // The growth to 512 proves the tree at 300 from the tiles of the tree
    // at 512 (the only ones a checkpoint of 512 implies), then fetches
    // the rest.
    let full = upstream(&tmp.path().join("u512b"), "a", 512, 20);
    let r = sync_dir(&store, &full).unwrap();
    assert_eq!((r.previous_size, r.size), (300, 512));
    assert_same_tiles(&store, &full, 512);
}
