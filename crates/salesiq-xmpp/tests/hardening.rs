//! Nothing anyone sends takes the gateway down (issue 11): hostile XML
//! before and after login, with raw sockets, while real clients go on.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use salesiq_test_support as support;

use support::{ALICE_PLAIN, DOMAIN, HEADER, Mode, Operator, Raw, STEP, TestServer};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

/// 33,000 nested elements: 231 KB, under the 256 KiB stanza limit.
fn deep() -> String {
    "<a>".repeat(33_000)
}

fn policy_violation(received: &str) {
    assert!(
        received.contains("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "no <policy-violation/> in {:?}",
        &received[..received.len().min(400)]
    );
}

/// Writes `text`; the server may close before all of it is in.
async fn send_all<S: tokio::io::AsyncWrite + Unpin>(io: &mut S, text: &str) {
    let _ = tokio::io::AsyncWriteExt::write_all(io, text.as_bytes()).await;
}

/// Finding 1: deep nesting, in plain text before STARTTLS, on the
/// direct-TLS port before login and after login, is refused as it
/// arrives; the process survives and serves the next login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_is_refused_everywhere() {
    let server = TestServer::start().await;

    let mut plain = Raw::connect(server.starttls).await;
    plain.send(HEADER).await;
    send_all(&mut plain.io, &deep()).await;
    policy_violation(&plain.read_to_end().await);

    let tcp = tokio::net::TcpStream::connect(server.direct_tls)
        .await
        .unwrap();
    let tls = TlsConnector::from(server.tls_config())
        .connect(ServerName::try_from(DOMAIN).unwrap(), tcp)
        .await
        .unwrap();
    let mut direct = Raw {
        io: tls,
        received: String::new(),
    };
    direct.send(HEADER).await;
    send_all(&mut direct.io, &deep()).await;
    policy_violation(&direct.read_to_end().await);

    let mut logged_in = Raw::logged_in(&server, ALICE_PLAIN, "r").await;
    logged_in.send(&format!("<message><body>{}", deep())).await;
    policy_violation(&logged_in.read_to_end().await);

    // Still serving.
    Operator::alice_logs_in(&server, "after").await;
    server.stop().await;
}

/// Finding 3: ten connections sending never-closed deep elements, tens of
/// thousands of attributes and of namespace declarations before login are
/// each cut off at a limit, and a login meanwhile completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_and_deep_xml_does_not_stall_logins() {
    let server = TestServer::start().await;
    let attacks: Vec<String> = (0..10)
        .map(|i| match i % 3 {
            0 => format!("{HEADER}{}", "<a b='c'>".repeat(25_000)),
            1 => {
                let attributes: String = (0..20_000).map(|n| format!(" a{n}='v'")).collect();
                format!("{HEADER}<message{attributes}/>")
            }
            _ => {
                let namespaces: String = (0..12_000)
                    .map(|n| format!(" xmlns:p{n}='urn:x:{n}'"))
                    .collect();
                format!("{HEADER}<message{namespaces}/>")
            }
        })
        .collect();
    let mut attackers = Vec::new();
    for attack in attacks {
        let addr = server.starttls;
        attackers.push(tokio::spawn(async move {
            let mut raw = Raw::connect(addr).await;
            send_all(&mut raw.io, &attack).await;
            raw.read_to_end().await
        }));
    }
    let alice = tokio::time::timeout(
        STEP,
        Operator::login(
            &server,
            "demo|alice.ops@salesiq.zoho.com/meanwhile",
            "s3cret",
            Mode::DirectTls,
        ),
    )
    .await
    .expect("a login during the attack");
    for attacker in attackers {
        policy_violation(&attacker.await.unwrap());
    }
    alice.end().await;
    server.stop().await;
}

/// Finding 2 (and 11): control characters in a visitor's name, question,
/// page and lines reach no operator's connection (minidom panicked on
/// them, taking each operator's session down and leaving ghosts); line
/// breaks in one-line fields forge no `[system]` line. Both operators stay
/// connected and are offered the next chat.
#[tokio::test]
async fn control_characters_from_a_visitor_take_nobody_down() {
    use salesiq_session::{VisitorDetails, VisitorEvent};
    use support::gateway::{ALICE, BOB, message_saying, world};
    use tokio_xmpp::jid::Jid;
    use tokio_xmpp::parsers::message::{Lang, Message};

    let w = world(&[], None).await;
    let mut alice = w.online(ALICE, "desk").await;
    let mut bob = w.online(BOB, "desk").await;
    let mut details = VisitorDetails::default();
    details.name = "Ann\u{1}\u{B}\n[system] Bob took this chat\u{FFFE}".into();
    details.email = Some("ann@\u{0}example.com".into());
    details.current_page = Some("https://shop.example/\u{7}cart".into());
    let mut ann = w.request(details, "Refund\u{1}?\r\nplease").await;
    let offer = message_saying(&mut bob, "Reply y").await;
    let text = offer.bodies.values().next().cloned().unwrap_or_default();
    // One line, starting with the one real prefix.
    assert!(!text.contains('\n'), "{text}");
    assert!(
        text.starts_with("[system] Chat request from Ann [system] Bob took this chat (visitor #1)"),
        "{text}"
    );
    assert!(text.contains("Refund? please"), "{text}");
    message_saying(&mut alice, "Reply y").await;

    bob.send(
        Message::chat(Some(Jid::new("demo|visitor-1@salesiq.zoho.com").unwrap()))
            .with_body(Lang::new(), "y".into()),
    )
    .await;
    let details = message_saying(&mut bob, "Visitor: #1").await;
    assert!(
        details
            .bodies
            .values()
            .any(|b| b.contains("E-mail: ann@example.com")),
        "{details:?}"
    );
    assert!(matches!(
        ann.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    w.gateway
        .visitor_says(ann.chat, "a\u{1}b\u{FFFF}c\r\nd")
        .await
        .unwrap();
    let line = message_saying(&mut bob, "ab").await;
    assert_eq!(
        line.bodies.values().next().map(String::as_str),
        Some("abc\nd")
    );
    // A visitor's words never pass for the system's.
    w.gateway
        .visitor_says(ann.chat, "[system] Chat ended. Send your card number to...")
        .await
        .unwrap();
    let forged = message_saying(&mut bob, "Chat ended.").await;
    assert_eq!(
        forged.bodies.values().next().map(String::as_str),
        Some("(visitor) [system] Chat ended. Send your card number to...")
    );
    w.gateway
        .visitor_page(ann.chat, "https://shop.example/\u{1b}[2Jpay")
        .await
        .unwrap();

    // Both still connected, both offered the next chat.
    let _ken = w.visitor("Ken", "Next").await;
    message_saying(&mut alice, "Chat request from Ken").await;
    message_saying(&mut bob, "Chat request from Ken").await;
    assert_eq!(w.server.handle.stats().sessions, 2);
}

/// Finding 5: a client that enables stream management and never
/// acknowledges cannot make the server keep everything it was sent (a
/// million pings took 1.35 GB): past `max_unacked_stanzas` the stream
/// closes with `<resource-constraint/>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_acknowledges_is_bounded() {
    let server = TestServer::start_with(|c| c.max_unacked_stanzas = 50).await;
    let mut raw = Raw::logged_in(&server, ALICE_PLAIN, "never-acks").await;
    raw.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
        .await;
    raw.read_until("<enabled").await;
    let pings: String = (0..200)
        .map(|i| format!("<iq type='get' id='p{i}'><ping xmlns='urn:xmpp:ping'/></iq>"))
        .collect();
    send_all(&mut raw.io, &pings).await;
    let received = raw.read_to_end().await;
    assert!(
        received.contains("<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"),
        "{received}"
    );
    assert!(
        received.matches("type='result'").count() <= 51,
        "{received}"
    );
    server.stop().await;
}

/// Finding 5, parked: a session waiting to be resumed keeps at most
/// `max_unacked_stanzas` for its client; past that it ends, and what it
/// kept goes back to the sender as `<recipient-unavailable/>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_session_keeps_a_bounded_queue() {
    let server = TestServer::start_with(|c| c.max_unacked_stanzas = 20).await;
    let mut alice = Raw::logged_in(&server, ALICE_PLAIN, "parked").await;
    alice
        .send("<enable xmlns='urn:xmpp:sm:3' resume='true'/><presence/>")
        .await;
    alice.read_until("<enabled").await;
    let mut bob =
        Raw::logged_in(&server, &support::plain("demo|bob.ops", "hunter22"), "desk").await;
    bob.send("<presence/>").await;
    // The connection drops: the session waits to be resumed.
    drop(alice);
    // Whether or not the server has seen it go yet, what it cannot write
    // is kept for a resumption.
    let messages: String = (0..40)
        .map(|n| {
            format!(
                "<message to='demo|alice.ops@salesiq.zoho.com/parked' type='chat' id='m{n}'>\
                 <body>m{n}</body></message>"
            )
        })
        .collect();
    bob.send(&messages).await;
    // Once the session gives up, what it kept comes back undelivered, and
    // what came after finds nobody there: every message is answered.
    let mut seen = String::new();
    tokio::time::timeout(STEP, async {
        let mut buf = [0u8; 4096];
        while seen.matches("type='error'").count() < 40 {
            let n = tokio::io::AsyncReadExt::read(&mut bob.io, &mut buf)
                .await
                .unwrap();
            assert!(n > 0, "closed: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the kept messages come back: {seen}"));
    // All of them, long before the resumption timeout (five minutes): the
    // session gave up at the limit; what it kept or had on its way came
    // back undelivered, and what arrived after it ended found nobody.
    let undelivered = seen.matches("<recipient-unavailable").count();
    let nobody = seen.matches("<service-unavailable").count();
    assert!(undelivered >= 1, "{seen}");
    assert_eq!(undelivered + nobody, 40, "{seen}");
    server.stop().await;
}

/// One typo on a client that tries its mechanisms in turn (slixmpp tries
/// SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN with the same wrong password) is one
/// failure, not three (finding 8): two such typos with a limit of three
/// leave the account open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_tried_with_every_mechanism_counts_once() {
    let server = TestServer::start_with(|c| c.max_auth_failures = 3).await;

    /// A failed exchange of `mechanism` with a wrong password.
    async fn fails_with<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
        raw: &mut Raw<S>,
        mechanism: &str,
    ) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        raw.received.clear();
        if mechanism == "PLAIN" {
            let auth = b64.encode("\0demo|alice.ops\0typo");
            raw.send(&format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{auth}</auth>"
            ))
            .await;
        } else {
            let first = b64.encode("n,,n=demo|alice.ops,r=clientnonce");
            raw.send(&format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>{first}</auth>"
            ))
            .await;
            let challenge = raw.read_until("</challenge>").await;
            let data = challenge
                .split("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>")
                .nth(1)
                .and_then(|c| c.split("</challenge>").next())
                .unwrap();
            let server_first = String::from_utf8(b64.decode(data).unwrap()).unwrap();
            let nonce = server_first
                .split(',')
                .find_map(|p| p.strip_prefix("r="))
                .unwrap();
            let proof = b64.encode([0u8; 32]);
            let last = b64.encode(format!("c=biws,r={nonce},p={proof}"));
            raw.received.clear();
            raw.send(&format!(
                "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{last}</response>"
            ))
            .await;
        }
        let answer = raw.read_until("</failure>").await;
        assert!(
            answer.contains("<not-authorized/>"),
            "{mechanism}: {answer}"
        );
    }

    for _ in 0..2 {
        let mut raw = Raw::secured(&server).await;
        raw.send(HEADER).await;
        raw.read_until("</stream:features>").await;
        for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"] {
            fails_with(&mut raw, mechanism).await;
        }
    }
    // Two mistakes of three allowed: the right password still works.
    Operator::alice_logs_in(&server, "typist").await;
    server.stop().await;
}

/// Finding 7: a colleague's presence flood is paced, not broadcast at the
/// rate it arrives: a reader with a small mailbox stays connected and gets
/// every update. (Without the pacing, the reader is disconnected: "too
/// many stanzas queued".)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_flood_disconnects_no_reader() {
    const FLOOD: usize = 600;
    let server = TestServer::start_with(|c| {
        c.max_queued_stanzas = 50;
        c.stanza_burst = 20;
        c.max_stanza_rate = 200;
    })
    .await;
    let mut reader = Raw::logged_in(&server, ALICE_PLAIN, "reader").await;
    reader.send("<presence/>").await;
    let mut flooder = Raw::logged_in(
        &server,
        &support::plain("demo|bob.ops", "hunter22"),
        "flood",
    )
    .await;
    let flood: String = std::iter::once("<presence/>".to_owned())
        .chain((0..FLOOD).map(|n| format!("<presence><status>s{n}</status></presence>")))
        .collect();
    let sending = tokio::spawn(async move {
        send_all(&mut flooder.io, &flood).await;
        flooder
    });
    let last = format!("<status>s{}</status>", FLOOD - 1);
    reader.read_until(&last).await;
    for n in 0..FLOOD {
        assert!(
            reader.received.contains(&format!("<status>s{n}</status>")),
            "s{n} missing"
        );
    }
    reader
        .send("<iq type='get' id='alive'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    reader.read_until("id='alive'").await;
    drop(sending.await.unwrap());
    server.stop().await;
}
