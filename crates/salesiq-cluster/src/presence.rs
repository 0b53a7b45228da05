//! [`PresenceRegistry`]: which operator resources are available on which
//! node, told over a [`Bus`].

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use salesiq_session::OperatorRef;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::bus::{Bus, DEFAULT_MAX_PAYLOAD, Message, Subscription};
use crate::error::{Error, cut};

/// The subjects presence is published on: `salesiq.presence.<node>`.
pub const PRESENCE_SUBJECT_PREFIX: &str = "salesiq.presence.";

/// The pattern every registry subscribes to.
pub const PRESENCE_PATTERN: &str = "salesiq.presence.*";

/// The longest portal, username or resource accepted, in bytes.
pub const MAX_FIELD_LEN: usize = 128;

/// The longest node id, in bytes.
pub const MAX_NODE_ID_LEN: usize = 64;

/// A node of the deployment: one token of a subject, 1 to 64 ASCII
/// letters, digits, `-` or `_` (e.g. `a`, `gw-eu-1`). Each node must have
/// its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

impl NodeId {
    /// Checks `id`.
    pub fn new(id: &str) -> Result<Self, Error> {
        let fail = |reason| {
            Err(Error::InvalidNodeId {
                id: cut(id),
                reason,
            })
        };
        if id.is_empty() {
            return fail("empty");
        }
        if id.len() > MAX_NODE_ID_LEN {
            return fail("longer than 64 bytes");
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return fail("only ASCII letters, digits, `-` and `_`");
        }
        Ok(Self(id.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The subject this node publishes its presence on.
    pub fn presence_subject(&self) -> String {
        format!("{PRESENCE_SUBJECT_PREFIX}{}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The timings and bounds of a [`PresenceRegistry`]. Start from
/// [`PresenceConfig::default`] and change fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PresenceConfig {
    /// How often the full snapshot of this node is published: 1 s.
    pub heartbeat: Duration,
    /// How long another node may stay silent before it is dropped with
    /// all its operators: 3 s (keep it a few heartbeats).
    pub expiry: Duration,
    /// Entries (operator resources) per node, this one's and each other
    /// node's: 1,024. A snapshot of more is refused whole. At most about
    /// 800 bytes of JSON each, so the default snapshot fits in the bus's
    /// 1 MiB.
    pub max_entries: usize,
    /// Other nodes kept: 64. Presence from more is ignored (logged).
    pub max_nodes: usize,
    /// The largest presence message read: 1 MiB.
    pub max_payload: usize,
    /// Events kept for a slow reader of [`PresenceRegistry::events`]
    /// before it lags (loses the oldest): 1,024.
    pub event_capacity: usize,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(1),
            expiry: Duration::from_secs(3),
            max_entries: 1024,
            max_nodes: 64,
            max_payload: DEFAULT_MAX_PAYLOAD,
            event_capacity: 1024,
        }
    }
}

/// A change in what another node announces.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresenceEvent {
    /// `resource` of `operator` became available on `node`.
    Available {
        /// Where.
        node: NodeId,
        /// Who.
        operator: OperatorRef,
        /// Which device (the XMPP resource).
        resource: String,
    },
    /// `resource` of `operator` is no longer available on `node` (also
    /// when the node is lost, before [`PresenceEvent::NodeLost`]).
    Unavailable {
        /// Where.
        node: NodeId,
        /// Who.
        operator: OperatorRef,
        /// Which device.
        resource: String,
    },
    /// `node` was heard from for the first time (or again, after it was
    /// lost).
    NodeJoined {
        /// The node.
        node: NodeId,
    },
    /// `node` was not heard from within the expiry, or said it leaves:
    /// its operators were dropped (each with an `Unavailable` first).
    NodeLost {
        /// The node.
        node: NodeId,
    },
}

/// One operator resource, as it goes over the bus.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireEntry {
    portal: String,
    username: String,
    resource: String,
}

/// A presence message, as JSON on `salesiq.presence.<node>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    /// Everything available on the node (replaces what was known).
    Snapshot { entries: Vec<WireEntry> },
    /// What changed on the node since.
    Delta {
        #[serde(default)]
        available: Vec<WireEntry>,
        #[serde(default)]
        unavailable: Vec<WireEntry>,
    },
    /// The node stops.
    Leave,
}

type Entry = (OperatorRef, String);

fn to_wire(entries: &[&Entry]) -> Vec<WireEntry> {
    entries
        .iter()
        .map(|(op, resource)| WireEntry {
            portal: op.portal().to_owned(),
            username: op.username().to_owned(),
            resource: resource.clone(),
        })
        .collect()
}

fn field_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FIELD_LEN && !s.chars().any(char::is_control)
}

fn from_wire(entries: Vec<WireEntry>) -> Option<Vec<Entry>> {
    entries
        .into_iter()
        .map(|e| {
            (field_ok(&e.portal) && field_ok(&e.username) && field_ok(&e.resource))
                .then(|| (OperatorRef::new(&e.portal, &e.username), e.resource))
        })
        .collect()
}

#[derive(Debug)]
struct Remote {
    last_seen: Instant,
    entries: BTreeSet<Entry>,
}

#[derive(Debug, Default)]
struct State {
    local: BTreeSet<Entry>,
    remote: HashMap<NodeId, Remote>,
    rejected: u64,
    last_warning: Option<Instant>,
}

impl State {
    /// Counts a refused message; logs at most once a second.
    fn reject(&mut self, subject: &str, reason: &str) {
        self.rejected += 1;
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.last_warning = Some(now);
            tracing::warn!(
                subject = %cut(subject),
                reason,
                rejected = self.rejected,
                "presence message ignored"
            );
        }
    }
}

#[derive(Debug)]
struct Shared {
    node: NodeId,
    subject: String,
    config: PresenceConfig,
    bus: Arc<dyn Bus>,
    state: Mutex<State>,
    /// Held from a change of the local entries to its message's publish,
    /// so that snapshots and deltas go out in the order they were made.
    publishing: tokio::sync::Mutex<()>,
    events: broadcast::Sender<PresenceEvent>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, event: PresenceEvent) {
        // No receiver is fine: nobody listens yet.
        let _ = self.events.send(event);
    }

    async fn publish(&self, wire: &Wire) -> Result<(), Error> {
        let payload = serde_json::to_vec(wire).map_err(Error::Encode)?;
        self.bus.publish(&self.subject, Bytes::from(payload)).await
    }

    async fn publish_snapshot(&self) -> Result<(), Error> {
        let _order = self.publishing.lock().await;
        let wire = {
            let state = self.state();
            let entries: Vec<&Entry> = state.local.iter().collect();
            Wire::Snapshot {
                entries: to_wire(&entries),
            }
        };
        self.publish(&wire).await
    }

    /// Takes in a message from the bus; true when it came from a node not
    /// known before (which deserves our snapshot at once).
    fn receive(&self, message: &Message) -> bool {
        let mut state = self.state();
        let Some(token) = message.subject.strip_prefix(PRESENCE_SUBJECT_PREFIX) else {
            state.reject(&message.subject, "not a presence subject");
            return false;
        };
        let Ok(node) = NodeId::new(token) else {
            state.reject(&message.subject, "invalid node id");
            return false;
        };
        if node == self.node {
            return false;
        }
        if message.payload.len() > self.config.max_payload {
            state.reject(&message.subject, "payload too large");
            return false;
        }
        let wire: Wire = match serde_json::from_slice(&message.payload) {
            Ok(wire) => wire,
            Err(_) => {
                state.reject(&message.subject, "malformed JSON");
                return false;
            }
        };
        let max = self.config.max_entries;
        let known = state.remote.contains_key(&node);
        if !known && !matches!(wire, Wire::Leave) && state.remote.len() >= self.config.max_nodes {
            state.reject(&message.subject, "too many nodes");
            return false;
        }
        match wire {
            Wire::Leave => {
                if let Some(remote) = state.remote.remove(&node) {
                    self.lost(node, remote);
                }
                return false;
            }
            Wire::Snapshot { entries } => {
                if entries.len() > max {
                    state.reject(&message.subject, "too many entries");
                    return false;
                }
                let Some(entries) = from_wire(entries) else {
                    state.reject(&message.subject, "invalid entry");
                    return false;
                };
                let new: BTreeSet<Entry> = entries.into_iter().collect();
                let remote = self.remote(&mut state, &node, known);
                for (operator, resource) in remote.entries.difference(&new) {
                    self.emit(PresenceEvent::Unavailable {
                        node: node.clone(),
                        operator: operator.clone(),
                        resource: resource.clone(),
                    });
                }
                for (operator, resource) in new.difference(&remote.entries) {
                    self.emit(PresenceEvent::Available {
                        node: node.clone(),
                        operator: operator.clone(),
                        resource: resource.clone(),
                    });
                }
                remote.entries = new;
            }
            Wire::Delta {
                available,
                unavailable,
            } => {
                if available.len().saturating_add(unavailable.len()) > max {
                    state.reject(&message.subject, "too many entries");
                    return false;
                }
                let (Some(available), Some(unavailable)) =
                    (from_wire(available), from_wire(unavailable))
                else {
                    state.reject(&message.subject, "invalid entry");
                    return false;
                };
                let remote = self.remote(&mut state, &node, known);
                let mut full = false;
                for entry in unavailable {
                    if remote.entries.remove(&entry) {
                        self.emit(PresenceEvent::Unavailable {
                            node: node.clone(),
                            operator: entry.0,
                            resource: entry.1,
                        });
                    }
                }
                for entry in available {
                    if remote.entries.len() >= max {
                        full = true;
                        break;
                    }
                    if remote.entries.insert(entry.clone()) {
                        self.emit(PresenceEvent::Available {
                            node: node.clone(),
                            operator: entry.0,
                            resource: entry.1,
                        });
                    }
                }
                if full {
                    state.reject(&message.subject, "too many entries");
                }
            }
        }
        !known
    }

    /// The entry of `node`, made when new, marked as heard from now.
    fn remote<'s>(&self, state: &'s mut State, node: &NodeId, known: bool) -> &'s mut Remote {
        if !known {
            self.emit(PresenceEvent::NodeJoined { node: node.clone() });
        }
        let now = Instant::now();
        let remote = state.remote.entry(node.clone()).or_insert_with(|| Remote {
            last_seen: now,
            entries: BTreeSet::new(),
        });
        remote.last_seen = now;
        remote
    }

    fn lost(&self, node: NodeId, remote: Remote) {
        for (operator, resource) in remote.entries {
            self.emit(PresenceEvent::Unavailable {
                node: node.clone(),
                operator,
                resource,
            });
        }
        tracing::info!(%node, "node lost: its operators are unavailable");
        self.emit(PresenceEvent::NodeLost { node });
    }

    /// Drops the nodes not heard from within the expiry.
    fn expire(&self) {
        let now = Instant::now();
        let mut state = self.state();
        let expired: Vec<NodeId> = state
            .remote
            .iter()
            .filter(|(_, r)| now.duration_since(r.last_seen) > self.config.expiry)
            .map(|(node, _)| node.clone())
            .collect();
        for node in expired {
            if let Some(remote) = state.remote.remove(&node) {
                self.lost(node, remote);
            }
        }
    }
}

/// Which operator resources are available on which node of the
/// deployment, kept up to date over a [`Bus`] (see the crate docs for the
/// subjects, the payloads and the timings).
///
/// The local node says what it holds with
/// [`set_available`](Self::set_available); the others' entries arrive by
/// the bus. Dropping the registry stops its heartbeats (the others drop
/// this node after their expiry); [`shutdown`](Self::shutdown) tells them
/// at once.
#[derive(Debug)]
pub struct PresenceRegistry {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl PresenceRegistry {
    /// Subscribes to presence on `bus`, publishes this node's (empty)
    /// snapshot and keeps heartbeating until dropped.
    pub async fn start(
        bus: Arc<dyn Bus>,
        node: NodeId,
        config: PresenceConfig,
    ) -> Result<Self, Error> {
        let subscription = bus.subscribe(PRESENCE_PATTERN).await?;
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let shared = Arc::new(Shared {
            subject: node.presence_subject(),
            node,
            config,
            bus,
            state: Mutex::new(State::default()),
            publishing: tokio::sync::Mutex::new(()),
            events,
        });
        // The first heartbeat tick is at once: the others learn of this
        // node without waiting.
        let task = tokio::spawn(run(Arc::clone(&shared), subscription));
        Ok(Self { shared, task })
    }

    /// This node.
    pub fn node(&self) -> &NodeId {
        &self.shared.node
    }

    /// Says whether `resource` of `operator` is available on this node,
    /// and tells the others at once when that changed. Returns whether it
    /// changed. A failure to publish leaves the change made: the next
    /// heartbeat carries it.
    pub async fn set_available(
        &self,
        operator: &OperatorRef,
        resource: &str,
        available: bool,
    ) -> Result<bool, Error> {
        if !field_ok(resource) || !field_ok(operator.portal()) || !field_ok(operator.username()) {
            return Err(Error::Limit {
                what: "portal, username and resource are 1 to 128 bytes, no control characters",
            });
        }
        let _order = self.shared.publishing.lock().await;
        let entry = (operator.clone(), resource.to_owned());
        let changed = {
            let mut state = self.shared.state();
            if available {
                if !state.local.contains(&entry)
                    && state.local.len() >= self.shared.config.max_entries
                {
                    return Err(Error::Limit {
                        what: "entries of this node (PresenceConfig::max_entries)",
                    });
                }
                state.local.insert(entry.clone())
            } else {
                state.local.remove(&entry)
            }
        };
        if !changed {
            return Ok(false);
        }
        let entries = to_wire(&[&entry]);
        let wire = if available {
            Wire::Delta {
                available: entries,
                unavailable: Vec::new(),
            }
        } else {
            Wire::Delta {
                available: Vec::new(),
                unavailable: entries,
            }
        };
        self.shared.publish(&wire).await?;
        Ok(true)
    }

    /// Whether any resource of `operator` is available on any node, this
    /// one included.
    pub fn is_available(&self, operator: &OperatorRef) -> bool {
        let state = self.shared.state();
        has(&state.local, operator) || state.remote.values().any(|r| has(&r.entries, operator))
    }

    /// Where `operator` is available: each node (this one included) and
    /// resource, sorted.
    pub fn locations(&self, operator: &OperatorRef) -> Vec<(NodeId, String)> {
        let state = self.shared.state();
        let mut found: Vec<(NodeId, String)> = resources(&state.local, operator)
            .map(|r| (self.shared.node.clone(), r.to_owned()))
            .collect();
        for (node, remote) in &state.remote {
            found
                .extend(resources(&remote.entries, operator).map(|r| (node.clone(), r.to_owned())));
        }
        found.sort();
        found
    }

    /// The other nodes heard from within the expiry, sorted.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self.shared.state().remote.keys().cloned().collect();
        nodes.sort();
        nodes
    }

    /// The changes announced by other nodes from now on (this node's own
    /// changes are the caller's). A reader that falls more than
    /// [`PresenceConfig::event_capacity`] behind gets
    /// [`broadcast::error::RecvError::Lagged`] and should re-read the
    /// state with [`locations`](Self::locations).
    pub fn events(&self) -> broadcast::Receiver<PresenceEvent> {
        self.shared.events.subscribe()
    }

    /// How many presence messages from the bus were ignored (malformed,
    /// oversized, over a bound).
    pub fn rejected(&self) -> u64 {
        self.shared.state().rejected
    }

    /// Stops heartbeating and tells the other nodes this one leaves (they
    /// drop its operators at once rather than after the expiry).
    pub async fn shutdown(self) -> Result<(), Error> {
        self.leave().await
    }

    /// [`shutdown`](Self::shutdown) through a shared reference: stops
    /// heartbeating and tells the other nodes this one leaves. What is
    /// set available afterwards is announced no more.
    pub async fn leave(&self) -> Result<(), Error> {
        self.task.abort();
        let _order = self.shared.publishing.lock().await;
        self.shared.publish(&Wire::Leave).await
    }
}

impl Drop for PresenceRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn resources<'s>(
    set: &'s BTreeSet<Entry>,
    operator: &'s OperatorRef,
) -> impl Iterator<Item = &'s str> {
    set.range((operator.clone(), String::new())..)
        .take_while(move |(op, _)| op == operator)
        .map(|(_, resource)| resource.as_str())
}

fn has(set: &BTreeSet<Entry>, operator: &OperatorRef) -> bool {
    resources(set, operator).next().is_some()
}

/// The registry's task: heartbeats, incoming presence, expiry.
async fn run(shared: Arc<Shared>, mut subscription: Subscription) {
    let mut heartbeat =
        tokio::time::interval(shared.config.heartbeat.max(Duration::from_millis(10)));
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let sweep_every = (shared.config.expiry / 4).max(Duration::from_millis(10));
    let mut sweep = tokio::time::interval(sweep_every);
    sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = heartbeat.tick() => {
                if let Err(error) = shared.publish_snapshot().await {
                    tracing::warn!(%error, node = %shared.node, "presence heartbeat not published");
                }
            }
            _ = sweep.tick() => shared.expire(),
            message = subscription.recv() => {
                let Some(message) = message else {
                    tracing::warn!(node = %shared.node, "presence subscription ended: the bus is closed");
                    break;
                };
                if shared.receive(&message) {
                    // A newcomer learns of this node without waiting for a heartbeat.
                    if let Err(error) = shared.publish_snapshot().await {
                        tracing::warn!(%error, node = %shared.node, "presence snapshot not published");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalBus;
    use proptest::prelude::*;

    fn shared(max_entries: usize) -> Shared {
        let config = PresenceConfig {
            max_entries,
            max_nodes: 4,
            ..PresenceConfig::default()
        };
        let (events, _) = broadcast::channel(16);
        let node = NodeId::new("self").expect("node id");
        Shared {
            subject: node.presence_subject(),
            node,
            config,
            bus: Arc::new(LocalBus::new()),
            state: Mutex::new(State::default()),
            publishing: tokio::sync::Mutex::new(()),
            events,
        }
    }

    fn message(node: &str, payload: Vec<u8>) -> Message {
        Message {
            subject: format!("{PRESENCE_SUBJECT_PREFIX}{node}"),
            payload: Bytes::from(payload),
        }
    }

    /// JSON that is close to the real thing: the right tags, fields of any
    /// text (empty, long, control characters), missing or extra fields.
    fn near_json() -> impl Strategy<Value = String> {
        let field = prop_oneof![
            "",
            "[a-z.]{1,8}",
            "\\PC{0,20}",
            "[\\x00-\\x1f]{1,3}",
            "x{127,130}"
        ];
        let entry =
            (field.clone(), field.clone(), field, any::<bool>()).prop_map(|(p, u, r, extra)| {
                let mut value = serde_json::json!({"portal": p, "username": u, "resource": r});
                if extra {
                    value["extra"] = serde_json::json!([1, {"a": null}]);
                }
                value
            });
        let entries = proptest::collection::vec(entry, 0..8);
        let kind = prop_oneof!["snapshot", "delta", "leave", "other", ""];
        (kind, entries.clone(), entries, any::<u8>()).prop_map(|(kind, a, b, shape)| {
            let value = match shape % 4 {
                0 => serde_json::json!({"type": kind, "entries": a}),
                1 => serde_json::json!({"type": kind, "available": a, "unavailable": b}),
                2 => serde_json::json!({"type": kind, "entries": {"not": "a list"}}),
                _ => serde_json::json!([kind, a]),
            };
            value.to_string()
        })
    }

    proptest! {
        #[test]
        fn any_bytes_from_the_bus_never_panic(
            node in prop_oneof!["a", "b", "self", "x.y", "", "\\PC{0,8}"],
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
        ) {
            let shared = shared(4);
            for payload in payloads {
                shared.receive(&message(&node, payload));
            }
            prop_assert!(shared.state().remote.len() <= 4);
        }

        #[test]
        fn near_valid_json_never_panics_nor_exceeds_the_bounds(
            messages in proptest::collection::vec((prop_oneof!["a", "b", "c", "d", "e", "f"], near_json()), 1..16),
        ) {
            let shared = shared(3);
            for (node, json) in messages {
                shared.receive(&message(&node, json.into_bytes()));
            }
            let state = shared.state();
            prop_assert!(state.remote.len() <= 4);
            for remote in state.remote.values() {
                prop_assert!(remote.entries.len() <= 3);
                for (operator, resource) in &remote.entries {
                    prop_assert!(field_ok(operator.portal()) && field_ok(operator.username()) && field_ok(resource));
                }
            }
        }
    }

    #[test]
    fn a_valid_snapshot_then_delta_is_applied() {
        let shared = shared(8);
        let snapshot = br#"{"type":"snapshot","entries":[{"portal":"Demo","username":"Alice.Ops","resource":"phone"}]}"#;
        assert!(shared.receive(&message("a", snapshot.to_vec())), "new node");
        let delta = br#"{"type":"delta","available":[{"portal":"demo","username":"bob.ops","resource":"pc"}],"unavailable":[{"portal":"demo","username":"alice.ops","resource":"phone"}]}"#;
        assert!(!shared.receive(&message("a", delta.to_vec())), "known node");
        let state = shared.state();
        let entries: Vec<&Entry> = state.remote[&NodeId::new("a").expect("id")]
            .entries
            .iter()
            .collect();
        assert_eq!(
            entries,
            vec![&(OperatorRef::new("demo", "bob.ops"), "pc".to_owned())]
        );
        assert_eq!(state.rejected, 0);
    }
}
