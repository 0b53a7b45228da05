//! The SQLite store on a real file: everything survives a restart, queries
//! stay inside their portal, and racing username claims have one winner.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use salesiq_session::{
    Author, ChatState, NewOperator, OperatorId, Portal, SqliteStore, Store, StoreAccounts,
    StoreError, VisitorDetails,
};

fn ann() -> VisitorDetails {
    let mut details = VisitorDetails::default();
    details.name = "Ann Lee".into();
    details.email = Some("ann@example.com".into());
    details.ip = Some("203.0.113.7".into());
    details.country = Some("Japan".into());
    details.browser = Some("Firefox 140".into());
    details.os = Some("Linux".into());
    details.first_page = Some("https://demo.example/pricing".into());
    details
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("gateway.sqlite3");
    let (visitor, chat, alice) = {
        let store = SqliteStore::open(&path).unwrap();
        store.put_portal(&Portal::new("Demo", "ja")).await.unwrap();
        store
            .add_department("demo", "VIPサポート", true)
            .await
            .unwrap();
        store.add_department("demo", "Sales", false).await.unwrap();
        let alice = store
            .add_operator(&NewOperator::new("demo", "alice@demo.example", "Alice"))
            .await
            .unwrap();
        store.claim_username(alice.id, "Alice.Ops").await.unwrap();
        let accounts = StoreAccounts::new(Arc::new(store.clone()));
        accounts.set_password(alice.id, "s3cret").await.unwrap();
        let visitor = store.add_visitor("demo", &ann()).await.unwrap();
        let chat = store
            .add_chat("demo", visitor.id, None, "Where is my refund?")
            .await
            .unwrap();
        store
            .set_chat_state(chat.id, ChatState::Active)
            .await
            .unwrap();
        store
            .add_line(chat.id, &Author::Visitor, "Where is my refund?")
            .await
            .unwrap();
        store
            .add_line(chat.id, &Author::Operator("Alice".into()), "Let me check.")
            .await
            .unwrap();
        store
            .add_note(visitor.id, "Alice", "お客様が追加購入を検討しています")
            .await
            .unwrap();
        store
            .block_ip("demo", "198.51.100.9", "spam", "Alice")
            .await
            .unwrap();
        store.post("demo", "Alice", "Standup at 10").await.unwrap();
        store.link_ticket(chat.id, "112").await.unwrap();
        (visitor, chat, alice)
    }; // the store is dropped: the process "restarts"

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.portal("DEMO").await.unwrap().unwrap().locale, "ja");
    let departments: Vec<_> = store
        .departments("demo")
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.convert_to_ticket))
        .collect();
    assert_eq!(
        departments,
        [
            ("Sales".to_owned(), false),
            ("VIPサポート".to_owned(), true)
        ]
    );
    let found = store
        .operator_by_username("ALICE.ops")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.username.as_deref()),
        (alice.id, Some("alice.ops"))
    );
    let credentials = store.credentials(alice.id).await.unwrap().unwrap();
    assert!(credentials.password_hash.starts_with("$argon2id$"));
    assert_eq!(credentials.scram_sha256.stored_key.len(), 32);
    assert_eq!(
        store
            .operator_by_email("demo", "ALICE@demo.example")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert_eq!(
        store
            .visitor("demo", visitor.id)
            .await
            .unwrap()
            .unwrap()
            .details,
        ann()
    );
    let stored = store.chat("demo", chat.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.state, stored.question.as_str()),
        (ChatState::Active, "Where is my refund?")
    );
    let lines: Vec<_> = store
        .transcript(chat.id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.author, l.text))
        .collect();
    assert_eq!(
        lines,
        [
            (Author::Visitor, "Where is my refund?".to_owned()),
            (Author::Operator("Alice".into()), "Let me check.".to_owned())
        ]
    );
    assert_eq!(
        store.history(visitor.id, 1).await.unwrap()[0].text,
        "Let me check."
    );
    assert_eq!(
        store.notes(visitor.id).await.unwrap()[0].text,
        "お客様が追加購入を検討しています"
    );
    assert!(store.is_blocked("demo", "198.51.100.9").await.unwrap());
    assert_eq!(
        store.posts("demo", 10).await.unwrap()[0].text,
        "Standup at 10"
    );
    assert_eq!(
        store.linked_ticket(chat.id).await.unwrap().as_deref(),
        Some("112")
    );
    // Numbers go on where they stopped.
    assert_eq!(store.add_visitor("demo", &ann()).await.unwrap().number, 2);
}

#[tokio::test]
async fn queries_stay_inside_their_portal() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("g.sqlite3")).unwrap();
    let visitor = store.add_visitor("demo", &ann()).await.unwrap();
    let chat = store.add_chat("demo", visitor.id, None, "q").await.unwrap();
    store
        .block_ip("demo", "203.0.113.7", "spam", "Alice")
        .await
        .unwrap();
    store
        .add_operator(&NewOperator::new("demo", "alice@demo.example", "Alice"))
        .await
        .unwrap();
    assert_eq!(store.visitor("acme", visitor.id).await.unwrap(), None);
    assert_eq!(store.chat("acme", chat.id).await.unwrap(), None);
    assert!(!store.is_blocked("acme", "203.0.113.7").await.unwrap());
    assert_eq!(
        store
            .operator_by_email("acme", "alice@demo.example")
            .await
            .unwrap(),
        None
    );
    assert!(store.operators("acme").await.unwrap().is_empty());
    // Visitor numbers count per portal.
    assert_eq!(store.add_visitor("acme", &ann()).await.unwrap().number, 1);
    // The same e-mail may exist in two portals, not twice in one.
    store
        .add_operator(&NewOperator::new("acme", "alice@demo.example", "Alice"))
        .await
        .unwrap();
    let again = store
        .add_operator(&NewOperator::new("demo", "ALICE@demo.example", "Alice 2"))
        .await;
    assert!(matches!(again, Err(StoreError::Duplicate(_))), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("g.sqlite3")).unwrap());
    for round in 0..20 {
        let name = format!("claim.{round:02}");
        let a = store
            .add_operator(&NewOperator::new(
                "demo",
                &format!("a{round}@x.example"),
                "A",
            ))
            .await
            .unwrap();
        let b = store
            .add_operator(&NewOperator::new(
                "acme",
                &format!("b{round}@x.example"),
                "B",
            ))
            .await
            .unwrap();
        assert!(store.username_available(&name).await.unwrap());
        let (first, second) = tokio::join!(
            tokio::spawn({
                let (store, name) = (store.clone(), name.clone());
                async move { store.claim_username(a.id, &name).await }
            }),
            tokio::spawn({
                // The same name in another case: still the same name.
                let (store, name) = (store.clone(), name.to_uppercase());
                async move { store.claim_username(b.id, &name).await }
            }),
        );
        let results = [first.unwrap(), second.unwrap()];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        assert!(
            results.contains(&Err(StoreError::UsernameTaken)),
            "{results:?}"
        );
        assert!(
            !store
                .username_available(&name.to_uppercase())
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn usernames_follow_the_rules_and_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("g.sqlite3")).unwrap();
    let carol = store
        .add_operator(&NewOperator::new("demo", "carol@demo.example", "Carol"))
        .await
        .unwrap();
    for bad in ["carol", "carol smith", "carol@demo", &"c".repeat(31)] {
        let result = store.claim_username(carol.id, bad).await;
        assert!(
            matches!(result, Err(StoreError::InvalidUsername(_))),
            "{bad}: {result:?}"
        );
    }
    let claimed = store.claim_username(carol.id, "carol_smith").await.unwrap();
    assert_eq!(claimed.username.as_deref(), Some("carol_smith"));
    assert_eq!(
        store.claim_username(carol.id, "carol.other").await,
        Err(StoreError::UsernameAlreadySet)
    );
    let nobody = store.claim_username(OperatorId(999), "nobody.here").await;
    assert!(matches!(nobody, Err(StoreError::NotFound(_))), "{nobody:?}");
}

/// Issue 12, finding 1: a chat request is one transaction. With the
/// transcript table gone, `open_chat` fails and leaves no visitor behind
/// (once an orphan visitor, and a used-up number); once it is back the
/// next request gets number 1.
#[tokio::test]
async fn a_failed_chat_request_leaves_no_orphan_visitor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    let store = SqliteStore::open(&path).unwrap();
    store.put_portal(&Portal::new("demo", "en")).await.unwrap();
    let breaker = rusqlite::Connection::open(&path).unwrap();
    breaker
        .execute_batch("ALTER TABLE chat_lines RENAME TO chat_lines_gone;")
        .unwrap();
    let mut details = VisitorDetails::default();
    details.name = "Ann".into();
    assert!(store.open_chat("demo", &details, None, "Hi").await.is_err());
    let orphans: i64 = breaker
        .query_row("SELECT COUNT(*) FROM visitors", [], |row| row.get(0))
        .unwrap();
    assert_eq!(orphans, 0, "no visitor without a chat");
    breaker
        .execute_batch("ALTER TABLE chat_lines_gone RENAME TO chat_lines;")
        .unwrap();
    let (visitor, _) = store.open_chat("demo", &details, None, "Hi").await.unwrap();
    assert_eq!(visitor.number, 1);
}
