// The JavaScript side of protocol v1 against the same known-answer vectors
// as the Rust side (tests/data/protocol-v1-vectors.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  derive, displayToken, parseToken, paddedLength, padJson, toHex, TokenTypo,
} from '../../static/js/protocol.js';

const file = JSON.parse(readFileSync(new URL('../data/protocol-v1-vectors.json', import.meta.url), 'utf8'));
const fromHex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));

test('every known-answer vector derives the same display form, L, SHA-256(L), K, identity and R', async () => {
  assert.equal(file.protocol, 'vigie/v1');
  assert.ok(file.vectors.length >= 8);
  for (const v of file.vectors) {
    const token = fromHex(v.token_hex);
    assert.equal(await displayToken(token), v.display, `display of ${v.token_hex}`);
    const d = await derive(token);
    assert.equal(toHex(d.lookup), v.lookup_hex, `L of ${v.token_hex}`);
    assert.equal(toHex(d.locator), v.locator_sha256_hex, `SHA-256(L) of ${v.token_hex}`);
    assert.equal(toHex(d.replyKey), v.reply_key_hex, `K of ${v.token_hex}`);
    assert.equal(d.replyIdentity, v.reply_identity, `identity of ${v.token_hex}`);
    assert.equal(d.replyRecipient, v.reply_recipient, `R of ${v.token_hex}`);
  }
});

test('every vector display form parses back however it is typed', async () => {
  for (const v of file.vectors) {
    for (const typed of [
      v.display,
      v.display.toLowerCase(),
      v.display.replaceAll('-', ' '),
      v.display.replaceAll('0', 'O').replaceAll('1', 'I'),
      v.display.toLowerCase().replaceAll('1', 'l'),
    ]) {
      assert.equal(toHex(await parseToken(typed)), v.token_hex, typed);
    }
  }
});

test('a changed symbol, a wrong length or a foreign letter is a typo', async () => {
  const display = file.vectors[3].display;
  const changed = (display[0] === 'Z' ? 'Y' : 'Z') + display.slice(1);
  for (const typed of [changed, display.slice(1), `${display}0`, 'UUUU', '']) {
    await assert.rejects(parseToken(typed), TokenTypo, typed);
  }
});

test('padding follows the same buckets as the server', () => {
  const cases = [[0, 1024], [1024, 1024], [1025, 2048], [65536, 65536], [65537, 131072], [131073, 196608]];
  for (const [len, want] of cases) assert.equal(paddedLength(len), want, String(len));
  const padded = padJson({ v: 1 });
  assert.equal(padded.length, 1024);
  assert.equal(new TextDecoder().decode(padded).trimEnd(), '{"v":1}');
});
