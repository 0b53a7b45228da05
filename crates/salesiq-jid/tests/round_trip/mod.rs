//! The invariants the `login_id` fuzz target checks on every input, shared
//! with the regression test that replays what the fuzzer found
//! (`fuzz/fuzz_targets/login_id.rs` includes this file by path).

use salesiq_jid::LoginId;

/// Panics unless an accepted login id displays to a canonical form that
/// parses to the same identity and displays the same again, and a refused
/// one has an error span on character boundaries inside the input.
pub(crate) fn check(input: &str) {
    let id = match LoginId::parse(input) {
        Ok(id) => id,
        Err(err) => {
            assert!(
                input.get(err.span()).is_some(),
                "{input:?}: span {:?}",
                err.span()
            );
            return;
        }
    };
    let canonical = id.to_string();
    let again = LoginId::parse(&canonical)
        .unwrap_or_else(|err| panic!("{input:?} -> {canonical:?} is refused: {err}"));
    assert_eq!(again.key(), id.key(), "{input:?} -> {canonical:?}");
    assert_eq!(
        again.domain().map(str::to_ascii_lowercase),
        id.domain().map(str::to_ascii_lowercase),
        "{input:?} -> {canonical:?}"
    );
    assert_eq!(
        again.resource(),
        id.resource(),
        "{input:?} -> {canonical:?}"
    );
    assert_eq!(again.to_string(), canonical, "{input:?}");
}
