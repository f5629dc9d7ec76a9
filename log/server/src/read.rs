//! The tlog-tiles read API of the own log (checkpoint, tiles, bundles), and
//! health and metrics.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use islet_store::{LogNumber, LogStore};
use islet_tlog::tiles::TilePath;

use crate::api::{ApiError, ApiResult};
use crate::http::AppState;

/// `GET /api/v2/checkpoint`: the latest signed checkpoint (or, asked at
/// the host a shard that ended was served at, that shard's final one).
pub(crate) async fn checkpoint(State(s): State<AppState>, headers: HeaderMap) -> ApiResult {
    if let Some(shard) = s.shards.for_host(&headers) {
        return crate::shards::shard_checkpoint(&s, shard).await;
    }
    let head = s.own()?.sequencer.shared().latest();
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        head.note.clone(),
    )
        .into_response())
}

/// A tile or bundle: immutable, cached for a week.
fn immutable(data: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=604800, immutable"),
        ],
        Body::from(data),
    )
        .into_response()
}

/// `GET /api/v2/tile/…`: hash tiles and entry bundles of the own log (or
/// of the shard that ended whose host the request names).
pub(crate) async fn tile(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(rest): Path<String>,
) -> ApiResult {
    if let Some(shard) = s.shards.for_host(&headers) {
        return serve_tile(s.store.clone(), shard.number, shard.frozen.size, &rest).await;
    }
    let size = s.own()?.sequencer.shared().latest().size;
    serve_tile(
        Arc::clone(s.own_store.store()),
        s.own_store.log(),
        size,
        &rest,
    )
    .await
}

/// Answers `tile/<rest>` of log `log` as of `size` entries.
pub(crate) async fn serve_tile(
    store: Arc<dyn LogStore>,
    log: LogNumber,
    size: u64,
    rest: &str,
) -> ApiResult {
    let path = format!("tile/{rest}");
    let parsed = TilePath::parse(&path).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let found = tokio::task::spawn_blocking(move || match parsed {
        TilePath::Hash(t) => store.tile_at(log, t, size),
        TilePath::Entries(b) => store.bundle_at(log, b, size),
    })
    .await??;
    match found {
        Some(data) => Ok(immutable(data)),
        None => Err(ApiError::not_found(format!(
            "{path} is not part of the log"
        ))),
    }
}

/// `GET /healthz`: whether the sequencer is running (a data directory
/// that only mirrors is healthy while it serves).
pub(crate) async fn healthz(State(s): State<AppState>) -> Response {
    if s.own
        .as_ref()
        .is_none_or(|own| own.sequencer.shared().healthy())
    {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"SERVING"}"#,
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"NOT_SERVING"}"#,
        )
            .into_response()
    }
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut text = String::new();
            if let Some(own) = &s.own {
                let shared = own.sequencer.shared();
                let age = shared
                    .latest()
                    .signed_at
                    .elapsed()
                    .unwrap_or(Duration::ZERO)
                    .as_secs_f64();
                text = shared
                    .metrics
                    .render(age, shared.pending(), shared.healthy());
            }
            if let Some(tsa) = &s.tsa {
                tsa.render_metrics(&mut text);
            }
            if let Some(witness) = &s.witness {
                witness.render_metrics(&mut text);
            }
            if let Some(witnessing) = &s.witnessing {
                witnessing.render_metrics(&mut text);
            }
            if let Some(follow) = &s.follow {
                follow.render(&mut text);
            }
            let started = s
                .started
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            text.push_str(&format!(
                "# HELP islet_start_time_seconds Unix time this server started.\n\
                 # TYPE islet_start_time_seconds gauge\nislet_start_time_seconds {started}\n"
            ));
            for source in &s.more_metrics {
                source.render(&mut text);
            }
            text
        },
    )
        .into_response()
}
