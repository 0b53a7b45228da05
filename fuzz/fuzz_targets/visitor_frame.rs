//! Any text as a frame from a visitor's page (`visitor_ws::decode`): never
//! a panic; an error is the error frame's message; a frame that decodes
//! encodes to JSON that decodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salesiq_web::visitor_ws::decode;

fuzz_target!(|text: &str| {
    match decode(text) {
        Ok(frame) => {
            let json = serde_json::to_string(&frame).expect("a frame always encodes");
            assert_eq!(decode(&json), Ok(frame), "{json}");
        }
        Err(message) => assert!(message.starts_with("bad frame: "), "{message}"),
    }
});
