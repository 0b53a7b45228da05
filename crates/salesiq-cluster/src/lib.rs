//! What moves between salesiq-gateway nodes: a publish/subscribe [`Bus`]
//! with NATS subject semantics, in-process ([`LocalBus`]) or over NATS
//! ([`NatsBus`]), and the [`PresenceRegistry`] over it.
mod bus;
mod error;
mod local;
mod nats;
mod presence;
pub mod subject;

pub use bus::{Bus, DEFAULT_MAX_PAYLOAD, DEFAULT_SUBSCRIPTION_CAPACITY, Message, Subscription};
pub use error::Error;
pub use local::LocalBus;
pub use nats::NatsBus;
pub use presence::{
    MAX_FIELD_LEN, MAX_NODE_ID_LEN, NodeId, PRESENCE_PATTERN, PRESENCE_SUBJECT_PREFIX,
    PresenceConfig, PresenceEvent, PresenceRegistry,
};
