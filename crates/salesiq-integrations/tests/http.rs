//! The HTTP connectors against a local server speaking the vendors' API
//! shapes (wiremock): paths, headers, query strings, bodies, and every
//! failure mapped to a friendly reply.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use std::time::Duration;

use salesiq_commands::{
    TicketClassification, TicketFields, TicketPriority, TicketState, TicketStatus,
};
use salesiq_integrations::{
    ConnectorError, CrmConnector, CrmModule, HelpdeskConnector, HttpConfig, NewTicket, Service,
    TicketQuery, ZohoCrm, ZohoDesk,
};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "1000.abc.def";

async fn crm(server: &MockServer) -> ZohoCrm {
    ZohoCrm::new(HttpConfig::new(server.uri().parse().unwrap(), TOKEN)).unwrap()
}

async fn desk(server: &MockServer) -> ZohoDesk {
    ZohoDesk::new(HttpConfig::new(server.uri().parse().unwrap(), TOKEN).with_org_id("60001"))
        .unwrap()
}

fn lead() -> serde_json::Value {
    json!({"data": [{
        "id": "4150868000000225013", "Full_Name": "Ann Lee", "Email": "ann@example.com",
        "Company": "Lee & Co", "Phone": "+81 3 1234 5678", "Lead_Status": "Contacted",
        "Owner": {"name": "Alice", "id": "4150868000000190001"}
    }], "info": {"per_page": 200, "count": 1, "page": 1, "more_records": false}})
}

#[tokio::test]
async fn crm_finds_leads_first_then_contacts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v2/Leads/search"))
        .and(query_param("email", "ann@example.com"))
        .and(header("Authorization", "Zoho-oauthtoken 1000.abc.def"))
        .respond_with(ResponseTemplate::new(200).set_body_json(lead()))
        .expect(1)
        .mount(&server)
        .await;
    let record = crm(&server)
        .await
        .find_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.module, Some(CrmModule::Lead));
    assert_eq!(
        (record.name.as_str(), record.company.as_deref()),
        ("Ann Lee", Some("Lee & Co"))
    );
    assert_eq!(
        (record.status.as_deref(), record.owner.as_deref()),
        (Some("Contacted"), Some("Alice"))
    );

    // No lead (204): the contact is found instead.
    let server = MockServer::start().await;
    Mock::given(path("/crm/v2/Leads/search"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(path("/crm/v2/Contacts/search"))
        .and(query_param("email", "bo@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{
            "id": "77", "First_Name": "Bo", "Last_Name": "Kim", "Email": "bo@example.com",
            "Account_Name": {"name": "Kim Ltd", "id": "5"}, "Mobile": "+82 10"
        }]})))
        .mount(&server)
        .await;
    let record = crm(&server)
        .await
        .find_by_email("bo@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.module, Some(CrmModule::Contact));
    assert_eq!(
        (
            record.name.as_str(),
            record.company.as_deref(),
            record.phone.as_deref()
        ),
        ("Bo Kim", Some("Kim Ltd"), Some("+82 10"))
    );

    // Neither: nothing, not an error.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    assert_eq!(
        crm(&server).await.find_by_email("nobody@example.com").await,
        Ok(None)
    );
}

#[tokio::test]
async fn failures_become_friendly_replies() {
    for (status, expected) in [
        (401, ConnectorError::Unauthorized),
        (403, ConnectorError::Unauthorized),
        (429, ConnectorError::RateLimited),
        (
            503,
            ConnectorError::Unavailable("503 Service Unavailable".into()),
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let error = crm(&server)
            .await
            .find_by_email("ann@example.com")
            .await
            .unwrap_err();
        assert_eq!(error, expected, "HTTP {status}");
        let reply = error.reply(Service::Crm);
        if status == 429 {
            assert!(reply.contains("busy"), "{reply}");
        } else {
            assert_eq!(reply, "CRM is not reachable right now");
        }
        let error = desk(&server)
            .await
            .find_contact("ann@example.com")
            .await
            .unwrap_err();
        assert_eq!(error, expected, "HTTP {status}");
    }
    // Garbage where JSON should be.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    assert!(matches!(
        crm(&server).await.find_by_email("a@b.c").await,
        Err(ConnectorError::BadResponse(_))
    ));
    // Too slow: the timeout answers.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(lead())
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let mut config = HttpConfig::new(server.uri().parse().unwrap(), TOKEN);
    config.timeout = Duration::from_millis(200);
    let error = ZohoCrm::new(config)
        .unwrap()
        .find_by_email("a@b.c")
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectorError::Unavailable(_)), "{error:?}");
    // Nobody listening at all.
    let closed = HttpConfig::new("http://127.0.0.1:9/".parse().unwrap(), TOKEN);
    let error = ZohoCrm::new(closed)
        .unwrap()
        .find_by_email("a@b.c")
        .await
        .unwrap_err();
    assert_eq!(error.reply(Service::Crm), "CRM is not reachable right now");
}

fn desk_ticket(id: &str, number: &str, status: &str) -> serde_json::Value {
    json!({"id": id, "ticketNumber": number, "subject": "Refund for order 1042", "status": status,
           "priority": "High", "classification": "Problem", "contactId": "9001",
           "email": "ann@example.com", "createdTime": "2026-11-20T09:12:00.000Z", "channel": "Chat"})
}

#[tokio::test]
async fn desk_contacts_and_tickets() {
    let server = MockServer::start().await;
    let org = || header("orgId", "60001");
    let auth = || header("Authorization", "Zoho-oauthtoken 1000.abc.def");
    Mock::given(method("GET"))
        .and(path("/api/v1/contacts/search"))
        .and(query_param("email", "ann@example.com"))
        .and(org())
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{
            "id": "9001", "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com",
            "phone": "+81 3", "account": {"accountName": "Lee & Co", "id": "3"}
        }], "count": 1})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/contacts/9001/tickets"))
        .and(org())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            desk_ticket("111", "1042", "Open"), desk_ticket("110", "1041", "Closed")
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/tickets/111"))
        .respond_with(ResponseTemplate::new(200).set_body_json(desk_ticket("111", "1042", "Open")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/tickets/999"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"errorCode": "URL_NOT_FOUND"})),
        )
        .mount(&server)
        .await;
    let desk = desk(&server).await;
    let contact = desk.find_contact("ann@example.com").await.unwrap().unwrap();
    assert_eq!(
        (
            contact.id.as_str(),
            contact.name.as_str(),
            contact.account.as_deref()
        ),
        ("9001", "Ann Lee", Some("Lee & Co"))
    );
    let tickets = desk.contact_tickets(&contact.id).await.unwrap();
    assert_eq!(
        tickets
            .iter()
            .map(|t| t.number.as_str())
            .collect::<Vec<_>>(),
        ["1042", "1041"]
    );
    let ticket = desk.ticket("111").await.unwrap().unwrap();
    assert_eq!(
        (ticket.subject.as_str(), ticket.priority.as_deref()),
        ("Refund for order 1042", Some("High"))
    );
    assert_eq!(desk.ticket("999").await, Ok(None));
    // Nobody by that address: 204.
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/contacts/search"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    assert_eq!(
        ZohoDesk::new(HttpConfig::new(server.uri().parse().unwrap(), TOKEN).with_org_id("60001"))
            .unwrap()
            .find_contact("nobody@example.com")
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn desk_search_create_and_update() {
    let server = MockServer::start().await;
    for (key, value) in [
        ("email", "ann@example.com"),
        ("ticketNumber", "1042"),
        ("contactName", "Ann Lee"),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/v1/tickets/search"))
            .and(query_param(key, value))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"data": [desk_ticket("111", "1042", "Open")], "count": 1}),
                ),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/api/v1/tickets"))
        .and(header("orgId", "60001"))
        .and(body_json(json!({
            "subject": "Where is my refund?",
            "description": "(Ann) Where is my refund?\n(Alice) Let me check.",
            "email": "ann@example.com",
            "contact": {"email": "ann@example.com", "lastName": "Ann Lee"},
            "status": "On Hold",
            "priority": "Low",
            "classification": "Problem",
            "channel": "Chat",
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(desk_ticket("112", "1043", "On Hold")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/tickets/112"))
        .and(body_json(json!({"status": "Closed"})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(desk_ticket("112", "1043", "Closed")),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/tickets/404"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let desk = desk(&server).await;
    for query in [
        TicketQuery::Email("ann@example.com"),
        TicketQuery::TicketNumber("1042"),
        TicketQuery::ContactName("Ann Lee"),
    ] {
        let found = desk.search_tickets(query).await.unwrap();
        assert_eq!(found.len(), 1, "{query:?}");
    }
    let fields = TicketFields {
        priority: TicketPriority::Low,
        status: TicketStatus::OnHold,
        classification: TicketClassification::Problem,
    };
    let new = NewTicket::new(
        "Where is my refund?",
        "(Ann) Where is my refund?\n(Alice) Let me check.",
        "ann@example.com",
        "Ann Lee",
        fields,
    );
    let created = desk.create_ticket(&new).await.unwrap();
    assert_eq!(
        (
            created.id.as_str(),
            created.number.as_str(),
            created.status.as_str()
        ),
        ("112", "1043", "On Hold")
    );
    let closed = desk.set_status("112", TicketState::Close).await.unwrap();
    assert_eq!(closed.status, "Closed");
    assert_eq!(
        desk.set_status("404", TicketState::Open).await,
        Err(ConnectorError::NotFound)
    );
}

/// A CRM whose tokens come from `client_id`'s refresh token at `accounts`.
fn oauth_crm(api: &MockServer, accounts: &MockServer) -> ZohoCrm {
    let client = salesiq_integrations::OAuthClient::new("1000.client", "s3cret", "1000.refresh")
        .with_accounts_url(accounts.uri().parse().unwrap());
    ZohoCrm::new(HttpConfig::with_oauth(api.uri().parse().unwrap(), client)).unwrap()
}

/// The accounts server's answer for the refresh token: `token`, valid
/// for `expires_in` seconds, `times` times.
async fn grants(accounts: &MockServer, token: &str, expires_in: u64, times: u64) {
    use wiremock::matchers::body_string_contains;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("client_id=1000.client"))
        .and(body_string_contains("client_secret=s3cret"))
        .and(body_string_contains("refresh_token=1000.refresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token, "api_domain": "https://www.zohoapis.com",
            "token_type": "Bearer", "expires_in": expires_in
        })))
        .up_to_n_times(times)
        .expect(times)
        .mount(accounts)
        .await;
}

/// The API's answer to a lead search made with `token`.
async fn leads_for(api: &MockServer, token: &str, status: u16, times: u64) {
    let response = if status == 200 {
        ResponseTemplate::new(200).set_body_json(lead())
    } else {
        ResponseTemplate::new(status).set_body_json(json!({"code": "INVALID_TOKEN"}))
    };
    Mock::given(method("GET"))
        .and(path("/crm/v2/Leads/search"))
        .and(header(
            "Authorization",
            format!("Zoho-oauthtoken {token}").as_str(),
        ))
        .respond_with(response)
        .expect(times)
        .mount(api)
        .await;
}

/// Issue 12, finding 2: an access token is obtained from the refresh
/// token, kept while it is valid, and used as `Zoho-oauthtoken`.
#[tokio::test]
async fn oauth_tokens_are_fetched_once_and_kept() {
    let (api, accounts) = (MockServer::start().await, MockServer::start().await);
    grants(&accounts, "1000.first", 3600, 1).await;
    leads_for(&api, "1000.first", 200, 3).await;
    let crm = oauth_crm(&api, &accounts);
    for _ in 0..3 {
        let found = crm.find_by_email("ann@example.com").await.unwrap();
        assert_eq!(found.map(|r| r.name).as_deref(), Some("Ann Lee"));
    }
}

/// A token about to expire (within a minute) is refreshed before use.
#[tokio::test]
async fn an_expiring_token_is_refreshed_before_use() {
    let (api, accounts) = (MockServer::start().await, MockServer::start().await);
    grants(&accounts, "1000.short", 30, 1).await;
    grants(&accounts, "1000.next", 3600, 1).await;
    leads_for(&api, "1000.short", 200, 1).await;
    leads_for(&api, "1000.next", 200, 2).await;
    let crm = oauth_crm(&api, &accounts);
    for _ in 0..3 {
        assert!(
            crm.find_by_email("ann@example.com")
                .await
                .unwrap()
                .is_some()
        );
    }
}

/// A token the API refuses (revoked, or expired early) is refreshed once
/// and the request made again; a second refusal is the answer.
#[tokio::test]
async fn a_refused_token_is_refreshed_once() {
    let (api, accounts) = (MockServer::start().await, MockServer::start().await);
    grants(&accounts, "1000.revoked", 3600, 1).await;
    grants(&accounts, "1000.fresh", 3600, 1).await;
    leads_for(&api, "1000.revoked", 401, 1).await;
    leads_for(&api, "1000.fresh", 200, 1).await;
    let crm = oauth_crm(&api, &accounts);
    assert!(
        crm.find_by_email("ann@example.com")
            .await
            .unwrap()
            .is_some()
    );

    let (api, accounts) = (MockServer::start().await, MockServer::start().await);
    grants(&accounts, "1000.bad", 3600, 2).await;
    leads_for(&api, "1000.bad", 401, 2).await;
    let crm = oauth_crm(&api, &accounts);
    assert_eq!(
        crm.find_by_email("ann@example.com")
            .await
            .map(|r| r.is_some()),
        Err(ConnectorError::Unauthorized)
    );
}

/// A refresh token the accounts server refuses (Zoho says so with 200 and
/// an `error`) is `Unauthorized`, and nothing is asked of the API.
#[tokio::test]
async fn a_refused_refresh_token_is_unauthorized() {
    let (api, accounts) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"error": "invalid_code"})))
        .mount(&accounts)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(lead()))
        .expect(0)
        .mount(&api)
        .await;
    let crm = oauth_crm(&api, &accounts);
    assert_eq!(
        crm.find_by_email("ann@example.com")
            .await
            .map(|r| r.is_some()),
        Err(ConnectorError::Unauthorized)
    );
}
