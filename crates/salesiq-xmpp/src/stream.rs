//! An XML stream over any byte stream: reading events, writing elements,
//! restarting, and closing with a stream error.

use std::collections::VecDeque;

use minidom::Element;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::StreamErrorCondition;
use crate::stanza::to_bytes;
use crate::xml::{StreamEvent, XmlLimits, XmlReader};

/// The byte stream of every authenticated connection, whichever port it
/// came in on: TLS over TCP, or (for the fuzzing entry point) bytes in
/// memory. Nothing past negotiation needs to know which.
pub(crate) type SecureIo = Box<dyn Transport>;

/// What a [`SecureIo`] can be.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + Sync {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Transport for T {}

/// Why a stream ends.
#[derive(Debug)]
pub(crate) enum Closing {
    /// The peer went away (EOF, reset, TLS failure): nothing more to say.
    Gone,
    /// The peer closed its stream with `</stream:stream>`.
    PeerClosed,
    /// We close it with this stream error.
    Error(StreamErrorCondition, Option<String>),
}

impl Closing {
    pub(crate) fn error(condition: StreamErrorCondition) -> Self {
        Self::Error(condition, None)
    }
}

impl From<std::io::Error> for Closing {
    fn from(_: std::io::Error) -> Self {
        Self::Gone
    }
}

/// How long closing a stream may take.
const FINISH_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// What one read takes from the socket (rustls, below, buffers the rest):
/// small, because every connection holds it while idle.
const READ_BUFFER: usize = 2 * 1024;

/// One XML stream in each direction over `io`.
pub(crate) struct XmlStream<S> {
    io: S,
    reader: XmlReader,
    events: VecDeque<StreamEvent>,
    buffer: Box<[u8]>,
    limits: XmlLimits,
    header_sent: bool,
    /// A parse error met after some complete events: raised once those
    /// are handed out.
    fault: Option<StreamErrorCondition>,
}

impl<S> std::fmt::Debug for XmlStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlStream")
            .field("header_sent", &self.header_sent)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> XmlStream<S> {
    pub(crate) fn new(io: S, limits: XmlLimits) -> Self {
        Self {
            io,
            reader: XmlReader::with_limits(limits),
            events: VecDeque::new(),
            buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            limits,
            header_sent: false,
            fault: None,
        }
    }

    /// The next event. Cancel-safe: the only await is the socket read.
    pub(crate) async fn next(&mut self) -> Result<StreamEvent, Closing> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            if let Some(condition) = self.fault {
                return Err(Closing::error(condition));
            }
            let read = self.io.read(&mut self.buffer).await?;
            if read == 0 {
                return Err(Closing::Gone);
            }
            let mut events = Vec::new();
            let bytes = self.buffer.get(..read).unwrap_or_default();
            // What came before a fault is handed out first.
            self.fault = self.reader.feed(bytes, &mut events).err();
            self.events.extend(events);
        }
    }

    /// The next top-level element; the header or the end of the stream
    /// here is a protocol fault or a close.
    pub(crate) async fn next_element(&mut self) -> Result<Element, Closing> {
        match self.next().await? {
            StreamEvent::Element(element) => Ok(element),
            StreamEvent::End => Err(Closing::PeerClosed),
            StreamEvent::Header(_) => Err(Closing::error(StreamErrorCondition::NotWellFormed)),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Closing> {
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Writes a stanza or nonza.
    pub(crate) async fn send(&mut self, element: &Element) -> Result<(), Closing> {
        self.write(&to_bytes(element)).await
    }

    /// Writes `<stream:NAME>children</stream:NAME>` (features, error),
    /// using the `stream` prefix our header declares.
    pub(crate) async fn send_stream_element(
        &mut self,
        name: &str,
        children: &[Element],
    ) -> Result<(), Closing> {
        let mut bytes = format!("<stream:{name}>").into_bytes();
        for child in children {
            bytes.extend(to_bytes(child));
        }
        bytes.extend(format!("</stream:{name}>").into_bytes());
        self.write(&bytes).await
    }

    /// Writes our stream header.
    pub(crate) async fn send_header(&mut self, domain: &str) -> Result<(), Closing> {
        let id: u128 = rand::random();
        let header = format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' id='{id:032x}' from='{}' \
             version='1.0' xml:lang='en'>",
            escape_attribute(domain)
        );
        self.header_sent = true;
        self.write(header.as_bytes()).await
    }

    /// Starts a new stream on the same bytes, after TLS or SASL.
    pub(crate) fn restart(&mut self) {
        self.reader = XmlReader::with_limits(self.limits);
        self.events.clear();
        self.header_sent = false;
        self.fault = None;
    }

    /// Ends the stream as `closing` says, then shuts the socket down;
    /// bounded in time, since a client that reads nothing would block the
    /// last writes forever.
    pub(crate) async fn finish(&mut self, closing: Closing, domain: &str) {
        let gone = matches!(closing, Closing::Gone);
        let _ = tokio::time::timeout(FINISH_GRACE, async {
            let _ = self.try_finish(closing, domain).await;
            let _ = self.io.shutdown().await;
        })
        .await;
        if !gone {
            self.linger().await;
        }
    }

    /// Reads and drops what the client still sends, until it closes too
    /// (RFC 6120, 4.4), for a moment and a few hundred KiB at most:
    /// closing a socket with unread bytes resets the connection, and the
    /// client would lose the stream error it was just sent.
    async fn linger(&mut self) {
        const LINGER: std::time::Duration = std::time::Duration::from_secs(1);
        const MAX_DRAINED: usize = 512 * 1024;
        let mut drained = 0;
        let _ = tokio::time::timeout(LINGER, async {
            while drained < MAX_DRAINED {
                match self.io.read(&mut self.buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        })
        .await;
    }

    async fn try_finish(&mut self, closing: Closing, domain: &str) -> Result<(), Closing> {
        match closing {
            Closing::Gone => Ok(()),
            Closing::PeerClosed => self.write(b"</stream:stream>").await,
            Closing::Error(condition, text) => {
                if !self.header_sent {
                    self.send_header(domain).await?;
                }
                self.send_stream_element("error", &condition.children(text.as_deref()))
                    .await?;
                self.write(b"</stream:stream>").await
            }
        }
    }

    /// The byte stream, for the TLS handshake after `<proceed/>`.
    pub(crate) fn into_inner(self) -> S {
        self.io
    }
}

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('\'', "&apos;")
        .replace('<', "&lt;")
}
