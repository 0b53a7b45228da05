//! The `Gateway`: visitors ask for a chat, available operators are offered
//! it, the first `y` wins, and from then on text flows both ways while `#`
//! commands are executed for the operator and never reach the visitor.
//!
//! The gateway speaks in its own terms ([`OperatorRef`], contact ids,
//! [`OperatorEvent`], [`VisitorEvent`]); a transport such as
//! `salesiq-xmpp` turns those into stanzas through an [`OperatorSink`].
//!
//! Choices where the product description is silent:
//! * A visitor contact's id is `portal|visitor.N` (N the visitor number), so
//!   it is unique on the server and cannot clash with `portal|username`.
//! * A chat asking for a department is offered to that department's
//!   operators ([`crate::Store::assign_department`]); a department nobody
//!   is assigned to is served by every operator of the portal.
//! * Operators are offered a chat when they are available; with nobody
//!   available the visitor is told they are queued, and the chat is offered
//!   to the next operator who becomes available. A request nobody accepts
//!   within [`DEFAULT_QUEUE_TIMEOUT`] (five minutes, see
//!   [`Gateway::set_queue_timeout`]) ends, and the visitor is told nobody
//!   is available.
//! * Replies to commands come from the visitor contact, prefixed `[system]`
//!   (`[システム]` in Japanese portals), so they are clearly not the visitor.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use salesiq_commands::Locale;
use salesiq_integrations::{CrmConnector, HelpdeskConnector, MemoryCrm, MemoryHelpdesk};
use tokio::sync::mpsc;

use crate::directory::Contact;

use crate::model::{Author, ChatId, ChatState, VisitorDetails, VisitorId};
use crate::store::Store;
pub use api::{
    ChatRequest, GatewayError, OperatorEvent, OperatorRef, OperatorSink, VisitorChat, VisitorEvent,
};

mod api;
pub(crate) mod board;
mod commands;
mod handover;
mod integrations;

/// How long a chat request waits for an operator by default: five
/// minutes, after which the visitor is told nobody is available.
pub const DEFAULT_QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The handle to the chat domain; cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// How long a request waits for an operator's `y`, in milliseconds.
    queue_timeout_ms: std::sync::atomic::AtomicU64,
    store: Arc<dyn Store>,
    sink: Arc<dyn OperatorSink>,
    crm: Arc<dyn CrmConnector>,
    helpdesk: Arc<dyn HelpdeskConnector>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    available: HashSet<OperatorRef>,
    chats: HashMap<ChatId, Live>,
}

/// A chat in progress.
#[derive(Debug)]
struct Live {
    portal: String,
    /// The portal's language, for the gateway's own texts.
    locale: Locale,
    contact: Contact,
    status: String,
    visitor: VisitorId,
    details: VisitorDetails,
    number: i64,
    to_visitor: mpsc::UnboundedSender<VisitorEvent>,
    /// Operators who were offered the chat and have not answered.
    offered: Vec<OperatorRef>,
    /// The operator who accepted.
    operator: Option<OperatorRef>,
    /// A pending `#e <seconds>`.
    end_timer: Option<tokio::task::AbortHandle>,
    /// Operators invited in who accepted: a group chat.
    guests: Vec<OperatorRef>,
    /// Transfers and invitations waiting for `y` or `n`.
    requests: Vec<handover::Request>,
    /// Who may be offered the chat: the department's operators, or
    /// `None` for every operator of the portal.
    eligible: Option<HashSet<OperatorRef>>,
}

impl Live {
    /// Everyone in the chat: the operator who accepted, then the guests.
    fn members(&self) -> impl Iterator<Item = &OperatorRef> {
        self.operator.iter().chain(&self.guests)
    }

    fn is_member(&self, operator: &OperatorRef) -> bool {
        self.members().any(|m| m == operator)
    }
}

impl Gateway {
    /// A gateway over `store`, telling operators through `sink`.
    pub fn new(store: Arc<dyn Store>, sink: Arc<dyn OperatorSink>) -> Self {
        Self::with_connectors(
            store,
            sink,
            Arc::new(MemoryCrm::new()),
            Arc::new(MemoryHelpdesk::new()),
        )
    }

    /// A gateway with a CRM and a helpdesk for `#crm` and `#support`
    /// ([`Gateway::new`] gives empty in-memory ones).
    pub fn with_connectors(
        store: Arc<dyn Store>,
        sink: Arc<dyn OperatorSink>,
        crm: Arc<dyn CrmConnector>,
        helpdesk: Arc<dyn HelpdeskConnector>,
    ) -> Self {
        let state = Mutex::new(State::default());
        let queue_timeout_ms =
            std::sync::atomic::AtomicU64::new(DEFAULT_QUEUE_TIMEOUT.as_millis() as u64);
        Self {
            inner: Arc::new(Inner {
                queue_timeout_ms,
                store,
                sink,
                crm,
                helpdesk,
                state,
            }),
        }
    }

    /// Ends, in the store, every chat left waiting or active by an earlier
    /// run of the process (its visitors and operators are gone); call it
    /// once at start. Returns how many there were.
    pub async fn close_unfinished_chats(&self) -> Result<usize, GatewayError> {
        let store = &self.inner.store;
        let live: HashSet<ChatId> = self.lock().chats.keys().copied().collect();
        let stale: Vec<ChatId> = store
            .unfinished_chats()
            .await?
            .into_iter()
            .filter(|c| !live.contains(c))
            .collect();
        for chat in &stale {
            store
                .add_line(*chat, &Author::System, "Chat ended: the server restarted")
                .await?;
            store.set_chat_state(*chat, ChatState::Ended).await?;
        }
        Ok(stale.len())
    }

    /// Ends every live chat because the process is stopping: each is
    /// stored as ended with a system line, its visitor is told
    /// ([`VisitorEvent::Ended`], "The chat service is restarting..."), and
    /// its operators are told and lose the contact. Call it before stopping
    /// the transport, so that the operators' clients still hear of it.
    /// Returns how many chats there were.
    pub async fn shut_down(&self) -> Result<usize, GatewayError> {
        let live: Vec<(ChatId, Locale)> = self
            .lock()
            .chats
            .iter()
            .map(|(id, live)| (*id, live.locale))
            .collect();
        let mut ended = 0;
        for (chat, locale) in live {
            let _ = self
                .inner
                .store
                .add_line(chat, &Author::System, "Chat ended: the server stopped")
                .await;
            let note = say(
                locale,
                "Chat ended: the server is stopping",
                "サーバー停止のためチャットを終了しました",
            );
            let reason = "The chat service is restarting. Please start a new chat in a moment.";
            // A chat that ended meanwhile is no error.
            if self.end(chat, Some(reason), note).await.is_ok() {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The operators of a department who may use the gateway, or `None`
    /// for a department nobody is assigned to: then every operator of the
    /// portal serves it.
    pub(super) async fn department_operators(
        &self,
        department: crate::model::DepartmentId,
    ) -> Result<Option<HashSet<OperatorRef>>, GatewayError> {
        let members = self.inner.store.department_members(department).await?;
        let members: HashSet<OperatorRef> = members
            .iter()
            .filter_map(|o| Some(OperatorRef::new(&o.portal, o.username.as_deref()?)))
            .collect();
        Ok((!members.is_empty()).then_some(members))
    }

    /// How long a chat request waits for an operator to accept before the
    /// visitor is told nobody is available and the chat ends (default
    /// [`DEFAULT_QUEUE_TIMEOUT`]).
    pub fn set_queue_timeout(&self, timeout: std::time::Duration) {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.inner
            .queue_timeout_ms
            .store(millis, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An operator became available (or not). A newly available operator
    /// is offered every chat of their portal still waiting.
    pub fn set_available(&self, operator: &OperatorRef, available: bool) {
        let mut state = self.lock();
        if !available {
            state.available.remove(operator);
            return;
        }
        state.available.insert(operator.clone());
        for live in state.chats.values_mut() {
            let waiting = live.operator.is_none()
                && live.portal == operator.portal()
                && live.eligible.as_ref().is_none_or(|e| e.contains(operator));
            if waiting && !live.offered.contains(operator) {
                live.offered.push(operator.clone());
                offer(&*self.inner.sink, operator, live);
            }
        }
    }

    /// A visitor asks for a chat: stored, and offered to every available
    /// operator of the portal.
    pub async fn request_chat(&self, request: ChatRequest) -> Result<VisitorChat, GatewayError> {
        let store = &self.inner.store;
        if let Some(ip) = &request.details.ip
            && store.is_blocked(&request.portal, ip).await?
        {
            return Err(GatewayError::Blocked);
        }
        let department = match &request.department {
            Some(name) => {
                let departments = store.departments(&request.portal).await?;
                let found = departments
                    .into_iter()
                    .find(|d| d.name.to_lowercase() == name.to_lowercase());
                Some(found.ok_or_else(|| GatewayError::UnknownDepartment(name.clone()))?)
            }
            None => None,
        };
        let eligible = match &department {
            Some(department) => self.department_operators(department.id).await?,
            None => None,
        };
        let visitor = store.add_visitor(&request.portal, &request.details).await?;
        let chat = store
            .add_chat(
                &request.portal,
                visitor.id,
                department.as_ref().map(|d| d.id),
                &request.question,
            )
            .await?;
        store
            .add_line(chat.id, &Author::Visitor, &request.question)
            .await?;
        let (to_visitor, events) = mpsc::unbounded_channel();
        let contact_id = format!("{}|visitor.{}", request.portal, visitor.number);
        let name = format!("{} (#{})", request.details.name, visitor.number);
        let status = match &department {
            Some(department) => format!("{} — {}", request.question, department.name),
            None => request.question.clone(),
        };
        let locale = self.locale(&request.portal).await;
        let mut live = Live {
            portal: request.portal.clone(),
            locale,
            contact: Contact::new(&contact_id, &name, "Visitors"),
            status,
            visitor: visitor.id,
            details: request.details.clone(),
            number: visitor.number,
            to_visitor,
            offered: Vec::new(),
            operator: None,
            end_timer: None,
            guests: Vec::new(),
            requests: Vec::new(),
            eligible,
        };
        let _ = live.to_visitor.send(VisitorEvent::Queued);
        let mut state = self.lock();
        let available: Vec<OperatorRef> = state
            .available
            .iter()
            .filter(|o| o.portal() == request.portal)
            .filter(|o| live.eligible.as_ref().is_none_or(|e| e.contains(*o)))
            .cloned()
            .collect();
        for operator in &available {
            offer(&*self.inner.sink, operator, &live);
        }
        live.offered = available;
        state.chats.insert(chat.id, live);
        drop(state);
        self.give_up_after_queue_timeout(chat.id);
        Ok(VisitorChat {
            chat: chat.id,
            visitor_number: visitor.number,
            events,
        })
    }

    /// The visitor wrote: to the operator, and into the transcript.
    pub async fn visitor_says(&self, chat: ChatId, text: &str) -> Result<(), GatewayError> {
        // Nothing goes into the transcript of a chat that is over.
        if !self.lock().chats.contains_key(&chat) {
            return Err(GatewayError::NoSuchChat);
        }
        self.visitor_active(chat);
        self.inner
            .store
            .add_line(chat, &Author::Visitor, text)
            .await?;
        let state = self.lock();
        let live = state.chats.get(&chat).ok_or(GatewayError::NoSuchChat)?;
        for operator in live.members() {
            let message = OperatorEvent::Message {
                from: live.contact.id.clone(),
                text: text.to_owned(),
            };
            self.inner.sink.send(operator, message);
        }
        Ok(())
    }

    /// The visitor is typing (or stopped): the operators see it, and it
    /// counts as activity for a timed end.
    pub fn visitor_typing(&self, chat: ChatId, composing: bool) -> Result<(), GatewayError> {
        self.visitor_active(chat);
        let state = self.lock();
        let live = state.chats.get(&chat).ok_or(GatewayError::NoSuchChat)?;
        for operator in live.members() {
            let event = OperatorEvent::Typing {
                from: live.contact.id.clone(),
                composing,
            };
            self.inner.sink.send(operator, event);
        }
        Ok(())
    }

    /// The visitor moved to another page: remembered (and shown by
    /// `#info`); it counts as activity.
    pub async fn visitor_page(&self, chat: ChatId, url: &str) -> Result<(), GatewayError> {
        self.visitor_active(chat);
        let visitor = {
            let mut state = self.lock();
            let live = state.chats.get_mut(&chat).ok_or(GatewayError::NoSuchChat)?;
            live.details.current_page = Some(url.to_owned());
            live.visitor
        };
        self.inner.store.set_current_page(visitor, url).await?;
        Ok(())
    }

    /// An operator typing in a visitor's window: the visitor sees it.
    pub async fn operator_typing(
        &self,
        operator: &OperatorRef,
        contact_id: &str,
        composing: bool,
    ) -> Result<(), GatewayError> {
        let chat = self.chat_of(operator, contact_id)?;
        let name = self.display_name(operator).await;
        let state = self.lock();
        let live = state.chats.get(&chat).ok_or(GatewayError::NoSuchChat)?;
        if live.is_member(operator) {
            let _ = live.to_visitor.send(VisitorEvent::Typing {
                from: name,
                composing,
            });
        }
        Ok(())
    }

    /// The visitor left: the chat ends and the operators are told.
    pub async fn visitor_leaves(&self, chat: ChatId) -> Result<(), GatewayError> {
        let locale = self
            .lock()
            .chats
            .get(&chat)
            .map(|live| live.locale)
            .unwrap_or_default();
        let note = say(
            locale,
            "The visitor left the chat",
            "訪問者がチャットを退出しました",
        );
        self.end(chat, None, note).await
    }

    /// Ends the chat if nobody has accepted it when the queue timeout
    /// passes.
    fn give_up_after_queue_timeout(&self, chat: ChatId) {
        let gateway = self.clone();
        let millis = self
            .inner
            .queue_timeout_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            let (waiting, locale) = {
                let state = gateway.lock();
                match state.chats.get(&chat) {
                    Some(live) => (live.operator.is_none(), live.locale),
                    None => return,
                }
            };
            if waiting {
                let reason = "No operator is available right now. Please try again later.";
                let note = say(
                    locale,
                    "Nobody accepted the request in time",
                    "時間内にリクエストを承認した担当者がいませんでした",
                );
                let _ = gateway.end(chat, Some(reason), note).await;
            }
        });
    }

    /// Any visitor activity stops a pending timed end, and the operator
    /// is told.
    fn visitor_active(&self, chat: ChatId) {
        let mut state = self.lock();
        let Some(live) = state.chats.get_mut(&chat) else {
            return;
        };
        let Some(timer) = live.end_timer.take() else {
            return;
        };
        timer.abort();
        for operator in live.members() {
            let text = system(
                live.locale,
                say(
                    live.locale,
                    "Chat end cancelled",
                    "サポート終了を中断しました",
                ),
            );
            self.inner.sink.send(
                operator,
                OperatorEvent::Message {
                    from: live.contact.id.clone(),
                    text,
                },
            );
        }
    }

    /// Ends a chat: stored as ended, the visitor told (`visitor_reason`),
    /// the operator(s) told and the contact removed.
    async fn end(
        &self,
        chat: ChatId,
        visitor_reason: Option<&str>,
        operator_note: &str,
    ) -> Result<(), GatewayError> {
        // Taken out first, so that of two racing ends (a timer and `#e`)
        // only one tells anybody; a failed write is caught at the next
        // start by `close_unfinished_chats`.
        let live = self
            .lock()
            .chats
            .remove(&chat)
            .ok_or(GatewayError::NoSuchChat)?;
        self.inner
            .store
            .set_chat_state(chat, ChatState::Ended)
            .await?;
        if let Some(timer) = &live.end_timer {
            timer.abort();
        }
        if let Some(reason) = visitor_reason {
            let _ = live.to_visitor.send(VisitorEvent::Ended {
                reason: reason.to_owned(),
            });
        }
        let sink = &*self.inner.sink;
        let waiting = live.requests.iter().map(|r| &r.to);
        for operator in live.members().chain(&live.offered).chain(waiting) {
            sink.send(
                operator,
                OperatorEvent::Message {
                    from: live.contact.id.clone(),
                    text: system(live.locale, operator_note),
                },
            );
            sink.send(
                operator,
                OperatorEvent::ContactRemoved {
                    contact_id: live.contact.id.clone(),
                },
            );
        }
        Ok(())
    }

    /// The chat behind a visitor contact of `operator`'s portal.
    fn chat_of(&self, operator: &OperatorRef, contact_id: &str) -> Result<ChatId, GatewayError> {
        self.lock()
            .chats
            .iter()
            .find(|(_, live)| live.portal == operator.portal() && live.contact.id == contact_id)
            .map(|(id, _)| *id)
            .ok_or(GatewayError::NoSuchChat)
    }

    /// The portal's language.
    async fn locale(&self, portal: &str) -> Locale {
        match self.inner.store.portal(portal).await {
            Ok(Some(portal)) => Locale::from_tag(&portal.locale),
            _ => Locale::En,
        }
    }

    /// Tells `operator`, from the visitor contact, in the system's voice.
    fn reply(&self, operator: &OperatorRef, contact_id: &str, locale: Locale, text: &str) {
        let prefix = match locale {
            Locale::Ja => "[システム]",
            _ => "[system]",
        };
        let message = OperatorEvent::Message {
            from: contact_id.to_owned(),
            text: format!("{prefix} {text}"),
        };
        self.inner.sink.send(operator, message);
    }

    /// An operator's display name, or their username if the store has none.
    async fn display_name(&self, operator: &OperatorRef) -> String {
        match self
            .inner
            .store
            .operator_by_username(operator.username())
            .await
        {
            Ok(Some(found)) => found.display_name,
            _ => operator.username().to_owned(),
        }
    }
}

/// The text in a language.
fn say(locale: Locale, en: &'static str, ja: &'static str) -> &'static str {
    match locale {
        Locale::Ja => ja,
        _ => en,
    }
}

/// A text of the gateway's own, marked so that nobody takes it for the
/// visitor's.
fn system(locale: Locale, text: &str) -> String {
    let prefix = match locale {
        Locale::Ja => "[システム]",
        _ => "[system]",
    };
    format!("{prefix} {text}")
}

/// Offers a chat to one operator: the visitor contact, then the request.
fn offer(sink: &dyn OperatorSink, operator: &OperatorRef, live: &Live) {
    sink.send(
        operator,
        OperatorEvent::ContactAdded {
            contact: live.contact.clone(),
            status: live.status.clone(),
        },
    );
    let text = system(
        live.locale,
        &match live.locale {
            Locale::Ja => format!(
                "{}さん(訪問者 #{})からのチャットのリクエスト: {}。承認するには y と返信してください。",
                live.details.name, live.number, live.status
            ),
            _ => format!(
                "Chat request from {} (visitor #{}): {}. Reply y to accept.",
                live.details.name, live.number, live.status
            ),
        },
    );
    sink.send(
        operator,
        OperatorEvent::Message {
            from: live.contact.id.clone(),
            text,
        },
    );
}

/// A field for display: its value, or `-` when unknown.
fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".to_owned())
}

/// "X took this chat", in `locale`.
fn took(locale: Locale, name: &str) -> String {
    match locale {
        Locale::Ja => format!("{name}さんがこのチャットを担当しました"),
        _ => format!("{name} took this chat"),
    }
}

/// Lines of `label: value` in `locale`, labels given as (English, Japanese).
fn labelled(locale: Locale, rows: &[(&'static str, &'static str, String)]) -> String {
    rows.iter()
        .map(|(en, ja, value)| format!("{}: {value}", say(locale, en, ja)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The visitor's details as sent to the operator who accepts (`#info`).
fn details_text(live: &Live) -> String {
    let d = &live.details;
    let rows = [
        ("Visitor", "訪問者", format!("#{} {}", live.number, d.name)),
        ("E-mail", "メールアドレス", or_dash(&d.email)),
        ("Country", "国", or_dash(&d.country)),
        ("Browser", "ブラウザー", or_dash(&d.browser)),
        ("OS", "OS", or_dash(&d.os)),
        ("IP", "IPアドレス", or_dash(&d.ip)),
        (
            "Started on",
            "チャットを開始したページ",
            or_dash(&d.first_page),
        ),
        ("Now on", "現在のページ", or_dash(&d.current_page)),
    ];
    system(live.locale, &labelled(live.locale, &rows))
}
