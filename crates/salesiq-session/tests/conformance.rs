//! The Store conformance suite on the embedded SQLite store, fresh and
//! after a reopen of the same file.

#![allow(clippy::unwrap_used)]

use salesiq_session::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("g.sqlite3")).unwrap();
    salesiq_session::conformance::run(&store).await;
}
