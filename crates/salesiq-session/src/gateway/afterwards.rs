//! What a visitor may do once their chat is over, or while it goes on
//! (issue 15, items 5 and 6): rate it (once, within [`RATE_WINDOW`] of
//! its end; the operators of the chat are told `[system] rated 4/5:
//! ...`, the rating is kept with the chat and a line in its transcript,
//! so `#h` shows it), and have its whole transcript mailed to them
//! ([`TRANSCRIPTS_PER_CHAT`] times at most, through the gateway's mailer).
//!
//! Choices where the issue is silent:
//! * Only a chat an operator accepted can be rated: a missed one had
//!   nobody to rate.
//! * A comment is one line of at most [`MAX_COMMENT_CHARS`] characters.
//! * A transcript is plain text, one line per message with its time (UTC)
//!   and author, the visitor by the name they gave; `[system]` lines the
//!   visitor never saw (commands and their replies) are not in the store,
//!   so not in the mail.

use std::collections::HashMap;

use salesiq_commands::Locale;
use salesiq_integrations::{EventKind, Mail, Mailbox};

use super::text::{say, system};
use super::{Gateway, GatewayError, Inner, OperatorEvent, logged};
use crate::contact::{ContactId, OperatorRef};
use crate::model::{Author, ChatId, Rating};

/// How long after its end a chat may be rated (and its transcript asked
/// for): ten minutes.
pub const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

/// How many times one chat's transcript may be mailed.
pub const TRANSCRIPTS_PER_CHAT: u32 = 3;

/// The longest rating comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// A chat that ended with an operator, for the visitor's rating.
#[derive(Debug)]
pub(super) struct Rateable {
    pub(super) portal: String,
    pub(super) number: i64,
    pub(super) members: Vec<OperatorRef>,
    pub(super) locale: Locale,
    pub(super) rated: bool,
    pub(super) until: tokio::time::Instant,
}

/// The chats that ended lately, by id.
pub(super) type Ended = HashMap<ChatId, Rateable>;

impl Inner {
    /// Keeps an ended chat for its rating.
    pub(super) fn rateable(&self, chat: ChatId, rateable: Rateable) {
        let now = tokio::time::Instant::now();
        let mut ended = self.rateable.lock().unwrap_or_else(|e| e.into_inner());
        ended.retain(|_, r| r.until > now);
        ended.insert(chat, rateable);
    }
}

impl Gateway {
    /// The visitor rates their chat after it ended: a score of 1 to 5 and
    /// a comment (one line, at most [`MAX_COMMENT_CHARS`] characters),
    /// once, within [`RATE_WINDOW`] of the end. Kept with the chat
    /// ([`crate::Store::rate_chat`]) and as a line of its transcript; the
    /// chat's operators are told; `chat.rated` is published.
    pub async fn rate_chat(
        &self,
        chat: ChatId,
        score: u8,
        comment: &str,
    ) -> Result<(), GatewayError> {
        let comment: String = crate::clean_line(comment).trim().to_owned();
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(GatewayError::BadMessage(format!(
                "a comment has at most {MAX_COMMENT_CHARS} characters"
            )));
        }
        let rating = Rating::new(score, &comment)
            .ok_or_else(|| GatewayError::BadMessage("a score is 1 to 5".into()))?;
        let (portal, number, members, locale) = {
            let now = tokio::time::Instant::now();
            let mut ended = self
                .inner
                .rateable
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let Some(found) = ended.get_mut(&chat).filter(|r| r.until > now) else {
                return Err(GatewayError::BadMessage(
                    "this chat cannot be rated (any more)".into(),
                ));
            };
            if found.rated {
                return Err(GatewayError::BadMessage(
                    "this chat was rated already".into(),
                ));
            }
            found.rated = true;
            (
                found.portal.clone(),
                found.number,
                found.members.clone(),
                found.locale,
            )
        };
        let store = &self.inner.store;
        store.rate_chat(chat, &rating).await?;
        let line = if rating.comment.is_empty() {
            format!("Rated {}/5", rating.score)
        } else {
            format!("Rated {}/5: {}", rating.score, rating.comment)
        };
        logged(
            store.add_line(chat, &Author::System, &line).await,
            "a rating's line was not kept",
        );
        let told = match (locale, rating.comment.is_empty()) {
            (Locale::Ja, true) => format!("評価 {}/5", rating.score),
            (Locale::Ja, false) => format!("評価 {}/5: {}", rating.score, rating.comment),
            (_, true) => format!("rated {}/5", rating.score),
            (_, false) => format!("rated {}/5: {}", rating.score, rating.comment),
        };
        let contact = ContactId::visitor(&portal, number);
        for member in &members {
            self.inner.sink.send(
                member,
                OperatorEvent::message(&contact, system(locale, &told)),
            );
        }
        let operators: Vec<&str> = members.iter().map(OperatorRef::username).collect();
        self.inner.publish(
            EventKind::ChatRated,
            &portal,
            serde_json::json!({
                "chat": chat.0,
                "visitor": number,
                "score": rating.score,
                "comment": rating.comment,
                "operators": operators,
            }),
        );
        Ok(())
    }

    /// The visitor asks for the whole chat by e-mail, during it or within
    /// [`RATE_WINDOW`] of its end: checked (a valid address, a mailer, at
    /// most [`TRANSCRIPTS_PER_CHAT`] per chat), then mailed beside the
    /// caller.
    pub async fn send_transcript(&self, chat: ChatId, email: &str) -> Result<(), GatewayError> {
        let email = crate::clean_line(email).trim().to_owned();
        if Mailbox::parse(&email).is_err() {
            return Err(GatewayError::BadMessage(
                "a valid e-mail address is needed".into(),
            ));
        }
        let Some(mailer) = self.inner.mailer.clone() else {
            return Err(GatewayError::BadMessage(
                "transcripts cannot be mailed from this site".into(),
            ));
        };
        let portal = {
            let live = self
                .inner
                .index()
                .chats
                .get(&chat)
                .map(|e| e.portal.clone());
            let now = tokio::time::Instant::now();
            let ended = self
                .inner
                .rateable
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            live.or_else(|| {
                ended
                    .get(&chat)
                    .filter(|r| r.until > now)
                    .map(|r| r.portal.clone())
            })
        }
        .ok_or(GatewayError::NoSuchChat)?;
        {
            let mut sent = self
                .inner
                .transcripts
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if sent.len() > 100_000 {
                sent.clear();
            }
            let count = sent.entry(chat).or_default();
            if *count >= TRANSCRIPTS_PER_CHAT {
                return Err(GatewayError::TooFast);
            }
            *count += 1;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let mail = inner.transcript_mail(&portal, chat, &email).await;
            if let Some(mail) = logged(mail, "a transcript could not be put in a mail") {
                logged(mailer.send(mail).await, "a transcript was not mailed");
            }
        });
        Ok(())
    }
}

impl Inner {
    async fn transcript_mail(
        &self,
        portal: &str,
        chat: ChatId,
        email: &str,
    ) -> Result<Mail, GatewayError> {
        let locale = self.locale(portal).await;
        let stored = self
            .store
            .chat(portal, chat)
            .await?
            .ok_or(GatewayError::NoSuchChat)?;
        let visitor = self
            .store
            .visitor(portal, stored.visitor)
            .await?
            .map(|v| v.details.name)
            .unwrap_or_default();
        let lines = self.store.transcript(chat).await?;
        let mut body = format!(
            "{}: {}\n{}: {}\n\n",
            say(locale, "Your question", "ご質問"),
            stored.question,
            say(locale, "Started", "開始"),
            stored
                .started
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        for line in lines {
            let author = match &line.author {
                Author::Visitor => visitor.clone(),
                Author::Operator(name) => name.clone(),
                _ => say(locale, "system", "システム").to_owned(),
            };
            body.push_str(&format!(
                "[{}] {author}: {}\n",
                line.at.format("%Y-%m-%d %H:%M UTC"),
                line.text
            ));
        }
        let subject = match locale {
            Locale::Ja => format!("{portal}とのチャットの記録"),
            _ => format!("Your chat with {portal}"),
        };
        Mail::new([email], &Mail::subject_line(&subject), &body)
            .map_err(|e| GatewayError::BadMessage(e.to_string()))
    }
}
