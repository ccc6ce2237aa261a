// Protocol v1 in the browser: the follow-up token, its display form, what it
// derives (L, K, R), padding, and sealing a plaintext with age. The same
// known-answer vectors as the server's are checked against this module.
import {
  Decrypter, Encrypter, Stanza, X25519Recipient, bech32, encodeHeader, encodeHeaderNoMAC,
  hkdf as hkdfHash, hmac, identityToRecipient, sha256 as sha256Hash,
} from '../vendor/age.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SYMBOLS = 28;
const utf8 = new TextEncoder();

export class TokenTypo extends Error {}

/** True when this page can use WebCrypto (a secure context). */
export function cryptoAvailable() {
  return Boolean(globalThis.isSecureContext !== false && globalThis.crypto && globalThis.crypto.subtle);
}

/** 16 bytes from the browser's CSPRNG. */
export function generateToken() {
  return crypto.getRandomValues(new Uint8Array(16));
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

function getBit(bytes, pos) {
  return (bytes[pos >> 3] >> (7 - (pos & 7))) & 1;
}

/** The display form: 7 groups of 4 Crockford base32 symbols. */
export async function displayToken(token) {
  const check = await sha256(token);
  const bits = new Uint8Array(18);
  bits.set(token);
  bits[16] = check[0];
  bits[17] = check[1] & 0xf0;
  let out = '';
  for (let i = 0; i < SYMBOLS; i++) {
    if (i > 0 && i % 4 === 0) out += '-';
    let v = 0;
    for (let b = 0; b < 5; b++) v = (v << 1) | getBit(bits, i * 5 + b);
    out += ALPHABET[v];
  }
  bits.fill(0);
  return out;
}

/** Reads a token as typed: case, spaces and hyphens ignored, O→0, I/L→1. */
export async function parseToken(typed) {
  const values = [];
  for (const raw of typed) {
    if (raw === '-' || /\s/.test(raw)) continue;
    let c = raw.toUpperCase();
    if (c === 'O') c = '0';
    if (c === 'I' || c === 'L') c = '1';
    const v = ALPHABET.indexOf(c);
    if (v < 0 || values.length === SYMBOLS) throw new TokenTypo();
    values.push(v);
  }
  if (values.length !== SYMBOLS) throw new TokenTypo();
  const bits = new Uint8Array(18);
  values.forEach((v, i) => {
    for (let b = 0; b < 5; b++) {
      if (v & (0x10 >> b)) {
        const pos = i * 5 + b;
        bits[pos >> 3] |= 0x80 >> (pos & 7);
      }
    }
  });
  const token = bits.slice(0, 16);
  const check = await sha256(token);
  const ok = bits[16] === check[0] && (bits[17] & 0xf0) === (check[1] & 0xf0);
  bits.fill(0);
  if (!ok) {
    token.fill(0);
    throw new TokenTypo();
  }
  return token;
}

async function hkdf(token, info) {
  const key = await crypto.subtle.importKey('raw', token, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode('vigie/v1'), info: utf8.encode(info) },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/** L, SHA-256(L), K, K as an age identity, and R, from a token. */
export async function derive(token) {
  const lookup = await hkdf(token, 'lookup');
  const locator = await sha256(lookup);
  const replyKey = await hkdf(token, 'reply-identity');
  const replyIdentity = bech32.encode('age-secret-key-', bech32.toWords(replyKey), 90).toUpperCase();
  const replyRecipient = await identityToRecipient(replyIdentity);
  return { lookup, locator, replyKey, replyIdentity, replyRecipient };
}

/** The padding bucket of a plaintext of `len` bytes. */
export function paddedLength(len) {
  if (len <= 1024) return 1024;
  if (len <= 65536) return 2 ** Math.ceil(Math.log2(len));
  return Math.ceil(len / 65536) * 65536;
}

/** The protocol v1 plaintext: JSON padded with trailing spaces. */
export function padJson(object) {
  const json = utf8.encode(JSON.stringify(object));
  const out = new Uint8Array(paddedLength(json.length)).fill(0x20);
  out.set(json);
  json.fill(0);
  return out;
}

function randomInt(below) {
  return crypto.getRandomValues(new Uint32Array(1))[0] % below;
}

function arbitraryString() {
  let s = '';
  for (let i = 0, n = 1 + randomInt(8); i < n; i++) s += String.fromCharCode(33 + randomInt(94));
  return s;
}

/**
 * A random "grease" stanza drawn exactly as the Rust age crate draws its own
 * (tag of 1–8 printable characters + "-grease", 0–4 arguments of 1–8, body of
 * 0–99 random bytes), so that a file sealed here cannot be told from one the
 * server sealed on the no-JavaScript path.
 */
const grease = {
  wrapFileKey() {
    const args = [`${arbitraryString()}-grease`];
    for (let i = 0, n = randomInt(5); i < n; i++) args.push(arbitraryString());
    return [new Stanza(args, crypto.getRandomValues(new Uint8Array(randomInt(100))))];
  },
};

/**
 * Encrypts to every Secretary recipient and to the reporter's own R. Takes
 * bytes or a ReadableStream (then returns a stream, encrypted as it is read).
 */
export async function seal(plaintext, secretaryRecipients, replyRecipient) {
  const e = new Encrypter();
  for (const r of secretaryRecipients) e.addRecipient(r);
  e.addRecipient(replyRecipient);
  e.addRecipient(grease);
  return e.encrypt(plaintext);
}

/**
 * A new age header for a file whose header is `header` (its first bytes,
 * the whole header at least): the same file key, unwrapped with one of
 * `identities` (the header's MAC checked), wrapped to `recipients` (age1…)
 * and a grease stanza, as `seal` does. The file's payload stays valid under
 * it, so re-sealing a file for other readers never touches its content.
 */
export async function rewrapHeader(header, identities, recipients) {
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  const fileKey = await d.decryptHeader(header);
  try {
    const stanzas = [];
    for (const r of recipients) stanzas.push(...await new X25519Recipient(r).wrapFileKey(fileKey));
    stanzas.push(...grease.wrapFileKey());
    const hmacKey = hkdfHash(sha256Hash, fileKey, undefined, new TextEncoder().encode('header'), 32);
    return encodeHeader(stanzas, hmac(sha256Hash, hmacKey, encodeHeaderNoMAC(stanzas)));
  } finally {
    fileKey.fill(0);
  }
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function fromBase64(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
