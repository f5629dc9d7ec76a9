//! The site's RFC 3161 timestamp authority over HTTP, at the paths of
//! Sigstore's timestamp-authority service: `POST /api/v1/timestamp` (a DER
//! `TimeStampReq`, or the JSON form) and `GET /api/v1/timestamp/certchain`.
//! The protocol is [`islet_tsa`]'s; this module adds what a server needs
//! around it: the body limit, a rate limit, a bound on the cores signing
//! may take (so the log's sequencer and write path always keep the rest),
//! and metrics.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use islet_tsa::{Answer, Outcome, Serials, TimestampAuthority};

use crate::body::{BodyError, read_body};
use crate::bucket::TokenBucket;
use crate::http::AppState;

/// Largest body read from a timestamp request: a DER query is a few dozen
/// bytes (the largest legitimate one, with a SHA-512 imprint, a policy and
/// a 64-byte nonce, is under 200); [`islet_tsa`] refuses anything over its
/// own limits with the protocol's answer, so one byte past the largest of
/// them is enough to tell.
pub const MAX_TIMESTAMP_BODY_BYTES: usize = islet_tsa::MAX_DER_REQUEST_BYTES + 1;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
struct TsaMetrics {
    issued: AtomicU64,
    refused: AtomicU64,
    rate_limited: AtomicU64,
    failed: AtomicU64,
    last_gen_time: AtomicU64,
}

/// The timestamp authority as the server runs it.
#[derive(Debug)]
pub struct TsaService {
    authority: TimestampAuthority,
    serials: Serials,
    bucket: Mutex<TokenBucket>,
    signing: tokio::sync::Semaphore,
    metrics: TsaMetrics,
}

impl TsaService {
    /// A service around `authority`, issuing serials from `serials`, at
    /// most `rate_per_second` timestamps a second sustained and `burst` at
    /// once, signing on at most half the machine's cores.
    pub fn new(
        authority: TimestampAuthority,
        serials: Serials,
        rate_per_second: u32,
        burst: u32,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            authority,
            serials,
            bucket: Mutex::new(TokenBucket::new(rate_per_second, burst, Instant::now())),
            signing: tokio::sync::Semaphore::new(signing_permits(cores)),
            metrics: TsaMetrics::default(),
        }
    }

    /// The certificate chain, PEM, leaf first.
    pub fn chain_pem(&self) -> &str {
        self.authority.chain_pem()
    }

    fn admit(&self) -> bool {
        self.bucket
            .lock()
            .map(|mut b| b.take(Instant::now()).is_ok())
            .unwrap_or(false)
    }

    fn count(&self, outcome: &Outcome) {
        let m = &self.metrics;
        match outcome {
            Outcome::Issued { gen_time, .. } => {
                m.issued.fetch_add(1, Ordering::Relaxed);
                let secs = gen_time
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                m.last_gen_time.fetch_max(secs, Ordering::Relaxed);
            }
            Outcome::Refused { .. } => {
                m.refused.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Failed { detail } => {
                eprintln!("islet: timestamp authority: {detail}");
                m.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The Prometheus text of the TSA's counters.
    pub fn render_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        let _ = writeln!(
            out,
            "# HELP islet_tsa_timestamps_total Timestamp requests, by outcome.\n# TYPE islet_tsa_timestamps_total counter"
        );
        for (label, v) in [
            ("issued", &m.issued),
            ("refused", &m.refused),
            ("rate_limited", &m.rate_limited),
            ("failed", &m.failed),
        ] {
            let _ = writeln!(
                out,
                "islet_tsa_timestamps_total{{outcome=\"{label}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP islet_tsa_last_gen_time_seconds Unix time of the latest timestamp issued.\n# TYPE islet_tsa_last_gen_time_seconds gauge\nislet_tsa_last_gen_time_seconds {}",
            m.last_gen_time.load(Ordering::Relaxed)
        );
    }
}

/// The SubjectPublicKeyInfo (DER) of the first certificate of `chain`.
pub fn leaf_spki(chain: &[Vec<u8>]) -> Option<Vec<u8>> {
    use x509_cert::der::{Decode, Encode};
    let leaf = x509_cert::Certificate::from_der(chain.first()?).ok()?;
    leaf.tbs_certificate.subject_public_key_info.to_der().ok()
}

/// Cores signing may take at once: half of them, at least one. The
/// sequencer and the write path keep the other half however many clients
/// ask for timestamps.
pub fn signing_permits(cores: usize) -> usize {
    (cores / 2).max(1)
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "code": status.as_u16(), "message": message }).to_string();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn answer_response(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.http_status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(answer.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        answer.body,
    )
        .into_response()
}

/// `POST /api/v1/timestamp`.
pub(crate) async fn timestamp(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(tsa) = s.tsa.clone() else {
        return json_error(
            StatusCode::NOT_FOUND,
            "this islet serves no timestamp authority (started with --no-tsa, or [tsa] enabled = false)",
        );
    };
    let body = match read_body(
        &headers,
        body,
        MAX_TIMESTAMP_BODY_BYTES,
        s.body_read_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            tsa.metrics.refused.fetch_add(1, Ordering::Relaxed);
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "timestamp request is too large (the limit is {} bytes)",
                    islet_tsa::MAX_DER_REQUEST_BYTES
                ),
            );
        }
        Err(BodyError::TooSlow) => {
            tsa.metrics.refused.fetch_add(1, Ordering::Relaxed);
            return json_error(
                StatusCode::REQUEST_TIMEOUT,
                "the timestamp request did not arrive in time",
            );
        }
        Err(BodyError::Broken(reason)) => {
            tsa.metrics.refused.fetch_add(1, Ordering::Relaxed);
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("the request body could not be read: {reason}"),
            );
        }
    };
    if !tsa.admit() {
        tsa.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut r = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "timestamp rate limit reached; retry in a second",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Ok(_permit) = tsa.signing.acquire().await else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
    };
    // A timestamp is about 0.1 ms of signing and 0.1 ms of encoding: it
    // runs right here, on the I/O thread, as small entries are validated.
    // Handing it to the blocking pool costs two thread switches, which
    // measured 10% of the TSA's throughput on 2 cores (README,
    // Benchmarks); the permit keeps it to half the cores.
    let answered = tsa.serials.next().map(|serial| {
        tsa.authority
            .answer(&content_type, &body, SystemTime::now(), serial)
    });
    match answered {
        Ok(answer) => {
            tsa.count(&answer.outcome);
            answer_response(answer)
        }
        Err(e) => {
            tsa.metrics.failed.fetch_add(1, Ordering::Relaxed);
            eprintln!("islet: timestamp authority: {e}");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error generating timestamp response",
            )
        }
    }
}

/// `GET /api/v1/timestamp/certchain`: the chain, PEM, leaf first.
pub(crate) async fn certchain(State(s): State<Arc<AppState>>) -> Response {
    let Some(tsa) = s.tsa.clone() else {
        return json_error(
            StatusCode::NOT_FOUND,
            "this islet serves no timestamp authority",
        );
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pem-certificate-chain"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=86400, immutable"),
            ),
        ],
        tsa.chain_pem().to_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_takes_half_the_cores_and_at_least_one() {
        assert_eq!(signing_permits(1), 1);
        assert_eq!(signing_permits(2), 1);
        assert_eq!(signing_permits(3), 1);
        assert_eq!(signing_permits(8), 4);
    }
}
