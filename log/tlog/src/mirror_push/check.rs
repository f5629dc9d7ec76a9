//! Checking a package against the pending checkpoint, and an upload against the mirror's state.

use super::{AddEntries, MAX_RESENT_ENTRIES, Package, PackageRange};
use std::fmt;

use crate::error::{Error, Result};
use crate::merkle::{
    Hash, HashReader, MemoryTree, leaf_hash, stored_hash_index, verify_subtree_consistency,
};

/// Which check refused a pushed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageCheck {
    /// The package was cut for another tree than the pending checkpoint it
    /// is checked against (a caller error: the pending checkpoint must be
    /// the one of size `upload_end`).
    PendingSize {
        /// The size the package's proof is into (`upload_end`).
        upload_end: u64,
        /// The size of the pending checkpoint given.
        pending_size: u64,
    },
    /// The package does not carry the number of entries its range needs.
    EntryCount {
        /// Entries the range needs.
        expected: usize,
        /// Entries found.
        found: usize,
    },
    /// The mirror's storage returned the wrong number of head hashes.
    Head {
        /// Head leaves needed.
        expected: usize,
        /// Hashes returned.
        found: usize,
    },
    /// The subtree consistency proof does not verify: the entries (with the
    /// stored head) do not hash into a subtree of the pending tree. This is
    /// the 422 of the spec.
    Proof(&'static str),
}

impl fmt::Display for PackageCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageCheck::PendingSize {
                upload_end,
                pending_size,
            } => write!(
                f,
                "its proof is into a tree of size {upload_end}, the pending checkpoint has size {pending_size}"
            ),
            PackageCheck::EntryCount { expected, found } => {
                write!(f, "it carries {found} entries, its range needs {expected}")
            }
            PackageCheck::Head { expected, found } => write!(
                f,
                "the mirror's storage gave {found} hashes for the {expected} stored head entries"
            ),
            PackageCheck::Proof(reason) => {
                write!(f, "subtree consistency proof does not verify: {reason}")
            }
        }
    }
}

/// A package whose entries are proven part of the pending tree: what the
/// mirror stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPackage {
    /// Where it sits in the log.
    pub range: PackageRange,
    /// The hash of the subtree `[range.subtree_start, range.end)`.
    pub subtree_hash: Hash,
    /// The leaf hashes of the package's entries `[range.first, range.end)`,
    /// in order (for `LogGrower::push_hashed`). Entries below the mirror's
    /// next entry are already stored and are skipped by the caller.
    pub leaf_hashes: Vec<Hash>,
}

/// Checks one pushed package against the pending checkpoint `(pending_size,
/// pending_root)` of size `upload_end`, before anything of it is stored.
///
/// The subtree `[range.subtree_start, range.end)` is hashed from the stored
/// head entries (their leaf hashes, read from `mirror`: only when the
/// upload starts off a 256 boundary) and the package's entries, and its
/// subtree consistency proof must lead to `pending_root`.
///
/// # Errors
/// [`Error::PackageRefused`] naming the failed [`PackageCheck`] (the
/// server answers 422 for [`PackageCheck::Proof`]); errors of `mirror`
/// reading the head.
pub fn verify_package(
    package: &Package<'_>,
    pending_size: u64,
    pending_root: &Hash,
    mirror: &dyn HashReader,
) -> Result<VerifiedPackage> {
    let range = package.range;
    let refuse = |check| Error::PackageRefused {
        package: range.index,
        start: range.subtree_start,
        end: range.end,
        size: range.tree_size,
        check,
    };
    if range.tree_size != pending_size {
        return Err(refuse(PackageCheck::PendingSize {
            upload_end: range.tree_size,
            pending_size,
        }));
    }
    if package.entries.len() != range.entry_count() {
        return Err(refuse(PackageCheck::EntryCount {
            expected: range.entry_count(),
            found: package.entries.len(),
        }));
    }
    let head_indexes: Vec<u64> = range.head().map(|i| stored_hash_index(0, i)).collect();
    let head = if head_indexes.is_empty() {
        Vec::new()
    } else {
        mirror.read_hashes(&head_indexes)?
    };
    if head.len() != head_indexes.len() {
        return Err(refuse(PackageCheck::Head {
            expected: head_indexes.len(),
            found: head.len(),
        }));
    }
    let leaf_hashes: Vec<Hash> = package.entries.iter().map(|e| leaf_hash(e)).collect();
    let mut subtree = MemoryTree::new();
    for leaf in head.iter().chain(&leaf_hashes) {
        subtree.append_leaf_hash(*leaf);
    }
    let subtree_hash = subtree.root();
    match verify_subtree_consistency(
        range.subtree_start,
        range.end,
        pending_size,
        &subtree_hash,
        pending_root,
        &package.proof,
    ) {
        Ok(()) => Ok(VerifiedPackage {
            range,
            subtree_hash,
            leaf_hashes,
        }),
        Err(Error::ProofMismatch { reason, .. }) => Err(refuse(PackageCheck::Proof(reason))),
        Err(e) => Err(e),
    }
}

/// Checks an `add-entries` header against the mirror's state, after the
/// server has found the origin (else 404) and a pending checkpoint (else
/// 422), and before any package is read.
///
/// `mirror_size` is the size of the mirror checkpoint, `next_entry` the
/// first entry not yet stored, and `upload_end_is_pending` whether
/// `upload_end` is the size of a pending checkpoint the mirror knows (from
/// its state or an authenticated ticket).
///
/// # Errors
/// [`Error::UploadConflict`] (409, with a [`MirrorInfo`](super::MirrorInfo) body) when
/// `upload_end` is not a known pending size or is below the mirror
/// checkpoint, when `upload_start` is past the next entry, or when more
/// than [`MAX_RESENT_ENTRIES`] already-stored entries would be sent again.
pub fn check_upload(
    header: &AddEntries<'_>,
    mirror_size: u64,
    next_entry: u64,
    upload_end_is_pending: bool,
) -> Result<()> {
    let (start, end) = (header.upload_start, header.upload_end);
    let conflict = |reason: String| Err(Error::UploadConflict { reason });
    if !upload_end_is_pending {
        return conflict(format!(
            "upload end {end} is not the size of a pending checkpoint"
        ));
    }
    if end < mirror_size {
        return conflict(format!(
            "upload end {end} is below the mirror checkpoint size {mirror_size}"
        ));
    }
    if start > next_entry {
        return conflict(format!(
            "upload start {start} is past the next entry {next_entry}"
        ));
    }
    let resent = end.min(next_entry) - start;
    if resent > MAX_RESENT_ENTRIES {
        return conflict(format!(
            "{resent} entries are already stored, over the limit of {MAX_RESENT_ENTRIES} sent again"
        ));
    }
    Ok(())
}
