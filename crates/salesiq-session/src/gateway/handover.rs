//! `#t` (transfer to an operator or a department) and `#i` (invite an
//! operator in): a request the receiving operator answers with `y` or `n`
//! in the visitor's window. An accepted transfer hands the chat over and
//! the sender leaves; an accepted invitation makes it a group chat.

use salesiq_commands::Locale;

use super::{
    Gateway, GatewayError, OperatorEvent, OperatorRef, VisitorEvent, details_text, say, system,
};
use crate::model::ChatId;

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

impl Gateway {
    /// Sends a request to `targets`, available operators of the portal
    /// other than the sender and the chat's members; returns the text for
    /// the sender.
    pub(super) async fn request(
        &self,
        from: &OperatorRef,
        chat: ChatId,
        locale: Locale,
        kind: Kind,
        targets: Vec<OperatorRef>,
        note: Option<&str>,
    ) -> Result<String, GatewayError> {
        let from_name = self.display_name(from).await;
        let sink = &*self.inner.sink;
        let mut state = self.lock();
        let available = state.available.clone();
        let live = state.chats.get_mut(&chat).ok_or(GatewayError::NoSuchChat)?;
        let targets: Vec<OperatorRef> = targets
            .into_iter()
            .filter(|t| available.contains(t) && t != from && !live.is_member(t))
            .collect();
        if targets.is_empty() {
            return Ok(say(
                locale,
                "Nobody available to take it",
                "対応可能な担当者がいません",
            )
            .to_owned());
        }
        let visitor = &live.contact.name;
        let note = note.map(|n| format!(": {n}")).unwrap_or_default();
        let text = match (kind, live.locale) {
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
        for target in &targets {
            sink.send(
                target,
                OperatorEvent::ContactAdded {
                    contact: live.contact.clone(),
                    status: live.status.clone(),
                },
            );
            let text = system(live.locale, &text);
            sink.send(
                target,
                OperatorEvent::Message {
                    from: live.contact.id.clone(),
                    text,
                },
            );
            live.requests.retain(|r| r.to != *target);
            live.requests.push(Request {
                to: target.clone(),
                from: from.clone(),
                kind,
            });
        }
        Ok(match kind {
            Kind::Transfer => say(
                locale,
                "Transfer request sent",
                "転送のリクエストを送信しました",
            )
            .to_owned(),
            Kind::Invite => say(locale, "Invitation sent", "招待を送信しました").to_owned(),
        })
    }

    /// The answer of a request's receiver; `false` if they had none.
    pub(super) async fn answer(
        &self,
        operator: &OperatorRef,
        chat: ChatId,
        accept: bool,
    ) -> Result<bool, GatewayError> {
        let name = self.display_name(operator).await;
        let sink = &*self.inner.sink;
        let mut state = self.lock();
        let live = state.chats.get_mut(&chat).ok_or(GatewayError::NoSuchChat)?;
        let Some(index) = live.requests.iter().position(|r| r.to == *operator) else {
            return Ok(false);
        };
        let request = live.requests.remove(index);
        let contact = live.contact.id.clone();
        let tell = |to: &OperatorRef, text: String| {
            sink.send(
                to,
                OperatorEvent::Message {
                    from: contact.clone(),
                    text: system(live.locale, &text),
                },
            );
        };
        if !accept {
            tell(
                &request.from,
                match live.locale {
                    Locale::Ja => format!("{name}さんが拒否しました"),
                    _ => format!("{name} declined"),
                },
            );
            sink.send(
                operator,
                OperatorEvent::ContactRemoved {
                    contact_id: contact.clone(),
                },
            );
            return Ok(true);
        }
        match request.kind {
            Kind::Transfer => {
                // The other receivers of this transfer lose it; the sender leaves.
                let others: Vec<OperatorRef> = live
                    .requests
                    .iter()
                    .filter(|r| r.kind == Kind::Transfer && r.from == request.from)
                    .map(|r| r.to.clone())
                    .collect();
                live.requests
                    .retain(|r| !(r.kind == Kind::Transfer && r.from == request.from));
                for other in &others {
                    tell(other, super::took(live.locale, &name));
                    sink.send(
                        other,
                        OperatorEvent::ContactRemoved {
                            contact_id: contact.clone(),
                        },
                    );
                }
                if live.operator.as_ref() == Some(&request.from) {
                    live.operator = Some(operator.clone());
                } else {
                    live.guests.retain(|g| *g != request.from);
                    live.guests.push(operator.clone());
                }
                tell(
                    &request.from,
                    match live.locale {
                        Locale::Ja => {
                            format!("{name}さんが転送を承認しました。このチャットから退出しました")
                        }
                        _ => format!("{name} accepted the transfer; you have left the chat"),
                    },
                );
                sink.send(
                    &request.from,
                    OperatorEvent::ContactRemoved {
                        contact_id: contact.clone(),
                    },
                );
            }
            Kind::Invite => {
                for member in live.members() {
                    tell(
                        member,
                        match live.locale {
                            Locale::Ja => format!("{name}さんがチャットに参加しました"),
                            _ => format!("{name} joined the chat"),
                        },
                    );
                }
                live.guests.push(operator.clone());
            }
        }
        let _ = live
            .to_visitor
            .send(VisitorEvent::Joined { operator: name });
        sink.send(
            operator,
            OperatorEvent::Message {
                from: contact.clone(),
                text: details_text(live),
            },
        );
        Ok(true)
    }
}
