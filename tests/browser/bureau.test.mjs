// A report that concerns the Permanent Secretary, end to end in a real
// browser: the reporter chooses the Bureau, the Secretary's workspace shows
// nothing of it, the Bureau's referent logs in with the Bureau key, reads and
// answers, the reporter reads the Bureau's reply with and without
// JavaScript, and the stock `age` tool opens every stored file with the
// Bureau key and none with the Secretary's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { launch, watchedPage, BASE, screenshotPath, exportCases } from './harness.mjs';
import { caseIdOf, loginAsSecretary } from './secretary-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const DESCRIPTION = 'Bureau-Signalement-6604 : le Secrétaire permanent a imposé un prestataire.';
const ANSWER = 'Bureau-Réponse-6604 : le Bureau a bien reçu votre signalement.';

async function reportToTheBureau(javaScriptEnabled) {
  const context = await browser.newContext({ javaScriptEnabled, locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  await page.goto(`${BASE}/fr/report`);
  await page.check('#readership-bureau');
  await page.selectOption('#category', 'undue_influence');
  await page.fill('#description', DESCRIPTION);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  assert.match(await page.textContent('#readers'), /référent du Bureau seul/);
  const token = (await page.textContent('#follow-up-token')).trim();
  if (javaScriptEnabled) assert.deepEqual(problems, []);
  await context.close();
  return token;
}

/** Logs in with the Bureau's plain identity file. */
async function loginAsBureau(page) {
  await page.goto(`${BASE}/fr/secretary/login`);
  await page.setInputFiles('#identity-file', process.env.VIGIE_BUREAU_IDENTITY);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(`${BASE}/fr/secretary`, { timeout: 60000 });
}

/** The id of the Bureau case whose reporter key the token derives. */
async function bureauCaseIdOf(token) {
  const out = exportCases('bureau');
  const { derive, parseToken } = await import('../../static/js/protocol.js');
  const { replyRecipient } = await derive(await parseToken(token));
  for (const dir of readdirSync(out)) {
    const meta = JSON.parse(execFileSync('cat', [`${out}/${dir}/metadata.json`]).toString());
    if (meta.reporter_recipient === replyRecipient) return { id: meta.id, dir: `${out}/${dir}`, meta };
  }
  throw new Error('the Bureau case is not in the Bureau export');
}

test('a report about the Secretary goes to the Bureau alone, which answers, and the reporter reads it', async () => {
  const token = await reportToTheBureau(true);
  const { id: caseId } = await bureauCaseIdOf(token);
  await assert.rejects(() => caseIdOf(token), 'the Secretary export does not hold it');

  // The Secretary's workspace does not list it, and cannot open it.
  const secretary = await browser.newContext({ locale: 'fr-FR' });
  const s = await secretary.newPage();
  await loginAsSecretary(s);
  assert.equal(await s.locator(`tr[data-case="${caseId}"]`).count(), 0, 'not in the Secretary inbox');
  const refused = await s.goto(`${BASE}/fr/secretary/cases/${caseId}`);
  assert.equal(refused.status(), 404);
  await secretary.close();

  // The Bureau's referent reads and answers in the browser.
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  await loginAsBureau(page);
  assert.equal(await page.locator(`tr[data-case="${caseId}"]`).count(), 1, 'in the Bureau inbox');
  await page.click(`tr[data-case="${caseId}"] a`);
  await page.waitForSelector('.entry-report .text');
  assert.equal((await page.textContent('.entry-report .text')).trim(), DESCRIPTION);
  await page.fill('#ack-message', ANSWER);
  await page.getByRole('button', { name: 'Accuser réception' }).click();
  await page.waitForSelector('#reply-form');
  await page.waitForFunction((t) => [...document.querySelectorAll('.entry-reply .text')].some((e) => e.textContent === t), ANSWER);
  await page.screenshot({ path: screenshotPath('bureau-case-fr'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();

  // The reporter reads the Bureau's reply, labelled as such, with JavaScript…
  const js = await browser.newContext({ locale: 'fr-FR' });
  const { page: r, problems: rp } = await watchedPage(js);
  await r.goto(`${BASE}/fr/follow-up`);
  await r.fill('#token', token);
  await r.getByRole('button', { name: 'Consulter' }).click();
  await r.waitForFunction((t) => [...document.querySelectorAll('.entry-reply .text')].some((e) => e.textContent === t), ANSWER);
  assert.match(await r.textContent('.entry-reply h3'), /Réponse du référent du Bureau/);
  assert.match(await r.textContent('#case-readers'), /Bureau/);
  assert.deepEqual(rp, []);
  await js.close();
  // …and without.
  const plain = await browser.newContext({ javaScriptEnabled: false, locale: 'fr-FR' });
  const p = await plain.newPage();
  await p.goto(`${BASE}/fr/follow-up`);
  await p.fill('#token', token);
  await p.getByRole('button', { name: 'Consulter' }).click();
  assert.ok((await p.textContent('#thread')).includes(ANSWER));
  assert.match(await p.textContent('#thread'), /Réponse du référent du Bureau/);
  await plain.close();

  // Stock age: every stored file of the case opens with the Bureau key and
  // none with the Secretary's.
  const { dir } = await bureauCaseIdOf(token);
  const files = readdirSync(dir).filter((n) => n.endsWith('.age'));
  assert.ok(files.length >= 2, 'the report and the reply');
  for (const f of files) {
    const opened = execFileSync('age', ['-d', '-i', process.env.VIGIE_BUREAU_IDENTITY, `${dir}/${f}`]).toString('utf8');
    assert.ok(opened.length > 0);
    assert.throws(
      () => execFileSync('age', ['-d', '-i', process.env.VIGIE_PLAIN_IDENTITY, `${dir}/${f}`], { stdio: 'pipe' }),
      `${f} must not open with the Secretary's key`,
    );
  }
});

test('without JavaScript a report about the Secretary is sealed to the Bureau alone too', async () => {
  const token = await reportToTheBureau(false);
  const { dir, meta } = await bureauCaseIdOf(token);
  assert.equal(meta.readership, 'bureau');
  const report = readdirSync(dir).find((n) => n.startsWith('001-'));
  const opened = execFileSync('age', ['-d', '-i', process.env.VIGIE_BUREAU_IDENTITY, `${dir}/${report}`]).toString('utf8');
  assert.ok(opened.includes(DESCRIPTION));
  assert.throws(() => execFileSync('age', ['-d', '-i', process.env.VIGIE_PLAIN_IDENTITY, `${dir}/${report}`], { stdio: 'pipe' }));
});

/** A report to the Secretary with one attached file, sealed in the browser. */
async function reportWithAFile(description) {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page } = await watchedPage(context);
  await page.goto(`${BASE}/fr/report`);
  await page.selectOption('#category', 'funds');
  await page.fill('#description', description);
  await page.setInputFiles('#attachments', [{ name: 'releve.txt', mimeType: 'text/plain', buffer: Buffer.from(`Relevé joint à ${description}`) }]);
  await page.waitForFunction(() => document.querySelectorAll('#attachment-list li').length === 1);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token', { timeout: 120000 });
  const token = (await page.textContent('#follow-up-token')).trim();
  await context.close();
  return token;
}

/** The Secretary refers a case from its page: `alert` or `step-aside`. */
async function refer(caseId, referral) {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  await loginAsSecretary(page);
  await page.goto(`${BASE}/fr/secretary/cases/${caseId}`);
  await page.waitForSelector('.entry-report .text');
  await page.check(`#referral-${referral}`);
  await page.check('#referral-confirm');
  await page.getByRole('button', { name: 'Transmettre' }).click();
  if (referral === 'alert') {
    await page.waitForSelector('#case-journal');
    await page.waitForFunction(() => /Bureau alerté/.test(document.getElementById('case-journal').textContent));
    await page.waitForSelector('.entry-report .text');
  } else {
    await page.waitForURL(`${BASE}/fr/secretary`);
    assert.equal(await page.locator(`tr[data-case="${caseId}"]`).count(), 0, 'the case left his inbox');
  }
  assert.deepEqual(problems, []);
  await context.close();
}

/** Every .age file of the exported case, opened (or not) by stock age with `key`. */
function opensWith(dir, key) {
  return readdirSync(dir).filter((n) => n.endsWith('.age')).map((f) => {
    try {
      execFileSync('age', ['-d', '-i', key, `${dir}/${f}`], { stdio: 'pipe' });
      return true;
    } catch (e) {
      return false;
    }
  });
}

test('the Secretary alerts the Bureau: the thread and its files are re-sealed in his browser for both', async () => {
  const token = await reportWithAFile('Alerte-Bureau-2291 : un marché attribué sans mise en concurrence.');
  const caseId = await caseIdOf(token);
  await refer(caseId, 'alert');
  const { dir, meta } = await bureauCaseIdOf(token);
  assert.equal(meta.readership, 'both');
  const files = readdirSync(dir).filter((n) => n.endsWith('.age'));
  assert.ok(files.some((n) => n.startsWith('attachment-')), 'the file is there');
  assert.ok(opensWith(dir, process.env.VIGIE_BUREAU_IDENTITY).every(Boolean), 'the Bureau opens every file');
  assert.ok(opensWith(dir, process.env.VIGIE_PLAIN_IDENTITY).every(Boolean), 'the Secretary still does');
  const bureau = await browser.newContext({ locale: 'fr-FR' });
  const page = await bureau.newPage();
  await loginAsBureau(page);
  assert.equal(await page.locator(`tr[data-case="${caseId}"] .referred`).count(), 1, 'referred by the Secretary');
  await bureau.close();
});

test('the Secretary steps aside: the Bureau alone opens every file and the reporter reads on', async () => {
  const description = 'Déport-2292 : le Secrétaire est parent du prestataire.';
  const token = await reportWithAFile(description);
  const caseId = await caseIdOf(token);
  await refer(caseId, 'step-aside');
  const { dir, meta } = await bureauCaseIdOf(token);
  assert.equal(meta.readership, 'bureau');
  assert.ok(opensWith(dir, process.env.VIGIE_BUREAU_IDENTITY).every(Boolean), 'the Bureau opens every file');
  assert.ok(!opensWith(dir, process.env.VIGIE_PLAIN_IDENTITY).some(Boolean), 'no Secretary key opens any');
  // The reporter's token still opens the same thread, and says who reads it.
  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  await page.goto(`${BASE}/fr/follow-up`);
  await page.fill('#token', token);
  await page.getByRole('button', { name: 'Consulter' }).click();
  await page.waitForSelector('.entry-report .text');
  assert.equal((await page.textContent('.entry-report .text')).trim(), description);
  assert.match(await page.textContent('#case-readers'), /Bureau seul/);
  assert.deepEqual(problems, []);
  await context.close();
});
