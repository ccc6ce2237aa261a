// Shared set-up for the browser tests: Chromium from the system, a page that
// records console errors and CSP violations, and helpers for the CLI.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';

export const BASE = process.env.VIGIE_URL;

export async function launch() {
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
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
  return { page, problems };
}

export function screenshotPath(name) {
  return `${process.env.SCREENSHOTS}/${name}.png`;
}

/** Exports every case and decrypts it with the Secretary's passphrase-protected key. */
export function exportAndDecryptWithAge() {
  const out = `${process.env.VIGIE_WORK}/export-${Date.now()}`;
  execFileSync(process.env.VIGIE_BIN, ['export', '--out', out], {
    env: {
      ...process.env,
      VIGIE_DATABASE_URL: process.env.VIGIE_DATABASE_URL,
      VIGIE_DATA_DIR: `${process.env.VIGIE_WORK}/data`,
      VIGIE_RECIPIENTS_FILE: `${process.env.VIGIE_WORK}/recipients.txt`,
    },
  });
  // The passphrase-protected identity is opened once with vigie, which
  // prints every case; the stock age command is exercised by the Rust tests.
  return execFileSync(
    process.env.VIGIE_BIN,
    ['--lang', 'en', 'decrypt', '--identity', process.env.VIGIE_IDENTITY, out],
    { env: { ...process.env, VIGIE_PASSPHRASE: process.env.VIGIE_IDENTITY_PASSPHRASE } },
  ).toString('utf8');
}
