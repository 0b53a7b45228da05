//! Seeding the store from the configuration.
//!
//! What the configuration lists and the store lacks is added: portals,
//! departments, operators (with password, username and departments). What
//! the store holds already is left alone, so that a password changed or a
//! username claimed since the first start survives every restart.

use salesiq_session::{CannedAnswer, NewOperator, Portal, Store, StoreAccounts, StoreError};

use crate::config::PortalConfig;

/// What seeding added, for the start-up message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Seeded {
    /// Portals created.
    pub portals: usize,
    /// Departments created.
    pub departments: usize,
    /// Operators created.
    pub operators: usize,
}

/// Adds what is missing from `store`.
pub async fn seed(
    store: &dyn Store,
    accounts: &StoreAccounts,
    portals: &[PortalConfig],
) -> Result<Seeded, StoreError> {
    let mut seeded = Seeded::default();
    for portal in portals {
        match store.portal(&portal.name).await? {
            None => {
                let new = Portal::new(&portal.name, &portal.locale)
                    .with_archive_days(portal.archive_days)
                    .with_notify(&portal.notify);
                store.put_portal(&new).await?;
                seeded.portals += 1;
            }
            // The archive's retention and who is told by e-mail are
            // settings: the file's win.
            Some(stored)
                if stored.archive_days != portal.archive_days || stored.notify != portal.notify =>
            {
                let settings = stored
                    .with_archive_days(portal.archive_days)
                    .with_notify(&portal.notify);
                store.put_portal(&settings).await?;
            }
            Some(_) => {}
        }
        let mut departments = store.departments(&portal.name).await?;
        for wanted in &portal.departments {
            if !departments.iter().any(|d| d.name == wanted.name) {
                let added = store
                    .add_department(&portal.name, &wanted.name, wanted.convert_to_ticket)
                    .await?;
                departments.push(added);
                seeded.departments += 1;
            }
        }
        for wanted in &portal.operators {
            if store
                .operator_by_email(&portal.name, &wanted.email)
                .await?
                .is_some()
            {
                continue;
            }
            let operator = store
                .add_operator(&NewOperator::new(&portal.name, &wanted.email, &wanted.name))
                .await?;
            accounts.set_password(operator.id, &wanted.password).await?;
            if let Some(username) = &wanted.username {
                store.claim_username(operator.id, username).await?;
            }
            for department in departments
                .iter()
                .filter(|d| wanted.departments.contains(&d.name))
            {
                store.assign_department(operator.id, department.id).await?;
            }
            seeded.operators += 1;
        }
        // Settings, like archive_days: the file's answers at every start.
        for canned in &portal.canned {
            let department = match &canned.department {
                Some(name) => departments.iter().find(|d| &d.name == name).map(|d| d.id),
                None => None,
            };
            let answer = CannedAnswer::new(&portal.name, department, &canned.key, &canned.text);
            store.put_canned(&answer).await?;
        }
    }
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use salesiq_session::SqliteStore;

    use super::*;
    use crate::config::Config;

    /// A fresh SQLite file of the test's own (no dev-dependencies here:
    /// a directory under the system's temporary one, removed at the end).
    fn scratch(name: &str) -> std::path::PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir().join(format!(
            "salesiq-seed-{name}-{}-{nanos}",
            std::process::id()
        ))
    }

    #[tokio::test]
    async fn notify_is_a_setting_applied_at_every_start() {
        let dir = scratch("notify");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.join("s.sqlite3")).unwrap());
        let accounts = StoreAccounts::new(store.clone());
        let file = |notify: &str| {
            let text = format!(
                "[server]\ndomain = \"chat.example.com\"\n[[portal]]\nname = \"p\"\n\
                 archive_days = 7\nnotify = [{notify}]\n"
            );
            Config::parse(&text, "test.toml").unwrap().portals
        };
        seed(store.as_ref(), &accounts, &file("\"a@example.com\""))
            .await
            .unwrap();
        let stored = store.portal("p").await.unwrap().unwrap();
        assert_eq!(stored.notify, ["a@example.com"]);
        let again = seed(
            store.as_ref(),
            &accounts,
            &file("\"Ops <b@example.com>\", \"c@example.com\""),
        )
        .await
        .unwrap();
        assert_eq!(again.portals, 0, "the portal was there already");
        let stored = store.portal("p").await.unwrap().unwrap();
        assert_eq!(stored.notify, ["Ops <b@example.com>", "c@example.com"]);
        assert_eq!(stored.archive_days, 7);
        seed(store.as_ref(), &accounts, &file("")).await.unwrap();
        assert!(store.portal("p").await.unwrap().unwrap().notify.is_empty());
        drop((store, accounts));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
