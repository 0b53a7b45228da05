//! What the benchmarks in `benches/` measure against: a deterministic
//! corpus of operator lines and the baseline parsers written only for
//! comparison.
//!
//! Run `cargo bench -p salesiq-benches --bench commands`; the README lists
//! the figures.

use std::sync::LazyLock;

use regex::Regex;

/// How many lines [`corpus`] makes.
pub const CORPUS_LINES: usize = 2_000;

/// Messages operators send visitors, English and Japanese, short and long.
const TEXTS: &[&str] = &[
    "Hi! Thanks for reaching out, how can I help you today?",
    "Let me check that for you, one moment please.",
    "Could you share your order number?",
    "Sure, I can help with that.",
    "ok",
    "Thanks!",
    "I have just sent you a password reset link; it is valid for 24 hours. If it does not arrive, please check your spam folder.",
    "Our Pro plan includes unlimited operators, the CRM integration and priority support.",
    "The refund was issued on our side; banks usually take 3-5 business days to show it.",
    "Is there anything else I can help you with?",
    "Have a great day :)",
    "Yes, that is right.",
    "No worries at all.",
    "Price is $49 per user per month, billed annually.",
    "You can find the invoice under Settings > Billing > History.",
    "お問い合わせありがとうございます。担当の山田です。",
    "少々お待ちください。確認いたします。",
    "ご注文番号を教えていただけますか?",
    "パスワード再設定用のリンクをお送りしました。24時間有効です。",
    "他にご不明な点はございますか?",
    "ありがとうございました。良い一日をお過ごしください。",
    "はい、承知しました。",
    "Proプランでは担当者数が無制限で、CRM連携と優先サポートが含まれます。",
    "  sorry, typo above: the plan is Pro, not Plus",
    "please try clearing the browser cache and reload",
];

/// Commands as operators type them, including full-width and sloppy ones
/// and a few mistakes.
const COMMANDS: &[&str] = &[
    "#info",
    "#h",
    "#n",
    "#m",
    "#d",
    "#e",
    "#e 60",
    "#e 30",
    "#e cancel",
    "#help",
    "#help all",
    "#an wants the annual plan, call back Monday",
    "#an お客様が追加購入を検討しています",
    "#b spam links, 3 times",
    "#t fiona.baumgartner@hotmail.com VIP customer, asks about invoices",
    "#t bob@demo.example",
    "#t \"VIPサポート\" 日本語で対応お願いします",
    "#t \"Sales\"",
    "＃ｔ　“VIPサポート”",
    "#i carol@demo.example can you take the billing part?",
    "#p https://taskerpro.cleaning.zillium.com/pricing?plan=pro#faq",
    "#p https://demo.example/help/reset-password",
    "#crm info",
    "#support info",
    "#support ticketinfo",
    "#support recentreq",
    "#support conasreq 112",
    "#support conasreq 301",
    "#support searchreq fiona.baumgartner@hotmail.com",
    "#support searchreq #1042",
    "#support associate #TKT-101",
    "#support setreqstatus close",
    "＃ｅ　９０",
    "#E  45",
    "#e 20",
    "#p www.example.com",
    "#tranfer bob@demo.example",
];

/// A deterministic mix of [`CORPUS_LINES`] operator lines: about 70% text
/// for the visitor (a third of it Japanese), 30% commands, and `y`/`n`.
pub fn corpus() -> Vec<&'static str> {
    // xorshift64*: the same corpus on every machine and every run.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |bound: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let value = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33;
        usize::try_from(value).unwrap_or_default() % bound
    };
    (0..CORPUS_LINES)
        .map(|_| match next(100) {
            0..=67 => TEXTS[next(TEXTS.len())],
            68 => "y",
            69 => "n",
            _ => COMMANDS[next(COMMANDS.len())],
        })
        .collect()
}

/// What the baselines produce: the command word and up to two arguments,
/// or the line as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens<'a> {
    /// A line that does not start with `#`.
    Text(&'a str),
    /// `#word arg1 arg2...`, split on white space.
    Command {
        /// The word after `#`.
        word: &'a str,
        /// The first argument.
        first: Option<&'a str>,
        /// The second argument.
        second: Option<&'a str>,
    },
}

/// Baseline 1: `split_whitespace`, validating nothing: no case folding, no
/// full-width input, no quotes, no argument checks.
pub fn naive_split_whitespace(line: &str) -> Tokens<'_> {
    let mut words = line.split_whitespace();
    match words.next().and_then(|word| word.strip_prefix('#')) {
        Some(word) => Tokens::Command {
            word,
            first: words.next(),
            second: words.next(),
        },
        None => Tokens::Text(line),
    }
}

static COMMAND_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*#(\S+)(?:\s+(\S+))?(?:\s+(\S+))?").unwrap_or_else(|err| panic!("{err}"))
});

/// Baseline 2: one regular expression with captures, validating nothing.
pub fn regex_captures(line: &str) -> Tokens<'_> {
    match COMMAND_RE.captures(line) {
        Some(caps) => Tokens::Command {
            word: caps.get(1).map_or("", |m| m.as_str()),
            first: caps.get(2).map(|m| m.as_str()),
            second: caps.get(3).map(|m| m.as_str()),
        },
        None => Tokens::Text(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salesiq_commands::{Input, parse};

    #[test]
    fn the_corpus_is_the_promised_mix() {
        let corpus = corpus();
        assert_eq!(corpus, super::corpus(), "deterministic");
        let commands = corpus
            .iter()
            .filter(|line| line.trim_start().starts_with(['#', '＃']))
            .count();
        let japanese = corpus
            .iter()
            .filter(|line| line.chars().any(|c| c > '\u{3000}'))
            .count();
        let share = |n: usize| n * 100 / corpus.len();
        assert!(
            (25..=35).contains(&share(commands)),
            "{}% commands",
            share(commands)
        );
        assert!(share(japanese) >= 15, "{}% Japanese", share(japanese));
        // Our parser accepts the commands except the deliberate mistakes.
        let refused: Vec<_> = COMMANDS
            .iter()
            .filter(|line| parse(line).is_err())
            .collect();
        assert_eq!(
            refused,
            [
                &"#e 20",
                &"#p www.example.com",
                &"#tranfer bob@demo.example"
            ]
        );
        assert!(
            TEXTS
                .iter()
                .all(|line| matches!(parse(line), Ok(Input::Text(_))))
        );
    }

    #[test]
    fn the_baselines_tokenize_alike() {
        for line in corpus() {
            assert_eq!(
                naive_split_whitespace(line),
                regex_captures(line),
                "{line:?}"
            );
        }
        assert_eq!(
            naive_split_whitespace("#t bob@demo.example VIP"),
            Tokens::Command {
                word: "t",
                first: Some("bob@demo.example"),
                second: Some("VIP")
            }
        );
    }
}
