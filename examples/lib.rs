//! Runnable examples for salesiq-gateway. The library part is empty; the
//! examples live beside it (`cargo run --release --example minimal_server`).
