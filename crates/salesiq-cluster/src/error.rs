//! The crate's one error type.

/// What went wrong on the bus or in the presence registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A subject to publish on, or a pattern to subscribe to, is not a
    /// valid NATS subject (see [`crate::subject`]).
    #[error("invalid subject {subject:?}: {reason}")]
    InvalidSubject {
        /// The subject or pattern as given (cut to 128 characters).
        subject: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A node id that cannot be one token of a subject.
    #[error("invalid node id {id:?}: {reason}")]
    InvalidNodeId {
        /// The id as given (cut to 128 characters).
        id: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A payload larger than the bus carries.
    #[error("payload of {len} bytes exceeds the bus limit of {max} bytes")]
    PayloadTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A bound of the presence registry was reached (the local node's
    /// entries, or the length of a resource or name).
    #[error("presence limit reached: {what}")]
    Limit {
        /// Which bound.
        what: &'static str,
    },
    /// The bus is closed (the in-process bus was dropped, or the NATS
    /// connection is gone for good).
    #[error("the bus is closed")]
    Closed,
    /// An operation on the bus took longer than its bound.
    #[error("timed out: {what}")]
    Timeout {
        /// Which operation.
        what: &'static str,
    },
    /// Connecting to the NATS server failed.
    #[error("connecting to NATS at {url}")]
    Connect {
        /// The server URL.
        url: String,
        /// The client's reason.
        #[source]
        source: async_nats::ConnectError,
    },
    /// Publishing through NATS failed.
    #[error("publishing on NATS")]
    Publish(#[source] async_nats::PublishError),
    /// Subscribing through NATS failed.
    #[error("subscribing on NATS")]
    Subscribe(#[source] async_nats::SubscribeError),
    /// Flushing the NATS connection failed.
    #[error("flushing the NATS connection")]
    Flush(#[source] async_nats::client::FlushError),
    /// Encoding a presence message failed (not expected: the types are
    /// plain data).
    #[error("encoding a presence message")]
    Encode(#[source] serde_json::Error),
}

/// Cuts what goes into an error to a readable, bounded length.
pub(crate) fn cut(s: &str) -> String {
    s.chars().take(128).collect()
}
