//! XEP-0198 stream management: acknowledgements and resumption, so that a
//! mobile client whose socket drops loses nothing.

use std::collections::VecDeque;

use minidom::Element;

use crate::stanza::name;

/// The namespace of XEP-0198 version 3.
pub(crate) const NS: &str = "urn:xmpp:sm:3";

/// The counters and the unacknowledged stanzas of one session.
#[derive(Debug)]
pub(crate) struct StreamManagement {
    /// The resumption id, if the client asked for resumption.
    pub(crate) id: Option<String>,
    /// Stanzas received from the client and handled (`h`).
    pub(crate) handled: u32,
    /// The sequence number of the last stanza queued for the client.
    sent: u32,
    /// Sent (or queued while detached) and not yet acknowledged.
    unacked: VecDeque<(u32, Element)>,
    /// Whether an `<r/>` is outstanding.
    pub(crate) requested: bool,
}

impl StreamManagement {
    pub(crate) fn new(id: Option<String>) -> Self {
        Self {
            id,
            handled: 0,
            sent: 0,
            unacked: VecDeque::new(),
            requested: false,
        }
    }

    /// Counts a stanza sent to (or queued for) the client; whether more
    /// than `max` now wait for an acknowledgement.
    pub(crate) fn push(&mut self, stanza: Element, max: usize) -> bool {
        self.sent = self.sent.wrapping_add(1);
        self.unacked.push_back((self.sent, stanza));
        self.unacked.len() > max
    }

    /// The client acknowledged everything up to `h` (counters wrap at
    /// 2^32, XEP-0198 section 4).
    pub(crate) fn ack(&mut self, h: u32) {
        while let Some((seq, _)) = self.unacked.front() {
            if h.wrapping_sub(*seq) < (1 << 31) {
                self.unacked.pop_front();
            } else {
                break;
            }
        }
    }

    /// What the client has not acknowledged, oldest first.
    pub(crate) fn unacked(&self) -> impl Iterator<Item = &Element> {
        self.unacked.iter().map(|(_, stanza)| stanza)
    }

    /// Takes what the client never acknowledged, when giving up on it.
    pub(crate) fn take_unacked(&mut self) -> Vec<Element> {
        self.unacked.drain(..).map(|(_, stanza)| stanza).collect()
    }
}

/// `<a h='..'/>`.
pub(crate) fn answer(h: u32) -> Element {
    Element::builder("a", NS)
        .attr(name("h"), h.to_string())
        .build()
}

/// `<r/>`.
pub(crate) fn request() -> Element {
    Element::bare("r", NS)
}

/// The `h` attribute of `<a/>`, `<resume/>`.
pub(crate) fn h_of(element: &Element) -> Option<u32> {
    element.attr("h")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: u32) -> Element {
        Element::builder("message", "jabber:client")
            .attr(name("id"), n.to_string())
            .build()
    }

    #[test]
    fn acks_drop_what_was_received_even_across_the_wrap() {
        let mut sm = StreamManagement::new(None);
        sm.sent = u32::MAX - 1;
        for n in 0..4 {
            assert!(!sm.push(body(n), 4));
        }
        assert!(sm.push(body(4), 4), "a fifth is over a limit of four");
        sm.take_unacked();
        sm.sent = u32::MAX - 1;
        for n in 0..4 {
            sm.push(body(n), 4);
        }
        // Sequence numbers u32::MAX, 0, 1, 2.
        sm.ack(u32::MAX);
        assert_eq!(sm.unacked().count(), 3);
        sm.ack(1);
        let left: Vec<_> = sm
            .unacked()
            .map(|e| e.attr("id").unwrap_or_default().to_owned())
            .collect();
        assert_eq!(left, ["3"]);
        sm.ack(0); // an old ack changes nothing
        assert_eq!(sm.unacked().count(), 1);
        assert_eq!(sm.take_unacked().len(), 1);
        assert_eq!(h_of(&answer(7)), Some(7));
    }
}
