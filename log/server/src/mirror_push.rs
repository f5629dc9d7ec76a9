//! C2SP tlog-mirror push on this islet's mirrors: `POST
//! /mirror/add-checkpoint` and `POST /mirror/add-entries`, for the logs
//! `[[mirror.accept]]` names. The checks are
//! [`islet_mirror::push::PushReceiver`]'s (those of a pull); this module
//! reads the bodies and writes the answers (`text/plain`, and the
//! spec's `text/x.tlog.size` and `text/x.tlog.mirror-info` bodies).
//!
//! Bodies are not decompressed: a `Content-Encoding` other than
//! `identity` gets 415 (send the packages uncompressed).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::body::{BodyError, read_body};
use crate::http::AppState;
use islet_mirror::push::PushAnswer;
use islet_tlog::mirror_push::{ADD_ENTRIES_CONTENT_TYPE, MIRROR_INFO_CONTENT_TYPE};
use islet_tlog::witness::{CONFLICT_CONTENT_TYPE, conflict_body};

fn text(status: u16, body: String) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn answer(s: &AppState, a: PushAnswer) -> Response {
    match a {
        PushAnswer::PendingMoved => text(200, String::new()),
        PushAnswer::CaughtUp { note } => match s.mirror_signer.cosign(&note) {
            Ok(cosigned) => {
                // Only the mirror's own line: the log's are the pusher's.
                let text_body = String::from_utf8_lossy(&cosigned).into_owned();
                let line = text_body.lines().last().unwrap_or_default();
                text(200, format!("{line}\n"))
            }
            Err(e) => {
                eprintln!("islet: mirror push: cosigning failed: {e}");
                text(500, "internal error\n".into())
            }
        },
        PushAnswer::Partial(info) => (
            StatusCode::ACCEPTED,
            [(header::CONTENT_TYPE, MIRROR_INFO_CONTENT_TYPE)],
            info.to_body(),
        )
            .into_response(),
        PushAnswer::SizeConflict(size) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, CONFLICT_CONTENT_TYPE)],
            conflict_body(size),
        )
            .into_response(),
        PushAnswer::UploadConflict(info, _) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, MIRROR_INFO_CONTENT_TYPE)],
            info.to_body(),
        )
            .into_response(),
        PushAnswer::Refused(status, reason) => text(status, format!("{reason}\n")),
    }
}

async fn read(
    s: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, Response> {
    match read_body(headers, body, limit, s.body_read_timeout).await {
        Ok(b) => Ok(b.to_vec()),
        Err(BodyError::TooLarge) => Err(text(413, format!("a body is at most {limit} bytes\n"))),
        Err(BodyError::TooSlow) => Err(text(
            408,
            "the request body did not arrive in time\n".into(),
        )),
        Err(BodyError::Broken(reason)) => Err(text(
            400,
            format!("the request body could not be read: {reason}\n"),
        )),
    }
}

/// `POST /mirror/add-checkpoint`.
pub(crate) async fn add_checkpoint(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(push) = s.push.clone() else {
        return text(404, "this islet accepts no pushed logs\n".into());
    };
    let body = match read(&s, &headers, body, islet_tlog::witness::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match tokio::task::spawn_blocking(move || push.add_checkpoint(&body)).await {
        Ok(a) => answer(&s, a),
        Err(e) => {
            eprintln!("islet: mirror push: {e}");
            text(500, "internal error\n".into())
        }
    }
}

/// `POST /mirror/add-entries`.
pub(crate) async fn add_entries(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(push) = s.push.clone() else {
        return text(404, "this islet accepts no pushed logs\n".into());
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != ADD_ENTRIES_CONTENT_TYPE {
        return text(
            415,
            format!(
                "add-entries takes Content-Type {ADD_ENTRIES_CONTENT_TYPE}, not {content_type:?}\n"
            ),
        );
    }
    if let Some(enc) = headers.get(header::CONTENT_ENCODING)
        && enc.as_bytes() != b"identity"
    {
        return text(
            415,
            format!(
                "Content-Encoding {:?} is not accepted; send the packages uncompressed\n",
                String::from_utf8_lossy(enc.as_bytes())
            ),
        );
    }
    let body = match read(&s, &headers, body, islet_tlog::mirror_push::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match tokio::task::spawn_blocking(move || push.add_entries(&body)).await {
        Ok(a) => answer(&s, a),
        Err(e) => {
            eprintln!("islet: mirror push: {e}");
            text(500, "internal error\n".into())
        }
    }
}
