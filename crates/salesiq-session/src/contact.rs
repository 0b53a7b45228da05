//! Who is who at the seam between the domain and a transport: an operator
//! ([`OperatorRef`]) and the contacts an operator sees ([`ContactId`]).
//!
//! These ids are the domain's own. A transport maps them to its addresses
//! in one place (salesiq-xmpp maps them to JIDs) and routes by their kind,
//! never by guessing from an address.

use std::fmt;

/// An operator, by portal and username (both lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// A contact on an operator's list, by kind.
///
/// Exhaustive on purpose: a transport matches every kind, so a new kind
/// does not compile until every transport routes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContactId {
    /// Another operator of the same portal.
    Colleague(OperatorRef),
    /// A visitor of the portal, by visitor number.
    Visitor {
        /// The portal (lower case).
        portal: String,
        /// The visitor's number in the portal.
        number: i64,
    },
    /// The portal's message board.
    Board {
        /// The portal (lower case).
        portal: String,
    },
}

impl ContactId {
    /// The colleague `username` of `portal`.
    pub fn colleague(portal: &str, username: &str) -> Self {
        Self::Colleague(OperatorRef::new(portal, username))
    }

    /// Visitor number `number` of `portal`.
    pub fn visitor(portal: &str, number: i64) -> Self {
        Self::Visitor {
            portal: portal.to_ascii_lowercase(),
            number,
        }
    }

    /// The message board of `portal`.
    pub fn board(portal: &str) -> Self {
        Self::Board {
            portal: portal.to_ascii_lowercase(),
        }
    }

    /// The portal the contact belongs to.
    pub fn portal(&self) -> &str {
        match self {
            Self::Colleague(operator) => operator.portal(),
            Self::Visitor { portal, .. } | Self::Board { portal } => portal,
        }
    }
}

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Colleague(operator) => write!(f, "{operator}"),
            Self::Visitor { portal, number } => write!(f, "{portal} visitor #{number}"),
            Self::Board { portal } => write!(f, "{portal} message board"),
        }
    }
}

/// An XEP-0085 chat state: what someone is doing in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Paying attention (sent with or after a message).
    Active,
    /// Typing.
    Composing,
    /// Stopped typing for a moment.
    Paused,
    /// Not paying attention.
    Inactive,
    /// Left the conversation.
    Gone,
}

impl Activity {
    /// The XEP-0085 element name: `active`, `composing`, `paused`,
    /// `inactive` or `gone`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Composing => "composing",
            Self::Paused => "paused",
            Self::Inactive => "inactive",
            Self::Gone => "gone",
        }
    }

    /// The state named by an XEP-0085 element name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "active" => Self::Active,
            "composing" => Self::Composing,
            "paused" => Self::Paused,
            "inactive" => Self::Inactive,
            "gone" => Self::Gone,
            _ => return None,
        })
    }
}

/// One device (connected client) of an operator, named by the transport:
/// offers that arrive while an operator is already online reach a device
/// that becomes available later too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DeviceId(pub u64);
