//! The chat domain's events, as stanzas to operators' resources: the
//! transport's side of [`OperatorSink`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, Weak};

use minidom::Element;
use salesiq_session::{
    Contact, DeviceId, OperatorEvent, OperatorRef, OperatorSink, clean_line, clean_text,
};

use crate::jids;
use crate::ns;
use crate::router::Outbound;
use crate::shared::Shared;
use crate::stanza::name;

/// The sink a server's gateway is built with. It holds the server weakly:
/// the gateway it feeds is part of the server.
#[derive(Debug)]
pub(crate) struct XmppSink {
    pub(crate) shared: Weak<Shared>,
    /// The archive ids of offers made device by device, so that an
    /// operator's archive holds each once (by a hash of operator, contact
    /// and text; forgotten past [`OFFERS_REMEMBERED`]).
    pub(crate) offers: Mutex<HashMap<u64, i64>>,
}

/// How many offers' archive ids the sink remembers.
const OFFERS_REMEMBERED: usize = 4096;

/// What an event archives as, for `operator`: a message with a body, from
/// the contact it comes from. Returns the archive id.
fn archive(shared: &Shared, operator: &OperatorRef, event: &OperatorEvent) -> Option<i64> {
    match (event, &shared.archive) {
        (OperatorEvent::Message { from, text }, Some(archive)) => {
            archive.record(operator, from, false, text)
        }
        _ => None,
    }
}

impl XmppSink {
    /// What `event` looks like on the wire, to `to`. The domain's texts are
    /// clean already; names in them come from the embedder's store, so
    /// they are cleaned once more here, where XML is made.
    ///
    /// A message archived as `archived` carries its XEP-0359 stanza id.
    fn outbound(
        domain: &str,
        to: &str,
        event: OperatorEvent,
        archived: Option<i64>,
    ) -> Vec<Outbound> {
        match event {
            OperatorEvent::ContactAdded { contact, status } => {
                let presence = Element::builder("presence", ns::CLIENT)
                    .attr(name("from"), jids::from(&contact.id, domain))
                    .attr(name("to"), to)
                    .append(
                        Element::builder("status", ns::CLIENT)
                            .append(clean_line(&status))
                            .build(),
                    )
                    .build();
                vec![Outbound::roster(contact, true), Outbound::stanza(presence)]
            }
            OperatorEvent::ContactRemoved { contact } => {
                let presence = Element::builder("presence", ns::CLIENT)
                    .attr(name("from"), jids::from(&contact, domain))
                    .attr(name("to"), to)
                    .attr(name("type"), "unavailable")
                    .build();
                let gone = Contact::new(contact, "", "");
                vec![Outbound::stanza(presence), Outbound::roster(gone, false)]
            }
            OperatorEvent::ChatState { from, state } => {
                let message = Element::builder("message", ns::CLIENT)
                    .attr(name("from"), jids::from(&from, domain))
                    .attr(name("to"), to)
                    .attr(name("type"), "chat")
                    .append(Element::bare(state.as_str(), ns::CHAT_STATES))
                    .build();
                vec![Outbound::stanza(message)]
            }
            OperatorEvent::Message { from, text } => {
                let message = Element::builder("message", ns::CLIENT)
                    .attr(name("from"), jids::from(&from, domain))
                    .attr(name("to"), to)
                    .attr(name("type"), "chat")
                    .attr(name("id"), format!("gw-{:016x}", rand::random::<u64>()))
                    .append(
                        Element::builder("body", ns::CLIENT)
                            .append(clean_text(&text))
                            .build(),
                    )
                    .append(Element::bare("active", ns::CHAT_STATES));
                let message = match archived {
                    Some(id) => message.append(crate::archive::stanza_id(to, id)),
                    None => message,
                };
                vec![Outbound::stanza(message.build())]
            }
        }
    }
}

impl XmppSink {
    /// Queues `outbound` to every mailbox.
    fn to_all(mailboxes: &[crate::router::Mailbox], outbound: Vec<Outbound>) {
        for mailbox in mailboxes {
            for item in &outbound {
                if let Some(copy) = item.try_clone() {
                    let _ = mailbox.send(copy);
                }
            }
        }
    }

    /// Archives a message sent device by device (an offer) the first time
    /// any device of `operator` gets it; the id it has.
    fn archive_offer(
        &self,
        shared: &Shared,
        operator: &OperatorRef,
        event: &OperatorEvent,
    ) -> Option<i64> {
        let OperatorEvent::Message { from, text } = event else {
            return None;
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (operator, from, text).hash(&mut hasher);
        let key = hasher.finish();
        let mut offers = self.offers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = offers.get(&key) {
            return Some(*id);
        }
        let id = archive(shared, operator, event)?;
        if offers.len() >= OFFERS_REMEMBERED {
            offers.clear();
        }
        offers.insert(key, id);
        Some(id)
    }
}

impl OperatorSink for XmppSink {
    fn send(&self, operator: &OperatorRef, event: OperatorEvent) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let domain = &shared.config.domain;
        let bare = jids::operator(operator, domain);
        // Archived once, whether it is delivered now or kept.
        let archived = archive(&shared, operator, &event);
        let mailboxes = shared.router.mailboxes(&bare);
        if mailboxes.is_empty() {
            // Nobody to tell now: a line is kept for the next login.
            if let (OperatorEvent::Message { from, text }, Some(queue)) = (event, &shared.offline) {
                let kept = crate::offline::Kept {
                    to: operator.clone(),
                    from,
                    text,
                };
                crate::offline::keep(queue, kept);
            }
            return;
        }
        Self::to_all(&mailboxes, Self::outbound(domain, &bare, event, archived));
    }

    fn deliver(&self, operator: &OperatorRef, event: OperatorEvent) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let domain = &shared.config.domain;
        let bare = jids::operator(operator, domain);
        let mailboxes = shared.router.mailboxes(&bare);
        Self::to_all(&mailboxes, Self::outbound(domain, &bare, event, None));
    }

    fn send_to_device(&self, operator: &OperatorRef, device: DeviceId, event: OperatorEvent) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let domain = &shared.config.domain;
        let bare = jids::operator(operator, domain);
        let Some(mailbox) = shared.router.connection(&bare, device.0) else {
            return;
        };
        let archived = self.archive_offer(&shared, operator, &event);
        for item in Self::outbound(domain, &bare, event, archived) {
            let _ = mailbox.send(item);
        }
    }
}
