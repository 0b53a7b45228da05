//! A crash during a live chat (issue 13, item 2): the example server runs
//! as a process of its own (`src/bin/e2e-server.rs`) and is killed with
//! SIGKILL mid-chat, with no chance to store anything more. Started again
//! over the same data directory it restores the chat: the visitor resumes
//! with the token their page holds and gets exactly what they missed, and
//! the operator, logged in again with a real XMPP client, writes on.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::{VISITOR, frame, from_visitor, send};
use serde_json::json;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message};

fn chat(text: &str) -> Message {
    Message::chat(Some(Jid::new(VISITOR).unwrap())).with_body(Lang::new(), text.into())
}

#[tokio::test]
async fn a_killed_server_restores_its_chats() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = common::process(dir.path(), &[]).await;
    assert_eq!(first.restored, 0);
    let mut alice = common::alice_at(first.starttls, &first.certificate).await;

    let url = format!("ws://{}/ws/visitor?portal=demo", first.http);
    let (mut visitor, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    send(
        &mut visitor,
        json!({"type": "start", "name": "Ann Lee", "question": "Is my order shipped?"}),
    )
    .await;
    let session = frame(&mut visitor).await.unwrap();
    let token = session["resume"].as_str().unwrap().to_owned();
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "queued");
    assert!(
        from_visitor(&mut alice)
            .await
            .contains("Is my order shipped?")
    );
    alice.send(chat("y")).await;
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "joined");
    alice.send(chat("Let me look it up")).await;
    let seen = frame(&mut visitor).await.unwrap();
    assert_eq!(seen["text"], "Let me look it up");
    let seen = seen["seq"].as_u64().unwrap();

    // SIGKILL: nothing more is stored, nobody is told.
    first.child.kill().await.unwrap();
    assert_eq!(frame(&mut visitor).await, None);
    drop(alice);

    let second = common::process(dir.path(), &[]).await;
    assert_eq!(second.restored, 1, "the chat comes back");
    let mut alice = common::alice_at(second.starttls, &second.certificate).await;
    let roster = alice.roster().await;
    assert!(
        roster.items.iter().any(|i| i.jid.to_string() == VISITOR),
        "{:?}",
        roster.items
    );
    alice.send(chat("It left the warehouse today")).await;
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    alice.iq(None, tokio_xmpp::IqRequest::Get(ping)).await;

    let url = format!("ws://{}/ws/visitor?portal=demo", second.http);
    let (mut visitor, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    send(
        &mut visitor,
        json!({"type": "resume", "token": token, "after": seen}),
    )
    .await;
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "resumed");
    let missed = frame(&mut visitor).await.unwrap();
    assert_eq!(missed["text"], "It left the warehouse today", "{missed}");
    // Numbered past anything the page may have seen before the crash (the
    // numbers skip ahead: those the chat had reserved).
    assert!(missed["seq"].as_u64().unwrap() > seen, "{missed}");
    send(
        &mut visitor,
        json!({"type": "message", "text": "Great, thanks"}),
    )
    .await;
    loop {
        let line = from_visitor(&mut alice).await;
        assert!(!line.contains("left the chat"), "{line}");
        if line == "Great, thanks" {
            break;
        }
    }
    // Nothing said before the crash went missing from the transcript.
    alice.send(chat("#h")).await;
    let mut history = Vec::new();
    while !history.iter().any(|l: &String| l.contains("Great, thanks")) {
        history.push(from_visitor(&mut alice).await);
    }
    for said in [
        "Is my order shipped?",
        "Let me look it up",
        "It left the warehouse today",
    ] {
        assert!(
            history.iter().any(|l| l.contains(said)),
            "{said}: {history:?}"
        );
    }
    alice.end().await;
}
