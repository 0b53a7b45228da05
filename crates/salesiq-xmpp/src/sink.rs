//! The chat domain's events, as stanzas to operators' resources: the
//! transport's side of [`OperatorSink`].

use std::sync::Weak;

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
}

impl XmppSink {
    /// What `event` looks like on the wire, to `to`. The domain's texts are
    /// clean already; names in them come from the embedder's store, so
    /// they are cleaned once more here, where XML is made.
    fn outbound(domain: &str, to: &str, event: OperatorEvent) -> Vec<Outbound> {
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
                    .append(Element::bare("active", ns::CHAT_STATES))
                    .build();
                vec![Outbound::stanza(message)]
            }
        }
    }
}

impl OperatorSink for XmppSink {
    fn send(&self, operator: &OperatorRef, event: OperatorEvent) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let domain = &shared.config.domain;
        let bare = jids::operator(operator, domain);
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
        let outbound = Self::outbound(domain, &bare, event);
        for mailbox in mailboxes {
            for item in &outbound {
                if let Some(copy) = item.try_clone() {
                    let _ = mailbox.send(copy);
                }
            }
        }
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
        for item in Self::outbound(domain, &bare, event) {
            let _ = mailbox.send(item);
        }
    }
}
