//! XEP-0198: a mobile client's connection drops mid-chat; it resumes on a
//! new one and nothing is lost either way. tokio-xmpp enables resumption
//! and resumes by itself; a proxy in front of the server cuts the TCP
//! connection the way a mobile network does.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use salesiq_test_support as support;

use std::time::Duration;

use futures::StreamExt;
use support::{Mode, Operator, Proxy, STEP, TestServer};
use tokio_xmpp::Event;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Lang, Message, MessageType};
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::parsers::stanza_error::DefinedCondition;

const ALICE: &str = "demo|alice.ops@salesiq.zoho.com/phone";
const BOB: &str = "demo|bob.ops@salesiq.zoho.com/desk";

fn chat(to: &str, text: &str) -> Message {
    Message::chat(Some(Jid::new(to).unwrap())).with_body(Lang::new(), text.into())
}

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_cut_connection_resumes_with_nothing_lost() {
    let server = TestServer::start().await;
    let proxy = Proxy::to(server.addr(Mode::StartTls)).await;
    let mut alice = server
        .client_via(&proxy, ALICE, "s3cret", Mode::StartTls)
        .await;
    let mut bob = Operator::login(&server, BOB, "hunter22", Mode::DirectTls).await;
    alice.send(Presence::available()).await;
    bob.send(Presence::available()).await;

    for n in 1..=5 {
        bob.send(chat(ALICE, &format!("m{n}"))).await;
    }
    for n in 1..=5 {
        assert_eq!(body(&alice.next_message().await), format!("m{n}"));
    }

    // The network drops; Bob keeps writing, and so does Alice's app.
    proxy.cut();
    for n in 6..=10 {
        bob.send(chat(ALICE, &format!("m{n}"))).await;
    }
    alice.send(chat(BOB, "a1")).await;

    // Alice's client reconnects and resumes; every message arrives once, in order.
    let mut resumed = false;
    let mut got = Vec::new();
    tokio::time::timeout(STEP, async {
        while got.len() < 5 {
            match alice.client.next().await {
                Some(Event::Online { resumed: true, .. }) => resumed = true,
                Some(Event::Online { resumed: false, .. }) => {
                    panic!("a new session instead of a resumed one")
                }
                Some(Event::Stanza(tokio_xmpp::Stanza::Message(m))) => got.push(body(&m)),
                Some(_) => {}
                None => panic!("client gone"),
            }
        }
    })
    .await
    .unwrap();
    assert!(resumed, "the client never said it resumed");
    assert_eq!(got, ["m6", "m7", "m8", "m9", "m10"]);
    assert_eq!(body(&bob.next_message().await), "a1");

    // And the resumed stream carries on both ways.
    bob.send(chat(ALICE, "still there?")).await;
    assert_eq!(body(&alice.next_message().await), "still there?");
    alice.end().await;
    bob.end().await;
    server.stop().await;
}

#[tokio::test]
async fn an_unresumed_session_ends_and_returns_what_it_never_delivered() {
    let server =
        TestServer::start_with(|c| c.resumption_timeout = Duration::from_millis(500)).await;
    let proxy = Proxy::to(server.addr(Mode::DirectTls)).await;
    let mut alice = server
        .client_via(&proxy, ALICE, "s3cret", Mode::DirectTls)
        .await;
    let mut bob = Operator::login(&server, BOB, "hunter22", Mode::StartTls).await;
    alice.send(Presence::available()).await;
    bob.send(Presence::available()).await;
    bob.send(chat(ALICE, "hello")).await;
    assert_eq!(body(&alice.next_message().await), "hello");

    // The phone is gone for good.
    proxy.set_open(false);
    proxy.cut();
    bob.send(chat(ALICE, "are you there?")).await;

    // Bob is told the message was not delivered, and sees Alice go.
    let returned = bob.next_message().await;
    assert_eq!(returned.type_, MessageType::Error);
    let error = returned
        .payloads
        .iter()
        .find_map(|p| tokio_xmpp::parsers::stanza_error::StanzaError::try_from(p.clone()).ok())
        .expect("an error payload");
    assert_eq!(
        error.defined_condition,
        DefinedCondition::RecipientUnavailable
    );
    drop(alice);
    bob.end().await;
    server.stop().await;
}
