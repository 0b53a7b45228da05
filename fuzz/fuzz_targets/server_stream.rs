//! The whole server stream from bytes: negotiation (the plain-text
//! STARTTLS stream, or the stream once TLS is up: SASL, restart, bind),
//! then the session, its XEPs and the chat domain behind it, as
//! `salesiq_xmpp::fuzzing::serve_bytes` runs them. Whatever a client
//! sends, the server never panics, every connection ends, and all it
//! writes is UTF-8 text that XML can carry.
//!
//! Run with `-max_len=300000`: deep nesting and wide elements (issue 11,
//! findings 1 and 3) need inputs of a few hundred kilobytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salesiq_xmpp::fuzzing::{MAX_OUTPUT, serve_bytes};

fuzz_target!(|input: &[u8]| {
    let served = serve_bytes(input);
    assert!(served.finished, "the connection never ended");
    let text = match std::str::from_utf8(&served.output) {
        Ok(text) => text,
        // Cut at MAX_OUTPUT, possibly inside a character.
        Err(e) if e.error_len().is_none() && served.output.len() == MAX_OUTPUT => {
            std::str::from_utf8(&served.output[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(e) => panic!("the server wrote bytes that are not UTF-8: {e}"),
    };
    let bad = text.chars().find(|c| {
        !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    });
    assert_eq!(bad, None, "the server wrote a character XML cannot carry");
});
