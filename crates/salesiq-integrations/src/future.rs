//! The one way async trait methods are written in this workspace.

use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future: what the async methods of the embedder traits
/// return (`CrmConnector`, `HelpdeskConnector` here; `Authenticator`,
/// `Directory` and the store in `salesiq-session`, which re-exports this
/// type), so that the traits stay dyn-compatible (`Arc<dyn Trait>`).
///
/// Implement such a method with `Box::pin(async move { ... })`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
