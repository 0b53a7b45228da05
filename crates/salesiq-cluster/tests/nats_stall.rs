//! A NATS server that stops reading never stalls a publisher: NatsBus's
//! publish fails with a timeout once the client's buffer is full. The
//! "server" is a socket here that does the handshake and then reads no
//! more (no nats-server needed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use salesiq_cluster::{Bus, Error, NatsBus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::{Instant, timeout};

#[tokio::test]
async fn a_stalled_server_makes_publish_time_out_rather_than_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let info = format!(
            "INFO {{\"server_id\":\"stalled\",\"version\":\"2.9.10\",\"proto\":1,\
             \"host\":\"127.0.0.1\",\"port\":{},\"max_payload\":1048576}}\r\n",
            addr.port()
        );
        socket.write_all(info.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(6).any(|w| w == b"PING\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed during the handshake");
            seen.extend_from_slice(&buf[..n]);
        }
        socket.write_all(b"PONG\r\n").await.unwrap();
        // From now on, nothing is read: the socket's buffers fill.
        let _ = stopped.await;
        drop(socket);
    });

    let client = timeout(
        Duration::from_secs(10),
        async_nats::ConnectOptions::new()
            .client_capacity(2)
            .connect(format!("nats://{addr}")),
    )
    .await
    .expect("handshake in time")
    .expect("handshake");
    let bus = NatsBus::from_client(client).with_publish_timeout(Duration::from_millis(200));
    let payload = Bytes::from(vec![b'x'; 512 * 1024]);
    let start = Instant::now();
    let mut published = 0u32;
    loop {
        match bus.publish("stall.x", payload.clone()).await {
            Ok(()) => published += 1,
            Err(Error::Timeout { .. }) => break,
            Err(other) => panic!("unexpected error: {other}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{published} publishes and still no timeout"
        );
    }
    // The timeout is the bound, not a hang: a publish that finds the
    // buffer full returns after about 200 ms.
    let again = Instant::now();
    assert!(matches!(
        bus.publish("stall.x", payload.clone()).await,
        Err(Error::Timeout { .. })
    ));
    assert!(
        again.elapsed() < Duration::from_secs(2),
        "{:?}",
        again.elapsed()
    );
    let _ = stop.send(());
    server.await.unwrap();
}
