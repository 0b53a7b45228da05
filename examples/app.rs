//! The whole example server, started from a [`Config`]: the SQLite store
//! (seeded), the certificate, the XMPP server, the gateway with its
//! connectors, the mailer, and the web server (visitor page, settings
//! page, WebSocket API).
//!
//! `minimal_server` is this plus printing; the browser tests start the same
//! thing on free ports.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use salesiq_integrations::{
    ChatEvents, CrmConnector, HelpdeskConnector, Mailer, MemoryMailer, PortalConnectors,
};
use salesiq_session::{Gateway, SqliteStore, Store, StoreAccounts};
use salesiq_web::{GeoIp, JabberSettings, Web};
use salesiq_xmpp::{Server, TlsIdentity};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, Connector};
use crate::seed::{Seeded, seed};

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A file or a listener.
    #[error("{0}")]
    Io(String),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] salesiq_session::StoreError),
    /// The XMPP server (certificate, listeners).
    #[error("XMPP: {0}")]
    Xmpp(#[from] salesiq_xmpp::Error),
    /// A connector's configuration.
    #[error("integrations: {0}")]
    Connector(String),
    /// The `[smtp]` table: a build without SMTP, or a mailer that cannot
    /// be set up.
    #[error("smtp: {0}")]
    Mail(String),
    /// The gateway.
    #[error("gateway: {0}")]
    Gateway(#[from] salesiq_session::GatewayError),
    /// `[server] geoip`: the file is missing or is no mmdb database.
    #[error("server.geoip: {0}")]
    GeoIp(#[from] salesiq_web::GeoIpError),
    /// `[[portal.webhook]]`: the sender could not start, or the build has
    /// none.
    #[error("webhooks: {0}")]
    Webhooks(String),
}

/// A running example server.
#[derive(Debug)]
pub struct Running {
    /// The STARTTLS listener.
    pub starttls: SocketAddr,
    /// The direct-TLS listener.
    pub direct_tls: SocketAddr,
    /// The web server.
    pub http: SocketAddr,
    /// The SHA-256 fingerprint of the certificate (`AB:CD:...`).
    pub fingerprint: String,
    /// Its SHA-1 fingerprint, as profanity shows it.
    pub fingerprint_sha1: String,
    /// The SHA-256 fingerprint as mcabber wants it: lower-case hex, no colons.
    pub fingerprint_hex: String,
    /// The certificate, DER-encoded (what a test client trusts).
    pub certificate: Vec<u8>,
    /// What seeding added to the store.
    pub seeded: Seeded,
    /// The SQLite file (none is used when `[store] url` names PostgreSQL).
    pub database: PathBuf,
    /// Chats a previous run left live, restored: their visitors resume
    /// and their operators find them when they log in again.
    pub restored_chats: usize,
    /// Chats a previous run left open that could not come back, now ended.
    pub closed_chats: usize,
    /// The operators' accounts (for [`StoreAccounts::password_checks`]).
    pub accounts: StoreAccounts,
    /// What the `[server] geoip` database says it is (e.g.
    /// `GeoLite2-Country`); `None` without one.
    pub geoip: Option<String>,
    /// Where the gateway's e-mail goes ([`mailer`]): the `[smtp]` server,
    /// or, without one, memory. Each portal's `notify` addresses are in
    /// the store ([`salesiq_session::Portal::notify`]).
    pub mailer: Arc<dyn Mailer>,
    /// Where chat events go to the portals' `[[portal.webhook]]`s (a
    /// `salesiq_integrations::WebhookSender`, in a build with the
    /// `webhooks` feature); `None` when no portal has one. Publishing
    /// never waits. Stopping the server delivers what is queued, for up
    /// to 5 s.
    pub events: Option<Arc<dyn ChatEvents>>,
    stop: watch::Sender<bool>,
    gateway: Gateway,
    node: node::Node,
    hooks: hooks::Hooks,
    xmpp: JoinHandle<()>,
    web: JoinHandle<()>,
}

/// Starts everything `config` describes.
pub async fn start(config: &Config) -> Result<Running, StartError> {
    let server = &config.server;
    let mailer = mailer(config)?;
    std::fs::create_dir_all(&server.data_dir)
        .map_err(|e| StartError::Io(format!("{}: {e}", server.data_dir.display())))?;
    let database = server.data_dir.join("gateway.sqlite3");
    // Before anything listens: a wrong path stops the start at once.
    let geoip: Option<Arc<GeoIp>> = match &server.geoip {
        #[cfg(feature = "geoip")]
        Some(path) => Some(Arc::new(GeoIp::open(path)?)),
        #[cfg(not(feature = "geoip"))]
        Some(_) => {
            return Err(StartError::Io(
                "server.geoip is set, but the example was built without it: \
                 add `--features geoip` to cargo run"
                    .into(),
            ));
        }
        None => None,
    };
    let hooks = hooks::start(config)?;
    let store = open_store(config, &database).await?;
    let accounts = Arc::new(StoreAccounts::new(store.clone()));
    let seeded = seed(store.as_ref(), &accounts, &config.portals).await?;

    let identity = match (&server.certificate, &server.key) {
        (Some(cert), Some(key)) => TlsIdentity::from_pem_files(cert, key)?,
        _ => self_signed(
            &server.data_dir,
            &server.domain,
            server.public_host.as_deref(),
        )?,
    };
    let mut xmpp_config = salesiq_xmpp::Config::new(&server.domain);
    xmpp_config.starttls_addr = Some(SocketAddr::new(server.host, server.starttls_port));
    xmpp_config.direct_tls_addr = Some(SocketAddr::new(server.host, server.direct_tls_port));
    let fingerprint = identity.fingerprint();
    let fingerprint_sha1 = identity.fingerprint_sha1();
    let fingerprint_hex = identity.fingerprint_hex();
    let certificate = identity.certificate_der().to_vec();
    let connectors = Arc::new(connectors(config)?);
    let gateway_store: Arc<dyn Store> = store.clone();
    let visitor_limits = config.limits.visitors();
    let visitor_grace = Duration::from_secs(server.visitor_grace);
    let node = node::join(&config.cluster).await?;
    let on_node = node.clone();
    let gateway_mailer = mailer.clone();
    let gateway_events = hooks.events();
    let xmpp = Server::builder(xmpp_config, identity, accounts.clone(), accounts.clone());
    let xmpp = node
        .relay(xmpp)
        .gateway(move |sink| {
            let mut builder = Gateway::builder(gateway_store)
                .mailer(gateway_mailer)
                .portal_connectors(connectors)
                .visitor_limits(visitor_limits)
                .visitor_grace(visitor_grace);
            if let Some(events) = gateway_events {
                builder = builder.events(events);
            }
            on_node.build(builder, sink)
        })
        .bind()
        .await?;
    let (Some(starttls), Some(direct_tls)) = (xmpp.starttls_addr(), xmpp.direct_tls_addr()) else {
        return Err(StartError::Io("the XMPP listeners have no address".into()));
    };
    let handle = xmpp.handle();
    let gateway = handle
        .gateway()
        .cloned()
        .ok_or_else(|| StartError::Io("the XMPP server has no gateway".into()))?;
    node.serve(&handle).await?;
    let restored = gateway.restore_chats().await?;
    let (restored_chats, closed_chats) = (restored.restored, restored.closed);

    let http_addr = SocketAddr::new(server.host, server.http_port);
    let listener = tokio::net::TcpListener::bind(http_addr)
        .await
        .map_err(|e| StartError::Io(format!("HTTP on {http_addr}: {e}")))?;
    let http = listener
        .local_addr()
        .map_err(|e| StartError::Io(e.to_string()))?;
    let jabber = JabberSettings::new(
        &server.domain,
        &server.client_host(),
        starttls.port(),
        direct_tls.port(),
        &fingerprint,
    );
    let store: Arc<dyn Store> = store;
    let geoip_type = geoip.as_ref().map(|g| g.database_type().to_owned());
    let web = Web::new(
        gateway.clone(),
        store,
        StoreAccounts::clone(&accounts),
        handle,
        jabber,
        config.default_portal(),
    )
    .with_visitor_api(server.visitor_api(geoip));
    let app = salesiq_web::router(web);
    let http_limits = config.limits.http();

    let (stop, stopped) = watch::channel(false);
    let xmpp = tokio::spawn(xmpp.run(wait_for(stopped.clone())));
    let web = tokio::spawn(async move {
        salesiq_web::serve(listener, app, http_limits, wait_for(stopped)).await;
    });
    Ok(Running {
        starttls,
        direct_tls,
        http,
        fingerprint,
        fingerprint_sha1,
        fingerprint_hex,
        certificate,
        seeded,
        database,
        restored_chats,
        closed_chats,
        accounts: StoreAccounts::clone(&accounts),
        geoip: geoip_type,
        mailer,
        events: hooks.events(),
        stop,
        gateway,
        node,
        hooks,
        xmpp,
        web,
    })
}

/// The store `[store]` names: the SQLite file by default, or PostgreSQL.
async fn open_store(config: &Config, database: &Path) -> Result<Arc<dyn Store>, StartError> {
    match config.store.url.as_deref() {
        None => Ok(Arc::new(SqliteStore::open(database)?)),
        #[cfg(feature = "postgres")]
        Some(url) => Ok(Arc::new(salesiq_pg::PgStore::connect(url).await?)),
        #[cfg(not(feature = "postgres"))]
        Some(_) => Err(StartError::Io(
            "store.url names PostgreSQL, but the example was built without it: \
             add `--features postgres` to cargo run"
                .into(),
        )),
    }
}

/// The mailer `[smtp]` names: an SMTP server (in a build with the `smtp`
/// feature), or, without `[smtp]`, a [`MemoryMailer`] that keeps the last
/// mails and sends nothing.
pub fn mailer(config: &Config) -> Result<Arc<dyn Mailer>, StartError> {
    match &config.smtp {
        None => Ok(Arc::new(MemoryMailer::new())),
        Some(smtp) => smtp::mailer(smtp),
    }
}

/// `[smtp]` through salesiq-integrations' SmtpMailer.
#[cfg(feature = "smtp")]
mod smtp {
    use std::sync::Arc;
    use std::time::Duration;

    use salesiq_integrations::{Mailbox, Mailer, SmtpMailer};

    use super::StartError;
    use crate::config::SmtpConfig;

    pub(super) fn mailer(smtp: &SmtpConfig) -> Result<Arc<dyn Mailer>, StartError> {
        let bad = |e: salesiq_integrations::ConnectorError| StartError::Mail(e.to_string());
        let from = Mailbox::parse(&smtp.from).map_err(bad)?;
        let mut config = salesiq_integrations::SmtpConfig::new(&smtp.host, smtp.port(), from)
            .with_starttls(smtp.starttls)
            .with_timeout(Duration::from_secs(smtp.timeout));
        if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
            config = config.with_credentials(username, password);
        }
        Ok(Arc::new(SmtpMailer::new(config).map_err(bad)?))
    }
}

/// `[smtp]` without the `smtp` feature: refused at start, saying how to
/// build with it.
#[cfg(not(feature = "smtp"))]
mod smtp {
    use std::sync::Arc;

    use salesiq_integrations::Mailer;

    use super::StartError;
    use crate::config::SmtpConfig;

    pub(super) fn mailer(_: &SmtpConfig) -> Result<Arc<dyn Mailer>, StartError> {
        Err(StartError::Mail(
            "[smtp] is set, but the example was built without it: \
             add `--features smtp` to cargo run"
                .into(),
        ))
    }
}

/// `[cluster]`: this process as one node of many, over NATS.
#[cfg(feature = "cluster")]
mod node {
    use std::sync::Arc;

    use salesiq_cluster::{ClusterNode, NatsBus, NodeId};
    use salesiq_session::{Gateway, GatewayBuilder, OperatorSink};
    use salesiq_xmpp::{ServerBuilder, ServerHandle};

    use super::StartError;
    use crate::config::ClusterConfig;

    /// The node, if `[cluster]` names a NATS server.
    #[derive(Debug, Clone)]
    pub(super) struct Node(Option<ClusterNode>);

    fn bad(e: salesiq_cluster::Error) -> StartError {
        StartError::Io(format!("cluster: {e}"))
    }

    pub(super) async fn join(config: &ClusterConfig) -> Result<Node, StartError> {
        let Some(url) = &config.nats_url else {
            return Ok(Node(None));
        };
        let id = NodeId::new(&config.node).map_err(bad)?;
        let bus = Arc::new(NatsBus::connect(url).await.map_err(bad)?);
        Ok(Node(Some(ClusterNode::start(bus, id).await.map_err(bad)?)))
    }

    impl Node {
        pub(super) fn relay(&self, builder: ServerBuilder) -> ServerBuilder {
            match &self.0 {
                Some(node) => builder.relay(node.relay()),
                None => builder,
            }
        }

        pub(super) fn build(
            &self,
            builder: GatewayBuilder,
            sink: Arc<dyn OperatorSink>,
        ) -> Gateway {
            match &self.0 {
                Some(node) => builder.cluster(node.cluster()).build(node.sink(sink)),
                None => builder.build(sink),
            }
        }

        pub(super) async fn serve(&self, handle: &ServerHandle) -> Result<(), StartError> {
            match &self.0 {
                Some(node) => node.serve(handle.clone()).await.map_err(bad),
                None => Ok(()),
            }
        }

        pub(super) async fn leave(&self) {
            if let Some(node) = &self.0
                && let Err(error) = node.shutdown().await
            {
                eprintln!("cluster: leaving: {error}");
            }
        }
    }
}

/// `[cluster]` without the `cluster` feature: refused when it names a
/// NATS server.
#[cfg(not(feature = "cluster"))]
mod node {
    use std::sync::Arc;

    use salesiq_session::{Gateway, GatewayBuilder, OperatorSink};
    use salesiq_xmpp::{ServerBuilder, ServerHandle};

    use super::StartError;
    use crate::config::ClusterConfig;

    /// No node: a single gateway.
    #[derive(Debug, Clone)]
    pub(super) struct Node;

    pub(super) async fn join(config: &ClusterConfig) -> Result<Node, StartError> {
        match config.nats_url {
            None => Ok(Node),
            Some(_) => Err(StartError::Io(
                "cluster.nats_url is set, but the example was built without it: \
                 add `--features cluster` to cargo run"
                    .into(),
            )),
        }
    }

    impl Node {
        pub(super) fn relay(&self, builder: ServerBuilder) -> ServerBuilder {
            builder
        }

        pub(super) fn build(
            &self,
            builder: GatewayBuilder,
            sink: Arc<dyn OperatorSink>,
        ) -> Gateway {
            builder.build(sink)
        }

        pub(super) async fn serve(&self, _: &ServerHandle) -> Result<(), StartError> {
            Ok(())
        }

        pub(super) async fn leave(&self) {}
    }
}

/// `[[portal.webhook]]`: the portals' webhooks, served by one
/// `WebhookSender`.
#[cfg(feature = "webhooks")]
mod hooks {
    use std::sync::Arc;
    use std::time::Duration;

    use salesiq_integrations::{ChatEvents, SenderConfig, Webhook, WebhookSender};

    use super::StartError;
    use crate::config::Config;

    /// The sender, if any portal has a webhook.
    #[derive(Debug)]
    pub(super) struct Hooks(Option<Arc<WebhookSender>>);

    pub(super) fn start(config: &Config) -> Result<Hooks, StartError> {
        let mut webhooks: Vec<(&str, Webhook)> = Vec::new();
        for portal in &config.portals {
            for hook in &portal.webhooks {
                let webhook = hook
                    .webhook()
                    .map_err(|e| StartError::Webhooks(format!("portal {:?}: {e}", portal.name)))?;
                webhooks.push((&portal.name, webhook));
            }
        }
        if webhooks.is_empty() {
            return Ok(Hooks(None));
        }
        let sender = WebhookSender::start(webhooks, SenderConfig::default())
            .map_err(|e| StartError::Webhooks(e.to_string()))?;
        Ok(Hooks(Some(Arc::new(sender))))
    }

    impl Hooks {
        pub(super) fn events(&self) -> Option<Arc<dyn ChatEvents>> {
            let sender = self.0.clone()?;
            Some(sender)
        }

        /// Delivers what is queued, for up to 5 s.
        pub(super) async fn stop(&self) {
            if let Some(sender) = &self.0
                && !sender.shutdown(Duration::from_secs(5)).await
            {
                eprintln!("webhooks: deliveries still failing after 5 s were given up");
            }
        }
    }
}

/// `[[portal.webhook]]` without the `webhooks` feature: refused when a
/// portal has one.
#[cfg(not(feature = "webhooks"))]
mod hooks {
    use std::sync::Arc;

    use salesiq_integrations::ChatEvents;

    use super::StartError;
    use crate::config::Config;

    /// No sender in this build.
    #[derive(Debug)]
    pub(super) struct Hooks;

    pub(super) fn start(config: &Config) -> Result<Hooks, StartError> {
        match config.portals.iter().find(|p| !p.webhooks.is_empty()) {
            None => Ok(Hooks),
            Some(portal) => Err(StartError::Webhooks(format!(
                "portal {:?} has [[portal.webhook]] entries, but the example was built \
                 without webhooks: add `--features webhooks` to cargo run",
                portal.name
            ))),
        }
    }

    impl Hooks {
        pub(super) fn events(&self) -> Option<Arc<dyn ChatEvents>> {
            None
        }

        pub(super) async fn stop(&self) {}
    }
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

impl Running {
    /// Stops everything cleanly: every live chat is kept in the store
    /// first (the next start restores it, and its visitor's page resumes
    /// it), then operators get `<system-shutdown/>` and the web server
    /// closes. Returns how many chats were kept.
    pub async fn stop(self) -> usize {
        let ended = self.gateway.shut_down().await.unwrap_or(0);
        self.hooks.stop().await;
        self.node.leave().await;
        let _ = self.stop.send(true);
        let _ = self.xmpp.await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.web).await;
        ended
    }
}

/// The certificate kept in `data_dir/tls/`, made on first start: the
/// fingerprint a user accepted stays valid across restarts.
fn self_signed(
    data_dir: &Path,
    domain: &str,
    public_host: Option<&str>,
) -> Result<TlsIdentity, StartError> {
    let dir = data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok(TlsIdentity::from_pem_files(&cert, &key)?);
    }
    // The domain as common name; valid for 127.0.0.1 and the public host
    // too, since some clients (finch) check the host they connect to.
    let hosts: Vec<&str> = public_host.into_iter().collect();
    let (cert_pem, key_pem) = TlsIdentity::self_signed_pem(domain, &hosts)?;
    let io = |e: std::io::Error| StartError::Io(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(io)?;
    write_private(&key, key_pem.as_bytes()).map_err(io)?;
    std::fs::write(&cert, cert_pem).map_err(io)?;
    Ok(TlsIdentity::from_pem_files(&cert, &key)?)
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

/// Each portal's CRM and helpdesk: its own where `[portal.integrations]`
/// names one, the top-level `[integrations]` otherwise.
fn connectors(config: &Config) -> Result<PortalConnectors, StartError> {
    let top = &config.integrations;
    let mut connectors = PortalConnectors::new(crm(&top.crm)?, helpdesk(&top.helpdesk)?);
    for portal in &config.portals {
        let own = &portal.integrations;
        if own.crm.is_none() && own.helpdesk.is_none() {
            continue;
        }
        let in_portal = |e: StartError| match e {
            StartError::Connector(why) => {
                StartError::Connector(format!("portal {}: {why}", portal.name))
            }
            other => other,
        };
        let portal_crm = crm(own.crm.as_ref().unwrap_or(&top.crm)).map_err(in_portal)?;
        let portal_desk =
            helpdesk(own.helpdesk.as_ref().unwrap_or(&top.helpdesk)).map_err(in_portal)?;
        connectors = connectors.with_portal(&portal.name, portal_crm, portal_desk);
    }
    Ok(connectors)
}

fn crm(connector: &Connector) -> Result<Arc<dyn CrmConnector>, StartError> {
    match connector {
        Connector::Zoho { base_url, .. } => zoho::crm(base_url, zoho::Auth::of(connector)?),
        _ => Ok(Arc::new(salesiq_integrations::demo().0)),
    }
}

fn helpdesk(connector: &Connector) -> Result<Arc<dyn HelpdeskConnector>, StartError> {
    match connector {
        Connector::Zoho {
            base_url, org_id, ..
        } => {
            let Some(org_id) = org_id else {
                return Err(StartError::Connector(
                    "integrations.helpdesk: Zoho Desk needs org_id".into(),
                ));
            };
            zoho::desk(base_url, zoho::Auth::of(connector)?, org_id)
        }
        _ => Ok(Arc::new(salesiq_integrations::demo().1)),
    }
}

/// The Zoho connectors, in a build with the `zoho` feature.
#[cfg(feature = "zoho")]
mod zoho {
    use std::sync::Arc;

    use salesiq_integrations::{
        ConnectorError, CrmConnector, HelpdeskConnector, HttpConfig, OAuthClient, ZohoCrm, ZohoDesk,
    };

    use super::StartError;
    use crate::config::Connector;

    /// How a Zoho connector authenticates, as the file says.
    pub(super) enum Auth {
        Token(String),
        Refresh(OAuthClient),
    }

    impl Auth {
        pub(super) fn of(connector: &Connector) -> Result<Self, StartError> {
            let Connector::Zoho {
                token,
                refresh_token,
                client_id,
                client_secret,
                accounts_url,
                ..
            } = connector
            else {
                return Err(StartError::Connector("not a Zoho connector".into()));
            };
            match (token, refresh_token, client_id, client_secret) {
                (None, Some(refresh), Some(id), Some(secret)) => {
                    let mut client = OAuthClient::new(id, secret, refresh);
                    if let Some(url) = accounts_url {
                        client = client.with_accounts_url(parse(url, "accounts_url")?);
                    }
                    Ok(Self::Refresh(client))
                }
                (Some(token), None, None, None) => Ok(Self::Token(token.clone())),
                _ => Err(StartError::Connector(
                    "a Zoho connector needs either refresh_token, client_id and client_secret, \
                     or a fixed token"
                        .into(),
                )),
            }
        }
    }

    fn parse(url: &str, key: &str) -> Result<salesiq_integrations::Url, StartError> {
        url.parse()
            .map_err(|e| StartError::Connector(format!("{key} {url:?}: {e}")))
    }

    fn http(base_url: &str, auth: Auth) -> Result<HttpConfig, StartError> {
        let url = parse(base_url, "base_url")?;
        Ok(match auth {
            Auth::Token(token) => HttpConfig::new(url, &token),
            Auth::Refresh(client) => HttpConfig::with_oauth(url, client),
        })
    }

    fn bad(e: ConnectorError) -> StartError {
        StartError::Connector(e.to_string())
    }

    pub(super) fn crm(base_url: &str, auth: Auth) -> Result<Arc<dyn CrmConnector>, StartError> {
        Ok(Arc::new(ZohoCrm::new(http(base_url, auth)?).map_err(bad)?))
    }

    pub(super) fn desk(
        base_url: &str,
        auth: Auth,
        org_id: &str,
    ) -> Result<Arc<dyn HelpdeskConnector>, StartError> {
        let config = http(base_url, auth)?.with_org_id(org_id);
        Ok(Arc::new(ZohoDesk::new(config).map_err(bad)?))
    }
}

/// Without the `zoho` feature: a configuration that asks for Zoho is
/// refused at start, saying how to build with it.
#[cfg(not(feature = "zoho"))]
mod zoho {
    use std::sync::Arc;

    use salesiq_integrations::{CrmConnector, HelpdeskConnector};

    use super::StartError;
    use crate::config::Connector;

    /// No way to authenticate to Zoho in this build.
    pub(super) enum Auth {}

    impl Auth {
        pub(super) fn of(_: &Connector) -> Result<Self, StartError> {
            Err(StartError::Connector(
                "this build has no Zoho connectors: run it with `--features zoho`".into(),
            ))
        }
    }

    pub(super) fn crm(_: &str, auth: Auth) -> Result<Arc<dyn CrmConnector>, StartError> {
        match auth {}
    }

    pub(super) fn desk(
        _: &str,
        auth: Auth,
        _: &str,
    ) -> Result<Arc<dyn HelpdeskConnector>, StartError> {
        match auth {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A configuration on free ports in a data directory of its own, with
    /// a webhook of portal `p` at `url` for `chat.ended`.
    fn with_webhook(name: &str, url: &str) -> (Config, PathBuf) {
        let dir = std::env::temp_dir().join(format!("salesiq-{name}-{}", std::process::id()));
        let text = format!(
            "[server]\ndomain = \"chat.example.com\"\ndata_dir = {dir:?}\n\
             starttls_port = 0\ndirect_tls_port = 0\nhttp_port = 0\n[[portal]]\nname = \"p\"\n\
             [[portal.webhook]]\nurl = \"{url}\"\nsecret = \"s3cret\"\nevents = [\"chat.ended\"]\n"
        );
        (Config::parse(&text, "test.toml").unwrap(), dir)
    }

    /// Built without the `webhooks` feature, a portal with a webhook
    /// stops the start, saying which portal and how to build.
    #[cfg(not(feature = "webhooks"))]
    #[tokio::test]
    async fn webhooks_need_the_feature() {
        let (config, dir) = with_webhook("webhooks-off", "https://crm.example.com/h");
        let error = start(&config).await.unwrap_err();
        assert!(matches!(error, StartError::Webhooks(_)), "{error}");
        let text = error.to_string();
        assert!(
            text.contains("portal \"p\"") && text.contains("--features webhooks"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Built with it, `Running::events` delivers a portal's events to
    /// its webhook, signed with its secret.
    #[cfg(feature = "webhooks")]
    #[tokio::test]
    async fn the_portals_webhook_gets_its_events_signed() {
        use salesiq_integrations::{EventKind, WebhookEvent};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let (config, dir) = with_webhook("webhooks-on", &url);
        let running = start(&config).await.unwrap();
        let events = running.events.clone().unwrap();
        let event = WebhookEvent::new(EventKind::ChatEnded, "p", Default::default());
        events.publish(event.clone());
        // Another kind, which this webhook did not ask for.
        events.publish(WebhookEvent::new(
            EventKind::ChatRequested,
            "p",
            Default::default(),
        ));

        let wait = Duration::from_secs(10);
        let (mut socket, _) = tokio::time::timeout(wait, listener.accept())
            .await
            .unwrap()
            .unwrap();
        let mut request = Vec::new();
        let body = loop {
            let mut buffer = [0; 4096];
            let n = tokio::time::timeout(wait, socket.read(&mut buffer))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((_, body)) = text.split_once("\r\n\r\n")
                && body.len() == event.body().len()
            {
                break body.to_owned();
            }
        };
        let head = String::from_utf8_lossy(&request).to_lowercase();
        assert!(head.starts_with("post /hooks http/1.1\r\n"), "{head}");
        assert_eq!(body.as_bytes(), event.body());
        let signature = salesiq_integrations::signature("s3cret", body.as_bytes());
        assert!(
            head.contains(&format!("\r\nx-salesiq-signature: {signature}\r\n")),
            "{head}"
        );
        assert!(head.contains(&format!("\r\nx-salesiq-delivery: {}\r\n", event.id)));
        socket
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
        // Nothing more: not the chat.requested, on this connection or
        // another.
        let quiet = Duration::from_millis(300);
        let mut buffer = [0; 64];
        assert!(
            tokio::time::timeout(quiet, socket.read(&mut buffer))
                .await
                .is_err()
        );
        assert!(
            tokio::time::timeout(quiet, listener.accept())
                .await
                .is_err()
        );
        running.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `[server] geoip` naming a file that is no mmdb database stops the
    /// start with the file's name, before anything listens.
    #[cfg(feature = "geoip")]
    #[tokio::test]
    async fn a_geoip_file_that_is_no_database_stops_the_start() {
        let dir = std::env::temp_dir().join(format!("salesiq-geoip-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.mmdb");
        std::fs::write(&garbage, b"not a database").unwrap();
        let text = format!(
            "[server]\ndomain = \"chat.example.com\"\ndata_dir = {dir:?}\ngeoip = {garbage:?}\n\
             starttls_port = 0\ndirect_tls_port = 0\nhttp_port = 0\n[[portal]]\nname = \"p\"\n"
        );
        let config = Config::parse(&text, "test.toml").unwrap();
        let error = start(&config).await.unwrap_err();
        assert!(
            matches!(
                error,
                StartError::GeoIp(salesiq_web::GeoIpError::Invalid { .. })
            ),
            "{error}"
        );
        assert!(error.to_string().contains("garbage.mmdb"), "{error}");
        let missing = dir.join("missing.mmdb");
        let text = text.replace("garbage.mmdb", "missing.mmdb");
        let error = start(&Config::parse(&text, "test.toml").unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(error, StartError::GeoIp(salesiq_web::GeoIpError::Read { ref path, .. }) if *path == missing),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    const MINIMAL: &str = "[server]\ndomain = \"chat.example.com\"\n[[portal]]\nname = \"p\"\n";

    #[test]
    fn without_smtp_mail_stays_in_memory() {
        let config = Config::parse(MINIMAL, "test.toml").unwrap();
        let mailer = mailer(&config).unwrap();
        assert!(
            format!("{mailer:?}").starts_with("MemoryMailer"),
            "{mailer:?}"
        );
    }

    fn with_smtp() -> Config {
        let text = format!(
            "{MINIMAL}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"Acme <support@example.com>\"\n\
             username = \"gw\"\npassword = \"hunter2\"\n"
        );
        Config::parse(&text, "test.toml").unwrap()
    }

    #[cfg(feature = "smtp")]
    #[test]
    fn smtp_makes_an_smtp_mailer() {
        let mailer = mailer(&with_smtp()).unwrap();
        let debug = format!("{mailer:?}");
        assert!(debug.starts_with("SmtpMailer"), "{debug}");
        assert!(
            debug.contains("smtp.example.com") && debug.contains("587"),
            "{debug}"
        );
        assert!(
            debug.contains("starttls: true") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[cfg(not(feature = "smtp"))]
    #[test]
    fn smtp_without_the_feature_is_refused_saying_how() {
        let error = mailer(&with_smtp()).unwrap_err();
        assert!(error.to_string().contains("--features smtp"), "{error}");
    }
}
