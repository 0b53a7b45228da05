//! What the tests of salesiq-gateway share (not published): a server on
//! 127.0.0.1:0 with demo accounts, a real XMPP client (tokio-xmpp) that
//! trusts its self-signed certificate, raw sockets for what a
//! well-behaved client never sends, and ([`gateway`]) a world with the
//! chat domain over SQLite.
// Test helpers: a failed unwrap is a failed test, and each helper's name
// says what it does.
#![allow(clippy::unwrap_used, missing_docs, missing_debug_implementations)]

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use salesiq_session::{Account, MemoryAccounts, Photo};
use salesiq_xmpp::{Config, Server, TlsIdentity};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_xmpp::connect::ServerConnector;
use tokio_xmpp::error::{Error, ProtocolError};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::xmlstream::{
    PendingFeaturesRecv, ReadError, StreamHeader, Timeouts, XmppStream, XmppStreamElement,
    initiate_stream,
};
use tokio_xmpp::{Client, Event};

pub mod gateway;

pub const DOMAIN: &str = "salesiq.zoho.com";
/// The first bytes of a PNG: Bob's picture.
pub const BOB_PHOTO: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
/// How long any single step of a test may take before it fails.
pub const STEP: Duration = Duration::from_secs(20);

/// The demo portal `demo` (alice, bob, carol without a username) and a
/// second portal `acme` with its own alice.
pub fn accounts() -> Arc<MemoryAccounts> {
    Arc::new(
        MemoryAccounts::new()
            .with_account(
                Account::new("demo", Some("alice.ops"), "Alice", "alice@demo.example"),
                "s3cret",
            )
            .with_account(
                Account::new("demo", Some("bob.ops"), "Bob", "bob@demo.example")
                    .with_photo(Photo::new("image/png", BOB_PHOTO.to_vec())),
                "hunter22",
            )
            .with_account(
                Account::new("demo", None, "Carol", "carol.smith@demo.example"),
                "carolpw",
            )
            .with_account(
                Account::new(
                    "acme",
                    Some("alice.ops"),
                    "Acme Alice",
                    "alice@acme.example",
                ),
                "acmepw",
            ),
    )
}

/// Makes a test server's gateway on its sink.
type MakeGateway =
    Box<dyn FnOnce(Arc<dyn salesiq_session::OperatorSink>) -> salesiq_session::Gateway + Send>;

/// A running server; stops when dropped or with [`TestServer::stop`].
pub struct TestServer {
    pub handle: salesiq_xmpp::ServerHandle,
    /// The chat domain, for servers started with one.
    pub gateway: Option<salesiq_session::Gateway>,
    pub starttls: SocketAddr,
    pub direct_tls: SocketAddr,
    pub certificate: Vec<u8>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let accounts = accounts();
        Self::start_with_accounts(adjust, accounts.clone(), accounts).await
    }

    /// A server whose logins and contacts come from elsewhere.
    pub async fn start_with_accounts(
        adjust: impl FnOnce(&mut Config),
        authenticator: Arc<dyn salesiq_session::Authenticator>,
        directory: Arc<dyn salesiq_session::Directory>,
    ) -> Self {
        Self::start_built(adjust, authenticator, directory, None, None).await
    }

    /// A server with a chat domain, made by `make` on the server's sink.
    pub async fn start_with_gateway(
        adjust: impl FnOnce(&mut Config),
        authenticator: Arc<dyn salesiq_session::Authenticator>,
        directory: Arc<dyn salesiq_session::Directory>,
        make: impl FnOnce(Arc<dyn salesiq_session::OperatorSink>) -> salesiq_session::Gateway
        + Send
        + 'static,
    ) -> Self {
        Self::start_built(adjust, authenticator, directory, None, Some(Box::new(make))).await
    }

    /// [`TestServer::start_with_gateway`], one node of several: what its
    /// operators say goes to other nodes through `relay`.
    pub async fn start_with_relay(
        adjust: impl FnOnce(&mut Config),
        authenticator: Arc<dyn salesiq_session::Authenticator>,
        directory: Arc<dyn salesiq_session::Directory>,
        relay: Arc<dyn salesiq_xmpp::Relay>,
        make: impl FnOnce(Arc<dyn salesiq_session::OperatorSink>) -> salesiq_session::Gateway
        + Send
        + 'static,
    ) -> Self {
        Self::start_built(
            adjust,
            authenticator,
            directory,
            Some(relay),
            Some(Box::new(make)),
        )
        .await
    }

    async fn start_built(
        adjust: impl FnOnce(&mut Config),
        authenticator: Arc<dyn salesiq_session::Authenticator>,
        directory: Arc<dyn salesiq_session::Directory>,
        relay: Option<Arc<dyn salesiq_xmpp::Relay>>,
        make: Option<MakeGateway>,
    ) -> Self {
        let mut config = Config::new(DOMAIN);
        config.starttls_addr = Some("127.0.0.1:0".parse().unwrap());
        config.direct_tls_addr = Some("127.0.0.1:0".parse().unwrap());
        adjust(&mut config);
        let identity = TlsIdentity::self_signed(DOMAIN).unwrap();
        let certificate = identity.certificate_der().to_vec();
        let mut builder = Server::builder(config, identity, authenticator, directory);
        if let Some(relay) = relay {
            builder = builder.relay(relay);
        }
        if let Some(make) = make {
            builder = builder.gateway(make);
        }
        let server = builder.bind().await.unwrap();
        let handle = server.handle();
        let gateway = server.gateway().cloned();
        let (stop, stopped) = oneshot::channel::<()>();
        let starttls = server.starttls_addr().unwrap();
        let direct_tls = server.direct_tls_addr().unwrap();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            handle,
            gateway,
            starttls,
            direct_tls,
            certificate,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Shuts the server down and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(STEP, task).await.unwrap().unwrap();
        }
    }

    pub fn tls_config(&self) -> Arc<ClientConfig> {
        trusting(&self.certificate)
    }

    pub fn connector(&self, mode: Mode) -> Connector {
        Connector {
            addr: self.addr(mode),
            tls: self.tls_config(),
            mode,
        }
    }

    pub fn addr(&self, mode: Mode) -> SocketAddr {
        match mode {
            Mode::StartTls => self.starttls,
            Mode::DirectTls => self.direct_tls,
        }
    }

    /// A client that reaches the server through `proxy`.
    pub async fn client_via(
        &self,
        proxy: &Proxy,
        jid: &str,
        password: &str,
        mode: Mode,
    ) -> Operator {
        Operator::connect(
            Connector::new(proxy.addr, &self.certificate, mode),
            jid,
            password,
        )
        .await
    }

    /// A logged-in client, once it is online.
    pub async fn client(&self, jid: &str, password: &str, mode: Mode) -> Client {
        online(self.connector(mode), jid, password).await
    }

    /// One SASL attempt with the given mechanism only (none: the client's
    /// choice); `Ok` once the server said success.
    pub async fn login_once(
        &self,
        jid: &str,
        password: &str,
        mode: Mode,
        mechanism: Option<&str>,
    ) -> Result<(), Error> {
        let jid = Jid::new(jid).unwrap();
        let connector = self.connector(mode);
        let (pending, binding) = connector
            .connect(
                &jid,
                tokio_xmpp::parsers::ns::JABBER_CLIENT,
                Timeouts::tight(),
            )
            .await?;
        let (features, stream) = pending
            .recv_features::<tokio_xmpp::xmlstream::FallibleStreamElement>()
            .await?;
        let mut offered = features.sasl_mechanisms;
        if let Some(mechanism) = mechanism {
            assert!(
                offered.contains(mechanism),
                "{mechanism} is not offered: {offered:?}"
            );
            offered.retain(|m| m == mechanism);
        }
        let credentials = sasl::common::Credentials::default()
            .with_username(jid.node().unwrap().as_str())
            .with_password(password)
            .with_channel_binding(binding);
        tokio_xmpp::client_login(stream, offered, credentials)
            .await
            .map(drop)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    StartTls,
    DirectTls,
}

/// Dials a fixed address with our own rustls configuration (tokio-xmpp's
/// connectors only trust the system roots). STARTTLS follows tokio-xmpp's
/// own `connect/starttls.rs`.
#[derive(Clone, Debug)]
pub struct Connector {
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    mode: Mode,
}

impl Connector {
    /// Connects to `addr`, trusting only `certificate` (DER).
    pub fn new(addr: SocketAddr, certificate: &[u8], mode: Mode) -> Self {
        Self {
            addr,
            tls: trusting(certificate),
            mode,
        }
    }
}

/// A rustls client configuration that trusts `certificate` (DER) alone.
pub fn trusting(certificate: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(certificate.to_vec()))
        .unwrap();
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A client logged in through `connector`, once it is online.
pub async fn online(connector: Connector, jid: &str, password: &str) -> Client {
    let mut client = Client::new_with_connector(
        Jid::new(jid).unwrap(),
        password,
        connector,
        Timeouts::tight(),
    );
    match tokio::time::timeout(STEP, client.next()).await.unwrap() {
        Some(Event::Online { .. }) => client,
        other => panic!("not online: {other:?}"),
    }
}

impl ServerConnector for Connector {
    type Stream = BufStream<TlsStream<TcpStream>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<
        (
            PendingFeaturesRecv<Self::Stream>,
            sasl::common::ChannelBinding,
        ),
        Error,
    > {
        let domain = jid.domain().as_str();
        let header = || StreamHeader {
            to: Some(Cow::Borrowed(domain)),
            from: None,
            id: None,
        };
        let tcp = TcpStream::connect(self.addr).await?;
        let tcp = match self.mode {
            Mode::DirectTls => tcp,
            Mode::StartTls => {
                let plain = initiate_stream(BufStream::new(tcp), ns, header(), timeouts).await?;
                let (features, mut stream): (_, XmppStream<BufStream<TcpStream>>) =
                    plain.recv_features().await?;
                if !features.can_starttls() {
                    return Err(Error::Protocol(ProtocolError::NoTls));
                }
                stream
                    .send(&XmppStreamElement::Starttls(starttls::Nonza::Request(
                        starttls::Request,
                    )))
                    .await?;
                loop {
                    match stream
                        .next()
                        .await
                        .map(|v| v.and_then(|v| v.into_read_error()))
                    {
                        Some(Ok(XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)))) => break,
                        Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => (),
                        Some(Err(ReadError::HardError(e))) => return Err(e.into()),
                        Some(Err(ReadError::ParseError(e))) => {
                            return Err(
                                std::io::Error::new(std::io::ErrorKind::InvalidData, e).into()
                            );
                        }
                        None | Some(Err(ReadError::StreamFooterReceived)) => {
                            return Err(Error::Disconnected);
                        }
                    }
                }
                stream.into_inner().into_inner()
            }
        };
        let name = ServerName::try_from(domain.to_owned())
            .map_err(|e| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await?;
        let pending = initiate_stream(BufStream::new(tls), ns, header(), timeouts).await?;
        Ok((pending, sasl::common::ChannelBinding::None))
    }
}

/// A logged-in client and the stanzas it received while a test waited for
/// something else.
pub struct Operator {
    pub client: Client,
    pub jid: String,
    inbox: std::collections::VecDeque<tokio_xmpp::Stanza>,
}

impl Operator {
    pub async fn login(server: &TestServer, jid: &str, password: &str, mode: Mode) -> Self {
        Self::connect(server.connector(mode), jid, password).await
    }

    /// Logs in through `connector`.
    pub async fn connect(connector: Connector, jid: &str, password: &str) -> Self {
        let client = online(connector, jid, password).await;
        Self {
            client,
            jid: jid.to_owned(),
            inbox: Default::default(),
        }
    }

    /// Waits for the next stanza.
    pub async fn next(&mut self) -> tokio_xmpp::Stanza {
        if let Some(stanza) = self.inbox.pop_front() {
            return stanza;
        }
        loop {
            match tokio::time::timeout(STEP, self.client.next())
                .await
                .unwrap()
            {
                Some(Event::Stanza(stanza)) => return stanza,
                Some(_) => continue,
                None => panic!("client stream ended"),
            }
        }
    }

    /// Waits for the next message, keeping anything else for later.
    pub async fn next_message(&mut self) -> tokio_xmpp::parsers::message::Message {
        let queued = self
            .inbox
            .iter()
            .position(|s| matches!(s, tokio_xmpp::Stanza::Message(_)));
        if let Some(tokio_xmpp::Stanza::Message(m)) = queued.and_then(|i| self.inbox.remove(i)) {
            return m;
        }
        loop {
            match tokio::time::timeout(STEP, self.client.next())
                .await
                .unwrap()
            {
                Some(Event::Stanza(tokio_xmpp::Stanza::Message(m))) => return m,
                Some(Event::Stanza(other)) => self.inbox.push_back(other),
                Some(_) => continue,
                None => panic!("client stream ended"),
            }
        }
    }

    pub async fn send(&mut self, stanza: impl Into<tokio_xmpp::Stanza>) {
        self.client.send_stanza(stanza.into()).await.unwrap();
    }

    /// Sends an iq and waits for the answer with its id, keeping the
    /// other stanzas that arrive meanwhile for later.
    pub async fn iq(
        &mut self,
        to: Option<&str>,
        request: tokio_xmpp::IqRequest,
    ) -> tokio_xmpp::IqResponse {
        use tokio_xmpp::parsers::iq::Iq;
        let id = format!("test-{:016x}", rand::random::<u64>());
        let (payload, get) = match request {
            tokio_xmpp::IqRequest::Get(payload) => (payload, true),
            tokio_xmpp::IqRequest::Set(payload) => (payload, false),
        };
        let to = to.map(|to| Jid::new(to).unwrap());
        let iq = if get {
            Iq::Get {
                from: None,
                to,
                id: id.clone(),
                payload,
            }
        } else {
            Iq::Set {
                from: None,
                to,
                id: id.clone(),
                payload,
            }
        };
        self.send(iq).await;
        tokio::time::timeout(STEP, async {
            loop {
                match self.client.next().await {
                    Some(Event::Stanza(tokio_xmpp::Stanza::Iq(Iq::Result {
                        id: got,
                        payload,
                        ..
                    }))) if got == id => {
                        return tokio_xmpp::IqResponse::Result(payload);
                    }
                    Some(Event::Stanza(tokio_xmpp::Stanza::Iq(Iq::Error {
                        id: got,
                        error,
                        ..
                    }))) if got == id => {
                        return tokio_xmpp::IqResponse::Error(error);
                    }
                    Some(Event::Stanza(stanza)) => self.inbox.push_back(stanza),
                    Some(_) => {}
                    None => panic!("client stream ended"),
                }
            }
        })
        .await
        .unwrap()
    }

    /// Fetches the roster (RFC 6121, 2.1.3).
    pub async fn roster(&mut self) -> tokio_xmpp::parsers::roster::Roster {
        use tokio_xmpp::parsers::roster::Roster;
        let get = tokio_xmpp::IqRequest::Get(
            Roster {
                ver: None,
                items: vec![],
            }
            .into(),
        );
        match self.iq(None, get).await {
            tokio_xmpp::IqResponse::Result(Some(roster)) => Roster::try_from(roster).unwrap(),
            other => panic!("no roster: {other:?}"),
        }
    }

    /// Whether `server` still serves logins: Alice logs in as `resource`
    /// and out again.
    pub async fn alice_logs_in(server: &TestServer, resource: &str) {
        let alice = Self::login(
            server,
            &format!("demo|alice.ops@salesiq.zoho.com/{resource}"),
            "s3cret",
            Mode::StartTls,
        )
        .await;
        alice.end().await;
    }

    pub async fn end(self) {
        let _ = tokio::time::timeout(STEP, self.client.send_end()).await;
    }
}

/// A TCP proxy in front of the server whose connections a test can cut,
/// as a mobile network does; it can also refuse new ones.
pub struct Proxy {
    pub addr: SocketAddr,
    links: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    open: Arc<std::sync::atomic::AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub async fn to(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let task = tokio::spawn({
            let links = links.clone();
            let open = open.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !open.load(std::sync::atomic::Ordering::SeqCst) {
                        continue; // dropped: connection refused, in effect
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Self {
            addr,
            links,
            open,
            task,
        }
    }

    /// Cuts every connection through the proxy, both ways, at once.
    pub fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Whether new connections get through.
    pub fn set_open(&self, open: bool) {
        self.open.store(open, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

/// Raw bytes over TCP (and TLS on demand), to send what no client would.
pub struct Raw<S> {
    pub io: S,
    pub received: String,
}

pub const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='salesiq.zoho.com' version='1.0'>";

impl Raw<TcpStream> {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self {
            io: TcpStream::connect(addr).await.unwrap(),
            received: String::new(),
        }
    }

    /// STARTTLS then TLS, ready for the second stream header.
    pub async fn secured(server: &TestServer) -> Raw<TlsStream<TcpStream>> {
        Self::connect(server.starttls).await.starttls(server).await
    }

    /// STARTTLS on this connection, then TLS.
    async fn starttls(mut self, server: &TestServer) -> Raw<TlsStream<TcpStream>> {
        self.send(HEADER).await;
        self.read_until("</stream:features>").await;
        self.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .await;
        self.read_until("<proceed").await;
        self.read_until(">").await;
        let name = ServerName::try_from(DOMAIN).unwrap();
        let tls = TlsConnector::from(server.tls_config())
            .connect(name, self.io)
            .await
            .unwrap();
        Raw {
            io: tls,
            received: String::new(),
        }
    }
}

impl Raw<TlsStream<TcpStream>> {
    /// Logged in with SASL PLAIN, the stream restarted: the next thing to
    /// read is the post-authentication stream features.
    pub async fn logged_in_features(server: &TestServer, plain: &str) -> Self {
        let mut raw = Raw::secured(server).await;
        raw.send(HEADER).await;
        raw.read_until("</stream:features>").await;
        raw.send(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
        ))
        .await;
        raw.read_until("<success").await;
        raw.received.clear();
        raw.send(HEADER).await;
        raw
    }

    /// Logged in with SASL PLAIN (`base64("\0login\0password")`) and bound
    /// to `resource`: an established session, raw.
    pub async fn logged_in(server: &TestServer, plain: &str, resource: &str) -> Self {
        let mut raw = Raw::logged_in_features(server, plain).await;
        raw.read_until("</stream:features>").await;
        raw.send(&format!(
            "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>"
        ))
        .await;
        raw.read_until("</iq>").await;
        raw.received.clear();
        raw
    }
}

/// `base64("\0demo|alice.ops\0s3cret")`: Alice's PLAIN initial response.
pub const ALICE_PLAIN: &str = "AGRlbW98YWxpY2Uub3BzAHMzY3JldA==";

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Raw<S> {
    pub async fn send(&mut self, text: &str) {
        self.send_bytes(text.as_bytes()).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
        self.io.flush().await.unwrap();
    }

    /// Reads until `needle` arrived; returns everything read so far.
    pub async fn read_until(&mut self, needle: &str) -> String {
        tokio::time::timeout(STEP, async {
            while !self.received.contains(needle) {
                let mut buf = [0u8; 4096];
                let n = self.io.read(&mut buf).await.unwrap_or(0);
                assert!(n > 0, "closed before {needle:?}; got {:?}", self.received);
                self.received.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in {:?}", self.received));
        self.received.clone()
    }

    /// Reads until the server closes the connection; returns everything.
    pub async fn read_to_end(&mut self) -> String {
        tokio::time::timeout(STEP, async {
            let mut buf = [0u8; 4096];
            while let Ok(n) = self.io.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                self.received.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the server did not close; got {:?}", self.received));
        self.received.clone()
    }
}

impl Raw<TcpStream> {
    /// Connects to `addr` from the local address `from` (any port): on
    /// Linux all of 127.0.0.0/8 is loopback, so a test can be a second
    /// client IP address.
    pub async fn connect_from(addr: SocketAddr, from: std::net::IpAddr) -> Self {
        let socket = match from {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        Self {
            io: socket.connect(addr).await.unwrap(),
            received: String::new(),
        }
    }

    /// As [`Raw::secured`], from the local address `from`.
    pub async fn secured_from(
        server: &TestServer,
        from: std::net::IpAddr,
    ) -> Raw<TlsStream<TcpStream>> {
        Self::connect_from(server.starttls, from)
            .await
            .starttls(server)
            .await
    }
}

/// `base64("\0login\0password")`: a SASL PLAIN initial response.
pub fn plain(login: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{login}\0{password}"))
}
