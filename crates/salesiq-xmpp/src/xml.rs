//! Reading the client's XML stream incrementally: rxml's `RawParser` lexes
//! whatever bytes arrived, minidom's `TreeBuilder` assembles them, and a
//! stanza is handed out once its end tag is in, however the bytes were split
//! across reads.

use minidom::Element;
use minidom::tree_builder::TreeBuilder;
use rxml::error::EndOrError;
use rxml::{Parse, RawEvent, RawParser};

use crate::error::StreamErrorCondition;
use crate::ns;

/// What the stream brought.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The opening `<stream:stream>` tag.
    Header(StreamHeader),
    /// A complete top-level element: a stanza or a nonza.
    Element(Element),
    /// `</stream:stream>`.
    End,
}

/// The attributes of a stream header that negotiation looks at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamHeader {
    /// `to`: the domain the client wants.
    pub to: Option<String>,
    /// `version`: must be `1.0`.
    pub version: Option<String>,
    /// `xml:lang`.
    pub lang: Option<String>,
    /// Whether the root is `stream` in the streams namespace.
    pub is_stream: bool,
}

/// What an [`XmlReader`] accepts; anything beyond is refused with
/// `<policy-violation/>` before it costs memory or time. With these bounds
/// every element of a stanza is at most `max_depth` levels deep, so
/// building, cloning, writing and dropping it never recurse deeply, and
/// the cost of reading is linear in the bytes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct XmlLimits {
    /// The largest top-level element (or stream header), in bytes.
    pub max_element_bytes: usize,
    /// How deep elements may nest below the stream element: a stanza is
    /// depth 1, its children depth 2. Default [`XmlLimits::DEFAULT_MAX_DEPTH`].
    pub max_depth: usize,
    /// How many attributes one element may have, namespace declarations
    /// included. Default [`XmlLimits::DEFAULT_MAX_ATTRIBUTES`].
    pub max_attributes: usize,
}

impl XmlLimits {
    /// The default nesting limit: 32. The deepest stanzas real clients send
    /// (a carbon of a forwarded message with a form) stay under 12.
    pub const DEFAULT_MAX_DEPTH: usize = 32;
    /// The default attribute limit per element: 64.
    pub const DEFAULT_MAX_ATTRIBUTES: usize = 64;

    /// Elements of at most `max_element_bytes`, the default depth and
    /// attribute limits.
    pub fn new(max_element_bytes: usize) -> Self {
        Self {
            max_element_bytes,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_attributes: Self::DEFAULT_MAX_ATTRIBUTES,
        }
    }
}

/// An incremental reader for one XML stream (a stream restart after TLS or
/// SASL starts a new one): the parser the server runs on every connection,
/// public for benchmarks and for embedders who relay XMPP themselves.
///
/// ```
/// use salesiq_xmpp::{StreamEvent, XmlReader};
///
/// let mut reader = XmlReader::new(256 * 1024);
/// let mut events = Vec::new();
/// reader.feed(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
///     to='salesiq.zoho.com' version='1.0'><message><bo", &mut events)?;
/// reader.feed(b"dy>hi</body></message>", &mut events)?;
/// assert!(matches!(&events[1], StreamEvent::Element(m) if m.name() == "message"));
/// # Ok::<(), salesiq_xmpp::StreamErrorCondition>(())
/// ```
pub struct XmlReader {
    parser: RawParser,
    tree: TreeBuilder,
    limits: XmlLimits,
    /// Bytes consumed since the last complete top-level element.
    pending_bytes: usize,
    header_seen: bool,
    ended: bool,
    /// The attribute names of the element head being read: rxml's raw
    /// parser leaves duplicate detection to its caller.
    head_attributes: Vec<rxml::RawQName>,
}

impl std::fmt::Debug for XmlReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlReader")
            .field("pending_bytes", &self.pending_bytes)
            .field("header_seen", &self.header_seen)
            .finish_non_exhaustive()
    }
}

impl XmlReader {
    /// A reader refusing any top-level element (or header) larger than
    /// `max_element_bytes`, with the default depth and attribute limits.
    pub fn new(max_element_bytes: usize) -> Self {
        Self::with_limits(XmlLimits::new(max_element_bytes))
    }

    /// A reader with these limits.
    pub fn with_limits(limits: XmlLimits) -> Self {
        Self {
            parser: RawParser::new(),
            tree: TreeBuilder::new(),
            limits,
            pending_bytes: 0,
            header_seen: false,
            ended: false,
            head_attributes: Vec::new(),
        }
    }

    /// Feeds bytes as they arrived and appends what they complete to
    /// `events`. An error is the stream error to close the stream with.
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        events: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamErrorCondition> {
        // One byte may complete several events: parse until rxml asks for
        // more data, not merely until the bytes are used up.
        while !self.ended {
            let before = bytes.len();
            let result = self.parser.parse(&mut bytes, false);
            self.pending_bytes += before - bytes.len();
            if self.pending_bytes > self.limits.max_element_bytes {
                return Err(StreamErrorCondition::PolicyViolation);
            }
            match result {
                Ok(Some(event)) => self.event(event, events)?,
                Ok(None) | Err(EndOrError::NeedMoreData) => break,
                Err(EndOrError::Error(error)) => return Err(condition_of(&error)),
            }
        }
        if self.pending_bytes == 0 {
            // Between stanzas: give back rxml's scratch buffers, which it
            // sizes to the largest token it allows (8 KiB), so that an idle
            // connection does not hold them.
            self.parser.release_temporaries();
        }
        Ok(())
    }

    fn event(
        &mut self,
        event: RawEvent,
        events: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamErrorCondition> {
        let depth = self.tree.depth();
        match &event {
            // Whitespace between stanzas (keep-alives) is dropped rather
            // than piled up as text of the stream element.
            RawEvent::Text(_, text) if depth == 1 => {
                if text.chars().all(|c| c.is_ascii_whitespace()) {
                    self.pending_bytes = 0;
                    return Ok(());
                }
                return Err(StreamErrorCondition::BadFormat);
            }
            // The stream element is depth 0 here, a stanza 1.
            RawEvent::ElementHeadOpen(..) if depth > self.limits.max_depth => {
                return Err(StreamErrorCondition::PolicyViolation);
            }
            RawEvent::ElementHeadOpen(..) => self.head_attributes.clear(),
            RawEvent::Attribute(..) if self.head_attributes.len() >= self.limits.max_attributes => {
                return Err(StreamErrorCondition::PolicyViolation);
            }
            RawEvent::Attribute(_, name, _) => {
                // At most `max_attributes` to compare with: linear per element.
                if self.head_attributes.contains(name) {
                    return Err(StreamErrorCondition::NotWellFormed);
                }
                self.head_attributes.push(name.clone());
            }
            RawEvent::ElementFoot(_) if depth == 1 => {
                self.ended = true;
                events.push(StreamEvent::End);
                return Ok(());
            }
            _ => {}
        }
        let closes_head = matches!(event, RawEvent::ElementHeadClose(_));
        let closes_element = matches!(event, RawEvent::ElementFoot(_));
        self.tree
            .process_event(event)
            .map_err(|_| StreamErrorCondition::NotWellFormed)?;
        if closes_head && !self.header_seen && self.tree.depth() == 1 {
            self.header_seen = true;
            self.pending_bytes = 0;
            let header = self.tree.top().map(header_of).unwrap_or_default();
            events.push(StreamEvent::Header(header));
        } else if closes_element && self.tree.depth() == 1 {
            self.pending_bytes = 0;
            if let Some(element) = self.tree.unshift_child() {
                events.push(StreamEvent::Element(element));
            }
        }
        Ok(())
    }
}

fn header_of(root: &Element) -> StreamHeader {
    StreamHeader {
        to: root.attr("to").map(str::to_owned),
        version: root.attr("version").map(str::to_owned),
        lang: root
            .attr_ns(rxml::Namespace::xml(), "lang")
            .map(str::to_owned),
        is_stream: root.is("stream", ns::STREAM),
    }
}

/// The stream error RFC 6120 (section 4.9.3) names for a parse error.
fn condition_of(error: &rxml::Error) -> StreamErrorCondition {
    use rxml::Error as E;
    match error {
        // rxml words its refusals for humans; these two are size limits
        // of its lexer, every other refusal is a restricted construct.
        E::RestrictedXml(what) if what.contains("too long") || what.contains("long name") => {
            StreamErrorCondition::PolicyViolation
        }
        E::RestrictedXml(_) | E::UndeclaredEntity => StreamErrorCondition::RestrictedXml,
        // `<!` not followed by a comment or CDATA: a DOCTYPE.
        E::InvalidSyntax(what) if what.contains("cdata or comment") => {
            StreamErrorCondition::RestrictedXml
        }
        _ => StreamErrorCondition::NotWellFormed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='salesiq.zoho.com' version='1.0' xml:lang='ja'>";

    fn read(chunks: &[&[u8]]) -> (Vec<StreamEvent>, Result<(), StreamErrorCondition>) {
        let mut reader = XmlReader::new(1024);
        let mut events = Vec::new();
        for chunk in chunks {
            if let Err(condition) = reader.feed(chunk, &mut events) {
                return (events, Err(condition));
            }
        }
        (events, Ok(()))
    }

    fn error_of(body: &str) -> StreamErrorCondition {
        let (_, result) = read(&[HEADER.as_bytes(), body.as_bytes()]);
        result.unwrap_err()
    }

    #[test]
    fn header_then_stanzas_split_anywhere() {
        let whole = format!(
            "{HEADER} <message to='a@b' type='chat'><body>hi &amp; \u{3042}</body></message>\n\
             <presence/></stream:stream>"
        );
        let bytes = whole.as_bytes();
        // Every split point, including inside the multi-byte character.
        for split in 0..bytes.len() {
            let (events, result) = read(&[&bytes[..split], &bytes[split..]]);
            assert_eq!(result, Ok(()), "split at {split}");
            assert_eq!(events.len(), 4, "split at {split}: {events:?}");
            let StreamEvent::Header(header) = &events[0] else {
                panic!()
            };
            assert_eq!(header.to.as_deref(), Some("salesiq.zoho.com"));
            assert_eq!(header.version.as_deref(), Some("1.0"));
            assert_eq!(header.lang.as_deref(), Some("ja"));
            assert!(header.is_stream);
            let StreamEvent::Element(message) = &events[1] else {
                panic!()
            };
            assert!(message.is("message", ns::CLIENT));
            assert_eq!(
                message
                    .get_child("body", ns::CLIENT)
                    .map(Element::text)
                    .as_deref(),
                Some("hi & \u{3042}")
            );
            assert!(matches!(&events[2], StreamEvent::Element(p) if p.is("presence", ns::CLIENT)));
            assert_eq!(events[3], StreamEvent::End);
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let whole = format!("{HEADER}<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>");
        let chunks: Vec<&[u8]> = whole.as_bytes().chunks(1).collect();
        let (events, result) = read(&chunks);
        assert_eq!(result, Ok(()));
        let StreamEvent::Element(iq) = &events[1] else {
            panic!("{events:?}")
        };
        assert!(iq.has_child("ping", "urn:xmpp:ping"));
    }

    #[test]
    fn restricted_constructs() {
        assert_eq!(error_of("<?pi data?>"), StreamErrorCondition::RestrictedXml);
        assert_eq!(error_of("<!-- hi -->"), StreamErrorCondition::RestrictedXml);
        assert_eq!(
            error_of("<message>&custom;</message>"),
            StreamErrorCondition::RestrictedXml
        );
        let (_, dtd) = read(&[b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x/>"]);
        assert_eq!(dtd, Err(StreamErrorCondition::RestrictedXml));
    }

    #[test]
    fn malformed_and_oversized_input() {
        assert_eq!(
            error_of("<message></presence>"),
            StreamErrorCondition::NotWellFormed
        );
        assert_eq!(
            error_of("<message a='1' a='2'/>"),
            StreamErrorCondition::NotWellFormed
        );
        // Not namespace-well-formed is not well-formed (RFC 6120, 4.9.3.13).
        assert_eq!(
            error_of("<x:message/>"),
            StreamErrorCondition::NotWellFormed
        );
        assert_eq!(
            error_of("hello<presence/>"),
            StreamErrorCondition::BadFormat
        );
        let big = format!("<message><body>{}</body></message>", "a".repeat(2000));
        assert_eq!(error_of(&big), StreamErrorCondition::PolicyViolation);
        // The limit is per element: many small ones are fine.
        let many = "<presence/>".repeat(500);
        let (events, result) = read(&[HEADER.as_bytes(), many.as_bytes()]);
        assert_eq!((events.len(), result), (501, Ok(())));
        // Nesting and attributes are bounded (issue 11, findings 1 and 3).
        let mut limited = XmlReader::with_limits(XmlLimits {
            max_element_bytes: 1 << 20,
            max_depth: 3,
            max_attributes: 5, // the header has 5
        });
        let mut events = Vec::new();
        limited.feed(HEADER.as_bytes(), &mut events).unwrap();
        limited
            .feed(
                b"<a x='1' y='2' xmlns:p='u' z='3'><b><c/></b></a>",
                &mut events,
            )
            .unwrap();
        assert_eq!(events.len(), 2, "at the limits: {events:?}");
        assert_eq!(
            limited.feed(b"<a><b><c><d/></c></b></a>", &mut events),
            Err(StreamErrorCondition::PolicyViolation)
        );
        let mut limited = XmlReader::with_limits(XmlLimits {
            max_element_bytes: 1 << 20,
            max_depth: 3,
            max_attributes: 5, // the header has 5
        });
        limited.feed(HEADER.as_bytes(), &mut events).unwrap();
        assert_eq!(
            limited.feed(b"<a x='1' y='2' z='3' w='4' v='5' u='6'/>", &mut events),
            Err(StreamErrorCondition::PolicyViolation)
        );
        // The defaults refuse 33,000 levels in 231 KB, under the size limit.
        let deep = "<a>".repeat(33_000);
        let mut reader = XmlReader::new(256 * 1024);
        reader.feed(HEADER.as_bytes(), &mut events).unwrap();
        assert_eq!(
            reader.feed(deep.as_bytes(), &mut events),
            Err(StreamErrorCondition::PolicyViolation)
        );
        let wide: String = (0..10_000).map(|i| format!(" xmlns:p{i}='u{i}'")).collect();
        let mut reader = XmlReader::new(256 * 1024);
        reader.feed(HEADER.as_bytes(), &mut events).unwrap();
        assert_eq!(
            reader.feed(format!("<a{wide}/>").as_bytes(), &mut events),
            Err(StreamErrorCondition::PolicyViolation)
        );
        // A TLS ClientHello is not XML.
        let (_, tls) = read(&[&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]]);
        assert_eq!(tls, Err(StreamErrorCondition::NotWellFormed));
    }
}
