//! Canned answers (`#c <key>`): portal-wide, or one department's.

use salesiq_session::{CannedAnswer, DepartmentId, StoreResult};

use crate::PgStore;
use crate::db::{backend, execute, get, rows};

pub(crate) async fn put_canned(store: &PgStore, answer: &CannedAnswer) -> StoreResult<()> {
    let portal = answer.portal.to_ascii_lowercase();
    let key = answer.key.to_ascii_lowercase();
    let department = answer.department.map(|d| d.0);
    // The conflict target is the unique index canned_by_key, whose
    // department 0 stands for NULL (portal-wide).
    execute(
        &store.client().await?,
        "INSERT INTO canned (portal, department, key, text) VALUES ($1, $2, $3, $4)
         ON CONFLICT (portal, (COALESCE(department, 0)), key) DO UPDATE SET text = $4",
        &[&portal, &department, &key, &answer.text],
    )
    .await
    .map(drop)
    .map_err(backend)
}

pub(crate) async fn canned(
    store: &PgStore,
    portal: &str,
    department: Option<DepartmentId>,
) -> StoreResult<Vec<CannedAnswer>> {
    let portal = portal.to_ascii_lowercase();
    let department = department.map(|d| d.0);
    // The department's answers, and the portal-wide ones it does not
    // replace (with $2 NULL, `= $2` holds for no row).
    let found = rows(
        &store.client().await?,
        "SELECT portal, department, key, text FROM canned c WHERE portal = $1
         AND (department = $2 OR (department IS NULL AND NOT EXISTS
             (SELECT 1 FROM canned d WHERE d.portal = $1 AND d.department = $2 AND d.key = c.key)))
         ORDER BY key COLLATE \"C\"",
        &[&portal, &department],
    )
    .await
    .map_err(backend)?;
    found
        .iter()
        .map(|row| {
            let department: Option<i64> = get(row, 1)?;
            Ok(CannedAnswer::new(
                &get::<String>(row, 0)?,
                department.map(DepartmentId),
                &get::<String>(row, 2)?,
                &get::<String>(row, 3)?,
            ))
        })
        .collect()
}

pub(crate) async fn delete_canned(
    store: &PgStore,
    portal: &str,
    department: Option<DepartmentId>,
    key: &str,
) -> StoreResult<bool> {
    let (portal, key) = (portal.to_ascii_lowercase(), key.to_ascii_lowercase());
    let department = department.map(|d| d.0);
    let deleted = execute(
        &store.client().await?,
        "DELETE FROM canned
         WHERE portal = $1 AND COALESCE(department, 0) = COALESCE($2::BIGINT, 0) AND key = $3",
        &[&portal, &department, &key],
    )
    .await
    .map_err(backend)?;
    Ok(deleted > 0)
}
