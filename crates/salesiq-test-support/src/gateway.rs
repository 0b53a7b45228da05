//! A server with the chat domain over SQLite: the demo portal with Alice
//! and Bob (and any more usernames), devices that log in and come online,
//! visitors through the gateway's API.

use std::sync::Arc;

use salesiq_integrations::{MemoryHelpdesk, ZohoCrm};
use salesiq_session::{
    ChatRequest, Gateway, NewOperator, Portal, SqliteStore, Store, StoreAccounts, VisitorChat,
    VisitorDetails, VisitorEvent,
};
use tokio_xmpp::IqRequest;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::presence::Presence;

use crate::{Mode, Operator, TestServer};

pub const ALICE: &str = "demo|alice.ops@salesiq.zoho.com";
pub const BOB: &str = "demo|bob.ops@salesiq.zoho.com";
pub const PASSWORD: &str = "pw-123456";

fn body(message: &Message) -> String {
    message.bodies.values().next().cloned().unwrap_or_default()
}

/// The demo portal over SQLite with Alice and Bob (and any more
/// usernames), and a server with a gateway on it.
pub struct World {
    pub server: TestServer,
    pub gateway: Gateway,
    /// The store under the gateway (and the accounts).
    pub store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

pub async fn world(extra: &[&str], crm: Option<ZohoCrm>) -> World {
    world_with(|_| {}, extra, crm).await
}

/// [`world`], with the server's configuration changed by `adjust` first.
pub async fn world_with(
    adjust: impl FnOnce(&mut salesiq_xmpp::Config),
    extra: &[&str],
    crm: Option<ZohoCrm>,
) -> World {
    let dir = tempfile::tempdir().unwrap();
    let (store, accounts) = demo_store(dir.path(), extra).await;
    let gateway_store = store.clone();
    let world_store = store.clone();
    let server = TestServer::start_with_gateway(adjust, accounts.clone(), accounts, move |sink| {
        // Requests queue even with nobody there: these worlds test what
        // operators see (the "leave a message" answer is tested in
        // salesiq-session's and salesiq-web's offline tests).
        let builder = Gateway::builder(gateway_store).offline_when_nobody(false);
        match crm {
            Some(crm) => builder
                .connectors(Arc::new(crm), Arc::new(MemoryHelpdesk::new()))
                .build(sink),
            None => builder.build(sink),
        }
    })
    .await;
    let gateway = server.gateway.clone().unwrap();
    World {
        server,
        gateway,
        store: world_store,
        _dir: dir,
    }
}

/// The demo portal in a SQLite file in `dir`, with Alice and Bob (and
/// the `extra` usernames), each with [`PASSWORD`].
pub async fn demo_store(
    dir: &std::path::Path,
    extra: &[&str],
) -> (Arc<SqliteStore>, Arc<StoreAccounts>) {
    let store = Arc::new(SqliteStore::open(dir.join("gateway.sqlite3")).unwrap());
    store.put_portal(&Portal::new("demo", "en")).await.unwrap();
    let accounts = Arc::new(StoreAccounts::new(store.clone()));
    let mut people = vec![("Alice", "alice.ops"), ("Bob", "bob.ops")];
    people.extend(extra.iter().map(|u| ("Extra", *u)));
    for (name, username) in people {
        let email = format!("{}@demo.example", username.replace('.', "-"));
        let operator = store
            .add_operator(&NewOperator::new("demo", &email, name))
            .await
            .unwrap();
        store.claim_username(operator.id, username).await.unwrap();
        accounts.set_password(operator.id, PASSWORD).await.unwrap();
    }
    (store, accounts)
}

impl World {
    /// An operator's device, logged in, available, and known to be so by
    /// the server (a ping round trip after the presence).
    pub async fn online(&self, jid: &str, resource: &str) -> Operator {
        let mut operator = Operator::login(
            &self.server,
            &format!("{jid}/{resource}"),
            PASSWORD,
            Mode::StartTls,
        )
        .await;
        operator.send(Presence::available()).await;
        let ping = Element::builder("ping", "urn:xmpp:ping").build();
        operator.iq(None, IqRequest::Get(ping)).await;
        operator
    }

    pub async fn visitor(&self, name: &str, question: &str) -> VisitorChat {
        let mut details = VisitorDetails::default();
        details.name = name.into();
        details.email = Some("ann@example.com".into());
        self.request(details, question).await
    }

    /// A chat request with these details, once the visitor is queued.
    pub async fn request(&self, details: VisitorDetails, question: &str) -> VisitorChat {
        let request = ChatRequest::new("demo", details, question, None);
        let mut visitor = self.gateway.request_chat(request).await.unwrap();
        assert_eq!(
            visitor.next_event().await,
            Some(VisitorEvent::Queued { position: 1 })
        );
        visitor
    }
}

/// Waits for the next message whose body contains `text`.
pub async fn message_saying(operator: &mut Operator, text: &str) -> Message {
    loop {
        let message = operator.next_message().await;
        if body(&message).contains(text) {
            return message;
        }
    }
}

/// Asserts that the visitor's next line is `text` from Bob.
pub async fn hears_bob(visitor: &mut VisitorChat, text: &str) {
    assert_eq!(
        next_line(visitor).await,
        Some(VisitorEvent::Message {
            from: "Bob".into(),
            text: text.into()
        })
    );
}

/// Waits for the next event that is not a chat state.
pub async fn next_line(visitor: &mut VisitorChat) -> Option<VisitorEvent> {
    loop {
        match visitor.next_event().await {
            Some(VisitorEvent::Typing { .. }) => continue,
            other => return other,
        }
    }
}
