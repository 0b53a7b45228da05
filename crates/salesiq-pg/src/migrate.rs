//! The schema, as a versioned list of SQL files applied in order.

use deadpool_postgres::Client;
use salesiq_session::StoreResult;

use crate::db::backend;

/// Every schema version, in order; the table `salesiq_migrations` says
/// which have run. Append, never edit.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("schema", include_str!("../migrations/0001_schema.sql")),
    (
        "seq_reserved",
        include_str!("../migrations/0002_seq_reserved.sql"),
    ),
    (
        "live_chat_owner",
        include_str!("../migrations/0003_live_chat_owner.sql"),
    ),
    ("canned", include_str!("../migrations/0004_canned.sql")),
    ("routing", include_str!("../migrations/0005_routing.sql")),
    (
        "portal_notify",
        include_str!("../migrations/0006_portal_notify.sql"),
    ),
    (
        "hours_and_left_messages",
        include_str!("../migrations/0007_hours_and_left_messages.sql"),
    ),
    ("ratings", include_str!("../migrations/0008_ratings.sql")),
];

/// The advisory lock that serialises migrations: two nodes starting at
/// once migrate one after the other, and the second finds nothing to do.
const MIGRATION_LOCK: i64 = 0x5a1e_5109_0000_0001;

/// Applies the migrations this database has not seen, in one transaction
/// under [`MIGRATION_LOCK`]: all of them or, on an error, none.
pub(crate) async fn migrate(client: &mut Client) -> StoreResult<()> {
    let transaction = client.transaction().await.map_err(backend)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(backend)?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS salesiq_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                applied TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(backend)?;
    let row = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM salesiq_migrations",
            &[],
        )
        .await
        .map_err(backend)?;
    let applied: i32 = row.try_get(0).map_err(backend)?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        // A newer release migrated this database; migrations only add, so
        // this one still works with it.
        tracing::warn!(
            applied,
            known = MIGRATIONS.len(),
            "the database schema is newer than this salesiq-pg"
        );
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(applied) {
        transaction.batch_execute(sql).await.map_err(backend)?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        transaction
            .execute(
                "INSERT INTO salesiq_migrations (version, name) VALUES ($1, $2)",
                &[&version, name],
            )
            .await
            .map_err(backend)?;
        tracing::info!(version, name, "migrated the PostgreSQL store");
    }
    transaction.commit().await.map_err(backend)
}
