//! fsck through the library, at every size where the tile layout changes
//! shape, against logs written by `tiledir`.

#![allow(missing_docs)]

use islet_reader::Error;
use islet_reader::fsck::{FsckOptions, fsck};
use islet_reader::source::LogSource;
use islet_reader::tiledir::write_log;
use islet_signer::Ed25519Signer;
use islet_tlog::merkle::MemoryTree;
use islet_tlog::note::NoteSigner;

fn entry(i: u64) -> Vec<u8> {
    format!("e{i}").into_bytes()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn fsck_accepts_logs_at_every_tile_boundary_size_with_the_right_root() {
    let signer = Ed25519Signer::from_seed("sizes.example", &[1; 32]).expect("signer");
    let rt = runtime();
    for size in [
        0u64, 1, 2, 255, 256, 257, 511, 512, 513, 65_535, 65_536, 65_537,
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let cp =
            write_log(dir.path(), signer.name(), &signer, (0..size).map(entry)).expect("write");
        let mut tree = MemoryTree::new();
        (0..size).for_each(|i| tree.append(&entry(i)));
        assert_eq!(cp.root, tree.root(), "size {size}");
        let source = LogSource::Dir(dir.path().to_owned());
        let report = rt
            .block_on(fsck(&source, &signer.verifier(), &FsckOptions::default()))
            .unwrap_or_else(|e| panic!("size {size}: {e}"));
        assert_eq!(report.size, size);
        assert_eq!(report.root, hex::encode(tree.root()));
        assert_eq!(report.bundles, size.div_ceil(256));
    }
}

#[test]
fn fsck_refuses_a_checkpoint_whose_root_is_not_the_tree_in_the_tiles() {
    // Tiles of one log, checkpoint of another of the same size and key.
    let signer = Ed25519Signer::from_seed("swap.example", &[2; 32]).expect("signer");
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    write_log(a.path(), signer.name(), &signer, (0..1000).map(entry)).expect("write a");
    write_log(
        b.path(),
        signer.name(),
        &signer,
        (0..1000).map(|i| entry(i + 1)),
    )
    .expect("write b");
    std::fs::copy(b.path().join("checkpoint"), a.path().join("checkpoint")).expect("copy");
    let err = runtime()
        .block_on(fsck(
            &LogSource::Dir(a.path().to_owned()),
            &signer.verifier(),
            &FsckOptions::default(),
        ))
        .expect_err("must fail");
    // Every tile agrees with the entries, so only the signed root disagrees.
    assert!(err.is_verification_failure(), "{err}");
    assert!(
        matches!(err, Error::RootMismatch { size: 1000, .. }),
        "{err}"
    );
}
