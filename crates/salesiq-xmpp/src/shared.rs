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

/// Failed logins per IP address within a sliding window.
#[derive(Debug)]
pub(crate) struct Throttle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    max: u32,
    window: Duration,
}

impl Throttle {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            max,
            window,
        }
    }

    /// Whether `ip` has failed too often lately.
    pub(crate) fn is_blocked(&self, ip: IpAddr) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = failures.get_mut(&ip) else {
            return false;
        };
        let now = Instant::now();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.is_empty() {
            failures.remove(&ip);
            return false;
        }
        times.len() >= self.max as usize
    }

    pub(crate) fn record_failure(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let times = failures.entry(ip).or_default();
        times.push_back(Instant::now());
        // Only the last `max` failures matter.
        while times.len() > self.max as usize {
            times.pop_front();
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
