//! The example server's configuration, read from TOML.
//!
//! Without a file the server uses [`Config::demo`], the `demo.toml` beside
//! this file (embedded in the binary). Every field is described there. The
//! file is checked as a whole when it is read: unknown keys, an operator in
//! a department that is not listed, an invalid username or domain are
//! refused with the file's line and column, so that a typo never starts a
//! server that behaves differently than the file says.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use salesiq_integrations::{ConnectorError, Webhook};
use salesiq_session::VisitorLimits;
use salesiq_web::{GeoIp, HttpLimits, visitor_ws};
use serde::Deserialize;

/// The embedded demo configuration.
pub const DEMO_TOML: &str = include_str!("demo.toml");

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or missing keys.
    #[error("{origin}: {message}")]
    Syntax {
        /// The file, or `demo.toml`.
        origin: String,
        /// toml's message, with the line and column.
        message: String,
    },
    /// The TOML is well-formed but says something impossible.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file, or `demo.toml`.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Listeners, domain and files.
    pub server: ServerConfig,
    /// CRM and helpdesk.
    #[serde(default)]
    pub integrations: Integrations,
    /// Bounds on what clients may ask; every key has a default.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Where everything is stored: the SQLite file under `data_dir`
    /// unless a URL says otherwise.
    #[serde(default)]
    pub store: StoreConfig,
    /// Other nodes of the same gateway: none unless a NATS URL is given.
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Where e-mail goes out; absent, none is sent (it is kept in memory).
    pub smtp: Option<SmtpConfig>,
    /// The portals to seed; the first is the visitor page's default.
    #[serde(rename = "portal")]
    pub portals: Vec<PortalConfig>,
}

/// `[store]`: where everything is stored.
///
/// ```toml
/// [store]
/// url = "postgres://user:password@127.0.0.1:5432/salesiq"
/// ```
///
/// Absent (the default), the SQLite file `data_dir/gateway.sqlite3`. A
/// `postgres://` (or `postgresql://`) URL is a PostgreSQL database through
/// `salesiq_pg::PgStore` (created tables, migrated on start), and needs
/// the example built with `--features postgres`, so that the first run
/// compiles no PostgreSQL client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The database's URL; `None` for the SQLite file.
    pub url: Option<String>,
}

impl StoreConfig {
    /// Whether `url` names a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }
}

/// `[cluster]`: this process as one node of many (issue 14).
///
/// ```toml
/// [cluster]
/// nats_url = "nats://127.0.0.1:4222"
/// node = "a"
/// ```
///
/// Absent (the default), the gateway is a single node. With `nats_url`,
/// the nodes started with the same `[store] url` (PostgreSQL) and the same
/// NATS server form one gateway: operators and visitors on any node chat
/// as if on one server. `node` must be unique per node (one subject
/// token: letters, digits, `-`, `_`). Needs the example built with
/// `--features cluster`, so that the first run compiles no NATS client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The NATS server's URL; `None` for a single node.
    pub nats_url: Option<String>,
    /// This node's id, unique among the nodes (default `"a"`).
    #[serde(default = "default_node")]
    pub node: String,
}

fn default_node() -> String {
    "a".to_owned()
}

/// `[smtp]`: the server the gateway's e-mail goes out through (issue 15:
/// messages left and missed chats to a portal's `notify` addresses,
/// transcripts to visitors).
///
/// ```toml
/// [smtp]
/// host = "smtp.example.com"
/// port = 587                                  # default: 587, or 25 without STARTTLS
/// from = "Acme Support <support@example.com>"
/// username = "gateway"                        # optional, with password
/// password = "secret"
/// starttls = true                             # the default
/// timeout = 30                                # seconds per mail, the default
/// ```
///
/// `starttls = true` requires STARTTLS: a server that does not offer it,
/// or whose certificate does not verify, gets no mail, never a plain-text
/// fall-back. `starttls = false` is plain SMTP, for a relay or a test
/// sink on the same machine or network; a username and password are
/// then refused, so that no password is sent in the clear. Absent, no
/// mail leaves the machine: the server keeps the last mails in memory.
/// Needs the example built with `--features smtp`, so that the first run
/// compiles no SMTP client.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SmtpConfig {
    /// The server's host name (checked against its certificate) or IP
    /// address.
    pub host: String,
    /// Its port; default [`SmtpConfig::port`].
    pub port: Option<u16>,
    /// The sender of every mail: `addr` or `Name <addr>`.
    pub from: String,
    /// The login, if the server wants one.
    pub username: Option<String>,
    /// The password of `username`.
    pub password: Option<String>,
    /// Whether STARTTLS is required (default `true`) or plain SMTP is used.
    #[serde(default = "yes")]
    pub starttls: bool,
    /// Seconds one mail may take, connection to the end (default 30).
    #[serde(default = "smtp_timeout")]
    pub timeout: u64,
}

fn yes() -> bool {
    true
}

fn smtp_timeout() -> u64 {
    30
}

impl SmtpConfig {
    /// The port given, or 587 (submission) with STARTTLS and 25 without.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.starttls { 587 } else { 25 })
    }

    fn check(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("smtp.host is empty".into());
        }
        salesiq_integrations::Mailbox::parse(&self.from).map_err(|e| match e {
            salesiq_integrations::ConnectorError::BadAddress { reason, .. } => format!(
                "smtp.from: {:?} is not an e-mail address: {reason}",
                self.from
            ),
            other => format!("smtp.from: {other}"),
        })?;
        if self.username.is_some() != self.password.is_some() {
            return Err("smtp.username and smtp.password go together".into());
        }
        if self.username.is_some() && !self.starttls {
            return Err("smtp.username and smtp.password need starttls = true: \
                 a password is never sent in the clear"
                .into());
        }
        if self.timeout == 0 {
            return Err("smtp.timeout: at least 1 second".into());
        }
        Ok(())
    }
}

impl std::fmt::Debug for SmtpConfig {
    /// Leaves the password out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("starttls", &self.starttls)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Listeners, domain and files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The address every listener binds to. Default 127.0.0.1.
    #[serde(default = "localhost")]
    pub host: IpAddr,
    /// The XMPP domain operators sign in at.
    pub domain: String,
    /// What clients are told to connect to; default: `host`.
    pub public_host: Option<String>,
    /// The STARTTLS port (0: any free port). Default 6222.
    #[serde(default = "starttls_port")]
    pub starttls_port: u16,
    /// The direct-TLS port (0: any free port). Default 6223.
    #[serde(default = "direct_tls_port")]
    pub direct_tls_port: u16,
    /// The HTTP port (0: any free port). Default 8080.
    #[serde(default = "http_port")]
    pub http_port: u16,
    /// Where the SQLite file and the self-signed certificate are kept.
    /// Default `data`.
    #[serde(default = "data_dir")]
    pub data_dir: PathBuf,
    /// A PEM certificate chain; with `key`, replaces the self-signed one.
    pub certificate: Option<PathBuf>,
    /// The PEM private key of `certificate`.
    pub key: Option<PathBuf>,
    /// Seconds a chat waits for a visitor whose page closed its socket (a
    /// reload, a link to another page) to resume it. Default 120.
    #[serde(default = "visitor_grace")]
    pub visitor_grace: u64,
    /// A GeoIP database in MaxMind's mmdb format (GeoLite2-Country, DB-IP's
    /// "IP to Country Lite"), relative to the working directory: `#info`
    /// and the chat request show the visitor's country. Absent (the
    /// default), no country is looked up. A file that cannot be read as
    /// one stops the start.
    pub geoip: Option<PathBuf>,
    /// Reverse proxies in front of the HTTP port whose `X-Forwarded-For`
    /// names the visitor (the right-most address in it that is not one of
    /// them). Empty by default: the header is ignored and the socket's
    /// address is the visitor's, so that nobody chooses the address `#b`
    /// blocks.
    #[serde(default)]
    pub trusted_proxies: Vec<IpAddr>,
}

fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}
fn starttls_port() -> u16 {
    6222
}
fn direct_tls_port() -> u16 {
    6223
}
fn http_port() -> u16 {
    8080
}
fn visitor_grace() -> u64 {
    salesiq_session::DEFAULT_VISITOR_GRACE.as_secs()
}
fn data_dir() -> PathBuf {
    PathBuf::from("data")
}

impl ServerConfig {
    /// What a client should type as its host.
    pub fn client_host(&self) -> String {
        self.public_host
            .clone()
            .unwrap_or_else(|| self.host.to_string())
    }

    /// How the visitor API is set up: `trusted_proxies`, and `geoip` once
    /// opened ([`GeoIp::open`] on [`ServerConfig::geoip`]).
    pub fn visitor_api(&self, geoip: Option<Arc<GeoIp>>) -> visitor_ws::Config {
        let mut config = visitor_ws::Config::default();
        config.client_address.trusted_proxies = self.trusted_proxies.clone();
        config.geoip = geoip;
        config
    }
}

/// The `[limits]` table: bounds on what web clients and visitors may ask
/// (the XMPP side's are in `salesiq_xmpp::Config`). Every key is optional;
/// the defaults are [`HttpLimits::default`] and
/// [`VisitorLimits::default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LimitsConfig {
    /// Open HTTP connections (WebSockets included) in all.
    pub http_connections: usize,
    /// Open HTTP connections from one address.
    pub http_connections_per_ip: usize,
    /// Seconds a client may take to send a request's headers, and a
    /// keep-alive connection may sit idle.
    pub http_header_timeout: u64,
    /// Live chats from one visitor address.
    pub chats_per_address: usize,
    /// Chats of one portal waiting for an operator.
    pub waiting_per_portal: usize,
    /// Live chats of one portal.
    pub chats_per_portal: usize,
    /// Lines one visitor may send per minute...
    pub visitor_lines_per_minute: u32,
    /// ...after a burst of this many.
    pub visitor_line_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let http = HttpLimits::default();
        let visitors = VisitorLimits::default();
        Self {
            http_connections: http.max_connections,
            http_connections_per_ip: http.max_connections_per_ip,
            http_header_timeout: http.header_timeout.as_secs(),
            chats_per_address: visitors.chats_per_address,
            waiting_per_portal: visitors.waiting_per_portal,
            chats_per_portal: visitors.chats_per_portal,
            visitor_lines_per_minute: visitors.lines_per_minute,
            visitor_line_burst: visitors.line_burst,
        }
    }
}

impl LimitsConfig {
    /// The web server's bounds.
    pub fn http(&self) -> HttpLimits {
        let mut limits = HttpLimits::default();
        limits.max_connections = self.http_connections;
        limits.max_connections_per_ip = self.http_connections_per_ip;
        limits.header_timeout = std::time::Duration::from_secs(self.http_header_timeout.max(1));
        limits
    }

    /// The gateway's bounds on visitors.
    pub fn visitors(&self) -> VisitorLimits {
        let mut limits = VisitorLimits::default();
        limits.chats_per_address = self.chats_per_address;
        limits.waiting_per_portal = self.waiting_per_portal;
        limits.chats_per_portal = self.chats_per_portal;
        limits.lines_per_minute = self.visitor_lines_per_minute;
        limits.line_burst = self.visitor_line_burst;
        limits
    }
}

/// The CRM and helpdesk connectors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Integrations {
    /// Behind `#crm`.
    #[serde(default)]
    pub crm: Connector,
    /// Behind `#support`.
    #[serde(default)]
    pub helpdesk: Connector,
}

/// Which connector, and where its vendor is.
#[derive(Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Connector {
    /// Records in memory about the demo visitor
    /// ([`salesiq_integrations::DEMO_EMAIL`]).
    #[default]
    Demo,
    /// The vendor's REST API (Zoho CRM or Zoho Desk), authenticated
    /// either with a refresh token (`refresh_token`, `client_id`,
    /// `client_secret`, optionally `accounts_url`: access tokens are
    /// obtained and renewed as they expire) or with a fixed access `token`
    /// (it expires within an hour).
    Zoho {
        /// E.g. `https://www.zohoapis.com` or `https://desk.zoho.com`.
        base_url: String,
        /// A fixed OAuth access token.
        token: Option<String>,
        /// The OAuth refresh token.
        refresh_token: Option<String>,
        /// The OAuth client id.
        client_id: Option<String>,
        /// The OAuth client secret.
        client_secret: Option<String>,
        /// The accounts server; default `https://accounts.zoho.com`.
        accounts_url: Option<String>,
        /// The Desk organization id (Desk only).
        org_id: Option<String>,
    },
}

impl std::fmt::Debug for Connector {
    /// Leaves the token out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Demo => f.write_str("Demo"),
            Self::Zoho {
                base_url,
                org_id,
                client_id,
                accounts_url,
                ..
            } => f
                .debug_struct("Zoho")
                .field("base_url", base_url)
                .field("client_id", client_id)
                .field("accounts_url", accounts_url)
                .field("org_id", org_id)
                .finish_non_exhaustive(),
        }
    }
}

/// A portal to seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PortalConfig {
    /// Its name, the part before `|` in a login.
    pub name: String,
    /// `en` or `ja`. Default `en`.
    #[serde(default = "english")]
    pub locale: String,
    /// How many days its operators' message archives (XEP-0313) keep a
    /// message. Default 90. Unlike the seeded rows, applied at every
    /// start: it is a setting, not data.
    #[serde(default = "archive_days")]
    pub archive_days: u32,
    /// How many chats an operator takes at once unless their own
    /// `max_chats` says otherwise. Default 5. Applied at every start.
    #[serde(default = "max_chats")]
    pub max_chats_per_operator: u32,
    /// Its departments.
    #[serde(default, rename = "department")]
    pub departments: Vec<DepartmentConfig>,
    /// Its operators.
    #[serde(default, rename = "operator")]
    pub operators: Vec<OperatorConfig>,
    /// Its own CRM and helpdesk accounts (`[portal.integrations.crm]`,
    /// `[portal.integrations.helpdesk]`, the keys of `[integrations.*]`);
    /// what it leaves out is the top-level `[integrations]`.
    #[serde(default)]
    pub integrations: PortalIntegrations,
    /// Its canned answers (`[[portal.canned]]`), for `#c`.
    #[serde(default)]
    pub canned: Vec<CannedConfig>,
    /// Who is told by e-mail of messages left and missed chats:
    /// addresses, `addr` or `Name <addr>`. Default none. Applied at every
    /// start, like `archive_days`.
    #[serde(default)]
    pub notify: Vec<String>,
    /// Its webhooks (`[[portal.webhook]]`): endpoints that receive its
    /// chat events as signed POSTs.
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<WebhookConfig>,
}

/// `[[portal.webhook]]`: an endpoint of the portal's own that receives
/// its chat events as signed JSON POSTs.
///
/// ```toml
/// [[portal.webhook]]
/// url = "https://crm.example.com/salesiq/events"   # http:// or https://
/// secret = "a long random string"                  # signs every body
/// events = ["chat.requested", "chat.ended", "chat.missed"]
/// ```
///
/// `events` are one or more of `chat.requested`, `chat.accepted`,
/// `chat.ended`, `chat.missed`, `chat.rated` and `message.left`. Only
/// this portal's events reach it. Checked when the file is read (a bad
/// URL, an empty secret, an unknown or no event, the same URL twice in a
/// portal); delivered by the example built with `--features webhooks`,
/// and refused at start by one built without, so that the first run
/// compiles no HTTP client.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// Where the events go.
    pub url: String,
    /// The HMAC-SHA256 key of the `X-Salesiq-Signature` header.
    pub secret: String,
    /// The events it wants, by their dotted names.
    pub events: Vec<String>,
}

impl WebhookConfig {
    /// The webhook it describes, checked.
    pub fn webhook(&self) -> Result<Webhook, ConnectorError> {
        Webhook::parse(&self.url, &self.secret, &self.events)
    }
}

impl std::fmt::Debug for WebhookConfig {
    /// Leaves the secret out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// `[[portal.canned]]`: a canned answer operators send with `#c <key>`.
///
/// ```toml
/// [[portal.canned]]
/// key = "hello"                      # 1 to 30 of a-z 0-9 _ -
/// text = "Hello {visitor}, this is {operator}. How can I help?"
/// department = "Sales"               # optional: only in that department's chats
/// ```
///
/// `{visitor}`, `{operator}` and `{department}` are filled in when it is
/// sent. Applied at every start, like `archive_days`: the file's answers
/// replace stored ones with the same key; answers stored by other means
/// stay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CannedConfig {
    /// What follows `#c`.
    pub key: String,
    /// What the visitor gets (at most 4,096 bytes).
    pub text: String,
    /// The department whose chats offer it; absent, every chat of the
    /// portal.
    pub department: Option<String>,
}

/// Whether `key` is 1 to 30 of `a-z 0-9 _ -`.
fn canned_key_ok(key: &str) -> bool {
    (1..=30).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A portal's own connectors; each one left out is the top-level one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PortalIntegrations {
    /// Behind `#crm` in this portal.
    pub crm: Option<Connector>,
    /// Behind `#support` in this portal.
    pub helpdesk: Option<Connector>,
}

fn archive_days() -> u32 {
    salesiq_session::DEFAULT_ARCHIVE_DAYS
}

fn max_chats() -> u32 {
    salesiq_session::DEFAULT_MAX_CHATS
}

fn broadcast() -> String {
    "broadcast".into()
}

fn offer_timeout() -> u32 {
    salesiq_session::DEFAULT_OFFER_TIMEOUT_SECS
}

/// The most chats one operator may be set to take at once.
const MAX_CHATS_LIMIT: u32 = 1000;

fn english() -> String {
    "en".into()
}

/// A department to seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DepartmentConfig {
    /// Its name, in any script.
    pub name: String,
    /// Whether `#support conasreq` may turn its chats into tickets.
    #[serde(default)]
    pub convert_to_ticket: bool,
    /// Who its requests are offered to: `broadcast` (everyone taking
    /// chats; the first `y` wins), `round_robin` or `least_busy` (one
    /// operator at a time, for `offer_timeout` seconds). Default
    /// broadcast. Applied at every start.
    #[serde(default = "broadcast")]
    pub routing: String,
    /// Seconds an offer to one operator stands under `round_robin` and
    /// `least_busy` (1 to 3,600). Default 30.
    #[serde(default = "offer_timeout")]
    pub offer_timeout: u32,
    /// When it takes chats, e.g. `"Mon-Fri 09:00-18:00, Sat 10:00-14:00"`
    /// (salesiq_session::OpeningHours); outside them a request is
    /// answered "leave a message". Default: always. Applied at every start.
    pub hours: Option<String>,
    /// The IANA time zone of `hours`, e.g. `"Asia/Tokyo"`. Default UTC.
    pub timezone: Option<String>,
}

impl DepartmentConfig {
    /// The routing `routing` names (checked at load).
    pub fn routing(&self) -> salesiq_session::Routing {
        salesiq_session::Routing::from_name(&self.routing).unwrap_or_default()
    }
}

/// An operator to seed.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OperatorConfig {
    /// E-mail address, unique in the portal.
    pub email: String,
    /// Display name.
    pub name: String,
    /// The Jabber username, if the operator has one yet.
    pub username: Option<String>,
    /// The account password (stored hashed).
    pub password: String,
    /// Names of departments of the same portal.
    #[serde(default)]
    pub departments: Vec<String>,
    /// How many chats they take at once (0: never offered any); default
    /// the portal's `max_chats_per_operator`. Applied at every start.
    pub max_chats: Option<u32>,
}

impl std::fmt::Debug for OperatorConfig {
    /// Leaves the password out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorConfig")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("username", &self.username)
            .field("departments", &self.departments)
            .field("max_chats", &self.max_chats)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The embedded `demo.toml`.
    pub fn demo() -> Result<Self, ConfigError> {
        Self::parse(DEMO_TOML, "demo.toml")
    }

    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        config.check().map_err(|message| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// The portal the visitor page opens when none is named.
    pub fn default_portal(&self) -> &str {
        self.portals.first().map_or("demo", |p| p.name.as_str())
    }

    fn check(&self) -> Result<(), String> {
        salesiq_jid::check_domain(&self.server.domain)
            .map_err(|e| format!("server.domain: {e}"))?;
        if self.store.url.is_some() && !self.store.is_postgres() {
            return Err(
                "store.url: only postgres:// URLs are understood (leave it out for the SQLite file)"
                    .into(),
            );
        }
        if self.server.certificate.is_some() != self.server.key.is_some() {
            return Err("server.certificate and server.key go together".into());
        }
        if let Some(smtp) = &self.smtp {
            smtp.check()?;
        }
        if self.portals.is_empty() {
            return Err("at least one [[portal]] is needed".into());
        }
        let mut usernames = HashSet::new();
        let mut portals = HashSet::new();
        for portal in &self.portals {
            salesiq_jid::check_portal(&portal.name)
                .map_err(|e| format!("portal {:?}: {e}", portal.name))?;
            if !portals.insert(portal.name.to_lowercase()) {
                return Err(format!("portal {:?} is listed twice", portal.name));
            }
            if !matches!(portal.locale.as_str(), "en" | "ja") {
                return Err(format!(
                    "portal {:?}: locale must be \"en\" or \"ja\", not {:?}",
                    portal.name, portal.locale
                ));
            }
            if portal.max_chats_per_operator == 0 || portal.max_chats_per_operator > MAX_CHATS_LIMIT
            {
                return Err(format!(
                    "portal {:?}: max_chats_per_operator is 1 to {MAX_CHATS_LIMIT}",
                    portal.name
                ));
            }
            for department in &portal.departments {
                let what = format!("portal {:?}, department {:?}", portal.name, department.name);
                if salesiq_session::Routing::from_name(&department.routing).is_none() {
                    return Err(format!(
                        "{what}: routing is \"broadcast\", \"round_robin\" or \"least_busy\", not {:?}",
                        department.routing
                    ));
                }
                if !(1..=3600).contains(&department.offer_timeout) {
                    return Err(format!("{what}: offer_timeout is 1 to 3,600 seconds"));
                }
                if let Some(hours) = &department.hours {
                    salesiq_session::OpeningHours::parse(hours)
                        .map_err(|e| format!("{what}: hours: {e}"))?;
                }
                if let Some(timezone) = &department.timezone {
                    if department.hours.is_none() {
                        return Err(format!("{what}: timezone needs hours"));
                    }
                    salesiq_session::check_timezone(timezone)
                        .map_err(|e| format!("{what}: timezone: {e}"))?;
                }
            }
            let mut notify = HashSet::new();
            for address in &portal.notify {
                let what = format!("portal {:?}, notify", portal.name);
                let mailbox =
                    salesiq_integrations::Mailbox::parse(address).map_err(|e| match e {
                        salesiq_integrations::ConnectorError::BadAddress { reason, .. } => {
                            format!("{what}: {address:?} is not an e-mail address: {reason}")
                        }
                        other => format!("{what}: {other}"),
                    })?;
                if !notify.insert(mailbox.address().to_ascii_lowercase()) {
                    return Err(format!("{what}: {address:?} is listed twice"));
                }
            }
            let departments: HashSet<&str> =
                portal.departments.iter().map(|d| d.name.as_str()).collect();
            let mut keys = HashSet::new();
            for canned in &portal.canned {
                let what = format!("portal {:?}, canned {:?}", portal.name, canned.key);
                if !canned_key_ok(&canned.key) {
                    return Err(format!("{what}: a key is 1 to 30 of a-z 0-9 _ -"));
                }
                if canned.text.trim().is_empty() || canned.text.len() > 4096 {
                    return Err(format!("{what}: the text is 1 to 4,096 bytes"));
                }
                if let Some(department) = &canned.department
                    && !departments.contains(department.as_str())
                {
                    return Err(format!(
                        "{what}: no department {department:?} in the portal"
                    ));
                }
                if !keys.insert((canned.department.clone(), canned.key.clone())) {
                    return Err(format!("{what} is listed twice"));
                }
            }
            let mut urls = HashSet::new();
            for (n, hook) in portal.webhooks.iter().enumerate() {
                let what = format!("portal {:?}, webhook {}", portal.name, n + 1);
                hook.webhook().map_err(|e| format!("{what}: {e}"))?;
                if !urls.insert(hook.url.as_str()) {
                    return Err(format!(
                        "{what}: url {:?} is listed twice; give it all its events in one entry",
                        hook.url
                    ));
                }
            }
            let mut emails = HashSet::new();
            for operator in &portal.operators {
                let who = format!("portal {:?}, operator {:?}", portal.name, operator.email);
                if !emails.insert(operator.email.to_lowercase()) {
                    return Err(format!("{who} is listed twice"));
                }
                if operator.max_chats.is_some_and(|m| m > MAX_CHATS_LIMIT) {
                    return Err(format!("{who}: max_chats is 0 to {MAX_CHATS_LIMIT}"));
                }
                if let Some(username) = &operator.username {
                    salesiq_jid::Username::parse(username).map_err(|e| format!("{who}: {e}"))?;
                    if !usernames.insert(username.to_lowercase()) {
                        return Err(format!("{who}: username {username:?} is taken already"));
                    }
                }
                if operator.password.is_empty() {
                    return Err(format!("{who}: the password is empty"));
                }
                if let Some(unknown) = operator
                    .departments
                    .iter()
                    .find(|d| !departments.contains(d.as_str()))
                {
                    return Err(format!("{who}: no department {unknown:?} in this portal"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_file_is_what_the_issue_describes() {
        let config = Config::demo().unwrap();
        assert_eq!(config.server.domain, "salesiq.zoho.com");
        assert_eq!(config.server.host, localhost());
        assert_eq!(
            (
                config.server.starttls_port,
                config.server.direct_tls_port,
                config.server.http_port
            ),
            (6222, 6223, 8080)
        );
        assert_eq!(config.default_portal(), "demo");
        let portal = &config.portals[0];
        assert_eq!(portal.archive_days, 90);
        let departments: Vec<_> = portal.departments.iter().map(|d| &d.name).collect();
        assert_eq!(departments, ["Sales", "VIPサポート"]);
        let operators: Vec<_> = portal
            .operators
            .iter()
            .map(|o| (o.email.as_str(), o.username.as_deref()))
            .collect();
        assert_eq!(
            operators,
            [
                ("alice@demo.example", Some("alice.ops")),
                ("bob@demo.example", Some("bob.ops")),
                ("carol@demo.example", None),
            ]
        );
        assert!(matches!(config.integrations.crm, Connector::Demo));
    }

    fn refused(text: &str) -> String {
        Config::parse(text, "test.toml").unwrap_err().to_string()
    }

    const MINIMAL: &str = "[server]\ndomain = \"chat.example.com\"\n[[portal]]\nname = \"p\"\n";

    #[test]
    fn the_store_is_sqlite_unless_a_postgres_url_is_given() {
        let config = Config::parse(MINIMAL, "test.toml").unwrap();
        assert!(config.store.url.is_none() && !config.store.is_postgres());
        let text = format!("{MINIMAL}[store]\nurl = \"postgres://u:p@127.0.0.1:5432/db\"\n");
        assert!(
            Config::parse(&text, "test.toml")
                .unwrap()
                .store
                .is_postgres()
        );
        let text = format!("{MINIMAL}[store]\nurl = \"mysql://127.0.0.1/db\"\n");
        assert!(refused(&text).contains("store.url"), "{}", refused(&text));
        let text = format!("{MINIMAL}[store]\npath = \"x\"\n");
        assert!(
            Config::parse(&text, "test.toml").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let config = Config::parse(MINIMAL, "test.toml").unwrap();
        assert_eq!(config.server.starttls_port, 6222);
        assert_eq!(config.server.data_dir, PathBuf::from("data"));
        assert_eq!(config.server.client_host(), "127.0.0.1");
        assert_eq!(config.portals[0].locale, "en");
    }

    #[test]
    fn geoip_and_trusted_proxies_are_optional() {
        let config = Config::parse(MINIMAL, "test.toml").unwrap();
        assert_eq!(config.server.geoip, None);
        assert!(config.server.trusted_proxies.is_empty());
        let text = MINIMAL.replace(
            "[server]\n",
            "[server]\ngeoip = \"geo/GeoLite2-Country.mmdb\"\n\
             trusted_proxies = [\"127.0.0.1\", \"::1\", \"10.0.0.2\"]\n",
        );
        let config = Config::parse(&text, "test.toml").unwrap();
        assert_eq!(
            config.server.geoip.as_deref(),
            Some(Path::new("geo/GeoLite2-Country.mmdb"))
        );
        let proxies: Vec<IpAddr> = ["127.0.0.1", "::1", "10.0.0.2"]
            .iter()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(config.server.trusted_proxies, proxies);
        let visitors = config.server.visitor_api(None);
        assert_eq!(visitors.client_address.trusted_proxies, proxies);
        assert!(visitors.geoip.is_none());
        let bad = MINIMAL.replace("[server]\n", "[server]\ntrusted_proxies = [\"nginx\"]\n");
        assert!(
            refused(&bad).contains("trusted_proxies"),
            "{}",
            refused(&bad)
        );
        let bad = MINIMAL.replace("[server]\n", "[server]\ntrusted_proxies = \"127.0.0.1\"\n");
        assert!(
            refused(&bad).contains("trusted_proxies"),
            "{}",
            refused(&bad)
        );
    }

    #[test]
    fn limits_take_their_defaults_and_any_key_given() {
        let config = Config::parse(MINIMAL, "test.toml").unwrap();
        assert_eq!(config.limits, LimitsConfig::default());
        assert_eq!(config.limits.http(), HttpLimits::default());
        assert_eq!(config.limits.visitors(), VisitorLimits::default());
        let text = format!("{MINIMAL}[limits]\nchats_per_address = 20\nhttp_header_timeout = 3\n");
        let config = Config::parse(&text, "test.toml").unwrap();
        assert_eq!(config.limits.visitors().chats_per_address, 20);
        assert_eq!(config.limits.http().header_timeout.as_secs(), 3);
        assert!(refused(&format!("{MINIMAL}[limits]\nchats = 2\n")).contains("chats"));
    }

    #[test]
    fn portals_may_have_their_own_vendor_accounts() {
        let text = format!(
            "{MINIMAL}[portal.integrations.crm]\nkind = \"zoho\"\nbase_url = \"https://www.zohoapis.eu\"\n\
             refresh_token = \"1000.r\"\nclient_id = \"1000.c\"\nclient_secret = \"s\"\n\
             accounts_url = \"https://accounts.zoho.eu\"\n\
             [[portal]]\nname = \"q\"\n"
        );
        let config = Config::parse(&text, "test.toml").unwrap();
        let own = &config.portals[0].integrations;
        assert!(matches!(
            &own.crm,
            Some(Connector::Zoho { refresh_token: Some(r), accounts_url: Some(_), token: None, .. })
                if r == "1000.r"
        ));
        assert!(own.helpdesk.is_none(), "left out: the top-level one");
        assert!(config.portals[1].integrations.crm.is_none());
        let debug = format!("{:?}", config.portals[0]);
        assert!(
            !debug.contains("1000.r") && !debug.contains("client_secret: Some"),
            "{debug}"
        );
        assert!(refused(&format!("{MINIMAL}[portal.integrations.crm]\nkind = \"zoho\"\nbase_url = \"x\"\ntokn = \"t\"\n")).contains("tokn"));
    }

    #[test]
    fn capacity_and_routing_are_checked() {
        let text = format!(
            "{MINIMAL}max_chats_per_operator = 3\n[[portal.department]]\nname = \"Desk\"\nrouting = \"round_robin\"\noffer_timeout = 20\n[[portal.operator]]\nemail = \"a@p.example\"\nname = \"A\"\npassword = \"pw-123456\"\nmax_chats = 2\n"
        );
        let config = Config::parse(&text, "test.toml").unwrap();
        let portal = &config.portals[0];
        assert_eq!(portal.max_chats_per_operator, 3);
        assert_eq!(
            portal.departments[0].routing(),
            salesiq_session::Routing::RoundRobin
        );
        assert_eq!(portal.departments[0].offer_timeout, 20);
        assert_eq!(portal.operators[0].max_chats, Some(2));
        let defaults = Config::parse(
            &format!("{MINIMAL}[[portal.department]]\nname = \"Desk\"\n"),
            "test.toml",
        )
        .unwrap();
        let portal = &defaults.portals[0];
        assert_eq!(portal.max_chats_per_operator, 5);
        assert_eq!(
            (
                portal.departments[0].routing(),
                portal.departments[0].offer_timeout
            ),
            (salesiq_session::Routing::Broadcast, 30)
        );
        let department =
            |extra: &str| format!("{MINIMAL}[[portal.department]]\nname = \"Desk\"\n{extra}");
        assert!(refused(&department("routing = \"random\"\n")).contains("round_robin"));
        let open = Config::parse(
            &department("hours = \"Mon-Fri 09:00-18:00\"\ntimezone = \"Asia/Tokyo\"\n"),
            "test.toml",
        )
        .unwrap();
        assert_eq!(
            open.portals[0].departments[0].hours.as_deref(),
            Some("Mon-Fri 09:00-18:00")
        );
        assert!(refused(&department("hours = \"weekdays 9-6\"\n")).contains("hours:"));
        assert!(
            refused(&department(
                "hours = \"Mon 09:00-10:00\"\ntimezone = \"Mars/Olympus\"\n"
            ))
            .contains("timezone:")
        );
        assert!(refused(&department("timezone = \"Asia/Tokyo\"\n")).contains("needs hours"));
        assert!(refused(&department("offer_timeout = 0\n")).contains("1 to 3,600"));
        assert!(
            refused(&format!("{MINIMAL}max_chats_per_operator = 0\n"))
                .contains("max_chats_per_operator is 1 to 1000")
        );
    }

    #[test]
    fn canned_answers_are_checked() {
        let canned = |key: &str, extra: &str| {
            format!(
                "{MINIMAL}[[portal.canned]]\nkey = \"{key}\"\ntext = \"Hi {{visitor}}\"\n{extra}"
            )
        };
        let config = Config::parse(&canned("hello-2_x", ""), "test.toml").unwrap();
        assert_eq!(config.portals[0].canned[0].text, "Hi {visitor}");
        assert!(refused(&canned("Hello", "")).contains("a-z 0-9 _ -"));
        assert!(refused(&canned(&"k".repeat(31), "")).contains("1 to 30"));
        assert!(refused(&canned("ok", "department = \"Nope\"\n")).contains("no department"));
        let twice = format!("{}{}", canned("ok", ""), &canned("ok", "")[MINIMAL.len()..]);
        assert!(refused(&twice).contains("listed twice"));
        let demo = Config::demo().unwrap();
        assert!(demo.portals[0].canned.iter().any(|c| c.key == "hello"));
    }

    #[test]
    fn smtp_is_optional_and_checked() {
        let config = Config::parse(MINIMAL, "test.toml").unwrap();
        assert!(
            config.smtp.is_none(),
            "no [smtp]: no mail leaves the machine"
        );
        let smtp = |keys: &str| {
            format!(
                "{MINIMAL}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"Acme <support@example.com>\"\n{keys}"
            )
        };
        let config = Config::parse(&smtp(""), "test.toml").unwrap();
        let parsed = config.smtp.unwrap();
        assert!(parsed.starttls, "STARTTLS is required by default");
        assert_eq!((parsed.port(), parsed.timeout), (587, 30));
        let plain = Config::parse(&smtp("starttls = false\n"), "test.toml").unwrap();
        assert_eq!(plain.smtp.unwrap().port(), 25);
        let own = Config::parse(
            &smtp("port = 2525\nusername = \"gw\"\npassword = \"hunter2\"\ntimeout = 5\n"),
            "test.toml",
        )
        .unwrap();
        let own = own.smtp.unwrap();
        assert_eq!((own.port(), own.timeout), (2525, 5));
        assert!(!format!("{own:?}").contains("hunter2"), "{own:?}");

        let bad_from = smtp("").replace("Acme <support@example.com>", "support at example.com");
        let why = refused(&bad_from);
        assert!(
            why.contains("smtp.from") && why.contains("support at example.com"),
            "{why}"
        );
        assert!(refused(&smtp("username = \"gw\"\n")).contains("go together"));
        let leak = refused(&smtp(
            "starttls = false\nusername = \"gw\"\npassword = \"p\"\n",
        ));
        assert!(leak.contains("starttls"), "{leak}");
        assert!(refused(&smtp("timeout = 0\n")).contains("smtp.timeout"));
        assert!(
            refused(&smtp("tls = true\n")).contains("tls"),
            "unknown keys"
        );
        assert!(
            refused(&format!("{MINIMAL}[smtp]\nhost = \"h\"\n")).contains("from"),
            "from is required"
        );
    }

    #[test]
    fn notify_addresses_are_checked() {
        let notify = |list: &str| format!("{MINIMAL}notify = [{list}]\n");
        let config = Config::parse(MINIMAL, "test.toml").unwrap();
        assert!(config.portals[0].notify.is_empty(), "none by default");
        let config = Config::parse(
            &notify("\"ops@example.com\", \"Sales <sales@example.com>\""),
            "test.toml",
        )
        .unwrap();
        assert_eq!(
            config.portals[0].notify,
            ["ops@example.com", "Sales <sales@example.com>"]
        );
        let why = refused(&notify("\"ops@example.com\", \"ops.example.com\""));
        assert_eq!(
            why,
            "test.toml: portal \"p\", notify: \"ops.example.com\" is not an e-mail address: it has no '@'"
        );
        assert!(refused(&notify("\"ops@example.com\\r\\nBcc: x@example.com\"")).contains("notify"));
        let twice = refused(&notify("\"ops@example.com\", \"Ops <OPS@example.com>\""));
        assert!(twice.contains("listed twice"), "{twice}");
        let demo = Config::demo().unwrap();
        assert_eq!(demo.portals[0].notify, ["Demo Ops <ops@demo.example>"]);
        assert!(demo.smtp.is_none(), "the demo sends no mail");
    }

    #[test]
    fn webhooks_are_checked_when_the_file_is_read() {
        let hook = |url: &str, secret: &str, events: &str| {
            format!(
                "{MINIMAL}[[portal.webhook]]\nurl = \"{url}\"\nsecret = \"{secret}\"\nevents = {events}\n"
            )
        };
        let text = hook(
            "https://crm.example.com/hooks",
            "s3cret",
            r#"["chat.requested", "chat.ended"]"#,
        );
        let config = Config::parse(&text, "test.toml").unwrap();
        let webhooks = &config.portals[0].webhooks;
        assert_eq!(webhooks.len(), 1);
        let webhook = webhooks[0].webhook().unwrap();
        assert_eq!(webhook.url(), "https://crm.example.com/hooks");
        assert_eq!(
            webhook.events(),
            [
                salesiq_integrations::EventKind::ChatRequested,
                salesiq_integrations::EventKind::ChatEnded
            ]
        );
        assert!(!format!("{config:?}").contains("s3cret"), "{config:?}");
        assert!(Config::demo().unwrap().portals[0].webhooks.is_empty());

        let ok_events = r#"["chat.ended"]"#;
        let error = refused(&hook("ftp://crm.example.com/", "s", ok_events));
        assert!(
            error.contains("portal \"p\", webhook 1: url: ") && error.contains("http://"),
            "{error}"
        );
        let error = refused(&hook("https://", "s", ok_events));
        assert!(error.contains("webhook 1: url: "), "{error}");
        let error = refused(&hook("https://crm.example.com/", "", ok_events));
        assert!(
            error.contains("portal \"p\", webhook 1: secret: "),
            "{error}"
        );
        let error = refused(&hook(
            "https://crm.example.com/",
            "s",
            r#"["chat.ended", "chat.started"]"#,
        ));
        assert!(
            error.contains("portal \"p\", webhook 1: events: ")
                && error.contains("\"chat.started\"")
                && error.contains("chat.missed"),
            "{error}"
        );
        let error = refused(&hook("https://crm.example.com/", "s", "[]"));
        assert!(error.contains("webhook 1: events: "), "{error}");
        let twice = format!(
            "{}{}",
            hook("https://crm.example.com/", "s", ok_events),
            &hook("https://crm.example.com/", "t", r#"["chat.missed"]"#)[MINIMAL.len()..]
        );
        assert!(
            refused(&twice).contains("webhook 2: url \"https://crm.example.com/\" is listed twice"),
            "{}",
            refused(&twice)
        );
        let typo = refused(&format!(
            "{MINIMAL}[[portal.webhook]]\nurl = \"https://x.example\"\nsecret = \"s\"\nevent = [\"chat.ended\"]\n"
        ));
        assert!(typo.contains("event"), "{typo}");
    }

    #[test]
    fn mistakes_are_refused_with_where_and_why() {
        let typo = refused(&format!("{MINIMAL}[server2]\n"));
        assert!(typo.starts_with("test.toml: "), "{typo}");
        assert!(typo.contains("server2"), "{typo}");
        assert!(refused("[server]\ndomain = \"x.example\"\n").contains("portal"));
        assert!(
            refused(&format!(
                "{MINIMAL}[[portal.operator]]\nemail = \"a@b\"\nname = \"A\"\npassword = \"pw\"\nusername = \"ab\"\n"
            ))
            .contains("6")
        );
        assert!(
            refused(&format!(
                "{MINIMAL}[[portal.operator]]\nemail = \"a@b\"\nname = \"A\"\npassword = \"pw\"\ndepartments = [\"Nope\"]\n"
            ))
            .contains("no department \"Nope\"")
        );
        assert!(
            refused(&MINIMAL.replace("chat.example.com", "bad domain")).contains("server.domain")
        );
        assert!(refused(&format!("{MINIMAL}locale = \"fr\"\n")).contains("locale"));
        assert!(refused(&format!("{MINIMAL}[[portal]]\nname = \"P\"\n")).contains("twice"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let config = Config::parse(
            &format!(
                "{MINIMAL}[[portal.operator]]\nemail = \"a@b\"\nname = \"A\"\npassword = \"hunter2\"\n\
                 [integrations.crm]\nkind = \"zoho\"\nbase_url = \"https://x\"\ntoken = \"tok-123\"\n"
            ),
            "test.toml",
        );
        // `[integrations.crm]` after `[[portal.operator]]` is a new table.
        let config = config.unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("tok-123"),
            "{debug}"
        );
    }
}
