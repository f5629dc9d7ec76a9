//! Hostile archives: every one refused with a clear error, the store left
//! exactly as it was, and nothing written anywhere else.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use islet_signer::Ed25519Signer;
use islet_snapshot::Error;
use islet_snapshot::manifest::{MANIFEST_NAME, Manifest};
use islet_store::Store;
use islet_tlog::checkpoint::Checkpoint;
use islet_tlog::note::NoteSigner;
use sha2::{Digest, Sha256};
use support::*;

/// A valid increment from 300 to 600 entries, and the full snapshot of 300
/// that it extends.
fn valid_pair(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let source = source_store(&dir.join("src"), "h", 600, &[300]);
    let (base, inc) = (dir.join("base"), dir.join("inc"));
    export_own(&source, 0, Some(300), &base);
    export_own(&source, 300, None, &inc);
    (std::fs::read(base).unwrap(), std::fs::read(inc).unwrap())
}

fn member_index(members: &[Member], name: &str) -> usize {
    members.iter().position(|m| m.name() == name).unwrap()
}

fn set_manifest(members: &mut [Member], edit: impl FnOnce(&mut Manifest)) {
    let i = member_index(members, MANIFEST_NAME);
    let mut m = Manifest::parse(&members[i].data).unwrap();
    edit(&mut m);
    members[i].data = m.to_bytes();
}

/// Makes the manifest agree with a member's (changed) bytes.
fn refresh_digest(members: &mut [Member], name: &str) {
    let data = members[member_index(members, name)].data.clone();
    set_manifest(members, |m| {
        let f = m.files.iter_mut().find(|f| f.name == name).unwrap();
        f.size = data.len() as u64;
        f.sha256 = hex::encode(Sha256::digest(&data));
    });
}

fn flip(members: &mut [Member], name: &str, byte: usize) {
    let i = member_index(members, name);
    members[i].data[byte] ^= 0x10;
}

fn insert(members: &mut Vec<Member>, at: usize, header: tar::Header, data: &[u8]) {
    members.insert(
        at,
        Member {
            header,
            data: data.to_vec(),
        },
    );
}

fn resign(members: &mut [Member], signer: &dyn NoteSigner, origin: &str) {
    let i = member_index(members, "checkpoint");
    let text = String::from_utf8(members[i].data.clone()).unwrap();
    let body = text.split("\n\n").next().unwrap();
    let mut cp = Checkpoint::parse(&format!("{body}\n")).unwrap();
    cp.origin = origin.into();
    members[i].data = cp.sign(&[signer]).unwrap();
    refresh_digest(members, "checkpoint");
}

/// The refusal a hostile snapshot must get: the variant, and what its
/// reason says where several cases share the variant (which archive rule,
/// which tree check; empty where any reason will do).
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Archive(&'static str),
    FileMismatch(&'static str),
    Manifest(&'static str),
    Checkpoint,
    TreeMismatch(&'static str),
    /// A bundle that does not decode to the entries its name says, refused
    /// by the spec code while the store stages it.
    MalformedBundle,
}

impl Refusal {
    fn matches(self, e: &Error) -> bool {
        match (self, e) {
            (Refusal::Archive(says), Error::Archive { reason })
            | (Refusal::FileMismatch(says), Error::FileMismatch { reason, .. })
            | (Refusal::Manifest(says), Error::Manifest { reason })
            | (Refusal::TreeMismatch(says), Error::TreeMismatch { reason }) => {
                reason.contains(says)
            }
            (Refusal::Checkpoint, Error::Checkpoint { .. }) => true,
            (Refusal::MalformedBundle, Error::Tlog(islet_tlog::Error::BundleMalformed { .. })) => {
                true
            }
            _ => false,
        }
    }
}

type Case = (&'static str, Vec<u8>, Refusal);

fn cases(inc: &[u8]) -> Vec<Case> {
    let fresh = || unpack(inc);
    let mut out: Vec<Case> = Vec::new();
    let mut add = |name: &'static str, members: Vec<Member>, expect: Refusal| {
        out.push((name, pack(&members), expect));
    };
    use tar::EntryType as T;
    for (name, path) in [
        ("dot-dot name", b"../evil".as_slice()),
        ("dot-dot inside", b"tile/../../evil".as_slice()),
        ("absolute path", b"/tmp/islet-evil".as_slice()),
        ("non-canonical tile name", b"tile/0/x000/001".as_slice()),
        ("short tile index", b"tile/0/1".as_slice()),
        ("unknown file", b"README".as_slice()),
    ] {
        let mut m = fresh();
        insert(&mut m, 2, raw_header(path, 3, T::Regular), b"bad");
        add(name, m, Refusal::Archive("invalid tile path"));
    }
    for (name, kind, expect) in [
        ("symlink", T::Symlink, "symbolic link"),
        ("hard link", T::Link, "hard link"),
        ("character device", T::Char, "character device"),
        ("block device", T::Block, "block device"),
        ("fifo", T::Fifo, "FIFO"),
        ("directory", T::Directory, "directory"),
    ] {
        let mut m = fresh();
        let mut h = raw_header(b"tile", 0, kind);
        if matches!(kind, T::Symlink | T::Link) {
            h.set_link_name("/tmp").unwrap();
            h.set_cksum();
        }
        insert(&mut m, 2, h, b"");
        add(name, m, Refusal::Archive(expect));
    }
    // A symlink, then a file "through" it.
    let mut m = fresh();
    let mut link = raw_header(b"tile/0", 0, T::Symlink);
    link.set_link_name("/tmp").unwrap();
    link.set_cksum();
    insert(&mut m, 2, link, b"");
    add(
        "symlink then a file through it",
        m,
        Refusal::Archive("symbolic link"),
    );
    // A long name through a GNU long-name entry, and pax headers.
    let mut m = fresh();
    let mut gnu = raw_header(b"././@LongLink", 200, T::GNULongName);
    gnu.set_cksum();
    insert(&mut m, 2, gnu, &[b'a'; 200]);
    add("gnu long name", m, Refusal::Archive("extended header"));
    let mut m = fresh();
    let mut pax = raw_header(b"PaxHeaders/x", 0, T::XHeader);
    pax.set_cksum();
    insert(&mut m, 2, pax, b"20 path=tile/0/000\n");
    add("pax header", m, Refusal::Archive("extended header"));

    // Duplicates and order.
    let mut m = fresh();
    let i = member_index(&m, "tile/0/001");
    let dup = Member {
        header: m[i].header.clone(),
        data: m[i].data.clone(),
    };
    m.insert(i + 1, dup);
    add("duplicate name", m, Refusal::Archive("appears twice"));
    let mut m = fresh();
    let (a, b) = (
        member_index(&m, "tile/0/001"),
        member_index(&m, "tile/0/002.p/88"),
    );
    m.swap(a, b);
    add(
        "out of order",
        m,
        Refusal::Archive("where the manifest lists"),
    );
    let mut m = fresh();
    m.swap(0, 1);
    add("manifest first", m, Refusal::Archive("the first file is"));
    let mut m = fresh();
    m.pop();
    add(
        "missing last file",
        m,
        Refusal::Archive("ends before all the files"),
    );
    let mut m = fresh();
    let i = member_index(&m, "tile/0/001");
    m.remove(i);
    add(
        "missing tile",
        m,
        Refusal::Archive("where the manifest lists"),
    );

    // The manifest against the files.
    let mut m = fresh();
    set_manifest(&mut m, |mf| mf.files[1].sha256 = "0".repeat(64));
    add(
        "manifest digest mismatch",
        m,
        Refusal::FileMismatch("the manifest says"),
    );
    let mut m = fresh();
    set_manifest(&mut m, |mf| mf.files[1].size += 1);
    add(
        "manifest size mismatch",
        m,
        Refusal::FileMismatch("the manifest says"),
    );
    let mut m = fresh();
    set_manifest(&mut m, |mf| mf.origin = "other.example.org".into());
    add(
        "manifest of another origin",
        m,
        Refusal::Manifest("describes other.example.org"),
    );
    let mut m = fresh();
    set_manifest(&mut m, |mf| mf.to_size = 601);
    add("manifest of another size", m, Refusal::Manifest("601"));

    // One flipped bit in a tile, a bundle, the checkpoint; then the same
    // with the manifest made to agree (so the tree check must catch it).
    for (name, file, agree, expect) in [
        (
            "flipped tile",
            "tile/0/001",
            false,
            Refusal::FileMismatch("the manifest says"),
        ),
        (
            "flipped tile, manifest agrees",
            "tile/0/001",
            true,
            Refusal::TreeMismatch("is not the tile the entries produce"),
        ),
        (
            "flipped level-1 tile, manifest agrees",
            "tile/1/000.p/2",
            true,
            Refusal::TreeMismatch("is not the tile the entries produce"),
        ),
        (
            "flipped bundle",
            "tile/entries/001",
            false,
            Refusal::FileMismatch("the manifest says"),
        ),
        (
            "flipped bundle, manifest agrees",
            "tile/entries/001",
            true,
            Refusal::TreeMismatch("the entries hash to root"),
        ),
        (
            "flipped partial bundle, manifest agrees",
            "tile/entries/002.p/88",
            true,
            Refusal::TreeMismatch("the entries hash to root"),
        ),
    ] {
        let mut m = fresh();
        let len = m[member_index(&m, file)].data.len();
        flip(&mut m, file, len - 3);
        if agree {
            refresh_digest(&mut m, file);
        }
        add(name, m, expect);
    }
    let mut m = fresh();
    flip(&mut m, "checkpoint", 5);
    add("flipped checkpoint", m, Refusal::Checkpoint);
    let mut m = fresh();
    let stranger = Ed25519Signer::from_seed(ORIGIN, &[99; 32]).unwrap();
    resign(&mut m, &stranger, ORIGIN);
    add("signed by an unknown key", m, Refusal::Checkpoint);
    let mut m = fresh();
    let same_key_other_name = Ed25519Signer::from_seed("evil.example.org", &[7; 32]).unwrap();
    resign(&mut m, &same_key_other_name, "evil.example.org");
    add(
        "the right key with the wrong origin",
        m,
        Refusal::Checkpoint,
    );

    // Bundles that do not hold what their name says.
    let mut m = fresh();
    let i = member_index(&m, "tile/entries/002.p/88");
    m[i].data.extend_from_slice(&[0, 1, b'x']);
    refresh_digest(&mut m, "tile/entries/002.p/88");
    add("a bundle with an extra entry", m, Refusal::MalformedBundle);

    // Streams past what the files declare, and windows too large.
    let mut raw = zstd::decode_all(inc).unwrap();
    raw.extend(std::iter::repeat_n(0u8, 256 * 1024 * 1024));
    out.push((
        "zstd bomb: 256 MiB of zeros after the end",
        zstd::encode_all(raw.as_slice(), 19).unwrap(),
        Refusal::Archive("decompresses past"),
    ));
    // As exported, then frames of zeros that each declare their size.
    let mut frames = inc.to_vec();
    let zeros = zstd::bulk::compress(&vec![0u8; 4 << 20], 3).unwrap();
    for _ in 0..64 {
        frames.extend_from_slice(&zeros);
    }
    out.push((
        "zstd bomb: 64 frames of 4 MiB of zeros after the end",
        frames,
        Refusal::Archive("decompresses past"),
    ));
    let raw = zstd::decode_all(inc).unwrap();
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.window_log(27).unwrap();
    enc.long_distance_matching(true).unwrap();
    std::io::Write::write_all(&mut enc, &raw).unwrap();
    out.push((
        "a 128 MiB zstd window",
        enc.finish().unwrap(),
        Refusal::Archive("zstd window"),
    ));
    let mut garbage = zstd::decode_all(inc).unwrap();
    garbage.extend_from_slice(b"garbage");
    out.push((
        "garbage after the end of the archive",
        zstd::encode_all(garbage.as_slice(), 3).unwrap(),
        Refusal::Archive("data follows the end"),
    ));
    let mut broken_end = zstd::decode_all(inc).unwrap();
    let end = broken_end.len() - 1024;
    broken_end[end] = 1;
    out.push((
        "a broken end-of-archive block",
        zstd::encode_all(broken_end.as_slice(), 3).unwrap(),
        Refusal::Archive("cannot be read"),
    ));
    out.push((
        "not zstd at all",
        b"PK\x03\x04 a zip file".to_vec(),
        Refusal::Archive(""),
    ));
    let mut cut = inc.to_vec();
    cut.truncate(cut.len() / 2);
    out.push(("truncated file", cut, Refusal::Archive("")));
    out
}

#[test]
fn every_hostile_snapshot_is_refused_and_the_store_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (base, inc) = valid_pair(dir.path());
    let cases = cases(&inc);
    assert!(cases.len() >= 41, "{} cases", cases.len());
    let store = Store::open(&dir.path().join("target/db"), true).unwrap();
    import_bytes(&store, key(), &base).unwrap();
    let log = store.mirror(ORIGIN).unwrap().unwrap().number;
    let head = store.tree_head(log).unwrap();
    let files = all_files(&store, log, 300);
    let edge_tile = store.tile(log, 0, 1).unwrap();
    let mut failures = Vec::new();
    for (name, bytes, expect) in &cases {
        match import_bytes(&store, key(), bytes) {
            Ok(r) => failures.push(format!("{name}: accepted ({:?})", r.outcome)),
            Err(e) => {
                let text = e.to_string();
                if !expect.matches(&e) {
                    failures.push(format!("{name}: {e:?} is not {expect:?}"));
                }
                if !e.is_refusal() {
                    failures.push(format!("{name}: not counted as a refusal: {text}"));
                }
            }
        }
        if store.tree_head(log).unwrap() != head
            || store.tile(log, 0, 1).unwrap() != edge_tile
            || store.bundle(log, 2).unwrap().is_some()
            || store.tile(log, 0, 2).unwrap().is_some()
            || store.mirrors().unwrap().len() != 1
        {
            failures.push(format!("{name}: the store changed"));
        }
    }
    assert!(all_files(&store, log, 300) == files);
    assert!(!std::path::Path::new("/tmp/islet-evil").exists());
    assert!(!dir.path().join("evil").exists());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // After all that, the valid increment still applies.
    import_bytes(&store, key(), &inc).unwrap();
    assert_eq!(store.tree_head(log).unwrap().unwrap().size, 600);
}

#[test]
fn a_hostile_first_import_leaves_no_mirror_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _) = valid_pair(dir.path());
    let store = Store::open(&dir.path().join("target/db"), true).unwrap();
    let mut m = unpack(&base);
    let file = "tile/entries/001.p/44";
    let len = m[member_index(&m, file)].data.len();
    flip(&mut m, file, len - 1);
    refresh_digest(&mut m, file);
    let e = import_bytes(&store, key(), &pack(&m)).unwrap_err();
    assert!(
        Refusal::TreeMismatch("the entries hash to root").matches(&e),
        "{e:?}"
    );
    assert!(store.mirrors().unwrap().is_empty());
    assert!(store.tree_head(1).unwrap().is_none());
    assert!(
        store.bundle(1, 0).unwrap().is_none(),
        "staged bundles are discarded"
    );
    assert!(
        store.tile(1, 0, 0).unwrap().is_none(),
        "staged tiles are discarded"
    );
    import_bytes(&store, key(), &base).unwrap();
}

/// A file refused early in a long archive ends the import at once: the
/// reader, still holding files for the importer, is released rather than
/// left blocked on a full queue (which would hang the import forever).
#[test]
fn a_refusal_early_in_a_long_archive_ends_the_import() {
    let dir = tempfile::tempdir().unwrap();
    // 48 bundles, so that far more files follow the refused one than the
    // reader may hold ahead of the importer.
    let source = source_store(&dir.path().join("src"), "long", 48 * 256, &[]);
    let file = dir.path().join("long.tar.zst");
    export_own(&source, 0, None, &file);
    let mut members = unpack(&std::fs::read(&file).unwrap());
    // A bundle that does not parse: refused as soon as it arrives.
    let first = member_index(&members, "tile/entries/000");
    members[first].data.truncate(10);
    refresh_digest(&mut members, "tile/entries/000");
    let bytes = pack(&members);

    let target = Store::open(&dir.path().join("dst"), true).unwrap();
    let (done_tx, done) = std::sync::mpsc::channel();
    // A thread of its own, not scoped: should the import hang, the test
    // fails at the timeout instead of hanging with it.
    std::thread::spawn(move || {
        let _sent = done_tx.send(import_bytes(&target, key(), &bytes));
    });
    let result = done
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the import did not end within 120 s of an early refusal");
    let e = result.expect_err("a bundle that does not parse must be refused");
    assert!(
        matches!(e, Error::Tlog(islet_tlog::Error::BundleMalformed { .. })),
        "{e:?}"
    );
}
