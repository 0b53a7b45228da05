//! [`WebhookSender`]: the queue, the task that empties it, the signed
//! POSTs and their retries.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{StatusCode, Url};
use sha2::Sha256;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};

use super::{ChatEvents, DELIVERY_HEADER, EVENT_HEADER, EventKind, SIGNATURE_HEADER};
use super::{Webhook, WebhookEvent};
use crate::error::ConnectorError;

/// What the sender says it is.
const AGENT: &str = concat!("salesiq-gateway-webhooks/", env!("CARGO_PKG_VERSION"));

/// After the first, one dropped event in this many is logged.
const LOG_EVERY: u64 = 1_000;

/// The [`SIGNATURE_HEADER`] value of `body` signed with `secret`:
/// `sha256=` and the lower-case hex HMAC-SHA256, what a receiver
/// compares (in constant time) with the header it got.
///
/// ```
/// let value = salesiq_integrations::signature("It's a Secret to Everybody", b"Hello, World!");
/// assert_eq!(value, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
/// ```
pub fn signature(secret: &str, body: &[u8]) -> String {
    sign(keyed(secret), body)
}

/// An HMAC-SHA256 keyed with `secret`, to be cloned for each body.
fn keyed(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` never fails.
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!())
}

fn sign(mut mac: Hmac<Sha256>, body: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut value = String::with_capacity(7 + 2 * digest.len());
    value.push_str("sha256=");
    for byte in digest {
        value.push(char::from(DIGITS[usize::from(byte >> 4)]));
        value.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    value
}

/// How a delivery that failed is tried again: after a connection error,
/// a timeout, a 5xx or a 429, never after another answer (a 4xx is the
/// receiver saying no; a 3xx is not followed).
///
/// The waits double from [`RetryPolicy::backoff`] up to
/// [`RetryPolicy::max_backoff`]; a 429 or 503 with `Retry-After: <seconds>`
/// waits at least that long (within `max_backoff` too). By default: six
/// tries, 1, 2, 4, 8 and 16 s apart (31 s in all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// How many times a delivery is tried in all, the first included (at
    /// least one). Default 6.
    pub attempts: u32,
    /// The wait before the first retry; each next one waits twice as
    /// long. Default 1 s.
    pub backoff: Duration,
    /// The longest wait between two tries. Default 60 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `retry` (1 before the second try):
    /// `backoff × 2^(retry - 1)`, at most `max_backoff`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = salesiq_integrations::RetryPolicy::default();
    /// let waits: Vec<u64> = (1..=8).map(|n| policy.wait(n).as_secs()).collect();
    /// assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    /// ```
    pub fn wait(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// How a [`WebhookSender`] works; every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderConfig {
    /// When failed deliveries are tried again.
    pub retry: RetryPolicy,
    /// How long one request may take, from connecting to the answer's
    /// status. Default 10 s.
    pub timeout: Duration,
    /// How many events may wait for delivery (at least one). Default
    /// 10,000. When full, [`ChatEvents::publish`] drops the new event
    /// (those waiting go out, oldest first), logs a warning (the first
    /// time, then one time in 1,000) and counts it in
    /// [`WebhookStats::dropped`].
    pub queue_capacity: usize,
    /// How many deliveries (one event to one webhook, its retries
    /// included) are under way at most (at least one). Default 64. While
    /// they are, events wait in the queue.
    pub concurrency: usize,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            queue_capacity: 10_000,
            concurrency: 64,
        }
    }
}

/// What a [`WebhookSender`] did so far. A delivery is one event to one
/// webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookStats {
    /// Deliveries answered 2xx.
    pub delivered: u64,
    /// Deliveries given up: refused (a 4xx other than 429, a 3xx) or
    /// failing on every try.
    pub failed: u64,
    /// Tries after the first.
    pub retries: u64,
    /// Events never queued: the queue was full, or the sender shut down.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// One webhook as the sender uses it.
struct Target {
    url: Url,
    /// The URL without its query, for logs (a query may hold a token).
    shown: String,
    /// The HMAC keyed with the webhook's secret.
    mac: Hmac<Sha256>,
    events: Vec<EventKind>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.shown)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The webhooks of each portal, by its lower-case name.
type Routes = HashMap<String, Vec<Arc<Target>>>;

fn targets<'a>(
    routes: &'a Routes,
    event: &'a WebhookEvent,
) -> impl Iterator<Item = &'a Arc<Target>> {
    routes
        .get(&event.portal.to_ascii_lowercase())
        .into_iter()
        .flatten()
        .filter(|target| target.events.contains(&event.kind))
}

/// Delivers signed JSON POSTs to the portals' webhooks, in the
/// background.
///
/// [`ChatEvents::publish`] only puts the event on a bounded queue (or
/// drops it, see [`SenderConfig::queue_capacity`]); a tokio task takes
/// events off in order and delivers each to every webhook of the event's
/// portal (compared ignoring ASCII case) that wants its kind, webhooks
/// and events concurrently (so not necessarily in order), each retried
/// as [`RetryPolicy`] says with the same body, signature and
/// idempotency id. Events nobody wants are not queued.
///
/// [`WebhookSender::shutdown`] stops it gracefully; dropping it stops
/// the task and every delivery under way at once.
///
/// ```no_run
/// use std::sync::Arc;
/// use salesiq_integrations::{ChatEvents, EventKind, SenderConfig, Webhook, WebhookEvent, WebhookSender};
///
/// # async fn run() -> Result<(), salesiq_integrations::ConnectorError> {
/// let hook = Webhook::parse("https://crm.acme.example/salesiq", "s3cret", &["chat.ended", "chat.missed"])?;
/// let sender = Arc::new(WebhookSender::start([("acme", hook)], SenderConfig::default())?);
/// let events: Arc<dyn ChatEvents> = sender.clone();
/// events.publish(WebhookEvent::new(EventKind::ChatEnded, "acme", serde_json::json!({"chat": "c-1"})));
/// // At exit: what is queued goes out within 5 s, or is given up.
/// sender.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
pub struct WebhookSender {
    queue: mpsc::Sender<WebhookEvent>,
    routes: Arc<Routes>,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    abort: AbortHandle,
}

impl WebhookSender {
    /// Starts delivering to `webhooks`, each the webhook of a portal
    /// (a portal may have several), with a client on rustls and the
    /// platform's certificate verifier that follows no redirects.
    ///
    /// Fails outside a tokio runtime, when a URL does not parse, or when
    /// TLS cannot be set up.
    pub fn start<P: AsRef<str>>(
        webhooks: impl IntoIterator<Item = (P, Webhook)>,
        config: SenderConfig,
    ) -> Result<Self, ConnectorError> {
        let client = crate::client::builder()?
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConnectorError::Unavailable(format!("HTTP client setup: {e}")))?;
        Self::start_with_client(webhooks, config, client)
    }

    /// The same with a client of the embedder's (a proxy, other roots);
    /// [`SenderConfig::timeout`] applies to its requests too.
    pub fn start_with_client<P: AsRef<str>>(
        webhooks: impl IntoIterator<Item = (P, Webhook)>,
        config: SenderConfig,
        client: reqwest::Client,
    ) -> Result<Self, ConnectorError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ConnectorError::Unavailable("the webhook sender starts inside a tokio runtime".into())
        })?;
        let mut routes = Routes::new();
        for (portal, webhook) in webhooks {
            let url = Url::parse(webhook.url()).map_err(|e| ConnectorError::Invalid {
                key: "url",
                reason: format!("{:?}: {e}", webhook.url()),
            })?;
            let mut shown = url.clone();
            shown.set_query(None);
            shown.set_fragment(None);
            let target = Target {
                url,
                shown: shown.to_string(),
                mac: keyed(webhook.secret()),
                events: webhook.events().to_vec(),
            };
            routes
                .entry(portal.as_ref().to_ascii_lowercase())
                .or_default()
                .push(Arc::new(target));
        }
        let routes = Arc::new(routes);
        let counters = Arc::new(Counters::default());
        let (queue, events) = mpsc::channel(config.queue_capacity.max(1));
        let (stop, stopped) = watch::channel(false);
        let post = Arc::new(Post {
            client,
            retry: config.retry,
            timeout: config.timeout,
            counters: counters.clone(),
        });
        let task = runtime.spawn(run(
            events,
            stopped,
            routes.clone(),
            post,
            config.concurrency.max(1),
        ));
        Ok(Self {
            queue,
            routes,
            counters,
            stop,
            abort: task.abort_handle(),
            task: Mutex::new(Some(task)),
        })
    }

    /// What it did so far.
    pub fn stats(&self) -> WebhookStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WebhookStats {
            delivered: load(&self.counters.delivered),
            failed: load(&self.counters.failed),
            retries: load(&self.counters.retries),
            dropped: load(&self.counters.dropped),
        }
    }

    /// Stops taking events (those published from now on are dropped),
    /// delivers those queued and lets deliveries under way finish, for at
    /// most `grace`; then gives up what is left. Whether everything was
    /// finished within `grace` (`true` too when it was shut down before).
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.stop.send_replace(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut task) = task else {
            return true;
        };
        match tokio::time::timeout(grace, &mut task).await {
            Ok(_) => true,
            Err(_) => {
                task.abort();
                false
            }
        }
    }
}

impl ChatEvents for WebhookSender {
    /// Queues `event` if a webhook of its portal wants it; never waits.
    fn publish(&self, event: WebhookEvent) {
        if targets(&self.routes, &event).next().is_none() {
            return;
        }
        let (why, event) = match self.queue.try_send(event) {
            Ok(()) => return,
            Err(TrySendError::Full(event)) => ("the queue is full", event),
            Err(TrySendError::Closed(event)) => ("the sender is shut down", event),
        };
        let dropped = Counters::add(&self.counters.dropped);
        if dropped == 1 || dropped.is_multiple_of(LOG_EVERY) {
            tracing::warn!(
                portal = %event.portal,
                event = event.kind.as_str(),
                id = %event.id,
                dropped,
                "webhook event dropped: {why}"
            );
        }
    }
}

impl Drop for WebhookSender {
    /// Stops the task and every delivery under way.
    fn drop(&mut self) {
        self.abort.abort();
    }
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut portals: Vec<&String> = self.routes.keys().collect();
        portals.sort();
        f.debug_struct("WebhookSender")
            .field("portals", &portals)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The task: takes events off the queue and starts their deliveries, at
/// most `concurrency` at a time; once told to stop, empties the queue and
/// waits for the deliveries under way.
async fn run(
    mut events: mpsc::Receiver<WebhookEvent>,
    mut stop: watch::Receiver<bool>,
    routes: Arc<Routes>,
    post: Arc<Post>,
    concurrency: usize,
) {
    let mut deliveries = JoinSet::new();
    let mut stopping = false;
    loop {
        tokio::select! {
            biased;
            () = told_to_stop(&mut stop), if !stopping => {
                // Nothing more comes in; what is queued still goes out.
                events.close();
                stopping = true;
            }
            Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
            event = events.recv() => {
                let Some(event) = event else { break };
                let body: Arc<[u8]> = event.body().into();
                for target in targets(&routes, &event) {
                    while deliveries.len() >= concurrency {
                        deliveries.join_next().await;
                    }
                    deliveries.spawn(post.clone().deliver(
                        target.clone(),
                        event.kind,
                        event.id.clone(),
                        body.clone(),
                    ));
                }
            }
        }
    }
    while deliveries.join_next().await.is_some() {}
}

/// Once the sender says stop (or is gone).
async fn told_to_stop(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// What a delivery needs besides its webhook and event.
#[derive(Debug)]
struct Post {
    client: reqwest::Client,
    retry: RetryPolicy,
    timeout: Duration,
    counters: Arc<Counters>,
}

/// Why one try failed, and whether to try again.
#[derive(Debug)]
struct Failure {
    reason: String,
    retry: bool,
    retry_after: Option<Duration>,
}

impl Post {
    /// Delivers one event to one webhook, trying as the policy says.
    async fn deliver(
        self: Arc<Self>,
        target: Arc<Target>,
        kind: EventKind,
        id: String,
        body: Arc<[u8]>,
    ) {
        let signature = sign(target.mac.clone(), &body);
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            let failure = match self.send(&target, kind, &id, &signature, &body).await {
                Ok(()) => {
                    Counters::add(&self.counters.delivered);
                    return;
                }
                Err(failure) => failure,
            };
            if !failure.retry || attempt >= attempts {
                Counters::add(&self.counters.failed);
                tracing::warn!(
                    url = %target.shown,
                    event = kind.as_str(),
                    id = %id,
                    attempts = attempt,
                    "webhook delivery given up: {}",
                    failure.reason
                );
                return;
            }
            let at_least = failure
                .retry_after
                .unwrap_or_default()
                .min(self.retry.max_backoff);
            Counters::add(&self.counters.retries);
            tokio::time::sleep(self.retry.wait(attempt).max(at_least)).await;
            attempt += 1;
        }
    }

    /// One try: a 2xx is done; the rest is a [`Failure`].
    async fn send(
        &self,
        target: &Target,
        kind: EventKind,
        id: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(), Failure> {
        let response = self
            .client
            .post(target.url.clone())
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, AGENT)
            .header(EVENT_HEADER, kind.as_str())
            .header(DELIVERY_HEADER, id)
            .header(SIGNATURE_HEADER, signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| Failure {
                // A request that cannot be built (an id that is no header
                // value) fails the same way every time.
                retry: !e.is_builder(),
                reason: e.to_string(),
                retry_after: None,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        Err(Failure {
            reason: status.to_string(),
            retry: status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
            retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn waits_double_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 6,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(3),
        };
        let waits: Vec<u128> = (1..=6).map(|n| policy.wait(n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 3000, 3000]);
        assert_eq!(policy.wait(u32::MAX), Duration::from_secs(3));
    }

    #[test]
    fn the_signature_is_lower_case_hex_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn it_starts_only_inside_a_runtime() {
        let hook = Webhook::parse("https://example.com/h", "s", &["chat.ended"]).unwrap();
        let error = WebhookSender::start([("p", hook)], SenderConfig::default()).unwrap_err();
        assert!(error.to_string().contains("tokio runtime"), "{error}");
    }
}
