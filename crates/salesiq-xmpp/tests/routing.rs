//! Capacity and routing (issue 15, item 2) through real Jabber clients:
//! presence `away` takes no chats and `chat` takes them again, an
//! operator at capacity is offered nothing while visitors queue for them
//! (and learn their place), the oldest request is offered first, and a
//! round-robin department offers one operator at a time, passing on
//! after the offer timeout and pausing an operator after two misses.

#![allow(clippy::unwrap_used)]

use salesiq_session::{
    ChatRequest, ContactId, OperatorRef, Routing, Store, VisitorDetails, VisitorEvent,
};
use salesiq_test_support::gateway::{
    ALICE, BOB, PASSWORD, World, message_saying, next_line, world,
};
use salesiq_test_support::{Mode, Operator};
use tokio_xmpp::IqRequest;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message};
use tokio_xmpp::parsers::presence::{Presence, Show};

fn to_visitor(number: i64, text: &str) -> Message {
    let jid = format!("demo|visitor-{number}@salesiq.zoho.com");
    Message::chat(Some(Jid::new(&jid).unwrap())).with_body(Lang::new(), text.into())
}

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

/// Sends `presence` and waits until the server has handled it (a ping
/// round trip).
async fn says(operator: &mut Operator, presence: Presence) {
    operator.send(presence).await;
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    operator.iq(None, IqRequest::Get(ping)).await;
}

/// The next chat request `operator` is offered: its visitor number.
async fn next_offer(operator: &mut Operator) -> i64 {
    let offer = body(&message_saying(operator, "Reply y").await);
    offer
        .split("(visitor #")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an offer: {offer}"))
}

/// The visitor numbers on `operator`'s list.
fn visitors_listed(world: &World, operator: &OperatorRef) -> Vec<i64> {
    world
        .gateway
        .roster(operator)
        .into_iter()
        .filter_map(|item| match item.contact.id {
            ContactId::Visitor { number, .. } => Some(number),
            _ => None,
        })
        .collect()
}

async fn request(
    world: &World,
    name: &str,
    department: Option<&str>,
) -> salesiq_session::VisitorChat {
    let mut details = VisitorDetails::default();
    details.name = name.into();
    let request = ChatRequest::new("demo", details, "Help?", department);
    world.gateway.request_chat(request).await.unwrap()
}

async fn limit(world: &World, username: &str, max: u32) {
    let row = world
        .store
        .operator_by_username(username)
        .await
        .unwrap()
        .unwrap();
    world.store.set_max_chats(row.id, Some(max)).await.unwrap();
}

#[tokio::test]
async fn away_and_capacity_from_jabber_clients() {
    let world = world(&[], None).await;
    let (alice_ref, bob_ref) = (
        OperatorRef::new("demo", "alice.ops"),
        OperatorRef::new("demo", "bob.ops"),
    );
    limit(&world, "alice.ops", 1).await;
    limit(&world, "bob.ops", 1).await;
    let mut alice = world.online(ALICE, "desk").await;
    let mut bob = Operator::login(
        &world.server,
        &format!("{BOB}/phone"),
        PASSWORD,
        Mode::StartTls,
    )
    .await;
    says(&mut bob, Presence::available().with_show(Show::Away)).await;
    assert!(world.gateway.is_available(&bob_ref));
    assert!(!world.gateway.is_taking_chats(&bob_ref));

    let mut first = request(&world, "First", None).await;
    assert_eq!(
        first.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    assert_eq!(next_offer(&mut alice).await, 1);
    assert_eq!(
        visitors_listed(&world, &bob_ref),
        Vec::<i64>::new(),
        "away: offered nothing"
    );
    alice.send(to_visitor(1, "y")).await;
    assert!(matches!(
        next_line(&mut first).await,
        Some(VisitorEvent::Joined { .. })
    ));

    // Alice is at capacity and Bob away: both requests queue, in order.
    let mut second = request(&world, "Second", None).await;
    let mut third = request(&world, "Third", None).await;
    assert_eq!(
        second.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    assert_eq!(
        third.next_event().await,
        Some(VisitorEvent::Queued { position: 2 })
    );
    assert_eq!(visitors_listed(&world, &alice_ref), [1], "no room for more");

    // Bob is free to chat: offered the older request, and only that one.
    says(&mut bob, Presence::available().with_show(Show::Chat)).await;
    assert!(world.gateway.is_taking_chats(&bob_ref));
    assert_eq!(next_offer(&mut bob).await, 2);
    assert_eq!(visitors_listed(&world, &bob_ref), [2]);
    bob.send(to_visitor(2, "y")).await;
    assert!(matches!(
        next_line(&mut second).await,
        Some(VisitorEvent::Joined { .. })
    ));
    assert_eq!(
        third.next_event().await,
        Some(VisitorEvent::Queued { position: 1 }),
        "next now"
    );

    // Alice ends her chat: her room goes to the third.
    alice.send(to_visitor(1, "#e")).await;
    assert_eq!(next_offer(&mut alice).await, 3);
    alice.send(to_visitor(3, "y")).await;
    assert!(matches!(
        next_line(&mut third).await,
        Some(VisitorEvent::Joined { .. })
    ));
    assert_eq!(world.gateway.chats_of(&alice_ref), 1);
}

#[tokio::test]
async fn a_round_robin_department_passes_on_and_pauses_who_lets_requests_pass() {
    let world = world(&[], None).await;
    let store = &world.store;
    let desk = store.add_department("demo", "Desk", false).await.unwrap();
    // The shortest offer the gateway makes: one second.
    store
        .set_routing(desk.id, Routing::RoundRobin, 1)
        .await
        .unwrap();
    for username in ["alice.ops", "bob.ops"] {
        let row = store.operator_by_username(username).await.unwrap().unwrap();
        store.assign_department(row.id, desk.id).await.unwrap();
    }
    let alice_ref = OperatorRef::new("demo", "alice.ops");
    let mut alice = world.online(ALICE, "desk").await;
    let mut bob = world.online(BOB, "desk").await;

    // Alice first (in turn by username); she lets it pass.
    let mut first = request(&world, "First", Some("Desk")).await;
    assert_eq!(
        first.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    assert_eq!(next_offer(&mut alice).await, 1);
    assert_eq!(next_offer(&mut bob).await, 1, "Bob after the timeout");
    let passed = body(&message_saying(&mut alice, "did not answer in time").await);
    assert!(passed.starts_with("[system] "), "{passed}");
    bob.send(to_visitor(1, "y")).await;
    assert!(matches!(
        next_line(&mut first).await,
        Some(VisitorEvent::Joined { .. })
    ));

    // Round to Alice again; a second miss in a row pauses her.
    let _second = request(&world, "Second", Some("Desk")).await;
    assert_eq!(next_offer(&mut alice).await, 2);
    assert_eq!(next_offer(&mut bob).await, 2);
    message_saying(&mut alice, "not taking chats now").await;
    assert!(!world.gateway.is_taking_chats(&alice_ref));
    assert!(
        world.gateway.is_available(&alice_ref),
        "still there for colleagues"
    );
    bob.send(to_visitor(2, "y")).await;

    // Paused, she is offered nothing; available again, she takes chats.
    let _third = request(&world, "Third", Some("Desk")).await;
    assert_eq!(next_offer(&mut bob).await, 3);
    assert!(!visitors_listed(&world, &alice_ref).contains(&3));
    says(&mut alice, Presence::available()).await;
    assert!(world.gateway.is_taking_chats(&alice_ref));
}
