// Attachments in a real browser: a 20 MB file with and without JavaScript
// reaches the Secretary intact; a picture's GPS position is removed before
// encryption; an oversized file is refused before anything is sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { launch, watchedPage, BASE, screenshotPath } from './harness.mjs';
import { caseIdOf, loginAsSecretary } from './secretary-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const work = process.env.VIGIE_WORK;
const sha = (b) => createHash('sha256').update(b).digest('hex');

/** A file of `size` bytes with a marker near the start. */
function bigFile(name, size, marker) {
  const bytes = randomBytes(size);
  Buffer.from(marker).copy(bytes, 1000);
  const path = `${work}/${name}`;
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** A small JPEG whose EXIF block points to a GPS position. */
function jpegWithGps() {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4 + 2 + 4);
  tiff.write('II', 0, 'ascii');
  tiff.writeUInt16LE(42, 2);
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(1, 8); // one entry in IFD0
  tiff.writeUInt16LE(0x8825, 10); // GPS IFD pointer
  tiff.writeUInt16LE(4, 12);
  tiff.writeUInt32LE(1, 14);
  tiff.writeUInt32LE(26, 18);
  tiff.writeUInt32LE(0, 22);
  const exif = Buffer.concat([Buffer.from('Exif\0\0', 'binary'), tiff]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(exif.length + 2, 2);
  const scan = Buffer.from([0xff, 0xda, 0x00, 0x02, 1, 2, 3, 4, 5, 0xff, 0xd9]);
  const bytes = Buffer.concat([Buffer.from([0xff, 0xd8]), app1, exif, scan]);
  const path = `${work}/photo-gps.jpg`;
  writeFileSync(path, bytes);
  return { path, bytes, scan };
}

async function reportWithFiles(javaScriptEnabled, description, files) {
  const context = await browser.newContext({ javaScriptEnabled, locale: 'fr-FR' });
  const { page } = await watchedPage(context);
  const bodies = [];
  page.on('request', (req) => bodies.push(req.postDataBuffer() || Buffer.alloc(0)));
  await page.goto(`${BASE}/fr/report`);
  await page.selectOption('#category', 'funds');
  await page.fill('#description', description);
  if (files.length) await page.setInputFiles('#attachments', files);
  if (javaScriptEnabled) await page.waitForFunction((n) => document.querySelectorAll('#attachment-list li').length === n, files.length);
  await page.screenshot({ path: screenshotPath(`attachments-${javaScriptEnabled ? 'js' : 'nojs'}`), fullPage: true });
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token', { timeout: 120000 });
  const token = (await page.textContent('#follow-up-token')).trim();
  await context.close();
  return { token, bodies };
}

async function downloadAll(caseId) {
  const context = await browser.newContext({ locale: 'fr-FR', acceptDownloads: true });
  const page = await context.newPage();
  await loginAsSecretary(page);
  await page.goto(`${BASE}/fr/secretary/cases/${caseId}`);
  await page.waitForSelector('button.download');
  const got = {};
  for (const button of await page.locator('button.download').all()) {
    const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
    got[download.suggestedFilename()] = readFileSync(await download.path());
  }
  await context.close();
  return got;
}

test('with JavaScript a 20 MB file and a cleaned photo reach the Secretary, encrypted on the way', async () => {
  const marker = 'Pièce-Marqueur-JS-7730';
  const big = bigFile('releve-js.bin', 20 * 1000 * 1000, marker);
  const photo = jpegWithGps();
  const { token, bodies } = await reportWithFiles(true, 'Rapport avec pièces jointes, chiffré ici.', [big.path, photo.path]);
  for (const body of bodies) assert.ok(!body.includes(Buffer.from(marker)), 'no request carries the file in clear');
  const got = await downloadAll(await caseIdOf(token));
  assert.equal(sha(got['releve-js.bin']), sha(big.bytes), 'the 20 MB file comes out identical');
  const clean = got['photo-gps.jpg'];
  assert.ok(clean, 'the photo is attached');
  assert.ok(!clean.includes(Buffer.from('Exif')), 'the EXIF block with the GPS position is gone');
  assert.ok(clean.subarray(2).equals(photo.scan), 'the picture itself is untouched');
});

test('the page shows what hidden information a photo carries before it is sent', async () => {
  const photo = jpegWithGps();
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  await page.setInputFiles('#attachments', [photo.path]);
  await page.waitForSelector('#attachment-list li');
  const listed = await page.textContent('#attachment-list');
  assert.match(listed, /position GPS/);
  assert.equal(await page.isChecked('#attachment-list input[type=checkbox]'), true, 'removal is offered and on');
  await context.close();
});

test('an oversized file is refused before anything is sent', async () => {
  const big = bigFile('trop-gros.bin', 25 * 1000 * 1000 + 1, 'x');
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  const posts = [];
  page.on('request', (req) => { if (req.method() === 'POST') posts.push(req.url()); });
  await page.goto(`${BASE}/fr/report`);
  await page.setInputFiles('#attachments', [big.path]);
  await page.waitForSelector('#js-status.error');
  assert.match(await page.textContent('#js-status'), /dépasse la taille autorisée/);
  assert.equal(await page.locator('#attachment-list li').count(), 0);
  assert.deepEqual(posts, []);
  await context.close();
});

test('without JavaScript a 20 MB file is encrypted by the server as it streams in and reaches the Secretary intact', async () => {
  const big = bigFile('releve-nojs.bin', 20 * 1000 * 1000, 'Pièce-Marqueur-NoJS');
  const { token } = await reportWithFiles(false, 'Rapport sans JavaScript avec une pièce jointe.', [big.path]);
  const got = await downloadAll(await caseIdOf(token));
  assert.equal(sha(got['releve-nojs.bin']), sha(big.bytes));
});

test('a follow-up message carries files too, with and without JavaScript', async () => {
  const { token } = await reportWithFiles(true, 'Rapport sans pièce jointe au départ.', []);
  const caseId = await caseIdOf(token);
  // The Secretary acknowledges, so that the case is open to messages.
  {
    const context = await browser.newContext({ locale: 'fr-FR' });
    const page = await context.newPage();
    await loginAsSecretary(page);
    await page.goto(`${BASE}/fr/secretary/cases/${caseId}`);
    await page.fill('#ack-message', 'Reçu, envoyez les pièces.');
    await page.getByRole('button', { name: 'Accuser réception' }).click();
    await page.waitForSelector('#reply-form');
    await context.close();
  }
  const withJs = bigFile('suivi-js.bin', 3 * 1000 * 1000, 'Suivi-Pièce-JS');
  const withoutJs = bigFile('suivi-nojs.bin', 3 * 1000 * 1000, 'Suivi-Pièce-NoJS');
  for (const [javaScriptEnabled, file] of [[true, withJs], [false, withoutJs]]) {
    const context = await browser.newContext({ javaScriptEnabled, locale: 'fr-FR' });
    const page = await context.newPage();
    await page.goto(`${BASE}/fr/follow-up`);
    await page.fill('#token', token);
    await page.getByRole('button', { name: 'Consulter' }).click();
    await page.waitForSelector('#message-form');
    await page.fill('#message-body', `Voici la pièce (${javaScriptEnabled ? 'avec' : 'sans'} JavaScript).`);
    await page.setInputFiles('#message-attachments', [file.path]);
    await page.getByRole('button', { name: 'Envoyer le message' }).click();
    if (javaScriptEnabled) await page.waitForSelector('#case-notice:not([hidden])', { timeout: 60000 });
    else await page.waitForSelector('#message-sent');
    await context.close();
  }
  const got = await downloadAll(caseId);
  assert.equal(sha(got['suivi-js.bin']), sha(withJs.bytes));
  assert.equal(sha(got['suivi-nojs.bin']), sha(withoutJs.bytes));
});
