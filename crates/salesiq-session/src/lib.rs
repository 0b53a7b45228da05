//! The chat domain of salesiq-gateway: portals, departments, operators,
//! visitors, chats, routing, command execution and timers, behind the
//! `Gateway` handle, with the `Store` and `Authenticator` traits and an
//! embedded SQLite store.
//!
//! This crate knows nothing of XMPP: it speaks in its own ids and events, and
//! a transport (such as `salesiq-xmpp`) plugs in at that seam.
//!
//! What it holds:
//! * [`Gateway`]: visitors ask for chats ([`Gateway::request_chat`]), the
//!   department's (or portal's) available operators are offered them, the
//!   first `y` wins, text and typing flow both ways into the transcript,
//!   and every `#` command of the product runs with replies to the
//!   operator only, in the portal's language: transfers and invitations
//!   answered `y`/`n` (group chats), timed ends, notes, history, blocking,
//!   pushed pages, the CRM and helpdesk through the connectors of
//!   `salesiq-integrations`, and the message board.
//! * The seam with a transport, in the domain's own terms: [`OperatorRef`],
//!   [`ContactId`] (a colleague, a visitor or the board; exhaustive, so a
//!   transport routes every kind), [`OperatorEvent`]s out through an
//!   [`OperatorSink`], and operator input in through the port
//!   ([`Gateway::submit`], [`Gateway::device_available`]), which never
//!   waits for domain work. Each live chat is a task of its own.
//! * Each operator's message archive ([`Gateway::archive`],
//!   [`Gateway::archived`]; [`ArchivedMessage`], [`ArchiveQuery`],
//!   [`ArchivePage`]), ids from [`archive_id`], kept
//!   [`Portal::archive_days`] days (pruned lazily on writes).
//! * [`Store`], with [`SqliteStore`] the embedded default: one file,
//!   created and migrated on open, WAL; everything scoped by portal.
//! * [`Authenticator`] and [`Directory`], the seams of the transport, with
//!   [`StoreAccounts`] (argon2id and SCRAM credentials in the store) and
//!   [`MemoryAccounts`].
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use salesiq_session::*;
//!
//! /// What the transport would turn into stanzas.
//! #[derive(Debug, Default)]
//! struct Log(Mutex<Vec<(OperatorRef, OperatorEvent)>>);
//! impl OperatorSink for Log {
//!     fn send(&self, to: &OperatorRef, event: OperatorEvent) {
//!         self.0.lock().unwrap().push((to.clone(), event));
//!     }
//! }
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # rt.block_on(async {
//! # let dir = tempfile::tempdir()?;
//! let store = Arc::new(SqliteStore::open(dir.path().join("gateway.sqlite3"))?);
//! store.put_portal(&Portal::new("demo", "en")).await?;
//! let bob = store.add_operator(&NewOperator::new("demo", "bob@demo.example", "Bob")).await?;
//! store.claim_username(bob.id, "bob.ops").await?;
//!
//! let log = Arc::new(Log::default());
//! let gateway = Gateway::new(store, log.clone());
//! let bob = OperatorRef::new("demo", "bob.ops");
//! gateway.set_available(&bob, true).await;
//!
//! let mut details = VisitorDetails::default();
//! details.name = "Ann Lee".into();
//! let mut ann = gateway.request_chat(ChatRequest::new("demo", details, "Where is my refund?", None)).await?;
//! let ann_contact = ContactId::visitor("demo", ann.visitor_number);
//! gateway.operator_says(&bob, &ann_contact, "y").await?;
//! gateway.operator_says(&bob, &ann_contact, "Hello Ann!").await?;
//! assert_eq!(ann.next_event().await, Some(VisitorEvent::Queued { position: 1 }));
//! assert_eq!(ann.next_event().await, Some(VisitorEvent::Joined { operator: "Bob".into() }));
//! assert_eq!(ann.next_event().await, Some(VisitorEvent::Message { from: "Bob".into(), text: "Hello Ann!".into() }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Crate features
//!
//! * `sqlite` (default): [`SqliteStore`], the embedded store (rusqlite
//!   with SQLite bundled). An embedder with a store of their own turns it
//!   off and compiles no SQLite.
//! * `conformance` (off): `conformance::run`, the suite every [`Store`]
//!   must pass, for an embedder's own store's tests.
//!
//! # Async trait methods
//!
//! Every embedder trait is dyn-compatible and held as `Arc<dyn Trait>`; its
//! async methods return a [`BoxFuture`]. Implement them with
//! `Box::pin(async move { ... })`.
//!
//! ```
//! use salesiq_jid::LoginId;
//! use salesiq_session::{Account, Authenticator, MemoryAccounts};
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let accounts = MemoryAccounts::new().with_account(
//!     Account::new("demo", Some("alice.ops"), "Alice", "alice@demo.example"),
//!     "s3cret",
//! );
//! let login = LoginId::parse("demo|alice.ops@salesiq.zoho.com")?.key();
//! let alice = accounts.check_password(&login, "s3cret").await;
//! assert_eq!(alice.map(|a| a.display_name).as_deref(), Ok("Alice"));
//! # Ok::<(), salesiq_jid::Error>(())
//! # }).unwrap();
//! ```

mod accounts;
mod archive;
mod auth;
pub mod columns;
#[cfg(feature = "conformance")]
pub mod conformance;
mod contact;
mod directory;
mod future;
mod gateway;
mod hours;
mod memory;
mod model;
mod sanitize;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod throttle;

pub use accounts::{DEFAULT_HASH_BUDGET, StoreAccounts};
pub use archive::{
    ArchivePage, ArchiveQuery, ArchivedMessage, DEFAULT_ARCHIVE_DAYS, MAX_ARCHIVE_PAGE, archive_id,
};
pub use auth::{Account, AuthError, Authenticator, Photo, ScramCredentials, ScramHash};
pub use contact::{Activity, ContactId, DeviceId, OperatorRef};
pub use directory::{COLLEAGUES_GROUP, Contact, Directory};
pub use future::BoxFuture;
pub use gateway::board::board_contact;
pub use gateway::{
    Availability, CAPACITY_REFRESH, CHAT_QUEUE, ChatRequest, Cluster, DEFAULT_QUEUE_TIMEOUT,
    DEFAULT_VISITOR_GRACE, Gateway, GatewayBuilder, GatewayError, LeaveMessage, Listing,
    MAX_COMMENT_CHARS, MAX_LINE_BYTES, MAX_OFFERS_PER_DEVICE, Numbered, OperatorEvent,
    OperatorInput, OperatorSink, PortError, RATE_WINDOW, Restored, RosterItem,
    TRANSCRIPTS_PER_CHAT, VISITOR_QUEUE, VisitorChat, VisitorEvent, VisitorLimits,
};
pub use hours::{HoursError, OpeningHours, check_timezone};
pub use memory::MemoryAccounts;
pub use model::{
    Author, BoardPost, CannedAnswer, Chat, ChatEvent, ChatId, ChatLine, ChatState,
    DEFAULT_MAX_CHATS, DEFAULT_OFFER_TIMEOUT_SECS, Department, DepartmentId, LeftKind, LeftMessage,
    LeftMessageId, LiveChat, NewOperator, Note, OfflineMessage, Operator, OperatorId, Portal,
    Rating, Routing, Visitor, VisitorDetails, VisitorId,
};
pub use sanitize::{clean_line, clean_text};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use store::{
    BackendError, Credentials, MAX_CHAT_EVENTS, MAX_OFFLINE, Store, StoreError, StoreResult,
};
pub use throttle::{LoginCheck, LoginThrottle};
