//! Text from an export, or from a decrypted report, made safe to print on a
//! terminal and to use as a file name.
//!
//! Everything in an export comes from somewhere the Secretary does not
//! control: the reporter wrote the plaintext, the server (or whoever had the
//! export in hand) wrote `metadata.json` and the file names. A terminal obeys
//! control characters (escape sequences can write to the clipboard, change the
//! title, move the cursor, hide lines) and Unicode format characters reorder
//! or hide text (bidi overrides). Both are shown as a visible `<U+XXXX>`.

use std::fmt::Write as _;

/// Unicode format characters (general category Cf, Unicode 15.1), plus the
/// line and paragraph separators, which some terminals treat as line breaks.
/// A few unassigned code points in default-ignorable blocks are included, so
/// a later Unicode version cannot sneak one past.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE007F),
];

/// A format character (bidi controls, zero-width characters, tags…).
pub fn is_format(c: char) -> bool {
    let c = u32::from(c);
    FORMAT.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// A character that must never reach the terminal as such.
fn is_hidden(c: char) -> bool {
    c.is_control() || is_format(c)
}

fn visible(c: char, out: &mut String) {
    let _ = write!(out, "<U+{:04X}>", u32::from(c));
}

/// Several lines of text (a description, a message): line breaks (a CR LF
/// pair counts as one) and tabs are kept, every other control or format
/// character is made visible.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        if c == '\n' || c == '\t' || !is_hidden(c) {
            out.push(c);
        } else {
            visible(c, &mut out);
        }
    }
    out
}

/// One line (a name, a type, a category, a path): line breaks and tabs are
/// made visible too.
pub fn printable_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_hidden(c) {
            visible(c, &mut out);
        } else {
            out.push(c);
        }
    }
    out
}

/// The longest file name written, in bytes: well under the usual limit of
/// 255, leaving room for a prefix that keeps two files of one case apart.
pub const MAX_FILE_NAME: usize = 120;

/// A name sent by a reporter, made into a plain file name: no control or
/// format character, no path separator (nor the characters other systems
/// refuse), no leading dot (hidden files, `..`), no leading or trailing space
/// or dot, at most [`MAX_FILE_NAME`] bytes (keeping a short extension).
/// `fallback` (a safe name) is used when nothing is left.
pub fn safe_file_name(name: &str, fallback: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if is_hidden(c) || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = replaced
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let bounded = bound(trimmed, MAX_FILE_NAME);
    if bounded.is_empty() {
        fallback.to_string()
    } else {
        bounded
    }
}

/// Cuts a name to `max` bytes on a character boundary, keeping a short
/// extension (`.pdf`) when there is one.
fn bound(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let extension = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16 && e[1..].chars().all(|c| c.is_alphanumeric()))
        .unwrap_or("");
    let mut stem = String::new();
    for c in name[..name.len() - extension.len()].chars() {
        if stem.len() + c.len_utf8() + extension.len() > max {
            break;
        }
        stem.push(c);
    }
    let stem = stem.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    format!("{stem}{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Characters a hostile reporter would try, mixed into random text.
    fn hostile_char() -> impl Strategy<Value = char> {
        prop_oneof![
            any::<char>(),
            (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('\0')),
            (0x7Fu32..0xA0).prop_map(|c| char::from_u32(c).unwrap_or('\0')),
            prop::sample::select(vec![
                '\u{1b}',
                '\u{7}',
                '\r',
                '\n',
                '\t',
                '\u{9b}',
                '\u{9d}',
                '\u{202A}',
                '\u{202B}',
                '\u{202C}',
                '\u{202D}',
                '\u{202E}',
                '\u{2066}',
                '\u{2067}',
                '\u{2068}',
                '\u{2069}',
                '\u{200E}',
                '\u{200F}',
                '\u{061C}',
                '\u{200B}',
                '\u{FEFF}',
                '\u{2028}',
                '\u{2029}',
                '\u{E0041}',
                '/',
                '\\',
                '.',
                ' ',
            ]),
        ]
    }

    fn hostile_text() -> impl Strategy<Value = String> {
        prop::collection::vec(hostile_char(), 0..80).prop_map(|v| v.into_iter().collect())
    }

    /// Bidi controls named one by one, independently of the table above.
    const BIDI: [char; 12] = [
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
    ];

    fn forbidden(c: char, multiline: bool) -> bool {
        let allowed_space = multiline && (c == '\n' || c == '\t');
        (c.is_control() && !allowed_space) || BIDI.contains(&c) || is_format(c)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn printable_text_never_holds_a_control_or_format_character(text in hostile_text()) {
            let shown = printable(&text);
            prop_assert!(!shown.chars().any(|c| forbidden(c, true)), "{shown:?}");
        }

        #[test]
        fn a_printable_line_never_holds_a_control_format_character_or_line_break(text in hostile_text()) {
            let shown = printable_line(&text);
            prop_assert!(!shown.chars().any(|c| forbidden(c, false)), "{shown:?}");
        }

        #[test]
        fn a_safe_file_name_is_one_plain_bounded_name(name in hostile_text()) {
            let safe = safe_file_name(&name, "fallback");
            prop_assert!(!safe.is_empty() && safe.len() <= MAX_FILE_NAME, "{safe:?}");
            prop_assert!(!safe.starts_with('.') && !safe.contains('/') && !safe.contains('\\'), "{safe:?}");
            prop_assert!(!safe.chars().any(|c| forbidden(c, false)), "{safe:?}");
            prop_assert!(safe != ".." && safe != ".");
        }
    }

    #[test]
    fn reporter_text_cannot_drive_the_secretarys_terminal() {
        let cases: [(&str, &str); 6] = [
            // OSC 52: write to the clipboard.
            (
                "ok\u{1b}]52;c;ZXZpbA==\u{7}",
                "ok<U+001B>]52;c;ZXZpbA==<U+0007>",
            ),
            // Clear the screen.
            ("\u{1b}[2Jgone", "<U+001B>[2Jgone"),
            // Set the window title, with the 8-bit OSC.
            ("\u{9d}0;title\u{9c}", "<U+009D>0;title<U+009C>"),
            // Right-to-left override: "txt.exe" shown as "exe.txt".
            ("invoice\u{202E}txt.exe", "invoice<U+202E>txt.exe"),
            // Isolates and marks.
            ("a\u{2066}b\u{2069}c\u{200F}", "a<U+2066>b<U+2069>c<U+200F>"),
            // A lone carriage return would overwrite the line.
            ("safe\rfake", "safe<U+000D>fake"),
        ];
        for (hostile, expected) in cases {
            assert_eq!(printable(hostile), expected, "{hostile:?}");
            assert_eq!(printable_line(hostile), expected, "{hostile:?}");
        }
        assert_eq!(printable("line\r\nnext\ttab"), "line\nnext\ttab");
        assert_eq!(
            printable_line("line\nnext\ttab"),
            "line<U+000A>next<U+0009>tab"
        );
        assert_eq!(printable("Marché à Dakar"), "Marché à Dakar");
    }

    #[test]
    fn hostile_file_names_become_plain_names() {
        let long = format!("{}.pdf", "é".repeat(200));
        let cases: [(&str, &str); 10] = [
            ("relevé bancaire.pdf", "relevé bancaire.pdf"),
            ("../../.bashrc", "_.._.bashrc"),
            ("/etc/passwd", "_etc_passwd"),
            ("..", "fallback"),
            (".config", "config"),
            ("a\\b", "a_b"),
            ("invoice\u{202E}fdp.exe", "invoice_fdp.exe"),
            ("\u{1b}[2J.txt", "_[2J.txt"),
            ("   ", "fallback"),
            ("", "fallback"),
        ];
        for (name, expected) in cases {
            assert_eq!(safe_file_name(name, "fallback"), expected, "{name:?}");
        }
        let bounded = safe_file_name(&long, "fallback");
        assert!(bounded.len() <= MAX_FILE_NAME && bounded.ends_with("é.pdf"));
    }
}
