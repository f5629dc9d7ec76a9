//! The counters and gauges of witnessing, and their Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::peer::{Peer, Verdict};

/// Counters and gauges of witnessing.
#[derive(Debug)]
pub(super) struct WitnessMetrics {
    pub(super) answers: Mutex<BTreeMap<(usize, &'static str), u64>>,
    pub(super) cosigned_size: Vec<AtomicU64>,
    pub(super) inconsistent: Vec<AtomicU64>,
    pub(super) quorum_size: AtomicU64,
    pub(super) waiting: AtomicU64,
}

impl WitnessMetrics {
    pub(super) fn new(n: usize) -> Self {
        Self {
            answers: Mutex::new(BTreeMap::new()),
            cosigned_size: (0..n).map(|_| AtomicU64::new(0)).collect(),
            inconsistent: (0..n).map(|_| AtomicU64::new(0)).collect(),
            quorum_size: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
        }
    }

    pub(super) fn count(&self, i: usize, verdict: &Verdict) {
        let label = match verdict {
            Verdict::Cosigned(..) => "cosigned",
            Verdict::Ahead { .. } => "ahead",
            Verdict::Refused { .. } => "refused",
            Verdict::Transient(_) => "unreachable",
        };
        if let Ok(mut m) = self.answers.lock() {
            *m.entry((i, label)).or_insert(0) += 1;
        }
    }

    pub(super) fn cosigned(&self, i: usize, size: u64) {
        if let Some(g) = self.cosigned_size.get(i) {
            g.fetch_max(size, Ordering::Relaxed);
        }
    }

    pub(super) fn inconsistent(&self, i: usize) {
        if let Some(c) = self.inconsistent.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn render(&self, peers: &[Peer], out: &mut String) {
        let name = |i: usize| {
            peers.get(i).map_or(String::new(), |p| {
                p.name.replace('\\', "\\\\").replace('"', "\\\"")
            })
        };
        let _ = writeln!(
            out,
            "# HELP islet_witness_requests_total Cosigning requests to this log's witnesses, by witness and outcome.\n# TYPE islet_witness_requests_total counter"
        );
        if let Ok(m) = self.answers.lock() {
            for ((i, label), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "islet_witness_requests_total{{witness=\"{}\",outcome=\"{label}\"}} {n}",
                    name(*i)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP islet_witness_cosigned_size Largest tree size each witness cosigned.\n# TYPE islet_witness_cosigned_size gauge"
        );
        for (i, g) in self.cosigned_size.iter().enumerate() {
            let _ = writeln!(
                out,
                "islet_witness_cosigned_size{{witness=\"{}\"}} {}",
                name(i),
                g.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP islet_witness_inconsistent_total Hard refusals by a witness (inconsistent, unknown log, bad signature, ahead of this log).\n# TYPE islet_witness_inconsistent_total counter"
        );
        for (i, c) in self.inconsistent.iter().enumerate() {
            let _ = writeln!(
                out,
                "islet_witness_inconsistent_total{{witness=\"{}\"}} {}",
                name(i),
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP islet_witness_quorum_size Largest tree size cosigned by the policy's quorum.\n# TYPE islet_witness_quorum_size gauge\nislet_witness_quorum_size {}",
            self.quorum_size.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP islet_writes_waiting_quorum Writes committed and waiting for a cosigned checkpoint (fail-closed).\n# TYPE islet_writes_waiting_quorum gauge\nislet_writes_waiting_quorum {}",
            self.waiting.load(Ordering::Relaxed)
        );
    }
}
