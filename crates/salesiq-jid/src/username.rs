//! Usernames: the part of a login that names the operator.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::{Error, ErrorKind};

/// The fewest characters a username may have.
pub const USERNAME_MIN_LEN: usize = 6;
/// The most characters a username may have.
pub const USERNAME_MAX_LEN: usize = 30;

/// A valid username, borrowed from the text it was parsed from.
///
/// Rules (from the product specification): 6 to 30 characters, each an
/// ASCII letter, an ASCII digit, `_` or `.`. Usernames compare and hash
/// case-insensitively, as they are unique case-insensitively across a
/// deployment; `Display` shows them as typed.
///
/// ```
/// use salesiq_jid::Username;
///
/// let name = Username::parse("Alice.Ops")?;
/// assert_eq!(name, Username::parse("alice.ops")?);
/// assert_eq!(name.to_lowercase(), "alice.ops");
///
/// let err = Username::parse("alice ops").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "character ' ' at position 6 is not allowed in a username: \
///      use ASCII letters, digits, '_' or '.'"
/// );
/// # Ok::<(), salesiq_jid::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Username<'a>(&'a str);

impl<'a> Username<'a> {
    /// Checks `text` against the username rules.
    ///
    /// A character rule broken is reported before a length rule, since it is
    /// the more specific news. Errors' spans are byte ranges of `text`.
    pub fn parse(text: &'a str) -> Result<Self, Error> {
        if text.is_empty() {
            return Err(Error::new(ErrorKind::EmptyUsername, 0..0));
        }
        for (index, (offset, ch)) in text.char_indices().enumerate() {
            if !is_username_char(ch) {
                return Err(Error::new(
                    ErrorKind::UsernameInvalidChar {
                        ch,
                        position: index + 1,
                    },
                    offset..offset + ch.len_utf8(),
                ));
            }
        }
        // Every character is ASCII from here on: bytes are characters.
        let len = text.len();
        if len < USERNAME_MIN_LEN {
            return Err(Error::new(ErrorKind::UsernameTooShort { len }, 0..len));
        }
        if len > USERNAME_MAX_LEN {
            return Err(Error::new(
                ErrorKind::UsernameTooLong { len },
                USERNAME_MAX_LEN..len,
            ));
        }
        Ok(Self(text))
    }

    /// The username as typed.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The username in lower case: the form to store and look up by.
    pub fn to_lowercase(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Whether `ch` may appear in a username.
pub(crate) fn is_username_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'
}

impl PartialEq for Username<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for Username<'_> {}

impl Hash for Username<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_ascii_lowercase(self.0, state);
    }
}

/// Feeds `text` to `state` as if it were lower-cased, without allocating.
pub(crate) fn hash_ascii_lowercase<H: Hasher>(text: &str, state: &mut H) {
    for byte in text.bytes() {
        state.write_u8(byte.to_ascii_lowercase());
    }
    state.write_u8(0xff);
}

impl fmt::Display for Username<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl AsRef<str> for Username<'_> {
    fn as_ref(&self) -> &str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> ErrorKind {
        *Username::parse(text).unwrap_err().kind()
    }

    #[test]
    fn accepts_the_documented_alphabet_and_bounds() {
        for ok in ["abcdef", "a_b.c9", "A.B_C.D", &"x".repeat(30), "123456"] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn names_the_length_rule_broken() {
        assert_eq!(kind("abcde"), ErrorKind::UsernameTooShort { len: 5 });
        assert_eq!(
            kind(&"y".repeat(31)),
            ErrorKind::UsernameTooLong { len: 31 }
        );
        assert_eq!(kind(""), ErrorKind::EmptyUsername);
        let err = Username::parse(&"y".repeat(40)).unwrap_err();
        assert_eq!(err.span(), 30..40);
    }

    #[test]
    fn names_the_character_and_its_position() {
        assert_eq!(
            kind("alice-ops"),
            ErrorKind::UsernameInvalidChar {
                ch: '-',
                position: 6
            }
        );
        let err = Username::parse("ab日本cdef").unwrap_err();
        assert_eq!(
            *err.kind(),
            ErrorKind::UsernameInvalidChar {
                ch: '日',
                position: 3
            }
        );
        assert_eq!(err.span(), 2..5);
        // A bad character in a short name is the more useful news.
        assert_eq!(
            kind("a@b"),
            ErrorKind::UsernameInvalidChar {
                ch: '@',
                position: 2
            }
        );
    }

    #[test]
    fn compares_and_hashes_case_insensitively() {
        use std::collections::HashSet;
        let a = Username::parse("Alice.Ops").unwrap();
        let b = Username::parse("ALICE.OPS").unwrap();
        assert_eq!(a, b);
        let set: HashSet<_> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(a.to_string(), "Alice.Ops");
        assert_ne!(a, Username::parse("alice.ops2").unwrap());
    }
}
