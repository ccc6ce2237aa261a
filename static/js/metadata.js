// Hidden information in JPEG and PNG pictures: what there is, and a copy of
// the picture without it. Everything happens in the browser, before
// encryption. Pixels are left untouched.

const u16 = (b, i, le) => (le ? b[i] | (b[i + 1] << 8) : (b[i] << 8) | b[i + 1]);
const u32 = (b, i, le) => (le
  ? (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0
  : ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0);
const ascii = (b, i, n) => String.fromCharCode(...b.subarray(i, i + n));

/** The kinds of information an EXIF (TIFF) block carries. */
function exifKinds(tiff, kinds) {
  kinds.add('exif');
  if (tiff.length < 8) return;
  const le = ascii(tiff, 0, 2) === 'II';
  const ifd = u32(tiff, 4, le);
  if (ifd + 2 > tiff.length) return;
  const count = u16(tiff, ifd, le);
  for (let k = 0; k < count; k++) {
    const at = ifd + 2 + k * 12;
    if (at + 12 > tiff.length) break;
    const tag = u16(tiff, at, le);
    if (tag === 0x8825) kinds.add('gps');
    if (tag === 0x010f || tag === 0x0110) kinds.add('camera');
    if (tag === 0x013b || tag === 0x8298) kinds.add('author');
  }
}

// A JPEG is followed marker by marker from SOI to EOI, through the image
// data of every scan (where 0xFF is followed by a stuffed 0 or a restart
// marker) and the segments between scans. A length that cannot hold itself
// or runs past the end, no EOI, or bytes after EOI (a second picture or a
// video may be appended there, with their own metadata): the reader claims
// nothing about the file.
function jpeg(bytes) {
  const kinds = new Set();
  const keep = [bytes.subarray(0, 2)];
  let i = 2;
  for (;;) {
    if (i + 2 > bytes.length || bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) { // fill byte before a marker
      i += 1;
      continue;
    }
    if (marker === 0xd9) { // end of image
      if (i + 2 !== bytes.length) return null;
      keep.push(bytes.subarray(i, i + 2));
      break;
    }
    if (i + 4 > bytes.length) return null;
    const len = u16(bytes, i + 2, false);
    if (len < 2 || i + 2 + len > bytes.length) return null;
    const segment = bytes.subarray(i, i + 2 + len);
    const data = bytes.subarray(i + 4, i + 2 + len);
    let drop = false;
    if (marker === 0xe1) {
      if (ascii(data, 0, 6) === 'Exif\0\0') exifKinds(data.subarray(6), kinds);
      else kinds.add('xmp');
      drop = true;
    } else if (marker === 0xed) {
      kinds.add('iptc');
      drop = true;
    } else if (marker === 0xfe) {
      kinds.add('comment');
      drop = true;
    } else if (marker === 0xec) {
      kinds.add('exif');
      drop = true;
    }
    if (!drop) keep.push(segment);
    i += 2 + len;
    if (marker === 0xda) { // start of scan: the image data follows, kept as it is
      let end = i;
      while (end + 1 < bytes.length
        && !(bytes[end] === 0xff && bytes[end + 1] !== 0 && (bytes[end + 1] < 0xd0 || bytes[end + 1] > 0xd7))) end += 1;
      if (end + 1 >= bytes.length) return null;
      keep.push(bytes.subarray(i, end));
      i = end;
    }
  }
  return { kinds, strip: () => concat(keep) };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 of a PNG chunk's type and data. */
function crc32(bytes) {
  let c = 0xffffffff;
  for (let k = 0; k < bytes.length; k++) c = CRC_TABLE[(c ^ bytes[k]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Every chunk is followed from the signature to IEND, each with its length
// and CRC checked: IHDR first, letters only in chunk types, nothing after
// IEND. Anything else and the reader claims nothing about the file, as for
// JPEG: saying "nothing found" or "cleaned" about a file it could not follow
// would be a lie.
function png(bytes) {
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, k) => bytes[k] !== b)) return null;
  const kinds = new Set();
  const keep = [bytes.subarray(0, 8)];
  let i = 8;
  let ended = false;
  while (!ended) {
    if (i + 12 > bytes.length) return null;
    const len = u32(bytes, i, false);
    if (len > 0x7fffffff || len > bytes.length - i - 12) return null;
    const type = ascii(bytes, i + 4, 4);
    if (!/^[A-Za-z]{4}$/.test(type)) return null;
    if ((i === 8) !== (type === 'IHDR')) return null;
    if (crc32(bytes.subarray(i + 4, i + 8 + len)) !== u32(bytes, i + 8 + len, false)) return null;
    const chunk = bytes.subarray(i, i + 12 + len);
    let drop = true;
    if (type === 'eXIf') exifKinds(bytes.subarray(i + 8, i + 8 + len), kinds);
    else if (type === 'tEXt' || type === 'zTXt' || type === 'iTXt') kinds.add('text');
    else if (type === 'tIME') kinds.add('time');
    else drop = false;
    if (!drop) keep.push(chunk);
    ended = type === 'IEND';
    i += 12 + len;
  }
  if (i !== bytes.length) return null;
  return { kinds, strip: () => concat(keep) };
}

// Office (OOXML) and OpenDocument files are ZIP archives whose properties
// parts name the author, the company and the editing times. The archive is
// rewritten with each such part replaced by an empty one (stored, dated
// 1 January 1980), every other part copied byte for byte and the archive
// comment dropped: exactly what the server does without JavaScript
// (src/domain/docprops.rs). An archive this reader does not follow exactly
// (ZIP64, bytes before or between the parts, a central directory that
// disagrees with a local header, an encrypted part) gets null.
const PARTS = [
  ['docProps/core.xml', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'],
  ['docProps/app.xml', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"/>'],
  ['docProps/custom.xml', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"/>'],
  ['meta.xml', '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2"/>'],
].map(([name, xml]) => ({ name, empty: new TextEncoder().encode(xml) }));

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
const DESCRIPTOR = 0x08074b50;

/** The parts of an archive laid out exactly, in directory order, or null. */
function zipEntries(b) {
  if (b.length < 22) return null;
  let end = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (u32(b, i, true) === END) { end = i; break; }
  }
  if (end < 0) return null;
  const count = u16(b, end + 10, true);
  const size = u32(b, end + 12, true);
  const offset = u32(b, end + 16, true);
  const comment = u16(b, end + 20, true);
  if (u16(b, end + 4, true) !== 0 || u16(b, end + 6, true) !== 0 || u16(b, end + 8, true) !== count
    || count === 0xffff || end + 22 + comment !== b.length || offset + size !== end) return null;
  const list = [];
  let at = offset;
  let nextLocal = 0;
  for (let k = 0; k < count; k++) {
    if (at + 46 > b.length || u32(b, at, true) !== CENTRAL) return null;
    const flags = u16(b, at + 8, true);
    const csize = u32(b, at + 20, true);
    const nameLen = u16(b, at + 28, true);
    const recordEnd = at + 46 + nameLen + u16(b, at + 30, true) + u16(b, at + 32, true);
    const localAt = u32(b, at + 42, true);
    if (recordEnd > b.length || (flags & 1) || csize === 0xffffffff || localAt === 0xffffffff) return null;
    const name = b.subarray(at + 46, at + 46 + nameLen);
    if (localAt !== nextLocal || localAt + 30 > b.length || u32(b, localAt, true) !== LOCAL) return null;
    const localNameLen = u16(b, localAt + 26, true);
    const localExtraLen = u16(b, localAt + 28, true);
    if (localAt + 30 + localNameLen > b.length) return null;
    const localName = b.subarray(localAt + 30, localAt + 30 + localNameLen);
    if (localName.length !== name.length || localName.some((x, i) => x !== name[i])) return null;
    let partEnd = localAt + 30 + localNameLen + localExtraLen + csize;
    if (flags & 8) {
      if (partEnd + 4 > b.length) return null;
      partEnd += u32(b, partEnd, true) === DESCRIPTOR ? 16 : 12;
    }
    if (partEnd > b.length) return null;
    list.push({ central: b.subarray(at, recordEnd), name: new TextDecoder().decode(name), local: b.subarray(localAt, partEnd) });
    nextLocal = partEnd;
    at = recordEnd;
  }
  return at === end && nextLocal === offset ? list : null;
}

const le16 = (n) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff);
const le32 = (n) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);

function zipDoc(bytes) {
  const list = zipEntries(bytes);
  if (!list) return null;
  const replaced = (name) => PARTS.find((p) => p.name === name);
  if (!list.some((e) => replaced(e.name))) return { kinds: new Set(), notADocument: true, strip: () => bytes };
  const kinds = new Set();
  for (const e of list) {
    const part = replaced(e.name);
    if (part && u32(e.central, 24, true) !== part.empty.length) kinds.add('properties');
  }
  const strip = () => {
    const out = [];
    const central = [];
    let length = 0;
    const push = (part) => { out.push(part); length += part.length; };
    for (const e of list) {
      const offset = le32(length);
      const part = replaced(e.name);
      if (part) {
        const name = new TextEncoder().encode(part.name);
        const common = concat([Uint8Array.of(20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0), le32(crc32(part.empty)),
          le32(part.empty.length), le32(part.empty.length), le16(name.length), Uint8Array.of(0, 0)]);
        push(concat([le32(LOCAL), common, name, part.empty]));
        central.push(concat([le32(CENTRAL), Uint8Array.of(20, 0), common, new Uint8Array(10), offset, name]));
      } else {
        push(e.local);
        central.push(concat([e.central.subarray(0, 42), offset, e.central.subarray(46)]));
      }
    }
    const directory = concat(central);
    return concat([...out, directory, le32(END), new Uint8Array(4), le16(list.length), le16(list.length),
      le32(directory.length), le32(length), Uint8Array.of(0, 0)]);
  };
  return { kinds, strip };
}

// A PDF's document information (author, creator, producer, title, dates)
// and its XMP metadata are blanked in place, so that every offset stays
// valid: each string of an information dictionary (named by /Info in any
// trailer or cross-reference stream, or written there inline) becomes "()"
// and spaces, and each uncompressed XMP stream becomes spaces. Exactly what
// the server does (src/domain/pdfmeta.rs). An information dictionary that is
// not a plain object (inside a compressed object stream) or a compressed XMP
// stream cannot be blanked in place: null.
const PDF_DICT_MAX = 1 << 20;
const PDF_BUDGET_SLACK = 1 << 22;
const isSpace = (c) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x0c || c === 0;
const isDelim = (c) => isSpace(c) || [0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x2f, 0x25].includes(c);
const isDigit = (c) => c >= 0x30 && c <= 0x39;
const startsAt = (b, at, s) => at + s.length <= b.length && [...s].every((ch, k) => b[at + k] === ch.charCodeAt(0));

function skipSpace(b, at) {
  while (at < b.length && isSpace(b[at])) at += 1;
  return at;
}

function pdfNumber(b, at) {
  let end = at;
  while (end < b.length && isDigit(b[end])) end += 1;
  if (end === at || end - at > 10) return null;
  return { n: Number(ascii(b, at, end - at)), end };
}

function pdfRef(b, at) {
  const num = pdfNumber(b, skipSpace(b, at));
  if (!num) return null;
  const gen = pdfNumber(b, skipSpace(b, num.end));
  if (!gen) return null;
  const r = skipSpace(b, gen.end);
  return b[r] === 0x52 && (r + 1 >= b.length || isDelim(b[r + 1])) ? num.n : null;
}

/** Where `s` first occurs in `b` from `from`, or -1. */
function findFrom(b, s, from) {
  const first = s.charCodeAt(0);
  for (let i = b.indexOf(first, from); i >= 0 && i + s.length <= b.length; i = b.indexOf(first, i + 1)) {
    if (startsAt(b, i, s)) return i;
  }
  return -1;
}

function findAll(b, s) {
  const out = [];
  for (let i = findFrom(b, s, 0); i >= 0; i = findFrom(b, s, i + 1)) out.push(i);
  return out;
}

/** The objects "N G obj" that start a line: [number, where the value starts]. */
function pdfObjects(b) {
  const out = [];
  for (const at of findAll(b, 'obj')) {
    if (at + 3 < b.length && !isDelim(b[at + 3])) continue;
    let i = at;
    const back = (digits) => {
      const start = i;
      while (i > 0 && (digits ? isDigit(b[i - 1]) : b[i - 1] === 0x20)) i -= 1;
      return i < start;
    };
    if (!(back(false) && back(true) && back(false) && back(true))) continue;
    if (i > 0 && b[i - 1] !== 0x0a && b[i - 1] !== 0x0d) continue;
    const num = pdfNumber(b, i);
    if (num) out.push([num.n, skipSpace(b, at + 3)]);
  }
  return out;
}

function stringEnd(b, at) {
  let depth = 0;
  for (let i = at; i < b.length; i++) {
    if (b[i] === 0x5c) i += 1;
    else if (b[i] === 0x28) depth += 1;
    else if (b[i] === 0x29) {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
  }
  return null;
}

function dictEnd(b, at) {
  if (!startsAt(b, at, '<<')) return null;
  let depth = 0;
  let i = at;
  while (i < b.length) {
    if (i - at > PDF_DICT_MAX) return null;
    const c = b[i];
    if (c === 0x28) {
      i = stringEnd(b, i);
      if (i === null) return null;
    } else if (c === 0x25) {
      while (i < b.length && b[i] !== 0x0a && b[i] !== 0x0d) i += 1;
    } else if (c === 0x3c && b[i + 1] === 0x3c) {
      depth += 1;
      i += 2;
    } else if (c === 0x3c) {
      const close = b.indexOf(0x3e, i + 1);
      if (close < 0) return null;
      i = close + 1;
    } else if (c === 0x3e && b[i + 1] === 0x3e) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return null;
}

/** Empties the strings of the dictionary at `at`; whether one held something, or null. */
function blankStrings(b, at, budget) {
  const end = dictEnd(b, at);
  if (end === null || budget.left < end - at) return null;
  budget.left -= end - at;
  let held = false;
  let i = at + 2;
  while (i < end - 2) {
    const c = b[i];
    if (c === 0x28) {
      const close = stringEnd(b, i);
      if (close === null) return null;
      held ||= close > i + 2;
      b[i + 1] = 0x29;
      b.fill(0x20, i + 2, close);
      i = close;
    } else if (c === 0x3c && b[i + 1] !== 0x3c) {
      const gt = b.indexOf(0x3e, i + 1);
      if (gt < 0) return null;
      const close = gt + 1;
      held ||= b.subarray(i + 1, close - 1).some((x) => !isSpace(x));
      b[i + 1] = 0x3e;
      b.fill(0x20, i + 2, close);
      i = close;
    } else if (c === 0x3c) {
      i += 2;
    } else if (c === 0x25) {
      while (i < end && b[i] !== 0x0a && b[i] !== 0x0d) i += 1;
    } else {
      i += 1;
    }
  }
  return held;
}

function pdf(bytes) {
  const b = bytes.slice();
  const objects = pdfObjects(b);
  const budget = { left: b.length * 2 + PDF_BUDGET_SLACK };
  const kinds = new Set();
  const named = findAll(b, '/Info').filter((i) => i + 5 < b.length && isDelim(b[i + 5]));
  for (const at of named) {
    const value = skipSpace(b, at + 5);
    if (startsAt(b, value, '<<')) {
      const held = blankStrings(b, value, budget);
      if (held === null) return null;
      if (held) kinds.add('properties');
      continue;
    }
    const n = pdfRef(b, at + 5);
    if (n === null) continue;
    const found = objects.filter(([m]) => m === n);
    if (!found.length) return null;
    for (const [, start] of found) {
      const held = blankStrings(b, start, budget);
      if (held === null) return null;
      if (held) kinds.add('properties');
    }
  }
  for (const [, start] of objects) {
    const end = dictEnd(b, start);
    if (end === null) continue;
    if (budget.left < end - start) return null;
    budget.left -= end - start;
    const compact = new TextDecoder('latin1').decode(b.subarray(start, end).filter((x) => !isSpace(x)));
    if (!(compact.includes('/Type/Metadata') && compact.includes('/Subtype/XML'))) continue;
    const after = skipSpace(b, end);
    if (!startsAt(b, after, 'stream')) continue;
    if (compact.includes('/Filter')) return null;
    let data = after + 6;
    if (startsAt(b, data, '\r\n')) data += 2;
    else if (startsAt(b, data, '\n')) data += 1;
    const stop = findFrom(b, 'endstream', data);
    if (stop < 0 || budget.left < stop - data) return null;
    budget.left -= stop - data;
    if (b.subarray(data, stop).some((x) => !isSpace(x))) kinds.add('xmp');
    b.fill(0x20, data, stop);
  }
  return { kinds, strip: () => b };
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * `{ kinds, strip() }` for a JPEG or PNG picture whose structure this reader
 * follows to the end, else null: then nothing is known about the file.
 */
export function inspect(bytes) {
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8) return jpeg(bytes);
  if (bytes.length > 8 && ascii(bytes, 1, 3) === 'PNG') return png(bytes);
  if (bytes.length > 3 && ascii(bytes, 0, 4) === 'PK\x03\x04') return zipDoc(bytes);
  if (bytes.length > 4 && ascii(bytes, 0, 5) === '%PDF-') return pdf(bytes);
  return null;
}
