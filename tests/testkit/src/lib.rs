//! # islet-testkit
//!
//! Helpers the test suites of several islet crates share, as a crate of its
//! own (a dev-dependency only; nothing ships it) rather than files included
//! across crates.
//!
//! - [`vectors_dir`]: the test vectors, which live in the repository under
//!   `tests/vectors` (their sources in `tests/vectors/PROVENANCE.md`).
//! - [`cosig`]: an independent `cosignature/v1` verifier.
//! - [`pg`]: a real PostgreSQL server in a temporary directory.

pub mod cosig;
pub mod pg;

use std::path::{Path, PathBuf};

/// `tests/vectors` of this checkout, after checking that each path in
/// `needs` (relative to it: the files or directories the calling test
/// reads) exists. A missing directory or file fails the test with its full
/// path: the vectors are part of the checkout, so a test never skips.
///
/// # Panics
/// When the directory or one of `needs` is missing.
#[track_caller]
pub fn vectors_dir(needs: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    assert!(
        dir.is_dir(),
        "test vectors missing: {} is not a directory",
        dir.display()
    );
    let missing: Vec<String> = needs
        .iter()
        .map(|rel| dir.join(rel))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "test vector missing: {}",
        missing.join(", ")
    );
    dir
}
