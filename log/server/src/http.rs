//! The HTTP surface (`../shared/DESIGN.md` §4): the router and what its
//! handlers share. The handlers are in [`crate::write`] (the Rekor v2 write
//! API), [`crate::read`] (the tlog-tiles read API, health, metrics),
//! [`crate::extensions`] (islet's extensions), [`crate::mirrors`] (the
//! mirrored logs) and [`crate::timestamp`] (the RFC 3161 timestamp
//! authority) and [`crate::witness_service`] (the witness for other
//! logs); every error they answer is a [`crate::api::ApiError`].
//!
//! Every request path is parsed into a typed value before any lookup; a
//! path that is not canonical gets 400 and never reaches the store.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use islet_rekor::entry::EntryPolicy;
use islet_rekor::request::MAX_REQUEST_BYTES;
use islet_store::Store;

use crate::sequencer::Sequencer;
use crate::{extensions, mirror_push, mirrors, read, shards, timestamp, witness_service, write};

/// Bodies up to this size are decoded and verified on the I/O thread (a
/// typical entry is 1 to 3 KiB; decoding 16 KiB of JSON takes tens of
/// microseconds); larger ones on the blocking pool.
pub const INLINE_VALIDATION_MAX_BYTES: usize = 16 * 1024;
/// Most indexes a search returns.
pub const MAX_SEARCH_RESULTS: usize = 100;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The data directory's store: mirrors, ended shards, and the site's
    /// own records (tokens, witness state).
    pub store: Arc<Store>,
    /// The own log's tiles, bundles, checkpoints and indexes, in whichever
    /// engine keeps them (the data directory's store, or PostgreSQL).
    pub own_store: islet_store::SharedLog,
    /// The own log; `None` in a data directory that only mirrors.
    pub own: Option<OwnLogState>,
    /// The shards of the own log that ended, served read-only.
    pub shards: Arc<crate::shards::ShardIndex>,
    /// Largest request body.
    pub max_request_bytes: usize,
    /// Longest time to receive a request body.
    pub body_read_timeout: Duration,
    /// The mirrored logs, by SHA-256 of their origin.
    pub mirrors: Arc<mirrors::MirrorIndex>,
    /// Cosigns the checkpoints of mirrored logs as they are served.
    pub mirror_signer: Arc<islet_signer::CosignatureV1Signer>,
    /// The timestamp authority, unless it is off.
    pub tsa: Option<Arc<crate::timestamp::TsaService>>,
    /// The witness for other logs, when it witnesses any.
    pub witness: Option<Arc<crate::witness_service::WitnessService>>,
    /// The logs that may push to this islet's mirrors.
    pub push: Option<Arc<islet_mirror::push::PushReceiver>>,
    /// The followers of `[[mirror.upstream]]`, once they run.
    pub follow: Option<Arc<islet_mirror::follow::FollowMetrics>>,
    /// This log's witnesses, when `[witness] policy` is set.
    pub witnessing: Option<Arc<crate::witnessing::Witnessing>>,
    /// When this server started (`islet_start_time_seconds`: restarts,
    /// such as the exit after a storage failure, show as changes).
    pub started: std::time::SystemTime,
    /// More `/metrics` text: jobs the binary runs beside the server (the
    /// scheduled exports).
    pub more_metrics: Vec<Arc<dyn MetricsSource>>,
    /// Who may call what, and how often; `None` when all is open.
    pub access: Option<Arc<crate::access::Access>>,
    /// Tiles and bundles already served, kept in memory.
    pub tiles: Arc<crate::tile_cache::TileCache>,
}

/// A source of `/metrics` text the server does not know the type of.
pub trait MetricsSource: Send + Sync + std::fmt::Debug {
    /// Appends its families, in the Prometheus text format, to `out`.
    fn render(&self, out: &mut String);
}

/// What the handlers of the own log share.
#[derive(Clone, Debug)]
pub struct OwnLogState {
    /// The sequencer.
    pub sequencer: Sequencer,
    /// `logId.keyId` of responses.
    pub log_id: [u8; 32],
    /// Which entry types are accepted.
    pub policy: EntryPolicy,
    /// The freeze of the log, once frozen: writes get 405.
    pub frozen: Option<islet_store::Frozen>,
}

/// The 404 of a request for the own log in a data directory that has
/// none.
pub const NO_OWN_LOG: &str = "this islet keeps no log of its own: it serves mirrors of other logs \
     at /mirror/<lowercase hex SHA-256 of the origin>/";

impl AppState {
    /// The own log, or the 404 that says there is none.
    ///
    /// # Errors
    /// [`crate::api::ApiError::NotFound`] with [`NO_OWN_LOG`].
    pub fn own(&self) -> Result<&OwnLogState, crate::api::ApiError> {
        self.own
            .as_ref()
            .ok_or_else(|| crate::api::ApiError::not_found(NO_OWN_LOG))
    }
}

/// Builds the router.
pub fn app(state: AppState) -> Router {
    let router = Router::new()
        .route("/api/v2/log/entries", post(write::create_entry))
        .route("/api/v2/checkpoint", get(read::checkpoint))
        .route("/api/v2/tile/{*path}", get(read::tile))
        .route("/healthz", get(read::healthz))
        .route("/metrics", get(read::metrics))
        .route("/api/v2/islet/search", get(extensions::search))
        .route(
            "/api/v2/islet/proof/inclusion",
            get(extensions::prove_inclusion),
        )
        .route(
            "/api/v2/islet/proof/consistency",
            get(extensions::prove_consistency),
        )
        .route(
            "/api/v2/islet/checkpoint/{size}",
            get(extensions::checkpoint_at),
        )
        .route("/api/v1/timestamp", post(timestamp::timestamp))
        .route("/api/v1/timestamp/certchain", get(timestamp::certchain))
        .route(
            "/shards/{origin_hash}/api/v2/checkpoint",
            get(shards::checkpoint),
        )
        .route(
            "/shards/{origin_hash}/api/v2/tile/{*path}",
            get(shards::tile),
        )
        .route(
            "/shards/{origin_hash}/api/v2/log/entries",
            post(shards::write),
        )
        .route("/mirror/{origin_hash}/checkpoint", get(mirrors::checkpoint))
        .route("/mirror/{origin_hash}/tile/{*path}", get(mirrors::tile))
        .route("/mirror/add-checkpoint", post(mirror_push::add_checkpoint))
        .route("/mirror/add-entries", post(mirror_push::add_entries))
        .route(
            "/witness/add-checkpoint",
            post(witness_service::add_checkpoint),
        )
        .route(
            "/witness/{origin_hash}/checkpoint",
            get(witness_service::checkpoint),
        )
        .with_state(Arc::new(state.clone()));
    let router = match state.access {
        Some(access) => router.layer(axum::middleware::from_fn_with_state(
            access,
            crate::access::check,
        )),
        None => router,
    };
    // Heads over the limit are answered 431 before routing
    // (`crate::listener`).
    router
}

/// The size of a request's head as HTTP/1.1 writes it: the request line,
/// each header as `name: value` and its line end, and the empty line.
pub fn head_size<B>(request: &axum::http::Request<B>) -> usize {
    let uri = request.uri();
    let target = uri
        .path_and_query()
        .map_or(uri.path().len(), |p| p.as_str().len());
    let line = request.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    line + headers + 2
}

/// Default for [`AppState::max_request_bytes`].
pub const DEFAULT_MAX_REQUEST_BYTES: usize = MAX_REQUEST_BYTES;
