//! The things the gateway keeps: portals, departments, operators, visitors,
//! chats and their transcripts, notes, blocked addresses, message-board
//! posts and chat-to-ticket links.

use chrono::{DateTime, Utc};

/// A row id of a stored thing.
macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A department.
    DepartmentId
);
id!(
    /// An operator.
    OperatorId
);
id!(
    /// A visitor.
    VisitorId
);
id!(
    /// A chat.
    ChatId
);

/// A tenant: one company's account. Everything else belongs to one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Portal {
    /// Its name, lower case, as in `portal|username`.
    pub name: String,
    /// The language of replies and help: `en` or `ja`.
    pub locale: String,
}

impl Portal {
    /// A portal.
    pub fn new(name: &str, locale: &str) -> Self {
        Self {
            name: name.to_ascii_lowercase(),
            locale: locale.to_owned(),
        }
    }
}

/// A department of a portal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Department {
    /// Its id.
    pub id: DepartmentId,
    /// The portal.
    pub portal: String,
    /// Its name, any script (`VIPサポート`).
    pub name: String,
    /// Whether `#support conasreq` may turn its chats into tickets.
    pub convert_to_ticket: bool,
}

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operator {
    /// Its id.
    pub id: OperatorId,
    /// The portal.
    pub portal: String,
    /// E-mail address (unique within the portal).
    pub email: String,
    /// The name colleagues and visitors see.
    pub display_name: String,
    /// The username, lower case, once claimed (unique across portals).
    pub username: Option<String>,
    /// The operator's picture, shown to colleagues (vCard).
    pub photo: Option<crate::auth::Photo>,
}

/// What is needed to create an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewOperator {
    /// The portal.
    pub portal: String,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub display_name: String,
}

impl NewOperator {
    /// An operator of `portal`.
    pub fn new(portal: &str, email: &str, display_name: &str) -> Self {
        Self {
            portal: portal.to_ascii_lowercase(),
            email: email.to_owned(),
            display_name: display_name.to_owned(),
        }
    }
}

/// What the gateway knows of a website visitor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct VisitorDetails {
    /// Name, as typed into the chat widget.
    pub name: String,
    /// E-mail address, if given.
    pub email: Option<String>,
    /// IP address.
    pub ip: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// The page the chat started on.
    pub first_page: Option<String>,
    /// The page the visitor is on now.
    pub current_page: Option<String>,
}

impl VisitorDetails {
    /// The longest a field may be, in characters (a page address included).
    pub const MAX_FIELD_CHARS: usize = 512;

    /// The same details with every field one clean line
    /// ([`crate::clean_line`]) of at most [`VisitorDetails::MAX_FIELD_CHARS`]
    /// characters; an empty optional field becomes `None`.
    pub fn cleaned(&self) -> Self {
        let clean = |value: &str| -> String {
            crate::clean_line(value)
                .chars()
                .take(Self::MAX_FIELD_CHARS)
                .collect()
        };
        let line = |value: &Option<String>| value.as_deref().map(clean).filter(|v| !v.is_empty());
        Self {
            name: clean(&self.name),
            email: line(&self.email),
            ip: line(&self.ip),
            country: line(&self.country),
            browser: line(&self.browser),
            os: line(&self.os),
            first_page: line(&self.first_page),
            current_page: line(&self.current_page),
        }
    }
}

/// A stored visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Visitor {
    /// Its id.
    pub id: VisitorId,
    /// The portal.
    pub portal: String,
    /// The visitor number operators see, counted per portal from 1.
    pub number: i64,
    /// The details.
    pub details: VisitorDetails,
}

/// Where a chat is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatState {
    /// Requested, not yet accepted.
    Waiting,
    /// An operator accepted it.
    Active,
    /// Over.
    Ended,
}

impl ChatState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Ended => "ended",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "active" => Self::Active,
            "ended" => Self::Ended,
            _ => Self::Waiting,
        }
    }
}

/// A stored chat.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chat {
    /// Its id.
    pub id: ChatId,
    /// The portal.
    pub portal: String,
    /// The visitor.
    pub visitor: VisitorId,
    /// The department asked for, if any.
    pub department: Option<DepartmentId>,
    /// The visitor's question: the chat's subject.
    pub question: String,
    /// Where it is.
    pub state: ChatState,
    /// When it was requested.
    pub started: DateTime<Utc>,
}

/// Who wrote a line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Author {
    /// The visitor.
    Visitor,
    /// An operator, by display name.
    Operator(String),
    /// The gateway itself.
    System,
}

/// One line of a chat transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatLine {
    /// The chat.
    pub chat: ChatId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub author: Author,
    /// What.
    pub text: String,
}

/// A note an operator added to a visitor (`#an`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Note {
    /// When.
    pub at: DateTime<Utc>,
    /// The operator's display name.
    pub author: String,
    /// The note.
    pub text: String,
}

/// A message-board post.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BoardPost {
    /// When.
    pub at: DateTime<Utc>,
    /// Who posted it.
    pub author: String,
    /// What.
    pub text: String,
}
