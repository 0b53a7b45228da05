//! [`LocalBus`]: the in-process bus of a single node.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use salesiq_session::BoxFuture;

use crate::bus::{
    Bus, DEFAULT_MAX_PAYLOAD, DEFAULT_SUBSCRIPTION_CAPACITY, Message, Offered, Subscription,
    SubscriptionSender,
};
use crate::error::Error;
use crate::subject::{matches, validate_pattern, validate_subject};

/// The bus inside one process: tokio channels, the same subject matching
/// and the same bounds as NATS. Cloning it gives another handle on the
/// same bus.
///
/// Each subscription has a bounded queue
/// ([`DEFAULT_SUBSCRIPTION_CAPACITY`] unless
/// [`LocalBus::with_capacity`]); publishing never waits: a full queue
/// loses the message (see [`Subscription::dropped`]).
#[derive(Debug, Clone)]
pub struct LocalBus {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    max_payload: usize,
    subscriptions: Mutex<Vec<(String, SubscriptionSender)>>,
}

impl LocalBus {
    /// A bus with the default bounds.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_SUBSCRIPTION_CAPACITY)
    }

    /// A bus whose subscriptions each hold up to `capacity` messages
    /// (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity: capacity.max(1),
                max_payload: DEFAULT_MAX_PAYLOAD,
                subscriptions: Mutex::new(Vec::new()),
            }),
        }
    }

    /// How many subscriptions are live (dropped ones are forgotten on the
    /// next publish or subscribe).
    pub fn subscriptions(&self) -> usize {
        let mut subs = self.lock();
        subs.retain(|(_, tx)| !tx.is_closed());
        subs.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, SubscriptionSender)>> {
        // The list stays consistent whatever panicked while holding it.
        self.inner
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn publish_now(&self, subject: &str, payload: Bytes) -> Result<(), Error> {
        validate_subject(subject)?;
        if payload.len() > self.inner.max_payload {
            return Err(Error::PayloadTooLarge {
                len: payload.len(),
                max: self.inner.max_payload,
            });
        }
        let mut subs = self.lock();
        subs.retain(|(pattern, tx)| {
            if !matches(pattern, subject) {
                return !tx.is_closed();
            }
            let message = Message {
                subject: subject.to_owned(),
                payload: payload.clone(),
            };
            tx.offer(message, pattern) != Offered::Closed
        });
        Ok(())
    }

    fn subscribe_now(&self, pattern: &str) -> Result<Subscription, Error> {
        validate_pattern(pattern)?;
        let (tx, sub) = Subscription::channel(self.inner.capacity);
        let mut subs = self.lock();
        subs.retain(|(_, tx)| !tx.is_closed());
        subs.push((pattern.to_owned(), tx));
        Ok(sub)
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus for LocalBus {
    fn publish<'a>(&'a self, subject: &'a str, payload: Bytes) -> BoxFuture<'a, Result<(), Error>> {
        let result = self.publish_now(subject, payload);
        Box::pin(async move { result })
    }

    fn subscribe<'a>(&'a self, pattern: &'a str) -> BoxFuture<'a, Result<Subscription, Error>> {
        let result = self.subscribe_now(pattern);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[tokio::test(start_paused = true)]
    async fn delivers_to_matching_subscriptions_only() {
        let bus = LocalBus::new();
        let mut exact = bus.subscribe("a.b").await.expect("subscribe");
        let mut star = bus.subscribe("a.*").await.expect("subscribe");
        let mut rest = bus.subscribe("a.>").await.expect("subscribe");
        let mut other = bus.subscribe("x.>").await.expect("subscribe");
        bus.publish("a.b", payload("1")).await.expect("publish");
        bus.publish("a.b.c", payload("2")).await.expect("publish");

        let got = exact.recv().await.expect("message");
        assert_eq!((got.subject.as_str(), &got.payload[..]), ("a.b", &b"1"[..]));
        assert_eq!(star.recv().await.expect("message").payload, payload("1"));
        assert_eq!(rest.recv().await.expect("message").payload, payload("1"));
        assert_eq!(rest.recv().await.expect("message").subject, "a.b.c");
        drop(bus);
        // The bus is gone: nothing more, and no wrong delivery before.
        assert!(exact.recv().await.is_none());
        assert!(star.recv().await.is_none());
        assert!(other.recv().await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn slow_subscriber_loses_messages_and_publisher_never_waits() {
        let bus = LocalBus::with_capacity(4);
        let mut slow = bus.subscribe("s.>").await.expect("subscribe");
        for i in 0..100u32 {
            bus.publish("s.x", Bytes::from(i.to_string()))
                .await
                .expect("publish never blocks nor fails");
        }
        assert_eq!(slow.dropped(), 96);
        // The first four are kept, in order.
        for i in 0..4u32 {
            assert_eq!(
                slow.recv().await.expect("message").payload,
                Bytes::from(i.to_string())
            );
        }
        bus.publish("s.x", payload("again")).await.expect("publish");
        assert_eq!(
            slow.recv().await.expect("message").payload,
            payload("again")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_subscriptions_are_forgotten() {
        let bus = LocalBus::new();
        let a = bus.subscribe("a").await.expect("subscribe");
        let _b = bus.subscribe("b").await.expect("subscribe");
        assert_eq!(bus.subscriptions(), 2);
        drop(a);
        bus.publish("a", payload("x")).await.expect("publish");
        assert_eq!(bus.subscriptions(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_bad_subjects_and_oversized_payloads() {
        let bus = LocalBus::new();
        assert!(matches!(
            bus.publish("a.*", payload("x")).await,
            Err(Error::InvalidSubject { .. })
        ));
        assert!(matches!(
            bus.subscribe("a.>.b").await,
            Err(Error::InvalidSubject { .. })
        ));
        let big = Bytes::from(vec![0u8; DEFAULT_MAX_PAYLOAD + 1]);
        assert!(matches!(
            bus.publish("a", big).await,
            Err(Error::PayloadTooLarge { .. })
        ));
    }
}
