//! Domains and portal names: the two other parts of a login.

use crate::error::{DomainIssue, Error, ErrorKind};

/// The most characters a portal name may have.
pub const PORTAL_MAX_LEN: usize = 63;
/// The most bytes a domain may have (a DNS name's limit).
pub const DOMAIN_MAX_LEN: usize = 253;

/// Checks a portal name: 1 to [`PORTAL_MAX_LEN`] ASCII letters, digits,
/// `_`, `-` or `.`.
///
/// The product's portal names are the "screen names" of company accounts;
/// this alphabet holds every one of them and nothing that needs escaping in
/// a JID. Spans are byte ranges of `portal`.
pub fn check_portal(portal: &str) -> Result<(), Error> {
    if portal.is_empty() {
        return Err(Error::new(ErrorKind::EmptyPortal, 0..0));
    }
    for (index, (offset, ch)) in portal.char_indices().enumerate() {
        if !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.')) {
            return Err(Error::new(
                ErrorKind::InvalidPortalChar {
                    ch,
                    position: index + 1,
                },
                offset..offset + ch.len_utf8(),
            ));
        }
    }
    if portal.len() > PORTAL_MAX_LEN {
        let len = portal.len();
        return Err(Error::new(
            ErrorKind::PortalTooLong { len },
            PORTAL_MAX_LEN..len,
        ));
    }
    Ok(())
}

/// Checks a domain and returns it without the one trailing dot RFC 7622
/// (section 3.2) says to strip.
///
/// A domain is a host name (labels of letters, digits and `-`, non-ASCII
/// letters allowed for internationalized names, each label 1 to 63 bytes, not
/// starting or ending with `-`, 253 bytes in all) or a bracketed IPv6
/// literal. Spans are byte ranges of `domain`.
pub fn check_domain(domain: &str) -> Result<&str, Error> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let invalid = |issue, span| Err(Error::new(ErrorKind::InvalidDomain(issue), span));
    if domain.is_empty() {
        return Err(Error::new(ErrorKind::EmptyDomain, 0..0));
    }
    if domain.len() > DOMAIN_MAX_LEN {
        // An IDN may hold a multi-byte character across the limit.
        let fits = domain.floor_char_boundary(DOMAIN_MAX_LEN);
        return invalid(DomainIssue::TooLong, fits..domain.len());
    }
    if let Some(inner) = domain.strip_prefix('[') {
        let ok = inner.strip_suffix(']').is_some_and(|ip| {
            ip.contains(':')
                && ip
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        });
        return if ok {
            Ok(domain)
        } else {
            invalid(DomainIssue::BadIpLiteral, 0..domain.len())
        };
    }
    let mut start = 0;
    for label in domain.split('.') {
        let span = start..start + label.len();
        if label.is_empty() {
            return invalid(DomainIssue::EmptyLabel, span);
        }
        if label.len() > 63 {
            return invalid(DomainIssue::LabelTooLong, span);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return invalid(DomainIssue::HyphenAtEdge, span);
        }
        if let Some((offset, ch)) = label
            .char_indices()
            .find(|&(_, c)| !(c == '-' || c.is_alphanumeric()))
        {
            let at = start + offset;
            return invalid(DomainIssue::InvalidChar(ch), at..at + ch.len_utf8());
        }
        start = span.end + 1;
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(domain: &str) -> ErrorKind {
        *check_domain(domain).unwrap_err().kind()
    }

    #[test]
    fn domains() {
        assert_eq!(
            check_domain("salesiq.zoho.com").unwrap(),
            "salesiq.zoho.com"
        );
        assert_eq!(check_domain("localhost.").unwrap(), "localhost");
        assert_eq!(check_domain("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(check_domain("[::1]").unwrap(), "[::1]");
        assert_eq!(check_domain("例え.jp").unwrap(), "例え.jp");
        assert_eq!(issue(""), ErrorKind::EmptyDomain);
        assert_eq!(issue("."), ErrorKind::EmptyDomain);
        assert_eq!(
            issue("a..b"),
            ErrorKind::InvalidDomain(DomainIssue::EmptyLabel)
        );
        assert_eq!(
            issue("-a.b"),
            ErrorKind::InvalidDomain(DomainIssue::HyphenAtEdge)
        );
        assert_eq!(
            issue("a_b.com"),
            ErrorKind::InvalidDomain(DomainIssue::InvalidChar('_'))
        );
        assert_eq!(
            issue("[::1"),
            ErrorKind::InvalidDomain(DomainIssue::BadIpLiteral)
        );
        assert_eq!(
            issue("[zz]"),
            ErrorKind::InvalidDomain(DomainIssue::BadIpLiteral)
        );
        assert_eq!(
            issue(&"a".repeat(64)),
            ErrorKind::InvalidDomain(DomainIssue::LabelTooLong)
        );
        let long = ["abc"; 64].join(".");
        assert_eq!(issue(&long), ErrorKind::InvalidDomain(DomainIssue::TooLong));
        assert_eq!(check_domain("ab.c d").unwrap_err().span(), 4..5);
        // Byte 253 falls inside "é": the span starts at the character.
        let idn = format!("{}.{}é", vec!["a".repeat(63); 3].join("."), "b".repeat(60));
        assert_eq!(idn.len(), 254);
        assert_eq!(check_domain(&idn).unwrap_err().span(), 252..254);
    }

    #[test]
    fn portals() {
        assert!(check_portal("acme").is_ok());
        assert!(check_portal("zylker-corp_2.jp").is_ok());
        assert_eq!(
            *check_portal("").unwrap_err().kind(),
            ErrorKind::EmptyPortal
        );
        assert_eq!(
            *check_portal("ac me").unwrap_err().kind(),
            ErrorKind::InvalidPortalChar {
                ch: ' ',
                position: 3
            }
        );
        assert_eq!(
            *check_portal(&"p".repeat(64)).unwrap_err().kind(),
            ErrorKind::PortalTooLong { len: 64 }
        );
    }
}
