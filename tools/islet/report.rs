//! Output shared by the commands: JSON results and memory figures.

/// The process's peak resident memory (`VmHWM`), as the kernel counts it.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Prints `value` as one JSON line, with `"ok": true` and the peak RSS.
pub(crate) fn print_json(value: impl serde::Serialize) {
    let mut v = serde_json::to_value(value).unwrap_or_default();
    v["ok"] = serde_json::Value::Bool(true);
    if let Some(peak) = peak_rss_bytes() {
        v["peak_rss_bytes"] = peak.into();
    }
    println!("{v}");
}

/// Reports a failed command: exit 1 when what it was given is refused,
/// 2 for a usage or I/O error; the reason on stderr after `command`, and
/// with `json` also as one JSON line (with the peak RSS) on stdout.
pub(crate) fn failure(
    command: &str,
    json: bool,
    refused: bool,
    reason: &dyn std::fmt::Display,
) -> std::process::ExitCode {
    let (code, kind) = if refused {
        (crate::EXIT_VERIFICATION, "refused")
    } else {
        (crate::EXIT_USAGE_OR_IO, "error")
    };
    if json {
        let mut v =
            serde_json::json!({ "ok": false, "failure": kind, "error": reason.to_string() });
        if let Some(peak) = peak_rss_bytes() {
            v["peak_rss_bytes"] = peak.into();
        }
        println!("{v}");
    }
    eprintln!("{command}: {kind}: {reason}");
    std::process::ExitCode::from(code)
}
