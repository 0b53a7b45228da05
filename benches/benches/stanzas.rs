//! Messages/s through the server's stanza path: incremental parsing of a
//! stream (rxml + minidom, as the server reads it from the socket, in 4 KiB
//! reads) and serializing each stanza again for its recipient.
//!
//! `cargo bench -p salesiq-benches --bench stanzas`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use salesiq_xmpp::{StreamEvent, XmlReader};

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='salesiq.zoho.com' version='1.0'>";

/// A thousand chat messages as an operator's client sends them: id, type,
/// a body (a third Japanese) and a chat state.
fn stream(messages: usize) -> Vec<u8> {
    let mut text = String::from(HEADER);
    for n in 0..messages {
        let body = match n % 3 {
            0 => "Thanks for waiting! Your order #1042 ships tomorrow; tracking follows by e-mail.",
            1 => "お問い合わせありがとうございます。確認いたしますので少々お待ちください。",
            _ => "ok",
        };
        text.push_str(&format!(
            "<message id='m{n}' to='demo|bob.ops@salesiq.zoho.com' type='chat'><body>{body}</body>\
             <active xmlns='http://jabber.org/protocol/chatstates'/></message>"
        ));
    }
    text.into_bytes()
}

fn stanzas(c: &mut Criterion) {
    const MESSAGES: usize = 1000;
    let bytes = stream(MESSAGES);
    let mut group = c.benchmark_group("stanzas");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut reader = XmlReader::new(256 * 1024);
            let mut events = Vec::with_capacity(MESSAGES + 1);
            for chunk in bytes.chunks(4096) {
                reader
                    .feed(black_box(chunk), &mut events)
                    .unwrap_or_default();
            }
            assert_eq!(events.len(), MESSAGES + 1);
            events
        })
    });
    group.bench_function("parse + serialize", |b| {
        let mut out = Vec::with_capacity(bytes.len() * 2);
        b.iter(|| {
            let mut reader = XmlReader::new(256 * 1024);
            let mut events = Vec::with_capacity(MESSAGES + 1);
            out.clear();
            for chunk in bytes.chunks(4096) {
                reader
                    .feed(black_box(chunk), &mut events)
                    .unwrap_or_default();
                for event in events.drain(..) {
                    if let StreamEvent::Element(stanza) = event {
                        stanza.write_to(&mut out).unwrap_or_default();
                    }
                }
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, stanzas);
criterion_main!(benches);
