//! `#t` (transfer to an operator or a department) and `#i` (invite an
//! operator in): a request the receiving operator answers with `y` or `n`
//! in the visitor's window. An accepted transfer hands the chat over and
//! the sender leaves; an accepted invitation makes it a group chat.

use salesiq_commands::Locale;

use super::chat::ChatTask;
use super::text::{details_text, say, system, took};
use super::{OperatorEvent, VisitorEvent};
use crate::contact::OperatorRef;

/// What a request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Transfer,
    Invite,
}

/// A transfer or invitation waiting for an answer.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub(super) to: OperatorRef,
    pub(super) from: OperatorRef,
    pub(super) kind: Kind,
}

impl ChatTask {
    /// Sends a request to `targets`, available operators of the portal
    /// other than the sender and the chat's members; returns the text for
    /// the sender.
    pub(super) async fn request(
        &mut self,
        from: &OperatorRef,
        kind: Kind,
        targets: Vec<OperatorRef>,
        note: Option<&str>,
    ) -> String {
        let locale = self.locale;
        let from_name = self.name(from).await;
        let targets: Vec<OperatorRef> = targets
            .into_iter()
            .filter(|t| self.inner.is_available(t) && t != from && !self.is_member(t))
            .collect();
        if targets.is_empty() {
            return say(
                locale,
                "Nobody available to take it",
                "対応可能な担当者がいません",
            )
            .to_owned();
        }
        let visitor = &self.item.contact.name;
        let note = note.map(|n| format!(": {n}")).unwrap_or_default();
        let text = match (kind, locale) {
            (Kind::Transfer, Locale::Ja) => format!(
                "{from_name}さんから{visitor}とのチャットの転送です{note}。承認するには y、拒否するには n と返信してください。"
            ),
            (Kind::Invite, Locale::Ja) => format!(
                "{from_name}さんから{visitor}とのチャットへの招待です{note}。承認するには y、拒否するには n と返信してください。"
            ),
            (Kind::Transfer, _) => format!(
                "{from_name} transfers the chat with {visitor} to you{note}. Reply y to accept or n to decline."
            ),
            (Kind::Invite, _) => format!(
                "{from_name} invites you into the chat with {visitor}{note}. Reply y to accept or n to decline."
            ),
        };
        let sink = self.inner.sink.clone();
        for target in &targets {
            sink.send(
                target,
                OperatorEvent::ContactAdded {
                    contact: self.item.contact.clone(),
                    status: self.item.status.clone(),
                },
            );
            sink.send(
                target,
                OperatorEvent::message(self.contact(), system(locale, &text)),
            );
            self.requests.retain(|r| r.to != *target);
            self.requests.push(Request {
                to: target.clone(),
                from: from.clone(),
                kind,
            });
        }
        self.publish();
        match kind {
            Kind::Transfer => say(
                locale,
                "Transfer request sent",
                "転送のリクエストを送信しました",
            )
            .to_owned(),
            Kind::Invite => say(locale, "Invitation sent", "招待を送信しました").to_owned(),
        }
    }

    /// The answer of a request's receiver.
    pub(super) async fn answer(&mut self, operator: &OperatorRef, accept: bool) {
        let Some(index) = self.requests.iter().position(|r| r.to == *operator) else {
            return;
        };
        let name = self.name(operator).await;
        let locale = self.locale;
        let request = self.requests.remove(index);
        let contact = self.contact().clone();
        let sink = self.inner.sink.clone();
        let tell = |to: &OperatorRef, text: String| {
            sink.send(to, OperatorEvent::message(&contact, system(locale, &text)));
        };
        let removed = |to: &OperatorRef| {
            let contact = contact.clone();
            sink.send(to, OperatorEvent::ContactRemoved { contact });
        };
        if !accept {
            tell(
                &request.from,
                match locale {
                    Locale::Ja => format!("{name}さんが拒否しました"),
                    _ => format!("{name} declined"),
                },
            );
            removed(operator);
            self.publish();
            return;
        }
        match request.kind {
            Kind::Transfer => {
                // The other receivers of this transfer lose it; the sender leaves.
                let others: Vec<OperatorRef> = self
                    .requests
                    .iter()
                    .filter(|r| r.kind == Kind::Transfer && r.from == request.from)
                    .map(|r| r.to.clone())
                    .collect();
                self.requests
                    .retain(|r| !(r.kind == Kind::Transfer && r.from == request.from));
                for other in &others {
                    tell(other, took(locale, &name));
                    removed(other);
                }
                if self.operator.as_ref() == Some(&request.from) {
                    self.operator = Some(operator.clone());
                } else {
                    self.guests.retain(|g| *g != request.from);
                    self.guests.push(operator.clone());
                }
                tell(
                    &request.from,
                    match locale {
                        Locale::Ja => {
                            format!("{name}さんが転送を承認しました。このチャットから退出しました")
                        }
                        _ => format!("{name} accepted the transfer; you have left the chat"),
                    },
                );
                removed(&request.from);
            }
            Kind::Invite => {
                for member in self.members() {
                    tell(
                        member,
                        match locale {
                            Locale::Ja => format!("{name}さんがチャットに参加しました"),
                            _ => format!("{name} joined the chat"),
                        },
                    );
                }
                self.guests.push(operator.clone());
            }
        }
        self.publish();
        self.tell_visitor(VisitorEvent::Joined { operator: name });
        let details = details_text(locale, self.number, &self.details);
        sink.send(operator, OperatorEvent::message(&contact, details));
    }
}
