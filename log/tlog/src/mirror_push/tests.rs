//! Unit tests of the mirror-push codecs and limits. Bodies are built byte
//! by byte here, never with the encoder under test; the C2SP vectors are
//! checked in `tests/vectors/mirror_push.rs`.

use std::fmt;

use super::*;
use crate::checkpoint::MAX_TREE_SIZE;
use crate::error::{Error, Result};
use crate::merkle::{Hash, MemoryTree, leaf_hash};

/// A header written field by field.
fn header(origin: &[u8], start: u64, end: u64, ticket: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u16::try_from(origin.len()).expect("u16").to_be_bytes());
    b.extend_from_slice(origin);
    b.extend_from_slice(&start.to_be_bytes());
    b.extend_from_slice(&end.to_be_bytes());
    b.extend_from_slice(&u16::try_from(ticket.len()).expect("u16").to_be_bytes());
    b.extend_from_slice(ticket);
    b
}

/// A package written field by field: entries, count byte, hashes.
fn package(entries: &[&[u8]], proof_count: u8) -> Vec<u8> {
    let mut b = Vec::new();
    for e in entries {
        b.extend_from_slice(&u16::try_from(e.len()).expect("u16").to_be_bytes());
        b.extend_from_slice(e);
    }
    b.push(proof_count);
    for i in 0..proof_count {
        b.extend_from_slice(&[i; 32]);
    }
    b
}

fn malformed_at(r: Result<impl fmt::Debug>) -> (usize, Option<u64>, String) {
    match r {
        Err(Error::MalformedAddEntries {
            offset,
            package,
            reason,
        }) => (offset, package, reason),
        other => panic!("expected MalformedAddEntries, got {other:?}"),
    }
}

fn all_packages<'a>(req: &AddEntries<'a>) -> (Vec<Result<Package<'a>>>, bool) {
    let mut it = req.packages();
    let items: Vec<_> = it.by_ref().collect();
    (items, it.is_complete())
}

// ---- the canonical sequence ------------------------------------------------

fn ranges(start: u64, end: u64) -> Vec<(u64, u64, u64, u64)> {
    package_ranges(start, end)
        .expect("valid upload")
        .map(|r| {
            assert_eq!(r.tree_size, end);
            (r.index, r.subtree_start, r.first, r.end)
        })
        .collect()
}

#[test]
fn canonical_sequences_follow_the_spec() {
    // (index, subtree start, first entry, end), worked out by hand from §9.3.
    assert_eq!(ranges(0, 300), [(0, 0, 0, 256), (1, 256, 256, 300)]);
    assert_eq!(ranges(100, 300), [(0, 0, 100, 256), (1, 256, 256, 300)]);
    assert_eq!(ranges(300, 600), [(0, 256, 300, 512), (1, 512, 512, 600)]);
    assert_eq!(ranges(0, 256), [(0, 0, 0, 256)]);
    assert_eq!(ranges(255, 257), [(0, 0, 255, 256), (1, 256, 256, 257)]);
    assert!(ranges(256, 256).is_empty());
    assert!(ranges(0, 0).is_empty());
    assert!(ranges(7, 7).is_empty());
    assert_eq!(package_ranges(0, 300).expect("ok").remaining(), 2);
    assert_eq!(package_ranges(0, 1 << 20).expect("ok").remaining(), 4096);
    let r = package_ranges(100, 300).expect("ok").next().expect("one");
    assert_eq!(
        (r.head(), r.entries(), r.entry_count()),
        (0..100, 100..256, 156)
    );
}

#[test]
fn the_largest_tree_size_has_a_last_package_and_one_past_is_refused() {
    let last = MAX_TREE_SIZE;
    assert_eq!(
        ranges(last - 10, last),
        [(0, last - 255, last - 10, last)],
        "2^63-1 is 255 past a multiple of 256"
    );
    assert_eq!(
        package_ranges(0, last).expect("ok").remaining(),
        (1u64 << 63) / 256
    );
    assert!(package_ranges(0, last + 1).is_err());
    assert!(package_ranges(5, 4).is_err());
}

// ---- the header --------------------------------------------------------------

#[test]
fn a_header_parses_into_its_fields() {
    let mut body = header(b"log.example/a", 100, 300, b"tk");
    body.extend_from_slice(b"rest");
    let req = AddEntries::parse_header(&body).expect("parses");
    assert_eq!(req.origin, "log.example/a");
    assert_eq!((req.upload_start, req.upload_end), (100, 300));
    assert_eq!(req.ticket, b"tk");
    assert_eq!(req.header_len(), body.len() - 4);
    assert_eq!(req.package_count(), 2);
}

#[test]
fn origin_at_the_limit_parses_and_one_past_does_not() {
    let at = vec![b'o'; MAX_ORIGIN_LEN];
    let body = header(&at, 0, 0, b"");
    assert_eq!(
        AddEntries::parse_header(&body)
            .expect("at limit")
            .origin
            .len(),
        MAX_ORIGIN_LEN
    );
    let past = vec![b'o'; MAX_ORIGIN_LEN + 1];
    let (offset, package, reason) =
        malformed_at(AddEntries::parse_header(&header(&past, 0, 0, b"")));
    assert_eq!((offset, package), (0, None));
    assert!(reason.contains("1025 bytes"), "{reason}");
    // The encoder keeps the same limit.
    let o = String::from_utf8(at).expect("ascii");
    assert_eq!(encode_header(&o, 0, 0, b"").expect("at limit"), body);
    let o = String::from_utf8(past).expect("ascii");
    assert!(matches!(
        encode_header(&o, 0, 0, b""),
        Err(Error::InvalidAddEntries { .. })
    ));
}

#[test]
fn ticket_at_the_limit_parses_and_one_past_does_not() {
    let at = vec![7u8; MAX_TICKET_LEN];
    let body = header(b"o", 0, 0, &at);
    assert_eq!(
        AddEntries::parse_header(&body)
            .expect("at limit")
            .ticket
            .len(),
        MAX_TICKET_LEN
    );
    let past = vec![7u8; MAX_TICKET_LEN + 1];
    let (offset, _, reason) = malformed_at(AddEntries::parse_header(&header(b"o", 0, 0, &past)));
    assert_eq!(offset, 2 + 1 + 16, "at the ticket length");
    assert!(reason.contains("16385 bytes"), "{reason}");
    assert_eq!(encode_header("o", 0, 0, &at).expect("at limit"), body);
    assert!(encode_header("o", 0, 0, &past).is_err());
}

#[test]
fn body_at_the_limit_is_read_and_one_past_is_refused() {
    let mut body = header(b"o", 0, 0, b"");
    body.resize(MAX_BODY_BYTES, 0xAA);
    let req = AddEntries::parse_header(&body).expect("at limit");
    // An empty upload: the bytes after the header are ignored.
    let (items, complete) = all_packages(&req);
    assert!(items.is_empty() && complete);
    body.push(0);
    assert!(matches!(
        AddEntries::parse_header(&body),
        Err(Error::AddEntriesTooLarge { len, max: MAX_BODY_BYTES }) if len == MAX_BODY_BYTES + 1
    ));
}

#[test]
fn the_body_limit_holds_one_package_of_the_largest_entries() {
    let largest_package = MAX_ENTRIES_PER_PACKAGE * (2 + MAX_ENTRY_SIZE) + 1 + 63 * 32;
    let largest_header = 2 + MAX_ORIGIN_LEN + 16 + 2 + MAX_TICKET_LEN;
    assert!(largest_header + largest_package <= MAX_BODY_BYTES);
}

#[test]
fn bad_header_fields_are_refused_at_their_offset() {
    let cases: Vec<(Vec<u8>, usize, &str)> = vec![
        (header(b"", 0, 0, b""), 0, "origin is empty"),
        (header(b"a\xffb", 0, 0, b""), 3, "not valid UTF-8"),
        (header(b"ab\ncd", 0, 0, b""), 4, "control byte"),
        (header(b"ab\x7f", 0, 0, b""), 4, "control byte"),
        (header(b"o", 5, 4, b""), 11, "below upload_start"),
        (header(b"o", 1 << 63, 1 << 63, b""), 3, "upload_start"),
        (header(b"o", 0, 1 << 63, b""), 11, "upload_end"),
        (header(b"o", 0, u64::MAX, b""), 11, "over 2^63-1"),
    ];
    for (body, want_offset, want_reason) in cases {
        let (offset, package, reason) = malformed_at(AddEntries::parse_header(&body));
        assert_eq!((offset, package), (want_offset, None), "{reason}");
        assert!(reason.contains(want_reason), "{reason:?} for {body:?}");
    }
    // At the bound itself.
    let body = header(b"o", MAX_TREE_SIZE, MAX_TREE_SIZE, b"");
    let req = AddEntries::parse_header(&body).expect("2^63-1");
    assert_eq!(req.upload_end, MAX_TREE_SIZE);
}

#[test]
fn a_header_cut_at_any_byte_is_refused_where_the_cut_field_starts() {
    let body = header(b"origin", 1, 2, b"ticket");
    // Field starts: origin len 0, origin 2, start 8, end 16, ticket len 24,
    // ticket 26.
    for cut in 0..body.len() {
        let (offset, _, _) = malformed_at(AddEntries::parse_header(&body[..cut]));
        let field = [0, 2, 8, 16, 24, 26]
            .into_iter()
            .filter(|&s| s <= cut)
            .max()
            .expect("a field");
        assert_eq!(offset, field, "cut at {cut}");
    }
    assert!(AddEntries::parse_header(&body).is_ok());
}

// ---- packages ----------------------------------------------------------------

#[test]
fn packages_are_read_in_order_with_their_ranges() {
    let mut body = header(b"o", 1, 3, b"");
    body.extend(package(&[b"one", b"two"], 2));
    body.extend_from_slice(b"trailing garbage is ignored");
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, complete) = all_packages(&req);
    assert!(complete);
    let [Ok(p)] = items.as_slice() else {
        panic!("one package: {items:?}")
    };
    assert_eq!(p.entries, [&b"one"[..], b"two"]);
    assert_eq!(p.proof, [[0u8; 32], [1u8; 32]]);
    assert_eq!(
        p.range,
        PackageRange {
            index: 0,
            first: 1,
            end: 3,
            subtree_start: 0,
            tree_size: 3
        }
    );
}

#[test]
fn a_prefix_ending_between_packages_ends_without_error_but_incomplete() {
    let mut body = header(b"o", 0, 257, b"");
    let entries: Vec<Vec<u8>> = (0..256).map(|i: u32| i.to_be_bytes().to_vec()).collect();
    let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    body.extend(package(&refs, 1));
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, complete) = all_packages(&req);
    assert_eq!(items.len(), 1);
    assert!(items[0].is_ok());
    assert!(!complete);
    // No package at all.
    let body = header(b"o", 0, 1, b"");
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, complete) = all_packages(&req);
    assert!(items.is_empty() && !complete);
}

#[test]
fn entry_at_the_size_limit_parses() {
    let big = vec![0x5A; MAX_ENTRY_SIZE];
    let mut body = header(b"o", 0, 1, b"");
    body.extend(package(&[&big], 0));
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, complete) = all_packages(&req);
    assert!(complete);
    assert_eq!(
        items[0].as_ref().expect("package").entries[0].len(),
        MAX_ENTRY_SIZE
    );
    // One past cannot be written on the wire: the encoder refuses it.
    let past = vec![0x5A; MAX_ENTRY_SIZE + 1];
    let mut out = Vec::new();
    assert!(matches!(
        encode_package(&mut out, &[&past], &[]),
        Err(Error::EntryTooLarge { len, max: MAX_ENTRY_SIZE }) if len == MAX_ENTRY_SIZE + 1
    ));
    assert!(out.is_empty());
    encode_package(&mut out, &[&big], &[]).expect("at limit");
    assert_eq!(out, package(&[&big], 0));
}

#[test]
fn entries_per_package_at_the_limit_and_one_past() {
    let entries: Vec<Vec<u8>> = (0..=MAX_ENTRIES_PER_PACKAGE)
        .map(|i| format!("e{i}").into_bytes())
        .collect();
    let at: Vec<&[u8]> = entries[..MAX_ENTRIES_PER_PACKAGE]
        .iter()
        .map(Vec::as_slice)
        .collect();
    let mut body = header(b"o", 0, 256, b"");
    body.extend(package(&at, 0));
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, complete) = all_packages(&req);
    assert!(complete);
    assert_eq!(
        items[0].as_ref().expect("package").entries.len(),
        MAX_ENTRIES_PER_PACKAGE
    );
    let mut out = Vec::new();
    encode_package(&mut out, &at, &[]).expect("at limit");
    assert_eq!(out, package(&at, 0));
    let past: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    assert!(matches!(
        encode_package(&mut Vec::new(), &past, &[]),
        Err(Error::InvalidAddEntries { .. })
    ));
}

#[test]
fn proof_hashes_at_the_limit_and_one_past() {
    let mut body = header(b"o", 0, 1, b"");
    let hdr = body.len();
    body.extend(package(&[b"x"], 63));
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, _) = all_packages(&req);
    assert_eq!(
        items[0].as_ref().expect("package").proof.len(),
        MAX_PROOF_HASHES
    );
    let mut body = header(b"o", 0, 1, b"");
    body.extend(package(&[b"x"], 64));
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, complete) = all_packages(&req);
    assert!(!complete);
    let (offset, package_index, reason) = malformed_at(items.into_iter().next().expect("one"));
    assert_eq!(
        (offset, package_index),
        (hdr + 3, Some(0)),
        "at the count byte"
    );
    assert!(reason.contains("64 proof hashes"), "{reason}");
    // The encoder.
    let proof = [[9u8; 32]; MAX_PROOF_HASHES + 1];
    let mut out = Vec::new();
    encode_package(&mut out, &[b"x"], &proof[..MAX_PROOF_HASHES]).expect("at limit");
    assert!(encode_package(&mut Vec::new(), &[b"x"], &proof).is_err());
}

#[test]
fn packages_per_request_at_the_limit_and_one_past() {
    let entries = vec![&b""[..]; 256];
    let one = package(&entries, 0);
    let n = u64::try_from(MAX_PACKAGES_PER_REQUEST).expect("u64");
    // Exactly the limit, as a whole upload.
    let mut body = header(b"o", 0, 256 * n, b"");
    for _ in 0..MAX_PACKAGES_PER_REQUEST {
        body.extend_from_slice(&one);
    }
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, complete) = all_packages(&req);
    assert!(complete);
    assert_eq!(items.len(), MAX_PACKAGES_PER_REQUEST);
    assert!(items.iter().all(Result::is_ok));
    // One more in a longer upload: read up to the limit, then refused.
    let mut body = header(b"o", 0, 256 * (n + 1), b"");
    let hdr = body.len();
    for _ in 0..=MAX_PACKAGES_PER_REQUEST {
        body.extend_from_slice(&one);
    }
    let req = AddEntries::parse_header(&body).expect("header");
    let (items, complete) = all_packages(&req);
    assert!(!complete);
    assert_eq!(items.len(), MAX_PACKAGES_PER_REQUEST + 1);
    let (offset, package_index, _) = malformed_at(items.into_iter().last().expect("last"));
    assert_eq!(package_index, Some(n));
    assert_eq!(offset, hdr + MAX_PACKAGES_PER_REQUEST * one.len());
}

#[test]
fn a_package_cut_at_any_byte_is_refused_and_never_panics() {
    let mut body = header(b"o", 0, 2, b"");
    let hdr = body.len();
    body.extend(package(&[b"abc", b"de"], 2));
    // Package field starts: len0, entry0, len1, entry1, count, hashes.
    let starts = [hdr, hdr + 2, hdr + 5, hdr + 7, hdr + 9, hdr + 10];
    for cut in hdr + 1..body.len() {
        let req = AddEntries::parse_header(&body[..cut]).expect("header");
        let (items, complete) = all_packages(&req);
        assert!(!complete, "cut at {cut}");
        assert_eq!(items.len(), 1);
        let (offset, package_index, _) = malformed_at(items.into_iter().next().expect("one"));
        assert_eq!(package_index, Some(0));
        // The error names the field the cut fell into (a length prefix and
        // its entry are reported together, at the prefix).
        let field = starts
            .iter()
            .copied()
            .filter(|&s| s <= cut)
            .max()
            .expect("field");
        let field = match field {
            f if f == hdr + 2 => hdr,
            f if f == hdr + 7 => hdr + 5,
            f => f,
        };
        assert_eq!(offset, field, "cut at {cut}");
    }
}

#[test]
fn the_iterator_stops_after_an_error() {
    let mut body = header(b"o", 0, 512, b"");
    body.extend_from_slice(&[0, 9, 1]); // entry 0 declares 9 bytes, has 1
    let req = AddEntries::parse_header(&body).expect("header");
    let mut it = req.packages();
    assert!(matches!(it.next(), Some(Err(_))));
    assert!(it.next().is_none());
    assert!(!it.is_complete());
}

// ---- verification ------------------------------------------------------------

/// The tree of `n` leaves `leaf <i>`, built with `MemoryTree`.
fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append(format!("leaf {i}").as_bytes());
    }
    t
}

fn pkg_of(range: PackageRange, entries: &[Vec<u8>], proof: Vec<Hash>) -> Package<'_> {
    Package {
        range,
        entries: entries.iter().map(Vec::as_slice).collect(),
        proof,
    }
}

#[test]
fn verification_names_the_failed_check() {
    let full = tree(300);
    let root = full.root();
    let range = package_ranges(100, 300).expect("ok").next().expect("first");
    let entries: Vec<Vec<u8>> = (100..256)
        .map(|i| format!("leaf {i}").into_bytes())
        .collect();
    let proof = crate::merkle::subtree_consistency_proof(0, 256, 300, &full).expect("proof");
    let mirror = tree(100);
    let ok = verify_package(&pkg_of(range, &entries, proof.clone()), 300, &root, &mirror)
        .expect("verifies");
    assert_eq!(ok.leaf_hashes.len(), 156);
    assert_eq!(ok.leaf_hashes[0], leaf_hash(b"leaf 100"));

    let check = |r: Result<VerifiedPackage>| match r {
        Err(Error::PackageRefused {
            package: 0,
            start: 0,
            end: 256,
            size: 300,
            check,
        }) => check,
        other => panic!("expected PackageRefused, got {other:?}"),
    };
    // Against another pending size.
    assert_eq!(
        check(verify_package(
            &pkg_of(range, &entries, proof.clone()),
            301,
            &root,
            &mirror
        )),
        PackageCheck::PendingSize {
            upload_end: 300,
            pending_size: 301
        }
    );
    // Missing an entry.
    assert_eq!(
        check(verify_package(
            &pkg_of(range, &entries[1..], proof.clone()),
            300,
            &root,
            &mirror
        )),
        PackageCheck::EntryCount {
            expected: 156,
            found: 155
        }
    );
    // A mirror whose head differs (another leaf 0).
    let mut other = MemoryTree::new();
    other.append(b"not leaf 0");
    for i in 1..100 {
        other.append(format!("leaf {i}").as_bytes());
    }
    assert!(matches!(
        check(verify_package(
            &pkg_of(range, &entries, proof.clone()),
            300,
            &root,
            &other
        )),
        PackageCheck::Proof(_)
    ));
    // A mirror without the head at all: the reader's own error.
    assert!(matches!(
        verify_package(
            &pkg_of(range, &entries, proof.clone()),
            300,
            &root,
            &tree(50)
        ),
        Err(Error::MissingHash { .. })
    ));
    // A proof with one hash too many or too few.
    let mut long = proof.clone();
    long.push(root);
    assert!(matches!(
        check(verify_package(
            &pkg_of(range, &entries, long),
            300,
            &root,
            &mirror
        )),
        PackageCheck::Proof(_)
    ));
    assert!(matches!(
        check(verify_package(
            &pkg_of(range, &entries, Vec::new()),
            300,
            &root,
            &mirror
        )),
        PackageCheck::Proof(_)
    ));
}

// ---- check_upload ------------------------------------------------------------

#[test]
fn upload_headers_are_checked_against_the_mirror_state() {
    let check = |start, end, mirror_size, next, known| {
        let body = header(b"o", start, end, b"");
        let req = AddEntries::parse_header(&body).expect("header");
        check_upload(&req, mirror_size, next, known)
    };
    assert!(check(256, 300, 256, 256, true).is_ok());
    assert!(check(100, 300, 0, 256, true).is_ok(), "re-sends 156");
    // Timestamp refresh: an empty upload at the mirror size.
    assert!(check(300, 300, 300, 300, true).is_ok());
    let conflict = |r: Result<()>| match r {
        Err(Error::UploadConflict { reason }) => reason,
        other => panic!("expected UploadConflict, got {other:?}"),
    };
    assert!(conflict(check(256, 300, 256, 256, false)).contains("not the size of a pending"));
    assert!(conflict(check(200, 200, 256, 256, true)).contains("below the mirror checkpoint"));
    assert!(conflict(check(257, 300, 256, 256, true)).contains("past the next entry"));
    // Re-sent entries at the limit and one past.
    let n = MAX_RESENT_ENTRIES;
    assert!(check(0, 10_000, 0, n, true).is_ok());
    assert!(conflict(check(0, 10_000, 0, n + 1, true)).contains("2049 entries"));
    // min(end, next): re-sending all of a short upload counts only its own.
    assert!(check(0, n, 0, 9_000, true).is_ok());
}

// ---- encoding ----------------------------------------------------------------

#[test]
fn the_encoder_writes_what_the_parser_reads() {
    let mut body = encode_header("log.example/a", 100, 300, b"tk").expect("header");
    assert_eq!(body, header(b"log.example/a", 100, 300, b"tk"));
    encode_package(&mut body, &[&b"x"[..], b"yz"], &[[3; 32]]).expect("package");
    let mut want = header(b"log.example/a", 100, 300, b"tk");
    want.extend_from_slice(&[0, 1, b'x', 0, 2, b'y', b'z', 1]);
    want.extend_from_slice(&[3; 32]);
    assert_eq!(body, want);
    assert!(encode_header("", 0, 0, b"").is_err());
    assert!(encode_header("o", 2, 1, b"").is_err());
    assert!(encode_header("o", 0, MAX_TREE_SIZE + 1, b"").is_err());
}

// ---- mirror-info -------------------------------------------------------------

#[test]
fn mirror_info_round_trips_and_matches_the_spec_example() {
    let info = MirrorInfo::parse(b"300\n256\n\n").expect("spec example");
    assert_eq!(
        info,
        MirrorInfo {
            pending_size: 300,
            next_entry: 256,
            ticket: Vec::new()
        }
    );
    assert_eq!(info.to_body(), "300\n256\n\n");
    let info = MirrorInfo::parse(b"0\n0\nAAEC\n").expect("ticket");
    assert_eq!(info.ticket, [0, 1, 2]);
    assert_eq!(info.to_body(), "0\n0\nAAEC\n");
}

#[test]
fn mirror_info_is_parsed_strictly() {
    for body in [
        &b""[..],
        b"300\n256\n",
        b"300\n256\n\n\n",
        b"300\n256\n",
        b"300\n256\nAAEC",
        b"300\n256\nAAEC\r\n",
        b"0300\n256\n\n",
        b"300\n+256\n\n",
        b"300 \n256\n\n",
        b"-1\n256\n\n",
        b"9223372036854775808\n0\n\n",
        b"300\n256\nAAE\n",
        b"300\n256\nAAF=\n",
        b"300\n256\nAAE=\n\n",
        b"300\n256\nAA-_\n",
        b"\xff\n256\n\n",
    ] {
        assert!(
            matches!(
                MirrorInfo::parse(body),
                Err(Error::MalformedMirrorInfo { .. })
            ),
            "{:?} accepted",
            String::from_utf8_lossy(body)
        );
    }
    assert_eq!(
        MirrorInfo::parse(b"9223372036854775807\n0\n\n")
            .expect("2^63-1")
            .pending_size,
        MAX_TREE_SIZE
    );
}

#[test]
fn mirror_info_at_the_limits_and_one_past() {
    let at = MirrorInfo {
        pending_size: MAX_TREE_SIZE,
        next_entry: MAX_TREE_SIZE,
        ticket: vec![1; MAX_TICKET_LEN],
    };
    let body = at.to_body();
    assert_eq!(body.len(), MAX_MIRROR_INFO_BYTES);
    assert_eq!(MirrorInfo::parse(body.as_bytes()).expect("at limit"), at);
    // A ticket one byte longer encodes to as many base64 characters.
    let past = MirrorInfo {
        ticket: vec![1; MAX_TICKET_LEN + 1],
        ..at
    };
    let past_body = past.to_body();
    assert_eq!(past_body.len(), MAX_MIRROR_INFO_BYTES);
    let err = MirrorInfo::parse(past_body.as_bytes()).expect_err("ticket one past");
    assert!(err.to_string().contains("16385 bytes"), "{err}");
    // A body one byte longer.
    let mut long = body.into_bytes();
    long.insert(0, b'1');
    let err = MirrorInfo::parse(&long).expect_err("body one past");
    assert!(err.to_string().contains("over the"), "{err}");
}
