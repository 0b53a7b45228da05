//! The `#` commands, executed by the chat's task for the operator who
//! typed them; replies go to that operator only.

use salesiq_commands::{Command, Locale, help};

use super::chat::{ChatTask, Msg};
use super::handover::Kind;
use super::integrations;
use super::text::{details_text, say};
use super::{Done, GatewayError, OperatorEvent, VisitorEvent};
use crate::contact::OperatorRef;
use crate::model::Author;

impl ChatTask {
    /// Runs `command` (parsed from `line`) for `operator`, a member.
    pub(super) async fn execute(
        &mut self,
        operator: &OperatorRef,
        line: &str,
        command: Command<'_>,
        done: &mut Done,
    ) -> Result<(), GatewayError> {
        let locale = self.locale;
        let store = self.inner.store.clone();
        let contact = self.contact().clone();
        match command {
            Command::Help { topic } => self.reply(operator, help(topic, locale)),
            Command::Canned { key } => {
                self.canned(operator, key.as_ref().map(|k| k.as_str()))
                    .await?;
            }
            Command::Info => {
                let details = details_text(locale, self.number, &self.details);
                self.inner
                    .sink
                    .send(operator, OperatorEvent::message(&contact, details));
            }
            Command::AddNote { text } => {
                let name = self.name(operator).await;
                store.add_note(self.visitor, &name, text).await?;
                self.reply(operator, say(locale, "Note added", "メモが追加されました"));
            }
            Command::Notes => {
                let notes = store.notes(self.visitor).await?;
                if notes.is_empty() {
                    let none = say(
                        locale,
                        "No notes for this visitor",
                        "この訪問者のメモはありません",
                    );
                    self.reply(operator, none);
                }
                for note in notes {
                    let line = format!(
                        "{} {}: {}",
                        note.at.format("%Y-%m-%d %H:%M"),
                        note.author,
                        note.text
                    );
                    self.reply(operator, &line);
                }
            }
            Command::History => {
                // Each message on its own, the author in parentheses, in
                // the system's voice: these are not the visitor's words now.
                for line in store.history(self.visitor, 50).await? {
                    let author = match line.author {
                        Author::Visitor => say(locale, "visitor", "訪問者").to_owned(),
                        Author::Operator(name) => name,
                        _ => say(locale, "system", "システム").to_owned(),
                    };
                    self.reply(operator, &format!("({author}) {}", line.text));
                }
            }
            Command::Departments => {
                let names: Vec<String> = store
                    .departments(operator.portal())
                    .await?
                    .into_iter()
                    .map(|d| d.name)
                    .collect();
                self.reply(operator, &names.join("\n"));
            }
            Command::Block { reason } => {
                let Some(ip) = self.details.ip.clone() else {
                    let text = say(
                        locale,
                        "The visitor's IP address is not known",
                        "訪問者のIPアドレスが不明です",
                    );
                    self.reply(operator, text);
                    return Ok(());
                };
                let name = self.name(operator).await;
                store
                    .block_ip(operator.portal(), &ip, reason, &name)
                    .await?;
                self.reply(
                    operator,
                    say(locale, "IP address blocked", "IPアドレスをブロックしました"),
                );
                let note = say(locale, "Chat ended", "チャットを終了しました");
                self.end(Some("The chat has ended"), note).await;
            }
            Command::End => {
                let note = say(locale, "Chat ended", "チャットを終了しました");
                self.end(Some("The operator ended the chat"), note).await;
            }
            Command::Push { url } => {
                store
                    .add_line(self.id, &Author::System, &format!("Page offered: {url}"))
                    .await?;
                self.tell_visitor(VisitorEvent::Push {
                    url: url.as_str().to_owned(),
                });
                self.reply(
                    operator,
                    say(
                        locale,
                        "Page sent to the visitor",
                        "ページを訪問者に送信しました",
                    ),
                );
            }
            Command::Members => {
                let members = self.member_lines().await;
                self.reply(operator, &members.join("\n"));
            }
            Command::EndAfter { seconds } => {
                self.end_at = Some(tokio::time::Instant::now() + seconds.as_duration());
                let text = match locale {
                    Locale::Ja => format!("サポートは{}秒後に終了します", seconds.as_secs()),
                    _ => format!("Chat will end in {} seconds", seconds.as_secs()),
                };
                self.reply(operator, &text);
            }
            Command::EndCancel => {
                let text = if self.end_at.take().is_some() {
                    say(locale, "Chat end cancelled", "サポート終了を中断しました")
                } else {
                    say(
                        locale,
                        "No timed end is pending",
                        "保留中の終了の処理はありません",
                    )
                };
                self.reply(operator, text);
            }
            Command::CrmInfo
            | Command::SupportInfo
            | Command::SupportTicketInfo
            | Command::SupportRecentRequests
            | Command::SupportSearch { .. }
            | Command::SupportAssociate { .. }
            | Command::SupportSetStatus { .. }
            | Command::SupportConvert { .. } => {
                self.beside(operator, line, done.take());
                return Ok(());
            }
            Command::TransferToOperator { email, note } => {
                let targets = self
                    .operator_with_email(operator.portal(), email.as_str())
                    .await?;
                let text = self.request(operator, Kind::Transfer, targets, note).await;
                self.reply(operator, &text);
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
                    self.reply(operator, &text);
                    return Ok(());
                };
                let eligible = self.inner.department_operators(found.id).await?;
                let targets: Vec<OperatorRef> = self
                    .inner
                    .available(operator.portal(), eligible.as_ref())
                    .into_iter()
                    .map(|(o, _)| o)
                    .collect();
                let text = self.request(operator, Kind::Transfer, targets, note).await;
                self.reply(operator, &text);
            }
            Command::Invite { email, comment } => {
                let targets = self
                    .operator_with_email(operator.portal(), email.as_str())
                    .await?;
                let text = self.request(operator, Kind::Invite, targets, comment).await;
                self.reply(operator, &text);
            }
        }
        Ok(())
    }

    /// Runs a connector command beside the chat: its answer comes back as
    /// a message, so a slow vendor holds up nothing else.
    fn beside(&self, operator: &OperatorRef, line: &str, done: Done) {
        let job = integrations::Job {
            inner: self.inner.clone(),
            chat: self.id,
            portal: self.portal.clone(),
            locale: self.locale,
            email: self.details.email.clone().unwrap_or_default(),
            name: self.details.name.clone(),
            line: line.to_owned(),
        };
        let tx = self.tx.clone();
        let to = operator.clone();
        tokio::spawn(async move {
            let (text, result) = match job.run().await {
                Ok(text) => (text, Ok(())),
                Err(error) => {
                    let text = say(
                        job.locale,
                        "The command failed; please try again",
                        "コマンドを実行できませんでした。もう一度お試しください",
                    );
                    (text.to_owned(), Err(error))
                }
            };
            let answer = Msg::Answer {
                to,
                text,
                result,
                done,
            };
            let _ = tx.send(answer).await;
        });
    }

    /// The chat's operators with their status.
    async fn member_lines(&mut self) -> Vec<String> {
        let members: Vec<OperatorRef> = self.members().cloned().collect();
        let mut lines = Vec::new();
        for member in members {
            let online = self.inner.is_available(&member);
            let status = match (online, self.locale) {
                (true, Locale::Ja) => "オンライン",
                (false, Locale::Ja) => "オフライン",
                (true, _) => "online",
                (false, _) => "offline",
            };
            lines.push(format!("{} ({status})", self.name(&member).await));
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
}
