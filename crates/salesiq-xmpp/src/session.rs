//! A bound resource: stanzas routed among operators (RFC 6120 section 8,
//! RFC 6121), roster and presence from the [`salesiq_session::Directory`],
//! and the server's own iq services.

use std::collections::HashSet;
use std::sync::Arc;

use minidom::Element;
use salesiq_session::{Account, Contact};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::error::{StanzaErrorCondition, StreamErrorCondition};
use crate::ns;
use crate::router::Outbound;
use crate::server::Shared;
use crate::stanza::{Address, error_reply, iq_result, name, set_attr};
use crate::stream::{Closing, XmlStream};
use crate::xml::StreamEvent;

/// The features `disco#info` on the server advertises: exactly what is
/// implemented.
const SERVER_FEATURES: &[&str] = &[ns::DISCO_INFO, ns::DISCO_ITEMS, ns::PING, ns::ROSTER];

/// A bound resource of an authenticated operator.
pub(crate) struct Session {
    shared: Arc<Shared>,
    account: Account,
    bare: String,
    resource: String,
    full: String,
    connection: u64,
    inbox: UnboundedReceiver<Outbound>,
    contacts: Vec<Contact>,
    /// The bare JIDs of `contacts`, lower case.
    contact_jids: HashSet<String>,
    available: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("full", &self.full)
            .finish_non_exhaustive()
    }
}

/// What handling a stanza leads to.
type Handled = Result<(), Closing>;

impl Session {
    pub(crate) async fn new(
        shared: Arc<Shared>,
        account: Account,
        bare: String,
        resource: String,
        connection: u64,
        inbox: UnboundedReceiver<Outbound>,
    ) -> Self {
        let full = format!("{bare}/{resource}");
        let mut session = Self {
            shared,
            account,
            bare,
            resource,
            full,
            connection,
            inbox,
            contacts: Vec::new(),
            contact_jids: HashSet::new(),
            available: false,
        };
        session.refresh_contacts().await;
        session
    }

    async fn refresh_contacts(&mut self) {
        self.contacts = self.shared.directory.contacts(&self.account).await;
        let domain = &self.shared.config.domain;
        self.contact_jids = self
            .contacts
            .iter()
            .map(|c| format!("{}@{domain}", c.id.to_lowercase()))
            .collect();
    }

    /// Serves the stream until it ends, then tells the contacts.
    pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(mut self, mut stream: XmlStream<S>) {
        let mut shutdown = self.shared.shutdown.clone();
        let closing = loop {
            let result = tokio::select! {
                _ = shutdown.changed() => Err(Closing::error(StreamErrorCondition::SystemShutdown)),
                outbound = self.inbox.recv() => match outbound {
                    Some(Outbound::Stanza(stanza)) => stream.send(&stanza).await,
                    Some(Outbound::Close(condition, text)) => Err(Closing::Error(condition, text)),
                    None => Err(Closing::error(StreamErrorCondition::InternalServerError)),
                },
                event = stream.next() => match event {
                    Ok(StreamEvent::Element(element)) => self.handle(&mut stream, element).await,
                    Ok(StreamEvent::End) => Err(Closing::PeerClosed),
                    Ok(StreamEvent::Header(_)) => Err(Closing::error(StreamErrorCondition::NotWellFormed)),
                    Err(closing) => Err(closing),
                },
            };
            if let Err(closing) = result {
                break closing;
            }
        };
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
        }
        stream.finish(closing, &self.shared.config.domain).await;
    }

    async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut XmlStream<S>,
        mut stanza: Element,
    ) -> Handled {
        if stanza.ns() != ns::CLIENT {
            return if matches!(stanza.name(), "message" | "presence" | "iq") {
                Err(Closing::error(StreamErrorCondition::InvalidNamespace))
            } else {
                Err(Closing::error(StreamErrorCondition::UnsupportedStanzaType))
            };
        }
        // RFC 6120, 8.1.2.1: the server stamps the sender's full JID.
        set_attr(&mut stanza, name("from"), &self.full);
        match stanza.name() {
            "message" => self.message(stream, stanza).await,
            "presence" => self.presence(stream, stanza).await,
            "iq" => self.iq(stream, stanza).await,
            _ => Err(Closing::error(StreamErrorCondition::UnsupportedStanzaType)),
        }
    }

    /// Where a stanza addressed to `to` may go: `None` for the server
    /// itself, else the bare JID (lower case) and resource, if the sender
    /// may reach it: itself or a contact, never another portal.
    fn target<'a>(
        &self,
        to: Option<&'a str>,
    ) -> Result<Option<(String, Option<&'a str>)>, StanzaErrorCondition> {
        let Some(to) = to else { return Ok(None) };
        let address = Address::parse(to).ok_or(StanzaErrorCondition::JidMalformed)?;
        let domain = &self.shared.config.domain;
        if !address
            .domain
            .trim_end_matches('.')
            .eq_ignore_ascii_case(domain)
        {
            return Err(StanzaErrorCondition::ServiceUnavailable);
        }
        let Some(local) = address.local else {
            return if address.resource.is_none() {
                Ok(None)
            } else {
                Err(StanzaErrorCondition::ServiceUnavailable)
            };
        };
        let bare = format!("{}@{domain}", local.to_lowercase());
        if bare == self.bare || self.contact_jids.contains(&bare) {
            Ok(Some((bare, address.resource)))
        } else {
            // Not a contact: unknown, or another portal's. Say nothing more.
            Err(StanzaErrorCondition::ServiceUnavailable)
        }
    }

    async fn bounce<S: AsyncRead + AsyncWrite + Unpin>(
        stream: &mut XmlStream<S>,
        stanza: &Element,
        condition: StanzaErrorCondition,
    ) -> Handled {
        if stanza.attr("type") == Some("error") {
            return Ok(()); // never answer an error with an error
        }
        stream.send(&error_reply(stanza, condition)).await
    }

    async fn message<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut XmlStream<S>,
        mut message: Element,
    ) -> Handled {
        // RFC 6121, 8.5.1: no `to` means the sender's own bare JID.
        let to = message
            .attr("to")
            .map(str::to_owned)
            .unwrap_or_else(|| self.bare.clone());
        let (bare, resource) = match self.target(Some(&to)) {
            Ok(Some(target)) => target,
            Ok(None) => {
                return Self::bounce(stream, &message, StanzaErrorCondition::ServiceUnavailable)
                    .await;
            }
            Err(condition) => return Self::bounce(stream, &message, condition).await,
        };
        set_attr(&mut message, name("to"), &to);
        let router = &self.shared.router;
        if let Some(mailbox) = resource.and_then(|r| router.resource(&bare, r)) {
            let _ = mailbox.send(Outbound::Stanza(message));
            return Ok(());
        }
        // To the bare JID (or an offline resource): every available resource
        // with a non-negative priority (RFC 6121, 8.5.2.1.1).
        let recipients: Vec<_> = router
            .available(&bare)
            .into_iter()
            .filter(|(name, _, presence)| {
                priority(presence) >= 0 && !(bare == self.bare && *name == self.resource)
            })
            .collect();
        if recipients.is_empty() {
            return Self::bounce(stream, &message, StanzaErrorCondition::ServiceUnavailable).await;
        }
        for (_, mailbox, _) in recipients {
            let _ = mailbox.send(Outbound::Stanza(message.clone()));
        }
        Ok(())
    }

    async fn presence<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut XmlStream<S>,
        presence: Element,
    ) -> Handled {
        let kind = presence.attr("type").unwrap_or("available");
        if let Some(to) = presence.attr("to") {
            // Directed presence to a contact.
            let Ok(Some((bare, resource))) = self.target(Some(to)) else {
                return Ok(());
            };
            let router = &self.shared.router;
            for (name, mailbox, _) in router.available(&bare) {
                if resource.is_none_or(|r| r == name) {
                    let _ = mailbox.send(Outbound::Stanza(presence.clone()));
                }
            }
            return Ok(());
        }
        match kind {
            "available" => {
                let initial = !self.available;
                self.available = true;
                let router = &self.shared.router;
                router.set_presence(
                    &self.bare,
                    &self.resource,
                    self.connection,
                    Some(presence.clone()),
                );
                self.broadcast(&presence);
                if initial {
                    // The presence of everyone already online, as a probe would give.
                    for bare in self.contact_jids.iter().chain(std::iter::once(&self.bare)) {
                        for (resource, _, mut theirs) in router.available(bare) {
                            if *bare == self.bare && resource == self.resource {
                                continue;
                            }
                            set_attr(&mut theirs, name("to"), &self.full);
                            stream.send(&theirs).await?;
                        }
                    }
                }
                Ok(())
            }
            "unavailable" => {
                self.available = false;
                self.shared
                    .router
                    .set_presence(&self.bare, &self.resource, self.connection, None);
                self.broadcast(&presence);
                Ok(())
            }
            // Subscriptions are the directory's business: contacts are
            // mutual and fixed, so requests are dropped, as are probes.
            _ => Ok(()),
        }
    }

    /// Sends a presence of ours to every available resource of our
    /// contacts and to our other resources.
    fn broadcast(&self, presence: &Element) {
        let router = &self.shared.router;
        for bare in self.contact_jids.iter().chain(std::iter::once(&self.bare)) {
            for (resource, mailbox, _) in router.available(bare) {
                if *bare == self.bare && resource == self.resource {
                    continue;
                }
                let mut copy = presence.clone();
                set_attr(&mut copy, name("to"), &format!("{bare}/{resource}"));
                let _ = mailbox.send(Outbound::Stanza(copy));
            }
        }
    }

    async fn iq<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut XmlStream<S>,
        iq: Element,
    ) -> Handled {
        let kind = iq.attr("type").unwrap_or_default();
        let request = matches!(kind, "get" | "set");
        if !request && !matches!(kind, "result" | "error") {
            return Self::bounce(stream, &iq, StanzaErrorCondition::BadRequest).await;
        }
        match self.target(iq.attr("to")) {
            // To the server, or to our own account: the server answers.
            Ok(None) => {}
            Ok(Some((bare, None))) if bare == self.bare => {}
            Ok(Some((bare, Some(resource)))) => {
                return match self.shared.router.resource(&bare, resource) {
                    Some(mailbox) => {
                        let _ = mailbox.send(Outbound::Stanza(iq));
                        Ok(())
                    }
                    None if request => {
                        Self::bounce(stream, &iq, StanzaErrorCondition::ServiceUnavailable).await
                    }
                    None => Ok(()),
                };
            }
            Ok(Some(_)) if request => {
                return Self::bounce(stream, &iq, StanzaErrorCondition::ServiceUnavailable).await;
            }
            Ok(Some(_)) => return Ok(()),
            Err(condition) => return Self::bounce(stream, &iq, condition).await,
        }
        if !request {
            return Ok(());
        }
        let reply = self.serve_iq(&iq, kind == "get").await;
        stream.send(&reply).await
    }

    /// The server's own iq services.
    async fn serve_iq(&mut self, iq: &Element, get: bool) -> Element {
        let Some(payload) = iq.children().next() else {
            return error_reply(iq, StanzaErrorCondition::BadRequest);
        };
        match (payload.name(), payload.ns().as_str(), get) {
            ("ping", ns::PING, true) => iq_result(iq, None),
            ("query", ns::DISCO_INFO, true) => iq_result(iq, Some(self.disco_info(iq))),
            ("query", ns::DISCO_ITEMS, true) => {
                iq_result(iq, Some(Element::bare("query", ns::DISCO_ITEMS)))
            }
            ("query", ns::ROSTER, true) => {
                self.refresh_contacts().await;
                iq_result(iq, Some(self.roster()))
            }
            // The roster is the directory's: clients may not edit it.
            ("query", ns::ROSTER, false) => error_reply(iq, StanzaErrorCondition::NotAllowed),
            // RFC 3921 session establishment: a no-op kept for old clients.
            ("session", ns::SESSION, false) => iq_result(iq, None),
            _ => error_reply(iq, StanzaErrorCondition::ServiceUnavailable),
        }
    }

    fn disco_info(&self, iq: &Element) -> Element {
        let to_account = iq.attr("to").is_some_and(|to| to.contains('@'));
        let (category, kind) = if to_account {
            ("account", "registered")
        } else {
            ("server", "im")
        };
        let identity = Element::builder("identity", ns::DISCO_INFO)
            .attr(name("category"), category)
            .attr(name("type"), kind)
            .attr(name("name"), "salesiq-gateway")
            .build();
        let features = SERVER_FEATURES.iter().filter(|_| !to_account).map(|var| {
            Element::builder("feature", ns::DISCO_INFO)
                .attr(name("var"), *var)
                .build()
        });
        Element::builder("query", ns::DISCO_INFO)
            .append(identity)
            .append_all(features)
            .build()
    }

    fn roster(&self) -> Element {
        let domain = &self.shared.config.domain;
        let items = self.contacts.iter().map(|contact| {
            Element::builder("item", ns::ROSTER)
                .attr(
                    name("jid"),
                    format!("{}@{domain}", contact.id.to_lowercase()),
                )
                .attr(name("name"), contact.name.as_str())
                .attr(name("subscription"), "both")
                .append(
                    Element::builder("group", ns::ROSTER)
                        .append(contact.group.as_str())
                        .build(),
                )
                .build()
        });
        Element::builder("query", ns::ROSTER)
            .append_all(items)
            .build()
    }
}

/// The `<priority/>` of a presence (RFC 6121, 4.7.2.3), 0 when absent.
fn priority(presence: &Element) -> i8 {
    presence
        .get_child("priority", ns::CLIENT)
        .and_then(|p| p.text().trim().parse().ok())
        .unwrap_or(0)
}
