//! Hidden information in JPEG and PNG pictures, removed as the file streams
//! through the server (the no-JavaScript path), by the rules the browser
//! applies (`static/js/metadata.js`): EXIF, XMP, IPTC, comments, text and
//! modification time go; pixels and everything else stay byte for byte.
//!
//! The scrubber sees each byte once and buffers at most one JPEG segment
//! (64 KiB) or the beginning of one PNG `eXIf` chunk, whatever the size of
//! the file. When the structure cannot be followed (a length past the end,
//! bytes after the end of the picture, a PNG chunk with a wrong CRC), what
//! was read so far is cleaned, the rest is passed on as it is, and the
//! finding says the file could not be read to its end: the page must never
//! say "nothing found" about bytes it did not understand.

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use super::{
    docprops::{self, Outcome, ZIP_MAGIC},
    pdfmeta::{self, PDF_MAGIC},
};

/// A kind of hidden information, named as the pages name it
/// (`metadata-<kind>` in the catalogues).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Gps,
    Camera,
    Author,
    Exif,
    Xmp,
    Iptc,
    Comment,
    Text,
    Time,
    /// An Office or OpenDocument file's properties (author, company, times).
    Properties,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gps => "gps",
            Kind::Camera => "camera",
            Kind::Author => "author",
            Kind::Exif => "exif",
            Kind::Xmp => "xmp",
            Kind::Iptc => "iptc",
            Kind::Comment => "comment",
            Kind::Text => "text",
            Kind::Time => "time",
            Kind::Properties => "properties",
        }
    }
}

/// What the scrubber made of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Findings {
    /// Not a JPEG or PNG picture, nor an Office or OpenDocument file:
    /// passed on untouched.
    NotAPicture,
    /// A document too large to be held whole while it is cleaned: passed on
    /// untouched.
    TooLarge,
    /// A ZIP archive this reader could not follow: passed on untouched, its
    /// properties (if it is a document) unchecked.
    DocumentUnreadable,
    /// A picture followed to its end; these kinds were removed (none: it
    /// had none of them).
    Cleaned(BTreeSet<Kind>),
    /// A picture whose structure broke off: these kinds were removed from
    /// the part that could be read; the rest was passed on as it is.
    Unreadable(BTreeSet<Kind>),
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
/// The largest Office or OpenDocument file cleaned: it is held whole (in
/// zeroizing memory) while its properties are replaced.
pub const DOCUMENT_MAX_BYTES: usize = 16 * 1024 * 1024;
/// How much of an `eXIf` chunk is kept to look into (its first IFD).
const EXIF_PEEK: usize = 64 * 1024;

/// Removes hidden information from a JPEG or PNG as it streams through.
pub struct Scrubber {
    state: State,
    kinds: BTreeSet<Kind>,
}

#[derive(Clone, Copy)]
enum Document {
    Zip,
    Pdf,
}

enum State {
    /// The first bytes, until the kind of file is known.
    Sniffing(Vec<u8>),
    Jpeg(Jpeg),
    Png(Png),
    /// Not a picture: everything passes.
    Other,
    /// A ZIP archive (an Office or OpenDocument file?) or a PDF, held whole
    /// until its end, up to [`DOCUMENT_MAX_BYTES`].
    Held(Document, Zeroizing<Vec<u8>>),
    /// A document over that size: everything passes.
    TooLarge,
    /// The structure broke off: everything else passes.
    Broken,
}

impl Default for Scrubber {
    fn default() -> Self {
        Scrubber::new()
    }
}

impl Scrubber {
    pub fn new() -> Self {
        Scrubber {
            state: State::Sniffing(Vec::with_capacity(8)),
            kinds: BTreeSet::new(),
        }
    }

    /// Takes the next bytes of the file; what is to be kept is appended to
    /// `out`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match &mut self.state {
                State::Sniffing(head) => {
                    let take = (8 - head.len()).min(input.len());
                    head.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    if head.len() == 8 {
                        let head = std::mem::take(head);
                        if head[..2] == [0xff, 0xd8] {
                            out.extend_from_slice(&head[..2]);
                            self.state = State::Jpeg(Jpeg::default());
                            // The bytes after SOI go through the reader.
                            self.push(&head[2..], out);
                        } else if head[..4] == ZIP_MAGIC || head.starts_with(PDF_MAGIC) {
                            let kind = if head[..4] == ZIP_MAGIC {
                                Document::Zip
                            } else {
                                Document::Pdf
                            };
                            let mut held = Zeroizing::new(Vec::with_capacity(64 * 1024));
                            held.extend_from_slice(&head);
                            self.state = State::Held(kind, held);
                        } else if head == PNG_SIGNATURE {
                            out.extend_from_slice(&head);
                            self.state = State::Png(Png::default());
                        } else {
                            out.extend_from_slice(&head);
                            self.state = State::Other;
                        }
                    }
                }
                State::Jpeg(j) => {
                    let used = j.push(input, out, &mut self.kinds);
                    input = &input[used..];
                    if j.broken {
                        self.state = State::Broken;
                    }
                }
                State::Png(p) => {
                    let used = p.push(input, out, &mut self.kinds);
                    input = &input[used..];
                    if p.broken {
                        self.state = State::Broken;
                    }
                }
                State::Held(_, held) => {
                    if held.len() + input.len() > DOCUMENT_MAX_BYTES {
                        out.extend_from_slice(held);
                        out.extend_from_slice(input);
                        self.state = State::TooLarge;
                    } else {
                        held.extend_from_slice(input);
                    }
                    input = &[];
                }
                State::Other | State::Broken | State::TooLarge => {
                    out.extend_from_slice(input);
                    input = &[];
                }
            }
        }
    }

    /// The end of the file: what is still held goes to `out`, and the
    /// findings say what was done.
    pub fn finish(self, out: &mut Vec<u8>) -> Findings {
        let kinds = self.kinds;
        match self.state {
            // Too short to be a picture.
            State::Sniffing(head) => {
                out.extend_from_slice(&head);
                Findings::NotAPicture
            }
            State::Other => Findings::NotAPicture,
            State::TooLarge => Findings::TooLarge,
            State::Held(Document::Pdf, held) => {
                // Blanked on a copy: a file that turns out unreadable is
                // sent exactly as it came.
                let mut copy = Zeroizing::new(held.to_vec());
                match pdfmeta::clean(&mut copy) {
                    pdfmeta::Outcome::Cleaned { info, xmp } => {
                        out.extend_from_slice(&copy);
                        let mut kinds = kinds;
                        if info {
                            kinds.insert(Kind::Properties);
                        }
                        if xmp {
                            kinds.insert(Kind::Xmp);
                        }
                        Findings::Cleaned(kinds)
                    }
                    pdfmeta::Outcome::NotAPdf => {
                        out.extend_from_slice(&held);
                        Findings::NotAPicture
                    }
                    pdfmeta::Outcome::Unreadable => {
                        out.extend_from_slice(&held);
                        Findings::DocumentUnreadable
                    }
                }
            }
            State::Held(Document::Zip, held) => match docprops::clean(&held) {
                Outcome::NotADocument => {
                    out.extend_from_slice(&held);
                    Findings::NotAPicture
                }
                Outcome::Unreadable => {
                    out.extend_from_slice(&held);
                    Findings::DocumentUnreadable
                }
                Outcome::Cleaned(clean, held_something) => {
                    out.extend_from_slice(&clean);
                    let mut kinds = kinds;
                    if held_something {
                        kinds.insert(Kind::Properties);
                    }
                    Findings::Cleaned(kinds)
                }
            },
            State::Broken => Findings::Unreadable(kinds),
            State::Jpeg(j) => {
                if j.state == JState::End {
                    Findings::Cleaned(kinds)
                } else {
                    out.extend_from_slice(&j.raw);
                    Findings::Unreadable(kinds)
                }
            }
            State::Png(p) => {
                if p.state == PState::End {
                    Findings::Cleaned(kinds)
                } else {
                    out.extend_from_slice(&p.raw);
                    Findings::Unreadable(kinds)
                }
            }
        }
    }
}

/// The kinds an EXIF (TIFF) block names in its first directory.
fn exif_kinds(tiff: &[u8], kinds: &mut BTreeSet<Kind>) {
    kinds.insert(Kind::Exif);
    if tiff.len() < 8 {
        return;
    }
    let le = &tiff[..2] == b"II";
    let u16_at = |i: usize| -> Option<usize> {
        let b = tiff.get(i..i + 2)?;
        Some(usize::from(if le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        }))
    };
    let u32_at = |i: usize| -> Option<usize> {
        let b = tiff.get(i..i + 4)?;
        let v = if le {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        };
        usize::try_from(v).ok()
    };
    let Some(ifd) = u32_at(4) else { return };
    let Some(count) = u16_at(ifd) else { return };
    for k in 0..count {
        let Some(at) = ifd.checked_add(2 + k * 12) else {
            break;
        };
        if at.saturating_add(12) > tiff.len() {
            break;
        }
        match u16_at(at) {
            Some(0x8825) => {
                kinds.insert(Kind::Gps);
            }
            Some(0x010f | 0x0110) => {
                kinds.insert(Kind::Camera);
            }
            Some(0x013b | 0x8298) => {
                kinds.insert(Kind::Author);
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JState {
    /// A marker must start here.
    Expect,
    /// After 0xFF: the marker's code (or a fill byte).
    Code,
    /// The two bytes of a segment's length.
    Length(u8),
    /// A segment's data, this many bytes still to come.
    Segment(u8, usize),
    /// Entropy-coded data after a start of scan.
    Scan,
    /// In a scan, after 0xFF.
    ScanFf,
    /// After the end of image.
    End,
}

/// A JPEG, marker by marker, as `metadata.js` follows it.
struct Jpeg {
    state: JState,
    /// The bytes of the current marker and segment, until it is decided.
    raw: Vec<u8>,
    broken: bool,
}

impl Default for Jpeg {
    fn default() -> Self {
        Jpeg {
            state: JState::Expect,
            raw: Vec::new(),
            broken: false,
        }
    }
}

impl Jpeg {
    /// Reads from `input` until it ends or the structure breaks; returns
    /// how many bytes it used.
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>, kinds: &mut BTreeSet<Kind>) -> usize {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                JState::Expect => {
                    if b != 0xff {
                        return self.break_off(out, i);
                    }
                    self.raw.push(b);
                    self.state = JState::Code;
                    i += 1;
                }
                JState::Code => self.code(b, out, &mut i),
                JState::Length(marker) => {
                    self.raw.push(b);
                    i += 1;
                    if self.raw.len() == 4 {
                        let len = usize::from(u16::from_be_bytes([self.raw[2], self.raw[3]]));
                        if len < 2 {
                            return self.break_off(out, i);
                        }
                        self.state = JState::Segment(marker, len - 2);
                        if len == 2 {
                            self.segment_done(marker, out, kinds);
                        }
                    }
                }
                JState::Segment(marker, left) => {
                    let take = left.min(input.len() - i);
                    self.raw.extend_from_slice(&input[i..i + take]);
                    i += take;
                    self.state = JState::Segment(marker, left - take);
                    if left == take {
                        self.segment_done(marker, out, kinds);
                    }
                }
                JState::Scan => {
                    // Image data passes as it is, up to the next 0xFF.
                    let rest = &input[i..];
                    match rest.iter().position(|&x| x == 0xff) {
                        Some(at) => {
                            out.extend_from_slice(&rest[..at]);
                            i += at + 1;
                            self.state = JState::ScanFf;
                        }
                        None => {
                            out.extend_from_slice(rest);
                            i = input.len();
                        }
                    }
                }
                JState::ScanFf => {
                    if b == 0x00 || (0xd0..=0xd7).contains(&b) {
                        // A stuffed zero or a restart marker: image data.
                        out.extend_from_slice(&[0xff, b]);
                        self.state = JState::Scan;
                        i += 1;
                    } else {
                        // The scan ended at that 0xFF: a marker follows.
                        self.raw.clear();
                        self.raw.push(0xff);
                        self.state = JState::Code;
                    }
                }
                JState::End => return self.break_off(out, i),
            }
        }
        i
    }

    fn code(&mut self, b: u8, out: &mut Vec<u8>, i: &mut usize) {
        *i += 1;
        match b {
            // A fill byte: dropped.
            0xff => {}
            // End of image.
            0xd9 => {
                out.extend_from_slice(&[0xff, 0xd9]);
                self.raw.clear();
                self.state = JState::End;
            }
            marker => {
                self.raw.clear();
                self.raw.extend_from_slice(&[0xff, marker]);
                self.state = JState::Length(marker);
            }
        }
    }

    /// A whole segment is held: dropped if it is hidden information, else
    /// passed on; a start of scan opens the image data.
    fn segment_done(&mut self, marker: u8, out: &mut Vec<u8>, kinds: &mut BTreeSet<Kind>) {
        let data = &self.raw[4..];
        let drop = match marker {
            0xe1 => {
                if data.starts_with(b"Exif\0\0") {
                    exif_kinds(&data[6..], kinds);
                } else {
                    kinds.insert(Kind::Xmp);
                }
                true
            }
            0xed => {
                kinds.insert(Kind::Iptc);
                true
            }
            0xfe => {
                kinds.insert(Kind::Comment);
                true
            }
            0xec => {
                kinds.insert(Kind::Exif);
                true
            }
            _ => false,
        };
        if !drop {
            out.extend_from_slice(&self.raw);
        }
        self.raw.clear();
        self.state = if marker == 0xda {
            JState::Scan
        } else {
            JState::Expect
        };
    }

    /// The structure broke at `input[at]`: what is held passes as it is.
    fn break_off(&mut self, out: &mut Vec<u8>, at: usize) -> usize {
        out.extend_from_slice(&self.raw);
        self.raw.clear();
        self.broken = true;
        at
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PState {
    /// A chunk's length and type (8 bytes).
    Head,
    /// A chunk's data, this many bytes still to come.
    Data(usize),
    /// A chunk's CRC (4 bytes).
    Crc,
    /// After IEND.
    End,
}

/// A PNG, chunk by chunk, each CRC checked, as `metadata.js` follows it.
struct Png {
    state: PState,
    /// The bytes held: a chunk's head, a dropped chunk's beginning, a CRC.
    raw: Vec<u8>,
    chunk_type: [u8; 4],
    /// The current chunk is hidden information: it is not passed on.
    dropping: bool,
    /// The beginning of an `eXIf` chunk, to look into.
    exif: Vec<u8>,
    crc: u32,
    chunks: u64,
    broken: bool,
}

impl Default for Png {
    fn default() -> Self {
        Png {
            state: PState::Head,
            raw: Vec::new(),
            chunk_type: [0; 4],
            dropping: false,
            exif: Vec::new(),
            crc: 0,
            chunks: 0,
            broken: false,
        }
    }
}

impl Png {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>, kinds: &mut BTreeSet<Kind>) -> usize {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                PState::Head => {
                    let take = (8 - self.raw.len()).min(input.len() - i);
                    self.raw.extend_from_slice(&input[i..i + take]);
                    i += take;
                    if self.raw.len() == 8 && !self.head(out) {
                        return self.break_off(out, i);
                    }
                }
                PState::Data(left) => {
                    let take = left.min(input.len() - i);
                    let part = &input[i..i + take];
                    self.crc = crc32_update(self.crc, part);
                    if !self.dropping {
                        out.extend_from_slice(part);
                    } else if &self.chunk_type == b"eXIf" && self.exif.len() < EXIF_PEEK {
                        let room = EXIF_PEEK - self.exif.len();
                        self.exif.extend_from_slice(&part[..room.min(part.len())]);
                    }
                    i += take;
                    self.state = if left == take {
                        PState::Crc
                    } else {
                        PState::Data(left - take)
                    };
                }
                PState::Crc => {
                    let take = (4 - self.raw.len()).min(input.len() - i);
                    self.raw.extend_from_slice(&input[i..i + take]);
                    i += take;
                    if self.raw.len() == 4 {
                        let stored = u32::from_be_bytes([
                            self.raw[0],
                            self.raw[1],
                            self.raw[2],
                            self.raw[3],
                        ]);
                        if stored != self.crc ^ 0xffff_ffff {
                            if self.dropping {
                                // A dropped chunk stays dropped.
                                self.raw.clear();
                            }
                            return self.break_off(out, i);
                        }
                        self.chunk_done(out, kinds);
                    }
                }
                PState::End => return self.break_off(out, i),
            }
        }
        i
    }

    /// A chunk's head is held: checks it and decides what to do with the
    /// chunk. `false` when the structure breaks.
    fn head(&mut self, out: &mut Vec<u8>) -> bool {
        let len = u32::from_be_bytes([self.raw[0], self.raw[1], self.raw[2], self.raw[3]]);
        let mut chunk_type = [0u8; 4];
        chunk_type.copy_from_slice(&self.raw[4..8]);
        let first = self.chunks == 0;
        if len > 0x7fff_ffff
            || !chunk_type.iter().all(u8::is_ascii_alphabetic)
            || first != (&chunk_type == b"IHDR")
        {
            return false;
        }
        self.chunk_type = chunk_type;
        self.dropping = matches!(&chunk_type, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME");
        self.crc = crc32_update(0xffff_ffff, &chunk_type);
        self.exif.clear();
        if !self.dropping {
            out.extend_from_slice(&self.raw);
        }
        self.raw.clear();
        // usize holds 31 bits on every supported target.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.state = if len == 0 {
            PState::Crc
        } else {
            PState::Data(len)
        };
        true
    }

    fn chunk_done(&mut self, out: &mut Vec<u8>, kinds: &mut BTreeSet<Kind>) {
        match &self.chunk_type {
            b"eXIf" => exif_kinds(&self.exif, kinds),
            b"tEXt" | b"zTXt" | b"iTXt" => {
                kinds.insert(Kind::Text);
            }
            b"tIME" => {
                kinds.insert(Kind::Time);
            }
            _ => out.extend_from_slice(&self.raw),
        }
        self.raw.clear();
        self.exif.clear();
        self.chunks += 1;
        self.state = if &self.chunk_type == b"IEND" {
            PState::End
        } else {
            PState::Head
        };
    }

    fn break_off(&mut self, out: &mut Vec<u8>, at: usize) -> usize {
        out.extend_from_slice(&self.raw);
        self.raw.clear();
        self.broken = true;
        at
    }
}

/// CRC-32 (ISO-HDLC, PNG's), one table-driven step over `bytes`; start
/// with `0xffff_ffff` and invert at the end.
fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// CRC-32 of some bytes (PNG's and ZIP's).
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32_update(0xffff_ffff, bytes) ^ 0xffff_ffff
}

/// Scrubs a whole file at once (tests and small files).
pub fn scrub_all(bytes: &[u8]) -> (Vec<u8>, Findings) {
    let mut s = Scrubber::new();
    let mut out = Vec::with_capacity(bytes.len());
    s.push(bytes, &mut out);
    let findings = s.finish(&mut out);
    (out, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment(marker: u8, data: &[u8]) -> Vec<u8> {
        let mut s = vec![0xff, marker];
        s.extend_from_slice(&u16::try_from(data.len() + 2).unwrap_or(0).to_be_bytes());
        s.extend_from_slice(data);
        s
    }

    /// A little-endian TIFF block whose first directory names these tags.
    fn tiff(tags: &[u16]) -> Vec<u8> {
        let mut t = b"II*\0".to_vec();
        t.extend_from_slice(&8u32.to_le_bytes());
        t.extend_from_slice(&u16::try_from(tags.len()).unwrap_or(0).to_le_bytes());
        for tag in tags {
            t.extend_from_slice(&tag.to_le_bytes());
            t.extend_from_slice(&[2, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        }
        t.extend_from_slice(&[0, 0, 0, 0]);
        t
    }

    fn exif_app1(tags: &[u16]) -> Vec<u8> {
        let mut d = b"Exif\0\0".to_vec();
        d.extend(tiff(tags));
        segment(0xe1, &d)
    }

    /// A JPEG with these hidden segments, and the same without them.
    fn jpeg(hidden: &[Vec<u8>], scan: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let kept_head = [
            segment(0xe0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
            segment(0xdb, &[0u8; 65]),
            segment(0xc0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
        ];
        let sos = segment(0xda, &[1, 1, 0, 0, 0x3f, 0]);
        let mut with = vec![0xff, 0xd8];
        let mut without = vec![0xff, 0xd8];
        for (k, s) in kept_head.iter().enumerate() {
            with.extend_from_slice(s);
            without.extend_from_slice(s);
            if let Some(h) = hidden.get(k) {
                with.extend_from_slice(h);
            }
        }
        for h in hidden.iter().skip(kept_head.len()) {
            with.extend_from_slice(h);
        }
        for part in [&sos[..], scan, &[0xff, 0xd9]] {
            with.extend_from_slice(part);
            without.extend_from_slice(part);
        }
        (with, without)
    }

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = u32::try_from(data.len())
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let crc = crc32_update(crc32_update(0xffff_ffff, kind), data) ^ 0xffff_ffff;
        c.extend_from_slice(&crc.to_be_bytes());
        c
    }

    fn png(hidden: &[Vec<u8>], pixels: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let ihdr = chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        let idat = chunk(b"IDAT", pixels);
        let iend = chunk(b"IEND", &[]);
        let mut with = PNG_SIGNATURE.to_vec();
        with.extend_from_slice(&ihdr);
        let mut without = with.clone();
        for h in hidden {
            with.extend_from_slice(h);
        }
        for c in [&idat, &iend] {
            with.extend_from_slice(c);
            without.extend_from_slice(c);
        }
        (with, without)
    }

    fn kinds(list: &[Kind]) -> BTreeSet<Kind> {
        list.iter().copied().collect()
    }

    /// Scrubs in pieces cut at these points.
    fn in_pieces(bytes: &[u8], cuts: &[usize]) -> (Vec<u8>, Findings) {
        let mut s = Scrubber::new();
        let mut out = Vec::new();
        let mut at = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        for p in points {
            s.push(&bytes[at..p.max(at)], &mut out);
            at = p.max(at);
        }
        s.push(&bytes[at..], &mut out);
        let f = s.finish(&mut out);
        (out, f)
    }

    #[test]
    fn a_photo_loses_its_gps_camera_author_xmp_iptc_and_comment_and_keeps_its_pixels() {
        let scan = [0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56];
        let hidden = vec![
            exif_app1(&[0x010f, 0x8825, 0x013b]),
            segment(0xe1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"),
            segment(0xed, b"Photoshop 3.0\0"),
            segment(0xfe, b"Pris par Jean Dupont"),
        ];
        let (with, without) = jpeg(&hidden, &scan);
        let (out, found) = scrub_all(&with);
        assert_eq!(out, without);
        let all = [Kind::Exif, Kind::Gps, Kind::Camera, Kind::Author, Kind::Xmp];
        let mut expected = kinds(&all);
        expected.extend([Kind::Iptc, Kind::Comment]);
        assert_eq!(found, Findings::Cleaned(expected));
    }

    #[test]
    fn a_png_loses_its_text_time_and_exif_chunks() {
        let hidden = vec![
            chunk(b"tEXt", b"Author\0Jean"),
            chunk(b"tIME", &[7, 234, 12, 1, 10, 0, 0]),
            chunk(b"eXIf", &tiff(&[0x8825])),
            chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x/>"),
        ];
        let (with, without) = png(&hidden, &[1, 2, 3, 4]);
        let (out, found) = scrub_all(&with);
        assert_eq!(out, without);
        assert_eq!(
            found,
            Findings::Cleaned(kinds(&[Kind::Text, Kind::Time, Kind::Exif, Kind::Gps]))
        );
    }

    #[test]
    fn files_that_are_not_pictures_pass_untouched() {
        for bytes in [
            &b""[..],
            &[0xff, 0xd8, 0xff],
            b"just text, long enough to sniff",
        ] {
            let (out, found) = scrub_all(bytes);
            assert_eq!((out.as_slice(), found), (bytes, Findings::NotAPicture));
        }
    }

    #[test]
    fn an_archive_that_cannot_be_followed_is_left_whole_and_said_unchecked() {
        let bytes = b"PK\x03\x04 office, or so it says";
        assert_eq!(
            scrub_all(bytes),
            (bytes.to_vec(), Findings::DocumentUnreadable)
        );
    }

    #[test]
    fn a_picture_that_breaks_off_is_cleaned_up_to_the_break_and_said_unreadable() {
        let exif = exif_app1(&[0x8825]);
        let (with, _) = jpeg(std::slice::from_ref(&exif), &[1, 2, 3]);
        // Bytes after the end of the picture (a video appended, say).
        let mut appended = with.clone();
        appended.extend_from_slice(b"ftypmp42 moov gps");
        let (out, found) = scrub_all(&appended);
        assert_eq!(found, Findings::Unreadable(kinds(&[Kind::Exif, Kind::Gps])));
        assert!(
            out.ends_with(b"ftypmp42 moov gps"),
            "the rest passes as it is"
        );
        assert!(!out.windows(exif.len()).any(|w| w == exif.as_slice()));
        // Cut short in the middle of the image data.
        let (out, found) = scrub_all(&with[..with.len() - 3]);
        assert_eq!(found, Findings::Unreadable(kinds(&[Kind::Exif, Kind::Gps])));
        assert!(out.len() < with.len());
        // A PNG chunk whose CRC is wrong.
        let (mut png_bytes, _) = png(&[chunk(b"tEXt", b"a\0b")], &[9]);
        let last = png_bytes.len() - 1;
        png_bytes[last] ^= 1;
        assert_eq!(
            scrub_all(&png_bytes).1,
            Findings::Unreadable(kinds(&[Kind::Text]))
        );
    }

    fn hidden_jpeg_segment() -> impl Strategy<Value = (Vec<u8>, Vec<Kind>)> {
        prop_oneof![
            proptest::collection::vec(
                prop_oneof![
                    Just(0x8825u16),
                    Just(0x010f),
                    Just(0x0110),
                    Just(0x013b),
                    Just(0x8298),
                    Just(0x0112)
                ],
                0..6
            )
            .prop_map(|tags| {
                let mut k = vec![Kind::Exif];
                for t in &tags {
                    match t {
                        0x8825 => k.push(Kind::Gps),
                        0x010f | 0x0110 => k.push(Kind::Camera),
                        0x013b | 0x8298 => k.push(Kind::Author),
                        _ => {}
                    }
                }
                (exif_app1(&tags), k)
            }),
            proptest::collection::vec(any::<u8>(), 0..300)
                .prop_map(|d| (segment(0xfe, &d), vec![Kind::Comment])),
            proptest::collection::vec(any::<u8>(), 0..300)
                .prop_map(|d| (segment(0xed, &d), vec![Kind::Iptc])),
            proptest::collection::vec(any::<u8>(), 0..300)
                .prop_map(|d| (segment(0xec, &d), vec![Kind::Exif])),
        ]
    }

    /// Entropy-coded data: any bytes, with 0xFF always stuffed or a restart.
    fn scan_data() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..2000).prop_map(|raw| {
            let mut out = Vec::new();
            for (k, b) in raw.into_iter().enumerate() {
                out.push(b);
                if b == 0xff {
                    out.push(if k % 3 == 0 { 0xd0 + (k % 8) as u8 } else { 0 });
                }
            }
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_hidden_jpeg_segment_goes_whatever_the_pieces_it_arrives_in(
            hidden in proptest::collection::vec(hidden_jpeg_segment(), 0..6),
            scan in scan_data(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let segments: Vec<Vec<u8>> = hidden.iter().map(|(s, _)| s.clone()).collect();
            let expected: BTreeSet<Kind> = hidden.iter().flat_map(|(_, k)| k.clone()).collect();
            let (with, without) = jpeg(&segments, &scan);
            let (out, found) = in_pieces(&with, &cuts);
            prop_assert_eq!(out, without);
            prop_assert_eq!(found, Findings::Cleaned(expected));
        }

        #[test]
        fn every_hidden_png_chunk_goes_whatever_the_pieces_it_arrives_in(
            texts in proptest::collection::vec(
                (prop_oneof![Just(*b"tEXt"), Just(*b"zTXt"), Just(*b"iTXt"), Just(*b"tIME"), Just(*b"eXIf")],
                 proptest::collection::vec(any::<u8>(), 0..200)),
                0..5),
            pixels in proptest::collection::vec(any::<u8>(), 0..3000),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let hidden: Vec<Vec<u8>> = texts.iter().map(|(t, d)| chunk(t, d)).collect();
            let (with, without) = png(&hidden, &pixels);
            let (out, found) = in_pieces(&with, &cuts);
            prop_assert_eq!(out, without);
            prop_assert!(matches!(found, Findings::Cleaned(_)));
        }

        #[test]
        fn hostile_bytes_never_panic_never_grow_and_do_not_depend_on_how_they_arrive(
            prefix in prop_oneof![Just(vec![0xffu8, 0xd8]), Just(PNG_SIGNATURE.to_vec()), Just(ZIP_MAGIC.to_vec()), Just(Vec::new())],
            body in proptest::collection::vec(any::<u8>(), 0..3000),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut bytes = prefix;
            bytes.extend(body);
            let (whole, found) = scrub_all(&bytes);
            let (pieces, found_pieces) = in_pieces(&bytes, &cuts);
            prop_assert!(whole.len() <= bytes.len());
            prop_assert_eq!(&whole, &pieces);
            prop_assert_eq!(&found, &found_pieces);
            if matches!(found, Findings::NotAPicture | Findings::DocumentUnreadable) {
                prop_assert_eq!(&whole, &bytes);
            }
        }

        #[test]
        fn a_cleaned_picture_has_nothing_more_to_clean(
            hidden in proptest::collection::vec(hidden_jpeg_segment(), 0..4),
            scan in scan_data(),
        ) {
            let segments: Vec<Vec<u8>> = hidden.iter().map(|(s, _)| s.clone()).collect();
            let (with, _) = jpeg(&segments, &scan);
            let (once, _) = scrub_all(&with);
            let (twice, found) = scrub_all(&once);
            prop_assert_eq!(twice, once);
            prop_assert_eq!(found, Findings::Cleaned(BTreeSet::new()));
        }

        #[test]
        fn a_truncated_picture_is_never_called_clean(
            hidden in proptest::collection::vec(hidden_jpeg_segment(), 0..4),
            scan in scan_data(),
            cut in any::<usize>(),
        ) {
            let segments: Vec<Vec<u8>> = hidden.iter().map(|(s, _)| s.clone()).collect();
            let (with, _) = jpeg(&segments, &scan);
            let at = 8 + cut % (with.len() - 8);
            let (_, found) = scrub_all(&with[..at]);
            prop_assert!(matches!(found, Findings::Unreadable(_)), "{:?}", found);
        }
    }
}
