//! Issue 13, item 3: nothing sent to an operator is lost. A colleague's
//! message to an operator with no device online, and a visitor's line to
//! an operator whose only device went away, are kept in the store and
//! given at the next login with XEP-0203 delay stamps (XEP-0160): real
//! XMPP clients (tokio-xmpp) over TCP and TLS.

#![allow(clippy::unwrap_used)]

use salesiq_test_support as support;

use salesiq_session::VisitorEvent;
use support::gateway::{ALICE, BOB, message_saying, world};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Lang, Message};

fn chat(to: &str, text: &str) -> Message {
    Message::chat(Some(Jid::new(to).unwrap())).with_body(Lang::new(), text.into())
}

/// The XEP-0203 stamp of `message`, if it has one.
fn delay_stamp(message: &Message) -> Option<String> {
    message
        .payloads
        .iter()
        .find(|p| p.is("delay", "urn:xmpp:delay"))
        .and_then(|p| p.attr("stamp").map(str::to_owned))
}

#[tokio::test]
async fn a_colleague_offline_gets_the_message_at_login() {
    let w = world(&[], None).await;
    let mut alice = w.online(ALICE, "desk").await;
    alice
        .send(chat(BOB, "Can you take the VIP queue tomorrow?"))
        .await;
    alice.send(chat(BOB, "Thanks!")).await;
    // No bounce: a round trip after the messages comes back first.
    let ping = tokio_xmpp::minidom::Element::builder("ping", "urn:xmpp:ping").build();
    alice.iq(None, tokio_xmpp::IqRequest::Get(ping)).await;

    let mut bob = w.online(BOB, "phone").await;
    let first = message_saying(&mut bob, "VIP queue").await;
    assert_eq!(
        first.from.as_ref().map(|j| j.to_string()).as_deref(),
        Some(ALICE)
    );
    let stamp = delay_stamp(&first).expect("a delay stamp");
    assert!(stamp.ends_with('Z') && stamp.contains('T'), "{stamp}");
    let second = message_saying(&mut bob, "Thanks!").await;
    assert!(delay_stamp(&second).is_some());
    // Given once: nothing is kept any more while the phone has them. (What
    // a client leaves unacknowledged when its stream ends is kept again,
    // XEP-0198 section 5: see the parked phone below.)
    let kept = w
        .gateway
        .offline_messages(&salesiq_session::OperatorRef::new("demo", "bob.ops"))
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");
    bob.end().await;
    alice.end().await;
}

#[tokio::test]
async fn a_visitor_line_waits_for_an_operator_who_went_away() {
    let w = world(&[], None).await;
    let mut desk = w.online(BOB, "desk").await;
    let mut ann = w.visitor("Ann Lee", "Where is my refund?").await;
    message_saying(&mut desk, "Reply y to accept").await;
    desk.send(chat("demo|visitor-1@salesiq.zoho.com/visitor", "y"))
        .await;
    assert!(matches!(
        ann.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    // Bob's only device goes (no resumption); Ann writes meanwhile.
    desk.end().await;
    let bob = salesiq_session::OperatorRef::new("demo", "bob.ops");
    for _ in 0..500 {
        if !w.gateway.is_available(&bob) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    w.gateway
        .visitor_says(ann.chat, "Are you still there?")
        .await
        .unwrap();

    let mut phone = w.online(BOB, "phone").await;
    let line = message_saying(&mut phone, "Are you still there?").await;
    assert_eq!(
        line.from.as_ref().map(|j| j.to_string()).as_deref(),
        Some("demo|visitor-1@salesiq.zoho.com/visitor")
    );
    assert!(delay_stamp(&line).is_some());
    // And the chat goes on from the phone.
    phone
        .send(chat("demo|visitor-1@salesiq.zoho.com/visitor", "Yes, here"))
        .await;
    loop {
        if let Some(VisitorEvent::Message { text, .. }) = ann.next_event().await {
            assert_eq!(text, "Yes, here");
            break;
        }
    }
    phone.end().await;
}

/// Board posts made while an operator was away reach them at login:
/// the board's backlog since they were last online.
#[tokio::test]
async fn the_board_backlog_waits_for_an_operator_away() {
    let w = world(&[], None).await;
    let mut alice = w.online(ALICE, "desk").await;
    alice
        .send(chat("demo|board@salesiq.zoho.com", "Lunch at noon"))
        .await;
    w.gateway
        .post_to_board("demo", "The admins", "Maintenance tonight")
        .await
        .unwrap();
    let mut bob = w.online(BOB, "phone").await;
    // In the order the server took them (Alice's crossed the network).
    let mut posts = Vec::new();
    while posts.len() < 2 {
        let post = message_saying(&mut bob, ") ").await;
        assert_eq!(
            post.from.as_ref().map(|j| j.to_string()).as_deref(),
            Some("demo|board@salesiq.zoho.com/board")
        );
        assert!(delay_stamp(&post).is_some(), "{post:?}");
        posts.push(post.bodies.values().next().cloned().unwrap_or_default());
    }
    posts.sort();
    assert_eq!(
        posts,
        ["(Alice) Lunch at noon", "(The admins) Maintenance tonight"]
    );
    bob.end().await;
    alice.end().await;
}

/// A visitor's line written to a phone that dropped off with XEP-0198
/// resumption on, never acknowledged, and never resumed, is not lost when
/// the parked session ends: with no other device of the operator online,
/// it is kept for the next login like any line to an operator away.
#[tokio::test]
async fn a_line_a_parked_phone_never_acknowledged_is_kept() {
    use support::Raw;
    let timeout = std::time::Duration::from_millis(300);
    let w = support::gateway::world_with(|c| c.resumption_timeout = timeout, &[], None).await;
    let plain = support::plain("demo|bob.ops", support::gateway::PASSWORD);
    let mut phone = Raw::logged_in(&w.server, &plain, "phone").await;
    phone
        .send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        .await;
    phone.read_until("<enabled").await;
    phone.send("<presence/>").await;
    let bob = salesiq_session::OperatorRef::new("demo", "bob.ops");
    for _ in 0..500 {
        if w.gateway.is_available(&bob) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut ann = w.visitor("Ann Lee", "Where is my refund?").await;
    phone.read_until("Reply y to accept").await;
    phone
        .send(
            "<message to='demo|visitor-1@salesiq.zoho.com/visitor' type='chat'><body>y</body></message>",
        )
        .await;
    assert!(matches!(
        ann.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    w.gateway
        .visitor_says(ann.chat, "Are you still there?")
        .await
        .unwrap();
    // Written to the phone, which acknowledges nothing and is gone.
    phone.read_until("Are you still there?").await;
    drop(phone);

    let mut kept = Vec::new();
    for _ in 0..500 {
        kept.extend(w.gateway.offline_messages(&bob).await.unwrap());
        if kept.iter().any(|m| m.text == "Are you still there?") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let line = kept
        .iter()
        .find(|m| m.text == "Are you still there?")
        .expect("the unacknowledged line was kept");
    assert_eq!(line.from, salesiq_session::ContactId::visitor("demo", 1));
}
