//! Counters and histograms, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A histogram with fixed bucket bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    state: Mutex<(Vec<u64>, u64, f64)>,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            state: Mutex::new((vec![0; bounds.len()], 0, 0.0)),
        }
    }

    /// Records one value.
    pub fn observe(&self, v: f64) {
        if let Ok(mut s) = self.state.lock() {
            for (i, b) in self.bounds.iter().enumerate() {
                if v <= *b {
                    s.0[i] += 1;
                }
            }
            s.1 += 1;
            s.2 += v;
        }
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let Ok(s) = self.state.lock() else { return };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&s.0) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            s.1, s.2, s.1
        );
    }
}

const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Synced disk writes: from a tenth of a millisecond to a second.
const SYNC_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
const ENTRIES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Why a request was refused, for the rejection counter's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Body did not decode.
    Malformed,
    /// Failed validation (key, algorithm, signature).
    Invalid,
    /// Body over the limit.
    TooLarge,
    /// Queue full.
    Overloaded,
    /// Sequencer down.
    Unavailable,
    /// Entry over 65,535 bytes.
    EntryTooLarge,
    /// Body not received within the body-read timeout.
    TooSlow,
}

impl Rejection {
    const ALL: [Rejection; 7] = [
        Rejection::Malformed,
        Rejection::Invalid,
        Rejection::TooLarge,
        Rejection::Overloaded,
        Rejection::Unavailable,
        Rejection::EntryTooLarge,
        Rejection::TooSlow,
    ];

    fn label(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Invalid => "invalid",
            Rejection::TooLarge => "too_large",
            Rejection::Overloaded => "overloaded",
            Rejection::Unavailable => "unavailable",
            Rejection::EntryTooLarge => "entry_too_large",
            Rejection::TooSlow => "too_slow",
        }
    }
}

/// Everything `/metrics` shows.
#[derive(Debug)]
pub struct Metrics {
    /// Entries appended.
    pub appended: AtomicU64,
    /// Duplicate submissions answered 409.
    pub duplicates: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Current tree size.
    pub tree_size: AtomicU64,
    /// Entries per batch.
    pub batch_entries: Histogram,
    /// From queueing to answering with a checkpoint.
    pub time_to_checkpoint: Histogram,
    /// A batch's synced commit to the store.
    pub store_commit: Histogram,
    /// A checkpoint's synced record in the fork guard.
    pub guard_record: Histogram,
    rejections: [AtomicU64; Rejection::ALL.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            appended: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            tree_size: AtomicU64::new(0),
            batch_entries: Histogram::new(ENTRIES),
            time_to_checkpoint: Histogram::new(SECONDS),
            store_commit: Histogram::new(SYNC_SECONDS),
            guard_record: Histogram::new(SYNC_SECONDS),
            rejections: Default::default(),
        }
    }
}

impl Metrics {
    /// Counts a refused request.
    pub fn reject(&self, why: Rejection) {
        if let Some(i) = Rejection::ALL.iter().position(|r| *r == why) {
            self.rejections[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition; `checkpoint_age` in seconds.
    pub fn render(&self, checkpoint_age: f64, pending: u64, healthy: bool) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "islet_entries_appended_total",
            "Entries appended to the log.",
            self.appended.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "islet_duplicates_total",
            "Submissions of entries already in the log.",
            self.duplicates.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "islet_batches_total",
            "Batches committed.",
            self.batches.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP islet_rejections_total Requests refused, by reason.\n# TYPE islet_rejections_total counter"
        );
        for (r, c) in Rejection::ALL.iter().zip(&self.rejections) {
            let _ = writeln!(
                out,
                "islet_rejections_total{{reason=\"{}\"}} {}",
                r.label(),
                c.load(Ordering::Relaxed)
            );
        }
        self.batch_entries.render(
            &mut out,
            "islet_batch_entries",
            "Entries per committed batch.",
        );
        self.time_to_checkpoint.render(
            &mut out,
            "islet_time_to_checkpoint_seconds",
            "From request to a checkpoint covering it.",
        );
        self.store_commit.render(
            &mut out,
            "islet_store_commit_seconds",
            "A batch's synced commit to the store (entries, tiles, checkpoint).",
        );
        self.guard_record.render(
            &mut out,
            "islet_guard_record_seconds",
            "A published checkpoint's synced record in the fork guard.",
        );
        let gauge = |out: &mut String, name: &str, help: &str, v: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut out,
            "islet_tree_size",
            "Entries in the log.",
            self.tree_size.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "islet_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed.",
            format!("{checkpoint_age:.3}"),
        );
        gauge(
            &mut out,
            "islet_pending_entries",
            "Entries queued for sequencing.",
            pending.to_string(),
        );
        gauge(
            &mut out,
            "islet_sequencer_healthy",
            "1 while the sequencer runs.",
            u64::from(healthy).to_string(),
        );
        out
    }
}
