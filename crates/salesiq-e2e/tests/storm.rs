//! A restart of a busy server (issue 11, finding 6): 1,000 operators log in
//! at once against the example's real account store (SQLite, argon2id), on
//! a runtime with a blocking pool of four threads. Every login succeeds;
//! a login and a web request after the storm are answered at once.
//! Before, each SASL step held a blocking thread while it waited for the
//! authenticator, which needed another one: the pool deadlocked and the
//! server never answered a login or a web request again.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;
use salesiq_test_support as support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

const LOGINS: usize = 1_000;
/// Logins come from this many loopback addresses (the per-address cap is
/// 100 connections).
const ADDRESSES: usize = 20;
/// How long the storm may take in all before the test calls it a hang.
const STORM: Duration = Duration::from_secs(240);
/// How long a login or a web request after the storm may take.
const AFTER: Duration = Duration::from_secs(5);

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='salesiq.zoho.com' version='1.0'>";

/// Reads until `needle`; the whole text so far, or what came before the
/// connection closed.
async fn read_until<S: AsyncReadExt + Unpin>(io: &mut S, seen: &mut String, needle: &str) -> bool {
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    true
}

/// One whole login with SASL PLAIN over STARTTLS, up to a bound resource;
/// `Err` says where it stopped.
async fn login(
    starttls: SocketAddr,
    from: IpAddr,
    tls: Arc<ClientConfig>,
    login: &str,
    password: &str,
    resource: &str,
) -> Result<(), String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(from, 0))
        .map_err(|e| e.to_string())?;
    let mut tcp: TcpStream = socket.connect(starttls).await.map_err(|e| e.to_string())?;
    let mut seen = String::new();
    tcp.write_all(HEADER.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    if !read_until(&mut tcp, &mut seen, "</stream:features>").await {
        return Err(format!("no features: {seen}"));
    }
    tcp.write_all(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .await
        .map_err(|e| e.to_string())?;
    if !read_until(&mut tcp, &mut seen, "<proceed").await
        || !read_until(&mut tcp, &mut seen, ">").await
    {
        return Err(format!("no proceed: {seen}"));
    }
    let name = ServerName::try_from("salesiq.zoho.com").unwrap();
    let mut tls = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = String::new();
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{login}\0{password}"));
    let auth = format!(
        "{HEADER}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
    );
    tls.write_all(auth.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    if !read_until(&mut tls, &mut seen, "<success").await {
        return Err(format!("no success: {seen}"));
    }
    let mut seen = String::new();
    let bind = format!(
        "{HEADER}<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
         <resource>{resource}</resource></bind></iq>"
    );
    tls.write_all(bind.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    if !read_until(&mut tls, &mut seen, "</iq>").await {
        return Err(format!("not bound: {seen}"));
    }
    let _ = tls.write_all(b"</stream:stream>").await;
    Ok(())
}

#[test]
fn a_storm_of_logins_is_queued_not_deadlocked() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let running = common::example(dir.path()).await;
        let tls = support::trusting(&running.certificate);
        let accounts = [
            ("demo|alice.ops", "alice-demo-pw"),
            ("demo|bob.ops", "bob-demo-pw"),
        ];
        let started = Instant::now();
        let mut storm = Vec::with_capacity(LOGINS);
        for i in 0..LOGINS {
            let (jid, password) = accounts[i % accounts.len()];
            let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (i % ADDRESSES) as u8));
            let (tls, starttls) = (tls.clone(), running.starttls);
            storm.push(tokio::spawn(async move {
                login(starttls, from, tls, jid, password, &format!("storm-{i}")).await
            }));
        }
        let results = tokio::time::timeout(STORM, futures::future::join_all(storm))
            .await
            .expect("the storm of logins hung: a deadlock");
        let failed: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.unwrap().err())
            .collect();
        assert!(
            failed.is_empty(),
            "{} of {LOGINS} failed, e.g. {:?}",
            failed.len(),
            failed.first()
        );
        println!("{LOGINS} logins in {:?}", started.elapsed());

        // Afterwards, a login and a web request are answered at once.
        let after = Instant::now();
        tokio::time::timeout(
            AFTER,
            login(
                running.starttls,
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                tls.clone(),
                "demo|alice.ops",
                "alice-demo-pw",
                "after",
            ),
        )
        .await
        .expect("a login after the storm")
        .unwrap();
        let page = tokio::time::timeout(
            AFTER,
            common::http()
                .get(format!("http://{}/api/portal?portal=demo", running.http))
                .send(),
        )
        .await
        .expect("a web request after the storm")
        .unwrap();
        assert!(page.status().is_success());
        println!("a login and a web request after it: {:?}", after.elapsed());
        running.stop().await;
    });
}
