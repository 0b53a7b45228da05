//! CRM and helpdesk connectors for salesiq-gateway: the object-safe traits
//! the session layer calls for `#crm info` and the `#support` commands, an
//! in-memory implementation of each for tests and demos, and HTTP
//! implementations for the vendor APIs (Zoho CRM v2, Zoho Desk v1).
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
//!
//! # Crate features
//!
//! * `zoho` (on by default): `ZohoCrm` and `ZohoDesk`, over HTTPS with
//!   reqwest. Without it the crate has the traits and the in-memory
//!   connectors only, and compiles no HTTP or TLS stack (the workspace's
//!   domain crate and the example server use it so, about 60 build units
//!   fewer; the example turns it on with its own `zoho` feature).

#[cfg(feature = "zoho")]
mod client;
mod connectors;
mod crm;
mod demo;
mod error;
mod future;
mod helpdesk;
#[cfg(feature = "zoho")]
mod http;

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
/// URLs of vendor APIs ([`HttpConfig::base_url`], [`OAuthClient::accounts_url`]).
#[cfg(feature = "zoho")]
pub use reqwest::Url;
