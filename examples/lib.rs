//! Pieces of the example server that are worth testing on their own: the
//! visitor's WebSocket API (`visitor_ws`). The examples live beside it
//! (`cargo run --release --example minimal_server`).

pub mod visitor_ws;
