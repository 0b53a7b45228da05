//! One gateway node among many: [`ClusterNode`] wires a [`Gateway`] and
//! an XMPP server to the others over a [`Bus`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use minidom::Element;
use salesiq_session::{
    Availability, BoxFuture, ChatId, Cluster, ContactId, DeviceId, Gateway, Listing, OperatorEvent,
    OperatorInput, OperatorRef, OperatorSink, PortError, RosterItem,
};
use salesiq_xmpp::{Relay, ServerHandle};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::bus::Bus;
use crate::error::Error;
use crate::presence::{NodeId, PresenceConfig, PresenceEvent, PresenceRegistry};
use crate::wire::{Listings, ToNode, WireEvent, WireListing, WirePresence};

/// Subjects of messages for one node: `salesiq.node.<node>`.
pub const NODE_SUBJECT_PREFIX: &str = "salesiq.node.";
/// Subjects of each node's chat listings: `salesiq.listing.<node>`.
pub const LISTING_SUBJECT_PREFIX: &str = "salesiq.listing.";
/// Subjects of each node's XMPP presence broadcasts: `salesiq.xmpp.<node>`.
pub const XMPP_SUBJECT_PREFIX: &str = "salesiq.xmpp.";

/// How many messages wait to be published (16,384) before the hot paths
/// that queue them see [`PortError::Busy`] (input) or drop them (logged).
pub const OUTBOX: usize = 16 * 1024;

/// How often a node publishes all its chats' listings again, for nodes
/// that missed a change or joined since.
pub const LISTING_REFRESH: Duration = Duration::from_secs(2);

/// How long a listing not heard of again is kept.
pub const LISTING_EXPIRY: Duration = Duration::from_secs(7);

/// How long this node must be back on the bus before it decides that a
/// node that fell silent meanwhile is lost (and adopts its chats).
pub const SETTLE: Duration = Duration::from_secs(4);

/// How long [`Cluster::release`] waits for the owner's answer.
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(3);

/// Visitor contacts whose node is remembered from events.
const MAX_HINTS: usize = 65_536;

/// What a lost node's resources are said to send.
const UNAVAILABLE: &str = "<presence xmlns='jabber:client' type='unavailable'/>";

/// Listings per refresh message.
const LISTINGS_PER_MESSAGE: usize = 256;

/// The high bit marks the device ids this node gives other nodes'
/// resources (the XMPP server numbers its own connections from 1).
const REMOTE_DEVICE: u64 = 1 << 63;

/// One node of a multi-node gateway. Start it, build the XMPP server with
/// its [`relay`](Self::relay) and a gateway with its
/// [`cluster`](Self::cluster) and [`sink`](Self::sink), then
/// [`serve`](Self::serve) the bound server's handle:
///
/// ```no_run
/// # use std::sync::Arc;
/// # use salesiq_cluster::{ClusterNode, NatsBus, NodeId};
/// # use salesiq_session::{Gateway, MemoryAccounts, SqliteStore, Store};
/// # use salesiq_xmpp::{Config, Server, TlsIdentity};
/// # async fn run(store: Arc<dyn Store>) -> Result<(), Box<dyn std::error::Error>> {
/// let bus = Arc::new(NatsBus::connect("nats://127.0.0.1:4222").await?);
/// let node = ClusterNode::start(bus, NodeId::new("a")?).await?;
/// let accounts = Arc::new(MemoryAccounts::new());
/// let config = Config::new("salesiq.zoho.com");
/// let identity = TlsIdentity::self_signed(&config.domain)?;
/// let (cluster, wrap) = (node.cluster(), node.clone());
/// let server = Server::builder(config, identity, accounts.clone(), accounts)
///     .relay(node.relay())
///     .gateway(move |sink| Gateway::builder(store).cluster(cluster).build(wrap.sink(sink)))
///     .bind()
///     .await?;
/// node.serve(server.handle()).await?;
/// server.run(std::future::pending()).await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClusterNode {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    node: NodeId,
    bus: Arc<dyn Bus>,
    registry: PresenceRegistry,
    out: mpsc::Sender<Out>,
    state: Mutex<State>,
    next_release: AtomicU64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What waits to be published, in order.
#[derive(Debug)]
enum Out {
    Publish(String, Bytes),
    /// A local resource's availability for the registry, then its
    /// presence broadcast.
    Presence {
        operator: OperatorRef,
        resource: String,
        available: bool,
        broadcast: Bytes,
    },
}

#[derive(Debug, Default)]
struct State {
    /// This node's chats, as last listed.
    local: HashMap<ChatId, Listing>,
    /// Other nodes' chats, by visitor contact.
    remote: HashMap<ContactId, Remote>,
    /// This server's available resources, and their device ids.
    local_devices: BTreeMap<(OperatorRef, String), DeviceId>,
    /// The ids given other nodes' resources, both ways.
    remote_devices: HashMap<DeviceId, (NodeId, OperatorRef, String)>,
    remote_ids: HashMap<(NodeId, OperatorRef, String), DeviceId>,
    next_remote: u64,
    /// Other nodes' resources' last presence broadcast.
    presences: HashMap<(OperatorRef, String), (NodeId, Element)>,
    /// Releases asked of other nodes, waiting for their answer.
    releases: HashMap<u64, oneshot::Sender<()>>,
    /// The node that offered or added each visitor contact, until its
    /// listing arrives (at most [`MAX_HINTS`]).
    hints: HashMap<ContactId, NodeId>,
    /// Nodes lost while this one was off the bus, to be settled when it
    /// is back ([`Bus::is_connected`]).
    silent: BTreeSet<NodeId>,
    /// Since when this node is on the bus without a break, as last seen.
    connected_since: Option<Instant>,
}

#[derive(Debug)]
struct Remote {
    node: NodeId,
    chat: ChatId,
    listing: Listing,
    seen: Instant,
}

impl ClusterNode {
    /// Joins the other nodes on `bus` as `node`, with the default
    /// presence timings ([`PresenceConfig::default`]).
    pub async fn start(bus: Arc<dyn Bus>, node: NodeId) -> Result<Self, Error> {
        Self::start_with(bus, node, PresenceConfig::default()).await
    }

    /// [`start`](Self::start) with other presence timings.
    pub async fn start_with(
        bus: Arc<dyn Bus>,
        node: NodeId,
        presence: PresenceConfig,
    ) -> Result<Self, Error> {
        let registry = PresenceRegistry::start(bus.clone(), node.clone(), presence).await?;
        let (out, queue) = mpsc::channel(OUTBOX);
        let shared = Arc::new(Shared {
            node,
            bus,
            registry,
            out,
            state: Mutex::default(),
            next_release: AtomicU64::new(1),
            tasks: Mutex::default(),
        });
        let publisher = tokio::spawn(publish(Arc::downgrade(&shared), queue));
        shared.tasks().push(publisher);
        Ok(Self { shared })
    }

    /// This node's id.
    pub fn node(&self) -> &NodeId {
        &self.shared.node
    }

    /// The presence registry: which operator resources are available on
    /// which node.
    pub fn registry(&self) -> &PresenceRegistry {
        &self.shared.registry
    }

    /// What the gateway asks of the other nodes
    /// ([`salesiq_session::GatewayBuilder::cluster`]).
    pub fn cluster(&self) -> Arc<dyn Cluster> {
        Arc::new(Link(self.shared.clone()))
    }

    /// What the XMPP server tells the other nodes
    /// ([`salesiq_xmpp::ServerBuilder::relay`]).
    pub fn relay(&self) -> Arc<dyn Relay> {
        Arc::new(Link(self.shared.clone()))
    }

    /// The gateway's sink: `local` (the XMPP server's) for this node's
    /// resources, the bus for the others'.
    pub fn sink(&self, local: Arc<dyn OperatorSink>) -> Arc<dyn OperatorSink> {
        Arc::new(ClusterSink {
            local,
            shared: self.shared.clone(),
        })
    }

    /// Starts taking what the other nodes send, for `server` (bound, with
    /// a gateway built on this node's [`cluster`](Self::cluster) and
    /// [`sink`](Self::sink)).
    pub async fn serve(&self, server: ServerHandle) -> Result<(), Error> {
        let node = self.shared.node.as_str();
        let mine = self
            .shared
            .bus
            .subscribe(&format!("{NODE_SUBJECT_PREFIX}{node}"))
            .await?;
        let listings = self
            .shared
            .bus
            .subscribe(&format!("{LISTING_SUBJECT_PREFIX}*"))
            .await?;
        let xmpp = self
            .shared
            .bus
            .subscribe(&format!("{XMPP_SUBJECT_PREFIX}*"))
            .await?;
        let events = self.shared.registry.events();
        let inbound = Inbound {
            shared: self.shared.clone(),
            local: server.sink(),
            gateway: server.gateway().cloned(),
            server,
        };
        let task = tokio::spawn(inbound.run(mine, listings, xmpp, events));
        self.shared.tasks().push(task);
        Ok(())
    }

    /// Leaves: the other nodes drop this node's operators at once (and
    /// take its chats over). Call after the gateway's
    /// [`Gateway::shut_down`].
    pub async fn shutdown(&self) -> Result<(), Error> {
        let result = self.shared.registry.leave().await;
        for task in self.shared.tasks().drain(..) {
            task.abort();
        }
        result
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tasks(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `message` for `node`; whether it was queued.
    fn to_node(&self, node: &NodeId, message: &ToNode) -> bool {
        self.queue(&format!("{NODE_SUBJECT_PREFIX}{}", node.as_str()), message)
    }

    fn queue(&self, subject: &str, message: &impl serde::Serialize) -> bool {
        let payload = match serde_json::to_vec(message) {
            Ok(payload) => Bytes::from(payload),
            Err(error) => {
                tracing::warn!(%error, "a bus message could not be encoded");
                return false;
            }
        };
        match self.out.try_send(Out::Publish(subject.to_owned(), payload)) {
            Ok(()) => true,
            Err(_) => {
                tracing::warn!(subject, "the bus outbox is full: a message was dropped");
                false
            }
        }
    }

    /// The other nodes where `operator` has an available resource (the
    /// one named, if any).
    fn remote_nodes(&self, operator: &OperatorRef, resource: Option<&str>) -> BTreeSet<NodeId> {
        self.registry
            .locations(operator)
            .into_iter()
            .filter(|(node, r)| *node != self.node && resource.is_none_or(|want| want == r))
            .map(|(node, _)| node)
            .collect()
    }

    /// Whether `operator` has an available resource on this server: a
    /// range of the ordered map, not a scan of every device.
    fn has_local(&self, operator: &OperatorRef) -> bool {
        self.state()
            .local_devices
            .range((operator.clone(), String::new())..)
            .next()
            .is_some_and(|((o, _), _)| o == operator)
    }

    fn listing_subject(&self) -> String {
        format!("{LISTING_SUBJECT_PREFIX}{}", self.node.as_str())
    }
}

/// The node as the gateway and the XMPP server see it.
#[derive(Debug)]
struct Link(Arc<Shared>);

impl Cluster for Link {
    fn node(&self) -> &str {
        self.0.node.as_str()
    }

    fn forward(
        &self,
        operator: &OperatorRef,
        device: DeviceId,
        to: &ContactId,
        input: OperatorInput,
    ) -> Result<(), PortError> {
        if device == DeviceId(REMOTE_DEVICE) {
            // Input another node forwarded here, for a chat not here (any
            // more): never forwarded twice, so stale views cannot loop.
            return Err(PortError::NoSuchChat);
        }
        let node = {
            let state = self.0.state();
            match state.remote.get(to) {
                Some(remote) if remote.listing.audience.contains(operator) => remote.node.clone(),
                Some(_) => return Err(PortError::NoSuchChat),
                // Offered a moment ago, listed in a moment: the owner's
                // chat checks who may write anyway.
                None => state.hints.get(to).cloned().ok_or(PortError::NoSuchChat)?,
            }
        };
        let message = ToNode::Input {
            operator: operator.into(),
            to: to.into(),
            input: (&input).into(),
        };
        if self.0.to_node(&node, &message) {
            Ok(())
        } else {
            Err(PortError::Busy)
        }
    }

    fn roster(&self, operator: &OperatorRef) -> Vec<RosterItem> {
        let state = self.0.state();
        state
            .remote
            .values()
            .filter(|r| r.listing.audience.contains(operator))
            .map(|r| r.listing.item.clone())
            .collect()
    }

    fn listing(&self, chat: ChatId, listing: Option<&Listing>) {
        let subject = self.0.listing_subject();
        match listing {
            Some(listing) => {
                self.0.state().local.insert(chat, listing.clone());
                let message = Listings::Set {
                    listings: vec![WireListing::new(chat, listing)],
                };
                self.0.queue(&subject, &message);
            }
            None => {
                if self.0.state().local.remove(&chat).is_some() {
                    self.0.queue(&subject, &Listings::Gone { chat: chat.0 });
                }
            }
        }
    }

    fn release<'a>(&'a self, chat: ChatId, owner: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Ok(owner) = NodeId::new(owner) else {
                return true;
            };
            if owner == self.0.node {
                return true;
            }
            if !self.0.registry.nodes().contains(&owner) {
                // Not heard from within the expiry: gone.
                return true;
            }
            let id = self.0.next_release.fetch_add(1, Ordering::Relaxed);
            let (done, answer) = oneshot::channel();
            self.0.state().releases.insert(id, done);
            let message = ToNode::Release {
                chat: chat.0,
                id,
                from: self.0.node.as_str().to_owned(),
            };
            let released = self.0.to_node(&owner, &message)
                && matches!(
                    tokio::time::timeout(RELEASE_TIMEOUT, answer).await,
                    Ok(Ok(()))
                );
            self.0.state().releases.remove(&id);
            released
        })
    }
}

impl Relay for Link {
    fn presence(
        &self,
        operator: &OperatorRef,
        resource: &str,
        device: DeviceId,
        presence: &Element,
    ) {
        let available = presence.attr("type").is_none_or(|t| t == "available");
        {
            let mut state = self.0.state();
            let key = (operator.clone(), resource.to_owned());
            if available {
                state.local_devices.insert(key, device);
            } else if state.local_devices.get(&key) == Some(&device) {
                state.local_devices.remove(&key);
            }
        }
        let broadcast = WirePresence {
            operator: operator.into(),
            resource: resource.to_owned(),
            available,
            xml: String::from(presence),
        };
        let Ok(broadcast) = serde_json::to_vec(&broadcast) else {
            return;
        };
        let out = Out::Presence {
            operator: operator.clone(),
            resource: resource.to_owned(),
            available,
            broadcast: Bytes::from(broadcast),
        };
        if self.0.out.try_send(out).is_err() {
            tracing::warn!(%operator, "the bus outbox is full: a presence was dropped");
        }
    }

    fn presences(&self, operator: &OperatorRef) -> Vec<(String, Element)> {
        let here = self.0.node.clone();
        let located = self.0.registry.locations(operator);
        let state = self.0.state();
        located
            .into_iter()
            .filter(|(node, _)| *node != here)
            .map(|(_, resource)| {
                let presence = state
                    .presences
                    .get(&(operator.clone(), resource.clone()))
                    .map(|(_, p)| p.clone())
                    .unwrap_or_else(|| Element::bare("presence", "jabber:client"));
                (resource, presence)
            })
            .collect()
    }

    fn forward(&self, operator: &OperatorRef, resource: Option<&str>, stanza: &Element) -> bool {
        let nodes = self.0.remote_nodes(operator, resource);
        let message = ToNode::Stanza {
            operator: operator.into(),
            resource: resource.map(str::to_owned),
            xml: String::from(stanza),
        };
        for node in &nodes {
            self.0.to_node(node, &message);
        }
        !nodes.is_empty()
    }
}

/// The gateway's sink on a node of many.
#[derive(Debug)]
struct ClusterSink {
    local: Arc<dyn OperatorSink>,
    shared: Arc<Shared>,
}

impl OperatorSink for ClusterSink {
    fn send(&self, operator: &OperatorRef, event: OperatorEvent) {
        let nodes = self.shared.remote_nodes(operator, None);
        if nodes.is_empty() {
            // Here, or nowhere (then kept for later here).
            return self.local.send(operator, event);
        }
        let here = self.shared.has_local(operator);
        let wire = WireEvent::from(&event);
        for (i, node) in nodes.iter().enumerate() {
            // One node archives it: this one if the operator is here too.
            let message = ToNode::Event {
                from: self.shared.node.as_str().to_owned(),
                operator: operator.into(),
                resource: None,
                keep: !here && i == 0,
                event: wire.clone(),
            };
            self.shared.to_node(node, &message);
        }
        if here {
            self.local.send(operator, event);
        }
    }

    fn send_to_device(&self, operator: &OperatorRef, device: DeviceId, event: OperatorEvent) {
        let remote = self.shared.state().remote_devices.get(&device).cloned();
        match remote {
            Some((node, _, resource)) => {
                let message = ToNode::Event {
                    from: self.shared.node.as_str().to_owned(),
                    operator: operator.into(),
                    resource: Some(resource),
                    keep: true,
                    event: WireEvent::from(&event),
                };
                self.shared.to_node(&node, &message);
            }
            None => self.local.send_to_device(operator, device, event),
        }
    }

    fn deliver(&self, operator: &OperatorRef, event: OperatorEvent) {
        self.local.deliver(operator, event);
    }
}

/// Publishes what the node queued, in order.
async fn publish(shared: std::sync::Weak<Shared>, mut queue: mpsc::Receiver<Out>) {
    while let Some(out) = queue.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match out {
            Out::Publish(subject, payload) => {
                if let Err(error) = shared.bus.publish(&subject, payload).await {
                    tracing::warn!(%subject, %error, "a bus message was not published");
                }
            }
            Out::Presence {
                operator,
                resource,
                available,
                broadcast,
            } => {
                if let Err(error) = shared
                    .registry
                    .set_available(&operator, &resource, available)
                    .await
                {
                    tracing::warn!(%operator, %error, "a resource's availability was not announced");
                }
                let subject = format!("{XMPP_SUBJECT_PREFIX}{}", shared.node.as_str());
                if let Err(error) = shared.bus.publish(&subject, broadcast).await {
                    tracing::warn!(%subject, %error, "a presence was not published");
                }
            }
        }
    }
}

/// What takes the other nodes' messages on this node.
struct Inbound {
    shared: Arc<Shared>,
    server: ServerHandle,
    local: Arc<dyn OperatorSink>,
    gateway: Option<Gateway>,
}

impl Inbound {
    async fn run(
        self,
        mut mine: crate::Subscription,
        mut listings: crate::Subscription,
        mut xmpp: crate::Subscription,
        mut events: tokio::sync::broadcast::Receiver<PresenceEvent>,
    ) {
        let mut refresh = tokio::time::interval(LISTING_REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(message) = mine.recv() => self.to_me(&message.payload),
                Some(message) = listings.recv() => {
                    if let Some(node) = self.other_node(&message.subject, LISTING_SUBJECT_PREFIX) {
                        self.listings(node, &message.payload);
                    }
                }
                Some(message) = xmpp.recv() => {
                    if let Some(node) = self.other_node(&message.subject, XMPP_SUBJECT_PREFIX) {
                        self.presence(node, &message.payload);
                    }
                }
                event = events.recv() => match event {
                    Ok(event) => self.registry_event(event),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(lost = n, "presence events lost; devices resynced");
                        self.resync_devices();
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = refresh.tick() => {
                    self.refresh();
                    self.settle_silent();
                }
                else => return,
            }
        }
    }

    /// The sending node of a message on `prefix<node>`, unless it is us.
    fn other_node(&self, subject: &str, prefix: &str) -> Option<NodeId> {
        let node = NodeId::new(subject.strip_prefix(prefix)?).ok()?;
        (node != self.shared.node).then_some(node)
    }

    fn to_me(&self, payload: &[u8]) {
        let message: ToNode = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "a malformed message for this node was ignored");
                return;
            }
        };
        match message {
            ToNode::Event {
                from,
                operator,
                resource,
                keep,
                event,
            } => {
                let Some(operator) = operator.operator() else {
                    return;
                };
                let Some(event) = event.event(operator.portal()) else {
                    return;
                };
                if let Ok(from) = NodeId::new(&from) {
                    self.hint(&from, &event);
                }
                match resource {
                    Some(resource) => {
                        let device = self
                            .shared
                            .state()
                            .local_devices
                            .get(&(operator.clone(), resource))
                            .copied();
                        if let Some(device) = device {
                            self.local.send_to_device(&operator, device, event);
                        }
                    }
                    None if keep => self.local.send(&operator, event),
                    None => self.local.deliver(&operator, event),
                }
            }
            ToNode::Input {
                operator,
                to,
                input,
            } => {
                let (Some(gateway), Some(operator), Some(to), Some(input)) = (
                    &self.gateway,
                    operator.operator(),
                    to.contact(),
                    input.input(),
                ) else {
                    return;
                };
                if let Err(error) = gateway.submit(&operator, DeviceId(REMOTE_DEVICE), &to, input) {
                    tracing::info!(%operator, %error, "input from another node refused");
                }
            }
            ToNode::Stanza {
                operator,
                resource,
                xml,
            } => {
                let Some(operator) = operator.operator() else {
                    return;
                };
                match xml.parse::<Element>() {
                    Ok(stanza) => self.server.deliver(&operator, resource.as_deref(), stanza),
                    Err(error) => tracing::warn!(%error, "a malformed stanza from another node"),
                }
            }
            ToNode::Release { chat, id, from } => {
                let (Some(gateway), Ok(from)) = (self.gateway.clone(), NodeId::new(&from)) else {
                    return;
                };
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    if let Err(error) = gateway.release_chat(ChatId(chat)).await {
                        tracing::warn!(chat, %error, "a chat was not given up cleanly");
                    }
                    shared.to_node(&from, &ToNode::Released { id });
                });
            }
            ToNode::Released { id } => {
                if let Some(done) = self.shared.state().releases.remove(&id) {
                    let _ = done.send(());
                }
            }
        }
    }

    /// Remembers which node runs the chat of a visitor contact an event
    /// adds (or forgets it when the event removes it): the offer arrives
    /// before the chat's listing does, and an operator's `y` may follow
    /// the offer at once.
    fn hint(&self, from: &NodeId, event: &OperatorEvent) {
        let mut state = self.shared.state();
        match event {
            OperatorEvent::ContactAdded { contact, .. }
                if matches!(contact.id, ContactId::Visitor { .. }) =>
            {
                if state.hints.len() >= MAX_HINTS {
                    state.hints.clear();
                }
                state.hints.insert(contact.id.clone(), from.clone());
            }
            OperatorEvent::ContactRemoved { contact } => {
                state.hints.remove(contact);
            }
            _ => {}
        }
    }

    fn listings(&self, node: NodeId, payload: &[u8]) {
        let Ok(message) = serde_json::from_slice::<Listings>(payload) else {
            tracing::warn!(node = node.as_str(), "malformed listings ignored");
            return;
        };
        let now = Instant::now();
        let mut state = self.shared.state();
        match message {
            Listings::Set { listings } => {
                for wire in listings {
                    let Some((chat, listing)) = wire.listing() else {
                        continue;
                    };
                    let contact = listing.item.contact.id.clone();
                    state.remote.insert(
                        contact,
                        Remote {
                            node: node.clone(),
                            chat,
                            listing,
                            seen: now,
                        },
                    );
                }
            }
            Listings::Gone { chat } => {
                state
                    .remote
                    .retain(|_, r| !(r.node == node && r.chat == ChatId(chat)));
            }
        }
    }

    fn presence(&self, node: NodeId, payload: &[u8]) {
        let Ok(wire) = serde_json::from_slice::<WirePresence>(payload) else {
            return;
        };
        let (Some(operator), Ok(presence)) =
            (wire.operator.operator(), wire.xml.parse::<Element>())
        else {
            return;
        };
        if presence.name() != "presence" || wire.resource.is_empty() {
            return;
        }
        let device = {
            let mut state = self.shared.state();
            let key = (operator.clone(), wire.resource.clone());
            if wire.available {
                state
                    .presences
                    .insert(key, (node.clone(), presence.clone()));
            } else {
                state.presences.remove(&key);
            }
            state
                .remote_ids
                .get(&(node, operator.clone(), wire.resource.clone()))
                .copied()
        };
        // A device the registry knows says whether it takes chats now
        // (its show changed); its coming and going is the registry's.
        if wire.available
            && let (Some(gateway), Some(device)) = (&self.gateway, device)
        {
            let availability = salesiq_xmpp::taking_chats(&presence);
            gateway.device_presence(&operator, device, availability);
        }
        self.server
            .remote_presence(&operator, &wire.resource, presence);
    }

    fn registry_event(&self, event: PresenceEvent) {
        match event {
            PresenceEvent::Available {
                node,
                operator,
                resource,
            } => {
                let device = {
                    let mut state = self.shared.state();
                    let key = (node.clone(), operator.clone(), resource.clone());
                    match state.remote_ids.get(&key) {
                        Some(device) => *device,
                        None => {
                            state.next_remote += 1;
                            let device = DeviceId(REMOTE_DEVICE | state.next_remote);
                            state.remote_ids.insert(key, device);
                            state
                                .remote_devices
                                .insert(device, (node, operator.clone(), resource.clone()));
                            device
                        }
                    }
                };
                if let Some(gateway) = &self.gateway {
                    // Away, xa, dnd there take no chats here either.
                    let availability = self
                        .shared
                        .state()
                        .presences
                        .get(&(operator.clone(), resource.clone()))
                        .map_or(Availability::Taking, |(_, p)| salesiq_xmpp::taking_chats(p));
                    gateway.device_presence(&operator, device, availability);
                }
            }
            PresenceEvent::Unavailable {
                node,
                operator,
                resource,
            } => {
                let (device, was) = {
                    let mut state = self.shared.state();
                    let key = (node.clone(), operator.clone(), resource.clone());
                    let device = state.remote_ids.remove(&key);
                    if let Some(device) = device {
                        state.remote_devices.remove(&device);
                    }
                    let was = state
                        .presences
                        .remove(&(operator.clone(), resource.clone()))
                        .is_some();
                    (device, was)
                };
                if let (Some(gateway), Some(device)) = (&self.gateway, device) {
                    gateway.device_available(&operator, device, false);
                }
                if was {
                    // Said here for a node that cannot say it any more.
                    if let Ok(gone) = UNAVAILABLE.parse::<Element>() {
                        self.server.remote_presence(&operator, &resource, gone);
                    }
                }
            }
            PresenceEvent::NodeLost { node } => {
                self.shared.state().remote.retain(|_, r| r.node != node);
                if self.shared.bus.is_connected() {
                    tracing::warn!(
                        node = node.as_str(),
                        "a node was lost; taking its chats over"
                    );
                    self.adopt(node);
                } else {
                    // Everyone falls silent when this node is cut off:
                    // decided once it is connected again.
                    tracing::warn!(
                        node = node.as_str(),
                        "a node fell silent while this one is off the bus"
                    );
                    self.shared.state().silent.insert(node);
                }
            }
            PresenceEvent::NodeJoined { node } => {
                tracing::info!(node = node.as_str(), "a node joined");
                self.refresh();
            }
        }
    }

    /// Takes over the chats of `node`, a lost node, beside the loop.
    fn adopt(&self, node: NodeId) {
        if let Some(gateway) = self.gateway.clone() {
            tokio::spawn(async move {
                if let Err(error) = gateway.adopt_chats(node.as_str()).await {
                    tracing::warn!(%error, "a lost node's chats were not taken over");
                }
            });
        }
    }

    /// Back on the bus: the nodes that fell silent meanwhile and are
    /// still not heard from are lost indeed.
    fn settle_silent(&self) {
        let now = Instant::now();
        let mut state = self.shared.state();
        if !self.shared.bus.is_connected() {
            state.connected_since = None;
            return;
        }
        let since = *state.connected_since.get_or_insert(now);
        // The others' snapshots need a moment to arrive after a reconnect.
        if state.silent.is_empty() || now.duration_since(since) < SETTLE {
            return;
        }
        drop(state);
        let heard = self.shared.registry.nodes();
        let silent: Vec<NodeId> = std::mem::take(&mut self.shared.state().silent)
            .into_iter()
            .filter(|node| !heard.contains(node))
            .collect();
        for node in silent {
            tracing::warn!(
                node = node.as_str(),
                "a node is still silent; taking its chats over"
            );
            self.adopt(node);
        }
    }

    /// After lost events: every remote device the registry does not know
    /// any more goes unavailable (new ones come with the next events).
    fn resync_devices(&self) {
        let stale: Vec<(OperatorRef, DeviceId)> = {
            let state = self.shared.state();
            state
                .remote_devices
                .iter()
                .filter(|(_, (node, operator, resource))| {
                    !self
                        .shared
                        .registry
                        .locations(operator)
                        .contains(&(node.clone(), resource.clone()))
                })
                .map(|(device, (_, operator, _))| (operator.clone(), *device))
                .collect()
        };
        if let Some(gateway) = &self.gateway {
            for (operator, device) in stale {
                gateway.device_available(&operator, device, false);
            }
        }
    }

    /// Publishes every chat of this node again, and forgets other nodes'
    /// listings not heard of within [`LISTING_EXPIRY`].
    fn refresh(&self) {
        let now = Instant::now();
        let listings: Vec<WireListing> = {
            let mut state = self.shared.state();
            state
                .remote
                .retain(|_, r| now.duration_since(r.seen) < LISTING_EXPIRY);
            state
                .local
                .iter()
                .map(|(chat, listing)| WireListing::new(*chat, listing))
                .collect()
        };
        let subject = self.shared.listing_subject();
        let mut listings = listings;
        while !listings.is_empty() {
            let rest = listings.split_off(listings.len().min(LISTINGS_PER_MESSAGE));
            self.shared.queue(&subject, &Listings::Set { listings });
            listings = rest;
        }
    }
}
