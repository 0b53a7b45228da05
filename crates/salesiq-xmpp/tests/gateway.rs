//! A visitor chat end to end: the gateway over SQLite, the XMPP server, and
//! an operator on a real client (tokio-xmpp). The visitor side is the
//! gateway's API, as an embedder's web page would use it.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use salesiq_test_support as support;

use std::sync::Arc;

use salesiq_session::{
    ChatRequest, Gateway, NewOperator, Portal, SqliteStore, Store, StoreAccounts, VisitorDetails,
    VisitorEvent,
};
use support::{Mode, Operator, TestServer};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Lang, Message};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::roster::{Roster, Subscription};
use tokio_xmpp::{IqRequest, Stanza};

const VISITOR: &str = "demo|visitor-1@salesiq.zoho.com";
/// Where the visitor's stanzas come from: a full JID (issue 10, defect 3).
const VISITOR_FULL: &str = "demo|visitor-1@salesiq.zoho.com/visitor";

fn chat(to: &str, text: &str) -> Message {
    Message::chat(Some(Jid::new(to).unwrap())).with_body(Lang::new(), text.into())
}

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_visitor_chat_through_a_jabber_client() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("gateway.sqlite3")).unwrap());
    store.put_portal(&Portal::new("demo", "en")).await.unwrap();
    let accounts = Arc::new(StoreAccounts::new(store.clone()));
    let bob = store
        .add_operator(&NewOperator::new("demo", "bob@demo.example", "Bob"))
        .await
        .unwrap();
    store.claim_username(bob.id, "bob.ops").await.unwrap();
    accounts.set_password(bob.id, "bob-pw").await.unwrap();
    let gateway_store = store.clone();
    let server = TestServer::start_with_gateway(
        |_| {},
        accounts.clone(),
        accounts,
        move |sink| Gateway::new(gateway_store, sink),
    )
    .await;
    let gateway = server.gateway.clone().unwrap();

    let mut bob = Operator::login(
        &server,
        "demo|bob.ops@salesiq.zoho.com/phone",
        "bob-pw",
        Mode::StartTls,
    )
    .await;
    bob.send(Presence::available()).await;
    // A round trip, so that the server has seen the presence.
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    bob.iq(None, IqRequest::Get(ping)).await;

    let mut details = VisitorDetails::default();
    details.name = "Ann Lee".into();
    details.email = Some("ann@example.com".into());
    details.ip = Some("203.0.113.7".into());
    let request = ChatRequest::new("demo", details, "Where is my refund?", None);
    let mut visitor = gateway.request_chat(request).await.unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );

    // The board is always available (issue 10, defect 7: finch, Pidgin
    // and poezio hide contacts that never send presence).
    match bob.next().await {
        Stanza::Presence(presence) => {
            assert_eq!(
                presence.from.map(|j| j.to_string()).as_deref(),
                Some("demo|board@salesiq.zoho.com/board")
            );
            assert_eq!(presence.type_, PresenceType::None);
        }
        other => panic!("expected the board's presence, got {other:?}"),
    }

    // The visitor appears as a contact, with the subject as status, and asks.
    match bob.next().await {
        Stanza::Iq(Iq::Set { payload, .. }) => {
            let roster = Roster::try_from(payload).unwrap();
            assert_eq!(roster.items[0].jid.to_string(), VISITOR);
            assert_eq!(roster.items[0].name.as_deref(), Some("Ann Lee (#1)"));
        }
        other => panic!("expected a roster push, got {other:?}"),
    }
    match bob.next().await {
        Stanza::Presence(presence) => {
            assert_eq!(
                presence.from.map(|j| j.to_string()).as_deref(),
                Some(VISITOR_FULL)
            );
            assert_eq!(
                presence.statuses.values().next().map(String::as_str),
                Some("Where is my refund?")
            );
        }
        other => panic!("expected the visitor's presence, got {other:?}"),
    }
    let request = bob.next_message().await;
    assert_eq!(
        request.from.as_ref().map(ToString::to_string).as_deref(),
        Some(VISITOR_FULL)
    );
    assert!(body(&request).contains("Reply y to accept"));

    // y: the chat is Bob's; he gets the details, the visitor learns who joined.
    bob.send(chat(VISITOR, "y")).await;
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Bob".into()
        })
    );
    assert!(body(&bob.next_message().await).contains("Visitor: #1 Ann Lee"));

    // Text both ways.
    bob.send(chat(VISITOR, "Hello Ann, checking your order"))
        .await;
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Message {
            from: "Bob".into(),
            text: "Hello Ann, checking your order".into()
        })
    );
    gateway
        .visitor_says(visitor.chat, "Thank you!")
        .await
        .unwrap();
    let from_visitor = bob.next_message().await;
    assert_eq!(body(&from_visitor), "Thank you!");

    // Typing both ways (XEP-0085).
    let mut typing = Message::chat(Some(Jid::new(VISITOR).unwrap()));
    typing
        .payloads
        .push(tokio_xmpp::parsers::chatstates::ChatState::Composing.into());
    bob.send(typing).await;
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Typing {
            from: "Bob".into(),
            state: salesiq_session::Activity::Composing
        })
    );
    gateway
        .visitor_typing(visitor.chat, salesiq_session::Activity::Composing)
        .await
        .unwrap();
    let composing = bob.next_message().await;
    assert!(
        composing.payloads.iter().any(|p| p.name() == "composing"),
        "{composing:?}"
    );

    // A command: answered to Bob only.
    bob.send(chat(VISITOR, "#an VIP customer")).await;
    assert_eq!(body(&bob.next_message().await), "[system] Note added");
    assert_eq!(
        store.notes(salesiq_session::VisitorId(1)).await.unwrap()[0].text,
        "VIP customer"
    );
    // Bob was typing it: a command is not typing, so the visitor's
    // "Bob is typing" is cleared (issue 10, defect 4), and nothing else
    // of it reaches the visitor.
    assert_eq!(
        visitor.try_next_event(),
        Some(VisitorEvent::Typing {
            from: "Bob".into(),
            state: salesiq_session::Activity::Active
        })
    );
    assert_eq!(visitor.try_next_event(), None);

    // #e: the visitor is told, and the contact goes.
    bob.send(chat(VISITOR, "#e")).await;
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Ended { .. })
    ));
    assert_eq!(body(&bob.next_message().await), "[system] Chat ended");
    let mut gone = false;
    let mut removed = false;
    while !(gone && removed) {
        match bob.next().await {
            Stanza::Presence(p) if p.type_ == PresenceType::Unavailable => gone = true,
            Stanza::Iq(Iq::Set { payload, .. }) => {
                removed = Roster::try_from(payload).unwrap().items[0].subscription
                    == Subscription::Remove;
            }
            _ => {}
        }
    }
    // Writing to the ended chat bounces.
    bob.send(chat(VISITOR, "still there?")).await;
    assert_eq!(
        bob.next_message().await.type_,
        tokio_xmpp::parsers::message::MessageType::Error
    );
    bob.end().await;
    server.stop().await;
}
