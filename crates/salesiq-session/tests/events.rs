//! Chat events for webhooks (issue 15, item 8): the gateway publishes
//! `chat.requested`, `chat.accepted`, `chat.ended`, `chat.missed` and
//! `message.left` with the documented data, each for its own portal; and
//! through salesiq-integrations' WebhookSender they reach a local HTTP
//! server (wiremock) as signed POSTs, never another portal's endpoint.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use salesiq_integrations::{
    ChatEvents, EventKind, MemoryEvents, SIGNATURE_HEADER, SenderConfig, Webhook, WebhookSender,
    signature,
};
use salesiq_session::{
    ChatRequest, ContactId, Gateway, LeaveMessage, NewOperator, OperatorEvent, OperatorRef,
    OperatorSink, Portal, SqliteStore, Store, VisitorDetails,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Debug)]
struct Nobody;

impl OperatorSink for Nobody {
    fn send(&self, _: &OperatorRef, _: OperatorEvent) {}
}

async fn store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::open(dir.path().join("e.sqlite3")).unwrap());
    for portal in ["demo", "other"] {
        store.put_portal(&Portal::new(portal, "en")).await.unwrap();
    }
    store.add_department("demo", "Sales", false).await.unwrap();
    let ann = store
        .add_operator(&NewOperator::new("demo", "ann@demo.example", "Ann Lee"))
        .await
        .unwrap();
    store.claim_username(ann.id, "ann.ops").await.unwrap();
    store
}

fn kim() -> VisitorDetails {
    let mut details = VisitorDetails::default();
    details.name = "Kim".into();
    details.email = Some("kim@visitor.example".into());
    details
}

/// The events published so far, waiting for `count` of them.
async fn published(events: &MemoryEvents, count: usize) -> Vec<(EventKind, String, Value)> {
    for _ in 0..200 {
        let found = events.events();
        if found.len() >= count {
            return found
                .into_iter()
                .map(|e| (e.kind, e.portal, e.data))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} events, not {count}", events.events().len());
}

#[tokio::test]
async fn the_chat_events_and_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let events = Arc::new(MemoryEvents::new());
    let gateway = Gateway::builder(store.clone())
        .events(events.clone())
        .build(Arc::new(Nobody));
    let ann = OperatorRef::new("demo", "ann.ops");
    gateway.set_available(&ann, true).await;

    let chat = gateway
        .request_chat(ChatRequest::new("demo", kim(), "Price?", Some("Sales")))
        .await
        .unwrap();
    let visitor = ContactId::visitor("demo", chat.visitor_number);
    gateway.operator_says(&ann, &visitor, "y").await.unwrap();
    gateway.operator_says(&ann, &visitor, "#e").await.unwrap();
    let found = published(&events, 3).await;
    let id = chat.chat.0;
    assert_eq!(
        found,
        [
            (
                EventKind::ChatRequested,
                "demo".to_owned(),
                json!({"chat": id, "visitor": 1, "name": "Kim", "email": "kim@visitor.example",
                       "question": "Price?", "department": "Sales"})
            ),
            (
                EventKind::ChatAccepted,
                "demo".to_owned(),
                json!({"chat": id, "visitor": 1, "operator": "ann.ops", "operator_name": "Ann Lee"})
            ),
            (
                EventKind::ChatEnded,
                "demo".to_owned(),
                json!({"chat": id, "visitor": 1, "operators": ["ann.ops"],
                       "reason": "Chat ended"})
            ),
        ]
    );
    events.take();

    // Nobody accepts the next one: missed, not ended.
    let gone = gateway
        .request_chat(ChatRequest::new("demo", kim(), "Hello?", None))
        .await
        .unwrap();
    gateway.visitor_leaves(gone.chat).await.unwrap();
    let found = published(&events, 2).await;
    assert_eq!(found[0].0, EventKind::ChatRequested);
    assert_eq!(
        found[1],
        (
            EventKind::ChatMissed,
            "demo".to_owned(),
            json!({"chat": gone.chat.0, "visitor": 2, "name": "Kim",
                   "email": "kim@visitor.example", "question": "Hello?", "department": null})
        )
    );
    events.take();

    // Another portal's message is that portal's event.
    gateway
        .leave_message(LeaveMessage::new(
            "other",
            "Kim",
            "kim@visitor.example",
            "Call me",
        ))
        .await
        .unwrap();
    let found = published(&events, 1).await;
    assert_eq!(
        (found[0].0, found[0].1.as_str()),
        (EventKind::MessageLeft, "other")
    );
    assert_eq!(found[0].2["text"], "Call me");
    assert!(found[0].2["id"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn webhooks_receive_their_portals_events_signed() {
    let demo = MockServer::start().await;
    let other = MockServer::start().await;
    for server in [&demo, &other] {
        Mock::given(method("POST"))
            .and(path("/hooks"))
            .respond_with(ResponseTemplate::new(204))
            .mount(server)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let hooks = vec![
        (
            "demo",
            Webhook::new(
                &format!("{}/hooks", demo.uri()),
                "demo-secret",
                &[EventKind::ChatRequested, EventKind::MessageLeft],
            )
            .unwrap(),
        ),
        (
            "other",
            Webhook::new(
                &format!("{}/hooks", other.uri()),
                "other-secret",
                EventKind::ALL,
            )
            .unwrap(),
        ),
    ];
    let sender = Arc::new(WebhookSender::start(hooks, SenderConfig::default()).unwrap());
    let events: Arc<dyn ChatEvents> = sender.clone();
    let gateway = Gateway::builder(store.clone())
        .events(events)
        .offline_when_nobody(false)
        .build(Arc::new(Nobody));
    let chat = gateway
        .request_chat(ChatRequest::new("demo", kim(), "Price?", None))
        .await
        .unwrap();
    gateway.visitor_leaves(chat.chat).await.unwrap();
    assert!(
        sender.shutdown(Duration::from_secs(10)).await,
        "all delivered"
    );

    let received = demo.received_requests().await.unwrap();
    // chat.missed was not asked for.
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["event"], "chat.requested");
    assert_eq!(body["portal"], "demo");
    assert_eq!(body["data"]["question"], "Price?");
    let signed = request
        .headers
        .get(SIGNATURE_HEADER)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(signed, signature("demo-secret", &request.body));
    assert!(
        other.received_requests().await.unwrap().is_empty(),
        "another portal's webhook hears nothing of this one"
    );
}
