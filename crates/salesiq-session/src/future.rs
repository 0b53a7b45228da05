//! The one way async trait methods are written in this workspace.

use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future: what the async methods of the embedder traits
/// (`Authenticator`, `Directory`, and later `Store` and the connectors)
/// return, so that the traits stay dyn-compatible (`Arc<dyn Trait>`).
///
/// Implement such a method with `Box::pin(async move { ... })`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
