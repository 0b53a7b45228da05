//! The gateway's own texts, in the portal's language.

use salesiq_commands::Locale;

use crate::model::VisitorDetails;

/// The text in a language.
pub(super) fn say(locale: Locale, en: &'static str, ja: &'static str) -> &'static str {
    match locale {
        Locale::Ja => ja,
        _ => en,
    }
}

/// A text of the gateway's own, marked so that nobody takes it for the
/// visitor's.
pub(super) fn system(locale: Locale, text: &str) -> String {
    let prefix = say(locale, "[system]", "[システム]");
    format!("{prefix} {text}")
}

/// A field for display: its value, or `-` when unknown.
pub(super) fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".to_owned())
}

/// "X took this chat", in `locale`.
pub(super) fn took(locale: Locale, name: &str) -> String {
    match locale {
        Locale::Ja => format!("{name}さんがこのチャットを担当しました"),
        _ => format!("{name} took this chat"),
    }
}

/// Lines of `label: value` in `locale`, labels given as (English, Japanese).
pub(super) fn labelled(locale: Locale, rows: &[(&'static str, &'static str, String)]) -> String {
    rows.iter()
        .map(|(en, ja, value)| format!("{}: {value}", say(locale, en, ja)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The visitor's details as sent to the operator who accepts (`#info`).
pub(super) fn details_text(locale: Locale, number: i64, d: &VisitorDetails) -> String {
    let rows = [
        ("Visitor", "訪問者", format!("#{number} {}", d.name)),
        ("E-mail", "メールアドレス", or_dash(&d.email)),
        ("Country", "国", or_dash(&d.country)),
        ("Browser", "ブラウザー", or_dash(&d.browser)),
        ("OS", "OS", or_dash(&d.os)),
        ("IP", "IPアドレス", or_dash(&d.ip)),
        (
            "Started on",
            "チャットを開始したページ",
            or_dash(&d.first_page),
        ),
        ("Now on", "現在のページ", or_dash(&d.current_page)),
    ];
    system(locale, &labelled(locale, &rows))
}

/// The request an operator is offered; the visitor's country, when
/// known, follows the number.
pub(super) fn offer_text(locale: Locale, d: &VisitorDetails, number: i64, status: &str) -> String {
    let name = &d.name;
    system(
        locale,
        &match (locale, &d.country) {
            (Locale::Ja, Some(country)) => format!(
                "{name}さん(訪問者 #{number}、{country})からのチャットのリクエスト: {status}。承認するには y と返信してください。"
            ),
            (Locale::Ja, None) => format!(
                "{name}さん(訪問者 #{number})からのチャットのリクエスト: {status}。承認するには y と返信してください。"
            ),
            (_, Some(country)) => format!(
                "Chat request from {name} (visitor #{number}) in {country}: {status}. Reply y to accept."
            ),
            (_, None) => format!(
                "Chat request from {name} (visitor #{number}): {status}. Reply y to accept."
            ),
        },
    )
}
