//! The document information of a PDF (author, creator, producer, title,
//! subject, keywords, dates) and its XMP metadata, blanked **in place**:
//! every byte keeps its offset, so the cross-reference tables stay valid and
//! nothing else of the file changes. The browser does the same, byte for
//! byte (`static/js/metadata.js`).
//!
//! - Every string of an information dictionary (named by `/Info` in any
//!   trailer or cross-reference stream, in every revision, or written
//!   inline there) becomes empty: `(Jean Dupont)` becomes `()` and spaces,
//!   so not even its length stays.
//! - The data of every uncompressed XMP stream (`/Type /Metadata /Subtype
//!   /XML`) becomes spaces.
//!
//! An information dictionary this reader cannot find as a plain object
//! (inside a compressed object stream), or a compressed XMP stream, cannot
//! be blanked in place: the file is then said unreadable, and left as it is.

/// The first bytes of a PDF.
pub const PDF_MAGIC: &[u8] = b"%PDF-";
/// The longest dictionary followed: a hostile file cannot make one
/// unterminated dictionary cost more than this.
const DICT_MAX: usize = 1 << 20;
/// How many bytes of dictionaries, all together, a file may make this
/// reader go through, beyond its own size: past that it is unreadable.
const BUDGET_SLACK: usize = 1 << 22;

/// What became of a PDF.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    NotAPdf,
    /// Blanked; which of the information and the XMP metadata held something.
    Cleaned {
        info: bool,
        xmp: bool,
    },
    /// Some of it could not be blanked in place: left as it is.
    Unreadable,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0c | 0)
}

fn is_delimiter(b: u8) -> bool {
    is_space(b) || b"()<>[]{}/%".contains(&b)
}

/// The digits at `at`, and where they end.
fn number(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let end = at
        + b.get(at..)?
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
    if end == at || end - at > 10 {
        return None;
    }
    let n = std::str::from_utf8(&b[at..end]).ok()?.parse().ok()?;
    Some((n, end))
}

fn skip_space(b: &[u8], mut at: usize) -> usize {
    while at < b.len() && is_space(b[at]) {
        at += 1;
    }
    at
}

/// `N G R` at `at` (after spaces): the object number.
fn reference(b: &[u8], at: usize) -> Option<u64> {
    let (n, at) = number(b, skip_space(b, at))?;
    let (_, at) = number(b, skip_space(b, at))?;
    let at = skip_space(b, at);
    (b.get(at) == Some(&b'R') && b.get(at + 1).is_none_or(|&c| is_delimiter(c))).then_some(n)
}

/// Every position of `needle` in `b`.
fn find_all<'a>(b: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    (0..b.len().saturating_sub(needle.len() - 1)).filter(move |&i| b[i..].starts_with(needle))
}

/// The objects `N G obj` that start a line: (number, where `<<` or the
/// value starts).
fn objects(b: &[u8]) -> Vec<(u64, usize)> {
    let mut out = Vec::new();
    for at in find_all(b, b"obj") {
        if b.get(at + 3).is_some_and(|&c| !is_delimiter(c)) {
            continue;
        }
        // Back over "G", spaces, "N", to the start of a line.
        let mut i = at;
        let back = |i: &mut usize, digits: bool| {
            let start = *i;
            while *i > 0
                && (if digits {
                    b[*i - 1].is_ascii_digit()
                } else {
                    b[*i - 1] == b' '
                })
            {
                *i -= 1;
            }
            *i < start
        };
        if !(back(&mut i, false) && back(&mut i, true) && back(&mut i, false) && back(&mut i, true))
        {
            continue;
        }
        if i > 0 && !matches!(b[i - 1], b'\n' | b'\r') {
            continue;
        }
        if let Some((n, _)) = number(b, i) {
            out.push((n, skip_space(b, at + 3)));
        }
    }
    out
}

/// The end (after `>>`) of the dictionary starting at `at` (`<<`),
/// following nested dictionaries, strings and comments.
fn dict_end(b: &[u8], at: usize) -> Option<usize> {
    if !b.get(at..)?.starts_with(b"<<") {
        return None;
    }
    let mut depth = 0usize;
    let mut i = at;
    while i < b.len() {
        if i - at > DICT_MAX {
            return None;
        }
        match b[i] {
            b'(' => i = string_end(b, i)?,
            b'%' => {
                while i < b.len() && !matches!(b[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'<' if b.get(i + 1) == Some(&b'<') => {
                depth += 1;
                i += 2;
            }
            b'<' => i = i + 1 + b.get(i + 1..)?.iter().position(|&c| c == b'>')? + 1,
            b'>' if b.get(i + 1) == Some(&b'>') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The end (after `)`) of the literal string starting at `at`.
fn string_end(b: &[u8], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = at;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Empties every string of the dictionary at `at`, in place; whether one
/// held something. `budget` counts down the bytes followed.
fn blank_strings(b: &mut [u8], at: usize, budget: &mut usize) -> Option<bool> {
    let end = dict_end(b, at)?;
    *budget = budget.checked_sub(end - at)?;
    let mut held = false;
    let mut i = at + 2;
    while i < end - 2 {
        match b[i] {
            b'(' => {
                let close = string_end(b, i)?;
                held |= close > i + 2;
                b[i + 1] = b')';
                b[i + 2..close].fill(b' ');
                i = close;
            }
            b'<' if b[i + 1] != b'<' => {
                let close = i + 1 + b[i + 1..].iter().position(|&c| c == b'>')? + 1;
                held |= b[i + 1..close - 1].iter().any(|&c| !is_space(c));
                b[i + 1] = b'>';
                b[i + 2..close].fill(b' ');
                i = close;
            }
            b'<' => i += 2,
            b'%' => {
                while i < end && !matches!(b[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    Some(held)
}

/// Blanks the information and XMP metadata of a PDF, in place.
pub fn clean(pdf: &mut [u8]) -> Outcome {
    if !pdf.starts_with(PDF_MAGIC) {
        return Outcome::NotAPdf;
    }
    let objects = objects(pdf);
    let mut budget = pdf.len().saturating_mul(2).saturating_add(BUDGET_SLACK);
    let mut info = false;
    // The information dictionaries: by reference, or inline.
    let named: Vec<usize> = find_all(pdf, b"/Info")
        .filter(|&i| pdf.get(i + 5).is_some_and(|&c| is_delimiter(c)))
        .collect();
    for at in named {
        let value = skip_space(pdf, at + 5);
        if pdf[value..].starts_with(b"<<") {
            match blank_strings(pdf, value, &mut budget) {
                Some(held) => info |= held,
                None => return Outcome::Unreadable,
            }
            continue;
        }
        let Some(n) = reference(pdf, at + 5) else {
            continue;
        };
        let found: Vec<usize> = objects
            .iter()
            .filter(|(m, _)| *m == n)
            .map(|(_, start)| *start)
            .collect();
        if found.is_empty() {
            // In an object stream, or missing: it cannot be blanked here.
            return Outcome::Unreadable;
        }
        for start in found {
            match blank_strings(pdf, start, &mut budget) {
                Some(held) => info |= held,
                None => return Outcome::Unreadable,
            }
        }
    }
    // XMP streams.
    let mut xmp = false;
    for (_, start) in &objects {
        let Some(end) = dict_end(pdf, *start) else {
            continue;
        };
        let Some(left) = budget.checked_sub(end - start) else {
            return Outcome::Unreadable;
        };
        budget = left;
        let dict = &pdf[*start..end];
        let compact: Vec<u8> = dict.iter().copied().filter(|&c| !is_space(c)).collect();
        let has = |k: &[u8]| compact.windows(k.len()).any(|w| w == k);
        if !(has(b"/Type/Metadata") && has(b"/Subtype/XML")) {
            continue;
        }
        let after = skip_space(pdf, end);
        if !pdf[after..].starts_with(b"stream") {
            continue;
        }
        if has(b"/Filter") {
            return Outcome::Unreadable;
        }
        let mut data = after + 6;
        if pdf[data..].starts_with(b"\r\n") {
            data += 2;
        } else if pdf[data..].starts_with(b"\n") {
            data += 1;
        }
        let Some(stop) = pdf[data..]
            .windows(9)
            .position(|w| w == b"endstream")
            .map(|p| data + p)
        else {
            return Outcome::Unreadable;
        };
        let Some(left) = budget.checked_sub(stop - data) else {
            return Outcome::Unreadable;
        };
        budget = left;
        xmp |= pdf[data..stop].iter().any(|&c| !is_space(c));
        pdf[data..stop].fill(b' ');
    }
    Outcome::Cleaned { info, xmp }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A PDF whose information dictionary holds these entries, with an XMP
    /// stream, and an incremental update that names another author.
    fn pdf(entries: &str, xmp: &str, filter: bool) -> Vec<u8> {
        let filter = if filter { " /Filter /FlateDecode" } else { "" };
        format!(
            "%PDF-1.7\n%\u{e2}\u{e3}\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>\nendobj\n\
             2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n\
             3 0 obj\n<< {entries} >>\nendobj\n\
             4 0 obj\n<< /Type /Metadata /Subtype /XML /Length {}{filter} >>\nstream\n{xmp}\nendstream\nendobj\n\
             xref\n0 5\n0000000000 65535 f \ntrailer\n<< /Size 5 /Root 1 0 R /Info 3 0 R >>\nstartxref\n0\n%%EOF\n\
             3 0 obj\n<</Author(Autre Personne)/Producer<4A65616E>>>\nendobj\n\
             trailer\n<< /Size 5 /Root 1 0 R /Info 3 0 R /Prev 0 >>\nstartxref\n0\n%%EOF\n",
            xmp.len()
        )
        .into_bytes()
    }

    const ENTRIES: &str = "/Author (Jean \\(JD\\) Dupont) /Creator <FEFF004A0065> /CreationDate (D:20261201) /Title (Rapport (annuel) sur Jean)";
    const XMP: &str = "<x:xmpmeta><dc:creator>Jean Dupont</dc:creator></x:xmpmeta>";

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_pdf_loses_its_author_dates_and_xmp_in_every_revision_and_keeps_its_offsets() {
        let original = pdf(ENTRIES, XMP, false);
        let mut cleaned = original.clone();
        assert_eq!(
            clean(&mut cleaned),
            Outcome::Cleaned {
                info: true,
                xmp: true
            }
        );
        assert_eq!(cleaned.len(), original.len());
        for gone in [
            &b"Jean"[..],
            b"Dupont",
            b"Autre",
            b"20261201",
            b"4A65616E",
            b"FEFF",
        ] {
            assert!(
                !contains(&cleaned, gone),
                "{}",
                String::from_utf8_lossy(gone)
            );
        }
        for kept in [
            &b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>\nendobj"[..],
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj",
            b"/Author ()",
            b"/Title ()",
            b"trailer\n<< /Size 5 /Root 1 0 R /Info 3 0 R >>",
        ] {
            assert!(
                contains(&cleaned, kept),
                "{}",
                String::from_utf8_lossy(kept)
            );
        }
        let mut again = cleaned.clone();
        assert_eq!(
            clean(&mut again),
            Outcome::Cleaned {
                info: false,
                xmp: false
            }
        );
        assert_eq!(again, cleaned);
    }

    #[test]
    fn what_cannot_be_blanked_in_place_leaves_the_pdf_unreadable() {
        // A compressed XMP stream.
        assert_eq!(clean(&mut pdf(ENTRIES, XMP, true)), Outcome::Unreadable);
        // An information dictionary inside an object stream (no plain object).
        let mut packed = b"%PDF-1.7\n1 0 obj\n<< /Type /XRef /Info 9 0 R /Root 2 0 R >>\nstream\nxx\nendstream\nendobj\n".to_vec();
        assert_eq!(clean(&mut packed), Outcome::Unreadable);
        // An unterminated dictionary.
        let mut open = b"%PDF-1.7\ntrailer\n<< /Info << /Author (x)".to_vec();
        assert_eq!(clean(&mut open), Outcome::Unreadable);
        assert_eq!(clean(&mut b"not a pdf".to_vec()), Outcome::NotAPdf);
    }

    #[test]
    fn an_inline_information_dictionary_is_blanked_too() {
        let mut inline = b"%PDF-1.4\ntrailer\n<< /Root 1 0 R /Info << /Author (Jean) /Nested << /X (y) >> >> >>\n%%EOF".to_vec();
        assert_eq!(
            clean(&mut inline),
            Outcome::Cleaned {
                info: true,
                xmp: false
            }
        );
        assert!(!contains(&inline, b"Jean"));
    }

    /// A literal string's content: balanced parentheses, escapes.
    fn literal() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                "[a-zA-Z0-9 éà.,:-]{1,8}".prop_map(|s| s),
                Just("\\(".to_string()),
                Just("\\)".to_string()),
                Just("\\\\".to_string()),
                "[a-z]{0,4}".prop_map(|s| format!("({s})")),
            ],
            0..8,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_information_string_goes_and_no_offset_moves(
            values in proptest::collection::vec((prop_oneof![Just("Author"), Just("Creator"), Just("Producer"), Just("Title"), Just("Keywords")], literal(), any::<bool>()), 1..6),
        ) {
            let entries: String = values
                .iter()
                .map(|(k, v, hex)| if *hex {
                    format!("/{k} <{}> ", hex::encode(v.as_bytes()))
                } else {
                    format!("/{k} (Secret-{v}) ")
                })
                .collect();
            let original = pdf(&entries, XMP, false);
            let mut cleaned = original.clone();
            let outcome = clean(&mut cleaned);
            prop_assert!(matches!(outcome, Outcome::Cleaned { xmp: true, .. }), "{:?}", outcome);
            prop_assert_eq!(cleaned.len(), original.len());
            prop_assert!(!contains(&cleaned, b"Secret-"));
            // The hex string, in its brackets: its digits alone may well
            // stand elsewhere in the file (an offset, a length).
            for (_, v, hex) in &values {
                if *hex && !v.is_empty() {
                    let written = format!("<{}>", hex::encode(v.as_bytes()));
                    prop_assert!(!contains(&cleaned, written.as_bytes()));
                }
            }
        }

        #[test]
        fn hostile_pdfs_never_panic_and_never_change_length(
            body in proptest::collection::vec(
                prop_oneof![
                    Just(b"\n1 0 obj\n<<".to_vec()), Just(b"/Info 1 0 R".to_vec()), Just(b"(".to_vec()),
                    Just(b")".to_vec()), Just(b">>".to_vec()), Just(b"<".to_vec()), Just(b"\\".to_vec()),
                    Just(b"/Type/Metadata/Subtype/XML>>stream\n".to_vec()), Just(b"endstream".to_vec()),
                    Just(b"%".to_vec()), proptest::collection::vec(any::<u8>(), 0..20),
                ],
                0..60),
        ) {
            let mut bytes = PDF_MAGIC.to_vec();
            bytes.extend(body.concat());
            let len = bytes.len();
            let _ = clean(&mut bytes);
            prop_assert_eq!(bytes.len(), len);
        }
    }
}
