//! The example server, as far as it is built: XMPP on 127.0.0.1:6222
//! (STARTTLS) and 6223 (direct TLS) with a self-signed certificate and two
//! demo operators, so that a Jabber client can log in and two operators can
//! chat. The visitor page (HTTP on 8080), the SQLite store under `./data/`
//! and the chat domain arrive with the issues that build them.
//!
//! `cargo run --release --example minimal_server`; stop it with Ctrl-C.

use std::sync::Arc;

use salesiq_session::{Account, MemoryAccounts};
use salesiq_xmpp::{Config, Server, TlsIdentity};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::new("salesiq.zoho.com");
    let accounts = Arc::new(
        MemoryAccounts::new()
            .with_account(
                Account::new("demo", Some("alice.ops"), "Alice", "alice@demo.example"),
                "alice-demo-pw",
            )
            .with_account(
                Account::new("demo", Some("bob.ops"), "Bob", "bob@demo.example"),
                "bob-demo-pw",
            )
            .with_account(
                Account::new("demo", None, "Carol", "carol@demo.example"),
                "carol-demo-pw",
            ),
    );
    let identity = TlsIdentity::self_signed(&config.domain)?;
    let fingerprint = identity.fingerprint();
    let domain = config.domain.clone();
    let server = Server::bind(config, identity, accounts.clone(), accounts).await?;
    let starttls = server
        .starttls_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let direct = server
        .direct_tls_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!(
        "salesiq-gateway example: XMPP is up (visitor page and chat domain not built yet).\n\
         \n\
         In a Jabber client (Gajim, Profanity, Conversations...):\n\
         \x20 sign in as   demo|alice.ops@{domain}   password alice-demo-pw\n\
         \x20         or   demo|bob.ops@{domain}     password bob-demo-pw\n\
         \x20 host         {starttls} with STARTTLS, or {direct} with direct TLS (SSL)\n\
         \x20 certificate  self-signed; accept SHA-256 {fingerprint}\n\
         \n\
         carol@demo.example has no username and is refused, as the product says.\n\
         Ctrl-C stops the server."
    );
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
