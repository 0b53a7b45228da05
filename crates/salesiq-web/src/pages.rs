//! The pages: the visitor page (`/`), the Jabber settings page
//! (`/settings`), the JSON API they use, and the visitor WebSocket API
//! ([`crate::visitor_ws`]), as one router.
//!
//! JSON API:
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/portal?portal=demo` | `{"portal","departments":[..]}`; 404 for an unknown portal |
//! | `POST /api/signin` `{"portal","email","password"}` | the settings below, and a session cookie; 401 when wrong, 429 after too many failures |
//! | `POST /api/signout` | 204, the cookie cleared |
//! | `GET /api/settings` | `{"operator":{..},"username_rule","jabber":null or {..}}`; 401 when not signed in |
//! | `GET /api/username?name=x` | `{"available":bool,"message"}`; 401 when not signed in |
//! | `POST /api/username` `{"username"}` | the settings; 409 when taken, 400 when it breaks the rule |
//!
//! Choices the issue leaves open:
//! - the session is an in-memory random token in an `HttpOnly`,
//!   `SameSite=Strict` cookie, valid for 8 hours and lost on restart;
//! - failed sign-ins are throttled ([`salesiq_session::LoginThrottle`],
//!   within [`SIGN_IN_WINDOW`]): [`MAX_SIGN_IN_FAILURES`] for one account
//!   from one address, [`MAX_ADDRESS_FAILURES`] from one address whatever
//!   the accounts, [`MAX_ACCOUNT_FAILURES`] for one account from anywhere;
//!   past any of them the answer is 429 without a check. Checks are
//!   reserved before they run, so parallel guesses cannot slip past, and
//!   the password of another account from the same address is still
//!   checked (until the address-wide bound). The address is the client's
//!   as [`crate::ClientAddress`] finds it ([`Web::with_visitor_api`]):
//!   behind a trusted reverse proxy, its `X-Forwarded-For`, so that one
//!   guesser does not lock out everyone behind the proxy. The
//!   account-wide bound lets a guesser spread over many addresses lock
//!   the account's web sign-in for the window, which is the usual price;
//!   it does not touch the account's Jabber login;
//! - the availability check needs a signed-in operator, so that it is no
//!   open oracle of who uses which name;
//! - a claimed username is pushed at once to the colleagues who are
//!   online, as a new contact.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use salesiq_session::{
    Account, Contact, Gateway, LoginThrottle, Operator, OperatorId, Store, StoreAccounts,
    StoreError,
};
use salesiq_xmpp::ServerHandle;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::guides::{ClientGuide, client_guides};

/// The name of the settings session cookie.
const COOKIE: &str = "salesiq_settings";
/// How long a settings session lasts.
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Failed sign-ins of one account from one address within
/// [`SIGN_IN_WINDOW`]; past them that address is answered 429 Too Many
/// Requests for that account until the window has passed.
pub const MAX_SIGN_IN_FAILURES: u32 = 5;
/// Failed sign-ins from one address within [`SIGN_IN_WINDOW`], whatever
/// the accounts (one address trying many accounts).
pub const MAX_ADDRESS_FAILURES: u32 = 20;
/// Failed sign-ins of one account within [`SIGN_IN_WINDOW`], from
/// anywhere (guesses spread over many addresses).
pub const MAX_ACCOUNT_FAILURES: u32 = 20;
/// See [`MAX_SIGN_IN_FAILURES`].
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(300);
/// The username rule, as the settings page shows it.
pub const USERNAME_RULE: &str =
    "6 to 30 characters: letters a-z and A-Z, digits, underscore (_) and dot (.)";

/// Where operators' clients connect: the values the settings page shows.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct JabberSettings {
    /// The XMPP domain.
    pub domain: String,
    /// The host a client connects to.
    pub host: String,
    /// The STARTTLS port.
    pub starttls_port: u16,
    /// The direct-TLS port.
    pub direct_tls_port: u16,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
}

impl JabberSettings {
    /// What the settings page tells operators to type into a client.
    pub fn new(
        domain: &str,
        host: &str,
        starttls_port: u16,
        direct_tls_port: u16,
        fingerprint: &str,
    ) -> Self {
        Self {
            domain: domain.to_owned(),
            host: host.to_owned(),
            starttls_port,
            direct_tls_port,
            fingerprint: fingerprint.to_owned(),
        }
    }
}

/// The web server's state.
pub struct Web {
    gateway: Gateway,
    store: Arc<dyn Store>,
    accounts: StoreAccounts,
    xmpp: ServerHandle,
    jabber: JabberSettings,
    default_portal: String,
    /// How the visitor API is set up (and where sign-ins come from).
    visitors: crate::visitor_ws::Config,
    sessions: Mutex<HashMap<String, SignedIn>>,
    /// Failed sign-ins per (address, account).
    by_login: LoginThrottle,
    /// Failed sign-ins per address (the key is empty).
    by_address: LoginThrottle,
    /// Failed sign-ins per account (the address is unspecified).
    by_account: LoginThrottle,
}

impl fmt::Debug for Web {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Web")
            .field("jabber", &self.jabber)
            .field("default_portal", &self.default_portal)
            .field("visitors", &self.visitors)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct SignedIn {
    operator: OperatorId,
    portal: String,
    expires: Instant,
}

impl Web {
    /// The state for a gateway, its store and accounts, and the XMPP
    /// server they run in.
    pub fn new(
        gateway: Gateway,
        store: Arc<dyn Store>,
        accounts: StoreAccounts,
        xmpp: ServerHandle,
        jabber: JabberSettings,
        default_portal: &str,
    ) -> Self {
        Self {
            gateway,
            store,
            accounts,
            xmpp,
            jabber,
            default_portal: default_portal.to_owned(),
            visitors: crate::visitor_ws::Config::default(),
            sessions: Mutex::new(HashMap::new()),
            by_login: LoginThrottle::new(MAX_SIGN_IN_FAILURES, SIGN_IN_WINDOW),
            by_address: LoginThrottle::new(MAX_ADDRESS_FAILURES, SIGN_IN_WINDOW),
            by_account: LoginThrottle::new(MAX_ACCOUNT_FAILURES, SIGN_IN_WINDOW),
        }
    }

    /// The same state with the visitor API set up by `config` (limits,
    /// trusted proxies, a GeoIP database) instead of its defaults. Its
    /// [`ClientAddress`](crate::ClientAddress) names the address failed
    /// sign-ins are counted against too.
    pub fn with_visitor_api(mut self, config: crate::visitor_ws::Config) -> Self {
        self.visitors = config;
        self
    }
}

type Shared = Arc<Web>;

/// Every route of the example's web server.
pub fn router(web: Web) -> Router {
    let gateway = web.gateway.clone();
    let visitors = web.visitors.clone();
    Router::new()
        .route("/", get(|| page(VISITOR_HTML)))
        .route("/settings", get(|| page(SETTINGS_HTML)))
        .route("/assets/style.css", get(|| asset(STYLE_CSS, "text/css")))
        .route("/assets/visitor.js", get(|| asset(VISITOR_JS, JS)))
        .route("/assets/settings.js", get(|| asset(SETTINGS_JS, JS)))
        .route("/api/portal", get(portal))
        .route("/api/signin", post(sign_in))
        .route("/api/signout", post(sign_out))
        .route("/api/settings", get(settings))
        .route("/api/username", get(check_username).post(claim_username))
        .with_state(Arc::new(web))
        .merge(crate::visitor_ws::router_with_config(gateway, visitors))
}

const VISITOR_HTML: &str = include_str!("../assets/visitor.html");
const SETTINGS_HTML: &str = include_str!("../assets/settings.html");
const STYLE_CSS: &str = include_str!("../assets/style.css");
const VISITOR_JS: &str = include_str!("../assets/visitor.js");
const SETTINGS_JS: &str = include_str!("../assets/settings.js");
const JS: &str = "text/javascript";

/// Headers every page and asset carries: no framing, no sniffing, and
/// scripts only from this origin.
fn hardened(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 4] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'",
            ),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ]
}

async fn page(html: &'static str) -> Response {
    (hardened("text/html; charset=utf-8"), html).into_response()
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    (hardened(content_type), body).into_response()
}

fn failure(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn store_failed(e: StoreError) -> Response {
    failure(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
}

#[derive(Debug, Deserialize)]
struct PortalQuery {
    portal: Option<String>,
}

async fn portal(State(web): State<Shared>, Query(query): Query<PortalQuery>) -> Response {
    let name = query.portal.unwrap_or_else(|| web.default_portal.clone());
    match web.store.portal(&name).await {
        Ok(Some(_)) => {}
        Ok(None) => return failure(StatusCode::NOT_FOUND, "there is no such portal"),
        Err(e) => return store_failed(e),
    }
    match web.store.departments(&name).await {
        Ok(departments) => {
            let names: Vec<_> = departments.into_iter().map(|d| d.name).collect();
            Json(json!({ "portal": name, "departments": names })).into_response()
        }
        Err(e) => store_failed(e),
    }
}

#[derive(Debug, Serialize)]
struct Settings {
    operator: OperatorView,
    username_rule: &'static str,
    /// `None` until the operator has a username.
    jabber: Option<JabberView>,
}

#[derive(Debug, Serialize)]
struct OperatorView {
    name: String,
    email: String,
    portal: String,
    username: Option<String>,
}

#[derive(Debug, Serialize)]
struct JabberView {
    jid: String,
    #[serde(flatten)]
    server: JabberSettings,
    clients: Vec<ClientGuide>,
}

impl Web {
    fn settings_of(&self, operator: Operator) -> Settings {
        let jabber = operator.username.as_deref().map(|username| {
            let login = format!("{}|{username}", operator.portal);
            JabberView {
                jid: format!("{login}@{}", self.jabber.domain),
                clients: client_guides(&login, &self.jabber),
                server: self.jabber.clone(),
            }
        });
        Settings {
            operator: OperatorView {
                name: operator.display_name,
                email: operator.email,
                portal: operator.portal,
                username: operator.username,
            },
            username_rule: USERNAME_RULE,
            jabber,
        }
    }

    /// The signed-in operator of the request, if any.
    async fn signed_in(&self, headers: &HeaderMap) -> Result<Operator, Response> {
        let unauthorized = || failure(StatusCode::UNAUTHORIZED, "please sign in");
        let token = cookie(headers, COOKIE).ok_or_else(unauthorized)?;
        let session = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            sessions.retain(|_, s| s.expires > now);
            sessions.get(token).cloned()
        };
        let session = session.ok_or_else(unauthorized)?;
        let operators = self
            .store
            .operators(&session.portal)
            .await
            .map_err(store_failed)?;
        operators
            .into_iter()
            .find(|o| o.id == session.operator)
            .ok_or_else(unauthorized)
    }
}

/// The value of cookie `name` in the request.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

#[derive(Debug, Deserialize)]
struct SignIn {
    portal: Option<String>,
    email: String,
    password: String,
}

async fn sign_in(
    State(web): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(form): Json<SignIn>,
) -> Response {
    let portal = form
        .portal
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| web.default_portal.clone());
    // Reserved in a fixed order, so that waiting for one never blocks
    // another's holder.
    let ip = web.visitors.client_address.of(peer.ip(), &headers);
    let account = format!(
        "{}|{}",
        portal.trim().to_lowercase(),
        form.email.trim().to_lowercase()
    );
    let anywhere = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    let throttled = || {
        failure(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins; try again in a few minutes",
        )
    };
    let Some(by_login) = web.by_login.begin(ip, &account).await else {
        return throttled();
    };
    let Some(by_address) = web.by_address.begin(ip, "").await else {
        return throttled();
    };
    let Some(by_account) = web.by_account.begin(anywhere, &account).await else {
        return throttled();
    };
    let operator = match web
        .accounts
        .sign_in(portal.trim(), form.email.trim(), &form.password)
        .await
    {
        Ok(operator) => operator,
        Err(salesiq_session::AuthError::NotAuthorized) => {
            by_login.failed();
            by_address.failed();
            by_account.failed();
            return failure(
                StatusCode::UNAUTHORIZED,
                "the e-mail address or the password is wrong",
            );
        }
        Err(e) => return failure(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let token: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    web.sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            token.clone(),
            SignedIn {
                operator: operator.id,
                portal: operator.portal.clone(),
                expires: Instant::now() + SESSION_TTL,
            },
        );
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    let mut response = Json(web.settings_of(operator)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn sign_out(State(web): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, COOKIE) {
        web.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }
    let clear = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn settings(State(web): State<Shared>, headers: HeaderMap) -> Response {
    match web.signed_in(&headers).await {
        Ok(operator) => Json(web.settings_of(operator)).into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct NameQuery {
    name: String,
}

/// The availability answer the page shows, green or red.
#[derive(Debug, Serialize)]
struct Availability {
    available: bool,
    message: String,
}

async fn check_username(
    State(web): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<NameQuery>,
) -> Response {
    if let Err(response) = web.signed_in(&headers).await {
        return response;
    }
    let answer = match salesiq_jid::Username::parse(&query.name) {
        Err(e) => Availability {
            available: false,
            message: e.to_string(),
        },
        Ok(name) => match web.store.username_available(name.as_str()).await {
            Ok(true) => Availability {
                available: true,
                message: "this username is available".into(),
            },
            Ok(false) => Availability {
                available: false,
                message: "this username is not available".into(),
            },
            Err(e) => return store_failed(e),
        },
    };
    Json(answer).into_response()
}

#[derive(Debug, Deserialize)]
struct Claim {
    username: String,
}

async fn claim_username(
    State(web): State<Shared>,
    headers: HeaderMap,
    Json(claim): Json<Claim>,
) -> Response {
    let operator = match web.signed_in(&headers).await {
        Ok(operator) => operator,
        Err(response) => return response,
    };
    if let Err(e) = salesiq_jid::Username::parse(&claim.username) {
        return failure(StatusCode::BAD_REQUEST, &e.to_string());
    }
    let operator = match web.store.claim_username(operator.id, &claim.username).await {
        Ok(operator) => operator,
        Err(e @ (StoreError::UsernameTaken | StoreError::UsernameAlreadySet)) => {
            return failure(StatusCode::CONFLICT, &e.to_string());
        }
        Err(e @ StoreError::InvalidUsername(_)) => {
            return failure(StatusCode::BAD_REQUEST, &e.to_string());
        }
        Err(e) => return store_failed(e),
    };
    web.introduce(&operator).await;
    Json(web.settings_of(operator)).into_response()
}

impl Web {
    /// Tells the portal's online operators about a colleague who can now
    /// use the gateway.
    async fn introduce(&self, newcomer: &Operator) {
        let Some(username) = &newcomer.username else {
            return;
        };
        let contact = Contact::colleague(&newcomer.portal, username, &newcomer.display_name)
            .with_photo(newcomer.photo.clone());
        let Ok(colleagues) = self.store.operators(&newcomer.portal).await else {
            return;
        };
        for colleague in colleagues.iter().filter(|o| o.id != newcomer.id) {
            if let Some(name) = &colleague.username {
                let account = Account::new(
                    &colleague.portal,
                    Some(name),
                    &colleague.display_name,
                    &colleague.email,
                );
                self.xmpp.contact_added(&account, &contact);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; salesiq_settings=abc"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
