//! Stream and stanza errors (RFC 6120, sections 4.9 and 8.3), and the
//! crate's own error type.

use minidom::Element;

use crate::ns;

/// A stream error condition (RFC 6120, section 4.9.3): the stream is
/// closed after it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamErrorCondition {
    /// Text or structure the server cannot process.
    BadFormat,
    /// Negotiation took too long.
    ConnectionTimeout,
    /// The `to` of the stream header is not this server's domain.
    HostUnknown,
    /// The stream or a stanza is in the wrong namespace.
    InvalidNamespace,
    /// A stanza arrived before authentication, or authentication failed
    /// too often.
    NotAuthorized,
    /// The XML is not well-formed.
    NotWellFormed,
    /// A limit was broken, e.g. the maximum stanza size.
    PolicyViolation,
    /// Another session took over this resource.
    Conflict,
    /// Comments, processing instructions, DTDs or entity references.
    RestrictedXml,
    /// The server is shutting down.
    SystemShutdown,
    /// The stream header's version is not 1.0.
    UnsupportedVersion,
    /// Something else went wrong on the server.
    InternalServerError,
    /// A top-level element the server does not understand.
    UnsupportedStanzaType,
    /// The server lacks what it would need to go on with this stream
    /// (a client that never acknowledges what it was sent).
    ResourceConstraint,
}

impl StreamErrorCondition {
    /// The element name of the condition.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadFormat => "bad-format",
            Self::ConnectionTimeout => "connection-timeout",
            Self::HostUnknown => "host-unknown",
            Self::InvalidNamespace => "invalid-namespace",
            Self::NotAuthorized => "not-authorized",
            Self::NotWellFormed => "not-well-formed",
            Self::PolicyViolation => "policy-violation",
            Self::Conflict => "conflict",
            Self::RestrictedXml => "restricted-xml",
            Self::SystemShutdown => "system-shutdown",
            Self::UnsupportedVersion => "unsupported-version",
            Self::InternalServerError => "internal-server-error",
            Self::UnsupportedStanzaType => "unsupported-stanza-type",
            Self::ResourceConstraint => "resource-constraint",
        }
    }

    /// The children of `<stream:error>`: the condition and a text.
    pub(crate) fn children(self, text: Option<&str>) -> Vec<Element> {
        let mut children = vec![Element::bare(self.as_str(), ns::STREAM_ERRORS)];
        if let Some(text) = text {
            children.push(
                Element::builder("text", ns::STREAM_ERRORS)
                    .append(text)
                    .build(),
            );
        }
        children
    }
}

/// A stanza error condition (RFC 6120, section 8.3.3) with its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StanzaErrorCondition {
    /// The request is malformed.
    BadRequest,
    /// The resource is taken.
    Conflict,
    /// Not allowed to do that.
    Forbidden,
    /// No such entity.
    ItemNotFound,
    /// The address is malformed.
    JidMalformed,
    /// Not allowed for this entity.
    NotAllowed,
    /// The recipient is not available.
    RecipientUnavailable,
    /// The service does not support this.
    ServiceUnavailable,
    /// Something went wrong on the server.
    InternalServerError,
    /// The server is short of something for now (a chat's queue is
    /// full): try again later.
    ResourceConstraint,
}

impl StanzaErrorCondition {
    /// The element name of the condition.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::Conflict => "conflict",
            Self::Forbidden => "forbidden",
            Self::ItemNotFound => "item-not-found",
            Self::JidMalformed => "jid-malformed",
            Self::NotAllowed => "not-allowed",
            Self::RecipientUnavailable => "recipient-unavailable",
            Self::ServiceUnavailable => "service-unavailable",
            Self::InternalServerError => "internal-server-error",
            Self::ResourceConstraint => "resource-constraint",
        }
    }

    /// The error type RFC 6120 gives the condition.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::BadRequest | Self::JidMalformed => "modify",
            Self::Conflict | Self::Forbidden | Self::NotAllowed => "cancel",
            Self::ItemNotFound | Self::ServiceUnavailable => "cancel",
            Self::RecipientUnavailable | Self::InternalServerError => "wait",
            Self::ResourceConstraint => "wait",
        }
    }
}

/// What can go wrong setting the server up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listener could not bind, or another I/O failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The certificate or key is unusable.
    #[error("TLS setup failed: {0}")]
    Tls(String),
}
