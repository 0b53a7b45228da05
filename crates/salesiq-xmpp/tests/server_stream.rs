//! The fuzzing entry point (`salesiq_xmpp::fuzzing`) on the seeds of the
//! `server_stream` fuzz target: each drives the real server as the fuzzer
//! does, and the server says what a client should hear. The fuzz target
//! checks the same invariants as [`served`] on every input it makes.

use salesiq_xmpp::fuzzing::serve_bytes;

fn seed(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../fuzz/seeds/server_stream/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the server wrote for the seed `name`, checked as the fuzz target
/// checks it: the connection ended, and the output is text XML can carry.
fn served(name: &str) -> String {
    let served = serve_bytes(&seed(name));
    assert!(served.finished, "{name}: the connection never ended");
    let output = String::from_utf8(served.output).expect("UTF-8");
    let bad = output
        .chars()
        .find(|c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..));
    assert_eq!(bad, None, "{name}: a character XML cannot carry");
    output
}

fn says_all(output: &str, wanted: &[&str]) {
    for want in wanted {
        assert!(output.contains(want), "no {want:?} in:\n{output}");
    }
}

#[test]
fn a_login_reaches_the_chat_domain() {
    let output = served("login-and-chat");
    says_all(
        &output,
        &[
            "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
            "<jid>demo|alice.ops@salesiq.zoho.com/fuzz</jid>",
            "[system] Chat request from Ann (visitor #1): Where is my order?",
            "IP: 198.51.100.7",
            "[system] Note added",
            "Alice: called back",
            "[system] (Alice) Hello Ann",
            "[system] No CRM information for this visitor",
            "[system] Chat will end in 30 seconds",
            "[system] Chat ended",
            "<vCard xmlns='vcard-temp'><FN>Bob</FN></vCard>",
        ],
    );
    assert!(output.ends_with("</stream:stream>"), "{output}");
}

#[test]
fn stream_management_and_carbons() {
    says_all(
        &served("stream-management"),
        &[
            "<enabled xmlns='urn:xmpp:sm:3'",
            // Issue 13: resumable for an hour, as phones need.
            "max='3600'",
            "<a xmlns='urn:xmpp:sm:3' h=",
        ],
    );
    says_all(
        &served("carbons-and-states"),
        &["id='c'", "Chat request from Ann"],
    );
}

#[test]
fn limits_before_login() {
    for name in ["deep-nesting", "many-attributes"] {
        says_all(&served(name), &["<policy-violation"]);
    }
    says_all(
        &served("stanza-before-login"),
        &["<not-authorized", "log in first"],
    );
}

#[test]
fn negotiation_refusals() {
    says_all(
        &served("starttls"),
        &[
            "<encryption-required",
            "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        ],
    );
    says_all(&served("no-username"), &["has no username yet"]);
    // A made-up proof: a challenge, then a failure.
    says_all(
        &served("scram"),
        &["<challenge", "<failure", "<not-authorized"],
    );
}

#[test]
fn nothing_in_nothing_out() {
    let served = serve_bytes(&[]);
    assert!(served.finished && served.output.is_empty());
    // Only the control byte: the client closes at once, before a header.
    let served = serve_bytes(&[0]);
    assert!(served.finished);
}
