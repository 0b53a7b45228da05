//! CRM and helpdesk connectors for salesiq-gateway: the object-safe
//! `CrmConnector` and `HelpdeskConnector` traits, in-memory implementations
//! with demo data, and HTTP implementations for the vendor REST APIs.
//!
//! **Status:** not built yet. The chat-domain issue delivers it; until then
//! the crate is empty on purpose so that the workspace has its final shape.
