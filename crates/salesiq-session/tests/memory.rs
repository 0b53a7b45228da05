//! Issue 11, finding 11: memory comes back after a burst of sign-ins.
//! Each argon2id check takes 19 MiB; allocated afresh per check on the
//! blocking pool's many threads, the allocator's arenas kept every one of
//! them (four bursts of 200 sign-ins: 3.7, 7.4, 11 and 14 GB resident).
//! `StoreAccounts` now reuses one buffer per hashing permit. A binary of
//! its own, so that the resident size measured is this test's alone.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use salesiq_session::{NewOperator, SqliteStore, Store, StoreAccounts};

/// This process's resident memory, in KiB (Linux).
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn bursts_of_sign_ins_do_not_pile_up_memory() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(256)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("g.sqlite3")).unwrap());
        let accounts = StoreAccounts::new(store.clone());
        let alice = store
            .add_operator(&NewOperator::new("demo", "alice@demo.example", "Alice"))
            .await
            .unwrap();
        accounts.set_password(alice.id, "alice-pw").await.unwrap();
        let before = resident_kib();
        let mut grown = Vec::new();
        for _ in 0..3 {
            let mut burst = tokio::task::JoinSet::new();
            for n in 0..64 {
                let accounts = accounts.clone();
                let email = if n % 2 == 0 {
                    "alice@demo.example"
                } else {
                    "nobody@demo.example"
                };
                burst.spawn(async move { accounts.sign_in("demo", email, "guess").await.is_err() });
            }
            while let Some(refused) = burst.join_next().await {
                assert!(refused.unwrap());
            }
            grown.push((resident_kib().saturating_sub(before)) / 1024);
        }
        // Four buffers of 19 MiB (the default hashing budget), and change;
        // a buffer per check would be 64 x 19 MiB after the first burst.
        assert!(grown.iter().all(|mib| *mib < 200), "grew by {grown:?} MiB");
    });
}
