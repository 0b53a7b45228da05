//! [`NatsBus`]: the bus between nodes, over a NATS server.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use salesiq_session::BoxFuture;

use crate::bus::{
    Bus, DEFAULT_MAX_PAYLOAD, DEFAULT_SUBSCRIPTION_CAPACITY, Message, Offered, Subscription,
};
use crate::error::Error;
use crate::subject::{validate_pattern, validate_subject};

/// How long [`NatsBus`] waits for room in the client's buffer before a
/// publish fails with [`Error::Timeout`]: 1 s.
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

/// The bus over NATS core publish/subscribe (`async-nats`), for several
/// nodes: each node connects to the same NATS server or cluster.
///
/// Subjects are checked as by [`LocalBus`](crate::LocalBus), and each
/// subscription has the same bounded queue, fed by a task that lives as
/// long as the [`Subscription`]. The client reconnects on its own after a
/// lost connection; messages published meanwhile wait in its bounded
/// buffer, and a publish that finds it full waits at most the publish
/// timeout ([`DEFAULT_PUBLISH_TIMEOUT`]) and then fails with
/// [`Error::Timeout`], so that a NATS outage never stalls the caller.
/// Messages sent to this node meanwhile are lost, which the presence
/// registry's periodic snapshots make good.
#[derive(Debug, Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    capacity: usize,
    publish_timeout: Duration,
}

impl NatsBus {
    /// Connects to the NATS server at `url` (e.g. `nats://127.0.0.1:4222`).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(DEFAULT_SUBSCRIPTION_CAPACITY)
            .connect(url)
            .await
            .map_err(|source| Error::Connect {
                url: url.to_owned(),
                source,
            })?;
        Ok(Self::from_client(client))
    }

    /// Wraps a client the embedder configured itself (credentials, TLS,
    /// several servers).
    pub fn from_client(client: async_nats::Client) -> Self {
        Self {
            client,
            capacity: DEFAULT_SUBSCRIPTION_CAPACITY,
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
        }
    }

    /// The same bus, whose subscriptions from now on each hold up to
    /// `capacity` messages (at least one) before they lose new ones.
    pub fn with_subscription_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The same bus with another publish timeout (see [`NatsBus`]).
    pub fn with_publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// The underlying client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Waits until everything published or subscribed so far is written
    /// to the connection (not until the server has handled it).
    pub async fn flush(&self) -> Result<(), Error> {
        self.client.flush().await.map_err(Error::Flush)
    }

    fn max_payload(&self) -> usize {
        match self.client.max_payload() {
            0 => DEFAULT_MAX_PAYLOAD,
            n => n.min(DEFAULT_MAX_PAYLOAD),
        }
    }
}

impl Bus for NatsBus {
    fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn publish<'a>(&'a self, subject: &'a str, payload: Bytes) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            validate_subject(subject)?;
            let max = self.max_payload();
            if payload.len() > max {
                return Err(Error::PayloadTooLarge {
                    len: payload.len(),
                    max,
                });
            }
            // Cancelling a publish that waits for room sends nothing.
            tokio::time::timeout(
                self.publish_timeout,
                self.client.publish(subject.to_owned(), payload),
            )
            .await
            .map_err(|_| Error::Timeout {
                what: "publishing on NATS (the client's buffer is full: is the server reachable?)",
            })?
            .map_err(Error::Publish)
        })
    }

    fn subscribe<'a>(&'a self, pattern: &'a str) -> BoxFuture<'a, Result<Subscription, Error>> {
        Box::pin(async move {
            validate_pattern(pattern)?;
            let mut subscriber = self
                .client
                .subscribe(pattern.to_owned())
                .await
                .map_err(Error::Subscribe)?;
            let (tx, subscription) = Subscription::channel(self.capacity);
            let pattern = pattern.to_owned();
            tokio::spawn(async move {
                loop {
                    let message = tokio::select! {
                        () = tx.closed() => break,
                        message = subscriber.next() => message,
                    };
                    let Some(message) = message else { break };
                    let message = Message {
                        subject: message.subject.to_string(),
                        payload: message.payload,
                    };
                    if tx.offer(message, &pattern) == Offered::Closed {
                        break;
                    }
                }
                // Dropping the subscriber unsubscribes on the server.
                drop(subscriber);
            });
            Ok(subscription)
        })
    }
}
