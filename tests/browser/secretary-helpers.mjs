// Shared steps of the Secretary in the browser tests.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BASE, exportCases } from './harness.mjs';
import { derive, parseToken } from '../../static/js/protocol.js';

/** The case whose reporter key R the token derives (found through an export). */
export async function caseIdOf(token) {
  const { replyRecipient } = await derive(await parseToken(token));
  const out = exportCases();
  for (const dir of execFileSync('ls', [out]).toString().trim().split('\n')) {
    const meta = JSON.parse(readFileSync(`${out}/${dir}/metadata.json`, 'utf8'));
    if (meta.reporter_recipient === replyRecipient) return meta.id;
  }
  throw new Error('case not found');
}

/** Logs in with the passphrase-protected identity file. */
export async function loginAsSecretary(page, file = process.env.VIGIE_IDENTITY, passphrase = process.env.VIGIE_IDENTITY_PASSPHRASE) {
  await page.goto(`${BASE}/fr/secretary/login`);
  await page.setInputFiles('#identity-file', file);
  if (passphrase) await page.fill('#passphrase', passphrase);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  const right = file === process.env.VIGIE_IDENTITY && passphrase === process.env.VIGIE_IDENTITY_PASSPHRASE;
  if (right) await page.waitForURL(`${BASE}/fr/secretary`, { timeout: 60000 });
}
