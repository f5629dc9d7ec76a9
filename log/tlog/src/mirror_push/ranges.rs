//! Where each package of an upload sits: the canonical package sequence.

use super::{MAX_ENTRIES_PER_PACKAGE, WIDTH};
use std::ops::Range;

use crate::checkpoint::MAX_TREE_SIZE;
use crate::error::{Error, Result};

/// Where one package of the canonical sequence sits in the log.
///
/// Package `i` of an upload `[start, end)` carries the entries
/// `[max(start, rs + 256·i), min(end, rs + 256·(i+1)))`, with `rs` the start
/// rounded down to a multiple of 256, and proves the subtree
/// `[rs + 256·i, that end)` in the tree of size `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageRange {
    /// The package's index in the canonical sequence (0 for the first).
    pub index: u64,
    /// Index of the first entry the package carries.
    pub first: u64,
    /// One past the last entry it carries (also the end of the subtree).
    pub end: u64,
    /// First leaf of the subtree it proves: a multiple of 256, at or below
    /// `first`. Entries `[subtree_start, first)` (the head) come from the
    /// mirror's own storage.
    pub subtree_start: u64,
    /// The size of the tree the proof is into (the upload's end).
    pub tree_size: u64,
}

impl PackageRange {
    /// Entries carried by the package (at most 256).
    pub fn entry_count(&self) -> usize {
        // end - first ≤ 256 by construction.
        usize::try_from(self.end - self.first).unwrap_or(MAX_ENTRIES_PER_PACKAGE)
    }

    /// The entries the mirror supplies from its storage: `[subtree_start,
    /// first)`, empty unless the upload starts off a 256 boundary.
    pub fn head(&self) -> Range<u64> {
        self.subtree_start..self.first
    }

    /// The entries the package carries: `[first, end)`.
    pub fn entries(&self) -> Range<u64> {
        self.first..self.end
    }
}

/// The canonical package sequence of an upload, in order.
#[derive(Debug, Clone)]
pub struct PackageRanges {
    start: u64,
    end: u64,
    /// First leaf of the next package's subtree.
    next: u64,
    index: u64,
}

impl PackageRanges {
    /// The sequence of `[start, end)`, with `start ≤ end` checked by the
    /// caller. An empty upload has no package, even off a 256 boundary.
    pub(super) fn new(start: u64, end: u64) -> Self {
        let next = if start == end {
            end
        } else {
            start - start % WIDTH
        };
        PackageRanges {
            start,
            end,
            next,
            index: 0,
        }
    }

    /// Packages not yet returned.
    pub fn remaining(&self) -> u64 {
        if self.next >= self.end {
            0
        } else {
            (self.end - self.next).div_ceil(WIDTH)
        }
    }
}

impl Iterator for PackageRanges {
    type Item = PackageRange;

    fn next(&mut self) -> Option<PackageRange> {
        if self.next >= self.end {
            return None;
        }
        let subtree_start = self.next;
        let end = self.end.min(subtree_start.saturating_add(WIDTH));
        let range = PackageRange {
            index: self.index,
            first: self.start.max(subtree_start),
            end,
            subtree_start,
            tree_size: self.end,
        };
        self.next = end;
        self.index += 1;
        Some(range)
    }
}

/// The canonical package sequence of the upload `[upload_start,
/// upload_end)` (empty when they are equal).
///
/// # Errors
/// [`Error::InvalidAddEntries`] when `upload_start > upload_end` or
/// `upload_end` is over [`MAX_TREE_SIZE`].
pub fn package_ranges(upload_start: u64, upload_end: u64) -> Result<PackageRanges> {
    if upload_start > upload_end {
        return Err(Error::InvalidAddEntries {
            reason: format!("upload start {upload_start} is past upload end {upload_end}"),
        });
    }
    if upload_end > MAX_TREE_SIZE {
        return Err(Error::InvalidAddEntries {
            reason: format!("upload end {upload_end} is over 2^63-1"),
        });
    }
    Ok(PackageRanges::new(upload_start, upload_end))
}
