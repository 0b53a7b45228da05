//! The vendor connectors over HTTPS: Zoho CRM (API v2) and Zoho Desk (API
//! v1), with reqwest on rustls.
//!
//! Every request carries `Authorization: Zoho-oauthtoken <token>` (and
//! `orgId` for Desk) and a timeout. The token is either fixed
//! ([`HttpConfig::new`]; Zoho's expire within an hour) or obtained from a
//! refresh token ([`HttpConfig::with_oauth`], [`OAuthClient`]): the
//! connector asks `POST {accounts_url}/oauth/v2/token` with
//! `grant_type=refresh_token`, keeps the access token until a minute before
//! its `expires_in`, refreshes one at a time (Zoho allows ten new tokens
//! per ten minutes), and refreshes once more when the API answers 401. HTTP 204 means "nothing found"; 401 and
//! 403 are [`ConnectorError::Unauthorized`], 429
//! [`ConnectorError::RateLimited`], 5xx, network failures and timeouts
//! [`ConnectorError::Unavailable`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, StatusCode, Url};
use salesiq_commands::TicketState;
use serde_json::{Value, json};

use crate::crm::{CrmConnector, CrmModule, CrmRecord};
use crate::error::ConnectorError;
use crate::future::BoxFuture;
use crate::helpdesk::{
    HelpdeskConnector, HelpdeskContact, NewTicket, Ticket, TicketQuery, classification_name,
    priority_name, state_name, status_name,
};

/// Zoho's accounts server, where refresh tokens become access tokens.
pub const ZOHO_ACCOUNTS_URL: &str = "https://accounts.zoho.com";

/// How long before its expiry an access token is refreshed.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A Zoho OAuth client that holds a refresh token (a "self client" or a
/// server-based client with `access_type=offline`).
#[derive(Clone)]
#[non_exhaustive]
pub struct OAuthClient {
    /// The accounts server: [`ZOHO_ACCOUNTS_URL`] by default; another
    /// data centre's (`https://accounts.zoho.eu`...) or a test server's.
    pub accounts_url: Url,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The refresh token.
    pub refresh_token: String,
}

impl OAuthClient {
    /// A client of Zoho's accounts server.
    pub fn new(client_id: &str, client_secret: &str, refresh_token: &str) -> Self {
        Self {
            accounts_url: Url::parse(ZOHO_ACCOUNTS_URL).unwrap_or_else(|_| unreachable!()),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            refresh_token: refresh_token.to_owned(),
        }
    }

    /// The same, with another accounts server.
    pub fn with_accounts_url(mut self, accounts_url: Url) -> Self {
        self.accounts_url = accounts_url;
        self
    }
}

impl std::fmt::Debug for OAuthClient {
    /// Leaves the secrets out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("accounts_url", &self.accounts_url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// How a connector authenticates.
#[derive(Clone)]
enum Auth {
    /// A fixed access token.
    Token(String),
    /// Access tokens from a refresh token.
    Refresh(OAuthClient),
}

/// Where a vendor API is and how to authenticate to it.
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The API's base URL, e.g. `https://www.zohoapis.com` for the CRM or
    /// `https://desk.zoho.com` for Desk.
    pub base_url: Url,
    auth: Auth,
    /// The Desk organization id (ignored by the CRM).
    pub org_id: Option<String>,
    /// How long one request may take. Default 10 s.
    pub timeout: Duration,
}

impl HttpConfig {
    /// A configuration with a fixed access token and the default timeout.
    pub fn new(base_url: Url, token: &str) -> Self {
        Self {
            base_url,
            auth: Auth::Token(token.to_owned()),
            org_id: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// A configuration whose access tokens come from `client`'s refresh
    /// token, with the default timeout.
    pub fn with_oauth(base_url: Url, client: OAuthClient) -> Self {
        Self {
            auth: Auth::Refresh(client),
            ..Self::new(base_url, "")
        }
    }

    /// The same, for Desk organization `org_id`.
    pub fn with_org_id(mut self, org_id: &str) -> Self {
        self.org_id = Some(org_id.to_owned());
        self
    }
}

impl std::fmt::Debug for HttpConfig {
    /// Leaves the token out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("base_url", &self.base_url.as_str())
            .field("org_id", &self.org_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A client whose requests time out after `timeout`.
fn client(timeout: Duration) -> Result<reqwest::Client, ConnectorError> {
    crate::client::builder()?
        .timeout(timeout)
        .build()
        .map_err(|e| ConnectorError::Unavailable(format!("HTTP client setup: {e}")))
}

/// An access token and when it stops being used.
#[derive(Debug, Clone)]
struct Access {
    token: String,
    refresh_at: Instant,
}

/// The access token of one vendor account, refreshed one at a time.
#[derive(Debug, Default)]
struct Tokens {
    current: tokio::sync::Mutex<Option<Access>>,
}

/// One vendor API: base URL, credentials, client.
#[derive(Debug, Clone)]
struct Api {
    config: HttpConfig,
    client: reqwest::Client,
    tokens: Arc<Tokens>,
}

impl Api {
    fn new(config: HttpConfig) -> Result<Self, ConnectorError> {
        Ok(Self {
            client: client(config.timeout)?,
            config,
            tokens: Arc::default(),
        })
    }

    /// The access token to use now: the fixed one, the one kept, or a new
    /// one from the accounts server (one refresh at a time; those waiting
    /// use its result).
    async fn token(&self) -> Result<String, ConnectorError> {
        let client = match &self.config.auth {
            Auth::Token(token) => return Ok(token.clone()),
            Auth::Refresh(client) => client,
        };
        let mut current = self.tokens.current.lock().await;
        if let Some(access) = current.as_ref().filter(|a| Instant::now() < a.refresh_at) {
            return Ok(access.token.clone());
        }
        let access = self.refresh(client).await?;
        let token = access.token.clone();
        *current = Some(access);
        Ok(token)
    }

    /// Forgets `token` after the API refused it, unless a newer one is
    /// kept already.
    async fn forget(&self, token: &str) {
        let mut current = self.tokens.current.lock().await;
        if current.as_ref().is_some_and(|a| a.token == token) {
            *current = None;
        }
    }

    /// `POST {accounts_url}/oauth/v2/token` with the refresh token.
    async fn refresh(&self, client: &OAuthClient) -> Result<Access, ConnectorError> {
        let mut url = client.accounts_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["oauth", "v2", "token"]);
        }
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.as_str()),
            ("refresh_token", client.refresh_token.as_str()),
        ];
        let response = self
            .client
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| ConnectorError::Unavailable(format!("token refresh: {e}")))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(ConnectorError::Unavailable(format!(
                "token refresh: {status}"
            )));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ConnectorError::RateLimited);
        }
        // Zoho answers a bad refresh token with 200 and {"error": ...}.
        let body: Value = response
            .json()
            .await
            .map_err(|e| ConnectorError::BadResponse(format!("token refresh: {e}")))?;
        let Some(token) = body.get("access_token").and_then(Value::as_str) else {
            return Err(ConnectorError::Unauthorized);
        };
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .map_or(Duration::ZERO, Duration::from_secs);
        Ok(Access {
            token: token.to_owned(),
            refresh_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
        })
    }

    /// `base/seg/seg...`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.config.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// A request to the API; [`Api::send`] adds the token.
    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut request = self.client.request(method, self.url(segments));
        if let Some(org_id) = &self.config.org_id {
            request = request.header("orgId", org_id);
        }
        request
    }

    /// Sends with the access token, and once more with a new one if the
    /// API refuses a refreshed token (401); `None` for 204 (and 404 when
    /// `missing_is_none`).
    async fn send(
        &self,
        request: RequestBuilder,
        missing_is_none: bool,
    ) -> Result<Option<Value>, ConnectorError> {
        let authorized = |request: RequestBuilder, token: &str| {
            request.header("Authorization", format!("Zoho-oauthtoken {token}"))
        };
        let retry = request.try_clone();
        let token = self.token().await?;
        let mut response = authorized(request, &token)
            .send()
            .await
            .map_err(|e| ConnectorError::Unavailable(e.to_string()))?;
        if let (StatusCode::UNAUTHORIZED, Auth::Refresh(_), Some(retry)) =
            (response.status(), &self.config.auth, retry)
        {
            self.forget(&token).await;
            let token = self.token().await?;
            response = authorized(retry, &token)
                .send()
                .await
                .map_err(|e| ConnectorError::Unavailable(e.to_string()))?;
        }
        match response.status() {
            StatusCode::NO_CONTENT => Ok(None),
            StatusCode::NOT_FOUND if missing_is_none => Ok(None),
            StatusCode::NOT_FOUND => Err(ConnectorError::NotFound),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ConnectorError::Unauthorized),
            StatusCode::TOO_MANY_REQUESTS => Err(ConnectorError::RateLimited),
            status if status.is_server_error() => {
                Err(ConnectorError::Unavailable(status.to_string()))
            }
            status if status.is_success() => {
                let body = response
                    .json::<Value>()
                    .await
                    .map_err(|e| ConnectorError::BadResponse(e.to_string()))?;
                Ok(Some(body))
            }
            status => Err(ConnectorError::BadResponse(status.to_string())),
        }
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `data` array of a list answer.
fn data(body: Option<Value>) -> Vec<Value> {
    match body.and_then(|mut b| b.get_mut("data").map(Value::take)) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// Zoho CRM: searches Leads, then Contacts, by e-mail address
/// (`GET /crm/v2/{module}/search?email=`).
#[derive(Debug, Clone)]
pub struct ZohoCrm {
    api: Api,
}

impl ZohoCrm {
    /// A connector for the CRM at `config.base_url`.
    pub fn new(config: HttpConfig) -> Result<Self, ConnectorError> {
        Ok(Self {
            api: Api::new(config)?,
        })
    }
}

fn crm_record(module: CrmModule, value: &Value) -> Option<CrmRecord> {
    let name = text(value, "Full_Name").or_else(|| {
        let parts: Vec<String> = ["First_Name", "Last_Name"]
            .iter()
            .filter_map(|k| text(value, k))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    })?;
    let mut record = CrmRecord::new(
        module,
        &text(value, "id")?,
        &name,
        &text(value, "Email").unwrap_or_default(),
    );
    record.phone = text(value, "Phone").or_else(|| text(value, "Mobile"));
    record.company =
        text(value, "Company").or_else(|| value.get("Account_Name").and_then(|a| text(a, "name")));
    record.status = text(value, "Lead_Status");
    record.owner = value.get("Owner").and_then(|o| text(o, "name"));
    Some(record)
}

impl CrmConnector for ZohoCrm {
    fn find_by_email<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<CrmRecord>, ConnectorError>> {
        Box::pin(async move {
            for (module, path) in [(CrmModule::Lead, "Leads"), (CrmModule::Contact, "Contacts")] {
                let request = self
                    .api
                    .request(Method::GET, &["crm", "v2", path, "search"])
                    .query(&[("email", email)]);
                let found = data(self.api.send(request, false).await?);
                if let Some(record) = found.first().and_then(|v| crm_record(module, v)) {
                    return Ok(Some(record));
                }
            }
            Ok(None)
        })
    }
}

/// Zoho Desk (`/api/v1`): contacts, tickets, search, create, update.
#[derive(Debug, Clone)]
pub struct ZohoDesk {
    api: Api,
}

impl ZohoDesk {
    /// A connector for Desk at `config.base_url`, organization
    /// `config.org_id`.
    pub fn new(config: HttpConfig) -> Result<Self, ConnectorError> {
        Ok(Self {
            api: Api::new(config)?,
        })
    }

    fn get(&self, segments: &[&str]) -> RequestBuilder {
        let mut path = vec!["api", "v1"];
        path.extend_from_slice(segments);
        self.api.request(Method::GET, &path)
    }
}

fn desk_ticket(value: &Value) -> Option<Ticket> {
    let mut ticket = Ticket::new(
        &text(value, "id")?,
        &text(value, "ticketNumber").unwrap_or_default(),
        &text(value, "subject").unwrap_or_default(),
        &text(value, "status").unwrap_or_default(),
    );
    ticket.priority = text(value, "priority");
    ticket.classification = text(value, "classification");
    ticket.contact_id = text(value, "contactId");
    ticket.email = text(value, "email");
    ticket.created = text(value, "createdTime");
    Some(ticket)
}

fn desk_contact(value: &Value) -> Option<HelpdeskContact> {
    let parts: Vec<String> = ["firstName", "lastName"]
        .iter()
        .filter_map(|k| text(value, k))
        .collect();
    let mut contact = HelpdeskContact::new(
        &text(value, "id")?,
        &parts.join(" "),
        &text(value, "email").unwrap_or_default(),
    );
    contact.phone = text(value, "phone").or_else(|| text(value, "mobile"));
    contact.account = value.get("account").and_then(|a| text(a, "accountName"));
    Some(contact)
}

impl HelpdeskConnector for ZohoDesk {
    fn find_contact<'a>(
        &'a self,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<HelpdeskContact>, ConnectorError>> {
        Box::pin(async move {
            let request = self
                .get(&["contacts", "search"])
                .query(&[("email", email), ("limit", "1")]);
            Ok(data(self.api.send(request, false).await?)
                .first()
                .and_then(desk_contact))
        })
    }

    fn contact_tickets<'a>(
        &'a self,
        contact_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Ticket>, ConnectorError>> {
        Box::pin(async move {
            let request = self
                .get(&["contacts", contact_id, "tickets"])
                .query(&[("limit", "10"), ("sortBy", "-createdTime")]);
            Ok(data(self.api.send(request, true).await?)
                .iter()
                .filter_map(desk_ticket)
                .collect())
        })
    }

    fn ticket<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Ticket>, ConnectorError>> {
        Box::pin(async move {
            let body = self.api.send(self.get(&["tickets", id]), true).await?;
            Ok(body.as_ref().and_then(desk_ticket))
        })
    }

    fn search_tickets<'a>(
        &'a self,
        query: TicketQuery<'a>,
    ) -> BoxFuture<'a, Result<Vec<Ticket>, ConnectorError>> {
        Box::pin(async move {
            let (key, value) = match query {
                TicketQuery::Email(email) => ("email", email),
                TicketQuery::TicketNumber(number) => ("ticketNumber", number),
                TicketQuery::ContactName(name) => ("contactName", name),
            };
            let request = self
                .get(&["tickets", "search"])
                .query(&[(key, value), ("limit", "10")]);
            Ok(data(self.api.send(request, false).await?)
                .iter()
                .filter_map(desk_ticket)
                .collect())
        })
    }

    fn create_ticket<'a>(
        &'a self,
        new: &'a NewTicket,
    ) -> BoxFuture<'a, Result<Ticket, ConnectorError>> {
        Box::pin(async move {
            let mut body = json!({
                "subject": new.subject,
                "description": new.description,
                "email": new.email,
                "contact": { "email": new.email, "lastName": new.name },
                "status": status_name(new.fields.status),
                "channel": "Chat",
            });
            if let Some(priority) = priority_name(new.fields.priority) {
                body["priority"] = json!(priority);
            }
            if let Some(classification) = classification_name(new.fields.classification) {
                body["classification"] = json!(classification);
            }
            if let Some(department) = &new.department_id {
                body["departmentId"] = json!(department);
            }
            let request = self
                .api
                .request(Method::POST, &["api", "v1", "tickets"])
                .json(&body);
            let created = self.api.send(request, false).await?;
            created
                .as_ref()
                .and_then(desk_ticket)
                .ok_or_else(|| ConnectorError::BadResponse("no ticket in the answer".into()))
        })
    }

    fn set_status<'a>(
        &'a self,
        id: &'a str,
        state: TicketState,
    ) -> BoxFuture<'a, Result<Ticket, ConnectorError>> {
        Box::pin(async move {
            let request = self
                .api
                .request(Method::PATCH, &["api", "v1", "tickets", id])
                .json(&json!({ "status": state_name(state) }));
            let updated = self.api.send(request, false).await?;
            updated
                .as_ref()
                .and_then(desk_ticket)
                .ok_or_else(|| ConnectorError::BadResponse("no ticket in the answer".into()))
        })
    }
}
