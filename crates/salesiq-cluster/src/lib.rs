//! What moves between salesiq-gateway nodes (issue 14): a publish/subscribe
//! [`Bus`] with NATS subject semantics, in process ([`LocalBus`], one node,
//! the default) or over a NATS server ([`NatsBus`], many nodes), and the
//! [`PresenceRegistry`] over it: which operator resources are available on
//! which node. What is *stored* goes to PostgreSQL (`salesiq-pg`); this
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
//! later tell colleagues. Times come from tokio's clock: the tests run
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
//! # Left for later
//!
//! Not wired into `salesiq-session` or `salesiq-xmpp` yet. Still to come
//! over the same bus: operator events delivered to the node holding the
//! operator's resources, operator input to the node that owns a chat, and
//! chat ownership (one owner per chat, taken over when its node is lost).
//!
//! # Crate features
//!
//! None.

mod bus;
mod error;
mod local;
mod nats;
mod presence;
pub mod subject;

pub use bus::{Bus, DEFAULT_MAX_PAYLOAD, DEFAULT_SUBSCRIPTION_CAPACITY, Message, Subscription};
pub use error::Error;
pub use local::LocalBus;
pub use nats::{DEFAULT_PUBLISH_TIMEOUT, NatsBus};
pub use presence::{
    MAX_FIELD_LEN, MAX_NODE_ID_LEN, NodeId, PRESENCE_PATTERN, PRESENCE_SUBJECT_PREFIX,
    PresenceConfig, PresenceEvent, PresenceRegistry,
};
