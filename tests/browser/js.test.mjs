// The reporter's path with JavaScript: the report is encrypted in the browser
// and nothing readable leaves it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, watchedPage, BASE, screenshotPath, exportCases, decryptWithStockAge } from './harness.mjs';
import { derive, parseToken, toHex } from '../../static/js/protocol.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Every request the page makes: URL, headers and body. */
function recordRequests(page) {
  const seen = [];
  page.on('request', (req) => {
    seen.push({ url: req.url(), method: req.method(), headers: JSON.stringify(req.headers()), body: req.postData() || '' });
  });
  return seen;
}

const FIELDS = {
  description: 'Xylophone-Unique-7421 : la trésorière a reçu une commission du prestataire.',
  period: 'Période-Marqueur-Octobre',
  place: 'Lieu-Marqueur-Abidjan',
  persons: 'Personne-Marqueur-Trésorière',
  evidence: 'Preuve-Marqueur-Virement',
};

async function fillReport(page) {
  await page.selectOption('#category', 'conflict_of_interest');
  for (const [name, value] of Object.entries(FIELDS)) await page.fill(`#${name}`, value);
}

test('a report is encrypted in the browser and the server never sees the text, the token or K', async () => {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  const requests = recordRequests(page);
  await page.goto(`${BASE}/fr/report`);
  assert.match(await page.textContent('#mode-note'), /chiffré sur cet appareil/);
  await fillReport(page);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  const shown = (await page.textContent('#follow-up-token')).trim();
  assert.match(shown, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$/);
  assert.match(await page.textContent('#encryption-note'), /chiffré sur cet appareil/);
  assert.match(await page.textContent('#received-on'), /^\d{1,2}(er)? \p{L}+ \d{4}$/u);
  assert.equal(await page.locator('#report-form').count(), 0, 'the form is gone, with its text');
  await page.screenshot({ path: screenshotPath('js-receipt-fr'), fullPage: true });

  const token = await parseToken(shown);
  const d = await derive(token);
  const secrets = [
    ...Object.values(FIELDS),
    'Xylophone-Unique-7421',
    'conflict_of_interest',
    shown,
    shown.replaceAll('-', ''),
    toHex(token),
    toHex(d.replyKey),
    d.replyIdentity,
    d.replyIdentity.toLowerCase(),
  ];
  const posts = requests.filter((r) => r.method !== 'GET');
  assert.equal(posts.length, 1, 'one request sends the report');
  assert.equal(new URL(posts[0].url).pathname, '/api/v1/reports');
  const sent = JSON.parse(posts[0].body);
  assert.deepEqual(Object.keys(sent).sort(), ['attachments', 'ciphertext', 'lang', 'lookup', 'privacy_acknowledged', 'readership', 'recipient', 'submission']);
  assert.equal(sent.privacy_acknowledged, true);
  assert.equal(sent.readership, 'secretary', 'the Secretary reads it unless the reporter said otherwise');
  assert.deepEqual(sent.attachments, []);
  assert.equal(sent.lookup, toHex(d.lookup));
  assert.equal(sent.recipient, d.replyRecipient);
  // The same header shape as the server's own files: one X25519 stanza per
  // Secretary key and one for R, then a grease stanza.
  const header = Buffer.from(sent.ciphertext, 'base64').toString('latin1').split('\n---')[0];
  const types = header.split('\n').filter((l) => l.startsWith('-> ')).map((l) => l.split(' ')[1]);
  assert.deepEqual(types.slice(0, -1), ['X25519', 'X25519', 'X25519']);
  assert.match(types.at(-1), /-grease$/);
  for (const r of requests) {
    for (const s of secrets) {
      for (const part of [r.url, r.headers, r.body]) {
        assert.ok(!part.includes(s), `a request to ${r.url} carries «${s}»`);
      }
    }
  }
  assert.deepEqual(problems, [], 'no console error, CSP violation or failed request');
  await context.close();

  const out = exportCases();
  const texts = decryptWithStockAge(out);
  assert.ok(texts.some((t) => t.includes('Xylophone-Unique-7421')), 'stock age recovers the text');
  const json = JSON.parse(texts.find((t) => t.includes('Xylophone-Unique-7421')));
  assert.equal(json.type, 'report');
  assert.equal(json.category, 'conflict_of_interest');
  assert.equal(json.place, FIELDS.place);
});

test('when the server cannot be reached the text stays and nothing is sent in clear', async () => {
  const context = await browser.newContext({ locale: 'en-GB' });
  const { page } = await watchedPage(context);
  const requests = recordRequests(page);
  await page.route('**/api/v1/reports', (route) => route.abort('connectionrefused'));
  await page.goto(`${BASE}/en/report`);
  await fillReport(page);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Send the report' }).click();
  await page.waitForSelector('#js-status.error');
  assert.match(await page.textContent('#js-status'), /does not answer/);
  assert.equal(await page.inputValue('#description'), FIELDS.description, 'the text is kept');
  assert.equal(await page.isHidden('#fallback'), true, 'no fallback is offered for a network failure');
  assert.ok(requests.every((r) => !r.body.includes('Xylophone')), 'no plaintext was sent');
  await context.close();
});

test('a refusal from the server is shown and the text stays', async () => {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page } = await watchedPage(context);
  await page.route('**/api/v1/reports', (route) => route.fulfill({
    status: 400,
    contentType: 'application/json',
    body: JSON.stringify({ error: 'payload', message: 'Le texte chiffré est tronqué.' }),
  }));
  await page.goto(`${BASE}/fr/report`);
  await fillReport(page);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#js-status.error');
  assert.match(await page.textContent('#js-status'), /tronqué/);
  assert.equal(await page.inputValue('#place'), FIELDS.place);
  assert.equal(await page.isEnabled('button[type=submit]'), true, 'the reporter can try again');
  await context.close();
});

test('without WebCrypto nothing is sent until the reporter explicitly chooses server encryption', async () => {
  // A host name other than localhost over plain HTTP is not a secure context.
  const insecure = await launch(['--host-resolver-rules=MAP vigie-insecure.test 127.0.0.1']);
  try {
    const context = await insecure.newContext({ locale: 'fr-FR' });
    const { page } = await watchedPage(context);
    const requests = recordRequests(page);
    const base = BASE.replace('127.0.0.1', 'vigie-insecure.test');
    await page.goto(`${base}/fr/report`);
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    await fillReport(page);
    await page.check('#privacy-ack');
    await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
    await page.waitForSelector('#js-status.error');
    assert.match(await page.textContent('#js-status'), /ne peut pas chiffrer/);
    assert.equal(await page.isVisible('#fallback'), true, 'the choice is offered, with its explanation');
    assert.match(await page.textContent('#fallback'), /Le serveur verra donc votre texte/);
    assert.equal(requests.filter((r) => r.method === 'POST').length, 0, 'nothing was sent');
    assert.equal(await page.inputValue('#description'), FIELDS.description);
    await page.screenshot({ path: screenshotPath('js-insecure-fallback-fr'), fullPage: true });

    await page.click('#fallback-button');
    await page.waitForSelector('#follow-up-token');
    assert.match(await page.textContent('#encryption-note'), /chiffré sur notre serveur/);
    await context.close();
  } finally {
    await insecure.close();
  }
});

test('no page raises a console error or a Content-Security-Policy violation with JavaScript on', async () => {
  for (const locale of ['fr-FR', 'en-GB']) {
    const context = await browser.newContext({ locale });
    const { page, problems } = await watchedPage(context);
    const violations = [];
    await page.exposeFunction('reportViolation', (v) => violations.push(v));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`));
    });
    for (const path of ['/', '/fr/', '/en/', '/fr/report', '/en/report', '/fr/follow-up', '/en/follow-up']) {
      await page.goto(`${BASE}${path}`);
      await page.waitForLoadState('networkidle');
    }
    assert.deepEqual(problems, [], locale);
    assert.deepEqual(violations, [], locale);
    await context.close();
  }
});

test('before the form a short box gives the safety advice that matters most, on a phone too', async () => {
  for (const [lang, width, device, more] of [['fr', 390, /appareil et une connexion personnels/, 'Tous les conseils'], ['en', 1280, /personal device and connection/, 'All the advice']]) {
    const context = await browser.newContext({ locale: lang === 'fr' ? 'fr-FR' : 'en-GB', viewport: { width, height: 800 } });
    const { page, problems } = await watchedPage(context);
    await page.goto(`${BASE}/${lang}/report`);
    assert.ok(await page.locator('#safety').isVisible());
    assert.equal(await page.locator('#safety li').count(), 3);
    assert.match(await page.textContent('#safety'), device);
    assert.equal(await page.getAttribute(`#safety a:text("${more}")`, 'href'), `/${lang}/advice`);
    // The box comes before the form.
    const order = await page.evaluate(() => {
      const box = document.getElementById('safety');
      const form = document.getElementById('report-form');
      return Boolean(box.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
    assert.ok(order, 'the advice is read first');
    // The receipt no longer asks to print at work.
    assert.doesNotMatch(await page.content(), /Imprimez cette page|Print this page/);
    assert.deepEqual(problems, []);
    await context.close();
  }
});
