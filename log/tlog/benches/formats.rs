//! Criterion benches for the format layer: leaf and node hashing, proof
//! generation, proof verification, note verification, tile path parsing.
//!
//! `cargo bench -p islet-log --bench formats`

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use islet_signer::{EcdsaP256Signer, Ed25519Signer};
use islet_tlog::checkpoint::{Checkpoint, SignedCheckpoint};
use islet_tlog::merkle::{
    MemoryTree, consistency_proof, inclusion_proof, leaf_hash, node_hash, verify_consistency,
    verify_inclusion,
};
use islet_tlog::note::{NoteSigner, open};
use islet_tlog::tiles::TilePath;

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("hash");
    let entry = vec![0x5a_u8; 500];
    g.throughput(Throughput::Bytes(entry.len() as u64));
    g.bench_function("leaf_500_bytes", |b| {
        b.iter(|| leaf_hash(black_box(&entry)))
    });
    g.throughput(Throughput::Elements(1));
    let (l, r) = ([1u8; 32], [2u8; 32]);
    g.bench_function("node", |b| {
        b.iter(|| node_hash(black_box(&l), black_box(&r)))
    });
    g.finish();
}

fn proofs(c: &mut Criterion) {
    const SIZE: u64 = 1 << 20;
    let mut tree = MemoryTree::new();
    for i in 0..SIZE {
        tree.append(&i.to_be_bytes());
    }
    let root = tree.root();
    let mut g = c.benchmark_group("proof");
    let mut i = 0u64;
    g.bench_function("inclusion_generate_1M", |b| {
        b.iter(|| {
            i = (i + 7919) % SIZE;
            inclusion_proof(black_box(i), SIZE, &tree)
        });
    });
    let proof = inclusion_proof(123_456, SIZE, &tree).expect("proof");
    let leaf = leaf_hash(&123_456u64.to_be_bytes());
    g.bench_function("inclusion_verify_1M", |b| {
        b.iter(|| verify_inclusion(123_456, SIZE, black_box(&leaf), black_box(&proof), &root));
    });
    let old = 777_777u64;
    let old_root = islet_tlog::merkle::tree_hash(old, &tree).expect("root");
    g.bench_function("consistency_generate_1M", |b| {
        b.iter(|| consistency_proof(black_box(old), SIZE, &tree))
    });
    let cproof = consistency_proof(old, SIZE, &tree).expect("proof");
    g.bench_function("consistency_verify_1M", |b| {
        b.iter(|| verify_consistency(old, SIZE, &old_root, &root, black_box(&cproof)));
    });
    g.finish();
}

fn notes(c: &mut Criterion) {
    let cp = Checkpoint {
        origin: "log.example".into(),
        size: 123_456_789,
        root: [7; 32],
        extensions: vec![],
    };
    let mut g = c.benchmark_group("note");
    let ed = Ed25519Signer::from_seed("log.example", &[1; 32]).expect("signer");
    let note = cp.sign(&[&ed]).expect("sign");
    let v = ed.verifier();
    g.bench_function("open_checkpoint_ed25519", |b| {
        b.iter(|| SignedCheckpoint::open(black_box(&note), &v, &[], None));
    });
    let (ec, _) = EcdsaP256Signer::generate("log.example").expect("signer");
    let note = cp.sign(&[&ec]).expect("sign");
    let v = ec.verifier();
    g.bench_function("open_note_ecdsa_p256", |b| {
        b.iter(|| open(black_box(&note), std::slice::from_ref(&v)))
    });
    g.bench_function("sign_checkpoint_ed25519", |b| {
        b.iter_batched(
            || cp.clone(),
            |cp| cp.sign(&[&ed as &dyn NoteSigner]),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

fn paths(c: &mut Criterion) {
    c.bench_function("tile_path_parse", |b| {
        b.iter(|| TilePath::parse(black_box("tile/entries/x001/x234/067.p/44")));
    });
}

criterion_group!(benches, hashing, proofs, notes, paths);
criterion_main!(benches);
