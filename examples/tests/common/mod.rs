//! What the example's end-to-end tests share.

use std::path::Path;

use salesiq_examples::app::{self, Running};
use salesiq_examples::config::Config;

/// The example server as `demo.toml` describes it, but on free ports and
/// with its data (SQLite file, certificate) in `dir`.
pub(crate) async fn example(dir: &Path) -> Running {
    let mut config = Config::demo().expect("demo.toml is valid");
    config.server.starttls_port = 0;
    config.server.direct_tls_port = 0;
    config.server.http_port = 0;
    config.server.data_dir = dir.to_owned();
    app::start(&config).await.expect("the example starts")
}
