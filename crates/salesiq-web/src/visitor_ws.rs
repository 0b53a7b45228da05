//! The visitor's WebSocket API: `GET /ws/visitor?portal=demo` upgraded to
//! a WebSocket carrying JSON frames, mapped onto the [`Gateway`]'s visitor
//! API.
//!
//! Visitor to server: `{"type":"start","name","email","question","department"}`
//! (first, once; an optional `"page"` names the page the chat starts on), `{"type":"message","text"}`,
//! `{"type":"typing","state":"composing"|"paused"}`, `{"type":"page","url"}`,
//! `{"type":"leave"}`.
//!
//! Server to visitor: `{"type":"queued"}`, `{"type":"joined","operator"}`,
//! `{"type":"message","from","text"}`, `{"type":"typing","from","state"}`
//! (`state` one of `composing`, `paused`, `active`, `inactive`, `gone`),
//! `{"type":"push","url"}`, `{"type":"ended","reason"}`,
//! `{"type":"error","message"}`. Bad JSON or an unknown type gets an error
//! frame and the connection stays open; closing the socket leaves the chat.
//!
//! What `#info` shows of the visitor comes from the connection: the IP
//! address from the socket, browser and operating system from the
//! `User-Agent` header (named, e.g. "Chrome 126" and "Linux", not the raw
//! header). Frames larger than [`MAX_FRAME_BYTES`] close the socket.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use salesiq_session::{
    Activity, ChatId, ChatRequest, Gateway, GatewayError, VisitorChat, VisitorDetails, VisitorEvent,
};
use serde::{Deserialize, Serialize};

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
    /// The visitor ends the chat.
    Leave,
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

/// What the page is sent.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ToVisitor {
    Queued,
    Joined { operator: String },
    Message { from: String, text: String },
    Typing { from: String, state: &'static str },
    Push { url: String },
    Ended { reason: String },
    Error { message: String },
}

impl From<VisitorEvent> for ToVisitor {
    fn from(event: VisitorEvent) -> Self {
        match event {
            VisitorEvent::Queued => Self::Queued,
            VisitorEvent::Joined { operator } => Self::Joined { operator },
            VisitorEvent::Message { from, text } => Self::Message { from, text },
            VisitorEvent::Typing { from, state } => Self::Typing {
                from,
                state: state.as_str(),
            },
            VisitorEvent::Push { url } => Self::Push { url },
            VisitorEvent::Ended { reason } => Self::Ended { reason },
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
    Router::new()
        .route("/ws/visitor", get(upgrade))
        .with_state(Api { gateway, limits })
}

/// The router's state.
#[derive(Debug, Clone)]
struct Api {
    gateway: Gateway,
    limits: Limits,
}

async fn upgrade(
    socket: WebSocketUpgrade,
    Query(params): Query<Params>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(Api { gateway, limits }): State<Api>,
) -> Response {
    let agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let client = Client {
        peer,
        browser: browser_name(agent),
        os: os_name(agent),
    };
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
    peer: SocketAddr,
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
    let deadline = tokio::time::Instant::now() + limits.start_timeout;
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
                details.ip = Some(client.peer.ip().to_string());
                details.browser = client.browser.clone();
                details.os = client.os.clone();
                details.first_page = page.clone();
                details.current_page = page;
                let request = ChatRequest::new(
                    &portal,
                    details,
                    &question,
                    department.as_deref().filter(|d| !d.is_empty()),
                );
                match gateway.request_chat(request).await {
                    Ok(chat) => break chat,
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
            Some(_) => {
                if !error(&mut socket, "say start first").await {
                    return;
                }
            }
            None => return,
        }
    };
    let id = chat.chat;
    relay(&mut socket, &gateway, &mut chat).await;
    let _ = gateway.visitor_leaves(id).await;
}

async fn relay(socket: &mut WebSocket, gateway: &Gateway, chat: &mut VisitorChat) {
    let id: ChatId = chat.chat;
    loop {
        tokio::select! {
            event = chat.next_event() => {
                let Some(event) = event else { return };
                let ended = matches!(event, VisitorEvent::Ended { .. });
                if !send(socket, &event.into()).await || ended {
                    return;
                }
            }
            frame = next(socket) => {
                let result = match frame {
                    None | Some(VisitorFrame::Leave) => return,
                    Some(VisitorFrame::Message { text }) => gateway.visitor_says(id, &text).await,
                    Some(VisitorFrame::Typing { state }) => {
                        let state = match state {
                            TypingState::Composing => Activity::Composing,
                            TypingState::Paused => Activity::Paused,
                        };
                        gateway.visitor_typing(id, state).await
                    }
                    Some(VisitorFrame::Page { url }) => gateway.visitor_page(id, &url).await,
                    Some(VisitorFrame::Start { .. }) => {
                        if !error(socket, "the chat has started already").await {
                            return;
                        }
                        Ok(())
                    }
                };
                if let Err(e) = result
                    && !error(socket, &e.to_string()).await
                {
                    return;
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
