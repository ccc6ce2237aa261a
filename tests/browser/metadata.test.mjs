// Property tests of the picture reader (static/js/metadata.js) under plain
// Node, no browser: generated JPEG and PNG pictures come out clean with
// their image data byte for byte, and truncated, mutated or random files
// never make it throw, hang, grow, or claim anything it could not follow.
//
// Deterministic: the generators are seeded. METADATA_SEED=<n> picks another
// seed and METADATA_CASES=<n> another number of cases, e.g.
//   METADATA_SEED=7 METADATA_CASES=5000 node --test tests/browser/metadata.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { inspect } from '../../static/js/metadata.js';
import { concat, crc32, rng, unzip, validDocument, validJpeg, validPdf, validPng } from './metadata-gen.mjs';

const SEED = Number(process.env.METADATA_SEED || 0x5eed);
const CASES = Number(process.env.METADATA_CASES || 300);
const sorted = (set) => [...set].sort();

test('the bit-by-bit CRC of the generators is the one PNG defines', () => {
  // The CRC of the type of an empty IEND chunk, as every PNG ends.
  assert.equal(crc32(Uint8Array.from('IEND', (c) => c.charCodeAt(0))), 0xae426082);
});

test('a generated JPEG is reported with all it carries and comes out clean with its image data intact', () => {
  const r = rng(SEED);
  for (let k = 0; k < CASES; k++) {
    const { bytes, kinds, clean, scans } = validJpeg(r);
    const info = inspect(bytes);
    assert.ok(info, `case ${k}: a valid JPEG was not followed`);
    assert.deepEqual(sorted(info.kinds), sorted(kinds), `case ${k}`);
    const out = info.strip();
    assert.deepEqual(out, clean, `case ${k}: the clean copy`);
    let at = 0;
    for (const scan of scans) {
      at = Buffer.from(out).indexOf(Buffer.from(scan), at);
      assert.ok(at > 0, `case ${k}: a scan's image data, byte for byte`);
    }
    const again = inspect(out);
    assert.ok(again, `case ${k}: the clean copy is still a JPEG the reader follows`);
    assert.equal(again.kinds.size, 0, `case ${k}: nothing left in the clean copy`);
  }
});

test('a generated PNG is reported with all it carries and comes out clean with its pixels intact', () => {
  const r = rng(SEED + 1);
  for (let k = 0; k < CASES; k++) {
    const { bytes, kinds, clean, idats } = validPng(r);
    const info = inspect(bytes);
    assert.ok(info, `case ${k}: a valid PNG was not followed`);
    assert.deepEqual(sorted(info.kinds), sorted(kinds), `case ${k}`);
    const out = info.strip();
    assert.deepEqual(out, clean, `case ${k}: the clean copy`);
    const text = Buffer.from(out).toString('latin1');
    for (const type of ['tEXt', 'zTXt', 'iTXt', 'eXIf', 'tIME']) {
      assert.ok(!text.includes(type), `case ${k}: ${type} left in the clean copy`);
    }
    assert.ok(Buffer.from(out).includes(Buffer.from(idats)), `case ${k}: the IDAT chunks, byte for byte`);
    const again = inspect(out);
    assert.ok(again, `case ${k}: the clean copy is still a PNG the reader follows`);
    assert.equal(again.kinds.size, 0, `case ${k}: nothing left in the clean copy`);
  }
});

test('a PNG cut anywhere, changed in one byte, missing IEND or followed by more bytes is not claimed', () => {
  const r = rng(SEED + 2);
  for (let k = 0; k < CASES; k++) {
    const { bytes, iendLength } = validPng(r);
    const cut = r.int(bytes.length);
    assert.equal(inspect(bytes.subarray(0, cut)), null, `case ${k}: cut at ${cut} of ${bytes.length}`);
    const at = r.int(bytes.length);
    const changed = Uint8Array.from(bytes);
    changed[at] ^= 1 + r.int(255);
    assert.equal(inspect(changed), null, `case ${k}: byte ${at} of ${bytes.length} changed`);
    assert.equal(inspect(bytes.subarray(0, bytes.length - iendLength)), null, `case ${k}: no IEND`);
    assert.equal(inspect(concat(bytes, r.bytes(1 + r.int(20)))), null, `case ${k}: bytes after IEND`);
  }
});

test('a PNG with a chunk whose length runs past the end or whose CRC is wrong is not claimed', () => {
  const r = rng(SEED + 3);
  const { bytes } = validPng(r);
  const cases = [
    ['length past the end', (b) => { b.set([0x7f, 0xff, 0xff, 0xf0], 8); }],
    ['length over 2^31', (b) => { b.set([0xff, 0xff, 0xff, 0xff], 8); }],
    ['IHDR CRC', (b) => { b[8 + 8 + 13] ^= 1; }],
    ['signature', (b) => { b[7] = 0; }],
    ['first chunk not IHDR', (b) => { b.set([0x69, 0x48, 0x44, 0x52], 12); }],
  ];
  for (const [what, change] of cases) {
    const b = Uint8Array.from(bytes);
    change(b);
    assert.equal(inspect(b), null, what);
  }
});

test('a JPEG cut anywhere, or followed by more bytes after EOI, is not claimed', () => {
  const r = rng(SEED + 4);
  for (let k = 0; k < CASES; k++) {
    const { bytes, sos } = validJpeg(r);
    const early = r.int(sos + 4);
    assert.equal(inspect(bytes.subarray(0, early)), null, `case ${k}: cut at ${early}, SOS at ${sos}`);
    const cut = r.int(bytes.length);
    assert.equal(inspect(bytes.subarray(0, cut)), null, `case ${k}: cut at ${cut} of ${bytes.length}`);
    // A second picture or a video appended after EOI, with its own metadata.
    const appended = concat(bytes, Uint8Array.of(0xff, 0xd8, 0xff, 0xe1), r.bytes(r.int(20)));
    assert.equal(inspect(appended), null, `case ${k}: bytes after EOI`);
  }
});

test('a JPEG segment whose length cannot hold itself is not claimed', () => {
  for (const len of [0, 1]) {
    const bytes = concat(Uint8Array.of(0xff, 0xd8, 0xff, 0xfe, 0, len), Uint8Array.of(0xff, 0xda, 0, 2, 1, 0xff, 0xd9));
    assert.equal(inspect(bytes), null, `length ${len}`);
  }
});

test('mutated pictures and random bytes never make the reader throw, hang or grow a file', async () => {
  // In a worker thread, so that a reader that never returns fails the test
  // instead of hanging it.
  const worker = new Worker(new URL('./metadata-gen.mjs', import.meta.url), {
    workerData: { fuzz: true, seed: SEED + 5, cases: CASES * 4 },
  });
  let timer;
  const failures = await Promise.race([
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve(['the reader did not return within 60 s']), 60_000);
    }),
  ]);
  clearTimeout(timer);
  await worker.terminate();
  assert.deepEqual(failures, []);
});

test('an Office or OpenDocument file loses its properties and keeps every other part', () => {
  const r = rng(SEED);
  for (let k = 0; k < CASES; k++) {
    const doc = validDocument(r);
    const info = inspect(doc.bytes);
    assert.ok(info, `case ${k}: a valid document was not followed`);
    assert.deepEqual([...info.kinds], ['properties'], `case ${k}`);
    const clean = info.strip();
    const parts = unzip(clean);
    assert.deepEqual([...parts.keys()], doc.parts.map((p) => p.name), `case ${k}: the same parts, in order`);
    for (const p of doc.parts) {
      const got = new TextDecoder().decode(parts.get(p.name));
      if (doc.props.includes(p.name)) assert.ok(!got.includes('Jean') && !got.includes('AIMF') && got.startsWith('<?xml'), `case ${k}: ${p.name}`);
      else assert.ok(Buffer.from(parts.get(p.name)).equals(Buffer.from(p.data)), `case ${k}: ${p.name} kept`);
    }
    assert.ok(!Buffer.from(clean).includes('Jean Dupont'), `case ${k}: no trace left`);
    const again = inspect(clean);
    assert.equal(again.kinds.size, 0, `case ${k}: nothing left to remove`);
    assert.ok(Buffer.from(again.strip()).equals(Buffer.from(clean)), `case ${k}: cleaning twice changes nothing`);
  }
});

test('a damaged document is never said to be clean', () => {
  const r = rng(SEED + 1);
  for (let k = 0; k < CASES; k++) {
    const { bytes } = validDocument(r);
    const cut = bytes.subarray(0, 4 + r.int(bytes.length - 5));
    const info = inspect(cut);
    assert.ok(info === null || info.notADocument, `case ${k}: a cut archive was followed`);
  }
});

test('a PDF loses its document information and XMP in place, every offset kept', () => {
  const r = rng(SEED + 2);
  for (let k = 0; k < CASES; k++) {
    const { bytes } = validPdf(r);
    const info = inspect(bytes);
    assert.ok(info, `case ${k}: a valid PDF was not followed`);
    assert.deepEqual(sorted(info.kinds), ['properties', 'xmp'], `case ${k}`);
    const clean = Buffer.from(info.strip());
    assert.equal(clean.length, bytes.length, `case ${k}: same length`);
    assert.ok(!clean.includes('Secret-') && !clean.includes(Buffer.from('Secret-').toString('hex')), `case ${k}: ${clean}`);
    assert.ok(clean.includes('1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>\nendobj'), `case ${k}: catalog kept`);
    const again = inspect(clean);
    assert.equal(again.kinds.size, 0, `case ${k}: nothing left`);
    assert.ok(Buffer.from(again.strip()).equals(clean), `case ${k}`);
  }
});

test('a PDF whose metadata is compressed, or not a plain object, is not claimed', () => {
  const compressed = new TextEncoder().encode('%PDF-1.7\n4 0 obj\n<< /Type /Metadata /Subtype /XML /Filter /FlateDecode /Length 2 >>\nstream\nxx\nendstream\nendobj\n');
  assert.equal(inspect(compressed), null);
  const packed = new TextEncoder().encode('%PDF-1.7\n1 0 obj\n<< /Type /XRef /Info 9 0 R >>\nstream\nxx\nendstream\nendobj\n');
  assert.equal(inspect(packed), null);
});
