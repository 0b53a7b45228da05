//! [`SmtpMailer`]: mail through an SMTP server (a relay, a provider's
//! submission port), with lettre on tokio and rustls.
//!
//! Each mail is one connection: connect, `EHLO`, `STARTTLS` (required
//! unless [`SmtpConfig::starttls`] is off), `AUTH` when credentials are
//! given, the mail, `QUIT`. Gateways send few mails (a missed chat, a
//! message left, a transcript), so no connection is kept open to go stale.
//! The whole exchange is bounded by [`SmtpConfig::timeout`]: a server that
//! accepts a connection and never answers is
//! [`ConnectorError::Timeout`], never a caller that hangs.
//!
//! The SMTP protocol, dot-stuffing, header encoding (RFC 2047 for a
//! Japanese subject or name) and the transfer encoding of the body are
//! lettre's: this module only maps our checked [`Mail`] onto its message
//! builder, and its errors onto [`ConnectorError`]: a refused password is
//! [`ConnectorError::Unauthorized`], another permanent reply (5xx)
//! [`ConnectorError::Refused`], a transient one (4xx), a failed connection
//! or TLS handshake [`ConnectorError::Unavailable`].
//!
//! TLS is rustls with the ring provider and the platform's verifier,
//! configured per mailer, as the HTTP connectors' (no process-wide crypto
//! provider is installed).

use std::fmt;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::error::ConnectorError;
use crate::future::BoxFuture;
use crate::mail::{Mail, Mailbox, Mailer};

/// Where the SMTP server is, who mail is from, and how to log in.
///
/// ```
/// use salesiq_integrations::{Mailbox, SmtpConfig};
///
/// let from: Mailbox = "Acme Support <support@acme.example>".parse().unwrap();
/// let config = SmtpConfig::new("smtp.acme.example", 587, from)
///     .with_credentials("gateway", "secret");
/// assert!(config.starttls);
/// assert!(!format!("{config:?}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmtpConfig {
    /// The server's host name (checked against its certificate) or IP
    /// address.
    pub host: String,
    /// Its port: usually 587 (submission, STARTTLS), or 25 for a local
    /// relay.
    pub port: u16,
    /// The sender of every mail (`From`, and the envelope's `MAIL FROM`).
    pub from: Mailbox,
    /// The login, if the server wants one (with `password`).
    pub username: Option<String>,
    /// The password of `username`.
    pub password: Option<String>,
    /// `true` (the default): STARTTLS is required, and a server that does
    /// not offer it, or whose certificate does not verify, gets no mail
    /// (never a silent fall-back to plain text). `false`: plain SMTP,
    /// unencrypted, for a relay or a test sink on the same machine or
    /// network; credentials are then refused, so that no password is sent
    /// in the clear. (Implicit TLS, port 465, is not offered.)
    pub starttls: bool,
    /// How long one mail may take, connection to `QUIT`. Default
    /// [`SmtpConfig::DEFAULT_TIMEOUT`].
    pub timeout: Duration,
}

impl SmtpConfig {
    /// The default [`SmtpConfig::timeout`]: 30 seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// A server at `host:port`, with STARTTLS required, no login and the
    /// default timeout.
    pub fn new(host: &str, port: u16, from: Mailbox) -> Self {
        Self {
            host: host.to_owned(),
            port,
            from,
            username: None,
            password: None,
            starttls: true,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// The same, logging in as `username` with `password`.
    pub fn with_credentials(mut self, username: &str, password: &str) -> Self {
        self.username = Some(username.to_owned());
        self.password = Some(password.to_owned());
        self
    }

    /// The same, with STARTTLS required (`true`) or plain SMTP (`false`).
    pub fn with_starttls(mut self, starttls: bool) -> Self {
        self.starttls = starttls;
        self
    }

    /// The same, with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for SmtpConfig {
    /// Leaves the password out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// A [`Mailer`] that sends through an SMTP server.
///
/// ```
/// use std::sync::Arc;
/// use salesiq_integrations::{Mailer, SmtpConfig, SmtpMailer};
///
/// let config = SmtpConfig::new("smtp.acme.example", 587, "support@acme.example".parse().unwrap());
/// let mailer: Arc<dyn Mailer> = Arc::new(SmtpMailer::new(config).unwrap());
/// # drop(mailer);
/// ```
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    config: SmtpConfig,
}

impl SmtpMailer {
    /// A mailer for `config`; nothing is connected until a mail is sent.
    /// Refused: an empty host, a username without a password (or the
    /// reverse), credentials without STARTTLS, a TLS set-up that fails.
    pub fn new(config: SmtpConfig) -> Result<Self, ConnectorError> {
        let setup = |why: &str| ConnectorError::Unavailable(format!("SMTP set-up: {why}"));
        if config.host.trim().is_empty() {
            return Err(setup("no host"));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(config.timeout));
        if config.starttls {
            let tls = TlsParameters::new_rustls(config.host.clone())
                .map_err(|e| setup(&format!("TLS: {e}")))?;
            builder = builder.tls(Tls::Required(tls));
        }
        match (&config.username, &config.password) {
            (None, None) => {}
            (Some(username), Some(password)) if config.starttls => {
                builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
            }
            (Some(_), Some(_)) => {
                return Err(setup(
                    "a password is never sent without STARTTLS (starttls = false)",
                ));
            }
            _ => return Err(setup("a username and a password go together")),
        }
        let from = lettre_mailbox(&config.from, "from")?;
        Ok(Self {
            transport: builder.build(),
            from,
            config,
        })
    }

    /// The sender of every mail.
    pub fn from(&self) -> &Mailbox {
        &self.config.from
    }

    /// `mail` as lettre's message, from [`SmtpMailer::from`].
    fn message(&self, mail: &Mail) -> Result<Message, ConnectorError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject())
            .header(ContentType::TEXT_PLAIN)
            .message_id(None);
        for to in mail.to() {
            builder = builder.to(lettre_mailbox(to, "to")?);
        }
        if let Some(reply_to) = mail.reply_to() {
            builder = builder.reply_to(lettre_mailbox(reply_to, "reply_to")?);
        }
        builder
            .body(mail.body().to_owned())
            .map_err(|_| ConnectorError::BadMail {
                field: "mail",
                reason: "lettre could not build it",
            })
    }

    /// What a failure of lettre's means to a caller.
    fn error(&self, error: &lettre::transport::smtp::Error) -> ConnectorError {
        let what = format!("SMTP {}:{}: {error}", self.config.host, self.config.port);
        if error.is_timeout() {
            return ConnectorError::Timeout(self.config.timeout);
        }
        match error.status().map(u16::from) {
            // 535: authentication credentials invalid; 534, 530: a
            // mechanism or a login the server wants.
            Some(530 | 534 | 535) => ConnectorError::Unauthorized,
            Some(_) if error.is_permanent() => ConnectorError::Refused(what),
            _ => ConnectorError::Unavailable(what),
        }
    }
}

/// Our checked mailbox as lettre's (which checks it again: anything ours
/// takes, lettre takes; if not, the mail is refused, not sent).
fn lettre_mailbox(
    mailbox: &Mailbox,
    field: &'static str,
) -> Result<lettre::message::Mailbox, ConnectorError> {
    let address =
        mailbox
            .address()
            .parse::<lettre::Address>()
            .map_err(|_| ConnectorError::BadAddress {
                field,
                address: mailbox.address().to_owned(),
                reason: "the SMTP client does not take it",
            })?;
    Ok(lettre::message::Mailbox::new(
        mailbox.name().map(str::to_owned),
        address,
    ))
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), ConnectorError>> {
        Box::pin(async move {
            let message = self.message(&mail)?;
            match tokio::time::timeout(self.config.timeout, self.transport.send(message)).await {
                Err(_elapsed) => Err(ConnectorError::Timeout(self.config.timeout)),
                Ok(Err(error)) => Err(self.error(&error)),
                Ok(Ok(_response)) => Ok(()),
            }
        })
    }
}

impl fmt::Debug for SmtpMailer {
    /// The configuration, without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn from() -> Mailbox {
        "Gateway <gateway@example.com>".parse().unwrap()
    }

    #[test]
    fn configurations_that_would_leak_or_cannot_work_are_refused() {
        let config = SmtpConfig::new("smtp.example.com", 587, from());
        assert!(SmtpMailer::new(config.clone()).is_ok());
        assert!(SmtpMailer::new(config.clone().with_credentials("u", "p")).is_ok());
        let plain = config.clone().with_starttls(false);
        assert!(SmtpMailer::new(plain.clone()).is_ok());
        let leak = SmtpMailer::new(plain.with_credentials("u", "p")).unwrap_err();
        assert!(leak.to_string().contains("STARTTLS"), "{leak}");
        let mut half = config.clone();
        half.username = Some("u".into());
        assert!(SmtpMailer::new(half).is_err());
        let mut nowhere = config;
        nowhere.host = " ".into();
        assert!(SmtpMailer::new(nowhere).is_err());
    }

    #[test]
    fn the_password_stays_out_of_debug_output() {
        let config =
            SmtpConfig::new("smtp.example.com", 587, from()).with_credentials("u", "hunter2");
        let mailer = SmtpMailer::new(config.clone()).unwrap();
        for debug in [format!("{config:?}"), format!("{mailer:?}")] {
            assert!(
                !debug.contains("hunter2") && debug.contains("smtp.example.com"),
                "{debug}"
            );
        }
    }

    #[test]
    fn a_mail_becomes_one_plain_text_message() {
        let mailer = SmtpMailer::new(SmtpConfig::new("smtp.example.com", 587, from())).unwrap();
        let mail = Mail::new(
            ["ops@example.com", "Lee, Ann <ann@example.com>"],
            "Hi",
            "Body\n",
        )
        .unwrap()
        .with_reply_to("visitor@example.net")
        .unwrap();
        let message = mailer.message(&mail).unwrap();
        let envelope = message.envelope();
        let to: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
        assert_eq!(to, ["ops@example.com", "ann@example.com"]);
        assert_eq!(
            envelope.from().map(ToString::to_string).as_deref(),
            Some("gateway@example.com")
        );
        let text = String::from_utf8(message.formatted()).unwrap();
        assert!(text.contains("Reply-To: visitor@example.net\r\n"), "{text}");
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        assert!(text.contains("Message-ID: <"), "{text}");
    }

    /// Addresses near what `Mailbox` takes: half well-formed (atoms of
    /// atext between dots, `@`, DNS labels), half any mix of those
    /// characters (stray dots and hyphens, lengths past the limits).
    fn near_addresses() -> impl Strategy<Value = String> {
        let atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,16}";
        let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
        let formed = (
            prop::collection::vec(atom, 1..5),
            prop::collection::vec(label, 1..5),
        )
            .prop_map(|(l, d)| format!("{}@{}", l.join("."), d.join(".")));
        let mixed = (
            "[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]{1,70}",
            "[a-zA-Z0-9.-]{1,70}",
        )
            .prop_map(|(l, d)| format!("{l}@{d}"));
        prop_oneof![formed, mixed]
    }

    proptest! {
        /// Ours is a subset of lettre's: whatever a configuration or a
        /// mail got past `Mailbox`, the SMTP client takes too.
        #[test]
        fn every_address_we_take_lettre_takes(address in near_addresses()) {
            if let Ok(mailbox) = Mailbox::parse(&address) {
                prop_assert!(lettre_mailbox(&mailbox, "to").is_ok(), "{}", address);
            }
        }

        /// Display names of any text (line breaks aside) are encoded by
        /// lettre, never refused.
        #[test]
        fn every_display_name_we_take_lettre_encodes(name in "[^<>\\p{Cc}]{0,40}") {
            if let Ok(mailbox) = Mailbox::parse(&format!("{name} <a@example.com>")) {
                let message = Message::builder()
                    .from(lettre_mailbox(&mailbox, "from").unwrap())
                    .to("b@example.com".parse().unwrap())
                    .subject("s")
                    .body(String::new());
                prop_assert!(message.is_ok());
                let text = String::from_utf8(message.unwrap().formatted()).unwrap();
                let headers = text.split("\r\n\r\n").next().unwrap_or("");
                prop_assert!(headers.lines().all(|l| !l.starts_with("Bcc")), "{}", text);
            }
        }
    }
}
