//! A server restart during a live chat (issue 13, item 2): the chat is
//! kept in the SQLite file, the restarted server restores it, the visitor
//! resumes with their token and gets exactly what they missed, and the
//! operator, logged in again, has the visitor on the list and writes on.
//! The example server runs whole (app::start), the operator is a real
//! XMPP client (tokio-xmpp), the visitor a WebSocket client. The same
//! after SIGKILL, with the server a process of its own: `crash.rs`.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::{STEP, VISITOR, body, example, frame, from_visitor, send};
use salesiq_examples::app::Running;
use salesiq_session::{ChatId, ChatState, SqliteStore, Store};
use salesiq_test_support as support;
use serde_json::json;
use support::Operator;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message};

async fn alice(running: &Running) -> Operator {
    common::alice_at(running.starttls, &running.certificate).await
}

#[tokio::test]
async fn a_restart_during_a_live_chat_keeps_it() {
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
    let session = frame(&mut visitor).await.unwrap();
    assert_eq!(session["type"], "session");
    let token = session["resume"].as_str().unwrap().to_owned();
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
    let answered = frame(&mut visitor).await.unwrap();
    assert_eq!(answered["text"], "Answered before the restart");
    let seen = answered["seq"].as_u64().unwrap();

    // The server stops (SIGTERM in the example): the chat is kept, not
    // ended. The visitor's socket closes with no `ended`.
    let database = running.database.clone();
    let starttls = running.starttls;
    let stopping = tokio::spawn(running.stop());
    assert_eq!(
        frame(&mut visitor).await,
        None,
        "no `ended` for the visitor"
    );
    assert_eq!(
        tokio::time::timeout(STEP, stopping).await.unwrap().unwrap(),
        1,
        "one chat kept"
    );
    assert!(tokio::net::TcpStream::connect(starttls).await.is_err());
    {
        let store = SqliteStore::open(&database).unwrap();
        let chat = store.chat("demo", ChatId(1)).await.unwrap().unwrap();
        assert_eq!(chat.state, ChatState::Active);
        let texts: Vec<String> = store
            .transcript(ChatId(1))
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert!(
            texts.iter().any(|t| t == "Said before the restart"),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t == "Answered before the restart"),
            "{texts:?}"
        );
        assert!(texts.iter().all(|t| !t.contains("ended")), "{texts:?}");
    }

    // The next start restores it. Alice logs in again: Ann is on her
    // list, and she writes before Ann is back.
    let running = example(dir.path()).await;
    assert_eq!((running.restored_chats, running.closed_chats), (1, 0));
    let mut alice = self::alice(&running).await;
    let roster = alice.roster().await;
    assert!(
        roster.items.iter().any(|i| i.jid.to_string() == VISITOR),
        "{:?}",
        roster.items
    );
    alice
        .send(
            Message::chat(Some(Jid::new(VISITOR).unwrap()))
                .with_body(Lang::new(), "Written after the restart".into()),
        )
        .await;
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    alice.iq(None, tokio_xmpp::IqRequest::Get(ping)).await;

    // Ann's page reconnects to the new server and resumes with its token:
    // exactly the line she missed, numbered on.
    let url = format!("ws://{}/ws/visitor?portal=demo", running.http);
    let (mut visitor, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    send(
        &mut visitor,
        json!({"type": "resume", "token": token, "after": seen}),
    )
    .await;
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "resumed");
    let missed = frame(&mut visitor).await.unwrap();
    assert_eq!(missed["type"], "message", "{missed}");
    assert_eq!(missed["text"], "Written after the restart");
    assert_eq!(missed["seq"].as_u64(), Some(seen + 1));
    send(
        &mut visitor,
        json!({"type": "message", "text": "Back after the restart"}),
    )
    .await;
    loop {
        let line = from_visitor(&mut alice).await;
        assert!(!line.contains("left"), "{line}");
        if line == "Back after the restart" {
            break;
        }
    }

    // New chats go on numbering visitors where the old run stopped.
    let (mut second, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    send(
        &mut second,
        json!({"type": "start", "name": "Ben", "question": "Me too"}),
    )
    .await;
    assert_eq!(frame(&mut second).await.unwrap()["type"], "session");
    let offer = loop {
        let message = alice.next_message().await;
        if body(&message).contains("Me too") {
            break message;
        }
    };
    assert_eq!(
        offer.from.map(|j| j.to_string()).as_deref(),
        Some("demo|visitor-2@salesiq.zoho.com/visitor")
    );
    send(&mut visitor, json!({"type": "leave"})).await;
    alice.end().await;
    running.stop().await;
}
