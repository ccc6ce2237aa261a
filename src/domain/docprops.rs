//! The document properties of Office (OOXML) and OpenDocument files, which
//! name the author, the last person to save, the company, the template and
//! the editing times: `docProps/core.xml`, `docProps/app.xml`,
//! `docProps/custom.xml` and `meta.xml`. A file is a ZIP archive; it is
//! rewritten with each of these parts replaced by an empty one of the same
//! kind (stored, dated 1 January 1980), every other part copied byte for
//! byte, and the archive comment dropped. The browser does the same
//! (`static/js/metadata.js`), byte for byte.
//!
//! Anything this reader does not follow exactly (ZIP64, an archive with
//! bytes before or between its parts, a central directory that disagrees
//! with a local header, an encrypted part) is left as it is and said
//! unreadable.

use zeroize::Zeroizing;

/// The parts replaced, and what replaces them.
pub const PARTS: [(&str, &str); 4] = [
    (
        "docProps/core.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>",
    ),
    (
        "docProps/app.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\"/>",
    ),
    (
        "docProps/custom.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/custom-properties\" xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\"/>",
    ),
    (
        "meta.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<office:document-meta xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" office:version=\"1.2\"/>",
    ),
];

/// The first bytes of a ZIP archive (a local file header).
pub const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// What became of an archive.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A ZIP archive without any of the parts: left as it is.
    NotADocument,
    /// Rewritten; `true` when at least one part held something.
    Cleaned(Zeroizing<Vec<u8>>, bool),
    /// Not followed to its end: left as it is.
    Unreadable,
}

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const DESCRIPTOR: u32 = 0x0807_4b50;

fn u16_at(b: &[u8], i: usize) -> Option<usize> {
    let s = b.get(i..i.checked_add(2)?)?;
    Some(usize::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], i: usize) -> Option<usize> {
    let s = b.get(i..i.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok()
}

struct Entry<'a> {
    /// The central directory record, as it is.
    central: &'a [u8],
    name: &'a [u8],
    /// The local header, the data and any data descriptor, as they are.
    local: &'a [u8],
}

/// The entries of an archive in central-directory order, when it is
/// exactly: local parts back to back from the first byte, then the central
/// directory, then the end record and its comment.
fn entries(zip: &[u8]) -> Option<Vec<Entry<'_>>> {
    if zip.len() < 22 {
        return None;
    }
    // The end record: the last signature within the comment's reach.
    let lowest = zip.len().saturating_sub(22 + 0xffff);
    let end = (lowest..=zip.len() - 22)
        .rev()
        .find(|&i| u32_at(zip, i) == Some(END as usize))?;
    let count = u16_at(zip, end + 10)?;
    let size = u32_at(zip, end + 12)?;
    let offset = u32_at(zip, end + 16)?;
    let comment = u16_at(zip, end + 20)?;
    // One disk, no ZIP64, nothing after the comment, the directory right
    // before the end record.
    if u16_at(zip, end + 4)? != 0
        || u16_at(zip, end + 6)? != 0
        || u16_at(zip, end + 8)? != count
        || count == 0xffff
        || end + 22 + comment != zip.len()
        || offset.checked_add(size)? != end
    {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    let mut at = offset;
    let mut next_local = 0usize;
    for _ in 0..count {
        if u32_at(zip, at)? != CENTRAL as usize {
            return None;
        }
        let flags = u16_at(zip, at + 8)?;
        let csize = u32_at(zip, at + 20)?;
        let name_len = u16_at(zip, at + 28)?;
        let extra_len = u16_at(zip, at + 30)?;
        let comment_len = u16_at(zip, at + 32)?;
        let local_at = u32_at(zip, at + 42)?;
        let record_end = at + 46 + name_len + extra_len + comment_len;
        let central = zip.get(at..record_end)?;
        let name = zip.get(at + 46..at + 46 + name_len)?;
        // Encrypted parts, and ZIP64 sizes, are not followed.
        if flags & 1 != 0 || csize == 0xffff_ffff || local_at == 0xffff_ffff {
            return None;
        }
        // Parts back to back, in the directory's order.
        if local_at != next_local || u32_at(zip, local_at)? != LOCAL as usize {
            return None;
        }
        let local_name_len = u16_at(zip, local_at + 26)?;
        let local_extra_len = u16_at(zip, local_at + 28)?;
        if zip.get(local_at + 30..local_at + 30 + local_name_len)? != name {
            return None;
        }
        let mut part_end = (local_at + 30 + local_name_len + local_extra_len).checked_add(csize)?;
        if flags & 8 != 0 {
            // A data descriptor, with or without its signature.
            part_end += if u32_at(zip, part_end)? == DESCRIPTOR as usize {
                16
            } else {
                12
            };
        }
        let local = zip.get(local_at..part_end)?;
        out.push(Entry {
            central,
            name,
            local,
        });
        next_local = part_end;
        at = record_end;
    }
    (at == end && next_local == offset).then_some(out)
}

use super::scrub::crc32;

/// Rewrites an archive without its document properties.
pub fn clean(zip: &[u8]) -> Outcome {
    let Some(list) = entries(zip) else {
        return if zip.starts_with(&ZIP_MAGIC) {
            Outcome::Unreadable
        } else {
            Outcome::NotADocument
        };
    };
    let replaced = |name: &[u8]| PARTS.iter().find(|(n, _)| n.as_bytes() == name);
    if !list.iter().any(|e| replaced(e.name).is_some()) {
        return Outcome::NotADocument;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(zip.len()));
    let mut central = Vec::new();
    let mut held = false;
    for e in &list {
        let offset = u32::try_from(out.len()).unwrap_or(u32::MAX).to_le_bytes();
        match replaced(e.name) {
            Some((name, empty)) => {
                // It held something unless it is already such an empty part.
                held |= u32_at(e.central, 24) != Some(empty.len());
                let crc = crc32(empty.as_bytes()).to_le_bytes();
                let size = u32::try_from(empty.len()).unwrap_or(0).to_le_bytes();
                let name_len = u16::try_from(name.len()).unwrap_or(0).to_le_bytes();
                // Version 2.0, no flags, stored, 1 January 1980 at 00:00.
                let common = |buf: &mut Vec<u8>| {
                    buf.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
                    buf.extend_from_slice(&crc);
                    buf.extend_from_slice(&size);
                    buf.extend_from_slice(&size);
                    buf.extend_from_slice(&name_len);
                    buf.extend_from_slice(&[0, 0]);
                };
                out.extend_from_slice(&LOCAL.to_le_bytes());
                common(&mut out);
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(empty.as_bytes());
                central.extend_from_slice(&CENTRAL.to_le_bytes());
                central.extend_from_slice(&[20, 0]);
                common(&mut central);
                // No comment, disk 0, no attributes, then the offset.
                central.extend_from_slice(&[0; 10]);
                central.extend_from_slice(&offset);
                central.extend_from_slice(name.as_bytes());
            }
            None => {
                out.extend_from_slice(e.local);
                central.extend_from_slice(&e.central[..42]);
                central.extend_from_slice(&offset);
                central.extend_from_slice(&e.central[46..]);
            }
        }
    }
    let count = u16::try_from(list.len()).unwrap_or(u16::MAX).to_le_bytes();
    let start = u32::try_from(out.len()).unwrap_or(u32::MAX).to_le_bytes();
    let size = u32::try_from(central.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    out.extend_from_slice(&central);
    out.extend_from_slice(&END.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&count);
    out.extend_from_slice(&count);
    out.extend_from_slice(&size);
    out.extend_from_slice(&start);
    out.extend_from_slice(&[0, 0]);
    Outcome::Cleaned(out, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A ZIP of stored parts, with a data descriptor after those asked.
    pub fn zip(parts: &[(&str, &[u8], bool)], comment: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, descriptor) in parts {
            let offset = u32::try_from(out.len()).unwrap_or(0);
            let crc = crc32(data).to_le_bytes();
            let size = u32::try_from(data.len()).unwrap_or(0).to_le_bytes();
            let flags: u16 = if *descriptor { 8 } else { 0 };
            let head = |buf: &mut Vec<u8>, sizes: bool| {
                buf.extend_from_slice(&[20, 0]);
                buf.extend_from_slice(&flags.to_le_bytes());
                buf.extend_from_slice(&[0, 0, 0x12, 0x34, 0x56, 0x58]);
                if sizes {
                    buf.extend_from_slice(&crc);
                    buf.extend_from_slice(&size);
                    buf.extend_from_slice(&size);
                } else {
                    buf.extend_from_slice(&[0; 12]);
                }
                buf.extend_from_slice(&u16::try_from(name.len()).unwrap_or(0).to_le_bytes());
                buf.extend_from_slice(&[0, 0]);
            };
            out.extend_from_slice(&LOCAL.to_le_bytes());
            head(&mut out, !descriptor);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            if *descriptor {
                out.extend_from_slice(&DESCRIPTOR.to_le_bytes());
                out.extend_from_slice(&crc);
                out.extend_from_slice(&size);
                out.extend_from_slice(&size);
            }
            central.extend_from_slice(&CENTRAL.to_le_bytes());
            central.extend_from_slice(&[20, 3]);
            head(&mut central, true);
            central.extend_from_slice(&[0; 10]);
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let start = u32::try_from(out.len()).unwrap_or(0);
        let count = u16::try_from(parts.len()).unwrap_or(0).to_le_bytes();
        out.extend_from_slice(&central);
        out.extend_from_slice(&END.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&count);
        out.extend_from_slice(&count);
        out.extend_from_slice(&u32::try_from(central.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&u16::try_from(comment.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(comment);
        out
    }

    fn docx() -> Vec<u8> {
        zip(
            &[
                ("[Content_Types].xml", b"<Types/>", false),
                ("_rels/.rels", b"<Relationships/>", false),
                (
                    "docProps/core.xml",
                    b"<cp:coreProperties><dc:creator>Jean Dupont</dc:creator></cp:coreProperties>",
                    true,
                ),
                (
                    "docProps/app.xml",
                    b"<Properties><Company>AIMF</Company></Properties>",
                    false,
                ),
                (
                    "word/document.xml",
                    b"<w:document>Le texte</w:document>",
                    false,
                ),
            ],
            b"written by Jean",
        )
    }

    fn parts(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
        entries(zip)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let data_at =
                    30 + u16_at(e.local, 26).unwrap_or(0) + u16_at(e.local, 28).unwrap_or(0);
                let size = u32_at(e.central, 20).unwrap_or(0);
                (
                    String::from_utf8_lossy(e.name).to_string(),
                    e.local[data_at..data_at + size].to_vec(),
                )
            })
            .collect()
    }

    #[test]
    fn a_word_document_loses_its_author_and_company_and_keeps_its_text() {
        let Outcome::Cleaned(clean, true) = clean(&docx()) else {
            panic!("not cleaned");
        };
        let found = parts(&clean);
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "docProps/core.xml",
                "docProps/app.xml",
                "word/document.xml"
            ]
        );
        assert_eq!(found[2].1, PARTS[0].1.as_bytes());
        assert_eq!(found[3].1, PARTS[1].1.as_bytes());
        assert_eq!(found[4].1, b"<w:document>Le texte</w:document>");
        for secret in [&b"Jean"[..], b"AIMF"] {
            assert!(
                !clean.windows(secret.len()).any(|w| w == secret),
                "no trace left"
            );
        }
        // Cleaning again changes nothing and finds nothing.
        assert_eq!(super::clean(&clean), Outcome::Cleaned(clean.clone(), false));
    }

    #[test]
    fn archives_without_properties_and_broken_archives_are_left_as_they_are() {
        let plain = zip(&[("photo.jpg", b"...", false)], b"");
        assert_eq!(clean(&plain), Outcome::NotADocument);
        let doc = docx();
        for cut in [doc.len() - 1, doc.len() / 2, 30] {
            assert_eq!(clean(&doc[..cut]), Outcome::Unreadable, "cut at {cut}");
        }
        let mut prefixed = b"XX".to_vec();
        prefixed.extend_from_slice(&doc);
        assert_eq!(clean(&prefixed), Outcome::NotADocument);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn every_part_but_the_properties_is_kept_byte_for_byte(
            others in proptest::collection::vec(
                ("[a-z]{1,8}/[a-z]{1,8}\\.xml", proptest::collection::vec(any::<u8>(), 0..300), any::<bool>()),
                0..6),
            props in proptest::collection::vec((0usize..4, proptest::collection::vec(any::<u8>(), 0..200), any::<bool>()), 1..4),
            comment in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut list: Vec<(&str, &[u8], bool)> = others.iter().map(|(n, d, f)| (n.as_str(), d.as_slice(), *f)).collect();
            let mut seen = std::collections::BTreeSet::new();
            for (k, d, f) in &props {
                if seen.insert(*k) {
                    list.push((PARTS[*k].0, d.as_slice(), *f));
                }
            }
            let archive = zip(&list, &comment);
            let Outcome::Cleaned(clean, _) = clean(&archive) else {
                return Err(TestCaseError::fail("not cleaned"));
            };
            let found = parts(&clean);
            prop_assert_eq!(found.len(), list.len());
            for ((name, data), (want, original, _)) in found.iter().zip(&list) {
                prop_assert_eq!(name.as_str(), *want);
                match PARTS.iter().find(|(n, _)| n == want) {
                    Some((_, empty)) => prop_assert_eq!(data.as_slice(), empty.as_bytes()),
                    None => prop_assert_eq!(data.as_slice(), *original),
                }
            }
        }

        #[test]
        fn hostile_archives_never_panic_and_are_left_whole_unless_cleaned(
            body in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            let mut bytes = ZIP_MAGIC.to_vec();
            bytes.extend(body);
            prop_assert!(matches!(clean(&bytes), Outcome::NotADocument | Outcome::Unreadable | Outcome::Cleaned(..)));
        }
    }
}
