//! The listeners: accept, cap connections, hand each to a task, shut down
//! gracefully.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use minidom::Element;
use salesiq_session::{Authenticator, Directory, Gateway, OperatorRef, OperatorSink};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::error::{Error, StreamErrorCondition};
use crate::jids;
use crate::negotiation::{serve_direct_tls, serve_starttls};
use crate::relay::Relay;
use crate::router::{Outbound, Router};
use crate::shared::Shared;
use crate::sink::XmppSink;
use crate::tls::TlsIdentity;

/// How long shutdown waits for streams to close before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
    /// Binds the listeners `config` names, for a server without a chat
    /// domain (operators chat among themselves). See [`Server::builder`]
    /// for one with a [`Gateway`].
    pub async fn bind(
        config: Config,
        identity: TlsIdentity,
        authenticator: Arc<dyn Authenticator>,
        directory: Arc<dyn Directory>,
    ) -> Result<Self, Error> {
        Self::builder(config, identity, authenticator, directory)
            .bind()
            .await
    }

    /// A builder: everything a server needs, and optionally the chat
    /// domain, made with the server's sink so that nothing is left half
    /// wired.
    pub fn builder(
        config: Config,
        identity: TlsIdentity,
        authenticator: Arc<dyn Authenticator>,
        directory: Arc<dyn Directory>,
    ) -> ServerBuilder {
        ServerBuilder {
            config,
            identity,
            authenticator,
            directory,
            gateway: None,
            relay: None,
        }
    }

    /// The chat domain this server was built with.
    pub fn gateway(&self) -> Option<&Gateway> {
        self.shared.gateway.as_ref()
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
                (tcp, peer) = accept(starttls.as_ref()) => (tcp, peer, false),
                (tcp, peer) = accept(direct_tls.as_ref()) => (tcp, peer, true),
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

/// Makes the chat domain from the server's [`OperatorSink`].
pub(crate) type MakeGateway = Box<dyn FnOnce(Arc<dyn OperatorSink>) -> Gateway + Send>;

/// Builds a [`Server`], with or without a chat domain.
///
/// ```no_run
/// use std::sync::Arc;
/// use salesiq_session::{Gateway, MemoryAccounts, SqliteStore};
/// use salesiq_xmpp::{Config, Server, TlsIdentity};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(SqliteStore::open("gateway.sqlite3")?);
/// let accounts = Arc::new(MemoryAccounts::new());
/// let config = Config::new("salesiq.zoho.com");
/// let identity = TlsIdentity::self_signed(&config.domain)?;
/// let server = Server::builder(config, identity, accounts.clone(), accounts)
///     .gateway(move |sink| Gateway::new(store, sink))
///     .bind()
///     .await?;
/// let gateway = server.gateway().cloned(); // for the visitors' side
/// # Ok(()) }
/// ```
pub struct ServerBuilder {
    config: Config,
    identity: TlsIdentity,
    authenticator: Arc<dyn Authenticator>,
    directory: Arc<dyn Directory>,
    gateway: Option<MakeGateway>,
    relay: Option<Arc<dyn Relay>>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("gateway", &self.gateway.is_some())
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl ServerBuilder {
    /// The chat domain: `make` is given the server's sink and returns the
    /// gateway built on it. Messages to visitor and board contacts go to
    /// it, and operators' availability follows their presence.
    pub fn gateway(
        mut self,
        make: impl FnOnce(Arc<dyn OperatorSink>) -> Gateway + Send + 'static,
    ) -> Self {
        self.gateway = Some(Box::new(make));
        self
    }

    /// The other nodes (issue 14): presence broadcast here, answers to
    /// initial presence, and messages and directed presence to
    /// colleagues' (and the operator's own) resources not bound here go
    /// through `relay` too; what it brings back from other nodes goes
    /// to [`ServerHandle::deliver`] and [`ServerHandle::remote_presence`].
    /// Without one (the default), the server knows only its own
    /// resources.
    pub fn relay(mut self, relay: Arc<dyn Relay>) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Binds the listeners the configuration names.
    pub async fn bind(self) -> Result<Server, Error> {
        let Self {
            config,
            identity,
            authenticator,
            directory,
            gateway,
            relay,
        } = self;
        let acceptor = TlsAcceptor::from(identity.server_config()?);
        let starttls = match config.starttls_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let direct_tls = match config.direct_tls_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let (shared, shutdown) = share(config, acceptor, authenticator, directory, gateway, relay);
        Ok(Server {
            shared,
            shutdown,
            starttls,
            direct_tls,
        })
    }
}

/// What the connection tasks share, with the chat domain made on its
/// sink, and the sender that tells them to shut down.
pub(crate) fn share(
    config: Config,
    acceptor: TlsAcceptor,
    authenticator: Arc<dyn Authenticator>,
    directory: Arc<dyn Directory>,
    gateway: Option<MakeGateway>,
    relay: Option<Arc<dyn Relay>>,
) -> (Arc<Shared>, watch::Sender<bool>) {
    let (shutdown, watch) = watch::channel(false);
    let shared = Arc::new_cyclic(|weak| {
        let sink: Arc<dyn OperatorSink> = Arc::new(XmppSink {
            shared: weak.clone(),
            offers: Default::default(),
        });
        let gateway = gateway.map(|make| make(sink));
        Shared {
            throttle: salesiq_session::LoginThrottle::new(
                config.max_auth_failures,
                config.auth_throttle_window,
            ),
            config,
            authenticator,
            directory,
            acceptor,
            router: Router::default(),
            secret: rand::random(),
            shutdown: watch,
            offline: gateway.as_ref().map(|g| crate::offline::writer(g.clone())),
            archive: gateway
                .as_ref()
                .map(|g| crate::archive::Archiver::new(g.clone())),
            gateway,
            relay,
            resumable: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
            per_ip: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
        }
    });
    (shared, shutdown)
}

/// Tells a running [`Server`]'s connected operators about changes made
/// elsewhere (by the session layer or the embedder).
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// The chat domain the server was built with.
    pub fn gateway(&self) -> Option<&Gateway> {
        self.shared.gateway.as_ref()
    }

    /// The sink the server's gateway was built with: the chat domain's
    /// events as stanzas to this server's resources. For a glue that
    /// carries events from other nodes ([`salesiq_session::Cluster`]).
    pub fn sink(&self) -> Arc<dyn OperatorSink> {
        Arc::new(XmppSink {
            shared: Arc::downgrade(&self.shared),
            offers: Default::default(),
        })
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

    /// A stanza another node carries for this server's resources of `to`
    /// (what a [`Relay::forward`] there handed over): the resource named,
    /// if bound here, else (with `None`, or a named resource gone
    /// meanwhile) every available one (a message: with a non-negative
    /// priority, RFC 6121, 8.5.2.1.1). A directed presence to a named
    /// resource not here goes nowhere. Nothing is kept offline here: the
    /// sending node decided that.
    ///
    /// Hostile input is dropped, never a panic: anything but a
    /// `jabber:client` message or presence, a stanza whose `to` is not
    /// `to`'s JID, and one whose `from` is neither `to` nor a colleague
    /// of the same portal on the recipient's contact list.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use salesiq_session::{MemoryAccounts, OperatorRef};
    /// # use salesiq_xmpp::{Config, Server, TlsIdentity};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let mut config = Config::new("salesiq.zoho.com");
    /// # config.starttls_addr = Some("127.0.0.1:0".parse().unwrap());
    /// # config.direct_tls_addr = None;
    /// # let identity = TlsIdentity::self_signed(&config.domain).unwrap();
    /// # let accounts = Arc::new(MemoryAccounts::new());
    /// # let server = Server::bind(config, identity, accounts.clone(), accounts).await.unwrap();
    /// let bob = OperatorRef::new("demo", "bob.ops");
    /// let message: minidom::Element = "<message xmlns='jabber:client' type='chat' \
    ///     from='demo|alice.ops@salesiq.zoho.com/desk' to='demo|bob.ops@salesiq.zoho.com'>\
    ///     <body>Can you take chat 42?</body></message>".parse().unwrap();
    /// // Bob has no resource here: nothing happens.
    /// server.handle().deliver(&bob, None, message);
    /// # });
    /// ```
    pub fn deliver(&self, to: &OperatorRef, resource: Option<&str>, stanza: Element) {
        crate::relay::deliver(&self.shared, to, resource, stanza);
    }

    /// A presence broadcast by `from`'s `resource` on another node (what
    /// a [`Relay::presence`] there handed over): to every available
    /// resource here that has `from` among its contacts (the directory's
    /// colleagues of the same portal, as this server asked at bind and
    /// roster fetch: never another portal's operator) and to `from`'s
    /// own resources here, each copy with `from` set to `from`'s full JID
    /// and `to` to the recipient's. Anything but an available or
    /// `type='unavailable'` `jabber:client` presence is dropped, as is a
    /// resource no client could bind.
    pub fn remote_presence(&self, from: &OperatorRef, resource: &str, presence: Element) {
        crate::relay::remote_presence(&self.shared, from, resource, presence);
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
        let operator = salesiq_session::OperatorRef::new(&account.portal, username);
        let bare = jids::operator(&operator, &self.shared.config.domain);
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

/// Accepts from a listener, or never if there is none. An error (no file
/// descriptors left, say) is logged and retried after a pause that grows
/// to a second: a listener never stops accepting for good.
async fn accept(listener: Option<&TcpListener>) -> (TcpStream, SocketAddr) {
    let Some(listener) = listener else {
        return std::future::pending().await;
    };
    let mut pause = ACCEPT_PAUSE;
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(error) => {
                tracing::warn!(%error, ?pause, "accept failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The first pause after a failed accept.
const ACCEPT_PAUSE: Duration = Duration::from_millis(10);

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
