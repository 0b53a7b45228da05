//! Every device of an operator sees and answers every chat (issue 10):
//! the typed seam between the transport and the chat domain, driven by a
//! real client library (tokio-xmpp) over TCP and TLS, with the gateway
//! over SQLite and the visitor side through the gateway's API.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use salesiq_test_support as support;

use std::time::Duration;

use salesiq_integrations::{HttpConfig, ZohoCrm};
use salesiq_session::{Activity, VisitorEvent};
use support::gateway::{BOB, PASSWORD, hears_bob, message_saying, next_line, world};
use support::{Mode, Operator, Proxy, STEP};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::carbons::Sent;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::message::{Lang, Message, MessageType};
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::{IqRequest, IqResponse};

use support::gateway::ALICE;

fn visitor_jid(number: i64) -> String {
    format!("demo|visitor-{number}@salesiq.zoho.com")
}

fn visitor_full(number: i64) -> String {
    format!("{}/visitor", visitor_jid(number))
}

fn chat(to: &str, text: &str) -> Message {
    Message::chat(Some(Jid::new(to).unwrap())).with_body(Lang::new(), text.into())
}

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

fn from(message: &Message) -> String {
    message
        .from
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

async fn roster_of(operator: &mut Operator) -> Vec<String> {
    operator
        .roster()
        .await
        .items
        .iter()
        .map(|i| i.jid.to_string())
        .collect()
}

/// Accepts visitor `number`'s offer from `operator` (already offered).
async fn accept(operator: &mut Operator, number: i64) {
    message_saying(operator, "Reply y to accept").await;
    accept_offered(operator, number).await;
}

/// Defects 1 and 2: the desk accepts; a phone binds mid-chat and writes;
/// the visitor's reply reaches both; the desk re-fetches its roster (as
/// profanity does after every resume) and still writes.
#[tokio::test]
async fn desk_and_phone_both_keep_the_visitor() {
    let w = world(&[], None).await;
    let mut desk = w.online(BOB, "desk").await;
    let mut ann = w.visitor("Ann Lee", "Where is my refund?").await;
    accept(&mut desk, 1).await;
    assert_eq!(
        ann.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Bob".into()
        })
    );

    // The phone binds now: the visitor is on its roster, and it may write.
    let mut phone = w.online(BOB, "phone").await;
    assert!(roster_of(&mut phone).await.contains(&visitor_jid(1)));
    phone.send(chat(&visitor_jid(1), "From my phone")).await;
    hears_bob(&mut ann, "From my phone").await;

    // The visitor answers: both devices get it, from the visitor's full JID.
    w.gateway.visitor_says(ann.chat, "Thanks!").await.unwrap();
    for device in [&mut desk, &mut phone] {
        let got = message_saying(device, "Thanks!").await;
        assert_eq!(from(&got), visitor_full(1));
    }

    // The desk re-fetches its roster: the visitor stays reachable.
    let roster = roster_of(&mut desk).await;
    assert!(roster.contains(&visitor_jid(1)), "{roster:?}");
    assert!(roster.contains(&"demo|board@salesiq.zoho.com".to_owned()));
    desk.send(chat(&visitor_jid(1), "Still here")).await;
    hears_bob(&mut ann, "Still here").await;

    // A reconnect without resumption (mcabber, finch): a fresh session
    // still has the visitor and reaches it.
    phone.end().await;
    let mut again = w.online(BOB, "phone").await;
    assert!(roster_of(&mut again).await.contains(&visitor_jid(1)));
    again.send(chat(&visitor_full(1), "Back again")).await;
    hears_bob(&mut ann, "Back again").await;
}

/// Defect 2: a waiting chat is offered to an operator who logs in later,
/// and to her second device when it comes online; nobody is told "took
/// this chat" of a chat they never saw.
#[tokio::test]
async fn a_waiting_chat_is_offered_to_later_devices() {
    let w = world(&[], None).await;
    let _ann = w.visitor("Ann Lee", "Hello?").await;
    let mut desk = w.online(ALICE, "desk").await;
    message_saying(&mut desk, "Chat request from Ann Lee").await;
    let mut phone = w.online(ALICE, "phone").await;
    assert!(roster_of(&mut phone).await.contains(&visitor_jid(1)));
    message_saying(&mut phone, "Chat request from Ann Lee").await;

    // Bob comes online later still, and takes it from his phone.
    let mut bob = w.online(BOB, "phone").await;
    accept(&mut bob, 1).await;
    for device in [&mut desk, &mut phone] {
        let took = message_saying(device, "took this chat").await;
        assert_eq!(body(&took), "[system] Bob took this chat");
    }
}

/// Defects 3 and 4: visitor chat states come from the visitor's full JID;
/// the operator's chat states reach the visitor as they are.
#[tokio::test]
async fn chat_states_both_ways_as_they_are() {
    let w = world(&[], None).await;
    let mut bob = w.online(BOB, "desk").await;
    let mut ann = w.visitor("Ann Lee", "Typing test").await;
    accept(&mut bob, 1).await;
    assert!(matches!(
        ann.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));

    w.gateway
        .visitor_typing(ann.chat, Activity::Composing)
        .await
        .unwrap();
    let typing = bob.next_message().await;
    assert_eq!(from(&typing), visitor_full(1));
    assert!(typing.payloads.iter().any(|p| p.name() == "composing"));

    for (state, activity) in [
        (ChatState::Composing, Activity::Composing),
        (ChatState::Paused, Activity::Paused),
        (ChatState::Active, Activity::Active),
        (ChatState::Inactive, Activity::Inactive),
        (ChatState::Gone, Activity::Gone),
    ] {
        // To the full JID, as profanity and mcabber address it.
        let mut message = Message::chat(Some(Jid::new(&visitor_full(1)).unwrap()));
        message.payloads.push(state.into());
        bob.send(message).await;
        assert_eq!(
            ann.next_event().await,
            Some(VisitorEvent::Typing {
                from: "Bob".into(),
                state: activity
            })
        );
    }
}

/// Defect 5: the operator's own lines to a visitor are carbon-copied to
/// the other device.
#[tokio::test]
async fn carbons_of_lines_to_a_visitor() {
    let w = world(&[], None).await;
    let mut desk = w.online(BOB, "desk").await;
    let mut phone = w.online(BOB, "phone").await;
    let enable = Element::builder("enable", "urn:xmpp:carbons:2").build();
    for device in [&mut desk, &mut phone] {
        assert!(matches!(
            device.iq(None, IqRequest::Set(enable.clone())).await,
            IqResponse::Result(None)
        ));
    }
    let mut ann = w.visitor("Ann Lee", "Carbons").await;
    accept(&mut desk, 1).await;
    message_saying(&mut phone, "Reply y to accept").await;
    desk.send(chat(&visitor_jid(1), "Let me look")).await;
    assert!(matches!(
        next_line(&mut ann).await,
        Some(VisitorEvent::Joined { .. })
    ));
    assert!(matches!(
        next_line(&mut ann).await,
        Some(VisitorEvent::Message { text, .. }) if text == "Let me look"
    ));
    let copy = loop {
        let message = phone.next_message().await;
        // Every line to the visitor is copied, the `y` too.
        if let Some(sent) = message
            .payloads
            .iter()
            .find_map(|p| Sent::try_from(p.clone()).ok())
            .filter(|sent| body(&sent.forwarded.message) != "y")
        {
            break sent;
        }
    };
    assert_eq!(body(&copy.forwarded.message), "Let me look");
    assert_eq!(
        copy.forwarded
            .message
            .to
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some(visitor_jid(1).as_str())
    );
}

/// Defect 6: a colleague whose username looks like a visitor's
/// (`visitor.1`) cannot take visitor 1's chat: routing is by kind.
#[tokio::test]
async fn a_username_cannot_take_a_visitor() {
    let w = world(&["visitor.1"], None).await;
    let mut impostor = w.online("demo|visitor.1@salesiq.zoho.com", "x").await;
    let mut bob = w.online(BOB, "desk").await;
    let mut ann = w.visitor("Ann Lee", "Routing").await;
    accept(&mut bob, 1).await;
    assert!(matches!(
        ann.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    bob.send(chat(&visitor_jid(1), "For Ann only")).await;
    hears_bob(&mut ann, "For Ann only").await;
    // The colleague is a colleague: reached at their own JID.
    bob.send(chat("demo|visitor.1@salesiq.zoho.com", "Hi colleague"))
        .await;
    let got = message_saying(&mut impostor, "Hi colleague").await;
    assert!(from(&got).starts_with(BOB));
    // And saw nothing of Ann's chat.
    assert!(!roster_of(&mut impostor).await.contains(&visitor_jid(1)));
}

/// Defect 8: `n` is acknowledged; a line to an ended chat bounces saying
/// so; a chat state alone to it is dropped quietly; a trailing newline is
/// not relayed.
#[tokio::test]
async fn declines_ends_and_newlines() {
    let w = world(&[], None).await;
    let mut alice = w.online(ALICE, "desk").await;
    let mut bob = w.online(BOB, "desk").await;
    let mut ann = w.visitor("Ann Lee", "Newlines").await;
    message_saying(&mut alice, "Reply y to accept").await;
    alice.send(chat(&visitor_jid(1), "n")).await;
    assert_eq!(
        body(&message_saying(&mut alice, "declined").await),
        "[system] You declined the chat"
    );
    accept(&mut bob, 1).await;
    bob.send(chat(&visitor_jid(1), "Line one\n")).await;
    assert!(matches!(
        next_line(&mut ann).await,
        Some(VisitorEvent::Joined { .. })
    ));
    hears_bob(&mut ann, "Line one").await;
    bob.send(chat(&visitor_jid(1), "#e")).await;
    message_saying(&mut bob, "Chat ended").await;

    // A chat state alone to the ended chat: nothing comes back...
    let mut typing = Message::chat(Some(Jid::new(&visitor_full(1)).unwrap()));
    typing.payloads.push(ChatState::Composing.into());
    bob.send(typing).await;
    // ...and a line bounces, saying why.
    bob.send(chat(&visitor_jid(1), "hello?")).await;
    let bounce = loop {
        let message = bob.next_message().await;
        if message.type_ == MessageType::Error {
            break message;
        }
    };
    let error = bounce
        .payloads
        .iter()
        .find(|p| p.name() == "error")
        .unwrap();
    assert!(error.has_child("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    let text = error
        .get_child("text", "urn:ietf:params:xml:ns:xmpp-stanzas")
        .map(Element::text);
    assert_eq!(text.as_deref(), Some("this chat has ended"));
    // The bounce answers the line, not the chat state.
    assert_eq!(
        bounce
            .bodies
            .values()
            .next()
            .map(String::as_str)
            .unwrap_or("hello?"),
        "hello?"
    );
}

/// Defect 10: a slow vendor (the Zoho CRM connector against a local
/// server that answers after seconds) holds up only its own answer: the
/// same operator's other chat, and pings, go on meanwhile.
#[tokio::test]
async fn a_slow_connector_delays_nothing_else() {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let vendor = MockServer::start().await;
    let lead = serde_json::json!({"data": [{
        "id": "1", "Full_Name": "Ann Lee", "Email": "ann@example.com"
    }]});
    Mock::given(path("/crm/v2/Leads/search"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(lead)
                .set_delay(Duration::from_secs(4)),
        )
        .mount(&vendor)
        .await;
    let crm = ZohoCrm::new(HttpConfig::new(vendor.uri().parse().unwrap(), "token")).unwrap();
    let w = world(&[], Some(crm)).await;
    let mut bob = w.online(BOB, "desk").await;
    let _ann = w.visitor("Ann Lee", "First").await;
    accept(&mut bob, 1).await;
    let ken = w.visitor("Ken", "Second").await;
    accept(&mut bob, 2).await;

    bob.send(chat(&visitor_jid(1), "#crm info")).await;
    // Ken's line and a ping come back while the CRM is still thinking.
    w.gateway
        .visitor_says(ken.chat, "Are you there?")
        .await
        .unwrap();
    let next = bob.next_message().await;
    assert_eq!(body(&next), "Are you there?");
    assert_eq!(from(&next), visitor_full(2));
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    assert!(matches!(
        bob.iq(None, IqRequest::Get(ping)).await,
        IqResponse::Result(None)
    ));
    // Then the answer.
    let answer = message_saying(&mut bob, "CRM").await;
    assert_eq!(from(&answer), visitor_full(1));
    assert!(body(&answer).contains("Ann Lee"), "{}", body(&answer));
}

/// The board is a contact of every device, always available, and what
/// one operator posts reaches the others.
#[tokio::test]
async fn the_board_on_every_device() {
    let w = world(&[], None).await;
    let mut alice = w.online(ALICE, "desk").await;
    let mut bob = w.online(BOB, "desk").await;
    assert!(
        roster_of(&mut alice)
            .await
            .contains(&"demo|board@salesiq.zoho.com".to_owned())
    );
    bob.send(chat("demo|board@salesiq.zoho.com/board", "Standup at 10"))
        .await;
    let post = message_saying(&mut alice, "Standup at 10").await;
    assert_eq!(body(&post), "(Bob) Standup at 10");
    assert_eq!(from(&post), "demo|board@salesiq.zoho.com/board");
}

/// Defect 1, as profanity meets it: the connection drops mid-chat, the
/// client resumes (XEP-0198), gets what it missed, re-fetches its roster
/// and goes on writing to the visitor.
#[tokio::test]
async fn a_resume_then_a_roster_fetch_keeps_the_visitor() {
    use futures::StreamExt;
    use tokio_xmpp::Event;

    let w = world(&[], None).await;
    let proxy = Proxy::to(w.server.addr(Mode::StartTls)).await;
    let mut bob = w
        .server
        .client_via(&proxy, &format!("{BOB}/phone"), PASSWORD, Mode::StartTls)
        .await;
    bob.send(Presence::available()).await;
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    bob.iq(None, IqRequest::Get(ping)).await;
    let mut ann = w.visitor("Ann Lee", "Resume").await;
    accept(&mut bob, 1).await;

    proxy.cut();
    w.gateway
        .visitor_says(ann.chat, "Said while you were away")
        .await
        .unwrap();
    let mut resumed = false;
    tokio::time::timeout(STEP, async {
        loop {
            match bob.client.next().await {
                Some(Event::Online { resumed: r, .. }) => resumed = r,
                Some(Event::Stanza(tokio_xmpp::Stanza::Message(m)))
                    if body(&m) == "Said while you were away" =>
                {
                    break;
                }
                Some(_) => {}
                None => panic!("client gone"),
            }
        }
    })
    .await
    .unwrap();
    assert!(resumed, "the client did not resume");
    let roster = roster_of(&mut bob).await;
    assert!(roster.contains(&visitor_jid(1)), "{roster:?}");
    bob.send(chat(&visitor_jid(1), "Back")).await;
    assert!(matches!(
        next_line(&mut ann).await,
        Some(VisitorEvent::Joined { .. })
    ));
    hears_bob(&mut ann, "Back").await;
}

/// Hostile addresses: another portal's visitor, a visitor that never was,
/// malformed visitor forms. Each bounces `<service-unavailable/>`; only a
/// visitor of the operator's own portal is told "this chat has ended", so
/// nothing says whether another portal has such a chat.
#[tokio::test]
async fn hostile_visitor_addresses_reveal_nothing() {
    let w = world(&[], None).await;
    let mut bob = w.online(BOB, "desk").await;
    let _ann = w.visitor("Ann Lee", "Hostile").await;
    message_saying(&mut bob, "Reply y to accept").await;
    for (to, text) in [
        ("acme|visitor-1@salesiq.zoho.com", None),
        ("demo|visitor-0@salesiq.zoho.com", None),
        ("demo|visitor-1x@salesiq.zoho.com", None),
        (
            "demo|visitor-999@salesiq.zoho.com",
            Some("this chat has ended"),
        ),
        ("demo|visitor-1@other.example", None),
    ] {
        bob.send(chat(to, "y")).await;
        let bounce = loop {
            let message = bob.next_message().await;
            if message.type_ == MessageType::Error {
                break message;
            }
        };
        assert_eq!(from(&bounce), to);
        let error = bounce
            .payloads
            .iter()
            .find(|p| p.name() == "error")
            .unwrap();
        assert!(
            error.has_child("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas"),
            "{to}: {error:?}"
        );
        let said = error
            .get_child("text", "urn:ietf:params:xml:ns:xmpp-stanzas")
            .map(Element::text);
        assert_eq!(said.as_deref(), text, "{to}");
    }
    // Ann's chat is still waiting for Bob: none of it touched it.
    accept_offered(&mut bob, 1).await;
}

/// Accepts visitor `number`'s offer, already shown.
async fn accept_offered(operator: &mut Operator, number: i64) {
    operator.send(chat(&visitor_jid(number), "y")).await;
    message_saying(operator, "Visitor: #").await;
}
