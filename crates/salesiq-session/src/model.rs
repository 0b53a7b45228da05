//! The things the gateway keeps: portals, departments, operators, visitors,
//! chats and their transcripts, notes, blocked addresses, message-board
//! posts, chat-to-ticket links and canned answers.

use chrono::{DateTime, Utc};

/// A row id of a stored thing.
macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A department.
    DepartmentId
);
id!(
    /// An operator.
    OperatorId
);
id!(
    /// A visitor.
    VisitorId
);
id!(
    /// A chat.
    ChatId
);
id!(
    /// A message left while nobody answered, or a missed chat.
    LeftMessageId
);

/// A tenant: one company's account. Everything else belongs to one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Portal {
    /// Its name, lower case, as in `portal|username`.
    pub name: String,
    /// The language of replies and help: `en` or `ja`.
    pub locale: String,
    /// How many days its operators' message archives keep a message
    /// (default [`crate::DEFAULT_ARCHIVE_DAYS`]).
    pub archive_days: u32,
    /// How many chats an operator takes at once unless their own
    /// [`Operator::max_chats`] says otherwise (default
    /// [`DEFAULT_MAX_CHATS`]).
    pub max_chats_per_operator: u32,
    /// Who is told by e-mail of what happens while nobody answers (issue
    /// 15: messages left, missed chats): e-mail addresses, `addr` or
    /// `Name <addr>`, in order; none by default. The store keeps them as
    /// given; checking them is the caller's (with
    /// `salesiq_integrations::Mailbox`). An address has no line break
    /// (a store may keep them one a line, and refuses one that has).
    pub notify: Vec<String>,
}

/// How many chats an operator takes at once by default: five.
pub const DEFAULT_MAX_CHATS: u32 = 5;

/// How long an offer to one operator stands under
/// [`Routing::RoundRobin`] and [`Routing::LeastBusy`] by default, in
/// seconds: thirty.
pub const DEFAULT_OFFER_TIMEOUT_SECS: u32 = 30;

/// Who a department's chat requests are offered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Routing {
    /// Every operator who is taking chats at once; the first `y` wins.
    #[default]
    Broadcast,
    /// One operator at a time, in turn (by username), each for the
    /// department's offer timeout.
    RoundRobin,
    /// One operator at a time, the one with the fewest chats (then the
    /// one who was offered a chat longest ago), each for the offer
    /// timeout.
    LeastBusy,
}

impl Routing {
    /// Its name in configuration and in the store: `broadcast`,
    /// `round_robin`, `least_busy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::Broadcast => "broadcast",
            Routing::RoundRobin => "round_robin",
            Routing::LeastBusy => "least_busy",
        }
    }

    /// The routing named `name` (as [`Routing::as_str`] gives it).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "broadcast" => Some(Routing::Broadcast),
            "round_robin" => Some(Routing::RoundRobin),
            "least_busy" => Some(Routing::LeastBusy),
            _ => None,
        }
    }
}

impl std::fmt::Display for Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Portal {
    /// A portal, keeping archives [`crate::DEFAULT_ARCHIVE_DAYS`] days.
    pub fn new(name: &str, locale: &str) -> Self {
        Self {
            name: name.to_ascii_lowercase(),
            locale: locale.to_owned(),
            archive_days: crate::archive::DEFAULT_ARCHIVE_DAYS,
            max_chats_per_operator: DEFAULT_MAX_CHATS,
            notify: Vec::new(),
        }
    }

    /// The same, keeping archives `days` days.
    pub fn with_archive_days(mut self, days: u32) -> Self {
        self.archive_days = days;
        self
    }

    /// The same, where an operator takes `max` chats at once by default.
    pub fn with_max_chats_per_operator(mut self, max: u32) -> Self {
        self.max_chats_per_operator = max;
        self
    }

    /// The same, telling `addresses` by e-mail ([`Portal::notify`]).
    pub fn with_notify(mut self, addresses: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.notify = addresses
            .into_iter()
            .map(|a| a.as_ref().to_owned())
            .collect();
        self
    }
}

/// A department of a portal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Department {
    /// Its id.
    pub id: DepartmentId,
    /// The portal.
    pub portal: String,
    /// Its name, any script (`VIPサポート`).
    pub name: String,
    /// Whether `#support conasreq` may turn its chats into tickets.
    pub convert_to_ticket: bool,
    /// Who its chat requests are offered to (default broadcast).
    pub routing: Routing,
    /// Seconds an offer to one operator stands under round robin and
    /// least busy routing (default [`DEFAULT_OFFER_TIMEOUT_SECS`]).
    pub offer_timeout_secs: u32,
    /// When it takes chats ([`crate::OpeningHours`]'s form, e.g.
    /// `Mon-Fri 09:00-18:00`); `None`: always. Outside them a request is
    /// answered "leave a message".
    pub hours: Option<String>,
    /// The IANA time zone of `hours` (`Asia/Tokyo`); `None`: UTC.
    pub timezone: Option<String>,
}

impl Department {
    /// A department as a store returns it, broadcasting its requests.
    pub fn new(id: DepartmentId, portal: &str, name: &str, convert_to_ticket: bool) -> Self {
        Self {
            id,
            portal: portal.to_owned(),
            name: name.to_owned(),
            convert_to_ticket,
            routing: Routing::Broadcast,
            offer_timeout_secs: DEFAULT_OFFER_TIMEOUT_SECS,
            hours: None,
            timezone: None,
        }
    }

    /// The same, taking chats during `hours` in `timezone` (see
    /// [`Department::hours`]).
    pub fn with_hours(mut self, hours: Option<&str>, timezone: Option<&str>) -> Self {
        self.hours = hours.map(str::to_owned);
        self.timezone = timezone.map(str::to_owned);
        self
    }

    /// The same, routing its requests by `routing`, each offer standing
    /// `offer_timeout_secs` seconds where one operator is offered at a time.
    pub fn with_routing(mut self, routing: Routing, offer_timeout_secs: u32) -> Self {
        self.routing = routing;
        self.offer_timeout_secs = offer_timeout_secs;
        self
    }
}

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operator {
    /// Its id.
    pub id: OperatorId,
    /// The portal.
    pub portal: String,
    /// E-mail address (unique within the portal).
    pub email: String,
    /// The name colleagues and visitors see.
    pub display_name: String,
    /// The username, lower case, once claimed (unique across portals).
    pub username: Option<String>,
    /// The operator's picture, shown to colleagues (vCard).
    pub photo: Option<crate::auth::Photo>,
    /// How many chats they take at once; `None`: their portal's
    /// [`Portal::max_chats_per_operator`].
    pub max_chats: Option<u32>,
}

impl Operator {
    /// An operator as a store returns it, without a username or picture
    /// (see [`Operator::with_username`], [`Operator::with_photo`]).
    pub fn new(id: OperatorId, portal: &str, email: &str, display_name: &str) -> Self {
        Self {
            id,
            portal: portal.to_owned(),
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            username: None,
            photo: None,
            max_chats: None,
        }
    }

    /// The same, with its username (lower case) or none.
    pub fn with_username(mut self, username: Option<&str>) -> Self {
        self.username = username.map(str::to_owned);
        self
    }

    /// The same, with its picture or none.
    pub fn with_photo(mut self, photo: Option<crate::auth::Photo>) -> Self {
        self.photo = photo;
        self
    }

    /// The same, taking at most `max` chats at once (`None`: the
    /// portal's default).
    pub fn with_max_chats(mut self, max: Option<u32>) -> Self {
        self.max_chats = max;
        self
    }
}

/// What is needed to create an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewOperator {
    /// The portal.
    pub portal: String,
    /// E-mail address.
    pub email: String,
    /// Display name.
    pub display_name: String,
}

impl NewOperator {
    /// An operator of `portal`.
    pub fn new(portal: &str, email: &str, display_name: &str) -> Self {
        Self {
            portal: portal.to_ascii_lowercase(),
            email: email.to_owned(),
            display_name: display_name.to_owned(),
        }
    }
}

/// What the gateway knows of a website visitor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct VisitorDetails {
    /// Name, as typed into the chat widget.
    pub name: String,
    /// E-mail address, if given.
    pub email: Option<String>,
    /// IP address.
    pub ip: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Browser.
    pub browser: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// The page the chat started on.
    pub first_page: Option<String>,
    /// The page the visitor is on now.
    pub current_page: Option<String>,
}

impl VisitorDetails {
    /// The longest a field may be, in characters (a page address included).
    pub const MAX_FIELD_CHARS: usize = 512;

    /// The same details with every field one clean line
    /// ([`crate::clean_line`]) of at most [`VisitorDetails::MAX_FIELD_CHARS`]
    /// characters; an empty optional field becomes `None`.
    pub fn cleaned(&self) -> Self {
        let clean = |value: &str| -> String {
            crate::clean_line(value)
                .chars()
                .take(Self::MAX_FIELD_CHARS)
                .collect()
        };
        let line = |value: &Option<String>| value.as_deref().map(clean).filter(|v| !v.is_empty());
        Self {
            name: clean(&self.name),
            email: line(&self.email),
            ip: line(&self.ip),
            country: line(&self.country),
            browser: line(&self.browser),
            os: line(&self.os),
            first_page: line(&self.first_page),
            current_page: line(&self.current_page),
        }
    }
}

/// A stored visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Visitor {
    /// Its id.
    pub id: VisitorId,
    /// The portal.
    pub portal: String,
    /// The visitor number operators see, counted per portal from 1.
    pub number: i64,
    /// The details.
    pub details: VisitorDetails,
}

impl Visitor {
    /// A visitor as a store returns it.
    pub fn new(id: VisitorId, portal: &str, number: i64, details: VisitorDetails) -> Self {
        Self {
            id,
            portal: portal.to_owned(),
            number,
            details,
        }
    }
}

/// Where a chat is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatState {
    /// Requested, not yet accepted.
    Waiting,
    /// An operator accepted it.
    Active,
    /// Over.
    Ended,
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // the SQLite store's column
impl ChatState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Ended => "ended",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "active" => Self::Active,
            "ended" => Self::Ended,
            _ => Self::Waiting,
        }
    }
}

/// A stored chat.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chat {
    /// Its id.
    pub id: ChatId,
    /// The portal.
    pub portal: String,
    /// The visitor.
    pub visitor: VisitorId,
    /// The department asked for, if any.
    pub department: Option<DepartmentId>,
    /// The visitor's question: the chat's subject.
    pub question: String,
    /// Where it is.
    pub state: ChatState,
    /// When it was requested.
    pub started: DateTime<Utc>,
    /// The visitor's rating after it ended, if they gave one.
    pub rating: Option<Rating>,
}

/// A visitor's rating of a chat: a score of 1 to 5 and an optional
/// comment (issue 15).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rating {
    /// 1 (poor) to 5 (excellent).
    pub score: u8,
    /// What they wrote, possibly nothing.
    pub comment: String,
}

impl Rating {
    /// A rating; `None` for a score outside 1 to 5.
    pub fn new(score: u8, comment: &str) -> Option<Self> {
        (1..=5).contains(&score).then(|| Self {
            score,
            comment: comment.to_owned(),
        })
    }
}

impl Chat {
    /// A chat as a store returns it, waiting and requested now (see
    /// [`Chat::in_state`], [`Chat::started_at`]).
    pub fn new(
        id: ChatId,
        portal: &str,
        visitor: VisitorId,
        department: Option<DepartmentId>,
        question: &str,
    ) -> Self {
        Self {
            id,
            portal: portal.to_owned(),
            visitor,
            department,
            question: question.to_owned(),
            state: ChatState::Waiting,
            started: Utc::now(),
            rating: None,
        }
    }

    /// The same, in `state`.
    pub fn in_state(mut self, state: ChatState) -> Self {
        self.state = state;
        self
    }

    /// The same, requested at `started`.
    pub fn started_at(mut self, started: DateTime<Utc>) -> Self {
        self.started = started;
        self
    }

    /// The same, rated.
    pub fn with_rating(mut self, rating: Option<Rating>) -> Self {
        self.rating = rating;
        self
    }
}

/// Who wrote a line of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Author {
    /// The visitor.
    Visitor,
    /// An operator, by display name.
    Operator(String),
    /// The gateway itself.
    System,
}

/// One line of a chat transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatLine {
    /// The chat.
    pub chat: ChatId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub author: Author,
    /// What.
    pub text: String,
}

impl ChatLine {
    /// A transcript line as a store returns it.
    pub fn new(chat: ChatId, at: DateTime<Utc>, author: Author, text: &str) -> Self {
        Self {
            chat,
            at,
            author,
            text: text.to_owned(),
        }
    }
}

/// A note an operator added to a visitor (`#an`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Note {
    /// When.
    pub at: DateTime<Utc>,
    /// The operator's display name.
    pub author: String,
    /// The note.
    pub text: String,
}

impl Note {
    /// A note as a store returns it.
    pub fn new(at: DateTime<Utc>, author: &str, text: &str) -> Self {
        Self {
            at,
            author: author.to_owned(),
            text: text.to_owned(),
        }
    }
}

/// A message-board post.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BoardPost {
    /// When.
    pub at: DateTime<Utc>,
    /// Who posted it.
    pub author: String,
    /// What.
    pub text: String,
}

impl BoardPost {
    /// A post as a store returns it.
    pub fn new(at: DateTime<Utc>, author: &str, text: &str) -> Self {
        Self {
            at,
            author: author.to_owned(),
            text: text.to_owned(),
        }
    }
}

/// A predefined text an operator sends with `#c <key>`: the portal's, for
/// every chat, or one department's, for that department's chats (where it
/// replaces a portal-wide answer with the same key). Kept by
/// [`crate::Store::put_canned`], one per portal, department and key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CannedAnswer {
    /// The portal, lower case.
    pub portal: String,
    /// The department whose chats it is for, or `None`: every chat of the
    /// portal.
    pub department: Option<DepartmentId>,
    /// What follows `#c`, lower case (ASCII letters lowercased). A valid
    /// key is 1 to 30 of `a-z`, `0-9`, `_` and `-`, but that rule is the
    /// command parser's and the configuration's: a store keeps any key it
    /// is given, lowercased.
    pub key: String,
    /// What the visitor is sent: plain UTF-8 text, one line or several
    /// (line breaks are kept). A store keeps it as given, of any length;
    /// what loads answers bounds them.
    pub text: String,
}

impl CannedAnswer {
    /// An answer of `portal` (lowercased) for `department`'s chats (`None`:
    /// every chat), sent by `#c key` (the key lowercased).
    pub fn new(portal: &str, department: Option<DepartmentId>, key: &str, text: &str) -> Self {
        Self {
            portal: portal.to_ascii_lowercase(),
            department,
            key: key.to_ascii_lowercase(),
            text: text.to_owned(),
        }
    }
}

/// A message kept for an operator who had no connected device when it
/// came (XEP-0160 offline storage): who it is from, when, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OfflineMessage {
    /// When it came.
    pub at: DateTime<Utc>,
    /// Whose it is: a colleague, a visitor (a line or a `[system]` reply
    /// in the visitor's window), or the board.
    pub from: crate::contact::ContactId,
    /// What it says.
    pub text: String,
}

impl OfflineMessage {
    /// A message from `from`, at `at`.
    pub fn new(at: DateTime<Utc>, from: crate::contact::ContactId, text: &str) -> Self {
        Self {
            at,
            from,
            text: text.to_owned(),
        }
    }
}

/// What a restart needs of a live chat beyond its [`Chat`] row: how the
/// visitor proves it is theirs, and who is in it. Kept by
/// [`crate::Store::save_live_chat`] as it changes; its content events for
/// the visitor are [`ChatEvent`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveChat {
    /// The chat.
    pub chat: ChatId,
    /// Its portal.
    pub portal: String,
    /// The SHA-256 of the visitor's resume token, lower-case hex: the token
    /// itself is never stored.
    pub token_hash: String,
    /// The operator who accepted, if anyone has.
    pub operator: Option<crate::contact::OperatorRef>,
    /// Operators invited in who accepted, in the order they joined; all of
    /// the chat's portal, like the operator.
    pub guests: Vec<crate::contact::OperatorRef>,
    /// Content events up to this number may have reached the visitor; a
    /// restore numbers on from here (or from the last kept event, if
    /// higher), so that after a crash no number the visitor saw is given
    /// to another event. The chat keeps it ahead of what it sends.
    pub seq_reserved: u64,
    /// The node (gateway process) that runs the chat's task, by its node
    /// id, when several nodes share one store; `None` on a single-node
    /// gateway, and for chats saved before stores kept an owner.
    ///
    /// Kept by the first [`crate::Store::save_live_chat`] of the chat;
    /// later saves leave it as it is. It moves only by
    /// [`crate::Store::claim_live_chat`], a compare-and-set, so that of
    /// two nodes taking over a chat exactly one gets it, and a node that
    /// lost a chat cannot take it back by saving.
    pub owner: Option<String>,
}

impl LiveChat {
    /// A live chat nobody has accepted yet.
    pub fn new(chat: ChatId, portal: &str, token_hash: &str) -> Self {
        Self {
            chat,
            portal: portal.to_owned(),
            token_hash: token_hash.to_owned(),
            operator: None,
            guests: Vec::new(),
            seq_reserved: 0,
            owner: None,
        }
    }

    /// With `operator` in charge and `guests` beside them.
    pub fn with_members(
        mut self,
        operator: Option<crate::contact::OperatorRef>,
        guests: Vec<crate::contact::OperatorRef>,
    ) -> Self {
        self.operator = operator;
        self.guests = guests;
        self
    }

    /// With numbers up to `seq` reserved ([`LiveChat::seq_reserved`]).
    pub fn with_seq_reserved(mut self, seq: u64) -> Self {
        self.seq_reserved = seq;
        self
    }

    /// Run by the node `owner` ([`LiveChat::owner`]; `None`: by the one
    /// node of a single-node gateway).
    pub fn with_owner(mut self, owner: Option<&str>) -> Self {
        self.owner = owner.map(str::to_owned);
        self
    }
}

/// A content event a chat sent its visitor, with its number: what a
/// visitor who resumes after a restart is given again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatEvent {
    /// Its number in the chat, from 1.
    pub seq: u64,
    /// The event.
    pub event: crate::gateway::VisitorEvent,
}

impl ChatEvent {
    /// Event number `seq`.
    pub fn new(seq: u64, event: crate::gateway::VisitorEvent) -> Self {
        Self { seq, event }
    }
}

/// What a [`LeftMessage`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeftKind {
    /// A visitor left a message because nobody was there (or outside the
    /// department's hours).
    Message,
    /// A chat request ended with nobody accepting it.
    MissedChat,
}

impl LeftKind {
    /// Its name in a store: `message`, `missed`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeftKind::Message => "message",
            LeftKind::MissedChat => "missed",
        }
    }

    /// The kind [`LeftKind::as_str`] names.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "message" => Some(LeftKind::Message),
            "missed" => Some(LeftKind::MissedChat),
            _ => None,
        }
    }
}

/// A message a visitor left while nobody answered, or a chat request
/// nobody accepted: what the portal's `notify` addresses and helpdesk are
/// told of.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeftMessage {
    /// Its id (0 before the store gave it one).
    pub id: LeftMessageId,
    /// The portal.
    pub portal: String,
    /// The department the visitor asked for.
    pub department: Option<DepartmentId>,
    /// A message, or a missed chat.
    pub kind: LeftKind,
    /// The visitor's name.
    pub name: String,
    /// Their e-mail address, if given.
    pub email: Option<String>,
    /// The message; for a missed chat, the question.
    pub text: String,
    /// The chat that was missed.
    pub chat: Option<ChatId>,
    /// When.
    pub at: DateTime<Utc>,
}

impl LeftMessage {
    /// A message (or missed chat) of `portal` at `at`, not yet stored.
    pub fn new(
        portal: &str,
        kind: LeftKind,
        name: &str,
        email: Option<&str>,
        text: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: LeftMessageId(0),
            portal: portal.to_ascii_lowercase(),
            department: None,
            kind,
            name: name.to_owned(),
            email: email.map(str::to_owned),
            text: text.to_owned(),
            chat: None,
            at,
        }
    }

    /// The same, for `department`.
    pub fn with_department(mut self, department: Option<DepartmentId>) -> Self {
        self.department = department;
        self
    }

    /// The same, of `chat`.
    pub fn with_chat(mut self, chat: Option<ChatId>) -> Self {
        self.chat = chat;
        self
    }

    /// The same, with its id.
    pub fn with_id(mut self, id: LeftMessageId) -> Self {
        self.id = id;
        self
    }
}
