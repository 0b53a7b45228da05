//! `#c`, canned answers (issue 15, item 1), through a real Jabber client:
//! the list, an answer sent with its variables filled in (to the visitor,
//! into the transcript, echoed to every device of the operator), a
//! department's answers beside the portal's, and an unknown key.

#![allow(clippy::unwrap_used)]

use salesiq_session::{CannedAnswer, ChatRequest, Store, VisitorDetails, VisitorEvent};
use salesiq_test_support::STEP;
use salesiq_test_support::gateway::{ALICE, message_saying, next_line, world};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::message::{Lang, Message};

const ANN: &str = "demo|visitor-1@salesiq.zoho.com";

fn to_ann(text: &str) -> Message {
    Message::chat(Some(Jid::new(ANN).unwrap())).with_body(Lang::new(), text.into())
}

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

#[tokio::test]
async fn canned_answers_from_a_jabber_client() {
    let world = world(&[], None).await;
    let store = &world.store;
    let sales = store.add_department("demo", "Sales", false).await.unwrap();
    let support = store
        .add_department("demo", "Support", false)
        .await
        .unwrap();
    for answer in [
        CannedAnswer::new(
            "demo",
            None,
            "hello",
            "Hello {visitor}, this is {operator}.",
        ),
        CannedAnswer::new("demo", None, "bye", "Goodbye!"),
        CannedAnswer::new(
            "demo",
            Some(sales.id),
            "pricing",
            "{department} plans start at $10.",
        ),
        CannedAnswer::new("demo", Some(support.id), "reset", "Support only."),
    ] {
        store.put_canned(&answer).await.unwrap();
    }
    let mut phone = world.online(ALICE, "phone").await;
    let mut desk = world.online(ALICE, "desk").await;

    let mut details = VisitorDetails::default();
    details.name = "Ann Lee".into();
    let request = ChatRequest::new("demo", details, "How much?", Some("Sales"));
    let mut visitor = world.gateway.request_chat(request).await.unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    message_saying(&mut desk, "How much?").await;
    desk.send(to_ann("y")).await;
    assert!(matches!(
        next_line(&mut visitor).await,
        Some(VisitorEvent::Joined { .. })
    ));

    // The list: the portal's answers and the Sales ones, not Support's.
    desk.send(to_ann("#c")).await;
    let list = body(&message_saying(&mut desk, "hello:").await);
    assert!(list.starts_with("[system] "), "{list}");
    assert!(list.contains("bye: Goodbye!"), "{list}");
    assert!(
        list.contains("hello: Hello {visitor}, this is {operator}."),
        "{list}"
    );
    assert!(
        list.contains("pricing: {department} plans start at $10."),
        "{list}"
    );
    assert!(!list.contains("reset"), "{list}");

    // One sent: the visitor gets it filled in, from Alice.
    desk.send(to_ann("#c hello")).await;
    assert_eq!(
        tokio::time::timeout(STEP, next_line(&mut visitor))
            .await
            .unwrap(),
        Some(VisitorEvent::Message {
            from: "Alice".into(),
            text: "Hello Ann Lee, this is Alice.".into()
        })
    );
    // Every device of Alice's sees what went.
    for device in [&mut desk, &mut phone] {
        assert_eq!(
            body(&message_saying(device, "sent:").await),
            "[system] sent: Hello Ann Lee, this is Alice."
        );
    }
    desk.send(to_ann("#c pricing")).await;
    assert_eq!(
        next_line(&mut visitor).await,
        Some(VisitorEvent::Message {
            from: "Alice".into(),
            text: "Sales plans start at $10.".into()
        })
    );

    // An unknown key (and Support's, outside a Support chat): the keys
    // there are, and nothing for the visitor.
    desk.send(to_ann("#c reset")).await;
    let unknown = body(&message_saying(&mut desk, "No canned answer").await);
    assert_eq!(
        unknown,
        "[system] No canned answer \"reset\". Known keys: bye, hello, pricing"
    );
    desk.send(to_ann("after")).await;
    assert_eq!(
        next_line(&mut visitor).await,
        Some(VisitorEvent::Message {
            from: "Alice".into(),
            text: "after".into()
        }),
        "nothing reached the visitor in between"
    );

    // The transcript has the answers as Alice's lines.
    let history = store.transcript(visitor.chat).await.unwrap();
    let texts: Vec<&str> = history.iter().map(|l| l.text.as_str()).collect();
    assert!(
        texts.contains(&"Hello Ann Lee, this is Alice."),
        "{texts:?}"
    );
    assert!(texts.contains(&"Sales plans start at $10."), "{texts:?}");
    desk.end().await;
    phone.end().await;
}

/// In a Japanese portal the replies are Japanese.
#[tokio::test]
async fn canned_answers_in_japanese() {
    let world = world(&[], None).await;
    let store = &world.store;
    store
        .put_portal(&salesiq_session::Portal::new("demo", "ja"))
        .await
        .unwrap();
    store
        .put_canned(&CannedAnswer::new(
            "demo",
            None,
            "thanks",
            "{visitor}様、ありがとうございます",
        ))
        .await
        .unwrap();
    let mut desk = world.online(ALICE, "desk").await;
    let mut details = VisitorDetails::default();
    details.name = "佐藤".into();
    let request = ChatRequest::new("demo", details, "質問", None);
    let mut visitor = world.gateway.request_chat(request).await.unwrap();
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    message_saying(&mut desk, "質問").await;
    desk.send(to_ann("y")).await;
    assert!(matches!(
        next_line(&mut visitor).await,
        Some(VisitorEvent::Joined { .. })
    ));
    desk.send(to_ann("#c thanks")).await;
    assert_eq!(
        next_line(&mut visitor).await,
        Some(VisitorEvent::Message {
            from: "Alice".into(),
            text: "佐藤様、ありがとうございます".into()
        })
    );
    assert_eq!(
        body(&message_saying(&mut desk, "送信しました").await),
        "[システム] 送信しました: 佐藤様、ありがとうございます"
    );
    desk.send(to_ann("#c nope")).await;
    assert_eq!(
        body(&message_saying(&mut desk, "nope").await),
        "[システム] 定型文「nope」はありません。使えるキー: thanks"
    );
    // A key in capitals is refused by the parser, with the usage line.
    desk.send(to_ann("#c Thanks")).await;
    let refused = body(&message_saying(&mut desk, "#c").await);
    assert!(refused.starts_with("[システム] "), "{refused}");
    assert!(refused.contains("キーは1〜30文字"), "{refused}");
    desk.end().await;
}
