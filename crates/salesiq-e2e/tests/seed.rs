//! Seeding the store from the example's configuration: what is missing
//! is added, what is there (a changed password) is kept, across restarts.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use salesiq_examples::config::Config;
use salesiq_examples::seed::{Seeded, seed};
use salesiq_session::{Authenticator, SqliteStore, Store, StoreAccounts};

#[tokio::test]
async fn seeding_adds_what_is_missing_and_keeps_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    let config = Config::demo().unwrap();
    {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let accounts = StoreAccounts::new(store.clone());
        let seeded = seed(store.as_ref(), &accounts, &config.portals)
            .await
            .unwrap();
        assert_eq!(
            (seeded.portals, seeded.departments, seeded.operators),
            (1, 2, 3)
        );
        // Bob changes his password after the first start.
        let bob = store
            .operator_by_email("demo", "bob@demo.example")
            .await
            .unwrap()
            .unwrap();
        accounts.set_password(bob.id, "changed-pw").await.unwrap();
    }
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let accounts = StoreAccounts::new(store.clone());
    let again = seed(store.as_ref(), &accounts, &config.portals)
        .await
        .unwrap();
    assert_eq!(again, Seeded::default());

    let key = |login: &str| salesiq_jid::LoginId::parse(login).unwrap().key();
    assert!(
        accounts
            .check_password(&key("demo|bob.ops"), "changed-pw")
            .await
            .is_ok()
    );
    let alice = accounts
        .check_password(&key("demo|alice.ops"), "alice-demo-pw")
        .await
        .unwrap();
    assert_eq!(alice.display_name, "Alice");
    let vip = store.departments("demo").await.unwrap();
    let vip = vip.iter().find(|d| d.name == "VIPサポート").unwrap();
    assert!(vip.convert_to_ticket);
    let members: Vec<_> = store
        .department_members(vip.id)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.display_name)
        .collect();
    assert_eq!(members, ["Alice"]);
    let carol = store
        .operator_by_email("demo", "carol@demo.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(carol.username, None);
}
