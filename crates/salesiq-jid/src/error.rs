//! The one error type of this crate.

use std::fmt;
use std::ops::Range;

/// Why a login identity, username, portal or domain was refused.
///
/// It carries the [`ErrorKind`] and the byte range of the input that the
/// problem is about, so a user interface can underline it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
    span: Range<usize>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, span: Range<usize>) -> Self {
        Self { kind, span }
    }

    /// Moves the span by `offset` bytes: used when a part was checked on
    /// its own and the error must point into the whole input.
    pub(crate) fn shifted(mut self, offset: usize) -> Self {
        self.span = self.span.start + offset..self.span.end + offset;
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The byte range of the input the problem is about.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }
}

/// What is wrong with a login identity.
///
/// Each variant names the rule that was broken; its `Display` is a sentence
/// an operator can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing was given.
    Empty,
    /// The localpart has no `|` or `\` between portal and username.
    NoSeparator,
    /// The localpart has more than one separator.
    MultipleSeparators,
    /// A backslash ends the localpart, or starts an unfinished `\5c` escape.
    TruncatedEscape,
    /// Nothing stands before the separator.
    EmptyPortal,
    /// The portal name is longer than [`crate::PORTAL_MAX_LEN`].
    PortalTooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The portal name holds a character outside the portal alphabet.
    InvalidPortalChar {
        /// The character refused.
        ch: char,
        /// Its position in the portal name, counting from 1.
        position: usize,
    },
    /// Nothing stands after the separator.
    EmptyUsername,
    /// The username is shorter than [`crate::USERNAME_MIN_LEN`].
    UsernameTooShort {
        /// Its length in characters.
        len: usize,
    },
    /// The username is longer than [`crate::USERNAME_MAX_LEN`].
    UsernameTooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The username holds a character other than ASCII letters, digits,
    /// `_` and `.`.
    UsernameInvalidChar {
        /// The character refused.
        ch: char,
        /// Its position in the username, counting from 1.
        position: usize,
    },
    /// An `@` is followed by nothing.
    EmptyDomain,
    /// The domain is not a host name or an IP literal.
    InvalidDomain(DomainIssue),
    /// A `/` is followed by nothing.
    EmptyResource,
    /// The resource is longer than [`crate::RESOURCE_MAX_LEN`] bytes.
    ResourceTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The resource holds a control character.
    InvalidResourceChar {
        /// The character refused.
        ch: char,
    },
    /// A `/resource` was given without an `@domain` before it.
    ResourceWithoutDomain,
}

/// Which host-name rule a domain breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainIssue {
    /// Longer than 253 bytes.
    TooLong,
    /// Two dots in a row, or a leading dot.
    EmptyLabel,
    /// A label longer than 63 bytes.
    LabelTooLong,
    /// A label starts or ends with `-`.
    HyphenAtEdge,
    /// A character that no host name holds.
    InvalidChar(char),
    /// An IP literal that is not `[` hex digits, `:` and `.` `]`.
    BadIpLiteral,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("the login is empty: write portal|username@domain"),
            Self::NoSeparator => f.write_str(
                "no separator between portal and username: write portal|username \
                 (or portal\\username)",
            ),
            Self::MultipleSeparators => f.write_str(
                "more than one separator: write exactly one '|' or '\\' between portal and username",
            ),
            Self::TruncatedEscape => f.write_str(
                "truncated escape: a backslash must be followed by the username, \
                 or by 5c (the XEP-0106 escape of '\\')",
            ),
            Self::EmptyPortal => f.write_str("the portal name before the separator is empty"),
            Self::PortalTooLong { len } => write!(
                f,
                "the portal name is too long: {len} characters, at most {} are allowed",
                crate::PORTAL_MAX_LEN
            ),
            Self::InvalidPortalChar { ch, position } => write!(
                f,
                "character {ch:?} at position {position} is not allowed in a portal name: \
                 use ASCII letters, digits, '_', '-' or '.'"
            ),
            Self::EmptyUsername => f.write_str("the username after the separator is empty"),
            Self::UsernameTooShort { len } => write!(
                f,
                "the username is too short: {len} characters, at least {} are needed",
                crate::USERNAME_MIN_LEN
            ),
            Self::UsernameTooLong { len } => write!(
                f,
                "the username is too long: {len} characters, at most {} are allowed",
                crate::USERNAME_MAX_LEN
            ),
            Self::UsernameInvalidChar { ch, position } => write!(
                f,
                "character {ch:?} at position {position} is not allowed in a username: \
                 use ASCII letters, digits, '_' or '.'"
            ),
            Self::EmptyDomain => f.write_str("the domain after '@' is empty"),
            Self::InvalidDomain(issue) => write!(f, "the domain is not valid: {issue}"),
            Self::EmptyResource => f.write_str("the resource after '/' is empty"),
            Self::ResourceTooLong { len } => write!(
                f,
                "the resource is too long: {len} bytes, at most {} are allowed",
                crate::RESOURCE_MAX_LEN
            ),
            Self::InvalidResourceChar { ch } => {
                write!(f, "control character {ch:?} is not allowed in a resource")
            }
            Self::ResourceWithoutDomain => {
                f.write_str("a resource ('/...') needs a domain ('@...') before it")
            }
        }
    }
}

impl fmt::Display for DomainIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooLong => f.write_str("longer than 253 bytes"),
            Self::EmptyLabel => f.write_str("it has an empty label (two dots in a row?)"),
            Self::LabelTooLong => f.write_str("a label is longer than 63 bytes"),
            Self::HyphenAtEdge => f.write_str("a label starts or ends with '-'"),
            Self::InvalidChar(ch) => write!(f, "character {ch:?} is not allowed in a host name"),
            Self::BadIpLiteral => f.write_str("an IP literal must look like [2001:db8::1]"),
        }
    }
}
