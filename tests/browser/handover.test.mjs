// A key handover of the Bureau's readership, as its ceremony runs it:
// `vigie export`, `vigie rekey` with the outgoing key, `vigie
// import-rekeyed` with the recipients file switched. The stock `age` command
// then opens every stored file of the Bureau's with the new key and none
// with the old one, and the reporter reads the same thread with the same
// code, with and without JavaScript.
//
// The running server keeps the Bureau's old recipients in memory (only the
// commands see the new file), so the tests that run after this one still
// report to the Bureau and log in as it; they only read cases of their own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { launch, BASE } from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const work = process.env.VIGIE_WORK;
const env = (bureauFile) => ({
  ...process.env,
  VIGIE_DATABASE_URL: process.env.VIGIE_DATABASE_URL,
  VIGIE_DATA_DIR: `${work}/data`,
  VIGIE_RECIPIENTS_FILE: `${work}/recipients.txt`,
  VIGIE_BUREAU_RECIPIENTS_FILE: bureauFile,
});
const vigie = (args, bureauFile = `${work}/bureau.txt`) => execFileSync(process.env.VIGIE_BIN, ['--lang', 'en', ...args], { env: env(bureauFile) }).toString('utf8');

async function reportToTheBureau(javaScriptEnabled, text) {
  const context = await browser.newContext({ javaScriptEnabled, locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  await page.check('#readership-bureau');
  await page.selectOption('#category', 'funds');
  await page.fill('#description', text);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  const token = (await page.textContent('#follow-up-token')).trim();
  await context.close();
  return token;
}

async function reads(javaScriptEnabled, token, text) {
  const context = await browser.newContext({ javaScriptEnabled, locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/follow-up`);
  await page.fill('#token', token);
  await page.getByRole('button', { name: 'Consulter' }).click();
  await page.waitForSelector('#case-status');
  await page.waitForFunction((t) => document.querySelector('#thread')?.textContent.includes(t), text);
  await context.close();
}

/** Whether the stock age command opens every exported Bureau file with `key`. */
function opens(key, bureauFile) {
  const out = `${work}/handover-check-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  vigie(['export', '--out', out, '--readership', 'bureau'], bureauFile);
  const results = [];
  for (const dir of readdirSync(out)) {
    for (const f of readdirSync(`${out}/${dir}`).filter((n) => n.endsWith('.age'))) {
      try {
        execFileSync('age', ['-d', '-i', key, `${out}/${dir}/${f}`], { stdio: 'pipe' });
        results.push(true);
      } catch {
        results.push(false);
      }
    }
  }
  return results;
}

test("the Bureau's cases pass to a new key: the old key opens nothing stored, the reporter still reads", async () => {
  const withJs = `Passation-JS-${Date.now()} : les comptes du Secrétaire.`;
  const withoutJs = `Passation-SansJS-${Date.now()} : la même affaire.`;
  const tokens = [await reportToTheBureau(true, withJs), await reportToTheBureau(false, withoutJs)];
  assert.ok(opens(process.env.VIGIE_BUREAU_IDENTITY, `${work}/bureau.txt`).every(Boolean), 'before: the old key opens everything');

  const newKey = `${work}/bureau-new.key`;
  const newRecipients = `${work}/bureau-new.txt`;
  writeFileSync(newRecipients, vigie(['keygen', '--out', newKey]).trim().split('\n').filter((l) => l.startsWith('age1')).join('\n') + '\n');
  const exported = `${work}/handover-export`;
  vigie(['export', '--out', exported, '--readership', 'bureau']);
  const printed = vigie(['rekey', '--readership', 'bureau', '--identity', process.env.VIGIE_BUREAU_IDENTITY, '--to', newRecipients,
    '--other-recipients', `${work}/recipients.txt`, '--in', exported, '--out', `${work}/handover-rekeyed`]);
  const sha = printed.match(/\b[0-9a-f]{64}\b/)[0];
  const imported = vigie(['import-rekeyed', '--in', `${work}/handover-rekeyed`, '--manifest-sha256', sha], newRecipients);
  assert.match(imported, /cases re-sealed/);

  const withNew = opens(newKey, newRecipients);
  assert.ok(withNew.length >= 2 && withNew.every(Boolean), 'the new key opens every stored file');
  assert.ok(opens(process.env.VIGIE_BUREAU_IDENTITY, newRecipients).every((ok) => !ok), 'the old key opens none');

  await reads(true, tokens[0], withJs);
  await reads(false, tokens[0], withJs);
  await reads(true, tokens[1], withoutJs);
  await reads(false, tokens[1], withoutJs);
});
