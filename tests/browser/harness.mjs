// Shared set-up for the browser tests: Chromium from the system, a page that
// records console errors and CSP violations, and helpers for the CLI.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const BASE = process.env.VIGIE_URL;

export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

/** A page that collects console errors, page errors and CSP violations. */
export async function watchedPage(context) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // The browser drops its own favicon fetch when the page navigates on.
    const dropped = req.url().includes('/static/favicon.') && req.failure()?.errorText === 'net::ERR_ABORTED';
    if (!dropped) problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
  });
  return { page, problems };
}

export function screenshotPath(name) {
  return `${process.env.SCREENSHOTS}/${name}.png`;
}

/** The cases one role reads (`vigie export --readership`), the Secretary's by default. */
export function exportCases(readership = 'secretary') {
  const out = `${process.env.VIGIE_WORK}/export-${Date.now()}`;
  execFileSync(process.env.VIGIE_BIN, ['export', '--out', out, '--readership', readership], {
    env: {
      ...process.env,
      VIGIE_DATABASE_URL: process.env.VIGIE_DATABASE_URL,
      VIGIE_DATA_DIR: `${process.env.VIGIE_WORK}/data`,
      VIGIE_RECIPIENTS_FILE: `${process.env.VIGIE_WORK}/recipients.txt`,
      VIGIE_BUREAU_RECIPIENTS_FILE: `${process.env.VIGIE_WORK}/bureau.txt`,
    },
  });
  return out;
}

/** The readership an exported case folder records. */
export function readershipOf(caseDir) {
  return JSON.parse(readFileSync(`${caseDir}/metadata.json`, 'utf8')).readership;
}

/**
 * Every exported .age file of the Secretary's cases decrypted by the stock
 * `age` command with the plain backup key (the Bureau's cases are not his).
 */
export function decryptWithStockAge(out) {
  const texts = [];
  for (const dir of readdirSync(out)) {
    if (readershipOf(`${out}/${dir}`) === 'bureau') continue;
    // The thread's files (NNN-kind.age); attachments are checked elsewhere.
    for (const f of readdirSync(`${out}/${dir}`).filter((n) => /^\d{3}-.*\.age$/.test(n))) {
      texts.push(execFileSync('age', ['-d', '-i', process.env.VIGIE_PLAIN_IDENTITY, `${out}/${dir}/${f}`]).toString('utf8'));
    }
  }
  return texts;
}

/** Exports every case and prints it with `vigie decrypt` and the passphrase-protected key. */
export function exportAndDecryptWithAge() {
  const out = exportCases();
  return execFileSync(
    process.env.VIGIE_BIN,
    ['--lang', 'en', 'decrypt', '--identity', process.env.VIGIE_IDENTITY, '--files', `${process.env.VIGIE_WORK}/decrypted-files`, out],
    { env: { ...process.env, VIGIE_PASSPHRASE: process.env.VIGIE_IDENTITY_PASSPHRASE } },
  ).toString('utf8');
}
