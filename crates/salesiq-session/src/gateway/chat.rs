//! One live chat as a task: it owns the chat's state and handles, one at a
//! time, what operators and the visitor hand it, its timers, and the
//! answers of connector calls made beside it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use salesiq_commands::{Input, Locale, parse};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::handover::Request;
use super::text::{details_text, offer_text, say, system, took};
use super::{
    Done, GatewayError, Inner, Numbered, OperatorEvent, OperatorInput, RosterItem, VISITOR_QUEUE,
    VisitorEvent, logged,
};
use crate::contact::{Activity, ContactId, DeviceId, OperatorRef};
use crate::model::{Author, ChatEvent, ChatId, ChatState, LiveChat, VisitorDetails, VisitorId};

/// How many content events a chat keeps for a visitor who resumes; one
/// who missed more gets the newest this many. The store keeps as many, for
/// a resume after a restart.
pub(crate) const REPLAY: usize = crate::store::MAX_CHAT_EVENTS;

/// How many content event numbers a chat reserves in the store at a time,
/// ahead of what it sends ([`LiveChat::seq_reserved`]): one store write
/// per this many events, and after a crash the numbering skips at most
/// this many.
const SEQ_BLOCK: u64 = 100;

/// At most one visitor chat state per this interval reaches the operators.
pub(crate) const STATE_INTERVAL: Duration = Duration::from_millis(250);

/// What a chat's task is handed.
#[derive(Debug)]
pub(crate) enum Msg {
    /// An operator's input.
    Operator {
        from: OperatorRef,
        input: OperatorInput,
        done: Done,
    },
    VisitorText(String, Done),
    VisitorState(Activity, Done),
    VisitorPage(String, Done),
    VisitorLeft(Done),
    /// The visitor's connection (that number) dropped: the chat waits
    /// for a resume.
    VisitorGone(u64, Done),
    /// The visitor is back: what they missed after `after`, then live, on
    /// the connection numbered in the answer.
    Resume {
        after: u64,
        reply: tokio::sync::oneshot::Sender<Result<(u64, mpsc::Receiver<Numbered>), GatewayError>>,
    },
    /// A connector's answer for an operator, already written out.
    Answer {
        to: OperatorRef,
        text: String,
        result: Result<(), GatewayError>,
        done: Done,
    },
    /// The process is stopping.
    ShutDown(Done),
    /// Another node takes the chat over: stop as at shutdown, and give
    /// back this node's offer slots.
    Release(Done),
    /// Answered once everything before it was handled.
    Sync(tokio::sync::oneshot::Sender<Result<(), GatewayError>>),
}

/// Everything a chat starts with.
pub(super) struct Setup {
    pub(super) inner: Arc<Inner>,
    pub(super) id: ChatId,
    pub(super) portal: String,
    pub(super) locale: Locale,
    pub(super) item: RosterItem,
    pub(super) visitor: VisitorId,
    pub(super) details: VisitorDetails,
    pub(super) number: i64,
    pub(super) to_visitor: mpsc::Sender<Numbered>,
    pub(super) token_hash: String,
    pub(super) grace: Duration,
    pub(super) eligible: Option<HashSet<OperatorRef>>,
    pub(super) department: Option<crate::model::Department>,
    pub(super) question: String,
    pub(super) tx: mpsc::Sender<Msg>,
    pub(super) rx: mpsc::Receiver<Msg>,
    pub(super) wake: Arc<Notify>,
    pub(super) queue_timeout: Duration,
}

/// A chat in progress, owned by its task.
pub(super) struct ChatTask {
    pub(super) inner: Arc<Inner>,
    pub(super) id: ChatId,
    pub(super) portal: String,
    /// The portal's language, for the gateway's own texts.
    pub(super) locale: Locale,
    pub(super) item: RosterItem,
    pub(super) visitor: VisitorId,
    pub(super) details: VisitorDetails,
    pub(super) number: i64,
    to_visitor: mpsc::Sender<Numbered>,
    /// The last content event's number.
    seq: u64,
    /// The latest content events, for a visitor who resumes.
    replay: VecDeque<(u64, VisitorEvent)>,
    /// Content events not yet in the store.
    unsaved: Vec<ChatEvent>,
    /// The SHA-256 of the visitor's resume token.
    token_hash: String,
    /// The members as last stored; `None` before the chat was first stored.
    saved_members: Option<(Option<OperatorRef>, Vec<OperatorRef>)>,
    /// The content event numbers reserved in the store: the chat sends
    /// none beyond it.
    seq_reserved: u64,
    /// How long the chat waits for a visitor whose connection dropped.
    grace: Duration,
    /// When it stops waiting.
    gone_until: Option<Instant>,
    /// The visitor's current connection: one more per resume.
    connection: u64,
    /// Operators offered the chat who have not answered, with the devices
    /// that have seen the offer: what the chat shows of the routing's
    /// decision ([`super::routing`]).
    pub(super) offered: HashMap<OperatorRef, HashSet<DeviceId>>,
    /// When the one-at-a-time offer runs out.
    offer_deadline: Option<Instant>,
    /// The place in the queue the visitor was last told.
    pub(super) position: usize,
    /// The members as routing counts them (their capacity).
    counted: Vec<OperatorRef>,
    /// The operator who accepted.
    pub(super) operator: Option<OperatorRef>,
    /// Operators invited in who accepted: a group chat.
    pub(super) guests: Vec<OperatorRef>,
    /// Transfers and invitations waiting for `y` or `n`.
    pub(super) requests: Vec<Request>,
    /// Who may be offered the chat: the department's operators, or
    /// `None` for every operator of the portal.
    pub(super) eligible: Option<HashSet<OperatorRef>>,
    /// The department the visitor asked for: its canned answers
    /// (`#c`) and `{department}`.
    pub(super) department: Option<crate::model::Department>,
    /// What the visitor asked when they started.
    question: String,
    /// When a request nobody accepted gives up.
    queue_deadline: Option<Instant>,
    /// A pending `#e <seconds>`.
    pub(super) end_at: Option<Instant>,
    /// Operators whose "composing" the visitor was last shown.
    typing: HashSet<OperatorRef>,
    /// The visitor's chat states as the operators were shown them: the
    /// last one and when, and the newest one waiting for its turn.
    visitor_state: Option<(Activity, Instant)>,
    pending_state: Option<Activity>,
    /// Display names, read once.
    names: HashMap<OperatorRef, String>,
    pub(super) tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    wake: Arc<Notify>,
    ended: bool,
}

impl ChatTask {
    pub(super) fn new(setup: Setup) -> Self {
        Self {
            queue_deadline: Some(Instant::now() + setup.queue_timeout),
            inner: setup.inner,
            id: setup.id,
            portal: setup.portal,
            locale: setup.locale,
            item: setup.item,
            visitor: setup.visitor,
            details: setup.details,
            number: setup.number,
            to_visitor: setup.to_visitor,
            seq: 0,
            replay: VecDeque::new(),
            unsaved: Vec::new(),
            token_hash: setup.token_hash,
            saved_members: None,
            seq_reserved: 0,
            grace: setup.grace,
            gone_until: None,
            connection: 0,
            offered: HashMap::new(),
            offer_deadline: None,
            position: 0,
            counted: Vec::new(),
            operator: None,
            guests: Vec::new(),
            requests: Vec::new(),
            eligible: setup.eligible,
            department: setup.department,
            question: setup.question,
            end_at: None,
            typing: HashSet::new(),
            visitor_state: None,
            pending_state: None,
            names: HashMap::new(),
            tx: setup.tx,
            rx: setup.rx,
            wake: setup.wake,
            ended: false,
        }
    }

    /// The visitor contact.
    pub(super) fn contact(&self) -> &ContactId {
        &self.item.contact.id
    }

    /// Everyone in the chat: the operator who accepted, then the guests.
    pub(super) fn members(&self) -> impl Iterator<Item = &OperatorRef> {
        self.operator.iter().chain(&self.guests)
    }

    pub(super) fn is_member(&self, operator: &OperatorRef) -> bool {
        self.members().any(|m| m == operator)
    }

    /// Handles messages, timers and availability until the chat ends.
    pub(super) async fn run(mut self) {
        tracing::debug!("chat started");
        while !self.ended {
            self.save().await;
            let flush = self
                .pending_state
                .and(self.visitor_state)
                .map(|(_, at)| at + STATE_INTERVAL);
            let deadline = [
                self.queue_deadline,
                self.end_at,
                flush,
                self.gone_until,
                self.offer_deadline,
            ]
            .into_iter()
            .flatten()
            .min();
            let wake = self.wake.clone();
            tokio::select! {
                biased;
                () = wake.notified() => self.offer_to_available(),
                message = self.rx.recv() => match message {
                    Some(message) => self.handle(message).await,
                    None => break,
                },
                () = sleep_until(deadline) => self.timer().await,
            }
        }
        // Whatever arrived meanwhile finds the chat over.
        self.rx.close();
        while let Ok(message) = self.rx.try_recv() {
            self.too_late(message);
        }
        tracing::debug!("chat task done");
    }

    async fn handle(&mut self, message: Msg) {
        match message {
            Msg::Operator {
                from,
                input,
                mut done,
            } => {
                let result = match input {
                    OperatorInput::Text(text) => self.operator_text(&from, &text, &mut done).await,
                    OperatorInput::ChatState(state) => {
                        self.operator_state(&from, state).await;
                        Ok(())
                    }
                };
                // Stored before the operator hears it was taken: what an
                // operator was answered survives a crash right after.
                self.save().await;
                answer(done, result, "operator input");
            }
            Msg::VisitorText(text, done) => {
                let result = self.visitor_text(&text).await;
                answer(done, result, "visitor line");
            }
            Msg::VisitorState(state, done) => {
                self.visitor_active();
                self.visitor_state(state);
                answer(done, Ok(()), "visitor state");
            }
            Msg::VisitorPage(url, done) => {
                self.visitor_active();
                self.details.current_page = Some(url.clone());
                let result = self.inner.store.set_current_page(self.visitor, &url).await;
                answer(done, result.map_err(Into::into), "visitor page");
            }
            Msg::VisitorLeft(done) => {
                self.visitor_left().await;
                answer(done, Ok(()), "visitor left");
            }
            Msg::VisitorGone(connection, done) => {
                // A socket the visitor already left for a newer one says
                // nothing about the visitor.
                if connection == self.connection {
                    self.gone_until = Some(Instant::now() + self.grace);
                }
                answer(done, Ok(()), "visitor gone");
            }
            Msg::Resume { after, reply } => {
                let events = self.resume(after);
                let _ = reply.send(Ok((self.connection, events)));
            }
            Msg::Answer {
                to,
                text,
                result,
                done,
            } => {
                self.reply(&to, &text);
                answer(done, result, "connector command");
            }
            Msg::Release(done) => {
                let offered: Vec<OperatorRef> = self.withdraw_offers();
                tracing::info!(offered = offered.len(), "chat given up to another node");
                self.stop(done).await;
            }
            Msg::ShutDown(done) => self.stop(done).await,
            Msg::Sync(done) => {
                let _ = done.send(Ok(()));
            }
        }
    }

    /// What the store keeps of the chat as it stands.
    fn live(&self) -> LiveChat {
        LiveChat::new(self.id, &self.portal, &self.token_hash)
            .with_members(self.operator.clone(), self.guests.clone())
            .with_seq_reserved(self.seq)
            .with_owner(self.inner.node())
    }

    /// Stops the task, keeping the chat in the store for whoever runs it
    /// next (this node after a restart, or another node).
    async fn stop(&mut self, done: Done) {
        // Kept, not ended: the next start restores the chat
        // (`Gateway::restore_chats`) and the visitor resumes, numbered on
        // exactly where it stopped.
        self.save().await;
        let live = self.live();
        logged(
            self.inner.store.save_live_chat(&live).await,
            "a stopped chat was not stored",
        );
        self.ended = true;
        self.inner.remove(self.id);
        answer(done, Ok(()), "shut down");
    }

    /// A message that arrived after the chat ended.
    fn too_late(&self, message: Msg) {
        match message {
            Msg::Operator {
                from,
                input: OperatorInput::Text(_),
                done,
                ..
            } => {
                let text = say(
                    self.locale,
                    "This chat has ended; your message was not delivered",
                    "このチャットは終了しました。メッセージは届いていません",
                );
                self.reply(&from, text);
                answer(done, Err(GatewayError::NoSuchChat), "late input");
            }
            Msg::Operator { done, .. }
            | Msg::VisitorText(_, done)
            | Msg::VisitorState(_, done)
            | Msg::VisitorPage(_, done)
            | Msg::VisitorLeft(done)
            | Msg::VisitorGone(_, done)
            | Msg::Answer { done, .. }
            | Msg::Release(done)
            | Msg::ShutDown(done) => {
                if let Some(done) = done {
                    let _ = done.send(Err(GatewayError::NoSuchChat));
                }
            }
            Msg::Resume { reply, .. } => {
                let _ = reply.send(Err(GatewayError::BadToken));
            }
            Msg::Sync(done) => {
                let _ = done.send(Ok(()));
            }
        }
    }

    /// Puts the chat in the queue: a new request, or a chat a restart
    /// brought back that nobody had accepted.
    pub(super) fn enqueue(&mut self) {
        let (department, routing, timeout) = match &self.department {
            Some(d) => (Some(d.id), d.routing, d.offer_timeout_secs),
            None => (
                None,
                crate::model::Routing::Broadcast,
                crate::model::DEFAULT_OFFER_TIMEOUT_SECS,
            ),
        };
        // An offer of no time at all would pass from one operator to the
        // next at once.
        let timeout = Duration::from_secs(u64::from(timeout.max(1)));
        let waiting = super::routing::Waiting::new(
            &self.portal,
            department,
            self.eligible.clone(),
            routing,
            timeout,
        );
        let id = self.id;
        self.inner
            .reroute(&self.portal, |router| router.enqueue(id, waiting));
        if let Some(view) = self.inner.routing().view(id) {
            self.position = view.position;
        }
    }

    /// Shows, while nobody has accepted the chat, what routing decided:
    /// the offer on every device of each operator offered it that has not
    /// seen it, the contact gone from those no longer offered it, and the
    /// visitor's new place in the queue.
    pub(super) fn offer_to_available(&mut self) {
        if self.operator.is_some() || self.ended {
            return;
        }
        let Some(view) = self.inner.routing().view(self.id) else {
            return;
        };
        let still: HashSet<&OperatorRef> = view.offered.iter().map(|(o, _)| o).collect();
        let withdrawn: Vec<OperatorRef> = self
            .offered
            .keys()
            .filter(|o| !still.contains(o))
            .cloned()
            .collect();
        for operator in withdrawn {
            self.offered.remove(&operator);
            let contact = self.contact().clone();
            self.inner
                .sink
                .send(&operator, OperatorEvent::ContactRemoved { contact });
        }
        let offer = offer_text(self.locale, &self.details, self.number, &self.item.status);
        for (operator, devices) in &view.offered {
            for device in devices {
                let seen = self.offered.entry(operator.clone()).or_default();
                if !seen.insert(*device) {
                    continue;
                }
                let sink = &self.inner.sink;
                let added = OperatorEvent::ContactAdded {
                    contact: self.item.contact.clone(),
                    status: self.item.status.clone(),
                };
                sink.send_to_device(operator, *device, added);
                let message = OperatorEvent::message(&self.item.contact.id, offer.clone());
                sink.send_to_device(operator, *device, message);
            }
        }
        self.offer_deadline = view.deadline;
        if view.position != self.position && view.position > 0 {
            self.position = view.position;
            self.tell_visitor(VisitorEvent::Queued {
                position: view.position,
            });
        }
        self.publish();
    }

    /// The one-at-a-time offer ran out: the operator is told it went on
    /// (and, at their second miss in a row, that they take no chats now),
    /// and the next one is offered it.
    fn offers_ran_out(&mut self, now: Instant) {
        let id = self.id;
        let mut expired = Vec::new();
        self.inner.reroute(&self.portal, |router| {
            expired = router.expire(id, now);
        });
        for (operator, paused) in expired {
            let shown = self.offered.remove(&operator).is_some();
            if shown {
                let text = say(
                    self.locale,
                    "You did not answer in time: the request went to the next operator",
                    "時間内に応答がなかったため、リクエストは次の担当者に回されました",
                );
                self.reply(&operator, text);
            }
            if paused {
                let text = say(
                    self.locale,
                    "You let two chat requests in a row pass: you are not taking chats now. Set your status to available again to take chats",
                    "チャットのリクエストに2回続けて応答がなかったため、チャットの受付を停止しました。再開するにはステータスをオンラインに戻してください",
                );
                self.reply(&operator, text);
            }
            if shown {
                let contact = self.contact().clone();
                self.inner
                    .sink
                    .send(&operator, OperatorEvent::ContactRemoved { contact });
            }
        }
        self.offer_to_available();
    }

    /// Withdraws the chat's offers from everyone offered (it was taken, or
    /// ends): their room goes to other waiting chats. Who was offered.
    fn withdraw_offers(&mut self) -> Vec<OperatorRef> {
        let offered: Vec<OperatorRef> = self.offered.drain().map(|(o, _)| o).collect();
        self.offer_deadline = None;
        let id = self.id;
        self.inner
            .reroute(&self.portal, |router| router.dequeue(id));
        offered
    }

    /// Tells the index who has the visitor on their list now, and
    /// routing who is in the chat (their capacity).
    pub(super) fn publish(&mut self) {
        let members: Vec<OperatorRef> = self.members().cloned().collect();
        if members != self.counted {
            self.counted = members.clone();
            let id = self.id;
            self.inner
                .reroute(&self.portal, |router| router.set_members(id, members));
        }
        let audience: HashSet<OperatorRef> = self
            .members()
            .chain(self.offered.keys())
            .chain(self.requests.iter().map(|r| &r.to))
            .cloned()
            .collect();
        self.inner
            .update_entry(self.id, audience, self.operator.is_none());
    }

    /// A visitor's chat state, coalesced: operators see at most one change
    /// per [`STATE_INTERVAL`], the newest; repeats are not sent again (a
    /// page sending thousands of typing frames once disconnected the
    /// chat's operator).
    fn visitor_state(&mut self, state: Activity) {
        let now = Instant::now();
        match self.visitor_state {
            Some((shown, _)) if shown == state && self.pending_state.is_none() => {}
            Some((_, at)) if now < at + STATE_INTERVAL => self.pending_state = Some(state),
            _ => self.show_visitor_state(state, now),
        }
    }

    fn show_visitor_state(&mut self, state: Activity, now: Instant) {
        self.pending_state = None;
        self.visitor_state = Some((state, now));
        let from = self.contact().clone();
        for member in self.members() {
            let event = OperatorEvent::ChatState {
                from: from.clone(),
                state,
            };
            self.inner.sink.send(member, event);
        }
    }

    async fn timer(&mut self) {
        let now = Instant::now();
        if let (Some(state), Some((shown, at))) = (self.pending_state, self.visitor_state)
            && now >= at + STATE_INTERVAL
        {
            if state == shown {
                self.pending_state = None;
            } else {
                self.show_visitor_state(state, now);
            }
            return;
        }
        if self.offer_deadline.is_some_and(|at| at <= now) && self.operator.is_none() {
            self.offer_deadline = None;
            self.offers_ran_out(now);
        } else if self.gone_until.is_some_and(|at| at <= now) {
            self.gone_until = None;
            self.visitor_left().await;
        } else if self.end_at.is_some_and(|at| at <= now) {
            self.end_at = None;
            let reason = "The chat ended after a time without activity";
            let note = say(
                self.locale,
                "Chat ended: the visitor was inactive",
                "訪問者の操作がなかったためチャットを終了しました",
            );
            self.end(Some(reason), note).await;
        } else if self.queue_deadline.is_some_and(|at| at <= now) {
            self.queue_deadline = None;
            if self.operator.is_none() {
                let reason = "No operator is available right now. Please try again later.";
                let note = say(
                    self.locale,
                    "Nobody accepted the request in time",
                    "時間内にリクエストを承認した担当者がいませんでした",
                );
                self.end(Some(reason), note).await;
            }
        }
    }

    /// What an operator typed in the visitor's window.
    async fn operator_text(
        &mut self,
        operator: &OperatorRef,
        text: &str,
        done: &mut Done,
    ) -> Result<(), GatewayError> {
        let offered = self.operator.is_none() && self.offered.contains_key(operator);
        let member = self.is_member(operator);
        let asked = self.requests.iter().any(|r| r.to == *operator);
        let input = parse(text);
        if !matches!(input, Ok(Input::Text(_))) {
            // Not a line for the visitor: whatever was typed for it is not.
            self.stop_typing(operator).await;
        }
        match input {
            Ok(Input::Yes) if offered => self.accept(operator).await,
            Ok(Input::No) if offered => {
                self.decline(operator);
                Ok(())
            }
            Ok(input @ (Input::Yes | Input::No)) if asked => {
                self.answer(operator, input == Input::Yes).await;
                Ok(())
            }
            _ if !member => {
                let text = say(
                    self.locale,
                    "This chat is not yours: reply y to the request first",
                    "このチャットは担当していません",
                );
                self.reply(operator, text);
                Ok(())
            }
            Ok(Input::Text(text)) => self.relay(operator, text).await,
            Ok(Input::Yes | Input::No) => self.relay(operator, text.trim()).await,
            Ok(Input::Command(command)) => self.execute(operator, text, command, done).await,
            Err(error) => {
                let text = error.display(self.locale).to_string();
                self.reply(operator, &text);
                Ok(())
            }
        }
    }

    async fn operator_state(&mut self, operator: &OperatorRef, state: Activity) {
        if !self.is_member(operator) {
            return;
        }
        let composing = state == Activity::Composing;
        if composing {
            self.typing.insert(operator.clone());
        } else {
            self.typing.remove(operator);
        }
        let from = self.name(operator).await;
        self.tell_visitor(VisitorEvent::Typing { from, state });
    }

    /// Clears a "composing" the visitor was shown for `operator`.
    async fn stop_typing(&mut self, operator: &OperatorRef) {
        if self.typing.remove(operator) {
            let from = self.name(operator).await;
            self.tell_visitor(VisitorEvent::Typing {
                from,
                state: Activity::Active,
            });
        }
    }

    /// The first `y` wins: the others are told and lose the contact; the
    /// winner gets the visitor's details; the visitor learns who joined.
    async fn accept(&mut self, operator: &OperatorRef) -> Result<(), GatewayError> {
        let name = self.name(operator).await;
        self.operator = Some(operator.clone());
        self.queue_deadline = None;
        let id = self.id;
        self.inner
            .reroute(&self.portal, |router| router.accepted(id, operator));
        let others: Vec<OperatorRef> = self
            .withdraw_offers()
            .into_iter()
            .filter(|o| o != operator)
            .collect();
        self.publish();
        let stored = self
            .inner
            .store
            .set_chat_state(self.id, ChatState::Active)
            .await;
        self.tell_visitor(VisitorEvent::Joined {
            operator: name.clone(),
        });
        self.inner.publish(
            salesiq_integrations::EventKind::ChatAccepted,
            &self.portal,
            serde_json::json!({
                "chat": self.id.0,
                "visitor": self.number,
                "operator": operator.username(),
                "operator_name": name,
            }),
        );
        let contact = self.contact().clone();
        let sink = &self.inner.sink;
        for other in &others {
            let text = system(self.locale, &took(self.locale, &name));
            sink.send(other, OperatorEvent::message(&contact, text));
            sink.send(
                other,
                OperatorEvent::ContactRemoved {
                    contact: contact.clone(),
                },
            );
        }
        let details = details_text(self.locale, self.number, &self.details);
        sink.send(operator, OperatorEvent::message(&contact, details));
        stored.map_err(Into::into)
    }

    fn decline(&mut self, operator: &OperatorRef) {
        self.offered.remove(operator);
        let id = self.id;
        self.inner
            .reroute(&self.portal, |router| router.declined(id, operator));
        self.publish();
        let text = say(
            self.locale,
            "You declined the chat",
            "チャットのリクエストを拒否しました",
        );
        self.reply(operator, text);
        let contact = self.contact().clone();
        self.inner
            .sink
            .send(operator, OperatorEvent::ContactRemoved { contact });
    }

    /// Text for the visitor, kept in the transcript.
    pub(super) async fn relay(
        &mut self,
        operator: &OperatorRef,
        text: &str,
    ) -> Result<(), GatewayError> {
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            return Ok(());
        }
        self.typing.remove(operator);
        let name = self.name(operator).await;
        // Stored before anyone sees it: a crash never loses a line the
        // visitor read (tests/crash.rs reads the history after SIGKILL).
        let stored = self
            .inner
            .store
            .add_line(self.id, &Author::Operator(name.clone()), text)
            .await;
        // In a group chat the other operators see it, marked with the author.
        let contact = self.contact().clone();
        for member in self.members().filter(|m| *m != operator) {
            let line = format!("({name}) {text}");
            self.inner
                .sink
                .send(member, OperatorEvent::message(&contact, line));
        }
        self.tell_visitor(VisitorEvent::Message {
            from: name,
            text: text.to_owned(),
        });
        stored.map_err(Into::into)
    }

    /// The visitor wrote: to the operators, and into the transcript.
    async fn visitor_text(&mut self, text: &str) -> Result<(), GatewayError> {
        self.visitor_active();
        // A message says "active" itself; a state still waiting is stale.
        self.pending_state = None;
        self.visitor_state = Some((Activity::Active, Instant::now()));
        // Stored before the operators see it, as in `relay`.
        let stored = self
            .inner
            .store
            .add_line(self.id, &Author::Visitor, text)
            .await;
        let contact = self.contact().clone();
        let shown = unforged(text);
        for member in self.members() {
            self.inner
                .sink
                .send(member, OperatorEvent::message(&contact, shown.as_ref()));
        }
        stored.map_err(Into::into)
    }

    /// Any visitor activity stops a pending timed end, and the operators
    /// are told.
    fn visitor_active(&mut self) {
        if self.end_at.take().is_none() {
            return;
        }
        let text = system(
            self.locale,
            say(
                self.locale,
                "Chat end cancelled",
                "サポート終了を中断しました",
            ),
        );
        for member in self.members() {
            self.inner
                .sink
                .send(member, OperatorEvent::message(self.contact(), text.clone()));
        }
    }

    /// Ends the chat: out of the index, stored as ended, the visitor told
    /// (`visitor_reason`), and every operator who has the contact told and
    /// rid of it.
    pub(super) async fn end(&mut self, visitor_reason: Option<&str>, operator_note: &str) {
        if self.operator.is_none() {
            // Nobody accepted: a missed chat, reported like a message left.
            let missed = crate::model::LeftMessage::new(
                &self.portal,
                crate::model::LeftKind::MissedChat,
                &self.details.name,
                self.details.email.as_deref(),
                &self.question,
                chrono::Utc::now(),
            )
            .with_department(self.department.as_ref().map(|d| d.id))
            .with_chat(Some(self.id));
            let department = self.department.as_ref().map(|d| d.name.clone());
            self.inner.publish(
                salesiq_integrations::EventKind::ChatMissed,
                &self.portal,
                serde_json::json!({
                    "chat": self.id.0,
                    "visitor": self.number,
                    "name": self.details.name,
                    "email": self.details.email,
                    "question": self.question,
                    "department": department,
                }),
            );
            logged(
                self.inner.keep_and_report(missed, department).await,
                "a missed chat was not recorded",
            );
        } else {
            let operators: Vec<&str> = self.members().map(OperatorRef::username).collect();
            self.inner.publish(
                salesiq_integrations::EventKind::ChatEnded,
                &self.portal,
                serde_json::json!({
                    "chat": self.id.0,
                    "visitor": self.number,
                    "operators": operators,
                    "reason": operator_note,
                }),
            );
        }
        self.ended = true;
        let token = self.inner.remove(self.id);
        if self.operator.is_some() {
            // The visitor may rate it for a while.
            let rateable = super::afterwards::Rateable {
                portal: self.portal.clone(),
                number: self.number,
                members: self.members().cloned().collect(),
                locale: self.locale,
                rated: false,
                until: Instant::now() + super::afterwards::RATE_WINDOW,
            };
            self.inner.rateable(self.id, rateable);
        }
        logged(
            self.inner
                .store
                .set_chat_state(self.id, ChatState::Ended)
                .await,
            "the end of a chat was not stored",
        );
        logged(
            self.inner.store.drop_live_chat(self.id).await,
            "an ended chat's live state was not dropped",
        );
        if let Some(reason) = visitor_reason {
            self.tell_visitor(VisitorEvent::Ended {
                reason: reason.to_owned(),
            });
            // A visitor away just now hears of the end when they come back.
            if let Some(token) = token {
                let skip = self.replay.len().saturating_sub(super::TOMBSTONE_EVENTS);
                let events = self.replay.iter().skip(skip).cloned().collect();
                self.inner
                    .bury(token, &self.portal, self.id, self.number, events);
            }
        }
        let mut told = HashSet::new();
        let contact = self.contact().clone();
        let offered = self.withdraw_offers();
        let everyone = self
            .members()
            .chain(&offered)
            .chain(self.requests.iter().map(|r| &r.to));
        for operator in everyone {
            if !told.insert(operator) {
                continue;
            }
            let text = system(self.locale, operator_note);
            self.inner
                .sink
                .send(operator, OperatorEvent::message(&contact, text));
            self.inner.sink.send(
                operator,
                OperatorEvent::ContactRemoved {
                    contact: contact.clone(),
                },
            );
        }
        tracing::info!("chat ended");
    }

    /// Tells `operator`, from the visitor contact, in the system's voice.
    pub(super) fn reply(&self, operator: &OperatorRef, text: &str) {
        let message = OperatorEvent::message(self.contact(), system(self.locale, text));
        self.inner.sink.send(operator, message);
    }

    /// The visitor left (or did not come back within the grace): the chat
    /// ends, and the operators are told.
    async fn visitor_left(&mut self) {
        let note = say(
            self.locale,
            "The visitor left the chat",
            "訪問者がチャットを退出しました",
        );
        self.end(None, note).await;
    }

    /// The visitor is back on a new connection: a new channel, with what
    /// they missed after `after` (and "queued" while nobody accepted),
    /// then live events. The old channel closes.
    fn resume(&mut self, after: u64) -> mpsc::Receiver<Numbered> {
        self.gone_until = None;
        self.connection += 1;
        let (to_visitor, events) = mpsc::channel(VISITOR_QUEUE.max(REPLAY + 8));
        if self.operator.is_none() {
            let _ = to_visitor.try_send(Numbered {
                seq: None,
                event: VisitorEvent::Queued {
                    position: self.position.max(1),
                },
            });
        }
        for missed in replay_after(&self.replay, after) {
            let _ = to_visitor.try_send(missed);
        }
        self.to_visitor = to_visitor;
        tracing::debug!(after, "the visitor resumed");
        events
    }

    /// Queues an event for the visitor, numbered and kept for a resume if
    /// it is content; one who reads nothing loses the newest.
    pub(super) fn tell_visitor(&mut self, event: VisitorEvent) {
        let seq = event.is_content().then(|| {
            self.seq += 1;
            self.unsaved.push(ChatEvent::new(self.seq, event.clone()));
            self.replay.push_back((self.seq, event.clone()));
            if self.replay.len() > REPLAY {
                self.replay.pop_front();
            }
            self.seq
        });
        if let Err(error) = self.to_visitor.try_send(Numbered { seq, event }) {
            match error {
                mpsc::error::TrySendError::Full(_) => {
                    tracing::warn!("the visitor reads nothing: an event was dropped");
                }
                // The visitor's side is gone; `visitor_leaves` follows.
                mpsc::error::TrySendError::Closed(_) => {}
            }
        }
    }

    /// Stores what a restart needs and changed since the last time: the
    /// members, then the content events sent since. Nothing once the chat
    /// ended (its live state is gone from the store).
    async fn save(&mut self) {
        if self.ended {
            return;
        }
        let members = (self.operator.clone(), self.guests.clone());
        // Numbers stay reserved ahead of what is sent: a handled message
        // sends a few events at most, so half a block to spare is plenty.
        let reserve = self.seq + SEQ_BLOCK / 2 > self.seq_reserved;
        if self.saved_members.as_ref() != Some(&members) || reserve {
            let reserved = if reserve {
                self.seq + SEQ_BLOCK
            } else {
                self.seq_reserved
            };
            let live = LiveChat::new(self.id, &self.portal, &self.token_hash)
                .with_members(members.0.clone(), members.1.clone())
                .with_seq_reserved(reserved)
                .with_owner(self.inner.node());
            match self.inner.store.save_live_chat(&live).await {
                Ok(()) => {
                    self.saved_members = Some(members);
                    self.seq_reserved = reserved;
                }
                Err(error) => tracing::warn!(%error, "a live chat was not stored"),
            }
        }
        for event in std::mem::take(&mut self.unsaved) {
            logged(
                self.inner.store.add_chat_event(self.id, &event).await,
                "a chat event was not stored",
            );
        }
    }

    /// A chat brought back after a restart: its members and the content
    /// events the store kept, its visitor away until they resume (within
    /// the grace, from now).
    pub(super) fn restored(&mut self, live: LiveChat, events: Vec<ChatEvent>) {
        self.saved_members = Some((live.operator.clone(), live.guests.clone()));
        self.operator = live.operator;
        self.guests = live.guests;
        if self.operator.is_some() {
            self.queue_deadline = None;
        }
        // After a crash the visitor may have seen numbers up to the
        // reservation that no kept event has: new events come after them.
        let kept = events.iter().map(|e| e.seq).max().unwrap_or(0);
        self.seq = kept.max(live.seq_reserved);
        self.seq_reserved = self.seq;
        let skip = events.len().saturating_sub(REPLAY);
        self.replay = events
            .into_iter()
            .skip(skip)
            .map(|e| (e.seq, e.event))
            .collect();
        self.gone_until = Some(Instant::now() + self.grace);
    }

    /// An operator's display name, read from the store once per chat.
    pub(super) async fn name(&mut self, operator: &OperatorRef) -> String {
        if let Some(name) = self.names.get(operator) {
            return name.clone();
        }
        let name = self.inner.display_name(operator).await;
        self.names.insert(operator.clone(), name.clone());
        name
    }
}

/// The content events numbered after `after`, as a visitor who saw up to
/// `after` is given them again.
pub(super) fn replay_after<'a>(
    events: impl IntoIterator<Item = &'a (u64, VisitorEvent)>,
    after: u64,
) -> impl Iterator<Item = Numbered> {
    events
        .into_iter()
        .filter(move |(seq, _)| *seq > after)
        .map(|(seq, event)| Numbered {
            seq: Some(*seq),
            event: event.clone(),
        })
}

/// A visitor's line as operators see it: one whose line starts with the
/// gateway's own prefix is marked as the visitor's, so that nobody can
/// pass words off as the system's ("[system] Chat ended").
fn unforged(text: &str) -> std::borrow::Cow<'_, str> {
    let forged = text.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("[system]") || line.starts_with("[システム]")
    });
    if forged {
        let quoted: Vec<String> = text
            .lines()
            .map(|line| format!("(visitor) {line}"))
            .collect();
        std::borrow::Cow::Owned(quoted.join("\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Answers a waiting caller, or logs the error nobody waits for.
fn answer(done: Done, result: Result<(), GatewayError>, what: &str) {
    match done {
        Some(done) => {
            let _ = done.send(result);
        }
        None => {
            logged(result, what);
        }
    }
}

/// Sleeps until `deadline`, or forever.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
