//! After the chat (issue 15, items 5 and 6), in-process over a real
//! SQLite file: the visitor rates it once (kept with the chat and in its
//! transcript, so `#h` shows it; its operators are told), and has its
//! transcript mailed (the in-memory mailer here; the SMTP server is real
//! in salesiq-web's tests).

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesiq_integrations::MemoryMailer;
use salesiq_session::{
    ChatRequest, ContactId, Gateway, GatewayError, NewOperator, OperatorEvent, OperatorRef,
    OperatorSink, Portal, RATE_WINDOW, Rating, SqliteStore, Store, VisitorChat, VisitorDetails,
};

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(OperatorRef, String)>>);

impl OperatorSink for Recorder {
    fn send(&self, operator: &OperatorRef, event: OperatorEvent) {
        if let OperatorEvent::Message { text, .. } = event {
            self.0.lock().unwrap().push((operator.clone(), text));
        }
    }
}

struct World {
    gateway: Gateway,
    store: Arc<SqliteStore>,
    sink: Arc<Recorder>,
    mailer: Arc<MemoryMailer>,
    ann: OperatorRef,
    _dir: tempfile::TempDir,
}

async fn world(locale: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("a.sqlite3")).unwrap());
    store
        .put_portal(&Portal::new("demo", locale))
        .await
        .unwrap();
    let ann = store
        .add_operator(&NewOperator::new("demo", "ann@demo.example", "Ann"))
        .await
        .unwrap();
    store.claim_username(ann.id, "ann.ops").await.unwrap();
    let sink = Arc::new(Recorder::default());
    let mailer = Arc::new(MemoryMailer::new());
    let gateway = Gateway::builder(store.clone())
        .mailer(mailer.clone())
        .build(sink.clone());
    let ann = OperatorRef::new("demo", "ann.ops");
    gateway.set_available(&ann, true).await;
    World {
        gateway,
        store,
        sink,
        mailer,
        ann,
        _dir: dir,
    }
}

impl World {
    /// A chat Ann accepted, with a line each way, then ended by her.
    async fn chat_that_ended(&self) -> VisitorChat {
        let mut details = VisitorDetails::default();
        details.name = "Kim".into();
        let chat = self
            .gateway
            .request_chat(ChatRequest::new(
                "demo",
                details,
                "Where is my parcel?",
                None,
            ))
            .await
            .unwrap();
        let contact = ContactId::visitor("demo", chat.visitor_number);
        self.gateway
            .operator_says(&self.ann, &contact, "y")
            .await
            .unwrap();
        self.gateway
            .visitor_says(chat.chat, "Order 1234")
            .await
            .unwrap();
        self.gateway
            .operator_says(&self.ann, &contact, "It ships today.")
            .await
            .unwrap();
        self.gateway
            .operator_says(&self.ann, &contact, "#e")
            .await
            .unwrap();
        chat
    }

    fn told(&self) -> Vec<String> {
        self.sink
            .0
            .lock()
            .unwrap()
            .drain(..)
            .filter(|(o, _)| *o == self.ann)
            .map(|(_, t)| t)
            .collect()
    }
}

#[tokio::test]
async fn a_chat_is_rated_once_and_its_operators_are_told() {
    let w = world("en").await;
    let chat = w.chat_that_ended().await;
    w.told();
    assert_eq!(
        w.gateway.rate_chat(chat.chat, 0, "").await,
        Err(GatewayError::BadMessage("a score is 1 to 5".into()))
    );
    w.gateway
        .rate_chat(chat.chat, 4, "Quick\nand kind")
        .await
        .unwrap();
    assert_eq!(w.told(), ["[system] rated 4/5: Quick and kind"]);
    let stored = w.store.chat("demo", chat.chat).await.unwrap().unwrap();
    assert_eq!(stored.rating, Rating::new(4, "Quick and kind"));
    // In the transcript, so in what #h shows.
    let history = w.store.history(stored.visitor, 10).await.unwrap();
    assert!(
        history
            .iter()
            .any(|l| l.text == "Rated 4/5: Quick and kind"),
        "{history:?}"
    );
    assert_eq!(
        w.gateway.rate_chat(chat.chat, 5, "").await,
        Err(GatewayError::BadMessage(
            "this chat was rated already".into()
        ))
    );
    assert!(w.told().is_empty());
}

#[tokio::test]
async fn a_japanese_portal_is_told_in_japanese_and_a_missed_chat_is_not_rated() {
    let w = world("ja").await;
    let chat = w.chat_that_ended().await;
    w.told();
    w.gateway.rate_chat(chat.chat, 5, "").await.unwrap();
    assert_eq!(w.told(), ["[システム] 評価 5/5"]);
    let mut details = VisitorDetails::default();
    details.name = "Mo".into();
    let missed = w
        .gateway
        .request_chat(ChatRequest::new("demo", details, "Hm?", None))
        .await
        .unwrap();
    w.gateway.visitor_leaves(missed.chat).await.unwrap();
    assert!(matches!(
        w.gateway.rate_chat(missed.chat, 3, "").await,
        Err(GatewayError::BadMessage(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn ratings_and_transcripts_have_a_window() {
    let w = world("en").await;
    let chat = w.chat_that_ended().await;
    tokio::time::advance(RATE_WINDOW + Duration::from_secs(1)).await;
    assert!(matches!(
        w.gateway.rate_chat(chat.chat, 4, "").await,
        Err(GatewayError::BadMessage(_))
    ));
    assert_eq!(
        w.gateway
            .send_transcript(chat.chat, "kim@visitor.example")
            .await,
        Err(GatewayError::NoSuchChat)
    );
}

#[tokio::test]
async fn the_transcript_is_mailed_on_request_a_few_times() {
    let w = world("en").await;
    let chat = w.chat_that_ended().await;
    assert_eq!(
        w.gateway.send_transcript(chat.chat, "not an address").await,
        Err(GatewayError::BadMessage(
            "a valid e-mail address is needed".into()
        ))
    );
    w.gateway
        .send_transcript(chat.chat, "kim@visitor.example")
        .await
        .unwrap();
    let mut sent = Vec::new();
    for _ in 0..200 {
        sent = w.mailer.sent();
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mail = &sent[0];
    assert_eq!(mail.to()[0].address(), "kim@visitor.example");
    assert_eq!(mail.subject(), "Your chat with demo");
    let body = mail.body();
    assert!(
        body.contains("Your question: Where is my parcel?"),
        "{body}"
    );
    assert!(body.contains("] Kim: Order 1234"), "{body}");
    assert!(body.contains("] Ann: It ships today."), "{body}");
    // A few times per chat, no more.
    for _ in 1..salesiq_session::TRANSCRIPTS_PER_CHAT {
        w.gateway
            .send_transcript(chat.chat, "kim@visitor.example")
            .await
            .unwrap();
    }
    assert_eq!(
        w.gateway
            .send_transcript(chat.chat, "kim@visitor.example")
            .await,
        Err(GatewayError::TooFast)
    );
}
