//! The example server on PostgreSQL (`[store] url`, feature `postgres`):
//! seeded, a chat accepted by a real XMPP client, then a restart that
//! restores the chat from PostgreSQL, the visitor resuming with their
//! token. The server is the one `scripts/test.sh` starts
//! (`SALESIQ_PG_URL`); each run makes a database of its own there.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::{STEP, VISITOR, example_with, frame, from_visitor, send};
use serde_json::json;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Lang, Message};

/// A fresh database on the test server, as a URL; `None` (skip) when no
/// server is given outside CI.
async fn fresh_database() -> Option<String> {
    let Ok(url) = std::env::var("SALESIQ_PG_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "SALESIQ_PG_URL is not set: under CI the PostgreSQL tests must run (scripts/test.sh)"
        );
        eprintln!("skipped: SALESIQ_PG_URL is not set (bash scripts/postgres.sh start prints one)");
        return None;
    };
    let (client, connection) =
        tokio::time::timeout(STEP, tokio_postgres::connect(&url, tokio_postgres::NoTls))
            .await
            .unwrap()
            .unwrap();
    tokio::spawn(connection);
    let name = format!("e2e_{}_{}", std::process::id(), rand_suffix());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (server, _) = url.rsplit_once('/').unwrap();
    Some(format!("{server}/{name}"))
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

fn chat(text: &str) -> Message {
    Message::chat(Some(Jid::new(VISITOR).unwrap())).with_body(Lang::new(), text.into())
}

#[tokio::test]
async fn the_example_keeps_its_chats_in_postgresql() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let on_postgres = |c: &mut salesiq_examples::config::Config| c.store.url = Some(url.clone());
    let running = example_with(dir.path(), on_postgres).await;
    assert_eq!(running.seeded.operators, 3, "seeded into PostgreSQL");
    let mut alice = common::alice_at(running.starttls, &running.certificate).await;
    let ws = format!("ws://{}/ws/visitor?portal=demo", running.http);
    let (mut visitor, _) = tokio_tungstenite::connect_async(&ws).await.unwrap();
    send(
        &mut visitor,
        json!({"type": "start", "name": "Ann Lee", "question": "Stored where?"}),
    )
    .await;
    let token = frame(&mut visitor).await.unwrap()["resume"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(from_visitor(&mut alice).await.contains("Stored where?"));
    alice.send(chat("y")).await;
    loop {
        if frame(&mut visitor).await.unwrap()["type"] == "joined" {
            break;
        }
    }
    assert_eq!(running.stop().await, 1);
    assert!(
        !dir.path().join("gateway.sqlite3").exists(),
        "no SQLite file when [store] url names PostgreSQL"
    );
    drop(alice);

    let running = example_with(dir.path(), on_postgres).await;
    assert_eq!(running.seeded.operators, 0, "already there");
    assert_eq!(running.restored_chats, 1);
    let mut alice = common::alice_at(running.starttls, &running.certificate).await;
    alice.send(chat("In PostgreSQL")).await;
    let ws = format!("ws://{}/ws/visitor?portal=demo", running.http);
    let (mut visitor, _) = tokio_tungstenite::connect_async(&ws).await.unwrap();
    send(
        &mut visitor,
        json!({"type": "resume", "token": token, "after": 1}),
    )
    .await;
    assert_eq!(frame(&mut visitor).await.unwrap()["type"], "resumed");
    let missed = frame(&mut visitor).await.unwrap();
    assert_eq!(missed["text"], "In PostgreSQL", "{missed}");
    alice.end().await;
    running.stop().await;
}
