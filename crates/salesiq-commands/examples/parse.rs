//! Reads operator lines from stdin and prints one JSON object per line:
//! `{"ok":true,"kind":K,...typed arguments}` or
//! `{"ok":false,"error":...,"usage":...,"span":[start,end]}`.
//!
//! ```text
//! printf '#t "VIPサポート" 日本語で\n#e 20\n' | cargo run -p salesiq-commands --example parse
//! ```
//!
//! `--ja` prints errors and usage lines in Japanese.

use std::io::{self, BufRead, Write};

use salesiq_commands::{Locale, parse};
use serde_json::{Map, Value, json};

fn main() -> io::Result<()> {
    let locale = if std::env::args().any(|arg| arg == "--ja") {
        Locale::Ja
    } else {
        Locale::En
    };
    let stdin = io::stdin().lock();
    let mut out = io::stdout().lock();
    for line in stdin.lines() {
        let line = line?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let value = match parse(line) {
            Ok(input) => {
                let mut object = Map::new();
                object.insert("ok".into(), Value::Bool(true));
                if let Value::Object(fields) = serde_json::to_value(input)? {
                    object.extend(fields);
                }
                Value::Object(object)
            }
            Err(err) => json!({
                "ok": false,
                "error": err.message(locale).to_string(),
                "usage": err.usage_in(locale),
                "span": [err.span().start, err.span().end],
            }),
        };
        writeln!(out, "{value}")?;
    }
    Ok(())
}
