//! The example server: XMPP on 127.0.0.1:6222 (STARTTLS) and 6223 (direct
//! TLS) with a self-signed certificate made on first start, the SQLite
//! store under `./data/` seeded with a demo portal, the chat gateway with
//! demo CRM and helpdesk records, and on http://127.0.0.1:8080 the visitor
//! page, the Jabber settings page and the visitor WebSocket API.
//!
//! ```text
//! cargo run --release --example minimal_server              # examples/demo.toml
//! cargo run --release --example minimal_server -- my.toml   # your own file
//! ```
//!
//! Stop it with Ctrl-C (or SIGTERM): operators get `<system-shutdown/>`.

use salesiq_examples::app;
use salesiq_examples::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minimal_server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = match std::env::args_os().nth(1) {
        Some(path) => Config::load(path.as_ref())?,
        None => Config::demo()?,
    };
    let running = app::start(&config).await?;
    print_welcome(&config, &running);
    stop_signal().await;
    println!("Stopping.");
    let kept = running.stop().await;
    if kept > 0 {
        println!("Kept {kept} live chat(s): the next start restores them.");
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM (what `kill`, systemd and `timeout` send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn print_welcome(config: &Config, running: &app::Running) {
    let server = &config.server;
    let host = server.client_host();
    let seeded = &running.seeded;
    let store = if config.store.is_postgres() {
        "the PostgreSQL database of [store] url".to_owned()
    } else {
        running.database.display().to_string()
    };
    if seeded.operators > 0 {
        println!(
            "Seeded {} portal(s), {} department(s), {} operator(s) into {store}.",
            seeded.portals, seeded.departments, seeded.operators,
        );
    } else {
        println!("Using {store}.");
    }
    if let (Some(kind), Some(path)) = (&running.geoip, &server.geoip) {
        println!("Visitors' countries from {kind} ({}).", path.display());
    }
    if let Some(smtp) = &config.smtp {
        let how = if smtp.starttls {
            "STARTTLS"
        } else {
            "plain SMTP"
        };
        println!(
            "E-mail goes out through {}:{} ({how}), from {}.",
            smtp.host,
            smtp.port(),
            smtp.from
        );
    }
    if running.restored_chats > 0 {
        println!(
            "Restored {} live chat(s) from the last run: their visitors resume them.",
            running.restored_chats
        );
    }
    if running.closed_chats > 0 {
        println!(
            "Ended {} chat(s) left open by the last run.",
            running.closed_chats
        );
    }
    println!("\nIn a Jabber client (Gajim, Profanity, Conversations, Pidgin, Monal):");
    for portal in &config.portals {
        for operator in portal.operators.iter() {
            match &operator.username {
                Some(username) => println!(
                    "  sign in as  {}|{username}@{}   password {}",
                    portal.name, server.domain, operator.password
                ),
                None => println!(
                    "  ({} has no username yet: sign in at http://{}/settings to create one)",
                    operator.email, running.http
                ),
            }
        }
    }
    println!(
        "  host        {host}, port {} with STARTTLS (\"TLS\") or {} with direct TLS (\"SSL\")\n\
         \x20 resource    any\n\
         \x20 certificate self-signed: accept SHA-256 {}\n\
         \x20             (SHA-1 {}; mcabber ssl_fingerprint {})\n\
         \n\
         Visitor page:     http://{http}/\n\
         Jabber settings:  http://{http}/settings\n\
         WebSocket API:    ws://{http}/ws/visitor?portal={portal}\n\
         Ctrl-C stops the server.",
        running.starttls.port(),
        running.direct_tls.port(),
        running.fingerprint,
        running.fingerprint_sha1,
        running.fingerprint_hex,
        http = running.http,
        portal = config.default_portal(),
    );
}
