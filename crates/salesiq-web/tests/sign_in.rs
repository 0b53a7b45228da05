//! Failed sign-ins on the settings page are counted against the client's
//! address: behind a trusted proxy, the one its `X-Forwarded-For` names;
//! from anyone else, the socket's. A real web server over SQLite, with the
//! XMPP server it runs beside, on 127.0.0.1.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use std::net::SocketAddr;
use std::sync::Arc;

use salesiq_session::{Gateway, Portal, SqliteStore, Store, StoreAccounts};
use salesiq_web::pages::MAX_SIGN_IN_FAILURES;
use salesiq_web::{HttpLimits, JabberSettings, Web, visitor_ws};
use salesiq_xmpp::{Config, Server, TlsIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The web server, trusting these proxies; its address.
async fn web_server(trusted_proxies: &[&str]) -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("g.sqlite3")).unwrap());
    store.put_portal(&Portal::new("demo", "en")).await.unwrap();
    let accounts = Arc::new(StoreAccounts::new(store.clone()));
    let mut config = Config::new("salesiq.zoho.com");
    config.starttls_addr = Some("127.0.0.1:0".parse().unwrap());
    config.direct_tls_addr = None;
    let identity = TlsIdentity::self_signed(&config.domain).unwrap();
    let gateway_store: Arc<dyn Store> = store.clone();
    let xmpp = Server::builder(config, identity, accounts.clone(), accounts.clone())
        .gateway(move |sink| Gateway::new(gateway_store, sink))
        .bind()
        .await
        .unwrap();
    let gateway = xmpp.gateway().cloned().unwrap();
    let jabber = JabberSettings::new("salesiq.zoho.com", "127.0.0.1", 6222, 6223, "AB:CD");
    let mut visitors = visitor_ws::Config::default();
    visitors.client_address.trusted_proxies =
        trusted_proxies.iter().map(|p| p.parse().unwrap()).collect();
    let store: Arc<dyn Store> = store;
    let web = Web::new(
        gateway,
        store,
        StoreAccounts::clone(&accounts),
        xmpp.handle(),
        jabber,
        "demo",
    )
    .with_visitor_api(visitors);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(salesiq_web::serve(
        listener,
        salesiq_web::router(web),
        HttpLimits::default(),
        std::future::pending(),
    ));
    tokio::spawn(xmpp.run(std::future::pending()));
    (addr, dir)
}

/// The status of a wrong sign-in sent with this `X-Forwarded-For`.
async fn wrong_sign_in(addr: SocketAddr, forwarded_for: &str) -> u16 {
    let body = r#"{"portal":"demo","email":"ann@demo.example","password":"guess"}"#;
    let request = format!(
        "POST /api/signin HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\
         x-forwarded-for: {forwarded_for}\r\n\r\n{body}",
        body.len()
    );
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).await.unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// Behind a trusted proxy, one guesser's failures lock out that guesser,
/// not every client of the proxy.
#[tokio::test]
async fn behind_a_trusted_proxy_failures_count_against_the_forwarded_address() {
    let (addr, _dir) = web_server(&["127.0.0.1"]).await;
    for _ in 0..MAX_SIGN_IN_FAILURES {
        assert_eq!(wrong_sign_in(addr, "203.0.113.7").await, 401);
    }
    assert_eq!(wrong_sign_in(addr, "203.0.113.7").await, 429);
    assert_eq!(wrong_sign_in(addr, "203.0.113.8").await, 401);
}

/// From a peer that is no trusted proxy the header changes nothing: a
/// guesser cannot escape the throttle by writing other addresses.
#[tokio::test]
async fn an_untrusted_forwarded_for_does_not_escape_the_throttle() {
    let (addr, _dir) = web_server(&[]).await;
    for n in 0..MAX_SIGN_IN_FAILURES {
        assert_eq!(wrong_sign_in(addr, &format!("203.0.113.{n}")).await, 401);
    }
    assert_eq!(wrong_sign_in(addr, "203.0.113.99").await, 429);
}
