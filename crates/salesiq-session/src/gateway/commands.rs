//! What an operator types into a visitor's chat window: `y`/`n` to an
//! offer, text for the visitor, or a `#` command executed here.

use salesiq_commands::{Command, Input, Locale, help, parse};

use super::{Gateway, GatewayError, OperatorEvent, OperatorRef, VisitorEvent, details_text};
use crate::model::{Author, ChatId, ChatState};

/// The text in the portal's language.
fn say(locale: Locale, en: &'static str, ja: &'static str) -> &'static str {
    match locale {
        Locale::Ja => ja,
        _ => en,
    }
}

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
        let chat = self.chat_of(operator, contact_id)?;
        let locale = self.locale(operator.portal()).await;
        let (offered, member) = {
            let state = self.lock();
            let live = state.chats.get(&chat).ok_or(GatewayError::NoSuchChat)?;
            (
                live.operator.is_none() && live.offered.contains(operator),
                live.operator.as_ref() == Some(operator),
            )
        };
        match parse(text) {
            Ok(Input::Yes) if offered => self.accept(operator, chat).await,
            Ok(Input::No) if offered => {
                self.decline(operator, chat);
                Ok(())
            }
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
            let text = super::system(locale, &format!("{name} took this chat"));
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
            other => {
                // Not built yet in this step of the chat-domain issue.
                let text = format!("#{} is not available yet", other.kind());
                self.reply(operator, contact, locale, &text);
            }
        }
        Ok(())
    }
}
