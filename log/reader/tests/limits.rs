//! Every named limit, at the limit and one past it.

#![allow(missing_docs)]

use islet_reader::Error;
use islet_reader::source::{MAX_BUNDLE_BYTES, Resource, read_in_dir};
use islet_tlog::Error as TlogError;
use islet_tlog::tiles::{
    BundleId, MAX_ENTRY_SIZE, MAX_TILE_PATH_LEN, TileId, TilePath, parse_bundle, push_bundle_entry,
};

#[test]
fn an_entry_of_the_maximum_size_fits_a_bundle_and_one_byte_more_does_not() {
    let mut bundle = Vec::new();
    push_bundle_entry(&mut bundle, &vec![7u8; MAX_ENTRY_SIZE]).expect("at the limit");
    assert_eq!(bundle.len(), 2 + MAX_ENTRY_SIZE);
    let parsed = parse_bundle(BundleId { index: 0, width: 1 }, &bundle).expect("parses");
    assert_eq!(parsed[0].len(), MAX_ENTRY_SIZE);
    let err = push_bundle_entry(&mut Vec::new(), &vec![7u8; MAX_ENTRY_SIZE + 1]);
    assert!(
        matches!(err, Err(TlogError::EntryTooLarge { len, max }) if len == MAX_ENTRY_SIZE + 1 && max == MAX_ENTRY_SIZE)
    );
}

#[test]
fn a_bundle_with_one_entry_too_many_or_too_few_is_rejected() {
    let mut bundle = Vec::new();
    for _ in 0..3 {
        push_bundle_entry(&mut bundle, b"abc").expect("push");
    }
    assert!(parse_bundle(BundleId { index: 0, width: 3 }, &bundle).is_ok());
    assert!(matches!(
        parse_bundle(BundleId { index: 0, width: 2 }, &bundle),
        Err(TlogError::BundleMalformed { .. })
    ));
    assert!(matches!(
        parse_bundle(BundleId { index: 0, width: 4 }, &bundle),
        Err(TlogError::BundleMalformed { .. })
    ));
    // A dangling length byte and a truncated entry.
    assert!(
        parse_bundle(
            BundleId { index: 0, width: 3 },
            &[&bundle[..], &[0]].concat()
        )
        .is_err()
    );
    assert!(parse_bundle(BundleId { index: 0, width: 3 }, &bundle[..bundle.len() - 1]).is_err());
}

#[test]
fn tile_paths_longer_than_the_limit_are_refused_before_parsing() {
    // The longest canonical path is far below the limit.
    let longest = TilePath::Entries(BundleId {
        index: u64::MAX,
        width: 255,
    })
    .to_string();
    assert!(longest.len() < MAX_TILE_PATH_LEN);
    assert!(TilePath::parse(&longest).is_ok());
    let at_limit = format!("tile/0/{}", "9".repeat(MAX_TILE_PATH_LEN - 7));
    assert_eq!(at_limit.len(), MAX_TILE_PATH_LEN);
    let Err(TlogError::InvalidTilePath { reason, .. }) = TilePath::parse(&at_limit) else {
        panic!("accepted")
    };
    assert_ne!(reason, "too long");
    let over = format!("{at_limit}9");
    let Err(TlogError::InvalidTilePath { reason, .. }) = TilePath::parse(&over) else {
        panic!("accepted")
    };
    assert_eq!(reason, "too long");
}

#[test]
fn an_index_with_seven_groups_parses_and_one_that_overflows_does_not() {
    let max = TilePath::Hash(TileId {
        level: 0,
        index: u64::MAX,
        width: 256,
    });
    assert_eq!(max.to_string(), "tile/0/x018/x446/x744/x073/x709/x551/615");
    assert_eq!(
        TilePath::parse(&max.to_string()).expect("u64::MAX parses"),
        max
    );
    assert!(TilePath::parse("tile/0/x018/x446/x744/x073/x709/x551/616").is_err());
    assert!(TilePath::parse("tile/0/x001/x000/x000/x000/x000/x000/x000/000").is_err());
}

#[test]
fn resources_are_read_up_to_their_size_limit_and_refused_one_byte_past_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tile = TileId {
        level: 0,
        index: 0,
        width: 256,
    };
    let r = Resource::Tile(TilePath::Hash(tile));
    std::fs::create_dir_all(dir.path().join("tile/0")).expect("mkdir");
    let path = dir.path().join("tile/0/000");
    let mut buf = Vec::new();
    std::fs::write(&path, vec![0u8; tile.byte_len()]).expect("write");
    assert!(read_in_dir(dir.path(), r, &mut buf).expect("at the limit"));
    std::fs::write(&path, vec![0u8; tile.byte_len() + 1]).expect("write");
    assert!(
        matches!(read_in_dir(dir.path(), r, &mut buf), Err(Error::TooLarge { limit, .. }) if limit == tile.byte_len())
    );

    let bundle = Resource::Tile(TilePath::Entries(BundleId {
        index: 0,
        width: 256,
    }));
    assert_eq!(bundle.max_len(), MAX_BUNDLE_BYTES);
    std::fs::create_dir_all(dir.path().join("tile/entries")).expect("mkdir");
    let bpath = dir.path().join("tile/entries/000");
    std::fs::write(&bpath, vec![0u8; MAX_BUNDLE_BYTES]).expect("write");
    assert!(read_in_dir(dir.path(), bundle, &mut buf).expect("at the limit"));
    std::fs::write(&bpath, vec![0u8; MAX_BUNDLE_BYTES + 1]).expect("write");
    assert!(matches!(
        read_in_dir(dir.path(), bundle, &mut buf),
        Err(Error::TooLarge { .. })
    ));

    let cp = dir.path().join("checkpoint");
    std::fs::write(&cp, vec![b'a'; islet_tlog::note::MAX_NOTE_SIZE]).expect("write");
    assert!(read_in_dir(dir.path(), Resource::Checkpoint, &mut buf).expect("at the limit"));
    std::fs::write(&cp, vec![b'a'; islet_tlog::note::MAX_NOTE_SIZE + 1]).expect("write");
    assert!(matches!(
        read_in_dir(dir.path(), Resource::Checkpoint, &mut buf),
        Err(Error::TooLarge { .. })
    ));
}
