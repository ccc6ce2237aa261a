// The Secretary's login against a hostile server: whatever the server sends
// as a "challenge", the page answers only a well-formed login challenge, and
// only with a digest; under a flood of challenges it computes the proof of
// work by itself and still logs in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { launch, watchedPage, BASE, exportCases } from './harness.mjs';
import { loginAsSecretary as login } from './secretary-helpers.mjs';
import { Decrypter } from '../../static/vendor/age.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const DESCRIPTION = 'Rapport-Cible-8841 : ce texte ne doit jamais revenir au serveur.';
const PREFIX = 'vigie/login-challenge/v1\n';
const HEX = '0123456789abcdef'.repeat(4);

/** The recipients the server seals to (the Secretary's key and the backup key). */
function recipients() {
  return readFileSync(`${process.env.VIGIE_WORK}/recipients.txt`, 'utf8')
    .split('\n').map((l) => l.trim()).filter((l) => l.startsWith('age1'));
}

/** `plaintext` sealed with the stock age command to every Secretary recipient. */
function sealWithAge(plaintext) {
  const args = recipients().flatMap((r) => ['-r', r]);
  return execFileSync('age', args, { input: Buffer.from(plaintext, 'utf8') }).toString('base64');
}

/** A stored report's age file, as the server holds it, from an export. */
async function storedReport() {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  await page.selectOption('#category', 'undue_influence');
  await page.fill('#description', DESCRIPTION);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  await context.close();
  const out = exportCases();
  for (const dir of readdirSync(out)) {
    for (const f of readdirSync(`${out}/${dir}`).filter((n) => /^001-.*\.age$/.test(n))) {
      const bytes = readFileSync(`${out}/${dir}/${f}`);
      const plain = execFileSync('age', ['-d', '-i', process.env.VIGIE_PLAIN_IDENTITY], { input: bytes }).toString('utf8');
      if (plain.includes(DESCRIPTION)) return bytes.toString('base64');
    }
  }
  throw new Error('the report is not in the export');
}

/** Logs in while the "server" swaps the challenge's ciphertext for `ciphertext`. */
async function loginWithSwappedChallenge(ciphertext) {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page } = await watchedPage(context);
  const sent = [];
  page.on('request', (req) => {
    if (req.url().includes('/api/v1/secretary/sessions')) sent.push(req.postData() || '');
  });
  await page.route('**/api/v1/secretary/challenges', async (route) => {
    const response = await route.fetch();
    const json = await response.json();
    await route.fulfill({ response, json: { ...json, ciphertext } });
  });
  // The plain backup key: no passphrase to stretch, the same power to decrypt.
  await login(page, process.env.VIGIE_PLAIN_IDENTITY, '');
  await page.waitForSelector('#login-status.error', { timeout: 60000 });
  const status = await page.textContent('#login-status');
  const kept = await page.evaluate(() => sessionStorage.getItem('vigie.identities'));
  await context.close();
  return { sent, status, kept };
}

test('a stored report sent as the login challenge is refused and nothing is sent back', async () => {
  const report = await storedReport();
  const { sent, status, kept } = await loginWithSwappedChallenge(report);
  assert.deepEqual(sent, [], 'no request to /api/v1/secretary/sessions');
  assert.match(status, /autre chose qu'un défi de connexion/);
  assert.ok(!status.includes('Rapport-Cible'), 'the page does not show the report either');
  assert.equal(kept, null, 'the key is not kept');
});

test('plaintexts that only look like a challenge are refused before anything is sent', async () => {
  const table = [
    ['a trailing newline', `${PREFIX}${HEX}\n`],
    ['upper-case hexadecimal', `${PREFIX}${HEX.toUpperCase()}`],
    ['another version', `${PREFIX.replace('v1', 'v2')}${HEX}`],
    ['the random part alone', HEX],
    ['one character short', `${PREFIX}${HEX.slice(1)}`],
    ['not hexadecimal', `${PREFIX}${'g'.repeat(64)}`],
  ];
  for (const [what, plaintext] of table) {
    const { sent, status } = await loginWithSwappedChallenge(sealWithAge(plaintext));
    assert.deepEqual(sent, [], what);
    assert.match(status, /autre chose qu'un défi de connexion/, what);
  }
});

/** Answers a challenge rightly with the plain backup key, as the page would. */
async function answer({ id, ciphertext }) {
  const d = new Decrypter();
  d.addIdentity(readFileSync(process.env.VIGIE_PLAIN_IDENTITY, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1')));
  const plain = await d.decrypt(Buffer.from(ciphertext, 'base64'));
  assert.equal(plain.length, PREFIX.length + 64);
  const digest = await crypto.subtle.digest('SHA-256', Buffer.concat([Buffer.from('vigie/login-response/v1\n'), plain.subarray(PREFIX.length)]));
  const res = await fetch(`${BASE}/api/v1/secretary/sessions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id, response: Buffer.from(digest).toString('hex') }),
  });
  assert.equal(res.status, 201);
}

test('under a flood of challenges the page computes the proof of work and the Secretary logs in', async () => {
  let refused = null;
  const flood = [];
  // A challenge names the key it is for: the plain backup key's (the last
  // line of the recipients file), which `answer` below uses.
  const recipient = readFileSync(`${process.env.VIGIE_WORK}/recipients.txt`, 'utf8')
    .split('\n').filter((l) => l.startsWith('age1')).pop();
  for (let i = 0; i < 200 && !refused; i += 1) {
    const res = await fetch(`${BASE}/api/v1/secretary/challenges`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ recipient }),
    });
    if (res.status === 429) refused = await res.json();
    else { assert.equal(res.status, 201); flood.push(await res.json()); }
  }
  assert.equal(refused?.error, 'proof-of-work');
  // A cross-site "simple" request cannot even ask.
  const simple = await fetch(`${BASE}/api/v1/secretary/challenges`, { method: 'POST', body: '{}' });
  assert.equal(simple.status, 415);

  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  const asked = [];
  page.on('request', (req) => {
    if (req.url().endsWith('/api/v1/secretary/challenges')) asked.push(JSON.parse(req.postData() || '{}'));
  });
  const started = Date.now();
  await login(page);
  assert.match(page.url(), /\/fr\/secretary$/);
  assert.ok(asked.some((b) => b.proof && /^[0-9a-f]+$/.test(b.proof.nonce)), 'the page sent a proof');
  assert.ok(Date.now() - started < 60000);
  assert.deepEqual(problems.filter((p) => !p.includes('429')), []);
  await context.close();

  // Answered challenges no longer count: the flood is over for the next tests.
  for (const c of flood) await answer(c);
  const res = await fetch(`${BASE}/api/v1/secretary/challenges`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ recipient }),
  });
  assert.equal(res.status, 201, 'challenges are free again');
});
