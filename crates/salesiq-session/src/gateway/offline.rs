//! Nobody there (issue 15, item 4): when no operator of the department
//! (or the portal) takes chats, or outside the department's opening
//! hours, a chat request is refused with [`GatewayError::Offline`] and a
//! text for the visitor, who may leave a message instead
//! ([`Gateway::leave_message`]). A message left, and a chat request that
//! ends with nobody accepting it (a missed chat), is stored
//! ([`crate::Store::add_left_message`]) and reported beside the visitor's
//! request, never making them wait: a ticket through the portal's
//! helpdesk connector (when the visitor gave an e-mail address), and a
//! mail to the portal's [`crate::Portal::notify`] addresses through the
//! gateway's mailer ([`crate::GatewayBuilder::mailer`]).
//!
//! Choices where the issue is silent:
//! * "Nobody there" means nobody *takes* chats: an operator at capacity
//!   takes chats (visitors queue for them); one who is away does not.
//! * A message needs a name, a valid e-mail address (to be answered at)
//!   and a text of at most [`crate::MAX_LINE_BYTES`]; one address leaves
//!   at most [`crate::VisitorLimits::messages_per_hour`] an hour (a form
//!   is a mail cannon otherwise).
//! * Opening hours that a store holds but cannot be read (a row written
//!   by other means) are logged and treated as always open.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use salesiq_commands::{Locale, TicketClassification, TicketFields, TicketPriority, TicketStatus};
use salesiq_integrations::{Mail, Mailbox, NewTicket};

use super::{Gateway, GatewayError, Inner, MAX_LINE_BYTES, logged};
use crate::contact::OperatorRef;
use crate::model::{Department, LeftKind, LeftMessage, LeftMessageId};

/// The longest name a message may carry, in characters.
const MAX_NAME_CHARS: usize = 100;

/// How many addresses' message counts are kept before the oldest windows
/// are forgotten.
const COUNTED_ADDRESSES: usize = 10_000;

/// A message a visitor leaves when nobody is there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaveMessage {
    /// The portal.
    pub portal: String,
    /// The department they asked for, by name.
    pub department: Option<String>,
    /// Their name.
    pub name: String,
    /// Their e-mail address, to be answered at.
    pub email: String,
    /// The message.
    pub text: String,
    /// Their IP address (for blocks and the hourly bound).
    pub ip: Option<String>,
}

impl LeaveMessage {
    /// A message for `portal`.
    pub fn new(portal: &str, name: &str, email: &str, text: &str) -> Self {
        Self {
            portal: portal.to_owned(),
            department: None,
            name: name.to_owned(),
            email: email.to_owned(),
            text: text.to_owned(),
            ip: None,
        }
    }

    /// The same, for `department`.
    pub fn with_department(mut self, department: Option<&str>) -> Self {
        self.department = department.map(str::to_owned);
        self
    }

    /// The same, from `ip`.
    pub fn with_ip(mut self, ip: Option<&str>) -> Self {
        self.ip = ip.map(str::to_owned);
        self
    }
}

/// Why a request finds nobody.
pub(super) enum Closed<'a> {
    /// Nobody of the department (or portal) takes chats.
    Nobody,
    /// Outside the department's hours.
    Hours {
        hours: &'a str,
        timezone: Option<&'a str>,
    },
}

/// What the visitor is told instead of being queued.
pub(super) fn offline_text(locale: Locale, closed: &Closed<'_>) -> String {
    match (locale, closed) {
        (Locale::Ja, Closed::Nobody) => {
            "ただいま対応できる担当者がいません。メッセージを残していただければ、折り返しご連絡します。".to_owned()
        }
        (Locale::Ja, Closed::Hours { hours, timezone }) => format!(
            "ただいま受付時間外です(受付時間: {hours} {})。メッセージを残していただければ、折り返しご連絡します。",
            timezone.unwrap_or("UTC")
        ),
        (_, Closed::Nobody) => {
            "Nobody is available right now. Leave us a message and we will get back to you."
                .to_owned()
        }
        (_, Closed::Hours { hours, timezone }) => format!(
            "We are closed now (our hours: {hours}, {}). Leave us a message and we will get back to you.",
            timezone.unwrap_or("UTC")
        ),
    }
}

impl Inner {
    /// Why a request for `department` (with these `eligible` operators)
    /// would find nobody now, if it would.
    pub(super) fn closed<'a>(
        &self,
        portal: &str,
        department: Option<&'a Department>,
        eligible: Option<&HashSet<OperatorRef>>,
    ) -> Option<Closed<'a>> {
        if let Some(department) = department
            && let Some(hours) = department.hours.as_deref()
        {
            let timezone = department.timezone.as_deref();
            match crate::OpeningHours::parse(hours)
                .and_then(|parsed| parsed.is_open_at(Utc::now(), timezone))
            {
                Ok(true) => {}
                Ok(false) => return Some(Closed::Hours { hours, timezone }),
                Err(error) => {
                    tracing::warn!(department = %department.name, %error, "unreadable opening hours: open")
                }
            }
        }
        if !self.offline_when_nobody {
            return None;
        }
        self.routing()
            .present(portal, eligible, true)
            .is_empty()
            .then_some(Closed::Nobody)
    }

    /// Counts a message from `ip` against the hourly bound.
    fn count_message(&self, ip: Option<&str>) -> Result<(), GatewayError> {
        let Some(ip) = ip else {
            return Ok(());
        };
        let now = tokio::time::Instant::now();
        let hour = std::time::Duration::from_secs(3600);
        let mut counts = self.left.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= COUNTED_ADDRESSES {
            counts.retain(|_, (_, since)| now.duration_since(*since) < hour);
            if counts.len() >= COUNTED_ADDRESSES {
                counts.clear();
            }
        }
        let (count, since) = counts.entry(ip.to_owned()).or_insert((0, now));
        if now.duration_since(*since) >= hour {
            *count = 0;
            *since = now;
        }
        if *count >= self.limits.messages_per_hour {
            return Err(GatewayError::TooFast);
        }
        *count += 1;
        Ok(())
    }

    /// Stores a message left (or a missed chat) and reports it beside the
    /// caller: a helpdesk ticket, a mail to the portal's `notify`.
    pub(super) async fn keep_and_report(
        self: &std::sync::Arc<Self>,
        message: LeftMessage,
        department: Option<String>,
    ) -> Result<LeftMessageId, GatewayError> {
        let id = self.store.add_left_message(&message).await?;
        let message = message.with_id(id);
        let inner = self.clone();
        tokio::spawn(async move { inner.report(&message, department.as_deref()).await });
        Ok(id)
    }

    async fn report(&self, message: &LeftMessage, department: Option<&str>) {
        let locale = self.locale(&message.portal).await;
        let ja = locale == Locale::Ja;
        let (subject, ticket_subject) = match (message.kind, ja) {
            (LeftKind::MissedChat, true) => (
                format!("[{}] {}さんの未対応チャット", message.portal, message.name),
                format!("未対応チャット: {}", message.text),
            ),
            (LeftKind::MissedChat, false) => (
                format!("[{}] Missed chat from {}", message.portal, message.name),
                format!("Missed chat: {}", message.text),
            ),
            (_, true) => (
                format!("[{}] {}さんからのメッセージ", message.portal, message.name),
                format!("{}さんからのメッセージ", message.name),
            ),
            (_, false) => (
                format!("[{}] Message from {}", message.portal, message.name),
                format!("Message from {}", message.name),
            ),
        };
        let labels = if ja {
            ["名前", "メール", "部門", "日時"]
        } else {
            ["Name", "E-mail", "Department", "At"]
        };
        let body = format!(
            "{}: {}\n{}: {}\n{}: {}\n{}: {}\n\n{}\n",
            labels[0],
            message.name,
            labels[1],
            message.email.as_deref().unwrap_or("-"),
            labels[2],
            department.unwrap_or("-"),
            labels[3],
            message
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            message.text
        );
        // A ticket, for a visitor who can be answered.
        if let Some(email) = &message.email
            && let Some(fields) = plain_fields()
        {
            let ticket = NewTicket::new(
                &Mail::subject_line(&ticket_subject),
                &body,
                email,
                &message.name,
                fields,
            );
            let desk = self.connectors.helpdesk(&message.portal);
            if let Some(created) = logged(
                desk.create_ticket(&ticket).await,
                "a message left made no ticket",
            ) {
                tracing::info!(ticket = %created.id, "a message left became a ticket");
            }
        }
        let Some(mailer) = &self.mailer else {
            return;
        };
        let notify = match self.store.portal(&message.portal).await {
            Ok(Some(portal)) => portal.notify,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "nobody could be told of a message left");
                return;
            }
        };
        if notify.is_empty() {
            return;
        }
        let mail = Mail::new(&notify, &Mail::subject_line(&subject), &body).and_then(|mail| {
            match message.email.as_deref() {
                // A missed chat's address was never checked.
                Some(email) if Mailbox::parse(email).is_ok() => mail.with_reply_to(email),
                _ => Ok(mail),
            }
        });
        if let Some(mail) = logged(mail, "a message left could not be put in a mail") {
            logged(mailer.send(mail).await, "a message left was not mailed");
        }
    }
}

/// A ticket's fields when no operator chose them: no priority, open, no
/// classification.
fn plain_fields() -> Option<TicketFields> {
    Some(TicketFields {
        priority: TicketPriority::from_digit(0)?,
        status: TicketStatus::from_digit(0)?,
        classification: TicketClassification::from_digit(0)?,
    })
}

impl Gateway {
    /// A visitor who found nobody there ([`GatewayError::Offline`]) leaves
    /// a message: checked (a name of at most 100 characters, a valid
    /// e-mail address, a text of at most [`MAX_LINE_BYTES`], an address
    /// not blocked and within [`crate::VisitorLimits::messages_per_hour`]),
    /// stored, and reported (a helpdesk ticket, a mail to the portal's
    /// `notify`) beside the caller. Its id once stored.
    pub async fn leave_message(
        &self,
        message: LeaveMessage,
    ) -> Result<LeftMessageId, GatewayError> {
        let name = crate::clean_line(&message.name).trim().to_owned();
        let email = crate::clean_line(&message.email).trim().to_owned();
        let text = crate::clean_text(&message.text).trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(GatewayError::BadMessage(
                "a name of 1 to 100 characters is needed".into(),
            ));
        }
        if Mailbox::parse(&email).is_err() {
            return Err(GatewayError::BadMessage(
                "a valid e-mail address is needed, to answer you at".into(),
            ));
        }
        if text.is_empty() {
            return Err(GatewayError::BadMessage("the message is empty".into()));
        }
        if text.len() > MAX_LINE_BYTES {
            return Err(GatewayError::TooLong {
                max: MAX_LINE_BYTES,
            });
        }
        let store = &self.inner.store;
        if store.portal(&message.portal).await?.is_none() {
            return Err(GatewayError::UnknownPortal(message.portal));
        }
        if let Some(ip) = &message.ip
            && store.is_blocked(&message.portal, ip).await?
        {
            return Err(GatewayError::Blocked);
        }
        let department = match message.department.as_deref().map(crate::clean_line) {
            Some(wanted) if !wanted.is_empty() => {
                let departments = store.departments(&message.portal).await?;
                let found = departments
                    .into_iter()
                    .find(|d| d.name.to_lowercase() == wanted.to_lowercase());
                Some(found.ok_or(GatewayError::UnknownDepartment(wanted))?)
            }
            _ => None,
        };
        self.inner.count_message(message.ip.as_deref())?;
        let left = LeftMessage::new(
            &message.portal,
            LeftKind::Message,
            &name,
            Some(&email),
            &text,
            Utc::now(),
        )
        .with_department(department.as_ref().map(|d| d.id));
        tracing::info!(portal = %message.portal, "a message was left");
        let department = department.map(|d| d.name);
        let id = self.inner.keep_and_report(left, department.clone()).await?;
        self.inner.publish(
            salesiq_integrations::EventKind::MessageLeft,
            &message.portal,
            serde_json::json!({
                "id": id.0,
                "name": name,
                "email": email,
                "text": text,
                "department": department,
            }),
        );
        Ok(id)
    }
}

/// Addresses' message counts this hour: (count, window start).
pub(super) type MessageCounts = HashMap<String, (u32, tokio::time::Instant)>;
