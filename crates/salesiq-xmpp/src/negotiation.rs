//! From TCP accept to a bound resource (RFC 6120, sections 4 to 7): stream
//! headers, STARTTLS, SASL, resource binding.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use minidom::Element;
use salesiq_session::Account;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::error::{StanzaErrorCondition, StreamErrorCondition};
use crate::ns;
use crate::router::{Mailbox, Outbound};
use crate::sasl::{SaslExchange, SaslFailure, SaslReply, mechanisms, throttle_key};
use crate::session::Session;
use crate::session::Stream;
use crate::shared::Shared;
use crate::sm;
use crate::stanza::{error_reply, iq_result, valid_resource};
use crate::stream::{Closing, SecureIo, XmlStream};
use crate::xml::StreamEvent;

/// The first byte of a TLS record carrying a handshake (a ClientHello).
const TLS_HANDSHAKE: u8 = 0x16;

/// Failed SASL attempts on one stream before it is closed (RFC 6120,
/// section 6.4.5: at least 2, at most 5).
const SASL_RETRIES: u32 = 3;

/// Runs a negotiation step until it ends, the negotiation deadline passes
/// (`<connection-timeout/>`) or the server shuts down
/// (`<system-shutdown/>`).
async fn bounded<T>(
    shared: &Shared,
    deadline: Instant,
    step: impl Future<Output = Result<T, Closing>>,
) -> Result<T, Closing> {
    let mut shutdown = shared.shutdown.clone();
    tokio::select! {
        result = timeout_at(deadline, step) => {
            result.unwrap_or_else(|_| Err(Closing::error(StreamErrorCondition::ConnectionTimeout)))
        }
        _ = shutdown.wait_for(|stopping| *stopping) => {
            Err(Closing::error(StreamErrorCondition::SystemShutdown))
        }
    }
}

/// Serves a connection to the STARTTLS port.
pub(crate) async fn serve_starttls(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let deadline = Instant::now() + shared.config.negotiation_timeout;
    // Boxed, as every negotiation step: the connection's task then keeps
    // none of their state (here a plain-text stream) once the session runs.
    let Some(tls) = Box::pin(plain_then_tls(&shared, tcp, deadline)).await else {
        return;
    };
    let stream = Box::new(XmlStream::new(tls, shared.config.xml_limits()));
    secured(shared, stream, peer, deadline).await;
}

/// The plain-text part of a STARTTLS connection, up to the TLS handshake.
async fn plain_then_tls(shared: &Shared, tcp: TcpStream, deadline: Instant) -> Option<SecureIo> {
    let domain = &shared.config.domain;
    // A client trying direct TLS here (slixmpp does, first) gets the
    // connection closed, without XML it would not understand.
    let mut first = [0u8; 1];
    let peeked = bounded(shared, deadline, async { Ok(tcp.peek(&mut first).await?) }).await;
    match peeked {
        Ok(1) if first[0] != TLS_HANDSHAKE => {}
        Ok(_) | Err(Closing::Gone) => return None,
        Err(closing) => {
            XmlStream::new(tcp, crate::xml::XmlLimits::new(0))
                .finish(closing, domain)
                .await;
            return None;
        }
    }
    let tcp = until_starttls(shared, tcp, deadline).await?;
    let tls = bounded(shared, deadline, async {
        Ok(shared.acceptor.accept(tcp).await?)
    });
    Some(Box::new(tls.await.ok()?))
}

/// The plain-text stream up to STARTTLS's `<proceed/>`: the bytes to
/// hand to TLS, or `None` when the stream was closed.
pub(crate) async fn until_starttls<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    io: S,
    deadline: Instant,
) -> Option<S> {
    let mut plain = XmlStream::new(io, shared.config.xml_limits());
    if let Err(closing) = bounded(shared, deadline, starttls(shared, &mut plain)).await {
        plain.finish(closing, &shared.config.domain).await;
        return None;
    }
    Some(plain.into_inner())
}

/// Serves a connection to the direct-TLS port (XEP-0368).
pub(crate) async fn serve_direct_tls(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let deadline = Instant::now() + shared.config.negotiation_timeout;
    // Boxed, as every negotiation step: the connection's task then keeps
    // none of their state once the session runs.
    let accepted = Box::pin(bounded(&shared, deadline, async {
        Ok(shared.acceptor.accept(tcp).await?)
    }));
    let Ok(tls) = accepted.await else { return };
    let stream = Box::new(XmlStream::new(
        Box::new(tls) as SecureIo,
        shared.config.xml_limits(),
    ));
    secured(shared, stream, peer, deadline).await;
}

/// Authentication and binding (or resumption) over TLS, then the session.
///
/// The stream arrives boxed and settling is boxed: the connection's task
/// then holds, for its whole life, only the session's wait (see
/// `Session::run`), not the negotiation's state nor a copy of the stream.
pub(crate) async fn secured(
    shared: Arc<Shared>,
    stream: Box<Stream>,
    peer: SocketAddr,
    deadline: Instant,
) {
    if let Some((session, stream)) = Box::pin(settle(shared, stream, peer, deadline)).await {
        use tracing::Instrument as _;
        let span = tracing::info_span!("operator", jid = %session.full_jid(), %peer);
        session.run(stream).instrument(span).await;
    }
}

/// Authenticates and binds: a new session to run, or `None` when the
/// stream was closed or handed to a parked session (resumption).
async fn settle(
    shared: Arc<Shared>,
    mut stream: Box<Stream>,
    peer: SocketAddr,
    deadline: Instant,
) -> Option<(Box<Session>, Box<Stream>)> {
    let bound = bounded(&shared, deadline, async {
        let account = authenticate(&shared, &mut stream, peer).await?;
        stream.restart();
        bind(&shared, &mut stream, account).await
    })
    .await;
    match bound {
        Ok(Bound::Session(session)) => return Some((session, stream)),
        Ok(Bound::Resume(mailbox, h)) => {
            // The parked session takes the stream over; if it just ended,
            // the client must start afresh.
            if let Err(Outbound::Resume(mut stream, _)) = mailbox.send(Outbound::Resume(stream, h))
            {
                let failed = Element::builder("failed", sm::NS)
                    .append(Element::bare("item-not-found", ns::STANZA_ERRORS))
                    .build();
                let _ = stream.send(&failed).await;
                stream
                    .finish(Closing::PeerClosed, &shared.config.domain)
                    .await;
            }
        }
        Err(closing) => stream.finish(closing, &shared.config.domain).await,
    }
    None
}

/// Reads the client's stream header and answers with ours.
async fn open<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    stream: &mut XmlStream<S>,
) -> Result<(), Closing> {
    let header = match stream.next().await? {
        StreamEvent::Header(header) => header,
        _ => return Err(Closing::error(StreamErrorCondition::NotWellFormed)),
    };
    let domain = &shared.config.domain;
    stream.send_header(domain).await?;
    if !header.is_stream {
        return Err(Closing::error(StreamErrorCondition::InvalidNamespace));
    }
    if header.version.as_deref() != Some("1.0") {
        return Err(Closing::error(StreamErrorCondition::UnsupportedVersion));
    }
    match header.to.as_deref() {
        Some(to) if to.trim_end_matches('.').eq_ignore_ascii_case(domain) => Ok(()),
        Some(to) => Err(Closing::Error(
            StreamErrorCondition::HostUnknown,
            Some(format!("this server is {domain}, not {to}")),
        )),
        None => Err(Closing::Error(
            StreamErrorCondition::HostUnknown,
            Some(format!("say to='{domain}' in the stream header")),
        )),
    }
}

/// A stanza before authentication closes the stream (RFC 6120, 4.9.3.12);
/// any other unexpected element is unsupported.
fn unexpected(element: &Element) -> Closing {
    let is_stanza =
        element.ns() == ns::CLIENT && matches!(element.name(), "message" | "presence" | "iq");
    if is_stanza {
        Closing::Error(
            StreamErrorCondition::NotAuthorized,
            Some("log in first".into()),
        )
    } else {
        Closing::error(StreamErrorCondition::UnsupportedStanzaType)
    }
}

/// The plaintext stream: only STARTTLS may happen (it is required).
async fn starttls<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    stream: &mut XmlStream<S>,
) -> Result<(), Closing> {
    open(shared, stream).await?;
    let required = Element::builder("starttls", ns::TLS)
        .append(Element::bare("required", ns::TLS))
        .build();
    stream.send_stream_element("features", &[required]).await?;
    loop {
        let element = stream.next_element().await?;
        if element.is("starttls", ns::TLS) {
            return stream.send(&Element::bare("proceed", ns::TLS)).await;
        }
        if element.is("auth", ns::SASL) {
            // RFC 6120, 6.4.5: no credentials on an unencrypted stream.
            stream
                .send(&sasl_failure(
                    SaslFailure::EncryptionRequired,
                    Some("use STARTTLS first"),
                ))
                .await?;
            continue;
        }
        return Err(unexpected(&element));
    }
}

fn sasl_failure(failure: SaslFailure, text: Option<&str>) -> Element {
    let mut element =
        Element::builder("failure", ns::SASL).append(Element::bare(failure.as_str(), ns::SASL));
    if let Some(text) = text {
        element = element.append(Element::builder("text", ns::SASL).append(text).build());
    }
    element.build()
}

fn sasl_text(element: &Element) -> Option<String> {
    Some(element.text()).filter(|text| !text.is_empty())
}

/// SASL over TLS; returns the authenticated account.
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    stream: &mut XmlStream<S>,
    peer: SocketAddr,
) -> Result<Account, Closing> {
    open(shared, stream).await?;
    let offered = mechanisms(shared.authenticator.as_ref());
    let list = offered.iter().map(|name| {
        Element::builder("mechanism", ns::SASL)
            .append(*name)
            .build()
    });
    let mechanisms = Element::builder("mechanisms", ns::SASL)
        .append_all(list)
        .build();
    stream
        .send_stream_element("features", &[mechanisms])
        .await?;
    let mut failures = 0;
    // The mechanisms each login already failed with on this stream: a
    // client that tries its mechanisms in turn with one wrong password
    // (slixmpp tries three) made one mistake, not three.
    let mut tried: HashMap<String, HashSet<String>> = HashMap::new();
    loop {
        let element = stream.next_element().await?;
        if !element.is("auth", ns::SASL) {
            return Err(unexpected(&element));
        }
        let mechanism = element.attr("mechanism").unwrap_or_default();
        let initial = sasl_text(&element);
        let key = throttle_key(&shared.config.domain, mechanism, initial.as_deref());
        let Some(check) = shared.throttle.begin(peer.ip(), &key).await else {
            let text = "too many failed logins for this account from your address; try again later";
            stream
                .send(&sasl_failure(SaslFailure::TemporaryAuthFailure, Some(text)))
                .await?;
            // A stream that keeps trying while throttled is closed too.
            failures += 1;
            if failures >= SASL_RETRIES {
                return Err(Closing::error(StreamErrorCondition::NotAuthorized));
            }
            continue;
        };
        let exchange = SaslExchange::start(
            mechanism,
            shared.authenticator.clone(),
            &shared.config.domain,
            shared.secret,
        );
        let mut exchange = match exchange {
            Ok(exchange) => exchange,
            Err(failure) => {
                stream.send(&sasl_failure(failure, None)).await?;
                continue;
            }
        };
        let mut reply = exchange.step(initial.as_deref()).await;
        let failure = loop {
            match reply {
                SaslReply::Challenge(data) => {
                    stream
                        .send(&Element::builder("challenge", ns::SASL).append(data).build())
                        .await?;
                    let response = stream.next_element().await?;
                    if response.is("abort", ns::SASL) {
                        break (SaslFailure::Aborted, None);
                    }
                    if !response.is("response", ns::SASL) {
                        return Err(unexpected(&response));
                    }
                    reply = exchange.step(Some(&response.text())).await;
                }
                SaslReply::Success { account, .. } if account.username.is_none() => {
                    let text = format!(
                        "the account {} has no username yet: create one on the Jabber settings page, \
                         then sign in as portal|username@{}",
                        account.email, shared.config.domain
                    );
                    break (SaslFailure::NotAuthorized, Some(text));
                }
                SaslReply::Success {
                    account,
                    additional_data,
                } => {
                    let mut success = Element::builder("success", ns::SASL);
                    if let Some(data) = additional_data {
                        success = success.append(data);
                    }
                    stream.send(&success.build()).await?;
                    return Ok(account);
                }
                SaslReply::Failure(failure, text) => {
                    let mechanisms = tried.entry(key.clone()).or_default();
                    let repeated = mechanisms.is_empty() || mechanisms.contains(mechanism);
                    if failure == SaslFailure::NotAuthorized && repeated {
                        check.failed();
                    }
                    mechanisms.insert(mechanism.to_owned());
                    break (failure, text);
                }
            }
        };
        stream
            .send(&sasl_failure(failure.0, failure.1.as_deref()))
            .await?;
        failures += 1;
        if failures >= SASL_RETRIES {
            return Err(Closing::error(StreamErrorCondition::NotAuthorized));
        }
    }
}

/// How negotiation ends.
enum Bound {
    /// A new session on a bound resource.
    Session(Box<Session>),
    /// A stream management resumption: the stream goes to the session
    /// behind this mailbox, whose client had received `h` stanzas.
    Resume(Mailbox, u32),
}

/// Resource binding (RFC 6120, section 7), or resumption of a session
/// whose connection dropped (XEP-0198).
async fn bind<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    stream: &mut XmlStream<S>,
    account: Account,
) -> Result<Bound, Closing> {
    open(shared, stream).await?;
    let session = Element::builder("session", ns::SESSION)
        .append(Element::bare("optional", ns::SESSION))
        .build();
    let features = [
        Element::bare("bind", ns::BIND),
        session,
        Element::bare("sm", sm::NS),
        crate::disco::caps_element(),
    ];
    stream.send_stream_element("features", &features).await?;
    let bare = format!(
        "{}|{}@{}",
        account.portal,
        account.username.as_deref().unwrap_or_default(),
        shared.config.domain
    );
    loop {
        let element = stream.next_element().await?;
        if element.is("resume", sm::NS) {
            let previd = element.attr("previd").unwrap_or_default();
            let found = shared
                .resumable
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(previd)
                .cloned();
            match (found, sm::h_of(&element)) {
                (Some((owner, mailbox)), Some(h)) if owner == bare => {
                    return Ok(Bound::Resume(mailbox, h));
                }
                _ => {
                    let failed = Element::builder("failed", sm::NS)
                        .append(Element::bare("item-not-found", ns::STANZA_ERRORS))
                        .build();
                    stream.send(&failed).await?;
                    continue;
                }
            }
        }
        let is_iq = element.is("iq", ns::CLIENT);
        let Some(request) = element
            .get_child("bind", ns::BIND)
            .filter(|_| is_iq && element.attr("type") == Some("set"))
        else {
            if is_iq {
                stream
                    .send(&error_reply(&element, StanzaErrorCondition::NotAllowed))
                    .await?;
                continue;
            }
            return Err(unexpected(&element));
        };
        let wanted = request
            .get_child("resource", ns::BIND)
            .map(|r| r.text().trim().to_owned());
        let resource = match wanted.filter(|r| !r.is_empty()) {
            Some(resource) if valid_resource(&resource) => resource,
            Some(_) => {
                stream
                    .send(&error_reply(&element, StanzaErrorCondition::BadRequest))
                    .await?;
                continue;
            }
            None => format!("salesiq-{:016x}", rand::random::<u64>()),
        };
        let (mailbox, inbox) = crate::router::mailbox(shared.config.max_queued_stanzas);
        let connection = shared.next_connection();
        if let Some(replaced) = shared
            .router
            .bind(&bare, &resource, connection, mailbox.clone())
        {
            replace(&replaced);
        }
        let full = format!("{bare}/{resource}");
        let jid = Element::builder("jid", ns::BIND)
            .append(full.as_str())
            .build();
        let bind = Element::builder("bind", ns::BIND).append(jid).build();
        let result = iq_result(&element, Some(bind));
        let session = Session::new(
            shared.clone(),
            account,
            bare,
            resource,
            connection,
            mailbox,
            inbox,
        )
        .await;
        stream.send(&result).await?;
        return Ok(Bound::Session(Box::new(session)));
    }
}

fn replace(old: &Mailbox) {
    let text = Some("you logged in again with the same resource elsewhere".to_owned());
    let _ = old.send(Outbound::Close(StreamErrorCondition::Conflict, text));
}
