//! The one error type of the crate: the connectors' and the webhooks'.

use std::time::Duration;

/// Why a connector could not answer, a mailer could not send, or a
/// webhook was refused.
/// [`ConnectorError::reply`] is the friendly text an operator sees; the
/// details go to the logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The vendor refused the token (HTTP 401 or 403).
    #[error("the access token was refused")]
    Unauthorized,
    /// Too many requests (HTTP 429).
    #[error("rate limited")]
    RateLimited,
    /// The vendor failed (HTTP 5xx), the network did, or it took too long.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The vendor answered something we cannot read.
    #[error("unexpected answer: {0}")]
    BadResponse(String),
    /// No such ticket or contact where one was named.
    #[error("not found")]
    NotFound,
    /// An e-mail address that is not one, or not one we send to (see
    /// [`Mailbox`](crate::Mailbox)); nothing was sent.
    #[error("{field}: {address:?} is not an e-mail address: {reason}")]
    BadAddress {
        /// Where it was given: `to`, `reply_to`, `from` or `address`.
        field: &'static str,
        /// What was given.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A mail that cannot be sent as it is: no recipient, a line break in
    /// the subject, a body over [`Mail::MAX_BODY`](crate::Mail::MAX_BODY)
    /// bytes; nothing was sent.
    #[error("{field}: {reason}")]
    BadMail {
        /// `to`, `subject` or `body`.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The server did not finish in this time (it may still deliver what
    /// it had taken in full; a mail is sent at most once).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The mail server refused the mail for good (a permanent SMTP reply,
    /// such as an unknown recipient or a sender it does not relay for).
    #[error("refused: {0}")]
    Refused(String),
    /// A configuration was refused: a webhook's URL, secret or events
    /// ([`Webhook::new`](crate::Webhook::new), [`EventKind`](crate::EventKind)'s
    /// `from_str`).
    #[error("{key}: {reason}")]
    Invalid {
        /// The key at fault: `url`, `secret` or `events`.
        key: &'static str,
        /// What is wrong with it, and what would be right.
        reason: String,
    },
}

/// Which service a reply is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Service {
    /// The CRM.
    Crm,
    /// The helpdesk.
    Helpdesk,
    /// E-mail (a [`Mailer`](crate::Mailer)).
    Mail,
}

impl ConnectorError {
    /// What to tell the operator, in `locale`.
    pub fn reply_in(&self, service: Service, locale: salesiq_commands::Locale) -> &'static str {
        if locale != salesiq_commands::Locale::Ja {
            return self.reply(service);
        }
        match (self, service) {
            (Self::BadAddress { .. }, _) => "メールアドレスが正しくありません",
            (_, Service::Mail) => "現在メールを送信できません",
            (Self::NotFound, Service::Crm) => "CRMにそのレコードはありません",
            (Self::NotFound, _) => "サポートにその問い合わせはありません",
            (Self::RateLimited, Service::Crm) => {
                "CRMが混み合っています。しばらくしてからもう一度お試しください"
            }
            (Self::RateLimited, _) => {
                "サポートが混み合っています。しばらくしてからもう一度お試しください"
            }
            (_, Service::Crm) => "現在CRMに接続できません",
            (_, _) => "現在サポートに接続できません",
        }
    }

    /// What to tell the operator, in English: a failure of the service is
    /// not theirs to debug.
    pub fn reply(&self, service: Service) -> &'static str {
        match (self, service) {
            (Self::BadAddress { .. }, _) => "That is not a valid e-mail address",
            (_, Service::Mail) => "The e-mail could not be sent right now",
            (Self::NotFound, Service::Crm) => "No such record in the CRM",
            (Self::NotFound, _) => "No such ticket in the helpdesk",
            (Self::RateLimited, Service::Crm) => "The CRM is busy right now; try again in a minute",
            (Self::RateLimited, _) => "The helpdesk is busy right now; try again in a minute",
            (_, Service::Crm) => "CRM is not reachable right now",
            (_, _) => "The helpdesk is not reachable right now",
        }
    }
}
