//! Accepting connections: plain HTTP/1.1, or TLS (`crate::tls`) with
//! HTTP/1.1 or HTTP/2 as the client's ALPN asks; a timeout on the TLS
//! handshake and on reading a request head, a cap on what is buffered of
//! a head (the exact limit is `crate::http`'s) and on open connections, so slow or idle clients cannot hold the server
//! (`../shared/specs/reliability.md` §A3, slowloris). The body-read
//! timeout of the write API is applied by its handler
//! (`http::create_entry`), where a slow body can be answered with a
//! precise 408.
//!
//! The header-read timeout also runs while a kept-alive HTTP/1.1
//! connection waits for its next request (hyper starts it whenever the
//! connection is idle), so it doubles as the idle timeout. An HTTP/2
//! connection is pinged at that interval and closed when the ping goes
//! unanswered.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use islet_store::config::HttpLimits;

use crate::access::PeerIdentity;
use crate::tls::TlsState;

/// How long open connections get to finish their request at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (for example out of file descriptors), so
/// the loop does not spin.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// Largest request head, counted as HTTP/1.1 writes it (request line,
/// `name: value` lines, line ends; `crate::http::head_size`), over
/// HTTP/1.1 and HTTP/2 alike: larger heads get 431. A Rekor request head
/// is a few hundred bytes.
pub const MAX_REQUEST_HEAD_BYTES: usize = 32 * 1024;
/// What the transports buffer of a head before they give up on it (hyper's
/// HTTP/1.1 read buffer, HTTP/2's header list): twice the head limit, so
/// that every head up to [`MAX_REQUEST_HEAD_BYTES`] reaches the exact check
/// and memory stays bounded for larger ones.
pub const MAX_BUFFERED_HEAD_BYTES: usize = 2 * MAX_REQUEST_HEAD_BYTES;
/// Concurrent streams of one HTTP/2 connection.
pub const MAX_HTTP2_STREAMS: u32 = 128;
/// How long an HTTP/2 keep-alive ping may go unanswered.
pub const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the server listens.
#[derive(Debug)]
pub struct Listeners {
    /// `listen`: HTTPS when `tls` is set, plain HTTP otherwise.
    pub main: TcpListener,
    /// The TLS configuration of `main`.
    pub tls: Option<Arc<TlsState>>,
    /// `[tls] plain_listen`: plain HTTP on loopback beside HTTPS.
    pub plain: Option<TcpListener>,
}

/// Serves `router` on `listeners` until `shutdown` completes, then lets
/// open connections finish for up to [`SHUTDOWN_GRACE`].
pub async fn run(
    listeners: Listeners,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    let Listeners { main, tls, plain } = listeners;
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (accepted, tls) = tokio::select! {
            () = &mut shutdown => break,
            a = main.accept() => (a, tls.clone()),
            a = accept_optional(plain.as_ref()) => (a, None),
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("islet: accepting a connection failed: {e}");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        // Responses are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            limits,
            peer,
            watcher: graceful.watcher(),
        };
        tokio::spawn(async move {
            match tls {
                None => connection.serve_plain(stream).await,
                Some(tls) => connection.serve_tls(stream, &tls).await,
            }
            drop(permit);
        });
    }
    drop(main);
    drop(plain);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

async fn accept_optional(
    listener: Option<&TcpListener>,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// One accepted connection.
struct Connection {
    router: Router,
    limits: HttpLimits,
    peer: SocketAddr,
    watcher: Watcher,
}

impl Connection {
    fn service(&self, identity: PeerIdentity) -> WithPeer<TowerToHyperService<Router>> {
        WithPeer {
            inner: TowerToHyperService::new(self.router.clone()),
            peer: self.peer,
            identity,
        }
    }

    async fn serve_plain(self, stream: TcpStream) {
        let service = self.service(PeerIdentity::default());
        self.serve_http1(stream, service).await;
    }

    async fn serve_http1<I>(self, io: I, service: WithPeer<TowerToHyperService<Router>>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .max_buf_size(MAX_BUFFERED_HEAD_BYTES);
        // Errors here are the client's (reset, timeout, bad framing);
        // hyper has already answered what could be answered.
        let _ = self
            .watcher
            .watch(http.serve_connection(TokioIo::new(io), service))
            .await;
    }

    async fn serve_tls(self, stream: TcpStream, tls: &TlsState) {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
        let handshake =
            tokio::time::timeout(self.limits.header_read_timeout, acceptor.accept(stream)).await;
        let Ok(Ok(stream)) = handshake else {
            // A failed handshake has had its alert; nothing more to say.
            tls.count_handshake(false, false);
            return;
        };
        let (_, session) = stream.get_ref();
        let subject = session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| crate::tls::subject_of(leaf))
            .map(Arc::<str>::from);
        let http2 = session.alpn_protocol() == Some(b"h2".as_slice());
        tls.count_handshake(true, subject.is_some());
        let service = self.service(PeerIdentity {
            certificate_subject: subject,
            tls: true,
        });
        if http2 {
            let mut http = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            http.timer(TokioTimer::new())
                .max_concurrent_streams(MAX_HTTP2_STREAMS)
                .max_header_list_size(u32::try_from(MAX_BUFFERED_HEAD_BYTES).unwrap_or(u32::MAX))
                .keep_alive_interval(Some(self.limits.header_read_timeout))
                .keep_alive_timeout(HTTP2_PING_TIMEOUT);
            let _ = self
                .watcher
                .watch(http.serve_connection(TokioIo::new(stream), service))
                .await;
        } else {
            self.serve_http1(stream, service).await;
        }
    }
}

/// Tells handlers the peer's address (axum's `ConnectInfo`), for the
/// records that name who sent what (a witness's fork evidence), and what
/// the TLS handshake learnt of the client ([`PeerIdentity`]), for
/// `crate::access`.
#[derive(Clone)]
struct WithPeer<S> {
    inner: S,
    peer: SocketAddr,
    identity: PeerIdentity,
}

impl<S, B> hyper::service::Service<hyper::Request<B>> for WithPeer<S>
where
    S: hyper::service::Service<hyper::Request<B>, Response = axum::response::Response>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RoutedOrNow<S::Future, S::Error>;

    fn call(&self, mut req: hyper::Request<B>) -> Self::Future {
        // A head over the limit is answered here, before any routing (the
        // transports' own buffers stop far larger heads before they are
        // parsed).
        let size = crate::http::head_size(&req);
        if size > MAX_REQUEST_HEAD_BYTES {
            use axum::response::IntoResponse;
            return RoutedOrNow::Now {
                answer: Some(Ok(crate::api::ApiError::HeadTooLarge(format!(
                    "the request head is {size} bytes; the limit is {MAX_REQUEST_HEAD_BYTES}"
                ))
                .into_response())),
            };
        }
        let extensions = req.extensions_mut();
        extensions.insert(axum::extract::ConnectInfo(self.peer));
        extensions.insert(self.identity.clone());
        RoutedOrNow::Routed {
            future: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`WithPeer`]: made at once, or by the router.
    #[project = AnswerProjection]
    pub(crate) enum RoutedOrNow<F, E> {
        /// Answered without routing (taken when polled).
        Now { answer: Option<Result<axum::response::Response, E>> },
        /// The router's future.
        Routed { #[pin] future: F },
    }
}

impl<F, E> std::future::Future for RoutedOrNow<F, E>
where
    F: std::future::Future<Output = Result<axum::response::Response, E>>,
{
    type Output = Result<axum::response::Response, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            AnswerProjection::Now { answer } => {
                // Polled again after it answered (hyper never does): a 500
                // rather than a panic.
                std::task::Poll::Ready(answer.take().unwrap_or_else(|| {
                    Ok(axum::response::IntoResponse::into_response(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    ))
                }))
            }
            AnswerProjection::Routed { future } => future.poll(cx),
        }
    }
}
