//! The per-operator message archive (what XEP-0313 serves): every message
//! with a body to or from an operator, once per operator, with the contact
//! it was exchanged with and its direction.
//!
//! Ids are the transport's to assign, when the message passes, so that a
//! live stanza can carry the id it is archived under (XEP-0359): see
//! [`archive_id`]. Within one owner's archive ids are unique and ordered
//! as the messages passed; pages come oldest first.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use crate::contact::ContactId;

/// How many days a portal keeps its operators' archives by default.
pub const DEFAULT_ARCHIVE_DAYS: u32 = 90;

/// The largest page a store is asked for ([`ArchiveQuery::max`] is capped
/// to it).
pub const MAX_ARCHIVE_PAGE: usize = 100;

/// A new archive id: unique in this process and increasing, the current
/// time in microseconds since 1970 or, if that is not past the last id
/// given, the last id plus one. Ids stay increasing across restarts as
/// long as the clock does not go back.
pub fn archive_id() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = Utc::now().timestamp_micros();
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// One archived message of an operator (the archive's owner).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchivedMessage {
    /// Its id in the owner's archive ([`archive_id`]).
    pub id: i64,
    /// When it passed.
    pub at: DateTime<Utc>,
    /// The other side: a colleague, a visitor (their lines, the `[system]`
    /// replies in their window, the operator's lines to them) or the board.
    pub with: ContactId,
    /// Whether the owner sent it (else the owner received it).
    pub outgoing: bool,
    /// What it says.
    pub text: String,
}

impl ArchivedMessage {
    /// A message exchanged with `with` at `at`, sent by the owner if
    /// `outgoing`.
    pub fn new(id: i64, at: DateTime<Utc>, with: ContactId, outgoing: bool, text: &str) -> Self {
        Self {
            id,
            at,
            with,
            outgoing,
            text: text.to_owned(),
        }
    }
}

/// Which page of an owner's archive to read: the filters (`with`, `start`,
/// `end`, all inclusive) and the page (XEP-0059: after an id, before an
/// id, the last page, or else the first), at most `max` messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchiveQuery {
    /// Only messages exchanged with this contact.
    pub with: Option<ContactId>,
    /// Only messages at or after this time.
    pub start: Option<DateTime<Utc>>,
    /// Only messages at or before this time.
    pub end: Option<DateTime<Utc>>,
    /// The page after this id (forwards).
    pub after: Option<i64>,
    /// The page before this id (backwards).
    pub before: Option<i64>,
    /// The last page (an empty XEP-0059 `<before/>`); ignored with
    /// `before`.
    pub last_page: bool,
    /// At most this many messages (capped to [`MAX_ARCHIVE_PAGE`]).
    pub max: usize,
}

impl ArchiveQuery {
    /// The first page of the whole archive, of at most `max` messages.
    pub fn new(max: usize) -> Self {
        Self {
            with: None,
            start: None,
            end: None,
            after: None,
            before: None,
            last_page: false,
            max: max.min(MAX_ARCHIVE_PAGE),
        }
    }

    /// Only messages exchanged with `contact`.
    pub fn with(mut self, contact: ContactId) -> Self {
        self.with = Some(contact);
        self
    }

    /// Only messages at or after `start`.
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self
    }

    /// Only messages at or before `end`.
    pub fn end(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    /// The page after the message `id`.
    pub fn after(mut self, id: i64) -> Self {
        self.after = Some(id);
        self
    }

    /// The page before the message `id`.
    pub fn before(mut self, id: i64) -> Self {
        self.before = Some(id);
        self
    }

    /// The last page.
    pub fn last_page(mut self) -> Self {
        self.last_page = true;
        self
    }
}

/// A page of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArchivePage {
    /// The messages, oldest first.
    pub messages: Vec<ArchivedMessage>,
    /// Whether the page reaches the end of the result set in the direction
    /// of paging (the newest forwards, the oldest backwards).
    pub complete: bool,
    /// How many messages match the filters in all (every page).
    pub count: usize,
}

impl ArchivePage {
    /// A page as a store returns it.
    pub fn new(messages: Vec<ArchivedMessage>, complete: bool, count: usize) -> Self {
        Self {
            messages,
            complete,
            count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase() {
        let mut last = archive_id();
        for _ in 0..1000 {
            let next = archive_id();
            assert!(next > last);
            last = next;
        }
        assert!(last >= Utc::now().timestamp_micros() - 1_000_000);
    }

    #[test]
    fn the_page_size_is_capped() {
        assert_eq!(ArchiveQuery::new(10_000).max, MAX_ARCHIVE_PAGE);
        assert_eq!(ArchiveQuery::new(2).last_page().max, 2);
    }
}
