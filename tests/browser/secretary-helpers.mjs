// Shared steps of the Secretary in the browser tests.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BASE, exportCases } from './harness.mjs';
import { derive, parseToken } from '../../static/js/protocol.js';

/** The case whose reporter key R the token derives (found through an export). */
export async function caseIdOf(token, readership = 'secretary') {
  const { replyRecipient } = await derive(await parseToken(token));
  const out = exportCases(readership);
  for (const dir of execFileSync('ls', [out]).toString().trim().split('\n')) {
    const meta = JSON.parse(readFileSync(`${out}/${dir}/metadata.json`, 'utf8'));
    if (meta.reporter_recipient === replyRecipient) return meta.id;
  }
  throw new Error('case not found');
}

/** Logs in with the passphrase-protected identity file. */
export async function loginAsSecretary(page, file = process.env.VIGIE_IDENTITY, passphrase = process.env.VIGIE_IDENTITY_PASSPHRASE, landing = `${BASE}/fr/secretary`) {
  // After an expired session the tab is on the login page already, with the
  // page to return to in its sessionStorage.
  if (!page.url().includes('/secretary/login?expired=1')) await page.goto(`${BASE}/fr/secretary/login`);
  await page.setInputFiles('#identity-file', file);
  if (passphrase) await page.fill('#passphrase', passphrase);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  const right = file === process.env.VIGIE_IDENTITY && passphrase === process.env.VIGIE_IDENTITY_PASSPHRASE;
  if (right) await page.waitForURL(landing, { timeout: 60000 });
}

/**
 * Goes to the inbox page that lists `caseId` (50 cases a page; every test
 * of a run adds cases of the same day, in no set order within it).
 */
export async function inboxPageWith(page, caseId) {
  for (let n = 1; n <= 20; n += 1) {
    await page.goto(`${BASE}/fr/secretary?page=${n}`);
    if (await page.locator(`tr[data-case="${caseId}"]`).count()) return;
    if (!(await page.locator('a[rel=next]').count())) break;
  }
  throw new Error(`case ${caseId} is in no inbox page`);
}
