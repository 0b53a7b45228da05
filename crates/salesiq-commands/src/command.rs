//! What an operator's message means: the typed result of [`crate::parse`].

use std::fmt;

use crate::args::{CannedKey, Department, Email, TicketId, Url};

/// What an operator typed into a visitor's chat window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// Text for the visitor, exactly as typed, except that a leading `##`
    /// (or `＃＃`) is sent as a single `#`: that is how an operator sends
    /// the visitor a message starting with `#`.
    Text(&'a str),
    /// `y` (or `Y`, `ｙ`), with nothing else: accepts a chat request,
    /// transfer or invitation. Where nothing is pending, the session sends
    /// it to the visitor as text.
    Yes,
    /// `n` (or `N`, `ｎ`), with nothing else: declines, as above.
    No,
    /// A `#` command for the gateway; never shown to the visitor.
    Command(Command<'a>),
}

/// A `#` command, with its arguments typed and borrowed from the input.
///
/// `Display` writes the canonical text of the command, which parses back to
/// an equal value. Free-text arguments (notes, reasons, queries) are trimmed
/// at both ends when parsed; inside, they keep every character, line breaks
/// included.
///
/// ```
/// use salesiq_commands::{Command, Input, parse};
///
/// let Input::Command(cmd) = parse("＃T   \"VIPサポート\"  日本語で対応お願いします")? else {
///     unreachable!()
/// };
/// assert!(matches!(cmd, Command::TransferToDepartment { .. }));
/// assert_eq!(cmd.to_string(), "#t \"VIPサポート\" 日本語で対応お願いします");
/// assert_eq!(parse(&cmd.to_string())?, Input::Command(cmd));
/// # Ok::<(), salesiq_commands::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind"))]
pub enum Command<'a> {
    /// `#help [topic]`.
    #[cfg_attr(feature = "serde", serde(rename = "help"))]
    Help {
        /// The topic, or `None` for the list of topics.
        topic: Option<HelpTopic>,
    },
    /// `#t <email> [message]`: transfer the chat to an operator.
    #[cfg_attr(feature = "serde", serde(rename = "transfer_operator"))]
    TransferToOperator {
        /// The receiving operator's e-mail address.
        email: Email<'a>,
        /// A note for them.
        note: Option<&'a str>,
    },
    /// `#t "<department>" [note]`: transfer the chat to a department.
    #[cfg_attr(feature = "serde", serde(rename = "transfer_department"))]
    TransferToDepartment {
        /// The department's name.
        department: Department<'a>,
        /// A note for whoever accepts.
        note: Option<&'a str>,
    },
    /// `#i <email> [comment]`: invite an operator into the chat.
    #[cfg_attr(feature = "serde", serde(rename = "invite"))]
    Invite {
        /// The invited operator's e-mail address.
        email: Email<'a>,
        /// A comment for them.
        comment: Option<&'a str>,
    },
    /// `#info`: the visitor's details.
    #[cfg_attr(feature = "serde", serde(rename = "info"))]
    Info,
    /// `#b <reason>`: block the visitor's IP address.
    #[cfg_attr(feature = "serde", serde(rename = "block"))]
    Block {
        /// Why.
        reason: &'a str,
    },
    /// `#an <text>`: add a note to the visitor.
    #[cfg_attr(feature = "serde", serde(rename = "add_note"))]
    AddNote {
        /// The note.
        text: &'a str,
    },
    /// `#n`: the visitor's notes.
    #[cfg_attr(feature = "serde", serde(rename = "notes"))]
    Notes,
    /// `#h`: the visitor's latest chat history.
    #[cfg_attr(feature = "serde", serde(rename = "history"))]
    History,
    /// `#d`: the portal's departments.
    #[cfg_attr(feature = "serde", serde(rename = "departments"))]
    Departments,
    /// `#p <url>`: push a web page to the visitor.
    #[cfg_attr(feature = "serde", serde(rename = "push"))]
    Push {
        /// The page.
        url: Url<'a>,
    },
    /// `#c`: list the canned answers; `#c <key>`: send the one with that key.
    #[cfg_attr(feature = "serde", serde(rename = "canned"))]
    Canned {
        /// The answer to send, or `None` for the list.
        key: Option<CannedKey<'a>>,
    },
    /// `#m`: the chat's members and their status.
    #[cfg_attr(feature = "serde", serde(rename = "members"))]
    Members,
    /// `#e`: end the chat now.
    #[cfg_attr(feature = "serde", serde(rename = "end"))]
    End,
    /// `#e <seconds>`: end the chat after that long without visitor activity.
    #[cfg_attr(feature = "serde", serde(rename = "end_after"))]
    EndAfter {
        /// How long.
        seconds: EndDelay,
    },
    /// `#e cancel`: cancel a pending timed end.
    #[cfg_attr(feature = "serde", serde(rename = "end_cancel"))]
    EndCancel,
    /// `#crm info`: the visitor's CRM record.
    #[cfg_attr(feature = "serde", serde(rename = "crm_info"))]
    CrmInfo,
    /// `#support info`: the visitor's helpdesk contact.
    #[cfg_attr(feature = "serde", serde(rename = "support_info"))]
    SupportInfo,
    /// `#support ticketinfo`: the ticket linked to this chat.
    #[cfg_attr(feature = "serde", serde(rename = "support_ticketinfo"))]
    SupportTicketInfo,
    /// `#support recentreq`: the visitor's recent tickets.
    #[cfg_attr(feature = "serde", serde(rename = "support_recentreq"))]
    SupportRecentRequests,
    /// `#support conasreq <p><s><c>`: convert the chat into a ticket.
    #[cfg_attr(feature = "serde", serde(rename = "support_conasreq"))]
    SupportConvert {
        /// Priority, status and classification of the new ticket.
        #[cfg_attr(feature = "serde", serde(flatten))]
        fields: TicketFields,
    },
    /// `#support searchreq <query>`: search helpdesk tickets.
    #[cfg_attr(feature = "serde", serde(rename = "support_searchreq"))]
    SupportSearch {
        /// What to search for.
        #[cfg_attr(feature = "serde", serde(flatten))]
        query: SearchQuery<'a>,
    },
    /// `#support associate <ticket id>`: link the chat to a ticket.
    #[cfg_attr(feature = "serde", serde(rename = "support_associate"))]
    SupportAssociate {
        /// The ticket.
        ticket_id: TicketId<'a>,
    },
    /// `#support setreqstatus open|close`: reopen or close the linked ticket.
    #[cfg_attr(feature = "serde", serde(rename = "support_setreqstatus"))]
    SupportSetStatus {
        /// The new status.
        status: TicketState,
    },
}

impl Command<'_> {
    /// A stable snake-case name for the kind of command, the same as the
    /// `kind` field of its serde form: `transfer_operator`, `end_after`...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Help { .. } => "help",
            Self::TransferToOperator { .. } => "transfer_operator",
            Self::TransferToDepartment { .. } => "transfer_department",
            Self::Invite { .. } => "invite",
            Self::Info => "info",
            Self::Block { .. } => "block",
            Self::AddNote { .. } => "add_note",
            Self::Notes => "notes",
            Self::History => "history",
            Self::Departments => "departments",
            Self::Push { .. } => "push",
            Self::Canned { .. } => "canned",
            Self::Members => "members",
            Self::End => "end",
            Self::EndAfter { .. } => "end_after",
            Self::EndCancel => "end_cancel",
            Self::CrmInfo => "crm_info",
            Self::SupportInfo => "support_info",
            Self::SupportTicketInfo => "support_ticketinfo",
            Self::SupportRecentRequests => "support_recentreq",
            Self::SupportConvert { .. } => "support_conasreq",
            Self::SupportSearch { .. } => "support_searchreq",
            Self::SupportAssociate { .. } => "support_associate",
            Self::SupportSetStatus { .. } => "support_setreqstatus",
        }
    }
}

/// Writes ` text` if there is a text.
fn write_opt(f: &mut fmt::Formatter<'_>, text: Option<&str>) -> fmt::Result {
    match text {
        Some(text) => write!(f, " {text}"),
        None => Ok(()),
    }
}

impl fmt::Display for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Help { topic: None } => f.write_str("#help"),
            Self::Help { topic: Some(topic) } => write!(f, "#help {}", topic.as_str()),
            Self::TransferToOperator { email, note } => {
                write!(f, "#t {email}")?;
                write_opt(f, note)
            }
            Self::TransferToDepartment { department, note } => {
                write!(f, "#t \"{department}\"")?;
                write_opt(f, note)
            }
            Self::Invite { email, comment } => {
                write!(f, "#i {email}")?;
                write_opt(f, comment)
            }
            Self::Info => f.write_str("#info"),
            Self::Block { reason } => write!(f, "#b {reason}"),
            Self::AddNote { text } => write!(f, "#an {text}"),
            Self::Notes => f.write_str("#n"),
            Self::History => f.write_str("#h"),
            Self::Departments => f.write_str("#d"),
            Self::Push { url } => write!(f, "#p {url}"),
            Self::Canned { key: None } => f.write_str("#c"),
            Self::Canned { key: Some(key) } => write!(f, "#c {key}"),
            Self::Members => f.write_str("#m"),
            Self::End => f.write_str("#e"),
            Self::EndAfter { seconds } => write!(f, "#e {}", seconds.as_secs()),
            Self::EndCancel => f.write_str("#e cancel"),
            Self::CrmInfo => f.write_str("#crm info"),
            Self::SupportInfo => f.write_str("#support info"),
            Self::SupportTicketInfo => f.write_str("#support ticketinfo"),
            Self::SupportRecentRequests => f.write_str("#support recentreq"),
            Self::SupportConvert { fields } => write!(f, "#support conasreq {fields}"),
            Self::SupportSearch { query } => write!(f, "#support searchreq {query}"),
            Self::SupportAssociate { ticket_id } => write!(f, "#support associate {ticket_id}"),
            Self::SupportSetStatus { status } => {
                write!(f, "#support setreqstatus {}", status.as_str())
            }
        }
    }
}

/// A `#help` topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum HelpTopic {
    /// Every command.
    All,
    /// Transfer, invite and the other chat commands.
    Misc,
    /// The helpdesk commands.
    Support,
    /// The CRM commands.
    Crm,
}

impl HelpTopic {
    /// The word that names the topic after `#help`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Misc => "misc",
            Self::Support => "support",
            Self::Crm => "crm",
        }
    }
}

/// How long `#e <seconds>` waits for visitor activity before ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndDelay {
    /// 30 seconds.
    S30,
    /// 45 seconds.
    S45,
    /// 60 seconds.
    S60,
    /// 90 seconds.
    S90,
}

impl EndDelay {
    /// Every allowed delay, shortest first.
    pub const ALL: [Self; 4] = [Self::S30, Self::S45, Self::S60, Self::S90];

    /// The delay in seconds.
    pub fn as_secs(self) -> u64 {
        match self {
            Self::S30 => 30,
            Self::S45 => 45,
            Self::S60 => 60,
            Self::S90 => 90,
        }
    }

    /// The delay as a [`std::time::Duration`].
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.as_secs())
    }

    /// The delay of `secs` seconds, if it is one of the allowed ones.
    pub fn from_secs(secs: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_secs() == secs)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for EndDelay {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.as_secs())
    }
}

macro_rules! digit_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $digit:literal, $word:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize))]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* #[cfg_attr(feature = "serde", serde(rename = $word))] $variant,)*
        }

        impl $name {
            /// Every value, in digit order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The digit that stands for it in `conasreq`.
            pub fn digit(self) -> u8 {
                match self { $(Self::$variant => $digit,)* }
            }

            /// The value a digit stands for.
            pub fn from_digit(digit: u8) -> Option<Self> {
                match digit { $($digit => Some(Self::$variant),)* _ => None }
            }

            /// A lower-case, snake-case name for it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word,)* }
            }
        }
    };
}

digit_enum! {
    /// The priority of a ticket made with `conasreq`.
    TicketPriority {
        /// 0.
        None = 0, "none";
        /// 1.
        Low = 1, "low";
        /// 2.
        Medium = 2, "medium";
        /// 3.
        High = 3, "high";
    }
}

digit_enum! {
    /// The status of a ticket made with `conasreq`.
    TicketStatus {
        /// 0.
        Open = 0, "open";
        /// 1.
        OnHold = 1, "on_hold";
        /// 2.
        Escalated = 2, "escalated";
        /// 3.
        Closed = 3, "closed";
    }
}

digit_enum! {
    /// The classification of a ticket made with `conasreq`.
    TicketClassification {
        /// 0.
        None = 0, "none";
        /// 1.
        Question = 1, "question";
        /// 2.
        Problem = 2, "problem";
        /// 3.
        Feature = 3, "feature";
        /// 4.
        Others = 4, "others";
    }
}

/// The three digits of `#support conasreq`, e.g. `112`: low priority, on
/// hold, a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TicketFields {
    /// The first digit.
    pub priority: TicketPriority,
    /// The second digit.
    pub status: TicketStatus,
    /// The third digit.
    pub classification: TicketClassification,
}

impl fmt::Display for TicketFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.priority.digit(),
            self.status.digit(),
            self.classification.digit()
        )
    }
}

/// The status `#support setreqstatus` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum TicketState {
    /// Reopen the ticket.
    Open,
    /// Close the ticket.
    Close,
}

impl TicketState {
    /// The word that names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Close => "close",
        }
    }
}

/// What `#support searchreq` looks for, told apart by its shape: an e-mail
/// address, a ticket number (digits, optionally after `#`), or else a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "by", content = "query"))]
pub enum SearchQuery<'a> {
    /// A contact's e-mail address.
    #[cfg_attr(feature = "serde", serde(rename = "email"))]
    Email(Email<'a>),
    /// A ticket number, without any leading `#`.
    #[cfg_attr(feature = "serde", serde(rename = "ticket_number"))]
    TicketNumber(&'a str),
    /// A contact's name, or any other text.
    #[cfg_attr(feature = "serde", serde(rename = "name"))]
    Name(&'a str),
}

impl SearchQuery<'_> {
    /// The text to search for.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(email) => email.as_str(),
            Self::TicketNumber(text) | Self::Name(text) => text,
        }
    }
}

impl fmt::Display for SearchQuery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
