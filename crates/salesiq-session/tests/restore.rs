//! Issue 13, item 2: restarts keep chats. A gateway stopped with
//! `shut_down` (or simply gone, as after `kill -9`) leaves its live chats
//! in the SQLite file; a new gateway over the same file restores them:
//! members, numbering and missed events, the visitor resuming with the
//! token they hold, the operator writing on after logging in again.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesiq_session::{
    ChatRequest, ChatState, ContactId, Gateway, GatewayError, NewOperator, Numbered, OperatorEvent,
    OperatorRef, OperatorSink, Portal, Restored, SqliteStore, Store, VisitorChat, VisitorDetails,
    VisitorEvent,
};

/// Records what operators are told.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(OperatorRef, OperatorEvent)>>);

impl OperatorSink for Recorder {
    fn send(&self, operator: &OperatorRef, event: OperatorEvent) {
        self.0.lock().unwrap().push((operator.clone(), event));
    }
}

impl Recorder {
    /// The texts of the messages `operator` was told so far, taken.
    fn texts(&self, operator: &OperatorRef) -> Vec<String> {
        let mut all = self.0.lock().unwrap();
        let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(o, _)| o == operator);
        *all = rest;
        mine.into_iter()
            .filter_map(|(_, e)| match e {
                OperatorEvent::Message { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }
}

struct World {
    store: Arc<SqliteStore>,
    bob: OperatorRef,
    alice: OperatorRef,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("g.sqlite3")).unwrap());
    store.put_portal(&Portal::new("demo", "en")).await.unwrap();
    store.put_portal(&Portal::new("other", "en")).await.unwrap();
    for (email, name, username) in [
        ("alice@demo.example", "Alice", "alice.ops"),
        ("bob@demo.example", "Bob", "bob.ops"),
    ] {
        let operator = store
            .add_operator(&NewOperator::new("demo", email, name))
            .await
            .unwrap();
        store.claim_username(operator.id, username).await.unwrap();
    }
    World {
        store,
        bob: OperatorRef::new("demo", "bob.ops"),
        alice: OperatorRef::new("demo", "alice.ops"),
        _dir: dir,
    }
}

impl World {
    /// A gateway over the world's file: one run of the process.
    fn process(&self) -> (Gateway, Arc<Recorder>) {
        let sink = Arc::new(Recorder::default());
        // Requests made with nobody there wait (what comes back is tested).
        let gateway = Gateway::builder(self.store.clone())
            .offline_when_nobody(false)
            .build(sink.clone());
        (gateway, sink)
    }
}

fn ann() -> VisitorDetails {
    let mut details = VisitorDetails::default();
    details.name = "Ann Lee".into();
    details.ip = Some("203.0.113.7".into());
    details
}

fn ann_contact() -> ContactId {
    ContactId::visitor("demo", 1)
}

/// Ann's chat, accepted by Bob, who wrote "one" (events 1 and 2).
async fn accepted(gateway: &Gateway, bob: &OperatorRef) -> VisitorChat {
    gateway.set_available(bob, true).await;
    let mut visitor = gateway
        .request_chat(ChatRequest::new("demo", ann(), "Where is my parcel?", None))
        .await
        .unwrap();
    gateway
        .operator_says(bob, &ann_contact(), "y")
        .await
        .unwrap();
    gateway
        .operator_says(bob, &ann_contact(), "one")
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Message { .. })
    ));
    visitor
}

fn message(seq: u64, text: &str) -> Numbered {
    let event = VisitorEvent::Message {
        from: "Bob".into(),
        text: text.into(),
    };
    Numbered::new(Some(seq), event)
}

#[tokio::test]
async fn a_stopped_chat_comes_back_and_its_visitor_resumes() {
    let w = world().await;
    let (first, _) = w.process();
    let visitor = accepted(&first, &w.bob).await;
    let token = visitor.resume_token().to_owned();
    // The page reloads just as the server stops: Bob's next line is
    // one the visitor has not seen.
    first.visitor_gone(&visitor).await.unwrap();
    first
        .operator_says(&w.bob, &ann_contact(), "two")
        .await
        .unwrap();
    assert_eq!(first.shut_down().await.unwrap(), 1);
    let stored = w.store.chat("demo", visitor.chat).await.unwrap().unwrap();
    assert_eq!(stored.state, ChatState::Active, "stopping ends no chat");
    // The old process's handle knows the chat no more.
    assert_eq!(
        first.operator_says(&w.bob, &ann_contact(), "late").await,
        Err(GatewayError::NoSuchChat)
    );

    let (second, sink) = w.process();
    let restored = second.restore_chats().await.unwrap();
    assert_eq!((restored.restored, restored.closed), (1, 0));
    // Bob logs in again: Ann is on his list, and he writes on.
    second.set_available(&w.bob, true).await;
    let roster: Vec<ContactId> = second
        .roster(&w.bob)
        .into_iter()
        .map(|item| item.contact.id)
        .collect();
    assert!(roster.contains(&ann_contact()), "{roster:?}");
    let alice: Vec<ContactId> = second
        .roster(&w.alice)
        .into_iter()
        .map(|item| item.contact.id)
        .collect();
    assert!(!alice.contains(&ann_contact()), "Alice was never in it");
    second
        .operator_says(&w.bob, &ann_contact(), "three")
        .await
        .unwrap();
    // Another portal's page cannot take the chat with the token.
    assert_eq!(
        second.resume_chat("other", &token, 0).await.map(|v| v.chat),
        Err(GatewayError::BadToken)
    );
    // Ann resumes after event 2: "two" and "three", numbered on, once.
    let mut back = second.resume_chat("demo", &token, 2).await.unwrap();
    assert_eq!(back.chat, visitor.chat);
    assert_eq!(back.next_numbered().await, Some(message(3, "two")));
    assert_eq!(back.next_numbered().await, Some(message(4, "three")));
    second
        .operator_says(&w.bob, &ann_contact(), "four")
        .await
        .unwrap();
    assert_eq!(back.next_numbered().await, Some(message(5, "four")));
    // And what she writes reaches Bob.
    second
        .visitor_says(back.chat, "Thanks, found it")
        .await
        .unwrap();
    second
        .operator_says(&w.bob, &ann_contact(), "#m")
        .await
        .unwrap();
    let told = sink.texts(&w.bob);
    assert!(told.iter().any(|t| t == "Thanks, found it"), "{told:?}");
    assert!(told.iter().all(|t| !t.contains("left")), "{told:?}");
    // A third start finds nothing more to restore: the chat is live here.
    assert_eq!(second.restore_chats().await.unwrap().restored, 0);
}

/// Everything a restore needs is stored as it happens: a second process
/// over the file of one that was never stopped (as after `kill -9`)
/// restores the chat as it stood.
#[tokio::test]
async fn a_crash_loses_nothing_a_stop_keeps() {
    let w = world().await;
    let (crashed, _) = w.process();
    let visitor = accepted(&crashed, &w.bob).await;
    let token = visitor.resume_token().to_owned();
    crashed
        .operator_says(&w.bob, &ann_contact(), "#p https://example.com/faq")
        .await
        .unwrap();

    let (second, _) = w.process();
    assert_eq!(second.restore_chats().await.unwrap().restored, 1);
    let mut back = second.resume_chat("demo", &token, 0).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let numbered = back.next_numbered().await.unwrap();
        seen.push((numbered.seq, numbered.event));
    }
    assert_eq!(
        seen,
        [
            (
                Some(1),
                VisitorEvent::Joined {
                    operator: "Bob".into()
                }
            ),
            (
                Some(2),
                VisitorEvent::Message {
                    from: "Bob".into(),
                    text: "one".into()
                }
            ),
            (
                Some(3),
                VisitorEvent::Push {
                    url: "https://example.com/faq".into()
                }
            ),
        ]
    );
}

/// A restored chat whose visitor does not come back ends after the grace,
/// as the visitor leaving: Bob is told, the store records the end, and
/// a later start restores nothing.
#[tokio::test(start_paused = true)]
async fn a_restored_chat_whose_visitor_stays_away_ends_after_the_grace() {
    let w = world().await;
    let (first, _) = w.process();
    let visitor = accepted(&first, &w.bob).await;
    let token = visitor.resume_token().to_owned();
    first.shut_down().await.unwrap();

    let (second, sink) = w.process();
    assert_eq!(second.restore_chats().await.unwrap().restored, 1);
    second.set_available(&w.bob, true).await;
    tokio::time::sleep(salesiq_session::DEFAULT_VISITOR_GRACE + Duration::from_secs(1)).await;
    let told = sink.texts(&w.bob);
    assert!(
        told.iter().any(|t| t.contains("The visitor left the chat")),
        "{told:?}"
    );
    let stored = w.store.chat("demo", visitor.chat).await.unwrap().unwrap();
    assert_eq!(stored.state, ChatState::Ended);
    assert_eq!(
        second.resume_chat("demo", &token, 0).await.map(|v| v.chat),
        Err(GatewayError::BadToken)
    );
    assert!(w.store.live_chats().await.unwrap().is_empty());
    let (third, _) = w.process();
    assert_eq!(third.restore_chats().await.unwrap(), Restored::default());
}

/// A request nobody had accepted comes back waiting: offered to the
/// operator who comes online after the restart, whose `y` the resumed
/// visitor hears.
#[tokio::test]
async fn a_waiting_request_comes_back_and_is_offered_at_login() {
    let w = world().await;
    let (first, _) = w.process();
    let visitor = first
        .request_chat(ChatRequest::new("demo", ann(), "Anyone there?", None))
        .await
        .unwrap();
    let token = visitor.resume_token().to_owned();
    first.shut_down().await.unwrap();

    let (second, sink) = w.process();
    assert_eq!(second.restore_chats().await.unwrap().restored, 1);
    let mut back = second.resume_chat("demo", &token, 0).await.unwrap();
    assert_eq!(
        back.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    second.set_available(&w.alice, true).await;
    let offer = sink.texts(&w.alice);
    assert!(
        offer.iter().any(|t| t.contains("Reply y to accept")),
        "{offer:?}"
    );
    second
        .operator_says(&w.alice, &ann_contact(), "y")
        .await
        .unwrap();
    let joined = back.next_numbered().await.unwrap();
    assert_eq!(joined.seq, Some(1));
    assert_eq!(
        joined.event,
        VisitorEvent::Joined {
            operator: "Alice".into()
        }
    );
}

/// An unfinished chat with no live state kept (stored by a version that
/// kept none, or its state lost) cannot come back: it is ended, as before.
#[tokio::test]
async fn a_chat_without_live_state_is_closed() {
    let w = world().await;
    let (first, _) = w.process();
    let visitor = accepted(&first, &w.bob).await;
    first.shut_down().await.unwrap();
    w.store.drop_live_chat(visitor.chat).await.unwrap();

    let (second, _) = w.process();
    let restored = second.restore_chats().await.unwrap();
    assert_eq!((restored.restored, restored.closed), (0, 1));
    let stored = w.store.chat("demo", visitor.chat).await.unwrap().unwrap();
    assert_eq!(stored.state, ChatState::Ended);
}

/// A crash can come after the visitor saw an event and before it was
/// stored: the restored chat never gives a number the visitor saw to a
/// new event. Worst case here: every kept event lost, the live row kept.
#[tokio::test]
async fn numbers_the_visitor_saw_are_not_reused_after_a_crash() {
    let w = world().await;
    let (crashed, _) = w.process();
    let visitor = accepted(&crashed, &w.bob).await;
    let token = visitor.resume_token().to_owned();
    let live = w.store.live_chats().await.unwrap();
    let kept = live.first().unwrap().clone();
    assert!(kept.seq_reserved >= 2, "reserved ahead of what was sent");
    w.store.drop_live_chat(visitor.chat).await.unwrap();
    w.store.save_live_chat(&kept).await.unwrap();

    let (second, _) = w.process();
    assert_eq!(second.restore_chats().await.unwrap().restored, 1);
    // The page saw 1 and 2.
    let mut back = second.resume_chat("demo", &token, 2).await.unwrap();
    second
        .operator_says(&w.bob, &ann_contact(), "three")
        .await
        .unwrap();
    let next = back.next_numbered().await.unwrap();
    assert!(next.seq.unwrap() > 2, "{next:?}");
    assert_eq!(
        next.event,
        VisitorEvent::Message {
            from: "Bob".into(),
            text: "three".into()
        }
    );
}

/// A graceful stop numbers on exactly: no gap after a restart.
#[tokio::test]
async fn a_stop_numbers_on_without_a_gap() {
    let w = world().await;
    let (first, _) = w.process();
    let visitor = accepted(&first, &w.bob).await;
    let token = visitor.resume_token().to_owned();
    first.shut_down().await.unwrap();
    let (second, _) = w.process();
    second.restore_chats().await.unwrap();
    let mut back = second.resume_chat("demo", &token, 2).await.unwrap();
    second
        .operator_says(&w.bob, &ann_contact(), "three")
        .await
        .unwrap();
    assert_eq!(back.next_numbered().await, Some(message(3, "three")));
}
