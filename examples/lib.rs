//! The example server as a library, so that its parts can be tested on
//! their own and the end-to-end tests (the `salesiq-e2e` package) can
//! start the very server `cargo run --release --example minimal_server`
//! runs:
//!
//! - [`config`]: the TOML configuration (`demo.toml` when none is given);
//! - [`seed`]: portals, departments and operators added to the store;
//! - [`app`]: the crates wired together from a configuration (XMPP from
//!   `salesiq-xmpp`, the domain from `salesiq-session`, the web side from
//!   `salesiq-web`).

pub mod app;
pub mod config;
pub mod seed;
