//! Between nodes (issue 14): the [`Relay`] seam through which presence and
//! stanzas among operators reach resources bound on other server
//! processes, and the inbound side, [`ServerHandle::deliver`] and
//! [`ServerHandle::remote_presence`], through which what other nodes carry
//! reaches this one's resources.
//!
//! [`ServerHandle::deliver`]: crate::ServerHandle::deliver
//! [`ServerHandle::remote_presence`]: crate::ServerHandle::remote_presence

use minidom::Element;
use salesiq_session::{ContactId, DeviceId, OperatorRef};

use crate::jids;
use crate::ns;
use crate::router::Outbound;
use crate::shared::Shared;
use crate::stanza::{Address, name, priority, set_attr, valid_resource};

/// Carries what the operators of this server say to resources on other
/// nodes (issue 14), and answers what those nodes last said. Supplied by
/// the embedder with [`ServerBuilder::relay`] as `Arc<dyn Relay>` (e.g.
/// over NATS); without one, a server knows only its own resources.
///
/// The other direction goes through the receiving node's
/// [`ServerHandle`]: what [`Relay::presence`] carries there is given to
/// [`ServerHandle::remote_presence`], what [`Relay::forward`] carries to
/// [`ServerHandle::deliver`].
///
/// Every method is called from a connection task, outside any lock, and
/// must not block: a relay publishes without waiting, and answers
/// [`Relay::presences`] and the result of [`Relay::forward`] from what it
/// already holds (e.g. a presence registry fed by the other nodes).
///
/// The server has checked everything it hands over: the operator is this
/// resource's own account or a colleague on its contact list (never
/// another portal), and each stanza carries the sender's full JID as
/// `from`. XEP-0280 carbon copies stay on the node that makes them:
/// neither `<sent/>` copies to the sender's resources nor `<received/>`
/// copies to the recipient's cross nodes. Messages are archived
/// (XEP-0313) once, on the sender's node, before they are forwarded, and
/// carry the XEP-0359 `<stanza-id/>` of the recipient's archive.
///
/// A relay over a network publishes in these methods and, once the
/// server is bound, runs a task that hands what it receives to the
/// server's [`ServerHandle`]. One that connects two servers in memory,
/// for a test: each side holds the other's [`ServerHandle`] (set once
/// both are bound) and remembers what the other side's resources said.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex, OnceLock};
/// use minidom::Element;
/// use salesiq_session::{DeviceId, OperatorRef};
/// use salesiq_xmpp::{Relay, ServerHandle};
///
/// /// Presences of one node's resources: (operator, resource) -> presence.
/// type Said = Mutex<HashMap<(OperatorRef, String), Element>>;
///
/// #[derive(Debug, Default)]
/// struct Link {
///     peer: OnceLock<ServerHandle>,
///     /// What this side's resources said (the peer's `presences`).
///     mine: Arc<Said>,
///     /// What the peer's resources said.
///     theirs: Arc<Said>,
/// }
///
/// impl Relay for Link {
///     fn presence(&self, operator: &OperatorRef, resource: &str, _: DeviceId, presence: &Element) {
///         let key = (operator.clone(), resource.to_owned());
///         let mut mine = self.mine.lock().unwrap_or_else(|e| e.into_inner());
///         if presence.attr("type") == Some("unavailable") {
///             mine.remove(&key);
///         } else {
///             mine.insert(key, presence.clone());
///         }
///         drop(mine);
///         if let Some(peer) = self.peer.get() {
///             peer.remote_presence(operator, resource, presence.clone());
///         }
///     }
///
///     fn presences(&self, operator: &OperatorRef) -> Vec<(String, Element)> {
///         let theirs = self.theirs.lock().unwrap_or_else(|e| e.into_inner());
///         theirs
///             .iter()
///             .filter(|((o, _), _)| o == operator)
///             .map(|((_, r), p)| (r.clone(), p.clone()))
///             .collect()
///     }
///
///     fn forward(&self, operator: &OperatorRef, resource: Option<&str>, stanza: &Element) -> bool {
///         let there = self
///             .presences(operator)
///             .iter()
///             .any(|(r, _)| resource.is_none_or(|wanted| wanted == r));
///         if let (true, Some(peer)) = (there, self.peer.get()) {
///             peer.deliver(operator, resource, stanza.clone());
///         }
///         there
///     }
/// }
/// ```
///
/// [`ServerBuilder::relay`]: crate::ServerBuilder::relay
/// [`ServerHandle`]: crate::ServerHandle
/// [`ServerHandle::remote_presence`]: crate::ServerHandle::remote_presence
/// [`ServerHandle::deliver`]: crate::ServerHandle::deliver
pub trait Relay: Send + Sync + std::fmt::Debug {
    /// `resource` of `operator`, bound on this server as `device` (the
    /// [`DeviceId`] the gateway knows it by), broadcast `presence`:
    /// available (initial or an update), or `type='unavailable'` (also
    /// when the session ends without one: exactly where the local
    /// contacts are told). For the operator's colleagues and own
    /// resources on other nodes. The element has `from` = the full JID
    /// and no `to`.
    fn presence(
        &self,
        operator: &OperatorRef,
        resource: &str,
        device: DeviceId,
        presence: &Element,
    );

    /// The available resources of `operator` on other nodes, with their
    /// last broadcast presence (as given to [`Relay::presence`] there):
    /// part of the answer to a resource's initial presence, as the local
    /// ones are. Anything but an available `<presence/>` is left out, and
    /// `from` and `to` are set by the server.
    fn presences(&self, operator: &OperatorRef) -> Vec<(String, Element)>;

    /// Carries `stanza` (a message or a directed presence, `to` already
    /// set) to `operator`'s resources on other nodes: the resource named,
    /// or with `None` every available one there (the receiving node
    /// applies RFC 6121's bare-JID rules). Returns whether it was carried
    /// somewhere: with a resource, whether that resource is available on
    /// another node; with `None`, whether some other node has an
    /// available resource of `operator`.
    ///
    /// A message to a resource not bound here is offered to the relay
    /// first; when it returns `false`, the message is handled as if sent
    /// to the bare JID (here and, through the relay, elsewhere). A
    /// message nobody here can take is kept offline (XEP-0160) or bounced
    /// only when this returns `false` too.
    fn forward(&self, operator: &OperatorRef, resource: Option<&str>, stanza: &Element) -> bool;
}

/// [`crate::ServerHandle::deliver`]: a stanza from another node for
/// this server's resources of `to`.
pub(crate) fn deliver(shared: &Shared, to: &OperatorRef, resource: Option<&str>, stanza: Element) {
    let presence = match (stanza.ns() == ns::CLIENT, stanza.name()) {
        (true, "message") => false,
        (true, "presence") => true,
        _ => {
            let kind = stanza.name();
            tracing::debug!(%to, kind, "a relayed stanza, not a message or presence, was dropped");
            return;
        }
    };
    let domain = &shared.config.domain;
    let bare = jids::operator(to, domain);
    let addressed = stanza
        .attr("to")
        .and_then(Address::parse)
        .and_then(|a| bare_of(&a, domain))
        .is_some_and(|b| b == bare);
    if !addressed {
        tracing::debug!(%to, "a relayed stanza addressed to someone else was dropped");
        return;
    }
    let Some(sender) = stanza
        .attr("from")
        .and_then(Address::parse)
        .and_then(|a| colleague(&a, domain, to))
    else {
        tracing::debug!(%to, "a relayed stanza from nobody of this portal was dropped");
        return;
    };
    let from = stanza.attr("from").unwrap_or_default();
    let hearing = shared.router.hearing(&bare, &sender);
    if let Some(wanted) = resource {
        if let Some((_, mailbox, available)) = hearing.iter().find(|(r, ..)| r == wanted) {
            if !presence || available.is_some() {
                let _ = mailbox.send(Outbound::stanza(stanza));
            }
            return;
        }
        // Gone meanwhile: a directed presence goes nowhere; a message
        // goes by the bare JID, as it would have from here.
        if presence {
            return;
        }
    }
    for (r, mailbox, available) in hearing {
        let Some(available) = available else { continue };
        if format!("{bare}/{r}") == from {
            continue;
        }
        if presence || priority(&available) >= 0 {
            let _ = mailbox.send(Outbound::stanza(stanza.clone()));
        }
    }
}

/// [`crate::ServerHandle::remote_presence`]: a presence broadcast by
/// `from`'s `resource` on another node.
pub(crate) fn remote_presence(
    shared: &Shared,
    from: &OperatorRef,
    resource: &str,
    mut presence: Element,
) {
    let broadcast = presence.ns() == ns::CLIENT
        && presence.name() == "presence"
        && matches!(presence.attr("type"), None | Some("unavailable"));
    if !broadcast || !valid_resource(resource) {
        tracing::debug!(%from, "a relayed presence that is no broadcast was dropped");
        return;
    }
    let bare = jids::operator(from, &shared.config.domain);
    let full = format!("{bare}/{resource}");
    set_attr(&mut presence, name("from"), &full);
    for (recipient, mailbox) in shared.router.watchers(&bare, from.portal()) {
        if recipient == full {
            continue;
        }
        let mut copy = presence.clone();
        set_attr(&mut copy, name("to"), &recipient);
        let _ = mailbox.send(Outbound::stanza(copy));
    }
}

/// The bare JID (lower case) of an address of this domain with a localpart.
fn bare_of(address: &Address<'_>, domain: &str) -> Option<String> {
    let ours = address
        .domain
        .trim_end_matches('.')
        .eq_ignore_ascii_case(domain);
    let local = address.local.filter(|_| ours)?;
    Some(format!("{}@{domain}", local.to_lowercase()))
}

/// The bare JID of `address` if it names `of` or a colleague of the same
/// portal (the only senders whose stanzas a relay may bring).
fn colleague(address: &Address<'_>, domain: &str, of: &OperatorRef) -> Option<String> {
    let bare = bare_of(address, domain)?;
    match address.local.and_then(jids::contact)? {
        ContactId::Colleague(sender) if sender.portal() == of.portal() => Some(bare),
        _ => None,
    }
}
