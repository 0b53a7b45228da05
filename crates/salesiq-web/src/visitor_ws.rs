//! The visitor's WebSocket API: `GET /ws/visitor?portal=demo` upgraded to
//! a WebSocket carrying JSON frames, mapped onto the [`Gateway`]'s visitor
//! API.
//!
//! Visitor to server: `{"type":"start","name","email","question","department"}`
//! (first, once; an optional `"page"` names the page the chat starts on),
//! or instead `{"type":"resume","token","after"}`; then
//! `{"type":"message","text"}`, `{"type":"typing","state":"composing"|"paused"}`,
//! `{"type":"page","url"}`, `{"type":"leave"}`.
//!
//! Server to visitor: `{"type":"session","resume","expires_in"}` right
//! after a `start` is accepted, `{"type":"resumed"}` after a `resume`,
//! `{"type":"queued","position"}` (1 = next; sent at the start, on a
//! resume and whenever the place changes), `{"type":"joined","operator","seq"}`,
//! `{"type":"message","from","text","seq"}`, `{"type":"typing","from","state"}`
//! (`state` one of `composing`, `paused`, `active`, `inactive`, `gone`),
//! `{"type":"push","url","seq"}`, `{"type":"ended","reason","seq"}`,
//! `{"type":"error","message"}`, `{"type":"offline","message"}` (instead
//! of `session` when nobody takes chats or it is outside the department's
//! hours: a `{"type":"leave_message","name","email","text"}` may follow,
//! answered `{"type":"message_left"}`). During the chat,
//! `{"type":"transcript","email"}` mails it, answered
//! `{"type":"transcript_sent"}`; after `ended` (or `leave`) the socket
//! stays open for [`AFTER_END`] for that and for one
//! `{"type":"rate","score":1..5,"comment"}`, answered `{"type":"rated"}`. Bad JSON or an unknown type gets an error
//! frame and the connection stays open.
//!
//! A closed socket does not end the chat: it waits for a `resume` for the
//! gateway's grace ([`Gateway::visitor_grace`]), and a `resume` with the
//! token and the last `seq` shown replays what came after, in order, then
//! goes on live. `leave` ends the chat at once. A socket the visitor
//! already replaced (the new one resumed first) closing says nothing.
//!
//! What `#info` shows of the visitor comes from the connection: the IP
//! address from the socket (or, behind a reverse proxy the embedder
//! trusts, from its `X-Forwarded-For`: [`Config::client_address`]), the
//! country that address is in when a GeoIP database is given
//! ([`Config::geoip`]), browser and operating system from the
//! `User-Agent` header (named, e.g. "Chrome 126" and "Linux", not the raw
//! header). Frames larger than [`MAX_FRAME_BYTES`] close the socket.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use salesiq_session::{
    Activity, ChatId, ChatRequest, Gateway, GatewayError, LeaveMessage, Numbered, VisitorChat,
    VisitorDetails, VisitorEvent,
};
use serde::{Deserialize, Serialize};

use crate::{ClientAddress, GeoIp};

/// The largest frame a visitor may send (axum's default is 64 MiB); a
/// larger one closes the socket, which leaves the chat.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A frame from the visitor's page, as [`decode`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum VisitorFrame {
    /// Request a chat (first, once).
    Start {
        /// The visitor's name.
        name: String,
        /// E-mail address; empty or missing when not given.
        #[serde(default)]
        email: Option<String>,
        /// The question: the chat's subject.
        question: String,
        /// The department; empty or missing for any.
        #[serde(default)]
        department: Option<String>,
        /// The page the chat starts on.
        #[serde(default)]
        page: Option<String>,
    },
    /// Text for the operator.
    Message {
        /// The text.
        text: String,
    },
    /// The typing indicator.
    Typing {
        /// Composing or paused.
        state: TypingState,
    },
    /// The visitor moved to another page.
    Page {
        /// Its address.
        url: String,
    },
    /// Instead of `start`, as the first frame: take up the chat this
    /// token belongs to after a closed socket (a page load, a dropped
    /// connection), with every content frame numbered after `after`.
    Resume {
        /// The token the `session` frame gave.
        token: String,
        /// The `seq` of the last content frame the page showed (0: none).
        #[serde(default)]
        after: u64,
    },
    /// The visitor ends the chat.
    Leave,
    /// After `ended`: the visitor's rating, once: a score of 1 to 5 and
    /// an optional comment.
    Rate {
        /// 1 to 5.
        score: u8,
        /// What they say of it.
        #[serde(default)]
        comment: Option<String>,
    },
    /// During the chat or after `ended`: the whole chat by e-mail.
    Transcript {
        /// Where to.
        email: String,
    },
    /// After an `offline` answer: a message for the portal instead of a
    /// chat (`{"type":"leave_message","name","email","text"}`), once per
    /// socket.
    #[serde(rename = "leave_message")]
    LeaveMessage {
        /// The visitor's name.
        name: String,
        /// Where to answer them.
        email: String,
        /// The message.
        text: String,
    },
}

/// The two typing states of XEP-0085 that a visitor page reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypingState {
    /// Typing.
    Composing,
    /// Stopped typing.
    Paused,
}

/// Reads one text frame from a visitor's page. The error is the message
/// the error frame carries.
///
/// ```
/// use salesiq_web::visitor_ws::{TypingState, VisitorFrame, decode};
///
/// assert_eq!(
///     decode(r#"{"type":"typing","state":"composing"}"#),
///     Ok(VisitorFrame::Typing { state: TypingState::Composing })
/// );
/// assert!(decode(r#"{"type":"typing","state":"dancing"}"#).is_err());
/// ```
pub fn decode(text: &str) -> Result<VisitorFrame, String> {
    serde_json::from_str(text).map_err(|e| format!("bad frame: {e}"))
}

/// What the page is sent. Content frames carry `seq`, counting 1, 2,
/// 3... per chat.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ToVisitor {
    Session {
        resume: String,
        expires_in: u64,
    },
    Resumed,
    /// Nobody accepted yet; `position` 1 is next.
    Queued {
        position: usize,
    },
    Joined {
        operator: String,
        seq: u64,
    },
    Message {
        from: String,
        text: String,
        seq: u64,
    },
    Typing {
        from: String,
        state: &'static str,
    },
    Push {
        url: String,
        seq: u64,
    },
    Ended {
        reason: String,
        seq: u64,
    },
    Error {
        message: String,
    },
    /// Nobody is there (or it is outside the department's hours): a
    /// `leave_message` may follow.
    Offline {
        message: String,
    },
    #[serde(rename = "message_left")]
    MessageLeft,
    Rated,
    #[serde(rename = "transcript_sent")]
    TranscriptSent,
}

impl From<Numbered> for ToVisitor {
    fn from(numbered: Numbered) -> Self {
        let seq = numbered.seq.unwrap_or_default();
        match numbered.event {
            VisitorEvent::Queued { position } => Self::Queued { position },
            VisitorEvent::Joined { operator } => Self::Joined { operator, seq },
            VisitorEvent::Message { from, text } => Self::Message { from, text, seq },
            VisitorEvent::Typing { from, state } => Self::Typing {
                from,
                state: state.as_str(),
            },
            VisitorEvent::Push { url } => Self::Push { url, seq },
            VisitorEvent::Ended { reason } => Self::Ended { reason, seq },
        }
    }
}

#[derive(Debug, Deserialize)]
struct Params {
    portal: String,
}

/// The routes of the visitor API, for the gateway given.
pub fn router(gateway: Gateway) -> Router {
    router_with(gateway, Limits::default())
}

/// What the visitor API enforces beyond [`MAX_FRAME_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// How long a socket may stay open without starting a chat: a page
    /// that connects and never says `start` (or only says nonsense) gets
    /// an error frame and is closed, so idle sockets cannot pile up.
    /// Default [`START_TIMEOUT`].
    pub start_timeout: std::time::Duration,
}

/// How long a socket answered `offline` stays open for its
/// `leave_message`: fifteen minutes to write it.
pub const OFFLINE_FORM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The default of [`Limits::start_timeout`]: a minute.
pub const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Default for Limits {
    fn default() -> Self {
        Self {
            start_timeout: START_TIMEOUT,
        }
    }
}

/// The visitor API with these limits.
pub fn router_with(gateway: Gateway, limits: Limits) -> Router {
    let config = Config {
        limits,
        ..Config::default()
    };
    router_with_config(gateway, config)
}

/// Everything the visitor API is set up with besides its gateway: the
/// default is [`Limits::default`], the socket's address, no country.
///
/// ```
/// use salesiq_web::visitor_ws::Config;
///
/// let mut config = Config::default();
/// // Behind nginx on the same machine: its X-Forwarded-For is believed.
/// config.client_address.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
/// // Countries: config.geoip = Some(Arc::new(GeoIp::open("GeoLite2-Country.mmdb")?));
/// assert!(config.geoip.is_none());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Config {
    /// What the API enforces.
    pub limits: Limits,
    /// Where a visitor's address is taken from: the socket, or the
    /// `X-Forwarded-For` of a trusted reverse proxy. By default the
    /// socket.
    pub client_address: ClientAddress,
    /// The database the visitor's country is looked up in; `None` (the
    /// default) looks up nothing, and `#info` shows `-`.
    pub geoip: Option<Arc<GeoIp>>,
}

/// The visitor API set up by `config`.
pub fn router_with_config(gateway: Gateway, config: Config) -> Router {
    Router::new()
        .route("/ws/visitor", get(upgrade))
        .with_state(Api {
            gateway,
            config: Arc::new(config),
        })
}

/// The router's state.
#[derive(Debug, Clone)]
struct Api {
    gateway: Gateway,
    config: Arc<Config>,
}

async fn upgrade(
    socket: WebSocketUpgrade,
    Query(params): Query<Params>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(Api { gateway, config }): State<Api>,
) -> Response {
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ip = config.client_address.of(peer.ip(), &headers);
    let client = Client {
        ip: ip.to_string(),
        country: config.geoip.as_ref().and_then(|geoip| geoip.country(ip)),
        browser: browser_name(agent),
        os: os_name(agent),
    };
    let limits = config.limits;
    socket
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve(socket, gateway, params.portal, client, limits))
}

async fn send(socket: &mut WebSocket, frame: &ToVisitor) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn error(socket: &mut WebSocket, message: &str) -> bool {
    send(
        socket,
        &ToVisitor::Error {
            message: message.to_owned(),
        },
    )
    .await
}

/// Reads the next frame the visitor sent, as our type; `None` when the
/// socket is gone. Bad frames are answered with an error frame.
async fn next(socket: &mut WebSocket) -> Option<VisitorFrame> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => match decode(&text) {
                Ok(frame) => return Some(frame),
                Err(e) => {
                    if !error(socket, &e).await {
                        return None;
                    }
                }
            },
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// What the connection tells about the visitor.
#[derive(Debug)]
struct Client {
    /// The visitor's address ([`Config::client_address`]).
    ip: String,
    /// Its country, if a database knows it.
    country: Option<String>,
    browser: Option<String>,
    os: Option<String>,
}

/// The browser a User-Agent names, with its major version.
fn browser_name(agent: &str) -> Option<String> {
    // Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
    let known = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
    ];
    known.iter().find_map(|(token, name)| {
        let (_, rest) = agent.split_once(token)?;
        let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some(if major.is_empty() {
            (*name).to_owned()
        } else {
            format!("{name} {major}")
        })
    })
}

/// The operating system a User-Agent names.
fn os_name(agent: &str) -> Option<String> {
    let known = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    known
        .iter()
        .find(|(token, _)| agent.contains(token))
        .map(|(_, name)| (*name).to_owned())
}

async fn serve(
    mut socket: WebSocket,
    gateway: Gateway,
    portal: String,
    client: Client,
    limits: Limits,
) {
    // Nothing before `start`, and not for long.
    let mut deadline = tokio::time::Instant::now() + limits.start_timeout;
    // After `offline`: the department asked for, until a message is left.
    let mut offline: Option<Option<String>> = None;
    let mut chat = loop {
        let Ok(frame) = tokio::time::timeout_at(deadline, next(&mut socket)).await else {
            error(&mut socket, "no chat was started in time").await;
            return;
        };
        match frame {
            Some(VisitorFrame::Start {
                name,
                email,
                question,
                department,
                page,
            }) => {
                let mut details = VisitorDetails::default();
                details.name = name;
                details.email = email.filter(|e| !e.is_empty());
                details.ip = Some(client.ip.clone());
                details.country = client.country.clone();
                details.browser = client.browser.clone();
                details.os = client.os.clone();
                details.first_page = page.clone();
                details.current_page = page;
                let department = department.filter(|d| !d.is_empty());
                let request = ChatRequest::new(&portal, details, &question, department.as_deref());
                match gateway.request_chat(request).await {
                    Err(GatewayError::Offline { message }) => {
                        // Time to write a message.
                        deadline = tokio::time::Instant::now() + OFFLINE_FORM_TIMEOUT;
                        offline = Some(department);
                        if !send(&mut socket, &ToVisitor::Offline { message }).await {
                            return;
                        }
                    }
                    Ok(chat) => {
                        let session = ToVisitor::Session {
                            resume: chat.resume_token().to_owned(),
                            expires_in: gateway.visitor_grace().as_secs(),
                        };
                        if !send(&mut socket, &session).await {
                            let _ = gateway.visitor_gone(&chat).await;
                            return;
                        }
                        break chat;
                    }
                    Err(GatewayError::Blocked) => {
                        error(&mut socket, "chats from your address are not accepted").await;
                        return;
                    }
                    Err(e) => {
                        if !error(&mut socket, &e.to_string()).await {
                            return;
                        }
                    }
                }
            }
            Some(VisitorFrame::Resume { token, after }) => {
                match gateway.resume_chat(&portal, &token, after).await {
                    Ok(chat) => {
                        if !send(&mut socket, &ToVisitor::Resumed).await {
                            let _ = gateway.visitor_gone(&chat).await;
                            return;
                        }
                        break chat;
                    }
                    // The socket stays open for a `start`.
                    Err(e) => {
                        if !error(&mut socket, &e.to_string()).await {
                            return;
                        }
                    }
                }
            }
            Some(VisitorFrame::LeaveMessage { name, email, text }) => {
                let Some(department) = offline.take() else {
                    let why = "a message is left when nobody is there: say start first";
                    if !error(&mut socket, why).await {
                        return;
                    }
                    continue;
                };
                let message = LeaveMessage::new(&portal, &name, &email, &text)
                    .with_department(department.as_deref())
                    .with_ip(Some(&client.ip));
                let answer = match gateway.leave_message(message).await {
                    Ok(_) => send(&mut socket, &ToVisitor::MessageLeft).await,
                    Err(e) => {
                        // A mistake may be put right, on the same form.
                        if matches!(
                            e,
                            GatewayError::BadMessage(_) | GatewayError::TooLong { .. }
                        ) {
                            offline = Some(department);
                        }
                        error(&mut socket, &e.to_string()).await
                    }
                };
                if !answer {
                    return;
                }
            }
            Some(_) => {
                if !error(&mut socket, "say start first").await {
                    return;
                }
            }
            None => return,
        }
    };
    let id = chat.chat;
    match relay(&mut socket, &gateway, &mut chat).await {
        Closed::Left => {
            let _ = gateway.visitor_leaves(id).await;
            afterwards(&mut socket, &gateway, id).await;
        }
        // A page load or a lost connection: the chat waits for a resume.
        Closed::Gone => {
            let _ = gateway.visitor_gone(&chat).await;
        }
        Closed::Over => afterwards(&mut socket, &gateway, id).await,
        Closed::Elsewhere => {}
    }
}

/// How long the socket stays open after the chat ended, for a `rate` and
/// a `transcript`: two minutes.
pub const AFTER_END: std::time::Duration = std::time::Duration::from_secs(120);

/// After the end: a rating and transcripts, until [`AFTER_END`] passes or
/// the page closes the socket.
async fn afterwards(socket: &mut WebSocket, gateway: &Gateway, id: ChatId) {
    let deadline = tokio::time::Instant::now() + AFTER_END;
    loop {
        let Ok(frame) = tokio::time::timeout_at(deadline, next(socket)).await else {
            return;
        };
        let answer = match frame {
            None => return,
            Some(VisitorFrame::Rate { score, comment }) => gateway
                .rate_chat(id, score, comment.as_deref().unwrap_or_default())
                .await
                .map(|()| ToVisitor::Rated),
            Some(VisitorFrame::Transcript { email }) => gateway
                .send_transcript(id, &email)
                .await
                .map(|()| ToVisitor::TranscriptSent),
            Some(_) => Err(GatewayError::BadMessage("the chat has ended".into())),
        };
        let sent = match answer {
            Ok(answer) => send(socket, &answer).await,
            Err(e) => error(socket, &e.to_string()).await,
        };
        if !sent {
            return;
        }
    }
}

/// How a relay ended.
enum Closed {
    /// The visitor said `leave`.
    Left,
    /// The socket closed or failed.
    Gone,
    /// The chat ended.
    Over,
    /// The chat was resumed on another socket.
    Elsewhere,
}

async fn relay(socket: &mut WebSocket, gateway: &Gateway, chat: &mut VisitorChat) -> Closed {
    let id: ChatId = chat.chat;
    loop {
        tokio::select! {
            event = chat.next_numbered() => {
                // The channel closes when the chat ends (after `ended`) or
                // when another socket resumed it.
                let Some(event) = event else { return Closed::Elsewhere };
                let ended = matches!(event.event, VisitorEvent::Ended { .. });
                if !send(socket, &event.into()).await {
                    return Closed::Gone;
                }
                if ended {
                    return Closed::Over;
                }
            }
            frame = next(socket) => {
                let result = match frame {
                    None => return Closed::Gone,
                    Some(VisitorFrame::Leave) => return Closed::Left,
                    Some(VisitorFrame::Message { text }) => gateway.visitor_says(id, &text).await,
                    Some(VisitorFrame::Typing { state }) => {
                        let state = match state {
                            TypingState::Composing => Activity::Composing,
                            TypingState::Paused => Activity::Paused,
                        };
                        gateway.visitor_typing(id, state).await
                    }
                    Some(VisitorFrame::Page { url }) => gateway.visitor_page(id, &url).await,
                    Some(VisitorFrame::Transcript { email }) => {
                        match gateway.send_transcript(id, &email).await {
                            Ok(()) => {
                                if !send(socket, &ToVisitor::TranscriptSent).await {
                                    return Closed::Gone;
                                }
                                Ok(())
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Some(VisitorFrame::Rate { .. }) => {
                        Err(GatewayError::BadMessage("rate the chat once it has ended".into()))
                    }
                    Some(
                        VisitorFrame::Start { .. }
                        | VisitorFrame::Resume { .. }
                        | VisitorFrame::LeaveMessage { .. },
                    ) => {
                        if !error(socket, "the chat has started already").await {
                            return Closed::Gone;
                        }
                        Ok(())
                    }
                };
                if let Err(e) = result
                    && !error(socket, &e.to_string()).await
                {
                    return Closed::Gone;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_named() {
        let chromium = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                        HeadlessChrome/156.0.8078.73 Safari/537.36";
        assert_eq!(browser_name(chromium).as_deref(), Some("Chrome 156"));
        assert_eq!(os_name(chromium).as_deref(), Some("Linux"));
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                    Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68";
        assert_eq!(browser_name(edge).as_deref(), Some("Edge 126"));
        assert_eq!(os_name(edge).as_deref(), Some("Windows"));
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_name(iphone).as_deref(), Some("Safari 17"));
        assert_eq!(os_name(iphone).as_deref(), Some("iOS"));
        assert_eq!(browser_name("curl/8.0"), None);
        assert_eq!(os_name(""), None);
    }
}
