//! RFC 6962 / RFC 9162 Merkle trees: hashing, proof generation over any hash
//! store, proof verification, and the subtree proofs of
//! draft-ietf-plants-merkle-tree-certs §4 (used by tlog-mirror).
//!
//! No I/O. Hashes come from a [`HashReader`], which addresses *stored hashes*:
//! the perfect-subtree hashes of the tree, numbered in the order they become
//! computable while leaves are appended (`../shared/specs/c2sp.md` §3.1). The
//! same code therefore serves RocksDB, tiles on disk or over HTTP, and memory.
//!
//! Proof generation works in two passes: first the list of half-open leaf
//! ranges whose tree hashes make up the proof, then one batched read of the
//! stored hashes those ranges decompose into.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Size of a [`type@Hash`] in bytes.
pub const HASH_SIZE: usize = 32;

/// The root of the empty tree, SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_SIZE];
    buf[0] = 1;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// Converts a byte slice to a [`type@Hash`], refusing any length but 32.
///
/// # Errors
/// [`Error::BadHashLength`] when `bytes` is not 32 bytes long.
pub fn hash_from_slice(bytes: &[u8]) -> Result<Hash> {
    bytes
        .try_into()
        .map_err(|_| Error::BadHashLength { len: bytes.len() })
}

/// The split point of a tree of `n ≥ 2` leaves: the largest power of two
/// strictly less than `n`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// A tree level (always below 64) as the `u8` the API uses.
#[allow(clippy::cast_possible_truncation)] // levels of a u64-indexed tree are < 64
pub(crate) fn level_u8(level: impl Into<u64>) -> u8 {
    let level = level.into();
    debug_assert!(level < 64);
    level as u8
}

/// The largest power of two `≤ n` (n ≥ 1), with its exponent.
fn largest_pow2_at_most(n: u64) -> (u64, u8) {
    debug_assert!(n >= 1);
    let level = 63 - n.leading_zeros();
    (1 << level, level_u8(level))
}

/// Hash of a power-of-two number of hashes, pairing adjacent ones level by
/// level (a perfect subtree).
///
/// # Panics
/// Debug builds assert that `hashes.len()` is a power of two.
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    perfect_root_in_place(&mut hashes.to_vec())
}

/// [`perfect_root`] computed in the caller's buffer, without allocating;
/// the buffer's contents are overwritten.
///
/// # Panics
/// Debug builds assert that `hashes.len()` is a power of two; an empty
/// slice gives the empty tree's root.
pub fn perfect_root_in_place(hashes: &mut [Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut len = hashes.len();
    while len > 1 {
        for i in 0..len / 2 {
            hashes[i] = node_hash(&hashes[2 * i], &hashes[2 * i + 1]);
        }
        len /= 2;
    }
    hashes.first().copied().unwrap_or(EMPTY_ROOT)
}

/// Folds the perfect-subtree hashes of a range, left to right, into the
/// range's tree hash (right to left: `h = last; h = NH(prev, h)`).
fn fold_right(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(*last, |acc, h| node_hash(h, &acc))
}

// ---------------------------------------------------------------------------
// Stored-hash indexing (golang.org/x/mod/sumdb/tlog semantics)
// ---------------------------------------------------------------------------

/// Position of perfect node `(level, n)` in the append-only array of stored
/// hashes: `m = ((n+1) << level) - 1`, `index = 2m - popcount(m) + level`.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // m is the last leaf covered by the node; the leaves before and at m
    // contribute 2m - popcount(m) stored hashes below level `level`.
    let m = ((n + 1) << level) - 1;
    2 * m - u64::from(m.count_ones()) + u64::from(level)
}

/// Inverse of [`stored_hash_index`]: the `(level, n)` of a stored hash.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // Find the largest leaf n with stored_hash_index(0, n) <= index. The
    // leaf index is close to index/2; correct by stepping.
    let mut n = index / 2;
    let mut leaf = stored_hash_index(0, n);
    while leaf > index {
        n -= 1;
        leaf = stored_hash_index(0, n);
    }
    loop {
        let next = stored_hash_index(0, n + 1);
        if next > index {
            break;
        }
        n += 1;
        leaf = next;
    }
    let level = level_u8(index - leaf);
    (level, n >> level)
}

/// Number of stored hashes in a tree of `size` leaves.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let last = size - 1;
    stored_hash_index(0, last) + 1 + u64::from(last.trailing_ones())
}

/// Stored-hash indexes of the maximal perfect subtrees covering `[lo, hi)`,
/// left to right. `lo` must be aligned to the first subtree (always true for
/// the ranges proofs use).
fn push_subtree_indexes(lo: u64, hi: u64, out: &mut Vec<u64>) {
    let mut lo = lo;
    while lo < hi {
        let (k, level) = largest_pow2_at_most(hi - lo);
        debug_assert!(lo & (k - 1) == 0, "unaligned subtree range");
        out.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

fn subtree_count(lo: u64, hi: u64) -> usize {
    // One perfect subtree per set bit of the length (ranges are aligned).
    (hi - lo).count_ones() as usize
}

/// A source of stored hashes: RocksDB, tiles, memory.
pub trait HashReader {
    /// Returns the stored hashes at `indexes`, in the same order.
    ///
    /// # Errors
    /// Whatever the backing store reports; [`Error::MissingHash`] when an
    /// index is beyond what is stored.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>>;
}

/// Reads the tree hashes of a list of leaf ranges with one batched read.
fn range_hashes(ranges: &[(u64, u64)], reader: &dyn HashReader) -> Result<Vec<Hash>> {
    let mut indexes = Vec::new();
    for &(lo, hi) in ranges {
        push_subtree_indexes(lo, hi, &mut indexes);
    }
    let hashes = reader.read_hashes(&indexes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::MissingHash {
            index: indexes.get(hashes.len()).copied().unwrap_or(0),
        });
    }
    let mut out = Vec::with_capacity(ranges.len());
    let mut at = 0;
    for &(lo, hi) in ranges {
        let n = subtree_count(lo, hi);
        out.push(fold_right(&hashes[at..at + n]));
        at += n;
    }
    Ok(out)
}

/// The root of the tree of `size` leaves.
///
/// # Errors
/// Errors of the [`HashReader`].
pub fn tree_hash(size: u64, reader: &dyn HashReader) -> Result<Hash> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    Ok(range_hashes(&[(0, size)], reader)?[0])
}

/// Proof ranges of `PATH(m, D[lo:hi])`, leaf sibling first.
fn inclusion_ranges(lo: u64, hi: u64, m: u64, out: &mut Vec<(u64, u64)>) {
    if hi - lo <= 1 {
        return;
    }
    let k = split_point(hi - lo);
    if m < lo + k {
        inclusion_ranges(lo, lo + k, m, out);
        out.push((lo + k, hi));
    } else {
        inclusion_ranges(lo + k, hi, m, out);
        out.push((lo, lo + k));
    }
}

/// Proof ranges of `SUBPROOF(m, D[lo:hi], lo == 0)`.
fn consistency_ranges(lo: u64, hi: u64, m: u64, out: &mut Vec<(u64, u64)>) {
    if m == hi {
        if lo != 0 {
            out.push((lo, hi));
        }
        return;
    }
    let k = split_point(hi - lo);
    if m <= lo + k {
        consistency_ranges(lo, lo + k, m, out);
        out.push((lo + k, hi));
    } else {
        consistency_ranges(lo + k, hi, m, out);
        out.push((lo, lo + k));
    }
}

/// The RFC 6962 inclusion proof (audit path) of leaf `index` in the tree of
/// `size` leaves, leaf sibling first.
///
/// # Errors
/// [`Error::InvalidProofRequest`] when `index ≥ size`; errors of the reader.
pub fn inclusion_proof(index: u64, size: u64, reader: &dyn HashReader) -> Result<Vec<Hash>> {
    if index >= size {
        return Err(Error::InvalidProofRequest {
            reason: "leaf index is not below the tree size",
        });
    }
    let mut ranges = Vec::new();
    inclusion_ranges(0, size, index, &mut ranges);
    range_hashes(&ranges, reader)
}

/// The RFC 6962 consistency proof from `old_size` to `new_size`
/// (`0 < old_size ≤ new_size`; equal sizes give an empty proof).
///
/// # Errors
/// [`Error::InvalidProofRequest`] when `old_size` is 0 or above `new_size`.
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    reader: &dyn HashReader,
) -> Result<Vec<Hash>> {
    if old_size == 0 || old_size > new_size {
        return Err(Error::InvalidProofRequest {
            reason: "consistency needs 0 < old size <= new size",
        });
    }
    if old_size == new_size {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    consistency_ranges(0, new_size, old_size, &mut ranges);
    range_hashes(&ranges, reader)
}

fn mismatch(kind: &'static str, reason: &'static str) -> Error {
    Error::ProofMismatch { kind, reason }
}

/// Recomputes the root from a leaf hash and its inclusion proof
/// (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`Error::ProofMismatch`] when the proof has the wrong length for
/// `(index, size)`.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash> {
    const KIND: &str = "inclusion";
    if index >= size {
        return Err(mismatch(KIND, "leaf index is not below the tree size"));
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(mismatch(KIND, "proof is too long"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(mismatch(KIND, "proof is too short"));
    }
    Ok(r)
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with
/// `root`.
///
/// # Errors
/// [`Error::ProofMismatch`] when it is not.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    if root_from_inclusion_proof(index, size, leaf, proof)? != *root {
        return Err(mismatch(
            "inclusion",
            "computed root differs from the expected root",
        ));
    }
    Ok(())
}

/// Verifies an RFC 6962 consistency proof between two tree heads
/// (RFC 9162 §2.1.4.2).
///
/// Policy: `size1 == size2` needs an empty proof and equal roots; `size1 == 0`
/// is an error (there is nothing to prove: callers that treat the empty tree
/// as trivially consistent check that themselves).
///
/// # Errors
/// [`Error::ProofMismatch`] when the proof does not verify.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> Result<()> {
    const KIND: &str = "consistency";
    if size1 > size2 {
        return Err(mismatch(KIND, "old size is larger than new size"));
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(mismatch(KIND, "proof between equal sizes must be empty"));
        }
        if root1 != root2 {
            return Err(mismatch(KIND, "equal sizes with different roots"));
        }
        return Ok(());
    }
    if size1 == 0 {
        return Err(mismatch(KIND, "old size 0 has no consistency proof"));
    }
    if proof.is_empty() {
        return Err(mismatch(KIND, "proof is empty"));
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(*root1);
    }
    path.extend_from_slice(proof);
    let mut f_n = size1 - 1;
    let mut s_n = size2 - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = path[0];
    let mut s_r = path[0];
    for c in &path[1..] {
        if s_n == 0 {
            return Err(mismatch(KIND, "proof is too long"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(mismatch(KIND, "proof is too short"));
    }
    if f_r != *root1 {
        return Err(mismatch(KIND, "old root does not match"));
    }
    if s_r != *root2 {
        return Err(mismatch(KIND, "new root does not match"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Subtrees (draft-ietf-plants-merkle-tree-certs §4)
// ---------------------------------------------------------------------------

/// True when `[start, end)` is a valid subtree: `start ≤ end` and either
/// `start == 0`, `start == end`, or `start` is a multiple of the smallest
/// power of two ≥ `end - start`.
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start > end {
        return false;
    }
    if start == 0 || start == end {
        return true;
    }
    match (end - start).checked_next_power_of_two() {
        Some(ceil) => start.is_multiple_of(ceil),
        None => false,
    }
}

/// The hash of the valid subtree `[start, end)`.
///
/// # Errors
/// [`Error::InvalidProofRequest`] for an invalid subtree; reader errors.
pub fn subtree_hash(start: u64, end: u64, reader: &dyn HashReader) -> Result<Hash> {
    if !is_valid_subtree(start, end) {
        return Err(Error::InvalidProofRequest {
            reason: "not a valid subtree",
        });
    }
    if start == end {
        return Ok(EMPTY_ROOT);
    }
    Ok(range_hashes(&[(start, end)], reader)?[0])
}

/// The inclusion proof of leaf `index` in the valid subtree `[start, end)`.
///
/// # Errors
/// [`Error::InvalidProofRequest`] for an invalid subtree or an index outside
/// it; reader errors.
pub fn subtree_inclusion_proof(
    index: u64,
    start: u64,
    end: u64,
    reader: &dyn HashReader,
) -> Result<Vec<Hash>> {
    if !is_valid_subtree(start, end) || index < start || index >= end {
        return Err(Error::InvalidProofRequest {
            reason: "leaf is not inside a valid subtree",
        });
    }
    let mut ranges = Vec::new();
    inclusion_ranges(start, end, index, &mut ranges);
    range_hashes(&ranges, reader)
}

/// Verifies a subtree inclusion proof: `leaf` at `index` in the subtree
/// `[start, end)` whose hash is `subtree_root`.
///
/// # Errors
/// [`Error::ProofMismatch`] when it does not verify.
pub fn verify_subtree_inclusion(
    index: u64,
    start: u64,
    end: u64,
    leaf: &Hash,
    proof: &[Hash],
    subtree_root: &Hash,
) -> Result<()> {
    const KIND: &str = "subtree inclusion";
    if !is_valid_subtree(start, end) {
        return Err(mismatch(KIND, "not a valid subtree"));
    }
    if index < start || index >= end {
        return Err(mismatch(KIND, "leaf is outside the subtree"));
    }
    let root = root_from_inclusion_proof(index - start, end - start, leaf, proof)
        .map_err(|_| mismatch(KIND, "proof has the wrong length"))?;
    if root != *subtree_root {
        return Err(mismatch(
            KIND,
            "computed root differs from the subtree root",
        ));
    }
    Ok(())
}

fn subtree_consistency_ranges(
    lo: u64,
    hi: u64,
    start: u64,
    end: u64,
    known: bool,
    out: &mut Vec<(u64, u64)>,
) {
    if start == lo && end == hi {
        if !known {
            out.push((lo, hi));
        }
        return;
    }
    let k = split_point(hi - lo);
    if end <= lo + k {
        subtree_consistency_ranges(lo, lo + k, start, end, known, out);
        out.push((lo + k, hi));
    } else if start >= lo + k {
        subtree_consistency_ranges(lo + k, hi, start, end, known, out);
        out.push((lo, lo + k));
    } else {
        subtree_consistency_ranges(lo + k, hi, lo + k, end, false, out);
        out.push((lo, lo + k));
    }
}

/// The consistency proof from the valid subtree `[start, end)` to the tree
/// of `size ≥ end` leaves.
///
/// # Errors
/// [`Error::InvalidProofRequest`] for an invalid subtree or `end > size`.
pub fn subtree_consistency_proof(
    start: u64,
    end: u64,
    size: u64,
    reader: &dyn HashReader,
) -> Result<Vec<Hash>> {
    if !is_valid_subtree(start, end) || end > size {
        return Err(Error::InvalidProofRequest {
            reason: "need a valid subtree [start, end) with end <= size",
        });
    }
    if start == end {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    subtree_consistency_ranges(0, size, start, end, true, &mut ranges);
    range_hashes(&ranges, reader)
}

/// Walks the subtree-consistency recursion, consuming proof hashes from the
/// end; returns (candidate subtree hash, candidate node hash in the tree).
fn subtree_consistency_walk(
    lo: u64,
    hi: u64,
    start: u64,
    end: u64,
    known: bool,
    subtree_root: &Hash,
    proof: &mut &[Hash],
) -> Option<(Hash, Hash)> {
    let mut pop = || -> Option<Hash> {
        let (last, rest) = proof.split_last()?;
        *proof = rest;
        Some(*last)
    };
    if start == lo && end == hi {
        if known {
            return Some((*subtree_root, *subtree_root));
        }
        let h = pop()?;
        return Some((h, h));
    }
    let k = split_point(hi - lo);
    let last = pop()?;
    if end <= lo + k {
        let (x, y) = subtree_consistency_walk(lo, lo + k, start, end, known, subtree_root, proof)?;
        Some((x, node_hash(&y, &last)))
    } else if start >= lo + k {
        let (x, y) = subtree_consistency_walk(lo + k, hi, start, end, known, subtree_root, proof)?;
        Some((x, node_hash(&last, &y)))
    } else {
        let (x, y) = subtree_consistency_walk(lo + k, hi, lo + k, end, false, subtree_root, proof)?;
        Some((node_hash(&last, &x), node_hash(&last, &y)))
    }
}

/// Verifies a subtree consistency proof: the valid subtree `[start, end)`
/// with hash `subtree_root` is part of the tree of `size` leaves with `root`.
///
/// An empty subtree (`start == end`) is consistent with any tree when its
/// hash is the empty root and the proof is empty.
///
/// # Errors
/// [`Error::ProofMismatch`] when it does not verify.
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    size: u64,
    subtree_root: &Hash,
    root: &Hash,
    proof: &[Hash],
) -> Result<()> {
    const KIND: &str = "subtree consistency";
    if !is_valid_subtree(start, end) {
        return Err(mismatch(KIND, "not a valid subtree"));
    }
    if end > size {
        return Err(mismatch(KIND, "subtree ends past the tree size"));
    }
    if start == end {
        if !proof.is_empty() {
            return Err(mismatch(KIND, "proof for an empty subtree must be empty"));
        }
        if *subtree_root != EMPTY_ROOT {
            return Err(mismatch(KIND, "empty subtree must hash to the empty root"));
        }
        return Ok(());
    }
    let mut rest = proof;
    let (x, y) = subtree_consistency_walk(0, size, start, end, true, subtree_root, &mut rest)
        .ok_or_else(|| mismatch(KIND, "proof is too short"))?;
    if !rest.is_empty() {
        return Err(mismatch(KIND, "proof is too long"));
    }
    if x != *subtree_root {
        return Err(mismatch(KIND, "subtree root does not match"));
    }
    if y != *root {
        return Err(mismatch(KIND, "tree root does not match"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In-memory tree
// ---------------------------------------------------------------------------

/// A whole tree in memory: every stored hash, appended leaf by leaf.
///
/// For tests, tools and small logs; 64 bytes of memory per leaf.
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    stored: Vec<Hash>,
    size: u64,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf by its leaf hash.
    pub fn append_leaf_hash(&mut self, leaf: Hash) {
        let n = self.size;
        self.stored.push(leaf);
        let mut h = leaf;
        // Leaf n completes one perfect subtree per trailing one bit of n.
        for level in 0..n.trailing_ones() {
            let left_sibling = stored_hash_index(level_u8(level), (n >> level) - 1);
            let left = usize::try_from(left_sibling)
                .ok()
                .and_then(|i| self.stored.get(i));
            // A left sibling always precedes the leaf that completes it.
            let Some(left) = left else {
                unreachable!("stored hash {left_sibling} missing")
            };
            h = node_hash(left, &h);
            self.stored.push(h);
        }
        self.size += 1;
    }

    /// Appends a leaf by its data.
    pub fn append(&mut self, data: &[u8]) {
        self.append_leaf_hash(leaf_hash(data));
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        // Reading our own stored hashes cannot fail.
        tree_hash(self.size, self).unwrap_or(EMPTY_ROOT)
    }
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.stored.get(i))
                    .copied()
                    .ok_or(Error::MissingHash { index: i })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn split_point_is_largest_power_of_two_strictly_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn stored_hash_index_round_trips() {
        for i in 0..5000u64 {
            let (level, n) = split_stored_hash_index(i);
            assert_eq!(stored_hash_index(level, n), i, "index {i}");
        }
    }

    #[test]
    fn stored_hash_count_matches_memory_tree() {
        let mut t = MemoryTree::new();
        for i in 0..600u64 {
            assert_eq!(stored_hash_count(i), t.stored.len() as u64);
            t.append(&i.to_be_bytes());
        }
    }

    #[test]
    fn subtree_validity_follows_the_draft() {
        assert!(is_valid_subtree(8, 13));
        assert!(!is_valid_subtree(2, 5));
        assert!(!is_valid_subtree(2, 6));
        assert!(!is_valid_subtree(1, 3));
        assert!(is_valid_subtree(256, 300));
        assert!(is_valid_subtree(512, 600));
        assert!(!is_valid_subtree(5, 4));
    }
}
