//! Parsing never touches the heap: neither for text, nor for commands, nor
//! for errors. `allocation_counter` installs a counting global allocator and
//! counts per thread, so the test harness's other threads do not interfere.

use salesiq_commands::{Input, ParseError, parse};

/// Parses `line`, asserting that it took no heap allocation.
fn parse_without_allocating(line: &str) -> Result<Input<'_>, ParseError> {
    let mut result = None;
    let info = allocation_counter::measure(|| {
        result = Some(parse(line));
    });
    assert_eq!(
        info.count_total, 0,
        "{line:?} allocated {} times",
        info.count_total
    );
    result.expect("measure runs the closure")
}

const LINES: &[&str] = &[
    "Hi! Thanks for reaching out, let me check your order.",
    "ご連絡ありがとうございます。確認いたします。",
    "y",
    " Ｎ ",
    "##1 is our best plan",
    "#help all",
    "#t fiona.baumgartner@hotmail.com VIP customer, asks about invoices",
    "＃ｔ　“VIPサポート”　日本語で対応お願いします",
    "#i bob@demo.example can you take the billing part?",
    "#info",
    "#b abusive language",
    "#an お客様が追加購入を検討しています",
    "#n",
    "#h",
    "#d",
    "#p https://taskerpro.cleaning.zillium.com/pricing?plan=pro#faq",
    "#c",
    "#c key",
    "#c price_list-2",
    "#m",
    "#e",
    "#e 45",
    "#E CANCEL",
    "#crm info",
    "#support info",
    "#support ticketinfo",
    "#support recentreq",
    "#support conasreq 112",
    "#support searchreq fiona.baumgartner@hotmail.com",
    "#support searchreq #1042",
    "#support searchreq 山田 太郎",
    "#support associate #TKT-101",
    "#support setreqstatus close",
];

const ERRORS: &[&str] = &[
    "#",
    "#frobnicate",
    "#t \"Sales",
    "#t not-an-email",
    "#p javascript:alert(1)",
    "#e 20",
    "#support conasreq 492",
    "#support setreqstatus maybe",
    "#help me",
    "#c Thanks",
    "#c bad!key",
    "#c a b",
    "#c this-key-is-much-longer-than-thirty",
];

#[test]
fn a_successful_parse_allocates_nothing() {
    let mut commands = 0;
    for line in LINES {
        let result = parse_without_allocating(line);
        assert!(result.is_ok(), "{line:?}: {result:?}");
        commands += usize::from(matches!(result, Ok(Input::Command(_))));
    }
    assert_eq!(commands, 28, "every command kind is in the list");
}

#[test]
fn a_refused_command_allocates_nothing() {
    for line in ERRORS {
        assert!(parse_without_allocating(line).is_err(), "{line:?}");
    }
}

#[test]
fn the_counter_counts() {
    let info = allocation_counter::measure(|| {
        let owned = parse("#an x").map(|input| format!("{input:?}"));
        assert!(owned.is_ok());
    });
    assert!(
        info.count_total > 0,
        "the allocator is installed and counting"
    );
}
