//! What the example's end-to-end tests share.
#![allow(dead_code)] // each test file uses a part

use std::path::Path;

use salesiq_examples::app::{self, Running};
use salesiq_examples::config::Config;

/// The example server as `demo.toml` describes it, but on free ports and
/// with its data (SQLite file, certificate) in `dir`.
pub(crate) async fn example(dir: &Path) -> Running {
    example_with(dir, |_| {}).await
}

/// [`example`], with the configuration changed by `change` first.
pub(crate) async fn example_with(dir: &Path, change: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::demo().expect("demo.toml is valid");
    change(&mut config);
    config.server.starttls_port = 0;
    config.server.direct_tls_port = 0;
    config.server.http_port = 0;
    config.server.data_dir = dir.to_owned();
    app::start(&config).await.expect("the example starts")
}

/// A client for plain HTTP on loopback. reqwest is built without a
/// default crypto provider (see salesiq-integrations), so it gets ring's.
pub(crate) fn http() -> reqwest::Client {
    http_from(None)
}

/// [`http`], with its connections made from the loopback address `from`.
pub(crate) fn http_from(from: Option<std::net::IpAddr>) -> reqwest::Client {
    use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .local_address(from)
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}
