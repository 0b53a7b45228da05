//! The XMPP client-to-server transport of salesiq-gateway: operators log in
//! from any Jabber client on the STARTTLS port (6222 by default) or the
//! direct-TLS port (6223, XEP-0368), as `portal|username@domain`.
//!
//! The transport knows JIDs and stanzas; who may log in and whom an operator
//! sees come from the session layer's [`Authenticator`] and [`Directory`].
//!
//! [`Authenticator`]: salesiq_session::Authenticator
//! [`Directory`]: salesiq_session::Directory
//!
//! A server on a free port, with accounts in memory and a chat domain over
//! SQLite, answering a client's stream header with its STARTTLS offer:
//!
//! ```
//! use std::sync::Arc;
//! use salesiq_session::{Account, Gateway, MemoryAccounts, SqliteStore};
//! use salesiq_xmpp::{Config, Server, TlsIdentity};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let accounts = Arc::new(MemoryAccounts::new().with_account(
//!     Account::new("demo", Some("alice.ops"), "Alice", "alice@demo.example"),
//!     "s3cret",
//! ));
//! let store = Arc::new(SqliteStore::open(":memory:").unwrap());
//! let mut config = Config::new("salesiq.zoho.com");
//! config.starttls_addr = Some("127.0.0.1:0".parse().unwrap()); // not 6222
//! config.direct_tls_addr = None;
//! let identity = TlsIdentity::self_signed(&config.domain).unwrap();
//! let server = Server::builder(config, identity, accounts.clone(), accounts)
//!     .gateway(move |sink| Gateway::new(store, sink))
//!     .bind()
//!     .await
//!     .unwrap();
//! let addr = server.starttls_addr().unwrap();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let running = tokio::spawn(server.run(async { let _ = stopped.await; }));
//!
//! let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
//! client.write_all(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
//!     xmlns:stream='http://etherx.jabber.org/streams' to='salesiq.zoho.com' version='1.0'>")
//!     .await
//!     .unwrap();
//! let mut heard = String::new();
//! let mut buffer = [0u8; 1024];
//! while !heard.contains("</stream:features>") {
//!     let n = client.read(&mut buffer).await.unwrap();
//!     assert!(n > 0, "the server closed: {heard}");
//!     heard.push_str(&String::from_utf8_lossy(&buffer[..n]));
//! }
//! assert!(heard.contains("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"));
//! stop.send(()).unwrap();
//! running.await.unwrap();
//! # });
//! ```
//!
//! # What it does
//!
//! * RFC 6120 stream negotiation: TLS is required (STARTTLS, or direct TLS);
//!   SASL SCRAM-SHA-256, SCRAM-SHA-1 (by rsasl) and PLAIN, only inside TLS;
//!   resource binding, client-chosen or generated; a second session on the
//!   same full JID replaces the first, which is closed with `<conflict/>`.
//! * The login is parsed with `salesiq-jid`: `portal|username`,
//!   `portal\username` and `portal\5cusername`, bare or with the domain.
//!   An account without a username is refused, after its password checked
//!   out, with a `<text>` telling the operator to create one.
//! * Messages, presence and iq are routed among operators of one portal
//!   only, as the directory names them; everything else is answered
//!   `<service-unavailable/>`, so nothing reveals another portal.
//! * The roster is the directory's (read-only, subscriptions both ways);
//!   changes made elsewhere reach connected clients as roster pushes
//!   through [`ServerHandle`];
//!   XEP-0199 ping; XEP-0030 disco advertising exactly what is implemented.
//! * XEP-0198 stream management with resumption: a session whose
//!   connection drops keeps its resource, presence and everything sent to
//!   it for [`Config::resumption_timeout`]; the client resumes on a new
//!   connection and gets whatever it had not acknowledged, in order. When
//!   the time passes, senders of unacknowledged messages get
//!   `<recipient-unavailable/>` back.
//!
//! # Crate features
//!
//! * `fuzzing` (off): `fuzzing::serve_bytes`, the whole server stream
//!   driven from bytes in memory, for the `server_stream` fuzz target.
//!
//! # Limits and errors
//!
//! Each is a [`Config`] field: the stanza size (`<policy-violation/>`), the
//! negotiation time (`<connection-timeout/>`), connections in all and per
//! IP, failed logins per IP, stanzas queued for a client that does not read
//! (`<policy-violation/>`, then the connection closes). Malformed XML is `<not-well-formed/>`;
//! comments, processing instructions, DTDs and entities are
//! `<restricted-xml/>`; stanzas before authentication `<not-authorized/>`;
//! SASL before TLS `<encryption-required/>`; shutdown `<system-shutdown/>`.
//! A TLS ClientHello on the STARTTLS port is closed quietly. After binding
//! there is no idle timeout: an operator's client may stay silent for
//! hours (clients send whitespace or XEP-0199 pings as they like).
//!
//! Memory: about 21 KiB per idle authenticated TLS connection (measured
//! by `benches/compare.sh`), most of it rustls' and the parser's buffers;
//! the connection task keeps only the session's wait, every other step
//! runs boxed.
//!
//! * XEP-0160 offline messages (with a gateway, which has the store): a
//!   colleague's message to an operator with no device online, and the
//!   gateway's lines for an operator whose devices all went (a visitor's
//!   words, `[system]` replies), are kept in order and given at the next
//!   initial presence, each with an XEP-0203 `<delay/>` stamp; at most
//!   `salesiq_session::MAX_OFFLINE` per operator. Without a gateway, such
//!   a message bounces `<service-unavailable/>` as before.
//!
//! * XEP-0313 message archive (with a gateway, which has the store): every
//!   message with a body to or from an operator is archived once per
//!   operator, live or kept offline (visitors' lines, `[system]` replies,
//!   offers and board posts as incoming; the operator's lines to visitors
//!   and the board, once the gateway took them, as outgoing; a colleague's
//!   message in both archives), by an ordered writer task with a bounded
//!   queue (full: dropped and logged). Carbons, offline re-deliveries and
//!   messages to oneself are not. Live messages an operator receives
//!   carry the XEP-0359 `<stanza-id/>` they are archived under (client-
//!   sent ones are stripped). Queries go to the own bare JID (or no `to`):
//!   form fields `with`, `start`, `end` (others: `<bad-request/>`), RSM
//!   `max` (default 50, at most 100), `after`, `before` (empty: the last
//!   page; an unknown id: `<item-not-found/>`); they run beside the read
//!   loop, after every message archived before them is written, and the
//!   results (XEP-0297 forwarded, XEP-0203 stamped) and `<fin/>` are
//!   queued in order. `urn:xmpp:mam:2` and `urn:xmpp:sid:0` are features
//!   of the account's disco#info, not the server's.
//!
//! * XEP-0280 carbons (an operator on phone and desktop at once sees both
//!   sides everywhere; `<private/>` and `<no-copy/>` are honoured);
//!   XEP-0085 chat states and any other payload pass through untouched;
//!   XEP-0054 vCards of the operator and their contacts (name, e-mail,
//!   photo; read-only); XEP-0115 capabilities of the server in its stream
//!   features, the hash of exactly what disco#info says.
//!
//! * The chat domain plugs in at construction ([`Server::builder`] with
//!   [`ServerBuilder::gateway`]): the gateway is built on the server's
//!   `salesiq_session::OperatorSink`, so there is no half-wired state.
//!   Contacts are routed by kind (`salesiq_session::ContactId`), mapped to
//!   JIDs in one module: a colleague is `portal|username@domain`, a
//!   visitor `portal|visitor-N@domain/visitor` (a form no username can
//!   take, with a fixed resource), the board `portal|board@domain/board`.
//!   Every bind and roster fetch lists the directory's colleagues plus the
//!   gateway's contacts (the board, and the visitors this operator is in
//!   or offered), so a phone that binds mid-chat, or a client that
//!   re-fetches its roster, keeps every visitor. What an operator writes
//!   to a visitor or the board is handed to the gateway without waiting
//!   (a full chat queue bounces `<resource-constraint/>`, an ended chat
//!   `<service-unavailable/>` saying so; chat states alone are dropped
//!   quietly), carbon-copied to the operator's other resources; each
//!   resource's availability is reported as a device of its own, and a
//!   resource that comes online later is offered the waiting chats too.
//!
//! * Several nodes (issue 14): a server built with a [`Relay`]
//!   ([`ServerBuilder::relay`]) tells it every presence its resources
//!   broadcast, adds the presences of colleagues' (and the operator's
//!   own) resources on other nodes to the answer to an initial presence,
//!   and hands it messages and directed presence to resources not bound
//!   here, and to bare JIDs besides the local resources; a message that
//!   reached another node is neither kept offline nor bounced. What other
//!   nodes carry here goes to [`ServerHandle::deliver`] and
//!   [`ServerHandle::remote_presence`], which reach only resources that
//!   have the sender among their contacts (never another portal's).
//!   Carbon copies stay on the node that makes them; archiving happens
//!   once, on the sender's node. Without a relay, a server knows only
//!   its own resources.
//!
//! * [`ServerHandle::stats`] tells how many connections are being served
//!   and how many sessions are bound, for monitoring (and for tests that
//!   check nothing is left behind).

mod archive;
mod config;
mod disco;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod jids;
mod negotiation;
mod ns;
mod offline;
mod relay;
mod router;
mod sasl;
mod server;
mod session;
mod shared;
mod sink;
mod sm;
mod stanza;
mod stream;
mod tls;
mod xml;

pub use config::Config;
pub use error::{Error, StanzaErrorCondition, StreamErrorCondition};
pub use relay::Relay;
pub use server::{Server, ServerBuilder, ServerHandle, ServerStats};
pub use session::taking_chats;
pub use tls::TlsIdentity;
pub use xml::{StreamEvent, StreamHeader, XmlLimits, XmlReader};
