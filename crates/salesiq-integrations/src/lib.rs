//! CRM, helpdesk and e-mail connectors for salesiq-gateway: the
//! object-safe traits the session layer calls for `#crm info` and the
//! `#support` commands, and to send mail ([`Mailer`]: messages left,
//! missed chats, transcripts); an in-memory implementation of each for
//! tests and demos; HTTP implementations for the vendor APIs (Zoho CRM v2,
//! Zoho Desk v1) and an SMTP one for mail; and webhooks for embedders:
//! each portal's chat events ([`WebhookEvent`]) as signed JSON POSTs to
//! its own endpoints ([`Webhook`], and `WebhookSender` with the
//! `webhooks` feature), behind the [`ChatEvents`] seam the chat domain
//! publishes to.
//!
//! ```
//! use salesiq_integrations::{CrmConnector, CrmModule, CrmRecord, MemoryCrm};
//!
//! # tokio_test_block(async {
//! let crm = MemoryCrm::new().with_record(CrmRecord::new(CrmModule::Lead, "1", "Ann Lee", "ann@example.com"));
//! let found = crm.find_by_email("ANN@example.com").await.unwrap();
//! assert_eq!(found.map(|r| r.name).as_deref(), Some("Ann Lee"));
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! # Choices
//!
//! * A failing vendor never reaches the operator as a stack trace:
//!   [`ConnectorError::reply`] gives "CRM is not reachable right now" and
//!   friends; 204 and empty lists are "nothing found", not errors.
//! * `conasreq` digits map to Desk's words: priority Low/Medium/High (0:
//!   none sent), status Open/On Hold/Escalated/Closed, classification
//!   Question/Problem/Feature/Others (0: none sent); tickets are created
//!   with channel `Chat` and the transcript as description.
//! * TLS is rustls with the ring provider and the platform's verifier,
//!   configured per client, so embedding this crate installs no
//!   process-wide crypto provider.
//! * A [`Mail`] is checked when it is made (addresses, a subject of one
//!   line): a mail that exists can be sent, and no text it carries can
//!   add a header. Sending it is the [`Mailer`]'s, from the mailer's one
//!   sender address.
//! * Webhook events are published without waiting: onto a bounded queue
//!   that drops the newest event when full (counted and logged), emptied
//!   by a task that POSTs each to its portal's subscribed webhooks only,
//!   signed (`X-Salesiq-Signature: sha256=<hex HMAC-SHA256 of the body>`)
//!   and retried with exponential backoff under one idempotency id
//!   (`X-Salesiq-Delivery`).
//!
//! # Crate features
//!
//! * `zoho` (on by default): `ZohoCrm` and `ZohoDesk`, over HTTPS with
//!   reqwest. Without it the crate has the traits and the in-memory
//!   connectors only, and compiles no HTTP or TLS stack (the workspace's
//!   domain crate and the example server use it so, about 60 build units
//!   fewer; the example turns it on with its own `zoho` feature).
//! * `smtp` (on by default): `SmtpMailer` and `SmtpConfig`, over SMTP with
//!   lettre (STARTTLS on rustls). Without it the crate still has the
//!   [`Mailer`] trait, [`Mail`], [`Mailbox`] and [`MemoryMailer`] (the
//!   example server turns it on with its own `smtp` feature).
//! * `webhooks` (on by default): `WebhookSender`, `RetryPolicy`,
//!   `SenderConfig`, `WebhookStats` and `signature`, on the same HTTP
//!   stack. Without it the crate still has the events, the webhook
//!   configuration and its checks, `ChatEvents` and `MemoryEvents`, and
//!   compiles no HTTP client (the example turns it on with its own
//!   `webhooks` feature).

#[cfg(any(feature = "zoho", feature = "webhooks"))]
mod client;
mod connectors;
mod crm;
mod demo;
mod error;
mod future;
mod helpdesk;
#[cfg(feature = "zoho")]
mod http;
mod mail;
#[cfg(feature = "smtp")]
mod smtp;
mod webhook;

pub use connectors::{Connectors, PortalConnectors};
pub use crm::{CrmConnector, CrmModule, CrmRecord, MemoryCrm};
pub use demo::{DEMO_EMAIL, demo};
pub use error::{ConnectorError, Service};
pub use future::BoxFuture;
pub use helpdesk::{
    HelpdeskConnector, HelpdeskContact, MemoryHelpdesk, NewTicket, Ticket, TicketQuery,
    classification_name, priority_name, state_name, status_name,
};
#[cfg(feature = "zoho")]
pub use http::{HttpConfig, OAuthClient, ZOHO_ACCOUNTS_URL, ZohoCrm, ZohoDesk};
pub use mail::{Mail, Mailbox, Mailer, MemoryMailer};
/// URLs of vendor APIs ([`HttpConfig::base_url`], [`OAuthClient::accounts_url`]).
#[cfg(feature = "zoho")]
pub use reqwest::Url;
#[cfg(feature = "smtp")]
pub use smtp::{SmtpConfig, SmtpMailer};
pub use webhook::{
    ChatEvents, DELIVERY_HEADER, EVENT_HEADER, EventKind, MemoryEvents, SIGNATURE_HEADER, Webhook,
    WebhookEvent,
};
#[cfg(feature = "webhooks")]
pub use webhook::{RetryPolicy, SenderConfig, WebhookSender, WebhookStats, signature};
