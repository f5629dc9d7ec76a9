//! Property tests: islet's Merkle code against `rs_merkle` (with an RFC 6962
//! hasher) and against a naive recursive implementation of RFC 6962 written
//! here from the RFC's definitions, over random sizes up to 5,000.

#![allow(missing_docs, clippy::cast_possible_truncation)]

use islet_tlog::merkle::{
    Hash, MemoryTree, consistency_proof, inclusion_proof, is_valid_subtree,
    subtree_consistency_proof, subtree_hash, subtree_inclusion_proof, verify_consistency,
    verify_inclusion, verify_subtree_consistency, verify_subtree_inclusion,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const MAX_SIZE: u64 = 5_000;

// ---- the naive oracle, straight from RFC 6962 §2.1 ----------------------

fn lh(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0]);
    h.update(data);
    h.finalize().into()
}

fn nh(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => Sha256::digest(b"").into(),
        1 => d[0],
        n => {
            let k = k_of(n);
            nh(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

// ---- rs_merkle with RFC 6962 interior hashing -----------------------------

#[derive(Clone)]
struct Rfc6962;

impl rs_merkle::Hasher for Rfc6962 {
    type Hash = [u8; 32];
    fn hash(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }
    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => nh(left, r),
            // A lone node is promoted unchanged: RFC 6962's unbalanced split.
            None => *left,
        }
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| lh(format!("leaf {i}").as_bytes())).collect()
}

fn tree_of(hashes: &[Hash]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for h in hashes {
        t.append_leaf_hash(*h);
    }
    t
}

/// Every way to damage a proof: flip one bit, drop a hash, add a hash.
fn mutations(proof: &[Hash], bit: usize) -> Vec<Vec<Hash>> {
    let mut out = Vec::new();
    if !proof.is_empty() {
        let mut p = proof.to_vec();
        let i = bit / 256 % p.len();
        p[i][bit / 8 % 32] ^= 1 << (bit % 8);
        out.push(p);
        out.push(proof[..proof.len() - 1].to_vec());
        out.push(proof[1..].to_vec());
    }
    let mut longer = proof.to_vec();
    longer.push([0x42; 32]);
    out.push(longer);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn roots_and_inclusion_proofs_equal_rs_merkle_and_the_naive_oracle(
        n in 1..=MAX_SIZE, index_seed in any::<u64>(), bit in any::<usize>()
    ) {
        let hashes = leaves(n);
        let tree = tree_of(&hashes);
        let index = index_seed % n;
        let naive_root = mth(&hashes);
        prop_assert_eq!(tree.root(), naive_root);
        let rs = rs_merkle::MerkleTree::<Rfc6962>::from_leaves(&hashes);
        prop_assert_eq!(rs.root(), Some(naive_root));

        let proof = inclusion_proof(index, n, &tree).expect("proof");
        prop_assert_eq!(&proof, &path(index as usize, &hashes));
        let rs_proof = rs.proof(&[index as usize]).proof_hashes().to_vec();
        prop_assert_eq!(&proof, &rs_proof);

        let leaf = hashes[index as usize];
        prop_assert!(verify_inclusion(index, n, &leaf, &proof, &naive_root).is_ok());
        for bad in mutations(&proof, bit) {
            prop_assert!(verify_inclusion(index, n, &leaf, &bad, &naive_root).is_err());
        }
        if n > 1 {
            let other = (index + 1) % n;
            prop_assert!(verify_inclusion(other, n, &leaf, &proof, &naive_root).is_err());
        }
        // The same proof claimed for the next tree size does not lead to that
        // tree's root.
        let next_root = mth(&leaves(n + 1));
        prop_assert!(verify_inclusion(index, n + 1, &leaf, &proof, &next_root).is_err());
        let mut wrong_leaf = leaf;
        wrong_leaf[0] ^= 1;
        prop_assert!(verify_inclusion(index, n, &wrong_leaf, &proof, &naive_root).is_err());
    }

    #[test]
    fn consistency_proofs_between_random_sizes_verify_and_mutations_fail(
        a in 1..=MAX_SIZE, b in 1..=MAX_SIZE, bit in any::<usize>()
    ) {
        let (m, n) = if a <= b { (a, b) } else { (b, a) };
        let hashes = leaves(n);
        let tree = tree_of(&hashes);
        let (r1, r2) = (mth(&hashes[..m as usize]), mth(&hashes));
        let proof = consistency_proof(m, n, &tree).expect("proof");
        if m < n {
            prop_assert_eq!(&proof, &subproof(m as usize, &hashes, true));
        } else {
            prop_assert!(proof.is_empty());
        }
        prop_assert!(verify_consistency(m, n, &r1, &r2, &proof).is_ok());
        for bad in mutations(&proof, bit) {
            prop_assert!(verify_consistency(m, n, &r1, &r2, &bad).is_err());
        }
        let mut wrong = r1;
        wrong[31] ^= 0x80;
        prop_assert!(verify_consistency(m, n, &wrong, &r2, &proof).is_err());
        prop_assert!(verify_consistency(m, n, &r1, &wrong, &proof).is_err());
        prop_assert!(verify_consistency(n, m, &r2, &r1, &proof).is_err() || m == n);
    }

    #[test]
    fn subtree_proofs_verify_and_mutations_fail(
        n in 1..=MAX_SIZE, s_seed in any::<u64>(), len_seed in any::<u64>(), bit in any::<usize>()
    ) {
        // A random valid subtree [start, end) with end <= n: pick a length,
        // then a start aligned to its power-of-two ceiling.
        let len = 1 + len_seed % n;
        let align = len.next_power_of_two();
        let slots = (n - len) / align + 1;
        let start = (s_seed % slots) * align;
        let end = start + len;
        prop_assume!(end <= n && is_valid_subtree(start, end));
        let hashes = leaves(n);
        let tree = tree_of(&hashes);
        let sub = mth(&hashes[start as usize..end as usize]);
        prop_assert_eq!(subtree_hash(start, end, &tree).expect("hash"), sub);
        let root = mth(&hashes);
        let proof = subtree_consistency_proof(start, end, n, &tree).expect("proof");
        prop_assert!(verify_subtree_consistency(start, end, n, &sub, &root, &proof).is_ok());
        for bad in mutations(&proof, bit) {
            prop_assert!(verify_subtree_consistency(start, end, n, &sub, &root, &bad).is_err());
        }
        let index = start + s_seed % len;
        let iproof = subtree_inclusion_proof(index, start, end, &tree).expect("proof");
        prop_assert_eq!(&iproof, &path((index - start) as usize, &hashes[start as usize..end as usize]));
        prop_assert!(verify_subtree_inclusion(index, start, end, &hashes[index as usize], &iproof, &sub).is_ok());
        for bad in mutations(&iproof, bit) {
            prop_assert!(verify_subtree_inclusion(index, start, end, &hashes[index as usize], &bad, &sub).is_err());
        }
    }
}
