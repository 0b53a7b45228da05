//! E-mail: what the gateway sends (a [`Mail`] to checked [`Mailbox`]es),
//! the [`Mailer`] trait that sends it, and [`MemoryMailer`], which keeps
//! what it is given, for tests and demos. The SMTP implementation is
//! `SmtpMailer` (feature `smtp`).
//!
//! Everything a mail carries is checked when it is made, so that a mail
//! that exists can be sent: an address that is not one is
//! [`ConnectorError::BadAddress`], a subject with a line break (which
//! would start a header of its own) [`ConnectorError::BadMail`]. The
//! fields are private: no mail skips the checks.
//!
//! Addresses are a conservative subset of what SMTP servers take (and of
//! what lettre, behind `SmtpMailer`, parses): `local@domain`, optionally
//! as `Display Name <local@domain>`, in ASCII, without quoted local parts,
//! comments or IP literals. An internationalized domain is written in its
//! ASCII form (`xn--...`). The check is pure (no DNS, no lettre), so that
//! the configuration of a build without SMTP is checked the same way.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use crate::error::ConnectorError;
use crate::future::BoxFuture;

/// Sends mail; supplied by the embedder as `Arc<dyn Mailer>`. The sender
/// (`From`) is the mailer's: the gateway sends as one address, whatever
/// it sends about.
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends `mail` to all its recipients at once: `Ok` when the server
    /// took it. A failure sends it to none (as far as the server says).
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), ConnectorError>>;
}

/// A checked e-mail address with an optional display name:
/// `ops@example.com` or `Acme Support <support@acme.example>`.
///
/// ```
/// use salesiq_integrations::Mailbox;
///
/// let support: Mailbox = "Acme Support <support@acme.example>".parse().unwrap();
/// assert_eq!(support.address(), "support@acme.example");
/// assert_eq!(support.name(), Some("Acme Support"));
/// assert!("ops@example.com\r\nBcc: all@example.com".parse::<Mailbox>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    name: Option<String>,
    address: String,
}

/// The longest address, as SMTP allows (RFC 5321's path of 256 octets,
/// less the angle brackets).
const MAX_ADDRESS: usize = 254;
/// The longest local part (RFC 5321).
const MAX_LOCAL: usize = 64;
/// The longest DNS label.
const MAX_LABEL: usize = 63;
/// The longest display name, in characters.
const MAX_NAME: usize = 200;

impl Mailbox {
    /// Parses `addr` or `Name <addr>`; errors name the field `address`.
    pub fn parse(text: &str) -> Result<Self, ConnectorError> {
        Self::parse_as(text, "address")
    }

    /// The same, naming `field` in errors.
    pub(crate) fn parse_as(text: &str, field: &'static str) -> Result<Self, ConnectorError> {
        let bad = |reason| ConnectorError::BadAddress {
            field,
            address: text.to_owned(),
            reason,
        };
        if text.chars().any(char::is_control) {
            return Err(bad("it has a line break or another control character"));
        }
        let trimmed = text.trim();
        let (name, address) = match trimmed.strip_suffix('>') {
            Some(rest) => {
                let (name, address) = rest.rsplit_once('<').ok_or(bad("a '>' without '<'"))?;
                (Some(display_name(name).map_err(bad)?), address)
            }
            None => (None, trimmed),
        };
        check_address(address).map_err(bad)?;
        Ok(Self {
            name: name.flatten(),
            address: address.to_owned(),
        })
    }

    /// The address alone: `local@domain`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The part after `@`.
    pub fn domain(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map_or("", |(_, domain)| domain)
    }
}

impl FromStr for Mailbox {
    type Err = ConnectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Mailbox {
    /// `addr`, or `"Name" <addr>` (for reading; what goes into a header
    /// is encoded by the mailer).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => f.write_str(&self.address),
            Some(name) => write!(f, "{name:?} <{}>", self.address),
        }
    }
}

/// The display name before `<`: trimmed, one pair of surrounding double
/// quotes taken off; `None` when empty.
fn display_name(text: &str) -> Result<Option<String>, &'static str> {
    let text = text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
        .trim();
    if text.contains(['<', '>']) {
        return Err("the display name has '<' or '>'");
    }
    if text.chars().count() > MAX_NAME {
        return Err("the display name is over 200 characters");
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// Whether `address` is `local@domain` as [`Mailbox`] takes it.
fn check_address(address: &str) -> Result<(), &'static str> {
    if address.is_empty() {
        return Err("it is empty");
    }
    if !address.is_ascii() {
        return Err("it is not ASCII (write an internationalized domain as xn--...)");
    }
    if address.len() > MAX_ADDRESS {
        return Err("it is over 254 characters");
    }
    let (local, domain) = address.rsplit_once('@').ok_or("it has no '@'")?;
    if local.is_empty() {
        return Err("nothing before '@'");
    }
    if local.len() > MAX_LOCAL {
        return Err("over 64 characters before '@'");
    }
    if !local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
    {
        return Err("before '@' only letters, digits, dots between them and !#$%&'*+-/=?^_`{|}~");
    }
    if domain.is_empty() {
        return Err("nothing after '@'");
    }
    let label_ok = |label: &str| {
        (1..=MAX_LABEL).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !domain.split('.').all(label_ok) {
        return Err(
            "after '@' a domain name: labels of letters, digits and inner '-', between dots",
        );
    }
    Ok(())
}

/// RFC 5322's `atext`, in ASCII.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// A plain-text mail: recipients, a subject and a body. The sender is the
/// [`Mailer`]'s.
///
/// ```
/// use salesiq_integrations::Mail;
///
/// let mail = Mail::new(["ops@example.com", "Sales <sales@example.com>"], "Missed chat", "Ann waited 2 minutes.")
///     .unwrap()
///     .with_reply_to("ann@example.com")
///     .unwrap();
/// assert_eq!(mail.to().len(), 2);
/// assert_eq!(mail.reply_to().map(|r| r.address()), Some("ann@example.com"));
/// // A line break would start a header of its own: refused.
/// assert!(Mail::new(["ops@example.com"], "Hi\r\nBcc: all@example.com", "").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    to: Vec<Mailbox>,
    subject: String,
    body: String,
    reply_to: Option<Mailbox>,
}

impl Mail {
    /// The most recipients of one mail.
    pub const MAX_RECIPIENTS: usize = 100;
    /// The longest subject, in characters.
    pub const MAX_SUBJECT: usize = 250;
    /// The largest body, in bytes (1 MiB: a long chat's transcript fits).
    pub const MAX_BODY: usize = 1 << 20;

    /// A mail to `to` (each `addr` or `Name <addr>`; one address given
    /// twice is sent to once). Refused: no recipient or more than
    /// [`Mail::MAX_RECIPIENTS`], an address that is not one, a subject
    /// that is empty, longer than [`Mail::MAX_SUBJECT`] or has a control
    /// character (CR and LF above all: see [`Mail::subject_line`] to make
    /// one of any text), a body over [`Mail::MAX_BODY`]. The body is plain
    /// text, any lines.
    pub fn new(
        to: impl IntoIterator<Item = impl AsRef<str>>,
        subject: &str,
        body: &str,
    ) -> Result<Self, ConnectorError> {
        let mut recipients: Vec<Mailbox> = Vec::new();
        for text in to {
            let mailbox = Mailbox::parse_as(text.as_ref(), "to")?;
            if !recipients
                .iter()
                .any(|r| r.address.eq_ignore_ascii_case(&mailbox.address))
            {
                recipients.push(mailbox);
            }
        }
        let bad = |field, reason| ConnectorError::BadMail { field, reason };
        if recipients.is_empty() {
            return Err(bad("to", "no recipient"));
        }
        if recipients.len() > Self::MAX_RECIPIENTS {
            return Err(bad("to", "more than 100 recipients"));
        }
        if subject.chars().any(char::is_control) {
            return Err(bad(
                "subject",
                "it has a line break or another control character",
            ));
        }
        if subject.trim().is_empty() {
            return Err(bad("subject", "it is empty"));
        }
        if subject.chars().count() > Self::MAX_SUBJECT {
            return Err(bad("subject", "it is over 250 characters"));
        }
        if body.len() > Self::MAX_BODY {
            return Err(bad("body", "it is over 1 MiB"));
        }
        Ok(Self {
            to: recipients,
            subject: subject.to_owned(),
            body: body.to_owned(),
            reply_to: None,
        })
    }

    /// The same, with replies going to `reply_to` (`addr` or `Name
    /// <addr>`): the visitor who left a message, say.
    pub fn with_reply_to(mut self, reply_to: &str) -> Result<Self, ConnectorError> {
        self.reply_to = Some(Mailbox::parse_as(reply_to, "reply_to")?);
        Ok(self)
    }

    /// A subject made of any text (a visitor's name, the first line of a
    /// message): control characters (line breaks, tabs) become spaces,
    /// runs of spaces one, and the whole is cut at [`Mail::MAX_SUBJECT`]
    /// characters, with `…` where it was cut.
    ///
    /// ```
    /// use salesiq_integrations::Mail;
    ///
    /// assert_eq!(Mail::subject_line("Message from\r\nAnn\t Lee "), "Message from Ann Lee");
    /// ```
    pub fn subject_line(text: &str) -> String {
        let spaced: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let words: Vec<&str> = spaced.split_whitespace().collect();
        let line = words.join(" ");
        if line.chars().count() <= Self::MAX_SUBJECT {
            return line;
        }
        let mut cut: String = line.chars().take(Self::MAX_SUBJECT - 1).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        cut
    }

    /// The recipients, in the order given.
    pub fn to(&self) -> &[Mailbox] {
        &self.to
    }

    /// The subject line.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Where replies go, if not to the sender.
    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }
}

/// A [`Mailer`] that sends nothing: it keeps the last mails it was given
/// (at most [`MemoryMailer::DEFAULT_CAPACITY`], or the capacity chosen),
/// for tests and demos. It can be told to fail, to test what a caller
/// does when mail is down.
///
/// ```
/// use salesiq_integrations::{Mail, Mailer, MemoryMailer};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mailer = MemoryMailer::new();
/// mailer.send(Mail::new(["ops@example.com"], "Missed chat", "Ann waited.").unwrap()).await.unwrap();
/// assert_eq!(mailer.sent()[0].subject(), "Missed chat");
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryMailer {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    kept: VecDeque<Mail>,
    total: u64,
    failure: Option<ConnectorError>,
}

impl Default for MemoryMailer {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl MemoryMailer {
    /// How many mails [`MemoryMailer::new`] keeps.
    pub const DEFAULT_CAPACITY: usize = 100;

    /// A mailer that keeps the last [`MemoryMailer::DEFAULT_CAPACITY`] mails.
    pub fn new() -> Self {
        Self::default()
    }

    /// A mailer that keeps the last `capacity` mails (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The mails kept, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.state().kept.iter().cloned().collect()
    }

    /// The mails kept, oldest first, forgetting them.
    pub fn take(&self) -> Vec<Mail> {
        self.state().kept.drain(..).collect()
    }

    /// How many mails were sent in all, the forgotten ones included.
    pub fn total(&self) -> u64 {
        self.state().total
    }

    /// Makes every send fail with `error` (keeping nothing) from now on;
    /// `None` makes sends succeed again.
    pub fn fail_with(&self, error: Option<ConnectorError>) {
        self.state().failure = error;
    }
}

impl Mailer for MemoryMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), ConnectorError>> {
        let result = {
            let mut state = self.state();
            match &state.failure {
                Some(error) => Err(error.clone()),
                None => {
                    if state.kept.len() == self.capacity {
                        state.kept.pop_front();
                    }
                    state.kept.push_back(mail);
                    state.total += 1;
                    Ok(())
                }
            }
        };
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn reason(text: &str) -> &'static str {
        match Mailbox::parse(text) {
            Err(ConnectorError::BadAddress { reason, .. }) => reason,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn addresses_and_display_names_parse() {
        let plain = Mailbox::parse(" ops@example.com ").unwrap();
        assert_eq!((plain.address(), plain.name()), ("ops@example.com", None));
        assert_eq!(plain.domain(), "example.com");
        let named = Mailbox::parse("\"Lee, Ann\" <ann.lee+chat@mail.example.co.jp>").unwrap();
        assert_eq!(named.name(), Some("Lee, Ann"));
        assert_eq!(named.address(), "ann.lee+chat@mail.example.co.jp");
        let japanese = Mailbox::parse("サポート窓口 <support@xn--eckwd4c7c.jp>").unwrap();
        assert_eq!(japanese.name(), Some("サポート窓口"));
        assert_eq!(Mailbox::parse("<ops@example.com>").unwrap().name(), None);
        assert_eq!(
            Mailbox::parse("root@localhost").unwrap().domain(),
            "localhost"
        );
        assert_eq!(
            named.to_string(),
            "\"Lee, Ann\" <ann.lee+chat@mail.example.co.jp>"
        );
    }

    #[test]
    fn what_is_not_an_address_is_refused_with_why() {
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason("ops.example.com"), "it has no '@'");
        assert_eq!(reason("@example.com"), "nothing before '@'");
        assert_eq!(reason("ops@"), "nothing after '@'");
        assert!(reason("ops@exa mple.com").starts_with("after '@'"));
        assert!(reason("ops@-example.com").starts_with("after '@'"));
        assert!(reason("ops@example..com").starts_with("after '@'"));
        assert!(reason("ops@[127.0.0.1]").starts_with("after '@'"));
        assert!(reason("a..b@example.com").starts_with("before '@'"));
        assert!(reason(".a@example.com").starts_with("before '@'"));
        assert!(reason("\"a b\"@example.com").starts_with("before '@'"));
        assert!(reason("a,b@example.com").starts_with("before '@'"));
        assert!(reason("ops@例え.jp").contains("xn--"));
        assert!(reason(&format!("{}@example.com", "a".repeat(65))).contains("64"));
        assert!(reason(&format!("a@{}.com", "b".repeat(64))).starts_with("after '@'"));
        assert!(reason("Ops <ops@example.com").starts_with("before '@'"));
        assert_eq!(reason("Ops ops@example.com>"), "a '>' without '<'");
        assert!(reason("A <b> <ops@example.com>").contains("display name"));
        assert!(reason(&format!("{} <ops@example.com>", "n".repeat(201))).contains("200"));
        for injected in [
            "ops@example.com\r\nBcc: all@example.com",
            "ops@example.com\nBcc: all@example.com",
            "Ops\r\nBcc: all@example.com <ops@example.com>",
            "ops@example.com\0",
        ] {
            assert!(reason(injected).contains("control"), "{injected:?}");
        }
    }

    #[test]
    fn the_error_names_the_field() {
        let error = Mail::new(["nope"], "Hi", "").unwrap_err();
        assert!(
            matches!(&error, ConnectorError::BadAddress { field: "to", address, .. } if address == "nope"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "to: \"nope\" is not an e-mail address: it has no '@'"
        );
        let mail = Mail::new(["a@example.com"], "Hi", "").unwrap();
        assert!(matches!(
            mail.with_reply_to("b@"),
            Err(ConnectorError::BadAddress {
                field: "reply_to",
                ..
            })
        ));
    }

    #[test]
    fn a_mail_is_checked_as_a_whole() {
        let bad = |to: &[&str], subject: &str, body: &str| match Mail::new(to, subject, body) {
            Err(ConnectorError::BadMail { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(bad(&[], "Hi", ""), "to");
        let many: Vec<String> = (0..101).map(|i| format!("u{i}@example.com")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(bad(&many, "Hi", ""), "to");
        assert!(Mail::new(&many[..100], "Hi", "").is_ok());
        for subject in [
            "Hi\r\nBcc: x@example.com",
            "Hi\nBcc: x@example.com",
            "Hi\rX",
            "a\tb",
        ] {
            assert_eq!(
                bad(&["a@example.com"], subject, ""),
                "subject",
                "{subject:?}"
            );
        }
        assert_eq!(bad(&["a@example.com"], " ", ""), "subject");
        assert_eq!(bad(&["a@example.com"], &"s".repeat(251), ""), "subject");
        assert!(Mail::new(["a@example.com"], &"字".repeat(250), "").is_ok());
        assert_eq!(
            bad(&["a@example.com"], "Hi", &"x".repeat(Mail::MAX_BODY + 1)),
            "body"
        );
        let body = "line 1\r\n.\r\nline 3\n\nお問い合わせ";
        let mail = Mail::new(["a@example.com"], "Hi", body).unwrap();
        assert_eq!(mail.body(), body, "a body is any text");
    }

    #[test]
    fn one_address_given_twice_is_one_recipient() {
        let mail = Mail::new(
            ["ops@example.com", "Ops <OPS@example.com>", "b@example.com"],
            "Hi",
            "",
        )
        .unwrap();
        let to: Vec<&str> = mail.to().iter().map(Mailbox::address).collect();
        assert_eq!(to, ["ops@example.com", "b@example.com"]);
    }

    #[test]
    fn subject_lines_are_made_of_any_text() {
        assert_eq!(Mail::subject_line("a\r\nBcc: b\tc"), "a Bcc: b c");
        let long = Mail::subject_line(&"ab ".repeat(200));
        assert_eq!(long.chars().count(), Mail::MAX_SUBJECT - 1);
        assert!(long.ends_with("ab…") || long.ends_with("a…"), "{long}");
        let line = Mail::subject_line(&"字".repeat(300));
        assert!(Mail::new(["a@example.com"], &line, "").is_ok());
    }

    #[test]
    fn operators_are_told_in_their_language() {
        use crate::Service;
        use salesiq_commands::Locale;
        let down = ConnectorError::Timeout(std::time::Duration::from_secs(30));
        assert_eq!(
            down.reply(Service::Mail),
            "The e-mail could not be sent right now"
        );
        assert_eq!(
            down.reply_in(Service::Mail, Locale::Ja),
            "現在メールを送信できません"
        );
        let bad = Mailbox::parse("nope").unwrap_err();
        assert_eq!(
            bad.reply(Service::Mail),
            "That is not a valid e-mail address"
        );
        assert_eq!(
            ConnectorError::NotFound.reply(Service::Crm),
            "No such record in the CRM",
            "the CRM's replies are as they were"
        );
    }

    fn mail(subject: &str) -> Mail {
        Mail::new(["ops@example.com"], subject, "body").unwrap()
    }

    #[tokio::test]
    async fn the_memory_mailer_keeps_the_last_mails() {
        let mailer = MemoryMailer::with_capacity(2);
        for subject in ["one", "two", "three"] {
            mailer.send(mail(subject)).await.unwrap();
        }
        let kept: Vec<String> = mailer
            .sent()
            .iter()
            .map(|m| m.subject().to_owned())
            .collect();
        assert_eq!(kept, ["two", "three"]);
        assert_eq!(mailer.total(), 3);
        assert_eq!(mailer.take().len(), 2);
        assert!(mailer.sent().is_empty());
        assert_eq!(MemoryMailer::new().capacity, MemoryMailer::DEFAULT_CAPACITY);
        assert_eq!(MemoryMailer::with_capacity(0).capacity, 1);
    }

    #[tokio::test]
    async fn the_memory_mailer_fails_when_told() {
        let mailer = MemoryMailer::new();
        mailer.fail_with(Some(ConnectorError::Unavailable("down".into())));
        assert_eq!(
            mailer.send(mail("lost")).await,
            Err(ConnectorError::Unavailable("down".into()))
        );
        assert!(mailer.sent().is_empty() && mailer.total() == 0);
        mailer.fail_with(None);
        mailer.send(mail("sent")).await.unwrap();
        assert_eq!(mailer.sent().len(), 1);
        // As an embedder holds it.
        let shared: std::sync::Arc<dyn Mailer> = std::sync::Arc::new(mailer);
        shared.send(mail("again")).await.unwrap();
    }
}
