//! What enters the domain from visitors and embedders is text every
//! transport can carry: XML 1.0 cannot carry most control characters
//! (U+0000 to U+001F but tab, line feed and carriage return) nor U+FFFE
//! and U+FFFF, and a one-line field (a name, an address, a subject) must
//! not break lines, or a visitor named `Ann\n[system] ...` could forge a
//! line of the gateway's own.

/// Whether XML 1.0 can carry `c` (its `Char` production, less nothing: Rust
/// strings hold no surrogates).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// Whether `c` breaks a line somewhere (Unicode's mandatory breaks).
fn breaks_line(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// A multi-line text (a chat line, a board post): characters XML cannot
/// carry and other C0/C1 controls are dropped, `\r\n` and `\r` become
/// `\n`; tabs and line feeds stay.
pub fn clean_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    text.chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|c| *c == '\t' || *c == '\n' || (xml_char(*c) && !c.is_control()))
        .collect()
}

/// A one-line field (a name, an e-mail address, a page, a subject): line
/// breaks and tabs become spaces, other controls and what XML cannot
/// carry are dropped, runs of white space become one space, and the ends
/// are trimmed.
pub fn clean_line(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if breaks_line(c) || c == '\t' { ' ' } else { c })
        .filter(|c| xml_char(*c) && !c.is_control())
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_texts() {
        assert_eq!(
            clean_line("Ann\n[system] Bob took this chat"),
            "Ann [system] Bob took this chat"
        );
        assert_eq!(clean_line(" a\u{1}b\u{B}c\u{FFFE}d\u{2028}e\t"), "ab cd e");
        assert_eq!(
            clean_text("one\r\ntwo\rthree\u{0}\u{7F}\u{9F}\tfour\u{FFFF}"),
            "one\ntwo\nthree\tfour"
        );
        assert_eq!(clean_text("日本語 😀"), "日本語 😀");
    }

    proptest::proptest! {
        #[test]
        fn what_is_left_is_xml(text in "\\PC*|[\\x00-\\x1f\\x7f-\\x9f\\u{fffe}\\u{ffff}a]*") {
            for cleaned in [clean_text(&text), clean_line(&text)] {
                proptest::prop_assert!(cleaned.chars().all(xml_char));
            }
            proptest::prop_assert!(!clean_line(&text).chars().any(breaks_line));
        }
    }
}
