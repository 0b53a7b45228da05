//! What a [`crate::ClusterNode`] says to the others, as JSON on the bus.
//! Every message is input from the network: decoding refuses what is not
//! this shape, and nothing in it is trusted to name another portal than
//! the one it carries.

use salesiq_session::columns::{contact_from_key, contact_key};
use salesiq_session::{
    Activity, ChatId, Contact, ContactId, Listing, OperatorEvent, OperatorInput, OperatorRef,
    RosterItem,
};
use serde::{Deserialize, Serialize};

/// A message for one node, on `salesiq.node.<node>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ToNode {
    /// A gateway event for an operator's resources on that node: one
    /// resource, or all of them; `keep` says whether that node archives
    /// it (and keeps it for later if nobody is connected) or only
    /// delivers it.
    Event {
        /// The sending node: the one running the chat a visitor contact
        /// in the event belongs to.
        from: String,
        operator: WireOperator,
        resource: Option<String>,
        keep: bool,
        event: WireEvent,
    },
    /// Operator input for a chat that node runs.
    Input {
        operator: WireOperator,
        to: WireContact,
        input: WireInput,
    },
    /// A stanza for an operator's resources on that node.
    Stanza {
        operator: WireOperator,
        resource: Option<String>,
        xml: String,
    },
    /// Give `chat` up: its visitor came back on node `from`.
    Release { chat: i64, id: u64, from: String },
    /// Answer to a `release`.
    Released { id: u64 },
}

/// A node's chats as operators see them, on `salesiq.listing.<node>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Listings {
    /// These chats show this now (a change, or the periodic refresh).
    Set { listings: Vec<WireListing> },
    /// The chat is no longer run on that node.
    Gone { chat: i64 },
}

/// A resource's presence broadcast, on `salesiq.xmpp.<node>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WirePresence {
    pub(crate) operator: WireOperator,
    pub(crate) resource: String,
    pub(crate) available: bool,
    pub(crate) xml: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireOperator {
    pub(crate) portal: String,
    pub(crate) username: String,
}

impl From<&OperatorRef> for WireOperator {
    fn from(operator: &OperatorRef) -> Self {
        Self {
            portal: operator.portal().to_owned(),
            username: operator.username().to_owned(),
        }
    }
}

impl WireOperator {
    pub(crate) fn operator(&self) -> Option<OperatorRef> {
        let ok = |s: &str| !s.is_empty() && s.len() <= crate::MAX_FIELD_LEN;
        (ok(&self.portal) && ok(&self.username))
            .then(|| OperatorRef::new(&self.portal, &self.username))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireContact {
    kind: String,
    key: String,
}

impl From<&ContactId> for WireContact {
    fn from(contact: &ContactId) -> Self {
        let (kind, key) = contact_key(contact);
        Self {
            kind: kind.to_owned(),
            key,
        }
    }
}

impl WireContact {
    pub(crate) fn contact(&self) -> Option<ContactId> {
        contact_from_key(&self.kind, &self.key)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum WireEvent {
    ContactAdded {
        contact: WireContact,
        name: String,
        group: String,
        status: String,
    },
    ContactRemoved {
        contact: WireContact,
    },
    ChatState {
        from: WireContact,
        state: String,
    },
    Message {
        from: WireContact,
        text: String,
    },
}

impl From<&OperatorEvent> for WireEvent {
    fn from(event: &OperatorEvent) -> Self {
        match event {
            OperatorEvent::ContactAdded { contact, status } => Self::ContactAdded {
                contact: (&contact.id).into(),
                name: contact.name.clone(),
                group: contact.group.clone(),
                status: status.clone(),
            },
            OperatorEvent::ContactRemoved { contact } => Self::ContactRemoved {
                contact: contact.into(),
            },
            OperatorEvent::ChatState { from, state } => Self::ChatState {
                from: from.into(),
                state: state.as_str().to_owned(),
            },
            OperatorEvent::Message { from, text } => Self::Message {
                from: from.into(),
                text: text.clone(),
            },
        }
    }
}

impl WireEvent {
    /// The event, if it names contacts of `portal` only.
    pub(crate) fn event(&self, portal: &str) -> Option<OperatorEvent> {
        let of_portal = |c: &WireContact| c.contact().filter(|c| c.portal() == portal);
        Some(match self {
            Self::ContactAdded {
                contact,
                name,
                group,
                status,
            } => OperatorEvent::ContactAdded {
                contact: Contact::new(of_portal(contact)?, name, group),
                status: status.clone(),
            },
            Self::ContactRemoved { contact } => OperatorEvent::ContactRemoved {
                contact: of_portal(contact)?,
            },
            Self::ChatState { from, state } => OperatorEvent::ChatState {
                from: of_portal(from)?,
                state: Activity::from_name(state)?,
            },
            Self::Message { from, text } => OperatorEvent::Message {
                from: of_portal(from)?,
                text: salesiq_session::clean_text(text),
            },
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum WireInput {
    Text { text: String },
    State { state: String },
}

impl From<&OperatorInput> for WireInput {
    fn from(input: &OperatorInput) -> Self {
        match input {
            OperatorInput::Text(text) => Self::Text { text: text.clone() },
            OperatorInput::ChatState(state) => Self::State {
                state: state.as_str().to_owned(),
            },
        }
    }
}

impl WireInput {
    pub(crate) fn input(&self) -> Option<OperatorInput> {
        Some(match self {
            Self::Text { text } => OperatorInput::Text(text.clone()),
            Self::State { state } => OperatorInput::ChatState(Activity::from_name(state)?),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireListing {
    chat: i64,
    portal: String,
    contact: WireContact,
    name: String,
    group: String,
    status: String,
    audience: Vec<WireOperator>,
    waiting: bool,
}

impl WireListing {
    pub(crate) fn new(chat: ChatId, listing: &Listing) -> Self {
        Self {
            chat: chat.0,
            portal: listing.portal.clone(),
            contact: (&listing.item.contact.id).into(),
            name: listing.item.contact.name.clone(),
            group: listing.item.contact.group.clone(),
            status: listing.item.status.clone(),
            audience: listing.audience.iter().map(WireOperator::from).collect(),
            waiting: listing.waiting,
        }
    }

    /// The chat and its listing, if every contact and operator in it is
    /// of the listing's portal.
    pub(crate) fn listing(&self) -> Option<(ChatId, Listing)> {
        let contact = self.contact.contact()?;
        if contact.portal() != self.portal || !matches!(contact, ContactId::Visitor { .. }) {
            return None;
        }
        let audience = self
            .audience
            .iter()
            .map(|o| o.operator().filter(|o| o.portal() == self.portal))
            .collect::<Option<Vec<_>>>()?;
        let item = RosterItem {
            contact: Contact::new(contact, &self.name, &self.group),
            status: self.status.clone(),
        };
        Some((
            ChatId(self.chat),
            Listing::new(&self.portal, item, audience, self.waiting),
        ))
    }
}
