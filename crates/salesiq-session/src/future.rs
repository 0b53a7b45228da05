//! The one way async trait methods are written in this workspace.
//!
//! [`BoxFuture`] is defined once, in `salesiq-integrations` (the lowest
//! crate with async traits), and re-exported here: a boxed, `Send` future,
//! so that every embedder trait stays dyn-compatible (`Arc<dyn Trait>`).
//! Implement such a method with `Box::pin(async move { ... })`.

pub use salesiq_integrations::BoxFuture;
