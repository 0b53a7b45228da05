//! The invariants the `commands` fuzz target checks on every input, shared
//! with the regression test that replays what the fuzzer found
//! (`fuzz/fuzz_targets/commands.rs` includes this file by path).

use salesiq_commands::{Input, Locale, parse};

/// Panics unless: a command displays to a line that parses back to it; text
/// is a suffix of the line; `y`/`n` is one character once trimmed; an
/// error's span lies on character boundaries inside the line and the error
/// renders in every language.
pub(crate) fn check(line: &str) {
    match parse(line) {
        Ok(Input::Command(command)) => {
            let canonical = command.to_string();
            assert_eq!(
                parse(&canonical),
                Ok(Input::Command(command)),
                "{line:?} -> {canonical:?}"
            );
        }
        Ok(Input::Text(text)) => assert!(line.ends_with(text), "{line:?} -> {text:?}"),
        Ok(_) => assert_eq!(line.trim().chars().count(), 1, "{line:?}"),
        Err(err) => {
            assert!(
                line.get(err.span()).is_some(),
                "{line:?}: span {:?}",
                err.span()
            );
            for locale in [Locale::En, Locale::Ja] {
                assert!(!err.display(locale).to_string().is_empty());
            }
        }
    }
}
