//! The embedded default [`Store`]: one SQLite file (rusqlite with the
//! bundled SQLite), created and migrated on open, in WAL mode. Queries run
//! on tokio's blocking pool, one at a time on one connection.
//!
//! Durability: `synchronous = NORMAL`, SQLite's recommended setting for
//! WAL. A crash of the process loses nothing committed; a power cut or OS
//! crash may lose the last transactions before a checkpoint, never the
//! file's consistency. With `FULL` every chat line waited for an fsync:
//! the gateway load test (`salesiq-load gateway`, 500 visitors at 2,000
//! lines/s) carried 144 round trips/s with `FULL` and all 2,000 with
//! `NORMAL`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::archive::{ArchivePage, ArchiveQuery, ArchivedMessage};
use crate::auth::ScramCredentials;
use crate::columns::{contact_from_key, contact_key, event_columns, event_from_columns};
use crate::contact::OperatorRef;
use crate::future::BoxFuture;
use crate::model::{
    Author, BoardPost, CannedAnswer, Chat, ChatEvent, ChatId, ChatLine, ChatState, Department,
    DepartmentId, LiveChat, NewOperator, Note, OfflineMessage, Operator, OperatorId, Portal,
    Visitor, VisitorDetails, VisitorId,
};
use crate::store::{Credentials, MAX_CHAT_EVENTS, MAX_OFFLINE, Store, StoreError, StoreResult};

/// The schema, one entry per version; `PRAGMA user_version` says how many
/// have run. Append, never edit.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE portals (name TEXT PRIMARY KEY, locale TEXT NOT NULL);
    CREATE TABLE departments (
        id INTEGER PRIMARY KEY, portal TEXT NOT NULL, name TEXT NOT NULL,
        convert_to_ticket INTEGER NOT NULL, UNIQUE (portal, name));
    CREATE TABLE operators (
        id INTEGER PRIMARY KEY, portal TEXT NOT NULL, email TEXT NOT NULL COLLATE NOCASE,
        display_name TEXT NOT NULL, username TEXT UNIQUE COLLATE NOCASE, password_hash TEXT,
        UNIQUE (portal, email));
    CREATE TABLE visitors (
        id INTEGER PRIMARY KEY, portal TEXT NOT NULL, number INTEGER NOT NULL,
        name TEXT NOT NULL, email TEXT, ip TEXT, country TEXT, browser TEXT, os TEXT,
        first_page TEXT, current_page TEXT, UNIQUE (portal, number));
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY, portal TEXT NOT NULL, visitor INTEGER NOT NULL REFERENCES visitors (id),
        department INTEGER REFERENCES departments (id), question TEXT NOT NULL,
        state TEXT NOT NULL, started INTEGER NOT NULL);
    CREATE TABLE chat_lines (
        id INTEGER PRIMARY KEY, chat INTEGER NOT NULL REFERENCES chats (id), at INTEGER NOT NULL,
        author_kind TEXT NOT NULL, author_name TEXT, text TEXT NOT NULL);
    CREATE INDEX chat_lines_by_chat ON chat_lines (chat);
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY, visitor INTEGER NOT NULL REFERENCES visitors (id),
        at INTEGER NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL);
    CREATE TABLE blocked_ips (
        portal TEXT NOT NULL, ip TEXT NOT NULL, reason TEXT NOT NULL, blocked_by TEXT NOT NULL,
        at INTEGER NOT NULL, PRIMARY KEY (portal, ip));
    CREATE TABLE board_posts (
        id INTEGER PRIMARY KEY, portal TEXT NOT NULL, at INTEGER NOT NULL,
        author TEXT NOT NULL, text TEXT NOT NULL);
    CREATE TABLE ticket_links (chat INTEGER PRIMARY KEY REFERENCES chats (id), ticket_id TEXT NOT NULL);
", "
    ALTER TABLE operators ADD COLUMN scram_sha1 TEXT;
    ALTER TABLE operators ADD COLUMN scram_sha256 TEXT;
", "
    CREATE TABLE department_members (
        department INTEGER NOT NULL REFERENCES departments (id),
        operator INTEGER NOT NULL REFERENCES operators (id),
        PRIMARY KEY (department, operator));
", "
    ALTER TABLE operators ADD COLUMN photo_type TEXT;
    ALTER TABLE operators ADD COLUMN photo BLOB;
", "
    CREATE TABLE visitor_numbers (portal TEXT PRIMARY KEY, next INTEGER NOT NULL);
    INSERT INTO visitor_numbers (portal, next)
        SELECT portal, MAX(number) + 1 FROM visitors GROUP BY portal;
", "
    CREATE TABLE offline (
        id INTEGER PRIMARY KEY, portal TEXT NOT NULL, username TEXT NOT NULL,
        at INTEGER NOT NULL, from_kind TEXT NOT NULL, from_key TEXT NOT NULL, text TEXT NOT NULL);
    CREATE INDEX offline_by_operator ON offline (portal, username, id);
", "
    CREATE TABLE live_chats (
        chat INTEGER PRIMARY KEY REFERENCES chats (id), portal TEXT NOT NULL,
        token_hash TEXT NOT NULL, operator TEXT, guests TEXT NOT NULL);
    CREATE TABLE chat_events (
        chat INTEGER NOT NULL REFERENCES chats (id), seq INTEGER NOT NULL,
        kind TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL, PRIMARY KEY (chat, seq));
    ALTER TABLE portals ADD COLUMN archive_days INTEGER NOT NULL DEFAULT 90;
    CREATE TABLE archive (
        portal TEXT NOT NULL, username TEXT NOT NULL, id INTEGER NOT NULL, at INTEGER NOT NULL,
        with_kind TEXT NOT NULL, with_key TEXT NOT NULL, outgoing INTEGER NOT NULL,
        text TEXT NOT NULL, PRIMARY KEY (portal, username, id)) WITHOUT ROWID;
    CREATE INDEX archive_by_contact ON archive (portal, username, with_kind, with_key, id);
    CREATE INDEX archive_by_age ON archive (portal, at);
", "
    ALTER TABLE live_chats ADD COLUMN seq_reserved INTEGER NOT NULL DEFAULT 0;
", "
    ALTER TABLE live_chats ADD COLUMN owner TEXT;
    CREATE INDEX live_chats_by_token ON live_chats (token_hash);
", "
    CREATE TABLE canned (
        portal TEXT NOT NULL, department INTEGER, key TEXT NOT NULL, text TEXT NOT NULL);
    -- NULLs are distinct in a UNIQUE constraint: a portal-wide answer
    -- (department NULL) is keyed as department 0, which no row id is.
    CREATE UNIQUE INDEX canned_by_key ON canned (portal, COALESCE(department, 0), key);
", "
    ALTER TABLE portals ADD COLUMN max_chats INTEGER NOT NULL DEFAULT 5;
    ALTER TABLE operators ADD COLUMN max_chats INTEGER;
    ALTER TABLE departments ADD COLUMN routing TEXT NOT NULL DEFAULT 'broadcast';
    ALTER TABLE departments ADD COLUMN offer_timeout INTEGER NOT NULL DEFAULT 30;
", "
    -- Portal::notify: e-mail addresses, one a line ('' for none).
    ALTER TABLE portals ADD COLUMN notify TEXT NOT NULL DEFAULT '';
", "
    ALTER TABLE departments ADD COLUMN hours TEXT;
    ALTER TABLE departments ADD COLUMN timezone TEXT;
    CREATE TABLE left_messages (
        id INTEGER PRIMARY KEY, portal TEXT NOT NULL, department INTEGER, kind TEXT NOT NULL,
        name TEXT NOT NULL, email TEXT, text TEXT NOT NULL, chat INTEGER, at INTEGER NOT NULL);
    CREATE INDEX left_messages_by_portal ON left_messages (portal, id);
", "
    ALTER TABLE chats ADD COLUMN rating INTEGER;
    ALTER TABLE chats ADD COLUMN rating_comment TEXT;
"];

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

fn backend(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::backend(error)
}

fn now() -> i64 {
    Utc::now().timestamp_millis()
}

fn time(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

impl SqliteStore {
    /// Opens (creating the file and its directory if need be) and migrates.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let mut connection = Connection::open(&path).map_err(backend)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
            )
            .map_err(backend)?;
        migrate(&mut connection)?;
        Ok(Self {
            path,
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `query` on the blocking pool.
    fn run<T: Send + 'static>(
        &self,
        query: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let connection = self.connection.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut connection = connection.lock().unwrap_or_else(|e| e.into_inner());
                query(&mut connection)
            })
            .await
            .map_err(backend)?
        })
    }
}

fn migrate(connection: &mut Connection) -> StoreResult<()> {
    let version: usize = connection
        .query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        .map_err(backend)?
        .try_into()
        .unwrap_or(0);
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let transaction = connection.transaction().map_err(backend)?;
        transaction.execute_batch(migration).map_err(backend)?;
        transaction
            .pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(backend)?;
        transaction.commit().map_err(backend)?;
    }
    Ok(())
}

/// A visitor with the portal's next number (a counter per portal, so
/// that numbers never repeat, even for visitors a store forgot).
fn insert_visitor(c: &Connection, portal: String, details: VisitorDetails) -> StoreResult<Visitor> {
    let number: i64 = c
        .query_row(
            "INSERT INTO visitor_numbers (portal, next) VALUES (?1, 2)
             ON CONFLICT (portal) DO UPDATE SET next = next + 1 RETURNING next - 1",
            [&portal],
            |row| row.get(0),
        )
        .map_err(backend)?;
    let d = &details;
    c.execute(
        "INSERT INTO visitors (portal, number, name, email, ip, country, browser, os, first_page, current_page)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![portal, number, d.name, d.email, d.ip, d.country, d.browser, d.os, d.first_page, d.current_page],
    )
    .map_err(backend)?;
    let id = VisitorId(c.last_insert_rowid());
    Ok(Visitor::new(id, &portal, number, details))
}

fn insert_chat(
    c: &Connection,
    portal: String,
    visitor: VisitorId,
    department: Option<DepartmentId>,
    question: String,
) -> StoreResult<Chat> {
    let started = now();
    c.execute(
        "INSERT INTO chats (portal, visitor, department, question, state, started) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![portal, visitor.0, department.map(|d| d.0), question, ChatState::Waiting.as_str(), started],
    )
    .map_err(backend)?;
    let id = ChatId(c.last_insert_rowid());
    Ok(Chat::new(id, &portal, visitor, department, &question).started_at(time(started)))
}

fn insert_line(c: &Connection, chat: ChatId, author: &Author, text: &str) -> StoreResult<()> {
    let (kind, name) = match author {
        Author::Visitor => ("visitor", None),
        Author::Operator(name) => ("operator", Some(name.as_str())),
        _ => ("system", None),
    };
    c.execute(
        "INSERT INTO chat_lines (chat, at, author_kind, author_name, text) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![chat.0, now(), kind, name, text],
    )
    .map(drop)
    .map_err(backend)
}

/// An `UPDATE` of one row by its id: [`StoreError::NotFound`] (naming
/// `what`) when no row had it.
fn updated(changed: usize, what: impl FnOnce() -> String) -> StoreResult<()> {
    if changed == 0 {
        return Err(StoreError::NotFound(what()));
    }
    Ok(())
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

const OPERATOR: &str =
    "SELECT id, portal, email, display_name, username, photo_type, photo, max_chats FROM operators";

fn operator(row: &Row<'_>) -> rusqlite::Result<Operator> {
    Ok(Operator {
        id: OperatorId(row.get(0)?),
        portal: row.get(1)?,
        email: row.get(2)?,
        display_name: row.get(3)?,
        username: row.get(4)?,
        photo: match (
            row.get::<_, Option<String>>(5)?,
            row.get::<_, Option<Vec<u8>>>(6)?,
        ) {
            (Some(mime_type), Some(data)) => Some(crate::auth::Photo::new(&mime_type, data)),
            _ => None,
        },
        max_chats: row.get(7)?,
    })
}

/// A department row: id, portal, name, convert_to_ticket, routing,
/// offer_timeout, hours, timezone.
fn department(row: &Row<'_>) -> rusqlite::Result<Department> {
    let routing: String = row.get(4)?;
    let (hours, timezone): (Option<String>, Option<String>) = (row.get(6)?, row.get(7)?);
    Ok(Department::new(
        DepartmentId(row.get(0)?),
        &row.get::<_, String>(1)?,
        &row.get::<_, String>(2)?,
        row.get(3)?,
    )
    .with_routing(
        crate::model::Routing::from_name(&routing).unwrap_or_default(),
        row.get(5)?,
    )
    .with_hours(hours.as_deref(), timezone.as_deref()))
}

const VISITOR: &str = "SELECT id, portal, number, name, email, ip, country, browser, os, first_page, current_page FROM visitors";

fn visitor(row: &Row<'_>) -> rusqlite::Result<Visitor> {
    Ok(Visitor {
        id: VisitorId(row.get(0)?),
        portal: row.get(1)?,
        number: row.get(2)?,
        details: VisitorDetails {
            name: row.get(3)?,
            email: row.get(4)?,
            ip: row.get(5)?,
            country: row.get(6)?,
            browser: row.get(7)?,
            os: row.get(8)?,
            first_page: row.get(9)?,
            current_page: row.get(10)?,
        },
    })
}

const LIVE_CHAT: &str =
    "SELECT chat, portal, token_hash, operator, guests, seq_reserved, owner FROM live_chats";

fn live_chat(row: &Row<'_>) -> rusqlite::Result<LiveChat> {
    let portal: String = row.get(1)?;
    let operator: Option<String> = row.get(3)?;
    let guests: String = row.get(4)?;
    let member = |username: &str| OperatorRef::new(&portal, username);
    let guests = guests
        .split('\n')
        .filter(|g| !g.is_empty())
        .map(member)
        .collect();
    let operator = operator.as_deref().map(member);
    let hash: String = row.get(2)?;
    let reserved = u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0);
    let owner: Option<String> = row.get(6)?;
    Ok(LiveChat::new(ChatId(row.get(0)?), &portal, &hash)
        .with_members(operator, guests)
        .with_seq_reserved(reserved)
        .with_owner(owner.as_deref()))
}

fn chat_line(row: &Row<'_>) -> rusqlite::Result<ChatLine> {
    let kind: String = row.get(2)?;
    let name: Option<String> = row.get(3)?;
    let author = match (kind.as_str(), name) {
        ("operator", Some(name)) => Author::Operator(name),
        ("visitor", _) => Author::Visitor,
        _ => Author::System,
    };
    Ok(ChatLine {
        chat: ChatId(row.get(0)?),
        at: time(row.get(1)?),
        author,
        text: row.get(4)?,
    })
}

impl Store for SqliteStore {
    fn put_portal<'a>(&'a self, portal: &'a Portal) -> BoxFuture<'a, StoreResult<()>> {
        let portal = portal.clone();
        self.run(move |c| {
            if portal.notify.iter().any(|a| a.contains(['\r', '\n'])) {
                return Err(StoreError::backend_message(
                    "portal notify: an e-mail address with a line break",
                ));
            }
            let notify = portal.notify.join("\n");
            c.execute(
                "INSERT INTO portals (name, locale, archive_days, max_chats, notify) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET locale = ?2, archive_days = ?3, max_chats = ?4, notify = ?5",
                params![portal.name, portal.locale, portal.archive_days, portal.max_chats_per_operator, notify],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn portal<'a>(&'a self, name: &'a str) -> BoxFuture<'a, StoreResult<Option<Portal>>> {
        let name = name.to_ascii_lowercase();
        self.run(move |c| {
            c.query_row(
                "SELECT name, locale, archive_days, max_chats, notify FROM portals WHERE name = ?1",
                [name],
                |row| {
                    let notify: String = row.get(4)?;
                    Ok(Portal {
                        name: row.get(0)?,
                        locale: row.get(1)?,
                        archive_days: row.get(2)?,
                        max_chats_per_operator: row.get(3)?,
                        notify: notify
                            .lines()
                            .filter(|a| !a.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    })
                },
            )
            .optional()
            .map_err(backend)
        })
    }

    fn add_department<'a>(
        &'a self,
        portal: &'a str,
        name: &'a str,
        convert_to_ticket: bool,
    ) -> BoxFuture<'a, StoreResult<Department>> {
        let (portal, name) = (portal.to_ascii_lowercase(), name.to_owned());
        self.run(move |c| {
            c.execute(
                "INSERT INTO departments (portal, name, convert_to_ticket) VALUES (?1, ?2, ?3)",
                params![portal, name, convert_to_ticket],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Duplicate(name.clone())
                } else {
                    backend(e)
                }
            })?;
            Ok(Department::new(
                DepartmentId(c.last_insert_rowid()),
                &portal,
                &name,
                convert_to_ticket,
            ))
        })
    }

    fn departments<'a>(&'a self, portal: &'a str) -> BoxFuture<'a, StoreResult<Vec<Department>>> {
        let portal = portal.to_ascii_lowercase();
        self.run(move |c| {
            let mut query = c
                .prepare("SELECT id, portal, name, convert_to_ticket, routing, offer_timeout, hours, timezone FROM departments WHERE portal = ?1 ORDER BY name")
                .map_err(backend)?;
            let rows = query.query_map([portal], department);
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn set_hours<'a>(
        &'a self,
        department: DepartmentId,
        hours: Option<&'a str>,
        timezone: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (hours, timezone) = (hours.map(str::to_owned), timezone.map(str::to_owned));
        self.run(move |c| {
            let changed = c
                .execute(
                    "UPDATE departments SET hours = ?1, timezone = ?2 WHERE id = ?3",
                    params![hours, timezone, department.0],
                )
                .map_err(backend)?;
            updated(changed, || format!("department {department}"))
        })
    }

    fn add_left_message<'a>(
        &'a self,
        message: &'a crate::model::LeftMessage,
    ) -> BoxFuture<'a, StoreResult<crate::model::LeftMessageId>> {
        let m = message.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO left_messages (portal, department, kind, name, email, text, chat, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    m.portal.to_ascii_lowercase(),
                    m.department.map(|d| d.0),
                    m.kind.as_str(),
                    m.name,
                    m.email,
                    m.text,
                    m.chat.map(|c| c.0),
                    m.at.timestamp_millis()
                ],
            )
            .map_err(backend)?;
            Ok(crate::model::LeftMessageId(c.last_insert_rowid()))
        })
    }

    fn left_messages<'a>(
        &'a self,
        portal: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Vec<crate::model::LeftMessage>>> {
        let portal = portal.to_ascii_lowercase();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |c| {
            let mut query = c
                .prepare(
                    "SELECT id, portal, department, kind, name, email, text, chat, at FROM left_messages
                     WHERE portal = ?1 ORDER BY id DESC LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = query.query_map(params![portal, limit], |row| {
                let kind: String = row.get(3)?;
                let email: Option<String> = row.get(5)?;
                Ok(crate::model::LeftMessage::new(
                    &row.get::<_, String>(1)?,
                    crate::model::LeftKind::from_name(&kind).unwrap_or(crate::model::LeftKind::Message),
                    &row.get::<_, String>(4)?,
                    email.as_deref(),
                    &row.get::<_, String>(6)?,
                    time(row.get(8)?),
                )
                .with_id(crate::model::LeftMessageId(row.get(0)?))
                .with_department(row.get::<_, Option<i64>>(2)?.map(DepartmentId))
                .with_chat(row.get::<_, Option<i64>>(7)?.map(ChatId)))
            });
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn set_routing(
        &self,
        department: DepartmentId,
        routing: crate::model::Routing,
        offer_timeout_secs: u32,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.run(move |c| {
            let changed = c
                .execute(
                    "UPDATE departments SET routing = ?1, offer_timeout = ?2 WHERE id = ?3",
                    params![routing.as_str(), offer_timeout_secs, department.0],
                )
                .map_err(backend)?;
            updated(changed, || format!("department {department}"))
        })
    }

    fn assign_department(
        &self,
        operator: OperatorId,
        department: DepartmentId,
    ) -> BoxFuture<'_, StoreResult<()>> {
        self.run(move |c| {
            let same_portal: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM operators o JOIN departments d ON d.portal = o.portal WHERE o.id = ?1 AND d.id = ?2",
                    params![operator.0, department.0],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            if same_portal == 0 {
                return Err(StoreError::NotFound(format!("operator {operator} or department {department} of one portal")));
            }
            c.execute(
                "INSERT OR IGNORE INTO department_members (department, operator) VALUES (?1, ?2)",
                params![department.0, operator.0],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn department_members(
        &self,
        department: DepartmentId,
    ) -> BoxFuture<'_, StoreResult<Vec<Operator>>> {
        self.run(move |c| {
            let mut query = c
                .prepare(
                    "SELECT o.id, o.portal, o.email, o.display_name, o.username, o.photo_type, o.photo, o.max_chats FROM operators o
                     JOIN department_members m ON m.operator = o.id WHERE m.department = ?1 ORDER BY o.display_name",
                )
                .map_err(backend)?;
            let rows = query.query_map([department.0], operator);
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn add_operator<'a>(&'a self, new: &'a NewOperator) -> BoxFuture<'a, StoreResult<Operator>> {
        let new = new.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO operators (portal, email, display_name) VALUES (?1, ?2, ?3)",
                params![new.portal, new.email, new.display_name],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Duplicate(new.email.clone())
                } else {
                    backend(e)
                }
            })?;
            Ok(Operator {
                id: OperatorId(c.last_insert_rowid()),
                portal: new.portal,
                email: new.email,
                display_name: new.display_name,
                username: None,
                photo: None,
                max_chats: None,
            })
        })
    }

    fn operator_by_email<'a>(
        &'a self,
        portal: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Operator>>> {
        let (portal, email) = (portal.to_ascii_lowercase(), email.to_owned());
        self.run(move |c| {
            c.query_row(
                &format!("{OPERATOR} WHERE portal = ?1 AND email = ?2"),
                params![portal, email],
                operator,
            )
            .optional()
            .map_err(backend)
        })
    }

    fn operator_by_username<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Operator>>> {
        let username = username.to_ascii_lowercase();
        self.run(move |c| {
            c.query_row(
                &format!("{OPERATOR} WHERE username = ?1"),
                [username],
                operator,
            )
            .optional()
            .map_err(backend)
        })
    }

    fn operators<'a>(&'a self, portal: &'a str) -> BoxFuture<'a, StoreResult<Vec<Operator>>> {
        let portal = portal.to_ascii_lowercase();
        self.run(move |c| {
            let mut query = c
                .prepare(&format!(
                    "{OPERATOR} WHERE portal = ?1 ORDER BY display_name"
                ))
                .map_err(backend)?;
            let rows = query.query_map([portal], operator);
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn username_available<'a>(&'a self, username: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        let username = username.to_ascii_lowercase();
        self.run(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM operators WHERE username = ?1",
                [username],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n == 0)
            .map_err(backend)
        })
    }

    fn claim_username<'a>(
        &'a self,
        id: OperatorId,
        username: &'a str,
    ) -> BoxFuture<'a, StoreResult<Operator>> {
        let checked = salesiq_jid::Username::parse(username)
            .map(|u| u.to_lowercase())
            .map_err(|e| StoreError::InvalidUsername(e.to_string()));
        self.run(move |c| {
            let username = checked?;
            // The UNIQUE constraint settles races: one UPDATE wins.
            let changed = c
                .execute(
                    "UPDATE operators SET username = ?1 WHERE id = ?2 AND username IS NULL",
                    params![username, id.0],
                )
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::UsernameTaken
                    } else {
                        backend(e)
                    }
                })?;
            let found = c
                .query_row(&format!("{OPERATOR} WHERE id = ?1"), [id.0], operator)
                .optional()
                .map_err(backend)?
                .ok_or_else(|| StoreError::NotFound(format!("operator {id}")))?;
            if changed == 0 {
                return Err(StoreError::UsernameAlreadySet);
            }
            Ok(found)
        })
    }

    fn set_max_chats(&self, id: OperatorId, max: Option<u32>) -> BoxFuture<'_, StoreResult<()>> {
        self.run(move |c| {
            let changed = c
                .execute(
                    "UPDATE operators SET max_chats = ?1 WHERE id = ?2",
                    params![max, id.0],
                )
                .map_err(backend)?;
            updated(changed, || format!("operator {id}"))
        })
    }

    fn set_photo<'a>(
        &'a self,
        id: OperatorId,
        photo: Option<&'a crate::auth::Photo>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let photo = photo.map(|p| (p.mime_type.clone(), p.data.clone()));
        self.run(move |c| {
            let (mime_type, data) = photo.unzip();
            let changed = c
                .execute(
                    "UPDATE operators SET photo_type = ?1, photo = ?2 WHERE id = ?3",
                    params![mime_type, data, id.0],
                )
                .map_err(backend)?;
            updated(changed, || format!("operator {id}"))
        })
    }

    fn set_credentials<'a>(
        &'a self,
        id: OperatorId,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let values = (
            credentials.password_hash.clone(),
            credentials.scram_sha1.encode(),
            credentials.scram_sha256.encode(),
        );
        self.run(move |c| {
            let changed = c
                .execute(
                    "UPDATE operators SET password_hash = ?1, scram_sha1 = ?2, scram_sha256 = ?3 WHERE id = ?4",
                    params![values.0, values.1, values.2, id.0],
                )
                .map_err(backend)?;
            updated(changed, || format!("operator {id}"))
        })
    }

    fn credentials(&self, id: OperatorId) -> BoxFuture<'_, StoreResult<Option<Credentials>>> {
        self.run(move |c| {
            let row: Option<(Option<String>, Option<String>, Option<String>)> = c
                .query_row(
                    "SELECT password_hash, scram_sha1, scram_sha256 FROM operators WHERE id = ?1",
                    [id.0],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()
                .map_err(backend)?;
            let Some((Some(password_hash), Some(sha1), Some(sha256))) = row else {
                return Ok(None);
            };
            let decode = |text: &str| {
                ScramCredentials::decode(text).ok_or_else(|| {
                    StoreError::backend_message(format!("bad SCRAM credentials of operator {id}"))
                })
            };
            Ok(Some(Credentials {
                password_hash,
                scram_sha1: decode(&sha1)?,
                scram_sha256: decode(&sha256)?,
            }))
        })
    }

    fn add_visitor<'a>(
        &'a self,
        portal: &'a str,
        details: &'a VisitorDetails,
    ) -> BoxFuture<'a, StoreResult<Visitor>> {
        let (portal, details) = (portal.to_ascii_lowercase(), details.clone());
        self.run(move |c| {
            let transaction = c.transaction().map_err(backend)?;
            let visitor = insert_visitor(&transaction, portal, details)?;
            transaction.commit().map_err(backend)?;
            Ok(visitor)
        })
    }

    fn open_chat<'a>(
        &'a self,
        portal: &'a str,
        details: &'a VisitorDetails,
        department: Option<DepartmentId>,
        question: &'a str,
    ) -> BoxFuture<'a, StoreResult<(Visitor, Chat)>> {
        let (portal, details) = (portal.to_ascii_lowercase(), details.clone());
        let question = question.to_owned();
        // One transaction: a failure leaves no visitor without a chat.
        self.run(move |c| {
            let transaction = c.transaction().map_err(backend)?;
            let visitor = insert_visitor(&transaction, portal.clone(), details)?;
            let chat = insert_chat(&transaction, portal, visitor.id, department, question)?;
            insert_line(&transaction, chat.id, &Author::Visitor, &chat.question)?;
            transaction.commit().map_err(backend)?;
            Ok((visitor, chat))
        })
    }

    fn visitor<'a>(
        &'a self,
        portal: &'a str,
        id: VisitorId,
    ) -> BoxFuture<'a, StoreResult<Option<Visitor>>> {
        let portal = portal.to_ascii_lowercase();
        self.run(move |c| {
            c.query_row(
                &format!("{VISITOR} WHERE id = ?1 AND portal = ?2"),
                params![id.0, portal],
                visitor,
            )
            .optional()
            .map_err(backend)
        })
    }

    fn set_current_page<'a>(
        &'a self,
        id: VisitorId,
        page: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let page = page.to_owned();
        self.run(move |c| {
            c.execute(
                "UPDATE visitors SET current_page = ?1 WHERE id = ?2",
                params![page, id.0],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn add_chat<'a>(
        &'a self,
        portal: &'a str,
        visitor: VisitorId,
        department: Option<DepartmentId>,
        question: &'a str,
    ) -> BoxFuture<'a, StoreResult<Chat>> {
        let (portal, question) = (portal.to_ascii_lowercase(), question.to_owned());
        self.run(move |c| insert_chat(c, portal, visitor, department, question))
    }

    fn chat<'a>(&'a self, portal: &'a str, id: ChatId) -> BoxFuture<'a, StoreResult<Option<Chat>>> {
        let portal = portal.to_ascii_lowercase();
        self.run(move |c| {
            c.query_row(
                "SELECT id, portal, visitor, department, question, state, started, rating, rating_comment FROM chats WHERE id = ?1 AND portal = ?2",
                params![id.0, portal],
                |row| {
                    Ok(Chat {
                        id: ChatId(row.get(0)?),
                        portal: row.get(1)?,
                        visitor: VisitorId(row.get(2)?),
                        department: row.get::<_, Option<i64>>(3)?.map(DepartmentId),
                        question: row.get(4)?,
                        state: ChatState::parse(&row.get::<_, String>(5)?),
                        started: time(row.get(6)?),
                        rating: match row.get::<_, Option<u8>>(7)? {
                            Some(score) => crate::model::Rating::new(
                                score,
                                &row.get::<_, Option<String>>(8)?.unwrap_or_default(),
                            ),
                            None => None,
                        },
                    })
                },
            )
            .optional()
            .map_err(backend)
        })
    }

    fn rate_chat<'a>(
        &'a self,
        chat: ChatId,
        rating: &'a crate::model::Rating,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (score, comment) = (rating.score, rating.comment.clone());
        self.run(move |c| {
            let changed = c
                .execute(
                    "UPDATE chats SET rating = ?1, rating_comment = ?2 WHERE id = ?3",
                    params![score, comment, chat.0],
                )
                .map_err(backend)?;
            updated(changed, || format!("chat {chat}"))
        })
    }

    fn unfinished_chats(&self) -> BoxFuture<'_, StoreResult<Vec<ChatId>>> {
        self.run(move |c| {
            let mut query = c
                .prepare("SELECT id FROM chats WHERE state != ?1 ORDER BY id")
                .map_err(backend)?;
            let rows = query.query_map([ChatState::Ended.as_str()], |row| Ok(ChatId(row.get(0)?)));
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn set_chat_state(&self, id: ChatId, state: ChatState) -> BoxFuture<'_, StoreResult<()>> {
        self.run(move |c| {
            c.execute(
                "UPDATE chats SET state = ?1 WHERE id = ?2",
                params![state.as_str(), id.0],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn add_line<'a>(
        &'a self,
        chat: ChatId,
        author: &'a Author,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (author, text) = (author.clone(), text.to_owned());
        self.run(move |c| insert_line(c, chat, &author, &text))
    }

    fn transcript(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Vec<ChatLine>>> {
        self.run(move |c| {
            let mut query = c
                .prepare("SELECT chat, at, author_kind, author_name, text FROM chat_lines WHERE chat = ?1 ORDER BY id")
                .map_err(backend)?;
            let rows = query.query_map([chat.0], chat_line);
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn history(
        &self,
        visitor: VisitorId,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<ChatLine>>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |c| {
            let mut query = c
                .prepare(
                    "SELECT * FROM (SELECT l.chat, l.at, l.author_kind, l.author_name, l.text, l.id FROM chat_lines l
                     JOIN chats ch ON ch.id = l.chat WHERE ch.visitor = ?1 ORDER BY l.id DESC LIMIT ?2) ORDER BY id",
                )
                .map_err(backend)?;
            let rows = query.query_map(params![visitor.0, limit], chat_line);
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn save_live_chat<'a>(&'a self, chat: &'a LiveChat) -> BoxFuture<'a, StoreResult<()>> {
        let (id, portal, hash) = (chat.chat.0, chat.portal.clone(), chat.token_hash.clone());
        let operator = chat.operator.as_ref().map(|o| o.username().to_owned());
        // Usernames hold no newline.
        let guests: Vec<&str> = chat.guests.iter().map(OperatorRef::username).collect();
        let guests = guests.join("\n");
        let reserved = i64::try_from(chat.seq_reserved).unwrap_or(i64::MAX);
        let owner = chat.owner.clone();
        // An update leaves the owner: it moves by claim_live_chat only.
        self.run(move |c| {
            c.execute(
                "INSERT INTO live_chats (chat, portal, token_hash, operator, guests, seq_reserved, owner)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (chat) DO UPDATE SET portal = ?2, token_hash = ?3, operator = ?4, guests = ?5, seq_reserved = ?6",
                params![id, portal, hash, operator, guests, reserved, owner],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn live_chats(&self) -> BoxFuture<'_, StoreResult<Vec<LiveChat>>> {
        self.run(move |c| {
            let mut query = c
                .prepare(&format!("{LIVE_CHAT} ORDER BY chat"))
                .map_err(backend)?;
            let rows = query.query_map([], live_chat);
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn live_chat<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<LiveChat>>> {
        let hash = token_hash.to_owned();
        self.run(move |c| {
            c.query_row(
                &format!("{LIVE_CHAT} WHERE token_hash = ?1 ORDER BY chat LIMIT 1"),
                [hash],
                live_chat,
            )
            .optional()
            .map_err(backend)
        })
    }

    fn claim_live_chat(
        &self,
        chat: ChatId,
        from: Option<&str>,
        to: Option<&str>,
    ) -> BoxFuture<'_, StoreResult<bool>> {
        let (from, to) = (from.map(str::to_owned), to.map(str::to_owned));
        self.run(move |c| {
            // `IS` compares NULL-safely: a NULL `from` matches no owner.
            c.execute(
                "UPDATE live_chats SET owner = ?3 WHERE chat = ?1 AND owner IS ?2",
                params![chat.0, from, to],
            )
            .map(|changed| changed == 1)
            .map_err(backend)
        })
    }

    fn drop_live_chat(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<()>> {
        self.run(move |c| {
            let transaction = c.transaction().map_err(backend)?;
            transaction
                .execute("DELETE FROM chat_events WHERE chat = ?1", [chat.0])
                .map_err(backend)?;
            transaction
                .execute("DELETE FROM live_chats WHERE chat = ?1", [chat.0])
                .map_err(backend)?;
            transaction.commit().map_err(backend)
        })
    }

    fn add_chat_event<'a>(
        &'a self,
        chat: ChatId,
        event: &'a ChatEvent,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (kind, a, b) = event_columns(&event.event);
        let (a, b) = (a.to_owned(), b.to_owned());
        let seq = i64::try_from(event.seq).unwrap_or(i64::MAX);
        self.run(move |c| {
            let transaction = c.transaction().map_err(backend)?;
            transaction
                .execute(
                    "INSERT INTO chat_events (chat, seq, kind, a, b) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (chat, seq) DO UPDATE SET kind = ?3, a = ?4, b = ?5",
                    params![chat.0, seq, kind, a, b],
                )
                .map_err(backend)?;
            // The oldest beyond MAX_CHAT_EVENTS go (numbers count by one,
            // so this is one range on the primary key).
            transaction
                .execute(
                    "DELETE FROM chat_events WHERE chat = ?1 AND seq <= ?2 - ?3",
                    params![chat.0, seq, MAX_CHAT_EVENTS as i64],
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)
        })
    }

    fn chat_events(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Vec<ChatEvent>>> {
        self.run(move |c| {
            let mut query = c
                .prepare("SELECT seq, kind, a, b FROM chat_events WHERE chat = ?1 ORDER BY seq")
                .map_err(backend)?;
            let rows = query.query_map([chat.0], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            });
            let rows: Vec<_> = rows.and_then(Iterator::collect).map_err(backend)?;
            Ok(rows
                .into_iter()
                .filter_map(|(seq, kind, a, b)| {
                    let event = event_from_columns(&kind, a, b)?;
                    Some(ChatEvent::new(u64::try_from(seq).ok()?, event))
                })
                .collect())
        })
    }

    fn add_note<'a>(
        &'a self,
        visitor: VisitorId,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (author, text) = (author.to_owned(), text.to_owned());
        self.run(move |c| {
            c.execute(
                "INSERT INTO notes (visitor, at, author, text) VALUES (?1, ?2, ?3, ?4)",
                params![visitor.0, now(), author, text],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn notes(&self, visitor: VisitorId) -> BoxFuture<'_, StoreResult<Vec<Note>>> {
        self.run(move |c| {
            let mut query = c
                .prepare("SELECT at, author, text FROM notes WHERE visitor = ?1 ORDER BY id")
                .map_err(backend)?;
            let rows = query.query_map([visitor.0], |row| {
                Ok(Note {
                    at: time(row.get(0)?),
                    author: row.get(1)?,
                    text: row.get(2)?,
                })
            });
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn block_ip<'a>(
        &'a self,
        portal: &'a str,
        ip: &'a str,
        reason: &'a str,
        by: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (portal, ip, reason, by) = (
            portal.to_ascii_lowercase(),
            ip.to_owned(),
            reason.to_owned(),
            by.to_owned(),
        );
        self.run(move |c| {
            c.execute(
                "INSERT INTO blocked_ips (portal, ip, reason, blocked_by, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (portal, ip) DO UPDATE SET reason = ?3, blocked_by = ?4, at = ?5",
                params![portal, ip, reason, by, now()],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn is_blocked<'a>(&'a self, portal: &'a str, ip: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
        let (portal, ip) = (portal.to_ascii_lowercase(), ip.to_owned());
        self.run(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM blocked_ips WHERE portal = ?1 AND ip = ?2",
                params![portal, ip],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(backend)
        })
    }

    fn post<'a>(
        &'a self,
        portal: &'a str,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (portal, author, text) = (
            portal.to_ascii_lowercase(),
            author.to_owned(),
            text.to_owned(),
        );
        self.run(move |c| {
            c.execute(
                "INSERT INTO board_posts (portal, at, author, text) VALUES (?1, ?2, ?3, ?4)",
                params![portal, now(), author, text],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn posts<'a>(
        &'a self,
        portal: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Vec<BoardPost>>> {
        let portal = portal.to_ascii_lowercase();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |c| {
            let mut query = c
                .prepare(
                    "SELECT at, author, text FROM (SELECT id, at, author, text FROM board_posts WHERE portal = ?1
                     ORDER BY id DESC LIMIT ?2) ORDER BY id",
                )
                .map_err(backend)?;
            let rows = query.query_map(params![portal, limit], |row| {
                Ok(BoardPost { at: time(row.get(0)?), author: row.get(1)?, text: row.get(2)? })
            });
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn link_ticket<'a>(
        &'a self,
        chat: ChatId,
        ticket_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let ticket_id = ticket_id.to_owned();
        self.run(move |c| {
            c.execute(
                "INSERT INTO ticket_links (chat, ticket_id) VALUES (?1, ?2)
                 ON CONFLICT (chat) DO UPDATE SET ticket_id = ?2",
                params![chat.0, ticket_id],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn linked_ticket(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Option<String>>> {
        self.run(move |c| {
            c.query_row(
                "SELECT ticket_id FROM ticket_links WHERE chat = ?1",
                [chat.0],
                |row| row.get(0),
            )
            .optional()
            .map_err(backend)
        })
    }

    fn put_canned<'a>(&'a self, answer: &'a CannedAnswer) -> BoxFuture<'a, StoreResult<()>> {
        let (portal, key) = (
            answer.portal.to_ascii_lowercase(),
            answer.key.to_ascii_lowercase(),
        );
        let (department, text) = (answer.department.map(|d| d.0), answer.text.clone());
        self.run(move |c| {
            c.execute(
                "INSERT INTO canned (portal, department, key, text) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (portal, COALESCE(department, 0), key) DO UPDATE SET text = ?4",
                params![portal, department, key, text],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn canned<'a>(
        &'a self,
        portal: &'a str,
        department: Option<DepartmentId>,
    ) -> BoxFuture<'a, StoreResult<Vec<CannedAnswer>>> {
        let (portal, department) = (portal.to_ascii_lowercase(), department.map(|d| d.0));
        self.run(move |c| {
            // The department's answers, and the portal-wide ones it does
            // not replace (with ?2 NULL, `= ?2` holds for no row).
            let mut query = c
                .prepare(
                    "SELECT portal, department, key, text FROM canned c WHERE portal = ?1
                     AND (department = ?2 OR (department IS NULL AND NOT EXISTS
                         (SELECT 1 FROM canned d WHERE d.portal = ?1 AND d.department = ?2 AND d.key = c.key)))
                     ORDER BY key",
                )
                .map_err(backend)?;
            let rows = query.query_map(params![portal, department], |row| {
                Ok(CannedAnswer {
                    portal: row.get(0)?,
                    department: row.get::<_, Option<i64>>(1)?.map(DepartmentId),
                    key: row.get(2)?,
                    text: row.get(3)?,
                })
            });
            rows.and_then(Iterator::collect).map_err(backend)
        })
    }

    fn delete_canned<'a>(
        &'a self,
        portal: &'a str,
        department: Option<DepartmentId>,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let (portal, key) = (portal.to_ascii_lowercase(), key.to_ascii_lowercase());
        let department = department.map(|d| d.0);
        self.run(move |c| {
            c.execute(
                "DELETE FROM canned WHERE portal = ?1 AND COALESCE(department, 0) = COALESCE(?2, 0) AND key = ?3",
                params![portal, department, key],
            )
            .map(|deleted| deleted > 0)
            .map_err(backend)
        })
    }

    fn add_offline<'a>(
        &'a self,
        to: &'a OperatorRef,
        message: &'a OfflineMessage,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (portal, username) = (to.portal().to_owned(), to.username().to_owned());
        let (kind, key) = contact_key(&message.from);
        let (at, text) = (message.at.timestamp_millis(), message.text.clone());
        self.run(move |c| {
            let transaction = c.transaction().map_err(backend)?;
            transaction
                .execute(
                    "INSERT INTO offline (portal, username, at, from_kind, from_key, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![portal, username, at, kind, key, text],
                )
                .map_err(backend)?;
            // The oldest beyond MAX_OFFLINE go.
            transaction
                .execute(
                    "DELETE FROM offline WHERE portal = ?1 AND username = ?2 AND id NOT IN
                     (SELECT id FROM offline WHERE portal = ?1 AND username = ?2 ORDER BY id DESC LIMIT ?3)",
                    params![portal, username, MAX_OFFLINE as i64],
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)
        })
    }

    fn take_offline<'a>(
        &'a self,
        to: &'a OperatorRef,
    ) -> BoxFuture<'a, StoreResult<Vec<OfflineMessage>>> {
        let (portal, username) = (to.portal().to_owned(), to.username().to_owned());
        self.run(move |c| {
            let transaction = c.transaction().map_err(backend)?;
            let taken = {
                let mut query = transaction
                    .prepare(
                        "SELECT at, from_kind, from_key, text FROM offline
                         WHERE portal = ?1 AND username = ?2 ORDER BY id",
                    )
                    .map_err(backend)?;
                let rows = query.query_map(params![portal, username], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                });
                let rows: Vec<_> = rows.and_then(Iterator::collect).map_err(backend)?;
                rows.into_iter()
                    .filter_map(|(at, kind, key, text)| {
                        let from = contact_from_key(&kind, &key)?;
                        Some(OfflineMessage::new(time(at), from, &text))
                    })
                    .collect()
            };
            transaction
                .execute(
                    "DELETE FROM offline WHERE portal = ?1 AND username = ?2",
                    params![portal, username],
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            Ok(taken)
        })
    }

    fn archive<'a>(
        &'a self,
        owner: &'a OperatorRef,
        message: &'a ArchivedMessage,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let (portal, username) = (owner.portal().to_owned(), owner.username().to_owned());
        let (kind, key) = contact_key(&message.with);
        let m = message.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO archive (portal, username, id, at, with_kind, with_key, outgoing, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![portal, username, m.id, m.at.timestamp_millis(), kind, key, m.outgoing, m.text],
            )
            .map(drop)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Duplicate(format!("archive id {}", m.id))
                } else {
                    backend(e)
                }
            })
        })
    }

    fn archive_all<'a>(
        &'a self,
        messages: &'a [(OperatorRef, ArchivedMessage)],
    ) -> BoxFuture<'a, StoreResult<()>> {
        let messages = messages.to_vec();
        self.run(move |c| {
            let transaction = c.transaction().map_err(backend)?;
            {
                let mut insert = transaction
                    .prepare(
                        "INSERT INTO archive (portal, username, id, at, with_kind, with_key, outgoing, text)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (portal, username, id) DO NOTHING",
                    )
                    .map_err(backend)?;
                for (owner, m) in &messages {
                    let (kind, key) = contact_key(&m.with);
                    insert
                        .execute(params![
                            owner.portal(),
                            owner.username(),
                            m.id,
                            m.at.timestamp_millis(),
                            kind,
                            key,
                            m.outgoing,
                            m.text
                        ])
                        .map_err(backend)?;
                }
            }
            transaction.commit().map_err(backend)
        })
    }

    fn archived<'a>(
        &'a self,
        owner: &'a OperatorRef,
        query: &'a ArchiveQuery,
    ) -> BoxFuture<'a, StoreResult<ArchivePage>> {
        let (portal, username) = (owner.portal().to_owned(), owner.username().to_owned());
        let query = query.clone();
        self.run(move |c| archived(c, &portal, &username, &query))
    }

    fn prune_archive<'a>(
        &'a self,
        portal: &'a str,
        before: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        let portal = portal.to_ascii_lowercase();
        let before = before.timestamp_millis();
        self.run(move |c| {
            c.execute(
                "DELETE FROM archive WHERE portal = ?1 AND at < ?2",
                params![portal, before],
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
    }
}

/// The filters every archive query shares: the owner (?1, ?2), the
/// contact (?3, ?4, or NULL), the time range (?5, ?6, or NULL).
const ARCHIVE_FILTER: &str = "portal = ?1 AND username = ?2
    AND (?3 IS NULL OR (with_kind = ?3 AND with_key = ?4))
    AND (?5 IS NULL OR at >= ?5) AND (?6 IS NULL OR at <= ?6)";

fn archived(
    c: &Connection,
    portal: &str,
    username: &str,
    query: &ArchiveQuery,
) -> StoreResult<ArchivePage> {
    for id in [query.after, query.before].into_iter().flatten() {
        let known: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM archive WHERE portal = ?1 AND username = ?2 AND id = ?3",
                params![portal, username, id],
                |row| row.get(0),
            )
            .map_err(backend)?;
        if known == 0 {
            return Err(StoreError::NotFound(format!("archive id {id}")));
        }
    }
    let with = query.with.as_ref().map(contact_key);
    let (kind, key) = (
        with.as_ref().map(|w| w.0),
        with.as_ref().map(|w| w.1.clone()),
    );
    let start = query.start.map(|t| t.timestamp_millis());
    let end = query.end.map(|t| t.timestamp_millis());
    let count: i64 = c
        .query_row(
            &format!("SELECT COUNT(*) FROM archive WHERE {ARCHIVE_FILTER}"),
            params![portal, username, kind, key, start, end],
            |row| row.get(0),
        )
        .map_err(backend)?;
    let max = query.max.min(crate::archive::MAX_ARCHIVE_PAGE);
    let backwards = query.before.is_some() || (query.last_page && query.after.is_none());
    let (bound, order) = if backwards {
        let bound = query.before.unwrap_or(i64::MAX);
        (format!("id < {bound}"), "DESC")
    } else {
        let bound = query.after.unwrap_or(i64::MIN);
        (format!("id > {bound}"), "ASC")
    };
    let mut statement = c
        .prepare(&format!(
            "SELECT id, at, with_kind, with_key, outgoing, text FROM archive
             WHERE {ARCHIVE_FILTER} AND {bound} ORDER BY id {order} LIMIT ?7"
        ))
        .map_err(backend)?;
    let rows = statement.query_map(
        params![portal, username, kind, key, start, end, max as i64 + 1],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, String>(5)?,
            ))
        },
    );
    let rows: Vec<_> = rows.and_then(Iterator::collect).map_err(backend)?;
    let complete = rows.len() <= max;
    let mut messages: Vec<ArchivedMessage> = rows
        .into_iter()
        .take(max)
        .filter_map(|(id, at, kind, key, outgoing, text)| {
            let with = contact_from_key(&kind, &key)?;
            Some(ArchivedMessage::new(id, time(at), with, outgoing, &text))
        })
        .collect();
    if backwards {
        messages.reverse();
    }
    Ok(ArchivePage::new(
        messages,
        complete,
        usize::try_from(count).unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A database made by the release before live chats had owners (the
    /// first eight migrations), with a live chat in it, opens migrated to
    /// the last: the chat has no owner, is found by its token hash through
    /// the index, and can be claimed.
    #[tokio::test]
    async fn a_database_from_before_owners_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        // The ninth migration gave live chats owners.
        let before = 8;
        {
            let connection = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..before] {
                connection.execute_batch(migration).unwrap();
            }
            connection
                .pragma_update(None, "user_version", before as i64)
                .unwrap();
            connection
                .execute_batch(
                    "INSERT INTO visitors (id, portal, number, name) VALUES (1, 'old', 1, 'Ann');
                     INSERT INTO chats (id, portal, visitor, question, state, started)
                         VALUES (7, 'old', 1, 'hi', 'active', 0);
                     INSERT INTO live_chats (chat, portal, token_hash, operator, guests, seq_reserved)
                         VALUES (7, 'old', 'cafe', 'alice.old', '', 40);",
                )
                .unwrap();
        }

        let store = SqliteStore::open(&path).unwrap();
        let expected = LiveChat::new(ChatId(7), "old", "cafe")
            .with_members(Some(OperatorRef::new("old", "alice.old")), Vec::new())
            .with_seq_reserved(40);
        assert_eq!(store.live_chats().await.unwrap(), vec![expected.clone()]);
        assert_eq!(store.live_chat("cafe").await.unwrap(), Some(expected));
        assert!(
            store
                .claim_live_chat(ChatId(7), None, Some("node-a"))
                .await
                .unwrap()
        );
        assert_eq!(
            store.live_chat("cafe").await.unwrap().and_then(|l| l.owner),
            Some("node-a".to_owned())
        );

        let connection = Connection::open(&path).unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let plan: String = connection
            .query_row(
                &format!("EXPLAIN QUERY PLAN {LIVE_CHAT} WHERE token_hash = 'cafe'"),
                [],
                |row| row.get(3),
            )
            .unwrap();
        assert!(plan.contains("live_chats_by_token"), "{plan}");
    }

    /// A portal stored before `notify` (the first ten migrations) opens
    /// migrated, telling nobody, as it was; an address with a line break,
    /// which one-a-line storage cannot keep, is refused, not split.
    #[tokio::test]
    async fn portals_from_before_notify_tell_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        let before = 10;
        {
            let connection = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..before] {
                connection.execute_batch(migration).unwrap();
            }
            connection
                .pragma_update(None, "user_version", before as i64)
                .unwrap();
            connection
                .execute_batch(
                    "INSERT INTO portals (name, locale, archive_days) VALUES ('old', 'ja', 7)",
                )
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.portal("old").await.unwrap(),
            Some(Portal::new("old", "ja").with_archive_days(7))
        );
        let split = Portal::new("old", "ja").with_notify(["a@example.com\nb@example.com"]);
        assert!(store.put_portal(&split).await.is_err());
        assert_eq!(
            store.portal("old").await.unwrap().map(|p| p.notify),
            Some(Vec::new())
        );
    }
}
