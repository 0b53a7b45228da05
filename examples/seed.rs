//! Seeding the store from the configuration.
//!
//! What the configuration lists and the store lacks is added: portals,
//! departments, operators (with password, username and departments). What
//! the store holds already is left alone, so that a password changed or a
//! username claimed since the first start survives every restart.

use salesiq_session::{NewOperator, Portal, Store, StoreAccounts, StoreError};

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
        if store.portal(&portal.name).await?.is_none() {
            store
                .put_portal(&Portal::new(&portal.name, &portal.locale))
                .await?;
            seeded.portals += 1;
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
    }
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use salesiq_session::{Authenticator, SqliteStore};

    use super::*;
    use crate::config::Config;

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
                seeded,
                Seeded {
                    portals: 1,
                    departments: 2,
                    operators: 3
                }
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
}
