//! Gateway nodes wired by [`ClusterNode`] over one bus (here the
//! in-process [`LocalBus`]; `salesiq-e2e/tests/cluster.rs` runs the same
//! over NATS and PostgreSQL): each node a real XMPP server with its own
//! gateway, all on one store, and real XMPP clients logged in to them.
//! Chats move between nodes: a visitor who comes back on another node
//! takes the chat there, and a node that leaves hands its chats over.

#![allow(clippy::unwrap_used)]
// The tests run on the current-thread runtime, like the other tests with
// tokio-xmpp clients: on a multi-thread one, tokio-xmpp 6.0.0's client
// loses a wakeup and stops handing out stanzas. Its `Client` splits its
// stream into a `StanzaSender` and a `StanzaReceiver` over one
// `tokio::sync::Mutex`; `StanzaSender::send` holds the lock while it
// queues, and `StanzaReceiver::poll_next` (src/stanzastream/mod.rs)
// returns `Poll::Pending` when `try_lock` fails, without arranging a
// wakeup. When a stanza arrives while the test is sending one, the
// client's worker task is woken, finds the lock taken, and registers no
// waker: nothing wakes it again. On two workers, with both tests in
// parallel, a third to a half of the runs failed so (alice's ping after
// her initial presence, or a later `message_saying`). Measured: the
// server read the ping, wrote the result and read the client's XEP-0198
// `<a/>` for it (the stream below the lost wakeup still runs); each
// failing run had exactly one failed `try_lock`, right after the server's
// first write; with a copy of tokio-xmpp that calls
// `cx.waker().wake_by_ref()` there, 15 of 15 runs passed. On the
// current-thread runtime the lock is held across a yield only when the
// client's send queue (16) is full, which these tests never fill.

use std::sync::Arc;

use salesiq_cluster::{Bus, ClusterNode, LocalBus, NodeId};
use salesiq_session::{
    ChatRequest, Gateway, SqliteStore, Store, StoreAccounts, VisitorChat, VisitorDetails,
    VisitorEvent,
};
use salesiq_test_support::gateway::{PASSWORD, demo_store, message_saying, next_line};
use salesiq_test_support::{Connector, Mode, Operator, STEP, TestServer};
use tokio_xmpp::IqRequest;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message};
use tokio_xmpp::parsers::presence::Presence;

const ALICE: &str = "demo|alice.ops@salesiq.zoho.com";
const VISITOR: &str = "demo|visitor-1@salesiq.zoho.com";

/// One node: its XMPP server (running), gateway and cluster glue.
struct Node {
    gateway: Gateway,
    cluster: ClusterNode,
    connector: Connector,
    /// Stops the server when taken and dropped.
    server: Option<TestServer>,
}

async fn start_on(
    bus: Arc<dyn Bus>,
    store: &Arc<SqliteStore>,
    accounts: &Arc<StoreAccounts>,
    id: &str,
) -> Node {
    let cluster = ClusterNode::start(bus, NodeId::new(id).unwrap())
        .await
        .unwrap();
    let (seam, wrap) = (cluster.cluster(), cluster.clone());
    let gateway_store: Arc<dyn Store> = store.clone();
    let server = TestServer::start_with_relay(
        |_| {},
        accounts.clone(),
        accounts.clone(),
        cluster.relay(),
        move |sink| {
            Gateway::builder(gateway_store)
                .cluster(seam)
                .build(wrap.sink(sink))
        },
    )
    .await;
    cluster.serve(server.handle.clone()).await.unwrap();
    Node {
        gateway: server.gateway.clone().unwrap(),
        cluster,
        connector: server.connector(Mode::StartTls),
        server: Some(server),
    }
}

impl Node {
    /// `jid`'s device on this node, available, and known to be (a ping).
    async fn online(&self, jid: &str, resource: &str) -> Operator {
        let full = format!("{jid}/{resource}");
        let mut operator = Operator::connect(self.connector.clone(), &full, PASSWORD).await;
        operator.send(Presence::available()).await;
        let ping = Element::builder("ping", "urn:xmpp:ping").build();
        operator.iq(None, IqRequest::Get(ping)).await;
        operator
    }

    /// A visitor asking this node's gateway for a chat, once queued.
    async fn visitor(&self, question: &str) -> VisitorChat {
        let mut details = VisitorDetails::default();
        details.name = "Ann Lee".into();
        let request = ChatRequest::new("demo", details, question, None);
        let mut visitor = self.gateway.request_chat(request).await.unwrap();
        assert_eq!(
            visitor.next_event().await,
            Some(VisitorEvent::Queued { position: 1 })
        );
        visitor
    }

    fn stop(&mut self) {
        drop(self.server.take());
    }
}

fn to_visitor(text: &str) -> Message {
    Message::chat(Some(Jid::new(VISITOR).unwrap())).with_body(Lang::new(), text.into())
}

/// Waits until `node` has heard of an available resource of alice.
async fn knows_alice(node: &Node) {
    let alice = salesiq_session::OperatorRef::new("demo", "alice.ops");
    tokio::time::timeout(STEP, async {
        while !node.gateway.is_available(&alice) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("alice's availability crosses the bus");
}

/// The visitor's next content line that is a message; its text.
async fn hears(visitor: &mut VisitorChat) -> String {
    loop {
        match tokio::time::timeout(STEP, next_line(visitor))
            .await
            .unwrap()
        {
            Some(VisitorEvent::Message { text, .. }) => return text,
            Some(_) => {}
            None => panic!("the visitor's chat closed"),
        }
    }
}

/// Alice on node b accepts a chat whose visitor is on node a, and says
/// "one"; returns the visitor, who heard it.
async fn accepted_across(a: &Node, alice: &mut Operator) -> VisitorChat {
    let mut visitor = a.visitor("Where is my parcel?").await;
    message_saying(alice, "Where is my parcel?").await;
    alice.send(to_visitor("y")).await;
    assert!(matches!(
        tokio::time::timeout(STEP, next_line(&mut visitor))
            .await
            .unwrap(),
        Some(VisitorEvent::Joined { .. })
    ));
    alice.send(to_visitor("one")).await;
    assert_eq!(hears(&mut visitor).await, "one");
    visitor
}

/// Nodes a and b on `bus_a` and `bus_b` (views of one bus) over one
/// store, alice on b with a chat whose visitor is on a, accepted: what
/// the take-over tests start from.
struct Accepted {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    a: Node,
    b: Node,
    alice: Operator,
    visitor: VisitorChat,
}

async fn accepted(bus_a: Arc<dyn Bus>, bus_b: Arc<dyn Bus>) -> Accepted {
    let dir = tempfile::tempdir().unwrap();
    let (store, accounts) = demo_store(dir.path(), &[]).await;
    let a = start_on(bus_a, &store, &accounts, "a").await;
    let b = start_on(bus_b, &store, &accounts, "b").await;
    let mut alice = b.online(ALICE, "desk").await;
    knows_alice(&a).await;
    let visitor = accepted_across(&a, &mut alice).await;
    Accepted {
        _dir: dir,
        store,
        a,
        b,
        alice,
        visitor,
    }
}

/// The owner the store records for the only live chat.
async fn owner(store: &SqliteStore) -> Option<String> {
    let live = store.live_chats().await.unwrap();
    assert_eq!(live.len(), 1, "{live:?}");
    live[0].owner.clone()
}

#[tokio::test]
async fn a_visitor_back_on_another_node_takes_the_chat_along() {
    let bus = LocalBus::new();
    let Accepted {
        _dir,
        store,
        mut a,
        mut b,
        mut alice,
        mut visitor,
    } = accepted(Arc::new(bus.clone()), Arc::new(bus)).await;
    assert_eq!(owner(&store).await.as_deref(), Some("a"));

    // The visitor's page comes back on node b (the load balancer moved
    // it): a gives the chat up, b claims it and runs it.
    let token = visitor.resume_token().to_owned();
    let mut resumed = tokio::time::timeout(STEP, b.gateway.resume_chat("demo", &token, 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner(&store).await.as_deref(), Some("b"));
    assert_eq!(
        tokio::time::timeout(STEP, visitor.next_event())
            .await
            .unwrap(),
        None,
        "the old connection on a is closed"
    );

    // Alice writes on; the visitor, now on b, hears her; and back.
    alice.send(to_visitor("two")).await;
    assert_eq!(hears(&mut resumed).await, "two");
    b.gateway
        .visitor_says(resumed.chat, "Thanks!")
        .await
        .unwrap();
    message_saying(&mut alice, "Thanks!").await;

    // Node a runs nothing of it any more.
    assert!(a.gateway.visitor_says(resumed.chat, "lost").await.is_err());
    alice.end().await;
    a.stop();
    b.stop();
}

#[tokio::test]
async fn a_node_that_leaves_hands_its_chats_over() {
    let bus = LocalBus::new();
    let Accepted {
        _dir,
        store,
        mut a,
        mut b,
        mut alice,
        visitor,
    } = accepted(Arc::new(bus.clone()), Arc::new(bus)).await;
    let token = visitor.resume_token().to_owned();

    // Node a stops: its chats are kept, and it leaves the cluster. Node b
    // hears it leave and adopts them.
    assert_eq!(a.gateway.shut_down().await.unwrap(), 1);
    a.cluster.shutdown().await.unwrap();
    a.stop();
    tokio::time::timeout(STEP, async {
        while owner(&store).await.as_deref() != Some("b") {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("node b adopts the chat");

    // The visitor resumes on b and gets what they missed; alice chats on.
    let mut resumed = b.gateway.resume_chat("demo", &token, 2).await.unwrap();
    alice.send(to_visitor("still here")).await;
    assert_eq!(hears(&mut resumed).await, "still here");
    alice.end().await;
    b.stop();
}

/// A bus that loses every chat listing: what a node sees before a
/// listing arrives, for ever.
#[derive(Debug)]
struct NoListings(LocalBus);

impl Bus for NoListings {
    fn publish<'a>(
        &'a self,
        subject: &'a str,
        payload: bytes::Bytes,
    ) -> salesiq_session::BoxFuture<'a, Result<(), salesiq_cluster::Error>> {
        if subject.starts_with(salesiq_cluster::LISTING_SUBJECT_PREFIX) {
            return Box::pin(async { Ok(()) });
        }
        self.0.publish(subject, payload)
    }

    fn subscribe<'a>(
        &'a self,
        pattern: &'a str,
    ) -> salesiq_session::BoxFuture<'a, Result<salesiq_cluster::Subscription, salesiq_cluster::Error>>
    {
        self.0.subscribe(pattern)
    }
}

/// An operator may answer an offer before the chat's listing reaches
/// their node: the offer itself says which node runs the chat.
#[tokio::test]
async fn an_answer_right_after_the_offer_finds_the_chat() {
    let bus = LocalBus::new();
    // Alice's `y` and her line reach node a with no listing ever seen.
    let Accepted {
        _dir,
        a,
        b: _b,
        mut alice,
        visitor,
        ..
    } = accepted(Arc::new(NoListings(bus.clone())), Arc::new(NoListings(bus))).await;
    a.gateway.visitor_says(visitor.chat, "Hi").await.unwrap();
    message_saying(&mut alice, "Hi").await;
    alice.end().await;
}

/// A bus whose node can be told it is off the bus.
#[derive(Debug)]
struct Switch(LocalBus, Arc<std::sync::atomic::AtomicBool>);

impl Bus for Switch {
    fn publish<'a>(
        &'a self,
        subject: &'a str,
        payload: bytes::Bytes,
    ) -> salesiq_session::BoxFuture<'a, Result<(), salesiq_cluster::Error>> {
        self.0.publish(subject, payload)
    }

    fn subscribe<'a>(
        &'a self,
        pattern: &'a str,
    ) -> salesiq_session::BoxFuture<'a, Result<salesiq_cluster::Subscription, salesiq_cluster::Error>>
    {
        self.0.subscribe(pattern)
    }

    fn is_connected(&self) -> bool {
        self.1.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// When a node is off the bus every other node falls silent at once:
/// it takes nobody's chats then, and only once it has been back for a
/// while does it adopt those of a node still silent.
#[tokio::test]
async fn a_node_off_the_bus_adopts_nothing_until_it_is_back() {
    let bus = LocalBus::new();
    let online = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let Accepted {
        _dir,
        store,
        mut a,
        b,
        alice,
        visitor: _visitor,
    } = accepted(Arc::new(bus.clone()), Arc::new(Switch(bus, online.clone()))).await;

    // b is off the bus (as it sees it) when a goes.
    online.store(false, std::sync::atomic::Ordering::Relaxed);
    a.gateway.shut_down().await.unwrap();
    a.cluster.shutdown().await.unwrap();
    a.stop();
    tokio::time::timeout(STEP, async {
        while !b.cluster.registry().nodes().is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    // Two refresh periods with a lost node and no bus: nothing adopted.
    tokio::time::sleep(2 * salesiq_cluster::LISTING_REFRESH).await;
    assert_eq!(owner(&store).await.as_deref(), Some("a"));

    // Back on the bus, and a is still silent: b adopts its chat.
    online.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::time::timeout(STEP, async {
        while owner(&store).await.as_deref() != Some("b") {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("adopted once back on the bus");
    alice.end().await;
}

/// What arrives over the bus is input from the network: garbage, forged
/// listings of another portal and events naming another portal's
/// contacts are dropped, and the chat goes on.
#[tokio::test]
async fn hostile_bus_messages_change_nothing() {
    let bus = LocalBus::new();
    let Accepted {
        _dir,
        a,
        b: _b,
        mut alice,
        mut visitor,
        ..
    } = accepted(Arc::new(bus.clone()), Arc::new(bus.clone())).await;
    let forged_listing = serde_json::json!({"type": "set", "listings": [{
        "chat": visitor.chat.0, "portal": "demo",
        "contact": {"kind": "visitor", "key": "acme|1"},
        "name": "x", "group": "Visitors", "status": "", "waiting": true,
        "audience": [{"portal": "acme", "username": "carol.ops"}]
    }]});
    let foreign_event = serde_json::json!({"type": "event", "from": "a",
        "operator": {"portal": "demo", "username": "alice.ops"},
        "resource": null, "keep": true,
        "event": {"type": "message", "from": {"kind": "visitor", "key": "acme|1"}, "text": "forged"}});
    let junk: Vec<(String, Vec<u8>)> = vec![
        ("salesiq.node.b".into(), b"not json".to_vec()),
        ("salesiq.node.b".into(), vec![0xff; 4096]),
        ("salesiq.node.b".into(), foreign_event.to_string().into_bytes()),
        (
            "salesiq.node.b".into(),
            br#"{"type":"stanza","operator":{"portal":"demo","username":"alice.ops"},"resource":null,"xml":"<unclosed"}"#.to_vec(),
        ),
        ("salesiq.listing.z".into(), forged_listing.to_string().into_bytes()),
        ("salesiq.listing.z".into(), b"{\"type\":\"set\"}".to_vec()),
        ("salesiq.xmpp.z".into(), b"{\"operator\":1}".to_vec()),
    ];
    for (subject, payload) in junk {
        bus.publish(&subject, payload.into()).await.unwrap();
    }
    // The chat goes on both ways; the forged line never reached alice.
    alice.send(to_visitor("still fine")).await;
    assert_eq!(hears(&mut visitor).await, "still fine");
    a.gateway.visitor_says(visitor.chat, "Good").await.unwrap();
    loop {
        let message = alice.next_message().await;
        let text = message.bodies.values().next().cloned().unwrap_or_default();
        assert!(!text.contains("forged"), "{text}");
        if text == "Good" {
            break;
        }
    }
    alice.end().await;
}

/// A node that starts (or restarts) beside others restores and ends only
/// its own chats: another node's live chat is neither taken nor ended.
#[tokio::test]
async fn a_starting_node_leaves_the_other_nodes_chats_alone() {
    let bus = LocalBus::new();
    let Accepted {
        _dir,
        store,
        a: _a,
        b,
        mut alice,
        mut visitor,
    } = accepted(Arc::new(bus.clone()), Arc::new(bus)).await;
    let restored = b.gateway.restore_chats().await.unwrap();
    assert_eq!((restored.restored, restored.closed), (0, 0));
    assert_eq!(owner(&store).await.as_deref(), Some("a"));
    let chat = store.unfinished_chats().await.unwrap();
    assert_eq!(chat, vec![visitor.chat], "still live in the store");
    alice.send(to_visitor("on a still")).await;
    assert_eq!(hears(&mut visitor).await, "on a still");
    alice.end().await;
}
