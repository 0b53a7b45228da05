//! What moves between salesiq-gateway nodes: a publish/subscribe [`Bus`]
//! with NATS subject semantics, in-process ([`LocalBus`]) or over NATS
//! ([`NatsBus`]).
mod bus;
mod error;
mod local;
mod nats;
pub mod subject;

pub use bus::{Bus, DEFAULT_MAX_PAYLOAD, DEFAULT_SUBSCRIPTION_CAPACITY, Message, Subscription};
pub use error::Error;
pub use local::LocalBus;
pub use nats::NatsBus;
