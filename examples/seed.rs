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
                    .with_max_chats_per_operator(portal.max_chats_per_operator)
                    .with_notify(&portal.notify);
                store.put_portal(&new).await?;
                seeded.portals += 1;
            }
            // The archive's retention, the capacity and who is told by
            // e-mail are settings: the file's win.
            Some(stored)
                if stored.archive_days != portal.archive_days
                    || stored.max_chats_per_operator != portal.max_chats_per_operator
                    || stored.notify != portal.notify =>
            {
                let settings = stored
                    .with_archive_days(portal.archive_days)
                    .with_max_chats_per_operator(portal.max_chats_per_operator)
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
            // Routing and hours are settings too.
            if let Some(found) = departments.iter().find(|d| d.name == wanted.name) {
                if found.routing != wanted.routing()
                    || found.offer_timeout_secs != wanted.offer_timeout
                {
                    store
                        .set_routing(found.id, wanted.routing(), wanted.offer_timeout)
                        .await?;
                }
                if found.hours != wanted.hours || found.timezone != wanted.timezone {
                    store
                        .set_hours(
                            found.id,
                            wanted.hours.as_deref(),
                            wanted.timezone.as_deref(),
                        )
                        .await?;
                }
            }
        }
        for wanted in &portal.operators {
            if let Some(found) = store.operator_by_email(&portal.name, &wanted.email).await? {
                // Their capacity is a setting: the file's wins.
                if found.max_chats != wanted.max_chats {
                    store.set_max_chats(found.id, wanted.max_chats).await?;
                }
                continue;
            }
            let operator = store
                .add_operator(&NewOperator::new(&portal.name, &wanted.email, &wanted.name))
                .await?;
            if wanted.max_chats.is_some() {
                store.set_max_chats(operator.id, wanted.max_chats).await?;
            }
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

    use salesiq_session::Routing;

    use crate::config::Config;

    fn config(max: u32, routing: &str, timeout: u32, own: &str) -> Config {
        let text = format!(
            "[server]\ndomain = \"chat.example.com\"\n[[portal]]\nname = \"p\"\n\
             max_chats_per_operator = {max}\n[[portal.department]]\nname = \"Desk\"\n\
             routing = \"{routing}\"\noffer_timeout = {timeout}\n[[portal.operator]]\n\
             email = \"a@p.example\"\nname = \"A\"\nusername = \"alice.ops\"\n\
             password = \"pw-123456\"\n{own}"
        );
        Config::parse(&text, "test.toml").unwrap()
    }

    /// Capacity and routing are settings: applied at every start, not only
    /// when the rows are first made.
    #[tokio::test]
    async fn capacity_and_routing_are_applied_at_every_start() {
        let store = Arc::new(SqliteStore::open(":memory:").unwrap());
        let accounts = StoreAccounts::new(store.clone());
        let first = config(5, "broadcast", 30, "");
        super::seed(store.as_ref(), &accounts, &first.portals)
            .await
            .unwrap();
        let second = config(2, "least_busy", 12, "max_chats = 4\n");
        let seeded = super::seed(store.as_ref(), &accounts, &second.portals)
            .await
            .unwrap();
        assert_eq!(seeded.operators, 0, "nothing new");
        let portal = store.portal("p").await.unwrap().unwrap();
        assert_eq!(portal.max_chats_per_operator, 2);
        let desk = &store.departments("p").await.unwrap()[0];
        assert_eq!(
            (desk.routing, desk.offer_timeout_secs),
            (Routing::LeastBusy, 12)
        );
        let alice = store
            .operator_by_username("alice.ops")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alice.max_chats, Some(4));
        // Taken out of the file, the operator's own limit goes.
        super::seed(store.as_ref(), &accounts, &first.portals)
            .await
            .unwrap();
        let alice = store
            .operator_by_username("alice.ops")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alice.max_chats, None);
    }

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
