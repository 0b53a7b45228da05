//! The usage line of every command, in every language.

use crate::locale::Localized;

macro_rules! usage {
    ($($(#[$doc:meta])* $name:ident = $en:literal, $ja:literal;)*) => {
        $($(#[$doc])* pub const $name: Localized = Localized::new($en, $ja);)*
    };
}

usage! {
    /// Where to look when the command itself is unknown.
    HELP_INDEX = "#help lists every command", "#help でコマンドの一覧を表示します";
    /// `#help`.
    HELP = "#help [all|misc|support|crm]", "#help [all|misc|support|crm]";
    /// `#t`.
    TRANSFER = "#t <email> [message]  or  #t \"<department>\" [note]",
        "#t <メールアドレス> [メッセージ]  または  #t \"<部門名>\" [メモ]";
    /// `#i`.
    INVITE = "#i <email> [comment]", "#i <メールアドレス> [コメント]";
    /// `#info`.
    INFO = "#info", "#info";
    /// `#b`.
    BLOCK = "#b <reason>", "#b <理由>";
    /// `#an`.
    ADD_NOTE = "#an <note>", "#an <メモ>";
    /// `#n`.
    NOTES = "#n", "#n";
    /// `#h`.
    HISTORY = "#h", "#h";
    /// `#d`.
    DEPARTMENTS = "#d", "#d";
    /// `#p`.
    PUSH = "#p <URL starting with http:// or https://>",
        "#p <http:// または https:// で始まるURL>";
    /// `#c`.
    CANNED = "#c [key] - list the canned answers, or send the one with that key",
        "#c [キー] - 定型文の一覧を表示、または定型文を送信";
    /// `#m`.
    MEMBERS = "#m", "#m";
    /// `#e`.
    END = "#e  or  #e 30|45|60|90  or  #e cancel",
        "#e  または  #e 30|45|60|90(秒)  または  #e cancel";
    /// `#crm`.
    CRM = "#crm info", "#crm info";
    /// `#support` with no or an unknown sub-command.
    SUPPORT = "#support info|ticketinfo|recentreq|conasreq|searchreq|associate|setreqstatus",
        "#support info|ticketinfo|recentreq|conasreq|searchreq|associate|setreqstatus";
    /// `#support info`.
    SUPPORT_INFO = "#support info", "#support info";
    /// `#support ticketinfo`.
    SUPPORT_TICKETINFO = "#support ticketinfo", "#support ticketinfo";
    /// `#support recentreq`.
    SUPPORT_RECENTREQ = "#support recentreq", "#support recentreq";
    /// `#support conasreq`.
    SUPPORT_CONASREQ = "#support conasreq <priority 0-3><status 0-3><classification 0-4>, e.g. #support conasreq 112",
        "#support conasreq <優先度0-3><ステータス0-3><分類0-4>(例:#support conasreq 112)";
    /// `#support searchreq`.
    SUPPORT_SEARCHREQ = "#support searchreq <email, ticket id or name>",
        "#support searchreq <メールアドレス、問い合わせID、または名前>";
    /// `#support associate`.
    SUPPORT_ASSOCIATE = "#support associate <ticket id>", "#support associate <問い合わせID>";
    /// `#support setreqstatus`.
    SUPPORT_SETREQSTATUS = "#support setreqstatus open|close", "#support setreqstatus open|close";
}
