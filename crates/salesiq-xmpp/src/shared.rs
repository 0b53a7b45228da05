//! What every connection task shares: the configuration, the embedder's
//! seams, the routing table, the chat domain and the login throttle.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesiq_session::{Authenticator, Directory, Gateway};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::router::{Mailbox, Router};

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) directory: Arc<dyn Directory>,
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) router: Router,
    /// Seeds the decoy SCRAM salts of unknown logins.
    pub(crate) secret: [u8; 32],
    pub(crate) throttle: Throttle,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The chat domain, if the server was built with one: messages to
    /// visitor and board contacts go there, and operators' availability.
    pub(crate) gateway: Option<Gateway>,
    /// Sessions that may be resumed (XEP-0198): id -> (bare JID, mailbox).
    pub(crate) resumable: Mutex<HashMap<String, (String, Mailbox)>>,
    pub(crate) next_connection: AtomicU64,
    pub(crate) per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Connection tasks alive, for [`crate::ServerHandle::stats`].
    pub(crate) connections: AtomicUsize,
}

impl Shared {
    pub(crate) fn next_connection(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}

/// Failed logins per account and address within a sliding window.
///
/// * An account guessed at from one address is refused there, without a
///   check, after `max` failures; other accounts behind the same address
///   (an office behind NAT) are not.
/// * A check is reserved before it runs: attempts in flight count, so
///   forty parallel guesses cannot all be checked. Past the limit of
///   failures and checks in flight together, an attempt waits for the
///   checks in flight; it is refused only when the failures alone reach
///   the limit (a storm of correct logins of one account waits its turn).
/// * The table forgets what its window passed, and never holds more than
///   [`Throttle::MAX_ENTRIES`] keys' worth of history.
#[derive(Debug)]
pub(crate) struct Throttle {
    entries: Mutex<HashMap<(IpAddr, String), Entry>>,
    max: u32,
    window: Duration,
    /// Wakes attempts waiting for a check in flight to end.
    ended: tokio::sync::Notify,
}

/// Why an attempt cannot be checked now.
enum NotNow {
    /// Too many failures: refused.
    Refused,
    /// Checks in flight fill what the failures leave: wait for one.
    Busy,
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    in_flight: u32,
}

/// A reserved password check; dropped without [`Check::failed`], it
/// counts for nothing.
#[derive(Debug)]
pub(crate) struct Check<'a> {
    throttle: &'a Throttle,
    key: (IpAddr, String),
    failed: bool,
}

impl Check<'_> {
    /// The check failed: it counts against the account at the address.
    pub(crate) fn failed(mut self) {
        self.failed = true;
    }
}

impl Drop for Check<'_> {
    fn drop(&mut self) {
        {
            let mut entries = self.throttle.lock();
            if let Some(entry) = entries.get_mut(&self.key) {
                entry.in_flight = entry.in_flight.saturating_sub(1);
                if self.failed {
                    entry.failures.push_back(Instant::now());
                    while entry.failures.len() > self.throttle.max as usize {
                        entry.failures.pop_front();
                    }
                }
            }
        }
        self.throttle.ended.notify_waiters();
    }
}

impl Throttle {
    /// How many keys the table holds before it sweeps what has expired.
    pub(crate) const MAX_ENTRIES: usize = 10_000;

    pub(crate) fn new(max: u32, window: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max,
            window,
            ended: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(IpAddr, String), Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a check of `account` (a login key, lower case) from `ip`,
    /// waiting for checks in flight if need be; `None` when it failed too
    /// often there lately.
    pub(crate) async fn begin(&self, ip: IpAddr, account: &str) -> Option<Check<'_>> {
        loop {
            // Listening before looking, so that no end is missed.
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            match self.try_begin(ip, account) {
                Ok(check) => return Some(check),
                Err(NotNow::Refused) => return None,
                Err(NotNow::Busy) => ended.await,
            }
        }
    }

    fn try_begin(&self, ip: IpAddr, account: &str) -> Result<Check<'_>, NotNow> {
        let now = Instant::now();
        let window = self.window;
        let expired = |entry: &mut Entry| {
            while entry
                .failures
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                entry.failures.pop_front();
            }
            entry.failures.is_empty() && entry.in_flight == 0
        };
        let mut entries = self.lock();
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, entry| !expired(entry));
        }
        let key = (ip, account.to_owned());
        let entry = entries.entry(key.clone()).or_default();
        expired(entry);
        if entry.failures.len() >= self.max as usize {
            return Err(NotNow::Refused);
        }
        if entry.failures.len() + entry.in_flight as usize >= self.max as usize {
            return Err(NotNow::Busy);
        }
        entry.in_flight += 1;
        Ok(Check {
            throttle: self,
            key,
            failed: false,
        })
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
