//! The example server (demo configuration) as a process of its own, for
//! `tests/crash.rs`, which kills it with SIGKILL mid-chat and starts it
//! again over the same data directory.
//!
//! `e2e-server <data_dir>` listens on free loopback ports and prints one
//! line once it serves: `ready starttls=<addr> http=<addr> restored=<n>
//! cert=<DER as hex>`. SIGTERM or Ctrl-C stops it cleanly.
//!
//! For `tests/cluster.rs`: `E2E_STORE_URL` sets `[store] url`, and
//! `E2E_NATS_URL` with `E2E_NODE` set `[cluster]`.

use salesiq_examples::app;
use salesiq_examples::config::Config;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = std::env::args_os()
        .nth(1)
        .ok_or("usage: e2e-server <data_dir>")?;
    let mut config = Config::demo()?;
    config.server.starttls_port = 0;
    config.server.direct_tls_port = 0;
    config.server.http_port = 0;
    config.server.data_dir = data_dir.into();
    config.store.url = std::env::var("E2E_STORE_URL").ok();
    config.cluster.nats_url = std::env::var("E2E_NATS_URL").ok();
    if let Ok(node) = std::env::var("E2E_NODE") {
        config.cluster.node = node;
    }
    let running = app::start(&config).await?;
    let cert: String = running
        .certificate
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!(
        "ready starttls={} http={} restored={} cert={cert}",
        running.starttls, running.http, running.restored_chats
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    running.stop().await;
    Ok(())
}
