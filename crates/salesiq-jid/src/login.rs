//! Login identities: `portal|username@domain/resource` and its spellings.

use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};

use crate::domain::{check_domain, check_portal};
use crate::error::{Error, ErrorKind};
use crate::username::{Username, hash_ascii_lowercase};

/// The most bytes a resource may have (RFC 7622, section 3.4).
pub const RESOURCE_MAX_LEN: usize = 1023;

/// How the portal and the username were separated in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Separator {
    /// A vertical bar: `portal|username`.
    Bar,
    /// A backslash: `portal\username`.
    Backslash,
    /// The XEP-0106 escape of a backslash: `portal\5cusername`.
    EscapedBackslash,
}

/// An operator's login identity, borrowed from the JID or SASL authcid it
/// was parsed from; parsing never allocates.
///
/// Accepted spellings, all equal to each other:
///
/// * `portal|username@domain/resource` (a full JID), with or without the
///   resource;
/// * `portal\username@domain`, the backslash the product documents beside
///   the bar;
/// * `portal\5cusername@domain`, what XEP-0106 (JID escaping) makes of the
///   backslash. `\5c` (or `\5C`) is always read as that escape, so a
///   username that itself begins with `5c` must be typed after `|`;
/// * `portal|username`, the bare localpart that clients send as the SASL
///   PLAIN authcid (with or without `@domain`).
///
/// Portal, username and domain compare and hash case-insensitively; the
/// resource compares exactly and the separator not at all. `Display` writes
/// the canonical form: lower-case `portal|username`, then `@domain` and
/// `/resource` where present.
///
/// ```
/// use salesiq_jid::LoginId;
///
/// let id = LoginId::parse(r"Acme\5cAlice.Ops@salesiq.zoho.com/IM+ Android")?;
/// assert_eq!(id.portal(), "Acme");
/// assert_eq!(id.username().as_str(), "Alice.Ops");
/// assert_eq!(id.domain(), Some("salesiq.zoho.com"));
/// assert_eq!(id.resource(), Some("IM+ Android"));
/// assert_eq!(id.to_string(), "acme|alice.ops@salesiq.zoho.com/IM+ Android");
/// assert_eq!(id.bare(), LoginId::parse("acme|alice.ops@salesiq.zoho.com")?);
/// assert_eq!(id.key().to_string(), "acme|alice.ops");
/// # Ok::<(), salesiq_jid::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LoginId<'a> {
    portal: &'a str,
    username: Username<'a>,
    domain: Option<&'a str>,
    resource: Option<&'a str>,
    separator: Separator,
}

impl<'a> LoginId<'a> {
    /// Parses a JID or SASL authcid.
    ///
    /// Errors name the rule broken; their spans are byte ranges of `input`.
    pub fn parse(input: &'a str) -> Result<Self, Error> {
        if input.is_empty() {
            return Err(Error::new(ErrorKind::Empty, 0..0));
        }
        // RFC 7622: the resource is everything after the first '/', the
        // localpart everything before the first '@' of what precedes it.
        let (bare, resource) = match input.split_once('/') {
            Some((bare, resource)) => (bare, Some(resource)),
            None => (input, None),
        };
        let (local, domain) = match bare.split_once('@') {
            Some((local, domain)) => (local, Some(domain)),
            None => (bare, None),
        };
        let domain_start = local.len() + 1;
        let domain = domain
            .map(|domain| check_domain(domain).map_err(|e| e.shifted(domain_start)))
            .transpose()?;
        let resource = match resource {
            None => None,
            Some(_) if domain.is_none() => {
                let at = bare.len();
                return Err(Error::new(
                    ErrorKind::ResourceWithoutDomain,
                    at..input.len(),
                ));
            }
            Some(resource) => Some(check_resource(resource, bare.len() + 1)?),
        };
        let (portal, separator, username_start) = split_localpart(local)?;
        check_portal(portal)?;
        let username = local.get(username_start..).unwrap_or_default();
        let username = Username::parse(username).map_err(|e| match e.kind() {
            ErrorKind::EmptyUsername => {
                Error::new(ErrorKind::EmptyUsername, username_start..username_start)
            }
            _ => e.shifted(username_start),
        })?;
        Ok(Self {
            portal,
            username,
            domain,
            resource,
            separator,
        })
    }

    /// The portal (tenant) name, as typed.
    pub fn portal(&self) -> &'a str {
        self.portal
    }

    /// The username, as typed.
    pub fn username(&self) -> Username<'a> {
        self.username
    }

    /// The domain, as typed less a trailing dot, if one was given.
    pub fn domain(&self) -> Option<&'a str> {
        self.domain
    }

    /// The resource, if one was given.
    pub fn resource(&self) -> Option<&'a str> {
        self.resource
    }

    /// How portal and username were separated in the input.
    pub fn separator(&self) -> Separator {
        self.separator
    }

    /// The same identity without its resource.
    pub fn bare(&self) -> Self {
        Self {
            resource: None,
            ..*self
        }
    }

    /// Whether the domain is absent (a bare authcid) or equal to `domain`,
    /// ignoring ASCII case.
    pub fn is_for_domain(&self, domain: &str) -> bool {
        self.domain
            .is_none_or(|own| own.eq_ignore_ascii_case(domain))
    }

    /// The owned, lower-cased `(portal, username)` pair: the key to store
    /// and look operators up by.
    pub fn key(&self) -> LoginKey {
        LoginKey {
            portal: self.portal.to_ascii_lowercase(),
            username: self.username.to_lowercase(),
        }
    }
}

/// Finds the one separator in a localpart: returns the portal, the
/// separator and where the username starts.
fn split_localpart(local: &str) -> Result<(&str, Separator, usize), Error> {
    let mut found: Option<(usize, Separator, usize)> = None;
    for (at, matched) in local.match_indices(['|', '\\']) {
        let rest = local.get(at + 1..).unwrap_or_default();
        let (separator, len) = if matched == "|" {
            (Separator::Bar, 1)
        } else if rest.get(..2).is_some_and(|e| e.eq_ignore_ascii_case("5c")) {
            (Separator::EscapedBackslash, 3)
        } else if rest.is_empty() || rest == "5" {
            return Err(Error::new(ErrorKind::TruncatedEscape, at..local.len()));
        } else {
            (Separator::Backslash, 1)
        };
        if found.is_some() {
            return Err(Error::new(ErrorKind::MultipleSeparators, at..at + len));
        }
        found = Some((at, separator, at + len));
    }
    match found {
        Some((at, separator, username_start)) => Ok((
            local.get(..at).unwrap_or_default(),
            separator,
            username_start,
        )),
        None => Err(Error::new(ErrorKind::NoSeparator, 0..local.len())),
    }
}

/// Checks a resource found at byte `start` of the input.
fn check_resource(resource: &str, start: usize) -> Result<&str, Error> {
    if resource.is_empty() {
        return Err(Error::new(ErrorKind::EmptyResource, start..start));
    }
    if resource.len() > RESOURCE_MAX_LEN {
        let len = resource.len();
        // The span starts at the first character that does not fit, which
        // may begin before the limit (found by the fuzzer).
        let fits = resource.floor_char_boundary(RESOURCE_MAX_LEN);
        return Err(Error::new(
            ErrorKind::ResourceTooLong { len },
            start + fits..start + len,
        ));
    }
    if let Some((offset, ch)) = resource.char_indices().find(|&(_, c)| c.is_control()) {
        let at = start + offset;
        return Err(Error::new(
            ErrorKind::InvalidResourceChar { ch },
            at..at + ch.len_utf8(),
        ));
    }
    Ok(resource)
}

impl PartialEq for LoginId<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.portal.eq_ignore_ascii_case(other.portal)
            && self.username == other.username
            && match (self.domain, other.domain) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (None, None) => true,
                _ => false,
            }
            && self.resource == other.resource
    }
}

impl Eq for LoginId<'_> {}

impl Hash for LoginId<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_ascii_lowercase(self.portal, state);
        self.username.hash(state);
        self.domain.is_some().hash(state);
        if let Some(domain) = self.domain {
            hash_ascii_lowercase(domain, state);
        }
        self.resource.hash(state);
    }
}

/// Writes `text` in ASCII lower case without allocating.
fn write_lowercase(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    text.chars()
        .try_for_each(|c| f.write_char(c.to_ascii_lowercase()))
}

impl fmt::Display for LoginId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lowercase(f, self.portal)?;
        f.write_char('|')?;
        write_lowercase(f, self.username.as_str())?;
        if let Some(domain) = self.domain {
            f.write_char('@')?;
            write_lowercase(f, domain)?;
        }
        if let Some(resource) = self.resource {
            f.write_char('/')?;
            f.write_str(resource)?;
        }
        Ok(())
    }
}

/// The owned, normalized (lower-case) portal and username of a
/// [`LoginId`]; `Display` writes `portal|username`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoginKey {
    portal: String,
    username: String,
}

impl LoginKey {
    /// The portal name, in lower case.
    pub fn portal(&self) -> &str {
        &self.portal
    }

    /// The username, in lower case.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Display for LoginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}", self.portal, self.username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DomainIssue;

    fn err(input: &str) -> (ErrorKind, std::ops::Range<usize>) {
        let e = LoginId::parse(input).unwrap_err();
        (*e.kind(), e.span())
    }

    #[test]
    fn every_documented_spelling_is_the_same_identity() {
        let canonical = LoginId::parse("acme|alice.ops@salesiq.zoho.com").unwrap();
        for spelling in [
            r"acme\alice.ops@salesiq.zoho.com",
            r"acme\5calice.ops@salesiq.zoho.com",
            r"acme\5Calice.ops@salesiq.zoho.com",
            "ACME|Alice.Ops@SalesIQ.Zoho.com",
            "acme|alice.ops@salesiq.zoho.com.",
        ] {
            let id = LoginId::parse(spelling).unwrap();
            assert_eq!(id, canonical, "{spelling}");
            assert_eq!(id.to_string(), "acme|alice.ops@salesiq.zoho.com");
        }
        assert_eq!(
            LoginId::parse(r"acme\5calice.ops").unwrap().separator(),
            Separator::EscapedBackslash
        );
        assert_eq!(
            LoginId::parse(r"acme\alice.ops").unwrap().separator(),
            Separator::Backslash
        );
    }

    #[test]
    fn bare_authcid_and_resources() {
        let id = LoginId::parse("acme|alice.ops").unwrap();
        assert_eq!(
            (id.portal(), id.domain(), id.resource()),
            ("acme", None, None)
        );
        assert!(id.is_for_domain("anything.example"));
        let id = LoginId::parse("acme|alice.ops@h.example/phone/with/slashes@and-at").unwrap();
        assert_eq!(id.resource(), Some("phone/with/slashes@and-at"));
        assert!(id.is_for_domain("H.EXAMPLE"));
        assert!(!id.is_for_domain("other.example"));
        assert_ne!(id, id.bare());
        assert_eq!(id.bare().resource(), None);
    }

    #[test]
    fn keys_are_lower_case_and_owned() {
        let key = LoginId::parse(r"Acme\Alice.Ops@x.example").unwrap().key();
        assert_eq!((key.portal(), key.username()), ("acme", "alice.ops"));
        assert_eq!(key.to_string(), "acme|alice.ops");
    }

    #[test]
    fn structural_errors_say_what_is_wrong_and_where() {
        assert_eq!(err(""), (ErrorKind::Empty, 0..0));
        assert_eq!(err("alice.ops@x.example"), (ErrorKind::NoSeparator, 0..9));
        assert_eq!(err("a|b|alice.ops"), (ErrorKind::MultipleSeparators, 3..4));
        assert_eq!(
            err(r"a|b\5calice.ops"),
            (ErrorKind::MultipleSeparators, 3..6)
        );
        assert_eq!(err(r"acme\"), (ErrorKind::TruncatedEscape, 4..5));
        assert_eq!(err(r"acme\5"), (ErrorKind::TruncatedEscape, 4..6));
        assert_eq!(err(r"acme\@x.example"), (ErrorKind::TruncatedEscape, 4..5));
        assert_eq!(err("|alice.ops"), (ErrorKind::EmptyPortal, 0..0));
        assert_eq!(err("acme|@x.example"), (ErrorKind::EmptyUsername, 5..5));
        assert_eq!(err(r"acme\5c"), (ErrorKind::EmptyUsername, 7..7));
        assert_eq!(err("acme|alice.ops@"), (ErrorKind::EmptyDomain, 15..15));
        assert_eq!(
            err("acme|alice.ops@x.example/"),
            (ErrorKind::EmptyResource, 25..25)
        );
        assert_eq!(
            err("acme|alice.ops/res"),
            (ErrorKind::ResourceWithoutDomain, 14..18)
        );
    }

    #[test]
    fn part_errors_point_into_the_whole_input() {
        assert_eq!(
            err("acme|alice@x.example"),
            (ErrorKind::UsernameTooShort { len: 5 }, 5..10)
        );
        assert_eq!(
            err("acme|alice-ops@x.example"),
            (
                ErrorKind::UsernameInvalidChar {
                    ch: '-',
                    position: 6
                },
                10..11
            )
        );
        assert_eq!(
            err("ac me|alice.ops"),
            (
                ErrorKind::InvalidPortalChar {
                    ch: ' ',
                    position: 3
                },
                2..3
            )
        );
        assert_eq!(
            err("acme|alice.ops@bad..example"),
            (ErrorKind::InvalidDomain(DomainIssue::EmptyLabel), 19..19)
        );
        assert_eq!(
            err("acme|alice.ops@x.example/a\u{0}b"),
            (ErrorKind::InvalidResourceChar { ch: '\u{0}' }, 26..27)
        );
        let long = format!("acme|alice.ops@x.example/{}é", "r".repeat(1022));
        assert_eq!(
            err(&long),
            (ErrorKind::ResourceTooLong { len: 1024 }, 1047..1049)
        );
        let long = format!("acme|alice.ops@x.example/{}", "r".repeat(1024));
        assert_eq!(err(&long).0, ErrorKind::ResourceTooLong { len: 1024 });
        let long = format!("acme|{}", "u".repeat(2000));
        assert_eq!(err(&long).0, ErrorKind::UsernameTooLong { len: 2000 });
    }

    #[test]
    fn errors_read_as_sentences() {
        let e = LoginId::parse("acme|alice@x.example").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the username is too short: 5 characters, at least 6 are needed"
        );
        let e = LoginId::parse("alice.ops").unwrap_err();
        assert!(e.to_string().starts_with("no separator"), "{e}");
    }
}
