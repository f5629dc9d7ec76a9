//! What the benchmarks share: settings from the environment, medians, a
//! large log, a Fulcio-like CA with a CT log for full Sigstore bundles.
//! Each benchmark uses part of it.

#![allow(dead_code)]

pub(crate) mod fixture;
pub(crate) mod sigstore;

/// A number from the environment, or `default`.
pub(crate) fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median (upper middle) of samples.
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f`; its wall-clock seconds and its result.
pub(crate) fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = std::time::Instant::now();
    let out = f();
    (start.elapsed().as_secs_f64(), out)
}
