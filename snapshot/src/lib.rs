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
//! - [`manifest`]: the manifest and which files a snapshot must hold;
//! - [`export`]: a log from the store into a snapshot file, reproducibly;
//! - [`import`]: a snapshot into the mirror of its log, verified end to end
//!   and applied atomically;
//! - [`inspect`]: what a snapshot holds, with or without a key;
//! - [`frames`]: zstd as independent frames, compressed and decoded on
//!   more than one core;
//! - [`oci`]: snapshots as ORAS artifacts in OCI image layouts;
//! - [`registry`]: snapshots pushed to and pulled from OCI registries.

mod archive;
pub mod error;
pub mod export;
pub mod frames;
pub mod import;
pub mod inspect;
pub mod manifest;
pub mod oci;
pub mod registry;
mod ustar;

pub use error::{Error, Result};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// zstd level of exports unless another is asked for.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Lowest zstd level accepted.
pub const MIN_ZSTD_LEVEL: i32 = 1;
/// Highest zstd level accepted: levels up to 19 need a window of at most
/// 2^23 bytes, within [`ZSTD_WINDOW_LOG_MAX`].
pub const MAX_ZSTD_LEVEL: i32 = 19;
/// Largest zstd window import accepts, as a power of two (16 MiB). A frame
/// that asks for more is refused before any memory is spent on it.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 24;
/// Largest entry bundle: 256 entries of at most 65,535 bytes, each with a
/// 2-byte length.
pub const MAX_BUNDLE_BYTES: u64 = 256 * (2 + 65_535);

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
