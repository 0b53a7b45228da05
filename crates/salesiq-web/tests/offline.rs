//! "Leave a message" through the visitor WebSocket API (issue 15, item
//! 4): with nobody taking chats, `start` is answered `offline`; the
//! visitor's `leave_message` is answered `message_left`, and the portal's
//! `notify` address receives it through a real SMTP server (the tests'
//! aiosmtpd sink, `scripts/smtp.sh`; `SALESIQ_SMTP_ADDR` and
//! `SALESIQ_SMTP_DIR`). Without the sink the test is skipped, except
//! under `CI`, where it fails.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use salesiq_integrations::{SmtpConfig, SmtpMailer};
use salesiq_session::{
    Availability, Gateway, NewOperator, OperatorEvent, OperatorRef, OperatorSink, Portal,
    SqliteStore, Store,
};
use salesiq_web::visitor_ws;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Debug)]
struct Nobody;

impl OperatorSink for Nobody {
    fn send(&self, _: &OperatorRef, _: OperatorEvent) {}
}

fn sink() -> Option<(String, u16, PathBuf)> {
    let (Ok(addr), Ok(dir)) = (
        std::env::var("SALESIQ_SMTP_ADDR"),
        std::env::var("SALESIQ_SMTP_DIR"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "SALESIQ_SMTP_ADDR and SALESIQ_SMTP_DIR are not set: under CI the SMTP tests \
             must run (scripts/test.sh starts a sink with scripts/smtp.sh)"
        );
        eprintln!("skipped: SALESIQ_SMTP_ADDR or SALESIQ_SMTP_DIR is not set");
        return None;
    };
    let (host, port) = addr.rsplit_once(':').unwrap();
    Some((host.to_owned(), port.parse().unwrap(), PathBuf::from(dir)))
}

async fn frame(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn send(client: &mut Client, value: Value) {
    client
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// The decoded mail the sink kept for `to`, once it is there.
async fn mail_to(dir: &Path, to: &str) -> Value {
    for _ in 0..500 {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
                    continue;
                };
                let to_us = json["rcpt_tos"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r.as_str() == Some(to)));
                if to_us {
                    return json;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no mail to {to}");
}

fn header(mail: &Value, name: &str) -> String {
    mail["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The demo portal telling `notify`, with Bob and a Sales department,
/// over SQLite in `dir`, and a gateway that mails through the sink at
/// `host:port` and tells operators through `sink`.
async fn mailing_gateway(
    dir: &Path,
    notify: &[&str],
    host: &str,
    port: u16,
    sink: Arc<dyn OperatorSink>,
) -> (Arc<SqliteStore>, Gateway) {
    let store = Arc::new(SqliteStore::open(dir.join("o.sqlite3")).unwrap());
    store
        .put_portal(&Portal::new("demo", "en").with_notify(notify))
        .await
        .unwrap();
    store.add_department("demo", "Sales", false).await.unwrap();
    let bob = store
        .add_operator(&NewOperator::new("demo", "bob@demo.example", "Bob"))
        .await
        .unwrap();
    store.claim_username(bob.id, "bob.ops").await.unwrap();
    let config = SmtpConfig::new(host, port, "Gateway <gw@salesiq.example>".parse().unwrap())
        .with_starttls(false);
    let gateway = Gateway::builder(store.clone())
        .mailer(Arc::new(SmtpMailer::new(config).unwrap()))
        .build(sink);
    (store, gateway)
}

/// The visitor API of `gateway` on 127.0.0.1, and a visitor's socket to it.
async fn visitor_socket(gateway: &Gateway) -> (tokio::task::JoinHandle<()>, Client) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app =
        visitor_ws::router(gateway.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (client, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/visitor?portal=demo"))
            .await
            .unwrap();
    (server, client)
}

#[tokio::test]
async fn nobody_there_a_message_is_left_and_mailed() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let ops = format!("ops-{}-{}@demo.example", std::process::id(), rand_part());
    let store_dir = tempfile::tempdir().unwrap();
    let (store, gateway) =
        mailing_gateway(store_dir.path(), &[&ops], &host, port, Arc::new(Nobody)).await;
    // Bob is there, but away: nobody takes chats.
    let bob = OperatorRef::new("demo", "bob.ops");
    gateway
        .set_availability(&bob, Availability::NotTaking)
        .await;
    let (server, mut client) = visitor_socket(&gateway).await;

    // A message before `offline` is refused.
    send(
        &mut client,
        json!({"type": "leave_message", "name": "Kim", "email": "kim@visitor.example", "text": "Hi"}),
    )
    .await;
    assert_eq!(frame(&mut client).await["type"], "error");
    send(
        &mut client,
        json!({"type": "start", "name": "Kim", "question": "Open on Sunday?", "department": "Sales"}),
    )
    .await;
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "offline", "message": "Nobody is available right now. Leave us a message and we will get back to you."})
    );
    // A mistake is answered, and may be put right.
    send(
        &mut client,
        json!({"type": "leave_message", "name": "Kim", "email": "no address", "text": "Hi"}),
    )
    .await;
    let refused = frame(&mut client).await;
    assert_eq!(refused["type"], "error");
    assert!(
        refused["message"].as_str().unwrap().contains("e-mail"),
        "{refused}"
    );
    send(
        &mut client,
        json!({"type": "leave_message", "name": "Kim Park", "email": "kim@visitor.example",
               "text": "Are you open on Sunday?\nPlease write back."}),
    )
    .await;
    assert_eq!(frame(&mut client).await, json!({"type": "message_left"}));
    // Once per socket.
    send(
        &mut client,
        json!({"type": "leave_message", "name": "Kim", "email": "kim@visitor.example", "text": "Again"}),
    )
    .await;
    assert_eq!(frame(&mut client).await["type"], "error");

    let mail = mail_to(&dir, &ops).await;
    assert_eq!(header(&mail, "Subject"), "[demo] Message from Kim Park");
    assert!(
        header(&mail, "Reply-To").contains("kim@visitor.example"),
        "{mail}"
    );
    let body = mail["body"].as_str().unwrap().replace("\r\n", "\n");
    assert!(body.contains("Department: Sales"), "{body}");
    assert!(
        body.contains("Are you open on Sunday?\nPlease write back."),
        "{body}"
    );
    let left = store.left_messages("demo", 5).await.unwrap();
    assert_eq!(left.len(), 1, "stored once");
    server.abort();
}

fn rand_part() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[derive(Debug, Default)]
struct Told(std::sync::Mutex<Vec<String>>);

impl OperatorSink for Told {
    fn send(&self, _: &OperatorRef, event: OperatorEvent) {
        if let OperatorEvent::Message { text, .. } = event {
            self.0.lock().unwrap().push(text);
        }
    }
}

/// Issue 15, items 5 and 6: the transcript by e-mail during the chat
/// (through the SMTP sink), and a rating on the socket after `ended`.
#[tokio::test]
async fn a_transcript_during_the_chat_and_a_rating_after_it() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let visitor_email = format!("kim-{}-{}@visitor.example", std::process::id(), rand_part());
    let store_dir = tempfile::tempdir().unwrap();
    let told = Arc::new(Told::default());
    let (store, gateway) = mailing_gateway(store_dir.path(), &[], &host, port, told.clone()).await;
    let bob = OperatorRef::new("demo", "bob.ops");
    gateway.set_available(&bob, true).await;
    let (server, mut client) = visitor_socket(&gateway).await;
    send(
        &mut client,
        json!({"type": "start", "name": "Kim", "question": "Parcel?"}),
    )
    .await;
    assert_eq!(frame(&mut client).await["type"], "session");
    assert_eq!(frame(&mut client).await["type"], "queued");
    let contact = salesiq_session::ContactId::visitor("demo", 1);
    gateway.operator_says(&bob, &contact, "y").await.unwrap();
    assert_eq!(frame(&mut client).await["type"], "joined");
    gateway
        .operator_says(&bob, &contact, "It left today.")
        .await
        .unwrap();
    assert_eq!(frame(&mut client).await["type"], "message");
    // A rating before the end is refused; the transcript is mailed.
    send(&mut client, json!({"type": "rate", "score": 5})).await;
    assert_eq!(frame(&mut client).await["type"], "error");
    send(
        &mut client,
        json!({"type": "transcript", "email": visitor_email}),
    )
    .await;
    assert_eq!(frame(&mut client).await, json!({"type": "transcript_sent"}));
    let mail = mail_to(&dir, &visitor_email).await;
    assert_eq!(header(&mail, "Subject"), "Your chat with demo");
    let body = mail["body"].as_str().unwrap().replace("\r\n", "\n");
    assert!(body.contains("] Bob: It left today."), "{body}");

    // The end: the socket stays open for one rating.
    gateway.operator_says(&bob, &contact, "#e").await.unwrap();
    assert_eq!(frame(&mut client).await["type"], "ended");
    send(
        &mut client,
        json!({"type": "rate", "score": 4, "comment": "Fast"}),
    )
    .await;
    assert_eq!(frame(&mut client).await, json!({"type": "rated"}));
    send(&mut client, json!({"type": "rate", "score": 5})).await;
    let again = frame(&mut client).await;
    assert_eq!(again["type"], "error");
    assert!(
        again["message"].as_str().unwrap().contains("rated already"),
        "{again}"
    );
    assert!(
        told.0
            .lock()
            .unwrap()
            .iter()
            .any(|t| t == "[system] rated 4/5: Fast"),
        "Bob is told"
    );
    let stored = store
        .chat("demo", salesiq_session::ChatId(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.rating.map(|r| r.score), Some(4));
    server.abort();
}
