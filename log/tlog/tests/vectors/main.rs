#![allow(clippy::cast_possible_truncation)] // vector values are small and fixed
//! The test vectors in `tests/vectors` at the workspace root (provenance in
//! `tests/vectors/PROVENANCE.md`), checked against islet-log. A missing
//! vector file fails its test; none is ever skipped.

mod checkpoints;
mod common;
mod merkle_testdata;
mod mirror_push;
mod notes;
mod rekor;
mod tiles;
mod trees;
mod witness;
