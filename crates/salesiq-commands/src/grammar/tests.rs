//! One test per command and per error path of the grammar.

use super::*;
use crate::error::{CannedKeyIssue, EmailIssue, UrlIssue};
use crate::{CannedKey, Department, Email, Locale, TicketId, Url};

fn cmd(line: &str) -> Command<'_> {
    match parse(line) {
        Ok(Input::Command(command)) => command,
        other => panic!("{line:?} gave {other:?}"),
    }
}

/// The error for `line`, with the text its span points at.
fn err(line: &str) -> (ErrorKind, &str, &'static str) {
    match parse(line) {
        Err(e) => (e.kind(), e.found(line), e.usage()),
        other => panic!("{line:?} gave {other:?}"),
    }
}

fn email(text: &str) -> Email<'_> {
    Email::parse(text).unwrap()
}

#[test]
fn text_yes_no() {
    assert_eq!(parse("hello").unwrap(), Input::Text("hello"));
    assert_eq!(parse("").unwrap(), Input::Text(""));
    assert_eq!(parse("  spaced  ").unwrap(), Input::Text("  spaced  "));
    assert_eq!(parse("yes").unwrap(), Input::Text("yes"));
    assert_eq!(
        parse("price is 5 # each").unwrap(),
        Input::Text("price is 5 # each")
    );
    assert_eq!(parse("こんにちは").unwrap(), Input::Text("こんにちは"));
    for yes in ["y", "Y", " y\n", "ｙ", "Ｙ"] {
        assert_eq!(parse(yes).unwrap(), Input::Yes, "{yes:?}");
    }
    for no in ["n", "N", "\tn ", "ｎ", "Ｎ"] {
        assert_eq!(parse(no).unwrap(), Input::No, "{no:?}");
    }
    assert_eq!(parse("##tag").unwrap(), Input::Text("#tag"));
    assert_eq!(parse("  ＃＃タグ").unwrap(), Input::Text("＃タグ"));
    assert_eq!(parse("#＃x").unwrap(), Input::Text("＃x"));
}

#[test]
fn help() {
    assert_eq!(cmd("#help"), Command::Help { topic: None });
    assert_eq!(
        cmd("#HELP All"),
        Command::Help {
            topic: Some(HelpTopic::All)
        }
    );
    assert_eq!(
        cmd("＃ｈｅｌｐ　ｍｉｓｃ"),
        Command::Help {
            topic: Some(HelpTopic::Misc)
        }
    );
    assert_eq!(
        cmd("#help support"),
        Command::Help {
            topic: Some(HelpTopic::Support)
        }
    );
    assert_eq!(
        cmd("#help crm "),
        Command::Help {
            topic: Some(HelpTopic::Crm)
        }
    );
    assert_eq!(
        err("#help me"),
        (
            ErrorKind::UnknownHelpTopic,
            "me",
            usage::HELP.get(crate::Locale::En)
        )
    );
    assert_eq!(err("#help crm now").0, ErrorKind::UnexpectedArgument);
    assert_eq!(err("#help crm now").1, "now");
}

#[test]
fn transfer_to_operator() {
    assert_eq!(
        cmd("#t fiona.baumgartner@hotmail.com"),
        Command::TransferToOperator {
            email: email("fiona.baumgartner@hotmail.com"),
            note: None
        }
    );
    assert_eq!(
        cmd("#T   bob@demo.example   wants a refund, order 1234  "),
        Command::TransferToOperator {
            email: email("bob@demo.example"),
            note: Some("wants a refund, order 1234"),
        }
    );
    assert_eq!(
        err("#t bob"),
        (
            ErrorKind::InvalidEmail(EmailIssue::MissingAt),
            "bob",
            usage::TRANSFER.get(crate::Locale::En)
        )
    );
    assert_eq!(err("#t a@b@c.com").1, "@");
    assert_eq!(
        err("#t").0,
        ErrorKind::MissingArgument(Argument::EmailOrDepartment)
    );
    assert_eq!(
        err("#t   ").0,
        ErrorKind::MissingArgument(Argument::EmailOrDepartment)
    );
}

#[test]
fn transfer_to_department() {
    let vip = Department::parse("VIPサポート").unwrap();
    assert_eq!(
        cmd("#t \"VIPサポート\""),
        Command::TransferToDepartment {
            department: vip,
            note: None
        }
    );
    assert_eq!(
        cmd("#t “VIPサポート”  日本語で"),
        Command::TransferToDepartment {
            department: vip,
            note: Some("日本語で")
        }
    );
    assert_eq!(
        cmd("#t 「VIPサポート」"),
        Command::TransferToDepartment {
            department: vip,
            note: None
        }
    );
    assert_eq!(
        cmd("#t \" Sales EMEA \" note"),
        Command::TransferToDepartment {
            department: Department::parse("Sales EMEA").unwrap(),
            note: Some("note"),
        }
    );
    assert_eq!(
        err("#t \"Sales"),
        (
            ErrorKind::UnterminatedQuote,
            "\"Sales",
            usage::TRANSFER.get(crate::Locale::En)
        )
    );
    assert_eq!(err("#t \"\"").0, ErrorKind::EmptyDepartment);
    assert_eq!(err("#t \"  \" x").0, ErrorKind::EmptyDepartment);
    assert_eq!(err("#t \"a\tb\"").0, ErrorKind::InvalidDepartmentChar('\t'));
    assert_eq!(err("#t \"a\tb\"").1, "\t");
    assert_eq!(
        err("#t \"Sales\"note"),
        (
            ErrorKind::NoSpaceAfterQuote,
            "n",
            usage::TRANSFER.get(crate::Locale::En)
        )
    );
    assert_eq!(err("#t \"Sales\"ノート").1, "ノ");
}

#[test]
fn invite() {
    assert_eq!(
        cmd("#i bob@demo.example"),
        Command::Invite {
            email: email("bob@demo.example"),
            comment: None
        }
    );
    assert_eq!(
        cmd("#i bob@demo.example can you help\nwith billing?"),
        Command::Invite {
            email: email("bob@demo.example"),
            comment: Some("can you help\nwith billing?")
        }
    );
    assert_eq!(err("#i").0, ErrorKind::MissingArgument(Argument::Email));
    assert_eq!(
        err("#i bob@localhost").0,
        ErrorKind::InvalidEmail(EmailIssue::InvalidDomain)
    );
    assert_eq!(err("#i bob@localhost").1, "localhost");
    assert_eq!(
        err("#i \"Sales\"").0,
        ErrorKind::InvalidEmail(EmailIssue::MissingAt)
    );
}

#[test]
fn commands_without_arguments() {
    for (line, expected, usage) in [
        ("#info", Command::Info, usage::INFO),
        ("#n", Command::Notes, usage::NOTES),
        ("#h", Command::History, usage::HISTORY),
        ("#d", Command::Departments, usage::DEPARTMENTS),
        ("#m", Command::Members, usage::MEMBERS),
        ("#crm info", Command::CrmInfo, usage::CRM),
        ("#support info", Command::SupportInfo, usage::SUPPORT_INFO),
        (
            "#support ticketinfo",
            Command::SupportTicketInfo,
            usage::SUPPORT_TICKETINFO,
        ),
        (
            "#support recentreq",
            Command::SupportRecentRequests,
            usage::SUPPORT_RECENTREQ,
        ),
    ] {
        assert_eq!(cmd(line), expected);
        assert_eq!(cmd(&format!("  {}  ", line.to_uppercase())), expected);
        assert_eq!(
            cmd(&line.replacen('#', "＃", 1).replace(' ', "\u{3000}\u{3000}")),
            expected
        );
        let extra = format!("{line} please");
        assert_eq!(
            err(&extra),
            (
                ErrorKind::UnexpectedArgument,
                "please",
                usage.get(crate::Locale::En)
            )
        );
    }
}

#[test]
fn block_and_notes() {
    assert_eq!(
        cmd("#b 不正な利用"),
        Command::Block {
            reason: "不正な利用"
        }
    );
    assert_eq!(
        cmd("#b  spam, 3 times "),
        Command::Block {
            reason: "spam, 3 times"
        }
    );
    assert_eq!(err("#b").0, ErrorKind::MissingArgument(Argument::Reason));
    assert_eq!(err("#b   ").0, ErrorKind::MissingArgument(Argument::Reason));
    assert_eq!(err("#b   ").2, usage::BLOCK.get(crate::Locale::En));
    assert_eq!(
        cmd("#an お客様が追加購入を検討しています"),
        Command::AddNote {
            text: "お客様が追加購入を検討しています"
        }
    );
    assert_eq!(
        cmd("#AN line one\nline two"),
        Command::AddNote {
            text: "line one\nline two"
        }
    );
    assert_eq!(err("#an").0, ErrorKind::MissingArgument(Argument::NoteText));
    assert_eq!(err("#an\n").2, usage::ADD_NOTE.get(crate::Locale::En));
}

#[test]
fn push() {
    let url = "https://taskerpro.cleaning.zillium.com";
    assert_eq!(
        cmd(&format!("#p {url}")),
        Command::Push {
            url: Url::parse(url).unwrap()
        }
    );
    assert_eq!(err("#p").0, ErrorKind::MissingArgument(Argument::Url));
    assert_eq!(
        err("#p ftp://x.example").0,
        ErrorKind::InvalidUrl(UrlIssue::UnsupportedScheme)
    );
    assert_eq!(err("#p ftp://x.example").1, "ftp");
    assert_eq!(
        err("#p example.com"),
        (
            ErrorKind::InvalidUrl(UrlIssue::NotAbsolute),
            "example.com",
            usage::PUSH.get(crate::Locale::En)
        )
    );
    assert_eq!(
        err("#p https://a.example https://b.example").0,
        ErrorKind::UnexpectedArgument
    );
    assert_eq!(
        err("#p https://a.example https://b.example").1,
        "https://b.example"
    );
}

#[test]
fn canned() {
    let canned = |key| Command::Canned {
        key: Some(CannedKey::parse(key).unwrap()),
    };
    assert_eq!(cmd("#c"), Command::Canned { key: None });
    assert_eq!(cmd(" ＃Ｃ\u{3000}"), Command::Canned { key: None });
    assert_eq!(cmd("#c thanks"), canned("thanks"));
    assert_eq!(cmd("#C  price_list-2 \n"), canned("price_list-2"));
    assert_eq!(cmd("＃ｃ\u{3000}bye"), canned("bye"));
    let longest = "k".repeat(crate::CANNED_KEY_MAX_LEN);
    assert_eq!(cmd(&format!("#c {longest}")), canned(&longest));
    // `#c` is its own word: `#crm` and `#cancel` are not it.
    assert_eq!(err("#cancel").0, ErrorKind::UnknownCommand);

    let usage = usage::CANNED.get(Locale::En);
    let issue = ErrorKind::InvalidCannedKey;
    let long = "k".repeat(crate::CANNED_KEY_MAX_LEN + 1);
    assert_eq!(
        err(&format!("#c {long}")),
        (issue(CannedKeyIssue::TooLong), long.as_str(), usage)
    );
    assert_eq!(
        err("#c bad!key"),
        (issue(CannedKeyIssue::InvalidChar('!')), "!", usage)
    );
    assert_eq!(
        err("#c お礼"),
        (issue(CannedKeyIssue::InvalidChar('お')), "お", usage)
    );
    assert_eq!(
        err("#c ｔｈａｎｋｓ"),
        (issue(CannedKeyIssue::InvalidChar('ｔ')), "ｔ", usage)
    );
    // Upper case is refused, not folded: stored keys are lower case.
    assert_eq!(
        err("#c Thanks"),
        (issue(CannedKeyIssue::Uppercase('T')), "T", usage)
    );
    assert_eq!(
        err("#c thankS"),
        (issue(CannedKeyIssue::Uppercase('S')), "S", usage)
    );
    // No free text after the key.
    assert_eq!(err("#c a b"), (ErrorKind::UnexpectedArgument, "b", usage));
    assert_eq!(
        err("#c thanks for waiting "),
        (ErrorKind::UnexpectedArgument, "for waiting", usage)
    );
    // A bad key is reported before the extra words.
    assert_eq!(err("#c bad!key more").1, "!");

    let e = parse("#c bad!key").unwrap_err();
    assert_eq!(
        e.to_string(),
        "character '!' is not allowed in a canned answer key; \
         a key is 1 to 30 characters of a-z, 0-9, _ and -. \
         Usage: #c [key] - list the canned answers, or send the one with that key"
    );
    assert_eq!(
        e.display(Locale::Ja).to_string(),
        "定型文のキーに文字 '!' は使えません\
         (キーは1〜30文字の半角英小文字 a-z、数字 0-9、_、- です)。\
         使い方: #c [キー] - 定型文の一覧を表示、または定型文を送信"
    );
    for line in ["#c Thanks", &format!("#c {long}")] {
        let e = parse(line).unwrap_err();
        for locale in [Locale::En, Locale::Ja] {
            let text = e.display(locale).to_string();
            assert!(text.contains("a-z"), "{text}");
            assert!(text.contains(usage::CANNED.get(locale)), "{text}");
        }
    }
    assert_eq!(
        parse("#c Thanks").unwrap_err().to_string(),
        "canned answer keys are lower case: type 't', not 'T'; \
         a key is 1 to 30 characters of a-z, 0-9, _ and -. \
         Usage: #c [key] - list the canned answers, or send the one with that key"
    );
}

#[test]
fn end() {
    assert_eq!(cmd("#e"), Command::End);
    assert_eq!(cmd(" ＃Ｅ\u{3000}"), Command::End);
    for delay in EndDelay::ALL {
        assert_eq!(
            cmd(&format!("#e {}", delay.as_secs())),
            Command::EndAfter { seconds: delay }
        );
    }
    assert_eq!(
        cmd("＃ｅ　６０"),
        Command::EndAfter {
            seconds: EndDelay::S60
        }
    );
    assert_eq!(cmd("#e CANCEL"), Command::EndCancel);
    for bad in [
        "20",
        "030x",
        "99999999999999999999999",
        "-30",
        "thirty",
        "cancelx",
    ] {
        let line = format!("#e {bad}");
        assert_eq!(
            err(&line),
            (
                ErrorKind::InvalidEndDelay,
                bad,
                usage::END.get(crate::Locale::En)
            )
        );
    }
    assert_eq!(err("#e 30 45").0, ErrorKind::UnexpectedArgument);
    assert_eq!(err("#e cancel now").1, "now");
}

#[test]
fn crm() {
    assert_eq!(cmd("#CRM Info"), Command::CrmInfo);
    assert_eq!(
        err("#crm"),
        (
            ErrorKind::MissingSubcommand,
            "",
            usage::CRM.get(crate::Locale::En)
        )
    );
    assert_eq!(
        err("#crm deals"),
        (
            ErrorKind::UnknownSubcommand,
            "deals",
            usage::CRM.get(crate::Locale::En)
        )
    );
}

#[test]
fn support_subcommands() {
    assert_eq!(err("#support").0, ErrorKind::MissingSubcommand);
    assert_eq!(err("#support  ").2, usage::SUPPORT.get(crate::Locale::En));
    assert_eq!(
        err("#support tickets"),
        (
            ErrorKind::UnknownSubcommand,
            "tickets",
            usage::SUPPORT.get(crate::Locale::En)
        )
    );
}

#[test]
fn convert_to_ticket() {
    assert_eq!(
        cmd("#support conasreq 112"),
        Command::SupportConvert {
            fields: TicketFields {
                priority: TicketPriority::Low,
                status: TicketStatus::OnHold,
                classification: TicketClassification::Problem,
            }
        }
    );
    assert_eq!(
        cmd("＃ｓｕｐｐｏｒｔ　ｃｏｎａｓｒｅｑ　３３４"),
        Command::SupportConvert {
            fields: TicketFields {
                priority: TicketPriority::High,
                status: TicketStatus::Closed,
                classification: TicketClassification::Others,
            }
        }
    );
    let usage = usage::SUPPORT_CONASREQ.get(crate::Locale::En);
    let issue = |i| ErrorKind::InvalidTicketFields(i);
    assert_eq!(
        err("#support conasreq").0,
        ErrorKind::MissingArgument(Argument::TicketFields)
    );
    assert_eq!(
        err("#support conasreq 12"),
        (issue(TicketFieldsIssue::WrongLength), "12", usage)
    );
    assert_eq!(
        err("#support conasreq 1120"),
        (issue(TicketFieldsIssue::WrongLength), "1120", usage)
    );
    assert_eq!(
        err("#support conasreq 1x2"),
        (issue(TicketFieldsIssue::NotADigit('x')), "x", usage)
    );
    assert_eq!(
        err("#support conasreq 412"),
        (issue(TicketFieldsIssue::Priority(4)), "4", usage)
    );
    assert_eq!(
        err("#support conasreq 142"),
        (issue(TicketFieldsIssue::Status(4)), "4", usage)
    );
    assert_eq!(
        err("#support conasreq 115"),
        (issue(TicketFieldsIssue::Classification(5)), "5", usage)
    );
    assert_eq!(err("#support conasreq １１９").1, "９");
    assert_eq!(
        err("#support conasreq 112 113").0,
        ErrorKind::UnexpectedArgument
    );
}

#[test]
fn search() {
    let search = |line| match cmd(line) {
        Command::SupportSearch { query } => query,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        search("#support searchreq ann@example.com"),
        SearchQuery::Email(email("ann@example.com"))
    );
    assert_eq!(
        search("#support searchreq #1042"),
        SearchQuery::TicketNumber("1042")
    );
    assert_eq!(
        search("#support searchreq 1042"),
        SearchQuery::TicketNumber("1042")
    );
    assert_eq!(
        search("#support searchreq  Ann Lee "),
        SearchQuery::Name("Ann Lee")
    );
    assert_eq!(
        search("#support searchreq 山田 太郎"),
        SearchQuery::Name("山田 太郎")
    );
    assert_eq!(search("#support searchreq #"), SearchQuery::Name("#"));
    assert_eq!(
        err("#support searchreq").0,
        ErrorKind::MissingArgument(Argument::Query)
    );
    assert_eq!(
        err("#support searchreq \u{3000}").2,
        usage::SUPPORT_SEARCHREQ.get(crate::Locale::En)
    );
}

#[test]
fn associate() {
    assert_eq!(
        cmd("#support associate #101"),
        Command::SupportAssociate {
            ticket_id: TicketId::parse("101").unwrap()
        }
    );
    assert_eq!(
        cmd("#support associate TKT-9"),
        Command::SupportAssociate {
            ticket_id: TicketId::parse("TKT-9").unwrap()
        }
    );
    let usage = usage::SUPPORT_ASSOCIATE.get(crate::Locale::En);
    assert_eq!(
        err("#support associate").0,
        ErrorKind::MissingArgument(Argument::TicketId)
    );
    assert_eq!(
        err("#support associate 10.1"),
        (ErrorKind::InvalidTicketId('.'), ".", usage)
    );
    assert_eq!(
        err("#support associate 101 102").0,
        ErrorKind::UnexpectedArgument
    );
}

#[test]
fn set_status() {
    assert_eq!(
        cmd("#support setreqstatus open"),
        Command::SupportSetStatus {
            status: TicketState::Open
        }
    );
    assert_eq!(
        cmd("#support SetReqStatus CLOSE"),
        Command::SupportSetStatus {
            status: TicketState::Close
        }
    );
    let usage = usage::SUPPORT_SETREQSTATUS.get(crate::Locale::En);
    assert_eq!(
        err("#support setreqstatus").0,
        ErrorKind::MissingArgument(Argument::TicketStatus)
    );
    assert_eq!(
        err("#support setreqstatus closed"),
        (ErrorKind::InvalidTicketStatus, "closed", usage)
    );
    assert_eq!(
        err("#support setreqstatus open now").0,
        ErrorKind::UnexpectedArgument
    );
}

#[test]
fn unknown_and_empty_commands() {
    let index = usage::HELP_INDEX.get(crate::Locale::En);
    assert_eq!(err("#"), (ErrorKind::EmptyCommand, "#", index));
    assert_eq!(err("  ＃  info"), (ErrorKind::EmptyCommand, "＃", index));
    assert_eq!(
        err("#transfer bob@x.com"),
        (ErrorKind::UnknownCommand, "transfer", index)
    );
    assert_eq!(err("#ｘｙｚ"), (ErrorKind::UnknownCommand, "ｘｙｚ", index));
    assert_eq!(err("#ヘルプ"), (ErrorKind::UnknownCommand, "ヘルプ", index));
    assert_eq!(
        err("#averyveryverylongcommandword").0,
        ErrorKind::UnknownCommand
    );
}

#[test]
fn errors_read_well_in_both_languages() {
    let e = parse("#support conasreq 412").unwrap_err();
    assert_eq!(
        e.to_string(),
        "priority 4 is not 0 (none) to 3 (high). Usage: #support conasreq <priority 0-3><status 0-3><classification 0-4>, e.g. #support conasreq 112"
    );
    assert_eq!(
        e.display(crate::Locale::Ja).to_string(),
        "優先度 4 は0(なし)から3(高)の範囲外です。使い方: #support conasreq <優先度0-3><ステータス0-3><分類0-4>(例:#support conasreq 112)"
    );
    assert_eq!(
        e.usage_in(crate::Locale::Ja),
        usage::SUPPORT_CONASREQ.get(crate::Locale::Ja)
    );
}

#[test]
fn display_is_canonical() {
    for (line, canonical) in [
        ("＃Ｔ  “VIPサポート”  hi", "#t \"VIPサポート\" hi"),
        ("#I  BOB@demo.example", "#i BOB@demo.example"),
        ("#E　９０", "#e 90"),
        ("#support searchreq #77", "#support searchreq 77"),
        ("#support associate #A-1", "#support associate A-1"),
        ("#Help CRM", "#help crm"),
        ("#support conasreq ０１２", "#support conasreq 012"),
        ("＃Ｃ", "#c"),
        ("#C\u{3000} thanks  ", "#c thanks"),
    ] {
        let command = cmd(line);
        assert_eq!(command.to_string(), canonical);
        assert_eq!(cmd(canonical), command);
    }
}
