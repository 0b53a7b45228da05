//! What the example's end-to-end tests share.
#![allow(dead_code)] // each test file uses a part

use std::path::Path;

use salesiq_examples::app::{self, Running};
use salesiq_examples::config::Config;

/// The example server as `demo.toml` describes it, but on free ports and
/// with its data (SQLite file, certificate) in `dir`.
pub(crate) async fn example(dir: &Path) -> Running {
    example_with(dir, |_| {}).await
}

/// [`example`], with the configuration changed by `change` first.
pub(crate) async fn example_with(dir: &Path, change: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::demo().expect("demo.toml is valid");
    change(&mut config);
    config.server.starttls_port = 0;
    config.server.direct_tls_port = 0;
    config.server.http_port = 0;
    config.server.data_dir = dir.to_owned();
    app::start(&config).await.expect("the example starts")
}

/// A client for plain HTTP on loopback. reqwest is built without a
/// default crypto provider (see salesiq-integrations), so it gets ring's.
pub(crate) fn http() -> reqwest::Client {
    http_from(None)
}

/// [`http`], with its connections made from the loopback address `from`.
pub(crate) fn http_from(from: Option<std::net::IpAddr>) -> reqwest::Client {
    use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .local_address(from)
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

/// How long a test waits for any one step.
pub(crate) const STEP: std::time::Duration = std::time::Duration::from_secs(20);

/// The demo portal's first visitor contact.
pub(crate) const VISITOR: &str = "demo|visitor-1@salesiq.zoho.com";

/// Alice's desk, logged in over STARTTLS at `starttls` (trusting
/// `certificate`), available, and known to be so (a ping round trip).
pub(crate) async fn alice_at(
    starttls: std::net::SocketAddr,
    certificate: &[u8],
) -> salesiq_test_support::Operator {
    use salesiq_test_support::{Connector, Mode, Operator};
    use tokio_xmpp::minidom::Element;
    use tokio_xmpp::parsers::presence::Presence;
    let connector = Connector::new(starttls, certificate, Mode::StartTls);
    let mut alice = Operator::connect(
        connector,
        "demo|alice.ops@salesiq.zoho.com/desk",
        "alice-demo-pw",
    )
    .await;
    alice.send(Presence::available()).await;
    let ping = Element::builder("ping", "urn:xmpp:ping").build();
    alice.iq(None, tokio_xmpp::IqRequest::Get(ping)).await;
    alice
}

/// A message's body, or nothing.
pub(crate) fn body(message: &tokio_xmpp::parsers::message::Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

/// The next message with a body from the visitor contact.
pub(crate) async fn from_visitor(alice: &mut salesiq_test_support::Operator) -> String {
    loop {
        let message = alice.next_message().await;
        // Visitor contacts speak from a full JID of a fixed resource.
        let from = message.from.as_ref().map(|j| j.to_bare().to_string());
        if from.as_deref() == Some(VISITOR) && !body(&message).is_empty() {
            return body(&message);
        }
    }
}

/// A visitor's WebSocket.
pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame, as JSON; `None` once the socket closed.
pub(crate) async fn frame(socket: &mut Socket) -> Option<serde_json::Value> {
    use futures::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message as Frame;
    loop {
        match tokio::time::timeout(STEP, socket.next()).await.unwrap() {
            Some(Ok(Frame::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Sends `value` as a text frame.
pub(crate) async fn send(socket: &mut Socket, value: serde_json::Value) {
    use futures::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message as Frame;
    socket
        .send(Frame::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// A running server process and what its `ready` line said.
pub(crate) struct Process {
    pub(crate) child: tokio::process::Child,
    pub(crate) starttls: std::net::SocketAddr,
    pub(crate) http: std::net::SocketAddr,
    pub(crate) restored: usize,
    pub(crate) certificate: Vec<u8>,
}

/// Starts the example as a process of its own (`src/bin/e2e-server.rs`)
/// over `dir`, with `env` set, and waits for its `ready` line.
pub(crate) async fn process(dir: &Path, env: &[(&str, &str)]) -> Process {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_e2e-server"))
        .arg(dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(STEP, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let field = |name: &str| {
        ready
            .split(' ')
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {ready:?}"))
            .to_owned()
    };
    let hex = field("cert");
    let certificate = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    Process {
        starttls: field("starttls").parse().unwrap(),
        http: field("http").parse().unwrap(),
        restored: field("restored").parse().unwrap(),
        certificate,
        child,
    }
}
