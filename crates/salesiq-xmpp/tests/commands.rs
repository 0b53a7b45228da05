//! Every row of SPEC section 4, end to end: operators on a real Jabber
//! client (tokio-xmpp) over TLS, the XMPP server, the gateway, the SQLite
//! store, and in-memory CRM and helpdesk connectors. The visitor side is
//! the gateway's API.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use salesiq_test_support as support;

use std::sync::Arc;

use salesiq_integrations::{CrmConnector, HelpdeskConnector};
use salesiq_session::{
    ChatRequest, Gateway, GatewayError, NewOperator, Portal, SqliteStore, Store, StoreAccounts,
    VisitorChat, VisitorDetails, VisitorEvent,
};
use support::{Mode, Operator, TestServer};
use tokio_xmpp::IqRequest;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message, MessageType};
use tokio_xmpp::parsers::presence::Presence;

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

/// Sends `text` to `contact` and returns the next message `operator` gets.
async fn say(operator: &mut Operator, contact: &str, text: &str) -> String {
    send(operator, contact, text).await;
    body(&operator.next_message().await)
}

async fn send(operator: &mut Operator, contact: &str, text: &str) {
    operator
        .send(Message::chat(Some(Jid::new(contact).unwrap())).with_body(Lang::new(), text.into()))
        .await;
}

/// The next message whose body contains `needle`, skipping others.
async fn message_containing(operator: &mut Operator, needle: &str) -> String {
    loop {
        let text = body(&operator.next_message().await);
        if text.contains(needle) {
            return text;
        }
    }
}

async fn visitor_request(
    gateway: &Gateway,
    name: &str,
    ip: &str,
    department: Option<&str>,
) -> VisitorChat {
    let mut details = VisitorDetails::default();
    details.name = name.into();
    details.email = Some("ann@example.com".into());
    details.ip = Some(ip.into());
    details.country = Some("Japan".into());
    details.first_page = Some("https://demo.example/pricing".into());
    let mut chat = gateway
        .request_chat(ChatRequest::new(
            "demo",
            details,
            "My invoice is wrong",
            department,
        ))
        .await
        .unwrap();
    assert_eq!(
        chat.next_event().await,
        Some(VisitorEvent::Queued { position: 1 })
    );
    chat
}

fn connectors() -> (Arc<dyn CrmConnector>, Arc<dyn HelpdeskConnector>) {
    let (crm, desk) = salesiq_integrations::demo();
    (Arc::new(crm), Arc::new(desk))
}

#[tokio::test]
async fn every_command_through_a_jabber_client() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("gateway.sqlite3")).unwrap());
    store.put_portal(&Portal::new("demo", "en")).await.unwrap();
    store.add_department("demo", "Sales", false).await.unwrap();
    store.add_department("demo", "Support", true).await.unwrap();
    let accounts = Arc::new(StoreAccounts::new(store.clone()));
    for (email, name, username) in [
        ("alice@demo.example", "Alice", "alice.ops"),
        ("bob@demo.example", "Bob", "bob.ops"),
    ] {
        let operator = store
            .add_operator(&NewOperator::new("demo", email, name))
            .await
            .unwrap();
        store.claim_username(operator.id, username).await.unwrap();
        accounts
            .set_password(operator.id, "pw-123456")
            .await
            .unwrap();
    }
    let (crm, desk) = connectors();
    let gateway_store = store.clone();
    let server = TestServer::start_with_gateway(
        |_| {},
        accounts.clone(),
        accounts,
        move |sink| Gateway::with_connectors(gateway_store, sink, crm, desk),
    )
    .await;
    let gateway = server.gateway.clone().unwrap();

    let mut bob = Operator::login(
        &server,
        "demo|bob.ops@salesiq.zoho.com/desk",
        "pw-123456",
        Mode::StartTls,
    )
    .await;
    let mut alice = Operator::login(
        &server,
        "demo|alice.ops@salesiq.zoho.com/phone",
        "pw-123456",
        Mode::DirectTls,
    )
    .await;
    for operator in [&mut bob, &mut alice] {
        operator.send(Presence::available()).await;
        operator
            .iq(
                None,
                IqRequest::Get(Element::builder("ping", "urn:xmpp:ping").build()),
            )
            .await;
    }

    // A request for Support reaches both; y: Bob has it, Alice is told.
    let ann = "demo|visitor-1@salesiq.zoho.com";
    let mut visitor = visitor_request(&gateway, "Ann Lee", "203.0.113.7", Some("Support")).await;
    assert!(
        message_containing(&mut bob, "Reply y to accept")
            .await
            .contains("My invoice is wrong — Support")
    );
    message_containing(&mut alice, "Reply y to accept").await;
    assert!(
        say(&mut bob, ann, "y")
            .await
            .contains("Visitor: #1 Ann Lee")
    );
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Bob".into()
        })
    );
    assert_eq!(
        message_containing(&mut alice, "took this chat").await,
        "[system] Bob took this chat"
    );

    // #help, #help all|misc|support|crm.
    assert!(say(&mut bob, ann, "#help").await.contains("#help support"));
    assert!(
        say(&mut bob, ann, "#help all")
            .await
            .contains("#support conasreq")
    );
    assert!(
        say(&mut bob, ann, "#help misc")
            .await
            .contains("#t <email>")
    );
    assert!(
        say(&mut bob, ann, "#help support")
            .await
            .contains("#support searchreq")
    );
    assert!(say(&mut bob, ann, "#help crm").await.contains("#crm info"));
    // #info, #an, #n, #h, #d.
    assert!(say(&mut bob, ann, "#info").await.contains("Country: Japan"));
    assert_eq!(
        say(&mut bob, ann, "#an prefers e-mail").await,
        "[system] Note added"
    );
    assert!(
        say(&mut bob, ann, "#n")
            .await
            .ends_with("Bob: prefers e-mail")
    );
    assert_eq!(
        say(&mut bob, ann, "#h").await,
        "[system] (visitor) My invoice is wrong"
    );
    assert_eq!(say(&mut bob, ann, "#d").await, "[system] Sales\nSupport");
    // #p and #m.
    assert_eq!(
        say(&mut bob, ann, "#p https://demo.example/help/invoices").await,
        "[system] Page sent to the visitor"
    );
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Push {
            url: "https://demo.example/help/invoices".into()
        })
    );
    assert_eq!(say(&mut bob, ann, "#m").await, "[system] Bob (online)");
    // #crm info and the seven #support commands.
    assert!(
        say(&mut bob, ann, "#crm info")
            .await
            .contains("Company: Lee & Co")
    );
    assert!(
        say(&mut bob, ann, "#support info")
            .await
            .contains("Helpdesk contact: Ann Lee")
    );
    assert_eq!(
        say(&mut bob, ann, "#support ticketinfo").await,
        "[system] No ticket information for this visitor"
    );
    assert_eq!(
        say(&mut bob, ann, "#support recentreq").await,
        "[system] #1000 Old invoice question (Closed)"
    );
    assert_eq!(
        say(&mut bob, ann, "#support conasreq 112").await,
        "[system] Ticket created: #1001"
    );
    assert_eq!(
        say(&mut bob, ann, "#support ticketinfo").await,
        "[system] #1001 My invoice is wrong (On Hold, Low)"
    );
    assert_eq!(
        say(&mut bob, ann, "#support setreqstatus close").await,
        "[system] #1001 My invoice is wrong (Closed, Low)"
    );
    assert_eq!(
        say(&mut bob, ann, "#support searchreq #1000").await,
        "[system] #1000 Old invoice question (Closed)"
    );
    assert_eq!(
        say(&mut bob, ann, "#support associate 1000").await,
        "[system] Chat associated with ticket #1000"
    );
    // A malformed command: the usage line, for Bob only.
    assert!(
        say(&mut bob, ann, "#support conasreq 9")
            .await
            .contains("Usage: #support conasreq")
    );
    // #e 30 called off by the visitor; #e 45 then #e cancel.
    assert_eq!(
        say(&mut bob, ann, "#e 30").await,
        "[system] Chat will end in 30 seconds"
    );
    gateway
        .visitor_says(visitor.chat, "one more thing")
        .await
        .unwrap();
    assert_eq!(
        body(&bob.next_message().await),
        "[system] Chat end cancelled"
    );
    assert_eq!(body(&bob.next_message().await), "one more thing");
    say(&mut bob, ann, "#e 45").await;
    assert_eq!(
        say(&mut bob, ann, "#e cancel").await,
        "[system] Chat end cancelled"
    );
    // #i: Alice says y, and it is a group chat.
    assert_eq!(
        say(
            &mut bob,
            ann,
            "#i alice@demo.example can you check the refund?"
        )
        .await,
        "[system] Invitation sent"
    );
    assert!(
        message_containing(&mut alice, "invites you")
            .await
            .contains("can you check the refund?")
    );
    assert!(
        say(&mut alice, ann, "y")
            .await
            .contains("Visitor: #1 Ann Lee")
    );
    assert_eq!(
        body(&bob.next_message().await),
        "[system] Alice joined the chat"
    );
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Alice".into()
        })
    );
    send(&mut alice, ann, "Refund is on its way").await;
    assert_eq!(
        body(&bob.next_message().await),
        "(Alice) Refund is on its way"
    );
    assert_eq!(
        visitor.next_event().await,
        Some(VisitorEvent::Message {
            from: "Alice".into(),
            text: "Refund is on its way".into()
        })
    );
    // #e: over, for everyone.
    send(&mut bob, ann, "#e").await;
    assert!(matches!(
        visitor.next_event().await,
        Some(VisitorEvent::Ended { .. })
    ));
    assert_eq!(
        message_containing(&mut bob, "Chat ended").await,
        "[system] Chat ended"
    );
    assert_eq!(
        message_containing(&mut alice, "Chat ended").await,
        "[system] Chat ended"
    );

    // A second visitor: #t to an operator declined (n), then to a department accepted (y).
    let ken = "demo|visitor-2@salesiq.zoho.com";
    let mut second = visitor_request(&gateway, "Ken Ito", "198.51.100.23", None).await;
    message_containing(&mut alice, "Reply y to accept").await;
    message_containing(&mut bob, "Reply y to accept").await;
    assert!(
        say(&mut bob, ken, "y")
            .await
            .contains("Visitor: #2 Ken Ito")
    );
    assert!(matches!(
        second.next_event().await,
        Some(VisitorEvent::Joined { .. })
    ));
    message_containing(&mut alice, "took this chat").await;
    assert_eq!(
        say(&mut bob, ken, "#t alice@demo.example VIP").await,
        "[system] Transfer request sent"
    );
    assert!(
        message_containing(&mut alice, "transfers the chat")
            .await
            .contains(": VIP.")
    );
    send(&mut alice, ken, "n").await;
    assert_eq!(body(&bob.next_message().await), "[system] Alice declined");
    assert_eq!(
        say(&mut bob, ken, "#t \"Support\" second try").await,
        "[system] Transfer request sent"
    );
    message_containing(&mut alice, "transfers the chat").await;
    assert!(
        say(&mut alice, ken, "y")
            .await
            .contains("Visitor: #2 Ken Ito")
    );
    assert_eq!(
        body(&bob.next_message().await),
        "[system] Alice accepted the transfer; you have left the chat"
    );
    assert_eq!(
        second.next_event().await,
        Some(VisitorEvent::Joined {
            operator: "Alice".into()
        })
    );
    // #b: blocked, the chat ends, and the address cannot ask again.
    assert_eq!(
        say(&mut alice, ken, "#b abusive").await,
        "[system] IP address blocked"
    );
    assert!(matches!(
        second.next_event().await,
        Some(VisitorEvent::Ended { .. })
    ));
    let mut again = VisitorDetails::default();
    again.name = "Ken Ito".into();
    again.ip = Some("198.51.100.23".into());
    let refused = gateway
        .request_chat(ChatRequest::new("demo", again, "hello again", None))
        .await;
    assert_eq!(refused.err(), Some(GatewayError::Blocked));
    // Writing to an ended chat bounces.
    send(&mut alice, ken, "still there?").await;
    loop {
        let message = alice.next_message().await;
        if message.type_ == MessageType::Error {
            break;
        }
    }
    bob.end().await;
    alice.end().await;
    server.stop().await;
}
