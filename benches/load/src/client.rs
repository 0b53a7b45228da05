//! A small XMPP client for load: TLS (STARTTLS or direct), SASL PLAIN or
//! SCRAM-SHA-1 (the `sasl` crate does the SCRAM maths), bind, presence,
//! then chat messages.
//!
//! It reads the server by looking for the few markers it needs rather
//! than parsing XML: a load generator must cost the machine far less than
//! the server it measures. It is written for the three servers measured
//! here, not as a general client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sasl::client::Mechanism;
use sasl::client::mechanisms::{Plain, Scram};
use sasl::common::ChannelBinding;
use sasl::common::scram::Sha1;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig};

/// How long any negotiation step may take.
const STEP: Duration = Duration::from_secs(60);

/// Where and how to connect.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) direct_tls: bool,
    pub(crate) domain: String,
    pub(crate) tls: Arc<ClientConfig>,
    pub(crate) scram: bool,
}

impl Target {
    /// From `--addr`, `--direct`, `--domain` and `--ca` (the pinned
    /// certificate); SASL SCRAM-SHA-1 when `scram`, else PLAIN.
    pub(crate) fn from_args(args: &crate::args::Args, scram: bool) -> Result<Self, String> {
        let ca: std::path::PathBuf = args.need("ca")?;
        Ok(Self {
            addr: args.need("addr")?,
            direct_tls: args.flag("direct"),
            domain: args.text("domain", "load.test"),
            tls: trusting(&ca)?,
            scram,
        })
    }
}

/// A TLS configuration that accepts exactly the certificate in the PEM
/// file `pinned` (a self-signed one, as all three servers use here), and
/// checks the handshake signatures as usual.
pub(crate) fn trusting(pinned: &std::path::Path) -> Result<Arc<ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let certificate =
        CertificateDer::from_pem_file(pinned).map_err(|e| format!("{}: {e}", pinned.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        certificate,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Certificate pinning.
#[derive(Debug)]
struct Pinned {
    certificate: rustls::pki_types::CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the pinned certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A logged-in client.
pub(crate) struct Session {
    pub(crate) stream: TlsStream<TcpStream>,
    /// The full JID the server bound.
    pub(crate) jid: String,
}

/// Bytes read, searched for markers.
struct Reader {
    buffer: Vec<u8>,
}

impl Reader {
    fn new() -> Self {
        Self {
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Reads until `done` finds what it wants in the text so far, and
    /// returns that text; the buffer is then emptied.
    async fn until<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        what: &str,
        done: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let read = async {
            loop {
                let text = String::from_utf8_lossy(&self.buffer);
                if text.contains("<stream:error") || text.contains("<failure") {
                    return Err(format!("waiting for {what}: {text}"));
                }
                if done(&text) {
                    let text = text.into_owned();
                    self.buffer.clear();
                    return Ok(text);
                }
                let mut chunk = [0u8; 4096];
                let n = io.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err(format!("closed while waiting for {what}: {text}"));
                }
                self.buffer
                    .extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
        };
        tokio::time::timeout(STEP, read)
            .await
            .map_err(|_| format!("timed out waiting for {what}"))?
    }
}

fn features_done(text: &str) -> bool {
    text.contains("</stream:features>") || text.contains("<stream:features/>")
}

fn header(domain: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' to='{domain}' version='1.0'>"
    )
}

async fn write<S: AsyncWrite + Unpin>(io: &mut S, text: &str) -> Result<(), String> {
    io.write_all(text.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    io.flush().await.map_err(|e| e.to_string())
}

/// The text between `<tag ...>` and `</tag>`.
fn inner<'t>(text: &'t str, tag: &str) -> Option<&'t str> {
    let start = text.find(&format!("<{tag}"))?;
    let rest = text.get(start..)?;
    let open_end = rest.find('>')?;
    if rest.get(..open_end)?.ends_with('/') {
        return Some("");
    }
    let body = rest.get(open_end + 1..)?;
    let close = body.find(&format!("</{tag}>"))?;
    body.get(..close)
}

/// Logs every one of `users` in, `concurrency` at a time, user `i` at
/// `targets[i % targets.len()]` (with two nodes, each pair's users on
/// different ones): the sessions in the order of `users`, and each
/// login's time in microseconds.
pub(crate) async fn login_all(
    targets: &[Target],
    users: Vec<String>,
    password: &str,
    concurrency: usize,
) -> Result<(Vec<Session>, Vec<u32>), String> {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut logins = tokio::task::JoinSet::new();
    let count = users.len();
    for (i, user) in users.into_iter().enumerate() {
        let target = targets
            .get(i % targets.len().max(1))
            .cloned()
            .ok_or("no target")?;
        let (password, limit) = (password.to_owned(), limit.clone());
        logins.spawn(async move {
            let _permit = limit.acquire_owned().await.map_err(|e| e.to_string())?;
            let began = std::time::Instant::now();
            let session = login(&target, &user, &password)
                .await
                .map_err(|e| format!("{user}: {e}"))?;
            let took = u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX);
            Ok::<_, String>((i, session, took))
        });
    }
    let mut sessions: Vec<Option<Session>> = (0..count).map(|_| None).collect();
    let mut times = Vec::with_capacity(count);
    while let Some(done) = logins.join_next().await {
        let (i, session, took) = done.map_err(|e| e.to_string())??;
        if let Some(slot) = sessions.get_mut(i) {
            *slot = Some(session);
        }
        times.push(took);
    }
    Ok((sessions.into_iter().flatten().collect(), times))
}

/// Connects, secures, logs in as `user` (the localpart), binds and sends
/// initial presence.
pub(crate) async fn login(target: &Target, user: &str, password: &str) -> Result<Session, String> {
    let tcp = TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut tcp = tcp;
    let mut reader = Reader::new();
    if !target.direct_tls {
        write(&mut tcp, &header(&target.domain)).await?;
        reader.until(&mut tcp, "features", features_done).await?;
        write(
            &mut tcp,
            "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        )
        .await?;
        reader
            .until(&mut tcp, "proceed", |t| t.contains("<proceed"))
            .await?;
    }
    let name = ServerName::try_from(target.domain.clone()).map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(target.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;

    write(&mut tls, &header(&target.domain)).await?;
    reader.until(&mut tls, "features", features_done).await?;
    authenticate(&mut tls, &mut reader, target, user, password).await?;

    write(&mut tls, &header(&target.domain)).await?;
    let features = reader.until(&mut tls, "features", features_done).await?;
    write(
        &mut tls,
        "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
         <resource>load</resource></bind></iq>",
    )
    .await?;
    let bound = reader
        .until(&mut tls, "bind result", |t| t.contains("</iq>"))
        .await?;
    let jid = inner(&bound, "jid")
        .ok_or_else(|| format!("bind: {bound}"))?
        .to_owned();
    if features.contains("urn:ietf:params:xml:ns:xmpp-session") && !features.contains("<optional") {
        write(
            &mut tls,
            "<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
        )
        .await?;
        reader
            .until(&mut tls, "session result", |t| t.contains("sess1"))
            .await?;
    }
    write(&mut tls, "<presence/>").await?;
    Ok(Session { stream: tls, jid })
}

async fn authenticate(
    tls: &mut TlsStream<TcpStream>,
    reader: &mut Reader,
    target: &Target,
    user: &str,
    password: &str,
) -> Result<(), String> {
    const NS: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
    let sasl_error = |e: sasl::client::MechanismError| format!("SASL: {e}");
    if !target.scram {
        let mut plain = Plain::new(user, password);
        let auth = BASE64.encode(plain.initial());
        write(
            tls,
            &format!("<auth xmlns='{NS}' mechanism='PLAIN'>{auth}</auth>"),
        )
        .await?;
        reader
            .until(tls, "success", |t| t.contains("<success"))
            .await?;
        return Ok(());
    }
    let mut scram =
        Scram::<Sha1>::new(user, password, ChannelBinding::None).map_err(|e| format!("{e:?}"))?;
    let first = BASE64.encode(scram.initial());
    write(
        tls,
        &format!("<auth xmlns='{NS}' mechanism='SCRAM-SHA-1'>{first}</auth>"),
    )
    .await?;
    let challenge = reader
        .until(tls, "challenge", |t| t.contains("</challenge>"))
        .await?;
    let challenge = BASE64
        .decode(inner(&challenge, "challenge").unwrap_or_default().trim())
        .map_err(|e| e.to_string())?;
    let response = BASE64.encode(scram.response(&challenge).map_err(sasl_error)?);
    write(
        tls,
        &format!("<response xmlns='{NS}'>{response}</response>"),
    )
    .await?;
    let success = reader
        .until(tls, "success", |t| {
            t.contains("</success>") || t.contains("<success") && t.contains("/>")
        })
        .await?;
    let data = BASE64
        .decode(inner(&success, "success").unwrap_or_default().trim())
        .map_err(|e| e.to_string())?;
    scram.success(&data).map_err(sasl_error)
}

/// The send time in a load line (`{sender} {seq} {micros}`).
pub(crate) fn sent_at(text: &str) -> Option<u64> {
    text.split(' ').nth(2)?.parse().ok()
}

/// A chat message to `to` whose body carries the sender's index, a
/// sequence number and the send time in microseconds since the run began.
pub(crate) fn message(to: &str, from_index: usize, seq: u64, micros: u64) -> String {
    format!(
        "<message to='{to}' type='chat' id='m{seq}'><body>{from_index} {seq} {micros}</body></message>"
    )
}

/// Finds the complete messages in `buffer`, calls `each` with the send
/// time of each, and drops what was consumed. Anything that is not a
/// `<message>` (presence, iq) is skipped.
pub(crate) fn drain_messages(buffer: &mut Vec<u8>, mut each: impl FnMut(u64)) {
    drain(buffer, |stanza| {
        if let Some(micros) = body(stanza).and_then(sent_at) {
            each(micros);
        }
    });
}

/// Like [`drain_messages`], with each message's sender and body text.
pub(crate) fn drain_stanzas(buffer: &mut Vec<u8>, mut each: impl FnMut(&str, &str)) {
    drain(buffer, |stanza| {
        if let (Some(from), Some(body)) = (attribute(stanza, "from"), body(stanza)) {
            each(from, body);
        }
    });
}

/// Calls `each` with every complete `<message>...</message>` in `buffer`.
fn drain(buffer: &mut Vec<u8>, mut each: impl FnMut(&str)) {
    let mut consumed = 0;
    loop {
        let rest = buffer.get(consumed..).unwrap_or_default();
        let Some(start) = find(rest, b"<message") else {
            // Keep a tail that may be the start of a split marker.
            consumed = buffer.len().saturating_sub(8).max(consumed);
            break;
        };
        let Some(end) = find(rest.get(start..).unwrap_or_default(), b"</message>") else {
            consumed += start;
            break;
        };
        if let Ok(stanza) = std::str::from_utf8(rest.get(start..start + end).unwrap_or_default()) {
            each(stanza);
        }
        consumed += start + end + b"</message>".len();
    }
    buffer.drain(..consumed.min(buffer.len()));
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The body text (still escaped) of a message.
fn body(stanza: &str) -> Option<&str> {
    inner(stanza, "body")
}

/// An attribute of the stanza's start tag, in either kind of quotes.
fn attribute<'s>(stanza: &'s str, name: &str) -> Option<&'s str> {
    let tag = stanza.get(..stanza.find('>')?)?;
    for quote in ['\'', '"'] {
        let marker = format!(" {name}={quote}");
        if let Some(at) = tag.find(&marker) {
            let value = tag.get(at + marker.len()..)?;
            return value.get(..value.find(quote)?);
        }
    }
    None
}

/// A chat message with `text` (escaped here) to `to` (already escaped,
/// as it came from an attribute).
pub(crate) fn chat(to: &str, text: &str) -> String {
    let text = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!("<message to='{to}' type='chat'><body>{text}</body></message>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_found_across_reads_and_among_other_stanzas() {
        let one = message("b@x/load", 0, 1, 111);
        let two = message("b@x/load", 0, 2, 222);
        let all = format!("<presence from='a@x'/>{one}<iq type='get' id='p'/>{two}<mess");
        let mut buffer = Vec::new();
        let mut seen = Vec::new();
        for piece in all.as_bytes().chunks(7) {
            buffer.extend_from_slice(piece);
            drain_messages(&mut buffer, |t| seen.push(t));
        }
        assert_eq!(seen, [111, 222]);
        assert!(buffer.len() <= 8, "{:?}", String::from_utf8_lossy(&buffer));
    }

    #[test]
    fn senders_and_bodies() {
        let mut buffer =
            b"<message from=\"p0|visitor-1@load.test\" type='chat'><body>Reply y to accept</body></message>"
                .to_vec();
        let mut seen = Vec::new();
        drain_stanzas(&mut buffer, |from, body| {
            seen.push((from.to_owned(), body.to_owned()))
        });
        assert_eq!(
            seen,
            [(
                "p0|visitor-1@load.test".to_owned(),
                "Reply y to accept".to_owned()
            )]
        );
    }

    #[test]
    fn inner_text() {
        assert_eq!(
            inner("<iq><bind xmlns='x'><jid>a@b/c</jid></bind></iq>", "jid"),
            Some("a@b/c")
        );
        assert_eq!(inner("<success xmlns='x'/>", "success"), Some(""));
    }
}
