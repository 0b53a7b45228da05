//! Capacity and routing (issue 15, item 2) and queue positions (item 3),
//! in-process over a real SQLite file, on tokio's paused clock: an
//! operator at capacity is offered nothing and visitors queue for them;
//! "away" takes no chats; waiting chats are offered oldest first; round
//! robin and least busy offer one operator at a time for the offer
//! timeout, and two misses in a row pause an operator.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesiq_session::{
    Availability, ChatRequest, ContactId, Gateway, NewOperator, OperatorEvent, OperatorRef,
    OperatorSink, Portal, Routing, SqliteStore, Store, VisitorChat, VisitorDetails, VisitorEvent,
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
    /// The texts of the messages `operator` was told since the last call.
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

    /// The visitor numbers `operator` was offered since the last call.
    fn offers(&self, operator: &OperatorRef) -> Vec<i64> {
        self.texts(operator)
            .iter()
            .filter(|t| t.contains("Reply y"))
            .filter_map(|t| {
                t.split("(visitor #")
                    .nth(1)?
                    .split(')')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    }
}

struct World {
    gateway: Gateway,
    store: Arc<SqliteStore>,
    sink: Arc<Recorder>,
    ops: Vec<OperatorRef>,
    _dir: tempfile::TempDir,
}

/// The demo portal with `names` as operators (`<name>.ops`), the
/// portal's default capacity `max`, and a department "Desk" of them all
/// routed by `routing` with `timeout`-second offers.
async fn world(names: &[&str], max: u32, routing: Routing, timeout: u32) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("r.sqlite3")).unwrap());
    store
        .put_portal(&Portal::new("demo", "en").with_max_chats_per_operator(max))
        .await
        .unwrap();
    let desk = store.add_department("demo", "Desk", false).await.unwrap();
    store.set_routing(desk.id, routing, timeout).await.unwrap();
    let mut ops = Vec::new();
    for name in names {
        let operator = store
            .add_operator(&NewOperator::new(
                "demo",
                &format!("{name}@demo.example"),
                name,
            ))
            .await
            .unwrap();
        let username = format!("{name}.ops");
        store.claim_username(operator.id, &username).await.unwrap();
        store.assign_department(operator.id, desk.id).await.unwrap();
        ops.push(OperatorRef::new("demo", &username));
    }
    let sink = Arc::new(Recorder::default());
    let gateway = Gateway::builder(store.clone()).build(sink.clone());
    World {
        gateway,
        store,
        sink,
        ops,
        _dir: dir,
    }
}

impl World {
    async fn visitor(&self, name: &str, department: Option<&str>) -> VisitorChat {
        let mut details = VisitorDetails::default();
        details.name = name.into();
        let request = ChatRequest::new("demo", details, "Help?", department);
        self.gateway.request_chat(request).await.unwrap()
    }

    /// Runs the chat tasks until they are idle (the paused clock does not
    /// move while anything can run).
    async fn settle(&self) {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        // A no-op presence change waits for every waiting chat.
        let nobody = OperatorRef::new("demo", "nobody.here");
        self.gateway
            .set_availability(&nobody, Availability::Unavailable)
            .await;
    }

    async fn says(&self, operator: &OperatorRef, visitor: i64, text: &str) {
        self.gateway
            .operator_says(operator, &ContactId::visitor("demo", visitor), text)
            .await
            .unwrap();
    }
}

/// The visitor's queue positions told so far.
fn positions(visitor: &mut VisitorChat) -> Vec<usize> {
    let mut found = Vec::new();
    while let Some(event) = visitor.try_next_event() {
        if let VisitorEvent::Queued { position } = event {
            found.push(position);
        }
    }
    found
}

#[tokio::test(start_paused = true)]
async fn capacity_away_and_first_come_first_served() {
    let w = world(&["ann", "bob"], 1, Routing::Broadcast, 30).await;
    let (ann, bob) = (&w.ops[0], &w.ops[1]);
    w.gateway.set_available(ann, true).await;
    // Bob is away: present (colleagues see him) but taking no chats.
    w.gateway
        .set_availability(bob, Availability::NotTaking)
        .await;
    assert!(w.gateway.is_available(bob) && !w.gateway.is_taking_chats(bob));

    let mut first = w.visitor("First", None).await;
    w.settle().await;
    assert_eq!(w.sink.offers(ann), [1]);
    assert_eq!(w.sink.offers(bob), Vec::<i64>::new(), "away takes none");
    assert_eq!(positions(&mut first), [1]);
    w.says(ann, 1, "y").await;

    // Ann is at capacity (one chat): the next two queue, in order.
    let mut second = w.visitor("Second", None).await;
    let mut third = w.visitor("Third", None).await;
    w.settle().await;
    assert_eq!(w.sink.offers(ann), Vec::<i64>::new(), "no room");
    assert_eq!(w.gateway.chats_of(ann), 1);
    assert_eq!(positions(&mut second), [1]);
    assert_eq!(positions(&mut third), [2]);

    // Bob takes chats again: room for one, the older request.
    w.gateway.set_availability(bob, Availability::Taking).await;
    w.settle().await;
    assert_eq!(w.sink.offers(bob), [2], "the oldest first");
    w.says(bob, 2, "y").await;
    w.settle().await;
    assert_eq!(positions(&mut third), [1], "the third is next now");
    assert_eq!(w.sink.offers(bob), Vec::<i64>::new(), "Bob is full");

    // Ann's chat ends: her room goes to the third.
    w.says(ann, 1, "#e").await;
    w.settle().await;
    assert_eq!(w.sink.offers(ann), [3]);
    // An operator's own limit beats the portal's: Bob takes two.
    let bob_row = w
        .store
        .operator_by_username("bob.ops")
        .await
        .unwrap()
        .unwrap();
    w.store.set_max_chats(bob_row.id, Some(2)).await.unwrap();
    tokio::time::advance(salesiq_session::CAPACITY_REFRESH).await;
    let mut fourth = w.visitor("Fourth", None).await;
    w.settle().await;
    // Room for one more: the older request, which Ann is offered too;
    // an open offer takes room, so the fourth waits.
    assert_eq!(w.sink.offers(bob), [3], "room for two now");
    assert_eq!(positions(&mut fourth), [2]);
    w.says(bob, 3, "y").await;
    w.settle().await;
    assert_eq!(w.sink.offers(ann), [4], "Ann's room is free again");
    assert_eq!(positions(&mut fourth), [1]);
    assert_eq!(w.gateway.chats_of(bob), 2);
}

#[tokio::test(start_paused = true)]
async fn round_robin_passes_on_after_the_timeout_and_two_misses_pause() {
    let w = world(&["ann", "bob", "cat"], 5, Routing::RoundRobin, 30).await;
    let (ann, bob, cat) = (&w.ops[0], &w.ops[1], &w.ops[2]);
    for op in [ann, bob, cat] {
        w.gateway.set_available(op, true).await;
    }
    let _first = w.visitor("First", Some("Desk")).await;
    w.settle().await;
    assert_eq!(w.sink.offers(ann), [1], "one at a time, in turn");
    assert!(w.sink.offers(bob).is_empty() && w.sink.offers(cat).is_empty());

    // Ann lets it pass: after 30 seconds Bob has it.
    tokio::time::advance(Duration::from_secs(29)).await;
    w.settle().await;
    assert!(w.sink.offers(bob).is_empty(), "not before the timeout");
    tokio::time::advance(Duration::from_secs(2)).await;
    w.settle().await;
    let told = w.sink.texts(ann);
    assert!(
        told.iter().any(|t| t.contains("did not answer in time")),
        "{told:?}"
    );
    assert_eq!(w.sink.offers(bob), [1]);
    w.says(bob, 1, "y").await;

    // The next request goes to Cat, then round to Ann, who misses again.
    let _second = w.visitor("Second", Some("Desk")).await;
    w.settle().await;
    assert_eq!(w.sink.offers(cat), [2]);
    w.says(cat, 2, "y").await;
    let _third = w.visitor("Third", Some("Desk")).await;
    w.settle().await;
    assert_eq!(w.sink.offers(ann), [3]);
    tokio::time::advance(Duration::from_secs(31)).await;
    w.settle().await;
    let told = w.sink.texts(ann).join("\n");
    assert!(told.contains("not taking chats now"), "{told}");
    assert!(!w.gateway.is_taking_chats(ann) && w.gateway.is_available(ann));
    assert_eq!(w.sink.offers(bob), [3], "the next in turn after Ann");
    w.says(bob, 3, "y").await;

    // Paused, Ann is offered nothing until she says she takes chats.
    let _fourth = w.visitor("Fourth", Some("Desk")).await;
    w.settle().await;
    assert!(w.sink.offers(ann).is_empty());
    assert_eq!(w.sink.offers(cat), [4]);
    w.gateway.set_availability(ann, Availability::Taking).await;
    assert!(w.gateway.is_taking_chats(ann));
}

#[tokio::test(start_paused = true)]
async fn least_busy_offers_the_operator_with_the_fewest_chats() {
    let w = world(&["ann", "bob"], 5, Routing::LeastBusy, 30).await;
    let (ann, bob) = (&w.ops[0], &w.ops[1]);
    for op in [ann, bob] {
        w.gateway.set_available(op, true).await;
    }
    let _first = w.visitor("First", Some("Desk")).await;
    w.settle().await;
    let (to_ann, to_bob) = (w.sink.offers(ann), w.sink.offers(bob));
    let (busy, idle) = if to_ann == [1] {
        (ann, bob)
    } else {
        assert_eq!(to_bob, [1]);
        (bob, ann)
    };
    w.says(busy, 1, "y").await;
    // The one with no chat is offered the next.
    let _second = w.visitor("Second", Some("Desk")).await;
    w.settle().await;
    assert_eq!(w.sink.offers(idle), [2]);
    assert!(w.sink.offers(busy).is_empty());
    w.says(idle, 2, "y").await;
    // One chat each: the one offered a chat longest ago.
    let _third = w.visitor("Third", Some("Desk")).await;
    w.settle().await;
    assert_eq!(w.sink.offers(busy), [3]);
    assert!(w.sink.offers(idle).is_empty());
    w.says(busy, 3, "y").await;
    // Two against one: the one with one.
    let _fourth = w.visitor("Fourth", Some("Desk")).await;
    w.settle().await;
    assert_eq!(w.sink.offers(idle), [4]);
    // Answering `n` is an answer, not a miss: the request goes on to the
    // other at once, and nobody is paused.
    w.says(idle, 4, "n").await;
    w.settle().await;
    assert_eq!(w.sink.offers(busy), [4]);
    assert!(w.gateway.is_taking_chats(idle));
}

/// The notices of round robin routing in a Japanese portal.
#[tokio::test(start_paused = true)]
async fn a_japanese_portal_hears_the_routing_notices_in_japanese() {
    let w = world(&["ann", "bob"], 5, Routing::RoundRobin, 30).await;
    let (ann, bob) = (&w.ops[0], &w.ops[1]);
    let japanese = Portal::new("demo", "ja").with_max_chats_per_operator(5);
    w.store.put_portal(&japanese).await.unwrap();
    for op in [ann, bob] {
        w.gateway.set_available(op, true).await;
    }
    for visitor in [1, 2] {
        let _chat = w.visitor("Kim", Some("Desk")).await;
        w.settle().await;
        tokio::time::advance(Duration::from_secs(31)).await;
        w.settle().await;
        w.says(bob, visitor, "y").await;
    }
    let told = w.sink.texts(ann).join("\n");
    assert!(
        told.contains(
            "[システム] 時間内に応答がなかったため、リクエストは次の担当者に回されました"
        ),
        "{told}"
    );
    assert!(told.contains("チャットの受付を停止しました"), "{told}");
    assert!(!w.gateway.is_taking_chats(ann));
}
