//! tlog-mirror push: every request body of `c2sp/mirror-add-entries.json`
//! parsed, re-encoded and verified against its pending checkpoint, with
//! the mirror's stored entries taken from the `c2sp/tiled-log-300` log; a
//! changed entry byte or proof hash refused; every truncation refused; and
//! the mirror's `add-checkpoint` decision on the vector checkpoints.

use std::path::{Path, PathBuf};

use islet_tlog::checkpoint::SignedCheckpoint;
use islet_tlog::error::Error;
use islet_tlog::grow::{Grown, LogGrower};
use islet_tlog::merkle::{Hash, HashReader, MemoryTree};
use islet_tlog::mirror_push::{
    AddEntries, MIRROR_INFO_CONTENT_TYPE, MirrorInfo, Package, PackageCheck, PendingDecision,
    decide_pending, encode_header, encode_package, verify_package,
};
use islet_tlog::note::NoteVerifier;
use islet_tlog::tiles::{TileFetcher, TileHashReader, TileId, encode_hash_tile};
use islet_tlog::witness::{AddCheckpoint, Decision, conflict_body};
use serde_json::Value;

use crate::common::{b64, hash_b64, hashes_b64, load, record, s, u, vectors_dir};

const FILE: &str = "c2sp/mirror-add-entries.json";
const LOG: &str = "c2sp/tiled-log-300";

/// The tiles of tiled-log-300, read from its directory.
struct DirTiles(PathBuf);

impl TileFetcher for DirTiles {
    fn fetch_tiles(&self, tiles: &[TileId]) -> islet_tlog::Result<Vec<Vec<u8>>> {
        tiles
            .iter()
            .map(|t| {
                std::fs::read(self.0.join(t.to_string())).map_err(|_| Error::MissingTile {
                    path: t.to_string(),
                })
            })
            .collect()
    }
}

/// The entries of a bundle file, split by the test itself (u16 BE length
/// prefixes).
fn bundle_entries(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out
}

/// The 300 entries of tiled-log-300, from its two bundles.
fn log_entries(dir: &Path) -> Vec<Vec<u8>> {
    let mut all = bundle_entries(&dir.join(LOG).join("tile/entries/000"));
    all.extend(bundle_entries(&dir.join(LOG).join("tile/entries/001.p/44")));
    assert_eq!(all.len(), 300);
    all
}

struct Example {
    start: u64,
    end: u64,
    ticket: Vec<u8>,
    size: u64,
    root: Hash,
    body: Vec<u8>,
    packages: Vec<Value>,
}

fn examples(v: &Value) -> Vec<Example> {
    let log_key = NoteVerifier::from_vkey(s(v, "log_vkey")).expect("log vkey");
    let out: Vec<Example> = v["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .map(|e| {
            let pending = SignedCheckpoint::open(
                s(e, "pending_checkpoint").as_bytes(),
                &log_key,
                &[],
                Some(s(v, "origin")),
            )
            .expect("pending checkpoint verifies with the log key")
            .checkpoint;
            assert_eq!(pending.root, hash_b64(&e["root_hash"]));
            assert_eq!(pending.size, u(e, "upload_end"));
            let body = b64(&e["body_b64"]);
            assert_eq!(body.len() as u64, u(e, "body_length"));
            Example {
                start: u(e, "upload_start"),
                end: u(e, "upload_end"),
                ticket: b64(&e["ticket_b64"]),
                size: pending.size,
                root: pending.root,
                body,
                packages: e["packages"].as_array().cloned().unwrap_or_default(),
            }
        })
        .collect();
    assert_eq!(out.len(), 4, "0->300, 100->300, 300->600, 256->256");
    out
}

fn pair(v: &Value, key: &str) -> (u64, u64) {
    let a = v[key].as_array().unwrap_or_else(|| panic!("{key} in {v}"));
    (a[0].as_u64().expect("start"), a[1].as_u64().expect("end"))
}

/// What the mirror holds before the upload: the first `upload_start`
/// entries of the record log. A mirror at 0 holds nothing; at 100, the
/// first 100 entries of the vector bundle; at 300, the whole vector log,
/// read through its tiles (authenticated against its root).
fn with_mirror<R>(dir: &Path, held: u64, f: impl FnOnce(&dyn HashReader) -> R) -> R {
    match held {
        300 => {
            let meta = load(dir, &format!("{LOG}/log.json"));
            let tiles = DirTiles(dir.join(LOG));
            let reader = TileHashReader::new(300, hash_b64(&meta["root_hash"]), &tiles);
            f(&reader)
        }
        n => {
            let mut t = MemoryTree::new();
            for e in log_entries(dir)
                .iter()
                .take(usize::try_from(n).expect("small"))
            {
                t.append(e);
            }
            f(&t)
        }
    }
}

#[test]
fn every_vector_body_parses_into_its_packages() {
    let dir = vectors_dir(&[FILE, LOG]);
    let v = load(&dir, FILE);
    let stored = log_entries(&dir);
    for ex in examples(&v) {
        let req = AddEntries::parse_header(&ex.body).expect("header");
        assert_eq!(req.origin, s(&v, "origin"));
        assert_eq!((req.upload_start, req.upload_end), (ex.start, ex.end));
        assert_eq!(req.ticket, ex.ticket.as_slice());
        assert_eq!(req.package_count(), ex.packages.len() as u64);
        let mut it = req.packages();
        let got: Vec<Package<'_>> = it.by_ref().map(|p| p.expect("package")).collect();
        assert!(it.is_complete(), "{}->{}", ex.start, ex.end);
        assert_eq!(it.offset(), ex.body.len(), "no byte left over");
        assert_eq!(got.len(), ex.packages.len());
        for (p, want) in got.iter().zip(&ex.packages) {
            assert_eq!(p.range.index, u(want, "package"));
            assert_eq!((p.range.first, p.range.end), pair(want, "entries"));
            assert_eq!((p.range.subtree_start, p.range.end), pair(want, "subtree"));
            assert_eq!(p.range.tree_size, ex.end);
            assert_eq!(p.proof, hashes_b64(&want["proof"]));
            assert_eq!(p.proof.len() as u64, u(want, "num_hashes"));
            for (i, e) in p.range.entries().zip(&p.entries) {
                assert_eq!(*e, record(i).as_slice(), "entry {i}");
                if let Some(held) = stored.get(usize::try_from(i).expect("small")) {
                    assert_eq!(e, held, "entry {i} equals the vector log's");
                }
            }
        }
    }
}

#[test]
fn every_vector_package_verifies_against_its_pending_checkpoint() {
    let dir = vectors_dir(&[FILE, LOG]);
    let v = load(&dir, FILE);
    let stored = log_entries(&dir);
    let mut verified = 0;
    for ex in examples(&v) {
        let req = AddEntries::parse_header(&ex.body).expect("header");
        // The mirror grows from what it holds with the verified packages.
        let mut grower = LogGrower::new();
        for e in stored
            .iter()
            .take(usize::try_from(ex.start).expect("small"))
        {
            grower.push(e, &mut |_| {}).expect("push");
        }
        with_mirror(&dir, ex.start, |mirror| {
            for (p, want) in req.packages().zip(&ex.packages) {
                let p = p.expect("package");
                let ok = verify_package(&p, ex.size, &ex.root, mirror).expect("verifies");
                assert_eq!(ok.subtree_hash, hash_b64(&want["subtree_hash"]));
                assert_eq!(ok.leaf_hashes.len(), p.entries.len());
                for (e, h) in p.entries.iter().zip(&ok.leaf_hashes) {
                    grower.push_hashed(e, *h, &mut |_| {}).expect("push");
                }
                verified += 1;
            }
        });
        assert_eq!(grower.size(), ex.end);
        assert_eq!(grower.root(), ex.root, "{}->{}", ex.start, ex.end);
    }
    assert_eq!(verified, 6);
}

#[test]
fn pushing_0_to_300_writes_the_vector_log_byte_for_byte() {
    let dir = vectors_dir(&[FILE, LOG]);
    let v = load(&dir, FILE);
    let ex = examples(&v).remove(0);
    assert_eq!((ex.start, ex.end), (0, 300));
    let req = AddEntries::parse_header(&ex.body).expect("header");
    let mut grower = LogGrower::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mirror = MemoryTree::new();
    for p in req.packages() {
        let p = p.expect("package");
        let ok = verify_package(&p, ex.size, &ex.root, &mirror).expect("verifies");
        for (e, h) in p.entries.iter().zip(&ok.leaf_hashes) {
            grower
                .push_hashed(e, *h, &mut |g| match g {
                    Grown::Tile(t, h) => files.push((t.to_string(), encode_hash_tile(h))),
                    Grown::Bundle(b, d) => files.push((b.to_string(), d.to_vec())),
                })
                .expect("push");
        }
    }
    let edge = grower.edge();
    for (t, h) in edge.tiles {
        files.push((t.to_string(), encode_hash_tile(h)));
    }
    let (b, d) = edge.bundle.expect("partial bundle");
    files.push((b.to_string(), d.to_vec()));
    files.sort();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "tile/0/000",
            "tile/0/001.p/44",
            "tile/1/000.p/1",
            "tile/entries/000",
            "tile/entries/001.p/44"
        ]
    );
    for (name, bytes) in files {
        let theirs = std::fs::read(dir.join(LOG).join(&name)).expect("vector file");
        assert_eq!(bytes, theirs, "{name}");
    }
}

#[test]
fn the_encoder_reproduces_every_vector_body() {
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    for ex in examples(&v) {
        let mut body =
            encode_header(s(&v, "origin"), ex.start, ex.end, &ex.ticket).expect("header");
        for want in &ex.packages {
            let (first, end) = pair(want, "entries");
            let entries: Vec<Vec<u8>> = (first..end).map(record).collect();
            encode_package(&mut body, &entries, &hashes_b64(&want["proof"])).expect("package");
        }
        assert_eq!(body, ex.body, "{}->{}", ex.start, ex.end);
    }
}

/// Offset of `needle` in `hay` (it must occur exactly once).
fn find_once(hay: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{:?} occurs {} times", needle, hits.len());
    hits[0]
}

/// Verifies every package of `body` against `(size, root)` with an empty
/// mirror; returns the result of each.
fn verify_all(body: &[u8], size: u64, root: &Hash) -> Vec<Result<(), Error>> {
    let req = AddEntries::parse_header(body).expect("header");
    let mirror = MemoryTree::new();
    req.packages()
        .map(|p| verify_package(&p.expect("package parses"), size, root, &mirror).map(|_| ()))
        .collect()
}

fn refused_proof(r: &Result<(), Error>, package: u64) {
    match r {
        Err(Error::PackageRefused {
            package: p,
            check: PackageCheck::Proof(_),
            ..
        }) if *p == package => {}
        other => panic!("expected package {package} refused by its proof, got {other:?}"),
    }
}

#[test]
fn a_changed_entry_byte_is_refused_with_its_package() {
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    let ex = examples(&v).remove(0);
    // In package 1 (entries 256..300).
    let mut body = ex.body.clone();
    let at = find_once(&body, b"record 260") + 9;
    body[at] ^= 0x01;
    let results = verify_all(&body, ex.size, &ex.root);
    assert!(results[0].is_ok(), "package 0 is untouched");
    refused_proof(&results[1], 1);
    // In package 0.
    let mut body = ex.body.clone();
    let at = find_once(&body, b"record 17\x00") + 8;
    body[at] ^= 0x40;
    let results = verify_all(&body, ex.size, &ex.root);
    refused_proof(&results[0], 0);
    assert!(results[1].is_ok(), "package 1 is untouched");
}

#[test]
fn a_changed_proof_hash_is_refused_with_its_package() {
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    let ex = examples(&v).remove(0);
    for (i, want) in ex.packages.iter().enumerate() {
        let proof = hashes_b64(&want["proof"]);
        for bit in [0u8, 7] {
            let mut body = ex.body.clone();
            // The proof is the package's last bytes: find it after the
            // package's count byte.
            let mut needle = vec![1u8];
            needle.extend_from_slice(&proof[0]);
            let at = find_once(&body, &needle) + 1 + 31;
            body[at] ^= 1 << bit;
            let results = verify_all(&body, ex.size, &ex.root);
            refused_proof(&results[i], i as u64);
            assert!(results[1 - i].is_ok(), "the other package is untouched");
        }
    }
}

#[test]
fn every_truncation_of_every_vector_body_is_refused() {
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    for ex in examples(&v) {
        let full = AddEntries::parse_header(&ex.body).expect("header");
        let whole: Vec<Package<'_>> = full.packages().map(|p| p.expect("package")).collect();
        let header_len = full.header_len();
        for cut in 0..ex.body.len() {
            let body = &ex.body[..cut];
            let Ok(req) = AddEntries::parse_header(body) else {
                assert!(cut < header_len, "cut at {cut}: header refused");
                continue;
            };
            let mut it = req.packages();
            let items: Vec<_> = it.by_ref().collect();
            assert!(!it.is_complete(), "cut at {cut} taken as complete");
            let mut ok = 0;
            for (n, item) in items.iter().enumerate() {
                match item {
                    Ok(p) => {
                        assert_eq!(p, &whole[n], "cut at {cut}: a prefix of the whole");
                        ok += 1;
                    }
                    Err(Error::MalformedAddEntries {
                        offset, package, ..
                    }) => {
                        assert_eq!(n + 1, items.len(), "the error is the last item");
                        assert!(*offset <= cut, "cut at {cut}: error at {offset}");
                        assert_eq!(*package, Some(n as u64));
                    }
                    Err(e) => panic!("cut at {cut}: unexpected {e}"),
                }
            }
            assert!(ok < whole.len());
        }
    }
}

#[test]
fn the_mirror_info_example_parses_and_reencodes() {
    let dir = vectors_dir(&[FILE]);
    let v = load(&dir, FILE);
    let ex = &v["mirror_info_example"];
    assert_eq!(u(ex, "status"), 409);
    assert_eq!(s(ex, "content_type"), MIRROR_INFO_CONTENT_TYPE);
    let info = MirrorInfo::parse(s(ex, "body").as_bytes()).expect("parses");
    assert_eq!((info.pending_size, info.next_entry), (300, 256));
    assert!(info.ticket.is_empty());
    assert_eq!(info.to_body(), s(ex, "body"));
}

// ---- add-checkpoint on a mirror ----------------------------------------------

const WITNESS_FILE: &str = "c2sp/witness-add-checkpoint.json";
const RECORD_TREE: &str = "c2sp/rfc6962-record-tree.json";

fn request(old: u64, proof: &[Hash], note: &str) -> AddCheckpoint {
    let mut body = format!("old {old}\n").into_bytes();
    for h in proof {
        use base64::Engine;
        body.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(h)
                .as_bytes(),
        );
        body.push(b'\n');
    }
    body.push(b'\n');
    body.extend_from_slice(note.as_bytes());
    AddCheckpoint::parse(&body).expect("request parses")
}

#[test]
fn add_checkpoint_moves_the_pending_checkpoint_through_the_vector_sizes() {
    let dir = vectors_dir(&[FILE, RECORD_TREE]);
    let v = load(&dir, FILE);
    let keys = [NoteVerifier::from_vkey(s(&v, "log_vkey")).expect("log vkey")];
    let notes: Vec<&str> = v["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .map(|e| s(e, "pending_checkpoint"))
        .collect();
    let (note256, note300, note600) = (notes[3], notes[0], notes[2]);
    let tree = load(&dir, RECORD_TREE);
    let proof = |a: u64, b: u64| {
        tree["consistency_proofs"]
            .as_array()
            .expect("proofs")
            .iter()
            .find(|c| u(c, "size1") == a && u(c, "size2") == b)
            .map(|c| hashes_b64(&c["proof"]))
            .unwrap_or_else(|| panic!("no {a}->{b} proof"))
    };
    let root = |i: usize| hash_b64(&v["examples"][i]["root_hash"]);

    // None -> 300: the stored note is the log-signed checkpoint, unchanged.
    let d = decide_pending(&request(0, &[], note300), None, Some(&keys));
    assert_eq!(d.status(), 200);
    assert_eq!(
        d,
        PendingDecision::MovePending {
            size: 300,
            root: root(0),
            note: note300.as_bytes().to_vec()
        }
    );
    // 300 -> 600 with the vector consistency proof.
    let pending = Some((300, root(0)));
    let d = decide_pending(
        &request(300, &proof(300, 600), note600),
        pending,
        Some(&keys),
    );
    assert_eq!(
        d,
        PendingDecision::MovePending {
            size: 600,
            root: root(2),
            note: note600.as_bytes().to_vec()
        }
    );
    // A stale old size: 409 with the *pending* size.
    let d = decide_pending(&request(0, &[], note600), pending, Some(&keys));
    assert_eq!(
        d,
        PendingDecision::Refuse(Decision::Conflict { stored_size: 300 })
    );
    assert_eq!(d.status(), 409);
    assert_eq!(conflict_body(300), "300\n");
    // Smaller than the pending checkpoint: old > size is a bad request.
    let d = decide_pending(&request(300, &[], note256), pending, Some(&keys));
    assert_eq!(d.status(), 400);
    // A changed proof hash: 422.
    let mut bad = proof(300, 600);
    bad[0][0] ^= 1;
    let d = decide_pending(&request(300, &bad, note600), pending, Some(&keys));
    assert_eq!(d.status(), 422);
    // Unknown origin.
    let d = decide_pending(&request(0, &[], note300), None, None);
    assert_eq!(d, PendingDecision::Refuse(Decision::UnknownOrigin));
}

#[test]
fn add_checkpoint_on_a_mirror_answers_every_witness_scenario_with_the_same_status() {
    let dir = vectors_dir(&[WITNESS_FILE]);
    let v = load(&dir, WITNESS_FILE);
    let keys = [NoteVerifier::from_vkey(s(&v, "log_vkey")).expect("log vkey")];
    let mut moved = 0;
    for c in v["scenarios"].as_array().expect("scenarios") {
        let id = s(c, "id");
        let Ok(req) = AddCheckpoint::parse(s(c, "request_body").as_bytes()) else {
            assert_eq!(u(c, "expect_status"), 400, "{id}");
            continue;
        };
        let (pending, known) = if c["witness_state"].is_null() {
            (None, None)
        } else {
            let st = &c["witness_state"];
            let pending =
                (!st["root_hash"].is_null()).then(|| (u(st, "size"), hash_b64(&st["root_hash"])));
            (pending, Some(&keys[..]))
        };
        let d = decide_pending(&req, pending, known);
        assert_eq!(u64::from(d.status()), u(c, "expect_status"), "{id}: {d:?}");
        if let PendingDecision::MovePending { note, size, .. } = &d {
            // The kept note carries the log's signature and nothing else.
            let opened = SignedCheckpoint::open(note, &keys[0], &[], Some(s(&v, "origin")))
                .expect("kept note verifies with the log key");
            assert_eq!(opened.checkpoint.size, *size);
            assert_eq!(note.iter().filter(|&&b| b == b'\n').count(), 5, "{id}");
            moved += 1;
        }
    }
    assert_eq!(moved, 4, "the four accepted scenarios");
}

/// Every byte after the header of the 100->300 body (the upload that needs
/// the mirror's stored head), changed in turn: the body is never taken as
/// complete with every package verified.
#[test]
fn every_single_byte_change_in_the_packages_is_refused() {
    let dir = vectors_dir(&[FILE, LOG]);
    let v = load(&dir, FILE);
    let ex = examples(&v).remove(1);
    assert_eq!((ex.start, ex.end), (100, 300));
    let header_len = AddEntries::parse_header(&ex.body)
        .expect("header")
        .header_len();
    with_mirror(&dir, ex.start, |mirror| {
        for at in header_len..ex.body.len() {
            let mut body = ex.body.clone();
            body[at] ^= 0xA5;
            let req = AddEntries::parse_header(&body).expect("header untouched");
            let mut it = req.packages();
            let mut all_verified = true;
            for p in it.by_ref() {
                let verified = p
                    .ok()
                    .is_some_and(|p| verify_package(&p, ex.size, &ex.root, mirror).is_ok());
                if !verified {
                    all_verified = false;
                    break;
                }
            }
            assert!(
                !(all_verified && it.is_complete()),
                "change at byte {at} accepted"
            );
        }
    });
}
