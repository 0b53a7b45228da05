//! A server restart during a live chat: the chat ends cleanly on both
//! sides, everything said is still in the SQLite file, and the restarted
//! server serves new chats. The example server runs whole (app::start), the
//! operator is a real XMPP client (tokio-xmpp), the visitor a WebSocket
//! client.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use salesiq_test_support as support;

use std::time::Duration;

use common::example;
use futures::{SinkExt, StreamExt};
use salesiq_examples::app::Running;
use salesiq_session::{Author, ChatId, ChatState, SqliteStore, Store};
use serde_json::{Value, json};
use support::{Connector, Mode, Operator};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message};
use tokio_xmpp::parsers::presence::Presence;

const STEP: Duration = Duration::from_secs(20);
const VISITOR: &str = "demo|visitor-1@salesiq.zoho.com";

async fn alice(running: &Running) -> Operator {
    let connector = Connector::new(running.starttls, &running.certificate, Mode::StartTls);
    let mut alice = Operator::connect(
        connector,
        "demo|alice.ops@salesiq.zoho.com/desk",
        "alice-demo-pw",
    )
    .await;
    alice.send(Presence::available()).await;
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    alice.iq(None, tokio_xmpp::IqRequest::Get(ping)).await;
    alice
}

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

/// The next message with a body from the visitor contact.
async fn from_visitor(alice: &mut Operator) -> String {
    loop {
        let message = alice.next_message().await;
        // Visitor contacts speak from a full JID of a fixed resource.
        let from = message.from.as_ref().map(|j| j.to_bare().to_string());
        if from.as_deref() == Some(VISITOR) && !body(&message).is_empty() {
            return body(&message);
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn frame(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(STEP, socket.next()).await.unwrap() {
            Some(Ok(Frame::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Frame::Text(value.to_string().into()))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_restart_during_a_live_chat_ends_it_cleanly_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let running = example(dir.path()).await;
    let mut alice = alice(&running).await;

    // A chat, accepted, with a line each way.
    let url = format!("ws://{}/ws/visitor?portal=demo", running.http);
    let (mut visitor, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    send(
        &mut visitor,
        json!({"type": "start", "name": "Ann Lee", "question": "Where is my parcel?"}),
    )
    .await;
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "session");
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "queued");
    assert!(
        from_visitor(&mut alice)
            .await
            .contains("Where is my parcel?")
    );
    alice
        .send(Message::chat(Some(Jid::new(VISITOR).unwrap())).with_body(Lang::new(), "y".into()))
        .await;
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "joined");
    send(
        &mut visitor,
        json!({"type": "message", "text": "Said before the restart"}),
    )
    .await;
    loop {
        if from_visitor(&mut alice).await == "Said before the restart" {
            break;
        }
    }
    alice
        .send(
            Message::chat(Some(Jid::new(VISITOR).unwrap()))
                .with_body(Lang::new(), "Answered before the restart".into()),
        )
        .await;
    assert_eq!(
        frame(&mut visitor).await.unwrap()["text"],
        "Answered before the restart"
    );

    // The server stops: the visitor is told, then the socket closes.
    let database = running.database.clone();
    let alice_addr = running.starttls;
    let stopping = tokio::spawn(running.stop());
    let ended = frame(&mut visitor).await.unwrap();
    assert_eq!(ended["type"], "ended", "{ended}");
    assert!(
        ended["reason"].as_str().unwrap().contains("restarting"),
        "{ended}"
    );
    assert_eq!(frame(&mut visitor).await, None);
    // Alice is told the chat ended.
    assert!(
        from_visitor(&mut alice)
            .await
            .contains("Chat ended: the server is stopping")
    );
    // One chat was ended; the listeners are closed (that operators get
    // <system-shutdown/> is tested with raw sockets in salesiq-xmpp).
    let starttls = alice_addr;
    assert_eq!(
        tokio::time::timeout(STEP, stopping).await.unwrap().unwrap(),
        1
    );
    assert!(tokio::net::TcpStream::connect(starttls).await.is_err());

    // Everything said is in the file, and the chat is recorded as ended.
    {
        let store = SqliteStore::open(&database).unwrap();
        let chat = store.chat("demo", ChatId(1)).await.unwrap().unwrap();
        assert_eq!(chat.state, ChatState::Ended);
        let lines: Vec<(Author, String)> = store
            .transcript(ChatId(1))
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.author, l.text))
            .collect();
        let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
        assert!(texts.contains(&"Said before the restart"), "{texts:?}");
        assert!(texts.contains(&"Answered before the restart"), "{texts:?}");
        assert_eq!(texts.last(), Some(&"Chat ended: the server stopped"));
    }

    // The restarted server has nothing left to clean up and takes new chats.
    let running = example(dir.path()).await;
    assert_eq!(running.closed_chats, 0);
    assert_eq!(running.seeded.operators, 0);
    let mut alice = self::alice(&running).await;
    let url = format!("ws://{}/ws/visitor?portal=demo", running.http);
    let (mut visitor, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    send(
        &mut visitor,
        json!({"type": "start", "name": "Ann Lee", "question": "Me again"}),
    )
    .await;
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "session");
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "queued");
    let offer = loop {
        let message = alice.next_message().await;
        if body(&message).contains("Me again") {
            break message;
        }
    };
    // The second chat has a new visitor contact.
    assert_eq!(
        offer.from.map(|j| j.to_string()).as_deref(),
        Some("demo|visitor-2@salesiq.zoho.com/visitor")
    );
    alice.end().await;
    running.stop().await;
}
