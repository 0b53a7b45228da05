//! The grammar: from an operator's line to an [`Input`].
//!
//! The small nom parsers below are generic over nom's error type and are run
//! with `()`, which costs nothing; [`parse`] turns their failures into a
//! [`ParseError`] with a span and the usage line, so callers never see nom.

use std::ops::Range;

use nom::bytes::complete::{take_till, take_till1, take_while};
use nom::character::complete::satisfy;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use crate::args::{self, Invalid, is_quote};
use crate::command::{
    Command, EndDelay, HelpTopic, Input, SearchQuery, TicketClassification, TicketFields,
    TicketPriority, TicketState, TicketStatus,
};
use crate::error::{Argument, ErrorKind, ParseError, TicketFieldsIssue};
use crate::locale::Localized;
use crate::usage;

/// The longest keyword (`setreqstatus`) fits with room to spare.
const KEYWORD_MAX: usize = 16;

/// Reads what an operator typed into a visitor's chat window.
///
/// * A line whose first non-blank character is `#` (or the full-width `＃`
///   of Japanese input methods) is a [`Command`]. Command words,
///   sub-commands and keyword arguments are case-insensitive and may be
///   typed in full-width letters and digits; any run of Unicode white space
///   (the ideographic space included) separates words.
/// * The key of `#c <key>` is not folded: it must be typed in lower case,
///   as it is stored (see [`crate::CannedKey`]).
/// * `##text` is the text `#text` for the visitor.
/// * `y` or `n` alone (any case, full-width too, blanks around ignored) is
///   [`Input::Yes`] or [`Input::No`].
/// * Anything else is [`Input::Text`], the whole line untouched.
///
/// Parsing never allocates, whether it succeeds or fails.
///
/// ```
/// use salesiq_commands::{Command, EndDelay, Input, parse};
///
/// assert_eq!(parse("hello, how can I help?")?, Input::Text("hello, how can I help?"));
/// assert_eq!(parse(" Y ")?, Input::Yes);
/// assert_eq!(parse("#E  45")?, Input::Command(Command::EndAfter { seconds: EndDelay::S45 }));
/// assert_eq!(parse("##1 in our ranking")?, Input::Text("#1 in our ranking"));
/// # Ok::<(), salesiq_commands::ParseError>(())
/// ```
pub fn parse(input: &str) -> Result<Input<'_>, ParseError> {
    let body = input.trim_start();
    if let Some(after) = strip_sigil(body) {
        if strip_sigil(after).is_some() {
            return Ok(Input::Text(after));
        }
        let cx = Cx { input };
        return cx.command(body, after).map(Input::Command);
    }
    Ok(match body.trim_end() {
        "y" | "Y" | "ｙ" | "Ｙ" => Input::Yes,
        "n" | "N" | "ｎ" | "Ｎ" => Input::No,
        _ => Input::Text(input),
    })
}

fn strip_sigil(text: &str) -> Option<&str> {
    text.strip_prefix('#').or_else(|| text.strip_prefix('＃'))
}

// --- nom parsers, generic over the error ----------------------------------

fn blanks<'a, E: nom::error::ParseError<&'a str>>(i: &'a str) -> IResult<&'a str, &'a str, E> {
    take_while(char::is_whitespace).parse(i)
}

/// One word: everything up to the next white space.
fn word<'a, E: nom::error::ParseError<&'a str>>(i: &'a str) -> IResult<&'a str, &'a str, E> {
    take_till1(char::is_whitespace).parse(i)
}

/// A department name between quotes; any of the quote characters of
/// [`is_quote`] may open or close it, so that `"`, `“…”`, `＂…＂` and
/// `「…」` all work.
fn quoted<'a, E: nom::error::ParseError<&'a str>>(i: &'a str) -> IResult<&'a str, &'a str, E> {
    delimited(satisfy(is_quote), take_till(is_quote), satisfy(is_quote)).parse(i)
}

/// The next word after blanks, and what follows it.
fn next_word(i: &str) -> Option<(&str, &str)> {
    preceded(blanks::<()>, word::<()>)
        .parse(i)
        .ok()
        .map(|(rest, word)| (word, rest))
}

/// Lower-cases ASCII and maps full-width ASCII (U+FF01 to U+FF5E) onto
/// ASCII, into `buf`. `None` for anything longer than a keyword or holding
/// other characters: such a word is no keyword.
fn fold<'b>(word: &str, buf: &'b mut [u8; KEYWORD_MAX]) -> Option<&'b [u8]> {
    let mut len = 0;
    for ch in word.chars() {
        let ascii = match ch {
            '\u{21}'..='\u{7e}' => ch,
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(ch as u32 - 0xfee0)?,
            _ => return None,
        };
        *buf.get_mut(len)? = (ascii as u8).to_ascii_lowercase();
        len += 1;
    }
    buf.get(..len)
}

/// The value of a digit, ASCII or full-width.
fn digit(ch: char) -> Option<u8> {
    match ch {
        '0'..='9' => Some(ch as u8 - b'0'),
        '０'..='９' => Some((ch as u32 - '０' as u32) as u8),
        _ => None,
    }
}

// --- commands ---------------------------------------------------------------

/// The line being parsed, to express spans as byte offsets into it.
struct Cx<'a> {
    input: &'a str,
}

/// A command or its error, while it is being read.
type Parsed<'a> = Result<Command<'a>, ParseError>;

impl<'a> Cx<'a> {
    /// Where `part`, a sub-slice of the input, starts.
    fn offset(&self, part: &str) -> usize {
        (part.as_ptr() as usize).saturating_sub(self.input.as_ptr() as usize)
    }

    fn span(&self, part: &str) -> Range<usize> {
        let start = self.offset(part);
        start..start + part.len()
    }

    fn error(&self, kind: ErrorKind, part: &str, usage: Localized) -> ParseError {
        ParseError::new(kind, self.span(part), usage)
    }

    /// An error from an argument check, whose span is relative to `arg`.
    fn invalid(&self, (kind, span): Invalid, arg: &str, usage: Localized) -> ParseError {
        let start = self.offset(arg);
        ParseError::new(kind, start + span.start..start + span.end, usage)
    }

    fn missing(&self, argument: Argument, rest: &str, usage: Localized) -> ParseError {
        self.error(ErrorKind::MissingArgument(argument), end_of(rest), usage)
    }

    /// Accepts `command` if nothing but blanks follows.
    fn alone(&self, rest: &str, command: Command<'a>, usage: Localized) -> Parsed<'a> {
        let extra = rest.trim();
        if extra.is_empty() {
            Ok(command)
        } else {
            Err(self.error(ErrorKind::UnexpectedArgument, extra, usage))
        }
    }

    /// `body` starts with the sigil; `after` is what follows it.
    fn command(&self, body: &'a str, after: &'a str) -> Parsed<'a> {
        let Ok((rest, name)) = word::<()>(after) else {
            let sigil = body.get(..body.len() - after.len()).unwrap_or_default();
            return Err(self.error(ErrorKind::EmptyCommand, sigil, usage::HELP_INDEX));
        };
        let mut buf = [0; KEYWORD_MAX];
        match fold(name, &mut buf).unwrap_or_default() {
            b"help" => self.help(rest),
            b"t" => self.transfer(rest),
            b"i" => self.invite(rest),
            b"info" => self.alone(rest, Command::Info, usage::INFO),
            b"b" => self
                .text(rest, Argument::Reason, usage::BLOCK)
                .map(|reason| Command::Block { reason }),
            b"an" => self
                .text(rest, Argument::NoteText, usage::ADD_NOTE)
                .map(|text| Command::AddNote { text }),
            b"n" => self.alone(rest, Command::Notes, usage::NOTES),
            b"h" => self.alone(rest, Command::History, usage::HISTORY),
            b"d" => self.alone(rest, Command::Departments, usage::DEPARTMENTS),
            b"p" => self.push(rest),
            b"c" => self.canned(rest),
            b"m" => self.alone(rest, Command::Members, usage::MEMBERS),
            b"e" => self.end(rest),
            b"crm" => self.crm(rest),
            b"support" => self.support(rest),
            _ => Err(self.error(ErrorKind::UnknownCommand, name, usage::HELP_INDEX)),
        }
    }

    /// A required free text: the rest of the line, trimmed.
    fn text(
        &self,
        rest: &'a str,
        argument: Argument,
        usage: Localized,
    ) -> Result<&'a str, ParseError> {
        optional_text(rest).ok_or_else(|| self.missing(argument, rest, usage))
    }

    /// A required single word, with nothing after it.
    fn single(
        &self,
        rest: &'a str,
        argument: Argument,
        usage: Localized,
    ) -> Result<&'a str, ParseError> {
        let (word, tail) = next_word(rest).ok_or_else(|| self.missing(argument, rest, usage))?;
        match optional_text(tail) {
            None => Ok(word),
            Some(extra) => Err(self.error(ErrorKind::UnexpectedArgument, extra, usage)),
        }
    }

    fn help(&self, rest: &'a str) -> Parsed<'a> {
        let Some((word, tail)) = next_word(rest) else {
            return Ok(Command::Help { topic: None });
        };
        let mut buf = [0; KEYWORD_MAX];
        let topic = match fold(word, &mut buf).unwrap_or_default() {
            b"all" => HelpTopic::All,
            b"misc" => HelpTopic::Misc,
            b"support" => HelpTopic::Support,
            b"crm" => HelpTopic::Crm,
            _ => return Err(self.error(ErrorKind::UnknownHelpTopic, word, usage::HELP)),
        };
        self.alone(tail, Command::Help { topic: Some(topic) }, usage::HELP)
    }

    fn transfer(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::TRANSFER;
        let arg = rest.trim_start();
        if arg.is_empty() {
            return Err(self.missing(Argument::EmailOrDepartment, rest, usage));
        }
        if arg.starts_with(is_quote) {
            let Ok((tail, name)) = quoted::<()>(arg) else {
                return Err(self.error(ErrorKind::UnterminatedQuote, arg, usage));
            };
            let department = args::department(name).map_err(|e| self.invalid(e, name, usage))?;
            if !tail.is_empty() && !tail.starts_with(char::is_whitespace) {
                let first = tail.chars().next().map_or(0, char::len_utf8);
                let glued = tail.get(..first).unwrap_or_default();
                return Err(self.error(ErrorKind::NoSpaceAfterQuote, glued, usage));
            }
            return Ok(Command::TransferToDepartment {
                department,
                note: optional_text(tail),
            });
        }
        let (word, tail) =
            next_word(arg).ok_or_else(|| self.missing(Argument::EmailOrDepartment, rest, usage))?;
        let email = args::email(word).map_err(|e| self.invalid(e, word, usage))?;
        Ok(Command::TransferToOperator {
            email,
            note: optional_text(tail),
        })
    }

    fn invite(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::INVITE;
        let (word, tail) =
            next_word(rest).ok_or_else(|| self.missing(Argument::Email, rest, usage))?;
        let email = args::email(word).map_err(|e| self.invalid(e, word, usage))?;
        Ok(Command::Invite {
            email,
            comment: optional_text(tail),
        })
    }

    fn push(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::PUSH;
        let word = self.single(rest, Argument::Url, usage)?;
        let url = args::url(word).map_err(|e| self.invalid(e, word, usage))?;
        Ok(Command::Push { url })
    }

    /// `#c` or `#c <key>`, and nothing after the key.
    fn canned(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::CANNED;
        let Some((word, tail)) = next_word(rest) else {
            return Ok(Command::Canned { key: None });
        };
        let key = args::canned_key(word).map_err(|e| self.invalid(e, word, usage))?;
        self.alone(tail, Command::Canned { key: Some(key) }, usage)
    }

    fn end(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::END;
        let Some((word, tail)) = next_word(rest) else {
            return Ok(Command::End);
        };
        let mut buf = [0; KEYWORD_MAX];
        let command = if fold(word, &mut buf) == Some(b"cancel") {
            Command::EndCancel
        } else {
            let seconds = word
                .chars()
                .try_fold(0u64, |n, ch| {
                    Some(n.checked_mul(10)? + u64::from(digit(ch)?))
                })
                .and_then(EndDelay::from_secs)
                .ok_or_else(|| self.error(ErrorKind::InvalidEndDelay, word, usage))?;
            Command::EndAfter { seconds }
        };
        self.alone(tail, command, usage)
    }

    fn crm(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::CRM;
        let Some((word, tail)) = next_word(rest) else {
            return Err(self.error(ErrorKind::MissingSubcommand, end_of(rest), usage));
        };
        let mut buf = [0; KEYWORD_MAX];
        match fold(word, &mut buf).unwrap_or_default() {
            b"info" => self.alone(tail, Command::CrmInfo, usage),
            _ => Err(self.error(ErrorKind::UnknownSubcommand, word, usage)),
        }
    }

    fn support(&self, rest: &'a str) -> Parsed<'a> {
        let Some((word, tail)) = next_word(rest) else {
            return Err(self.error(ErrorKind::MissingSubcommand, end_of(rest), usage::SUPPORT));
        };
        let mut buf = [0; KEYWORD_MAX];
        match fold(word, &mut buf).unwrap_or_default() {
            b"info" => self.alone(tail, Command::SupportInfo, usage::SUPPORT_INFO),
            b"ticketinfo" => {
                self.alone(tail, Command::SupportTicketInfo, usage::SUPPORT_TICKETINFO)
            }
            b"recentreq" => self.alone(
                tail,
                Command::SupportRecentRequests,
                usage::SUPPORT_RECENTREQ,
            ),
            b"conasreq" => self.convert(tail),
            b"searchreq" => self.search(tail),
            b"associate" => self.associate(tail),
            b"setreqstatus" => self.set_status(tail),
            _ => Err(self.error(ErrorKind::UnknownSubcommand, word, usage::SUPPORT)),
        }
    }

    fn convert(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::SUPPORT_CONASREQ;
        let word = self.single(rest, Argument::TicketFields, usage)?;
        let bad =
            |issue, part: &str| self.error(ErrorKind::InvalidTicketFields(issue), part, usage);
        let mut digits = [(0u8, ""); 3];
        let mut count = 0;
        for (i, ch) in word.char_indices() {
            let part = word.get(i..i + ch.len_utf8()).unwrap_or_default();
            let value = digit(ch).ok_or_else(|| bad(TicketFieldsIssue::NotADigit(ch), part))?;
            if let Some(slot) = digits.get_mut(count) {
                *slot = (value, part);
            }
            count += 1;
        }
        if count != 3 {
            return Err(bad(TicketFieldsIssue::WrongLength, word));
        }
        let [(p, p_at), (s, s_at), (c, c_at)] = digits;
        let fields = TicketFields {
            priority: TicketPriority::from_digit(p)
                .ok_or_else(|| bad(TicketFieldsIssue::Priority(p), p_at))?,
            status: TicketStatus::from_digit(s)
                .ok_or_else(|| bad(TicketFieldsIssue::Status(s), s_at))?,
            classification: TicketClassification::from_digit(c)
                .ok_or_else(|| bad(TicketFieldsIssue::Classification(c), c_at))?,
        };
        Ok(Command::SupportConvert { fields })
    }

    fn search(&self, rest: &'a str) -> Parsed<'a> {
        let text = self.text(rest, Argument::Query, usage::SUPPORT_SEARCHREQ)?;
        let number = text.strip_prefix('#').unwrap_or(text);
        let query = if let Ok(email) = args::email(text) {
            SearchQuery::Email(email)
        } else if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
            SearchQuery::TicketNumber(number)
        } else {
            SearchQuery::Name(text)
        };
        Ok(Command::SupportSearch { query })
    }

    fn associate(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::SUPPORT_ASSOCIATE;
        let word = self.single(rest, Argument::TicketId, usage)?;
        let ticket_id = args::ticket_id(word).map_err(|e| self.invalid(e, word, usage))?;
        Ok(Command::SupportAssociate { ticket_id })
    }

    fn set_status(&self, rest: &'a str) -> Parsed<'a> {
        let usage = usage::SUPPORT_SETREQSTATUS;
        let word = self.single(rest, Argument::TicketStatus, usage)?;
        let mut buf = [0; KEYWORD_MAX];
        let status = match fold(word, &mut buf).unwrap_or_default() {
            b"open" => TicketState::Open,
            b"close" => TicketState::Close,
            _ => return Err(self.error(ErrorKind::InvalidTicketStatus, word, usage)),
        };
        Ok(Command::SupportSetStatus { status })
    }
}

/// The empty slice at the end of `rest`, where a missing argument goes.
fn end_of(rest: &str) -> &str {
    rest.get(rest.len()..).unwrap_or_default()
}

/// The rest of the line, trimmed, if anything is left.
fn optional_text(rest: &str) -> Option<&str> {
    Some(rest.trim()).filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests;
