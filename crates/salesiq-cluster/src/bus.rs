//! The [`Bus`] trait: publish and subscribe with NATS subject semantics.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use salesiq_session::BoxFuture;
use tokio::sync::mpsc;

use crate::error::Error;

/// The longest payload either bus carries by default: 1 MiB, NATS's own
/// default `max_payload`.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// How many messages a subscription holds before it loses new ones:
/// 16,384. At 1,024, a burst of 1,000 visitors asking at once (four
/// messages each to the operators' node) lost offers in one run of two
/// in `benches/nodes.sh`.
pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 16 * 1024;

/// One message received on a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject it was published on.
    pub subject: String,
    /// Its payload, as published.
    pub payload: Bytes,
}

/// What moves between nodes: fire-and-forget publish/subscribe on NATS
/// subjects (`.`-separated tokens; in patterns, `*` is one token and `>`
/// the rest: see [`crate::subject`]).
///
/// Delivery is at most once: a message published while nobody matching
/// listens is gone, and a subscriber that does not keep up loses messages
/// (counted in [`Subscription::dropped`]) rather than slowing publishers
/// down or growing a queue without bound. What needs more (state) is
/// republished periodically, as the presence registry does.
///
/// Held as `Arc<dyn Bus>`; [`LocalBus`](crate::LocalBus) for one node,
/// [`NatsBus`](crate::NatsBus) for many.
pub trait Bus: Send + Sync + Debug {
    /// Publishes `payload` on `subject` (no wildcards).
    fn publish<'a>(&'a self, subject: &'a str, payload: Bytes) -> BoxFuture<'a, Result<(), Error>>;

    /// Subscribes to every subject `pattern` matches, from now on, until
    /// the returned [`Subscription`] is dropped.
    fn subscribe<'a>(&'a self, pattern: &'a str) -> BoxFuture<'a, Result<Subscription, Error>>;

    /// Whether this node is connected to the bus now. While it is not,
    /// every other node falls silent at once, which says nothing about
    /// whether they are alive: [`crate::ClusterNode`] adopts no lost
    /// node's chats then. By default, always.
    fn is_connected(&self) -> bool {
        true
    }
}

/// A stream of the [`Message`]s of one subscription, bounded: when its
/// queue is full, new messages are dropped and counted. Dropping it ends
/// the subscription.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Message>,
    dropped: Arc<AtomicU64>,
}

impl Subscription {
    /// A bounded queue: the sending half goes to the bus.
    pub(crate) fn channel(capacity: usize) -> (SubscriptionSender, Subscription) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        (
            SubscriptionSender {
                tx,
                dropped: Arc::clone(&dropped),
            },
            Subscription { rx, dropped },
        )
    }

    /// The next message; `None` when the bus is gone.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// How many messages this subscription lost because its queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The bus's end of a [`Subscription`].
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionSender {
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

/// What became of a message offered to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    Queued,
    Dropped,
    Closed,
}

impl SubscriptionSender {
    /// Queues `message` without waiting; a full queue loses it (counted,
    /// and logged on the first loss and then every 1,000th).
    pub(crate) fn offer(&self, message: Message, pattern: &str) -> Offered {
        match self.tx.try_send(message) {
            Ok(()) => Offered::Queued,
            Err(mpsc::error::TrySendError::Full(message)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n == 1 || n.is_multiple_of(1000) {
                    tracing::warn!(
                        pattern,
                        subject = %message.subject,
                        dropped = n,
                        "slow bus subscriber: message dropped"
                    );
                }
                Offered::Dropped
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offered::Closed,
        }
    }

    /// Whether the subscription was dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves when the subscription is dropped.
    pub(crate) async fn closed(&self) {
        self.tx.closed().await;
    }
}
