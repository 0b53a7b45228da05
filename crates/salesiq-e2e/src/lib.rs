//! End-to-end tests of the example server (not published): everything is
//! under `tests/`. `browser.rs` drives headless Chromium against the
//! visitor and settings pages with a real XMPP client on the other side;
//! `restart.rs` stops and starts the server mid-chat, `crash.rs` kills it
//! (the example as a process of its own, `src/bin/e2e-server.rs`) and
//! starts it again; `storm.rs` logs
//! 1,000 operators in at once; `web_api.rs` and `http_limits.rs` check the
//! JSON API, the sign-in throttle and the HTTP bounds over real sockets.
//!
//! A package of its own, so that `cargo run --release --example
//! minimal_server` compiles none of the browser and client stacks these
//! tests need.
