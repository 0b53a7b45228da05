//! SmtpMailer against a real SMTP server: the aiosmtpd sink of
//! `scripts/smtp.sh`, which keeps each message as a file (as received,
//! and as Python's email package decodes it); and against servers that
//! are not there or never answer.
//!
//! The sink's address and directory come from `SALESIQ_SMTP_ADDR` and
//! `SALESIQ_SMTP_DIR` (`scripts/test.sh` starts it and sets them). Without
//! them the sink tests skip, saying why, except under CI (`CI` set), where
//! they fail. Tests share the sink and run in parallel: each finds its own
//! messages by a token in its recipients' addresses.

#![cfg(feature = "smtp")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use salesiq_integrations::{ConnectorError, Mail, Mailbox, Mailer, SmtpConfig, SmtpMailer};
use serde_json::Value;

/// The sink's address and directory, or `None` (skip) when none is set.
fn sink() -> Option<(String, u16, PathBuf)> {
    let (Ok(addr), Ok(dir)) = (
        std::env::var("SALESIQ_SMTP_ADDR"),
        std::env::var("SALESIQ_SMTP_DIR"),
    ) else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "SALESIQ_SMTP_ADDR and SALESIQ_SMTP_DIR are not set: under CI the SMTP tests \
                 must run (scripts/test.sh starts a sink with scripts/smtp.sh)"
            );
        }
        eprintln!(
            "skipped: SALESIQ_SMTP_ADDR or SALESIQ_SMTP_DIR is not set \
             (bash scripts/smtp.sh start prints both)"
        );
        return None;
    };
    let (host, port) = addr
        .rsplit_once(':')
        .expect("SALESIQ_SMTP_ADDR is host:port");
    let port = port.parse().expect("SALESIQ_SMTP_ADDR has a port");
    Some((host.to_owned(), port, PathBuf::from(dir)))
}

/// A token no other test (or run) uses, fit for an address's local part.
fn unique(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{what}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The sender of every test mail.
const FROM: &str = "Gateway <gateway@salesiq.example>";

/// A mailer for the sink: plain SMTP, as a local relay.
fn plain(host: &str, port: u16) -> Arc<dyn Mailer> {
    let config = SmtpConfig::new(host, port, FROM.parse().unwrap()).with_starttls(false);
    Arc::new(SmtpMailer::new(config).unwrap())
}

/// A message the sink kept.
#[derive(Debug)]
struct Received {
    /// The envelope and the decoded message (the sink's NAME.json).
    json: Value,
    /// The message as received (NAME.eml).
    raw: String,
}

impl Received {
    /// The decoded values of every header `name` (case-insensitive).
    fn header(&self, name: &str) -> Vec<String> {
        self.json["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h[1].as_str().unwrap().to_owned())
            .collect()
    }

    /// The one header `name`.
    fn one(&self, name: &str) -> String {
        let values = self.header(name);
        assert_eq!(values.len(), 1, "one {name}: {values:?}\n{}", self.raw);
        values[0].clone()
    }

    /// The envelope's recipients (`RCPT TO`).
    fn rcpt_tos(&self) -> Vec<String> {
        let list = self.json["rcpt_tos"].as_array().unwrap();
        list.iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    }

    /// The decoded body, with LF line ends and without the line end a
    /// transfer encoding may add at the end.
    fn body(&self) -> String {
        let body = self.json["body"].as_str().unwrap().replace("\r\n", "\n");
        body.trim_end_matches('\n').to_owned()
    }

    /// The raw header lines (before the first empty line).
    fn raw_headers(&self) -> Vec<&str> {
        let head = self.raw.split("\r\n\r\n").next().unwrap();
        head.split("\r\n").collect()
    }
}

/// The messages the sink kept with an envelope recipient containing
/// `token`. A send returns after the sink wrote its files, so these are
/// all there are.
fn received(dir: &Path, token: &str) -> Vec<Received> {
    let mut found: Vec<(PathBuf, Received)> = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let json: Value =
            serde_json::from_slice(&std::fs::read(path.with_extension("json")).unwrap()).unwrap();
        if json["rcpt_tos"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains(token))
        {
            let raw = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
            found.push((path, Received { json, raw }));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test]
async fn a_mail_arrives_with_its_headers_and_body() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let token = unique("ops");
    let to = format!("\"Lee, Ann\" <{token}@example.com>");
    let long_line = "word ".repeat(1000);
    let body = format!(
        "A visitor left a message.\n\n.\nFrom the page /pricing\n{long_line}\n-- \nsalesiq-gateway\n"
    );
    let mail = Mail::new([to.as_str()], "Message from Ann (demo)", &body)
        .unwrap()
        .with_reply_to("Ann <ann@visitor.example>")
        .unwrap();
    plain(&host, port).send(mail).await.unwrap();

    let got = received(&dir, &token);
    assert_eq!(got.len(), 1, "{got:?}");
    let mail = &got[0];
    assert_eq!(mail.json["mail_from"], "gateway@salesiq.example");
    assert_eq!(mail.rcpt_tos(), [format!("{token}@example.com")]);
    assert_eq!(mail.one("From"), "Gateway <gateway@salesiq.example>");
    assert_eq!(
        mail.one("To"),
        format!("\"Lee, Ann\" <{token}@example.com>")
    );
    assert_eq!(mail.one("Reply-To"), "Ann <ann@visitor.example>");
    assert_eq!(mail.one("Subject"), "Message from Ann (demo)");
    assert!(mail.one("Content-Type").starts_with("text/plain"));
    assert!(!mail.one("Date").is_empty() && mail.one("Message-ID").starts_with('<'));
    // A lone dot is a line of the body, not the end of the data; a line
    // of 5,000 characters comes back whole.
    assert_eq!(mail.body(), body.trim_end());
    assert!(
        mail.raw.split("\r\n").all(|line| line.len() <= 998),
        "no raw line over SMTP's limit"
    );
}

#[tokio::test]
async fn japanese_survives_the_encodings() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let token = unique("jp");
    let from: Mailbox = "サポート窓口 <support@salesiq.example>".parse().unwrap();
    let config = SmtpConfig::new(&host, port, from).with_starttls(false);
    let mailer = SmtpMailer::new(config).unwrap();
    let subject = "お問い合わせ：ご注文番号1234の配送状況について（山田様より、至急のご確認をお願いいたします）";
    let body = "山田太郎様\n\nお問い合わせありがとうございます。\n担当者より折り返しご連絡いたします。\n\n— サポート窓口\n";
    let to = format!("山田 太郎 <{token}@example.jp>");
    let mail = Mail::new([to.as_str()], subject, body).unwrap();
    mailer.send(mail).await.unwrap();

    let got = received(&dir, &token);
    assert_eq!(got.len(), 1, "{got:?}");
    let mail = &got[0];
    assert_eq!(mail.one("Subject"), subject);
    assert_eq!(mail.one("From"), "サポート窓口 <support@salesiq.example>");
    assert_eq!(mail.one("To"), format!("山田 太郎 <{token}@example.jp>"));
    assert_eq!(mail.body(), body.trim_end());
    // Encoded (RFC 2047 words, a transfer encoding), not raw UTF-8: a
    // server without SMTPUTF8 takes it too.
    assert!(mail.raw.is_ascii(), "{}", mail.raw);
}

#[tokio::test]
async fn several_recipients_get_one_mail() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let token = unique("many");
    let to = [
        format!("a-{token}@example.com"),
        format!("Sales <b-{token}@example.com>"),
        format!("c-{token}@example.net"),
        format!("A-{token}@EXAMPLE.com"),
    ];
    let mail = Mail::new(&to, "Missed chat", "Nobody answered Ann.").unwrap();
    plain(&host, port).send(mail).await.unwrap();

    let got = received(&dir, &token);
    assert_eq!(got.len(), 1, "one message for all: {got:?}");
    let mut rcpt = got[0].rcpt_tos();
    rcpt.sort();
    assert_eq!(
        rcpt,
        [
            format!("a-{token}@example.com"),
            format!("b-{token}@example.com"),
            format!("c-{token}@example.net"),
        ],
        "one address given twice is one recipient"
    );
    assert_eq!(
        got[0].one("To"),
        format!("a-{token}@example.com, Sales <b-{token}@example.com>, c-{token}@example.net")
    );
}

#[tokio::test]
async fn a_bad_address_is_a_typed_error_and_nothing_is_sent() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let token = unique("bad");
    let good = format!("{token}@example.com");
    for bad in [
        "nobody",
        "a@b@",
        "a b@example.com",
        "ops@例え.jp",
        "x@[127.0.0.1]",
    ] {
        let error = Mail::new([good.as_str(), bad], "Hi", "").unwrap_err();
        assert!(
            matches!(&error, ConnectorError::BadAddress { field: "to", address, .. } if address == bad),
            "{bad:?}: {error:?}"
        );
    }
    let mail = Mail::new([good.as_str()], "Hi", "").unwrap();
    assert!(matches!(
        mail.clone().with_reply_to("visitor at example.com"),
        Err(ConnectorError::BadAddress {
            field: "reply_to",
            ..
        })
    ));
    assert!("no-at-sign".parse::<Mailbox>().is_err(), "no sender either");
    assert!(received(&dir, &token).is_empty(), "nothing was sent");
    // The same mailer and sink deliver a good one.
    plain(&host, port).send(mail).await.unwrap();
    assert_eq!(received(&dir, &token).len(), 1);
}

#[tokio::test]
async fn line_breaks_cannot_add_a_header() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let token = unique("inject");
    let to = format!("{token}@example.com");
    let evil = format!("evil-{token}@example.com");
    for subject in [
        format!("Hello\r\nBcc: {evil}"),
        format!("Hello\nBcc: {evil}"),
        format!("Hello\rBcc: {evil}"),
        "Hello\r\n\r\nA body of my own".to_owned(),
    ] {
        let error = Mail::new([to.as_str()], &subject, "").unwrap_err();
        assert!(
            matches!(
                error,
                ConnectorError::BadMail {
                    field: "subject",
                    ..
                }
            ),
            "{subject:?}: {error:?}"
        );
    }
    for name in ["Ops\r\nBcc: x", "Ops\nBcc: x"] {
        let error = Mail::new([format!("{name} <{to}>")], "Hi", "").unwrap_err();
        assert!(matches!(
            error,
            ConnectorError::BadAddress { field: "to", .. }
        ));
    }
    assert!(received(&dir, &token).is_empty(), "nothing was sent");

    // Made into one line, the same text is a subject, and only that.
    let subject = Mail::subject_line(&format!("Hello\r\nBcc: {evil}"));
    let mail = Mail::new([to.as_str()], &subject, "").unwrap();
    plain(&host, port).send(mail).await.unwrap();
    let got = received(&dir, &token);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].one("Subject"), format!("Hello Bcc: {evil}"));
    assert!(got[0].header("Bcc").is_empty());
    assert_eq!(got[0].rcpt_tos(), [to], "the evil address got nothing");
    assert!(
        got[0]
            .raw_headers()
            .iter()
            .all(|line| !line.to_ascii_lowercase().starts_with("bcc")),
        "{}",
        got[0].raw
    );
}

#[tokio::test]
async fn refusals_are_typed() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let token = unique("refusal");
    let mailer = plain(&host, port);
    // The sink refuses refused*@ for good (550) and later*@ for now (451).
    let error = mailer
        .send(Mail::new([format!("refused-{token}@example.com")], "Hi", "").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Refused(why) if why.contains("550")),
        "{error:?}"
    );
    let error = mailer
        .send(Mail::new([format!("later-{token}@example.com")], "Hi", "").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Unavailable(why) if why.contains("451")),
        "{error:?}"
    );
    assert!(received(&dir, &token).is_empty());
}

#[tokio::test]
async fn starttls_required_sends_nothing_to_a_server_without_it() {
    let Some((host, port, dir)) = sink() else {
        return;
    };
    let token = unique("tls");
    // The sink offers no STARTTLS: a mailer that requires it (the
    // default) sends nothing rather than falling back to plain text.
    let config = SmtpConfig::new(&host, port, FROM.parse().unwrap());
    assert!(config.starttls);
    let mailer = SmtpMailer::new(config).unwrap();
    let mail = Mail::new(
        [format!("{token}@example.com")],
        "Secret",
        "Not in the clear",
    )
    .unwrap();
    let error = mailer.send(mail).await.unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Unavailable(why) if why.contains("STARTTLS")),
        "{error:?}"
    );
    assert!(received(&dir, &token).is_empty());
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unavailable_at_once() {
    // A port just freed: nothing listens on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = plain("127.0.0.1", port);
    let started = Instant::now();
    let mail = Mail::new(["ops@example.com"], "Hi", "").unwrap();
    let error = mailer.send(mail).await.unwrap_err();
    assert!(
        matches!(&error, ConnectorError::Unavailable(why) if why.contains(&format!("127.0.0.1:{port}"))),
        "{error:?}"
    );
    // Refused at once, well within the default 30 s timeout.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Takes connections and holds them, never greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            sockets.push(socket);
        }
    });
    let timeout = Duration::from_millis(500);
    let config = SmtpConfig::new("127.0.0.1", port, FROM.parse().unwrap())
        .with_starttls(false)
        .with_timeout(timeout);
    let mailer = SmtpMailer::new(config).unwrap();
    let mail = Mail::new(["ops@example.com"], "Hi", "").unwrap();
    let sent = tokio::time::timeout(Duration::from_secs(20), mailer.send(mail))
        .await
        .expect("the mailer's own timeout ends the send");
    assert_eq!(sent, Err(ConnectorError::Timeout(timeout)));
    held.abort();
}
