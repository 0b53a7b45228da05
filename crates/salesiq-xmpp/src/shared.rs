//! What every connection task shares: the configuration, the embedder's
//! seams, the routing table, the chat domain and the login throttle.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use salesiq_session::{Authenticator, Directory, Gateway, LoginThrottle};
use tokio::sync::watch;
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
    pub(crate) throttle: LoginThrottle,
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
    /// Messages for operators with no connected device, to be kept (with
    /// a gateway only: it has the store).
    pub(crate) offline: Option<tokio::sync::mpsc::Sender<crate::offline::Kept>>,
    /// The operators' message archive's writer (with a gateway only).
    pub(crate) archive: Option<crate::archive::Archiver>,
    /// What carries presence and stanzas to other nodes, if the server
    /// was built with one (issue 14).
    pub(crate) relay: Option<Arc<dyn crate::Relay>>,
}

impl Shared {
    pub(crate) fn next_connection(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
