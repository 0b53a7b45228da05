//! Any JID or authcid through `salesiq_jid::LoginId::parse`, checked by the
//! invariants in `crates/salesiq-jid/tests/round_trip/mod.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/salesiq-jid/tests/round_trip/mod.rs"]
mod round_trip;

fuzz_target!(|input: &str| round_trip::check(input));
