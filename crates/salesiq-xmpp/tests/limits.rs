//! Every limit and error the server enforces, with raw sockets: what a
//! well-behaved client never sends. Each answer is the stream, SASL or
//! stanza error RFC 6120 names.

use salesiq_test_support as support;

use std::time::Duration;

use support::{ALICE_PLAIN, HEADER, Mode, Raw, TestServer};

/// The stream error a raw exchange ended with.
fn stream_error(received: &str, condition: &str) {
    let expected = format!("<{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>");
    assert!(
        received.contains("<stream:error>") && received.contains(&expected),
        "no <{condition}/> stream error in {received:?}"
    );
    assert!(
        received.ends_with("</stream:stream>"),
        "stream not closed: {received:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_stanzas_are_a_policy_violation() {
    let server = TestServer::start_with(|c| c.max_stanza_bytes = 4096).await;
    let mut raw = Raw::logged_in(&server, ALICE_PLAIN, "r").await;
    // Just under the limit is fine, and whitespace between stanzas too.
    let fits = format!(
        "<message to='demo|alice.ops@salesiq.zoho.com'><body>{}</body></message>  \n",
        "a".repeat(3900)
    );
    raw.send(&fits).await;
    raw.send(&format!(
        "<message><body>{}</body></message>",
        "b".repeat(5000)
    ))
    .await;
    stream_error(&raw.read_to_end().await, "policy-violation");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_restricted_xml() {
    let server = TestServer::start().await;
    for (body, condition) in [
        ("<message><body>x</message>", "not-well-formed"),
        ("<message a='1' a='2'/>", "not-well-formed"),
        ("<presence/><!-- a comment -->", "restricted-xml"),
        ("<?php echo 1; ?>", "restricted-xml"),
        ("<message><body>&xxe;</body></message>", "restricted-xml"),
        ("hello<presence/>", "bad-format"),
    ] {
        let mut raw = Raw::logged_in(&server, ALICE_PLAIN, "r").await;
        raw.send(body).await;
        let received = raw.read_to_end().await;
        stream_error(&received, condition);
    }
    // A DTD before the stream even starts.
    let mut raw = Raw::connect(server.starttls).await;
    raw.send("<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY x 'y'>]><stream:stream>")
        .await;
    stream_error(&raw.read_to_end().await, "restricted-xml");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_headers_are_checked() {
    let server = TestServer::start().await;
    for (header, condition) in [
        (
            HEADER.replace("salesiq.zoho.com", "example.org"),
            "host-unknown",
        ),
        (HEADER.replace(" to='salesiq.zoho.com'", ""), "host-unknown"),
        (
            HEADER.replace("version='1.0'>", "version='0.9'>"),
            "unsupported-version",
        ),
        (
            HEADER.replace("http://etherx.jabber.org/streams", "urn:wrong"),
            "invalid-namespace",
        ),
    ] {
        let mut raw = Raw::connect(server.starttls).await;
        raw.send(&header).await;
        let received = raw.read_to_end().await;
        // The server's header comes first, then the error.
        assert!(
            received.starts_with("<?xml version='1.0'?><stream:stream"),
            "{received}"
        );
        stream_error(&received, condition);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_before_tls_and_no_stanza_before_authentication() {
    let server = TestServer::start().await;
    // SASL on the plaintext stream: encryption-required, and nothing else.
    let mut raw = Raw::connect(server.starttls).await;
    raw.send(HEADER).await;
    let features = raw.read_until("</stream:features>").await;
    assert!(
        features.contains("<required/>") && !features.contains("mechanism"),
        "{features}"
    );
    raw.send(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{ALICE_PLAIN}</auth>"
    ))
    .await;
    let reply = raw.read_until("</failure>").await;
    assert!(reply.contains("<encryption-required/>"), "{reply}");
    // A stanza before TLS: not-authorized.
    raw.send("<message to='demo|bob.ops@salesiq.zoho.com'><body>hi</body></message>")
        .await;
    stream_error(&raw.read_to_end().await, "not-authorized");

    // A stanza inside TLS but before SASL: the same.
    let mut raw = Raw::secured(&server).await;
    raw.send(HEADER).await;
    raw.read_until("</stream:features>").await;
    raw.send("<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    stream_error(&raw.read_to_end().await, "not-authorized");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failed_attempts_on_one_stream_close_it() {
    let server = TestServer::start_with(|c| c.max_auth_failures = 100).await;
    let mut raw = Raw::secured(&server).await;
    raw.send(HEADER).await;
    raw.read_until("</stream:features>").await;
    // "\0demo|alice.ops\0nope", three times.
    for _ in 0..3 {
        raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGRlbW98YWxpY2Uub3BzAG5vcGU=</auth>")
            .await;
    }
    let received = raw.read_to_end().await;
    assert_eq!(
        received.matches("<not-authorized/></failure>").count(),
        3,
        "{received}"
    );
    stream_error(&received, "not-authorized");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_negotiation_times_out() {
    let server =
        TestServer::start_with(|c| c.negotiation_timeout = Duration::from_millis(300)).await;
    // Says nothing at all.
    let mut silent = Raw::connect(server.starttls).await;
    stream_error(&silent.read_to_end().await, "connection-timeout");
    // Stops after TLS.
    let mut stalled = Raw::secured(&server).await;
    stream_error(&stalled.read_to_end().await, "connection-timeout");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_hello_on_the_starttls_port_is_closed_quietly() {
    let server = TestServer::start().await;
    let mut hello = Raw::connect(server.starttls).await;
    // The start of a TLS 1.2 ClientHello record.
    hello
        .send_bytes(&[
            0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
        ])
        .await;
    assert_eq!(hello.read_to_end().await, "", "no XML for a TLS client");
    // Everyone else is served as before.
    let result = server
        .login_once(
            "demo|bob.ops@salesiq.zoho.com",
            "hunter22",
            Mode::StartTls,
            None,
        )
        .await;
    assert!(result.is_ok(), "{result:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped() {
    let server = TestServer::start_with(|c| c.max_connections_per_ip = 2).await;
    let mut first = Raw::connect(server.starttls).await;
    let second = Raw::connect(server.direct_tls).await;
    first.send(HEADER).await;
    first.read_until("</stream:features>").await;
    let mut third = Raw::connect(server.starttls).await;
    assert_eq!(
        third.read_to_end().await,
        "",
        "the third connection is dropped"
    );
    // Once one goes, a new one is served (as soon as the server noticed).
    drop(second.io);
    let mut again = None;
    for _ in 0..100 {
        let mut raw = Raw::connect(server.starttls).await;
        raw.send(HEADER).await;
        let mut buf = [0u8; 1024];
        use tokio::io::AsyncReadExt as _;
        if matches!(raw.io.read(&mut buf).await, Ok(n) if n > 0) {
            again = Some(raw);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut again = again.expect("a slot came free");
    again.send("</stream:stream>").await;
    first.send("</stream:stream>").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_login_on_the_same_resource_replaces_the_first() {
    let server = TestServer::start().await;
    let mut first = Raw::logged_in(&server, ALICE_PLAIN, "phone").await;
    let mut second = Raw::logged_in(&server, ALICE_PLAIN, "phone").await;
    let received = first.read_to_end().await;
    stream_error(&received, "conflict");
    // The new one is the one that is live.
    second
        .send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
        .await;
    let pong = second.read_until("id='p'").await;
    assert!(
        pong.contains("type='result'") && pong.contains("id='p'"),
        "{pong}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_stream_with_system_shutdown() {
    let server = TestServer::start().await;
    let mut alice = Raw::logged_in(&server, ALICE_PLAIN, "desk").await;
    // One still negotiating, too.
    let mut negotiating = Raw::connect(server.starttls).await;
    negotiating.send(HEADER).await;
    negotiating.read_until("</stream:features>").await;
    server.stop().await;
    stream_error(&alice.read_to_end().await, "system-shutdown");
    stream_error(&negotiating.read_to_end().await, "system-shutdown");
}
