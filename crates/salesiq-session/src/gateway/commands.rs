//! What an operator types into a visitor's chat window: `y`/`n` to an
//! offer, text for the visitor, or a `#` command executed here.

use salesiq_commands::{Command, Input, Locale, help, parse};

use super::board;
use super::handover::Kind;
use super::{Gateway, GatewayError, OperatorEvent, OperatorRef, VisitorEvent, details_text, say};
use crate::model::{Author, ChatId, ChatState};

impl Gateway {
    /// An operator wrote `text` to the visitor contact `contact_id`.
    ///
    /// Only operators of the chat's portal reach it ([`GatewayError::NoSuchChat`]
    /// otherwise); only the operator who accepted may write to the
    /// visitor or run commands. Errors in commands are answered to the
    /// operator with the usage line and never reach the visitor.
    pub async fn operator_says(
        &self,
        operator: &OperatorRef,
        contact_id: &str,
        text: &str,
    ) -> Result<(), GatewayError> {
        if contact_id == board::contact_id(operator.portal()) {
            return self.post_from(operator, text).await;
        }
        let chat = self.chat_of(operator, contact_id)?;
        let locale = self.locale(operator.portal()).await;
        let (offered, member, asked) = {
            let state = self.lock();
            let live = state.chats.get(&chat).ok_or(GatewayError::NoSuchChat)?;
            (
                live.operator.is_none() && live.offered.contains(operator),
                live.is_member(operator),
                live.requests.iter().any(|r| r.to == *operator),
            )
        };
        match parse(text) {
            Ok(Input::Yes) if offered => self.accept(operator, chat).await,
            Ok(Input::No) if offered => {
                self.decline(operator, chat);
                Ok(())
            }
            Ok(input @ (Input::Yes | Input::No)) if asked => self
                .answer(operator, chat, input == Input::Yes)
                .await
                .map(drop),
            _ if !member => {
                let text = say(
                    locale,
                    "This chat is not yours: reply y to the request first",
                    "このチャットは担当していません",
                );
                self.reply(operator, contact_id, locale, text);
                Ok(())
            }
            Ok(Input::Text(text)) => self.relay(operator, chat, text).await,
            Ok(Input::Yes) => self.relay(operator, chat, text.trim()).await,
            Ok(Input::No) => self.relay(operator, chat, text.trim()).await,
            Ok(Input::Command(command)) => {
                self.execute(operator, chat, contact_id, locale, command)
                    .await
            }
            Ok(_) => Ok(()),
            Err(error) => {
                self.reply(
                    operator,
                    contact_id,
                    locale,
                    &error.display(locale).to_string(),
                );
                Ok(())
            }
        }
    }

    /// The first `y` wins: the others are told and lose the contact; the
    /// winner gets the visitor's details; the visitor learns who joined.
    async fn accept(&self, operator: &OperatorRef, chat: ChatId) -> Result<(), GatewayError> {
        let name = self.display_name(operator).await;
        let locale = self.locale(operator.portal()).await;
        let (others, contact_id, details, to_visitor) = {
            let mut state = self.lock();
            let live = state.chats.get_mut(&chat).ok_or(GatewayError::NoSuchChat)?;
            if live.operator.is_some() {
                return Ok(()); // someone was faster; they were told already
            }
            live.operator = Some(operator.clone());
            let others: Vec<_> = live.offered.drain(..).filter(|o| o != operator).collect();
            (
                others,
                live.contact.id.clone(),
                details_text(live),
                live.to_visitor.clone(),
            )
        };
        self.inner
            .store
            .set_chat_state(chat, ChatState::Active)
            .await?;
        let _ = to_visitor.send(VisitorEvent::Joined {
            operator: name.clone(),
        });
        let sink = &*self.inner.sink;
        for other in &others {
            let text = super::system(locale, &super::took(locale, &name));
            sink.send(
                other,
                OperatorEvent::Message {
                    from: contact_id.clone(),
                    text,
                },
            );
            sink.send(
                other,
                OperatorEvent::ContactRemoved {
                    contact_id: contact_id.clone(),
                },
            );
        }
        sink.send(
            operator,
            OperatorEvent::Message {
                from: contact_id,
                text: details,
            },
        );
        Ok(())
    }

    fn decline(&self, operator: &OperatorRef, chat: ChatId) {
        let mut state = self.lock();
        if let Some(live) = state.chats.get_mut(&chat) {
            live.offered.retain(|o| o != operator);
            let contact_id = live.contact.id.clone();
            self.inner
                .sink
                .send(operator, OperatorEvent::ContactRemoved { contact_id });
        }
    }

    /// Text for the visitor, kept in the transcript.
    async fn relay(
        &self,
        operator: &OperatorRef,
        chat: ChatId,
        text: &str,
    ) -> Result<(), GatewayError> {
        let name = self.display_name(operator).await;
        self.inner
            .store
            .add_line(chat, &Author::Operator(name.clone()), text)
            .await?;
        let state = self.lock();
        let live = state.chats.get(&chat).ok_or(GatewayError::NoSuchChat)?;
        // In a group chat the other operators see it, marked with the author.
        for member in live.members().filter(|m| *m != operator) {
            let message = OperatorEvent::Message {
                from: live.contact.id.clone(),
                text: format!("({name}) {text}"),
            };
            self.inner.sink.send(member, message);
        }
        let _ = live.to_visitor.send(VisitorEvent::Message {
            from: name,
            text: text.to_owned(),
        });
        Ok(())
    }

    async fn execute(
        &self,
        operator: &OperatorRef,
        chat: ChatId,
        contact: &str,
        locale: Locale,
        command: Command<'_>,
    ) -> Result<(), GatewayError> {
        let store = &self.inner.store;
        let (visitor, ip, details) = {
            let state = self.lock();
            let live = state.chats.get(&chat).ok_or(GatewayError::NoSuchChat)?;
            (live.visitor, live.details.ip.clone(), details_text(live))
        };
        match command {
            Command::Help { topic } => self.reply(operator, contact, locale, help(topic, locale)),
            Command::Info => {
                let message = OperatorEvent::Message {
                    from: contact.to_owned(),
                    text: details,
                };
                self.inner.sink.send(operator, message);
            }
            Command::AddNote { text } => {
                store
                    .add_note(visitor, &self.display_name(operator).await, text)
                    .await?;
                self.reply(
                    operator,
                    contact,
                    locale,
                    say(locale, "Note added", "メモが追加されました"),
                );
            }
            Command::Notes => {
                let notes = store.notes(visitor).await?;
                if notes.is_empty() {
                    let none = say(
                        locale,
                        "No notes for this visitor",
                        "この訪問者のメモはありません",
                    );
                    self.reply(operator, contact, locale, none);
                }
                for note in notes {
                    let line = format!(
                        "{} {}: {}",
                        note.at.format("%Y-%m-%d %H:%M"),
                        note.author,
                        note.text
                    );
                    self.reply(operator, contact, locale, &line);
                }
            }
            Command::History => {
                // Each message on its own, the author in parentheses.
                for line in store.history(visitor, 50).await? {
                    let author = match line.author {
                        Author::Visitor => say(locale, "visitor", "訪問者").to_owned(),
                        Author::Operator(name) => name,
                        _ => say(locale, "system", "システム").to_owned(),
                    };
                    let message = OperatorEvent::Message {
                        from: contact.to_owned(),
                        text: format!("({author}) {}", line.text),
                    };
                    self.inner.sink.send(operator, message);
                }
            }
            Command::Departments => {
                let names: Vec<String> = store
                    .departments(operator.portal())
                    .await?
                    .into_iter()
                    .map(|d| d.name)
                    .collect();
                self.reply(operator, contact, locale, &names.join("\n"));
            }
            Command::Block { reason } => {
                let Some(ip) = ip else {
                    let text = say(
                        locale,
                        "The visitor's IP address is not known",
                        "訪問者のIPアドレスが不明です",
                    );
                    self.reply(operator, contact, locale, text);
                    return Ok(());
                };
                store
                    .block_ip(
                        operator.portal(),
                        &ip,
                        reason,
                        &self.display_name(operator).await,
                    )
                    .await?;
                self.reply(
                    operator,
                    contact,
                    locale,
                    say(locale, "IP address blocked", "IPアドレスをブロックしました"),
                );
                self.end(
                    chat,
                    Some("The chat has ended"),
                    say(locale, "Chat ended", "チャットを終了しました"),
                )
                .await?;
            }
            Command::End => {
                let note = say(locale, "Chat ended", "チャットを終了しました");
                self.end(chat, Some("The operator ended the chat"), note)
                    .await?;
            }
            Command::Push { url } => {
                store
                    .add_line(chat, &Author::System, &format!("Page offered: {url}"))
                    .await?;
                self.to_visitor(
                    chat,
                    VisitorEvent::Push {
                        url: url.as_str().to_owned(),
                    },
                );
                self.reply(
                    operator,
                    contact,
                    locale,
                    say(
                        locale,
                        "Page sent to the visitor",
                        "ページを訪問者に送信しました",
                    ),
                );
            }
            Command::Members => {
                let members = self.members(chat).await;
                self.reply(operator, contact, locale, &members.join("\n"));
            }
            Command::EndAfter { seconds } => {
                self.end_after(chat, seconds.as_duration());
                let text = match locale {
                    Locale::Ja => format!("サポートは{}秒後に終了します", seconds.as_secs()),
                    _ => format!("Chat will end in {} seconds", seconds.as_secs()),
                };
                self.reply(operator, contact, locale, &text);
            }
            Command::EndCancel => {
                let cancelled = self.cancel_end(chat);
                let text = if cancelled {
                    say(locale, "Chat end cancelled", "サポート終了を中断しました")
                } else {
                    say(
                        locale,
                        "No timed end is pending",
                        "保留中の終了の処理はありません",
                    )
                };
                self.reply(operator, contact, locale, text);
            }
            Command::CrmInfo
            | Command::SupportInfo
            | Command::SupportTicketInfo
            | Command::SupportRecentRequests
            | Command::SupportSearch { .. }
            | Command::SupportAssociate { .. }
            | Command::SupportSetStatus { .. }
            | Command::SupportConvert { .. } => {
                let text = self.integration(chat, locale, command).await?;
                self.reply(operator, contact, locale, &text);
            }
            Command::TransferToOperator { email, note } => {
                let targets = self
                    .operator_with_email(operator.portal(), email.as_str())
                    .await?;
                let text = self
                    .request(operator, chat, locale, Kind::Transfer, targets, note)
                    .await?;
                self.reply(operator, contact, locale, &text);
            }
            Command::TransferToDepartment { department, note } => {
                let departments = store.departments(operator.portal()).await?;
                let wanted = department.as_str().to_lowercase();
                let Some(found) = departments.iter().find(|d| d.name.to_lowercase() == wanted)
                else {
                    let text = format!(
                        "{} {}",
                        say(locale, "No such department:", "部門がありません:"),
                        department.as_str()
                    );
                    self.reply(operator, contact, locale, &text);
                    return Ok(());
                };
                let eligible = self.department_operators(found.id).await?;
                let targets: Vec<OperatorRef> = self
                    .lock()
                    .available
                    .iter()
                    .filter(|o| o.portal() == operator.portal())
                    .filter(|o| eligible.as_ref().is_none_or(|e| e.contains(*o)))
                    .cloned()
                    .collect();
                let text = self
                    .request(operator, chat, locale, Kind::Transfer, targets, note)
                    .await?;
                self.reply(operator, contact, locale, &text);
            }
            Command::Invite { email, comment } => {
                let targets = self
                    .operator_with_email(operator.portal(), email.as_str())
                    .await?;
                let text = self
                    .request(operator, chat, locale, Kind::Invite, targets, comment)
                    .await?;
                self.reply(operator, contact, locale, &text);
            }
            _ => {}
        }
        Ok(())
    }
}

impl Gateway {
    fn to_visitor(&self, chat: ChatId, event: VisitorEvent) {
        if let Some(live) = self.lock().chats.get(&chat) {
            let _ = live.to_visitor.send(event);
        }
    }

    /// The chat's operators with their status.
    async fn members(&self, chat: ChatId) -> Vec<String> {
        let (members, locale): (Vec<(OperatorRef, bool)>, Locale) = {
            let state = self.lock();
            let Some(live) = state.chats.get(&chat) else {
                return Vec::new();
            };
            let members = live
                .members()
                .map(|m| (m.clone(), state.available.contains(m)))
                .collect();
            (members, live.locale)
        };
        let mut lines = Vec::new();
        for (member, online) in members {
            let status = match (online, locale) {
                (true, Locale::Ja) => "オンライン",
                (false, Locale::Ja) => "オフライン",
                (true, _) => "online",
                (false, _) => "offline",
            };
            lines.push(format!("{} ({status})", self.display_name(&member).await));
        }
        lines
    }

    /// The operator of `portal` with that e-mail address, if they have a
    /// username (only those can use the gateway).
    async fn operator_with_email(
        &self,
        portal: &str,
        email: &str,
    ) -> Result<Vec<OperatorRef>, GatewayError> {
        let found = self.inner.store.operator_by_email(portal, email).await?;
        Ok(found
            .and_then(|o| Some(OperatorRef::new(&o.portal, o.username.as_deref()?)))
            .into_iter()
            .collect())
    }

    /// `#e <seconds>`: end the chat unless the visitor does something first.
    fn end_after(&self, chat: ChatId, delay: std::time::Duration) {
        let gateway = self.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // Ours to fire: take it out so that ending does not abort it.
            let locale = {
                let mut state = gateway.lock();
                let Some(live) = state.chats.get_mut(&chat) else {
                    return;
                };
                live.end_timer = None;
                live.locale
            };
            let reason = "The chat ended after a time without activity";
            let note = say(
                locale,
                "Chat ended: the visitor was inactive",
                "訪問者の操作がなかったためチャットを終了しました",
            );
            let _ = gateway.end(chat, Some(reason), note).await;
        });
        let mut state = self.lock();
        match state.chats.get_mut(&chat) {
            Some(live) => {
                if let Some(earlier) = live.end_timer.replace(timer.abort_handle()) {
                    earlier.abort();
                }
            }
            None => timer.abort(),
        }
    }

    /// `#e cancel`; whether a timed end was pending.
    fn cancel_end(&self, chat: ChatId) -> bool {
        let mut state = self.lock();
        let timer = state
            .chats
            .get_mut(&chat)
            .and_then(|live| live.end_timer.take());
        timer.map(|t| t.abort()).is_some()
    }
}
