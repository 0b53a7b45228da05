//! The visitor's WebSocket API: `GET /ws/visitor?portal=demo` upgraded to
//! a WebSocket carrying JSON frames, mapped onto the [`Gateway`]'s visitor
//! API.
//!
//! Visitor to server: `{"type":"start","name","email","question","department"}`
//! (first, once), `{"type":"message","text"}`,
//! `{"type":"typing","state":"composing"|"paused"}`, `{"type":"page","url"}`,
//! `{"type":"leave"}`.
//!
//! Server to visitor: `{"type":"queued"}`, `{"type":"joined","operator"}`,
//! `{"type":"message","from","text"}`, `{"type":"typing","from","state"}`,
//! `{"type":"push","url"}`, `{"type":"ended","reason"}`,
//! `{"type":"error","message"}`. Bad JSON or an unknown type gets an error
//! frame and the connection stays open; closing the socket leaves the chat.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use salesiq_session::{
    ChatId, ChatRequest, Gateway, GatewayError, VisitorChat, VisitorDetails, VisitorEvent,
};
use serde::{Deserialize, Serialize};

/// What a visitor's page sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum FromVisitor {
    Start {
        name: String,
        email: Option<String>,
        question: String,
        department: Option<String>,
    },
    Message {
        text: String,
    },
    Typing {
        state: String,
    },
    Page {
        url: String,
    },
    Leave,
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
            VisitorEvent::Typing { from, composing } => Self::Typing {
                from,
                state: if composing { "composing" } else { "paused" },
            },
            VisitorEvent::Push { url } => Self::Push { url },
            VisitorEvent::Ended { reason } => Self::Ended { reason },
            _ => Self::Error {
                message: "unknown event".into(),
            },
        }
    }
}

#[derive(Debug, Deserialize)]
struct Params {
    portal: String,
}

/// The routes of the visitor API, for the gateway given.
pub fn router(gateway: Gateway) -> Router {
    Router::new()
        .route("/ws/visitor", get(upgrade))
        .with_state(gateway)
}

async fn upgrade(
    socket: WebSocketUpgrade,
    Query(params): Query<Params>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(gateway): State<Gateway>,
) -> Response {
    let browser = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    socket.on_upgrade(move |socket| serve(socket, gateway, params.portal, peer, browser))
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
async fn next(socket: &mut WebSocket) -> Option<FromVisitor> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => match serde_json::from_str::<FromVisitor>(&text) {
                Ok(frame) => return Some(frame),
                Err(e) => {
                    if !error(socket, &format!("bad frame: {e}")).await {
                        return None;
                    }
                }
            },
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn serve(
    mut socket: WebSocket,
    gateway: Gateway,
    portal: String,
    peer: SocketAddr,
    browser: Option<String>,
) {
    // Nothing before `start`.
    let mut chat = loop {
        match next(&mut socket).await {
            Some(FromVisitor::Start {
                name,
                email,
                question,
                department,
            }) => {
                let mut details = VisitorDetails::default();
                details.name = name;
                details.email = email.filter(|e| !e.is_empty());
                details.ip = Some(peer.ip().to_string());
                details.browser = browser.clone();
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
                    None | Some(FromVisitor::Leave) => return,
                    Some(FromVisitor::Message { text }) => gateway.visitor_says(id, &text).await,
                    Some(FromVisitor::Typing { state }) => gateway.visitor_typing(id, state == "composing"),
                    Some(FromVisitor::Page { url }) => gateway.visitor_page(id, &url).await,
                    Some(FromVisitor::Start { .. }) => {
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
