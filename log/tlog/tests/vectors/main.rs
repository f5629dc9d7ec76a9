#![allow(clippy::cast_possible_truncation)] // vector values are small and fixed
//! Every test vector in `../shared/vectors` (found through `ISLET_VECTORS`),
//! checked against islet-log.
//!
//! When `ISLET_VECTORS` is not set and the default location is missing, each
//! test says plainly that it was skipped; `.ci/run` sets the variable and
//! fails without the vectors, so CI never skips.

mod checkpoints;
mod common;
mod merkle_testdata;
mod notes;
mod rekor;
mod tiles;
mod trees;
