// Generators for the property tests of static/js/metadata.js (see
// metadata.test.mjs): valid JPEG and PNG pictures carrying every kind of
// hidden information the reader knows, with what a clean copy must be, and
// the mutations that break them. Seeded, so every run makes the same files.
// Run as a worker thread (workerData.fuzz) it checks the hostile inputs, so
// that the test can stop a reader that never returns.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { inspect } from '../../static/js/metadata.js';

/** A small seeded PRNG (mulberry32): the same seed, the same files. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return {
    int,
    bool: (p = 0.5) => next() < p,
    pick: (list) => list[int(list.length)],
    bytes: (n) => Uint8Array.from({ length: n }, () => int(256)),
    shuffle(list) {
      const out = [...list];
      for (let k = out.length - 1; k > 0; k--) {
        const j = int(k + 1);
        [out[k], out[j]] = [out[j], out[k]];
      }
      return out;
    },
  };
}

export const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const text = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const be16 = (n) => Uint8Array.of(n >>> 8, n & 0xff);
const be32 = (n) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/** CRC-32 bit by bit (not the reader's table), as PNG defines it. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * An EXIF (TIFF) block whose first IFD points to a GPS IFD, and sometimes
 * names the camera and the author. Returns the bytes and the kinds it holds.
 */
function exifTiff(r) {
  const le = r.bool();
  const w16 = (v, n) => v.push(...(le ? [n & 0xff, n >>> 8] : [n >>> 8, n & 0xff]));
  const w32 = (v, n) => v.push(...(le
    ? [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]
    : [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]));
  const kinds = ['exif', 'gps'];
  const entries = [[0x8825, 4, 1, 0]]; // GPS IFD pointer, patched below
  if (r.bool()) { entries.push([0x010f, 2, 4, 0x6e6f6b00]); kinds.push('camera'); } // Make
  if (r.bool()) { entries.push([0x013b, 2, 4, 0x62626100]); kinds.push('author'); } // Artist
  entries.sort((a, b) => a[0] - b[0]);
  const v = [];
  v.push(...text(le ? 'II' : 'MM'));
  w16(v, 42);
  w32(v, 8);
  const gpsAt = 8 + 2 + entries.length * 12 + 4;
  w16(v, entries.length);
  for (const [tag, type, count, value] of entries) {
    w16(v, tag);
    w16(v, type);
    w32(v, count);
    w32(v, tag === 0x8825 ? gpsAt : value);
  }
  w32(v, 0);
  // The GPS IFD: GPSLatitudeRef = "N".
  w16(v, 1);
  w16(v, 1);
  w16(v, 2);
  w32(v, 2);
  v.push(0x4e, 0, 0, 0);
  w32(v, 0);
  return { bytes: Uint8Array.from(v), kinds };
}

const segment = (marker, data) => concat(Uint8Array.of(0xff, marker), be16(data.length + 2), data);

/**
 * A valid JPEG: SOI, kept segments (APP0, DQT, SOF0, DHT) and metadata
 * segments (APP1 Exif with GPS, APP1 XMP, APP13 IPTC, COM, APP12) in any
 * order, then one or more scans (SOS and entropy-coded data, with tables and
 * sometimes a comment between them) and EOI. Returns the file, the kinds it
 * carries, the clean copy a correct reader makes, where the first SOS starts
 * and the scans.
 */
export function validJpeg(r) {
  const kinds = new Set();
  const kept = [
    segment(0xe0, text('JFIF\0\x01\x02\0\0\x01\0\x01\0\0')),
    segment(0xdb, concat(Uint8Array.of(0), r.bytes(64))),
    segment(0xc0, Uint8Array.of(8, 0, 16, 0, 16, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)),
    segment(0xc4, concat(Uint8Array.of(0), r.bytes(16 + r.int(20)))),
  ];
  const meta = [];
  const exif = exifTiff(r);
  meta.push({ seg: segment(0xe1, concat(text('Exif\0\0'), exif.bytes)), kinds: exif.kinds });
  if (r.bool()) meta.push({ seg: segment(0xe1, text('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>')), kinds: ['xmp'] });
  if (r.bool()) meta.push({ seg: segment(0xed, concat(text('Photoshop 3.0\x008BIM\x04\x04\0\0'), r.bytes(r.int(30)))), kinds: ['iptc'] });
  if (r.bool()) meta.push({ seg: segment(0xfe, text(`taken by someone ${r.int(1e6)}`)), kinds: ['comment'] });
  if (r.bool(0.3)) meta.push({ seg: segment(0xec, concat(text('Ducky'), r.bytes(8))), kinds: ['exif'] });
  const order = r.shuffle([...kept.map((seg) => ({ seg, keep: true })), ...meta]);
  const parts = [Uint8Array.of(0xff, 0xd8)];
  const clean = [Uint8Array.of(0xff, 0xd8)];
  for (const item of order) {
    if (r.bool(0.1)) parts.push(Uint8Array.of(0xff)); // a fill byte before a marker
    parts.push(item.seg);
    if (item.keep) clean.push(item.seg);
    else item.kinds.forEach((k) => kinds.add(k));
  }
  const scan = () => {
    const out = [...segment(0xda, Uint8Array.of(3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0))];
    for (let k = r.int(300); k > 0; k--) {
      const b = r.int(256);
      out.push(b);
      if (b === 0xff) out.push(r.bool(0.2) ? 0xd0 + r.int(8) : 0); // stuffing or RSTn
    }
    return Uint8Array.from(out);
  };
  const sos = parts.reduce((n, p) => n + p.length, 0);
  const scans = [scan()];
  parts.push(scans[0]);
  clean.push(scans[0]);
  // A progressive picture: more scans, with tables and metadata between them.
  for (let more = r.bool(0.4) ? 1 + r.int(3) : 0; more > 0; more--) {
    const tables = segment(0xc4, concat(Uint8Array.of(0x10), r.bytes(16 + r.int(20))));
    parts.push(tables);
    clean.push(tables);
    if (r.bool(0.3)) {
      parts.push(segment(0xfe, text('between scans')));
      kinds.add('comment');
    }
    scans.push(scan());
    parts.push(scans.at(-1));
    clean.push(scans.at(-1));
  }
  parts.push(Uint8Array.of(0xff, 0xd9));
  clean.push(Uint8Array.of(0xff, 0xd9));
  const bytes = concat(...parts);
  return { bytes, kinds, clean: concat(...clean), sos, scans };
}

const chunk = (type, data) => {
  const body = concat(text(type), data);
  return concat(be32(data.length), body, be32(crc32(body)));
};

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/**
 * A valid PNG: IHDR, kept chunks (sRGB, gAMA, pHYs), metadata chunks (tEXt,
 * zTXt, iTXt, eXIf, tIME) before or after the IDAT chunks, and IEND, all with
 * correct CRCs. Returns the file, its kinds, the clean copy and the IDATs.
 */
export function validPng(r) {
  const kinds = new Set();
  const ihdr = chunk('IHDR', concat(be32(1 + r.int(64)), be32(1 + r.int(64)), Uint8Array.of(8, 2, 0, 0, 0)));
  const kept = [
    chunk('sRGB', Uint8Array.of(0)),
    chunk('gAMA', be32(45455)),
    chunk('pHYs', concat(be32(2835), be32(2835), Uint8Array.of(1))),
  ].filter(() => r.bool(0.7)).map((c) => ({ c, keep: true }));
  const meta = [];
  if (r.bool(0.7)) meta.push({ c: chunk('tEXt', text(`Author\0someone ${r.int(1e6)}`)), kind: 'text' });
  if (r.bool(0.5)) meta.push({ c: chunk('zTXt', concat(text('Comment\0\0'), r.bytes(r.int(40)))), kind: 'text' });
  if (r.bool(0.5)) meta.push({ c: chunk('iTXt', text('XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>')), kind: 'text' });
  if (r.bool(0.7)) {
    const exif = exifTiff(r);
    meta.push({ c: chunk('eXIf', exif.bytes), kinds: exif.kinds });
  }
  if (r.bool(0.5)) meta.push({ c: chunk('tIME', Uint8Array.of(7, 234, 12, 1, 10, 20, 30)), kind: 'time' });
  const idats = Array.from({ length: 1 + r.int(3) }, () => chunk('IDAT', r.bytes(r.int(200))));
  const before = [];
  const after = [];
  for (const item of r.shuffle([...kept, ...meta])) (item.keep || r.bool() ? before : after).push(item);
  const parts = [PNG_SIGNATURE, ihdr];
  const clean = [PNG_SIGNATURE, ihdr];
  const add = (item) => {
    parts.push(item.c);
    if (item.keep) clean.push(item.c);
    else if (item.kinds) item.kinds.forEach((k) => kinds.add(k));
    else kinds.add(item.kind);
  };
  before.forEach(add);
  parts.push(...idats);
  clean.push(...idats);
  after.forEach(add);
  const iend = chunk('IEND', new Uint8Array(0));
  parts.push(iend);
  clean.push(iend);
  return { bytes: concat(...parts), kinds, clean: concat(...clean), idats: concat(...idats), iendLength: iend.length };
}

const le16 = (n) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff);
const le32 = (n) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
const utf8 = (s) => new TextEncoder().encode(s);

/**
 * A ZIP archive, as office suites write them: deflated or stored parts,
 * some with a data descriptor, a comment at the end.
 */
export function zipOf(parts, comment = new Uint8Array(0)) {
  const out = [];
  const central = [];
  let length = 0;
  for (const { name, data, deflate, descriptor } of parts) {
    const body = deflate ? new Uint8Array(deflateRawSync(data)) : data;
    const n = utf8(name);
    const head = (sizes) => concat(le16(20), le16(descriptor ? 8 : 0), le16(deflate ? 8 : 0), Uint8Array.of(0x12, 0x34, 0x56, 0x58),
      sizes ? concat(le32(crc32(data)), le32(body.length), le32(data.length)) : new Uint8Array(12), le16(n.length), le16(0));
    const local = concat(le32(0x04034b50), head(!descriptor), n, body,
      descriptor ? concat(le32(0x08074b50), le32(crc32(data)), le32(body.length), le32(data.length)) : new Uint8Array(0));
    central.push(concat(le32(0x02014b50), le16(0x314), head(true), new Uint8Array(10), le32(length), n));
    out.push(local);
    length += local.length;
  }
  const directory = concat(...central);
  return concat(...out, directory, le32(0x06054b50), new Uint8Array(4), le16(parts.length), le16(parts.length),
    le32(directory.length), le32(length), le16(comment.length), comment);
}

/** The parts of a ZIP archive, inflated: name to bytes (for the tests' checks). */
export function unzip(bytes) {
  const parts = new Map();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = bytes.length - 22;
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end -= 1;
  let at = view.getUint32(end + 16, true);
  for (let k = view.getUint16(end + 10, true); k > 0; k--) {
    const method = view.getUint16(at + 10, true);
    const size = view.getUint32(at + 20, true);
    const nameLen = view.getUint16(at + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLen));
    const local = view.getUint32(at + 42, true);
    const data = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const raw = bytes.subarray(data, data + size);
    parts.set(name, method === 8 ? new Uint8Array(inflateRawSync(raw)) : raw);
    at += 46 + nameLen + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return parts;
}

/**
 * A Word (or OpenDocument) file whose properties name its author: the
 * archive, its parts, and the names of the properties parts it holds.
 */
export function validDocument(r) {
  const odf = r.bool(0.3);
  const parts = odf
    ? [{ name: 'mimetype', data: utf8('application/vnd.oasis.opendocument.text') },
      { name: 'content.xml', data: utf8(`<office:document-content>Texte ${r.int(1e6)}</office:document-content>`), deflate: true },
      { name: 'meta.xml', data: utf8(`<office:document-meta><meta:initial-creator>Jean Dupont ${r.int(1e6)}</meta:initial-creator></office:document-meta>`), deflate: true }]
    : [{ name: '[Content_Types].xml', data: utf8('<Types/>'), deflate: true },
      { name: '_rels/.rels', data: utf8('<Relationships/>'), deflate: true },
      { name: 'word/document.xml', data: utf8(`<w:document>Le texte ${r.int(1e6)}</w:document>`), deflate: true },
      { name: 'docProps/core.xml', data: utf8(`<cp:coreProperties><dc:creator>Jean Dupont ${r.int(1e6)}</dc:creator></cp:coreProperties>`), deflate: true },
      ...(r.bool() ? [{ name: 'docProps/app.xml', data: utf8('<Properties><Company>AIMF</Company></Properties>'), deflate: r.bool() }] : []),
      ...(r.bool(0.3) ? [{ name: 'docProps/custom.xml', data: utf8('<Properties><property>Projet</property></Properties>') }] : []),
      { name: 'word/media/image1.png', data: r.bytes(r.int(400)) }];
  for (const p of parts) p.descriptor = r.bool(0.3);
  const ordered = odf ? parts : [parts[0], ...r.shuffle(parts.slice(1))];
  const props = ordered.map((p) => p.name).filter((n) => n.startsWith('docProps/') || n === 'meta.xml');
  return { bytes: zipOf(ordered, r.bool() ? utf8('Jean Dupont') : new Uint8Array(0)), parts: ordered, props };
}

/**
 * A PDF whose information dictionary (literal strings with escapes and
 * nested parentheses, hex strings), XMP stream and, sometimes, incremental
 * update carry "Secret-" values; the pages and catalog carry none.
 */
export function validPdf(r) {
  const literal = () => {
    const bits = ['Secret-', `${r.int(1e6)}`];
    for (let k = r.int(4); k > 0; k--) bits.push(r.pick(['\\(', '\\)', '\\\\', `(${r.int(99)})`, ' é ', 'ab']));
    return `(${bits.join('')})`;
  };
  const hex = () => `<${Buffer.from(`Secret-${r.int(1e6)}`).toString('hex')}>`;
  const keys = r.shuffle(['Author', 'Creator', 'Producer', 'Title', 'Subject', 'Keywords', 'CreationDate']).slice(0, 1 + r.int(6));
  const info = keys.map((k) => `/${k}${r.bool() ? ' ' : ''}${r.bool(0.3) ? hex() : literal()}`).join(r.pick([' ', '\n', '']));
  const xmp = `<x:xmpmeta><dc:creator>Secret-${r.int(1e6)}</dc:creator></x:xmpmeta>`;
  let pdf = `%PDF-1.${r.int(8)}\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>\nendobj\n`
    + '2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n'
    + `3 0 obj\n<<${info}>>\nendobj\n`
    + `4 0 obj\n<< /Type /Metadata /Subtype /XML /Length ${xmp.length} >>\nstream${r.bool() ? '\r\n' : '\n'}${xmp}\nendstream\nendobj\n`
    + 'xref\n0 5\n0000000000 65535 f \ntrailer\n<< /Size 5 /Root 1 0 R /Info 3 0 R >>\nstartxref\n0\n%%EOF\n';
  if (r.bool()) pdf += `3 0 obj\n<</Author${literal()}>>\nendobj\ntrailer\n<< /Size 5 /Root 1 0 R /Info 3 0 R /Prev 0 >>\nstartxref\n0\n%%EOF\n`;
  return { bytes: new TextEncoder().encode(pdf) };
}

/** One to four random edits: flip, insert, delete or cut. */
export function mutate(r, bytes) {
  let out = [...bytes];
  for (let n = 1 + r.int(4); n > 0; n--) {
    const at = r.int(out.length + 1);
    switch (r.int(4)) {
      case 0: if (at < out.length) out[at] ^= 1 + r.int(255); break;
      case 1: out.splice(at, 0, r.pick([0, 0xff, 0xd8, 0xda, 0xd9, r.int(256)])); break;
      case 2: out.splice(at, 1); break;
      default: out = out.slice(0, at);
    }
  }
  return Uint8Array.from(out);
}

/**
 * Runs the reader on one input and says what is wrong, if anything: it must
 * not throw, and a clean copy must not be larger than the input, nor throw
 * when read again.
 */
export function misbehaviour(bytes) {
  try {
    const info = inspect(bytes);
    if (info === null) return null;
    if (!(info.kinds instanceof Set)) return 'kinds is not a set';
    const clean = info.strip();
    if (!(clean instanceof Uint8Array)) return 'the clean copy is not bytes';
    if (clean.length > bytes.length) return `the clean copy grew from ${bytes.length} to ${clean.length} bytes`;
    inspect(clean);
    return null;
  } catch (e) {
    return `threw ${e}`;
  }
}

/** The hostile inputs: mutated pictures and random bytes, `cases` of each. */
export function fuzz(seed, cases) {
  const r = rng(seed);
  const failures = [];
  const check = (what, bytes) => {
    const wrong = misbehaviour(bytes);
    if (wrong && failures.length < 10) failures.push(`${what} (${bytes.length} bytes, seed ${seed}): ${wrong}`);
  };
  for (let k = 0; k < cases; k++) {
    check('mutated JPEG', mutate(r, validJpeg(r).bytes));
    check('mutated PNG', mutate(r, validPng(r).bytes));
    const noise = r.bytes(r.int(2000));
    check('random bytes', noise);
    check('random bytes after a JPEG SOI', concat(Uint8Array.of(0xff, 0xd8), noise));
    check('random bytes after a PNG signature', concat(PNG_SIGNATURE, noise));
    check('random JPEG segments', concat(Uint8Array.of(0xff, 0xd8), ...Array.from({ length: r.int(8) }, () => (
      concat(Uint8Array.of(0xff, r.pick([0xe1, 0xed, 0xfe, 0xda, 0xff, 0xd9, r.int(256)])), be16(r.int(40)), r.bytes(r.int(40)))
    ))));
  }
  return failures;
}

if (!isMainThread && workerData?.fuzz) {
  parentPort.postMessage(fuzz(workerData.seed, workerData.cases));
}
