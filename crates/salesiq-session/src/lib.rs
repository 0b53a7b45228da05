//! The chat domain of salesiq-gateway: portals, departments, operators,
//! visitors, chats, routing, command execution and timers, behind the
//! `Gateway` handle, with the `Store` and `Authenticator` traits and an
//! embedded SQLite store.
//!
//! This crate knows nothing of XMPP: it speaks in its own ids and events, and
//! a transport (such as `salesiq-xmpp`) plugs in at that seam.
//!
//! **Status:** landed so far: the seams the XMPP transport needs,
//! [`Authenticator`] (who may log in) and [`Directory`] (whom an operator
//! sees), with [`MemoryAccounts`]; the domain model and the [`Store`] trait
//! with [`SqliteStore`], the embedded default (one file, created and
//! migrated on open, WAL); and the [`Gateway`]: chat requests offered
//! to the portal's available operators, the first `y` wins, text both ways
//! into the transcript, and every `#` command of the product executed with
//! replies to the operator only: transfers and invitations answered `y`/`n`
//! (an accepted invitation makes a group chat), `#e <seconds>` ending the
//! chat unless the visitor does something first, `#crm` and `#support`
//! asking the connectors given to [`Gateway::with_connectors`]; and the
//! message board, one [`board_contact`] per portal; typing both ways and
//! the visitor's page changes. Still to come: operators assigned to
//! departments (today a department transfer asks the whole portal).
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
mod auth;
mod directory;
mod future;
mod gateway;
mod memory;
mod model;
mod sqlite;
mod store;

pub use accounts::StoreAccounts;
pub use auth::{Account, AuthError, Authenticator, Photo, ScramCredentials, ScramHash};
pub use directory::{COLLEAGUES_GROUP, Contact, Directory};
pub use future::BoxFuture;
pub use gateway::board::board_contact;
pub use gateway::{
    ChatRequest, DEFAULT_QUEUE_TIMEOUT, Gateway, GatewayError, OperatorEvent, OperatorRef,
    OperatorSink, VisitorChat, VisitorEvent,
};
pub use memory::MemoryAccounts;
pub use model::{
    Author, BoardPost, Chat, ChatId, ChatLine, ChatState, Department, DepartmentId, NewOperator,
    Note, Operator, OperatorId, Portal, Visitor, VisitorDetails, VisitorId,
};
pub use sqlite::SqliteStore;
pub use store::{Credentials, Store, StoreError, StoreResult};
