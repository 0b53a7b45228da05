//! Webhooks for embedders: what happens to a portal's chats, as signed
//! JSON POSTs to that portal's own endpoints.
//!
//! The chat domain hands each [`WebhookEvent`] to a [`ChatEvents`]
//! (never waiting). [`WebhookSender`] (feature `webhooks`) delivers it to
//! every [`Webhook`] of the event's portal that subscribed to its
//! [`EventKind`], and to no other portal's; [`MemoryEvents`] keeps events
//! for tests and demos.
//!
//! # On the wire
//!
//! One `POST` per event and webhook, with the body [`WebhookEvent::body`]:
//!
//! ```text
//! {"id":"5f0c…32 hex digits","event":"chat.accepted","portal":"acme",
//!  "at":"2026-05-01T09:30:12.345Z","data":{…}}
//! ```
//!
//! and the headers `Content-Type: application/json`,
//! [`EVENT_HEADER`] (`X-Salesiq-Event: chat.accepted`),
//! [`DELIVERY_HEADER`] (`X-Salesiq-Delivery: <id>`, the idempotency id,
//! the same on every retry of the event) and [`SIGNATURE_HEADER`]
//! (`X-Salesiq-Signature: sha256=<lower-case hex HMAC-SHA256 of the exact
//! body bytes, keyed with the webhook's secret>`).

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::error::ConnectorError;

#[cfg(feature = "webhooks")]
mod sender;

#[cfg(feature = "webhooks")]
pub use sender::{RetryPolicy, SenderConfig, WebhookSender, WebhookStats, signature};

/// The header that carries the body's signature:
/// `sha256=<lower-case hex HMAC-SHA256 of the body with the secret>`.
pub const SIGNATURE_HEADER: &str = "X-Salesiq-Signature";

/// The header that carries the event's idempotency id
/// ([`WebhookEvent::id`]), the same on every retry: a receiver that has
/// seen it already answers 2xx and does nothing.
pub const DELIVERY_HEADER: &str = "X-Salesiq-Delivery";

/// The header that names the event (`chat.accepted`...), as the body's
/// `event` does.
pub const EVENT_HEADER: &str = "X-Salesiq-Event";

/// What happened: the `event` of the body, and what a [`Webhook`]
/// subscribes to, by its dotted name ([`EventKind::as_str`],
/// [`str::parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// `chat.requested`: a visitor asked for a chat.
    ChatRequested,
    /// `chat.accepted`: an operator accepted a chat.
    ChatAccepted,
    /// `chat.ended`: a chat ended, whoever ended it.
    ChatEnded,
    /// `chat.missed`: a chat request that no operator accepted.
    ChatMissed,
    /// `chat.rated`: a visitor rated a chat.
    ChatRated,
    /// `message.left`: a visitor left a message for the portal.
    MessageLeft,
}

impl EventKind {
    /// Every kind, in the order of the list above.
    pub const ALL: &'static [Self] = &[
        Self::ChatRequested,
        Self::ChatAccepted,
        Self::ChatEnded,
        Self::ChatMissed,
        Self::ChatRated,
        Self::MessageLeft,
    ];

    /// The dotted name: `chat.requested`, `chat.accepted`, `chat.ended`,
    /// `chat.missed`, `chat.rated` or `message.left`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ChatRequested => "chat.requested",
            Self::ChatAccepted => "chat.accepted",
            Self::ChatEnded => "chat.ended",
            Self::ChatMissed => "chat.missed",
            Self::ChatRated => "chat.rated",
            Self::MessageLeft => "message.left",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = ConnectorError;

    /// The kind with this dotted name, exactly as [`EventKind::as_str`]
    /// spells it; anything else is [`ConnectorError::Invalid`] with key
    /// `events`, listing the names there are.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                ConnectorError::Invalid {
                    key: "events",
                    reason: format!("unknown event {name:?} (one of {})", names.join(", ")),
                }
            })
    }
}

/// Something that happened in a portal, as its webhooks receive it.
///
/// ```
/// use salesiq_integrations::{EventKind, WebhookEvent};
///
/// let event = WebhookEvent::new(EventKind::ChatAccepted, "acme", serde_json::json!({"chat": "c-1"}));
/// let body: serde_json::Value = serde_json::from_slice(&event.body()).unwrap();
/// assert_eq!(body["event"], "chat.accepted");
/// assert_eq!(body["id"], event.id.as_str());
/// assert_eq!(event.id.len(), 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// What happened.
    pub kind: EventKind,
    /// The portal it happened in: only this portal's webhooks receive it.
    pub portal: String,
    /// The idempotency id: 32 lower-case hex digits (128 random bits),
    /// made once per event, so the same on every retry and every webhook
    /// (the body's `id` and the [`DELIVERY_HEADER`]).
    pub id: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The event's own fields (the body's `data`), as the publisher
    /// chose them; an object by convention.
    pub data: Value,
}

impl WebhookEvent {
    /// An event of `kind` in `portal` happening now, with a new
    /// idempotency id.
    pub fn new(kind: EventKind, portal: &str, data: Value) -> Self {
        Self {
            kind,
            portal: portal.to_owned(),
            id: format!("{:032x}", rand::random::<u128>()),
            at: Utc::now(),
            data,
        }
    }

    /// The same event with an idempotency id of the publisher's (e.g. one
    /// derived from the chat, so that two nodes reporting the same end
    /// send the same id). It goes into a header as it is: printable ASCII
    /// without spaces; a delivery whose id cannot be sent fails at once.
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = id.to_owned();
        self
    }

    /// The same event, happening at `at`.
    pub fn with_at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }

    /// The body as JSON: `id`, `event` (the dotted name), `portal`, `at`
    /// (RFC 3339 in UTC with milliseconds, `2026-05-01T09:30:12.345Z`)
    /// and `data`, in this order.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "event": self.kind.as_str(),
            "portal": self.portal,
            "at": self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": self.data,
        })
    }

    /// The exact bytes POSTed (and signed): [`WebhookEvent::to_json`],
    /// compact.
    pub fn body(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }
}

/// One endpoint of a portal: where its events go, the secret they are
/// signed with, and which events it wants.
///
/// ```
/// use salesiq_integrations::{EventKind, Webhook};
///
/// let hook = Webhook::parse("https://hooks.example.com/salesiq", "s3cret", &["chat.ended"]).unwrap();
/// assert!(hook.wants(EventKind::ChatEnded) && !hook.wants(EventKind::ChatRequested));
/// assert!(Webhook::parse("ftp://example.com", "s3cret", &["chat.ended"]).is_err());
/// assert!(Webhook::parse("https://example.com", "", &["chat.ended"]).is_err());
/// assert!(Webhook::parse("https://example.com", "s3cret", &["chat.started"]).is_err());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Webhook {
    url: String,
    // Read by the sender only.
    #[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
    secret: String,
    events: Vec<EventKind>,
}

impl Webhook {
    /// A webhook POSTing `events` to `url`, signed with `secret`.
    ///
    /// Refused ([`ConnectorError::Invalid`], naming the key): a `url`
    /// that is not `http://` or `https://` with a host (and at most a
    /// port, a path and a query), or has spaces or control characters;
    /// an empty `secret` (or only spaces); no `events` at all (there is
    /// no "every event" shorthand, so that a webhook never receives kinds
    /// added later without asking for them). The same kind twice counts
    /// once.
    pub fn new(url: &str, secret: &str, events: &[EventKind]) -> Result<Self, ConnectorError> {
        check_url(url).map_err(|reason| ConnectorError::Invalid { key: "url", reason })?;
        if secret.trim().is_empty() {
            return Err(ConnectorError::Invalid {
                key: "secret",
                reason: "the secret is empty".into(),
            });
        }
        if events.is_empty() {
            return Err(ConnectorError::Invalid {
                key: "events",
                reason: "no events: name at least one".into(),
            });
        }
        let mut kinds = Vec::with_capacity(events.len());
        for kind in events {
            if !kinds.contains(kind) {
                kinds.push(*kind);
            }
        }
        Ok(Self {
            url: url.to_owned(),
            secret: secret.to_owned(),
            events: kinds,
        })
    }

    /// The same with the events by their dotted names (`chat.ended`...),
    /// as a configuration file gives them; an unknown name is refused
    /// with the names there are.
    pub fn parse(
        url: &str,
        secret: &str,
        events: &[impl AsRef<str>],
    ) -> Result<Self, ConnectorError> {
        let kinds = events
            .iter()
            .map(|name| name.as_ref().parse())
            .collect::<Result<Vec<EventKind>, _>>()?;
        Self::new(url, secret, &kinds)
    }

    /// Where the events go.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The events it wants, each once, in the order first given.
    pub fn events(&self) -> &[EventKind] {
        &self.events
    }

    /// Whether it wants events of `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }

    /// The signing secret.
    #[cfg(feature = "webhooks")]
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for Webhook {
    /// Leaves the secret out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Whether `url` is an `http://` or `https://` URL with a host: the
/// check every build makes, with no URL parser compiled in (the sender
/// parses it again with reqwest's).
fn check_url(url: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{url:?} {why}"));
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("has spaces or control characters");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("is not an http:// or https:// URL");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return bad("is not an http:// or https:// URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return bad("has a user name or password in it (the secret signs the requests)");
    }
    let Some((_, port)) = host_and_port(authority) else {
        return bad("has no valid host");
    };
    if let Some(port) = port {
        let valid =
            port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p != 0);
        if !valid {
            return bad("has no valid port");
        }
    }
    Ok(())
}

/// The host of `authority` and the port after it, if any; `None` when
/// there is no host, a host name has other characters than letters,
/// digits, `-`, `.` and `_`, or an IPv6 address is not a bracketed one.
fn host_and_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (address, after) = v6.split_once(']')?;
        let valid = address.contains(':')
            && address
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        return match (valid, after) {
            (false, _) => None,
            (true, "") => Some((address, None)),
            (true, after) => Some((address, Some(after.strip_prefix(':')?))),
        };
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    valid.then_some((host, port))
}

/// Where the chat domain reports what happens, for webhooks: the seam
/// between a chat and its portal's endpoints, held as
/// `Arc<dyn ChatEvents>`.
///
/// [`ChatEvents::publish`] never waits and never fails: delivery is
/// someone else's work (a queue and a task in `WebhookSender`), so a
/// slow or dead endpoint never slows a chat.
pub trait ChatEvents: Send + Sync + fmt::Debug {
    /// Hands `event` over for delivery to its portal's webhooks, without
    /// waiting (callable from any thread, inside a runtime or not).
    fn publish(&self, event: WebhookEvent);
}

/// Events kept in memory: for tests and demos, in every build.
///
/// It keeps the last `capacity` events published (1,000 by default):
/// when full, the oldest is forgotten and counted in
/// [`MemoryEvents::dropped`].
///
/// ```
/// use salesiq_integrations::{ChatEvents, EventKind, MemoryEvents, WebhookEvent};
///
/// let events = MemoryEvents::with_capacity(2);
/// for kind in [EventKind::ChatRequested, EventKind::ChatAccepted, EventKind::ChatEnded] {
///     events.publish(WebhookEvent::new(kind, "acme", serde_json::json!({})));
/// }
/// let kinds: Vec<EventKind> = events.events().iter().map(|e| e.kind).collect();
/// assert_eq!(kinds, [EventKind::ChatAccepted, EventKind::ChatEnded]);
/// assert_eq!(events.dropped(), 1);
/// ```
#[derive(Debug)]
pub struct MemoryEvents {
    capacity: usize,
    kept: Mutex<VecDeque<WebhookEvent>>,
    dropped: AtomicU64,
}

impl Default for MemoryEvents {
    /// Room for 1,000 events.
    fn default() -> Self {
        Self::with_capacity(1_000)
    }
}

impl MemoryEvents {
    /// Room for 1,000 events.
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `capacity` events (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            kept: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, VecDeque<WebhookEvent>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The events kept, oldest first.
    pub fn events(&self) -> Vec<WebhookEvent> {
        self.kept().iter().cloned().collect()
    }

    /// The events kept, oldest first, forgetting them.
    pub fn take(&self) -> Vec<WebhookEvent> {
        self.kept().drain(..).collect()
    }

    /// How many events were forgotten to make room.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl ChatEvents for MemoryEvents {
    fn publish(&self, event: WebhookEvent) {
        let mut kept = self.kept();
        if kept.len() >= self.capacity {
            kept.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        kept.push_back(event);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn kinds_go_by_their_dotted_names_both_ways() {
        for &kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
        }
        let error = "Chat.Ended".parse::<EventKind>().unwrap_err();
        assert!(
            matches!(&error, ConnectorError::Invalid { key: "events", reason }
                if reason.contains("\"Chat.Ended\"") && reason.contains("message.left")),
            "{error}"
        );
    }

    #[test]
    fn the_body_is_the_documented_json() {
        let at = DateTime::from_timestamp_millis(1_777_627_812_345).unwrap();
        let event = WebhookEvent::new(EventKind::ChatRated, "acme", json!({"rating": 5}))
            .with_id("0123456789abcdef0123456789abcdef")
            .with_at(at);
        assert_eq!(
            String::from_utf8(event.body()).unwrap(),
            r#"{"id":"0123456789abcdef0123456789abcdef","event":"chat.rated","portal":"acme","at":"2026-05-01T09:30:12.345Z","data":{"rating":5}}"#
        );
    }

    #[test]
    fn every_event_gets_its_own_id() {
        let a = WebhookEvent::new(EventKind::ChatEnded, "p", Value::Null);
        let b = WebhookEvent::new(EventKind::ChatEnded, "p", Value::Null);
        assert_ne!(a.id, b.id);
        for id in [&a.id, &b.id] {
            assert!(id.len() == 32 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        }
    }

    #[test]
    fn urls_are_http_or_https_with_a_host() {
        for good in [
            "https://hooks.example.com/salesiq?x=1",
            "http://127.0.0.1:8080/hook",
            "HTTPS://example.com",
            "http://[::1]:9000/",
            "http://localhost",
        ] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "https://",
            "https:///path",
            "https://exa mple.com",
            "https://user:pw@example.com/",
            "https://example.com:99999/",
            "https://example.com:/",
            "https://example.com:0/",
            "https://[zz]/",
            "https://[::1]x/",
            "https://ex!ample.com/",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_webhook_needs_a_url_a_secret_and_events() {
        let hook = Webhook::new(
            "https://example.com/h",
            "s",
            &[
                EventKind::ChatEnded,
                EventKind::ChatEnded,
                EventKind::ChatMissed,
            ],
        )
        .unwrap();
        assert_eq!(hook.events(), [EventKind::ChatEnded, EventKind::ChatMissed]);
        let key = |result: Result<Webhook, ConnectorError>| match result {
            Err(ConnectorError::Invalid { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            key(Webhook::new(
                "mailto:x@example.com",
                "s",
                &[EventKind::ChatEnded]
            )),
            "url"
        );
        assert_eq!(
            key(Webhook::new(
                "https://example.com",
                " ",
                &[EventKind::ChatEnded]
            )),
            "secret"
        );
        assert_eq!(key(Webhook::new("https://example.com", "s", &[])), "events");
        assert_eq!(
            key(Webhook::parse("https://example.com", "s", &["chat.begun"])),
            "events"
        );
        let debug = format!(
            "{:?}",
            Webhook::new("https://example.com", "hunter2", &[EventKind::ChatEnded]).unwrap()
        );
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn memory_events_keep_the_latest() {
        let events = MemoryEvents::with_capacity(3);
        for n in 0..5 {
            events.publish(WebhookEvent::new(
                EventKind::MessageLeft,
                "p",
                json!({"n": n}),
            ));
        }
        let kept: Vec<Value> = events
            .events()
            .into_iter()
            .map(|e| e.data["n"].clone())
            .collect();
        assert_eq!(kept, [json!(2), json!(3), json!(4)]);
        assert_eq!(events.dropped(), 2);
        assert_eq!(events.take().len(), 3);
        assert!(events.events().is_empty());
    }
}
