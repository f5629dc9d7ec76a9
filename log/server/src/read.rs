//! The tlog-tiles read API of the own log (checkpoint, tiles, bundles), and
//! health and metrics.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use islet_store::{LogNumber, LogStore};
use islet_tlog::tiles::{TilePath, tile_width};

use crate::tile_cache::{Cached, Key, Source, TileCache, accepts_gzip, none_match};

use crate::api::{ApiError, ApiResult};
use crate::http::AppState;

/// `GET /api/v2/checkpoint`: the latest signed checkpoint (or, asked at
/// the host a shard that ended was served at, that shard's final one).
pub(crate) async fn checkpoint(State(s): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult {
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

/// `Cache-Control` of tiles and bundles: immutable, kept for a week.
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=604800, immutable");
const OCTETS: HeaderValue = HeaderValue::from_static("application/octet-stream");
const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");
const GZIP: HeaderValue = HeaderValue::from_static("gzip");

/// `GET /api/v2/tile/…`: hash tiles and entry bundles of the own log (or
/// of the shard that ended whose host the request names).
pub(crate) async fn tile(
    State(s): State<Arc<AppState>>,
    Path(rest): Path<String>,
    request: axum::extract::Request,
) -> ApiResult {
    // The request, not a copy of its headers: tiles are served at the
    // rate of a static file server.
    let headers = request.headers();
    let source = if let Some(shard) = s.shards.for_host(headers) {
        TileSource::local(&s, shard.number, shard.frozen.size)
    } else {
        TileSource {
            store: Arc::clone(s.own_store.store()),
            source: Source::Own,
            log: s.own_store.log(),
            size: s.own()?.sequencer.shared().latest().size,
        }
    };
    serve_tile(&s.tiles, source, &rest, headers).await
}

/// Where a tile request is answered from: a log of a store, as of a size.
pub(crate) struct TileSource {
    /// The store.
    pub(crate) store: Arc<dyn LogStore>,
    /// Which store that is, for the cache.
    pub(crate) source: Source,
    /// The log in it.
    pub(crate) log: LogNumber,
    /// The tree size served.
    pub(crate) size: u64,
}

impl TileSource {
    /// Log `log` of the data directory's store (a mirror or a shard that
    /// ended) as of `size`.
    pub(crate) fn local(s: &AppState, log: LogNumber, size: u64) -> TileSource {
        TileSource {
            store: s.store.clone(),
            source: Source::Local,
            log,
            size,
        }
    }
}

/// Answers `tile/<rest>` of a log as of a tree size: from the cache when
/// it holds the path, else from the store (on the blocking pool), keeping
/// it. Conditional requests get 304; a client that accepts gzip gets a
/// bundle's gzip form when that pays.
pub(crate) async fn serve_tile(
    cache: &TileCache,
    from: TileSource,
    rest: &str,
    headers: &HeaderMap,
) -> ApiResult {
    let full = format!("tile/{rest}");
    let not_part = || ApiError::not_found(format!("{full} is not part of the log"));
    let path = TilePath::parse(&full).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // The tree must have reached the path, whatever the cache holds.
    let (level, index, width) = match path {
        TilePath::Hash(t) => (t.level, t.index, t.width),
        TilePath::Entries(b) => (0, b.index, b.width),
    };
    if tile_width(from.size, level, index).is_none_or(|w| w < width) {
        return Err(not_part());
    }
    let key = Key {
        source: from.source,
        log: from.log,
        path,
    };
    let cached = match cache.get(&key) {
        Some(c) => c,
        None => {
            let (store, log, size) = (from.store, from.log, from.size);
            let found = tokio::task::spawn_blocking(move || match path {
                TilePath::Hash(t) => store.tile_at(log, t, size),
                TilePath::Entries(b) => store.bundle_at(log, b, size),
            })
            .await??;
            cache.insert(key, found.ok_or_else(not_part)?)
        }
    };
    let compressible = Cached::may_compress(&path);
    let gzip = if compressible && accepts_gzip(headers) {
        cache.gzip(&key, &cached)
    } else {
        None
    };
    let (chosen, encoded) = match gzip {
        Some(gz) => (gz, true),
        None => (cached.plain.clone(), false),
    };
    let not_modified = none_match(headers, &chosen.etag);
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(chosen.body))
    };
    let h = response.headers_mut();
    if !not_modified {
        h.insert(header::CONTENT_TYPE, OCTETS);
        if encoded {
            h.insert(header::CONTENT_ENCODING, GZIP);
        }
    }
    h.insert(header::CACHE_CONTROL, IMMUTABLE);
    h.insert(header::ETAG, chosen.etag);
    if compressible {
        h.insert(header::VARY, ACCEPT_ENCODING);
    }
    Ok(response)
}

/// `GET /healthz`: whether the sequencer is running (a data directory
/// that only mirrors is healthy while it serves).
pub(crate) async fn healthz(State(s): State<Arc<AppState>>) -> Response {
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
pub(crate) async fn metrics(State(s): State<Arc<AppState>>) -> Response {
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
