//! The Rekor v2 write API: `POST /api/v2/log/entries`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use islet_rekor::entry::validate;
use islet_rekor::request::parse_request;

use crate::api::{ApiError, ApiResult};
use crate::body::{BodyError, read_body};
use crate::error::Error;
use crate::http::{AppState, INLINE_VALIDATION_MAX_BYTES};
use crate::metrics::Rejection;
use crate::response::{EntryResponseParts, TransparencyLogEntry};
use crate::sequencer::Outcome;

/// `POST /api/v2/log/entries`: validates an entry, waits until a signed
/// checkpoint covers it, and answers the TransparencyLogEntry.
pub(crate) async fn create_entry(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    if s.shards.for_host(&headers).is_some() {
        return Ok(crate::shards::frozen_response());
    }
    let own = s.own()?;
    if own.frozen.is_some() {
        return Ok(crate::shards::frozen_response());
    }
    let metrics = &own.sequencer.shared().metrics;
    let body = match read_body(&headers, body, s.max_request_bytes, s.body_read_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            metrics.reject(Rejection::TooLarge);
            return Err(ApiError::PayloadTooLarge(format!(
                "request body is larger than the {}-byte limit",
                s.max_request_bytes
            )));
        }
        Err(BodyError::TooSlow) => {
            metrics.reject(Rejection::TooSlow);
            return Err(ApiError::Timeout(format!(
                "the request body did not arrive within {} ms",
                s.body_read_timeout.as_millis()
            )));
        }
        Err(BodyError::Broken(reason)) => {
            metrics.reject(Rejection::Malformed);
            return Err(ApiError::bad_request(format!(
                "the request body could not be read: {reason}"
            )));
        }
    };
    // From here until it is queued (or refused), the write is on its way
    // to the sequencer: a batch waits for it rather than closing.
    let arriving = own.sequencer.shared().arrivals().arrive();
    // Decoding and signature verification are CPU work. A small
    // hashedrekord (one verification, well under a millisecond) is checked
    // right here: handing it to the blocking pool costs two thread
    // switches, which on two cores is a fifth of an entry's CPU. Anything
    // larger, and DSSE (up to 100 verifications), goes to the blocking
    // pool so it never stalls the I/O threads.
    let policy = own.policy;
    let validated = if body.len() <= INLINE_VALIDATION_MAX_BYTES {
        match parse_request(&body) {
            Ok(req) if req.dsse.is_none() => Ok(validate(req, policy)),
            Ok(req) => tokio::task::spawn_blocking(move || validate(req, policy)).await,
            Err(e) => Ok(Err(e)),
        }
    } else {
        tokio::task::spawn_blocking(move || {
            parse_request(&body).and_then(|req| validate(req, policy))
        })
        .await
    };
    let entry = match validated {
        Ok(Ok(entry)) => entry,
        Ok(Err(e @ islet_rekor::Error::BadRequest { .. })) => {
            metrics.reject(Rejection::Malformed);
            return Err(ApiError::bad_request(e.to_string()));
        }
        Ok(Err(e @ islet_rekor::Error::EntryTooLarge { .. })) => {
            metrics.reject(Rejection::EntryTooLarge);
            return Err(ApiError::bad_request(e.to_string()));
        }
        Ok(Err(e)) => {
            metrics.reject(Rejection::Invalid);
            return Err(ApiError::bad_request(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let kind = entry.kind;
    let body = entry.body.clone();
    match own.sequencer.submit(entry, Some(arriving)).await {
        Ok(Outcome::Appended(a)) => {
            let json = TransparencyLogEntry::encode(&EntryResponseParts {
                index: a.index,
                log_id: &own.log_id,
                kind,
                body: &body,
                tree_size: a.checkpoint.size,
                root: &a.checkpoint.root,
                proof: &a.proof,
                checkpoint: &a.checkpoint.note,
            });
            Ok((
                StatusCode::CREATED,
                [(header::CONTENT_TYPE, "application/json")],
                json,
            )
                .into_response())
        }
        Ok(Outcome::Duplicate { index }) => Err(ApiError::AlreadyExists { index }),
        Err(e) => {
            match e {
                Error::Overloaded => metrics.reject(Rejection::Overloaded),
                Error::Unavailable { .. } => metrics.reject(Rejection::Unavailable),
                _ => {}
            }
            Err(e.into())
        }
    }
}
