//! The gateway's vocabulary: who operators are to it, what it tells them
//! and visitors, what a visitor asks, and what can go wrong.

use std::fmt;

use tokio::sync::mpsc;

use crate::directory::Contact;
use crate::model::{ChatId, VisitorDetails};
use crate::store::StoreError;

/// An operator, by portal and username (both lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OperatorRef {
    portal: String,
    username: String,
}

impl OperatorRef {
    /// The operator `username` of `portal`.
    pub fn new(portal: &str, username: &str) -> Self {
        Self {
            portal: portal.to_ascii_lowercase(),
            username: username.to_ascii_lowercase(),
        }
    }

    /// The portal.
    pub fn portal(&self) -> &str {
        &self.portal
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Display for OperatorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}", self.portal, self.username)
    }
}

/// What the gateway tells an operator's client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperatorEvent {
    /// A visitor appears in the contact list; `status` is the subject and
    /// the department, for the contact's presence.
    ContactAdded {
        /// The visitor contact.
        contact: Contact,
        /// Presence status text.
        status: String,
    },
    /// A visitor contact goes (chat taken by someone else, or over).
    ContactRemoved {
        /// The contact's id.
        contact_id: String,
    },
    /// The visitor started or stopped typing (XEP-0085 chat state).
    Typing {
        /// The visitor contact.
        from: String,
        /// `true` while typing.
        composing: bool,
    },
    /// A message from a contact: the visitor's text, or a reply of the
    /// gateway in that chat.
    Message {
        /// The contact it comes from.
        from: String,
        /// The text.
        text: String,
    },
}

/// Where the gateway's messages to operators go; the transport implements
/// it. Sending never blocks and never fails: a disconnected operator
/// simply misses the event.
pub trait OperatorSink: Send + Sync + fmt::Debug {
    /// Delivers `event` to every connected client of `operator`.
    fn send(&self, operator: &OperatorRef, event: OperatorEvent);
}

/// What the gateway tells a visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VisitorEvent {
    /// No operator has accepted yet.
    Queued,
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
    /// An operator started or stopped typing.
    Typing {
        /// The operator's display name.
        from: String,
        /// `true` while typing.
        composing: bool,
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
    /// No such chat, or not one of this operator's portal.
    #[error("no such chat")]
    NoSuchChat,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The visitor's side of a chat: its id and the events for the visitor.
#[derive(Debug)]
pub struct VisitorChat {
    /// The chat.
    pub chat: ChatId,
    /// The visitor's number in the portal.
    pub visitor_number: i64,
    pub(super) events: mpsc::UnboundedReceiver<VisitorEvent>,
}

impl VisitorChat {
    /// The next event for the visitor; `None` once the gateway is gone.
    pub async fn next_event(&mut self) -> Option<VisitorEvent> {
        self.events.recv().await
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_next_event(&mut self) -> Option<VisitorEvent> {
        self.events.try_recv().ok()
    }
}
