//! `#c`: canned answers (issue 15, item 1), per portal and per
//! department ([`crate::Store::canned`]).
//!
//! Choices where the issue is silent:
//! * `#c` lists the keys of the chat's department's answers and the
//!   portal's (a department's answer replaces the portal's of the same
//!   key), each with its first words ([`PREVIEW_CHARS`] characters).
//! * `#c <key>` sends the answer, its variables filled in, to the visitor
//!   as the operator's own line: in the transcript, seen by the guests of
//!   a group chat as any line of the operator's, and echoed to every
//!   device of the operator as `[system] sent: ...`, so that the phone
//!   sees what the desktop sent. Variables: `{visitor}` (the name the
//!   visitor gave), `{operator}` (the sender's display name),
//!   `{department}` (the department the visitor asked for, or nothing);
//!   any other `{...}` is left as it is.
//! * An unknown key is answered with the list of keys, and nothing
//!   reaches the visitor.

use super::GatewayError;
use super::chat::ChatTask;
use super::text::say;
use crate::contact::OperatorRef;

/// How much of each answer `#c` shows.
const PREVIEW_CHARS: usize = 40;

impl ChatTask {
    /// `#c [key]` for `operator`, a member.
    pub(super) async fn canned(
        &mut self,
        operator: &OperatorRef,
        key: Option<&str>,
    ) -> Result<(), GatewayError> {
        let department = self.department.as_ref().map(|d| d.id);
        let answers = self.inner.store.canned(&self.portal, department).await?;
        let locale = self.locale;
        let Some(key) = key else {
            if answers.is_empty() {
                let none = say(
                    locale,
                    "No canned answers in this portal",
                    "このポータルには定型文がありません",
                );
                self.reply(operator, none);
                return Ok(());
            }
            let list: Vec<String> = answers
                .iter()
                .map(|a| format!("{}: {}", a.key, preview(&a.text)))
                .collect();
            self.reply(operator, &list.join("\n"));
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        let Some(answer) = answers.iter().find(|a| a.key == key) else {
            let keys: Vec<&str> = answers.iter().map(|a| a.key.as_str()).collect();
            let text = match (locale, keys.is_empty()) {
                (salesiq_commands::Locale::Ja, true) => {
                    format!("定型文「{key}」はありません。このポータルには定型文がありません")
                }
                (salesiq_commands::Locale::Ja, false) => {
                    format!(
                        "定型文「{key}」はありません。使えるキー: {}",
                        keys.join(", ")
                    )
                }
                (_, true) => {
                    format!("No canned answer {key:?}: this portal has none")
                }
                (_, false) => {
                    format!("No canned answer {key:?}. Known keys: {}", keys.join(", "))
                }
            };
            self.reply(operator, &text);
            return Ok(());
        };
        let name = self.name(operator).await;
        let department = self.department.as_ref().map_or("", |d| d.name.as_str());
        let text = expand(&answer.text, &self.details.name, &name, department);
        let text = crate::clean_text(&text);
        self.relay(operator, &text).await?;
        let sent = say(locale, "sent", "送信しました");
        self.reply(operator, &format!("{sent}: {text}"));
        Ok(())
    }
}

/// The first [`PREVIEW_CHARS`] characters of `text` on one line, with `…`
/// when there is more.
fn preview(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = line.chars();
    let head: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// `text` with `{visitor}`, `{operator}` and `{department}` filled in, in
/// one pass (a visitor called `{operator}` stays `{operator}`).
pub(super) fn expand(text: &str, visitor: &str, operator: &str, department: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let (value, len) = [
            ("{visitor}", visitor),
            ("{operator}", operator),
            ("{department}", department),
        ]
        .iter()
        .find(|(name, _)| tail.starts_with(name))
        .map_or(("{", 1), |(name, value)| (*value, name.len()));
        out.push_str(value);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_filled_in_once() {
        assert_eq!(
            expand(
                "Hi {visitor}, {operator} of {department} here",
                "Ann",
                "Bob",
                "Sales"
            ),
            "Hi Ann, Bob of Sales here"
        );
        // What a value says is not expanded again; other braces stay.
        assert_eq!(
            expand("{visitor} {x} {", "{operator}", "Bob", ""),
            "{operator} {x} {"
        );
        assert_eq!(expand("{department}", "", "", ""), "");
    }

    #[test]
    fn previews_are_one_short_line() {
        assert_eq!(preview("Hello\nthere"), "Hello there");
        let long = "word ".repeat(30);
        let shown = preview(&long);
        assert!(shown.ends_with('…'));
        assert_eq!(shown.chars().count(), PREVIEW_CHARS + 1);
    }
}
