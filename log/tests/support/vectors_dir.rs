//! Finding the test vectors, which live in the repository under
//! `tests/vectors` (see `tests/vectors/PROVENANCE.md`); included by the test
//! crates of every package (`#[path]`), so the rule lives in one place.

use std::path::{Path, PathBuf};

/// `<workspace root>/tests/vectors`, after checking that each path in
/// `needs` (relative to it: the files or directories the calling test
/// reads) exists. A missing directory or file fails the test with its full
/// path: the vectors are part of the checkout, so a test never skips.
///
/// The workspace root is the nearest ancestor of the including package's
/// `CARGO_MANIFEST_DIR` whose `Cargo.toml` has a `[workspace]` table.
#[track_caller]
pub(crate) fn vectors_dir(needs: &[&str]) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest
        .ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
        })
        .unwrap_or_else(|| panic!("no workspace Cargo.toml above {}", manifest.display()));
    let dir = workspace.join("tests/vectors");
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
