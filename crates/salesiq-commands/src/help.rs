//! The texts `#help` replies with, in every language.

use crate::command::HelpTopic;
use crate::locale::{Locale, Localized};

// Each section is a macro expanding to a literal, so that `#help all` can be
// one `concat!` of the others and still a `&'static str`.

macro_rules! index_en {
    () => {
"Commands start with #; they run on the server and are never sent to the visitor. To send the visitor a message that starts with #, type ## instead.
#help all - help for every command
#help misc - transfer, invite and the other chat commands
#help support - the helpdesk commands
#help crm - the CRM commands"
    };
}

macro_rules! index_ja {
    () => {
"すべてのコマンドの前には[#]の記号が付いています。コマンドは訪問者には送信されず、サーバーで実行されます。#から始まるメッセージを訪問者に送信するには、##と入力してください。
#help all - すべてのコマンドのヘルプを取得
#help misc - その他のコマンド(転送、招待など)を取得
#help support - サポート連携のコマンドのヘルプを取得
#help crm - CRM連携のコマンドのヘルプを取得"
    };
}

macro_rules! misc_en {
    () => {
        "Chat commands:
y / n - accept or decline a chat, transfer or invitation
#t <email> [message] - transfer the chat to an operator, with a note for them
#t \"<department>\" [note] - transfer the chat to a department
#i <email> [comment] - invite an operator into this chat
#info - the visitor's details
#b <reason> - block the visitor's IP address and end the chat
#an <note> - add a note to the visitor
#n - the visitor's notes
#h - the visitor's latest chat history
#d - the portal's departments
#p <url> - offer the visitor a web page (http or https)
#c - list the canned answers
#c <key> - send the canned answer with that key; {visitor}, {operator} and {department} in it become the visitor's name, yours and the department's
#m - the members of this chat and their status
#e - end the chat now
#e 30|45|60|90 - end the chat after that many seconds without visitor activity
#e cancel - cancel a timed end"
    };
}

macro_rules! misc_ja {
    () => {
        "チャットのコマンド:
y / n - チャット、転送、招待を承認/拒否
#t <メールアドレス> [メッセージ] - チャットを担当者に転送(メッセージは担当者へのメモ)
#t \"<部門名>\" [メモ] - チャットを部門に転送
#i <メールアドレス> [コメント] - 他の担当者をチャットに招待
#info - 訪問者の情報
#b <理由> - 訪問者のIPアドレスをブロックしてチャットを終了
#an <メモ> - 訪問者にメモを追加
#n - 訪問者のメモを表示
#h - 訪問者の最新のチャット履歴を表示
#d - 部門の一覧を表示
#p <URL> - 訪問者にWebページを送信(http または https)
#c - 定型文の一覧を表示
#c <キー> - そのキーの定型文を送信({visitor}、{operator}、{department} は訪問者名、担当者名、部門名に置き換わります)
#m - チャットのメンバーとステータスを表示
#e - チャットをすぐに終了
#e 30|45|60|90 - 訪問者の操作がないまま指定の秒数が経過したらチャットを終了
#e cancel - 保留中の終了の処理をキャンセル"
    };
}

macro_rules! support_en {
    () => {
"Helpdesk commands:
#support info - the visitor's helpdesk contact
#support ticketinfo - the ticket linked to this chat
#support recentreq - the visitor's recent tickets
#support conasreq <p><s><c> - turn this chat into a ticket: priority 0 none, 1 low, 2 medium, 3 high; status 0 open, 1 on hold, 2 escalated, 3 closed; classification 0 none, 1 question, 2 problem, 3 feature, 4 others (e.g. #support conasreq 112)
#support searchreq <email, ticket id or name> - search tickets
#support associate <ticket id> - link this chat to a ticket
#support setreqstatus open|close - reopen or close the linked ticket"
    };
}

macro_rules! support_ja {
    () => {
"サポートのコマンド:
#support info - 訪問者のサポート情報を表示
#support ticketinfo - このチャットの問い合わせ情報を表示
#support recentreq - 訪問者の最近の問い合わせを表示
#support conasreq <優先度><ステータス><分類> - チャットを問い合わせに変換。優先度 0 なし、1 低、2 中、3 高。ステータス 0 未完了、1 保留、2 エスカレーション、3 完了。分類 0 なし、1 質問、2 問題、3 機能、4 その他(例:#support conasreq 112)
#support searchreq <メールアドレス、問い合わせID、または名前> - 問い合わせを検索
#support associate <問い合わせID> - このチャットを既存の問い合わせに関連付け
#support setreqstatus open|close - 関連付けた問い合わせを再開/完了"
    };
}

macro_rules! crm_en {
    () => {
        "CRM commands:
#crm info - the visitor's record in the CRM"
    };
}

macro_rules! crm_ja {
    () => {
        "CRMのコマンド:
#crm info - CRMから訪問者の情報を表示"
    };
}

const INDEX: Localized = Localized::new(index_en!(), index_ja!());
const MISC: Localized = Localized::new(misc_en!(), misc_ja!());
const SUPPORT: Localized = Localized::new(support_en!(), support_ja!());
const CRM: Localized = Localized::new(crm_en!(), crm_ja!());
const ALL: Localized = Localized::new(
    concat!(misc_en!(), "\n\n", crm_en!(), "\n\n", support_en!()),
    concat!(misc_ja!(), "\n\n", crm_ja!(), "\n\n", support_ja!()),
);

/// The reply to `#help` (`topic` `None`) or `#help <topic>`, in `locale`.
///
/// ```
/// use salesiq_commands::{HelpTopic, Locale, help};
///
/// assert!(help(None, Locale::En).contains("#help crm"));
/// assert!(help(Some(HelpTopic::Crm), Locale::Ja).contains("#crm info"));
/// ```
pub fn help(topic: Option<HelpTopic>, locale: Locale) -> &'static str {
    let text = match topic {
        None => INDEX,
        Some(HelpTopic::All) => ALL,
        Some(HelpTopic::Misc) => MISC,
        Some(HelpTopic::Support) => SUPPORT,
        Some(HelpTopic::Crm) => CRM,
    };
    text.get(locale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, parse};

    /// Every command line the help shows parses to a command, once its
    /// placeholders are filled in: the help cannot drift from the grammar.
    #[test]
    fn every_example_in_the_help_parses() {
        for locale in [Locale::En, Locale::Ja] {
            let mut seen = 0;
            for line in help(Some(HelpTopic::All), locale).lines() {
                let Some((syntax, _)) = line.split_once(" - ") else {
                    continue;
                };
                if !syntax.starts_with('#') {
                    continue;
                }
                let filled = syntax
                    .replace("<email>", "bob@demo.example")
                    .replace("<メールアドレス>", "bob@demo.example")
                    .replace("\"<department>\"", "\"Sales\"")
                    .replace("\"<部門名>\"", "\"営業\"")
                    .replace("<url>", "https://example.com")
                    .replace("<URL>", "https://example.com")
                    .replace("<p><s><c>", "112")
                    .replace("<優先度><ステータス><分類>", "112")
                    .replace("<ticket id>", "101")
                    .replace("<問い合わせID>", "101")
                    .replace("<email, ticket id or name>", "Ann")
                    .replace("<メールアドレス、問い合わせID、または名前>", "Ann")
                    .replace("30|45|60|90", "45")
                    .replace("open|close", "close")
                    .replace("<key>", "thanks")
                    .replace("<キー>", "thanks")
                    .replace(['[', ']', '<', '>'], "");
                assert!(
                    matches!(parse(&filled), Ok(Input::Command(_))),
                    "{locale:?}: {filled:?} from {line:?} gives {:?}",
                    parse(&filled)
                );
                seen += 1;
            }
            assert_eq!(seen, 24, "{locale:?}");
        }
        for topic in [
            None,
            Some(HelpTopic::Misc),
            Some(HelpTopic::Support),
            Some(HelpTopic::Crm),
        ] {
            assert_ne!(help(topic, Locale::En), help(topic, Locale::Ja));
        }
    }
}
