//! # islet-snapshot
//!
//! Export and import of transparency logs as snapshots, for carrying logs
//! across an air gap (`../shared/DESIGN.md` §6, `../shared/specs/c2sp.md`
//! §9.6).
//!
//! A snapshot is a tar archive compressed with zstd that holds a tlog-tiles
//! tree: the signed checkpoint, a manifest (`islet-snapshot.json`), and
//! every hash tile and entry bundle needed to grow the log from the
//! manifest's `from_size` to the checkpoint's size. A full snapshot starts
//! at 0; an increment starts where an earlier one ended.
//!
//! - [`manifest`], [`frames`], [`inspect`]: the snapshot file itself, from
//!   the crate `islet-snapshot-format` (no store), re-exported;
//! - [`export`]: a log from the store into a snapshot file, reproducibly;
//! - [`import`]: a snapshot into the mirror of its log, verified end to end
//!   and applied atomically;
//! - [`import_dir`]: a directory of snapshots, imported in order;
//! - [`oci`]: snapshots as ORAS artifacts in OCI image layouts;
//! - [`registry`]: snapshots pushed to and pulled from OCI registries;
//! - [`schedule`]: the exports `islet serve` makes on a schedule
//!   (`[[export]]`).
//!
//! Built on the store (`islet-store`) and the spec crates; it must never
//! depend on the server (`islet-server`), which `.ci/run` checks.

pub mod error;
pub mod export;
pub mod import;
pub mod import_dir;
pub mod oci;
pub mod registry;
pub mod schedule;

pub use islet_snapshot_format::{
    END_SLACK, MAX_BUNDLE_BYTES, PRE_MANIFEST_CAP, ZSTD_WINDOW_LOG_MAX, frames, inspect, manifest,
};

pub use error::{Error, Result};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// zstd level of exports unless another is asked for.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Lowest zstd level accepted.
pub const MIN_ZSTD_LEVEL: i32 = 1;
/// Highest zstd level accepted: levels up to 19 need a window of at most
/// 2^23 bytes, within [`ZSTD_WINDOW_LOG_MAX`].
pub const MAX_ZSTD_LEVEL: i32 = 19;

/// A progress bar on stderr when `enabled` and stderr is a terminal, hidden
/// otherwise (so `--json` output and logs stay clean).
pub fn progress_bar(enabled: bool, len: u64, what: &str) -> ProgressBar {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:40}}] {{human_pos}}/{{human_len}} ({{per_sec}}, {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

fn secs<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
