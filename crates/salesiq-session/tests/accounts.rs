//! The default authenticator and directory, over the SQLite store:
//! argon2id for PLAIN, stored SCRAM credentials, colleagues from the
//! operators table, and all of it still there after a restart.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use salesiq_jid::LoginId;
use salesiq_session::{
    AuthError, Authenticator, Directory, NewOperator, ScramCredentials, ScramHash, SqliteStore,
    Store, StoreAccounts,
};

fn key(login: &str) -> salesiq_jid::LoginKey {
    LoginId::parse(login).unwrap().key()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_scram_and_colleagues_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.sqlite3");
    {
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let accounts = StoreAccounts::new(store.clone());
        for (email, name, username, password) in [
            ("alice@demo.example", "Alice", Some("alice.ops"), "alice-pw"),
            ("bob@demo.example", "Bob", Some("bob.ops"), "bob-pw"),
            ("carol.smith@demo.example", "Carol", None, "carol-pw"),
        ] {
            let operator = store
                .add_operator(&NewOperator::new("demo", email, name))
                .await
                .unwrap();
            if let Some(username) = username {
                store.claim_username(operator.id, username).await.unwrap();
            }
            accounts.set_password(operator.id, password).await.unwrap();
            if name == "Bob" {
                let photo = salesiq_session::Photo::new("image/png", vec![0x89, b'P', b'N', b'G']);
                store.set_photo(operator.id, Some(&photo)).await.unwrap();
            }
        }
    }
    // After a restart.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let accounts = StoreAccounts::new(store);

    let alice = accounts
        .check_password(&key("DEMO|Alice.Ops"), "alice-pw")
        .await
        .unwrap();
    assert_eq!(
        (alice.display_name.as_str(), alice.username.as_deref()),
        ("Alice", Some("alice.ops"))
    );
    assert_eq!(
        accounts
            .check_password(&key("demo|alice.ops"), "bob-pw")
            .await,
        Err(AuthError::NotAuthorized)
    );
    assert_eq!(
        accounts
            .check_password(&key("acme|alice.ops"), "alice-pw")
            .await,
        Err(AuthError::NotAuthorized)
    );
    assert_eq!(
        accounts.check_password(&key("demo|nobody.here"), "x").await,
        Err(AuthError::NotAuthorized)
    );
    let carol = accounts
        .check_password(&key("demo|carol.smith"), "carol-pw")
        .await
        .unwrap();
    assert_eq!(carol.username, None);

    // A web sign-in by e-mail address, with or without a username.
    let carol = accounts
        .sign_in("demo", "Carol.Smith@demo.example", "carol-pw")
        .await
        .unwrap();
    assert_eq!(
        (carol.display_name.as_str(), carol.username),
        ("Carol", None)
    );
    assert_eq!(
        accounts
            .sign_in("demo", "alice@demo.example", "bob-pw")
            .await
            .map(|o| o.id),
        Err(AuthError::NotAuthorized)
    );
    assert_eq!(
        accounts
            .sign_in("acme", "alice@demo.example", "alice-pw")
            .await
            .map(|o| o.id),
        Err(AuthError::NotAuthorized)
    );

    // The stored SCRAM credentials are those of the password.
    let (_, stored) = accounts
        .scram_credentials(&key("demo|bob.ops"), ScramHash::Sha256)
        .await
        .unwrap()
        .unwrap();
    let again =
        ScramCredentials::derive(ScramHash::Sha256, "bob-pw", &stored.salt, stored.iterations);
    assert_eq!(stored, again);
    let (_, sha1) = accounts
        .scram_credentials(&key("demo|bob.ops"), ScramHash::Sha1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sha1.stored_key.len(), 20);
    assert_eq!(
        accounts
            .scram_credentials(&key("demo|nobody.here"), ScramHash::Sha1)
            .await,
        Ok(None)
    );

    let contacts = accounts.contacts(&alice).await;
    let names: Vec<_> = contacts
        .iter()
        .map(|c| (c.id.clone(), c.name.as_str()))
        .collect();
    // Colleagues only: the board is the gateway's contact (`Gateway::roster`).
    assert_eq!(
        names,
        [(
            salesiq_session::ContactId::colleague("demo", "bob.ops"),
            "Bob"
        )]
    );
}
