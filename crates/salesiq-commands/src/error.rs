//! The one error type of this crate.

use std::fmt;
use std::ops::Range;

use crate::locale::{Locale, Localized};

/// Why a `#` command was refused: what is wrong, where, and the usage line
/// of the command the operator was typing.
///
/// It holds no heap data, so refusing a command allocates nothing. Its
/// `Display` is the English sentence followed by the usage line; use
/// [`ParseError::display`] for another language.
///
/// ```
/// use salesiq_commands::{Locale, parse};
///
/// let err = parse("#e 20").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "the timer must be 30, 45, 60 or 90 seconds. Usage: #e  or  #e 30|45|60|90  or  #e cancel"
/// );
/// assert_eq!(err.found("#e 20"), "20");
/// assert!(err.display(Locale::Ja).to_string().starts_with("タイマーは"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}. Usage: {usage}")]
pub struct ParseError {
    kind: ErrorKind,
    span: Range<usize>,
    usage: Localized,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, span: Range<usize>, usage: Localized) -> Self {
        Self { kind, span, usage }
    }

    /// What is wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte range of the input the problem is about.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The part of `input` (the text that was parsed) the problem is about.
    pub fn found<'a>(&self, input: &'a str) -> &'a str {
        input.get(self.span()).unwrap_or_default()
    }

    /// The usage line of the command, in English.
    pub fn usage(&self) -> &'static str {
        self.usage.get(Locale::En)
    }

    /// The usage line of the command, in `locale`.
    pub fn usage_in(&self, locale: Locale) -> &'static str {
        self.usage.get(locale)
    }

    /// The message and the usage line in `locale`, ready to send back.
    pub fn display(&self, locale: Locale) -> impl fmt::Display + '_ {
        Localize(self, locale)
    }

    /// What is wrong, in `locale`, without the usage line.
    pub fn message(&self, locale: Locale) -> impl fmt::Display + '_ {
        Message(self.kind, locale)
    }
}

struct Message(ErrorKind, Locale);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write(f, self.1)
    }
}

struct Localize<'e>(&'e ParseError, Locale);

impl fmt::Display for Localize<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Localize(err, locale) = *self;
        Message(err.kind, locale).fmt(f)?;
        match locale {
            Locale::Ja => write!(f, "。使い方: {}", err.usage.get(locale)),
            _ => write!(f, ". Usage: {}", err.usage.get(locale)),
        }
    }
}

/// What is wrong with a command. `Display` writes the English sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A lone `#` with no command word.
    EmptyCommand,
    /// A command word this gateway does not know.
    UnknownCommand,
    /// `#help` followed by something other than a topic.
    UnknownHelpTopic,
    /// `#crm` or `#support` with nothing after it.
    MissingSubcommand,
    /// `#crm` or `#support` followed by an unknown word.
    UnknownSubcommand,
    /// A required argument is missing.
    MissingArgument(Argument),
    /// Text after a command that takes no more.
    UnexpectedArgument,
    /// The e-mail address is not one.
    InvalidEmail(EmailIssue),
    /// A department name whose closing quote is missing.
    UnterminatedQuote,
    /// `""`: a department name with nothing in it.
    EmptyDepartment,
    /// A department name holding a quote or control character.
    InvalidDepartmentChar(char),
    /// Text glued to the closing quote of a department name.
    NoSpaceAfterQuote,
    /// The push URL is not an absolute http or https URL.
    InvalidUrl(UrlIssue),
    /// The end timer is not 30, 45, 60 or 90 seconds.
    InvalidEndDelay,
    /// The `conasreq` digits are wrong.
    InvalidTicketFields(TicketFieldsIssue),
    /// A ticket id holding a character other than letters, digits, `-`, `_`.
    InvalidTicketId(char),
    /// A ticket status other than `open` or `close`.
    InvalidTicketStatus,
    /// The key after `#c` is not one.
    InvalidCannedKey(CannedKeyIssue),
}

/// Which argument is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Argument {
    /// An e-mail address (`#i`).
    Email,
    /// An e-mail address or a quoted department name (`#t`).
    EmailOrDepartment,
    /// The reason for blocking (`#b`).
    Reason,
    /// The text of a note (`#an`).
    NoteText,
    /// The URL to push (`#p`).
    Url,
    /// The three `conasreq` digits.
    TicketFields,
    /// What to search for (`searchreq`).
    Query,
    /// A ticket id (`associate`).
    TicketId,
    /// `open` or `close` (`setreqstatus`).
    TicketStatus,
}

/// Which e-mail rule is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailIssue {
    /// No `@`.
    MissingAt,
    /// More than one `@`.
    MultipleAt,
    /// Nothing before the `@`.
    EmptyLocalPart,
    /// More than 64 bytes before the `@`.
    LocalPartTooLong,
    /// A character not allowed before the `@`.
    InvalidChar(char),
    /// A dot at the start or end of the local part, or two in a row.
    MisplacedDot,
    /// The domain is not a host name with at least one dot.
    InvalidDomain,
    /// More than 254 bytes.
    TooLong,
}

/// Which URL rule is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlIssue {
    /// No scheme: `www.example.com` rather than `https://www.example.com`.
    NotAbsolute,
    /// A scheme other than http or https.
    UnsupportedScheme,
    /// Nothing where the host should be.
    MissingHost,
    /// A host that is not a host name or IP literal.
    InvalidHost,
    /// `user:password@` before the host, a phishing trick.
    UserInfo,
    /// A port that is not a number from 1 to 65535.
    InvalidPort,
    /// A control character.
    InvalidChar,
    /// More than [`crate::URL_MAX_LEN`] bytes.
    TooLong,
}

/// Which `conasreq` rule is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TicketFieldsIssue {
    /// Not exactly three characters.
    WrongLength,
    /// A character that is not a digit.
    NotADigit(char),
    /// A priority above 3.
    Priority(u8),
    /// A status above 3.
    Status(u8),
    /// A classification above 4.
    Classification(u8),
}

/// Which canned answer key rule is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CannedKeyIssue {
    /// No character at all.
    Empty,
    /// More than [`crate::CANNED_KEY_MAX_LEN`] characters.
    TooLong,
    /// An upper-case ASCII letter: keys are lower case.
    Uppercase(char),
    /// A character other than `a-z`, `0-9`, `_` and `-`.
    InvalidChar(char),
}

impl ErrorKind {
    fn write(&self, f: &mut fmt::Formatter<'_>, locale: Locale) -> fmt::Result {
        let ja = locale == Locale::Ja;
        let text = |en: &'static str, ja_text: &'static str| if ja { ja_text } else { en };
        match *self {
            Self::EmptyCommand => f.write_str(text(
                "a command word must follow '#'",
                "「#」の後にコマンドを入力してください",
            )),
            Self::UnknownCommand => f.write_str(text("unknown command", "不明なコマンドです")),
            Self::UnknownHelpTopic => {
                f.write_str(text("unknown help topic", "不明なヘルプの項目です"))
            }
            Self::MissingSubcommand => f.write_str(text(
                "this command needs a sub-command",
                "サブコマンドを入力してください",
            )),
            Self::UnknownSubcommand => {
                f.write_str(text("unknown sub-command", "不明なサブコマンドです"))
            }
            Self::MissingArgument(argument) => argument.write_missing(f, ja),
            Self::UnexpectedArgument => f.write_str(text(
                "this command takes no further text",
                "このコマンドの後に余分な文字があります",
            )),
            Self::InvalidEmail(issue) => {
                f.write_str(text(
                    "not a valid e-mail address: ",
                    "メールアドレスが正しくありません: ",
                ))?;
                issue.write(f, ja)
            }
            Self::UnterminatedQuote => f.write_str(text(
                "the department name has no closing quote",
                "部門名の閉じる引用符(\")がありません",
            )),
            Self::EmptyDepartment => {
                f.write_str(text("the department name is empty", "部門名が空です"))
            }
            Self::InvalidDepartmentChar(ch) => {
                if ja {
                    write!(f, "部門名に文字 {ch:?} は使えません")
                } else {
                    write!(f, "character {ch:?} is not allowed in a department name")
                }
            }
            Self::NoSpaceAfterQuote => f.write_str(text(
                "put a space between the department name and the note",
                "部門名とメモの間にスペースを入れてください",
            )),
            Self::InvalidUrl(issue) => {
                f.write_str(text(
                    "not a web address that can be pushed: ",
                    "送信できるURLではありません: ",
                ))?;
                issue.write(f, ja)
            }
            Self::InvalidEndDelay => f.write_str(text(
                "the timer must be 30, 45, 60 or 90 seconds",
                "タイマーは30、45、60、90秒のいずれかです",
            )),
            Self::InvalidTicketFields(issue) => issue.write(f, ja),
            Self::InvalidTicketId(ch) => {
                if ja {
                    write!(f, "問い合わせIDに文字 {ch:?} は使えません")
                } else {
                    write!(f, "character {ch:?} is not allowed in a ticket id")
                }
            }
            Self::InvalidTicketStatus => f.write_str(text(
                "the status must be open or close",
                "ステータスは open または close です",
            )),
            Self::InvalidCannedKey(issue) => issue.write(f, ja),
        }
    }
}

impl Argument {
    fn write_missing(self, f: &mut fmt::Formatter<'_>, ja: bool) -> fmt::Result {
        let (en, ja_text) = match self {
            Self::Email => (
                "the operator's e-mail address is missing",
                "担当者のメールアドレスがありません",
            ),
            Self::EmailOrDepartment => (
                "give an operator's e-mail address or a department name in quotes",
                "担当者のメールアドレスか、引用符で囲んだ部門名を入力してください",
            ),
            Self::Reason => (
                "give a reason for blocking",
                "ブロックする理由を入力してください",
            ),
            Self::NoteText => ("the note is empty", "メモが空です"),
            Self::Url => ("the URL to push is missing", "送信するURLがありません"),
            Self::TicketFields => (
                "give priority, status and classification as three digits",
                "優先度、ステータス、分類を3桁の数字で入力してください",
            ),
            Self::Query => (
                "give an e-mail address, ticket id or name to search for",
                "検索するメールアドレス、問い合わせID、または名前を入力してください",
            ),
            Self::TicketId => ("the ticket id is missing", "問い合わせIDがありません"),
            Self::TicketStatus => ("say open or close", "open または close を入力してください"),
        };
        f.write_str(if ja { ja_text } else { en })
    }
}

impl EmailIssue {
    fn write(self, f: &mut fmt::Formatter<'_>, ja: bool) -> fmt::Result {
        let (en, ja_text) = match self {
            Self::InvalidChar(ch) if ja => return write!(f, "文字 {ch:?} は使えません"),
            Self::InvalidChar(ch) => return write!(f, "character {ch:?} is not allowed"),
            Self::MissingAt => ("it has no '@'", "「@」がありません"),
            Self::MultipleAt => ("it has more than one '@'", "「@」が複数あります"),
            Self::EmptyLocalPart => ("nothing before the '@'", "「@」の前が空です"),
            Self::LocalPartTooLong => (
                "more than 64 characters before the '@'",
                "「@」の前が64文字を超えています",
            ),
            Self::MisplacedDot => (
                "a dot at the start or end, or two in a row",
                "ドットの位置が正しくありません",
            ),
            Self::InvalidDomain => (
                "the part after '@' is not a domain",
                "「@」の後がドメインではありません",
            ),
            Self::TooLong => ("longer than 254 characters", "254文字を超えています"),
        };
        f.write_str(if ja { ja_text } else { en })
    }
}

impl UrlIssue {
    fn write(self, f: &mut fmt::Formatter<'_>, ja: bool) -> fmt::Result {
        let (en, ja_text) = match self {
            Self::NotAbsolute => ("start it with https://", "https:// から入力してください"),
            Self::UnsupportedScheme => (
                "only http and https can be pushed",
                "http と https のみ送信できます",
            ),
            Self::MissingHost => ("the host name is missing", "ホスト名がありません"),
            Self::InvalidHost => ("the host name is not valid", "ホスト名が正しくありません"),
            Self::UserInfo => (
                "a user name or password before the host is not allowed",
                "ホストの前のユーザー名やパスワードは使えません",
            ),
            Self::InvalidPort => (
                "the port must be a number from 1 to 65535",
                "ポートは1から65535の数字です",
            ),
            Self::InvalidChar => ("it holds a control character", "制御文字が含まれています"),
            Self::TooLong => (
                "it is longer than 2048 characters",
                "2048文字を超えています",
            ),
        };
        f.write_str(if ja { ja_text } else { en })
    }
}

impl TicketFieldsIssue {
    fn write(self, f: &mut fmt::Formatter<'_>, ja: bool) -> fmt::Result {
        match (self, ja) {
            (Self::WrongLength, false) => f.write_str("give exactly three digits, e.g. 112"),
            (Self::WrongLength, true) => f.write_str("3桁の数字を入力してください(例:112)"),
            (Self::NotADigit(ch), false) => write!(f, "{ch:?} is not a digit"),
            (Self::NotADigit(ch), true) => write!(f, "{ch:?} は数字ではありません"),
            (Self::Priority(n), false) => write!(f, "priority {n} is not 0 (none) to 3 (high)"),
            (Self::Priority(n), true) => write!(f, "優先度 {n} は0(なし)から3(高)の範囲外です"),
            (Self::Status(n), false) => write!(f, "status {n} is not 0 (open) to 3 (closed)"),
            (Self::Status(n), true) => {
                write!(f, "ステータス {n} は0(未完了)から3(完了)の範囲外です")
            }
            (Self::Classification(n), false) => {
                write!(f, "classification {n} is not 0 (none) to 4 (others)")
            }
            (Self::Classification(n), true) => {
                write!(f, "分類 {n} は0(なし)から4(その他)の範囲外です")
            }
        }
    }
}

impl CannedKeyIssue {
    /// Says what is wrong, then what a key may contain.
    fn write(self, f: &mut fmt::Formatter<'_>, ja: bool) -> fmt::Result {
        match (self, ja) {
            (Self::Empty, false) => f.write_str("the canned answer key is empty"),
            (Self::Empty, true) => f.write_str("定型文のキーが空です"),
            (Self::TooLong, false) => f.write_str("the canned answer key is too long"),
            (Self::TooLong, true) => f.write_str("定型文のキーが長すぎます"),
            (Self::Uppercase(ch), false) => write!(
                f,
                "canned answer keys are lower case: type {:?}, not {ch:?}",
                ch.to_ascii_lowercase()
            ),
            (Self::Uppercase(ch), true) => write!(
                f,
                "定型文のキーは小文字です。{ch:?} ではなく {:?} と入力してください",
                ch.to_ascii_lowercase()
            ),
            (Self::InvalidChar(ch), false) => {
                write!(f, "character {ch:?} is not allowed in a canned answer key")
            }
            (Self::InvalidChar(ch), true) => write!(f, "定型文のキーに文字 {ch:?} は使えません"),
        }?;
        let max = crate::CANNED_KEY_MAX_LEN;
        if ja {
            write!(
                f,
                "(キーは1〜{max}文字の半角英小文字 a-z、数字 0-9、_、- です)"
            )
        } else {
            write!(f, "; a key is 1 to {max} characters of a-z, 0-9, _ and -")
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, Locale::En)
    }
}
