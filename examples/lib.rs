//! The example server as a library, so that its parts can be tested on
//! their own and the browser tests can start the very server
//! `cargo run --release --example minimal_server` runs:
//!
//! - [`config`]: the TOML configuration (`demo.toml` when none is given);
//! - [`seed`]: portals, departments and operators added to the store;
//! - [`app`]: everything started from a configuration;
//! - [`web`]: the visitor page, the Jabber settings page and their JSON API;
//! - [`guides`]: what to type into each common Jabber client;
//! - [`visitor_ws`]: the visitor's WebSocket API;
//! - [`http`]: serving them within connection caps and header timeouts.

pub mod app;
pub mod config;
pub mod guides;
pub mod http;
pub mod seed;
pub mod visitor_ws;
pub mod web;
