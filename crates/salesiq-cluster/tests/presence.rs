//! Two registries, nodes a and b, on one LocalBus, with paused time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use salesiq_cluster::{Bus, LocalBus, NodeId, PresenceConfig, PresenceEvent, PresenceRegistry};
use salesiq_session::OperatorRef;
use tokio::sync::broadcast;
use tokio::time::{Instant, timeout};

fn node(id: &str) -> NodeId {
    NodeId::new(id).expect("node id")
}

async fn registry(bus: &LocalBus, id: &str) -> PresenceRegistry {
    let bus: Arc<dyn Bus> = Arc::new(bus.clone());
    PresenceRegistry::start(bus, node(id), PresenceConfig::default())
        .await
        .expect("start")
}

/// The next event that is not a `NodeJoined`, within `within`.
async fn next_change(
    events: &mut broadcast::Receiver<PresenceEvent>,
    within: Duration,
) -> PresenceEvent {
    timeout(within, async {
        loop {
            match events.recv().await.expect("event") {
                PresenceEvent::NodeJoined { .. } => {}
                event => return event,
            }
        }
    })
    .await
    .expect("an event in time")
}

#[tokio::test(start_paused = true)]
async fn two_nodes_see_each_others_operators() {
    let bus = LocalBus::new();
    let a = registry(&bus, "a").await;
    let alice = OperatorRef::new("demo", "alice.ops");
    a.set_available(&alice, "phone", true).await.expect("set");
    // b starts later: a's snapshot reaches it at once (a answers a newcomer).
    let b = registry(&bus, "b").await;
    let bob = OperatorRef::new("demo", "Bob.Ops");
    b.set_available(&bob, "desktop", true).await.expect("set");

    let start = Instant::now();
    while !(b.is_available(&alice) && a.is_available(&bob)) {
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "not seen at once"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(b.locations(&alice), vec![(node("a"), "phone".to_owned())]);
    assert_eq!(
        a.locations(&OperatorRef::new("DEMO", "bob.ops")),
        vec![(node("b"), "desktop".to_owned())]
    );
    assert_eq!(a.locations(&alice), vec![(node("a"), "phone".to_owned())]);
    assert_eq!(a.nodes(), vec![node("b")]);
    assert_eq!(b.nodes(), vec![node("a")]);

    // Heartbeats keep both alive well past the expiry.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(b.is_available(&alice));
    assert!(a.is_available(&bob));
    assert_eq!(a.rejected() + b.rejected(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_delta_arrives_at_once() {
    let bus = LocalBus::new();
    let a = registry(&bus, "a").await;
    let b = registry(&bus, "b").await;
    let mut events = b.events();
    tokio::time::sleep(Duration::from_millis(10)).await;

    let alice = OperatorRef::new("demo", "alice.ops");
    let before = Instant::now();
    assert!(a.set_available(&alice, "phone", true).await.expect("set"));
    assert!(
        !a.set_available(&alice, "phone", true)
            .await
            .expect("set again")
    );
    let event = next_change(&mut events, Duration::from_millis(50)).await;
    assert_eq!(
        event,
        PresenceEvent::Available {
            node: node("a"),
            operator: alice.clone(),
            resource: "phone".to_owned()
        }
    );
    assert!(before.elapsed() < Duration::from_millis(50), "not at once");
    assert!(b.is_available(&alice));

    a.set_available(&alice, "laptop", true).await.expect("set");
    next_change(&mut events, Duration::from_millis(50)).await;
    assert_eq!(
        b.locations(&alice),
        vec![
            (node("a"), "laptop".to_owned()),
            (node("a"), "phone".to_owned())
        ]
    );

    a.set_available(&alice, "phone", false)
        .await
        .expect("unset");
    a.set_available(&alice, "laptop", false)
        .await
        .expect("unset");
    for resource in ["phone", "laptop"] {
        assert_eq!(
            next_change(&mut events, Duration::from_millis(50)).await,
            PresenceEvent::Unavailable {
                node: node("a"),
                operator: alice.clone(),
                resource: resource.to_owned()
            }
        );
    }
    assert!(!b.is_available(&alice));
}

#[tokio::test(start_paused = true)]
async fn a_silent_node_is_dropped_after_the_expiry() {
    let bus = LocalBus::new();
    let a = registry(&bus, "a").await;
    let b = registry(&bus, "b").await;
    let alice = OperatorRef::new("demo", "alice.ops");
    a.set_available(&alice, "phone", true).await.expect("set");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(b.is_available(&alice));
    let mut events = b.events();

    drop(a);
    let stopped = Instant::now();
    assert_eq!(
        next_change(&mut events, Duration::from_secs(10)).await,
        PresenceEvent::Unavailable {
            node: node("a"),
            operator: alice.clone(),
            resource: "phone".to_owned()
        }
    );
    assert_eq!(
        next_change(&mut events, Duration::from_secs(1)).await,
        PresenceEvent::NodeLost { node: node("a") }
    );
    // Not before the expiry (3 s after the last heartbeat, at most 1 s
    // before the stop), and soon after it (the sweep runs every 0.75 s).
    let after = stopped.elapsed();
    assert!(after >= Duration::from_secs(2), "{after:?}");
    assert!(after <= Duration::from_secs(4), "{after:?}");
    assert!(!b.is_available(&alice));
    assert!(b.locations(&alice).is_empty());
    assert!(b.nodes().is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_tells_the_others_at_once() {
    let bus = LocalBus::new();
    let a = registry(&bus, "a").await;
    let b = registry(&bus, "b").await;
    let alice = OperatorRef::new("demo", "alice.ops");
    a.set_available(&alice, "phone", true).await.expect("set");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut events = b.events();
    a.shutdown().await.expect("shutdown");
    next_change(&mut events, Duration::from_millis(50)).await;
    assert_eq!(
        next_change(&mut events, Duration::from_millis(50)).await,
        PresenceEvent::NodeLost { node: node("a") }
    );
    assert!(!b.is_available(&alice));
}

#[tokio::test(start_paused = true)]
async fn malformed_and_oversized_payloads_are_ignored() {
    let bus = LocalBus::new();
    let b = registry(&bus, "b").await;
    let alice = OperatorRef::new("demo", "alice.ops");
    let entry = r#"{"portal":"demo","username":"alice.ops","resource":"phone"}"#;
    let many = format!(
        r#"{{"type":"snapshot","entries":[{}]}}"#,
        vec![entry; 1025].join(",")
    );
    let long = "x".repeat(129);
    let long_resource = format!(
        r#"{{"type":"snapshot","entries":[{{"portal":"demo","username":"alice.ops","resource":"{long}"}}]}}"#
    );
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("salesiq.presence.c", b"not json".to_vec()),
        ("salesiq.presence.c", b"{\"type\":\"snapshot\"}".to_vec()),
        ("salesiq.presence.c", b"{\"type\":\"reboot\"}".to_vec()),
        ("salesiq.presence.c", br#"{"type":"snapshot","entries":[{"portal":"demo"}]}"#.to_vec()),
        ("salesiq.presence.c", br#"{"type":"snapshot","entries":[{"portal":"","username":"u","resource":"r"}]}"#.to_vec()),
        ("salesiq.presence.c", br#"{"type":"delta","available":[{"portal":"demo","username":"alice.ops","resource":"a\u0000"}]}"#.to_vec()),
        ("salesiq.presence.c", long_resource.into_bytes()),
        ("salesiq.presence.c", many.into_bytes()),
        ("salesiq.presence.c", vec![0xff, 0xfe, 0x00]),
        ("salesiq.presence.c", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
        ("salesiq.presence.c", "[".repeat(100_000).into_bytes()),
        ("salesiq.presence.c", Vec::new()),
        ("salesiq.presence.c", b"{\"type\":\"snapshot\",\"entries\":{}}".to_vec()),
        ("salesiq.presence.x-\u{7f}", br#"{"type":"leave"}"#.to_vec()),
    ];
    let count = bad.len();
    for (subject, payload) in bad {
        // The last subject is refused by the bus itself; the others reach b.
        let _ = bus.publish(subject, Bytes::from(payload)).await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(b.rejected(), count as u64 - 1);
    assert!(!b.is_available(&alice));
    assert!(b.nodes().is_empty());

    // The registry goes on: a valid message from c after all that counts.
    let good = format!(r#"{{"type":"snapshot","entries":[{entry}],"future":1}}"#);
    bus.publish("salesiq.presence.c", Bytes::from(good))
        .await
        .expect("publish");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(b.locations(&alice), vec![(node("c"), "phone".to_owned())]);
}

#[tokio::test(start_paused = true)]
async fn bounds_on_nodes_and_local_entries() {
    let bus = LocalBus::new();
    let mut config = PresenceConfig::default();
    config.max_nodes = 2;
    config.max_entries = 2;
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let b = PresenceRegistry::start(shared, node("b"), config)
        .await
        .expect("start");
    for n in ["c", "d", "e", "f"] {
        bus.publish(
            &format!("salesiq.presence.{n}"),
            Bytes::from_static(br#"{"type":"snapshot","entries":[]}"#),
        )
        .await
        .expect("publish");
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(b.nodes(), vec![node("c"), node("d")]);
    assert_eq!(b.rejected(), 2);

    let alice = OperatorRef::new("demo", "alice.ops");
    b.set_available(&alice, "1", true).await.expect("set");
    b.set_available(&alice, "2", true).await.expect("set");
    assert!(b.set_available(&alice, "3", true).await.is_err());
    assert!(b.set_available(&alice, "", true).await.is_err());
    assert!(
        b.set_available(&alice, &"r".repeat(129), true)
            .await
            .is_err()
    );
    // Setting what is already there is no new entry.
    assert!(!b.set_available(&alice, "2", true).await.expect("set"));
}

#[test]
fn node_ids() {
    assert!(NodeId::new("gw-eu_1").is_ok());
    for bad in ["", "a.b", "a*", ">", "a b", "é", &"n".repeat(65)] {
        assert!(NodeId::new(bad).is_err(), "{bad:?}");
    }
}
