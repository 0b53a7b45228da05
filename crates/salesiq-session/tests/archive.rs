//! The gateway's archive: what a portal keeps is bounded by its
//! retention, both when read and in the store (pruned on writes).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use salesiq_session::{
    ArchiveQuery, ArchivedMessage, ContactId, Gateway, OperatorEvent, OperatorRef, OperatorSink,
    Portal, SqliteStore, Store, archive_id,
};

#[derive(Debug)]
struct Nobody;
impl OperatorSink for Nobody {
    fn send(&self, _: &OperatorRef, _: OperatorEvent) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_keeps_its_archive_days_and_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("g.sqlite3")).unwrap());
    store
        .put_portal(&Portal::new("demo", "en").with_archive_days(7))
        .await
        .unwrap();
    let alice = OperatorRef::new("demo", "alice.ops");
    let ann = ContactId::visitor("demo", 1);
    // Ten days old: past the retention, written straight to the store.
    let old = ArchivedMessage::new(
        1,
        Utc::now() - Duration::days(10),
        ann.clone(),
        false,
        "old",
    );
    store.archive(&alice, &old).await.unwrap();
    let gateway = Gateway::new(store.clone(), Arc::new(Nobody));
    let everything = ArchiveQuery::new(50).with(ann.clone());
    let page = gateway.archived(&alice, &everything).await.unwrap();
    assert_eq!(page.count, 0, "a query never reaches past the retention");

    let new = ArchivedMessage::new(archive_id(), Utc::now(), ann.clone(), true, "new\u{1}line");
    gateway.archive(&alice, &new).await.unwrap();
    let page = gateway.archived(&alice, &everything).await.unwrap();
    let texts: Vec<&str> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["newline"], "kept, cleaned");
    // The write started a prune of the portal: the old message goes from
    // the store itself.
    let mut left = usize::MAX;
    for _ in 0..500 {
        left = store.archived(&alice, &everything).await.unwrap().count;
        if left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(left, 1, "the old message was pruned");
}
