//! Replays every input the `commands` fuzz target ever failed on
//! (`fuzz/regressions/commands/`) through the same checks.

mod round_trip;

#[test]
fn every_recorded_crash_now_passes() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/commands"
    );
    let mut replayed = 0;
    for entry in std::fs::read_dir(dir).expect("the regression directory exists") {
        let path = entry.expect("readable directory").path();
        let bytes = std::fs::read(&path).expect("readable input");
        // The target sees the longest valid UTF-8 prefix, as `arbitrary`
        // makes a `&str` from the fuzzer's bytes.
        let valid = std::str::from_utf8(&bytes).map_or_else(|e| e.valid_up_to(), str::len);
        let line = std::str::from_utf8(&bytes[..valid]).expect("a valid prefix");
        round_trip::check(line);
        replayed += 1;
    }
    assert!(replayed > 0, "no regression input in {dir}");
}
