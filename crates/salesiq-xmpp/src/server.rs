//! The listeners: accept, cap connections, hand each to a task, shut down
//! gracefully.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesiq_session::{Authenticator, Directory};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::error::{Error, StreamErrorCondition};
use crate::negotiation::{serve_direct_tls, serve_starttls};
use crate::router::{Outbound, Router};
use crate::tls::TlsIdentity;

/// How long shutdown waits for streams to close before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
    /// The chat domain, once attached: messages to visitor contacts go
    /// there, and operators' availability is reported to it.
    pub(crate) gateway: std::sync::OnceLock<salesiq_session::Gateway>,
    /// Sessions that may be resumed (XEP-0198): id -> (bare JID, mailbox).
    pub(crate) resumable: Mutex<HashMap<String, (String, crate::router::Mailbox)>>,
    next_connection: AtomicU64,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Connection tasks alive, for [`ServerHandle::stats`].
    connections: AtomicUsize,
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
    fn new(max: u32, window: Duration) -> Self {
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

/// An XMPP server, bound and ready to [`run`](Server::run).
///
/// ```no_run
/// use std::sync::Arc;
/// use salesiq_session::{Account, MemoryAccounts};
/// use salesiq_xmpp::{Config, Server, TlsIdentity};
///
/// # async fn demo() -> Result<(), salesiq_xmpp::Error> {
/// let accounts = Arc::new(MemoryAccounts::new().with_account(
///     Account::new("demo", Some("alice.ops"), "Alice", "alice@demo.example"),
///     "s3cret",
/// ));
/// let config = Config::new("salesiq.zoho.com");
/// let identity = TlsIdentity::self_signed(&config.domain)?;
/// let server = Server::bind(config, identity, accounts.clone(), accounts).await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// tokio::spawn(server.run(async { let _ = stopped.await; }));
/// // ... later: close every stream with <system-shutdown/>.
/// let _ = stop.send(());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    starttls: Option<TcpListener>,
    direct_tls: Option<TcpListener>,
}

impl Server {
    /// Binds the listeners `config` names.
    pub async fn bind(
        config: Config,
        identity: TlsIdentity,
        authenticator: Arc<dyn Authenticator>,
        directory: Arc<dyn Directory>,
    ) -> Result<Self, Error> {
        let acceptor = TlsAcceptor::from(identity.server_config()?);
        let starttls = match config.starttls_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let direct_tls = match config.direct_tls_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let (shutdown, watch) = watch::channel(false);
        let shared = Arc::new(Shared {
            throttle: Throttle::new(config.max_auth_failures, config.auth_throttle_window),
            config,
            authenticator,
            directory,
            acceptor,
            router: Router::default(),
            secret: rand::random(),
            shutdown: watch,
            gateway: std::sync::OnceLock::new(),
            resumable: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
            per_ip: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
        });
        Ok(Self {
            shared,
            shutdown,
            starttls,
            direct_tls,
        })
    }

    /// The address the STARTTLS listener is bound to.
    pub fn starttls_addr(&self) -> Option<SocketAddr> {
        self.starttls.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// A handle for telling connected operators about changes, usable
    /// while the server runs.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// The address the direct-TLS listener is bound to.
    pub fn direct_tls_addr(&self) -> Option<SocketAddr> {
        self.direct_tls.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then closes every stream with
    /// `<system-shutdown/>` and waits (a few seconds at most) for them.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            shared,
            shutdown: signal,
            starttls,
            direct_tls,
        } = self;
        let permits = Arc::new(Semaphore::new(shared.config.max_connections));
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer, direct) = tokio::select! {
                () = &mut shutdown => break,
                Some(accepted) = accept(starttls.as_ref()) => (accepted.0, accepted.1, false),
                Some(accepted) = accept(direct_tls.as_ref()) => (accepted.0, accepted.1, true),
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "connection refused: too many connections");
                continue;
            };
            let Some(slot) = IpSlot::take(&shared, peer.ip()) else {
                tracing::warn!(%peer, "connection refused: too many connections from this address");
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let live = Live::count(&shared);
            let shared = shared.clone();
            tasks.spawn(async move {
                if direct {
                    serve_direct_tls(shared, tcp, peer).await;
                } else {
                    serve_starttls(shared, tcp, peer).await;
                }
                drop((slot, permit, live));
            });
        }
        let _ = signal.send(true);
        // Streams still negotiating are told too.
        for mailbox in shared.router.all() {
            let _ = mailbox.send(Outbound::Close(StreamErrorCondition::SystemShutdown, None));
        }
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            tasks.abort_all();
        }
    }
}

/// Tells a running [`Server`]'s connected operators about changes made
/// elsewhere (by the session layer or the embedder).
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// Connects the chat domain: from now on, what operators write to a
    /// visitor contact goes to `gateway`, and their availability with it.
    /// Build the gateway with this handle as its [`salesiq_session::OperatorSink`].
    /// A second call changes nothing.
    pub fn attach_gateway(&self, gateway: salesiq_session::Gateway) {
        let _ = self.shared.gateway.set(gateway);
    }

    /// `contact` was added to (or updated on) `account`'s contact list:
    /// every connected resource gets a roster push and may now reach it.
    pub fn contact_added(
        &self,
        account: &salesiq_session::Account,
        contact: &salesiq_session::Contact,
    ) {
        self.roster_change(account, contact, true);
    }

    /// `contact` left `account`'s contact list: a roster push with
    /// `subscription='remove'`, and it is no longer reachable.
    pub fn contact_removed(
        &self,
        account: &salesiq_session::Account,
        contact: &salesiq_session::Contact,
    ) {
        self.roster_change(account, contact, false);
    }

    /// What the server holds right now: connections being served and
    /// bound sessions. Read-only, cheap (an atomic load and one lock of
    /// the routing table), for monitoring and for tests that check nothing
    /// is left behind.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use salesiq_session::MemoryAccounts;
    /// use salesiq_xmpp::{Config, Server, ServerStats, TlsIdentity};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let mut config = Config::new("salesiq.example.com");
    /// config.starttls_addr = Some("127.0.0.1:0".parse().unwrap());
    /// config.direct_tls_addr = None;
    /// let identity = TlsIdentity::self_signed(&config.domain).unwrap();
    /// let accounts = Arc::new(MemoryAccounts::new());
    /// let server = Server::bind(config, identity, accounts.clone(), accounts).await.unwrap();
    /// let stats: ServerStats = server.handle().stats();
    /// assert_eq!((stats.connections, stats.sessions), (0, 0));
    /// # });
    /// ```
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            connections: self.shared.connections.load(Ordering::Relaxed),
            sessions: self.shared.router.len(),
        }
    }

    fn roster_change(
        &self,
        account: &salesiq_session::Account,
        contact: &salesiq_session::Contact,
        present: bool,
    ) {
        let Some(username) = account.username.as_deref() else {
            return;
        };
        let bare = format!(
            "{}|{username}@{}",
            account.portal, self.shared.config.domain
        );
        for mailbox in self.shared.router.mailboxes(&bare) {
            let _ = mailbox.send(Outbound::roster(contact.clone(), present));
        }
    }
}

/// A snapshot of what a running [`Server`] holds, from
/// [`ServerHandle::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections being served: each accepted TCP connection (not one
    /// refused by a connection limit) counts from accept until its task
    /// ends, whether it is negotiating, in a session, or a session
    /// waiting to be resumed (XEP-0198). A resumed session counts once.
    pub connections: usize,
    /// Bound resources (full JIDs) in the routing table, including
    /// sessions waiting to be resumed.
    pub sessions: usize,
}

/// Accepts from a listener, or never if there is none.
async fn accept(listener: Option<&TcpListener>) -> Option<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await.ok(),
        None => std::future::pending().await,
    }
}

/// A connection counted against its IP address until dropped.
struct IpSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl IpSlot {
    fn take(shared: &Arc<Shared>, ip: IpAddr) -> Option<Self> {
        let mut per_ip = shared.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let count = per_ip.entry(ip).or_default();
        if *count >= shared.config.max_connections_per_ip {
            return None;
        }
        *count += 1;
        Some(Self {
            shared: shared.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut per_ip = self.shared.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// A connection counted in [`ServerStats::connections`] until dropped,
/// with its task (ended or aborted).
struct Live {
    shared: Arc<Shared>,
}

impl Live {
    fn count(shared: &Arc<Shared>) -> Self {
        shared.connections.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: shared.clone(),
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.shared.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl salesiq_session::OperatorSink for ServerHandle {
    fn send(&self, operator: &salesiq_session::OperatorRef, event: salesiq_session::OperatorEvent) {
        use salesiq_session::{Contact, OperatorEvent};

        use crate::ns;
        use crate::stanza::name;
        use minidom::Element;

        let domain = &self.shared.config.domain;
        let bare = format!("{operator}@{domain}");
        let jid = |id: &str| format!("{}@{domain}", id.to_lowercase());
        let mut outbound = Vec::new();
        match event {
            OperatorEvent::ContactAdded { contact, status } => {
                let presence = Element::builder("presence", ns::CLIENT)
                    .attr(name("from"), jid(&contact.id))
                    .attr(name("to"), bare.as_str())
                    .append(
                        Element::builder("status", ns::CLIENT)
                            .append(status)
                            .build(),
                    )
                    .build();
                outbound.push(Outbound::roster(contact, true));
                outbound.push(Outbound::stanza(presence));
            }
            OperatorEvent::ContactRemoved { contact_id } => {
                let presence = Element::builder("presence", ns::CLIENT)
                    .attr(name("from"), jid(&contact_id))
                    .attr(name("to"), bare.as_str())
                    .attr(name("type"), "unavailable")
                    .build();
                outbound.push(Outbound::stanza(presence));
                outbound.push(Outbound::roster(Contact::new(&contact_id, "", ""), false));
            }
            OperatorEvent::Typing { from, composing } => {
                let state = if composing { "composing" } else { "paused" };
                let message = Element::builder("message", ns::CLIENT)
                    .attr(name("from"), jid(&from))
                    .attr(name("to"), bare.as_str())
                    .attr(name("type"), "chat")
                    .append(Element::bare(state, ns::CHAT_STATES))
                    .build();
                outbound.push(Outbound::stanza(message));
            }
            OperatorEvent::Message { from, text } => {
                let message = Element::builder("message", ns::CLIENT)
                    .attr(name("from"), jid(&from))
                    .attr(name("to"), bare.as_str())
                    .attr(name("type"), "chat")
                    .attr(name("id"), format!("gw-{:016x}", rand::random::<u64>()))
                    .append(Element::builder("body", ns::CLIENT).append(text).build())
                    .build();
                outbound.push(Outbound::stanza(message));
            }
            _ => {}
        }
        for mailbox in self.shared.router.mailboxes(&bare) {
            for item in &outbound {
                let copy = match item {
                    Outbound::Stanza(stanza) => Outbound::Stanza(stanza.clone()),
                    Outbound::Roster(contact, present) => {
                        Outbound::Roster(contact.clone(), *present)
                    }
                    _ => continue,
                };
                let _ = mailbox.send(copy);
            }
        }
    }
}
