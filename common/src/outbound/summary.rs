//! What of a remote answer may be quoted in events, logs and errors: a bounded excerpt with
//! no control or formatting characters, so a service can neither flood a record nor forge
//! lines or hide text in it.

/// Most characters of a remote answer quoted.
pub const EXCERPT_CHARS: usize = 200;

/// `HTTP <status>`, followed by an excerpt of `body` when it has printable text.
pub fn summary(status: u16, body: &[u8]) -> String {
    let excerpt = excerpt(body, EXCERPT_CHARS);
    if excerpt.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {excerpt}")
    }
}

/// At most `max_chars` characters of `bytes` read as UTF-8 (invalid sequences become `?`),
/// runs of whitespace, control and formatting characters folded into one space, trimmed, and
/// ending in `…` when cut.
pub fn excerpt(bytes: &[u8], max_chars: usize) -> String {
    // A character is at most 4 bytes: more is never needed, however long the answer.
    let head = &bytes[..bytes
        .len()
        .min(max_chars.saturating_mul(4).saturating_add(4))];
    excerpt_text(
        &String::from_utf8_lossy(head),
        max_chars,
        head.len() < bytes.len(),
    )
}

/// [`excerpt`] of a text.
pub fn excerpt_str(text: &str, max_chars: usize) -> String {
    excerpt_text(text, max_chars, false)
}

fn excerpt_text(text: &str, max_chars: usize, mut cut: bool) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || is_format(c) {
            pending_space = count > 0;
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if count + needed > max_chars {
            cut = true;
            break;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(if c == char::REPLACEMENT_CHARACTER {
            '?'
        } else {
            c
        });
        count += needed;
    }
    if cut {
        out.push('…');
    }
    out
}

/// Invisible characters that change how text reads: zero-width characters, bidirectional
/// controls, the byte-order mark and interlinear annotations.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_answer_is_quoted_whole() {
        assert_eq!(
            summary(500, b"database is down"),
            "HTTP 500: database is down"
        );
        assert_eq!(summary(502, b""), "HTTP 502");
        assert_eq!(summary(502, b" \r\n\t "), "HTTP 502");
    }

    #[test]
    fn control_and_formatting_characters_become_single_spaces() {
        assert_eq!(
            excerpt(b"line one\r\nFORGED: line\x1b[31m red\x00", 100),
            "line one FORGED: line [31m red"
        );
        assert_eq!(
            excerpt("a\u{202E}b\u{200B}c".as_bytes(), 100),
            "a b c",
            "bidirectional and zero-width characters"
        );
        assert_eq!(excerpt(b"bad \xff\xfe utf-8", 100), "bad ?? utf-8");
    }

    #[test]
    fn a_long_answer_is_cut() {
        let junk = vec![b'x'; 10 * 1024];
        let quoted = excerpt(&junk, EXCERPT_CHARS);
        assert_eq!(quoted.chars().count(), EXCERPT_CHARS + 1);
        assert!(quoted.ends_with('…'));
        let summary = summary(500, &junk);
        assert!(summary.len() < 260, "{summary}");
        let wide = "é".repeat(1000);
        assert_eq!(excerpt(wide.as_bytes(), 10), format!("{}…", "é".repeat(10)));
        assert_eq!(excerpt_str("abcdef", 3), "abc…");
        assert_eq!(excerpt_str("abc", 3), "abc");
    }
}
