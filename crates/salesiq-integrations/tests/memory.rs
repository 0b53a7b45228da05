//! The in-memory connectors behave like the vendors' for the session layer.

#![allow(clippy::unwrap_used)]

use salesiq_commands::{
    TicketClassification, TicketFields, TicketPriority, TicketState, TicketStatus,
};
use salesiq_integrations::{
    ConnectorError, CrmConnector, CrmModule, CrmRecord, HelpdeskConnector, HelpdeskContact,
    MemoryCrm, MemoryHelpdesk, NewTicket, Ticket, TicketQuery,
};

#[tokio::test]
async fn memory_crm_prefers_leads() {
    let crm = MemoryCrm::new()
        .with_record(CrmRecord::new(
            CrmModule::Contact,
            "c1",
            "Ann as contact",
            "ann@example.com",
        ))
        .with_record(CrmRecord::new(
            CrmModule::Lead,
            "l1",
            "Ann as lead",
            "ann@example.com",
        ));
    assert_eq!(
        crm.find_by_email("Ann@Example.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        "l1"
    );
    assert_eq!(crm.find_by_email("nobody@example.com").await, Ok(None));
}

#[tokio::test]
async fn memory_helpdesk_round_trip() {
    let mut old = Ticket::new("t1", "1000", "Old question", "Closed");
    old.contact_id = Some("9001".into());
    old.email = Some("ann@example.com".into());
    let desk = MemoryHelpdesk::new()
        .with_contact(HelpdeskContact::new("9001", "Ann Lee", "ann@example.com"))
        .with_ticket(old);
    let contact = desk.find_contact("ANN@example.com").await.unwrap().unwrap();
    let fields = TicketFields {
        priority: TicketPriority::High,
        status: TicketStatus::Open,
        classification: TicketClassification::Question,
    };
    let new = NewTicket::new(
        "New question",
        "(Ann) hi",
        "ann@example.com",
        "Ann Lee",
        fields,
    );
    let created = desk.create_ticket(&new).await.unwrap();
    assert_eq!(
        (
            created.priority.as_deref(),
            created.classification.as_deref()
        ),
        (Some("High"), Some("Question"))
    );
    let tickets = desk.contact_tickets(&contact.id).await.unwrap();
    assert_eq!(
        tickets
            .iter()
            .map(|t| t.subject.as_str())
            .collect::<Vec<_>>(),
        ["New question", "Old question"]
    );
    assert_eq!(
        desk.search_tickets(TicketQuery::ContactName("ann"))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        desk.search_tickets(TicketQuery::TicketNumber("1000"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        desk.set_status(&created.id, TicketState::Close)
            .await
            .unwrap()
            .status,
        "Closed"
    );
    assert_eq!(
        desk.ticket(&created.id).await.unwrap().unwrap().status,
        "Closed"
    );
    assert_eq!(
        desk.set_status("nope", TicketState::Open).await,
        Err(ConnectorError::NotFound)
    );
}
