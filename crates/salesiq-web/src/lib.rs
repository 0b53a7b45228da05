//! The web side of salesiq-gateway, as an [`axum::Router`] an embedder
//! mounts: the visitor WebSocket API that feeds the
//! [`Gateway`](salesiq_session::Gateway), the
//! visitor chat page (`/`), the Jabber settings page (`/settings`) and
//! their JSON API, and [`serve`], which serves a router within connection
//! caps and header timeouts.
//!
//! ```no_run
//! use std::sync::Arc;
//! use salesiq_session::{Gateway, SqliteStore, Store, StoreAccounts};
//! use salesiq_web::{HttpLimits, JabberSettings, Web};
//! use salesiq_xmpp::ServerHandle;
//!
//! # async fn demo(gateway: Gateway, store: Arc<SqliteStore>, xmpp: ServerHandle) {
//! let accounts = StoreAccounts::new(store.clone());
//! let jabber = JabberSettings::new("salesiq.zoho.com", "chat.example.com", 6222, 6223, "AB:CD:...");
//! let web = Web::new(gateway, store, accounts, xmpp, jabber, "demo");
//! // Mount it beside the embedder's own routes, or serve it alone:
//! let router = salesiq_web::router(web);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! salesiq_web::serve(listener, router, HttpLimits::default(), std::future::pending()).await;
//! # }
//! ```
//!
//! * [`visitor_ws`]: the visitor's WebSocket API (`GET /ws/visitor?portal=`),
//!   typed frames ([`visitor_ws::VisitorFrame`], [`visitor_ws::decode`]),
//!   usable on its own with [`visitor_ws::router`] for an embedder who has
//!   a page of their own.
//! * [`pages`]: the visitor page, the settings page (sign-in by e-mail and
//!   password, username rule and claim, what to type into each client) and
//!   their JSON API, plus the visitor API, as one router ([`router`]).
//! * [`guides`]: what to type into each common Jabber client.
//! * [`serve`]: the bounds ([`HttpLimits`]) that `axum::serve` lacks.
//!
//! # Crate features
//!
//! None: everything here is needed by a page and its API.

pub mod guides;
pub mod pages;
mod serve;
pub mod visitor_ws;

pub use pages::{JabberSettings, Web, router};
pub use serve::{HttpLimits, serve};
