//! Accounts kept in a [`Store`]: the default [`Authenticator`] and
//! [`Directory`] of a gateway with storage.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use salesiq_jid::LoginKey;
use subtle::ConstantTimeEq;

use crate::auth::{
    Account, AuthError, Authenticator, SCRAM_HASHES, ScramCredentials, ScramHash, is_email_name,
};
use crate::directory::{Contact, Directory};
use crate::future::BoxFuture;
use crate::model::{Operator, OperatorId};
use crate::store::{Credentials, Store, StoreError, StoreResult};

/// Operators and their credentials from the store.
///
/// A password set with [`StoreAccounts::set_password`] is kept as an
/// argon2id hash (for PLAIN) and as SCRAM-SHA-1 and SCRAM-SHA-256
/// credentials (random salt, 4096 iterations), never in clear. Hashing
/// runs on the blocking pool, at most [`DEFAULT_HASH_BUDGET`] at a time
/// ([`StoreAccounts::with_hash_budget`]): argon2id takes 19 MiB per hash,
/// so a storm of logins after a restart queues instead of taking gigabytes.
/// The checks' working memory is kept and reused, one buffer per permit:
/// whatever the burst, checking passwords holds at most budget × 19 MiB,
/// allocated once (a fresh 19 MiB per check was kept by the allocator's
/// arenas after a burst, and never given back).
/// An unknown account or address costs the same hash as a known one, so
/// that answers do not tell them apart by their time. As with `MemoryAccounts`, an operator
/// without a username is found by the local part of their e-mail
/// address, so that the transport can tell them to create one.
#[derive(Debug, Clone)]
pub struct StoreAccounts {
    store: Arc<dyn Store>,
    hashing: Arc<tokio::sync::Semaphore>,
    /// Passwords checked against an argon2id hash, decoys included.
    checks: Arc<AtomicU64>,
    /// The checks' argon2 memory, reused.
    memory: Arc<Memory>,
}

/// argon2's working memory, kept between checks: at most one buffer per
/// hashing permit.
#[derive(Debug)]
struct Memory {
    buffers: Mutex<Vec<Vec<Block>>>,
    keep: usize,
}

impl Memory {
    /// A buffer of at least `blocks` blocks: a kept one, or a new one.
    fn take(&self, blocks: usize) -> Vec<Block> {
        let kept = self.buffers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match kept {
            Some(buffer) if buffer.len() >= blocks => buffer,
            _ => vec![Block::default(); blocks],
        }
    }

    /// Keeps `buffer` for the next check, if there is room.
    fn give(&self, buffer: Vec<Block>) {
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        if buffers.len() < self.keep {
            buffers.push(buffer);
        }
    }

    /// How many buffers are kept (for tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.buffers.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// How many password hashes [`StoreAccounts`] computes at once by default:
/// 4, about 76 MiB of argon2id memory at most.
pub const DEFAULT_HASH_BUDGET: usize = 4;

impl StoreAccounts {
    /// Accounts in `store`, hashing at most [`DEFAULT_HASH_BUDGET`]
    /// passwords at a time.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_hash_budget(store, DEFAULT_HASH_BUDGET)
    }

    /// Accounts in `store`, hashing at most `budget` passwords at a time
    /// (at least one); the others wait their turn.
    pub fn with_hash_budget(store: Arc<dyn Store>, budget: usize) -> Self {
        Self {
            store,
            hashing: Arc::new(tokio::sync::Semaphore::new(budget.max(1))),
            checks: Arc::default(),
            memory: Arc::new(Memory {
                buffers: Mutex::new(Vec::new()),
                keep: budget.max(1),
            }),
        }
    }

    /// How many passwords have been checked against an argon2id hash so
    /// far, decoys for unknown accounts included: the cost of sign-ins,
    /// for monitoring, and for tests that a throttle checked no more than
    /// it should, or that an unknown account cost as much as a known one.
    pub fn password_checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// Runs `work` (a password hash) on the blocking pool within the budget.
    async fn hash<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let _permit = self.hashing.acquire().await.map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| e.to_string())
    }

    /// Sets (or replaces) an operator's password.
    pub async fn set_password(&self, operator: OperatorId, password: &str) -> StoreResult<()> {
        let password = password.to_owned();
        let credentials = self
            .hash(move || derive(&password))
            .await
            .map_err(StoreError::backend_message)??;
        self.store.set_credentials(operator, &credentials).await
    }

    /// Checks an e-mail address and password of `portal`, as a web
    /// sign-in does: the operator, with or without a username. Unknown
    /// addresses and wrong passwords are both [`AuthError::NotAuthorized`].
    pub async fn sign_in(
        &self,
        portal: &str,
        email: &str,
        password: &str,
    ) -> Result<Operator, AuthError> {
        let operator = self
            .store
            .operator_by_email(portal, email)
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let Some(operator) = operator else {
            self.decoy(password).await;
            return Err(AuthError::NotAuthorized);
        };
        self.verify(&operator, password).await?;
        Ok(operator)
    }

    /// The work of a verification that cannot succeed, for an unknown
    /// account: the same argon2id hash as a real one.
    async fn decoy(&self, password: &str) {
        static DECOY: OnceLock<String> = OnceLock::new();
        let password = password.to_owned();
        self.checks.fetch_add(1, Ordering::Relaxed);
        let memory = self.memory.clone();
        let _ = self
            .hash(move || {
                let decoy = DECOY.get_or_init(|| {
                    let random: [u8; 16] = rand::random();
                    derive(&format!("{random:?}"))
                        .map(|c| c.password_hash)
                        .unwrap_or_default()
                });
                check(&memory, decoy, &password)
            })
            .await;
    }

    /// Checks `password` against the operator's argon2id hash, on the
    /// blocking pool.
    async fn verify(&self, operator: &Operator, password: &str) -> Result<(), AuthError> {
        let Some(credentials) = self.credentials(operator).await? else {
            self.decoy(password).await;
            return Err(AuthError::NotAuthorized);
        };
        let (hash, password) = (credentials.password_hash, password.to_owned());
        self.checks.fetch_add(1, Ordering::Relaxed);
        let memory = self.memory.clone();
        let verified = self
            .hash(move || check(&memory, &hash, &password))
            .await
            .map_err(AuthError::Unavailable)?;
        if verified {
            Ok(())
        } else {
            Err(AuthError::NotAuthorized)
        }
    }

    async fn find(&self, login: &LoginKey) -> Result<Option<Operator>, AuthError> {
        let unavailable = |e: StoreError| AuthError::Unavailable(e.to_string());
        if let Some(operator) = self
            .store
            .operator_by_username(login.username())
            .await
            .map_err(unavailable)?
        {
            return Ok((operator.portal == login.portal()).then_some(operator));
        }
        let operators = self
            .store
            .operators(login.portal())
            .await
            .map_err(unavailable)?;
        Ok(operators
            .into_iter()
            .find(|o| o.username.is_none() && is_email_name(&o.email, login.username())))
    }

    async fn credentials(&self, operator: &Operator) -> Result<Option<Credentials>, AuthError> {
        self.store
            .credentials(operator.id)
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))
    }
}

/// Whether `password` matches the argon2 PHC string `hash`, computed in
/// `memory`'s buffers (what `PasswordVerifier::verify_password` does, but
/// without a fresh allocation per check).
fn check(memory: &Memory, hash: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) =
        (Algorithm::try_from(hash.algorithm), Params::try_from(&hash))
    else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let mut blocks = memory.take(params.block_count());
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut blocks,
    );
    memory.give(blocks);
    hashed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

fn derive(password: &str) -> StoreResult<Credentials> {
    let salt: [u8; 16] = rand::random();
    let phc_salt =
        SaltString::encode_b64(&salt).map_err(|e| StoreError::backend_message(e.to_string()))?;
    let password_hash = Argon2::default()
        .hash_password(password.as_bytes(), &phc_salt)
        .map_err(|e| StoreError::backend_message(e.to_string()))?
        .to_string();
    let iterations = ScramCredentials::DEFAULT_ITERATIONS;
    Ok(Credentials {
        password_hash,
        scram_sha1: ScramCredentials::derive(ScramHash::Sha1, password, &salt, iterations),
        scram_sha256: ScramCredentials::derive(ScramHash::Sha256, password, &salt, iterations),
    })
}

fn account(operator: &Operator) -> Account {
    let account = Account::new(
        &operator.portal,
        operator.username.as_deref(),
        &operator.display_name,
        &operator.email,
    );
    match &operator.photo {
        Some(photo) => account.with_photo(photo.clone()),
        None => account,
    }
}

impl Authenticator for StoreAccounts {
    fn check_password<'a>(
        &'a self,
        login: &'a LoginKey,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Account, AuthError>> {
        Box::pin(async move {
            let Some(operator) = self.find(login).await? else {
                self.decoy(password).await;
                return Err(AuthError::NotAuthorized);
            };
            self.verify(&operator, password).await?;
            Ok(account(&operator))
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
            let Some(operator) = self.find(login).await? else {
                return Ok(None);
            };
            let Some(credentials) = self.credentials(&operator).await? else {
                return Ok(None);
            };
            let scram = match hash {
                ScramHash::Sha1 => credentials.scram_sha1,
                _ => credentials.scram_sha256,
            };
            Ok(Some((account(&operator), scram)))
        })
    }
}

impl Directory for StoreAccounts {
    fn contacts<'a>(&'a self, me: &'a Account) -> BoxFuture<'a, Vec<Contact>> {
        Box::pin(async move {
            // A store failure leaves the list empty rather than failing the
            // login; the next roster request tries again.
            let operators = self.store.operators(&me.portal).await.unwrap_or_default();
            operators
                .iter()
                .filter(|o| o.username.is_some() && o.username != me.username)
                .filter_map(|o| {
                    let username = o.username.as_deref()?;
                    let contact = Contact::colleague(&o.portal, username, &o.display_name);
                    Some(contact.with_photo(o.photo.clone()))
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier;

    use super::*;

    fn memory(keep: usize) -> Memory {
        Memory {
            buffers: Mutex::new(Vec::new()),
            keep,
        }
    }

    #[test]
    fn checks_agree_with_argon2_s_own_verifier() {
        let memory = memory(1);
        let small = Params::new(64, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let hashes = [
            derive("s3cret").unwrap().password_hash,
            Argon2::new(Algorithm::Argon2id, Version::V0x13, small.clone())
                .hash_password(b"s3cret", &salt)
                .unwrap()
                .to_string(),
            Argon2::new(Algorithm::Argon2i, Version::V0x10, small)
                .hash_password(b"s3cret", &salt)
                .unwrap()
                .to_string(),
        ];
        for hash in &hashes {
            for password in ["s3cret", "s3cret ", "", "S3CRET"] {
                let theirs = Argon2::default()
                    .verify_password(password.as_bytes(), &PasswordHash::new(hash).unwrap())
                    .is_ok();
                assert_eq!(
                    check(&memory, hash, password),
                    theirs,
                    "{hash} {password:?}"
                );
            }
        }
        assert!(!check(&memory, "not a hash", "s3cret"));
        assert!(!check(
            &memory,
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",
            "s3cret"
        ));
    }

    #[test]
    fn memory_is_reused_not_grown() {
        let memory = memory(2);
        let hash = derive("s3cret").unwrap().password_hash;
        std::thread::scope(|threads| {
            for _ in 0..8 {
                threads.spawn(|| assert!(check(&memory, &hash, "s3cret")));
            }
        });
        assert!(memory.kept() <= 2);
        let taken = memory.take(19 * 1024);
        assert_eq!(taken.len(), 19 * 1024, "a kept buffer is big enough");
    }
}
