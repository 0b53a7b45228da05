//! Properties of the grammar over generated input.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use proptest::prelude::*;
use salesiq_commands::{
    CannedKey, Command, Department, Email, EndDelay, HelpTopic, Input, SearchQuery,
    TicketClassification, TicketFields, TicketId, TicketPriority, TicketState, TicketStatus, Url,
    parse,
};

/// A command's parts, owned, so that a strategy can produce them; `build`
/// borrows a [`Command`] from it.
#[derive(Debug, Clone)]
enum Spec {
    Help(Option<HelpTopic>),
    ToOperator(String, Option<String>),
    ToDepartment(String, Option<String>),
    Invite(String, Option<String>),
    Block(String),
    AddNote(String),
    Push(String),
    EndAfter(EndDelay),
    Convert(u8, u8, u8),
    SearchEmail(String),
    SearchNumber(String),
    SearchName(String),
    Associate(String),
    SetStatus(TicketState),
    Canned(String),
    Plain(usize),
}

const PLAIN: [Command<'static>; 13] = [
    Command::Info,
    Command::Notes,
    Command::History,
    Command::Departments,
    Command::Members,
    Command::End,
    Command::EndCancel,
    Command::CrmInfo,
    Command::SupportInfo,
    Command::SupportTicketInfo,
    Command::SupportRecentRequests,
    Command::Help { topic: None },
    Command::Canned { key: None },
];

fn email_of(text: &str) -> Email<'_> {
    Email::parse(text).unwrap()
}

fn build(spec: &Spec) -> Command<'_> {
    match spec {
        Spec::Help(topic) => Command::Help { topic: *topic },
        Spec::ToOperator(e, note) => Command::TransferToOperator {
            email: email_of(e),
            note: note.as_deref(),
        },
        Spec::ToDepartment(d, note) => Command::TransferToDepartment {
            department: Department::parse(d).unwrap(),
            note: note.as_deref(),
        },
        Spec::Invite(e, comment) => Command::Invite {
            email: email_of(e),
            comment: comment.as_deref(),
        },
        Spec::Block(reason) => Command::Block { reason },
        Spec::AddNote(text) => Command::AddNote { text },
        Spec::Push(url) => Command::Push {
            url: Url::parse(url).unwrap(),
        },
        Spec::EndAfter(seconds) => Command::EndAfter { seconds: *seconds },
        Spec::Convert(p, s, c) => Command::SupportConvert {
            fields: TicketFields {
                priority: TicketPriority::from_digit(*p).unwrap(),
                status: TicketStatus::from_digit(*s).unwrap(),
                classification: TicketClassification::from_digit(*c).unwrap(),
            },
        },
        Spec::SearchEmail(e) => Command::SupportSearch {
            query: SearchQuery::Email(email_of(e)),
        },
        Spec::SearchNumber(n) => Command::SupportSearch {
            query: SearchQuery::TicketNumber(n),
        },
        Spec::SearchName(n) => Command::SupportSearch {
            query: SearchQuery::Name(n),
        },
        Spec::Associate(id) => Command::SupportAssociate {
            ticket_id: TicketId::parse(id).unwrap(),
        },
        Spec::SetStatus(status) => Command::SupportSetStatus { status: *status },
        Spec::Canned(key) => Command::Canned {
            key: Some(CannedKey::parse(key).unwrap()),
        },
        Spec::Plain(i) => PLAIN[*i],
    }
}

fn email() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+_-]{1,10}(\\.[a-z0-9]{1,5})?@[a-z0-9]{1,10}(-[a-z0-9]{1,4})?\\.[a-z]{2,6}"
}

/// Free text as the parser keeps it: trimmed, not empty, any characters.
fn text() -> impl Strategy<Value = String> {
    "\\PC[\\PC\n\t]{0,30}"
        .prop_map(|s| s.trim().to_owned())
        .prop_filter("blank", |s| !s.is_empty())
}

fn department() -> impl Strategy<Value = String> {
    "[\\p{L}\\p{N} &/._-]{1,24}"
        .prop_map(|s| s.trim().to_owned())
        .prop_filter("blank", |s| !s.is_empty())
}

fn spec() -> impl Strategy<Value = Spec> {
    let topic = prop_oneof![
        Just(None),
        Just(Some(HelpTopic::All)),
        Just(Some(HelpTopic::Misc)),
        Just(Some(HelpTopic::Support)),
        Just(Some(HelpTopic::Crm)),
    ];
    prop_oneof![
        topic.prop_map(Spec::Help),
        (email(), proptest::option::of(text())).prop_map(|(e, n)| Spec::ToOperator(e, n)),
        (department(), proptest::option::of(text())).prop_map(|(d, n)| Spec::ToDepartment(d, n)),
        (email(), proptest::option::of(text())).prop_map(|(e, n)| Spec::Invite(e, n)),
        text().prop_map(Spec::Block),
        text().prop_map(Spec::AddNote),
        "https?://[a-z0-9]{1,12}\\.(com|jp|example)(:[1-9][0-9]{0,3})?(/[A-Za-z0-9_.~%/?=&#-]{0,30})?"
            .prop_map(Spec::Push),
        proptest::sample::select(EndDelay::ALL.to_vec()).prop_map(Spec::EndAfter),
        (0..=3u8, 0..=3u8, 0..=4u8).prop_map(|(p, s, c)| Spec::Convert(p, s, c)),
        email().prop_map(Spec::SearchEmail),
        "[0-9]{1,12}".prop_map(Spec::SearchNumber),
        "[^@#\\p{C}]{0,8}\\p{L}[^@\\p{C}]{0,12}"
            .prop_map(|s| s.trim().to_owned())
            .prop_map(Spec::SearchName),
        "[A-Za-z0-9_-]{1,64}".prop_map(Spec::Associate),
        prop_oneof![Just(TicketState::Open), Just(TicketState::Close)].prop_map(Spec::SetStatus),
        "[a-z0-9_-]{1,30}".prop_map(Spec::Canned),
        (0..PLAIN.len()).prop_map(Spec::Plain),
    ]
}

/// The same line as a hurried operator or a Japanese input method might
/// type it: full-width sigil, shouted or full-width command word, runs of
/// blanks between the words.
fn respell(
    canonical: &str,
    full_width_sigil: bool,
    upper: bool,
    full_width_word: bool,
    blank: &str,
) -> String {
    let body = canonical.strip_prefix('#').unwrap();
    let (word, rest) = body
        .split_once(' ')
        .map_or((body, None), |(w, r)| (w, Some(r)));
    let word: String = if full_width_word {
        word.chars()
            .map(|c| char::from_u32(c as u32 + 0xfee0).unwrap())
            .collect()
    } else if upper {
        word.to_uppercase()
    } else {
        word.to_owned()
    };
    let sigil = if full_width_sigil { "＃" } else { "#" };
    match rest {
        Some(rest) => format!("{blank}{sigil}{word}{blank}{rest}"),
        None => format!("{sigil}{word}{blank}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn display_then_parse_round_trips(spec in spec()) {
        let command = build(&spec);
        let line = command.to_string();
        prop_assert_eq!(parse(&line), Ok(Input::Command(command)), "{}", line);
    }

    #[test]
    fn other_spellings_parse_to_the_same_command(
        spec in spec(),
        full_width_sigil: bool,
        upper: bool,
        full_width_word: bool,
        blank in "[ \u{3000}\t]{1,4}",
    ) {
        let command = build(&spec);
        let line = respell(&command.to_string(), full_width_sigil, upper, full_width_word, &blank);
        prop_assert_eq!(parse(&line), Ok(Input::Command(command)), "{}", line);
    }

    #[test]
    fn never_panics_and_spans_point_into_the_input(
        line in prop_oneof![
            any::<String>(),
            "[ #＃]{0,2}(help|t|i|info|b|an|n|h|d|p|c|m|e|crm|support)[ \u{3000}]{0,2}\\PC{0,40}",
            "#[cC] [a-zA-Z0-9_!ｔ-]{0,34}( [a-z]{0,3})?",
            "#support (info|ticketinfo|recentreq|conasreq|searchreq|associate|setreqstatus) [0-9０-９a-z@.#\" ]{0,12}",
            "#t [\"“”「」＂]{0,2}[^\"]{0,10}[\"“”「」＂]{0,2}.{0,5}",
        ],
    ) {
        match parse(&line) {
            Ok(Input::Text(text)) => prop_assert!(line.ends_with(text)),
            Ok(Input::Command(command)) => {
                // Whatever parses displays to a line that parses the same way.
                let again = command.to_string();
                prop_assert_eq!(parse(&again), Ok(Input::Command(command)));
            }
            Ok(_) => {}
            Err(err) => {
                prop_assert!(line.get(err.span()).is_some(), "span {:?} of {:?}", err.span(), line);
                prop_assert!(!err.to_string().is_empty());
            }
        }
    }
}
