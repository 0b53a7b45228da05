//! Serving the web side with bounds: connections in all and per address,
//! how long a client may take to send a request's headers, and how long a
//! keep-alive connection may sit idle. `axum::serve` bounds none of these
//! (anyone could exhaust the process's file descriptors with idle
//! connections, issue 11 finding 4); this is the same loop, hyper's
//! HTTP/1 server with upgrades for WebSockets and a graceful shutdown, with
//! the bounds.
//!
//! * A connection past [`HttpLimits::max_connections`] or
//!   [`HttpLimits::max_connections_per_ip`] is answered
//!   `503 Service Unavailable` and closed at once.
//! * A client that has not sent a whole request head within
//!   [`HttpLimits::header_timeout`] is disconnected; so is a keep-alive
//!   connection idle that long between requests (hyper's header-read
//!   timer runs whenever the server waits for a request).
//! * A WebSocket counts as a connection for as long as it is open; one that
//!   starts no chat is closed by the visitor API
//!   ([`crate::visitor_ws::Limits`]).
//! * Errors from `accept` (such as running out of file descriptors) are
//!   logged and retried after a pause growing from 10 ms to 1 s, never the
//!   end of the listener.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

/// How long a graceful shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The most a request head may take in memory.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What the web side bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpLimits {
    /// Open connections in all, WebSockets included: 4,096.
    pub max_connections: usize,
    /// Open connections from one IP address: 64 (a browser opens about
    /// six per site, and an office shares one address).
    pub max_connections_per_ip: usize,
    /// How long a client may take to send a request's line and headers,
    /// and how long a keep-alive connection may wait for the next
    /// request: 10 seconds.
    pub header_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_connections_per_ip: 64,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown`
/// completes, then lets requests in flight finish (for a few seconds at
/// most). Handlers may extract `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let (stopping, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut pause = Duration::ZERO;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => {
                pause = Duration::ZERO;
                accepted
            }
            Err(e) => {
                pause = (pause * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                eprintln!("web: accept failed ({e}); retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        let Some(slot) = Slot::take(&permits, &per_ip, peer.ip(), &limits) else {
            refuse(tcp);
            continue;
        };
        let service = router.clone().layer(axum::Extension(ConnectInfo(peer)));
        let stop = stop.clone();
        connections.spawn(async move {
            serve_connection(tcp, service, limits, stop).await;
            drop(slot);
        });
    }
    let _ = stopping.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        connections.abort_all();
    }
}

/// One connection: HTTP/1 with upgrades, within the header timeout.
async fn serve_connection(
    tcp: TcpStream,
    service: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let connection = builder
        .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Tells a client past a bound so, without waiting for it, and closes.
fn refuse(tcp: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\
        content-type: text/plain\r\ncontent-length: 30\r\n\r\ntoo many connections; try later";
    let _ = tcp.try_write(BUSY);
}

/// A connection's place in the bounds, given back when dropped.
struct Slot {
    _permit: OwnedSemaphorePermit,
    ip: IpAddr,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Slot {
    fn take(
        permits: &Arc<Semaphore>,
        per_ip: &Arc<Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
        limits: &HttpLimits,
    ) -> Option<Self> {
        let permit = permits.clone().try_acquire_owned().ok()?;
        let mut counts = per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if counts.get(&ip).copied().unwrap_or_default() >= limits.max_connections_per_ip {
            return None;
        }
        *counts.entry(ip).or_default() += 1;
        Some(Self {
            _permit: permit,
            ip,
            per_ip: per_ip.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}
