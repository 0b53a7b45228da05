//! NatsBus and the presence registry through a real nats-server.
//!
//! The server's URL comes from `SALESIQ_NATS_URL` (`scripts/test.sh`
//! starts one with `scripts/nats.sh` and sets it). Without the variable the
//! tests skip, saying why, except under CI (`CI` set), where they fail.
//! Tests share the server and run in parallel: each uses subjects and node
//! ids of its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use salesiq_cluster::{
    Bus, Error, Message, NatsBus, NodeId, PresenceConfig, PresenceEvent, PresenceRegistry,
    Subscription,
};
use salesiq_session::OperatorRef;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(10);

/// The server's URL, or `None` (skip) when none is configured.
fn server() -> Option<String> {
    let Ok(url) = std::env::var("SALESIQ_NATS_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "SALESIQ_NATS_URL is not set: under CI the NATS tests must run \
                 (scripts/test.sh starts a server with scripts/nats.sh)"
            );
        }
        eprintln!("skipped: SALESIQ_NATS_URL is not set (bash scripts/nats.sh start prints one)");
        return None;
    };
    Some(url)
}

/// A token no other test (or run) uses.
fn unique(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{what}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn connect(url: &str) -> NatsBus {
    timeout(WAIT, NatsBus::connect(url))
        .await
        .expect("connect in time")
        .expect("connect")
}

async fn next(sub: &mut Subscription) -> Message {
    timeout(WAIT, sub.recv())
        .await
        .expect("a message in time")
        .expect("a message")
}

/// Waits (bounded) until the server has `subscriber`'s subscriptions so
/// far: it handles one connection's commands in order, so once a probe
/// subscribed after them is delivered, they are in place too. (A flush
/// only writes to the socket.)
async fn ready(publisher: &NatsBus, subscriber: &NatsBus, root: &str) {
    let probe = format!("{root}-probe");
    let mut sub = subscriber.subscribe(&probe).await.unwrap();
    subscriber.flush().await.unwrap();
    let start = Instant::now();
    loop {
        publisher.publish(&probe, Bytes::new()).await.unwrap();
        publisher.flush().await.unwrap();
        if timeout(Duration::from_millis(20), sub.recv()).await.is_ok() {
            return;
        }
        assert!(start.elapsed() < WAIT, "subscriptions not in place in time");
    }
}

/// Waits (bounded) until `condition` holds.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < WAIT, "not in time: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn wildcard_subscriptions_across_two_connections() {
    let Some(url) = server() else { return };
    let publisher = connect(&url).await;
    let subscriber = connect(&url).await;
    let root = unique("t");
    let mut exact = subscriber.subscribe(&format!("{root}.a")).await.unwrap();
    let mut star = subscriber.subscribe(&format!("{root}.*.x")).await.unwrap();
    let mut rest = subscriber.subscribe(&format!("{root}.>")).await.unwrap();
    ready(&publisher, &subscriber, &root).await;

    for (subject, payload) in [("a", "1"), ("b.x", "2"), ("b.c.d", "3")] {
        publisher
            .publish(&format!("{root}.{subject}"), Bytes::from(payload))
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();

    let got = next(&mut exact).await;
    assert_eq!(
        (got.subject, got.payload),
        (format!("{root}.a"), Bytes::from("1"))
    );
    let got = next(&mut star).await;
    assert_eq!(
        (got.subject, got.payload),
        (format!("{root}.b.x"), Bytes::from("2"))
    );
    for want in ["a", "b.x", "b.c.d"] {
        assert_eq!(next(&mut rest).await.subject, format!("{root}.{want}"));
    }
    // Nothing else reached the narrower subscriptions.
    publisher
        .publish(&format!("{root}.end"), Bytes::from("4"))
        .await
        .unwrap();
    assert_eq!(next(&mut rest).await.subject, format!("{root}.end"));
    for narrow in [&mut exact, &mut star] {
        assert!(
            timeout(Duration::from_millis(100), narrow.recv())
                .await
                .is_err()
        );
        assert_eq!(narrow.dropped(), 0);
    }

    // The same checks as LocalBus, before anything reaches the server.
    assert!(matches!(
        publisher.publish(&format!("{root}.*"), Bytes::new()).await,
        Err(Error::InvalidSubject { .. })
    ));
    assert!(matches!(
        publisher.subscribe(&format!("{root}.>.a")).await,
        Err(Error::InvalidSubject { .. })
    ));
}

#[tokio::test]
async fn a_slow_subscriber_loses_messages_instead_of_queueing_them() {
    let Some(url) = server() else { return };
    let publisher = connect(&url).await;
    let subscriber = connect(&url).await.with_subscription_capacity(4);
    let root = unique("slow");
    let mut slow = subscriber.subscribe(&format!("{root}.>")).await.unwrap();
    ready(&publisher, &subscriber, &root).await;
    for i in 0..200u32 {
        publisher
            .publish(&format!("{root}.m"), Bytes::from(i.to_string()))
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    // All 200 reach this node; 4 are kept, the rest counted as lost.
    let start = Instant::now();
    while slow.dropped() < 196 {
        assert!(start.elapsed() < WAIT, "only {} dropped", slow.dropped());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(slow.dropped(), 196);
    for i in 0..4u32 {
        assert_eq!(next(&mut slow).await.payload, Bytes::from(i.to_string()));
    }
    assert!(
        timeout(Duration::from_millis(100), slow.recv())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn connecting_to_nothing_is_a_connect_error() {
    // Port 1 on loopback: nobody listens (no server needed for this one).
    let result = timeout(WAIT, NatsBus::connect("nats://127.0.0.1:1"))
        .await
        .expect("fails in time");
    let Err(Error::Connect { url, .. }) = result else {
        panic!("expected a connect error");
    };
    assert_eq!(url, "nats://127.0.0.1:1");
}

#[tokio::test]
async fn presence_between_two_nodes_and_a_lost_node() {
    let Some(url) = server() else { return };
    let mut config = PresenceConfig::default();
    config.heartbeat = Duration::from_millis(100);
    config.expiry = Duration::from_millis(300);
    let a_id = NodeId::new(&unique("a")).unwrap();
    let b_id = NodeId::new(&unique("b")).unwrap();
    let bus_a: Arc<dyn Bus> = Arc::new(connect(&url).await);
    let bus_b: Arc<dyn Bus> = Arc::new(connect(&url).await);
    let a = PresenceRegistry::start(bus_a, a_id.clone(), config.clone())
        .await
        .unwrap();
    let b = PresenceRegistry::start(bus_b, b_id.clone(), config)
        .await
        .unwrap();
    let mut events = b.events();

    let alice = OperatorRef::new("demo", &unique("alice"));
    let bob = OperatorRef::new("demo", &unique("bob"));
    a.set_available(&alice, "phone", true).await.unwrap();
    b.set_available(&bob, "desktop", true).await.unwrap();
    eventually("b sees alice on a", || b.is_available(&alice)).await;
    eventually("a sees bob on b", || a.is_available(&bob)).await;
    assert_eq!(
        b.locations(&alice),
        vec![(a_id.clone(), "phone".to_owned())]
    );
    assert_eq!(
        a.locations(&bob),
        vec![(b_id.clone(), "desktop".to_owned())]
    );

    // Several heartbeats and expiries later, both are still there.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(b.is_available(&alice));
    assert!(a.is_available(&bob));

    // Node a stops heartbeating: b drops it and alice after the expiry.
    drop(a);
    let stopped = Instant::now();
    let lost = timeout(WAIT, async {
        let mut unavailable = false;
        loop {
            match events.recv().await.expect("event") {
                PresenceEvent::Unavailable { node, operator, .. }
                    if node == a_id && operator == alice =>
                {
                    unavailable = true;
                }
                PresenceEvent::NodeLost { node } if node == a_id => return unavailable,
                _ => {}
            }
        }
    })
    .await
    .expect("node a lost in time");
    assert!(lost, "alice became unavailable before node a was lost");
    // Not before the expiry less one heartbeat (the last one may have
    // been just before the stop).
    assert!(
        stopped.elapsed() >= Duration::from_millis(200),
        "{:?}",
        stopped.elapsed()
    );
    assert!(!b.is_available(&alice));
    assert!(!b.nodes().contains(&a_id));
    assert!(b.is_available(&bob));
}
