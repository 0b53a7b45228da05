//! SASL on the server side (RFC 6120, section 6): PLAIN, SCRAM-SHA-1 and
//! SCRAM-SHA-256 by rsasl; credentials from the embedder's
//! [`Authenticator`].
//!
//! rsasl asks for credentials through a synchronous callback in the middle
//! of a step, while the authenticator is async. Nothing ever blocks a
//! thread waiting for it (which, under a storm of logins, deadlocked the
//! blocking pool): SCRAM credentials are fetched asynchronously before the
//! step that needs them (the username is in the client's first message,
//! as rustls' `Acceptor` reads a ClientHello before choosing a
//! configuration), and a PLAIN password is checked asynchronously after
//! rsasl has parsed it. The steps themselves are a few HMACs and run
//! inline; password hashing is the authenticator's, under its own budget.

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rsasl::callback::{Context, Request, SessionCallback, SessionData};
use rsasl::mechanisms::plain::PLAIN;
use rsasl::mechanisms::scram::properties::ScramStoredPassword;
use rsasl::mechanisms::scram::{SCRAM_SHA1, SCRAM_SHA256};
use rsasl::prelude::{
    Mechanism, Mechname, Registry, SASLConfig, SASLServer, Session, SessionError, State,
};
use rsasl::property::{AuthId, AuthzId, Password};
use rsasl::validate::{Validate, Validation, ValidationError};
use salesiq_jid::{LoginId, LoginKey};
use salesiq_session::{Account, AuthError, Authenticator, ScramCredentials, ScramHash};
use sha2::{Digest, Sha256};

/// The SASL failure conditions we send (RFC 6120, section 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaslFailure {
    Aborted,
    EncryptionRequired,
    IncorrectEncoding,
    InvalidAuthzid,
    InvalidMechanism,
    MalformedRequest,
    NotAuthorized,
    TemporaryAuthFailure,
}

impl SaslFailure {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Aborted => "aborted",
            Self::EncryptionRequired => "encryption-required",
            Self::IncorrectEncoding => "incorrect-encoding",
            Self::InvalidAuthzid => "invalid-authzid",
            Self::InvalidMechanism => "invalid-mechanism",
            Self::MalformedRequest => "malformed-request",
            Self::NotAuthorized => "not-authorized",
            Self::TemporaryAuthFailure => "temporary-auth-failure",
        }
    }
}

/// What to answer one `<auth/>` or `<response/>` with.
#[derive(Debug)]
pub(crate) enum SaslReply {
    /// `<challenge>`.
    Challenge(String),
    /// `<success>`, with SCRAM's server-final message.
    Success {
        account: Account,
        additional_data: Option<String>,
    },
    /// `<failure>` with a condition and an optional human text.
    Failure(SaslFailure, Option<String>),
}

/// The mechanism names to offer, strongest first.
pub(crate) fn mechanisms(authenticator: &dyn Authenticator) -> Vec<&'static str> {
    let mut names = Vec::new();
    for (hash, name) in [
        (ScramHash::Sha256, "SCRAM-SHA-256"),
        (ScramHash::Sha1, "SCRAM-SHA-1"),
    ] {
        if authenticator.scram_hashes().contains(&hash) {
            names.push(name);
        }
    }
    names.push("PLAIN");
    names
}

/// One SASL exchange on one connection.
pub(crate) struct SaslExchange {
    session: Option<Session<Outcome>>,
    attempt: Arc<Mutex<Attempt>>,
    authenticator: Arc<dyn Authenticator>,
    domain: String,
    /// The SCRAM hash of the mechanism, `None` for PLAIN.
    scram: Option<ScramHash>,
    /// Whether the client's first message is still to come.
    first: bool,
}

impl std::fmt::Debug for SaslExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslExchange").finish_non_exhaustive()
    }
}

/// What the callback learned during the exchange.
#[derive(Debug, Default)]
struct Attempt {
    /// Why the login cannot work, for the `<text>` of the failure.
    problem: Option<String>,
    /// The account SCRAM credentials were found for.
    account: Option<Account>,
    /// The authenticator's backend failed.
    unavailable: bool,
    /// SCRAM credentials fetched before the step that asks for them.
    prefetched: Option<Prefetched>,
    /// A PLAIN login and password, to check once the step is over.
    plain: Option<(String, Vec<u8>)>,
}

/// What the authenticator said of a SCRAM login, asked ahead of rsasl.
#[derive(Debug)]
struct Prefetched {
    authcid: String,
    found: Option<(Account, ScramCredentials)>,
}

struct Outcome;

/// An account, `None` for a PLAIN password still to check, or why not.
impl Validation for Outcome {
    type Value = Result<Option<Account>, SaslFailure>;
}

struct Callback {
    domain: String,
    secret: [u8; 32],
    attempt: Arc<Mutex<Attempt>>,
}

impl SaslExchange {
    /// Starts an exchange for `mechanism`, offered by [`mechanisms`].
    pub(crate) fn start(
        mechanism: &str,
        authenticator: Arc<dyn Authenticator>,
        domain: &str,
        secret: [u8; 32],
    ) -> Result<Self, SaslFailure> {
        if !mechanisms(authenticator.as_ref()).contains(&mechanism) {
            return Err(SaslFailure::InvalidMechanism);
        }
        let attempt = Arc::new(Mutex::new(Attempt::default()));
        let callback = Callback {
            domain: domain.to_owned(),
            secret,
            attempt: attempt.clone(),
        };
        let scram = match mechanism {
            "SCRAM-SHA-1" => Some(ScramHash::Sha1),
            "SCRAM-SHA-256" => Some(ScramHash::Sha256),
            _ => None,
        };
        static OFFERED: &[Mechanism] = &[SCRAM_SHA256, SCRAM_SHA1, PLAIN];
        let config = SASLConfig::builder()
            .with_registry(Registry::with_mechanisms(OFFERED))
            .with_callback(callback)
            .map_err(|_| SaslFailure::TemporaryAuthFailure)?;
        let name =
            Mechname::parse(mechanism.as_bytes()).map_err(|_| SaslFailure::InvalidMechanism)?;
        let session = SASLServer::<Outcome>::new(config)
            .start_suggested(name)
            .map_err(|_| SaslFailure::InvalidMechanism)?;
        Ok(Self {
            session: Some(session),
            attempt,
            authenticator,
            domain: domain.to_owned(),
            scram,
            first: true,
        })
    }

    fn attempt(&self) -> std::sync::MutexGuard<'_, Attempt> {
        self.attempt.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the authenticator for the SCRAM credentials of the login in
    /// the client's first message, before rsasl needs them.
    async fn prefetch(&self, hash: ScramHash, client_first: &[u8]) {
        let Some(authcid) = scram_authcid(client_first) else {
            return; // rsasl will find it malformed
        };
        let found = match self.login_key(&authcid) {
            Some(login) => match self.authenticator.scram_credentials(&login, hash).await {
                Ok(found) => found,
                Err(AuthError::NotAuthorized) => None,
                Err(_) => {
                    self.attempt().unavailable = true;
                    None
                }
            },
            None => None,
        };
        self.attempt().prefetched = Some(Prefetched { authcid, found });
    }

    /// The login an authcid names, or `None` with the problem noted.
    fn login_key(&self, authcid: &str) -> Option<LoginKey> {
        let (key, problem) = parse_login(&self.domain, authcid);
        if let Some(problem) = problem {
            self.attempt().problem = Some(problem);
        }
        key
    }

    /// Checks a PLAIN password with the authenticator.
    async fn check_plain(&self, authcid: &str, password: &[u8]) -> Result<Account, SaslFailure> {
        let login = self.login_key(authcid).ok_or(SaslFailure::NotAuthorized)?;
        let password = std::str::from_utf8(password).map_err(|_| SaslFailure::NotAuthorized)?;
        match self.authenticator.check_password(&login, password).await {
            Ok(account) => Ok(account),
            Err(AuthError::NotAuthorized) => Err(SaslFailure::NotAuthorized),
            Err(_) => Err(SaslFailure::TemporaryAuthFailure),
        }
    }

    /// Feeds the text of `<auth>` or `<response>`: base64, `=` for an
    /// empty response, or nothing for no initial response (`None`).
    pub(crate) async fn step(&mut self, text: Option<&str>) -> SaslReply {
        let input = match text.map(str::trim) {
            None | Some("") => None,
            Some("=") => Some(Vec::new()),
            Some(b64) => match B64.decode(b64) {
                Ok(bytes) => Some(bytes),
                Err(_) => return SaslReply::Failure(SaslFailure::IncorrectEncoding, None),
            },
        };
        let Some(mut session) = self.session.take() else {
            return SaslReply::Failure(SaslFailure::MalformedRequest, None);
        };
        if std::mem::replace(&mut self.first, false)
            && let (Some(hash), Some(client_first)) = (self.scram, input.as_deref())
        {
            self.prefetch(hash, client_first).await;
        }
        // A few HMACs at most: the callback no longer waits for anything.
        let mut out = Cursor::new(Vec::new());
        let state = session.step(input.as_deref(), &mut out);
        let out = out.into_inner();
        let reply = match state {
            Ok(State::Running) => {
                self.session = Some(session);
                return SaslReply::Challenge(B64.encode(out));
            }
            Ok(finished @ State::Finished(_)) => {
                let data = finished.has_sent_message().then(|| B64.encode(&out));
                (session.validation(), data)
            }
            Err(error) if error.is_mechanism_error() => {
                return SaslReply::Failure(SaslFailure::MalformedRequest, None);
            }
            Err(_) => (None, None),
        };
        let plain = self.attempt().plain.take();
        let reply = match (reply, plain) {
            ((Some(Ok(None)), data), Some((authcid, password))) => {
                (Some(self.check_plain(&authcid, &password).await), data)
            }
            ((Some(Ok(None)), data), None) => (Some(Err(SaslFailure::NotAuthorized)), data),
            ((Some(Ok(Some(account))), data), _) => (Some(Ok(account)), data),
            ((Some(Err(failure)), data), _) => (Some(Err(failure)), data),
            ((None, data), _) => (None, data),
        };
        let attempt = std::mem::take(&mut *self.attempt());
        match reply {
            (Some(Ok(account)), additional_data) => SaslReply::Success {
                account,
                additional_data,
            },
            (Some(Err(failure)), _) => SaslReply::Failure(failure, attempt.problem),
            (None, _) if attempt.unavailable => {
                SaslReply::Failure(SaslFailure::TemporaryAuthFailure, None)
            }
            (None, _) => SaslReply::Failure(SaslFailure::NotAuthorized, attempt.problem),
        }
    }
}

impl Callback {
    fn note(&self, update: impl FnOnce(&mut Attempt)) {
        update(&mut self.attempt.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Credentials that match no password, the same for every attempt on
    /// one unknown login, so that unknown and known logins look alike.
    fn decoy(&self, authcid: &str, hash: ScramHash) -> ScramCredentials {
        let seed = Sha256::new()
            .chain_update(self.secret)
            .chain_update(authcid.as_bytes())
            .finalize();
        let salt = seed.get(..16).unwrap_or_default().to_vec();
        // The keys must have the hash's length, or rsasl refuses them.
        let key_len = match hash {
            ScramHash::Sha1 => 20,
            _ => 32,
        };
        let random: [u8; 32] = rand::random();
        let key = random.get(..key_len).unwrap_or_default().to_vec();
        ScramCredentials {
            salt,
            iterations: ScramCredentials::DEFAULT_ITERATIONS,
            stored_key: key.clone(),
            server_key: key,
        }
    }
}

fn scram_hash(session: &SessionData) -> Option<ScramHash> {
    match session.mechanism().mechanism.as_str() {
        "SCRAM-SHA-1" => Some(ScramHash::Sha1),
        "SCRAM-SHA-256" => Some(ScramHash::Sha256),
        _ => None,
    }
}

/// SCRAM escapes `,` and `=` in the username (RFC 5802, section 5.1).
fn scram_unescape(name: &str) -> String {
    name.replace("=2C", ",").replace("=3D", "=")
}

impl SessionCallback for Callback {
    fn callback(
        &self,
        session: &SessionData,
        context: &Context<'_>,
        request: &mut Request<'_>,
    ) -> Result<(), SessionError> {
        if !request.is::<ScramStoredPassword<'static>>() {
            return Ok(());
        }
        let (Some(hash), Some(authcid)) = (scram_hash(session), context.get_ref::<AuthId>()) else {
            return Ok(());
        };
        let authcid = scram_unescape(authcid);
        // Fetched before this step, for this very login; anything else
        // gets the decoy.
        let prefetched = self
            .attempt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .prefetched
            .take();
        let found = prefetched
            .filter(|p| p.authcid == authcid)
            .and_then(|p| p.found);
        let credentials = match found {
            Some((account, credentials)) => {
                self.note(|a| a.account = Some(account));
                credentials
            }
            None => self.decoy(&authcid, hash),
        };
        request.satisfy::<ScramStoredPassword<'static>>(&ScramStoredPassword::new(
            credentials.iterations,
            &credentials.salt,
            &credentials.stored_key,
            &credentials.server_key,
        ))?;
        Ok(())
    }

    fn validate(
        &self,
        session: &SessionData,
        context: &Context<'_>,
        validate: &mut Validate<'_>,
    ) -> Result<(), ValidationError> {
        let authcid = context
            .get_ref::<AuthId>()
            .map(scram_unescape)
            .unwrap_or_default();
        let authzid = context.get_ref::<AuthzId>().filter(|z| !z.is_empty());
        let result = if let Some(authzid) = authzid.filter(|z| !self.same_login(z, &authcid)) {
            let authzid = authzid.to_owned();
            self.note(|a| a.problem = Some(format!("cannot act as {authzid}")));
            Err(SaslFailure::InvalidAuthzid)
        } else if session.mechanism().mechanism.as_str() == "PLAIN" {
            // Checked once the step is over, without holding a thread.
            let password = context.get_ref::<Password>().unwrap_or_default().to_vec();
            self.note(|a| a.plain = Some((authcid.clone(), password)));
            Ok(None)
        } else {
            // SCRAM calls this only once the client's proof checked out.
            let account = self
                .attempt
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .account
                .take();
            account.map(Some).ok_or(SaslFailure::NotAuthorized)
        };
        validate.with::<Outcome, _>(|| Ok(result))?;
        Ok(())
    }
}

impl Callback {
    fn same_login(&self, authzid: &str, authcid: &str) -> bool {
        match (LoginId::parse(authzid), LoginId::parse(authcid)) {
            (Ok(a), Ok(b)) => a.key() == b.key() && a.is_for_domain(&self.domain),
            _ => false,
        }
    }
}

/// The login a SASL authcid names (a bare localpart or a whole bare JID),
/// or why it names nobody, for the failure's `<text>`.
fn parse_login(domain: &str, authcid: &str) -> (Option<LoginKey>, Option<String>) {
    match LoginId::parse(authcid) {
        Ok(login) if login.is_for_domain(domain) => (Some(login.key()), None),
        Ok(login) => {
            let other = login.domain().unwrap_or_default();
            (None, Some(format!("this server is {domain}, not {other}")))
        }
        Err(error) => (
            None,
            Some(format!("sign in as portal|username@{domain}: {error}")),
        ),
    }
}

/// The login an `<auth/>` names, lower case, for the throttle: from
/// PLAIN's initial response or SCRAM's client-first message; empty when it
/// names none (then all such attempts of an address share one count).
pub(crate) fn throttle_key(domain: &str, mechanism: &str, initial: Option<&str>) -> String {
    let bytes = initial
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "=")
        .and_then(|t| B64.decode(t).ok())
        .unwrap_or_default();
    let authcid = match mechanism {
        "PLAIN" => bytes
            .split(|b| *b == 0)
            .nth(1)
            .and_then(|a| std::str::from_utf8(a).ok())
            .map(str::to_owned),
        _ => scram_authcid(&bytes),
    };
    let Some(authcid) = authcid else {
        return String::new();
    };
    match parse_login(domain, &authcid) {
        (Some(login), _) => login.to_string().to_lowercase(),
        _ => authcid.to_lowercase(),
    }
}

/// The username of a SCRAM client-first message (RFC 5802, section 7):
/// `gs2-cbind-flag "," [authzid] "," "n=" saslname "," ...`, unescaped.
fn scram_authcid(client_first: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(client_first).ok()?;
    let mut parts = text.splitn(3, ',');
    let _flag = parts.next()?;
    let _authzid = parts.next()?;
    let name = parts.next()?.strip_prefix("n=")?.split(',').next()?;
    Some(scram_unescape(name))
}

#[cfg(test)]
mod tests {
    #[test]
    fn scram_usernames_from_the_first_message() {
        use super::scram_authcid;
        assert_eq!(
            scram_authcid(b"n,,n=demo|alice.ops,r=abc").as_deref(),
            Some("demo|alice.ops")
        );
        assert_eq!(
            scram_authcid(b"y,a=x,n=a=2Cb=3Dc,r=abc").as_deref(),
            Some("a,b=c")
        );
        assert_eq!(scram_authcid(b"n,,r=abc"), None);
        assert_eq!(scram_authcid(b"\xff"), None);
    }
}
