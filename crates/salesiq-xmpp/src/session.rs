//! A bound resource: stanzas routed among operators (RFC 6120 section 8,
//! RFC 6121), roster and presence from the [`salesiq_session::Directory`],
//! and the server's own iq services.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use minidom::Element;
use salesiq_session::{
    Account, Activity, Availability, Contact, ContactId, DeviceId, OperatorInput, OperatorRef,
    PortError,
};

use crate::error::{StanzaErrorCondition, StreamErrorCondition};
use crate::jids;
use crate::ns;
use crate::router::{Inbox, Mailbox, Outbound};
use crate::shared::Shared;
use crate::sm::{self, StreamManagement};
use crate::stanza::{
    Address, error_reply, error_reply_saying, iq_result, name, priority, set_attr, valid_resource,
};
use crate::stream::{Closing, SecureIo, XmlStream};
use crate::xml::StreamEvent;

mod resumption;
mod services;

use services::vcard;

/// A bound resource of an authenticated operator.
pub(crate) struct Session {
    shared: Arc<Shared>,
    account: Account,
    bare: String,
    resource: String,
    full: String,
    connection: u64,
    mailbox: Mailbox,
    inbox: Inbox,
    sm: Option<StreamManagement>,
    /// This operator, as the chat domain names them.
    operator: OperatorRef,
    /// The directory's colleagues and the gateway's contacts.
    contacts: Vec<Contact>,
    /// The bare JIDs of the colleagues among `contacts`, lower case: the
    /// only JIDs routed among operators. Shared with the routing table,
    /// which asks it for what comes through a relay.
    contact_jids: Arc<HashSet<String>>,
    /// The presence status of the gateway's contacts (visitors, board).
    statuses: HashMap<ContactId, String>,
    available: bool,
    /// Whether [`Session::end`] ran: it runs once, at the end of
    /// [`Session::run`] or, should the task panic or be aborted, on drop.
    ended: bool,
    /// The token bucket pacing what the client sends.
    tokens: f64,
    refilled: tokio::time::Instant,
}

impl Drop for Session {
    /// A session never outlives its task in the routing table or as an
    /// available device of the chat domain (no ghosts that get offers).
    fn drop(&mut self) {
        if !self.ended {
            tracing::warn!(jid = %self.full, "a session ended without closing; unbinding it");
            self.end();
        }
    }
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

/// The stream of an authenticated connection.
pub(crate) type Stream = XmlStream<SecureIo>;

impl Session {
    pub(crate) async fn new(
        shared: Arc<Shared>,
        account: Account,
        bare: String,
        resource: String,
        connection: u64,
        mailbox: Mailbox,
        inbox: Inbox,
    ) -> Self {
        let full = format!("{bare}/{resource}");
        let username = account.username.as_deref().unwrap_or_default();
        let operator = OperatorRef::new(&account.portal, username);
        let burst = f64::from(shared.config.stanza_burst);
        let mut session = Self {
            shared,
            operator,
            account,
            bare,
            resource,
            full,
            connection,
            mailbox,
            inbox,
            sm: None,
            contacts: Vec::new(),
            contact_jids: Arc::default(),
            statuses: HashMap::new(),
            available: false,
            ended: false,
            tokens: burst,
            refilled: tokio::time::Instant::now(),
        };
        session.refresh_contacts().await;
        session
    }

    /// The contact list, asked anew: the directory's colleagues, then the
    /// gateway's contacts (the board and the visitors of this operator).
    async fn refresh_contacts(&mut self) {
        let mut contacts = self.shared.directory.contacts(&self.account).await;
        // A directory names colleagues of this portal only.
        contacts.retain(
            |c| matches!(&c.id, ContactId::Colleague(o) if o.portal() == self.operator.portal()),
        );
        self.statuses.clear();
        if let Some(gateway) = &self.shared.gateway {
            for item in gateway.roster(&self.operator) {
                self.statuses.insert(item.contact.id.clone(), item.status);
                contacts.push(item.contact);
            }
        }
        let domain = &self.shared.config.domain;
        self.contact_jids = Arc::new(
            contacts
                .iter()
                .filter(|c| matches!(c.id, ContactId::Colleague(_)))
                .map(|c| jids::bare(&c.id, domain))
                .collect(),
        );
        self.contacts = contacts;
        self.publish_contacts();
    }

    /// Tells the routing table whom this resource hears from.
    pub(super) fn publish_contacts(&self) {
        let contacts = self.contact_jids.clone();
        let router = &self.shared.router;
        router.set_contacts(&self.bare, &self.resource, self.connection, contacts);
    }

    /// Serves the stream until it ends, then tells the contacts.
    ///
    /// With resumption enabled, a dropped connection parks the session
    /// until the client resumes it on a new one, or the resumption timeout
    /// passes.
    ///
    /// Memory: everything but the wait itself is boxed (handling a stanza,
    /// delivering, resuming, closing), and so are the session and the stream (the
    /// latter is swapped by pointer on resumption). The future of an idle connection
    /// then holds three small waits, not the largest state any handler
    /// ever needs nor copies of the stream: the task shrank from 14 KiB.
    pub(crate) async fn run(mut self: Box<Self>, mut stream: Box<Stream>) {
        let mut shutdown = self.shared.shutdown.clone();
        let overflow = self.inbox.overflow();
        let closing = loop {
            let result = tokio::select! {
                _ = shutdown.changed() => Err(Closing::error(StreamErrorCondition::SystemShutdown)),
                () = overflow.notified() => Err(too_slow()),
                outbound = self.inbox.recv() => match outbound {
                    Some(Outbound::Stanza(stanza)) => unless(&overflow, Box::pin(self.deliver(&mut stream, *stanza))).await,
                    Some(Outbound::Close(condition, text)) => Err(Closing::Error(condition, text)),
                    Some(Outbound::Roster(contact, present)) => {
                        let push = self.roster_change(*contact, present);
                        unless(&overflow, Box::pin(self.deliver(&mut stream, push))).await
                    }
                    Some(Outbound::Resume(new, h)) => {
                        // The client resumed elsewhere before we saw this
                        // connection die: drop it quietly.
                        drop(std::mem::replace(&mut stream, new));
                        Box::pin(self.resume(&mut stream, h)).await
                    }
                    None => Err(Closing::error(StreamErrorCondition::InternalServerError)),
                },
                event = stream.next() => match event {
                    Ok(StreamEvent::Element(element)) => unless(&overflow, Box::pin(self.handle(&mut stream, element))).await,
                    Ok(StreamEvent::End) => Err(Closing::PeerClosed),
                    Ok(StreamEvent::Header(_)) => Err(Closing::error(StreamErrorCondition::NotWellFormed)),
                    Err(closing) => Err(closing),
                },
            };
            match result {
                Ok(()) => continue,
                Err(Closing::Gone) if self.resumable() => {
                    match Box::pin(self.park(&mut shutdown)).await {
                        Some((new, h)) => {
                            stream = new;
                            if let Err(closing) = Box::pin(self.resume(&mut stream, h)).await {
                                break closing;
                            }
                        }
                        None => break Closing::Gone,
                    }
                }
                Err(closing) => break closing,
            }
        };
        self.end();
        Box::pin(stream.finish(closing, &self.shared.config.domain)).await;
    }

    async fn handle(&mut self, stream: &mut Stream, mut stanza: Element) -> Handled {
        self.pace().await;
        if stanza.ns() == sm::NS {
            return self.stream_management(stream, stanza).await;
        }
        if stanza.ns() != ns::CLIENT {
            return if matches!(stanza.name(), "message" | "presence" | "iq") {
                Err(Closing::error(StreamErrorCondition::InvalidNamespace))
            } else {
                Err(Closing::error(StreamErrorCondition::UnsupportedStanzaType))
            };
        }
        // RFC 6120, 8.1.2.1: the server stamps the sender's full JID.
        set_attr(&mut stanza, name("from"), &self.full);
        let handled = match stanza.name() {
            "message" => self.message(stream, stanza).await,
            "presence" => self.presence(stream, stanza).await,
            "iq" => self.iq(stream, stanza).await,
            _ => return Err(Closing::error(StreamErrorCondition::UnsupportedStanzaType)),
        };
        if let Some(sm) = &mut self.sm {
            sm.handled = sm.handled.wrapping_add(1);
        }
        handled
    }

    /// Paces the client to [`Config::max_stanza_rate`] after a burst of
    /// [`Config::stanza_burst`]: a client sending faster waits here, and
    /// so its bytes wait in its own socket, instead of flooding the
    /// mailboxes of everyone it writes to (3,000 presences from one
    /// colleague once disconnected every other).
    ///
    /// [`Config::max_stanza_rate`]: crate::Config::max_stanza_rate
    /// [`Config::stanza_burst`]: crate::Config::stanza_burst
    async fn pace(&mut self) {
        let rate = f64::from(self.shared.config.max_stanza_rate.max(1));
        let burst = f64::from(self.shared.config.stanza_burst.max(1));
        let now = tokio::time::Instant::now();
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.refilled = now;
        if self.tokens < 1.0 {
            let wait = (1.0 - self.tokens) / rate;
            tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
            self.tokens = 1.0;
            self.refilled = tokio::time::Instant::now();
        }
        self.tokens -= 1.0;
    }

    /// The bound full JID.
    pub(crate) fn full_jid(&self) -> &str {
        &self.full
    }

    /// This resource, as a device of the operator for the chat domain.
    fn device(&self) -> DeviceId {
        DeviceId(self.connection)
    }

    /// Tells the chat domain what this resource says: offers go to
    /// operators who take chats, on every device of theirs.
    pub(super) fn report_availability(&self, availability: Availability) {
        if let Some(gateway) = &self.shared.gateway {
            gateway.device_presence(&self.operator, self.device(), availability);
        }
    }

    /// Where a stanza addressed to `to` may go, if the sender may reach
    /// it: the server, the operator's own account, a colleague, or a
    /// contact of the gateway; never another portal.
    fn target<'a>(&self, to: Option<&'a str>) -> Result<Target<'a>, StanzaErrorCondition> {
        let Some(to) = to else {
            return Ok(Target::Server);
        };
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
                Ok(Target::Server)
            } else {
                Err(StanzaErrorCondition::ServiceUnavailable)
            };
        };
        let bare = format!("{}@{domain}", local.to_lowercase());
        if bare == self.bare {
            return Ok(Target::Own(address.resource));
        }
        // By kind, never by who happens to be online there. Not a contact:
        // unknown, or another portal's. Say nothing more.
        match jids::contact(local) {
            Some(ContactId::Colleague(_)) if self.contact_jids.contains(&bare) => {
                Ok(Target::Colleague(bare, address.resource))
            }
            Some(id @ (ContactId::Visitor { .. } | ContactId::Board { .. }))
                if id.portal() == self.operator.portal() && self.shared.gateway.is_some() =>
            {
                Ok(Target::Gateway(id))
            }
            _ => Err(StanzaErrorCondition::ServiceUnavailable),
        }
    }

    async fn bounce(
        &mut self,
        stream: &mut Stream,
        stanza: &Element,
        condition: StanzaErrorCondition,
    ) -> Handled {
        if stanza.attr("type") == Some("error") {
            return Ok(()); // never answer an error with an error
        }
        self.deliver(stream, error_reply(stanza, condition)).await
    }

    async fn message(&mut self, stream: &mut Stream, mut message: Element) -> Handled {
        crate::archive::strip_stanza_ids(&mut message);
        // RFC 6121, 8.5.1: no `to` means the sender's own bare JID.
        let to = message
            .attr("to")
            .map(str::to_owned)
            .unwrap_or_else(|| self.bare.clone());
        let (bare, resource) = match self.target(Some(&to)) {
            Ok(Target::Own(resource)) => (self.bare.clone(), resource),
            Ok(Target::Colleague(bare, resource)) => (bare, resource),
            Ok(Target::Gateway(contact)) => {
                set_attr(&mut message, name("to"), &to);
                return self.hand_to_gateway(stream, message, contact).await;
            }
            Ok(Target::Server) => {
                return self
                    .bounce(stream, &message, StanzaErrorCondition::ServiceUnavailable)
                    .await;
            }
            Err(condition) => return self.bounce(stream, &message, condition).await,
        };
        set_attr(&mut message, name("to"), &to);
        let router = &self.shared.router;
        if let Some((resource, mailbox)) =
            resource.and_then(|r| Some((r, router.resource(&bare, r)?)))
        {
            if let Some((to, text)) = self.colleague_text(&bare, &message)
                && let Some(id) = self.archive_colleague(&to, &text)
            {
                message.append_child(crate::archive::stanza_id(&bare, id));
            }
            if wants_carbons(&message) {
                // XEP-0280: our other resources see what we sent, theirs
                // what they received on this one.
                self.carbon_copies(&self.bare.clone(), &self.resource.clone(), "sent", &message);
                self.carbon_copies(&bare, resource, "received", &message);
            }
            let _ = mailbox.send(Outbound::stanza(message));
            return Ok(());
        }
        // Archived once, wherever it goes next: to another node, to the
        // resources here, or kept for the next login (a message that can
        // be archived can be kept, so it never bounces).
        if let Some((to, text)) = self.colleague_text(&bare, &message)
            && let Some(id) = self.archive_colleague(&to, &text)
        {
            message.append_child(crate::archive::stanza_id(&bare, id));
        }
        let relay = self.shared.relay.clone();
        let operator = relay.as_ref().and_then(|_| self.operator_of(&bare));
        let carbons = wants_carbons(&message) && bare != self.bare;
        // A resource not bound here may be on another node (issue 14).
        if let (Some(resource), Some(relay), Some(operator)) = (resource, &relay, &operator)
            && relay.forward(operator, Some(resource), &message)
        {
            if carbons {
                self.carbon_copies(&self.bare.clone(), &self.resource.clone(), "sent", &message);
            }
            return Ok(());
        }
        // To the bare JID (or an offline resource): every available resource
        // with a non-negative priority (RFC 6121, 8.5.2.1.1), here and on
        // other nodes.
        let recipients: Vec<_> = router
            .available(&bare)
            .into_iter()
            .filter(|(name, _, presence)| {
                priority(presence) >= 0 && !(bare == self.bare && *name == self.resource)
            })
            .collect();
        let elsewhere = match (&relay, &operator) {
            (Some(relay), Some(operator)) => relay.forward(operator, None, &message),
            _ => false,
        };
        if recipients.is_empty() && !elsewhere {
            // A colleague with no device online gets it at their next
            // login (XEP-0160) instead of a bounce.
            let text = message.get_child("body", ns::CLIENT).map(Element::text);
            let colleague = bare
                .split_once('@')
                .and_then(|(local, _)| jids::contact(local));
            let kind = message.attr("type").unwrap_or("normal");
            if let (Some(queue), Some(text), Some(ContactId::Colleague(to)), "chat" | "normal") =
                (&self.shared.offline, text, colleague, kind)
            {
                let from = ContactId::Colleague(self.operator.clone());
                crate::offline::keep(queue, crate::offline::Kept { to, from, text });
                return Ok(());
            }
            return self
                .bounce(stream, &message, StanzaErrorCondition::ServiceUnavailable)
                .await;
        }
        if carbons {
            self.carbon_copies(&self.bare.clone(), &self.resource.clone(), "sent", &message);
        }
        for (_, mailbox, _) in recipients {
            let _ = mailbox.send(Outbound::stanza(message.clone()));
        }
        Ok(())
    }

    /// The operator whose bare JID (lower case) `bare` is: this one, or a
    /// colleague.
    fn operator_of(&self, bare: &str) -> Option<OperatorRef> {
        if bare == self.bare {
            return Some(self.operator.clone());
        }
        match jids::contact(bare.split_once('@')?.0)? {
            ContactId::Colleague(operator) => Some(operator),
            _ => None,
        }
    }

    /// Tells the relay, if any, a presence this resource broadcast (just
    /// after the local contacts were told).
    pub(super) fn relay_presence(&self, presence: &Element) {
        if let Some(relay) = &self.shared.relay {
            relay.presence(&self.operator, &self.resource, self.device(), presence);
        }
    }

    /// The available resources on other nodes of the colleague (or this
    /// operator) with bare JID `bare`, as their presence to this resource.
    fn remote_presences(&self, bare: &str) -> Vec<Element> {
        let (Some(relay), Some(operator)) = (&self.shared.relay, self.operator_of(bare)) else {
            return Vec::new();
        };
        relay
            .presences(&operator)
            .into_iter()
            .filter(|(resource, presence)| {
                let own = bare == self.bare && *resource == self.resource;
                let available =
                    presence.is("presence", ns::CLIENT) && presence.attr("type").is_none();
                available && !own && valid_resource(resource)
            })
            .map(|(resource, mut presence)| {
                set_attr(&mut presence, name("from"), &format!("{bare}/{resource}"));
                set_attr(&mut presence, name("to"), &self.full);
                presence
            })
            .collect()
    }

    /// The colleague a message with a body (chat or normal, not a carbon)
    /// goes to, and its text: what the archive records. None for a
    /// message to oneself, or without an archive.
    fn colleague_text(&self, bare: &str, message: &Element) -> Option<(OperatorRef, String)> {
        if bare == self.bare || self.shared.archive.is_none() {
            return None;
        }
        let kind = message.attr("type").unwrap_or("normal");
        let carbon =
            message.has_child("sent", ns::CARBONS) || message.has_child("received", ns::CARBONS);
        if carbon || !matches!(kind, "chat" | "normal") {
            return None;
        }
        let text = message.get_child("body", ns::CLIENT).map(Element::text)?;
        match bare
            .split_once('@')
            .and_then(|(local, _)| jids::contact(local))?
        {
            ContactId::Colleague(to) => Some((to, text)),
            _ => None,
        }
    }

    /// Archives a message to colleague `to`: outgoing in ours, incoming in
    /// theirs. The id it has in theirs.
    fn archive_colleague(&self, to: &OperatorRef, text: &str) -> Option<i64> {
        let archive = self.shared.archive.as_ref()?;
        archive.record(
            &self.operator,
            &ContactId::Colleague(to.clone()),
            true,
            text,
        );
        archive.record(
            to,
            &ContactId::Colleague(self.operator.clone()),
            false,
            text,
        )
    }

    /// What was kept for this operator while no device was connected,
    /// fetched beside the session (the read loop waits for no store) and
    /// queued to this resource.
    fn give_offline_messages(&self) {
        let Some(gateway) = self.shared.gateway.clone() else {
            return;
        };
        let (operator, mailbox) = (self.operator.clone(), self.mailbox.clone());
        let (domain, full) = (self.shared.config.domain.clone(), self.full.clone());
        tokio::spawn(async move {
            match gateway.offline_messages(&operator).await {
                Ok(kept) => {
                    for stanza in crate::offline::stanzas(kept, &domain, &full) {
                        let _ = mailbox.send(Outbound::stanza(stanza));
                    }
                }
                Err(error) => tracing::warn!(%operator, %error, "offline messages were not read"),
            }
        });
    }

    /// A message to a visitor or the board: handed to the chat domain
    /// without waiting for it. A line that cannot be taken bounces with a
    /// reason; a chat state alone is dropped quietly when nobody is there
    /// (the client did nothing wrong).
    async fn hand_to_gateway(
        &mut self,
        stream: &mut Stream,
        message: Element,
        contact: ContactId,
    ) -> Handled {
        let Some(gateway) = self.shared.gateway.clone() else {
            return self
                .bounce(stream, &message, StanzaErrorCondition::ServiceUnavailable)
                .await;
        };
        let Some(text) = message.get_child("body", ns::CLIENT).map(Element::text) else {
            let state = message
                .children()
                .filter(|c| c.ns() == ns::CHAT_STATES)
                .find_map(|c| Activity::from_name(c.name()));
            if let Some(state) = state {
                let input = OperatorInput::ChatState(state);
                if let Err(error) = gateway.submit(&self.operator, self.device(), &contact, input) {
                    tracing::debug!(%contact, %error, "chat state dropped");
                }
            }
            return Ok(());
        };
        let input = OperatorInput::Text(text.clone());
        match gateway.submit(&self.operator, self.device(), &contact, input) {
            Ok(()) => {
                if let Some(archive) = &self.shared.archive {
                    archive.record(&self.operator, &contact, true, &text);
                }
                if wants_carbons(&message) {
                    let (bare, resource) = (self.bare.clone(), self.resource.clone());
                    self.carbon_copies(&bare, &resource, "sent", &message);
                }
                Ok(())
            }
            Err(error) => {
                tracing::info!(%contact, %error, "a line to the gateway bounced");
                let condition = match error {
                    PortError::Busy => StanzaErrorCondition::ResourceConstraint,
                    PortError::NoSuchChat | PortError::NotGateway => {
                        StanzaErrorCondition::ServiceUnavailable
                    }
                };
                if message.attr("type") == Some("error") {
                    return Ok(());
                }
                let text = error.to_string();
                let reply = error_reply_saying(&message, condition, Some(&text));
                self.deliver(stream, reply).await
            }
        }
    }

    /// Sends `<sent/>` or `<received/>` carbon copies of `message` to the
    /// resources of `bare`, other than `except`, that enabled carbons.
    fn carbon_copies(&self, bare: &str, except: &str, direction: &str, message: &Element) {
        for (resource, mailbox) in self.shared.router.carbon_copies(bare, except) {
            let forwarded = Element::builder("forwarded", ns::FORWARD)
                .append(message.clone())
                .build();
            let copy = Element::builder("message", ns::CLIENT)
                .attr(name("from"), bare)
                .attr(name("to"), format!("{bare}/{resource}"))
                .attr(name("type"), message.attr("type").unwrap_or("normal"))
                .append(
                    Element::builder(direction, ns::CARBONS)
                        .append(forwarded)
                        .build(),
                )
                .build();
            let _ = mailbox.send(Outbound::stanza(copy));
        }
    }

    async fn presence(&mut self, stream: &mut Stream, presence: Element) -> Handled {
        let kind = presence.attr("type").unwrap_or("available");
        if let Some(to) = presence.attr("to") {
            // Directed presence to a colleague (or ourselves); the
            // gateway's contacts take none.
            let (bare, resource) = match self.target(Some(to)) {
                Ok(Target::Colleague(bare, resource)) => (bare, resource),
                Ok(Target::Own(resource)) => (self.bare.clone(), resource),
                _ => return Ok(()),
            };
            let router = &self.shared.router;
            let mut here = false;
            for (name, mailbox, _) in router.available(&bare) {
                if resource.is_none_or(|r| r == name) {
                    let _ = mailbox.send(Outbound::stanza(presence.clone()));
                    here = true;
                }
            }
            // And to their resources on other nodes (issue 14), unless the
            // one named is here.
            let named_here = here && resource.is_some();
            if !named_here
                && let Some(relay) = &self.shared.relay
                && let Some(operator) = self.operator_of(&bare)
            {
                relay.forward(&operator, resource, &presence);
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
                self.relay_presence(&presence);
                self.report_availability(taking_chats(&presence));
                if initial {
                    // The presence of everyone already online, as a probe would give.
                    let mut online = Vec::new();
                    for bare in self.contact_jids.iter().chain(std::iter::once(&self.bare)) {
                        for (resource, _, mut theirs) in router.available(bare) {
                            if *bare == self.bare && resource == self.resource {
                                continue;
                            }
                            set_attr(&mut theirs, name("to"), &self.full);
                            online.push(theirs);
                        }
                    }
                    // And everyone's on other nodes (issue 14).
                    for bare in self.contact_jids.iter().chain(std::iter::once(&self.bare)) {
                        online.extend(self.remote_presences(bare));
                    }
                    // The board is always there; a visitor while the chat lasts.
                    online.extend(self.gateway_presences());
                    for theirs in online {
                        self.deliver(stream, theirs).await?;
                    }
                    self.give_offline_messages();
                }
                Ok(())
            }
            "unavailable" => {
                self.available = false;
                self.shared
                    .router
                    .set_presence(&self.bare, &self.resource, self.connection, None);
                self.broadcast(&presence);
                self.relay_presence(&presence);
                self.report_availability(Availability::Unavailable);
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
                let _ = mailbox.send(Outbound::stanza(copy));
            }
        }
    }

    async fn iq(&mut self, stream: &mut Stream, iq: Element) -> Handled {
        let kind = iq.attr("type").unwrap_or_default();
        let request = matches!(kind, "get" | "set");
        if !request && !matches!(kind, "result" | "error") {
            return self
                .bounce(stream, &iq, StanzaErrorCondition::BadRequest)
                .await;
        }
        let vcard_get = kind == "get" && iq.has_child("vCard", ns::VCARD);
        match self.target(iq.attr("to")) {
            // To the server, or to our own account: the server answers.
            Ok(Target::Server | Target::Own(None)) => {}
            Ok(Target::Own(Some(resource))) => {
                let (bare, resource) = (self.bare.clone(), resource.to_owned());
                return self.forward_iq(stream, iq, &bare, &resource).await;
            }
            Ok(Target::Colleague(bare, Some(resource))) => {
                let resource = resource.to_owned();
                return self.forward_iq(stream, iq, &bare, &resource).await;
            }
            // A contact's vCard is the server's to give (XEP-0054).
            Ok(target @ (Target::Colleague(_, None) | Target::Gateway(_))) if vcard_get => {
                let wanted = match target {
                    Target::Gateway(id) => Some(id),
                    Target::Colleague(bare, _) => bare.split('@').next().and_then(jids::contact),
                    _ => None,
                };
                let reply = match self
                    .contacts
                    .iter()
                    .find(|c| Some(&c.id) == wanted.as_ref())
                {
                    Some(contact) => iq_result(
                        &iq,
                        Some(vcard(&contact.name, None, contact.photo.as_ref())),
                    ),
                    None => error_reply(&iq, StanzaErrorCondition::ItemNotFound),
                };
                return self.deliver(stream, reply).await;
            }
            Ok(_) if request => {
                return self
                    .bounce(stream, &iq, StanzaErrorCondition::ServiceUnavailable)
                    .await;
            }
            Ok(_) => return Ok(()),
            Err(condition) => return self.bounce(stream, &iq, condition).await,
        }
        if !request {
            return Ok(());
        }
        if kind == "set"
            && let Some(query) = iq.children().next().filter(|q| q.is("query", ns::MAM))
        {
            return match self.query_archive(&iq, query) {
                Some(reply) => self.deliver(stream, reply).await,
                None => Ok(()),
            };
        }
        let reply = self.serve_iq(&iq, kind == "get").await;
        self.deliver(stream, reply).await
    }
}

impl Session {
    /// An iq for one resource of `bare`: passed on, or bounced if nobody
    /// is there to answer a request.
    async fn forward_iq(
        &mut self,
        stream: &mut Stream,
        iq: Element,
        bare: &str,
        resource: &str,
    ) -> Handled {
        let request = matches!(iq.attr("type"), Some("get" | "set"));
        match self.shared.router.resource(bare, resource) {
            Some(mailbox) => {
                let _ = mailbox.send(Outbound::stanza(iq));
                Ok(())
            }
            None if request => {
                self.bounce(stream, &iq, StanzaErrorCondition::ServiceUnavailable)
                    .await
            }
            None => Ok(()),
        }
    }

    /// The available presence of the gateway's contacts on our list (the
    /// board, visitors), from their full JIDs, with their status.
    fn gateway_presences(&self) -> Vec<Element> {
        let domain = &self.shared.config.domain;
        self.contacts
            .iter()
            .filter(|c| !matches!(c.id, ContactId::Colleague(_)))
            .map(|c| {
                let mut presence = Element::builder("presence", ns::CLIENT)
                    .attr(name("from"), jids::from(&c.id, domain))
                    .attr(name("to"), self.full.as_str());
                if let Some(status) = self.statuses.get(&c.id) {
                    presence = presence.append(
                        Element::builder("status", ns::CLIENT)
                            .append(status.as_str())
                            .build(),
                    );
                }
                presence.build()
            })
            .collect()
    }
}

/// Where a stanza from the client goes.
#[derive(Debug)]
enum Target<'a> {
    /// The server itself.
    Server,
    /// The operator's own account (and maybe one of its resources).
    Own(Option<&'a str>),
    /// A colleague's bare JID (lower case), maybe one resource.
    Colleague(String, Option<&'a str>),
    /// A visitor or the board: the chat domain's.
    Gateway(ContactId),
}

/// Whether a message is one XEP-0280 copies: a chat, or a normal message
/// with a body, not marked private or no-copy, and not a copy itself.
fn wants_carbons(message: &Element) -> bool {
    let kind = message.attr("type").unwrap_or("normal");
    let eligible = kind == "chat" || (kind == "normal" && message.has_child("body", ns::CLIENT));
    eligible
        && !message.has_child("private", ns::CARBONS)
        && !message.has_child("no-copy", ns::HINTS)
        && !message.has_child("sent", ns::CARBONS)
        && !message.has_child("received", ns::CARBONS)
}

/// Runs `work` (which may write to the client) unless the mailbox
/// overflows first: a client that reads nothing blocks our writes, and
/// must not block its own disconnection.
async fn unless(overflow: &tokio::sync::Notify, work: impl Future<Output = Handled>) -> Handled {
    tokio::select! {
        handled = work => handled,
        () = overflow.notified() => Err(too_slow()),
    }
}

fn too_slow() -> Closing {
    Closing::Error(
        StreamErrorCondition::PolicyViolation,
        Some("too many stanzas queued: the client does not read them".into()),
    )
}

/// What an available presence says of chats (RFC 6121 `<show/>`): `away`,
/// `xa` and `dnd` are present but take none; `chat` and no show take them.
/// A presence of another type is [`Availability::Unavailable`].
pub fn taking_chats(presence: &Element) -> Availability {
    if presence.attr("type").is_some_and(|t| t != "available") {
        return Availability::Unavailable;
    }
    let show = presence
        .get_child("show", ns::CLIENT)
        .map(|show| show.text());
    match show.as_deref().map(str::trim) {
        Some("away" | "xa" | "dnd") => Availability::NotTaking,
        _ => Availability::Taking,
    }
}
