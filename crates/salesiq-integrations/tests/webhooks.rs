//! The webhook sender against real local HTTP servers (wiremock, and raw
//! sockets for endpoints that are down or never answer): the documented
//! body and headers, signatures checked by an HMAC computed here, tenant
//! isolation, retries with one idempotency id, no retry on other 4xx,
//! timeouts, the queue's bound, and a publish that never waits.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use salesiq_integrations::{
    ChatEvents, EventKind, SenderConfig, Webhook, WebhookEvent, WebhookSender, WebhookStats,
};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "whsec-acme-0123";

/// A webhook of `server` at `at`, for `events`.
fn hook(server: &MockServer, at: &str, events: &[&str]) -> Webhook {
    Webhook::parse(&format!("{}{at}", server.uri()), SECRET, events).unwrap()
}

/// Retries 10 ms, 20 ms, 40 ms apart, so that the tests take no seconds.
fn fast() -> SenderConfig {
    let mut config = SenderConfig::default();
    config.retry.backoff = Duration::from_millis(10);
    config.retry.max_backoff = Duration::from_millis(40);
    config.timeout = Duration::from_secs(5);
    config
}

fn event(kind: EventKind, portal: &str, data: Value) -> WebhookEvent {
    WebhookEvent::new(kind, portal, data)
}

/// Waits (10 s at most) until the sender's stats satisfy `done`.
async fn until(sender: &WebhookSender, done: impl Fn(WebhookStats) -> bool) -> WebhookStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = sender.stats();
        if done(stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "timed out at {stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Whether `value` is `sha256=` and the lower-case hex HMAC-SHA256 of
/// `body` with `secret`, computed here with the hmac crate, as a
/// receiver would.
fn verifies(secret: &str, body: &[u8], value: &str) -> bool {
    let Some(hex) = value.strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 || hex.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return false;
    }
    let tag: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

fn body_json(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test]
async fn the_body_is_the_documented_json_and_its_signature_verifies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/acme"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let sender = WebhookSender::start(
        [("acme", hook(&server, "/hooks/acme", &["chat.accepted"]))],
        fast(),
    )
    .unwrap();
    let at = chrono::DateTime::from_timestamp_millis(1_777_627_812_345).unwrap();
    let published = event(
        EventKind::ChatAccepted,
        "acme",
        json!({"chat": "c-17", "operator": "alice.ops", "visitor": "Ann Lee"}),
    )
    .with_at(at);
    sender.publish(published.clone());
    let stats = until(&sender, |s| s.delivered == 1).await;
    assert_eq!((stats.failed, stats.retries, stats.dropped), (0, 0, 0));

    let requests = server.received_requests().await.unwrap();
    let [request] = requests.as_slice() else {
        panic!("{} requests", requests.len());
    };
    let text = std::str::from_utf8(&request.body).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"id":"{}","event":"chat.accepted","portal":"acme","at":"2026-05-01T09:30:12.345Z","data":{{"chat":"c-17","operator":"alice.ops","visitor":"Ann Lee"}}}}"#,
            published.id
        )
    );
    let body = body_json(request);
    assert_eq!(body, published.to_json());
    let sent_at = chrono::DateTime::parse_from_rfc3339(body["at"].as_str().unwrap()).unwrap();
    assert_eq!(sent_at, at);

    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(header(request, "x-salesiq-event"), "chat.accepted");
    assert_eq!(header(request, "x-salesiq-delivery"), published.id);
    assert_eq!(published.id.len(), 32);
    let signature = header(request, "x-salesiq-signature");
    assert!(verifies(SECRET, &request.body, signature), "{signature}");
    assert_eq!(
        signature,
        salesiq_integrations::signature(SECRET, &request.body)
    );
    // A receiver with another secret, or a body changed by one byte,
    // refuses it.
    assert!(!verifies("whsec-acme-0124", &request.body, signature));
    let mut tampered = request.body.clone();
    tampered[10] ^= 1;
    assert!(!verifies(SECRET, &tampered, signature));
    assert!(!verifies(SECRET, &request.body, &signature.to_uppercase()));
}

#[tokio::test]
async fn only_the_portals_own_webhooks_get_only_the_kinds_they_asked_for() {
    let acme = MockServer::start().await;
    let globex = MockServer::start().await;
    for server in [&acme, &globex] {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(server)
            .await;
    }
    let sender = WebhookSender::start(
        [
            ("acme", hook(&acme, "/ended", &["chat.ended"])),
            (
                "acme",
                hook(&acme, "/requests", &["chat.requested", "chat.ended"]),
            ),
            (
                "globex",
                hook(
                    &globex,
                    "/all",
                    &[
                        "chat.requested",
                        "chat.accepted",
                        "chat.ended",
                        "chat.missed",
                        "chat.rated",
                        "message.left",
                    ],
                ),
            ),
        ],
        fast(),
    )
    .unwrap();
    for (kind, portal) in [
        (EventKind::ChatRequested, "acme"),
        (EventKind::ChatAccepted, "acme"), // nobody at acme asked for it
        (EventKind::ChatEnded, "acme"),
        (EventKind::ChatEnded, "ACME"), // portal names ignore ASCII case
        (EventKind::MessageLeft, "initech"), // no webhooks at all
        (EventKind::ChatRated, "acme"),
    ] {
        sender.publish(event(kind, portal, json!({"kind": kind.as_str()})));
    }
    until(&sender, |s| s.delivered == 5).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sender.stats().delivered, 5, "and nothing more");

    let mut seen: Vec<(String, String, String)> = acme
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body = body_json(r);
            (
                r.url.path().to_owned(),
                body["event"].as_str().unwrap().to_owned(),
                body["portal"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let expected: Vec<(String, String, String)> = [
        ("/ended", "chat.ended", "ACME"),
        ("/ended", "chat.ended", "acme"),
        ("/requests", "chat.ended", "ACME"),
        ("/requests", "chat.ended", "acme"),
        ("/requests", "chat.requested", "acme"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(seen, expected);
    // Tenant isolation: globex's webhook wants every kind, and gets none
    // of acme's (or anyone else's) events.
    assert!(globex.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_5xx_or_429_is_retried_and_delivered_once_under_the_same_id() {
    for status in [500, 503, 429] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let sender =
            WebhookSender::start([("acme", hook(&server, "/h", &["chat.ended"]))], fast()).unwrap();
        let published = event(EventKind::ChatEnded, "acme", json!({"chat": "c-1"}));
        sender.publish(published.clone());
        let stats = until(&sender, |s| s.delivered == 1).await;
        assert_eq!((stats.retries, stats.failed), (1, 0), "{status}");
        tokio::time::sleep(Duration::from_millis(150)).await;

        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2, "{status}: one failure, one delivery");
        for request in &requests {
            assert_eq!(header(request, "x-salesiq-delivery"), published.id);
            assert_eq!(body_json(request)["id"], published.id.as_str());
            assert!(verifies(
                SECRET,
                &request.body,
                header(request, "x-salesiq-signature")
            ));
        }
        assert_eq!(requests[0].body, requests[1].body, "the very same bytes");
    }
}

#[tokio::test]
async fn other_4xx_and_3xx_are_not_retried() {
    for status in [400, 404, 410, 302] {
        let server = MockServer::start().await;
        Mock::given(path("/h"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("Location", format!("{}/elsewhere", server.uri()).as_str()),
            )
            .expect(1)
            .mount(&server)
            .await;
        // A redirect is not followed.
        Mock::given(path("/elsewhere"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        let sender =
            WebhookSender::start([("acme", hook(&server, "/h", &["chat.missed"]))], fast())
                .unwrap();
        sender.publish(event(EventKind::ChatMissed, "acme", json!({})));
        let stats = until(&sender, |s| s.failed == 1).await;
        assert_eq!((stats.delivered, stats.retries), (0, 0), "{status}");
        // Retries would come within 10 to 40 ms.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            1,
            "{status}"
        );
    }
}

/// An HTTP endpoint that accepts connections, reads the request and
/// never answers. Counts the requests, and the connections closed by the
/// client.
async fn black_hole() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/h", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (counted, gone) = (requests.clone(), closed.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (counted, gone) = (counted.clone(), gone.clone());
            tokio::spawn(async move {
                let mut buffer = vec![0; 64 * 1024];
                let mut post = false;
                while let Ok(n) = socket.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    if !post && buffer.starts_with(b"POST ") {
                        post = true;
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                }
                gone.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (url, requests, closed)
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_is_retried() {
    let (url, requests, _) = black_hole().await;
    let mut config = fast();
    config.timeout = Duration::from_millis(200);
    config.retry.attempts = 3;
    let sender = WebhookSender::start(
        [(
            "acme",
            Webhook::parse(&url, SECRET, &["chat.requested"]).unwrap(),
        )],
        config,
    )
    .unwrap();
    let started = Instant::now();
    sender.publish(event(EventKind::ChatRequested, "acme", json!({})));
    let stats = until(&sender, |s| s.failed == 1).await;
    assert_eq!((stats.delivered, stats.retries), (0, 2));
    assert_eq!(requests.load(Ordering::SeqCst), 3, "three tries");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "each try waited for its timeout: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_drops_the_newest_events_and_counts_them() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut config = fast();
    config.queue_capacity = 3;
    config.concurrency = 1;
    let sender =
        WebhookSender::start([("acme", hook(&server, "/h", &["message.left"]))], config).unwrap();
    // On this one thread the sender's task cannot run while we publish:
    // three events fit, the seven after them are dropped.
    let events: Vec<WebhookEvent> = (0..10)
        .map(|n| event(EventKind::MessageLeft, "acme", json!({"n": n})))
        .collect();
    for published in &events {
        sender.publish(published.clone());
    }
    assert_eq!(sender.stats().dropped, 7);
    until(&sender, |s| s.delivered == 3).await;
    let sent: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| body_json(r)["data"]["n"].clone())
        .collect();
    assert_eq!(sent, [json!(0), json!(1), json!(2)], "the oldest, in order");
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 10, "one idempotency id per event");
    // Room again.
    sender.publish(event(EventKind::MessageLeft, "acme", json!({"n": 10})));
    let stats = until(&sender, |s| s.delivered == 4).await;
    assert_eq!((stats.dropped, stats.failed), (7, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn publishing_never_waits_even_when_the_endpoints_are_down() {
    // One endpoint refuses connections, one never answers.
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (silent, _, _) = black_hole().await;
    let refused = format!("http://127.0.0.1:{closed_port}/h");
    let hooks = [refused, silent].map(|url| {
        (
            "acme",
            Webhook::parse(&url, SECRET, &["chat.ended"]).unwrap(),
        )
    });
    let sender = Arc::new(WebhookSender::start(hooks, SenderConfig::default()).unwrap());
    let started = Instant::now();
    for n in 0..20_000 {
        sender.publish(event(EventKind::ChatEnded, "acme", json!({"n": n})));
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "20,000 publishes took {took:?}"
    );
    assert_eq!(
        sender.stats().dropped,
        10_000,
        "the default queue holds 10,000"
    );

    // From a thread of its own, outside the runtime, too.
    let from_thread = sender.clone();
    std::thread::spawn(move || {
        for _ in 0..5 {
            from_thread.publish(event(EventKind::ChatEnded, "acme", json!({})));
        }
    })
    .join()
    .unwrap();
    assert_eq!(sender.stats().dropped, 10_005);

    // Shutting down gives up after its grace, rather than waiting for
    // deliveries that cannot succeed.
    let started = Instant::now();
    assert!(!sender.shutdown(Duration::from_millis(300)).await);
    assert!(started.elapsed() < Duration::from_secs(3));
    sender.publish(event(EventKind::ChatEnded, "acme", json!({})));
    assert_eq!(sender.stats().dropped, 10_006, "refused after shutdown");
    assert_eq!(sender.stats().delivered, 0);
}

#[tokio::test]
async fn shutdown_delivers_what_is_queued_first() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(50)))
        .mount(&server)
        .await;
    let sender =
        WebhookSender::start([("acme", hook(&server, "/h", &["chat.rated"]))], fast()).unwrap();
    for rating in 1..=5 {
        sender.publish(event(
            EventKind::ChatRated,
            "acme",
            json!({"rating": rating}),
        ));
    }
    assert!(sender.shutdown(Duration::from_secs(10)).await);
    assert_eq!(sender.stats().delivered, 5);
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
    sender.publish(event(EventKind::ChatRated, "acme", json!({})));
    assert_eq!(sender.stats().dropped, 1);
}

#[tokio::test]
async fn dropping_the_sender_stops_its_deliveries() {
    let (url, requests, closed) = black_hole().await;
    let mut config = SenderConfig::default();
    config.timeout = Duration::from_secs(60);
    let sender = WebhookSender::start(
        [(
            "acme",
            Webhook::parse(&url, SECRET, &["chat.ended"]).unwrap(),
        )],
        config,
    )
    .unwrap();
    sender.publish(event(EventKind::ChatEnded, "acme", json!({})));
    let deadline = Instant::now() + Duration::from_secs(10);
    while requests.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no request came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(sender);
    // The request under way (which would wait a minute for its answer)
    // is abandoned: its connection closes.
    while closed.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the connection stayed open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
