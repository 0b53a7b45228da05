//! The visitor WebSocket API against a real gateway over SQLite, with a
//! WebSocket client (tokio-tungstenite) on 127.0.0.1.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use salesiq_session::{
    Activity, ContactId, Gateway, NewOperator, OperatorEvent, OperatorRef, OperatorSink, Portal,
    SqliteStore, Store,
};
use salesiq_web::{GeoIp, visitor_ws};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<OperatorEvent>>);

impl OperatorSink for Recorder {
    fn send(&self, _: &OperatorRef, event: OperatorEvent) {
        self.0.lock().unwrap().push(event);
    }
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn frame(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), client.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

async fn send(client: &mut Client, value: Value) {
    client
        .send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// The text of the first message to an operator that contains `needle`,
/// waiting for it.
async fn said(sink: &Recorder, needle: &str) -> String {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let found = sink.0.lock().unwrap().iter().find_map(|e| match e {
                OperatorEvent::Message { text, .. } if text.contains(needle) => Some(text.clone()),
                _ => None,
            });
            if let Some(text) = found {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no message saying {needle:?}"))
}

/// A gateway over SQLite with Bob (bob.ops) available, its visitor API
/// on 127.0.0.1, and a visitor's WebSocket connected to it.
struct Fixture {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    sink: Arc<Recorder>,
    gateway: Gateway,
    bob: OperatorRef,
    server: tokio::task::JoinHandle<()>,
    client: Client,
}

impl Fixture {
    async fn start() -> Self {
        Self::start_with(visitor_ws::Limits::default()).await
    }

    async fn start_with(limits: visitor_ws::Limits) -> Self {
        Self::start_configured(limits, salesiq_session::DEFAULT_VISITOR_GRACE).await
    }

    async fn start_configured(limits: visitor_ws::Limits, grace: Duration) -> Self {
        let mut config = visitor_ws::Config::default();
        config.limits = limits;
        Self::start_with_config(config, grace).await
    }

    async fn start_with_config(config: visitor_ws::Config, grace: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("g.sqlite3")).unwrap());
        store.put_portal(&Portal::new("demo", "en")).await.unwrap();
        let operator = store
            .add_operator(&NewOperator::new("demo", "bob@demo.example", "Bob"))
            .await
            .unwrap();
        store.claim_username(operator.id, "bob.ops").await.unwrap();
        let sink = Arc::new(Recorder::default());
        let gateway = Gateway::builder(store.clone())
            .visitor_grace(grace)
            .build(sink.clone());
        let bob = OperatorRef::new("demo", "bob.ops");
        gateway.set_available(&bob, true).await;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = visitor_ws::router_with_config(gateway.clone(), config)
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let (client, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/ws/visitor?portal=demo"))
                .await
                .unwrap();
        Self {
            addr,
            _dir: dir,
            store,
            sink,
            gateway,
            bob,
            server,
            client,
        }
    }
}

#[tokio::test]
async fn a_visitor_chats_over_the_websocket() {
    let Fixture {
        addr: _,
        _dir,
        store,
        sink,
        gateway,
        bob,
        server,
        mut client,
    } = Fixture::start().await;
    // Nonsense is answered, and the connection stays.
    client
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    assert_eq!(frame(&mut client).await["type"], "error");
    send(&mut client, json!({"type": "message", "text": "too early"})).await;
    assert_eq!(frame(&mut client).await["message"], "say start first");
    send(&mut client, json!({"type": "dance"})).await;
    assert_eq!(frame(&mut client).await["type"], "error");

    send(&mut client, json!({"type": "start", "name": "Ann Lee", "email": "ann@example.com", "question": "Where is my refund?", "department": ""})).await;
    let session = frame(&mut client).await;
    assert_eq!(
        (&session["type"], &session["expires_in"]),
        (&json!("session"), &json!(120))
    );
    let token = session["resume"].as_str().unwrap();
    assert!(
        token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit()),
        "{token}"
    );
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "queued", "position": 1})
    );
    // Without a GeoIP database the request names no country.
    assert_eq!(
        said(&sink, "Reply y").await,
        "[system] Chat request from Ann Lee (visitor #1): Where is my refund?. Reply y to accept."
    );
    gateway
        .operator_says(&bob, &ContactId::visitor("demo", 1), "y")
        .await
        .unwrap();
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "joined", "operator": "Bob", "seq": 1})
    );
    gateway
        .operator_says(&bob, &ContactId::visitor("demo", 1), "Hello Ann")
        .await
        .unwrap();
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "message", "from": "Bob", "text": "Hello Ann", "seq": 2})
    );
    gateway
        .operator_chat_state(&bob, &ContactId::visitor("demo", 1), Activity::Composing)
        .await
        .unwrap();
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "typing", "from": "Bob", "state": "composing"})
    );
    gateway
        .operator_says(
            &bob,
            &ContactId::visitor("demo", 1),
            "#p https://demo.example/refunds",
        )
        .await
        .unwrap();
    // A command is not typing: the "Bob is typing" it began is cleared.
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "typing", "from": "Bob", "state": "active"})
    );
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "push", "url": "https://demo.example/refunds", "seq": 3})
    );

    send(&mut client, json!({"type": "typing", "state": "composing"})).await;
    send(
        &mut client,
        json!({"type": "page", "url": "https://demo.example/refunds"}),
    )
    .await;
    send(&mut client, json!({"type": "message", "text": "Thanks!"})).await;
    // The visitor's words reach Bob; the address was taken from the socket.
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let got = sink
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, OperatorEvent::Message { text, .. } if text == "Thanks!"));
            if got {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let visitor = store
        .visitor("demo", salesiq_session::VisitorId(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(visitor.details.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        visitor.details.current_page.as_deref(),
        Some("https://demo.example/refunds")
    );

    gateway
        .operator_says(&bob, &ContactId::visitor("demo", 1), "#e")
        .await
        .unwrap();
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "ended", "reason": "The operator ended the chat", "seq": 4})
    );
    server.abort();
}

/// A frame over the limit closes the socket; the chat then waits the
/// grace for a resume (here 200 ms), and ends.
#[tokio::test]
async fn an_oversized_frame_closes_the_socket_and_the_chat_ends_after_the_grace() {
    let Fixture {
        addr: _,
        _dir,
        sink,
        server,
        mut client,
        ..
    } = Fixture::start_configured(visitor_ws::Limits::default(), Duration::from_millis(200)).await;
    send(
        &mut client,
        json!({"type": "start", "name": "Eve", "question": "Hi"}),
    )
    .await;
    assert_eq!(frame(&mut client).await["type"], "session");
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "queued", "position": 1})
    );
    let huge = "x".repeat(visitor_ws::MAX_FRAME_BYTES + 1);
    // The send may fail once the server has closed; either way the socket
    // must end rather than take the frame.
    let _ = client
        .send(Message::Text(
            json!({"type": "message", "text": huge}).to_string().into(),
        ))
        .await;
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match client.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the socket stayed open");
    // The visitor did not come back: Bob's offer is withdrawn.
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let removed = sink
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, OperatorEvent::ContactRemoved { .. }));
            if removed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    server.abort();
}

/// Issue 11, finding 9: a chat request to a portal that does not exist is
/// answered with an error frame; nothing is queued or stored, and the
/// socket stays open for a `start` that makes sense.
#[tokio::test]
async fn a_portal_that_does_not_exist_takes_no_chats() {
    let fixture = Fixture::start().await;
    let (mut client, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/visitor?portal=no-such-portal",
        fixture.addr
    ))
    .await
    .unwrap();
    send(
        &mut client,
        json!({"type": "start", "name": "Eve", "question": "Queue me"}),
    )
    .await;
    let refused = frame(&mut client).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["message"], "no portal named no-such-portal");
    assert!(fixture.store.unfinished_chats().await.unwrap().is_empty());
    assert!(
        fixture.sink.0.lock().unwrap().is_empty(),
        "nobody was offered it"
    );
}

/// Issue 11, finding 4 (HTTP side, in part): a socket that never starts a
/// chat is closed after `start_timeout`, with an error frame saying why;
/// nonsense frames do not keep it open (idle sockets once piled up until
/// the process ran out of file descriptors).
#[tokio::test]
async fn a_socket_that_never_starts_is_closed() {
    let mut limits = visitor_ws::Limits::default();
    limits.start_timeout = std::time::Duration::from_millis(300);
    let Fixture { mut client, .. } = Fixture::start_with(limits).await;
    send(&mut client, json!({"type": "message", "text": "no start"})).await;
    assert_eq!(frame(&mut client).await["message"], "say start first");
    let closed = frame(&mut client).await;
    assert_eq!(closed["message"], "no chat was started in time");
    match client.next().await {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => {}
        Some(Ok(other)) => panic!("more after the timeout: {other:?}"),
    }
}

/// Issue 13: a page reload mid-chat. The socket closes, the operator
/// writes on, and a new socket resumes with the token and the last `seq`
/// it showed: `resumed`, then exactly what it missed, in order, then live
/// frames. A bad token is an error frame on a socket that stays open;
/// `leave` ends the chat at once.
#[tokio::test]
async fn a_reloaded_page_resumes_its_chat() {
    let Fixture {
        addr,
        _dir,
        sink,
        gateway,
        bob,
        server,
        mut client,
        ..
    } = Fixture::start().await;
    send(
        &mut client,
        json!({"type": "start", "name": "Ann", "question": "Hi"}),
    )
    .await;
    let token = frame(&mut client).await["resume"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        frame(&mut client).await,
        json!({"type": "queued", "position": 1})
    );
    let ann = ContactId::visitor("demo", 1);
    gateway.operator_says(&bob, &ann, "y").await.unwrap();
    gateway.operator_says(&bob, &ann, "first").await.unwrap();
    assert_eq!(frame(&mut client).await["seq"], 1);
    assert_eq!(frame(&mut client).await["seq"], 2);
    // The reload: the socket goes, Bob writes on.
    drop(client);
    for text in ["while away", "and again"] {
        gateway.operator_says(&bob, &ann, text).await.unwrap();
    }
    let url = format!("ws://{addr}/ws/visitor?portal=demo");
    let (mut page, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    send(
        &mut page,
        json!({"type": "resume", "token": "0".repeat(32), "after": 2}),
    )
    .await;
    let refused = frame(&mut page).await;
    assert_eq!(refused["type"], "error");
    assert_eq!(
        refused["message"],
        "this chat cannot be resumed; please start a new one"
    );
    send(
        &mut page,
        json!({"type": "resume", "token": token, "after": 2}),
    )
    .await;
    assert_eq!(frame(&mut page).await, json!({"type": "resumed"}));
    assert_eq!(
        frame(&mut page).await,
        json!({"type": "message", "from": "Bob", "text": "while away", "seq": 3})
    );
    assert_eq!(
        frame(&mut page).await,
        json!({"type": "message", "from": "Bob", "text": "and again", "seq": 4})
    );
    gateway.operator_says(&bob, &ann, "live").await.unwrap();
    assert_eq!(frame(&mut page).await["seq"], 5);
    send(&mut page, json!({"type": "message", "text": "back"})).await;
    send(&mut page, json!({"type": "leave"})).await;
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let events = sink.0.lock().unwrap().clone();
            let said_back = events
                .iter()
                .any(|e| matches!(e, OperatorEvent::Message { text, .. } if text == "back"));
            let left = events.iter().any(|e| {
                matches!(e, OperatorEvent::Message { text, .. } if text.contains("The visitor left the chat"))
            });
            if said_back && left {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    server.abort();
}

/// A GeoIP database made here, in MaxMind's mmdb format: 127.0.0.0/8 in
/// Iceland, 203.0.113.0/24 in Japan (by English name, as GeoLite2 has it).
fn geoip() -> Arc<GeoIp> {
    use mmdb_writer::ipnet::IpNet;
    use mmdb_writer::{Value, Writer};

    let mut writer = Writer::new("Test-Country");
    for (net, iso_code, english) in [
        ("127.0.0.0/8", "IS", "Iceland"),
        ("203.0.113.0/24", "JP", "Japan"),
    ] {
        let country = Value::map([
            ("iso_code", Value::from(iso_code)),
            ("names", Value::map([("en", english)])),
        ]);
        let record = Value::map([("country", country)]);
        writer
            .insert_value(net.parse::<IpNet>().unwrap(), record)
            .unwrap();
    }
    Arc::new(GeoIp::from_bytes(writer.to_bytes().unwrap()).unwrap())
}

/// A visitor API with the test database, trusting these proxies.
async fn behind(trusted_proxies: &[&str]) -> Fixture {
    let mut config = visitor_ws::Config::default();
    config.geoip = Some(geoip());
    config.client_address.trusted_proxies =
        trusted_proxies.iter().map(|p| p.parse().unwrap()).collect();
    Fixture::start_with_config(config, salesiq_session::DEFAULT_VISITOR_GRACE).await
}

/// A visitor's socket from 127.0.0.1, with an `X-Forwarded-For` header
/// if given, that has asked for a chat; the first frame after `start`.
async fn visitor(addr: SocketAddr, forwarded_for: Option<&str>, name: &str) -> (Client, Value) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let mut request = format!("ws://{addr}/ws/visitor?portal=demo")
        .into_client_request()
        .unwrap();
    if let Some(value) = forwarded_for {
        request
            .headers_mut()
            .insert("x-forwarded-for", value.parse().unwrap());
    }
    let (mut client, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(
        &mut client,
        json!({"type": "start", "name": name, "question": "Hi"}),
    )
    .await;
    let first = frame(&mut client).await;
    (client, first)
}

/// Where the store says visitor `number` is.
async fn address_of(store: &SqliteStore, number: i64) -> (Option<String>, Option<String>) {
    let visitor = store
        .visitor("demo", salesiq_session::VisitorId(number))
        .await
        .unwrap()
        .unwrap();
    (visitor.details.ip, visitor.details.country)
}

fn pair(ip: &str, country: &str) -> (Option<String>, Option<String>) {
    (Some(ip.to_owned()), Some(country.to_owned()))
}

/// Issue 15, item 7: the visitor's country, looked up in the GeoIP
/// database, is in the chat request Bob is offered, in what he is told
/// when he accepts and in `#info`. A peer that is no trusted proxy cannot
/// choose its address (`#b` blocks by it) with `X-Forwarded-For`: the
/// header is ignored, and the socket's address and its country are used.
#[tokio::test]
async fn a_visitor_gets_its_country_and_an_untrusted_forwarded_for_is_ignored() {
    let Fixture {
        addr,
        _dir,
        store,
        sink,
        gateway,
        bob,
        server,
        ..
    } = behind(&["192.0.2.1"]).await;
    let (mut ann, session) = visitor(addr, Some("203.0.113.7"), "Ann").await;
    assert_eq!(session["type"], "session", "{session}");
    assert_eq!(
        frame(&mut ann).await,
        json!({"type": "queued", "position": 1})
    );
    assert_eq!(
        said(&sink, "Reply y").await,
        "[system] Chat request from Ann (visitor #1) in Iceland: Hi. Reply y to accept."
    );
    assert_eq!(address_of(&store, 1).await, pair("127.0.0.1", "Iceland"));

    let ann_id = ContactId::visitor("demo", 1);
    gateway.operator_says(&bob, &ann_id, "y").await.unwrap();
    let accepted = said(&sink, "Visitor: #1 Ann").await;
    assert!(
        accepted.contains("Country: Iceland") && accepted.contains("IP: 127.0.0.1"),
        "{accepted}"
    );
    sink.0.lock().unwrap().clear();
    gateway.operator_says(&bob, &ann_id, "#info").await.unwrap();
    let info = said(&sink, "Visitor: #1 Ann").await;
    assert!(info.contains("Country: Iceland"), "{info}");
    assert!(!info.contains("Japan"), "{info}");
    server.abort();
}

/// Behind a trusted reverse proxy (127.0.0.1 here) the visitor is the
/// right-most address of `X-Forwarded-For` that is no trusted proxy, and
/// its country is that address's; what the client wrote left of it does
/// not count. A malformed header, or none, is the proxy's own address.
#[tokio::test]
async fn a_trusted_proxy_names_the_visitor_and_so_its_country() {
    let Fixture {
        addr,
        _dir,
        store,
        sink,
        server,
        ..
    } = behind(&["127.0.0.1"]).await;
    let (_ann, session) = visitor(addr, Some("198.18.0.9, 203.0.113.7, 127.0.0.1"), "Ann").await;
    assert_eq!(session["type"], "session", "{session}");
    assert_eq!(address_of(&store, 1).await, pair("203.0.113.7", "Japan"));
    assert_eq!(
        said(&sink, "visitor #1").await,
        "[system] Chat request from Ann (visitor #1) in Japan: Hi. Reply y to accept."
    );
    let (_ben, session) = visitor(addr, Some("203.0.113.8, not-an-address"), "Ben").await;
    assert_eq!(session["type"], "session", "{session}");
    assert_eq!(address_of(&store, 2).await, pair("127.0.0.1", "Iceland"));
    let (_cy, session) = visitor(addr, None, "Cy").await;
    assert_eq!(session["type"], "session", "{session}");
    assert_eq!(address_of(&store, 3).await, pair("127.0.0.1", "Iceland"));
    server.abort();
}

/// `#b` behind a trusted proxy blocks the visitor's address, not the
/// proxy's: the same visitor cannot come back by writing another address
/// in front of its own, and others behind the proxy still can chat.
#[tokio::test]
async fn a_blocked_visitor_behind_a_proxy_stays_blocked_and_others_do_not() {
    let Fixture {
        addr,
        _dir,
        sink,
        gateway,
        bob,
        server,
        ..
    } = behind(&["127.0.0.1"]).await;
    let (mut eve, session) = visitor(addr, Some("203.0.113.7"), "Eve").await;
    assert_eq!(session["type"], "session", "{session}");
    assert_eq!(
        frame(&mut eve).await,
        json!({"type": "queued", "position": 1})
    );
    let eve_id = ContactId::visitor("demo", 1);
    gateway.operator_says(&bob, &eve_id, "y").await.unwrap();
    gateway
        .operator_says(&bob, &eve_id, "#b spam")
        .await
        .unwrap();
    said(&sink, "IP address blocked").await;

    for forwarded_for in ["203.0.113.7", "192.0.2.50, 203.0.113.7"] {
        let (_again, refused) = visitor(addr, Some(forwarded_for), "Eve").await;
        assert_eq!(
            refused,
            json!({"type": "error", "message": "chats from your address are not accepted"}),
            "{forwarded_for}"
        );
    }
    let (_ann, session) = visitor(addr, Some("203.0.113.8"), "Ann").await;
    assert_eq!(session["type"], "session", "{session}");
    let (_direct, session) = visitor(addr, None, "Cy").await;
    assert_eq!(session["type"], "session", "{session}");
    server.abort();
}
