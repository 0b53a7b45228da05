//! The web side of salesiq-gateway, as an [`axum::Router`] an embedder
//! mounts: the visitor WebSocket API that feeds the
//! [`Gateway`](salesiq_session::Gateway), the
//! visitor chat page (`/`), the Jabber settings page (`/settings`) and
//! their JSON API, and [`serve`], which serves a router within connection
//! caps and header timeouts.
//!
//! ```
//! use std::sync::Arc;
//! use salesiq_session::{Gateway, Portal, SqliteStore, Store, StoreAccounts};
//! use salesiq_web::{HttpLimits, JabberSettings, Web};
//! use salesiq_xmpp::{Config, Server, TlsIdentity};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let store = Arc::new(SqliteStore::open(":memory:").unwrap());
//! store.put_portal(&Portal::new("demo", "en")).await.unwrap();
//! let accounts = Arc::new(StoreAccounts::new(store.clone()));
//! // The XMPP side, whose gateway the pages feed (on free ports here).
//! let mut config = Config::new("salesiq.zoho.com");
//! config.starttls_addr = Some("127.0.0.1:0".parse().unwrap());
//! config.direct_tls_addr = None;
//! let identity = TlsIdentity::self_signed(&config.domain).unwrap();
//! let gateway_store: Arc<dyn Store> = store.clone();
//! let xmpp = Server::builder(config, identity, accounts.clone(), accounts.clone())
//!     .gateway(move |sink| Gateway::new(gateway_store, sink))
//!     .bind()
//!     .await
//!     .unwrap();
//! let gateway = xmpp.gateway().cloned().unwrap();
//! let jabber = JabberSettings::new("salesiq.zoho.com", "chat.example.com", 6222, 6223, "AB:CD");
//! let web = Web::new(gateway, store, StoreAccounts::clone(&accounts), xmpp.handle(), jabber, "demo");
//!
//! // Mount `salesiq_web::router(web)` beside your own routes, or serve it:
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let serving = tokio::spawn(salesiq_web::serve(
//!     listener,
//!     salesiq_web::router(web),
//!     HttpLimits::default(),
//!     async { let _ = stopped.await; },
//! ));
//! let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
//! client
//!     .write_all(b"GET /api/portal?portal=demo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
//!     .await
//!     .unwrap();
//! let mut answer = String::new();
//! client.read_to_string(&mut answer).await.unwrap();
//! assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
//! assert!(answer.contains(r#""portal":"demo""#), "{answer}");
//! stop.send(()).unwrap();
//! serving.await.unwrap();
//! # });
//! ```
//!
//! * [`visitor_ws`]: the visitor's WebSocket API (`GET /ws/visitor?portal=`),
//!   typed frames ([`visitor_ws::VisitorFrame`], [`visitor_ws::decode`]),
//!   usable on its own with [`visitor_ws::router`] for an embedder who has
//!   a page of their own; set up with [`visitor_ws::Config`]
//!   ([`visitor_ws::router_with_config`], [`Web::with_visitor_api`]).
//! * [`GeoIp`]: the visitor's country for `#info` and the chat request,
//!   from a GeoLite2-Country or DB-IP database (MaxMind's mmdb format,
//!   read with `maxminddb`); [`GeoIpError`] when a file is not one.
//! * [`ClientAddress`]: the visitor's address from the `X-Forwarded-For`
//!   of the reverse proxies the embedder trusts, and from the socket
//!   otherwise, so that nobody else can choose the address `#b` blocks.
//! * [`pages`]: the visitor page, the settings page (sign-in by e-mail and
//!   password, username rule and claim, what to type into each client) and
//!   their JSON API, plus the visitor API, as one router ([`router`]).
//! * [`guides`]: what to type into each common Jabber client.
//! * [`serve`]: the bounds ([`HttpLimits`]) that `axum::serve` lacks.
//!
//! # Crate features
//!
//! None: everything here is needed by a page and its API.

mod client_address;
mod geoip;
pub mod guides;
pub mod pages;
mod serve;
pub mod visitor_ws;

pub use client_address::ClientAddress;
pub use geoip::{GeoIp, GeoIpError};
pub use pages::{JabberSettings, Web, router};
pub use serve::{HttpLimits, serve};
