//! PgStore against a real PostgreSQL: the Store conformance suite, racing
//! claims on two connections, visitor numbers from many connections, a
//! restart, and migrations run twice and at once.
//!
//! The server's URL comes from `SALESIQ_PG_URL` (`scripts/test.sh` starts
//! one with `scripts/postgres.sh` and sets it); each test makes a database
//! of its own there, so tests run in parallel. Without the variable the
//! tests skip, saying why, except under CI (`CI` set), where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::error::Error as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use salesiq_pg::PgStore;
use salesiq_pg::deadpool_postgres::tokio_postgres::{self, Config, NoTls};
use salesiq_pg::deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use salesiq_session::{NewOperator, Portal, Store, StoreError, VisitorDetails};

const TIMEOUT: Duration = Duration::from_secs(10);

/// An empty database of the test's own, on the server of `SALESIQ_PG_URL`.
struct Database {
    server: Config,
    name: String,
}

impl Database {
    /// A fresh database, or `None` (skip) when no server is configured.
    async fn new() -> Option<Self> {
        let Ok(url) = std::env::var("SALESIQ_PG_URL") else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "SALESIQ_PG_URL is not set: under CI the PostgreSQL tests must run \
                     (scripts/test.sh starts a server with scripts/postgres.sh)"
                );
            }
            eprintln!(
                "skipped: SALESIQ_PG_URL is not set (bash scripts/postgres.sh start prints one)"
            );
            return None;
        };
        let mut server = Config::from_str(&url).expect("SALESIQ_PG_URL is a PostgreSQL URL");
        server.connect_timeout(TIMEOUT);
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "t_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        admin(&server, &format!("CREATE DATABASE {name}")).await;
        Some(Self { server, name })
    }

    /// The test database's config.
    fn config(&self) -> Config {
        let mut config = self.server.clone();
        config.dbname(&self.name);
        config
    }

    /// A pool of at most `size` connections to it.
    fn pool(&self, size: usize) -> Pool {
        let manager = Manager::from_config(
            self.config(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .build()
            .unwrap()
    }

    /// A store on a fresh pool.
    async fn store(&self, size: usize) -> PgStore {
        PgStore::from_pool(self.pool(size))
            .await
            .expect("PgStore::from_pool")
    }

    /// A plain connection to it, beside the store's pool.
    async fn connection(&self) -> tokio_postgres::Client {
        let (client, connection) = self.config().connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// Drops the database (after the test passed: a failed one leaves it
    /// to look at, until the next `scripts/postgres.sh start`).
    async fn drop(self) {
        admin(
            &self.server,
            &format!("DROP DATABASE {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

async fn admin(server: &Config, sql: &str) {
    let (client, connection) = server
        .connect(NoTls)
        .await
        .expect("the test server answers");
    let connection = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = connection.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_store_conforms() {
    let Some(db) = Database::new().await else {
        return;
    };
    let store = db.store(8).await;
    salesiq_session::conformance::run(&store).await;
    store.pool().close();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_on_two_connections_have_one_winner() {
    let Some(db) = Database::new().await else {
        return;
    };
    let store = db.store(4).await;
    store.put_portal(&Portal::new("race", "en")).await.unwrap();
    let mut operators = Vec::new();
    for n in 0..4 {
        let email = format!("op{n}@race.example");
        operators.push(
            store
                .add_operator(&NewOperator::new("race", &email, "Op"))
                .await
                .unwrap(),
        );
    }

    // Held open on a connection of its own, a claim makes the store's claim
    // of the same name (on a pooled connection) wait on the unique index;
    // once it commits, the store's claim loses.
    let mut other = db.connection().await;
    let transaction = other.transaction().await.unwrap();
    transaction
        .execute(
            "UPDATE operators SET username = 'held.name' WHERE id = $1",
            &[&operators[0].id.0],
        )
        .await
        .unwrap();
    let waiting = {
        let store = store.clone();
        let id = operators[1].id;
        tokio::spawn(async move { store.claim_username(id, "Held.Name").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "the second claim waits for the first"
    );
    transaction.commit().await.unwrap();
    let lost = tokio::time::timeout(TIMEOUT, waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lost.map(|o| o.id), Err(StoreError::UsernameTaken));

    // Claims at once from two tasks on two threads, round after round.
    for round in 0..10 {
        let name = format!("race.{round:02}");
        let (a, b) = (operators[2 + round % 2].id, operators[3 - round % 2].id);
        let first = {
            let (store, name) = (store.clone(), name.clone());
            tokio::spawn(async move { store.claim_username(a, &name).await })
        };
        let second = {
            let (store, name) = (store.clone(), name.clone());
            tokio::spawn(async move { store.claim_username(b, &name).await })
        };
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        let won = [&first, &second].iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {first:?} {second:?}");
        for result in [first, second] {
            assert!(
                matches!(result, Ok(_) | Err(StoreError::UsernameTaken)),
                "the loser is told the name is taken"
            );
        }
        // The winner has a name now: free both for the next round.
        other
            .execute(
                "UPDATE operators SET username = NULL WHERE id = ANY($1)",
                &[&vec![a.0, b.0]],
            )
            .await
            .unwrap();
    }
    assert!(
        store.pool().status().size >= 2,
        "the claims used two connections"
    );
    store.pool().close();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_from_many_connections_get_distinct_numbers() {
    let Some(db) = Database::new().await else {
        return;
    };
    let store = db.store(8).await;
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut details = VisitorDetails::default();
                details.name = format!("V{n}");
                if n % 2 == 0 {
                    store.add_visitor("many", &details).await.unwrap().number
                } else {
                    store
                        .open_chat("many", &details, None, "?")
                        .await
                        .unwrap()
                        .0
                        .number
                }
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=40).collect::<Vec<i64>>(),
        "1 to 40, none twice, none skipped"
    );
    store.pool().close();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_sees_the_data_and_migrates_nothing() {
    let Some(db) = Database::new().await else {
        return;
    };
    // Two nodes starting at once on an empty database: both migrate, one
    // after the other.
    let (first, second) = tokio::join!(db.store(2), db.store(2));
    first.put_portal(&Portal::new("kept", "ja")).await.unwrap();
    let bob = first
        .add_operator(&NewOperator::new("kept", "bob@kept.example", "Bob"))
        .await
        .unwrap();
    first.claim_username(bob.id, "bob.kept").await.unwrap();
    first.pool().close();
    second.pool().close();

    let again = db.store(2).await;
    assert_eq!(
        again
            .portal("KEPT")
            .await
            .unwrap()
            .map(|p| p.locale)
            .as_deref(),
        Some("ja")
    );
    assert_eq!(
        again
            .operator_by_username("bob.kept")
            .await
            .unwrap()
            .map(|o| o.id),
        Some(bob.id),
        "a second store over the same database sees the data"
    );
    let versions = db
        .connection()
        .await
        .query(
            "SELECT version FROM salesiq_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = versions.iter().map(|row| row.get(0)).collect();
    assert_eq!(
        versions,
        [1, 2, 3, 4, 5, 6, 7, 8],
        "each migration ran once"
    );
    again.pool().close();
    db.drop().await;
}

#[tokio::test]
async fn a_failed_connection_keeps_the_driver_error_as_source() {
    // Nothing listens on port 1 of the loopback: refused at once.
    let error = PgStore::connect("postgres://postgres@127.0.0.1:1/none?connect_timeout=5")
        .await
        .expect_err("no server");
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    let driver = std::iter::successors(error.source(), |e| (*e).source())
        .find_map(|source| source.downcast_ref::<tokio_postgres::Error>());
    assert!(driver.is_some(), "the driver's error is kept: {error}");
    assert!(
        error.to_string().contains("connect"),
        "the message says what failed: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_text_is_a_backend_error_and_the_pool_goes_on() {
    let Some(db) = Database::new().await else {
        return;
    };
    let store = db.store(1).await;
    let (visitor, _) = store
        .open_chat("nul", &VisitorDetails::default(), None, "hi")
        .await
        .unwrap();
    let error = store
        .add_note(visitor.id, "Alice", "a\0b")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    assert!(
        error.to_string().contains("SQLSTATE"),
        "PostgreSQL's word: {error}"
    );
    store.add_note(visitor.id, "Alice", "fine").await.unwrap();
    assert_eq!(store.notes(visitor.id).await.unwrap().len(), 1);
    store.pool().close();
    db.drop().await;
}
