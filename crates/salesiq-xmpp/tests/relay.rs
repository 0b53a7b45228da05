//! Issue 14: operators connected to different nodes see each other's
//! presence and message each other, through the `Relay` seam. Two servers
//! in this process on one store, linked by a relay in memory; real XMPP
//! clients (tokio-xmpp) over TCP and TLS.
//!
//! On tokio's current-thread runtime, as tests/chat.rs (see there why).

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use salesiq_test_support as support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use salesiq_session::{
    DeviceId, Gateway, NewOperator, OperatorRef, Portal, SqliteStore, Store, StoreAccounts,
};
use salesiq_xmpp::{Relay, ServerHandle};
use support::{DOMAIN, Mode, Operator, TestServer};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message, MessageType};
use tokio_xmpp::parsers::presence::{Presence, Show, Type as PresenceType};
use tokio_xmpp::{IqRequest, Stanza};

const ALICE: &str = "demo|alice.ops@salesiq.zoho.com";
const BOB: &str = "demo|bob.ops@salesiq.zoho.com";
/// Another portal's operator (usernames are unique across portals).
const STRANGER: &str = "acme|carol.ops@salesiq.zoho.com";
const PASSWORD: &str = "pw-123456";

/// What one node's resources said: (operator, resource) -> presence.
type Said = Mutex<HashMap<(OperatorRef, String), Element>>;

/// One side of a relay between two servers in this process: it tells the
/// other side's [`ServerHandle`] (set once both are bound) and remembers
/// what the other side's resources said.
#[derive(Debug, Default)]
struct Link {
    peer: OnceLock<ServerHandle>,
    /// What this side's resources said (the peer's `presences`).
    mine: Arc<Said>,
    /// What the peer's resources said.
    theirs: Arc<Said>,
    /// Every presence this side was told: operator, resource, type.
    told: Mutex<Vec<(String, String, String)>>,
}

impl Link {
    /// Two sides, each remembering what the other's resources said.
    fn pair() -> (Arc<Self>, Arc<Self>) {
        let (a, b) = (Arc::new(Said::default()), Arc::new(Said::default()));
        let side = |mine: &Arc<Said>, theirs: &Arc<Said>| {
            Arc::new(Self {
                mine: mine.clone(),
                theirs: theirs.clone(),
                ..Self::default()
            })
        };
        (side(&a, &b), side(&b, &a))
    }

    /// The presences of type `kind` ("available", "unavailable") this side
    /// was told of for `operator`'s `resource`.
    fn told(&self, operator: &str, resource: &str, kind: &str) -> usize {
        let told = self.told.lock().unwrap();
        told.iter()
            .filter(|(o, r, k)| o == operator && r == resource && k == kind)
            .count()
    }
}

impl Relay for Link {
    fn presence(&self, operator: &OperatorRef, resource: &str, _: DeviceId, presence: &Element) {
        assert_eq!(presence.attr("to"), None, "{presence:?}");
        let kind = presence.attr("type").unwrap_or("available");
        self.told.lock().unwrap().push((
            operator.to_string(),
            resource.to_owned(),
            kind.to_owned(),
        ));
        let key = (operator.clone(), resource.to_owned());
        if kind == "unavailable" {
            self.mine.lock().unwrap().remove(&key);
        } else {
            self.mine.lock().unwrap().insert(key, presence.clone());
        }
        if let Some(peer) = self.peer.get() {
            peer.remote_presence(operator, resource, presence.clone());
        }
    }

    fn presences(&self, operator: &OperatorRef) -> Vec<(String, Element)> {
        let theirs = self.theirs.lock().unwrap();
        theirs
            .iter()
            .filter(|((o, _), _)| o == operator)
            .map(|((_, r), p)| (r.clone(), p.clone()))
            .collect()
    }

    fn forward(&self, operator: &OperatorRef, resource: Option<&str>, stanza: &Element) -> bool {
        let there = self
            .presences(operator)
            .iter()
            .any(|(r, _)| resource.is_none_or(|wanted| wanted == r));
        if let (true, Some(peer)) = (there, self.peer.get()) {
            peer.deliver(operator, resource, stanza.clone());
        }
        there
    }
}

/// A running server of the cluster (stopped when dropped).
struct Node {
    handle: ServerHandle,
    gateway: Gateway,
    server: TestServer,
}

impl Node {
    async fn start(store: Arc<SqliteStore>, relay: Option<Arc<Link>>) -> Self {
        let accounts = Arc::new(StoreAccounts::new(store.clone()));
        let make = move |sink| Gateway::new(store, sink);
        let server = match relay {
            Some(relay) => {
                TestServer::start_with_relay(|_| {}, accounts.clone(), accounts, relay, make).await
            }
            None => TestServer::start_with_gateway(|_| {}, accounts.clone(), accounts, make).await,
        };
        Self {
            handle: server.handle.clone(),
            gateway: server.gateway.clone().unwrap(),
            server,
        }
    }

    async fn login(&self, jid: &str, resource: &str) -> Operator {
        let connector = self.server.connector(Mode::StartTls);
        Operator::connect(connector, &format!("{jid}/{resource}"), PASSWORD).await
    }

    /// Logged in and available, and known to be so (a ping round trip
    /// after the presence).
    async fn online(&self, jid: &str, resource: &str) -> Operator {
        let mut operator = self.login(jid, resource).await;
        operator.send(Presence::available()).await;
        round_trip(&mut operator).await;
        operator
    }
}

/// Two nodes on one store (Alice and Bob of `demo`, Carol of `acme`),
/// linked by a relay (or not).
struct Cluster {
    a: Node,
    b: Node,
    links: Option<(Arc<Link>, Arc<Link>)>,
    _dir: tempfile::TempDir,
}

async fn cluster(linked: bool) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("gateway.sqlite3")).unwrap());
    let accounts = StoreAccounts::new(store.clone());
    for (portal, name, username) in [
        ("demo", "Alice", "alice.ops"),
        ("demo", "Bob", "bob.ops"),
        ("acme", "Carol", "carol.ops"),
    ] {
        store.put_portal(&Portal::new(portal, "en")).await.unwrap();
        let email = format!("{username}@{portal}.example");
        let operator = store
            .add_operator(&NewOperator::new(portal, &email, name))
            .await
            .unwrap();
        store.claim_username(operator.id, username).await.unwrap();
        accounts.set_password(operator.id, PASSWORD).await.unwrap();
    }
    let links = linked.then(Link::pair);
    let a = Node::start(store.clone(), links.as_ref().map(|l| l.0.clone())).await;
    let b = Node::start(store, links.as_ref().map(|l| l.1.clone())).await;
    if let Some((to_b, to_a)) = &links {
        to_b.peer.set(b.handle.clone()).unwrap();
        to_a.peer.set(a.handle.clone()).unwrap();
    }
    Cluster {
        a,
        b,
        links,
        _dir: dir,
    }
}

impl Cluster {
    fn link_of_a(&self) -> &Link {
        &self.links.as_ref().unwrap().0
    }

    fn link_of_b(&self) -> &Link {
        &self.links.as_ref().unwrap().1
    }
}

fn chat(to: &str, text: &str) -> Message {
    Message::chat(Some(Jid::new(to).unwrap())).with_body(Lang::new(), text.into())
}

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

fn from_of(stanza: &Stanza) -> String {
    let from = match stanza {
        Stanza::Message(m) => m.from.as_ref(),
        Stanza::Presence(p) => p.from.as_ref(),
        Stanza::Iq(_) => None,
    };
    from.map(ToString::to_string).unwrap_or_default()
}

async fn round_trip(operator: &mut Operator) {
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    operator.iq(None, IqRequest::Get(ping)).await;
}

async fn presence_from(operator: &mut Operator, from: &str) -> Presence {
    loop {
        if let Stanza::Presence(presence) = operator.next().await
            && presence.from.as_ref().map(ToString::to_string).as_deref() == Some(from)
        {
            return presence;
        }
    }
}

/// The next message with a body containing `text`, asserting that no
/// stanza before it came from a JID starting with `never`.
async fn message_saying(operator: &mut Operator, text: &str, never: &str) -> Message {
    loop {
        let stanza = operator.next().await;
        assert!(!from_of(&stanza).starts_with(never), "{stanza:?}");
        if let Stanza::Message(message) = stanza
            && body(&message).contains(text)
        {
            return message;
        }
    }
}

#[tokio::test]
async fn colleagues_on_two_nodes_see_each_other_and_chat() {
    let c = cluster(true).await;
    let mut alice = c.a.online(ALICE, "desk").await;
    let alice_desk = format!("{ALICE}/desk");
    let bob_phone = format!("{BOB}/phone");

    // Bob comes online on B: his initial presence brings Alice's from A,
    // and A tells Alice of his.
    let mut bob = c.b.online(BOB, "phone").await;
    let alices = presence_from(&mut bob, &alice_desk).await;
    assert_eq!(alices.type_, PresenceType::None);
    assert_eq!(
        alices.to.map(|j| j.to_string()).as_deref(),
        Some(&*bob_phone)
    );
    let bobs = presence_from(&mut alice, &bob_phone).await;
    assert_eq!(bobs.type_, PresenceType::None);
    assert_eq!(
        bobs.to.map(|j| j.to_string()).as_deref(),
        Some(&*alice_desk)
    );

    // An update.
    bob.send(Presence::available().with_show(Show::Away)).await;
    let away = presence_from(&mut alice, &bob_phone).await;
    assert_eq!(away.show, Some(Show::Away));

    // Messages to the bare and the full JID, both ways.
    alice.send(chat(BOB, "Can you take chat 42?")).await;
    let got = message_saying(&mut bob, "chat 42", "-").await;
    assert_eq!(got.from.map(|j| j.to_string()), Some(alice_desk.clone()));
    assert_eq!(got.type_, MessageType::Chat);
    // Archived once, on A, with the id of Bob's archive.
    assert!(
        got.payloads
            .iter()
            .any(|p| p.is("stanza-id", "urn:xmpp:sid:0")),
        "{:?}",
        got.payloads
    );
    alice.send(chat(&bob_phone, "Thanks, Bob")).await;
    message_saying(&mut bob, "Thanks, Bob", "-").await;
    bob.send(chat(&alice_desk, "y, on it")).await;
    message_saying(&mut alice, "y, on it", "-").await;
    // Nothing of it was kept for later.
    let bob_ref = OperatorRef::new("demo", "bob.ops");
    assert!(
        c.a.gateway
            .offline_messages(&bob_ref)
            .await
            .unwrap()
            .is_empty()
    );

    // A directed presence crosses too.
    alice
        .send(
            Presence::available()
                .with_to(Jid::new(BOB).unwrap())
                .with_show(Show::Dnd),
        )
        .await;
    let directed = presence_from(&mut bob, &alice_desk).await;
    assert_eq!(directed.show, Some(Show::Dnd));

    // Bob leaves: Alice sees him go, told once.
    bob.end().await;
    let gone = presence_from(&mut alice, &bob_phone).await;
    assert_eq!(gone.type_, PresenceType::Unavailable);
    assert_eq!(
        c.link_of_b().told("demo|bob.ops", "phone", "unavailable"),
        1
    );
    assert_eq!(c.link_of_b().told("demo|bob.ops", "phone", "available"), 2);
    assert_eq!(c.link_of_a().told("demo|alice.ops", "desk", "available"), 1);
    alice.end().await;
}

#[tokio::test]
async fn own_resources_on_two_nodes_see_each_other() {
    let c = cluster(true).await;
    let mut desk = c.a.online(ALICE, "desk").await;
    let mut phone = c.b.online(ALICE, "phone").await;
    presence_from(&mut phone, &format!("{ALICE}/desk")).await;
    presence_from(&mut desk, &format!("{ALICE}/phone")).await;
    desk.send(chat(&format!("{ALICE}/phone"), "note to self"))
        .await;
    message_saying(&mut phone, "note to self", "-").await;
    phone.end().await;
    desk.end().await;
}

#[tokio::test]
async fn a_colleague_online_nowhere_gets_it_at_login() {
    let c = cluster(true).await;
    let mut alice = c.a.online(ALICE, "desk").await;
    alice.send(chat(BOB, "VIP queue tomorrow?")).await;
    alice
        .send(chat(&format!("{BOB}/phone"), "And the full JID?"))
        .await;
    // No bounce: the round trip after the messages comes back first.
    round_trip(&mut alice).await;

    let mut bob = c.b.online(BOB, "phone").await;
    let first = message_saying(&mut bob, "VIP queue", "-").await;
    assert_eq!(first.from.map(|j| j.to_string()).as_deref(), Some(ALICE));
    assert!(
        first
            .payloads
            .iter()
            .any(|p| p.is("delay", "urn:xmpp:delay"))
    );
    message_saying(&mut bob, "And the full JID?", "-").await;
    bob.end().await;
    alice.end().await;
}

#[tokio::test]
async fn another_portal_on_the_other_node_hears_nothing() {
    let c = cluster(true).await;
    let mut stranger = c.b.online(STRANGER, "x").await;
    let mut alice = c.a.online(ALICE, "desk").await;
    alice.send(chat(STRANGER, "hello acme")).await;
    let refused = alice.next_message().await;
    assert_eq!(refused.type_, MessageType::Error);

    // Nor can a relay make it through B's handle.
    let demo_alice = OperatorRef::new("demo", "alice.ops");
    let carol = OperatorRef::new("acme", "carol.ops");
    let presence: Element = format!("<presence xmlns='jabber:client' from='{ALICE}/desk'/>")
        .parse()
        .unwrap();
    c.b.handle.remote_presence(&demo_alice, "desk", presence);
    let message: Element = format!(
        "<message xmlns='jabber:client' type='chat' from='{ALICE}/desk' to='{STRANGER}'>\
         <body>through the relay</body></message>"
    )
    .parse()
    .unwrap();
    c.b.handle.deliver(&carol, None, message.clone());
    c.b.handle.deliver(&carol, Some("x"), message);

    // The first thing from outside that the stranger gets is its own.
    let own: Element = format!(
        "<message xmlns='jabber:client' type='chat' from='{STRANGER}/elsewhere' to='{STRANGER}'>\
         <body>only me</body></message>"
    )
    .parse()
    .unwrap();
    c.b.handle.deliver(&carol, None, own);
    message_saying(&mut stranger, "only me", "demo|").await;

    // Alice neither sees the stranger: Bob's hello comes first.
    let mut bob = c.b.online(BOB, "phone").await;
    bob.send(chat(ALICE, "hello from B")).await;
    message_saying(&mut alice, "hello from B", "acme|").await;
    stranger.end().await;
    bob.end().await;
    alice.end().await;
}

/// What another node hands over is checked, never trusted: odd stanzas
/// go nowhere and panic nothing.
#[tokio::test]
async fn odd_stanzas_from_another_node_go_nowhere() {
    let c = cluster(true).await;
    let mut bob = c.b.online(BOB, "phone").await;
    let bob_ref = OperatorRef::new("demo", "bob.ops");
    let odd = [
        // Not a message or presence.
        format!(
            "<iq xmlns='jabber:client' type='get' id='1' from='{ALICE}/desk' to='{BOB}/phone'><ping xmlns='urn:xmpp:ping'/></iq>"
        ),
        format!("<foo xmlns='jabber:client' from='{ALICE}/desk' to='{BOB}'><body>odd</body></foo>"),
        format!(
            "<message xmlns='urn:example' from='{ALICE}/desk' to='{BOB}'><body>odd</body></message>"
        ),
        // No `to`, or someone else's, or no JID at all.
        format!("<message xmlns='jabber:client' from='{ALICE}/desk'><body>odd</body></message>"),
        format!(
            "<message xmlns='jabber:client' from='{ALICE}/desk' to='{ALICE}'><body>odd</body></message>"
        ),
        format!(
            "<message xmlns='jabber:client' from='{ALICE}/desk' to='@@/'><body>odd</body></message>"
        ),
        format!(
            "<message xmlns='jabber:client' from='{ALICE}/desk' to='demo|bob.ops@elsewhere.example'><body>odd</body></message>"
        ),
        // No `from`, or one of another portal, a visitor, the server.
        format!("<message xmlns='jabber:client' to='{BOB}'><body>odd</body></message>"),
        format!(
            "<message xmlns='jabber:client' from='{STRANGER}/x' to='{BOB}'><body>odd</body></message>"
        ),
        format!(
            "<message xmlns='jabber:client' from='demo|visitor-1@{DOMAIN}/visitor' to='{BOB}'><body>odd</body></message>"
        ),
        format!(
            "<message xmlns='jabber:client' from='{DOMAIN}' to='{BOB}'><body>odd</body></message>"
        ),
        format!("<message xmlns='jabber:client' from='/' to='{BOB}'><body>odd</body></message>"),
    ];
    for stanza in &odd {
        let stanza: Element = stanza.parse().unwrap();
        c.b.handle.deliver(&bob_ref, None, stanza.clone());
        c.b.handle.deliver(&bob_ref, Some("phone"), stanza.clone());
        c.b.handle.deliver(&bob_ref, Some(""), stanza);
    }
    // Presence broadcasts that are none, or from resources no client has.
    let alice_ref = OperatorRef::new("demo", "alice.ops");
    for (resource, presence) in [
        ("desk", "<presence xmlns='jabber:client' type='subscribe'/>"),
        ("desk", "<presence xmlns='jabber:client' type='error'/>"),
        (
            "desk",
            "<message xmlns='jabber:client'><body>odd</body></message>",
        ),
        ("desk", "<presence xmlns='urn:example'/>"),
        ("", "<presence xmlns='jabber:client'/>"),
        ("a\u{1}b", "<presence xmlns='jabber:client'/>"),
    ] {
        let presence: Element = presence.parse().unwrap();
        c.b.handle.remote_presence(&alice_ref, resource, presence);
    }
    let long = "r".repeat(2000);
    let presence: Element = "<presence xmlns='jabber:client'/>".parse().unwrap();
    c.b.handle.remote_presence(&alice_ref, &long, presence);

    // A well-formed one after them is the first thing Bob gets, and the
    // server still serves.
    let fine: Element = format!(
        "<message xmlns='jabber:client' type='chat' from='{ALICE}/desk' to='{BOB}'>\
         <body>the real one</body></message>"
    )
    .parse()
    .unwrap();
    c.b.handle.deliver(&bob_ref, Some("gone"), fine);
    loop {
        match bob.next().await {
            Stanza::Message(got) => {
                assert_eq!(body(&got), "the real one");
                break;
            }
            // The board's presence, at login.
            other => assert!(!from_of(&other).starts_with(ALICE), "{other:?}"),
        }
    }
    round_trip(&mut bob).await;
    bob.end().await;
}

/// Without a relay, each node knows only its own resources: a message to
/// a colleague on the other node is kept for their next login, as before.
#[tokio::test]
async fn without_a_relay_each_node_is_alone() {
    let c = cluster(false).await;
    let mut bob = c.b.online(BOB, "phone").await;
    let mut alice = c.a.online(ALICE, "desk").await;
    alice.send(chat(BOB, "are you there?")).await;
    round_trip(&mut alice).await;
    // Bob on B hears nothing of it (his own round trip comes back first,
    // and no presence of Alice's reached him).
    bob.send(chat(&format!("{BOB}/phone"), "to myself")).await;
    message_saying(&mut bob, "to myself", ALICE).await;
    bob.end().await;
    alice.end().await;
}
