// Without JavaScript, pictures lose their hidden information on the server,
// before sealing, by the same rules as the browser's reader
// (static/js/metadata.js): the stored file, opened with the stock `age`
// command, is byte for byte the clean copy the generator expects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { launch, BASE, exportCases } from './harness.mjs';
import { rng, validDocument, validJpeg, validPdf, validPng } from './metadata-gen.mjs';
import { inspect } from '../../static/js/metadata.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const ageOpen = (file) => execFileSync('age', ['-d', '-i', process.env.VIGIE_PLAIN_IDENTITY, file]);

/** The report (decrypted) and folder of the exported case whose report holds `marker`. */
function exportedCase(marker) {
  const out = exportCases();
  for (const dir of readdirSync(out)) {
    const report = readdirSync(`${out}/${dir}`).find((n) => /^\d{3}-report\.age$/.test(n));
    if (!report) continue;
    const text = ageOpen(`${out}/${dir}/${report}`).toString('utf8');
    if (text.includes(marker)) return { dir: `${out}/${dir}`, report: JSON.parse(text) };
  }
  throw new Error('case not exported');
}

test('without JavaScript, a photo reaches the Secretary without its GPS position, and the receipt says what was removed', async () => {
  const r = rng(0x9a5);
  let photo;
  do photo = validJpeg(r); while (!photo.kinds.has('gps'));
  const path = `${process.env.VIGIE_WORK}/photo-gps.jpg`;
  writeFileSync(path, photo.bytes);
  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  const marker = `Photo-Nettoyée-${Date.now()}`;
  await page.selectOption('#category', 'funds');
  await page.fill('#description', marker);
  await page.setInputFiles('#attachments', [path]);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  const notes = await page.textContent('#file-notes');
  assert.match(notes, /photo-gps\.jpg/);
  assert.match(notes, /Retirées de ce fichier :.*position GPS/s);
  // The follow-up without JavaScript lists the files the reporter sent.
  const token = (await page.textContent('#follow-up-token')).trim();
  await page.goto(`${BASE}/fr/follow-up`);
  await page.fill('#token', token);
  await page.getByRole('button', { name: 'Consulter' }).click();
  await page.waitForSelector('#case-status');
  assert.match(await page.textContent('.entry-report .attachments'), /photo-gps\.jpg \(\d+ ko\)/);
  await context.close();

  const { dir, report } = exportedCase(marker);
  const [file] = report.attachments;
  assert.equal(file.size, photo.clean.length);
  const stored = ageOpen(`${dir}/attachment-${file.id}.age`);
  assert.ok(Buffer.from(photo.clean).equals(stored), 'the stored picture is the clean copy');
});

test('the server cleans pictures and documents exactly as the browser does, for many generated files', async () => {
  const r = rng(0xc1ea);
  const pictures = [];
  for (let k = 0; k < 12; k += 1) pictures.push({ name: `p${k}.jpg`, ...validJpeg(r) });
  for (let k = 0; k < 12; k += 1) pictures.push({ name: `p${k}.png`, ...validPng(r) });
  for (let k = 0; k < 12; k += 1) {
    const doc = validDocument(r);
    pictures.push({ name: `d${k}.docx`, bytes: doc.bytes, clean: inspect(doc.bytes).strip() });
  }
  for (let k = 0; k < 12; k += 1) {
    const doc = validPdf(r);
    pictures.push({ name: `d${k}.pdf`, bytes: doc.bytes, clean: inspect(doc.bytes).strip() });
  }
  const marker = `Lot-Images-${Date.now()}`;
  const form = new FormData();
  form.append('category', 'funds');
  form.append('description', marker);
  form.append('privacy_ack', 'yes');
  for (const p of pictures) form.append('attachments', new Blob([p.bytes]), p.name);
  const res = await fetch(`${BASE}/en/report`, { method: 'POST', body: form });
  assert.equal(res.status, 200);
  const receipt = await res.text();
  for (const p of pictures) assert.ok(receipt.includes(p.name), `${p.name} is on the receipt`);

  const { dir, report } = exportedCase(marker);
  assert.equal(report.attachments.length, pictures.length);
  for (const file of report.attachments) {
    const p = pictures.find((x) => x.name === file.name);
    const stored = ageOpen(`${dir}/attachment-${file.id}.age`);
    assert.ok(Buffer.from(p.clean).equals(stored), `${p.name} is cleaned as the browser cleans it`);
  }
  assert.match(receipt, /document properties/);
});

test('with JavaScript, a Word document loses its author in the browser before it is sealed', async () => {
  const r = rng(0xd0c);
  const doc = validDocument(r);
  const path = `${process.env.VIGIE_WORK}/rapport.docx`;
  writeFileSync(path, doc.bytes);
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  const marker = `Document-Nettoyé-${Date.now()}`;
  await page.selectOption('#category', 'funds');
  await page.fill('#description', marker);
  await page.setInputFiles('#attachments', [path]);
  await page.waitForSelector('#attachment-list li p');
  assert.match(await page.textContent('#attachment-list'), /propriétés du document/);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  await context.close();
  const { dir, report } = exportedCase(marker);
  const stored = ageOpen(`${dir}/attachment-${report.attachments[0].id}.age`);
  assert.ok(!stored.includes('Jean Dupont'), 'the author is gone');
  assert.ok(Buffer.from(inspect(doc.bytes).strip()).equals(stored));
});
