//! The gateway in-process, over a real SQLite file: offers, the first `y`,
//! text both ways, commands and their replies, blocking, queueing and
//! tenant isolation.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use salesiq_integrations::{CrmConnector, HelpdeskConnector};
use salesiq_session::{
    Activity, Author, ChatRequest, ContactId, Gateway, GatewayError, NewOperator, OperatorEvent,
    OperatorRef, OperatorSink, Portal, SqliteStore, Store, VisitorDetails, VisitorEvent,
    VisitorLimits,
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
    /// Takes what `operator` was told so far.
    fn take(&self, operator: &OperatorRef) -> Vec<OperatorEvent> {
        let mut all = self.0.lock().unwrap();
        let (mine, rest): (Vec<_>, Vec<_>) = all.drain(..).partition(|(o, _)| o == operator);
        *all = rest;
        mine.into_iter().map(|(_, e)| e).collect()
    }

    /// The texts of the messages among `events`.
    fn texts(events: &[OperatorEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                OperatorEvent::Message { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

struct World {
    gateway: Gateway,
    /// The SQLite file, for tests that break it.
    path: std::path::PathBuf,
    store: Arc<SqliteStore>,
    sink: Arc<Recorder>,
    alice: OperatorRef,
    bob: OperatorRef,
    _dir: tempfile::TempDir,
}

async fn world(locale: &str) -> World {
    world_with(locale, None, VisitorLimits::default()).await
}

async fn world_with(
    locale: &str,
    connectors: Option<(Arc<dyn CrmConnector>, Arc<dyn HelpdeskConnector>)>,
    limits: VisitorLimits,
) -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    store
        .put_portal(&Portal::new("demo", locale))
        .await
        .unwrap();
    store.add_department("demo", "Sales", false).await.unwrap();
    store.add_department("demo", "Support", true).await.unwrap();
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
    let sink = Arc::new(Recorder::default());
    // These tests are of queueing: a request that finds nobody waits for
    // them (the "leave a message" answer has tests of its own).
    let mut gateway = Gateway::builder(store.clone())
        .visitor_limits(limits)
        .offline_when_nobody(false);
    if let Some((crm, desk)) = connectors {
        gateway = gateway.connectors(crm, desk);
    }
    let gateway = gateway.build(sink.clone());
    World {
        gateway,
        path,
        store,
        sink,
        alice: OperatorRef::new("demo", "alice.ops"),
        bob: OperatorRef::new("demo", "bob.ops"),
        _dir: dir,
    }
}

fn ann() -> VisitorDetails {
    let mut details = VisitorDetails::default();
    details.name = "Ann Lee".into();
    details.email = Some("ann@example.com".into());
    details.ip = Some("203.0.113.7".into());
    details.country = Some("Japan".into());
    details
}

/// Visitor 1 of the demo portal, Ann.
fn ann_contact() -> ContactId {
    ContactId::visitor("demo", 1)
}

#[tokio::test]
async fn the_first_yes_wins_and_text_flows_both_ways() {
    let w = world("en").await;
    w.gateway.set_available(&w.alice, true).await;
    w.gateway.set_available(&w.bob, true).await;
    let mut visitor = w
        .gateway
        .request_chat(ChatRequest::new(
            "demo",
            ann(),
            "Where is my refund?",
            Some("sales"),
        ))
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );

    // Both are offered: the contact, with subject and department, and the request.
    for operator in [&w.alice, &w.bob] {
        let told = w.sink.take(operator);
        assert!(
            matches!(&told[0], OperatorEvent::ContactAdded { contact, status }
            if contact.id == ann_contact() && contact.name == "Ann Lee (#1)" && status == "Where is my refund? — Sales")
        );
        assert_eq!(
            Recorder::texts(&told)[0],
            "[system] Chat request from Ann Lee (visitor #1) in Japan: Where is my refund? — Sales. Reply y to accept."
        );
    }

    w.gateway
        .operator_says(&w.bob, &ann_contact(), "Y")
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Bob".into()
        })
    );
    let bob_told = Recorder::texts(&w.sink.take(&w.bob));
    assert!(
        bob_told[0].contains("Visitor: #1 Ann Lee") && bob_told[0].contains("Country: Japan"),
        "{bob_told:?}"
    );
    let alice_told = w.sink.take(&w.alice);
    assert_eq!(
        Recorder::texts(&alice_told),
        ["[system] Bob took this chat"]
    );
    assert!(alice_told.contains(&OperatorEvent::ContactRemoved {
        contact: ann_contact()
    }));
    // Too late for Alice, and she cannot write to the visitor.
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "y")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "let me help")
        .await
        .unwrap();
    assert_eq!(visitor.try_next_event(), None);
    assert_eq!(Recorder::texts(&w.sink.take(&w.alice)).len(), 2);

    w.gateway
        .visitor_says(visitor.chat, "order 1042")
        .await
        .unwrap();
    assert_eq!(
        w.sink.take(&w.bob),
        [OperatorEvent::Message {
            from: ann_contact(),
            text: "order 1042".into()
        }]
    );
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "Thanks, checking")
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Message {
            from: "Bob".into(),
            text: "Thanks, checking".into()
        })
    );
    let transcript: Vec<_> = w
        .store
        .transcript(visitor.chat)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.author, l.text))
        .collect();
    assert_eq!(
        transcript,
        [
            (Author::Visitor, "Where is my refund?".to_owned()),
            (Author::Visitor, "order 1042".to_owned()),
            (
                Author::Operator("Bob".into()),
                "Thanks, checking".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn commands_reply_to_the_operator_only() {
    let w = world("en").await;
    w.gateway.set_available(&w.bob, true).await;
    let mut visitor = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "Hi", None))
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "y")
        .await
        .unwrap();
    w.sink.take(&w.bob);
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));

    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#an wants the annual plan")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#n")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e 20")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#d")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#info")
        .await
        .unwrap();
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert_eq!(told[0], "[system] Note added");
    assert!(told[1].ends_with("Bob: wants the annual plan"), "{told:?}");
    assert!(
        told[2].contains("the timer must be 30, 45, 60 or 90 seconds")
            && told[2].contains("Usage: #e"),
        "{told:?}"
    );
    assert_eq!(told[3], "[system] Sales\nSupport");
    assert!(told[4].contains("E-mail: ann@example.com"), "{told:?}");
    // None of it reached the visitor.
    assert_eq!(visitor.try_next_event(), None);

    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#h")
        .await
        .unwrap();
    // History is the system's voice, never the visitor speaking now (issue 10, defect 8).
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        ["[system] (visitor) Hi"]
    );

    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e")
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Ended {
            reason: "The operator ended the chat".into()
        })
    );
    assert!(
        w.sink
            .take(&w.bob)
            .contains(&OperatorEvent::ContactRemoved {
                contact: ann_contact()
            })
    );
    assert_eq!(
        w.gateway
            .operator_says(&w.bob, &ann_contact(), "hello?")
            .await,
        Err(GatewayError::NoSuchChat)
    );
    // The visitor writing after the end reaches nobody and is not kept.
    assert_eq!(
        w.gateway.visitor_says(visitor.chat, "late words").await,
        Err(GatewayError::NoSuchChat)
    );
    let transcript = w.store.transcript(visitor.chat).await.unwrap();
    assert!(transcript.iter().all(|line| line.text != "late words"));
}

#[tokio::test]
async fn blocking_ends_the_chat_and_refuses_the_address() {
    let w = world("ja").await;
    w.gateway.set_available(&w.alice, true).await;
    let mut visitor = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "spam", None))
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "ｙ")
        .await
        .unwrap();
    w.sink.take(&w.alice);
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "＃ｂ 不正な利用")
        .await
        .unwrap();
    let told = Recorder::texts(&w.sink.take(&w.alice));
    assert_eq!(told[0], "[システム] IPアドレスをブロックしました");
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
        Some(VisitorEvent::Ended { .. })
    ));
    let again = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "hello again", None))
        .await;
    assert_eq!(again.err(), Some(GatewayError::Blocked));
    // Another portal does not share the block list (portals must exist to
    // take chats: issue 11, finding 9).
    w.store
        .put_portal(&Portal::new("acme", "en"))
        .await
        .unwrap();
    assert!(
        w.gateway
            .request_chat(ChatRequest::new("acme", ann(), "hi", None))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_waiting_chat_goes_to_whoever_comes_online_and_not_across_portals() {
    let w = world("en").await;
    let mut visitor = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "anyone?", None))
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    let stranger = OperatorRef::new("acme", "alice.ops");
    w.gateway.set_available(&stranger, true).await;
    assert!(w.sink.take(&stranger).is_empty(), "no offer across portals");
    assert_eq!(
        w.gateway
            .operator_says(&stranger, &ann_contact(), "y")
            .await,
        Err(GatewayError::NoSuchChat)
    );
    w.gateway.set_available(&w.alice, true).await;
    assert!(matches!(
        &w.sink.take(&w.alice)[0],
        OperatorEvent::ContactAdded { .. }
    ));
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "y")
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Alice".into()
        })
    );
    w.sink.take(&w.alice);

    w.gateway.visitor_leaves(visitor.chat).await.unwrap();
    let told = w.sink.take(&w.alice);
    assert_eq!(
        Recorder::texts(&told),
        ["[system] The visitor left the chat"]
    );
    assert!(told.contains(&OperatorEvent::ContactRemoved {
        contact: ann_contact()
    }));
}

#[tokio::test]
async fn unknown_departments_are_refused() {
    let w = world("en").await;
    let result = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "hi", Some("Nope")))
        .await;
    assert_eq!(
        result.err(),
        Some(GatewayError::UnknownDepartment("Nope".into()))
    );
}

/// A chat accepted by Bob, the visitor's first events read.
async fn accepted(w: &World, department: Option<&str>) -> salesiq_session::VisitorChat {
    w.gateway.set_available(&w.bob, true).await;
    let request = ChatRequest::new("demo", ann(), "My invoice is wrong", department);
    let mut visitor = w.gateway.request_chat(request).await.unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "y")
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
    w.sink.take(&w.bob);
    visitor
}

#[tokio::test]
async fn push_and_members() {
    let w = world("en").await;
    let mut visitor = accepted(&w, None).await;
    w.gateway
        .operator_says(
            &w.bob,
            &ann_contact(),
            "#p https://demo.example/help/invoices",
        )
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Push {
            url: "https://demo.example/help/invoices".into()
        })
    );
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#p javascript:alert(1)")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#m")
        .await
        .unwrap();
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert_eq!(told[0], "[system] Page sent to the visitor");
    assert!(
        told[1].contains("only http and https can be pushed"),
        "{told:?}"
    );
    assert_eq!(told[2], "[system] Bob (online)");
    assert_eq!(
        visitor.try_next_event(),
        None,
        "a refused URL never reaches the visitor"
    );
    w.gateway.set_available(&w.bob, false).await;
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#m")
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        ["[system] Bob (offline)"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_timed_end_fires_unless_the_visitor_stirs() {
    let w = world("ja").await;
    let mut visitor = accepted(&w, None).await;

    // Visitor activity cancels the timer.
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e 45")
        .await
        .unwrap();
    w.gateway
        .visitor_says(visitor.chat, "wait, one more thing")
        .await
        .unwrap();
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert_eq!(
        told,
        [
            "[システム] サポートは45秒後に終了します",
            "[システム] サポート終了を中断しました",
            "wait, one more thing"
        ]
    );
    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    assert_eq!(
        visitor.try_next_event(),
        None,
        "the cancelled timer did not end the chat"
    );

    // #e cancel does too.
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e 30")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e cancel")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    assert_eq!(visitor.try_next_event(), None);
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e cancel")
        .await
        .unwrap();
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert_eq!(told[2], "[システム] 保留中の終了の処理はありません");

    // Left alone, the chat ends when the time passes.
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e 90")
        .await
        .unwrap();
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Ended { .. })
    ));
    let told = w.sink.take(&w.bob);
    assert!(
        Recorder::texts(&told)
            .contains(&"[システム] 訪問者の操作がなかったためチャットを終了しました".to_owned()),
        "{told:?}"
    );
    assert!(told.contains(&OperatorEvent::ContactRemoved {
        contact: ann_contact()
    }));
}

fn connectors() -> (Arc<dyn CrmConnector>, Arc<dyn HelpdeskConnector>) {
    let (crm, desk) = salesiq_integrations::demo();
    (Arc::new(crm), Arc::new(desk))
}

#[tokio::test]
async fn crm_and_helpdesk_commands() {
    let w = world_with("en", Some(connectors()), VisitorLimits::default()).await;
    let _visitor = accepted(&w, Some("Support")).await;
    for command in [
        "#crm info",
        "#support info",
        "#support recentreq",
        "#support ticketinfo",
        "#support conasreq 312",
        "#support ticketinfo",
        "#support setreqstatus close",
        "#support searchreq Ann",
        "#support associate 1000",
        "#support associate nope",
    ] {
        w.gateway
            .operator_says(&w.bob, &ann_contact(), command)
            .await
            .unwrap();
    }
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert!(
        told[0].contains("CRM: Ann Lee") && told[0].contains("Company: Lee & Co"),
        "{told:?}"
    );
    assert!(told[1].contains("Helpdesk contact: Ann Lee"), "{told:?}");
    assert_eq!(told[2], "[system] #1000 Old invoice question (Closed)");
    assert_eq!(told[3], "[system] No ticket information for this visitor");
    assert_eq!(told[4], "[system] Ticket created: #1001");
    assert_eq!(
        told[5],
        "[system] #1001 My invoice is wrong (On Hold, High)"
    );
    assert_eq!(told[6], "[system] #1001 My invoice is wrong (Closed, High)");
    assert_eq!(told[7].lines().count(), 2, "{told:?}");
    assert_eq!(told[8], "[system] Chat associated with ticket #1000");
    assert_eq!(told[9], "[system] No such ticket in the helpdesk");
}

#[tokio::test]
async fn conversion_needs_the_department_flag_and_empty_connectors_say_so() {
    let w = world("en").await;
    let _visitor = accepted(&w, Some("Sales")).await;
    for command in [
        "#support conasreq 112",
        "#crm info",
        "#support info",
        "#support recentreq",
    ] {
        w.gateway
            .operator_says(&w.bob, &ann_contact(), command)
            .await
            .unwrap();
    }
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert_eq!(
        told,
        [
            "[system] Converting chats to tickets on demand is not enabled for this department",
            "[system] No CRM information for this visitor",
            "[system] No support information for this visitor",
            "[system] No recent requests for this visitor",
        ]
    );
}

#[tokio::test]
async fn transfers_hand_the_chat_over_and_declines_are_reported() {
    let w = world("en").await;
    let mut visitor = accepted(&w, None).await;
    w.gateway.set_available(&w.alice, true).await;
    w.sink.take(&w.alice);

    w.gateway
        .operator_says(
            &w.bob,
            &ann_contact(),
            "#t alice@demo.example wants a refund",
        )
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        ["[system] Transfer request sent"]
    );
    let asked = w.sink.take(&w.alice);
    assert!(
        matches!(&asked[0], OperatorEvent::ContactAdded { contact, .. } if contact.id == ann_contact())
    );
    assert_eq!(
        Recorder::texts(&asked),
        [
            "[system] Bob transfers the chat with Ann Lee (#1) to you: wants a refund. Reply y to accept or n to decline."
        ]
    );
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "n")
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        ["[system] Alice declined"]
    );
    assert_eq!(
        w.sink.take(&w.alice),
        [OperatorEvent::ContactRemoved {
            contact: ann_contact()
        }]
    );

    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#t \"SALES\" second try")
        .await
        .unwrap();
    w.sink.take(&w.bob);
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "y")
        .await
        .unwrap();
    let bob_told = w.sink.take(&w.bob);
    assert_eq!(
        Recorder::texts(&bob_told),
        ["[system] Alice accepted the transfer; you have left the chat"]
    );
    assert!(bob_told.contains(&OperatorEvent::ContactRemoved {
        contact: ann_contact()
    }));
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Alice".into()
        })
    );
    assert!(Recorder::texts(&w.sink.take(&w.alice))[1].contains("Visitor: #1 Ann Lee"));

    // Bob is out; Alice is in.
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "still me")
        .await
        .unwrap();
    assert!(Recorder::texts(&w.sink.take(&w.bob))[0].contains("not yours"));
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "Hi Ann, Alice here")
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Message {
            from: "Alice".into(),
            text: "Hi Ann, Alice here".into()
        })
    );

    // Nobody to take it, or no such department.
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "#t nobody@demo.example")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "#t \"Nope\"")
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.alice)),
        [
            "[system] Nobody available to take it",
            "[system] No such department: Nope"
        ]
    );
}

#[tokio::test]
async fn an_accepted_invitation_makes_a_group_chat() {
    let w = world("en").await;
    let mut visitor = accepted(&w, None).await;
    w.gateway.set_available(&w.alice, true).await;
    w.sink.take(&w.alice);

    w.gateway
        .operator_says(
            &w.bob,
            &ann_contact(),
            "#i alice@demo.example billing question",
        )
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        ["[system] Invitation sent"]
    );
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "y")
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        ["[system] Alice joined the chat"]
    );
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Alice".into()
        })
    );
    w.sink.take(&w.alice);

    // Each sees the other's messages, marked with the author; both see the visitor's.
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "Alice knows invoices")
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.alice)),
        ["(Bob) Alice knows invoices"]
    );
    w.gateway
        .operator_says(&w.alice, &ann_contact(), "Hello Ann")
        .await
        .unwrap();
    assert_eq!(Recorder::texts(&w.sink.take(&w.bob)), ["(Alice) Hello Ann"]);
    w.gateway
        .visitor_says(visitor.chat, "thanks both")
        .await
        .unwrap();
    assert_eq!(Recorder::texts(&w.sink.take(&w.alice)), ["thanks both"]);
    assert_eq!(Recorder::texts(&w.sink.take(&w.bob)), ["thanks both"]);
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#m")
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        ["[system] Bob (online)\nAlice (online)"]
    );
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Message { .. })
    ));
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Message { .. })
    ));
}

#[tokio::test]
async fn the_message_board_reaches_every_available_operator() {
    let w = world("en").await;
    w.gateway.set_available(&w.alice, true).await;
    w.gateway.set_available(&w.bob, true).await;
    let stranger = OperatorRef::new("acme", "zed.ops");
    w.gateway.set_available(&stranger, true).await;

    w.gateway
        .operator_says(&w.bob, &ContactId::board("demo"), "Standup at 10")
        .await
        .unwrap();
    assert_eq!(
        w.sink.take(&w.alice),
        [OperatorEvent::Message {
            from: ContactId::board("demo"),
            text: "(Bob) Standup at 10".into()
        }]
    );
    assert!(
        w.sink.take(&w.bob).is_empty(),
        "the author does not get an echo"
    );
    w.gateway
        .post_to_board("demo", "Admin", "New pricing page is live")
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        ["(Admin) New pricing page is live"]
    );
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.alice)),
        ["(Admin) New pricing page is live"]
    );
    assert!(
        w.sink.take(&stranger).is_empty(),
        "another portal's board is another board"
    );
    let posts: Vec<_> = w
        .store
        .posts("demo", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.author, p.text))
        .collect();
    assert_eq!(
        posts,
        [
            ("Bob".to_owned(), "Standup at 10".to_owned()),
            ("Admin".to_owned(), "New pricing page is live".to_owned())
        ]
    );
    assert_eq!(
        salesiq_session::board_contact("demo").id,
        ContactId::board("demo")
    );
}

#[tokio::test]
async fn typing_and_page_changes() {
    let w = world("en").await;
    let mut visitor = accepted(&w, None).await;
    w.gateway
        .visitor_typing(visitor.chat, Activity::Composing)
        .await
        .unwrap();
    assert_eq!(
        w.sink.take(&w.bob),
        [OperatorEvent::ChatState {
            from: ann_contact(),
            state: Activity::Composing
        }]
    );
    w.gateway
        .operator_chat_state(&w.bob, &ann_contact(), Activity::Composing)
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Typing {
            from: "Bob".into(),
            state: Activity::Composing
        })
    );
    // Another operator's typing does not show.
    w.gateway
        .operator_chat_state(&w.alice, &ann_contact(), Activity::Composing)
        .await
        .unwrap();
    assert_eq!(visitor.try_next_event(), None);

    w.gateway
        .visitor_page(visitor.chat, "https://demo.example/checkout")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#info")
        .await
        .unwrap();
    assert!(
        Recorder::texts(&w.sink.take(&w.bob))[0].ends_with("Now on: https://demo.example/checkout")
    );

    // Typing counts as activity: a timed end is called off.
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e 30")
        .await
        .unwrap();
    w.gateway
        .visitor_typing(visitor.chat, Activity::Composing)
        .await
        .unwrap();
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert_eq!(
        told,
        [
            "[system] Chat will end in 30 seconds",
            "[system] Chat end cancelled"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_nobody_accepts_ends_after_the_queue_timeout() {
    let w = world("en").await;
    let mut visitor = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "hello?", None))
        .await
        .unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    // Nobody comes: after five minutes the visitor is told.
    let ended = visitor.next_event().await;
    assert_eq!(
        ended,
        Some(VisitorEvent::Ended {
            reason: "No operator is available right now. Please try again later.".into()
        })
    );
    let chat = w.store.chat("demo", visitor.chat).await.unwrap().unwrap();
    assert_eq!(chat.state, salesiq_session::ChatState::Ended);

    // An accepted chat is not ended by it.
    w.gateway
        .set_queue_timeout(std::time::Duration::from_secs(10));
    w.gateway.set_available(&w.bob, true).await;
    let mut second = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "again", None))
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ContactId::visitor("demo", 2), "y")
        .await
        .unwrap();
    assert_eq!(
        second.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    assert!(matches!(
        second.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    assert_eq!(second.try_next_event(), None);
    w.gateway
        .operator_says(&w.bob, &ContactId::visitor("demo", 2), "still here")
        .await
        .unwrap();
    assert!(matches!(
        second.next_event().await,
        Some(VisitorEvent::Message { .. })
    ));
}

#[tokio::test]
async fn chats_left_open_by_a_restart_are_closed_at_start() {
    let w = world("en").await;
    w.gateway.set_available(&w.bob, true).await;
    let visitor = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "before the restart", None))
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "y")
        .await
        .unwrap();
    // A new process: a new gateway over the same store.
    let restarted = Gateway::new(w.store.clone(), w.sink.clone());
    assert_eq!(restarted.close_unfinished_chats().await.unwrap(), 1);
    let chat = w.store.chat("demo", visitor.chat).await.unwrap().unwrap();
    assert_eq!(chat.state, salesiq_session::ChatState::Ended);
    let last = w
        .store
        .transcript(visitor.chat)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        (last.author, last.text.as_str()),
        (Author::System, "Chat ended: the server restarted")
    );
    assert_eq!(restarted.close_unfinished_chats().await.unwrap(), 0);
    // A gateway's own live chats are not touched.
    let current = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "after", None))
        .await
        .unwrap();
    assert_eq!(w.gateway.close_unfinished_chats().await.unwrap(), 0);
    let chat = w.store.chat("demo", current.chat).await.unwrap().unwrap();
    assert_eq!(chat.state, salesiq_session::ChatState::Waiting);
}

#[tokio::test]
async fn department_requests_go_to_the_department_s_operators() {
    let w = world("en").await;
    let departments = w.store.departments("demo").await.unwrap();
    let support = departments.iter().find(|d| d.name == "Support").unwrap();
    let alice = w
        .store
        .operator_by_username("alice.ops")
        .await
        .unwrap()
        .unwrap();
    w.store
        .assign_department(alice.id, support.id)
        .await
        .unwrap();
    w.store
        .assign_department(alice.id, support.id)
        .await
        .unwrap(); // idempotent
    // A department of another portal cannot be assigned.
    let foreign = w
        .store
        .add_department("acme", "Support", false)
        .await
        .unwrap();
    assert!(
        w.store
            .assign_department(alice.id, foreign.id)
            .await
            .is_err()
    );

    w.gateway.set_available(&w.alice, true).await;
    w.gateway.set_available(&w.bob, true).await;
    let _support_chat = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "broken", Some("Support")))
        .await
        .unwrap();
    assert!(matches!(
        &w.sink.take(&w.alice)[0],
        OperatorEvent::ContactAdded { .. }
    ));
    assert!(w.sink.take(&w.bob).is_empty(), "Bob is not in Support");
    // Sales has nobody assigned: everyone serves it.
    let _sales_chat = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "pricing", Some("Sales")))
        .await
        .unwrap();
    assert!(!w.sink.take(&w.alice).is_empty());
    assert!(!w.sink.take(&w.bob).is_empty());
    // Bob takes the Sales chat and transfers it to Support: only Alice is asked.
    w.gateway
        .operator_says(&w.bob, &ContactId::visitor("demo", 2), "y")
        .await
        .unwrap();
    w.sink.take(&w.alice);
    w.gateway
        .operator_says(
            &w.bob,
            &ContactId::visitor("demo", 2),
            "#t \"Support\" needs a fix",
        )
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob))
            .last()
            .map(String::as_str),
        Some("[system] Transfer request sent")
    );
    assert!(Recorder::texts(&w.sink.take(&w.alice))[0].contains("Bob transfers the chat"));
    let members: Vec<_> = w
        .store
        .department_members(support.id)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.display_name)
        .collect();
    assert_eq!(members, ["Alice"]);
}

#[tokio::test]
async fn a_japanese_portal_gets_japanese_texts() {
    let w = world("ja").await;
    w.gateway.set_available(&w.alice, true).await;
    w.gateway.set_available(&w.bob, true).await;
    let _visitor = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), "請求書について", None))
        .await
        .unwrap();
    let offer = Recorder::texts(&w.sink.take(&w.bob));
    assert_eq!(
        offer,
        [
            "[システム] Ann Leeさん(訪問者 #1、Japan)からのチャットのリクエスト: 請求書について。承認するには y と返信してください。"
        ]
    );
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "y")
        .await
        .unwrap();
    assert!(Recorder::texts(&w.sink.take(&w.bob))[0].contains("メールアドレス: ann@example.com"));
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.alice))
            .last()
            .map(String::as_str),
        Some("[システム] Bobさんがこのチャットを担当しました")
    );
    for command in ["#m", "#crm info", "#i alice@demo.example"] {
        w.gateway
            .operator_says(&w.bob, &ann_contact(), command)
            .await
            .unwrap();
    }
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        [
            "[システム] Bob (オンライン)",
            "[システム] この訪問者のCRM情報はありません",
            "[システム] 招待を送信しました"
        ]
    );
    let invited = Recorder::texts(&w.sink.take(&w.alice));
    assert!(
        invited[0].contains("BobさんからAnn Lee (#1)とのチャットへの招待です"),
        "{invited:?}"
    );
}

#[tokio::test]
async fn nothing_crosses_portals() {
    let w = world("en").await;
    let zed = w
        .store
        .add_operator(&NewOperator::new("acme", "zed@acme.example", "Zed"))
        .await
        .unwrap();
    w.store.claim_username(zed.id, "zed.ops").await.unwrap();
    let zed = OperatorRef::new("acme", "zed.ops");
    w.gateway.set_available(&zed, true).await;
    let _visitor = accepted(&w, None).await;
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#an private to demo")
        .await
        .unwrap();
    w.sink.take(&w.bob);

    // Neither a transfer nor an invitation reaches another portal's operator.
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#t zed@acme.example")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#i zed@acme.example")
        .await
        .unwrap();
    assert_eq!(
        Recorder::texts(&w.sink.take(&w.bob)),
        [
            "[system] Nobody available to take it",
            "[system] Nobody available to take it"
        ]
    );
    assert!(w.sink.take(&zed).is_empty());
    // Another portal's operator can neither read nor act on the chat.
    for command in ["#n", "#h", "#info", "y", "hello", "#e"] {
        assert_eq!(
            w.gateway.operator_says(&zed, &ann_contact(), command).await,
            Err(GatewayError::NoSuchChat),
            "{command}"
        );
    }
    assert!(w.sink.take(&zed).is_empty());
}

/// Issue 10, defect 11: a store that fails does not leave ghosts. The
/// line still reaches the visitor (the caller hears of the failure), and
/// an end still tells the visitor and every operator.
#[tokio::test]
async fn a_failing_store_leaves_no_ghost_contacts() {
    let w = world("en").await;
    let mut visitor = accepted(&w, None).await;
    // Another connection takes the tables away under the store.
    let breaker = rusqlite::Connection::open(&w.path).unwrap();
    breaker
        .execute_batch("ALTER TABLE chat_lines RENAME TO chat_lines_gone;")
        .unwrap();
    let said = w
        .gateway
        .operator_says(&w.bob, &ann_contact(), "Still with you")
        .await;
    assert!(matches!(said, Err(GatewayError::Store(_))), "{said:?}");
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Message {
            from: "Bob".into(),
            text: "Still with you".into()
        })
    );
    breaker
        .execute_batch("ALTER TABLE chats RENAME TO chats_gone;")
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e")
        .await
        .unwrap();
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Ended { .. })
    ));
    let told = w.sink.take(&w.bob);
    assert!(
        told.contains(&OperatorEvent::ContactRemoved {
            contact: ann_contact()
        }),
        "{told:?}"
    );
    // The chat is over for the gateway too.
    assert_eq!(
        w.gateway
            .operator_says(&w.bob, &ann_contact(), "hello?")
            .await,
        Err(GatewayError::NoSuchChat)
    );
}

/// Issue 10: a device that becomes available later is offered a waiting
/// chat too, and so is a second device of an operator already offered;
/// the roster of every device has the visitor.
#[tokio::test]
async fn waiting_chats_reach_every_device() {
    use salesiq_session::DeviceId;

    /// Records per device.
    #[derive(Debug, Default)]
    struct Devices(Mutex<Vec<(Option<DeviceId>, OperatorEvent)>>);
    impl OperatorSink for Devices {
        fn send(&self, _: &OperatorRef, event: OperatorEvent) {
            self.0.lock().unwrap().push((None, event));
        }
        fn send_to_device(&self, _: &OperatorRef, device: DeviceId, event: OperatorEvent) {
            self.0.lock().unwrap().push((Some(device), event));
        }
    }
    let w = world("en").await;
    let sink = Arc::new(Devices::default());
    let gateway = Gateway::builder(w.store.clone())
        .offline_when_nobody(false)
        .build(sink.clone());
    let _visitor = gateway
        .request_chat(ChatRequest::new("demo", ann(), "Anyone?", None))
        .await
        .unwrap();
    assert!(sink.0.lock().unwrap().is_empty(), "nobody is there yet");
    let offers = |device: u64| {
        sink.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(d, e)| {
                *d == Some(DeviceId(device))
                    && matches!(e, OperatorEvent::Message { text, .. } if text.contains("Reply y"))
            })
            .count()
    };
    gateway.device_available(&w.bob, DeviceId(1), true);
    gateway.set_available(&w.alice, true).await; // a barrier for the chat
    assert_eq!(offers(1), 1);
    gateway.device_available(&w.bob, DeviceId(2), true);
    gateway.set_available(&w.alice, true).await;
    assert_eq!((offers(1), offers(2)), (1, 1), "each device once");
    let roster = gateway.roster(&w.bob);
    assert!(roster.iter().any(|item| item.contact.id == ann_contact()));
    assert!(
        roster
            .iter()
            .any(|item| item.contact.id == ContactId::board("demo"))
    );
    // Bob takes it from his second device; Alice is told, Bob's list keeps Ann.
    gateway
        .operator_says(&w.bob, &ann_contact(), "y")
        .await
        .unwrap();
    assert!(
        gateway
            .roster(&w.bob)
            .iter()
            .any(|i| i.contact.id == ann_contact())
    );
    assert!(
        !gateway
            .roster(&w.alice)
            .iter()
            .any(|i| i.contact.id == ann_contact())
    );
}

/// Issue 11, finding 9: visitors cannot invent portals or fill the store.
/// A request to a portal that does not exist is refused and stores
/// nothing; an over-long line or question is refused and stored nowhere.
#[tokio::test]
async fn visitors_cannot_invent_portals_or_fill_the_store() {
    let w = world("en").await;
    let refused = w
        .gateway
        .request_chat(ChatRequest::new("no-such-portal", ann(), "Hi", None))
        .await;
    assert_eq!(
        refused.map(|v| v.chat),
        Err(GatewayError::UnknownPortal("no-such-portal".into()))
    );
    assert!(w.store.unfinished_chats().await.unwrap().is_empty());
    let long = "x".repeat(salesiq_session::MAX_LINE_BYTES + 1);
    let refused = w
        .gateway
        .request_chat(ChatRequest::new("demo", ann(), &long, None))
        .await;
    assert!(matches!(refused, Err(GatewayError::TooLong { .. })));
    assert!(w.store.unfinished_chats().await.unwrap().is_empty());

    let visitor = accepted(&w, None).await;
    assert!(matches!(
        w.gateway.visitor_says(visitor.chat, &long).await,
        Err(GatewayError::TooLong { .. })
    ));
    let fits = "y".repeat(salesiq_session::MAX_LINE_BYTES);
    w.gateway.visitor_says(visitor.chat, &fits).await.unwrap();
    let lines = w.store.transcript(visitor.chat).await.unwrap();
    assert!(
        lines
            .iter()
            .all(|l| l.text.len() <= salesiq_session::MAX_LINE_BYTES)
    );
    assert_eq!(lines.last().map(|l| l.text.len()), Some(fits.len()));
    // Long one-line fields are cut, not stored whole.
    let mut details = ann();
    details.name = "N".repeat(10_000);
    let chat = w
        .gateway
        .request_chat(ChatRequest::new("demo", details, "Long name", None))
        .await
        .unwrap();
    let stored = w
        .store
        .visitor("demo", salesiq_session::VisitorId(2))
        .await
        .unwrap();
    assert_eq!(
        stored.map(|v| v.details.name.chars().count()),
        Some(salesiq_session::VisitorDetails::MAX_FIELD_CHARS)
    );
    drop(chat);
}

/// Issue 11, finding 7: a page that sends thousands of typing frames
/// reaches the operator as a handful of chat states, the newest last (it
/// once disconnected the chat's operator).
#[tokio::test(start_paused = true)]
async fn a_typing_flood_is_coalesced() {
    let w = world("en").await;
    let visitor = accepted(&w, None).await;
    for n in 0..10_000 {
        let state = if n % 2 == 0 {
            Activity::Composing
        } else {
            Activity::Paused
        };
        w.gateway.visitor_typing(visitor.chat, state).await.unwrap();
    }
    // The first at once; the rest wait for their turn.
    let states = |events: Vec<OperatorEvent>| -> Vec<Activity> {
        events
            .into_iter()
            .filter_map(|e| match e {
                OperatorEvent::ChatState { state, .. } => Some(state),
                _ => None,
            })
            .collect()
    };
    assert_eq!(states(w.sink.take(&w.bob)), [Activity::Composing]);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    // Then only the newest: the visitor stopped typing.
    assert_eq!(states(w.sink.take(&w.bob)), [Activity::Paused]);
    // A line says "active" by itself: a state still waiting is dropped.
    w.gateway
        .visitor_typing(visitor.chat, Activity::Composing)
        .await
        .unwrap();
    w.gateway
        .visitor_typing(visitor.chat, Activity::Paused)
        .await
        .unwrap();
    w.gateway.visitor_says(visitor.chat, "Here").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let told = w.sink.take(&w.bob);
    assert!(
        matches!(told.as_slice(), [
            OperatorEvent::ChatState { state: Activity::Composing, .. },
            OperatorEvent::Message { text, .. },
        ] if text == "Here"),
        "{told:?}"
    );
}

/// Issue 11, finding 7: an operator who comes online to 400 waiting chats
/// is offered MAX_OFFERS_PER_DEVICE of them (their client was once sent
/// 1,200 stanzas at once and disconnected, and never saw the 400 again);
/// each one taken makes room for another.
#[tokio::test]
async fn a_queue_of_requests_is_offered_a_few_at_a_time() {
    use salesiq_session::MAX_OFFERS_PER_DEVICE;
    const WAITING: usize = 400;
    // More than one address and one portal may have waiting by default.
    let w = world_with("en", None, VisitorLimits::unlimited()).await;
    // Room for all of them: the bound on open offers is what is tested.
    let roomy = Portal::new("demo", "en").with_max_chats_per_operator(1000);
    w.store.put_portal(&roomy).await.unwrap();
    let mut visitors = Vec::new();
    for n in 0..WAITING {
        let mut details = ann();
        details.name = format!("Visitor {n}");
        let request = ChatRequest::new("demo", details, "Anyone?", None);
        visitors.push(w.gateway.request_chat(request).await.unwrap());
    }
    w.gateway.set_available(&w.bob, true).await;
    let offered = |events: &[OperatorEvent]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                OperatorEvent::Message { text, .. } if text.contains("Reply y") => {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect()
    };
    let first = offered(&w.sink.take(&w.bob));
    assert_eq!(first.len(), MAX_OFFERS_PER_DEVICE);
    assert!(first.iter().all(|t| t.contains("(visitor #")));
    assert_eq!(
        w.gateway
            .roster(&w.bob)
            .iter()
            .filter(|i| matches!(i.contact.id, ContactId::Visitor { .. }))
            .count(),
        MAX_OFFERS_PER_DEVICE
    );
    // Bob takes one: another waiting chat is offered in its place.
    let taken = first[0]
        .split("(visitor #")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ContactId::visitor("demo", taken), "y")
        .await
        .unwrap();
    // A barrier: once Alice's availability reached every waiting chat,
    // they have all looked at Bob's free slot too.
    w.gateway.set_available(&w.alice, true).await;
    let next = offered(&w.sink.take(&w.bob));
    assert_eq!(next.len(), 1, "{next:?}");
    assert!(!first.contains(&next[0]), "{next:?} was offered already");
}

/// Issue 11, finding 9: one address holds a few live chats and a portal
/// a bounded queue; requests made in parallel cannot slip past a bound
/// together, nothing is stored for a refused one, and an ended chat makes
/// room again.
#[tokio::test]
async fn visitors_are_bounded_per_address_and_per_portal() {
    let mut limits = VisitorLimits::default();
    limits.chats_per_address = 3;
    limits.waiting_per_portal = 5;
    let w = world_with("en", None, limits).await;
    let request = |n: usize, ip: &str| {
        let mut details = ann();
        details.name = format!("Visitor {n}");
        details.ip = Some(ip.to_owned());
        ChatRequest::new("demo", details, "Anyone?", None)
    };
    // Twenty at once from one address: three are taken.
    let mut parallel = tokio::task::JoinSet::new();
    for n in 0..20 {
        let gateway = w.gateway.clone();
        let request = request(n, "203.0.113.7");
        parallel.spawn(async move { gateway.request_chat(request).await });
    }
    let mut taken = Vec::new();
    while let Some(result) = parallel.join_next().await {
        match result.unwrap() {
            Ok(chat) => taken.push(chat),
            Err(e) => assert_eq!(e, GatewayError::TooManyChats),
        }
    }
    assert_eq!(taken.len(), 3);
    assert_eq!(w.store.unfinished_chats().await.unwrap().len(), 3);
    // Other addresses fill the portal's queue, up to five waiting.
    for n in 0..2 {
        let ip = format!("198.51.100.{n}");
        taken.push(w.gateway.request_chat(request(n, &ip)).await.unwrap());
    }
    let refused = w.gateway.request_chat(request(9, "198.51.100.9")).await;
    assert_eq!(refused.map(|c| c.chat), Err(GatewayError::PortalBusy));
    assert_eq!(w.store.unfinished_chats().await.unwrap().len(), 5);
    // One leaves: its address and the portal have room again.
    let left = taken.remove(0);
    w.gateway.visitor_leaves(left.chat).await.unwrap();
    taken.push(
        w.gateway
            .request_chat(request(10, "203.0.113.7"))
            .await
            .unwrap(),
    );
    // Accepted chats stop counting as waiting, but still count for their
    // address.
    w.gateway.set_available(&w.bob, true).await;
    for chat in &taken {
        let contact = ContactId::visitor("demo", chat.visitor_number);
        w.gateway
            .operator_says(&w.bob, &contact, "y")
            .await
            .unwrap();
    }
    let more = w.gateway.request_chat(request(11, "198.51.100.11")).await;
    assert!(more.is_ok());
    let refused = w.gateway.request_chat(request(12, "203.0.113.7")).await;
    assert_eq!(refused.map(|c| c.chat), Err(GatewayError::TooManyChats));
}

/// Issue 11, finding 9: a visitor who writes faster than the line rate
/// is told so, and what was refused is neither relayed nor stored (one
/// socket once wrote 60 MB into the store in seconds).
#[tokio::test(start_paused = true)]
async fn a_visitor_writing_too_fast_is_slowed_down() {
    let w = world("en").await;
    let visitor = accepted(&w, None).await;
    let stored = || async { w.store.transcript(visitor.chat).await.unwrap().len() };
    let before = stored().await;
    let burst = VisitorLimits::default().line_burst as usize;
    let mut refused = 0;
    for n in 0..100 {
        match w
            .gateway
            .visitor_says(visitor.chat, &format!("line {n}"))
            .await
        {
            Ok(()) => {}
            Err(GatewayError::TooFast) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(refused, 100 - burst);
    assert_eq!(stored().await - before, burst);
    let relayed = w
        .sink
        .take(&w.bob)
        .into_iter()
        .filter(|e| matches!(e, OperatorEvent::Message { .. }))
        .count();
    assert_eq!(relayed, burst);
    // Page changes are stored too, and count.
    assert_eq!(
        w.gateway
            .visitor_page(visitor.chat, "https://shop.example/")
            .await,
        Err(GatewayError::TooFast)
    );
    // A line a second after that.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    w.gateway.visitor_says(visitor.chat, "sorry").await.unwrap();
    w.gateway
        .visitor_says(visitor.chat, "really")
        .await
        .unwrap();
    assert_eq!(
        w.gateway.visitor_says(visitor.chat, "!").await,
        Err(GatewayError::TooFast)
    );
}

/// Issue 13: a visitor whose connection drops resumes with the chat's
/// token and gets exactly what they missed, numbered and in order, then
/// live events; operators notice nothing.
#[tokio::test]
async fn a_visitor_resumes_and_misses_nothing() {
    let w = world("en").await;
    let mut visitor = accepted(&w, None).await;
    let token = visitor.resume_token().to_owned();
    assert_eq!(token.len(), 32, "128 bits, hex");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "one")
        .await
        .unwrap();
    let one = visitor.next_numbered().await.unwrap();
    assert_eq!(one.seq, Some(2), "joined was 1");
    // The page reloads: the socket is gone, the operator writes on.
    w.gateway.visitor_gone(&visitor).await.unwrap();
    drop(visitor);
    for text in ["two", "three"] {
        w.gateway
            .operator_says(&w.bob, &ann_contact(), text)
            .await
            .unwrap();
    }
    let mut back = w.gateway.resume_chat("DEMO", &token, 2).await.unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "four")
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let n = back.next_numbered().await.unwrap();
        if let VisitorEvent::Message { text, .. } = n.event {
            seen.push((n.seq, text));
        }
    }
    assert_eq!(
        seen,
        [
            (Some(3), "two".to_owned()),
            (Some(4), "three".to_owned()),
            (Some(5), "four".to_owned())
        ]
    );
    // The visitor writes again; the operator heard of no gap.
    w.gateway
        .visitor_says(back.chat, "still here")
        .await
        .unwrap();
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert!(told.iter().all(|t| !t.contains("left")), "{told:?}");
    assert!(told.iter().any(|t| t == "still here"), "{told:?}");
    // Asking again from where the visitor is: nothing twice.
    let mut again = w.gateway.resume_chat("demo", &token, 5).await.unwrap();
    assert_eq!(again.try_next_event(), None);
}

/// A token the gateway never gave, or one of another portal, resumes
/// nothing; a waiting chat resumes as queued.
#[tokio::test]
async fn bad_tokens_resume_nothing_and_a_waiting_chat_resumes_queued() {
    let w = world("en").await;
    w.store
        .put_portal(&Portal::new("acme", "en"))
        .await
        .unwrap();
    let request = ChatRequest::new("demo", ann(), "Anyone?", None);
    let visitor = w.gateway.request_chat(request).await.unwrap();
    let token = visitor.resume_token().to_owned();
    for (portal, token) in [
        ("demo", "0".repeat(32)),
        ("acme", token.clone()),
        ("demo", String::new()),
    ] {
        assert_eq!(
            w.gateway
                .resume_chat(portal, &token, 0)
                .await
                .map(|v| v.chat),
            Err(GatewayError::BadToken)
        );
    }
    w.gateway.visitor_gone(&visitor).await.unwrap();
    let mut back = w.gateway.resume_chat("demo", &token, 0).await.unwrap();
    assert_eq!(
        back.next_numbered().await.map(|n| (n.seq, n.event)),
        Some((None, VisitorEvent::Queued { position: 1 }))
    );
}

/// A visitor who does not come back within the grace leaves the chat as
/// before; one who comes back in time keeps it past the grace.
#[tokio::test(start_paused = true)]
async fn the_grace_ends_a_chat_whose_visitor_never_comes_back() {
    let grace = salesiq_session::DEFAULT_VISITOR_GRACE;
    let w = world("en").await;
    let visitor = accepted(&w, None).await;
    let token = visitor.resume_token().to_owned();
    w.gateway.visitor_gone(&visitor).await.unwrap();
    tokio::time::sleep(grace / 2).await;
    let back = w.gateway.resume_chat("demo", &token, 0).await.unwrap();
    // The old socket's close, noticed after the new one resumed, changes
    // nothing.
    w.gateway.visitor_gone(&visitor).await.unwrap();
    tokio::time::sleep(grace * 2).await;
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "still open")
        .await
        .unwrap();
    assert!(
        Recorder::texts(&w.sink.take(&w.bob))
            .iter()
            .all(|t| !t.contains("left"))
    );

    w.gateway.visitor_gone(&back).await.unwrap();
    tokio::time::sleep(grace + std::time::Duration::from_secs(1)).await;
    let told = Recorder::texts(&w.sink.take(&w.bob));
    assert!(
        told.iter().any(|t| t.contains("The visitor left the chat")),
        "{told:?}"
    );
    assert_eq!(
        w.gateway
            .resume_chat("demo", &token, 0)
            .await
            .map(|v| v.chat),
        Err(GatewayError::BadToken)
    );
}

/// A visitor away when the operator ended the chat hears of the end when
/// they come back within the grace (instead of "cannot be resumed"), once.
#[tokio::test(start_paused = true)]
async fn a_visitor_back_after_the_end_is_told_it_ended() {
    let w = world("en").await;
    let visitor = accepted(&w, None).await;
    let token = visitor.resume_token().to_owned();
    w.gateway.visitor_gone(&visitor).await.unwrap();
    drop(visitor);
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "Bye!")
        .await
        .unwrap();
    w.gateway
        .operator_says(&w.bob, &ann_contact(), "#e")
        .await
        .unwrap();
    let mut back = w.gateway.resume_chat("demo", &token, 1).await.unwrap();
    let mut told = Vec::new();
    while let Some(n) = back.next_numbered().await {
        told.push((n.seq, n.event));
    }
    assert_eq!(
        told,
        [
            (
                Some(2),
                VisitorEvent::Message {
                    from: "Bob".into(),
                    text: "Bye!".into()
                }
            ),
            (
                Some(3),
                VisitorEvent::Ended {
                    reason: "The operator ended the chat".into()
                }
            ),
        ]
    );
    // Seen: nothing more to resume; nor after the grace.
    assert_eq!(
        w.gateway
            .resume_chat("demo", &token, 3)
            .await
            .map(|v| v.chat),
        Err(GatewayError::BadToken)
    );
    assert!(w.gateway.resume_chat("acme", &token, 0).await.is_err());
    tokio::time::sleep(salesiq_session::DEFAULT_VISITOR_GRACE).await;
    assert_eq!(
        w.gateway
            .resume_chat("demo", &token, 1)
            .await
            .map(|v| v.chat),
        Err(GatewayError::BadToken)
    );
}
