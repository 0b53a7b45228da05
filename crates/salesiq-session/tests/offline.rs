//! Nobody there (issue 15, item 4), in-process over a real SQLite file:
//! a request that finds nobody taking chats, or comes outside the
//! department's hours, is answered "leave a message"; the message is
//! stored, made a helpdesk ticket and mailed to the portal's `notify`;
//! a chat nobody accepted is recorded as missed and reported the same
//! way. The mailer and the helpdesk are the in-memory ones here (the SMTP
//! server is real in salesiq-web's and the e2e tests).

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Datelike;
use salesiq_integrations::{
    HelpdeskConnector, MemoryCrm, MemoryHelpdesk, MemoryMailer, TicketQuery,
};
use salesiq_session::{
    Availability, ChatRequest, Gateway, GatewayError, LeaveMessage, LeftKind, NewOperator,
    OperatorEvent, OperatorRef, OperatorSink, Portal, SqliteStore, Store, VisitorDetails,
    VisitorEvent, VisitorLimits,
};

#[derive(Debug, Default)]
struct Nobody(Mutex<Vec<OperatorEvent>>);

impl OperatorSink for Nobody {
    fn send(&self, _: &OperatorRef, event: OperatorEvent) {
        self.0.lock().unwrap().push(event);
    }
}

struct World {
    gateway: Gateway,
    store: Arc<SqliteStore>,
    mailer: Arc<MemoryMailer>,
    desk: Arc<MemoryHelpdesk>,
    ann: OperatorRef,
    _dir: tempfile::TempDir,
}

async fn world(locale: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("o.sqlite3")).unwrap());
    let portal = Portal::new("demo", locale).with_notify(["Ops <ops@demo.example>"]);
    store.put_portal(&portal).await.unwrap();
    let desk_row = store.add_department("demo", "Desk", false).await.unwrap();
    let operator = store
        .add_operator(&NewOperator::new("demo", "ann@demo.example", "Ann"))
        .await
        .unwrap();
    store.claim_username(operator.id, "ann.ops").await.unwrap();
    store
        .assign_department(operator.id, desk_row.id)
        .await
        .unwrap();
    let mailer = Arc::new(MemoryMailer::new());
    let desk = Arc::new(MemoryHelpdesk::new());
    let mut limits = VisitorLimits::default();
    limits.messages_per_hour = 3;
    let gateway = Gateway::builder(store.clone())
        .connectors(Arc::new(MemoryCrm::new()), desk.clone())
        .mailer(mailer.clone())
        .visitor_limits(limits)
        .build(Arc::new(Nobody::default()));
    World {
        gateway,
        store,
        mailer,
        desk,
        ann: OperatorRef::new("demo", "ann.ops"),
        _dir: dir,
    }
}

fn visitor(name: &str) -> VisitorDetails {
    let mut details = VisitorDetails::default();
    details.name = name.into();
    details.email = Some("kim@visitor.example".into());
    details
}

async fn request(w: &World, department: Option<&str>) -> Result<i64, GatewayError> {
    let request = ChatRequest::new("demo", visitor("Kim"), "Is it open?", department);
    w.gateway
        .request_chat(request)
        .await
        .map(|c| c.visitor_number)
}

/// Waits for what is reported beside the request (a spawned task).
async fn mails(w: &World, count: usize) -> Vec<salesiq_integrations::Mail> {
    for _ in 0..200 {
        let sent = w.mailer.sent();
        if sent.len() >= count {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} mails, not {count}", w.mailer.sent().len());
}

#[tokio::test]
async fn nobody_taking_chats_means_leave_a_message() {
    let w = world("en").await;
    let offline = request(&w, None).await;
    assert_eq!(
        offline,
        Err(GatewayError::Offline {
            message:
                "Nobody is available right now. Leave us a message and we will get back to you."
                    .into()
        })
    );
    // Away is there but takes no chats: still nobody.
    w.gateway
        .set_availability(&w.ann, Availability::NotTaking)
        .await;
    assert!(matches!(
        request(&w, Some("Desk")).await,
        Err(GatewayError::Offline { .. })
    ));
    // Taking chats (even with no room left) is somebody: the visitor queues.
    w.gateway
        .set_availability(&w.ann, Availability::Taking)
        .await;
    let number = request(&w, Some("Desk")).await.unwrap();
    assert_eq!(number, 1, "nothing was stored for the refused requests");
    assert!(w.store.left_messages("demo", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_message_left_is_stored_made_a_ticket_and_mailed() {
    let w = world("en").await;
    let message = LeaveMessage::new(
        "demo",
        "Kim Park",
        "kim@visitor.example",
        "Please call me back\nabout the order.",
    )
    .with_department(Some("desk"))
    .with_ip(Some("198.51.100.4"));
    w.gateway.leave_message(message.clone()).await.unwrap();
    let left = w.store.left_messages("demo", 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (
            left[0].kind,
            left[0].name.as_str(),
            left[0].email.as_deref()
        ),
        (LeftKind::Message, "Kim Park", Some("kim@visitor.example"))
    );
    assert_eq!(left[0].text, "Please call me back\nabout the order.");
    assert!(left[0].department.is_some());

    let sent = mails(&w, 1).await;
    let mail = &sent[0];
    assert_eq!(mail.to()[0].address(), "ops@demo.example");
    assert_eq!(mail.subject(), "[demo] Message from Kim Park");
    assert_eq!(
        mail.reply_to().map(|r| r.address()),
        Some("kim@visitor.example")
    );
    assert!(mail.body().contains("Department: Desk"), "{}", mail.body());
    assert!(mail.body().contains("about the order."), "{}", mail.body());
    let tickets = w
        .desk
        .search_tickets(TicketQuery::Email("kim@visitor.example"))
        .await
        .unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert!(tickets[0].subject.contains("Kim Park"), "{tickets:?}");

    // What is refused, and stored nowhere.
    for (bad, why) in [
        (
            LeaveMessage::new("demo", "Kim", "not an address", "Hi"),
            "e-mail",
        ),
        (
            LeaveMessage::new("demo", "", "kim@visitor.example", "Hi"),
            "name",
        ),
        (
            LeaveMessage::new("demo", "Kim", "kim@visitor.example", "  \n "),
            "empty",
        ),
    ] {
        match w.gateway.leave_message(bad).await {
            Err(GatewayError::BadMessage(reason)) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
    let long = LeaveMessage::new("demo", "Kim", "kim@visitor.example", &"x".repeat(5000));
    assert!(matches!(
        w.gateway.leave_message(long).await,
        Err(GatewayError::TooLong { .. })
    ));
    // One address leaves a few an hour, then is told to wait.
    for _ in 0..2 {
        w.gateway.leave_message(message.clone()).await.unwrap();
    }
    assert_eq!(
        w.gateway.leave_message(message.clone()).await,
        Err(GatewayError::TooFast)
    );
    let elsewhere = message.clone().with_ip(Some("198.51.100.5"));
    w.gateway.leave_message(elsewhere).await.unwrap();
    // A blocked address leaves nothing.
    w.store
        .block_ip("demo", "203.0.113.9", "spam", "ann.ops")
        .await
        .unwrap();
    let blocked = message.with_ip(Some("203.0.113.9"));
    assert_eq!(
        w.gateway.leave_message(blocked).await,
        Err(GatewayError::Blocked)
    );
    assert_eq!(w.store.left_messages("demo", 10).await.unwrap().len(), 4);
}

#[tokio::test]
async fn outside_the_departments_hours_even_a_taking_operator_is_closed() {
    let w = world("ja").await;
    w.gateway.set_available(&w.ann, true).await;
    let desk = w.store.departments("demo").await.unwrap().remove(0);
    // Open the day after tomorrow only (in UTC): closed now.
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        [later.weekday().num_days_from_monday() as usize];
    let hours = format!("{day} 09:00-18:00");
    w.store
        .set_hours(desk.id, Some(&hours), Some("UTC"))
        .await
        .unwrap();
    match request(&w, Some("Desk")).await {
        Err(GatewayError::Offline { message }) => {
            assert!(message.contains("受付時間外"), "{message}");
            assert!(message.contains(&hours), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Requests without the department are not bound by its hours.
    assert!(request(&w, None).await.is_ok());
    // Open all week: open now.
    w.store
        .set_hours(desk.id, Some("Mon-Sun 00:00-24:00"), Some("Asia/Tokyo"))
        .await
        .unwrap();
    assert!(request(&w, Some("Desk")).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_chat_nobody_accepts_is_recorded_as_missed_and_reported() {
    let w = world("en").await;
    // Somebody takes chats but never answers.
    w.gateway.set_available(&w.ann, true).await;
    let mut chat = w
        .gateway
        .request_chat(ChatRequest::new(
            "demo",
            visitor("Lee"),
            "Hello, anyone?",
            Some("Desk"),
        ))
        .await
        .unwrap();
    assert_eq!(
        chat.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    tokio::time::advance(salesiq_session::DEFAULT_QUEUE_TIMEOUT + Duration::from_secs(1)).await;
    assert!(matches!(
        chat.next_event().await,
        Some(VisitorEvent::Ended { .. })
    ));
    let sent = mails(&w, 1).await;
    assert_eq!(sent[0].subject(), "[demo] Missed chat from Lee");
    assert!(
        sent[0].body().contains("Hello, anyone?"),
        "{}",
        sent[0].body()
    );
    let left = w.store.left_messages("demo", 10).await.unwrap();
    assert_eq!(
        (left[0].kind, left[0].chat, left[0].text.as_str()),
        (LeftKind::MissedChat, Some(chat.chat), "Hello, anyone?")
    );
    // A visitor who gives up before anyone accepts is a missed chat too.
    let gone = w
        .gateway
        .request_chat(ChatRequest::new("demo", visitor("Mo"), "Hm?", None))
        .await
        .unwrap();
    w.gateway.visitor_leaves(gone.chat).await.unwrap();
    let sent = mails(&w, 2).await;
    assert_eq!(sent[1].subject(), "[demo] Missed chat from Mo");
}
