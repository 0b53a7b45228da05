//! The server's XML stream reader on any bytes, split anywhere: it never
//! panics, and however the bytes are split it reports the same events and
//! the same error as when they arrive in one piece.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salesiq_xmpp::XmlReader;

const HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='salesiq.zoho.com' version='1.0'>";

fuzz_target!(|input: &[u8]| {
    let Some((&split_seed, body)) = input.split_first() else {
        return;
    };
    // Half the time, behind a valid header, so that stanzas get parsed.
    let mut bytes = Vec::with_capacity(HEADER.len() + body.len());
    if split_seed & 1 == 1 {
        bytes.extend_from_slice(HEADER);
    }
    bytes.extend_from_slice(body);

    let mut whole = XmlReader::new(4096);
    let mut whole_events = Vec::new();
    let whole_result = whole.feed(&bytes, &mut whole_events);

    let step = usize::from(split_seed >> 1).max(1);
    let mut split = XmlReader::new(4096);
    let mut split_events = Vec::new();
    let mut split_result = Ok(());
    for chunk in bytes.chunks(step) {
        split_result = split.feed(chunk, &mut split_events);
        if split_result.is_err() {
            break;
        }
    }
    assert_eq!(whole_result, split_result, "split every {step} bytes");
    assert_eq!(whole_events, split_events, "split every {step} bytes");
});
