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
  return null;
}
