//! Issue 12, finding 2: each portal's `#crm info` asks that portal's own
//! vendor account. Two portals with different Zoho CRM accounts (two
//! local servers speaking the Zoho API, each answering only its own
//! token) and a visitor with the same e-mail address in each: neither
//! operator sees the other company's record, and a portal without
//! connectors of its own gets the default.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use salesiq_integrations::{HttpConfig, MemoryCrm, MemoryHelpdesk, PortalConnectors, ZohoCrm};
use salesiq_session::{
    ChatRequest, ContactId, Gateway, NewOperator, OperatorEvent, OperatorRef, OperatorSink, Portal,
    SqliteStore, Store, VisitorDetails,
};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(OperatorRef, String)>>);

impl OperatorSink for Recorder {
    fn send(&self, operator: &OperatorRef, event: OperatorEvent) {
        if let OperatorEvent::Message { text, .. } = event {
            self.0.lock().unwrap().push((operator.clone(), text));
        }
    }
}

impl Recorder {
    /// Waits (a few seconds at most) for a line to `operator` containing
    /// `needle`, and returns it.
    async fn line(&self, operator: &OperatorRef, needle: &str) -> String {
        for _ in 0..1000 {
            if let Some((_, text)) = self
                .0
                .lock()
                .unwrap()
                .iter()
                .find(|(o, t)| o == operator && t.contains(needle))
            {
                return text.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{operator} was never told {needle:?}: {:?}",
            self.0.lock().unwrap()
        );
    }
}

/// A company's Zoho CRM account: it knows ann@example.com by `name`, and
/// answers only `token`.
async fn zoho_account(token: &str, name: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v2/Leads/search"))
        .and(query_param("email", "ann@example.com"))
        .and(header(
            "Authorization",
            format!("Zoho-oauthtoken {token}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [{
            "id": "1", "Full_Name": name, "Email": "ann@example.com", "Company": name
        }]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_portal_asks_its_own_vendor_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("g.sqlite3")).unwrap());
    let mut operators = Vec::new();
    for portal in ["demo", "acme", "solo"] {
        store.put_portal(&Portal::new(portal, "en")).await.unwrap();
        let email = format!("ops@{portal}.example");
        let operator = store
            .add_operator(&NewOperator::new(portal, &email, "Ops"))
            .await
            .unwrap();
        store
            .claim_username(operator.id, &format!("{portal}.ops"))
            .await
            .unwrap();
        operators.push(OperatorRef::new(portal, &format!("{portal}.ops")));
    }
    let demo_account = zoho_account("1000.demo", "Ann at Demo Inc").await;
    let acme_account = zoho_account("1000.acme", "Ann at Acme Corp").await;
    let zoho = |server: &MockServer, token: &str| {
        Arc::new(ZohoCrm::new(HttpConfig::new(server.uri().parse().unwrap(), token)).unwrap())
    };
    let connectors =
        PortalConnectors::new(Arc::new(MemoryCrm::new()), Arc::new(MemoryHelpdesk::new()))
            .with_portal(
                "demo",
                zoho(&demo_account, "1000.demo"),
                Arc::new(MemoryHelpdesk::new()),
            )
            .with_portal(
                "acme",
                zoho(&acme_account, "1000.acme"),
                Arc::new(MemoryHelpdesk::new()),
            );
    let sink = Arc::new(Recorder::default());
    let gateway = Gateway::builder(store.clone())
        .portal_connectors(Arc::new(connectors))
        .build(sink.clone());

    let mut chats = Vec::new();
    for operator in &operators {
        gateway.set_available(operator, true).await;
        let mut details = VisitorDetails::default();
        details.name = "Ann".into();
        details.email = Some("ann@example.com".into());
        let request = ChatRequest::new(operator.portal(), details, "Hello", None);
        let chat = gateway.request_chat(request).await.unwrap();
        let contact = ContactId::visitor(operator.portal(), chat.visitor_number);
        gateway
            .operator_says(operator, &contact, "y")
            .await
            .unwrap();
        gateway
            .operator_says(operator, &contact, "#crm info")
            .await
            .unwrap();
        chats.push(chat); // open to the end
    }
    let demo = sink.line(&operators[0], "CRM").await;
    let acme = sink.line(&operators[1], "CRM").await;
    let solo = sink.line(&operators[2], "CRM").await;
    assert!(
        demo.contains("Ann at Demo Inc") && !demo.contains("Acme"),
        "{demo}"
    );
    assert!(
        acme.contains("Ann at Acme Corp") && !acme.contains("Demo"),
        "{acme}"
    );
    assert!(
        solo.contains("No CRM information for this visitor"),
        "{solo}"
    );
}
