//! Logging in with a real XMPP client library (tokio-xmpp) over real TCP
//! and TLS, on both ports, with every localpart form and mechanism.

use salesiq_test_support as support;

use support::{Mode, Raw, TestServer};
use tokio_xmpp::error::{AuthError, Error};
use tokio_xmpp::parsers::sasl::DefinedCondition;

const FORMS: [&str; 4] = [
    "demo|alice.ops@salesiq.zoho.com",
    r"demo\alice.ops@salesiq.zoho.com",
    r"demo\5calice.ops@salesiq.zoho.com",
    "DEMO|Alice.Ops@salesiq.zoho.com",
];

fn refused(result: Result<(), Error>) -> DefinedCondition {
    match result {
        Err(Error::Auth(AuthError::Fail(condition))) => condition,
        other => panic!("expected a SASL failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_every_mechanism_both_ports() {
    let server = TestServer::start().await;
    for mode in [Mode::StartTls, Mode::DirectTls] {
        for jid in FORMS {
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"] {
                let result = server
                    .login_once(jid, "s3cret", mode, Some(mechanism))
                    .await;
                assert!(result.is_ok(), "{mode:?} {jid} {mechanism}: {result:?}");
            }
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_binds_the_resource_it_asks_for_or_gets_one() {
    let server = TestServer::start().await;
    let chosen = server
        .client(
            "demo|alice.ops@salesiq.zoho.com/IM+ Android",
            "s3cret",
            Mode::StartTls,
        )
        .await;
    assert_eq!(
        chosen.bound_jid().map(ToString::to_string).as_deref(),
        Some("demo|alice.ops@salesiq.zoho.com/IM+ Android")
    );
    let generated = server
        .client(
            r"Demo\5cBob.Ops@salesiq.zoho.com",
            "hunter22",
            Mode::DirectTls,
        )
        .await;
    let bound = generated
        .bound_jid()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        bound.starts_with("demo|bob.ops@salesiq.zoho.com/salesiq-"),
        "{bound}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_unknown_logins_are_not_authorized() {
    let server = TestServer::start_with(|c| c.max_auth_failures = 100).await;
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"] {
        for (jid, password) in [
            ("demo|alice.ops@salesiq.zoho.com", "wrong"),
            ("demo|nobody.here@salesiq.zoho.com", "s3cret"),
            // The same username in another portal has another password.
            ("acme|alice.ops@salesiq.zoho.com", "s3cret"),
        ] {
            let result = server
                .login_once(jid, password, Mode::StartTls, Some(mechanism))
                .await;
            assert_eq!(
                refused(result),
                DefinedCondition::NotAuthorized,
                "{jid} {mechanism}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_username_is_told_to_create_one() {
    let server = TestServer::start().await;
    let jid = "demo|carol.smith@salesiq.zoho.com";
    for mechanism in ["SCRAM-SHA-256", "PLAIN"] {
        let result = server
            .login_once(jid, "carolpw", Mode::DirectTls, Some(mechanism))
            .await;
        assert_eq!(
            refused(result),
            DefinedCondition::NotAuthorized,
            "{mechanism}"
        );
    }
    // The reason, in the <text> a client shows (PLAIN: "\0demo|carol.smith\0carolpw").
    let mut raw = Raw::secured(&server).await;
    raw.send(support::HEADER).await;
    raw.read_until("</stream:features>").await;
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGRlbW98Y2Fyb2wuc21pdGgAY2Fyb2xwdw==</auth>")
        .await;
    let reply = raw.read_until("</failure>").await;
    assert!(reply.contains("<not-authorized"), "{reply}");
    assert!(reply.contains("has no username yet: create one"), "{reply}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_from_one_address_are_throttled() {
    let server = TestServer::start_with(|c| c.max_auth_failures = 3).await;
    let alice = "demo|alice.ops@salesiq.zoho.com";
    for _ in 0..3 {
        let result = server
            .login_once(alice, "wrong", Mode::StartTls, Some("PLAIN"))
            .await;
        assert_eq!(refused(result), DefinedCondition::NotAuthorized);
    }
    // Now even the right password is refused from 127.0.0.1 for a while.
    let result = server
        .login_once(alice, "s3cret", Mode::StartTls, Some("PLAIN"))
        .await;
    assert_eq!(refused(result), DefinedCondition::TemporaryAuthFailure);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authcid_may_be_the_bare_jid_and_the_authzid_must_match() {
    let server = TestServer::start().await;
    for (plain, answer) in [
        // authcid "demo|alice.ops@salesiq.zoho.com", no authzid
        (
            "AGRlbW98YWxpY2Uub3BzQHNhbGVzaXEuem9oby5jb20AczNjcmV0",
            "<success",
        ),
        // authzid = the same account, as a bare JID
        (
            "ZGVtb3xhbGljZS5vcHNAc2FsZXNpcS56b2hvLmNvbQBkZW1vfGFsaWNlLm9wcwBzM2NyZXQ=",
            "<success",
        ),
        // authzid = somebody else
        (
            "ZGVtb3xib2Iub3BzQHNhbGVzaXEuem9oby5jb20AZGVtb3xhbGljZS5vcHMAczNjcmV0",
            "<invalid-authzid/>",
        ),
        // a JID of another server
        (
            "AGRlbW98YWxpY2Uub3BzQGV4YW1wbGUub3JnAHMzY3JldA==",
            "this server is salesiq.zoho.com",
        ),
        // no separator at all
        (
            "AGFsaWNlLm9wcwBzM2NyZXQ=",
            "sign in as portal|username@salesiq.zoho.com",
        ),
    ] {
        let mut raw = Raw::secured(&server).await;
        raw.send(support::HEADER).await;
        raw.read_until("</stream:features>").await;
        raw.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
        ))
        .await;
        let reply = raw
            .read_until(if answer == "<success" {
                "<success"
            } else {
                "</failure>"
            })
            .await;
        assert!(reply.contains(answer), "{plain}: {reply}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_from_the_sqlite_store_log_in() {
    use std::sync::Arc;

    use salesiq_session::{NewOperator, SqliteStore, Store, StoreAccounts};

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("gateway.sqlite3")).unwrap());
    let accounts = Arc::new(StoreAccounts::new(store.clone()));
    let dana = store
        .add_operator(&NewOperator::new("demo", "dana@demo.example", "Dana"))
        .await
        .unwrap();
    store.claim_username(dana.id, "dana.ops").await.unwrap();
    accounts.set_password(dana.id, "dana-pw").await.unwrap();

    let server = TestServer::start_with_accounts(|_| {}, accounts.clone(), accounts).await;
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"] {
        let ok = server
            .login_once(
                "demo|dana.ops@salesiq.zoho.com",
                "dana-pw",
                Mode::DirectTls,
                Some(mechanism),
            )
            .await;
        assert!(ok.is_ok(), "{mechanism}: {ok:?}");
        let wrong = server
            .login_once(
                "demo|dana.ops@salesiq.zoho.com",
                "nope",
                Mode::StartTls,
                Some(mechanism),
            )
            .await;
        assert_eq!(
            refused(wrong),
            DefinedCondition::NotAuthorized,
            "{mechanism}"
        );
    }
    server.stop().await;
}
