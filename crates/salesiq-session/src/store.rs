//! The `Store` seam: everything that must survive a restart.

use std::fmt;

use crate::archive::{ArchivePage, ArchiveQuery, ArchivedMessage};
use crate::auth::ScramCredentials;
use crate::contact::OperatorRef;
use crate::future::BoxFuture;
use crate::model::{
    Author, BoardPost, CannedAnswer, Chat, ChatEvent, ChatId, ChatLine, ChatState, Department,
    DepartmentId, LiveChat, NewOperator, Note, OfflineMessage, Operator, OperatorId, Portal,
    Visitor, VisitorDetails, VisitorId,
};

/// How many offline messages a store keeps for one operator; past it the
/// oldest go.
pub const MAX_OFFLINE: usize = 500;

/// How many content events a store keeps for one live chat (a visitor
/// who resumes after a restart gets at most these, the newest); past it
/// the oldest go.
pub const MAX_CHAT_EVENTS: usize = 1000;

/// Why the store refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The username is already someone's (usernames are unique across
    /// portals, case-insensitively).
    #[error("this username is not available")]
    UsernameTaken,
    /// The username breaks the rules (6 to 30 letters, digits, `_`, `.`).
    #[error("{0}")]
    InvalidUsername(String),
    /// The operator already has a username; it cannot change.
    #[error("this operator already has a username")]
    UsernameAlreadySet,
    /// Something with that key exists already (an e-mail address in the
    /// portal, a department name).
    #[error("already exists: {0}")]
    Duplicate(String),
    /// What an operation refers to does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database failed; the error it gave is the source.
    #[error("storage failed: {0}")]
    Backend(#[source] BackendError),
}

impl StoreError {
    /// The database failed with `error` (kept as the source).
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(BackendError {
            message: error.to_string(),
            source: Some(std::sync::Arc::new(error)),
        })
    }

    /// The database failed, as `message` says (no error value to keep).
    pub fn backend_message(message: impl Into<String>) -> Self {
        Self::Backend(BackendError {
            message: message.into(),
            source: None,
        })
    }
}

/// A database failure: its message, and the driver's error when there is
/// one ([`std::error::Error::source`]). Two compare equal when their
/// messages do.
#[derive(Debug, Clone)]
pub struct BackendError {
    message: String,
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for BackendError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for BackendError {}

/// What is kept to check an operator's password: an argon2id hash for
/// PLAIN and the SCRAM credentials for SCRAM-SHA-1 and SCRAM-SHA-256, all
/// made when the password is set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The argon2id hash, as a PHC string.
    pub password_hash: String,
    /// For SCRAM-SHA-1.
    pub scram_sha1: ScramCredentials,
    /// For SCRAM-SHA-256.
    pub scram_sha256: ScramCredentials,
}

impl Credentials {
    /// Credentials as a store keeps them.
    pub fn new(
        password_hash: &str,
        scram_sha1: ScramCredentials,
        scram_sha256: ScramCredentials,
    ) -> Self {
        Self {
            password_hash: password_hash.to_owned(),
            scram_sha1,
            scram_sha256,
        }
    }
}

/// A store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where the gateway keeps what must outlive the process; supplied by the
/// embedder as `Arc<dyn Store>`, or [`crate::SqliteStore`] by default.
///
/// Every method names the portal (directly or through an id that belongs
/// to one) so that an implementation can scope every query to one tenant.
pub trait Store: Send + Sync + fmt::Debug {
    /// Creates or updates a portal.
    fn put_portal<'a>(&'a self, portal: &'a Portal) -> BoxFuture<'a, StoreResult<()>>;
    /// A portal by name.
    fn portal<'a>(&'a self, name: &'a str) -> BoxFuture<'a, StoreResult<Option<Portal>>>;

    /// Adds a department.
    fn add_department<'a>(
        &'a self,
        portal: &'a str,
        name: &'a str,
        convert_to_ticket: bool,
    ) -> BoxFuture<'a, StoreResult<Department>>;
    /// The portal's departments, by name.
    fn departments<'a>(&'a self, portal: &'a str) -> BoxFuture<'a, StoreResult<Vec<Department>>>;
    /// Sets (or, with `None`, clears) a department's opening hours and
    /// their time zone ([`Department::hours`]); the caller checks them
    /// ([`crate::OpeningHours::parse`], [`crate::check_timezone`]).
    /// [`StoreError::NotFound`] for a department the store lacks.
    fn set_hours<'a>(
        &'a self,
        department: DepartmentId,
        hours: Option<&'a str>,
        timezone: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Sets how a department's chat requests are offered
    /// ([`Department::routing`], [`Department::offer_timeout_secs`]);
    /// [`StoreError::NotFound`] for a department the store lacks.
    fn set_routing(
        &self,
        department: DepartmentId,
        routing: crate::model::Routing,
        offer_timeout_secs: u32,
    ) -> BoxFuture<'_, StoreResult<()>>;

    /// Puts an operator in a department (both of one portal); idempotent.
    fn assign_department(
        &self,
        operator: OperatorId,
        department: DepartmentId,
    ) -> BoxFuture<'_, StoreResult<()>>;
    /// The operators of a department.
    fn department_members(
        &self,
        department: DepartmentId,
    ) -> BoxFuture<'_, StoreResult<Vec<Operator>>>;

    /// Adds an operator (without a username).
    fn add_operator<'a>(
        &'a self,
        operator: &'a NewOperator,
    ) -> BoxFuture<'a, StoreResult<Operator>>;
    /// An operator of the portal by e-mail address (case-insensitive).
    fn operator_by_email<'a>(
        &'a self,
        portal: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Operator>>>;
    /// The operator a username belongs to, in any portal.
    fn operator_by_username<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<Operator>>>;
    /// The portal's operators, by name.
    fn operators<'a>(&'a self, portal: &'a str) -> BoxFuture<'a, StoreResult<Vec<Operator>>>;
    /// Whether nobody holds this username yet (it may still be invalid).
    fn username_available<'a>(&'a self, username: &'a str) -> BoxFuture<'a, StoreResult<bool>>;
    /// Gives an operator a username; of two racing claims for one name,
    /// exactly one wins.
    fn claim_username<'a>(
        &'a self,
        operator: OperatorId,
        username: &'a str,
    ) -> BoxFuture<'a, StoreResult<Operator>>;
    /// Sets (or, with `None`, removes) an operator's picture.
    fn set_photo<'a>(
        &'a self,
        operator: OperatorId,
        photo: Option<&'a crate::auth::Photo>,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Sets how many chats an operator takes at once ([`Operator::max_chats`];
    /// `None`: the portal's default); [`StoreError::NotFound`] for an
    /// operator the store lacks.
    fn set_max_chats(
        &self,
        operator: OperatorId,
        max: Option<u32>,
    ) -> BoxFuture<'_, StoreResult<()>>;
    /// Keeps a message left, or a missed chat; its new id.
    fn add_left_message<'a>(
        &'a self,
        message: &'a crate::model::LeftMessage,
    ) -> BoxFuture<'a, StoreResult<crate::model::LeftMessageId>>;
    /// A portal's messages left and missed chats, newest first, at most
    /// `limit`.
    fn left_messages<'a>(
        &'a self,
        portal: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Vec<crate::model::LeftMessage>>>;
    /// Stores an operator's credentials (never the password itself).
    fn set_credentials<'a>(
        &'a self,
        operator: OperatorId,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// An operator's credentials, if a password was ever set.
    fn credentials(&self, operator: OperatorId) -> BoxFuture<'_, StoreResult<Option<Credentials>>>;

    /// Adds a visitor; numbers count per portal from 1.
    fn add_visitor<'a>(
        &'a self,
        portal: &'a str,
        details: &'a VisitorDetails,
    ) -> BoxFuture<'a, StoreResult<Visitor>>;
    /// A visitor of the portal.
    fn visitor<'a>(
        &'a self,
        portal: &'a str,
        id: VisitorId,
    ) -> BoxFuture<'a, StoreResult<Option<Visitor>>>;
    /// Records the page a visitor moved to.
    fn set_current_page<'a>(
        &'a self,
        id: VisitorId,
        page: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Adds a chat request.
    fn add_chat<'a>(
        &'a self,
        portal: &'a str,
        visitor: VisitorId,
        department: Option<DepartmentId>,
        question: &'a str,
    ) -> BoxFuture<'a, StoreResult<Chat>>;
    /// A chat request in one go: the visitor (with the portal's next
    /// number), the chat, waiting, and its first line (the question, by
    /// the visitor); all stored, or, on an error, none.
    ///
    /// The default makes the three calls in turn, so a failure between
    /// them leaves a visitor without a chat; a store with transactions
    /// overrides it (as [`crate::SqliteStore`] does).
    fn open_chat<'a>(
        &'a self,
        portal: &'a str,
        details: &'a VisitorDetails,
        department: Option<DepartmentId>,
        question: &'a str,
    ) -> BoxFuture<'a, StoreResult<(Visitor, Chat)>> {
        Box::pin(async move {
            let visitor = self.add_visitor(portal, details).await?;
            let chat = self
                .add_chat(portal, visitor.id, department, question)
                .await?;
            self.add_line(chat.id, &Author::Visitor, question).await?;
            Ok((visitor, chat))
        })
    }
    /// A chat of the portal.
    fn chat<'a>(&'a self, portal: &'a str, id: ChatId) -> BoxFuture<'a, StoreResult<Option<Chat>>>;
    /// Chats of every portal still waiting or active: after a restart,
    /// those whose visitors and operators are gone.
    fn unfinished_chats(&self) -> BoxFuture<'_, StoreResult<Vec<ChatId>>>;
    /// Moves a chat on.
    fn set_chat_state(&self, id: ChatId, state: ChatState) -> BoxFuture<'_, StoreResult<()>>;
    /// Appends a line to a chat's transcript.
    fn add_line<'a>(
        &'a self,
        chat: ChatId,
        author: &'a Author,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// A chat's transcript, oldest first.
    fn transcript(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Vec<ChatLine>>>;
    /// Keeps the visitor's rating of an ended chat ([`Chat::rating`]),
    /// replacing one given before; [`StoreError::NotFound`] for a chat the
    /// store lacks.
    fn rate_chat<'a>(
        &'a self,
        chat: ChatId,
        rating: &'a crate::model::Rating,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// The latest `limit` lines of all of a visitor's chats, oldest first
    /// (`#h`).
    fn history(
        &self,
        visitor: VisitorId,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<ChatLine>>>;

    /// Keeps what a restart needs of a live chat, replacing what was kept
    /// for it before: called when the chat starts and whenever its members
    /// change.
    ///
    /// The first save of a chat keeps its [`LiveChat::owner`]; a later
    /// save replaces everything else but leaves the owner as it is (an
    /// owner moves only by [`Store::claim_live_chat`], so a node that lost
    /// a chat cannot take it back by saving it).
    fn save_live_chat<'a>(&'a self, chat: &'a LiveChat) -> BoxFuture<'a, StoreResult<()>>;
    /// Every live chat kept, of every portal, by chat id.
    fn live_chats(&self) -> BoxFuture<'_, StoreResult<Vec<LiveChat>>>;
    /// The live chat whose [`LiveChat::token_hash`] is `token_hash`, if
    /// one is kept (of any portal): how a node finds the chat a resuming
    /// visitor's token names, and who runs it.
    ///
    /// The default looks through [`Store::live_chats`], reading every
    /// live chat; a store overrides it with an indexed lookup (as
    /// [`crate::SqliteStore`] does).
    fn live_chat<'a>(
        &'a self,
        token_hash: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<LiveChat>>> {
        Box::pin(async move {
            let all = self.live_chats().await?;
            Ok(all.into_iter().find(|l| l.token_hash == token_hash))
        })
    }
    /// Moves a live chat to the node `to` if, and only if, its
    /// [`LiveChat::owner`] is `from` now (`None` is no owner, and matches
    /// only no owner); whether it did. False, changing nothing, for a
    /// chat with no live chat kept or with another owner.
    ///
    /// A compare-and-set, atomic in the store: of claims racing from one
    /// owner (two nodes taking over the chat of a node that died), exactly
    /// one returns true, and the chat is the winner's. There is no
    /// default: one built from other methods could not be atomic.
    fn claim_live_chat(
        &self,
        chat: ChatId,
        from: Option<&str>,
        to: Option<&str>,
    ) -> BoxFuture<'_, StoreResult<bool>>;
    /// Forgets a live chat and its events: it ended.
    fn drop_live_chat(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<()>>;
    /// Appends a content event the chat sent its visitor; at most
    /// [`MAX_CHAT_EVENTS`] are kept per chat (the oldest go first).
    fn add_chat_event<'a>(
        &'a self,
        chat: ChatId,
        event: &'a ChatEvent,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// A live chat's kept events, oldest first.
    fn chat_events(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Vec<ChatEvent>>>;

    /// Adds a note to a visitor (`#an`).
    fn add_note<'a>(
        &'a self,
        visitor: VisitorId,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// A visitor's notes, oldest first (`#n`).
    fn notes(&self, visitor: VisitorId) -> BoxFuture<'_, StoreResult<Vec<Note>>>;

    /// Blocks an IP address for the portal (`#b`).
    fn block_ip<'a>(
        &'a self,
        portal: &'a str,
        ip: &'a str,
        reason: &'a str,
        by: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Whether the IP address is blocked for the portal.
    fn is_blocked<'a>(&'a self, portal: &'a str, ip: &'a str) -> BoxFuture<'a, StoreResult<bool>>;

    /// Posts to the portal's message board.
    fn post<'a>(
        &'a self,
        portal: &'a str,
        author: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// The latest `limit` posts, oldest first.
    fn posts<'a>(
        &'a self,
        portal: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, StoreResult<Vec<BoardPost>>>;

    /// Links a chat to a helpdesk ticket (replacing any earlier link).
    fn link_ticket<'a>(
        &'a self,
        chat: ChatId,
        ticket_id: &'a str,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// The ticket a chat is linked to.
    fn linked_ticket(&self, chat: ChatId) -> BoxFuture<'_, StoreResult<Option<String>>>;

    /// Keeps a canned answer (`#c`), replacing the one with the same
    /// portal, department and key, if any: portal names and keys compare
    /// case-insensitively (both are kept lower case), and `department:
    /// None` is one department of its own here, so a portal has at most
    /// one portal-wide answer per key.
    ///
    /// The store checks neither the key's syntax (the command parser and
    /// the configuration do) nor that the department is the portal's, and
    /// keeps the text as given: plain UTF-8, possibly with line breaks.
    fn put_canned<'a>(&'a self, answer: &'a CannedAnswer) -> BoxFuture<'a, StoreResult<()>>;
    /// The canned answers an operator in a chat of `department` can send,
    /// by key (by code point): the portal's portal-wide answers and that
    /// department's, a department's answer replacing the portal-wide one
    /// with the same key. With `department: None` (a chat of no
    /// department), the portal-wide answers only. Never another portal's.
    fn canned<'a>(
        &'a self,
        portal: &'a str,
        department: Option<DepartmentId>,
    ) -> BoxFuture<'a, StoreResult<Vec<CannedAnswer>>>;
    /// Forgets the canned answer of `portal` with exactly this
    /// `department` (`None`: the portal-wide one) and `key`
    /// (case-insensitive); whether there was one. Forgetting a
    /// department's answer leaves the portal-wide one with its key, which
    /// the department's chats then see again.
    fn delete_canned<'a>(
        &'a self,
        portal: &'a str,
        department: Option<DepartmentId>,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Keeps a message for an operator with no connected device, to give
    /// at their next login; at most [`MAX_OFFLINE`] per operator (the
    /// oldest go first).
    fn add_offline<'a>(
        &'a self,
        to: &'a OperatorRef,
        message: &'a OfflineMessage,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Takes what was kept for an operator, oldest first: a second call
    /// finds nothing.
    fn take_offline<'a>(
        &'a self,
        to: &'a OperatorRef,
    ) -> BoxFuture<'a, StoreResult<Vec<OfflineMessage>>>;

    /// Adds `message` to `owner`'s archive; an id the owner's archive
    /// has already is [`StoreError::Duplicate`].
    fn archive<'a>(
        &'a self,
        owner: &'a OperatorRef,
        message: &'a ArchivedMessage,
    ) -> BoxFuture<'a, StoreResult<()>>;
    /// Adds many messages at once, each to its owner's archive, skipping
    /// any whose id its owner's archive has already. The transport's
    /// writer hands over what queued up meanwhile, so that a burst (a
    /// chat offered to 200 operators is 200 messages) costs one write.
    ///
    /// The default calls [`Store::archive`] for each in turn; a store with
    /// transactions overrides it with one (as [`crate::SqliteStore`] does).
    fn archive_all<'a>(
        &'a self,
        messages: &'a [(OperatorRef, ArchivedMessage)],
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            for (owner, message) in messages {
                match self.archive(owner, message).await {
                    Ok(()) | Err(StoreError::Duplicate(_)) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        })
    }
    /// A page of `owner`'s archive, never anyone else's: the messages
    /// that match the query's filters, oldest first, by id. Forwards (the
    /// first page, or after an id) the page is the oldest `max` past the
    /// start; backwards (before an id, or the last page) the newest `max`
    /// before the end. `count` counts every match; `complete` says the
    /// page reaches the end in its direction. An `after` or `before` id
    /// not in the owner's archive is [`StoreError::NotFound`].
    fn archived<'a>(
        &'a self,
        owner: &'a OperatorRef,
        query: &'a ArchiveQuery,
    ) -> BoxFuture<'a, StoreResult<ArchivePage>>;
    /// Forgets every archived message of `portal`'s operators older than
    /// `before`; how many there were.
    fn prune_archive<'a>(
        &'a self,
        portal: &'a str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, StoreResult<u64>>;
}
