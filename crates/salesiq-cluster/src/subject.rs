//! NATS subjects and patterns, and how a pattern matches a subject.
//!
//! A subject is a non-empty sequence of non-empty tokens separated by `.`,
//! of printable ASCII without spaces (NATS itself allows more; the gateway
//! needs no more, and both buses refuse the same). A pattern may also hold
//! `*` as a whole token (exactly one token) and `>` as its last token (one
//! or more tokens: the rest). `*` and `>` are never wildcards inside a token
//! (`a*.b` is a plain token there, and refused here as confusing).

use crate::error::{Error, cut};

/// The longest subject or pattern accepted, in bytes.
pub const MAX_SUBJECT_LEN: usize = 256;

/// Checks a subject to publish on: no wildcards.
pub fn validate_subject(subject: &str) -> Result<(), Error> {
    validate(subject, false)
}

/// Checks a pattern to subscribe to: `*` tokens anywhere, `>` last.
pub fn validate_pattern(pattern: &str) -> Result<(), Error> {
    validate(pattern, true)
}

fn validate(s: &str, wildcards: bool) -> Result<(), Error> {
    let fail = |reason| {
        Err(Error::InvalidSubject {
            subject: cut(s),
            reason,
        })
    };
    if s.is_empty() {
        return fail("empty");
    }
    if s.len() > MAX_SUBJECT_LEN {
        return fail("longer than 256 bytes");
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return fail("only printable ASCII without spaces");
    }
    let mut tokens = s.split('.').peekable();
    while let Some(token) = tokens.next() {
        let last = tokens.peek().is_none();
        match token {
            "" => return fail("empty token"),
            "*" | ">" if !wildcards => return fail("wildcards only in a subscription"),
            ">" if !last => return fail("`>` only as the last token"),
            "*" | ">" => {}
            t if t.contains(['*', '>']) => return fail("`*` and `>` only as whole tokens"),
            _ => {}
        }
    }
    Ok(())
}

/// Whether `pattern` matches `subject`, both valid (unchecked here: an
/// invalid one simply matches what its tokens say).
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for p in pattern.split('.') {
        match (p, subject_tokens.next()) {
            (">", Some(_)) => return true,
            (_, None) => return false,
            ("*", Some(_)) => {}
            (p, Some(s)) if p == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn literal_and_wildcards() {
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.c"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(!matches("a.b.c", "a.b"));
        assert!(matches("a.*", "a.b"));
        assert!(!matches("a.*", "a"));
        assert!(!matches("a.*", "a.b.c"));
        assert!(matches("*.b", "a.b"));
        assert!(matches("a.>", "a.b"));
        assert!(matches("a.>", "a.b.c"));
        assert!(!matches("a.>", "a"));
        assert!(matches(">", "a"));
        assert!(matches("salesiq.presence.*", "salesiq.presence.a"));
        assert!(!matches("salesiq.presence.*", "salesiq.presences.a"));
    }

    #[test]
    fn validation() {
        assert!(validate_subject("salesiq.presence.a").is_ok());
        for bad in [
            "", "a..b", ".a", "a.", "a b", "a.*", "a.>", "a\u{e9}", "a\n",
        ] {
            assert!(validate_subject(bad).is_err(), "{bad:?}");
        }
        assert!(validate_subject(&"a".repeat(257)).is_err());
        for good in ["a", "a.*", "*.b", ">", "a.*.>", "*"] {
            assert!(validate_pattern(good).is_ok(), "{good:?}");
        }
        for bad in ["a.>.b", ">.a", "a*", "a.b*.c", "a.>x", "", "a..*"] {
            assert!(validate_pattern(bad).is_err(), "{bad:?}");
        }
    }

    /// The obvious recursive definition, on token lists.
    fn reference(pattern: &[&str], subject: &[&str]) -> bool {
        match (pattern.split_first(), subject.split_first()) {
            (None, None) => true,
            (Some((&">", _)), Some(_)) => true,
            (Some((&p, prest)), Some((&s, srest))) => {
                (p == "*" || p == s) && reference(prest, srest)
            }
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn matcher_agrees_with_reference(
            pattern in proptest::collection::vec(prop_oneof!["a", "b", "c", Just("*".to_string())], 1..5),
            tail in any::<bool>(),
            subject in proptest::collection::vec(prop_oneof!["a", "b", "c"], 1..6),
        ) {
            let mut pattern: Vec<&str> = pattern.iter().map(String::as_str).collect();
            if tail {
                pattern.push(">");
            }
            let subject: Vec<&str> = subject.iter().map(String::as_str).collect();
            let p = pattern.join(".");
            let s = subject.join(".");
            prop_assert!(validate_pattern(&p).is_ok());
            prop_assert!(validate_subject(&s).is_ok());
            prop_assert_eq!(matches(&p, &s), reference(&pattern, &subject), "{} vs {}", p, s);
        }

        #[test]
        fn validation_never_panics(s in "\\PC{0,40}") {
            let _ = validate_subject(&s);
            let _ = validate_pattern(&s);
            let _ = matches(&s, &s);
        }
    }
}
