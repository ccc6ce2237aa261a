// Sending twice makes one case; the receipt survives a reload; Back keeps
// what was typed before sending and never shows a sent form again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launch, watchedPage, BASE, exportCases, decryptWithStockAge } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const FIELDS = {
  description: 'Renvoi-Marqueur-Description',
  period: 'Renvoi-Marqueur-Quand',
  place: 'Renvoi-Marqueur-Où',
  persons: 'Renvoi-Marqueur-Qui',
  evidence: 'Renvoi-Marqueur-Preuves',
};

async function fill(page, fields) {
  await page.selectOption('#category', 'funds');
  for (const [name, value] of Object.entries(fields)) await page.fill(`#${name}`, value);
}

/** How many stored reports (Secretary's) contain `marker`. */
function storedWith(marker) {
  return decryptWithStockAge(exportCases()).filter((t) => t.includes(marker) && t.includes('"type":"report"')).length;
}

for (const js of [true, false]) {
  test(`Back from the privacy notice keeps every field (${js ? 'with' : 'without'} JavaScript)`, async () => {
    const context = await browser.newContext({ javaScriptEnabled: js, locale: 'fr-FR' });
    const page = await context.newPage();
    await page.goto(`${BASE}/fr/report`);
    await fill(page, FIELDS);
    await page.getByRole('link', { name: /Lire la notice/ }).first().click();
    await page.waitForURL(/\/fr\/privacy$/);
    await page.goBack();
    await page.waitForSelector('#report-form');
    for (const [name, value] of Object.entries(FIELDS)) {
      assert.equal(await page.inputValue(`#${name}`), value, `${name} is kept`);
    }
    assert.equal(await page.inputValue('#category'), 'funds');
    await context.close();
  });
}

test('without JavaScript, Back after sending shows that the report was received, never the filled form', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'fr-FR' });
  const { page } = await watchedPage(context);
  await page.goto(`${BASE}/fr/report`);
  assert.match(page.url(), /\/fr\/report\?s=[0-9a-f-]{36}$/, 'the form has an address of its own');
  const marker = `Retour-Arrière-${Date.now()}`;
  await fill(page, { description: marker });
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  const token = (await page.textContent('#follow-up-token')).trim();

  await page.goBack();
  await page.waitForSelector('#already-received');
  assert.equal(await page.locator('#report-form').count(), 0, 'the sent form is not shown again');
  assert.equal(await page.locator('#description').count(), 0);
  const notice = await page.textContent('main');
  assert.match(notice, /déjà été reçu/);
  assert.match(notice, /affiché la première fois/);
  assert.ok(!notice.includes(token), 'the code is not shown again');

  // A new report starts from an empty form at a fresh address.
  await page.getByRole('link', { name: 'Faire un autre signalement' }).click();
  await page.waitForSelector('#report-form');
  assert.equal(await page.inputValue('#description'), '');
  await context.close();
  assert.equal(storedWith(marker), 1, 'one case');
});

test('with JavaScript, a retry after a lost answer lands on the same case and shows its code', async () => {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page } = await watchedPage(context);
  let first = true;
  // The server stores the first report, but its answer never arrives.
  await page.route('**/api/v1/reports', async (route) => {
    if (!first) return route.continue();
    first = false;
    await route.fetch();
    return route.abort('connectionreset');
  });
  await page.goto(`${BASE}/fr/report`);
  const marker = `Réponse-Perdue-${Date.now()}`;
  await fill(page, { description: marker });
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#js-status.error');
  assert.equal(await page.inputValue('#description'), marker, 'the text stays');

  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  assert.match(await page.textContent('main'), /avait déjà été reçu/);
  assert.match(await page.textContent('#ack-due'), /\d+(er)? \p{L}+ \d{4}/u);
  await context.close();
  assert.equal(storedWith(marker), 1, 'one case, whose code the reporter now holds');
});

test('with JavaScript, the receipt warns before it is left and offers the code as a text file', async () => {
  const context = await browser.newContext({ locale: 'fr-FR', acceptDownloads: true });
  const { page } = await watchedPage(context);
  await page.goto(`${BASE}/fr/report`);
  const submitted = page.url();
  await fill(page, { description: `Reçu-Téléchargé-${Date.now()}` });
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  const token = (await page.textContent('#follow-up-token')).trim();
  assert.match(await page.textContent('#receipt-once'), /ne sera plus affiché/);

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-code')]);
  assert.equal(download.suggestedFilename(), 'code-de-suivi.txt');
  const text = readFileSync(await download.path(), 'utf8');
  assert.ok(text.includes(token), 'the file holds the code');
  assert.match(text, /Suivre un signalement/);

  const asked = new Promise((resolve) => {
    page.once('dialog', async (dialog) => { resolve(dialog.type()); await dialog.accept(); });
  });
  await page.close({ runBeforeUnload: true });
  assert.equal(await asked, 'beforeunload', 'leaving the receipt asks first');

  // Coming back to the same address: the form was sent, and says so.
  const again = await context.newPage();
  await again.goto(submitted);
  await again.waitForSelector('#already-received');
  await context.close();
});

test('without JavaScript, the receipt offers the code as a text file too', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'en-GB', acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(`${BASE}/en/report`);
  await fill(page, { description: `Receipt-Download-${Date.now()}` });
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Send the report' }).click();
  const token = (await page.textContent('#follow-up-token')).trim();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-code')]);
  assert.equal(download.suggestedFilename(), 'follow-up-code.txt');
  const text = readFileSync(await download.path(), 'utf8');
  assert.ok(text.includes(token));
  assert.match(text, /Follow up a report/);
  await context.close();
});

test('with JavaScript, a message sent again after a lost answer is stored once', async () => {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  await fill(page, { description: `Message-Renvoyé-${Date.now()}` });
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  const token = (await page.textContent('#follow-up-token')).trim();
  await context.close();

  const follow = await browser.newContext({ locale: 'fr-FR' });
  const reader = await follow.newPage();
  let first = true;
  await reader.route('**/api/v1/cases/messages', async (route) => {
    if (!first) return route.continue();
    first = false;
    await route.fetch();
    return route.abort('connectionreset');
  });
  await reader.goto(`${BASE}/fr/follow-up`);
  await reader.fill('#token', token);
  await reader.getByRole('button', { name: 'Consulter' }).click();
  const message = `Complément-Unique-${Date.now()}`;
  await reader.fill('#message-body', message);
  await reader.getByRole('button', { name: /Envoyer/ }).click();
  await reader.waitForSelector('#message-status.error');
  await reader.getByRole('button', { name: /Envoyer/ }).click();
  await reader.waitForSelector('#case-notice:not([hidden])');
  assert.match(await reader.textContent('#case-notice'), /avait déjà été reçu/);
  const shown = await reader.locator('#thread .entry-message').allTextContents();
  assert.equal(shown.filter((t) => t.includes(message)).length, 1, 'the thread holds it once');
  await follow.close();
});

test('after a chosen file is removed, the focus goes to the next file, then back to the file chooser', async () => {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  const files = ['un.txt', 'deux.txt'].map((name) => ({ name, mimeType: 'text/plain', buffer: Buffer.from(name) }));
  await page.setInputFiles('#attachments', files);
  await page.waitForSelector('#attachment-list li:nth-child(2)');
  await page.getByRole('button', { name: 'Retirer un.txt' }).click();
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Retirer deux.txt');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'attachments');
  assert.equal(await page.locator('#attachment-list li').count(), 0);
  await context.close();
});
