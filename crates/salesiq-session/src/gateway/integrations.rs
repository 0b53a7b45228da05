//! `#crm info` and the `#support` commands: the connectors asked about
//! the chat's visitor, and their answers (or a friendly failure) written
//! for the operator.

use salesiq_commands::{Command, Locale, SearchQuery};
use salesiq_integrations::{ConnectorError, NewTicket, Service, Ticket, TicketQuery};

use std::sync::Arc;

use super::text::{labelled, or_dash, say};
use super::{GatewayError, Inner};
use crate::model::{Author, ChatId};

/// A connector command to run beside its chat, with what it needs of it.
pub(super) struct Job {
    pub(super) inner: Arc<Inner>,
    pub(super) chat: ChatId,
    pub(super) portal: String,
    pub(super) locale: Locale,
    pub(super) email: String,
    pub(super) name: String,
    /// The operator's line; parsed again here, where it is owned.
    pub(super) line: String,
}

fn ticket_line(ticket: &Ticket) -> String {
    let priority = ticket
        .priority
        .as_deref()
        .map(|p| format!(", {p}"))
        .unwrap_or_default();
    format!(
        "#{} {} ({}{priority})",
        ticket.number, ticket.subject, ticket.status
    )
}

impl Job {
    /// Runs the command; a connector failure is a reply, not an error.
    pub(super) async fn run(&self) -> Result<String, GatewayError> {
        let Ok(salesiq_commands::Input::Command(command)) = salesiq_commands::parse(&self.line)
        else {
            return Ok(String::new());
        };
        let locale = self.locale;
        let service = if matches!(command, Command::CrmInfo) {
            Service::Crm
        } else {
            Service::Helpdesk
        };
        Ok(match self.ask(command).await? {
            Ok(text) => text,
            Err(error) => error.reply_in(service, locale).to_owned(),
        })
    }

    async fn ask(
        &self,
        command: Command<'_>,
    ) -> Result<Result<String, ConnectorError>, GatewayError> {
        let (chat, locale) = (self.chat, self.locale);
        let (portal, email, name) = (&self.portal, &self.email, &self.name);
        // The chat's portal's own vendor accounts, never another's.
        let crm = self.inner.connectors.crm(portal);
        let desk = self.inner.connectors.helpdesk(portal);
        let store = &self.inner.store;
        let none = |en, ja| Ok(Ok(say(locale, en, ja).to_owned()));
        match command {
            Command::CrmInfo => match crm.find_by_email(email).await {
                Ok(Some(r)) => {
                    let rows = [
                        ("CRM", "CRM", r.name.clone()),
                        ("E-mail", "メールアドレス", r.email.clone()),
                        ("Company", "会社", or_dash(&r.company)),
                        ("Phone", "電話", or_dash(&r.phone)),
                        ("Status", "ステータス", or_dash(&r.status)),
                        ("Owner", "担当者", or_dash(&r.owner)),
                    ];
                    Ok(Ok(labelled(locale, &rows)))
                }
                Ok(None) => none(
                    "No CRM information for this visitor",
                    "この訪問者のCRM情報はありません",
                ),
                Err(e) => Ok(Err(e)),
            },
            Command::SupportInfo => match desk.find_contact(email).await {
                Ok(Some(c)) => {
                    let rows = [
                        ("Helpdesk contact", "サポートの連絡先", c.name.clone()),
                        ("E-mail", "メールアドレス", c.email.clone()),
                        ("Phone", "電話", or_dash(&c.phone)),
                        ("Account", "取引先", or_dash(&c.account)),
                    ];
                    Ok(Ok(labelled(locale, &rows)))
                }
                Ok(None) => none(
                    "No support information for this visitor",
                    "この訪問者のサポート情報はありません",
                ),
                Err(e) => Ok(Err(e)),
            },
            Command::SupportRecentRequests => {
                let contact = match desk.find_contact(email).await {
                    Ok(contact) => contact,
                    Err(e) => return Ok(Err(e)),
                };
                let tickets = match contact {
                    Some(contact) => match desk.contact_tickets(&contact.id).await {
                        Ok(tickets) => tickets,
                        Err(e) => return Ok(Err(e)),
                    },
                    None => Vec::new(),
                };
                if tickets.is_empty() {
                    return none(
                        "No recent requests for this visitor",
                        "この訪問者の最近の問い合わせはありません",
                    );
                }
                Ok(Ok(tickets
                    .iter()
                    .map(ticket_line)
                    .collect::<Vec<_>>()
                    .join("\n")))
            }
            Command::SupportTicketInfo => {
                let Some(id) = store.linked_ticket(chat).await? else {
                    return none(
                        "No ticket information for this visitor",
                        "この訪問者の情報はありません",
                    );
                };
                match desk.ticket(&id).await {
                    Ok(Some(ticket)) => Ok(Ok(ticket_line(&ticket))),
                    Ok(None) => none(
                        "No ticket information for this visitor",
                        "この訪問者の情報はありません",
                    ),
                    Err(e) => Ok(Err(e)),
                }
            }
            Command::SupportSearch { query } => {
                let query = match query {
                    SearchQuery::Email(email) => TicketQuery::Email(email.as_str()),
                    SearchQuery::TicketNumber(number) => TicketQuery::TicketNumber(number),
                    SearchQuery::Name(name) => TicketQuery::ContactName(name),
                };
                match desk.search_tickets(query).await {
                    Ok(tickets) if tickets.is_empty() => {
                        none("No tickets found", "問い合わせが見つかりません")
                    }
                    Ok(tickets) => Ok(Ok(tickets
                        .iter()
                        .map(ticket_line)
                        .collect::<Vec<_>>()
                        .join("\n"))),
                    Err(e) => Ok(Err(e)),
                }
            }
            Command::SupportAssociate { ticket_id } => {
                // Operators quote ticket numbers; the helpdesk's ids work too.
                let found = match desk.ticket(ticket_id.as_str()).await {
                    Ok(Some(ticket)) => Some(ticket),
                    Ok(None) => match desk
                        .search_tickets(TicketQuery::TicketNumber(ticket_id.as_str()))
                        .await
                    {
                        Ok(tickets) => tickets.into_iter().next(),
                        Err(e) => return Ok(Err(e)),
                    },
                    Err(e) => return Ok(Err(e)),
                };
                let Some(ticket) = found else {
                    return Ok(Err(ConnectorError::NotFound));
                };
                store.link_ticket(chat, &ticket.id).await?;
                let linked = say(
                    locale,
                    "Chat associated with ticket",
                    "チャットを問い合わせに関連付けました:",
                );
                Ok(Ok(format!("{linked} #{}", ticket.number)))
            }
            Command::SupportSetStatus { status } => {
                let Some(id) = store.linked_ticket(chat).await? else {
                    return none(
                        "No ticket information for this visitor",
                        "この訪問者の情報はありません",
                    );
                };
                match desk.set_status(&id, status).await {
                    Ok(ticket) => Ok(Ok(ticket_line(&ticket))),
                    Err(e) => Ok(Err(e)),
                }
            }
            Command::SupportConvert { fields } => {
                let stored = store
                    .chat(portal, chat)
                    .await?
                    .ok_or(GatewayError::NoSuchChat)?;
                let departments = store.departments(portal).await?;
                let allowed = stored.department.is_some_and(|id| {
                    departments
                        .iter()
                        .any(|d| d.id == id && d.convert_to_ticket)
                });
                if !allowed {
                    return none(
                        "Converting chats to tickets on demand is not enabled for this department",
                        "この部門では、チャットを問い合わせに変換する設定が有効になっていません",
                    );
                }
                if email.is_empty() {
                    return none(
                        "The visitor left no e-mail address",
                        "訪問者のメールアドレスがありません",
                    );
                }
                let transcript: Vec<String> = store
                    .transcript(chat)
                    .await?
                    .into_iter()
                    .map(|line| match line.author {
                        Author::Visitor => format!("({name}) {}", line.text),
                        Author::Operator(operator) => format!("({operator}) {}", line.text),
                        _ => format!("(system) {}", line.text),
                    })
                    .collect();
                let ticket = NewTicket::new(
                    &stored.question,
                    &transcript.join("\n"),
                    email,
                    name,
                    fields,
                );
                match desk.create_ticket(&ticket).await {
                    Ok(created) => {
                        store.link_ticket(chat, &created.id).await?;
                        Ok(Ok(format!(
                            "{} #{}",
                            say(locale, "Ticket created:", "問い合わせを作成しました:"),
                            created.number
                        )))
                    }
                    Err(e) => Ok(Err(e)),
                }
            }
            _ => none("Not a connector command", "連携のコマンドではありません"),
        }
    }
}
