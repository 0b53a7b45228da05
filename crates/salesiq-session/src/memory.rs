//! Accounts held in memory: the authenticator and directory for tests,
//! demos and embedders who configure operators in a file.

use std::fmt;

use salesiq_jid::LoginKey;
use subtle::ConstantTimeEq;

use crate::auth::{
    Account, AuthError, Authenticator, SCRAM_HASHES, ScramCredentials, ScramHash, is_email_name,
};
use crate::directory::{Contact, Directory};
use crate::future::BoxFuture;

/// Operator accounts and their credentials, in memory.
///
/// Passwords are not kept: each account stores SCRAM credentials for
/// SHA-1 and SHA-256 (random salt, 4096 iterations), and PLAIN logins are
/// checked against the SHA-256 ones.
///
/// An account without a username is found by the local part of its
/// e-mail address (`demo|carol` for carol@demo.example), so that an
/// operator who tries that learns they must create a username first.
///
/// ```
/// use salesiq_session::{Account, MemoryAccounts};
///
/// let accounts = MemoryAccounts::new()
///     .with_account(Account::new("demo", Some("alice.ops"), "Alice", "alice@demo.example"), "s3cret")
///     .with_account(Account::new("demo", None, "Carol", "carol@demo.example"), "pw");
/// assert_eq!(accounts.len(), 2);
/// ```
#[derive(Default)]
pub struct MemoryAccounts {
    entries: Vec<Entry>,
}

struct Entry {
    account: Account,
    sha1: ScramCredentials,
    sha256: ScramCredentials,
}

impl MemoryAccounts {
    /// No accounts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an account with its password.
    pub fn with_account(mut self, account: Account, password: &str) -> Self {
        self.add(account, password);
        self
    }

    /// Adds an account with its password.
    pub fn add(&mut self, account: Account, password: &str) {
        let salt: [u8; 16] = rand::random();
        let iterations = ScramCredentials::DEFAULT_ITERATIONS;
        self.entries.push(Entry {
            sha1: ScramCredentials::derive(ScramHash::Sha1, password, &salt, iterations),
            sha256: ScramCredentials::derive(ScramHash::Sha256, password, &salt, iterations),
            account,
        });
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, login: &LoginKey) -> Option<&Entry> {
        let in_portal = |e: &&Entry| e.account.portal == login.portal();
        self.entries
            .iter()
            .filter(in_portal)
            .find(|e| e.account.username.as_deref() == Some(login.username()))
            .or_else(|| {
                self.entries.iter().filter(in_portal).find(|e| {
                    e.account.username.is_none()
                        && is_email_name(&e.account.email, login.username())
                })
            })
    }
}

impl fmt::Debug for MemoryAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.account))
            .finish()
    }
}

impl Authenticator for MemoryAccounts {
    fn check_password<'a>(
        &'a self,
        login: &'a LoginKey,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Account, AuthError>> {
        Box::pin(async move {
            let entry = self.find(login).ok_or(AuthError::NotAuthorized)?;
            let stored = &entry.sha256;
            let offered = ScramCredentials::derive(
                ScramHash::Sha256,
                password,
                &stored.salt,
                stored.iterations,
            );
            if bool::from(offered.stored_key.ct_eq(&stored.stored_key)) {
                Ok(entry.account.clone())
            } else {
                Err(AuthError::NotAuthorized)
            }
        })
    }

    fn scram_hashes(&self) -> &[ScramHash] {
        &SCRAM_HASHES
    }

    fn scram_credentials<'a>(
        &'a self,
        login: &'a LoginKey,
        hash: ScramHash,
    ) -> BoxFuture<'a, Result<Option<(Account, ScramCredentials)>, AuthError>> {
        Box::pin(async move {
            Ok(self.find(login).map(|entry| {
                let credentials = match hash {
                    ScramHash::Sha1 => entry.sha1.clone(),
                    _ => entry.sha256.clone(),
                };
                (entry.account.clone(), credentials)
            }))
        })
    }
}

impl Directory for MemoryAccounts {
    fn contacts<'a>(&'a self, account: &'a Account) -> BoxFuture<'a, Vec<Contact>> {
        Box::pin(async move {
            self.entries
                .iter()
                .map(|e| &e.account)
                .filter(|other| other.portal == account.portal && *other != account)
                .filter_map(|other| {
                    let username = other.username.as_deref()?;
                    let contact = Contact::colleague(&other.portal, username, &other.display_name);
                    Some(contact.with_photo(other.photo.clone()))
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salesiq_jid::LoginId;

    fn key(login: &str) -> LoginKey {
        LoginId::parse(login).unwrap().key()
    }

    fn accounts() -> MemoryAccounts {
        MemoryAccounts::new()
            .with_account(
                Account::new("Demo", Some("Alice.Ops"), "Alice", "alice@demo.example"),
                "s3cret",
            )
            .with_account(
                Account::new("demo", Some("bob.ops"), "Bob", "bob@demo.example"),
                "hunter22",
            )
            .with_account(
                Account::new("demo", None, "Carol", "carol.smith@demo.example"),
                "pw",
            )
            .with_account(
                Account::new("other", Some("alice.ops"), "Other Alice", "a@other.example"),
                "x",
            )
    }

    fn block<T>(future: BoxFuture<'_, T>) -> T {
        // The futures here never wait on anything: one poll finishes them.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = future;
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("pending"),
        }
    }

    #[test]
    fn passwords_are_checked_case_insensitively_by_login() {
        let accounts = accounts();
        let alice = block(accounts.check_password(&key("DEMO|alice.ops"), "s3cret")).unwrap();
        assert_eq!(
            (alice.portal.as_str(), alice.username.as_deref()),
            ("demo", Some("alice.ops"))
        );
        assert_eq!(
            block(accounts.check_password(&key("demo|alice.ops"), "S3cret")),
            Err(AuthError::NotAuthorized)
        );
        assert_eq!(
            block(accounts.check_password(&key("demo|nobody1"), "s3cret")),
            Err(AuthError::NotAuthorized)
        );
        let other = block(accounts.check_password(&key("other|alice.ops"), "x")).unwrap();
        assert_eq!(other.display_name, "Other Alice");
    }

    #[test]
    fn an_account_without_username_is_found_by_its_email_name() {
        let accounts = accounts();
        let carol = block(accounts.check_password(&key("demo|carol.smith"), "pw")).unwrap();
        assert_eq!(carol.username, None);
        let (account, credentials) =
            block(accounts.scram_credentials(&key("demo|carol.smith"), ScramHash::Sha1))
                .unwrap()
                .unwrap();
        assert_eq!((account.username, credentials.stored_key.len()), (None, 20));
        assert_eq!(
            block(accounts.scram_credentials(&key("demo|nobody1"), ScramHash::Sha256)),
            Ok(None)
        );
    }

    #[test]
    fn colleagues_are_the_other_operators_of_the_portal_with_a_username() {
        let accounts = accounts();
        let alice = block(accounts.check_password(&key("demo|alice.ops"), "s3cret")).unwrap();
        let contacts = block(accounts.contacts(&alice));
        assert_eq!(contacts, vec![Contact::colleague("demo", "bob.ops", "Bob")]);
    }
}
