//! [`PgStore`]: the salesiq-gateway [`Store`](salesiq_session::Store) on
//! PostgreSQL, for deployments of more than one node (or of one that wants
//! a database server rather than a SQLite file). It passes the same
//! conformance suite as the embedded `SqliteStore`
//! (`salesiq_session::conformance`), against a real PostgreSQL in this
//! crate's tests.
//!
//! ```no_run
//! use std::sync::Arc;
//! use salesiq_pg::PgStore;
//! use salesiq_session::{NewOperator, Portal, Store};
//!
//! # async fn demo() -> Result<(), salesiq_session::StoreError> {
//! // Connects (a pool of connections) and migrates the schema.
//! let store = PgStore::connect("postgres://salesiq:secret@127.0.0.1:5432/salesiq").await?;
//! store.put_portal(&Portal::new("demo", "en")).await?;
//! let bob = store.add_operator(&NewOperator::new("demo", "bob@demo.example", "Bob")).await?;
//! store.claim_username(bob.id, "bob.ops").await?;
//! // What the gateway takes: `Gateway::new(store, sink)`.
//! let store: Arc<dyn Store> = Arc::new(store);
//! # let _ = store;
//! # Ok(())
//! # }
//! ```
//!
//! # Connecting
//!
//! [`PgStore::connect`] takes a URL (or libpq's `key=value` string) and
//! makes a [`deadpool_postgres`] pool of at most [`POOL_SIZE`] connections
//! without TLS, with [`CONNECT_TIMEOUT`] for making a connection and for
//! waiting for a free one (a `connect_timeout` in the URL wins). For TLS
//! (e.g. `tokio-postgres-rustls`), another size or other timeouts, build a
//! [`deadpool_postgres::Pool`] and hand it to [`PgStore::from_pool`]. Both
//! migrate before they return. Every method is natively async: a few
//! statements on a pooled connection, prepared once per connection.
//!
//! # Schema and migrations
//!
//! The schema is a versioned list of SQL files, `migrations/NNNN_*.sql`,
//! embedded in the library and applied in order; the table
//! `salesiq_migrations` records which have run. Migrating takes a
//! PostgreSQL advisory lock and runs in one transaction: nodes starting at
//! once migrate one after the other, the later ones find nothing to do,
//! and a failure applies nothing. Released files are never edited, and
//! migrations only add (tables, columns, indexes), so a node of the
//! previous release keeps working beside a newer one during a rolling
//! upgrade (it logs a warning when the schema is newer than it knows).
//! Give the store a database of its own, or a schema of its own through
//! `options=-csearch_path%3Dsalesiq` in the URL: its tables have plain
//! names (`operators`, `chats`...).
//!
//! # Choices
//!
//! * **Driver**: tokio-postgres with a deadpool pool, not sqlx: sqlx's
//!   optional SQLite driver takes part in Cargo's `links` check even when
//!   off, and its libsqlite3-sys clashes with the one of the workspace's
//!   rusqlite. Queries are plain SQL with binds, checked by the tests
//!   against a real server (there is no database at build time).
//! * **Case**: portal names and usernames are kept lower case (the store
//!   lowercases what it is given); usernames are unique across portals
//!   through a unique index on `lower(username)`; e-mail addresses are kept
//!   as given, unique per portal on `lower(email)`. Usernames are checked
//!   with `salesiq_jid::Username`, the rule the SQLite store applies.
//!   Canned-answer keys are kept lower case too, one answer per portal,
//!   department and key through a unique index on `COALESCE(department,
//!   0)` (a portal-wide answer's department is NULL, and `NULLS NOT
//!   DISTINCT` would need PostgreSQL 15).
//! * **Unique violations** (SQLSTATE 23505) become
//!   [`StoreError::UsernameTaken`](salesiq_session::StoreError::UsernameTaken)
//!   for a claim and [`StoreError::Duplicate`](salesiq_session::StoreError::Duplicate)
//!   for an e-mail address, a department name or an archive id; every other
//!   database failure is `StoreError::Backend`, with the driver's error as
//!   its source.
//! * **Races**: two claims of one username: one statement each, the second
//!   waits on the unique index and loses. Visitor numbers: a counter row
//!   per portal bumped with `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`
//!   under its row lock, never `MAX + 1`. Claims of a live chat: one
//!   `UPDATE ... WHERE owner IS NOT DISTINCT FROM $2`; a racing second
//!   waits on the row lock, rechecks the row and changes nothing.
//!   Whatever writes several rows is one transaction (`open_chat`, `add_offline` with its bound under a
//!   per-operator advisory lock, `add_chat_event` with its bound,
//!   `drop_live_chat`) or one statement (`take_offline` is one
//!   `DELETE ... RETURNING`; `archive_all` one `INSERT ... SELECT FROM
//!   UNNEST(...)`, one round trip for the whole batch).
//! * **Times** are `timestamptz`, microseconds: times the store makes
//!   (chat starts, lines, notes, posts) are cut to microseconds first, so
//!   what a method returns equals what is read back later.
//! * **Text**: PostgreSQL's `text` holds no NUL character; what enters
//!   the gateway is cleaned of control characters first
//!   (`salesiq_session::clean_text`, `clean_line`), and a NUL written by
//!   other means is a `StoreError::Backend`, not a panic.
//! * **Order**: lists by name sort `COLLATE "C"` (by code point, as
//!   SQLite), whatever the database's locale.
//!
//! # Crate features
//!
//! None.

mod accounts;
mod archive;
mod canned;
mod chats;
mod db;
mod live;
mod migrate;
mod store;

pub use store::{CONNECT_TIMEOUT, POOL_SIZE, PgStore};

/// The pool and driver types [`PgStore::from_pool`] takes, re-exported so
/// that an embedder builds them at the same versions.
pub use deadpool_postgres;
