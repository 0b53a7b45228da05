//! The example server, as far as it is built: the SQLite store under
//! `./data/` (seeded with a demo portal on first start), XMPP on
//! 127.0.0.1:6222 (STARTTLS) and 6223 (direct TLS) with a self-signed
//! certificate, the chat gateway, and the visitor WebSocket API on
//! 127.0.0.1:8080 (`/ws/visitor?portal=demo`). The visitor page and the
//! TOML configuration arrive with the rest of the example-server issue.
//!
//! `cargo run --release --example minimal_server`; stop it with Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use salesiq_session::{
    Gateway, NewOperator, Portal, SqliteStore, Store, StoreAccounts, StoreError,
};
use salesiq_xmpp::{Config, Server, TlsIdentity};

/// The demo portal's departments: name, convert chats to tickets.
const DEPARTMENTS: [(&str, bool); 2] = [("Sales", false), ("VIPサポート", true)];

/// A demo operator.
struct DemoOperator {
    email: &'static str,
    name: &'static str,
    username: Option<&'static str>,
    password: &'static str,
    departments: &'static [&'static str],
}

const OPERATORS: [DemoOperator; 3] = [
    DemoOperator {
        email: "alice@demo.example",
        name: "Alice",
        username: Some("alice.ops"),
        password: "alice-demo-pw",
        departments: &["Sales", "VIPサポート"],
    },
    DemoOperator {
        email: "bob@demo.example",
        name: "Bob",
        username: Some("bob.ops"),
        password: "bob-demo-pw",
        departments: &["Sales"],
    },
    DemoOperator {
        email: "carol@demo.example",
        name: "Carol",
        username: None,
        password: "carol-demo-pw",
        departments: &[],
    },
];

/// Creates the demo portal in an empty store.
async fn seed(store: &Arc<SqliteStore>, accounts: &StoreAccounts) -> Result<(), StoreError> {
    if store.portal("demo").await?.is_some() {
        return Ok(());
    }
    store.put_portal(&Portal::new("demo", "en")).await?;
    let mut departments = Vec::new();
    for (name, convert) in DEPARTMENTS {
        departments.push(store.add_department("demo", name, convert).await?);
    }
    for demo in OPERATORS {
        let operator = store
            .add_operator(&NewOperator::new("demo", demo.email, demo.name))
            .await?;
        if let Some(username) = demo.username {
            store.claim_username(operator.id, username).await?;
        }
        accounts.set_password(operator.id, demo.password).await?;
        for department in departments
            .iter()
            .filter(|d| demo.departments.contains(&d.name.as_str()))
        {
            store.assign_department(operator.id, department.id).await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(SqliteStore::open("data/gateway.sqlite3")?);
    let accounts = Arc::new(StoreAccounts::new(store.clone()));
    seed(&store, &accounts).await?;

    let config = Config::new("salesiq.zoho.com");
    let identity = TlsIdentity::self_signed(&config.domain)?;
    let fingerprint = identity.fingerprint();
    let domain = config.domain.clone();
    let server = Server::bind(config, identity, accounts.clone(), accounts).await?;

    // Demo CRM and helpdesk records for the visitor ann@example.com.
    let (crm, desk) = salesiq_integrations::demo();
    let (crm, desk) = (Arc::new(crm), Arc::new(desk));
    let handle = server.handle();
    let gateway = Gateway::with_connectors(store.clone(), Arc::new(handle.clone()), crm, desk);
    gateway.close_unfinished_chats().await?;
    handle.attach_gateway(gateway.clone());

    let http = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    let app = salesiq_examples::visitor_ws::router(gateway)
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(http, app).await {
            eprintln!("HTTP server stopped: {e}");
        }
    });

    let starttls = server
        .starttls_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let direct = server
        .direct_tls_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!(
        "salesiq-gateway example: XMPP, the chat gateway and the visitor API are up.\n\
         \n\
         In a Jabber client (Gajim, Profanity, Conversations...):\n\
         \x20 sign in as   demo|alice.ops@{domain}   password alice-demo-pw\n\
         \x20         or   demo|bob.ops@{domain}     password bob-demo-pw\n\
         \x20 host         {starttls} with STARTTLS, or {direct} with direct TLS (SSL)\n\
         \x20 certificate  self-signed; accept SHA-256 {fingerprint}\n\
         \n\
         Visitors: ws://127.0.0.1:8080/ws/visitor?portal=demo (the page comes next).\n\
         carol@demo.example has no username and is refused, as the product says.\n\
         Data: ./data/gateway.sqlite3. Ctrl-C stops the server."
    );
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
