//! Typed, borrowed command arguments and the rules that make them valid.

use std::fmt;

use crate::error::{CannedKeyIssue, EmailIssue, ErrorKind, UrlIssue};

/// The most bytes a pushed URL may have.
pub const URL_MAX_LEN: usize = 2048;

/// The most characters a canned answer key may have.
pub const CANNED_KEY_MAX_LEN: usize = 30;

/// A rule broken at a byte range of the argument being checked.
pub(crate) type Invalid = (ErrorKind, std::ops::Range<usize>);

macro_rules! borrowed_str {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name<'a>(&'a str);

        impl<'a> $name<'a> {
            /// The text, as typed.
            pub fn as_str(&self) -> &'a str {
                self.0
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }

        impl AsRef<str> for $name<'_> {
            fn as_ref(&self) -> &str {
                self.0
            }
        }
    };
}

borrowed_str! {
    /// An e-mail address: a dot-atom local part of at most 64 ASCII
    /// characters, `@`, and a domain with at least one dot; 254 bytes in
    /// all. Quoted local parts and IP-literal domains are refused: no
    /// operator account has one.
    Email
}

borrowed_str! {
    /// A department name from between double quotes: any script, no quote
    /// or control characters, trimmed.
    Department
}

borrowed_str! {
    /// An absolute `http` or `https` URL, safe to offer a visitor: a valid
    /// host, no `user:password@`, no control characters, at most
    /// [`URL_MAX_LEN`] bytes.
    Url
}

borrowed_str! {
    /// A helpdesk ticket id: 1 to 64 ASCII letters, digits, `-` or `_`,
    /// typed with or without a leading `#`.
    TicketId
}

borrowed_str! {
    /// The key of a canned answer (`#c <key>`): 1 to [`CANNED_KEY_MAX_LEN`]
    /// characters of `a-z`, `0-9`, `_` and `-`.
    ///
    /// Stored keys are lower case, and so is every `CannedKey`: upper-case
    /// letters are refused with [`CannedKeyIssue::Uppercase`], which tells
    /// the operator the lower-case letter to type, rather than folded. A
    /// folded key could not borrow from the line, and [`CannedKey::as_str`]
    /// is exactly the key to look up.
    ///
    /// ```
    /// use salesiq_commands::{CannedKey, CannedKeyIssue, ErrorKind};
    ///
    /// assert_eq!(CannedKey::parse("thanks-2")?.as_str(), "thanks-2");
    /// assert_eq!(
    ///     CannedKey::parse("Thanks"),
    ///     Err(ErrorKind::InvalidCannedKey(CannedKeyIssue::Uppercase('T')))
    /// );
    /// # Ok::<(), ErrorKind>(())
    /// ```
    CannedKey
}

impl<'a> Email<'a> {
    /// Checks `text` against the e-mail rules.
    pub fn parse(text: &'a str) -> Result<Self, ErrorKind> {
        check_email(text)
            .map(|()| Self(text))
            .map_err(|(kind, _)| kind)
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &'a str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &'a str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl<'a> Url<'a> {
    /// Checks `text` against the URL rules.
    pub fn parse(text: &'a str) -> Result<Self, ErrorKind> {
        check_url(text)
            .map(|()| Self(text))
            .map_err(|(kind, _)| kind)
    }

    /// Whether the URL is `https`.
    pub fn is_https(&self) -> bool {
        self.0
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }
}

impl<'a> Department<'a> {
    /// Checks a department name (without its quotes), trimming it.
    pub fn parse(text: &'a str) -> Result<Self, ErrorKind> {
        check_department(text).map(Self).map_err(|(kind, _)| kind)
    }
}

impl<'a> TicketId<'a> {
    /// Checks a ticket id, dropping one leading `#`.
    pub fn parse(text: &'a str) -> Result<Self, ErrorKind> {
        check_ticket_id(text).map(Self).map_err(|(kind, _)| kind)
    }
}

impl<'a> CannedKey<'a> {
    /// Checks `text` against the canned answer key rules.
    pub fn parse(text: &'a str) -> Result<Self, ErrorKind> {
        canned_key(text).map_err(|(kind, _)| kind)
    }
}

pub(crate) fn email(text: &str) -> Result<Email<'_>, Invalid> {
    check_email(text).map(|()| Email(text))
}

pub(crate) fn url(text: &str) -> Result<Url<'_>, Invalid> {
    check_url(text).map(|()| Url(text))
}

pub(crate) fn department(text: &str) -> Result<Department<'_>, Invalid> {
    check_department(text).map(Department)
}

pub(crate) fn ticket_id(text: &str) -> Result<TicketId<'_>, Invalid> {
    check_ticket_id(text).map(TicketId)
}

fn check_email(text: &str) -> Result<(), Invalid> {
    let bad = |issue, span| Err((ErrorKind::InvalidEmail(issue), span));
    let whole = 0..text.len();
    let Some(at) = text.find('@') else {
        return bad(EmailIssue::MissingAt, whole);
    };
    if let Some(second) = text.get(at + 1..).and_then(|rest| rest.find('@')) {
        let second = at + 1 + second;
        return bad(EmailIssue::MultipleAt, second..second + 1);
    }
    let (local, domain) = (
        text.get(..at).unwrap_or_default(),
        text.get(at + 1..).unwrap_or_default(),
    );
    if local.is_empty() {
        return bad(EmailIssue::EmptyLocalPart, 0..0);
    }
    if let Some((i, ch)) = local
        .char_indices()
        .find(|&(_, c)| !is_atext(c) && c != '.')
    {
        return bad(EmailIssue::InvalidChar(ch), i..i + ch.len_utf8());
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad(EmailIssue::MisplacedDot, 0..at);
    }
    if local.len() > 64 {
        return bad(EmailIssue::LocalPartTooLong, 0..at);
    }
    let domain_span = at + 1..text.len();
    if !domain.contains('.') || domain.ends_with('.') || domain.starts_with('[') {
        return bad(EmailIssue::InvalidDomain, domain_span);
    }
    if salesiq_jid::check_domain(domain).is_err() {
        return bad(EmailIssue::InvalidDomain, domain_span);
    }
    if text.len() > 254 {
        return bad(EmailIssue::TooLong, whole);
    }
    Ok(())
}

/// RFC 5322 `atext`: the characters of a dot-atom besides the dot.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn check_url(text: &str) -> Result<(), Invalid> {
    let bad = |issue, span| Err((ErrorKind::InvalidUrl(issue), span));
    if text.len() > URL_MAX_LEN {
        // The span starts at the first character that does not fit, which
        // may begin before byte URL_MAX_LEN (found by the fuzzer).
        let fits = text.floor_char_boundary(URL_MAX_LEN);
        return bad(UrlIssue::TooLong, fits..text.len());
    }
    if let Some((i, ch)) = text.char_indices().find(|&(_, c)| c.is_control()) {
        return bad(UrlIssue::InvalidChar, i..i + ch.len_utf8());
    }
    let scheme_len = ["https://", "http://"]
        .into_iter()
        .find(|scheme| {
            text.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        })
        .map(str::len);
    let Some(scheme_len) = scheme_len else {
        return match other_scheme(text) {
            Some(end) => bad(UrlIssue::UnsupportedScheme, 0..end),
            None => bad(UrlIssue::NotAbsolute, 0..text.len()),
        };
    };
    let rest = text.get(scheme_len..).unwrap_or_default();
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_len).unwrap_or_default();
    let span = scheme_len..scheme_len + authority_len;
    if authority.contains('@') {
        return bad(UrlIssue::UserInfo, span);
    }
    let (host, port) = match authority.rfind(':') {
        // A colon inside an IPv6 literal is not a port separator.
        Some(colon)
            if !authority
                .get(colon..)
                .is_some_and(|tail| tail.contains(']')) =>
        {
            (
                authority.get(..colon).unwrap_or_default(),
                Some(authority.get(colon + 1..).unwrap_or_default()),
            )
        }
        _ => (authority, None),
    };
    if host.is_empty() {
        return bad(UrlIssue::MissingHost, span);
    }
    if salesiq_jid::check_domain(host).is_err() {
        return bad(UrlIssue::InvalidHost, span);
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return bad(UrlIssue::InvalidPort, span);
        }
    }
    Ok(())
}

/// Where the scheme of a non-web URL ends (`mailto:`, `ftp://`,
/// `javascript:`), telling it from a host with a port (`example.com:80`).
fn other_scheme(text: &str) -> Option<usize> {
    let colon = text.find(':')?;
    let scheme = text.get(..colon)?;
    let after = text.get(colon + 1..).unwrap_or_default();
    let scheme_like = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (scheme_like && (after.starts_with("//") || !scheme.contains('.'))).then_some(colon)
}

/// Quote characters that open or close a department name anywhere.
pub(crate) fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '＂' | '「' | '」')
}

fn check_department(text: &str) -> Result<&str, Invalid> {
    let start = text.len() - text.trim_start().len();
    let name = text.trim();
    if name.is_empty() {
        return Err((ErrorKind::EmptyDepartment, 0..text.len()));
    }
    if let Some((i, ch)) = name
        .char_indices()
        .find(|&(_, c)| is_quote(c) || c.is_control())
    {
        let at = start + i;
        return Err((ErrorKind::InvalidDepartmentChar(ch), at..at + ch.len_utf8()));
    }
    Ok(name)
}

fn check_ticket_id(text: &str) -> Result<&str, Invalid> {
    let (offset, id) = match text.strip_prefix('#') {
        Some(id) => (1, id),
        None => (0, text),
    };
    if let Some((i, ch)) = id
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        let at = offset + i;
        return Err((ErrorKind::InvalidTicketId(ch), at..at + ch.len_utf8()));
    }
    if id.is_empty() || id.len() > 64 {
        return Err((ErrorKind::InvalidTicketId('#'), 0..text.len()));
    }
    Ok(id)
}

pub(crate) fn canned_key(text: &str) -> Result<CannedKey<'_>, Invalid> {
    let bad = |issue, span| Err((ErrorKind::InvalidCannedKey(issue), span));
    if let Some((i, ch)) = text
        .char_indices()
        .find(|&(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
    {
        let span = i..i + ch.len_utf8();
        return if ch.is_ascii_uppercase() {
            bad(CannedKeyIssue::Uppercase(ch), span)
        } else {
            bad(CannedKeyIssue::InvalidChar(ch), span)
        };
    }
    if text.is_empty() {
        return bad(CannedKeyIssue::Empty, 0..0);
    }
    // Only ASCII is left, so bytes are characters.
    if text.len() > CANNED_KEY_MAX_LEN {
        return bad(CannedKeyIssue::TooLong, 0..text.len());
    }
    Ok(CannedKey(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email_issue(text: &str) -> EmailIssue {
        match Email::parse(text) {
            Err(ErrorKind::InvalidEmail(issue)) => issue,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn url_issue(text: &str) -> UrlIssue {
        match Url::parse(text) {
            Err(ErrorKind::InvalidUrl(issue)) => issue,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "fiona.baumgartner@hotmail.com",
            "a+tag@x.co",
            "O'Brien@Example.COM",
            "x@sub.例え.jp",
        ] {
            assert_eq!(Email::parse(ok).unwrap().as_str(), ok);
        }
        let email = Email::parse("bob@demo.example").unwrap();
        assert_eq!(
            (email.local_part(), email.domain()),
            ("bob", "demo.example")
        );
        assert_eq!(email_issue("bob.example"), EmailIssue::MissingAt);
        assert_eq!(email_issue("a@b@c.com"), EmailIssue::MultipleAt);
        assert_eq!(email_issue("@x.com"), EmailIssue::EmptyLocalPart);
        assert_eq!(email_issue("a b@x.com"), EmailIssue::InvalidChar(' '));
        assert_eq!(email_issue("ä@x.com"), EmailIssue::InvalidChar('ä'));
        assert_eq!(email_issue(".a@x.com"), EmailIssue::MisplacedDot);
        assert_eq!(email_issue("a..b@x.com"), EmailIssue::MisplacedDot);
        assert_eq!(
            email_issue(&format!("{}@x.com", "a".repeat(65))),
            EmailIssue::LocalPartTooLong
        );
        assert_eq!(email_issue("a@localhost"), EmailIssue::InvalidDomain);
        assert_eq!(email_issue("a@x..com"), EmailIssue::InvalidDomain);
        assert_eq!(email_issue("a@x.com."), EmailIssue::InvalidDomain);
        assert_eq!(email_issue("a@[::1]"), EmailIssue::InvalidDomain);
        assert_eq!(email_issue("a@"), EmailIssue::InvalidDomain);
        let long = format!(
            "{}@{}.com",
            "a".repeat(64),
            vec!["b".repeat(60); 4].join(".")
        );
        assert_eq!(email_issue(&long), EmailIssue::TooLong);
    }

    #[test]
    fn urls() {
        for ok in [
            "https://taskerpro.cleaning.zillium.com",
            "HTTP://example.com:8080/a?b=c#d",
            "https://[2001:db8::1]:443/x",
            "https://例え.jp/パス",
            "http://127.0.0.1/",
        ] {
            assert_eq!(Url::parse(ok).unwrap().as_str(), ok);
        }
        assert!(Url::parse("https://x.example").unwrap().is_https());
        assert!(!Url::parse("http://x.example").unwrap().is_https());
        assert_eq!(url_issue("www.example.com"), UrlIssue::NotAbsolute);
        assert_eq!(
            url_issue("javascript:alert(1)"),
            UrlIssue::UnsupportedScheme
        );
        assert_eq!(url_issue("ftp://example.com"), UrlIssue::UnsupportedScheme);
        assert_eq!(url_issue("https://"), UrlIssue::MissingHost);
        assert_eq!(url_issue("https:///path"), UrlIssue::MissingHost);
        assert_eq!(url_issue("https://exa_mple.com"), UrlIssue::InvalidHost);
        assert_eq!(
            url_issue("https://user:pw@bank.example"),
            UrlIssue::UserInfo
        );
        assert_eq!(url_issue("https://x.example:0"), UrlIssue::InvalidPort);
        assert_eq!(url_issue("https://x.example:99999"), UrlIssue::InvalidPort);
        assert_eq!(url_issue("https://x.example:"), UrlIssue::InvalidPort);
        assert_eq!(url_issue("https://x.example/\u{7}"), UrlIssue::InvalidChar);
        assert_eq!(
            url_issue(&format!("https://x.example/{}", "a".repeat(2048))),
            UrlIssue::TooLong
        );
    }

    #[test]
    fn departments_and_ticket_ids() {
        assert_eq!(
            Department::parse("  VIPサポート ").unwrap().as_str(),
            "VIPサポート"
        );
        assert_eq!(Department::parse("   "), Err(ErrorKind::EmptyDepartment));
        assert_eq!(
            Department::parse("a\"b"),
            Err(ErrorKind::InvalidDepartmentChar('"'))
        );
        assert_eq!(
            Department::parse("a\nb"),
            Err(ErrorKind::InvalidDepartmentChar('\n'))
        );
        assert_eq!(TicketId::parse("#101").unwrap().as_str(), "101");
        assert_eq!(TicketId::parse("TKT-9_a").unwrap().as_str(), "TKT-9_a");
        assert_eq!(TicketId::parse("#"), Err(ErrorKind::InvalidTicketId('#')));
        assert_eq!(TicketId::parse("1.2"), Err(ErrorKind::InvalidTicketId('.')));
        assert_eq!(
            TicketId::parse(&"9".repeat(65)),
            Err(ErrorKind::InvalidTicketId('#'))
        );
    }

    #[test]
    fn canned_keys() {
        let longest = "a".repeat(CANNED_KEY_MAX_LEN);
        for ok in ["a", "thanks", "price_list-2", "0", "-_-", longest.as_str()] {
            assert_eq!(CannedKey::parse(ok).unwrap().as_str(), ok);
        }
        fn issue(text: &str) -> CannedKeyIssue {
            match CannedKey::parse(text) {
                Err(ErrorKind::InvalidCannedKey(issue)) => issue,
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(issue(""), CannedKeyIssue::Empty);
        assert_eq!(issue(&"a".repeat(31)), CannedKeyIssue::TooLong);
        assert_eq!(issue("Thanks"), CannedKeyIssue::Uppercase('T'));
        assert_eq!(issue("bad!key"), CannedKeyIssue::InvalidChar('!'));
        assert_eq!(issue("a.b"), CannedKeyIssue::InvalidChar('.'));
        assert_eq!(issue("ｔｈａｎｋｓ"), CannedKeyIssue::InvalidChar('ｔ'));
        assert_eq!(issue("お礼"), CannedKeyIssue::InvalidChar('お'));
        assert_eq!(
            canned_key("ab\u{e9}c"),
            Err((
                ErrorKind::InvalidCannedKey(CannedKeyIssue::InvalidChar('\u{e9}')),
                2..4
            ))
        );
    }
}
