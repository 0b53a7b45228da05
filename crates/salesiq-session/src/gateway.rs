//! The `Gateway`: visitors ask for a chat, available operators are offered
//! it, the first `y` wins, and from then on text flows both ways while `#`
//! commands are executed for the operator and never reach the visitor.
//!
//! The gateway speaks in its own terms ([`OperatorRef`], [`ContactId`],
//! [`OperatorEvent`], [`VisitorEvent`]); a transport such as
//! `salesiq-xmpp` turns those into stanzas through an [`OperatorSink`],
//! and hands operator input in through the port ([`Gateway::submit`],
//! [`Gateway::device_available`]), which never waits for domain work.
//!
//! How it runs: every live chat is one task that owns its state (offers,
//! operator, guests, transfers, timers, cached locale and names) and
//! serialises everything said in it, so "the first `y` wins" holds by
//! construction. An index maps chats and visitor contacts to their task;
//! the operators' availability is a registry of its own. No lock is held
//! while the sink is called or the store is awaited. Connector calls
//! (`#crm`, `#support`) run beside the chat, and their answers come back to
//! it as messages: a slow vendor delays only that answer.
//!
//! Choices where the product description is silent:
//! * A chat asking for a department is offered to that department's
//!   operators ([`crate::Store::assign_department`]); a department nobody
//!   is assigned to is served by every operator of the portal.
//! * Operators are offered a chat when they take chats and have room for
//!   it (capacity, "taking chats", broadcast, round robin and least busy
//!   routing, first come first served: see the `routing` module's rules,
//!   summed up in [`Availability`] and [`crate::Routing`]); meanwhile the
//!   visitor is told they are queued, and their place in the queue. An
//!   offer shows on every device of the operator: a phone that comes
//!   online while the desktop was offered gets the offer too. A request
//!   nobody accepts within [`DEFAULT_QUEUE_TIMEOUT`] (five minutes, see
//!   [`Gateway::set_queue_timeout`]) ends, and the visitor is told nobody
//!   is available.
//! * Every device of an operator sees the visitors they are in or offered
//!   ([`Gateway::roster`], asked at every bind and roster fetch), and the
//!   portal's message board.
//! * Replies to commands come from the visitor contact, prefixed `[system]`
//!   (`[システム]` in Japanese portals), so they are clearly not the visitor.
//! * A line that starts with `#` is a command, and an operator who typed it
//!   was not typing for the visitor: a "composing" the visitor saw is
//!   cleared. Trailing line breaks are not relayed.
//! * Visitors are strangers: the chats one address may hold, the chats a
//!   portal queues, and how fast one visitor writes are bounded
//!   ([`VisitorLimits`], set with [`GatewayBuilder::visitor_limits`]); a
//!   refused request or line is stored nowhere.
//! * A store failure is logged and does not stop the chat: a line is still
//!   relayed, an end still tells everybody (the next start's
//!   [`Gateway::restore_chats`] settles the store).
//! * Chat events ([`GatewayBuilder::events`], for webhooks) carry, as
//!   JSON `data`: `chat.requested` `{chat, visitor, name, email,
//!   question, department}`; `chat.accepted` `{chat, visitor, operator,
//!   operator_name}` (`operator` is the username); `chat.ended` `{chat,
//!   visitor, operators, reason}`; `chat.missed` (ended with nobody
//!   accepting, instead of `chat.ended`) `{chat, visitor, name, email,
//!   question, department}`; `message.left` `{id, name, email, text,
//!   department}`. `chat` and `id` are the store's ids, `visitor` the
//!   visitor's number in the portal.
//! * Chats outlive the process: stopping ([`Gateway::shut_down`]) or
//!   crashing ends none, and the next start brings them back
//!   ([`Gateway::restore_chats`] says what comes back).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use salesiq_commands::Locale;
use salesiq_integrations::{Connectors, CrmConnector, HelpdeskConnector, PortalConnectors};
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument as _;

use crate::contact::{Activity, ContactId, DeviceId, OperatorRef};
use crate::directory::Contact;
use crate::model::{Author, ChatId, ChatState, Department, DepartmentId, Visitor};
use crate::store::Store;
pub use api::{
    ChatRequest, GatewayError, Numbered, OperatorEvent, OperatorInput, OperatorSink, PortError,
    RosterItem, VISITOR_QUEUE, VisitorChat, VisitorEvent,
};
use chat::{ChatTask, Msg};
use limits::Bucket;
pub use limits::VisitorLimits;
pub use routing::Availability;
use routing::Router;

mod afterwards;
pub use afterwards::{MAX_COMMENT_CHARS, RATE_WINDOW, TRANSCRIPTS_PER_CHAT};
mod api;
pub(crate) mod board;
mod canned;
mod chat;
mod cluster;
pub use cluster::{Cluster, Listing};
mod commands;
mod handover;
mod integrations;
mod limits;
mod offline;
pub use offline::LeaveMessage;
mod restore;
pub use restore::Restored;
mod routing;
mod text;

/// How long a chat request waits for an operator by default: five
/// minutes, after which the visitor is told nobody is available.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a chat waits for a visitor whose connection dropped to resume
/// it ([`Gateway::visitor_gone`], [`Gateway::resume_chat`]) by default:
/// two minutes, then it ends as "the visitor left".
pub const DEFAULT_VISITOR_GRACE: Duration = Duration::from_secs(120);

/// How many inputs (operator lines, visitor lines, typing) wait for one
/// chat before the port answers [`PortError::Busy`].
pub const CHAT_QUEUE: usize = 256;

/// The longest visitor line or question the gateway takes, in bytes
/// (after cleaning); longer ones are refused with [`GatewayError::TooLong`]
/// and stored nowhere.
pub const MAX_LINE_BYTES: usize = 4096;

/// How many chat requests one operator (every device of theirs) is
/// offered at once, whatever their capacity: more wait (and are offered
/// as these are taken, declined or end, oldest first). An operator with
/// room for 400 who comes online to 400 waiting chats is offered 20, not
/// flooded with 1,200 stanzas that once got their connection closed.
pub const MAX_OFFERS_PER_DEVICE: usize = 20;

/// How long a portal's capacity settings ([`crate::Portal::max_chats_per_operator`],
/// [`crate::Operator::max_chats`]) are used before the store is read
/// again, at the next chat request: changes apply within this.
pub const CAPACITY_REFRESH: Duration = Duration::from_secs(30);

/// The handle to the chat domain; cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

/// What the chat tasks and the handle share.
#[derive(Debug)]
pub(crate) struct Inner {
    /// How long a request waits for an operator's `y`, in milliseconds.
    queue_timeout_ms: AtomicU64,
    store: Arc<dyn Store>,
    sink: Arc<dyn OperatorSink>,
    connectors: Arc<dyn Connectors>,
    index: Mutex<Index>,
    /// Who is present, who takes chats, and who is offered what.
    router: Mutex<Router>,
    board: mpsc::Sender<board::Post>,
    limits: VisitorLimits,
    visitor_grace: Duration,
    /// When each portal's archive was last pruned (one entry per portal
    /// that archived since; cleared past [`PRUNED_PORTALS`]).
    pruned: Mutex<HashMap<String, tokio::time::Instant>>,
    /// The other nodes, if this gateway is one of many.
    cluster: Option<Arc<dyn Cluster>>,
    /// Held while chats of other nodes are taken over.
    takeover: tokio::sync::Mutex<()>,
    /// Where messages left and missed chats are mailed.
    mailer: Option<Arc<dyn salesiq_integrations::Mailer>>,
    /// Whether a request that finds nobody taking chats is answered
    /// "leave a message" (else it queues).
    offline_when_nobody: bool,
    /// Messages left per address this hour.
    left: Mutex<offline::MessageCounts>,
    /// Where chat events go (webhooks).
    events: Option<Arc<dyn salesiq_integrations::ChatEvents>>,
    /// Chats that ended lately, for their ratings.
    rateable: Mutex<afterwards::Ended>,
    /// Transcripts mailed per chat.
    transcripts: Mutex<HashMap<ChatId, u32>>,
}

/// How often a portal's archive is pruned at most.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How many portals' last prune is remembered before the memory starts
/// afresh (then each prunes once more).
const PRUNED_PORTALS: usize = 10_000;

/// The live chats, by id and by visitor contact.
#[derive(Debug, Default)]
struct Index {
    chats: HashMap<ChatId, Entry>,
    visitors: HashMap<ContactId, ChatId>,
    /// The live chats by the SHA-256 of their resume tokens
    /// ([`token_hash`]): the tokens themselves are kept nowhere.
    tokens: HashMap<String, ChatId>,
    /// Chats that ended with a word for the visitor, by token hash, for a
    /// visitor who comes back within the grace: they get the end.
    ended: HashMap<String, Tombstone>,
    /// Requests being made (stored, not yet live), by reservation number:
    /// their portal and address, counted against [`VisitorLimits`].
    pending: HashMap<u64, (String, Option<String>)>,
    next_pending: u64,
}

/// What a visitor who comes back after their chat ended is told.
#[derive(Debug)]
struct Tombstone {
    portal: String,
    chat: ChatId,
    number: i64,
    /// The chat's last content events, `ended` last.
    events: Vec<(u64, VisitorEvent)>,
    until: tokio::time::Instant,
}

/// How many of its last content events an ended chat keeps for a
/// visitor who comes back.
const TOMBSTONE_EVENTS: usize = 20;

/// What the handle knows of a live chat without asking its task.
#[derive(Debug)]
struct Entry {
    portal: String,
    tx: mpsc::Sender<Msg>,
    /// Wakes the task to look at who is available.
    wake: Arc<Notify>,
    /// The visitor contact as the roster shows it.
    item: RosterItem,
    /// Who has the contact on their list: members, offered, asked.
    audience: HashSet<OperatorRef>,
    /// Whether nobody has accepted yet.
    waiting: bool,
    /// The visitor's address, counted against [`VisitorLimits`].
    ip: Option<String>,
    /// The visitor's lines.
    lines: Bucket,
    /// The SHA-256 of the visitor's resume token.
    token_hash: String,
}

/// Builds a [`Gateway`]: the store and the sink are required, the rest
/// has defaults (empty in-memory connectors, [`DEFAULT_QUEUE_TIMEOUT`]).
#[derive(Debug)]
pub struct GatewayBuilder {
    store: Arc<dyn Store>,
    connectors: Arc<dyn Connectors>,
    queue_timeout: Duration,
    limits: VisitorLimits,
    visitor_grace: Duration,
    cluster: Option<Arc<dyn Cluster>>,
    mailer: Option<Arc<dyn salesiq_integrations::Mailer>>,
    offline_when_nobody: bool,
    events: Option<Arc<dyn salesiq_integrations::ChatEvents>>,
}

impl GatewayBuilder {
    /// Where the chat events of every portal are published (issue 15,
    /// webhooks: `salesiq_integrations::WebhookSender` delivers them to
    /// each portal's own endpoints): `chat.requested`, `chat.accepted`,
    /// `chat.ended`, `chat.missed`, `message.left` (`chat.rated` once
    /// ratings come). Publishing never waits. The data of each is
    /// documented on [`Gateway`]'s module (see "Chat events").
    pub fn events(mut self, events: Arc<dyn salesiq_integrations::ChatEvents>) -> Self {
        self.events = Some(events);
        self
    }

    /// Where messages left and missed chats are mailed, to each portal's
    /// [`crate::Portal::notify`] addresses (issue 15). Without one, they
    /// are stored and made tickets, and mailed to nobody.
    pub fn mailer(mut self, mailer: Arc<dyn salesiq_integrations::Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Whether a chat request that finds nobody of its department (or
    /// portal) taking chats is refused with [`GatewayError::Offline`], so
    /// that the visitor may leave a message (`true`, the default), or
    /// queues until somebody comes (`false`). Opening hours apply either
    /// way.
    pub fn offline_when_nobody(mut self, offline: bool) -> Self {
        self.offline_when_nobody = offline;
        self
    }

    /// One node of many (issue 14): chats of other nodes, devices on
    /// other nodes and operator input for them go through `cluster`
    /// (see [`Cluster`]). Without it the gateway is alone.
    pub fn cluster(mut self, cluster: Arc<dyn Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// One CRM and one helpdesk for `#crm` and `#support` in every
    /// portal: for a single tenant, or tenants who share the vendor
    /// accounts. See [`GatewayBuilder::portal_connectors`] for tenants
    /// with accounts of their own.
    pub fn connectors(
        self,
        crm: Arc<dyn CrmConnector>,
        helpdesk: Arc<dyn HelpdeskConnector>,
    ) -> Self {
        self.portal_connectors(Arc::new(PortalConnectors::new(crm, helpdesk)))
    }

    /// Each portal's CRM and helpdesk: every `#crm` and `#support`
    /// command asks `connectors` with the chat's portal, so one company's
    /// operators never query another company's vendor account.
    pub fn portal_connectors(mut self, connectors: Arc<dyn Connectors>) -> Self {
        self.connectors = connectors;
        self
    }

    /// How long a request waits for an operator's `y`.
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// How long a chat waits for a visitor whose connection dropped
    /// (default [`DEFAULT_VISITOR_GRACE`]).
    pub fn visitor_grace(mut self, grace: Duration) -> Self {
        self.visitor_grace = grace;
        self
    }

    /// What visitors may ask of the gateway (default
    /// [`VisitorLimits::default`]).
    pub fn visitor_limits(mut self, limits: VisitorLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The gateway, telling operators through `sink`. Must be called
    /// within a tokio runtime (the board has a task of its own).
    pub fn build(self, sink: Arc<dyn OperatorSink>) -> Gateway {
        let (board, posts) = mpsc::channel(CHAT_QUEUE);
        let inner = Arc::new(Inner {
            queue_timeout_ms: AtomicU64::new(millis(self.queue_timeout)),
            store: self.store,
            sink,
            connectors: self.connectors,
            index: Mutex::default(),
            router: Mutex::default(),
            board,
            limits: self.limits,
            visitor_grace: self.visitor_grace,
            pruned: Mutex::default(),
            cluster: self.cluster,
            takeover: tokio::sync::Mutex::new(()),
            mailer: self.mailer,
            offline_when_nobody: self.offline_when_nobody,
            left: Mutex::default(),
            events: self.events,
            rateable: Mutex::default(),
            transcripts: Mutex::default(),
        });
        tokio::spawn(board::run(Arc::downgrade(&inner), posts));
        Gateway { inner }
    }
}

/// 128 random bits, hex: a chat's resume token.
fn resume_token() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of a resume token, lower-case hex: what the index and the
/// store know a chat's token by.
pub(crate) fn token_hash(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A waiter for a chat task's answer to one input.
pub(crate) type Done = Option<oneshot::Sender<Result<(), GatewayError>>>;

impl Gateway {
    /// A builder over `store`.
    pub fn builder(store: Arc<dyn Store>) -> GatewayBuilder {
        GatewayBuilder {
            store,
            connectors: Arc::new(PortalConnectors::default()),
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            limits: VisitorLimits::default(),
            visitor_grace: DEFAULT_VISITOR_GRACE,
            cluster: None,
            mailer: None,
            offline_when_nobody: true,
            events: None,
        }
    }

    /// A gateway over `store`, telling operators through `sink`, with
    /// empty in-memory connectors.
    pub fn new(store: Arc<dyn Store>, sink: Arc<dyn OperatorSink>) -> Self {
        Self::builder(store).build(sink)
    }

    /// A gateway with a CRM and a helpdesk for `#crm` and `#support`.
    pub fn with_connectors(
        store: Arc<dyn Store>,
        sink: Arc<dyn OperatorSink>,
        crm: Arc<dyn CrmConnector>,
        helpdesk: Arc<dyn HelpdeskConnector>,
    ) -> Self {
        Self::builder(store).connectors(crm, helpdesk).build(sink)
    }

    /// How long a chat request waits for an operator to accept before the
    /// visitor is told nobody is available and the chat ends (default
    /// [`DEFAULT_QUEUE_TIMEOUT`]); applies to requests made from now on.
    pub fn set_queue_timeout(&self, timeout: Duration) {
        let millis = millis(timeout);
        self.inner.queue_timeout_ms.store(millis, Ordering::Relaxed);
    }

    /// Ends, in the store, every chat left waiting or active by an earlier
    /// run of the process (its visitors and operators are gone); call it
    /// once at start. Returns how many there were. In a cluster, only the
    /// chats the store says this node owns, and that it does not run:
    /// other nodes' chats go on.
    pub async fn close_unfinished_chats(&self) -> Result<usize, GatewayError> {
        let store = &self.inner.store;
        let live: HashSet<ChatId> = self.inner.index().chats.keys().copied().collect();
        // In a cluster, an unfinished chat may be another node's: only
        // those this node owns in the store are its to end.
        let mine: Option<HashSet<ChatId>> = match self.inner.node() {
            Some(me) => Some(
                store
                    .live_chats()
                    .await?
                    .into_iter()
                    .filter(|l| l.owner.as_deref() == Some(me))
                    .map(|l| l.chat)
                    .collect(),
            ),
            None => None,
        };
        let stale: Vec<ChatId> = store
            .unfinished_chats()
            .await?
            .into_iter()
            .filter(|c| !live.contains(c) && mine.as_ref().is_none_or(|m| m.contains(c)))
            .collect();
        for chat in &stale {
            store
                .add_line(*chat, &Author::System, "Chat ended: the server restarted")
                .await?;
            store.set_chat_state(*chat, ChatState::Ended).await?;
        }
        Ok(stale.len())
    }

    /// Stops every live chat's task because the process is stopping,
    /// keeping the chat in the store: the next start brings it back
    /// ([`Gateway::restore_chats`]) and its visitor resumes. Visitors'
    /// event channels close (the web page reconnects and resumes);
    /// operators are told nothing (their connections close next, and
    /// they find the visitor again when they log in). Call it before
    /// stopping the transport. Returns how many chats were kept.
    pub async fn shut_down(&self) -> Result<usize, GatewayError> {
        let live: Vec<mpsc::Sender<Msg>> = self
            .inner
            .index()
            .chats
            .values()
            .map(|entry| entry.tx.clone())
            .collect();
        let mut ended = 0;
        for tx in live {
            let (done, answer) = oneshot::channel();
            if tx.send(Msg::ShutDown(Some(done))).await.is_ok()
                && matches!(answer.await, Ok(Ok(())))
            {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// An operator became available and takes chats (or is gone), as a
    /// whole: the embedder's call for an operator with one device. Returns
    /// once every waiting chat of the portal has offered itself. See
    /// [`Gateway::set_availability`] for "present, not taking chats".
    pub async fn set_available(&self, operator: &OperatorRef, available: bool) {
        let availability = if available {
            Availability::Taking
        } else {
            Availability::Unavailable
        };
        self.set_availability(operator, availability).await;
    }

    /// [`Gateway::set_available`] with the three states of
    /// [`Availability`]. Returns once every waiting chat of the portal has
    /// shown what it changed.
    pub async fn set_availability(&self, operator: &OperatorRef, availability: Availability) {
        let mut woken = self
            .inner
            .device_presence(operator, DeviceId::default(), availability);
        woken.extend(
            self.inner
                .index()
                .chats
                .values()
                .filter(|e| e.waiting && e.portal == operator.portal())
                .map(|e| e.tx.clone()),
        );
        for tx in woken {
            let (done, answer) = oneshot::channel();
            if tx.send(Msg::Sync(done)).await.is_ok() {
                let _ = answer.await;
            }
        }
    }

    /// The port: one device of an operator became available and takes
    /// chats (`true`) or is gone (`false`). Never waits. Transports that
    /// know "away" use [`Gateway::device_presence`].
    pub fn device_available(&self, operator: &OperatorRef, device: DeviceId, available: bool) {
        let availability = if available {
            Availability::Taking
        } else {
            Availability::Unavailable
        };
        drop(self.inner.device_presence(operator, device, availability));
    }

    /// The port: what one device of an operator says (XMPP presence:
    /// plain or `chat` takes chats; `away`, `xa`, `dnd` is present but
    /// takes none; `unavailable` is gone). Never waits: the chats it
    /// concerns are woken to show the change.
    pub fn device_presence(
        &self,
        operator: &OperatorRef,
        device: DeviceId,
        availability: Availability,
    ) {
        drop(self.inner.device_presence(operator, device, availability));
    }

    /// Whether `operator` takes chats now: a device says so, and they
    /// were not paused for letting two offers in a row time out.
    pub fn is_taking_chats(&self, operator: &OperatorRef) -> bool {
        self.inner.routing().is_taking(operator)
    }

    /// How many chats `operator` is in on this node (as the operator or a
    /// guest): what their capacity counts.
    pub fn chats_of(&self, operator: &OperatorRef) -> usize {
        self.inner.routing().load(operator)
    }

    /// A message for an operator with no connected device (a visitor's
    /// line, a `[system]` reply, a colleague's message): kept in the store
    /// for their next login (XEP-0160). The transport calls it, in the
    /// order the messages came.
    pub async fn keep_for_later(
        &self,
        to: &OperatorRef,
        from: &ContactId,
        text: &str,
    ) -> Result<(), GatewayError> {
        let message =
            crate::OfflineMessage::new(chrono::Utc::now(), from.clone(), &crate::clean_text(text));
        self.inner.store.add_offline(to, &message).await?;
        Ok(())
    }

    /// What was kept for `operator` while no device of theirs was
    /// connected, oldest first; taken, so the next call finds nothing.
    pub async fn offline_messages(
        &self,
        operator: &OperatorRef,
    ) -> Result<Vec<crate::OfflineMessage>, GatewayError> {
        Ok(self.inner.store.take_offline(operator).await?)
    }

    /// Adds a message to `owner`'s archive (XEP-0313): the transport calls
    /// it for every message with a body to or from an operator, once per
    /// operator, with the id it assigned ([`crate::archive_id`]). The text
    /// is cleaned ([`crate::clean_text`]).
    ///
    /// Retention: the first archived message of a portal, and then at most
    /// one an hour (tokio's clock), starts a prune of that portal's
    /// archives beside it, of everything older than the portal's
    /// [`crate::Portal::archive_days`]. Pruning lazily on writes needs no
    /// task and no list of portals, and a portal nobody writes to is
    /// never read past its retention anyway: [`Gateway::archived`] clamps
    /// every query to it.
    pub async fn archive(
        &self,
        owner: &OperatorRef,
        message: &crate::ArchivedMessage,
    ) -> Result<(), GatewayError> {
        let mut message = message.clone();
        message.text = crate::clean_text(&message.text);
        self.inner.store.archive(owner, &message).await?;
        self.prune_now_and_then(owner.portal());
        Ok(())
    }

    /// [`Gateway::archive`] for many messages at once (each with its
    /// owner), in one write where the store can ([`Store::archive_all`]):
    /// what the transport's writer found queued.
    pub async fn archive_all(
        &self,
        messages: Vec<(OperatorRef, crate::ArchivedMessage)>,
    ) -> Result<(), GatewayError> {
        let mut messages = messages;
        for (_, message) in &mut messages {
            message.text = crate::clean_text(&message.text);
        }
        self.inner.store.archive_all(&messages).await?;
        let portals: BTreeSet<&str> = messages.iter().map(|(o, _)| o.portal()).collect();
        for portal in portals {
            self.prune_now_and_then(portal);
        }
        Ok(())
    }

    /// Starts a prune of `portal`'s archives unless one started within
    /// [`PRUNE_EVERY`].
    fn prune_now_and_then(&self, portal: &str) {
        let now = tokio::time::Instant::now();
        {
            let mut pruned = self.inner.pruned.lock().unwrap_or_else(|e| e.into_inner());
            if pruned
                .get(portal)
                .is_some_and(|last| now.duration_since(*last) < PRUNE_EVERY)
            {
                return;
            }
            if pruned.len() >= PRUNED_PORTALS {
                pruned.clear();
            }
            pruned.insert(portal.to_owned(), now);
        }
        let inner = self.inner.clone();
        let portal = portal.to_owned();
        tokio::spawn(async move {
            let horizon = inner.archive_horizon(&portal).await;
            match inner.store.prune_archive(&portal, horizon).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(%portal, pruned = n, "old archived messages forgotten"),
                Err(error) => tracing::warn!(%portal, %error, "the archive was not pruned"),
            }
        });
    }

    /// A page of `owner`'s archive, never older than their portal keeps
    /// ([`crate::Portal::archive_days`]): `start` is clamped to it. An
    /// `after` or `before` id the archive does not have is
    /// [`GatewayError::Store`] with [`crate::StoreError::NotFound`].
    pub async fn archived(
        &self,
        owner: &OperatorRef,
        query: &crate::ArchiveQuery,
    ) -> Result<crate::ArchivePage, GatewayError> {
        let horizon = self.inner.archive_horizon(owner.portal()).await;
        let mut query = query.clone();
        query.start = Some(query.start.map_or(horizon, |start| start.max(horizon)));
        Ok(self.inner.store.archived(owner, &query).await?)
    }

    /// How long a chat waits for a visitor whose connection dropped.
    pub fn visitor_grace(&self) -> Duration {
        self.inner.visitor_grace
    }

    /// Whether any device of `operator` is available.
    pub fn is_available(&self, operator: &OperatorRef) -> bool {
        self.inner.is_available(operator)
    }

    /// The gateway's contacts for `operator`'s list: the portal's message
    /// board, then every visitor whose chat they are in, are offered, or
    /// are asked to join. Asked by the transport at every bind and roster
    /// fetch, for every device.
    pub fn roster(&self, operator: &OperatorRef) -> Vec<RosterItem> {
        let mut items = vec![RosterItem {
            contact: board::board_contact(operator.portal()),
            status: board::STATUS.to_owned(),
        }];
        let index = self.inner.index();
        let visitors: Vec<&Entry> = index
            .chats
            .values()
            .filter(|e| e.portal == operator.portal() && e.audience.contains(operator))
            .collect();
        let mut visitors: Vec<RosterItem> = visitors.into_iter().map(|e| e.item.clone()).collect();
        drop(index);
        if let Some(cluster) = &self.inner.cluster {
            let here: HashSet<ContactId> = visitors.iter().map(|i| i.contact.id.clone()).collect();
            visitors.extend(cluster.roster(operator).into_iter().filter(|item| {
                item.contact.id.portal() == operator.portal() && !here.contains(&item.contact.id)
            }));
        }
        visitors.sort_by(|a, b| a.contact.id.cmp(&b.contact.id));
        items.extend(visitors);
        items
    }

    /// The port: what an operator's device typed to a contact of the
    /// gateway (a visitor or the board). Never waits: the input is queued
    /// for the chat's task, and whatever it leads to comes back through
    /// the sink.
    pub fn submit(
        &self,
        operator: &OperatorRef,
        device: DeviceId,
        to: &ContactId,
        input: OperatorInput,
    ) -> Result<(), PortError> {
        let input = input.cleaned();
        let route = match self.inner.route(operator, to) {
            Err(PortError::NoSuchChat) if matches!(to, ContactId::Visitor { .. }) => {
                // Not a chat of this node: perhaps another node's.
                return match &self.inner.cluster {
                    Some(cluster) if to.portal() == operator.portal() => {
                        cluster.forward(operator, device, to, input)
                    }
                    _ => Err(PortError::NoSuchChat),
                };
            }
            route => route?,
        };
        match route {
            Route::Chat(tx) => {
                let message = Msg::Operator {
                    from: operator.clone(),
                    input,
                    done: None,
                };
                tx.try_send(message).map_err(|_| {
                    tracing::warn!(%operator, device = device.0, "a chat's queue is full");
                    PortError::Busy
                })
            }
            Route::Board => match input {
                OperatorInput::Text(text) => self.inner.board_post(operator, text, None),
                OperatorInput::ChatState(_) => Ok(()),
            },
        }
    }

    /// An operator wrote `text` to the contact `to` (a visitor or the
    /// board): the embedder's call, which returns once the gateway has
    /// handled it.
    ///
    /// Only operators of the chat's portal reach it ([`GatewayError::NoSuchChat`]
    /// otherwise); only the operator who accepted (and guests) may write to
    /// the visitor or run commands. Errors in commands are answered to the
    /// operator with the usage line and never reach the visitor.
    pub async fn operator_says(
        &self,
        operator: &OperatorRef,
        to: &ContactId,
        text: &str,
    ) -> Result<(), GatewayError> {
        self.operator_input(operator, to, OperatorInput::Text(text.to_owned()))
            .await
    }

    /// An operator's chat state in a visitor's window (typing, stopped...):
    /// the visitor sees it. Returns once handled.
    pub async fn operator_chat_state(
        &self,
        operator: &OperatorRef,
        to: &ContactId,
        state: Activity,
    ) -> Result<(), GatewayError> {
        self.operator_input(operator, to, OperatorInput::ChatState(state))
            .await
    }

    async fn operator_input(
        &self,
        operator: &OperatorRef,
        to: &ContactId,
        input: OperatorInput,
    ) -> Result<(), GatewayError> {
        let input = input.cleaned();
        let (done, answer) = oneshot::channel();
        match self.inner.route(operator, to)? {
            Route::Chat(tx) => {
                let message = Msg::Operator {
                    from: operator.clone(),
                    input,
                    done: Some(done),
                };
                tx.send(message)
                    .await
                    .map_err(|_| GatewayError::NoSuchChat)?;
            }
            Route::Board => {
                let OperatorInput::Text(text) = input else {
                    return Ok(());
                };
                self.inner.board_post(operator, text, Some(done))?;
            }
        }
        answer.await.unwrap_or(Err(GatewayError::NoSuchChat))
    }

    /// Sends `message` to a chat's task and waits until it is handled.
    async fn to_chat(
        &self,
        chat: ChatId,
        message: impl FnOnce(Done) -> Msg,
    ) -> Result<(), GatewayError> {
        let tx = self.inner.chat(chat).ok_or(GatewayError::NoSuchChat)?;
        let (done, answer) = oneshot::channel();
        tx.send(message(Some(done)))
            .await
            .map_err(|_| GatewayError::NoSuchChat)?;
        answer.await.unwrap_or(Err(GatewayError::NoSuchChat))
    }

    /// The visitor wrote: to the operators, and into the transcript.
    /// Returns once handled.
    pub async fn visitor_says(&self, chat: ChatId, text: &str) -> Result<(), GatewayError> {
        let text = crate::clean_text(text);
        if text.len() > MAX_LINE_BYTES {
            return Err(GatewayError::TooLong {
                max: MAX_LINE_BYTES,
            });
        }
        self.inner.take_line(chat)?;
        self.to_chat(chat, |done| Msg::VisitorText(text, done))
            .await
    }

    /// The visitor's chat state (typing, stopped...): the operators see it,
    /// and it counts as activity for a timed end.
    pub async fn visitor_typing(&self, chat: ChatId, state: Activity) -> Result<(), GatewayError> {
        self.to_chat(chat, |done| Msg::VisitorState(state, done))
            .await
    }

    /// The visitor moved to another page: remembered (and shown by
    /// `#info`); it counts as activity.
    pub async fn visitor_page(&self, chat: ChatId, url: &str) -> Result<(), GatewayError> {
        let url: String = crate::clean_line(url)
            .chars()
            .take(crate::VisitorDetails::MAX_FIELD_CHARS)
            .collect();
        self.inner.take_line(chat)?;
        self.to_chat(chat, |done| Msg::VisitorPage(url, done)).await
    }

    /// The visitor left: the chat ends and the operators are told.
    pub async fn visitor_leaves(&self, chat: ChatId) -> Result<(), GatewayError> {
        self.to_chat(chat, Msg::VisitorLeft).await
    }

    /// The visitor's connection dropped (a page load, a link followed, a
    /// phone in a tunnel): the chat waits for [`Gateway::resume_chat`] for
    /// the grace period ([`GatewayBuilder::visitor_grace`]), then ends as
    /// "the visitor left". Operators are not told of short gaps.
    ///
    /// Said of a connection the visitor already replaced by resuming
    /// elsewhere (a reload whose new socket came first), it changes
    /// nothing.
    pub async fn visitor_gone(&self, chat: &VisitorChat) -> Result<(), GatewayError> {
        let connection = chat.connection;
        self.to_chat(chat.chat, |done| Msg::VisitorGone(connection, done))
            .await
    }

    /// The visitor is back with the chat's resume token
    /// ([`VisitorChat::resume_token`]) and the number of the last content
    /// event they saw: a new [`VisitorChat`] whose first events are those
    /// they missed (and `Queued` while nobody has accepted), in order, then
    /// live ones. The previous `VisitorChat` of the chat gets no more
    /// events. A chat that ended with a word for the visitor while they
    /// were away is resumed, within the grace, as its last content events
    /// after `after` (the `Ended` among them), then nothing.
    /// [`GatewayError::BadToken`] when no chat of `portal` has this token,
    /// or the visitor saw its end already.
    pub async fn resume_chat(
        &self,
        portal: &str,
        token: &str,
        after: u64,
    ) -> Result<VisitorChat, GatewayError> {
        let hash = token_hash(token);
        let found = match self.inner.running(portal, &hash) {
            Some(found) => found,
            None => match self.inner.unbury(portal, token, &hash, after) {
                // Perhaps a chat of another node, which this one takes over.
                Err(GatewayError::BadToken) if self.take_over(portal, &hash).await? => self
                    .inner
                    .running(portal, &hash)
                    .ok_or(GatewayError::BadToken)?,
                buried => return buried,
            },
        };
        let (chat, visitor_number, tx) = found;
        let (reply, answer) = oneshot::channel();
        tx.send(Msg::Resume { after, reply })
            .await
            .map_err(|_| GatewayError::BadToken)?;
        let (connection, events) = answer.await.unwrap_or(Err(GatewayError::BadToken))?;
        Ok(VisitorChat {
            chat,
            visitor_number,
            resume: token.to_owned(),
            connection,
            events,
        })
    }

    /// A visitor asks for a chat: stored, and offered to every available
    /// operator (and device) of the portal or the department.
    pub async fn request_chat(&self, request: ChatRequest) -> Result<VisitorChat, GatewayError> {
        // What XML cannot carry, and line breaks in one-line fields, never
        // enter the domain (a name like "Ann\n[system] ..." forges nothing).
        let mut request = request;
        request.details = request.details.cleaned();
        request.question = crate::clean_line(&request.question);
        request.department = request.department.as_deref().map(crate::clean_line);
        if request.question.len() > MAX_LINE_BYTES {
            return Err(GatewayError::TooLong {
                max: MAX_LINE_BYTES,
            });
        }
        // Counted from here on, so that parallel requests cannot slip past
        // a bound together; released if the request fails.
        let reservation = self
            .inner
            .reserve(&request.portal, request.details.ip.as_deref())?;
        let store = &self.inner.store;
        // Requests to portals that do not exist are neither queued nor stored.
        let Some(portal) = store.portal(&request.portal).await? else {
            return Err(GatewayError::UnknownPortal(request.portal));
        };
        if let Some(ip) = &request.details.ip
            && store.is_blocked(&request.portal, ip).await?
        {
            return Err(GatewayError::Blocked);
        }
        let department = match &request.department {
            Some(name) => {
                let departments = store.departments(&request.portal).await?;
                let found = departments
                    .into_iter()
                    .find(|d| d.name.to_lowercase() == name.to_lowercase());
                Some(found.ok_or_else(|| GatewayError::UnknownDepartment(name.clone()))?)
            }
            None => None,
        };
        let eligible = match &department {
            Some(department) => self.inner.department_operators(department.id).await?,
            None => None,
        };
        if let Some(closed) =
            self.inner
                .closed(&request.portal, department.as_ref(), eligible.as_ref())
        {
            return Err(GatewayError::Offline {
                message: offline::offline_text(Locale::from_tag(&portal.locale), &closed),
            });
        }
        let (visitor, chat) = store
            .open_chat(
                &request.portal,
                &request.details,
                department.as_ref().map(|d| d.id),
                &request.question,
            )
            .await?;
        let token = resume_token();
        let launch = Launch {
            chat: chat.id,
            portal: request.portal.clone(),
            visitor,
            question: request.question.clone(),
            department,
            eligible,
            token_hash: token_hash(&token),
            reservation: Some(reservation.0),
        };
        self.inner.refresh_capacity(&request.portal).await;
        let (mut task, events) = self.launch(launch).await;
        task.enqueue();
        task.tell_visitor(VisitorEvent::Queued {
            position: task.position,
        });
        task.offer_to_available();
        let (id, number) = (task.id, task.number);
        self.inner.publish(
            salesiq_integrations::EventKind::ChatRequested,
            &request.portal,
            serde_json::json!({
                "chat": id.0,
                "visitor": number,
                "name": request.details.name,
                "email": request.details.email,
                "question": request.question,
                "department": task.department.as_ref().map(|d| d.name.clone()),
            }),
        );
        let span = tracing::info_span!("chat", id = id.0, portal = %request.portal);
        tokio::spawn(task.run().instrument(span));
        Ok(VisitorChat {
            chat: id,
            visitor_number: number,
            resume: token,
            connection: 0,
            events,
        })
    }

    /// A chat's task, not yet running, and the channel of its events for
    /// the visitor: in the index from now on.
    async fn launch(&self, launch: Launch) -> (ChatTask, mpsc::Receiver<Numbered>) {
        let Launch {
            chat,
            portal,
            visitor,
            question,
            department,
            eligible,
            token_hash,
            reservation,
        } = launch;
        let contact_id = ContactId::visitor(&portal, visitor.number);
        let name = format!("{} (#{})", visitor.details.name, visitor.number);
        let status = match &department {
            Some(department) => format!("{question} — {}", department.name),
            None => question.clone(),
        };
        let locale = self.inner.locale(&portal).await;
        let (to_visitor, events) = mpsc::channel(VISITOR_QUEUE);
        let (tx, rx) = mpsc::channel(CHAT_QUEUE);
        let wake = Arc::new(Notify::new());
        let item = RosterItem {
            contact: Contact::new(contact_id.clone(), &name, "Visitors"),
            status,
        };
        let queue_timeout =
            Duration::from_millis(self.inner.queue_timeout_ms.load(Ordering::Relaxed));
        {
            let mut index = self.inner.index();
            index.visitors.insert(contact_id, chat);
            index.chats.insert(
                chat,
                Entry {
                    portal: portal.clone(),
                    tx: tx.clone(),
                    wake: wake.clone(),
                    item: item.clone(),
                    audience: HashSet::new(),
                    waiting: true,
                    ip: visitor.details.ip.clone(),
                    lines: self.inner.limits.bucket(),
                    token_hash: token_hash.clone(),
                },
            );
            index.tokens.insert(token_hash.clone(), chat);
            if let Some(reservation) = reservation {
                index.pending.remove(&reservation);
            }
        }
        let task = ChatTask::new(chat::Setup {
            inner: self.inner.clone(),
            id: chat,
            portal,
            locale,
            item,
            visitor: visitor.id,
            details: visitor.details,
            number: visitor.number,
            to_visitor,
            token_hash,
            grace: self.inner.visitor_grace,
            eligible,
            department,
            question,
            tx,
            rx,
            wake,
            queue_timeout,
        });
        (task, events)
    }
}

/// What a chat's task starts from: a new request, or a chat a restart
/// brings back.
struct Launch {
    chat: ChatId,
    portal: String,
    visitor: Visitor,
    question: String,
    department: Option<Department>,
    eligible: Option<HashSet<OperatorRef>>,
    token_hash: String,
    /// The request's reservation, released as the chat goes live.
    reservation: Option<u64>,
}

/// A request counted against the [`VisitorLimits`] until it is live (or
/// failed).
struct Reservation<'a>(u64, &'a Inner);

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.1.index().pending.remove(&self.0);
    }
}

/// Where operator input for a contact goes.
enum Route {
    Chat(mpsc::Sender<Msg>),
    Board,
}

impl Inner {
    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn routing(&self) -> MutexGuard<'_, Router> {
        self.router.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the routing state with `change`, offers `portal`'s waiting
    /// chats anew, and wakes every chat whose offers or place changed;
    /// returns their tasks.
    pub(super) fn reroute(
        &self,
        portal: &str,
        change: impl FnOnce(&mut Router),
    ) -> Vec<mpsc::Sender<Msg>> {
        let dirty = {
            let mut router = self.routing();
            change(&mut router);
            router.dispatch(portal, tokio::time::Instant::now());
            router.take_dirty()
        };
        if dirty.is_empty() {
            return Vec::new();
        }
        let index = self.index();
        dirty
            .iter()
            .filter_map(|chat| index.chats.get(chat))
            .map(|entry| {
                entry.wake.notify_one();
                entry.tx.clone()
            })
            .collect()
    }

    /// Reads a portal's capacity settings from the store, unless they
    /// were read within [`CAPACITY_REFRESH`].
    pub(super) async fn refresh_capacity(&self, portal: &str) {
        let now = tokio::time::Instant::now();
        let fresh = self
            .routing()
            .capacity_read_at(portal)
            .is_some_and(|at| now.duration_since(at) < CAPACITY_REFRESH);
        if fresh {
            return;
        }
        let default = match self.store.portal(portal).await {
            Ok(Some(found)) => found.max_chats_per_operator,
            Ok(None) => crate::model::DEFAULT_MAX_CHATS,
            Err(error) => {
                tracing::warn!(%portal, %error, "capacity unknown; the default it is");
                crate::model::DEFAULT_MAX_CHATS
            }
        };
        let own = match self.store.operators(portal).await {
            Ok(operators) => operators
                .into_iter()
                .filter_map(|o| Some((o.username?, o.max_chats?)))
                .collect(),
            Err(error) => {
                tracing::warn!(%portal, %error, "operators' own limits unknown");
                HashMap::new()
            }
        };
        let capacity = routing::Capacity {
            default,
            own,
            read_at: Some(now),
        };
        self.reroute(portal, |router| router.set_capacity(portal, capacity));
    }

    /// The live chat of `portal` whose token hashes to `hash`: its id,
    /// visitor number and task.
    fn running(&self, portal: &str, hash: &str) -> Option<(ChatId, i64, mpsc::Sender<Msg>)> {
        let index = self.index();
        let chat = index.tokens.get(hash)?;
        let entry = index.chats.get(chat)?;
        let ContactId::Visitor { number, .. } = &entry.item.contact.id else {
            return None;
        };
        (entry.portal.eq_ignore_ascii_case(portal)).then(|| (*chat, *number, entry.tx.clone()))
    }

    /// The task of a live chat.
    fn chat(&self, chat: ChatId) -> Option<mpsc::Sender<Msg>> {
        self.index().chats.get(&chat).map(|e| e.tx.clone())
    }

    /// Where `operator`'s input to `to` goes: never to another portal.
    fn route(&self, operator: &OperatorRef, to: &ContactId) -> Result<Route, PortError> {
        if to.portal() != operator.portal() {
            return Err(PortError::NoSuchChat);
        }
        match to {
            ContactId::Colleague(_) => Err(PortError::NotGateway),
            ContactId::Board { .. } => Ok(Route::Board),
            ContactId::Visitor { .. } => {
                let index = self.index();
                let chat = index.visitors.get(to).ok_or(PortError::NoSuchChat)?;
                let entry = index.chats.get(chat).ok_or(PortError::NoSuchChat)?;
                Ok(Route::Chat(entry.tx.clone()))
            }
        }
    }

    fn board_post(
        &self,
        operator: &OperatorRef,
        text: String,
        done: Done,
    ) -> Result<(), PortError> {
        let post = board::Post {
            portal: operator.portal().to_owned(),
            author: board::Author::Operator(operator.clone()),
            text,
            done,
        };
        self.board.try_send(post).map_err(|_| PortError::Busy)
    }

    /// Records what a device says; returns the chats it changed, woken
    /// to show it (a device new to an operator who is offered chats sees
    /// them too).
    fn device_presence(
        &self,
        operator: &OperatorRef,
        device: DeviceId,
        availability: Availability,
    ) -> Vec<mpsc::Sender<Msg>> {
        tracing::debug!(%operator, device = device.0, ?availability, "availability");
        let mut woken = self.reroute(operator.portal(), |router| {
            router.presence(operator, device, availability);
        });
        if availability != Availability::Unavailable {
            // Chats that offer themselves to this operator already show
            // the offer on the new device too.
            let index = self.index();
            for entry in index.chats.values() {
                if entry.waiting && entry.audience.contains(operator) {
                    entry.wake.notify_one();
                    woken.push(entry.tx.clone());
                }
            }
        }
        woken
    }

    fn is_available(&self, operator: &OperatorRef) -> bool {
        self.routing().is_present(operator)
    }

    /// The operators of `portal` (among `eligible`, if given) who take
    /// chats, with their present devices.
    fn available(
        &self,
        portal: &str,
        eligible: Option<&HashSet<OperatorRef>>,
    ) -> Vec<(OperatorRef, Vec<DeviceId>)> {
        self.routing().present(portal, eligible, true)
    }

    /// What the index shows of a chat: who has it on their list, and
    /// whether it still waits.
    fn update_entry(&self, chat: ChatId, audience: HashSet<OperatorRef>, waiting: bool) {
        let listing = {
            let mut index = self.index();
            let Some(entry) = index.chats.get_mut(&chat) else {
                return;
            };
            if entry.audience == audience && entry.waiting == waiting {
                return;
            }
            let listing = self.cluster.is_some().then(|| {
                Listing::new(
                    &entry.portal,
                    entry.item.clone(),
                    Inner::sorted(&audience),
                    waiting,
                )
            });
            entry.audience = audience;
            entry.waiting = waiting;
            listing
        };
        if let Some(listing) = listing {
            self.list(chat, Some(&listing));
        }
    }

    /// Counts a request against the [`VisitorLimits`], or refuses it.
    fn reserve(&self, portal: &str, ip: Option<&str>) -> Result<Reservation<'_>, GatewayError> {
        let limits = &self.limits;
        let mut index = self.index();
        let live = index
            .chats
            .values()
            .map(|e| (e.portal.as_str(), e.ip.as_deref(), e.waiting));
        let pending = index
            .pending
            .values()
            .map(|(portal, ip)| (portal.as_str(), ip.as_deref(), true));
        let (mut from_address, mut in_portal, mut waiting) = (0, 0, 0);
        for (p, i, w) in live.chain(pending) {
            if ip.is_some() && i == ip {
                from_address += 1;
            }
            if p == portal {
                in_portal += 1;
                waiting += usize::from(w);
            }
        }
        if from_address >= limits.chats_per_address {
            return Err(GatewayError::TooManyChats);
        }
        if in_portal >= limits.chats_per_portal || waiting >= limits.waiting_per_portal {
            tracing::warn!(
                portal,
                in_portal,
                waiting,
                "a chat request refused: the portal is full"
            );
            return Err(GatewayError::PortalBusy);
        }
        let number = index.next_pending;
        index.next_pending += 1;
        index
            .pending
            .insert(number, (portal.to_owned(), ip.map(str::to_owned)));
        Ok(Reservation(number, self))
    }

    /// Takes one of a chat's line tokens, or says the visitor is too fast.
    fn take_line(&self, chat: ChatId) -> Result<(), GatewayError> {
        let mut index = self.index();
        let entry = index.chats.get_mut(&chat).ok_or(GatewayError::NoSuchChat)?;
        if entry.lines.take(&self.limits) {
            Ok(())
        } else {
            Err(GatewayError::TooFast)
        }
    }

    /// Takes an ended (or stopped) chat out of the index and out of
    /// routing (its members' room goes to waiting chats); its resume
    /// token's hash.
    fn remove(&self, chat: ChatId) -> Option<String> {
        let (token_hash, portal) = {
            let mut index = self.index();
            let entry = index.chats.remove(&chat)?;
            index.visitors.remove(&entry.item.contact.id);
            index.tokens.remove(&entry.token_hash);
            (entry.token_hash, entry.portal)
        };
        self.reroute(&portal, |router| {
            router.dequeue(chat);
            router.set_members(chat, Vec::new());
        });
        self.list(chat, None);
        Some(token_hash)
    }

    /// Keeps an ended chat's last events for the grace, for a visitor
    /// who comes back to it (sweeping those whose grace passed).
    fn bury(
        &self,
        token_hash: String,
        portal: &str,
        chat: ChatId,
        number: i64,
        events: Vec<(u64, VisitorEvent)>,
    ) {
        let now = tokio::time::Instant::now();
        let mut index = self.index();
        index.ended.retain(|_, t| t.until > now);
        index.ended.insert(
            token_hash,
            Tombstone {
                portal: portal.to_owned(),
                chat,
                number,
                events,
                until: now + self.visitor_grace,
            },
        );
    }

    /// A visitor back at a chat that ended while they were away: its
    /// events after `after` (the end among them), then nothing. One who
    /// saw the end already, or came too late, gets [`GatewayError::BadToken`].
    fn unbury(
        &self,
        portal: &str,
        token: &str,
        hash: &str,
        after: u64,
    ) -> Result<VisitorChat, GatewayError> {
        let index = self.index();
        let tombstone = index
            .ended
            .get(hash)
            .filter(|t| t.portal.eq_ignore_ascii_case(portal))
            .filter(|t| t.until > tokio::time::Instant::now())
            .ok_or(GatewayError::BadToken)?;
        let missed: Vec<Numbered> = chat::replay_after(&tombstone.events, after).collect();
        if missed.is_empty() {
            return Err(GatewayError::BadToken);
        }
        let (to_visitor, events) = mpsc::channel(missed.len());
        for numbered in missed {
            let _ = to_visitor.try_send(numbered);
        }
        Ok(VisitorChat {
            chat: tombstone.chat,
            visitor_number: tombstone.number,
            resume: token.to_owned(),
            connection: u64::MAX,
            events,
        })
    }

    /// The operators of a department who may use the gateway, or `None`
    /// for a department nobody is assigned to: then every operator of the
    /// portal serves it.
    async fn department_operators(
        &self,
        department: DepartmentId,
    ) -> Result<Option<HashSet<OperatorRef>>, GatewayError> {
        let members = self.store.department_members(department).await?;
        let members: HashSet<OperatorRef> = members
            .iter()
            .filter_map(|o| Some(OperatorRef::new(&o.portal, o.username.as_deref()?)))
            .collect();
        Ok((!members.is_empty()).then_some(members))
    }

    /// The oldest time `portal`'s archives keep (now minus its
    /// [`crate::Portal::archive_days`], the default for an unknown portal).
    async fn archive_horizon(&self, portal: &str) -> chrono::DateTime<chrono::Utc> {
        let days = match self.store.portal(portal).await {
            Ok(Some(portal)) => portal.archive_days,
            Ok(None) => crate::DEFAULT_ARCHIVE_DAYS,
            Err(error) => {
                tracing::warn!(%portal, %error, "the archive's retention is unknown; the default it is");
                crate::DEFAULT_ARCHIVE_DAYS
            }
        };
        chrono::Utc::now() - chrono::Duration::days(i64::from(days))
    }

    /// Publishes a chat event of `portal`, if anybody listens.
    pub(super) fn publish(
        &self,
        kind: salesiq_integrations::EventKind,
        portal: &str,
        data: serde_json::Value,
    ) {
        if let Some(events) = &self.events {
            events.publish(salesiq_integrations::WebhookEvent::new(kind, portal, data));
        }
    }

    /// The portal's language.
    async fn locale(&self, portal: &str) -> Locale {
        match self.store.portal(portal).await {
            Ok(Some(portal)) => Locale::from_tag(&portal.locale),
            Ok(None) => Locale::En,
            Err(error) => {
                tracing::warn!(%portal, %error, "the portal's language is unknown; English it is");
                Locale::En
            }
        }
    }

    /// An operator's display name, or their username if the store has none.
    async fn display_name(&self, operator: &OperatorRef) -> String {
        match self.store.operator_by_username(operator.username()).await {
            Ok(Some(found)) => found.display_name,
            Ok(None) => operator.username().to_owned(),
            Err(error) => {
                tracing::warn!(%operator, %error, "display name unknown; the username it is");
                operator.username().to_owned()
            }
        }
    }
}

/// The weak side of [`Inner`], for tasks that must not keep it alive.
pub(crate) type WeakInner = Weak<Inner>;

/// Logs a result whose error nobody else will see.
pub(crate) fn logged<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(%error, "{what}");
            None
        }
    }
}
