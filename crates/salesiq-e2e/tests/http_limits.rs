//! Issue 11, finding 4: the web side bounds connections in all and per
//! address, and disconnects clients that send headers too slowly or sit
//! idle; the example server over raw TCP on 127.0.0.x.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::example_with;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long any step may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

/// A connection to `server` from the loopback address `from`.
async fn connect(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(server).await.unwrap()
}

/// Everything the server sends until it closes (a reset counts as closed).
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(HANG, stream.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One request on a fresh connection from `from`, answered and closed.
async fn get(from: [u8; 4], server: SocketAddr) -> String {
    let mut stream = connect(from, server).await;
    let request = "GET /api/portal?portal=demo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    until_closed(&mut stream).await
}

#[tokio::test]
async fn slow_and_idle_clients_are_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let running = example_with(dir.path(), |config| config.limits.http_header_timeout = 1).await;
    let server = running.http;
    // Headers that never end (slowloris).
    let mut slow = connect([127, 0, 0, 1], server).await;
    slow.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .unwrap();
    // A keep-alive connection that goes quiet after its request.
    let mut idle = connect([127, 0, 0, 1], server).await;
    idle.write_all(b"GET /api/portal?portal=demo HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = until_closed(&mut idle).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let nothing = until_closed(&mut slow).await;
    assert!(!nothing.contains("200 OK"), "{nothing}");
    // Meanwhile and afterwards, others are served.
    assert!(
        get([127, 0, 0, 1], server)
            .await
            .starts_with("HTTP/1.1 200")
    );
    running.stop().await;
}

#[tokio::test]
async fn connections_are_capped_in_all_and_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let running = example_with(dir.path(), |config| {
        config.limits.http_connections = 6;
        config.limits.http_connections_per_ip = 4;
        config.limits.http_header_timeout = 600;
    })
    .await;
    let server = running.http;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect([127, 0, 0, 1], server).await);
    }
    // A fifth from the same address is told and closed at once.
    let refused = get([127, 0, 0, 1], server).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    // Another address still gets in, and fills the total.
    assert!(
        get([127, 0, 0, 2], server)
            .await
            .starts_with("HTTP/1.1 200")
    );
    held.push(connect([127, 0, 0, 2], server).await);
    held.push(connect([127, 0, 0, 2], server).await);
    let refused = get([127, 0, 0, 3], server).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    // Connections that close make room again.
    held.clear();
    let mut served = String::new();
    for _ in 0..300 {
        served = get([127, 0, 0, 3], server).await;
        if served.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    running.stop().await;
}
