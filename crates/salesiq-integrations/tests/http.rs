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
