// The whole loop in a real browser: a report encrypted by the reporter's
// browser, then the Secretary logs in with the identity file, reads,
// acknowledges, replies and closes, and no plaintext ever reaches the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launch, watchedPage, BASE, screenshotPath, exportCases, decryptWithStockAge } from './harness.mjs';
import { caseIdOf, inboxPageWith, loginAsSecretary as login } from './secretary-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const DESCRIPTION = 'Orchidée-Secrète-5512 : le directeur impose ses conclusions au rapport annuel.';
const ACK = 'Accusé-Réception-Marqueur : bien reçu, nous examinons.';
const REPLY = 'Réponse-Marqueur-Question : pouvez-vous préciser les dates ?';
const CLOSING = 'Clôture-Marqueur : des mesures ont été prises.';

function recordRequests(page) {
  const seen = [];
  page.on('request', (req) => seen.push({ url: req.url(), headers: JSON.stringify(req.headers()), body: req.postData() || '' }));
  return seen;
}

async function reportWithJavaScript() {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  await page.selectOption('#category', 'undue_influence');
  await page.fill('#description', DESCRIPTION);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  const token = (await page.textContent('#follow-up-token')).trim();
  await context.close();
  return token;
}

test('the Secretary logs in with the key file, reads the report, acknowledges, replies and closes', async () => {
  const token = await reportWithJavaScript();
  const caseId = await caseIdOf(token);

  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  const requests = recordRequests(page);
  await login(page);
  await inboxPageWith(page, caseId);
  assert.ok(await page.locator(`tr[data-case="${caseId}"]`).count() === 1, 'the case is in the inbox');
  await page.screenshot({ path: screenshotPath('secretary-inbox-fr'), fullPage: true });

  await page.click(`tr[data-case="${caseId}"] a`);
  await page.waitForSelector('.entry-report .text');
  assert.equal((await page.textContent('.entry-report .text')).trim(), DESCRIPTION);
  assert.match(await page.textContent('.entry-report .report'), /Pression ou influence indue/);

  await page.fill('#ack-message', ACK);
  await page.getByRole('button', { name: 'Accuser réception' }).click();
  await page.waitForSelector('#reply-form');
  assert.match(await page.textContent('#case-status'), /Réception accusée/);
  await page.waitForFunction((t) => [...document.querySelectorAll('.entry-reply .text')].some((e) => e.textContent === t), ACK);

  await page.fill('#reply-message', REPLY);
  await page.check('#reply-feedback');
  await page.getByRole('button', { name: 'Envoyer la réponse' }).click();
  await page.waitForFunction((t) => [...document.querySelectorAll('.entry-reply .text')].some((e) => e.textContent === t), REPLY);
  await page.waitForSelector('#feedback-given');

  await page.selectOption('#close-reason', 'measures_taken');
  await page.fill('#close-message', CLOSING);
  // Closing cannot be undone: the browser asks for the confirmation first.
  await page.getByRole('button', { name: 'Clôturer le dossier' }).click();
  assert.equal(await page.locator('#closed-note').count(), 0, 'not closed without the confirmation');
  await page.check('#close-confirm');
  await page.getByRole('button', { name: 'Clôturer le dossier' }).click();
  await page.waitForSelector('#closed-note');
  assert.match(await page.textContent('#case-status'), /Clôturé — Mesures prises/);
  await page.waitForFunction((t) => [...document.querySelectorAll('.entry-reply .text')].some((e) => e.textContent === t), CLOSING);
  assert.equal(await page.locator('#reply-form').count(), 0, 'a closed case cannot be answered');
  await page.screenshot({ path: screenshotPath('secretary-case-closed-fr'), fullPage: true });
  assert.match(await page.textContent('#case-journal'), /Réception accusée/);

  // Nothing readable went to the server: not the report, not the replies, not the key.
  for (const r of requests) {
    for (const secret of [DESCRIPTION, ACK, REPLY, CLOSING, 'Orchidée', 'AGE-SECRET-KEY', process.env.VIGIE_IDENTITY_PASSPHRASE]) {
      for (const part of [r.url, r.headers, r.body]) assert.ok(!part.includes(secret), `${r.url} carries «${secret}»`);
    }
  }
  assert.deepEqual(problems, []);

  // Figures by category are counted in this browser after decryption.
  await page.goto(`${BASE}/fr/secretary/figures`);
  await page.click('#figures-categories');
  await page.waitForSelector('#category-figures td[data-category="undue_influence"]');
  assert.ok(Number(await page.textContent('#category-figures td[data-category="undue_influence"]')) >= 1);

  // Logging out forgets the key in this tab.
  await page.click('#logout');
  await page.waitForURL(/\/fr\/secretary\/login/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await page.goto(`${BASE}/fr/secretary`);
  assert.match(page.url(), /\/secretary\/login/);
  await context.close();

  // The thread decrypts offline with the stock age command, in order.
  const texts = decryptWithStockAge(exportCases()).join('\n');
  for (const t of [DESCRIPTION, ACK, REPLY, CLOSING]) assert.ok(texts.includes(t), t);
});

test('a wrong passphrase and a key that is not a recipient get clear messages', async () => {
  const wrongKey = `${process.env.VIGIE_WORK}/stranger.key`;
  execFileSync(process.env.VIGIE_BIN, ['keygen', '--out', wrongKey], { stdio: 'ignore' });
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page } = await watchedPage(context);
  await login(page, process.env.VIGIE_IDENTITY, 'not the passphrase');
  await page.waitForSelector('#login-status.error', { timeout: 60000 });
  assert.match(await page.textContent('#login-status'), /phrase de passe n'ouvre pas/);
  await login(page, wrongKey);
  await page.waitForSelector('#login-status.error');
  assert.match(await page.textContent('#login-status'), /ne correspond à aucun destinataire/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('vigie.identities')), null);
  await context.close();
});

test('without JavaScript the workspace says it needs it and points to the offline path', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'en-GB' });
  const page = await context.newPage();
  await page.goto(`${BASE}/en/secretary/login`);
  assert.match(await page.textContent('noscript'), /vigie export/);
  await context.close();
});

test('the login page shows no "Log out", and its passphrase field looks like the others', async () => {
  for (const width of [1280, 390]) {
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width, height: 800 } });
    const { page, problems } = await watchedPage(context);
    await page.goto(`${BASE}/fr/secretary/login`);
    assert.equal(await page.locator('#logout').isVisible(), false, `no logout button at ${width}px`);
    const style = (selector) => page.$eval(selector, (el) => {
      const s = getComputedStyle(el);
      return { display: s.display, border: s.borderTopWidth, padding: s.paddingTop };
    });
    const field = await style('#passphrase');
    assert.equal(field.display, 'block');
    assert.equal(field.padding, '8px', 'styled like the other fields');
    assert.deepEqual(problems, []);
    await context.close();
  }
});

test('a reply typed while the session expires is kept, sealed, and comes back after logging in again', async () => {
  const token = await reportWithJavaScript();
  const caseId = await caseIdOf(token);
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await login(page);
  await page.goto(`${BASE}/fr/secretary/cases/${caseId}`);
  await page.waitForSelector('.entry-report .text');
  const draft = `Brouillon-Marqueur-${Date.now()} : merci, nous examinons votre signalement.`;
  await page.fill('#ack-message', draft);
  // The tab keeps the draft sealed to the case's readers, never in clear.
  await page.waitForFunction(() => Object.keys(sessionStorage).some((k) => k.startsWith('vigie.draft.')));
  const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
  assert.ok(!stored.includes('Brouillon-Marqueur'), 'no draft in clear in the tab');

  // The server forgets the session (as after its idle time-out).
  await context.clearCookies();
  await page.getByRole('button', { name: 'Accuser réception' }).click();
  await page.waitForURL(/\/fr\/secretary\/login\?expired=1/);
  assert.match(await page.textContent('#login-expired'), /session/i);

  await login(page, process.env.VIGIE_IDENTITY, process.env.VIGIE_IDENTITY_PASSPHRASE, `${BASE}/fr/secretary/cases/${caseId}`);
  await page.waitForFunction((t) => document.getElementById('ack-message')?.value === t, draft);
  assert.match(await page.textContent('#action-status'), /brouillon a été rétabli/);

  // Sent, the draft is forgotten; a deliberate logout forgets every draft.
  await page.getByRole('button', { name: 'Accuser réception' }).click();
  await page.waitForSelector('#reply-form');
  assert.equal(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('vigie.draft.')).length), 0);
  await page.fill('#reply-message', 'Un autre brouillon');
  await page.waitForFunction(() => Object.keys(sessionStorage).some((k) => k.startsWith('vigie.draft.')));
  await page.click('#logout');
  await page.waitForURL(/\/fr\/secretary\/login/);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await context.close();
});

test('inbox rows show, decrypted in the browser, the category, the first words and a reference, and mark likely duplicates', async () => {
  // In the Bureau's inbox, which the other tests leave short: one page.
  const twice = `Doublon-Marqueur-${Date.now()} : la même plainte envoyée deux fois par erreur, avec beaucoup de détails qui suivent ici.`;
  const reportOf = async (text, category) => {
    const context = await browser.newContext({ locale: 'fr-FR' });
    const page = await context.newPage();
    await page.goto(`${BASE}/fr/report`);
    await page.check('#readership-bureau');
    await page.selectOption('#category', category);
    await page.fill('#description', text);
    await page.check('#privacy-ack');
    await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
    const token = (await page.textContent('#follow-up-token')).trim();
    await context.close();
    return caseIdOf(token, 'bureau');
  };
  const first = await reportOf(twice, 'funds');
  const second = await reportOf(`  ${twice.toUpperCase()}  `, 'funds');
  const other = await reportOf(`Unique-Marqueur-${Date.now()}`, 'discrimination');

  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  const requests = recordRequests(page);
  await login(page, process.env.VIGIE_BUREAU_IDENTITY, '');
  await page.waitForURL(`${BASE}/fr/secretary`, { timeout: 60000 });
  const row = (id) => page.locator(`tr[data-case="${id}"]`);
  await page.waitForFunction((id) => document.querySelector(`tr[data-case="${id}"] td.excerpt strong`), other);
  assert.match(await row(other).locator('td.excerpt').textContent(), /Discrimination.*Unique-Marqueur/s);
  assert.equal(await row(other).locator('.reference').textContent(), other.slice(0, 8));
  assert.equal(await row(other).locator('.badge.duplicate').count(), 0);
  await page.waitForFunction((id) => document.querySelector(`tr[data-case="${id}"] td.excerpt strong`), first);
  assert.match(await row(first).locator('td.excerpt').textContent(), /Doublon-Marqueur-\d+ : la même plainte/);
  const badges = [...await row(first).locator('.badge.duplicate').allTextContents(), ...await row(second).locator('.badge.duplicate').allTextContents()];
  assert.equal(badges.length, 1, 'one of the two is marked');
  assert.match(badges[0], new RegExp(`Doublon probable de (${first.slice(0, 8)}|${second.slice(0, 8)})`));
  for (const r of requests) assert.ok(!r.body.includes('Doublon-Marqueur') && !r.url.includes('Doublon'), 'nothing decrypted goes back');
  assert.deepEqual(problems, []);
  await context.close();
});
