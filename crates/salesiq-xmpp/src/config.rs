//! What an embedder can set, with safe defaults.

use std::net::SocketAddr;
use std::time::Duration;

/// Server settings. Every limit is explicit, with a default that suits one
/// machine serving a few thousand operators.
///
/// ```
/// use salesiq_xmpp::Config;
///
/// let mut config = Config::new("salesiq.example.com");
/// config.starttls_addr = Some("127.0.0.1:0".parse().unwrap());
/// config.direct_tls_addr = None; // no direct-TLS port
/// assert_eq!(config.max_stanza_bytes, 256 * 1024);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The domain operators log in to, as in `portal|user@domain`.
    /// Default `salesiq.zoho.com`.
    pub domain: String,
    /// Where the STARTTLS listener binds; `None` for none. Default
    /// `127.0.0.1:6222`.
    pub starttls_addr: Option<SocketAddr>,
    /// Where the direct-TLS (XEP-0368) listener binds; `None` for none.
    /// Default `127.0.0.1:6223`.
    pub direct_tls_addr: Option<SocketAddr>,
    /// The largest stanza (or stream header) accepted, in bytes; larger
    /// ones close the stream with `<policy-violation/>`. Default 256 KiB.
    pub max_stanza_bytes: usize,
    /// How deep elements may nest in a stanza (a stanza is depth 1); deeper
    /// ones close the stream with `<policy-violation/>` as they arrive,
    /// before login too. Default 32.
    pub max_stanza_depth: usize,
    /// How many attributes (namespace declarations included) one element
    /// may have; more close the stream with `<policy-violation/>`.
    /// Default 64.
    pub max_attributes: usize,
    /// How long a client may take from connecting to a bound resource;
    /// then `<connection-timeout/>`. Default 30 s.
    pub negotiation_timeout: Duration,
    /// Connections open at once, in all. Default 20,000.
    pub max_connections: usize,
    /// Connections open at once from one IP address. Default 100.
    pub max_connections_per_ip: usize,
    /// Failed logins of one account from one IP address after which
    /// further attempts of that account from there are refused, without a
    /// check, for [`Config::auth_throttle_window`] (other accounts behind
    /// the same address are not). Checks in flight count, so parallel
    /// guesses cannot exceed it; one wrong password tried with several
    /// mechanisms on one stream counts once; a stream's third refusal
    /// closes it. Default 5.
    pub max_auth_failures: u32,
    /// How long failed logins are remembered. Default 60 s.
    pub auth_throttle_window: Duration,
    /// How long a session whose connection dropped waits to be resumed
    /// (XEP-0198) before it ends; stanzas for it are kept meanwhile (at
    /// most [`Config::max_unacked_stanzas`]). Default one hour: phones
    /// sleep and change networks, and Monal asks for at least that.
    pub resumption_timeout: Duration,
    /// How many stanzas may wait for one connection (its client reading
    /// too slowly, or not at all). One more and the connection is closed
    /// with `<policy-violation/>`, as ejabberd does past its
    /// `max_fsm_queue`; what could not be queued is dropped. Default 1,000.
    pub max_queued_stanzas: usize,
    /// How many stanzas a session with XEP-0198 keeps for its client until
    /// it acknowledges them, connected or waiting to be resumed; beyond,
    /// the stream closes with `<resource-constraint/>` (a parked session
    /// ends) and what was kept goes back to its senders as
    /// `<recipient-unavailable/>`. Default 500, as Prosody's.
    pub max_unacked_stanzas: usize,
    /// How many stanzas per second a logged-in client may send, after a
    /// burst of [`Config::stanza_burst`]; faster, and the server reads it
    /// more slowly (nothing is dropped or refused: its socket fills up).
    /// Default 50.
    pub max_stanza_rate: u32,
    /// How many stanzas a client may send at once before
    /// [`Config::max_stanza_rate`] applies. Default 200.
    pub stanza_burst: u32,
}

impl Config {
    /// The defaults, for `domain`.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_ascii_lowercase(),
            ..Self::default()
        }
    }
}

impl Config {
    /// What the XML reader of every connection enforces.
    pub(crate) fn xml_limits(&self) -> crate::xml::XmlLimits {
        let mut limits = crate::xml::XmlLimits::new(self.max_stanza_bytes);
        limits.max_depth = self.max_stanza_depth;
        limits.max_attributes = self.max_attributes;
        limits
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            domain: "salesiq.zoho.com".into(),
            starttls_addr: Some(SocketAddr::from(([127, 0, 0, 1], 6222))),
            direct_tls_addr: Some(SocketAddr::from(([127, 0, 0, 1], 6223))),
            max_stanza_bytes: 256 * 1024,
            max_stanza_depth: crate::xml::XmlLimits::DEFAULT_MAX_DEPTH,
            max_attributes: crate::xml::XmlLimits::DEFAULT_MAX_ATTRIBUTES,
            negotiation_timeout: Duration::from_secs(30),
            max_connections: 20_000,
            max_connections_per_ip: 100,
            max_auth_failures: 5,
            auth_throttle_window: Duration::from_secs(60),
            resumption_timeout: Duration::from_secs(3600),
            max_queued_stanzas: 1000,
            max_unacked_stanzas: 500,
            max_stanza_rate: 50,
            stanza_burst: 200,
        }
    }
}
