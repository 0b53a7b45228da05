//! The example server in a real browser: headless Chromium, driven over
//! WebDriver (chromedriver + fantoccini), with a real XMPP client
//! (tokio-xmpp) as the operator on the other side.
//!
//! Needs Debian's `chromium` and `chromium-driver`; `bash scripts/test.sh`
//! (the README's test command) installs them when they are missing. Set
//! `SALESIQ_SCREENSHOTS=dir` to keep screenshots of the pages.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use salesiq_test_support as support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::example;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use salesiq_examples::app::Running;
use serde_json::json;
use support::{Connector, Mode, Operator};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element as Xml;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Lang, Message};
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::parsers::roster::Roster;
use tokio_xmpp::{IqRequest, Stanza};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the page may take to show something.
const STEP: Duration = Duration::from_secs(20);
/// The browser's visitor: the second of the portal (a socket's visitor
/// asks first, to put the browser's second in the queue).
const VISITOR: &str = "demo|visitor-2@salesiq.zoho.com";

/// chromedriver on a free port, and a headless Chromium session in it.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn open() -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: run `bash scripts/test.sh`, which installs Debian's \
                 chromium and chromium-driver"
            );
        }
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        tokio::time::timeout(STEP, async {
            while tokio::net::TcpStream::connect(address).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("chromedriver did not start listening");

        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=900,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://{address}"))
            .await
            .unwrap();
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    async fn find(&self, css: &str) -> Element {
        self.client.find(Locator::Css(css)).await.unwrap()
    }

    /// Waits until the element's text satisfies `check`, and returns it.
    async fn text_until(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = tokio::time::timeout(STEP, async {
            loop {
                if let Ok(element) = self.client.find(Locator::Css(css)).await
                    && let Ok(text) = element.text().await
                {
                    if check(&text) {
                        return text;
                    }
                    last = text;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("{css}: still {last:?}"))
    }

    /// Waits until the element is shown (or hidden).
    async fn shown(&self, css: &str, visible: bool) {
        let waited = tokio::time::timeout(STEP, async {
            loop {
                if let Ok(element) = self.client.find(Locator::Css(css)).await
                    && element.is_displayed().await.ok() == Some(visible)
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("{css} never became visible={visible}"));
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// Saves a screenshot when SALESIQ_SCREENSHOTS names a folder.
    async fn screenshot(&self, name: &str) {
        if let Some(dir) = std::env::var_os("SALESIQ_SCREENSHOTS") {
            let png = self.client.screenshot().await.unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(Path::new(&dir).join(name), png).unwrap();
        }
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

fn chat(to: &str, text: &str) -> Message {
    Message::chat(Some(Jid::new(to).unwrap())).with_body(Lang::new(), text.into())
}

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

/// An operator of the example on a real XMPP client, present and seen so.
async fn operator(running: &Running, jid: &str, password: &str) -> Operator {
    let connector = Connector::new(running.starttls, &running.certificate, Mode::StartTls);
    let mut operator = Operator::connect(connector, jid, password).await;
    operator.send(Presence::available()).await;
    let ping = Xml::builder("ping", "urn:xmpp:ping").build();
    operator.iq(None, IqRequest::Get(ping)).await;
    operator
}

/// The next message from `from`, skipping others (colleagues' presence
/// and the like are kept by the helper, not lost).
async fn message_from(operator: &mut Operator, from: &str) -> Message {
    loop {
        let message = operator.next_message().await;
        // `from` names a bare JID; visitor contacts speak from a full one.
        let bare = message.from.as_ref().map(|j| j.to_bare().to_string());
        if bare.as_deref() == Some(from) {
            return message;
        }
    }
}

/// The next message from `from` with a body, skipping chat states.
async fn text_from(operator: &mut Operator, from: &str) -> String {
    loop {
        let text = body(&message_from(operator, from).await);
        if !text.is_empty() {
            return text;
        }
    }
}

// The current-thread runtime: see tests/chat.rs in salesiq-xmpp on
// tokio-xmpp under the multi-thread runtime.
#[tokio::test]
async fn a_browser_visitor_chats_with_a_jabber_client() {
    let dir = tempfile::tempdir().unwrap();
    let running = example(dir.path()).await;
    let mut alice = operator(
        &running,
        "demo|alice.ops@salesiq.zoho.com/desk",
        "alice-demo-pw",
    )
    .await;
    let browser = Browser::open().await;

    // Somebody asked first (over the WebSocket API, from nobody's page),
    // in the same department: the browser's visitor is second in line.
    let url = format!("ws://{}/ws/visitor?portal=demo", running.http);
    let (mut first, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    common::send(
        &mut first,
        json!({"type": "start", "name": "Early Bird", "question": "Hello?", "department": "VIPサポート"}),
    )
    .await;
    assert_eq!(common::frame(&mut first).await.unwrap()["type"], "session");
    assert_eq!(
        common::frame(&mut first).await.unwrap(),
        json!({"type": "queued", "position": 1})
    );

    // The form, with the departments of the portal.
    browser
        .client
        .goto(&format!("http://{}/", running.http))
        .await
        .unwrap();
    browser
        .text_until("#department", |t| t.contains("VIPサポート"))
        .await;
    browser.type_into("#name", "Ann Lee").await;
    browser.type_into("#email", "ann@example.com").await;
    browser
        .type_into("#question", "Do you ship to Japan?")
        .await;
    browser
        .find("#department")
        .await
        .select_by_label("VIPサポート")
        .await
        .unwrap();
    browser.screenshot("visitor-form.png").await;
    browser.click("#start").await;
    browser
        .text_until("#status", |t| {
            t == "Waiting for an operator… You are number 2 in the queue."
        })
        .await;
    browser.screenshot("visitor-queued.png").await;
    // The first one gives up: the page says the visitor is next.
    common::send(&mut first, json!({"type": "leave"})).await;
    browser
        .text_until("#status", |t| t == "Waiting for an operator… You are next.")
        .await;

    // Alice is offered the chat, with subject and department, and takes it.
    let offer = text_from(&mut alice, VISITOR).await;
    assert!(offer.contains("Ann Lee"), "{offer}");
    assert!(offer.contains("Do you ship to Japan?"), "{offer}");
    assert!(offer.contains("VIPサポート"), "{offer}");
    alice.send(chat(VISITOR, "y")).await;
    browser
        .text_until("#status", |t| t == "Alice is chatting with you.")
        .await;
    // The details the browser gave away: its name and system, and the page.
    let details = text_from(&mut alice, VISITOR).await;
    assert!(details.contains("Ann Lee"), "{details}");
    alice.send(chat(VISITOR, "#info")).await;
    let info = text_from(&mut alice, VISITOR).await;
    assert!(info.contains("Chrome"), "{info}");
    assert!(info.contains("Linux"), "{info}");
    assert!(
        info.contains(&format!("http://{}/", running.http)),
        "{info}"
    );

    // Operator typing shows on the page, then the text.
    let mut composing = Message::chat(Some(Jid::new(VISITOR).unwrap()));
    composing.payloads.push(ChatState::Composing.into());
    alice.send(composing).await;
    browser
        .text_until("#typing", |t| t == "Alice is typing…")
        .await;
    browser.shown("#typing", true).await;
    alice
        .send(chat(VISITOR, "Hello Ann! Yes, we ship to Japan."))
        .await;
    browser
        .text_until("#messages li.operator:last-child", |t| {
            t.contains("Hello Ann! Yes, we ship to Japan.")
        })
        .await;
    browser.shown("#typing", false).await;

    // The visitor answers; Alice sees it typed, then sent.
    browser
        .type_into("#text", "Great, how long does it take?")
        .await;
    let typing = message_from(&mut alice, VISITOR).await;
    assert!(
        typing
            .payloads
            .iter()
            .any(|p| p.is("composing", "http://jabber.org/protocol/chatstates")),
        "{typing:?}"
    );
    browser.click("#send").await;
    assert_eq!(
        text_from(&mut alice, VISITOR).await,
        "Great, how long does it take?"
    );

    // #p: the page asks whether to open the pushed page in a new window.
    alice
        .send(chat(VISITOR, "#p https://example.com/shipping"))
        .await;
    let pushed = text_from(&mut alice, VISITOR).await;
    assert!(pushed.starts_with("[system]"), "{pushed}");
    browser.shown("#push", true).await;
    browser
        .text_until("#push-url", |t| t == "https://example.com/shipping")
        .await;
    browser
        .text_until("#push", |t| t.contains("Open this page in a new window?"))
        .await;
    browser.screenshot("visitor-chat.png").await;
    browser.click("#push-dismiss").await;
    browser.shown("#push", false).await;

    // Issue 13: a reload mid-chat. The page keeps its resume token in
    // sessionStorage, shows the chat again and resumes; what Alice writes
    // meanwhile appears once, and Alice hears of no gap.
    browser.client.refresh().await.unwrap();
    alice.send(chat(VISITOR, "Are you still there?")).await;
    browser
        .text_until("#messages", |t| {
            t.contains("Hello Ann! Yes, we ship to Japan.")
                && t.contains("Great, how long does it take?")
                && t.contains("Are you still there?")
        })
        .await;
    browser
        .text_until("#status", |t| t == "Alice is chatting with you.")
        .await;
    let lines = browser
        .client
        .find_all(Locator::Css("#messages li.operator"))
        .await
        .unwrap();
    let mut shown = Vec::new();
    for line in lines {
        shown.push(line.text().await.unwrap());
    }
    assert_eq!(
        shown
            .iter()
            .filter(|t| t.contains("Are you still there?"))
            .count(),
        1,
        "{shown:?}"
    );
    browser.type_into("#text", "Yes, still here").await;
    browser.click("#send").await;
    assert_eq!(text_from(&mut alice, VISITOR).await, "Yes, still here");

    // #e: the chat ends on the page.
    alice.send(chat(VISITOR, "#e")).await;
    browser.shown("#ended", true).await;
    browser
        .text_until("#status", |t| t == "The chat has ended.")
        .await;
    let reason = browser.text_until("#ended-reason", |t| !t.is_empty()).await;
    assert!(reason.contains("ended"), "{reason}");
    browser.shown("#compose", false).await;

    // The page offers a rating; Alice is told of it (issue 15, item 5).
    browser.shown("#rate-form", true).await;
    browser.click("input[name=score][value='4']").await;
    browser.type_into("#rate-comment", "Very helpful").await;
    browser.screenshot("visitor-rate.png").await;
    browser.click("#rate").await;
    browser.shown("#rated", true).await;
    browser.shown("#rate-form", false).await;
    loop {
        let told = text_from(&mut alice, VISITOR).await;
        if told.contains("rated") {
            assert_eq!(told, "[system] rated 4/5: Very helpful");
            break;
        }
    }

    browser.close().await;
    alice.end().await;
    running.stop().await;
}

#[tokio::test]
async fn an_operator_creates_a_username_on_the_settings_page() {
    let dir = tempfile::tempdir().unwrap();
    let running = example(dir.path()).await;
    let mut alice = operator(
        &running,
        "demo|alice.ops@salesiq.zoho.com/desk",
        "alice-demo-pw",
    )
    .await;
    let browser = Browser::open().await;
    browser
        .client
        .goto(&format!("http://{}/settings", running.http))
        .await
        .unwrap();
    browser.shown("#signin", true).await;
    assert_eq!(
        browser.find("#portal").await.prop("value").await.unwrap(),
        Some("demo".to_owned())
    );

    // A wrong password is refused; the right one signs Carol in.
    browser.type_into("#email", "carol@demo.example").await;
    browser.type_into("#password", "not-her-password").await;
    browser.click("#signin-button").await;
    browser
        .text_until("#signin-error", |t| t.contains("wrong"))
        .await;
    browser.type_into("#password", "carol-demo-pw").await;
    browser.click("#signin-button").await;

    // No username yet: she is asked to create one, and sees the rule.
    browser.shown("#claim", true).await;
    browser.shown("#settings", false).await;
    browser
        .text_until("#rule", |t| t.contains("6 to 30 characters"))
        .await;

    // Taken (case-insensitively), too short, then free.
    browser.type_into("#username", "Alice.Ops").await;
    browser
        .text_until("#availability", |t| t == "this username is not available")
        .await;
    let red = browser.find("#availability").await;
    assert_eq!(
        red.attr("class").await.unwrap().as_deref(),
        Some("unavailable")
    );
    assert_eq!(
        browser
            .find("#claim-button")
            .await
            .prop("disabled")
            .await
            .unwrap(),
        Some("true".to_owned())
    );
    browser.type_into("#username", "ca").await;
    browser
        .text_until("#availability", |t| t.contains("too short"))
        .await;
    browser.type_into("#username", "carol.ops").await;
    browser
        .text_until("#availability", |t| t == "this username is available")
        .await;
    let green = browser.find("#availability").await;
    assert_eq!(
        green.attr("class").await.unwrap().as_deref(),
        Some("available")
    );
    browser.screenshot("settings-claim.png").await;
    browser.click("#claim-button").await;

    // Claimed: the Jabber settings, for every common client.
    browser.shown("#settings", true).await;
    browser.shown("#claim", false).await;
    browser
        .text_until("#jid", |t| t == "demo|carol.ops@salesiq.zoho.com")
        .await;
    let host = running.starttls.ip().to_string();
    browser.text_until("#host", |t| t == host).await;
    let port = running.starttls.port().to_string();
    browser.text_until("#starttls-port", |t| t == port).await;
    let clients = browser.text_until("#clients", |t| !t.is_empty()).await;
    for client in ["Conversations", "Gajim", "Pidgin", "Profanity", "Monal"] {
        assert!(clients.contains(client), "{client} missing: {clients}");
    }
    browser.screenshot("settings.png").await;

    // Alice, online, is told of her new colleague.
    loop {
        if let Stanza::Iq(Iq::Set { payload, .. }) = alice.next().await
            && let Ok(roster) = Roster::try_from(payload)
            && roster
                .items
                .iter()
                .any(|item| item.jid.to_string() == "demo|carol.ops@salesiq.zoho.com")
        {
            break;
        }
    }
    // And the new username works in a Jabber client.
    let carol = operator(
        &running,
        "demo|carol.ops@salesiq.zoho.com/phone",
        "carol-demo-pw",
    )
    .await;

    browser.close().await;
    carol.end().await;
    alice.end().await;
    running.stop().await;
}

/// Issue 15, item 4: with nobody there, the page offers the form; the
/// message left reaches the portal's `notify` address through a real SMTP
/// server (the tests' sink, `scripts/smtp.sh`).
#[tokio::test]
async fn nobody_there_a_browser_visitor_leaves_a_message() {
    let (Ok(addr), Ok(sink_dir)) = (
        std::env::var("SALESIQ_SMTP_ADDR"),
        std::env::var("SALESIQ_SMTP_DIR"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "SALESIQ_SMTP_ADDR and SALESIQ_SMTP_DIR must be set under CI (scripts/test.sh)"
        );
        eprintln!("skipped: no SMTP sink (bash scripts/smtp.sh start)");
        return;
    };
    let (host, port) = addr.rsplit_once(':').unwrap();
    let ops = format!("ops-browser-{}@demo.example", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let smtp = format!(
        "[server]\ndomain = \"x.example\"\n[smtp]\nhost = \"{host}\"\nport = {port}\n\
         from = \"Demo <gw@demo.example>\"\nstarttls = false\n[[portal]]\nname = \"p\"\n"
    );
    let running = common::example_with(dir.path(), |config| {
        config.smtp = salesiq_examples::config::Config::parse(&smtp, "smtp.toml")
            .unwrap()
            .smtp;
        config.portals[0].notify = vec![ops.clone()];
    })
    .await;
    let browser = Browser::open().await;
    browser
        .client
        .goto(&format!("http://{}/", running.http))
        .await
        .unwrap();
    browser.type_into("#name", "Ann Lee").await;
    browser.type_into("#email", "ann@example.com").await;
    browser
        .type_into("#question", "Do you ship to Japan?")
        .await;
    browser.click("#start").await;
    // Nobody is logged in: the form to leave a message, filled in.
    browser
        .text_until("#offline-message", |t| t.contains("Nobody is available"))
        .await;
    browser.shown("#chat", false).await;
    assert_eq!(
        browser
            .find("#left-text")
            .await
            .prop("value")
            .await
            .unwrap(),
        Some("Do you ship to Japan?".to_owned())
    );
    browser
        .type_into("#left-text", "Do you ship to Japan by boat?")
        .await;
    browser.screenshot("visitor-offline.png").await;
    browser.click("#leave-message").await;
    browser.shown("#message-left", true).await;
    browser.shown("#offline-form", false).await;

    // The mail, through the SMTP server.
    let sink_dir = std::path::PathBuf::from(sink_dir);
    let mut mail = None;
    for _ in 0..500 {
        mail = std::fs::read_dir(&sink_dir).unwrap().find_map(|entry| {
            let path = entry.ok()?.path();
            if path.extension()? != "json" {
                return None;
            }
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            let ours = json["rcpt_tos"]
                .as_array()?
                .iter()
                .any(|r| r == ops.as_str());
            ours.then_some(json)
        });
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mail = mail.expect("the message was mailed to notify");
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("Do you ship to Japan by boat?"), "{body}");
    assert!(body.contains("ann@example.com"), "{body}");
    browser.close().await;
    running.stop().await;
}
