//! XEP-0198 on a live session: counting and keeping what the client has
//! not acknowledged, parking when the connection drops, resuming on a new
//! one, and giving back what was never delivered.

use minidom::Element;

use super::{Handled, Session, Stream};
use crate::error::{StanzaErrorCondition, StreamErrorCondition};
use crate::ns;
use crate::router::Outbound;
use crate::sm::{self, StreamManagement};
use crate::stanza::{Address, error_reply, name};
use crate::stream::Closing;

impl Session {
    pub(super) fn resumable(&self) -> bool {
        self.sm.as_ref().is_some_and(|sm| sm.id.is_some())
    }

    /// Waits, detached, for the client to resume; keeps what arrives for it.
    pub(super) async fn park(
        &mut self,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Option<(Box<Stream>, u32)> {
        let overflow = self.inbox.overflow();
        let max = self.shared.config.max_unacked_stanzas;
        let timeout = tokio::time::sleep(self.shared.config.resumption_timeout);
        tokio::pin!(timeout);
        loop {
            tokio::select! {
                () = &mut timeout => return None,
                _ = shutdown.changed() => return None,
                // Too much waited for a client that may never come back.
                () = overflow.notified() => return None,
                outbound = self.inbox.recv() => match outbound {
                    // Kept for the client, up to the limit: beyond, it is
                    // given up on, and what it kept goes back to the senders.
                    Some(Outbound::Stanza(stanza)) => {
                        if self.sm.as_mut().is_some_and(|sm| sm.push(*stanza, max)) {
                            return None;
                        }
                    }
                    Some(Outbound::Resume(new, h)) => return Some((new, h)),
                    Some(Outbound::Roster(contact, present)) => {
                        let push = self.roster_change(*contact, present);
                        if self.sm.as_mut().is_some_and(|sm| sm.push(push, max)) {
                            return None;
                        }
                    }
                    Some(Outbound::Close(..)) | None => return None,
                },
            }
        }
    }

    /// Carries on over a new stream: `<resumed/>`, then everything the
    /// client has not acknowledged, in order.
    pub(super) async fn resume(&mut self, stream: &mut Stream, h: u32) -> Handled {
        let Some(sm) = &mut self.sm else {
            return Ok(());
        };
        sm.ack(h);
        let resumed = Element::builder("resumed", sm::NS)
            .attr(name("previd"), sm.id.clone().unwrap_or_default())
            .attr(name("h"), sm.handled.to_string())
            .build();
        stream.send(&resumed).await?;
        let pending: Vec<Element> = sm.unacked().cloned().collect();
        for stanza in &pending {
            stream.send(stanza).await?;
        }
        sm.requested = !pending.is_empty();
        if sm.requested {
            stream.send(&sm::request()).await?;
        }
        Ok(())
    }

    /// Writes a stanza to the client, counting it for stream management.
    pub(super) async fn deliver(&mut self, stream: &mut Stream, stanza: Element) -> Handled {
        let written = stream.send(&stanza).await;
        let max = self.shared.config.max_unacked_stanzas;
        if let Some(sm) = &mut self.sm {
            // Kept even when the write failed because the connection just
            // dropped: then it is resent on resumption, or returned to its
            // sender when the session ends, instead of silently lost.
            if sm.push(stanza, max) {
                // A client that never acknowledges would grow this
                // without bound (Prosody stops at 500 too).
                return Err(Closing::Error(
                    StreamErrorCondition::ResourceConstraint,
                    Some(format!("more than {max} stanzas unacknowledged")),
                ));
            }
            if written.is_ok() && !sm.requested {
                sm.requested = true;
                stream.send(&sm::request()).await?;
            }
        }
        written
    }

    /// The session is over: unbind, tell the contacts, give back what the
    /// client never acknowledged.
    pub(super) fn end(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        if let Some(id) = self.sm.as_ref().and_then(|sm| sm.id.as_ref()) {
            self.shared
                .resumable
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        }
        let was_available = self
            .shared
            .router
            .unbind(&self.bare, &self.resource, self.connection);
        if was_available {
            let unavailable = Element::builder("presence", ns::CLIENT)
                .attr(name("type"), "unavailable")
                .attr(name("from"), self.full.as_str())
                .build();
            self.broadcast(&unavailable);
            self.relay_presence(&unavailable);
        }
        self.report_availability(salesiq_session::Availability::Unavailable);
        let unacked = self
            .sm
            .as_mut()
            .map(StreamManagement::take_unacked)
            .unwrap_or_default();
        for stanza in unacked {
            self.return_undelivered(&stanza);
        }
        // And what was on its way to the client, still in the mailbox.
        for outbound in self.inbox.drain() {
            if let Outbound::Stanza(stanza) = outbound {
                self.return_undelivered(&stanza);
            }
        }
    }

    /// A message the client never acknowledged (XEP-0198, section 5):
    /// kept for the operator's next login when no other device of theirs
    /// is there to have read it (XEP-0160, as if it had come while no
    /// device was online: a visitor's line, a `[system]` reply, a board
    /// post, a colleague's message); otherwise its sender, if a colleague,
    /// is told it was not delivered.
    pub(super) fn return_undelivered(&self, stanza: &Element) {
        if stanza.name() != "message" || stanza.attr("type") == Some("error") {
            return;
        }
        let Some(sender) = stanza.attr("from").and_then(Address::parse) else {
            return;
        };
        if self.keep_undelivered(stanza, &sender) {
            return;
        }
        let (Some(local), Some(resource)) = (sender.local, sender.resource) else {
            return;
        };
        let bare = format!("{}@{}", local.to_lowercase(), sender.domain);
        if let Some(mailbox) = self.shared.router.resource(&bare, resource) {
            let bounce = error_reply(stanza, StanzaErrorCondition::RecipientUnavailable);
            if mailbox.send(Outbound::stanza(bounce)).is_err() {
                tracing::debug!(%bare, "the sender of an undelivered message is gone too");
            }
        }
    }

    /// Keeps an undelivered chat or normal message with a body from a
    /// contact for the next login, if this session has a gateway (and so
    /// a store) and no other device of the operator is available (this
    /// one is unbound already). Whether it was kept.
    fn keep_undelivered(&self, stanza: &Element, sender: &Address<'_>) -> bool {
        let Some(queue) = &self.shared.offline else {
            return false;
        };
        if !matches!(stanza.attr("type").unwrap_or("normal"), "chat" | "normal")
            || !self.shared.router.available(&self.bare).is_empty()
        {
            return false;
        }
        let Some(text) = stanza.get_child("body", ns::CLIENT).map(Element::text) else {
            return false;
        };
        let Some(from) = sender.local.and_then(crate::jids::contact) else {
            return false;
        };
        let to = self.operator.clone();
        crate::offline::keep(queue, crate::offline::Kept { to, from, text });
        true
    }

    /// XEP-0198 nonzas: `<enable/>`, `<r/>`, `<a/>`.
    pub(super) async fn stream_management(
        &mut self,
        stream: &mut Stream,
        element: Element,
    ) -> Handled {
        match (element.name(), &mut self.sm) {
            ("enable", None) => {
                let resume = matches!(element.attr("resume"), Some("true" | "1"));
                let id = resume.then(|| format!("{:032x}", rand::random::<u128>()));
                let mut enabled = Element::builder("enabled", sm::NS);
                if let Some(id) = &id {
                    let max = self.shared.config.resumption_timeout.as_secs().to_string();
                    enabled = enabled
                        .attr(name("id"), id.as_str())
                        .attr(name("resume"), "true")
                        .attr(name("max"), max);
                    let entry = (self.bare.clone(), self.mailbox.clone());
                    self.shared
                        .resumable
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id.clone(), entry);
                }
                self.sm = Some(StreamManagement::new(id));
                stream.send(&enabled.build()).await
            }
            ("enable", Some(_)) => {
                let failed = Element::builder("failed", sm::NS)
                    .append(Element::bare("unexpected-request", ns::STANZA_ERRORS))
                    .build();
                stream.send(&failed).await
            }
            ("r", Some(sm)) => stream.send(&sm::answer(sm.handled)).await,
            ("a", Some(sm)) => {
                let h =
                    sm::h_of(&element).ok_or(Closing::error(StreamErrorCondition::BadFormat))?;
                sm.ack(h);
                sm.requested = false;
                Ok(())
            }
            _ => Err(Closing::error(StreamErrorCondition::UnsupportedStanzaType)),
        }
    }
}
