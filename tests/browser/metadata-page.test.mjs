// What the report page tells a reporter about a picture's hidden
// information, in a real browser: what a readable PNG carries, and, for a
// picture whose structure cannot be followed, that it was neither checked
// nor cleaned (never "nothing found").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { launch, BASE } from './harness.mjs';
import { rng, validPng } from './metadata-gen.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function listed(lang, name, bytes) {
  const path = `${process.env.VIGIE_WORK}/${name}`;
  writeFileSync(path, bytes);
  const context = await browser.newContext({ locale: lang === 'fr' ? 'fr-FR' : 'en-GB' });
  const page = await context.newPage();
  await page.goto(`${BASE}/${lang}/report`);
  await page.setInputFiles('#attachments', [path]);
  await page.waitForSelector('#attachment-list li p');
  const text = await page.textContent('#attachment-list');
  const boxes = await page.locator('#attachment-list input[type=checkbox]').count();
  await context.close();
  return { text, boxes };
}

test('a picture whose structure cannot be followed is said to be unchecked, in French and English', async () => {
  const r = rng(0x5eed);
  let png;
  do png = validPng(r); while (png.kinds.size === 0);
  const readable = await listed('fr', 'image.png', png.bytes);
  assert.match(readable.text, /Informations cachées trouvées/);
  assert.equal(readable.boxes, 1);

  const cut = png.bytes.subarray(0, png.bytes.length - png.iendLength);
  for (const [lang, said] of [['fr', /n'a pas pu être lue/], ['en', /could not be read/]]) {
    const broken = await listed(lang, `cut-${lang}.png`, cut);
    assert.match(broken.text, said);
    assert.doesNotMatch(broken.text, /Aucune information cachée|No known hidden information/);
    assert.equal(broken.boxes, 0, 'no removal is offered for a file that was not read');
  }
});
