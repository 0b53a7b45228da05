//! Throttling password guesses: failed logins per account and address,
//! with checks reserved before they run.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

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
///   [`LoginThrottle::MAX_ENTRIES`] keys' worth of history.
///
/// The XMPP server counts SASL failures per (address, login) with one;
/// the example's web sign-in holds checks in three at once: per
/// (address, account), per address for any account (an empty key), and
/// per account from anywhere (the unspecified address).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use std::time::Duration;
/// use salesiq_session::LoginThrottle;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let throttle = LoginThrottle::new(2, Duration::from_secs(60));
/// let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// for _ in 0..2 {
///     let check = throttle.begin(ip, "demo|alice.ops").await.unwrap();
///     check.failed(); // the password was wrong
/// }
/// assert!(throttle.begin(ip, "demo|alice.ops").await.is_none());
/// assert!(throttle.begin(ip, "demo|bob.ops").await.is_some());
/// # });
/// ```
#[derive(Debug)]
pub struct LoginThrottle {
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

/// A reserved password check; dropped without [`LoginCheck::failed`], it
/// counts for nothing.
#[derive(Debug)]
pub struct LoginCheck<'a> {
    throttle: &'a LoginThrottle,
    key: (IpAddr, String),
    failed: bool,
}

impl LoginCheck<'_> {
    /// The check failed: it counts against the account at the address.
    pub fn failed(mut self) {
        self.failed = true;
    }
}

impl Drop for LoginCheck<'_> {
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

impl LoginThrottle {
    /// How many keys the table holds before it sweeps what has expired.
    pub const MAX_ENTRIES: usize = 10_000;

    /// At most `max` failures per key within `window`.
    pub fn new(max: u32, window: Duration) -> Self {
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
    pub async fn begin(&self, ip: IpAddr, account: &str) -> Option<LoginCheck<'_>> {
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

    fn try_begin(&self, ip: IpAddr, account: &str) -> Result<LoginCheck<'_>, NotNow> {
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
        Ok(LoginCheck {
            throttle: self,
            key,
            failed: false,
        })
    }
}
