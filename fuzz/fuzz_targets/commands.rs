//! Any line through `salesiq_commands::parse`, checked by the invariants in
//! `crates/salesiq-commands/tests/round_trip/mod.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/salesiq-commands/tests/round_trip/mod.rs"]
mod round_trip;

fuzz_target!(|line: &str| round_trip::check(line));
