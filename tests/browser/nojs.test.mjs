// The reporter's path with JavaScript disabled, as with Tor Browser's
// "Safest" level: plain HTML forms, encryption on the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, watchedPage, BASE, screenshotPath, exportAndDecryptWithAge } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a reporter without JavaScript submits a report, keeps the token and finds the case again', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);

  await page.goto(`${BASE}/`);
  assert.equal(new URL(page.url()).pathname, '/fr/');
  await page.getByRole('link', { name: 'Faire un signalement' }).first().click();
  assert.equal(new URL(page.url()).pathname, '/fr/report');
  await page.screenshot({ path: screenshotPath('nojs-report-form-fr'), fullPage: true });

  const description = 'Le chef de service a exigé que le rapport sur la ville de Lomé soit modifié avant publication.';
  await page.selectOption('#category', 'undue_influence');
  await page.fill('#description', description);
  await page.fill('#period', 'octobre 2026');
  await page.fill('#place', 'Siège');
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();

  await page.waitForSelector('#follow-up-token');
  const token = (await page.textContent('#follow-up-token')).trim();
  assert.match(token, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$/);
  assert.match(await page.textContent('#encryption-note'), /chiffré sur notre serveur/);
  assert.match(await page.textContent('#ack-due'), /\d+ \p{L}+ \d{4}/u);
  await page.screenshot({ path: screenshotPath('nojs-receipt-fr'), fullPage: true });

  const cookies = await context.cookies();
  assert.deepEqual(cookies, [], 'reporter pages set no cookie');

  await page.goto(`${BASE}/fr/follow-up`);
  await page.fill('#token', token.toLowerCase().replaceAll('-', ' '));
  await page.getByRole('button', { name: 'Consulter' }).click();
  assert.match(await page.textContent('#case-status'), /Reçu/);

  await page.goto(`${BASE}/fr/follow-up`);
  await page.fill('#token', token.replace(/^./, (c) => (c === 'Z' ? 'Y' : 'Z')));
  await page.getByRole('button', { name: 'Consulter' }).click();
  assert.match(await page.textContent('#form-error'), /faute de frappe/);

  // The typo answer is a 400 on purpose; nothing else may fail.
  const unexpected = problems.filter((p) => !p.includes('status of 400'));
  assert.deepEqual(unexpected, [], 'no console error, CSP violation or failed request');
  await context.close();

  const decrypted = exportAndDecryptWithAge();
  assert.ok(decrypted.includes(description), 'the Secretary recovers the text offline');
  assert.ok(decrypted.includes('Place : Siège'));
});

test('the English pages work without JavaScript and a rejected form keeps the text', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'en-GB' });
  const { page, problems } = await watchedPage(context);
  await page.goto(`${BASE}/`);
  assert.equal(new URL(page.url()).pathname, '/en/');
  await page.goto(`${BASE}/en/report`);
  await page.selectOption('#category', 'funds');
  // Whitespace passes the browser's `required` check but not the server's.
  await page.fill('#description', '   ');
  await page.fill('#place', 'Kept place');
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Send the report' }).click();
  assert.match(await page.textContent('#form-error'), /cannot be empty/);
  assert.equal(await page.inputValue('#place'), 'Kept place');
  assert.equal(await page.inputValue('#category'), 'funds');
  await page.screenshot({ path: screenshotPath('nojs-rejected-en'), fullPage: true });
  assert.deepEqual(problems.filter((p) => !p.includes('400')), []);
  await context.close();
});
