//! Escaping for XML and HTML, the one function every page and report of
//! ours writes text through (JUnit files, the timeline, the compliance
//! page): safe in element text and in attribute values alike.

/// `s` made safe for XML text and attribute values: the five special
/// characters as entities, line breaks and tabs as character references
/// (an attribute keeps them), and characters XML 1.0 cannot carry at all
/// (other control characters, U+FFFE, U+FFFF) as U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
