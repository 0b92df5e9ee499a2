//! The admin listener: an accept loop over hyper's HTTP/1 connections,
//! because `axum::serve` sets no header-read timeout and no connection cap,
//! and a port that answers probes must not be run out of descriptors by
//! clients that connect and never finish a request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use crate::config::AdminSettings;
use crate::telemetry;

/// Bytes hyper buffers per connection: bounds the request head (8 KiB is
/// hyper's floor; the endpoints need a few hundred bytes).
const MAX_BUF_BYTES: usize = 16 * 1024;

/// What a connection over the cap is told before it is closed.
const REFUSED_BODY: &str = r#"{"error":"too many open connections"}"#;

/// Serves `router` on `listener` until the process ends.
pub(crate) async fn serve(listener: TcpListener, router: Router, limits: &AdminSettings) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .max_buf_size(MAX_BUF_BYTES);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, say: wait instead of spinning.
                tracing::warn!(error = %e, "admin HTTP cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse(&stream);
            continue;
        };
        let mut io = TimeoutStream::new(stream);
        io.set_read_timeout(Some(idle));
        io.set_write_timeout(Some(idle));
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = http.serve_connection(TokioIo::new(Box::pin(io)), service);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "admin HTTP connection closed");
            }
            drop(permit);
        });
    }
}

/// Answers 503 and closes at once: the descriptor is free again before
/// the client has read the answer.
fn refuse(stream: &TcpStream) {
    telemetry::admin_connection_refused();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         connection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n{REFUSED_BODY}",
        REFUSED_BODY.len()
    );
    // A new socket's send buffer is empty: this never blocks.
    let _ = stream.try_write(answer.as_bytes());
}

/// Whether `peer` is this host: IPv4 and IPv6 loopback, also as an
/// IPv4-mapped IPv6 address.
pub(super) fn is_loopback(peer: &SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}
