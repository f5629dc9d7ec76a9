//! Finding the shared test vectors; included by the test crates of every
//! package (`#[path]`), so the rule lives in one place.

use std::path::{Path, PathBuf};

/// The vectors directory: `ISLET_VECTORS` (relative paths are taken from the
/// workspace root), else `<workspace>/../shared/vectors`. When that default
/// is absent and the variable is not set, prints a SKIPPED line for `test`
/// and returns `None`; a set but missing `ISLET_VECTORS` fails the test.
pub(crate) fn vectors_dir(workspace: &Path, test: &str) -> Option<PathBuf> {
    match std::env::var_os("ISLET_VECTORS") {
        Some(v) => {
            let p = PathBuf::from(v);
            let p = if p.is_absolute() {
                p
            } else {
                workspace.join(p)
            };
            assert!(
                p.is_dir(),
                "ISLET_VECTORS={} is not a directory",
                p.display()
            );
            Some(p)
        }
        None => {
            let p = workspace.join("../shared/vectors");
            if p.is_dir() {
                Some(p)
            } else {
                eprintln!(
                    "SKIPPED {test}: no vectors at {} and ISLET_VECTORS is not set",
                    p.display()
                );
                None
            }
        }
    }
}
