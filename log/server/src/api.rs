//! The one error type of the HTTP API: every error response of the own log,
//! the mirrors and the extensions is an [`ApiError`], rendered the same way
//! (a Rekor-style JSON status body with the gRPC code clients expect, and
//! the headers the status calls for).
//!
//! Internal errors are logged with their cause and answered with a plain
//! 500, so a store's paths and keys never reach a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::response::{
    CODE_ALREADY_EXISTS, CODE_DEADLINE_EXCEEDED, CODE_INTERNAL, CODE_INVALID_ARGUMENT,
    CODE_NOT_FOUND, CODE_PERMISSION_DENIED, CODE_RESOURCE_EXHAUSTED, CODE_UNAUTHENTICATED,
    CODE_UNAVAILABLE, StatusBody,
};

/// Seconds a client is told to wait after a 503.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// An error answer of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request is malformed or refused; the message says why.
    BadRequest(String),
    /// 404: what was asked for is not part of the log.
    NotFound(String),
    /// 408: the request body did not arrive in time.
    Timeout(String),
    /// 409 with `x-log-index`: an equivalent entry exists at `index`.
    AlreadyExists {
        /// Where the equivalent entry is.
        index: u64,
    },
    /// 413: the request body is over the limit.
    PayloadTooLarge(String),
    /// 431: the request head is over the limit.
    HeadTooLarge(String),
    /// 503 with `Retry-After`: the write queue is full.
    Overloaded,
    /// 503 with `Retry-After`: the sequencer is not accepting writes.
    Unavailable(String),
    /// 500: something failed on the server (logged, not told).
    Internal,
    /// 401 with `WWW-Authenticate`: the route needs credentials and the
    /// request has none that hold; the message says which.
    Unauthenticated(String),
    /// 403: the credentials hold, but not for this route.
    Forbidden(String),
    /// 429 with `Retry-After`: this client is over its rate.
    TooManyRequests {
        /// What the limit is.
        message: String,
        /// Seconds until the client may send again.
        retry_after: u64,
    },
}

impl ApiError {
    /// A 400 saying `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }

    /// A 404 saying `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::NotFound(message.into())
    }

    /// A 500; `cause` is logged on the server's stderr.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        eprintln!("islet: internal error: {cause}");
        ApiError::Internal
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::AlreadyExists { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Overloaded | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The gRPC status code of the body, as Rekor answers.
    fn code(&self) -> u32 {
        match self {
            ApiError::BadRequest(_) | ApiError::PayloadTooLarge(_) | ApiError::HeadTooLarge(_) => {
                CODE_INVALID_ARGUMENT
            }
            ApiError::NotFound(_) => CODE_NOT_FOUND,
            ApiError::Timeout(_) => CODE_DEADLINE_EXCEEDED,
            ApiError::AlreadyExists { .. } => CODE_ALREADY_EXISTS,
            ApiError::Overloaded | ApiError::Unavailable(_) => CODE_UNAVAILABLE,
            ApiError::Internal => CODE_INTERNAL,
            ApiError::Unauthenticated(_) => CODE_UNAUTHENTICATED,
            ApiError::Forbidden(_) => CODE_PERMISSION_DENIED,
            ApiError::TooManyRequests { .. } => CODE_RESOURCE_EXHAUSTED,
        }
    }

    /// The message of the body.
    fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Timeout(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::HeadTooLarge(m)
            | ApiError::Unavailable(m)
            | ApiError::Unauthenticated(m)
            | ApiError::Forbidden(m)
            | ApiError::TooManyRequests { message: m, .. } => m.clone(),
            ApiError::AlreadyExists { index } => format!(
                "an equivalent entry already exists in the transparency log with index {index}"
            ),
            ApiError::Overloaded => crate::Error::Overloaded.to_string(),
            ApiError::Internal => "internal server error".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = StatusBody {
            code: self.code(),
            message: self.message(),
            details: [],
        };
        // A struct of a number, a string and an empty array always
        // serializes; the fallback is the same body written by hand.
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| {
            format!(r#"{{"code":{},"message":"","details":[]}}"#, body.code).into_bytes()
        });
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::AlreadyExists { index } => {
                headers.insert("x-log-index", HeaderValue::from(index));
            }
            ApiError::Overloaded | ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            ApiError::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"islet\""),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Overloaded => ApiError::Overloaded,
            crate::Error::Unavailable { .. } => ApiError::Unavailable(e.to_string()),
            other => ApiError::internal(&other),
        }
    }
}

impl From<islet_store::Error> for ApiError {
    fn from(e: islet_store::Error) -> Self {
        ApiError::internal(&e)
    }
}

impl From<islet_tlog::Error> for ApiError {
    fn from(e: islet_tlog::Error) -> Self {
        ApiError::internal(&e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(&e)
    }
}

/// What a handler answers.
pub type ApiResult = Result<Response, ApiError>;
