//! What moves between salesiq-gateway nodes (issue 14): a publish/subscribe
//! [`Bus`] with NATS subject semantics, in process ([`LocalBus`], one node,
//! the default) or over a NATS server ([`NatsBus`], many nodes), the
//! [`PresenceRegistry`] over it (which operator resources are available on
//! which node), and [`ClusterNode`], which makes gateway nodes one gateway. What is *stored* goes to PostgreSQL (`salesiq-pg`); this
//! crate carries only what moves, and speaks no protocol of its own: NATS
//! core publish/subscribe through the official `async-nats` client.
//!
//! ```
//! use std::sync::Arc;
//! use salesiq_cluster::{Bus, LocalBus, NodeId, PresenceConfig, PresenceRegistry};
//! use salesiq_session::OperatorRef;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), salesiq_cluster::Error> {
//! // One bus: here in process; `NatsBus::connect("nats://…")` for many nodes.
//! let bus = LocalBus::new();
//! let shared: Arc<dyn Bus> = Arc::new(bus.clone());
//! let a = PresenceRegistry::start(shared.clone(), NodeId::new("a")?, PresenceConfig::default()).await?;
//! let b = PresenceRegistry::start(shared, NodeId::new("b")?, PresenceConfig::default()).await?;
//!
//! let alice = OperatorRef::new("demo", "alice.ops");
//! a.set_available(&alice, "IM+ Android", true).await?;
//! // The delta reaches b at once (here: as soon as its task runs).
//! while !b.is_available(&alice) {
//!     tokio::task::yield_now().await;
//! }
//! assert_eq!(b.locations(&alice), vec![(NodeId::new("a")?, "IM+ Android".to_owned())]);
//! # Ok(())
//! # }
//! ```
//!
//! # The bus
//!
//! Subjects are `.`-separated tokens of printable ASCII (at most 256
//! bytes); a subscription pattern may use `*` for one token and `>` (last)
//! for the rest, as in NATS ([`subject`]). Delivery is at most once and
//! fire-and-forget. Both buses check subjects the same way and give each
//! [`Subscription`] a bounded queue ([`DEFAULT_SUBSCRIPTION_CAPACITY`]
//! messages): a subscriber that falls behind loses new messages (counted
//! by [`Subscription::dropped`], logged), publishers never wait on it, and
//! nothing grows without bound. Payloads are at most
//! [`DEFAULT_MAX_PAYLOAD`] (1 MiB, NATS's default). [`NatsBus`] leaves
//! reconnection to `async-nats`; while disconnected, what this node
//! publishes waits in the client's bounded buffer (a publish that finds it
//! full fails after [`DEFAULT_PUBLISH_TIMEOUT`], 1 s, rather than stall)
//! and what others publish to it is lost (the registry's snapshots make
//! that good).
//!
//! # Presence
//!
//! Each node has a [`NodeId`] (one subject token: `a`, `gw-eu-1`) and
//! publishes on `salesiq.presence.<node>` JSON messages, tagged by `type`:
//!
//! ```json
//! {"type":"snapshot","entries":[{"portal":"demo","username":"alice.ops","resource":"phone"}]}
//! {"type":"delta","available":[{"portal":"demo","username":"alice.ops","resource":"phone"}],"unavailable":[]}
//! {"type":"leave"}
//! ```
//!
//! * a **snapshot** of everything available on the node every
//!   [`heartbeat`](PresenceConfig::heartbeat) (1 s), at start, and at once
//!   when a node not known before is heard (so a newcomer need not wait);
//!   it replaces what was known of the node;
//! * a **delta** at once on every change
//!   ([`PresenceRegistry::set_available`]); a lost delta is made good by
//!   the next snapshot;
//! * **leave** from [`PresenceRegistry::shutdown`].
//!
//! The node is the subject's last token (a payload cannot speak for
//! another node); messages on this node's own subject are skipped.
//! Unknown fields are ignored, so later versions may add some. Every
//! registry subscribes to `salesiq.presence.*` and keeps each other node's
//! entries with the time it was last heard from; a node silent for longer
//! than the [`expiry`](PresenceConfig::expiry) (3 s; checked every quarter
//! of it) is dropped with all its operators. Changes seen on other nodes
//! come as [`PresenceEvent`]s ([`PresenceRegistry::events`]): `Available`
//! and `Unavailable` per operator resource, `NodeJoined`, and `NodeLost`
//! (after an `Unavailable` for each of its resources), so the gateway can
//! tell colleagues. Times come from tokio's clock: the tests run
//! with paused time.
//!
//! # Bounds
//!
//! Everything from the bus is input from the network: it is never
//! trusted and never panics the registry. A presence message is refused
//! whole, counted ([`PresenceRegistry::rejected`]) and logged (at most
//! once a second) when it is larger than
//! [`max_payload`](PresenceConfig::max_payload) (1 MiB), not the JSON
//! above, has more than [`max_entries`](PresenceConfig::max_entries)
//! (1,024) entries, or an empty field, a control character or a field
//! longer than [`MAX_FIELD_LEN`] (128 bytes); presence from more than
//! [`max_nodes`](PresenceConfig::max_nodes) (64) other nodes is ignored.
//! The local node holds at most `max_entries` entries too
//! ([`Error::Limit`] beyond), so its snapshot fits in one message. The
//! event channel is a bounded broadcast: a reader that lags loses the
//! oldest events and is told so.
//!
//! The bus itself is trusted infrastructure: any client that may publish
//! on `salesiq.presence.*` can announce operators. Restrict it with the
//! NATS server's own accounts and permissions (pass a configured client
//! to [`NatsBus::from_client`]).
//!
//! # Nodes
//!
//! [`ClusterNode`] wires one gateway node (a [`salesiq_session::Gateway`]
//! and a [`salesiq_xmpp::Server`]) to the others, through the gateway's
//! [`salesiq_session::Cluster`] seam, the server's [`salesiq_xmpp::Relay`]
//! seam and a wrapper around the server's sink. What goes where:
//!
//! * **Presence**: each node announces its available operator resources
//!   in the registry above, and broadcasts each resource's presence stanza
//!   on `salesiq.xmpp.<node>`: colleagues on other nodes see it (with its
//!   `<show/>` and status), and the gateway offers chats to devices on
//!   every node (each other node's device gets a local device id with the
//!   high bit set). A lost node's resources go unavailable for everyone.
//! * **Chats**: a chat runs on one node, the store's
//!   [`salesiq_session::LiveChat::owner`]. Each node publishes what its
//!   chats show operators ([`salesiq_session::Listing`]) on
//!   `salesiq.listing.<node>`, at every change and again every
//!   [`LISTING_REFRESH`] (2 s; forgotten after [`LISTING_EXPIRY`], 7 s):
//!   contact lists show every node's visitors, and input for a visitor
//!   goes to the node running its chat, where the chat task serialises it
//!   ("first `y` wins" holds across nodes).
//! * **Events for operators** (offers, visitor lines, `[system]` replies,
//!   contact additions): to `salesiq.node.<node>` of each node holding a
//!   resource of the operator. One node archives each (the chat's own when
//!   the operator is there too), the others only deliver
//!   ([`salesiq_session::OperatorSink::deliver`]).
//! * **Colleague messages and directed presence**: to the recipient's
//!   nodes, as stanzas; the receiving server checks portal and addressing
//!   again ([`salesiq_xmpp::ServerHandle::deliver`]).
//! * **Take-over**: a visitor who resumes on another node (a load balancer
//!   moved them, or their node died) takes the chat there: the owner is
//!   asked to give it up (`release`, answered `released`, at most
//!   [`RELEASE_TIMEOUT`]), or is not alive, and the store's compare-and-set
//!   claim moves it. When a node is lost (its presence expired, or it left),
//!   the others adopt its chats ([`salesiq_session::Gateway::adopt_chats`]):
//!   each is claimed by one of them and restored, its operators write on,
//!   and its visitor resumes on any node. A node that is itself off the
//!   bus ([`Bus::is_connected`]) adopts nothing: every other node falls
//!   silent for it at once. Once it has been back for [`SETTLE`] (4 s),
//!   the nodes still silent are lost indeed.
//!
//! Everything is queued on one bounded outbox ([`OUTBOX`]) and published in
//! order by one task: the gateway's and the server's hot paths never wait
//! on the network; when the outbox is full, input is answered
//! [`salesiq_session::PortError::Busy`] and events are dropped (logged).
//!
//! Not carried across nodes: XEP-0198 resumption (a stream resumes on the
//! node it was on: put a sticky load balancer in front), XEP-0280 carbons
//! (copies go to the sender's resources on the same node), bounces of a
//! message lost on the receiving node. A node partitioned from NATS but
//! not from PostgreSQL looks dead to the others, which adopt its chats
//! while it still runs them: the claim is atomic, so the store says one
//! owner, but the stale node's tasks run on until they next touch it.
//!
//! # Crate features
//!
//! None.

mod bus;
mod error;
mod local;
mod nats;
mod node;
mod presence;
pub mod subject;
mod wire;

pub use bus::{Bus, DEFAULT_MAX_PAYLOAD, DEFAULT_SUBSCRIPTION_CAPACITY, Message, Subscription};
pub use error::Error;
pub use local::LocalBus;
pub use nats::{DEFAULT_PUBLISH_TIMEOUT, NatsBus};
pub use node::{
    ClusterNode, LISTING_EXPIRY, LISTING_REFRESH, LISTING_SUBJECT_PREFIX, NODE_SUBJECT_PREFIX,
    OUTBOX, RELEASE_TIMEOUT, SETTLE, XMPP_SUBJECT_PREFIX,
};
pub use presence::{
    MAX_FIELD_LEN, MAX_NODE_ID_LEN, NodeId, PRESENCE_PATTERN, PRESENCE_SUBJECT_PREFIX,
    PresenceConfig, PresenceEvent, PresenceRegistry,
};
