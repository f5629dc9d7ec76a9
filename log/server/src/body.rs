//! Reading request bodies: at most a limit, within a time, and what is left
//! of a refused body drained so the client can read the answer.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};

/// Why a request body could not be read.
pub(crate) enum BodyError {
    TooLarge,
    TooSlow,
    Broken(String),
}

/// Reads a whole request body, at most `limit` bytes, within `timeout`.
/// The limit is enforced while reading (a chunked body is cut off at the
/// limit), and a declared `Content-Length` over it is refused before
/// anything is read. A refused body is drained in the background (see
/// [`drain`]) so the client, still sending, can read the 413.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    use http_body_util::BodyExt;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        tokio::spawn(drain(body, timeout));
        return Err(BodyError::TooLarge);
    }
    let mut buf = Vec::with_capacity(declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, read).await {
        Err(_) => Err(BodyError::TooSlow),
        Ok(Ok(())) => Ok(Bytes::from(buf)),
        Ok(Err(BodyError::TooLarge)) => {
            tokio::spawn(drain(body, timeout));
            Err(BodyError::TooLarge)
        }
        Ok(Err(e)) => Err(e),
    }
}

/// Most bytes of a refused body read and thrown away, so that a client
/// that sends its whole body before reading the answer gets the 413
/// rather than a reset connection; past this the connection is closed.
pub(crate) const MAX_DRAIN_BYTES: u64 = 16 * 1024 * 1024;

/// Reads and discards the rest of a refused body, at most
/// [`MAX_DRAIN_BYTES`] within `timeout`.
async fn drain(mut body: Body, timeout: Duration) {
    use http_body_util::BodyExt;
    let _ = tokio::time::timeout(timeout, async {
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.len() as u64;
                if seen > MAX_DRAIN_BYTES {
                    return;
                }
            }
        }
    })
    .await;
}
