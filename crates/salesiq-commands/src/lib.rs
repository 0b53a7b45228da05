//! The `#` commands an operator types into a visitor's chat window, read
//! without allocating, and the help texts that explain them.
//!
//! [`parse`] is the one entry point. It turns a line into an [`Input`]:
//! text for the visitor, a `y`/`n` reply, or a [`Command`] whose arguments
//! are typed and borrowed from the line. A malformed command is a
//! [`ParseError`] that says what is wrong, where, and carries the usage line
//! of the command, in English and Japanese.
//!
//! ```
//! use salesiq_commands::{Command, Input, Locale, TicketPriority, parse};
//!
//! match parse("#support conasreq 312")? {
//!     Input::Command(Command::SupportConvert { fields }) => {
//!         assert_eq!(fields.priority, TicketPriority::High);
//!     }
//!     other => panic!("{other:?}"),
//! }
//!
//! let err = parse("#p www.example.com").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "not a web address that can be pushed: start it with https://. \
//!      Usage: #p <URL starting with http:// or https://>"
//! );
//! assert!(err.display(Locale::Ja).to_string().contains("使い方"));
//! # Ok::<(), salesiq_commands::ParseError>(())
//! ```
//!
//! # Choices where the product description is silent
//!
//! * **Leading blanks** before `#` are ignored: mobile keyboards add them.
//! * **`##`** sends the visitor a message starting with `#`.
//! * **Full-width input** from Japanese input methods: `＃`, full-width
//!   letters in command words and keywords, full-width digits in `#e` and
//!   `conasreq`, and the ideographic space all work.
//! * **Department quotes**: any of `"`, `“ ”`, `＂` and `「 」` open and close
//!   a department name, since phones turn `"` into curly quotes; a name
//!   cannot itself hold a quote.
//! * **Canned answer keys** (`#c <key>`) must be typed in lower case, as
//!   they are stored: `#c Thanks` is refused with a message that says to
//!   type `t`, rather than folded, so that the key still borrows from the
//!   line. The command word itself folds like any other (`#C thanks`).
//! * **`y`/`n`** are replies only when they are the whole line; `yes` is text.
//! * **`searchreq`** tells an e-mail address, a ticket number (digits,
//!   optionally after `#`) and a name apart by their shape.
//! * **Free text** (notes, reasons, comments, queries) is trimmed at both
//!   ends and otherwise kept as typed, line breaks included.
//!
//! # Crate features
//!
//! * `serde` (off by default): derives `serde::Serialize` for [`Input`],
//!   [`Command`] and the argument types, as the `parse` example prints them.

mod args;
mod command;
mod error;
mod grammar;
mod help;
mod locale;
pub mod usage;

pub use args::{CANNED_KEY_MAX_LEN, CannedKey, Department, Email, TicketId, URL_MAX_LEN, Url};
pub use command::{
    Command, EndDelay, HelpTopic, Input, SearchQuery, TicketClassification, TicketFields,
    TicketPriority, TicketState, TicketStatus,
};
pub use error::{
    Argument, CannedKeyIssue, EmailIssue, ErrorKind, ParseError, TicketFieldsIssue, UrlIssue,
};
pub use grammar::parse;
pub use help::help;
pub use locale::{Locale, Localized};

#[cfg(feature = "serde")]
impl serde::Serialize for Input<'_> {
    /// `{"kind":"text","text":...}`, `{"kind":"yes"}`, `{"kind":"no"}`, or
    /// the command's own form, `{"kind":"transfer_operator",...}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        match self {
            Self::Text(text) => {
                let mut s = serializer.serialize_struct("Input", 2)?;
                s.serialize_field("kind", "text")?;
                s.serialize_field("text", text)?;
                s.end()
            }
            Self::Yes | Self::No => {
                let mut s = serializer.serialize_struct("Input", 1)?;
                s.serialize_field("kind", if *self == Self::Yes { "yes" } else { "no" })?;
                s.end()
            }
            Self::Command(command) => command.serialize(serializer),
        }
    }
}

/// The README's Rust examples, run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
