//! Per-client token buckets (`[client_limits]`), one map per route group,
//! bounded: at [`MAX_TRACKED_CLIENTS`] the buckets that have refilled are
//! forgotten (a full bucket is what a new client gets anyway), and if the
//! map is still full, new clients share one overflow bucket, so a flood of
//! addresses costs bounded memory and cannot take the tracked clients'
//! share.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use islet_store::config::{AccessSettings, Rate};
use islet_store::tokens::RouteGroup;

use crate::api::ApiError;
use crate::bucket::TokenBucket;

/// Clients with a bucket of their own, per route group.
pub const MAX_TRACKED_CLIENTS: usize = 65_536;

/// Who a client is, for its bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientId {
    /// The subject of its verified client certificate.
    Certificate(Arc<str>),
    /// The name of its live bearer token.
    Token(Arc<str>),
    /// Its source address.
    Address(IpAddr),
    /// Nothing known (no peer address).
    Unknown,
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientId::Certificate(s) => write!(f, "certificate {s}"),
            ClientId::Token(n) => write!(f, "token {n}"),
            ClientId::Address(a) => write!(f, "address {a}"),
            ClientId::Unknown => f.write_str("an unknown client"),
        }
    }
}

#[derive(Debug)]
struct Buckets {
    rate: Rate,
    clients: HashMap<ClientId, TokenBucket>,
    overflow: TokenBucket,
}

#[derive(Debug)]
struct GroupLimit {
    buckets: Mutex<Buckets>,
    limited: AtomicU64,
}

/// The buckets of every limited group.
#[derive(Debug)]
pub struct ClientLimiter {
    groups: [Option<GroupLimit>; 4],
}

impl ClientLimiter {
    /// Buckets for the rates of `settings`.
    pub fn new(settings: &AccessSettings) -> ClientLimiter {
        let make = |rate: Option<Rate>| {
            rate.map(|rate| GroupLimit {
                buckets: Mutex::new(Buckets {
                    rate,
                    clients: HashMap::new(),
                    overflow: TokenBucket::new(rate.per_second, rate.burst, Instant::now()),
                }),
                limited: AtomicU64::new(0),
            })
        };
        ClientLimiter {
            groups: [
                make(settings.write_rate),
                make(settings.timestamp_rate),
                make(settings.witness_rate),
                None,
            ],
        }
    }

    /// Takes a token from `client`'s bucket for `group`.
    ///
    /// # Errors
    /// [`ApiError::TooManyRequests`] with the seconds to wait.
    pub fn take(&self, group: RouteGroup, client: &ClientId, now: Instant) -> Result<(), ApiError> {
        let Some(limit) = &self.groups[group as usize] else {
            return Ok(());
        };
        let Ok(mut b) = limit.buckets.lock() else {
            return Ok(());
        };
        let rate = b.rate;
        if !b.clients.contains_key(client) && b.clients.len() >= MAX_TRACKED_CLIENTS {
            b.clients.retain(|_, bucket| !bucket.is_full(now));
        }
        let taken = if b.clients.len() < MAX_TRACKED_CLIENTS || b.clients.contains_key(client) {
            b.clients
                .entry(client.clone())
                .or_insert_with(|| TokenBucket::new(rate.per_second, rate.burst, now))
                .take(now)
        } else {
            b.overflow.take(now)
        };
        drop(b);
        taken.map_err(|wait| {
            limit.limited.fetch_add(1, Ordering::Relaxed);
            ApiError::TooManyRequests {
                message: format!(
                    "{client} is over its rate of {} {} requests per second (burst {}); retry later",
                    rate.per_second,
                    group.as_str(),
                    rate.burst
                ),
                retry_after: retry_after_seconds(wait),
            }
        })
    }

    /// Clients with a bucket, per limited group.
    pub fn tracked(&self, group: RouteGroup) -> Option<usize> {
        let limit = self.groups[group as usize].as_ref()?;
        limit.buckets.lock().ok().map(|b| b.clients.len())
    }

    pub(super) fn render_metrics(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP islet_client_rate_limited_total Requests refused with 429 because their client was over its rate, by route group.\n\
             # TYPE islet_client_rate_limited_total counter"
        );
        for group in RouteGroup::ALL {
            if let Some(limit) = &self.groups[group as usize] {
                let _ = writeln!(
                    out,
                    "islet_client_rate_limited_total{{group=\"{}\"}} {}",
                    group.as_str(),
                    limit.limited.load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP islet_client_limit_tracked_clients Clients with a bucket of their own, by route group.\n\
             # TYPE islet_client_limit_tracked_clients gauge"
        );
        for group in RouteGroup::ALL {
            if let Some(n) = self.tracked(group) {
                let _ = writeln!(
                    out,
                    "islet_client_limit_tracked_clients{{group=\"{}\"}} {n}",
                    group.as_str()
                );
            }
        }
    }
}

/// Whole seconds to wait, at least 1 (`Retry-After` has no fractions).
fn retry_after_seconds(wait: Duration) -> u64 {
    let secs = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0));
    secs.clamp(1, 3600)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32) -> ClientLimiter {
        ClientLimiter::new(&AccessSettings {
            write_rate: Some(Rate { per_second, burst }),
            ..AccessSettings::default()
        })
    }

    #[test]
    fn each_client_has_its_own_bucket() {
        let l = limiter(1, 2);
        let now = Instant::now();
        let a = ClientId::Token("a".into());
        let b = ClientId::Token("b".into());
        assert!(l.take(RouteGroup::Write, &a, now).is_ok());
        assert!(l.take(RouteGroup::Write, &a, now).is_ok());
        let e = l.take(RouteGroup::Write, &a, now).unwrap_err();
        assert!(
            matches!(e, ApiError::TooManyRequests { retry_after: 1, .. }),
            "{e:?}"
        );
        assert!(l.take(RouteGroup::Write, &b, now).is_ok(), "b is not a's");
        assert!(
            l.take(RouteGroup::Timestamp, &a, now).is_ok(),
            "no timestamp limit"
        );
        assert!(
            l.take(RouteGroup::Read, &a, now).is_ok(),
            "reads are never limited"
        );
    }

    #[test]
    fn the_map_is_bounded_at_its_limit_and_one_past() {
        let l = limiter(1, 1);
        let now = Instant::now();
        for i in 0..MAX_TRACKED_CLIENTS {
            let ip = IpAddr::from(u32::try_from(i).unwrap().to_be_bytes());
            assert!(
                l.take(RouteGroup::Write, &ClientId::Address(ip), now)
                    .is_ok()
            );
        }
        assert_eq!(l.tracked(RouteGroup::Write), Some(MAX_TRACKED_CLIENTS));
        // One past: every tracked bucket is empty, so nobody is forgotten
        // and the newcomer takes from the shared overflow bucket.
        let new = ClientId::Address(IpAddr::from([10, 9, 9, 9]));
        assert!(l.take(RouteGroup::Write, &new, now).is_ok());
        assert!(l.take(RouteGroup::Write, &ClientId::Unknown, now).is_err());
        assert_eq!(l.tracked(RouteGroup::Write), Some(MAX_TRACKED_CLIENTS));
        // Once the buckets refill, the idle clients are forgotten.
        let later = now + Duration::from_secs(5);
        assert!(l.take(RouteGroup::Write, &new, later).is_ok());
        assert_eq!(l.tracked(RouteGroup::Write), Some(1));
    }

    #[test]
    fn retry_after_is_whole_seconds_at_least_one() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::MAX), 3600);
    }
}
