//! Who may log in: the `Authenticator` seam and the credentials it deals in.

use std::fmt;

use salesiq_jid::LoginKey;

use crate::future::BoxFuture;

/// An operator account, as authentication finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Account {
    /// The portal (tenant), lower case.
    pub portal: String,
    /// The username, lower case; `None` for an account that has only an
    /// e-mail address and so may not use the Jabber gateway yet.
    pub username: Option<String>,
    /// The operator's name as colleagues see it.
    pub display_name: String,
    /// The operator's e-mail address.
    pub email: String,
    /// The operator's picture, shown to colleagues.
    pub photo: Option<Photo>,
}

/// A picture: its MIME type and bytes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Photo {
    /// E.g. `image/png`.
    pub mime_type: String,
    /// The image itself.
    pub data: Vec<u8>,
}

impl Photo {
    /// A picture of that type.
    pub fn new(mime_type: &str, data: Vec<u8>) -> Self {
        Self {
            mime_type: mime_type.to_owned(),
            data,
        }
    }
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Photo({}, {} bytes)", self.mime_type, self.data.len())
    }
}

impl Account {
    /// An account of `portal` with `username` (lower-cased here).
    pub fn new(portal: &str, username: Option<&str>, display_name: &str, email: &str) -> Self {
        Self {
            portal: portal.to_ascii_lowercase(),
            username: username.map(str::to_ascii_lowercase),
            display_name: display_name.to_owned(),
            email: email.to_owned(),
            photo: None,
        }
    }

    /// The same account with a picture.
    pub fn with_photo(mut self, photo: Photo) -> Self {
        self.photo = Some(photo);
        self
    }
}

/// Why authentication failed, as far as the client may know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Unknown login or wrong password; deliberately not told apart.
    #[error("wrong login or password")]
    NotAuthorized,
    /// The authenticator's backend failed; the client may try again later.
    #[error("authentication is unavailable: {0}")]
    Unavailable(String),
}

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScramHash {
    /// SCRAM-SHA-1 (RFC 5802).
    Sha1,
    /// SCRAM-SHA-256 (RFC 7677).
    Sha256,
}

/// What a server stores to check a SCRAM exchange without knowing the
/// password (RFC 5802, section 3): salt, iteration count, `StoredKey` and
/// `ServerKey`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredentials {
    /// The salt.
    pub salt: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl ScramCredentials {
    /// The iteration count used when none is given: RFC 7677's minimum.
    pub const DEFAULT_ITERATIONS: u32 = 4096;

    /// Derives the stored credentials from a password, with rsasl's SCRAM
    /// tools (PBKDF2, HMAC and the hash come from RustCrypto).
    ///
    /// The password should already be SASLprep-normalized; ASCII passwords
    /// are unchanged by it.
    pub fn derive(hash: ScramHash, password: &str, salt: &[u8], iterations: u32) -> Self {
        use rsasl::mechanisms::scram::tools::{derive_keys, hash_password};

        fn keys<D>(password: &str, salt: &[u8], iterations: u32) -> (Vec<u8>, Vec<u8>)
        where
            D: sha2::Digest
                + sha2::digest::core_api::BlockSizeUser
                + sha2::digest::FixedOutputReset
                + Clone
                + Sync,
        {
            let mut salted = Default::default();
            hash_password::<D>(password.as_bytes(), iterations, salt, &mut salted);
            let (client_key, server_key) = derive_keys::<D>(salted.as_slice());
            (D::digest(client_key).to_vec(), server_key.to_vec())
        }

        let (stored_key, server_key) = match hash {
            ScramHash::Sha1 => keys::<sha1::Sha1>(password, salt, iterations),
            ScramHash::Sha256 => keys::<sha2::Sha256>(password, salt, iterations),
        };
        Self {
            salt: salt.to_vec(),
            iterations,
            stored_key,
            server_key,
        }
    }
}

impl ScramCredentials {
    /// A text form for storage: `iterations$salt$stored_key$server_key`,
    /// the binary parts in base64.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        format!(
            "{}${}${}${}",
            self.iterations,
            b64.encode(&self.salt),
            b64.encode(&self.stored_key),
            b64.encode(&self.server_key)
        )
    }

    /// Reads what [`ScramCredentials::encode`] wrote.
    pub fn decode(text: &str) -> Option<Self> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut parts = text.split('$');
        let iterations = parts.next()?.parse().ok()?;
        let salt = b64.decode(parts.next()?).ok()?;
        let stored_key = b64.decode(parts.next()?).ok()?;
        let server_key = b64.decode(parts.next()?).ok()?;
        parts.next().is_none().then_some(Self {
            salt,
            iterations,
            stored_key,
            server_key,
        })
    }
}

impl fmt::Debug for ScramCredentials {
    /// Shows the iteration count only: the rest is secret material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredentials")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The SCRAM hashes the built-in authenticators keep credentials for,
/// strongest first.
pub(crate) const SCRAM_HASHES: [ScramHash; 2] = [ScramHash::Sha256, ScramHash::Sha1];

/// Whether `login_name` is the local part of `email` (case-insensitive):
/// how the built-in authenticators recognise an operator without a
/// username, so that the transport can tell them to create one.
pub(crate) fn is_email_name(email: &str, login_name: &str) -> bool {
    email
        .split('@')
        .next()
        .is_some_and(|local| local.eq_ignore_ascii_case(login_name))
}

/// Checks operators' credentials; supplied by the embedder as
/// `Arc<dyn Authenticator>`.
///
/// The transport parses the login (SASL authcid) with `salesiq-jid` first
/// and asks with its normalized [`LoginKey`]. An authenticator may also
/// recognise a login as an account without a username (for instance by the
/// local part of its e-mail address) and return that [`Account`] with
/// `username: None`: the transport then refuses the login *after* the
/// password proved right, with a text telling the operator to create a
/// username first.
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// Checks a password (SASL PLAIN, only ever inside TLS).
    fn check_password<'a>(
        &'a self,
        login: &'a LoginKey,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Account, AuthError>>;

    /// The SCRAM hashes this authenticator keeps credentials for; the
    /// transport offers exactly the matching mechanisms (none: PLAIN only).
    fn scram_hashes(&self) -> &[ScramHash];

    /// The stored SCRAM credentials of a login, or `None` for an unknown
    /// login (the transport then answers with made-up credentials, so that
    /// unknown and known logins look alike).
    fn scram_credentials<'a>(
        &'a self,
        login: &'a LoginKey,
        hash: ScramHash,
    ) -> BoxFuture<'a, Result<Option<(Account, ScramCredentials)>, AuthError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Full exchanges against a real client, which prove the keys right,
    /// are in salesiq-xmpp's login tests; here, the shape of the result.
    #[test]
    fn derivation_is_deterministic_and_hash_specific() {
        let salt = b"0123456789abcdef";
        let a = ScramCredentials::derive(ScramHash::Sha256, "pencil", salt, 4096);
        let b = ScramCredentials::derive(ScramHash::Sha256, "pencil", salt, 4096);
        let c = ScramCredentials::derive(ScramHash::Sha1, "pencil", salt, 4096);
        let d = ScramCredentials::derive(ScramHash::Sha256, "pencil!", salt, 4096);
        assert_eq!(a, b);
        assert_eq!((a.stored_key.len(), a.server_key.len()), (32, 32));
        assert_eq!((c.stored_key.len(), c.server_key.len()), (20, 20));
        assert_ne!(a.stored_key, d.stored_key);
        assert_eq!(
            format!("{a:?}"),
            "ScramCredentials { iterations: 4096, .. }"
        );
        assert_ne!(hex(&a.stored_key), hex(&a.server_key));
    }
}
