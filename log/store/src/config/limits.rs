//! Limits on tuning values, with the reason for each.

/// A batch is one fsync; more than this many entries per batch only
/// grows latency.
pub const MAX_BATCH_SIZE: usize = 65_536;
/// Waiting longer than a second for a batch to fill defeats the
/// "at most 1 s to a checkpoint" promise.
pub const MAX_BATCH_AGE_MS: u64 = 1000;
/// A queue deeper than this is memory and latency nobody wants.
pub const MAX_PENDING: usize = 1_000_000;
/// Request bodies: at least a small entry, at most 64 MiB.
pub const MIN_REQUEST_BYTES: usize = 1024;
/// See [`MIN_REQUEST_BYTES`].
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;
/// Client timeouts: shorter than this cuts off honest clients on a
/// loaded network.
pub const MIN_TIMEOUT_MS: u64 = 100;
/// Client timeouts: longer than ten minutes only helps slowloris.
pub const MAX_TIMEOUT_MS: u64 = 600_000;
/// Open connections: one file descriptor each.
pub const MAX_CONNECTIONS: usize = 65_536;
/// Upstreams one `islet serve` follows.
pub const MAX_UPSTREAMS: usize = 64;
/// Logs one islet witnesses (`[[witness_service.log]]`).
pub const MAX_WITNESSED_LOGS: usize = 256;
/// Timestamps per second: a rate above this is no limit at all (one
/// P-384 signature costs a few hundred microseconds of a core).
pub const MAX_TSA_RATE: u32 = 100_000;
/// Certificate authorities and CT logs listed in the trusted root.
pub const MAX_TRUST_ENTRIES: usize = 64;
/// Polling an upstream more often than every second is a load test.
pub const MIN_FOLLOW_INTERVAL_SECS: u64 = 1;
/// Less often than daily is not following.
pub const MAX_FOLLOW_INTERVAL_SECS: u64 = 86_400;
/// Scheduled exports (`[[export]]`) of one data directory.
pub const MAX_EXPORTS: usize = 64;
/// A snapshot more often than every minute is a mirror, not a carry.
pub const MIN_EXPORT_INTERVAL_SECS: u64 = 60;
/// Less often than every 31 days and the other side falls far behind.
pub const MAX_EXPORT_INTERVAL_SECS: u64 = 31 * 86_400;
/// Snapshot files an export directory keeps (`keep`; 0 keeps all).
pub const MAX_EXPORT_KEEP: usize = 100_000;
