//! Operator login identities for salesiq-gateway.
//!
//! Operators sign in to the Jabber gateway as `portal|username@domain`: the
//! portal names their company's account, the username names them. This
//! crate parses that identity from a JID or a SASL authcid, in every
//! spelling clients produce, and checks usernames against the product's
//! rules. It is pure: no I/O, no async, and parsing borrows from its input
//! without allocating.
//!
//! ```
//! use salesiq_jid::{ErrorKind, LoginId, Username};
//!
//! // The three spellings a client may send are one identity.
//! let bar = LoginId::parse("acme|alice.ops@salesiq.zoho.com/Gajim")?;
//! let backslash = LoginId::parse(r"acme\alice.ops@salesiq.zoho.com/Gajim")?;
//! let escaped = LoginId::parse(r"ACME\5cAlice.Ops@salesiq.zoho.com/Gajim")?;
//! assert!(bar == backslash && backslash == escaped);
//!
//! // SASL PLAIN may carry just the localpart.
//! let authcid = LoginId::parse("acme|alice.ops")?;
//! assert_eq!(authcid.key(), bar.key());
//!
//! // Errors name the rule that was broken, and where.
//! let err = LoginId::parse("acme|bob@salesiq.zoho.com").unwrap_err();
//! assert_eq!(*err.kind(), ErrorKind::UsernameTooShort { len: 3 });
//! assert_eq!(err.span(), 5..8);
//! assert!(Username::parse("bob_the_builder").is_ok());
//! # Ok::<(), salesiq_jid::Error>(())
//! ```
//!
//! # Choices where the specification is silent
//!
//! * `\5c` after the portal is always the XEP-0106 escape of the backslash,
//!   never a backslash followed by a username starting with `5c`.
//! * Portal names are 1 to 63 ASCII letters, digits, `_`, `-` or `.`.
//! * A domain is a host name (internationalized labels allowed) or a
//!   bracketed IPv6 literal; one trailing dot is dropped (RFC 7622, 3.2).
//! * A resource is 1 to 1023 bytes without control characters.
//! * The crate never calls the `jid` crate's `unescape()`, which panics on a
//!   trailing `\`.
//!
//! # Crate features
//!
//! None: the crate has no optional parts.

mod domain;
mod error;
mod login;
mod username;

pub use domain::{DOMAIN_MAX_LEN, PORTAL_MAX_LEN, check_domain, check_portal};
pub use error::{DomainIssue, Error, ErrorKind};
pub use login::{LoginId, LoginKey, RESOURCE_MAX_LEN, Separator};
pub use username::{USERNAME_MAX_LEN, USERNAME_MIN_LEN, Username};
