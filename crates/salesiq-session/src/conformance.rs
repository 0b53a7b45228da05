//! What every [`Store`] must do, as a suite any implementation can run
//! (feature `conformance`): [`run`] exercises every method on a fresh,
//! empty store and panics, saying which rule broke, at the first
//! difference. `SqliteStore` passes it in this crate's tests, and so must
//! an embedder's store:
//!
//! ```ignore
//! #[tokio::test]
//! async fn my_store_conforms() {
//!     salesiq_session::conformance::run(&MyStore::connect_to_an_empty_database().await).await;
//! }
//! ```
//!
//! The rules beyond each method's documentation:
//! * everything a portal owns is found through that portal only (a
//!   visitor, a chat of one portal is `None` from another);
//! * portal names, e-mail addresses and usernames compare
//!   case-insensitively; usernames are kept lower case, are unique across
//!   portals, follow the username rule (`salesiq_jid::Username`), and of
//!   two racing claims exactly one wins;
//! * visitor numbers count per portal from 1;
//! * lists come in the documented order (departments and operators by
//!   name, transcripts, notes, history and posts oldest first);
//! * a live chat's owner is kept by its first save only and moves by
//!   claim alone, a compare-and-set of which, racing, exactly one wins;
//! * canned answers are one per portal, department (or none) and
//!   lower-case key; a chat's department sees the portal-wide ones merged
//!   with its own, its own winning, by key;
//! * a portal's chats per operator default to five, an operator's own
//!   limit to none, a department's routing to broadcast with 30-second
//!   offers; each is kept as set, and setting it for a row the store
//!   lacks is `NotFound`;
//! * a department's hours and time zone are kept as set, and cleared;
//!   messages left and missed chats come back newest first, per portal;
//! * an operator's archive is theirs alone, read by id oldest first, in
//!   pages both ways, filtered by contact and time, pruned per portal.

use std::collections::HashSet;

use crate::archive::{ArchiveQuery, ArchivedMessage};
use crate::auth::{Photo, ScramCredentials, ScramHash};
use crate::contact::{ContactId, OperatorRef};
use crate::gateway::VisitorEvent;
use crate::model::{
    Author, CannedAnswer, ChatEvent, ChatId, ChatState, DEFAULT_MAX_CHATS,
    DEFAULT_OFFER_TIMEOUT_SECS, DepartmentId, LiveChat, NewOperator, OfflineMessage, OperatorId,
    Portal, Routing, VisitorDetails,
};
use crate::store::{Credentials, MAX_CHAT_EVENTS, MAX_OFFLINE, Store, StoreError};

/// Runs the whole suite on `store`, which must be empty.
pub async fn run(store: &dyn Store) {
    portals(store).await;
    operators_and_usernames(store).await;
    visitors_and_chats(store).await;
    notes_blocks_board_and_tickets(store).await;
    canned_answers(store).await;
    capacity_and_routing(store).await;
    hours_and_left_messages(store).await;
    offline_messages(store).await;
    live_chats(store).await;
    live_chat_owners(store).await;
    archive(store).await;
}

fn visitor(name: &str) -> VisitorDetails {
    VisitorDetails {
        name: name.to_owned(),
        email: Some(format!("{}@visitor.example", name.to_lowercase())),
        ip: Some("203.0.113.7".to_owned()),
        ..VisitorDetails::default()
    }
}

async fn portals(store: &dyn Store) {
    store
        .put_portal(&Portal::new("Conf-A", "en"))
        .await
        .expect("put_portal");
    let found = store.portal("conf-a").await.expect("portal");
    assert_eq!(
        found,
        Some(Portal::new("conf-a", "en")),
        "a portal is found by its lower-case name"
    );
    store
        .put_portal(&Portal::new("conf-a", "ja"))
        .await
        .expect("put_portal again");
    let found = store.portal("conf-a").await.expect("portal");
    assert_eq!(
        found.map(|p| p.locale).as_deref(),
        Some("ja"),
        "put_portal updates"
    );
    store
        .put_portal(&Portal::new("conf-a", "ja").with_archive_days(30))
        .await
        .expect("put_portal with archive days");
    assert_eq!(
        store
            .portal("conf-a")
            .await
            .expect("portal")
            .map(|p| p.archive_days),
        Some(30),
        "a portal keeps its archive retention"
    );
    assert_eq!(
        store
            .portal("conf-a")
            .await
            .expect("portal")
            .map(|p| p.notify),
        Some(Vec::new()),
        "a portal tells nobody by default"
    );
    let notify = [
        "ops@conf.example",
        "Sales Team <sales@conf.example>",
        "\"Lee, Ann\" <ann@conf.example>",
        "サポート <support@conf.example>",
    ];
    store
        .put_portal(
            &Portal::new("conf-a", "ja")
                .with_archive_days(30)
                .with_notify(notify),
        )
        .await
        .expect("put_portal with notify");
    let found = store
        .portal("conf-a")
        .await
        .expect("portal")
        .expect("found");
    assert_eq!(
        found.notify, notify,
        "a portal keeps its notify addresses, in order"
    );
    assert_eq!(
        (found.locale.as_str(), found.archive_days),
        ("ja", 30),
        "and the rest"
    );
    store
        .put_portal(&found.clone().with_notify(["ops@conf.example"]))
        .await
        .expect("put_portal with fewer");
    assert_eq!(
        store
            .portal("conf-a")
            .await
            .expect("portal")
            .map(|p| p.notify),
        Some(vec!["ops@conf.example".to_owned()]),
        "put_portal replaces the addresses"
    );
    store
        .put_portal(&found.with_notify(Vec::<String>::new()))
        .await
        .expect("put_portal with none");
    assert_eq!(
        store
            .portal("conf-a")
            .await
            .expect("portal")
            .map(|p| p.notify),
        Some(Vec::new()),
        "and clears them"
    );
    assert_eq!(
        store.portal("conf-none").await.expect("portal"),
        None,
        "no such portal"
    );
    store
        .put_portal(&Portal::new("conf-b", "en"))
        .await
        .expect("put_portal");

    let sales = store
        .add_department("conf-a", "Sales", false)
        .await
        .expect("add_department");
    let vip = store
        .add_department("conf-a", "VIPサポート", true)
        .await
        .expect("add_department");
    assert!(sales.id != vip.id, "departments have their own ids");
    assert_eq!(
        (
            vip.portal.as_str(),
            vip.name.as_str(),
            vip.convert_to_ticket
        ),
        ("conf-a", "VIPサポート", true)
    );
    let listed = store.departments("conf-a").await.expect("departments");
    let names: Vec<&str> = listed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["Sales", "VIPサポート"], "departments by name");
    assert!(
        matches!(
            store.add_department("conf-a", "Sales", true).await,
            Err(StoreError::Duplicate(_))
        ),
        "a department name is unique in its portal"
    );
    assert!(
        store
            .departments("conf-b")
            .await
            .expect("departments")
            .is_empty(),
        "departments belong to one portal"
    );
    store
        .add_department("conf-b", "Sales", false)
        .await
        .expect("the same name in another portal");
}

async fn operators_and_usernames(store: &dyn Store) {
    let alice = store
        .add_operator(&NewOperator::new("conf-a", "alice@conf.example", "Alice"))
        .await
        .expect("add_operator");
    assert_eq!(
        (alice.username.as_deref(), alice.photo.as_ref()),
        (None, None),
        "a new operator has no username"
    );
    let bob = store
        .add_operator(&NewOperator::new("conf-a", "bob@conf.example", "Bob"))
        .await
        .expect("add_operator");
    assert!(
        matches!(
            store
                .add_operator(&NewOperator::new("conf-a", "ALICE@conf.example", "Alice 2"))
                .await,
            Err(StoreError::Duplicate(_))
        ),
        "an e-mail address is unique in its portal, whatever its case"
    );
    let other = store
        .add_operator(&NewOperator::new("conf-b", "alice@conf.example", "Alice B"))
        .await
        .expect("the same address in another portal");
    let found = store
        .operator_by_email("conf-a", "Alice@Conf.Example")
        .await
        .expect("operator_by_email");
    assert_eq!(
        found.map(|o| o.id),
        Some(alice.id),
        "e-mail addresses compare case-insensitively"
    );
    assert_eq!(
        store
            .operator_by_email("conf-a", "nobody@conf.example")
            .await
            .expect("by email"),
        None
    );
    let names: Vec<String> = store
        .operators("conf-a")
        .await
        .expect("operators")
        .into_iter()
        .map(|o| o.display_name)
        .collect();
    assert_eq!(names, ["Alice", "Bob"], "operators by name, of one portal");

    assert!(
        store
            .username_available("alice.conf")
            .await
            .expect("username_available")
    );
    let claimed = store
        .claim_username(alice.id, "Alice.Conf")
        .await
        .expect("claim_username");
    assert_eq!(
        claimed.username.as_deref(),
        Some("alice.conf"),
        "usernames are kept lower case"
    );
    assert!(
        !store
            .username_available("ALICE.CONF")
            .await
            .expect("username_available"),
        "taken, in any case"
    );
    assert_eq!(
        store
            .claim_username(bob.id, "alice.conf")
            .await
            .map(|o| o.id),
        Err(StoreError::UsernameTaken)
    );
    assert_eq!(
        store
            .claim_username(other.id, "ALICE.conf")
            .await
            .map(|o| o.id),
        Err(StoreError::UsernameTaken),
        "usernames are unique across portals"
    );
    assert_eq!(
        store
            .claim_username(alice.id, "alice.again")
            .await
            .map(|o| o.id),
        Err(StoreError::UsernameAlreadySet)
    );
    for bad in ["ab", "has space", "dash-name", "x".repeat(31).as_str()] {
        assert!(
            matches!(
                store.claim_username(bob.id, bad).await,
                Err(StoreError::InvalidUsername(_))
            ),
            "{bad:?} breaks the username rule"
        );
    }
    let found = store
        .operator_by_username("ALICE.conf")
        .await
        .expect("operator_by_username");
    assert_eq!(
        found.map(|o| (o.id, o.portal)),
        Some((alice.id, "conf-a".to_owned()))
    );
    assert_eq!(
        store
            .operator_by_username("nobody.here")
            .await
            .expect("by username"),
        None
    );

    // Two claims of one name at once: exactly one wins.
    let carol = store
        .add_operator(&NewOperator::new("conf-a", "carol@conf.example", "Carol"))
        .await
        .expect("add");
    let (one, two) = tokio::join!(
        store.claim_username(bob.id, "race.name"),
        store.claim_username(carol.id, "race.name")
    );
    assert_eq!(
        [one.is_ok(), two.is_ok()]
            .iter()
            .filter(|won| **won)
            .count(),
        1,
        "of two racing claims exactly one wins: {one:?} {two:?}"
    );

    let sales = store
        .departments("conf-a")
        .await
        .expect("departments")
        .into_iter()
        .find(|d| d.name == "Sales")
        .expect("Sales");
    store
        .assign_department(alice.id, sales.id)
        .await
        .expect("assign_department");
    store
        .assign_department(alice.id, sales.id)
        .await
        .expect("assign_department is idempotent");
    let members: Vec<_> = store
        .department_members(sales.id)
        .await
        .expect("department_members")
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(members, [alice.id]);

    let photo = Photo::new("image/png", vec![0x89, b'P', b'N', b'G']);
    store
        .set_photo(alice.id, Some(&photo))
        .await
        .expect("set_photo");
    let found = store
        .operator_by_email("conf-a", "alice@conf.example")
        .await
        .expect("by email");
    assert_eq!(
        found.and_then(|o| o.photo),
        Some(photo),
        "the photo is kept"
    );
    store
        .set_photo(alice.id, None)
        .await
        .expect("set_photo None");
    let found = store
        .operator_by_email("conf-a", "alice@conf.example")
        .await
        .expect("by email");
    assert_eq!(found.and_then(|o| o.photo), None, "and removed");

    assert_eq!(
        store.credentials(alice.id).await.expect("credentials"),
        None,
        "no password set yet"
    );
    let scram = |hash| ScramCredentials::derive(hash, "pw", b"salt-salt-salt!!", 4096);
    let credentials = Credentials::new(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        scram(ScramHash::Sha1),
        scram(ScramHash::Sha256),
    );
    store
        .set_credentials(alice.id, &credentials)
        .await
        .expect("set_credentials");
    assert_eq!(
        store.credentials(alice.id).await.expect("credentials"),
        Some(credentials),
        "credentials come back as set"
    );
}

async fn visitors_and_chats(store: &dyn Store) {
    let ann = store
        .add_visitor("conf-a", &visitor("Ann"))
        .await
        .expect("add_visitor");
    let ben = store
        .add_visitor("conf-a", &visitor("Ben"))
        .await
        .expect("add_visitor");
    let cat = store
        .add_visitor("conf-b", &visitor("Cat"))
        .await
        .expect("add_visitor");
    assert_eq!(
        (ann.number, ben.number, cat.number),
        (1, 2, 1),
        "visitor numbers count per portal from 1"
    );
    assert_eq!(ann.details, visitor("Ann"));
    let found = store.visitor("conf-a", ann.id).await.expect("visitor");
    assert_eq!(
        found.as_ref().map(|v| (&v.portal, v.number)),
        Some((&"conf-a".to_owned(), 1))
    );
    assert_eq!(
        store.visitor("conf-b", ann.id).await.expect("visitor"),
        None,
        "a visitor is found in its portal only"
    );
    store
        .set_current_page(ann.id, "https://shop.example/cart")
        .await
        .expect("set_current_page");
    let found = store.visitor("conf-a", ann.id).await.expect("visitor");
    assert_eq!(
        found.and_then(|v| v.details.current_page).as_deref(),
        Some("https://shop.example/cart")
    );

    let sales = store
        .departments("conf-a")
        .await
        .expect("departments")
        .into_iter()
        .next()
        .map(|d| d.id);
    let first = store
        .add_chat("conf-a", ann.id, sales, "Where is my order?")
        .await
        .expect("add_chat");
    assert_eq!(
        (first.state, first.question.as_str(), first.department),
        (ChatState::Waiting, "Where is my order?", sales)
    );
    assert_eq!(
        store
            .chat("conf-a", first.id)
            .await
            .expect("chat")
            .map(|c| c.visitor),
        Some(ann.id)
    );
    assert_eq!(
        store.chat("conf-b", first.id).await.expect("chat"),
        None,
        "a chat is found in its portal only"
    );
    let unfinished: HashSet<_> = store
        .unfinished_chats()
        .await
        .expect("unfinished_chats")
        .into_iter()
        .collect();
    assert!(
        unfinished.contains(&first.id),
        "a waiting chat is unfinished"
    );
    store
        .set_chat_state(first.id, ChatState::Active)
        .await
        .expect("set_chat_state");
    assert_eq!(
        store
            .chat("conf-a", first.id)
            .await
            .expect("chat")
            .map(|c| c.state),
        Some(ChatState::Active)
    );
    assert!(
        store
            .unfinished_chats()
            .await
            .expect("unfinished")
            .contains(&first.id),
        "an active chat is unfinished"
    );

    store
        .add_line(first.id, &Author::Visitor, "Where is my order?")
        .await
        .expect("add_line");
    store
        .add_line(first.id, &Author::Operator("Alice".into()), "Let me look")
        .await
        .expect("add_line");
    store
        .add_line(first.id, &Author::System, "Chat ended")
        .await
        .expect("add_line");
    store
        .set_chat_state(first.id, ChatState::Ended)
        .await
        .expect("set_chat_state");
    assert!(
        !store
            .unfinished_chats()
            .await
            .expect("unfinished")
            .contains(&first.id),
        "an ended chat is finished"
    );
    let lines = store.transcript(first.id).await.expect("transcript");
    let said: Vec<(&Author, &str)> = lines.iter().map(|l| (&l.author, l.text.as_str())).collect();
    assert_eq!(
        said,
        [
            (&Author::Visitor, "Where is my order?"),
            (&Author::Operator("Alice".into()), "Let me look"),
            (&Author::System, "Chat ended")
        ],
        "a transcript, oldest first"
    );
    assert!(lines.iter().all(|l| l.chat == first.id));
    assert!(
        lines.windows(2).all(|w| w[0].at <= w[1].at),
        "lines in time order"
    );

    let second = store
        .add_chat("conf-a", ann.id, None, "Again")
        .await
        .expect("add_chat");
    store
        .add_line(second.id, &Author::Visitor, "Again")
        .await
        .expect("add_line");
    let history: Vec<String> = store
        .history(ann.id, 2)
        .await
        .expect("history")
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert_eq!(
        history,
        ["Chat ended", "Again"],
        "the latest lines of all the visitor's chats, oldest first"
    );
    assert!(store.history(ben.id, 10).await.expect("history").is_empty());

    let (eve, chat) = store
        .open_chat("conf-b", &visitor("Eve"), None, "Hi there")
        .await
        .expect("open_chat");
    assert_eq!(
        eve.number, 2,
        "open_chat numbers its visitor as add_visitor does"
    );
    assert_eq!(
        (chat.visitor, chat.state, chat.portal.as_str()),
        (eve.id, ChatState::Waiting, "conf-b")
    );
    let lines = store.transcript(chat.id).await.expect("transcript");
    let said: Vec<(&Author, &str)> = lines.iter().map(|l| (&l.author, l.text.as_str())).collect();
    assert_eq!(
        said,
        [(&Author::Visitor, "Hi there")],
        "open_chat stores the question as the first line"
    );
    assert!(
        store
            .unfinished_chats()
            .await
            .expect("unfinished")
            .contains(&chat.id)
    );

    // Visitors arriving at once get distinct numbers, none skipped.
    let (f, g, h, i) = (visitor("F"), visitor("G"), visitor("H"), visitor("I"));
    let (a, b, c, d) = tokio::join!(
        store.add_visitor("conf-b", &f),
        store.add_visitor("conf-b", &g),
        store.open_chat("conf-b", &h, None, "?"),
        store.add_visitor("conf-b", &i),
    );
    let mut numbers = vec![
        a.expect("add_visitor").number,
        b.expect("add_visitor").number,
        c.expect("open_chat").0.number,
        d.expect("add_visitor").number,
    ];
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        [3, 4, 5, 6],
        "numbers of visitors arriving at once"
    );
}

async fn notes_blocks_board_and_tickets(store: &dyn Store) {
    let dan = store
        .add_visitor("conf-a", &visitor("Dan"))
        .await
        .expect("add_visitor");
    store
        .add_note(dan.id, "Alice", "called back")
        .await
        .expect("add_note");
    store
        .add_note(dan.id, "Bob", "wants a refund")
        .await
        .expect("add_note");
    let notes: Vec<(String, String)> = store
        .notes(dan.id)
        .await
        .expect("notes")
        .into_iter()
        .map(|n| (n.author, n.text))
        .collect();
    assert_eq!(
        notes,
        [
            ("Alice".to_owned(), "called back".to_owned()),
            ("Bob".to_owned(), "wants a refund".to_owned())
        ],
        "notes, oldest first"
    );

    assert!(
        !store
            .is_blocked("conf-a", "198.51.100.9")
            .await
            .expect("is_blocked")
    );
    store
        .block_ip("conf-a", "198.51.100.9", "spam", "Alice")
        .await
        .expect("block_ip");
    assert!(
        store
            .is_blocked("conf-a", "198.51.100.9")
            .await
            .expect("is_blocked")
    );
    assert!(
        !store
            .is_blocked("conf-b", "198.51.100.9")
            .await
            .expect("is_blocked"),
        "a block is one portal's"
    );
    store
        .block_ip("conf-a", "198.51.100.9", "again", "Bob")
        .await
        .expect("blocking twice is fine");

    for text in ["one", "two", "three"] {
        store.post("conf-a", "Alice", text).await.expect("post");
    }
    let posts: Vec<String> = store
        .posts("conf-a", 2)
        .await
        .expect("posts")
        .into_iter()
        .map(|p| p.text)
        .collect();
    assert_eq!(posts, ["two", "three"], "the latest posts, oldest first");
    assert!(
        store.posts("conf-b", 10).await.expect("posts").is_empty(),
        "a board is one portal's"
    );

    let chat = store
        .add_chat("conf-a", dan.id, None, "Ticket?")
        .await
        .expect("add_chat");
    assert_eq!(
        store.linked_ticket(chat.id).await.expect("linked_ticket"),
        None
    );
    store
        .link_ticket(chat.id, "T-1")
        .await
        .expect("link_ticket");
    store
        .link_ticket(chat.id, "T-2")
        .await
        .expect("link_ticket");
    assert_eq!(
        store
            .linked_ticket(chat.id)
            .await
            .expect("linked_ticket")
            .as_deref(),
        Some("T-2"),
        "a new link replaces the old"
    );
}

async fn canned_answers(store: &dyn Store) {
    for name in ["conf-can", "conf-can-b"] {
        store
            .put_portal(&Portal::new(name, "en"))
            .await
            .expect("put_portal");
    }
    let billing = store
        .add_department("conf-can", "Billing", false)
        .await
        .expect("add_department")
        .id;
    let support = store
        .add_department("conf-can", "Support", false)
        .await
        .expect("add_department")
        .id;
    let canned = |portal: &'static str, department| async move {
        store
            .canned(portal, department)
            .await
            .expect("canned")
            .into_iter()
            .map(|a| (a.department, a.key, a.text))
            .collect::<Vec<_>>()
    };
    let answer = |department, key: &str, text: &str| (department, key.to_owned(), text.to_owned());
    assert!(
        canned("conf-can", None).await.is_empty(),
        "no canned answers yet"
    );

    let hello = CannedAnswer::new("Conf-Can", None, "Hello", "Hello! How can I help?");
    assert_eq!(
        (hello.portal.as_str(), hello.key.as_str()),
        ("conf-can", "hello"),
        "CannedAnswer::new lowercases the portal and the key"
    );
    store.put_canned(&hello).await.expect("put_canned");
    assert_eq!(
        store.canned("conf-can", None).await.expect("canned"),
        vec![CannedAnswer::new(
            "conf-can",
            None,
            "hello",
            "Hello! How can I help?"
        )],
        "put_canned, then canned, gives the answer back"
    );
    let mut upper = CannedAnswer::new("conf-can", None, "", "Hi there!");
    upper.key = "HELLO".to_owned();
    store.put_canned(&upper).await.expect("put_canned");
    assert_eq!(
        canned("CONF-CAN", None).await,
        [answer(None, "hello", "Hi there!")],
        "a portal-wide answer replaces the one with its key, whatever the case \
         (two with no department are one key, not two)"
    );
    let two_lines = "Goodbye!\nThank you for chatting with us.";
    for (key, text) in [("refund", "Refunds take 5 days."), ("bye", two_lines)] {
        store
            .put_canned(&CannedAnswer::new("conf-can", None, key, text))
            .await
            .expect("put_canned");
    }
    for (key, text) in [
        ("refund", "Billing: refunds go out on Fridays."),
        ("invoice", "Invoices are monthly."),
    ] {
        store
            .put_canned(&CannedAnswer::new("conf-can", Some(billing), key, text))
            .await
            .expect("put_canned of a department");
    }
    store
        .put_canned(&CannedAnswer::new(
            "conf-can",
            Some(billing),
            "Refund",
            "Billing refunds: 3 days.",
        ))
        .await
        .expect("put_canned again");
    let wide = [
        answer(None, "bye", two_lines),
        answer(None, "hello", "Hi there!"),
        answer(None, "refund", "Refunds take 5 days."),
    ];
    assert_eq!(
        canned("conf-can", Some(billing)).await,
        [
            answer(None, "bye", two_lines),
            answer(None, "hello", "Hi there!"),
            answer(Some(billing), "invoice", "Invoices are monthly."),
            answer(Some(billing), "refund", "Billing refunds: 3 days."),
        ],
        "a department sees the portal-wide answers and its own, its own \
         replacing one with the same key, by key, text as given"
    );
    assert_eq!(
        canned("conf-can", Some(support)).await,
        wide,
        "another department sees the portal-wide answers only"
    );
    assert_eq!(
        canned("conf-can", None).await,
        wide,
        "no department: the portal-wide answers only"
    );

    assert!(
        canned("conf-can-b", None).await.is_empty()
            && canned("conf-can-b", Some(billing)).await.is_empty(),
        "canned answers are one portal's"
    );
    store
        .put_canned(&CannedAnswer::new(
            "conf-can-b",
            None,
            "hello",
            "Hello from B",
        ))
        .await
        .expect("put_canned in another portal");
    assert_eq!(
        canned("conf-can-b", None).await,
        [answer(None, "hello", "Hello from B")],
        "the same key in another portal is another answer"
    );
    assert_eq!(
        canned("conf-can", None).await,
        wide,
        "which leaves this portal's alone"
    );

    assert!(
        !store
            .delete_canned("conf-can-b", None, "bye")
            .await
            .expect("delete_canned"),
        "delete_canned finds another portal's answer not"
    );
    assert!(
        !store
            .delete_canned("conf-can", Some(support), "refund")
            .await
            .expect("delete_canned"),
        "nor another department's"
    );
    assert!(
        store
            .delete_canned("conf-can", Some(billing), "REFUND")
            .await
            .expect("delete_canned"),
        "delete_canned forgets an answer, the key in any case"
    );
    assert!(
        !store
            .delete_canned("conf-can", Some(billing), "refund")
            .await
            .expect("delete_canned"),
        "an answer forgotten is not there to forget"
    );
    assert_eq!(
        canned("conf-can", Some(billing)).await,
        [
            answer(None, "bye", two_lines),
            answer(None, "hello", "Hi there!"),
            answer(Some(billing), "invoice", "Invoices are monthly."),
            answer(None, "refund", "Refunds take 5 days."),
        ],
        "with the department's answer gone, the portal-wide one shows again"
    );
    assert!(
        store
            .delete_canned("Conf-Can", None, "hello")
            .await
            .expect("delete_canned"),
        "a portal-wide answer is forgotten with department None"
    );
    assert_eq!(
        canned("conf-can", None).await,
        [
            answer(None, "bye", two_lines),
            answer(None, "refund", "Refunds take 5 days.")
        ]
    );
    assert_eq!(
        canned("conf-can-b", None).await,
        [answer(None, "hello", "Hello from B")],
        "the other portal's answer of that key stays"
    );
}

async fn capacity_and_routing(store: &dyn Store) {
    let name = "conf-route";
    store
        .put_portal(&Portal::new(name, "en"))
        .await
        .expect("put_portal");
    let found = store.portal(name).await.expect("portal").expect("found");
    assert_eq!(
        found.max_chats_per_operator, DEFAULT_MAX_CHATS,
        "an operator takes five chats at once by default"
    );
    store
        .put_portal(&Portal::new(name, "en").with_max_chats_per_operator(2))
        .await
        .expect("put_portal with max chats");
    let found = store.portal(name).await.expect("portal").expect("found");
    assert_eq!(
        found.max_chats_per_operator, 2,
        "a portal keeps its default"
    );

    let desk = store
        .add_department(name, "Desk", false)
        .await
        .expect("add_department");
    assert_eq!(
        (desk.routing, desk.offer_timeout_secs),
        (Routing::Broadcast, DEFAULT_OFFER_TIMEOUT_SECS),
        "a new department broadcasts, with 30-second offers"
    );
    store
        .set_routing(desk.id, Routing::LeastBusy, 12)
        .await
        .expect("set_routing");
    let desk_now = |departments: Vec<crate::model::Department>| {
        departments
            .into_iter()
            .find(|d| d.id == desk.id)
            .map(|d| (d.routing, d.offer_timeout_secs))
    };
    assert_eq!(
        desk_now(store.departments(name).await.expect("departments")),
        Some((Routing::LeastBusy, 12)),
        "a department keeps its routing"
    );
    store
        .set_routing(desk.id, Routing::RoundRobin, 30)
        .await
        .expect("set_routing again");
    assert_eq!(
        desk_now(store.departments(name).await.expect("departments")),
        Some((Routing::RoundRobin, 30)),
        "routing changes"
    );
    assert!(
        matches!(
            store
                .set_routing(DepartmentId(i64::MAX), Routing::RoundRobin, 30)
                .await,
            Err(StoreError::NotFound(_))
        ),
        "no such department"
    );

    let carol = store
        .add_operator(&NewOperator::new(name, "carol@conf.example", "Carol"))
        .await
        .expect("add_operator");
    assert_eq!(
        carol.max_chats, None,
        "a new operator has the portal's default"
    );
    store
        .assign_department(carol.id, desk.id)
        .await
        .expect("assign");
    store
        .set_max_chats(carol.id, Some(7))
        .await
        .expect("set_max_chats");
    let max_of = |found: Option<crate::model::Operator>| found.and_then(|o| o.max_chats);
    assert_eq!(
        max_of(
            store
                .operator_by_email(name, "carol@conf.example")
                .await
                .expect("by email")
        ),
        Some(7),
        "an operator keeps their own limit"
    );
    let claimed = store
        .claim_username(carol.id, "carol_route")
        .await
        .expect("claim");
    assert_eq!(claimed.max_chats, Some(7), "a claim returns the whole row");
    assert_eq!(
        max_of(
            store
                .operator_by_username("carol_route")
                .await
                .expect("by username")
        ),
        Some(7)
    );
    let listed = store.operators(name).await.expect("operators");
    assert_eq!(
        listed.iter().map(|o| o.max_chats).collect::<Vec<_>>(),
        [Some(7)],
        "operators lists the limit"
    );
    let members = store.department_members(desk.id).await.expect("members");
    assert_eq!(
        members.iter().map(|o| o.max_chats).collect::<Vec<_>>(),
        [Some(7)],
        "department members list the limit"
    );
    store
        .set_max_chats(carol.id, None)
        .await
        .expect("back to the default");
    assert_eq!(
        max_of(
            store
                .operator_by_username("carol_route")
                .await
                .expect("by username")
        ),
        None,
        "None is the portal's default again"
    );
    assert!(
        matches!(
            store.set_max_chats(OperatorId(i64::MAX), Some(1)).await,
            Err(StoreError::NotFound(_))
        ),
        "no such operator"
    );
}

async fn hours_and_left_messages(store: &dyn Store) {
    use crate::model::{LeftKind, LeftMessage};
    let name = "conf-hours";
    store
        .put_portal(&Portal::new(name, "ja"))
        .await
        .expect("put_portal");
    let desk = store
        .add_department(name, "Desk", false)
        .await
        .expect("add_department");
    assert_eq!(
        (desk.hours.as_deref(), desk.timezone.as_deref()),
        (None, None)
    );
    store
        .set_hours(desk.id, Some("Mon-Fri 09:00-18:00"), Some("Asia/Tokyo"))
        .await
        .expect("set_hours");
    let found = store.departments(name).await.expect("departments");
    assert_eq!(
        (found[0].hours.as_deref(), found[0].timezone.as_deref()),
        (Some("Mon-Fri 09:00-18:00"), Some("Asia/Tokyo")),
        "a department keeps its hours"
    );
    store
        .set_hours(desk.id, None, None)
        .await
        .expect("clear hours");
    let found = store.departments(name).await.expect("departments");
    assert_eq!(
        (found[0].hours.as_deref(), found[0].timezone.as_deref()),
        (None, None)
    );
    assert!(
        matches!(
            store.set_hours(DepartmentId(i64::MAX), None, None).await,
            Err(StoreError::NotFound(_))
        ),
        "no such department"
    );

    let at = chrono::DateTime::from_timestamp_millis(1_764_550_800_123).expect("time");
    let left = LeftMessage::new(
        name,
        LeftKind::Message,
        "Ann",
        Some("ann@x.example"),
        "Call me 電話",
        at,
    )
    .with_department(Some(desk.id));
    let first = store
        .add_left_message(&left)
        .await
        .expect("add_left_message");
    let missed = LeftMessage::new(name, LeftKind::MissedChat, "Bo", None, "Hello?", at)
        .with_chat(Some(ChatId(77)));
    let second = store.add_left_message(&missed).await.expect("add missed");
    assert!(first != second, "each has its id");
    let other = LeftMessage::new("conf-a", LeftKind::Message, "Eve", None, "not yours", at);
    store
        .add_left_message(&other)
        .await
        .expect("another portal's");
    let found = store.left_messages(name, 10).await.expect("left_messages");
    assert_eq!(
        found,
        [missed.with_id(second), left.with_id(first)],
        "newest first, this portal's only, as stored"
    );
    assert_eq!(
        store.left_messages(name, 1).await.expect("one").len(),
        1,
        "a limit"
    );

    // Ratings: kept with the chat, replaced by a second, none at first.
    let (_, chat) = store
        .open_chat(name, &visitor("Rater"), None, "Thanks?")
        .await
        .expect("open_chat");
    let found = store
        .chat(name, chat.id)
        .await
        .expect("chat")
        .expect("found");
    assert_eq!(found.rating, None, "not rated yet");
    let good = crate::model::Rating::new(4, "Quick and kind 親切").expect("4 is a score");
    store.rate_chat(chat.id, &good).await.expect("rate_chat");
    let found = store
        .chat(name, chat.id)
        .await
        .expect("chat")
        .expect("found");
    assert_eq!(found.rating, Some(good), "a rating is kept with its chat");
    let better = crate::model::Rating::new(5, "").expect("5 is a score");
    store.rate_chat(chat.id, &better).await.expect("rate again");
    let found = store
        .chat(name, chat.id)
        .await
        .expect("chat")
        .expect("found");
    assert_eq!(found.rating, Some(better));
    assert!(
        crate::model::Rating::new(0, "").is_none() && crate::model::Rating::new(6, "").is_none()
    );
    let one = crate::model::Rating::new(1, "").expect("1 is a score");
    assert!(
        matches!(
            store.rate_chat(ChatId(i64::MAX), &one).await,
            Err(StoreError::NotFound(_))
        ),
        "no such chat"
    );
}

async fn offline_messages(store: &dyn Store) {
    let alice = OperatorRef::new("conf-a", "alice.conf");
    let bob = OperatorRef::new("conf-a", "bob.conf");
    assert!(
        store
            .take_offline(&alice)
            .await
            .expect("take_offline")
            .is_empty()
    );
    let at = chrono::DateTime::from_timestamp_millis(1_780_000_000_123).unwrap_or_default();
    let kept = [
        OfflineMessage::new(at, ContactId::visitor("conf-a", 1), "a visitor's line"),
        OfflineMessage::new(
            at,
            ContactId::colleague("conf-a", "bob.conf"),
            "a colleague's",
        ),
        OfflineMessage::new(at, ContactId::board("conf-a"), "a post"),
    ];
    for message in &kept {
        store
            .add_offline(&alice, message)
            .await
            .expect("add_offline");
    }
    store
        .add_offline(
            &bob,
            &OfflineMessage::new(at, ContactId::board("conf-a"), "for Bob"),
        )
        .await
        .expect("add_offline");
    assert_eq!(
        store.take_offline(&alice).await.expect("take_offline"),
        kept,
        "offline messages come back as kept, oldest first"
    );
    assert!(
        store
            .take_offline(&alice)
            .await
            .expect("take_offline")
            .is_empty(),
        "taken once"
    );
    for n in 0..MAX_OFFLINE + 4 {
        let message =
            OfflineMessage::new(at, ContactId::visitor("conf-a", 2), &format!("line {n}"));
        store
            .add_offline(&bob, &message)
            .await
            .expect("add_offline");
    }
    let taken = store.take_offline(&bob).await.expect("take_offline");
    assert_eq!(taken.len(), MAX_OFFLINE, "at most MAX_OFFLINE are kept");
    assert_eq!(
        taken.first().map(|m| m.text.as_str()),
        Some("line 4"),
        "the oldest go first"
    );
}

async fn live_chats(store: &dyn Store) {
    store
        .put_portal(&Portal::new("conf-live", "en"))
        .await
        .expect("put_portal");
    let (_, first) = store
        .open_chat("conf-live", &visitor("Kim"), None, "first")
        .await
        .expect("open_chat");
    let (_, second) = store
        .open_chat("conf-live", &visitor("Lee"), None, "second")
        .await
        .expect("open_chat");
    assert!(
        store.live_chats().await.expect("live_chats").is_empty(),
        "no live chat is kept before one is saved"
    );
    let waiting = LiveChat::new(first.id, "conf-live", "aa11");
    store
        .save_live_chat(&waiting)
        .await
        .expect("save_live_chat");
    let alice = OperatorRef::new("conf-live", "alice.live");
    let guests = vec![
        OperatorRef::new("conf-live", "carol.live"),
        OperatorRef::new("conf-live", "bob.live"),
    ];
    let accepted = LiveChat::new(second.id, "conf-live", "bb22")
        .with_members(Some(alice.clone()), guests.clone())
        .with_seq_reserved(150);
    store
        .save_live_chat(&accepted)
        .await
        .expect("save_live_chat");
    assert_eq!(
        store.live_chats().await.expect("live_chats"),
        vec![waiting.clone(), accepted.clone()],
        "live chats come back as saved, by chat id, guests in order"
    );
    // Saving again replaces: the operator changed (a transfer).
    let transferred = LiveChat::new(first.id, "conf-live", "aa11")
        .with_members(Some(OperatorRef::new("conf-live", "bob.live")), Vec::new());
    store
        .save_live_chat(&transferred)
        .await
        .expect("save_live_chat");
    assert_eq!(
        store.live_chats().await.expect("live_chats"),
        vec![transferred, accepted],
        "a second save replaces the first"
    );

    assert!(
        store
            .chat_events(first.id)
            .await
            .expect("chat_events")
            .is_empty()
    );
    let events = [
        ChatEvent::new(
            1,
            VisitorEvent::Joined {
                operator: "Alice".into(),
            },
        ),
        ChatEvent::new(
            2,
            VisitorEvent::Message {
                from: "Alice".into(),
                text: "Hello, how can I help?\nTwo lines, 日本語".into(),
            },
        ),
        ChatEvent::new(
            3,
            VisitorEvent::Push {
                url: "https://example.com/faq".into(),
            },
        ),
        ChatEvent::new(
            4,
            VisitorEvent::Ended {
                reason: "bye".into(),
            },
        ),
    ];
    for event in &events {
        store
            .add_chat_event(first.id, event)
            .await
            .expect("add_chat_event");
    }
    store
        .add_chat_event(
            second.id,
            &ChatEvent::new(
                1,
                VisitorEvent::Joined {
                    operator: "Bob".into(),
                },
            ),
        )
        .await
        .expect("add_chat_event");
    assert_eq!(
        store.chat_events(first.id).await.expect("chat_events"),
        events,
        "a chat's events come back as added, oldest first, its own only"
    );
    for seq in 2..=(MAX_CHAT_EVENTS as u64 + 3) {
        let event = VisitorEvent::Message {
            from: "Bob".into(),
            text: format!("line {seq}"),
        };
        store
            .add_chat_event(second.id, &ChatEvent::new(seq, event))
            .await
            .expect("add_chat_event");
    }
    let kept = store.chat_events(second.id).await.expect("chat_events");
    assert_eq!(
        kept.len(),
        MAX_CHAT_EVENTS,
        "at most MAX_CHAT_EVENTS are kept"
    );
    assert_eq!(kept.first().map(|e| e.seq), Some(4), "the oldest go first");
    assert_eq!(kept.last().map(|e| e.seq), Some(MAX_CHAT_EVENTS as u64 + 3));

    store
        .drop_live_chat(first.id)
        .await
        .expect("drop_live_chat");
    let left = store.live_chats().await.expect("live_chats");
    assert_eq!(left.len(), 1, "a dropped live chat is gone: {left:?}");
    assert_eq!(left.first().map(|l| l.chat), Some(second.id));
    assert!(
        store
            .chat_events(first.id)
            .await
            .expect("chat_events")
            .is_empty(),
        "and so are its events"
    );
    store
        .drop_live_chat(second.id)
        .await
        .expect("drop_live_chat");
}

/// The live chats of `portal`, as `live_chats` gives them.
async fn live_of(store: &dyn Store, portal: &str) -> Vec<LiveChat> {
    let all = store.live_chats().await.expect("live_chats");
    all.into_iter().filter(|l| l.portal == portal).collect()
}

/// The owner `live_chats` gives for `chat`: `None` for no row, `Some(None)`
/// for a row with no owner.
async fn owner_of(store: &dyn Store, chat: ChatId) -> Option<Option<String>> {
    let all = store.live_chats().await.expect("live_chats");
    all.into_iter().find(|l| l.chat == chat).map(|l| l.owner)
}

async fn live_chat_owners(store: &dyn Store) {
    store
        .put_portal(&Portal::new("conf-own", "en"))
        .await
        .expect("put_portal");
    let mut chats = Vec::new();
    for name in ["Ola", "Pat", "Quinn", "Ray"] {
        let (_, chat) = store
            .open_chat("conf-own", &visitor(name), None, "owned?")
            .await
            .expect("open_chat");
        chats.push(chat.id);
    }
    let [owned, unowned, raced, never_saved] = chats[..] else {
        panic!("four chats: {chats:?}");
    };

    let on_a = LiveChat::new(owned, "conf-own", "own-aa").with_owner(Some("node-a"));
    let nobodys = LiveChat::new(unowned, "conf-own", "own-bb");
    store.save_live_chat(&on_a).await.expect("save_live_chat");
    store
        .save_live_chat(&nobodys)
        .await
        .expect("save_live_chat");
    assert_eq!(
        live_of(store, "conf-own").await,
        vec![on_a.clone(), nobodys.clone()],
        "a live chat keeps the owner it was first saved with, or none"
    );
    assert_eq!(
        store.live_chat("own-aa").await.expect("live_chat"),
        Some(on_a.clone()),
        "live_chat finds a chat by its token hash, owner and all"
    );
    assert_eq!(
        store.live_chat("own-bb").await.expect("live_chat"),
        Some(nobodys.clone())
    );
    assert_eq!(
        store.live_chat("own-none").await.expect("live_chat"),
        None,
        "no live chat has that token hash"
    );

    // A save by another node changes the members, never the owner.
    let bob = OperatorRef::new("conf-own", "bob.own");
    let resaved = LiveChat::new(owned, "conf-own", "own-aa")
        .with_members(Some(bob.clone()), Vec::new())
        .with_seq_reserved(50)
        .with_owner(Some("node-b"));
    store
        .save_live_chat(&resaved)
        .await
        .expect("save_live_chat");
    let kept = store.live_chat("own-aa").await.expect("live_chat");
    assert_eq!(
        kept,
        Some(resaved.clone().with_owner(Some("node-a"))),
        "a second save replaces all but the owner"
    );

    // Claims from the wrong owner change nothing.
    for wrong in [Some("node-b"), None] {
        assert!(
            !store
                .claim_live_chat(owned, wrong, Some("node-c"))
                .await
                .expect("claim_live_chat"),
            "a claim from {wrong:?} of node-a's chat fails"
        );
    }
    assert_eq!(
        owner_of(store, owned).await,
        Some(Some("node-a".to_owned())),
        "a failed claim changes nothing"
    );
    assert!(
        store
            .claim_live_chat(owned, Some("node-a"), Some("node-b"))
            .await
            .expect("claim_live_chat"),
        "a claim from the owner succeeds"
    );
    assert_eq!(
        owner_of(store, owned).await,
        Some(Some("node-b".to_owned())),
        "and moves the chat"
    );
    assert_eq!(
        store
            .live_chat("own-aa")
            .await
            .expect("live_chat")
            .and_then(|l| l.owner),
        Some("node-b".to_owned())
    );

    // None is no owner, and matches only no owner.
    assert!(
        !store
            .claim_live_chat(unowned, Some("node-a"), Some("node-b"))
            .await
            .expect("claim_live_chat"),
        "a chat with no owner is not node-a's"
    );
    assert!(
        store
            .claim_live_chat(unowned, None, Some("node-a"))
            .await
            .expect("claim_live_chat"),
        "a claim from None of a chat with no owner succeeds"
    );
    assert_eq!(
        owner_of(store, unowned).await,
        Some(Some("node-a".to_owned()))
    );
    assert!(
        store
            .claim_live_chat(unowned, Some("node-a"), None)
            .await
            .expect("claim_live_chat"),
        "a claim to None gives the chat up"
    );
    assert_eq!(owner_of(store, unowned).await, Some(None));

    // A chat with no live row, or none at all.
    for chat in [never_saved, ChatId(i64::MAX)] {
        assert!(
            !store
                .claim_live_chat(chat, None, Some("node-a"))
                .await
                .expect("claim_live_chat"),
            "no live chat {chat:?}, nothing to claim"
        );
    }
    assert_eq!(owner_of(store, never_saved).await, None);

    // Two nodes take over a dead node's chat at once: exactly one does.
    let dead = LiveChat::new(raced, "conf-own", "own-cc").with_owner(Some("node-dead"));
    store.save_live_chat(&dead).await.expect("save_live_chat");
    let mut from = "node-dead".to_owned();
    for round in 0..5 {
        let (x, y) = (format!("node-x{round}"), format!("node-y{round}"));
        let (took_x, took_y) = tokio::join!(
            store.claim_live_chat(raced, Some(&from), Some(&x)),
            store.claim_live_chat(raced, Some(&from), Some(&y)),
        );
        let (took_x, took_y) = (
            took_x.expect("claim_live_chat"),
            took_y.expect("claim_live_chat"),
        );
        assert!(
            took_x != took_y,
            "round {round}: of two racing claims exactly one wins ({took_x}, {took_y})"
        );
        let winner = if took_x { x } else { y };
        assert_eq!(
            owner_of(store, raced).await,
            Some(Some(winner.clone())),
            "round {round}: the chat is the winner's"
        );
        from = winner;
    }

    store.drop_live_chat(raced).await.expect("drop_live_chat");
    assert!(
        !store
            .claim_live_chat(raced, Some(&from), Some("node-a"))
            .await
            .expect("claim_live_chat"),
        "a dropped live chat cannot be claimed"
    );
    assert_eq!(
        store.live_chat("own-cc").await.expect("live_chat"),
        None,
        "nor found"
    );
    store.drop_live_chat(owned).await.expect("drop_live_chat");
    store.drop_live_chat(unowned).await.expect("drop_live_chat");
    assert!(live_of(store, "conf-own").await.is_empty());
}

fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_780_000_000 + seconds, 0).unwrap_or_default()
}

async fn archive(store: &dyn Store) {
    let alice = OperatorRef::new("conf-a", "alice.conf");
    let bob = OperatorRef::new("conf-a", "bob.conf");
    let carol = OperatorRef::new("conf-b", "carol.conf");
    let ann = ContactId::visitor("conf-a", 1);
    let ben = ContactId::visitor("conf-a", 2);
    let empty = store
        .archived(&alice, &ArchiveQuery::new(10))
        .await
        .expect("archived");
    assert_eq!(
        (empty.messages.len(), empty.complete, empty.count),
        (0, true, 0),
        "an empty archive is one complete empty page"
    );
    // Alice: five messages with Ann, two with Ben, one with Bob.
    let mut kept = Vec::new();
    for n in 0..8i64 {
        let with = match n {
            2 | 5 => ben.clone(),
            7 => ContactId::Colleague(bob.clone()),
            _ => ann.clone(),
        };
        let message =
            ArchivedMessage::new(1_000 + n, at(n * 60), with, n % 2 == 0, &format!("m{n}"));
        store.archive(&alice, &message).await.expect("archive");
        kept.push(message);
    }
    // Bob's copy of the colleague message; Carol's, of another portal.
    let bobs = ArchivedMessage::new(
        1_007,
        at(420),
        ContactId::Colleague(alice.clone()),
        false,
        "m7",
    );
    store.archive(&bob, &bobs).await.expect("archive");
    let carols = ArchivedMessage::new(1_100, at(0), ContactId::visitor("conf-b", 1), false, "c");
    store.archive(&carol, &carols).await.expect("archive");
    assert_eq!(
        store.archive(&alice, &kept[0]).await,
        Err(StoreError::Duplicate("archive id 1000".into())),
        "an id is unique in an owner's archive"
    );

    let all = store
        .archived(&alice, &ArchiveQuery::new(50))
        .await
        .expect("archived");
    assert_eq!(
        all.messages, kept,
        "the archive comes back as kept, oldest first"
    );
    assert_eq!((all.complete, all.count), (true, 8));

    let with_ann = ArchiveQuery::new(50).with(ann.clone());
    let page = store.archived(&alice, &with_ann).await.expect("archived");
    let texts: Vec<&str> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["m0", "m1", "m3", "m4", "m6"], "filtered by contact");
    assert_eq!(page.count, 5);

    let range = ArchiveQuery::new(50).start(at(60)).end(at(180));
    let page = store.archived(&alice, &range).await.expect("archived");
    let ids: Vec<i64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, [1_001, 1_002, 1_003], "start and end are inclusive");

    // Forwards, two at a time, with Ann.
    let mut seen = Vec::new();
    let mut query = ArchiveQuery::new(2).with(ann.clone());
    loop {
        let page = store.archived(&alice, &query).await.expect("archived");
        assert_eq!(page.count, 5, "the count is of every page");
        assert!(page.messages.len() <= 2);
        seen.extend(page.messages.iter().map(|m| m.id));
        let Some(last) = page.messages.last() else {
            break;
        };
        if page.complete {
            break;
        }
        query = ArchiveQuery::new(2).with(ann.clone()).after(last.id);
    }
    assert_eq!(seen, [1_000, 1_001, 1_003, 1_004, 1_006], "paged forwards");
    let after_last = ArchiveQuery::new(2).with(ann.clone()).after(1_006);
    let page = store.archived(&alice, &after_last).await.expect("archived");
    assert!(
        page.messages.is_empty() && page.complete,
        "nothing after the last"
    );

    // Backwards: the last page, then before its first.
    let last = ArchiveQuery::new(2).with(ann.clone()).last_page();
    let page = store.archived(&alice, &last).await.expect("archived");
    let ids: Vec<i64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, [1_004, 1_006], "the last page, oldest first");
    assert!(!page.complete, "older messages remain");
    let before = ArchiveQuery::new(2).with(ann.clone()).before(1_004);
    let page = store.archived(&alice, &before).await.expect("archived");
    let ids: Vec<i64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!(
        (ids.as_slice(), page.complete),
        (&[1_001, 1_003][..], false)
    );
    let before = ArchiveQuery::new(2).with(ann.clone()).before(1_001);
    let page = store.archived(&alice, &before).await.expect("archived");
    let ids: Vec<i64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!(
        (ids.as_slice(), page.complete),
        (&[1_000][..], true),
        "the first page, complete"
    );

    assert!(
        matches!(
            store
                .archived(&alice, &ArchiveQuery::new(2).after(999))
                .await,
            Err(StoreError::NotFound(_))
        ),
        "an unknown after id is not found"
    );
    assert!(
        matches!(
            store
                .archived(&alice, &ArchiveQuery::new(2).before(1_100))
                .await,
            Err(StoreError::NotFound(_))
        ),
        "another owner's id is not found"
    );

    // Owners are strangers.
    let page = store
        .archived(&bob, &ArchiveQuery::new(50))
        .await
        .expect("archived");
    assert_eq!(page.messages, [bobs], "Bob sees his archive only");
    let page = store
        .archived(&bob, &ArchiveQuery::new(50).with(ann.clone()))
        .await
        .expect("archived");
    assert_eq!(page.count, 0, "not Alice's chats with Ann");
    let page = store
        .archived(&carol, &ArchiveQuery::new(50))
        .await
        .expect("archived");
    assert_eq!(page.messages, [carols], "nor another portal's");

    // Pruning is per portal, by age.
    assert_eq!(
        store
            .prune_archive("conf-a", at(120))
            .await
            .expect("prune_archive"),
        2,
        "Alice's two and none of Bob's were older"
    );
    let page = store
        .archived(&alice, &ArchiveQuery::new(50))
        .await
        .expect("archived");
    assert_eq!(
        page.messages.first().map(|m| m.id),
        Some(1_002),
        "the oldest went"
    );
    assert_eq!(page.count, 6);
    let page = store
        .archived(&carol, &ArchiveQuery::new(50))
        .await
        .expect("archived");
    assert_eq!(page.count, 1, "another portal's archive stays");

    // Many at once: each to its owner, an id already there skipped.
    let dave = OperatorRef::new("conf-c", "dave.conf");
    let erin = OperatorRef::new("conf-c", "erin.conf");
    let batch = [
        (
            dave.clone(),
            ArchivedMessage::new(5_001, at(500), ann.clone(), false, "to Dave"),
        ),
        (
            erin.clone(),
            ArchivedMessage::new(5_001, at(500), ann.clone(), false, "to Erin"),
        ),
        (
            dave.clone(),
            ArchivedMessage::new(5_002, at(501), ann.clone(), true, "from Dave"),
        ),
    ];
    store.archive_all(&batch).await.expect("archive_all");
    let again = [(
        dave.clone(),
        ArchivedMessage::new(5_002, at(502), ann.clone(), true, "a second 5002"),
    )];
    store
        .archive_all(&again)
        .await
        .expect("archive_all skips an id there already");
    let page = store
        .archived(&dave, &ArchiveQuery::new(50))
        .await
        .expect("archived");
    let texts: Vec<&str> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["to Dave", "from Dave"], "archive_all, by owner");
    let page = store
        .archived(&erin, &ArchiveQuery::new(50))
        .await
        .expect("archived");
    assert_eq!(page.count, 1);
}
