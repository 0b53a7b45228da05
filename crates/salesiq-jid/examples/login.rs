//! Reads one JID or SASL authcid per line from stdin and prints one JSON
//! object per line: `{"ok":true,"portal":..,"username":..,"domain":..,
//! "resource":..,"canonical":..}` or `{"ok":false,"error":..,"span":[s,e]}`.
//!
//! ```text
//! echo 'acme\5calice.ops@salesiq.zoho.com/Gajim' | cargo run -p salesiq-jid --example login
//! ```

use std::io::{self, BufRead, Write};

use salesiq_jid::LoginId;
use serde_json::json;

fn main() -> io::Result<()> {
    let stdin = io::stdin().lock();
    let mut out = io::stdout().lock();
    for line in stdin.lines() {
        let line = line?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let value = match LoginId::parse(line) {
            Ok(id) => json!({
                "ok": true,
                "portal": id.portal(),
                "username": id.username().as_str(),
                "domain": id.domain(),
                "resource": id.resource(),
                "canonical": id.to_string(),
            }),
            Err(err) => json!({
                "ok": false,
                "error": err.to_string(),
                "span": [err.span().start, err.span().end],
            }),
        };
        writeln!(out, "{value}")?;
    }
    Ok(())
}
