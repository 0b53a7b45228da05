//! The gateway's vocabulary: what it tells operators and visitors, what
//! operators and visitors hand it, what a visitor asks, and what can go
//! wrong.
//!
//! The enums a transport matches ([`OperatorEvent`], [`VisitorEvent`],
//! [`OperatorInput`]) are exhaustive on purpose: a new event does not
//! compile until every transport handles it.

use std::fmt;

use tokio::sync::mpsc;

use crate::contact::{Activity, ContactId, DeviceId, OperatorRef};
use crate::directory::Contact;
use crate::model::{ChatId, VisitorDetails};
use crate::store::StoreError;

/// What the gateway tells an operator's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorEvent {
    /// A contact appears in the contact list (a visitor offered or joined,
    /// a chat transferred): `status` is its presence status text (for a
    /// visitor the subject and the department).
    ContactAdded {
        /// The contact.
        contact: Contact,
        /// Presence status text.
        status: String,
    },
    /// A contact goes (chat taken by someone else, declined, or over).
    ContactRemoved {
        /// The contact's id.
        contact: ContactId,
    },
    /// A contact's XEP-0085 chat state (the visitor typing...).
    ChatState {
        /// The contact it comes from.
        from: ContactId,
        /// The state.
        state: Activity,
    },
    /// A message from a contact: the visitor's text, a reply of the
    /// gateway in that chat (marked `[system]`), or a board post.
    Message {
        /// The contact it comes from.
        from: ContactId,
        /// The text.
        text: String,
    },
}

impl OperatorEvent {
    /// A message from `from`.
    pub fn message(from: &ContactId, text: impl Into<String>) -> Self {
        Self::Message {
            from: from.clone(),
            text: text.into(),
        }
    }
}

/// Where the gateway's events for operators go; the transport implements
/// it. Sending never blocks and never fails: a disconnected operator
/// simply misses the event. The gateway never calls it under a lock.
pub trait OperatorSink: Send + Sync + fmt::Debug {
    /// Delivers `event` to every connected device of `operator`.
    fn send(&self, operator: &OperatorRef, event: OperatorEvent);

    /// Delivers `event` to one device of `operator` (an offer for a device
    /// that became available after the others saw it). By default, to
    /// every device.
    fn send_to_device(&self, operator: &OperatorRef, device: DeviceId, event: OperatorEvent) {
        let _ = device;
        self.send(operator, event);
    }

    /// Delivers `event` to the connected devices of `operator` and keeps
    /// nothing: no archive entry, no copy for later when none is
    /// connected. For an event another node delivers and keeps too (one
    /// operator with devices on two nodes, [`crate::Cluster`]). By
    /// default, [`OperatorSink::send`].
    fn deliver(&self, operator: &OperatorRef, event: OperatorEvent) {
        self.send(operator, event);
    }
}

/// What an operator's client hands the gateway for a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorInput {
    /// A line of text: `y`/`n`, a `#` command, or text for the visitor.
    Text(String),
    /// An XEP-0085 chat state.
    ChatState(Activity),
}

impl OperatorInput {
    /// Text as [`crate::clean_text`] leaves it.
    pub(super) fn cleaned(self) -> Self {
        match self {
            Self::Text(text) => Self::Text(crate::clean_text(&text)),
            state @ Self::ChatState(_) => state,
        }
    }
}

/// Why [`Gateway::submit`](crate::Gateway::submit) refused operator input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// No such chat (it has ended), or not one of the operator's portal.
    #[error("this chat has ended")]
    NoSuchChat,
    /// The contact is a colleague: the transport routes those itself.
    #[error("not a contact of the gateway")]
    NotGateway,
    /// The chat (or the board) has too much input waiting; try again.
    #[error("too many messages waiting; try again in a moment")]
    Busy,
}

/// What the gateway tells a visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisitorEvent {
    /// No operator has accepted yet; the visitor's place in the queue
    /// (1 = next), sent again whenever it changes.
    Queued {
        /// 1 plus the number of older waiting requests of the same
        /// portal and department.
        position: usize,
    },
    /// An operator accepted.
    Joined {
        /// The operator's display name.
        operator: String,
    },
    /// An operator wrote.
    Message {
        /// The operator's display name.
        from: String,
        /// The text.
        text: String,
    },
    /// An operator's XEP-0085 chat state (typing, stopped...).
    Typing {
        /// The operator's display name.
        from: String,
        /// The state.
        state: Activity,
    },
    /// The operator offers a page: ask whether to open it in a new window.
    Push {
        /// The page.
        url: String,
    },
    /// The chat is over.
    Ended {
        /// Why, for the visitor.
        reason: String,
    },
}

impl VisitorEvent {
    /// Whether the event is chat content (an operator joined, wrote,
    /// pushed a page, or the chat ended): such events are numbered and
    /// replayed to a visitor who resumes ([`Numbered`]); being queued and
    /// typing are not.
    pub fn is_content(&self) -> bool {
        matches!(
            self,
            Self::Joined { .. } | Self::Message { .. } | Self::Push { .. } | Self::Ended { .. }
        )
    }
}

/// An event for the visitor with its number in the chat: content events
/// ([`VisitorEvent::is_content`]) count 1, 2, 3... per chat; the others
/// have none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Numbered {
    /// The event's number, for content.
    pub seq: Option<u64>,
    /// The event.
    pub event: VisitorEvent,
}

impl Numbered {
    /// Event `event`, numbered `seq` (content) or not (`None`).
    pub fn new(seq: Option<u64>, event: VisitorEvent) -> Self {
        Self { seq, event }
    }
}

/// A visitor contact on an operator's list, as the roster shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterItem {
    /// The contact.
    pub contact: Contact,
    /// Its presence status text.
    pub status: String,
}

/// A visitor asking for a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatRequest {
    /// The portal of the website.
    pub portal: String,
    /// What is known of the visitor.
    pub details: VisitorDetails,
    /// The question: the chat's subject.
    pub question: String,
    /// The department asked for, by name.
    pub department: Option<String>,
}

impl ChatRequest {
    /// A request to `portal`.
    pub fn new(
        portal: &str,
        details: VisitorDetails,
        question: &str,
        department: Option<&str>,
    ) -> Self {
        Self {
            portal: portal.to_ascii_lowercase(),
            details,
            question: question.to_owned(),
            department: department.map(str::to_owned),
        }
    }
}

/// Why the gateway refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The visitor's IP address is blocked for the portal.
    #[error("chats from this address are not accepted")]
    Blocked,
    /// No such department in the portal.
    #[error("no department named {0}")]
    UnknownDepartment(String),
    /// No such portal: nothing is stored for it.
    #[error("no portal named {0}")]
    UnknownPortal(String),
    /// A line (or a question) longer than [`crate::MAX_LINE_BYTES`].
    #[error("that is too long: at most {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Too many live chats from the visitor's address
    /// ([`crate::VisitorLimits::chats_per_address`]).
    #[error("too many chats from your address; finish one first")]
    TooManyChats,
    /// The portal has as many chats (or waiting chats) as it takes
    /// ([`crate::VisitorLimits`]).
    #[error("too many visitors are waiting; please try again in a few minutes")]
    PortalBusy,
    /// The visitor writes faster than [`crate::VisitorLimits`] allow; the
    /// line was neither relayed nor stored.
    #[error("you are sending messages too fast; wait a moment")]
    TooFast,
    /// No chat to resume with this token in this portal (it ended, or
    /// never was).
    #[error("this chat cannot be resumed; please start a new one")]
    BadToken,
    /// No such chat, or not one of this operator's portal.
    #[error("no such chat")]
    NoSuchChat,
    /// The contact is not the gateway's (a colleague).
    #[error("not a contact of the gateway")]
    NotGateway,
    /// Nobody of the department (or portal) takes chats, or it is outside
    /// the department's hours: the visitor may leave a message
    /// ([`crate::Gateway::leave_message`]). `message` is for them, in the
    /// portal's language.
    #[error("{message}")]
    Offline {
        /// What the visitor is told.
        message: String,
    },
    /// A message left that cannot be taken; why, for the visitor.
    #[error("{0}")]
    BadMessage(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PortError> for GatewayError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::NoSuchChat | PortError::Busy => Self::NoSuchChat,
            PortError::NotGateway => Self::NotGateway,
        }
    }
}

/// How many events wait for a visitor who does not read before the
/// newest are dropped (and logged).
pub const VISITOR_QUEUE: usize = 1024;

/// The visitor's side of a chat: its id and the events for the visitor.
#[derive(Debug)]
pub struct VisitorChat {
    /// The chat.
    pub chat: ChatId,
    /// The visitor's number in the portal.
    pub visitor_number: i64,
    pub(super) resume: String,
    /// Which connection of the visitor this is: 0, then one more per
    /// resume.
    pub(super) connection: u64,
    pub(super) events: mpsc::Receiver<Numbered>,
}

impl VisitorChat {
    /// The next event for the visitor; `None` once the chat is over and
    /// every event was read (or the visitor resumed elsewhere).
    pub async fn next_event(&mut self) -> Option<VisitorEvent> {
        self.events.recv().await.map(|n| n.event)
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_next_event(&mut self) -> Option<VisitorEvent> {
        self.events.try_recv().ok().map(|n| n.event)
    }

    /// The next event with its number ([`Numbered`]).
    pub async fn next_numbered(&mut self) -> Option<Numbered> {
        self.events.recv().await
    }

    /// What the visitor shows to resume this chat after a lost
    /// connection or a page load ([`crate::Gateway::resume_chat`]): 128
    /// random bits, hex, good for this chat of this portal until it ends.
    pub fn resume_token(&self) -> &str {
        &self.resume
    }
}
