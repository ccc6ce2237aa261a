// The conversation in a real browser, with and without JavaScript: the
// reporter submits, the Secretary answers, the reporter reads the answer and
// replies, the Secretary reads the reply. Nothing readable reaches the server
// from the JavaScript pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, watchedPage, BASE, screenshotPath } from './harness.mjs';
import { derive, parseToken, toHex } from '../../static/js/protocol.js';
import { caseIdOf, inboxPageWith, loginAsSecretary } from './secretary-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function recordRequests(page) {
  const seen = [];
  page.on('request', (req) => seen.push({ url: req.url(), headers: JSON.stringify(req.headers()), body: req.postData() || '' }));
  return seen;
}

async function submitReport(javaScriptEnabled, description) {
  const context = await browser.newContext({ javaScriptEnabled, locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${BASE}/fr/report`);
  await page.selectOption('#category', 'funds');
  await page.fill('#description', description);
  await page.check('#privacy-ack');
  await page.getByRole('button', { name: 'Envoyer le signalement' }).click();
  await page.waitForSelector('#follow-up-token');
  const token = (await page.textContent('#follow-up-token')).trim();
  await context.close();
  return token;
}

async function secretaryAnswers(caseId, answer) {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await loginAsSecretary(page);
  await page.goto(`${BASE}/fr/secretary/cases/${caseId}`);
  await page.fill('#ack-message', answer);
  await page.getByRole('button', { name: 'Accuser réception' }).click();
  await page.waitForSelector('#reply-form');
  await context.close();
}

async function secretaryReads(caseId, expected) {
  const context = await browser.newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await loginAsSecretary(page);
  await inboxPageWith(page, caseId);
  const row = page.locator(`tr[data-case="${caseId}"] .unread`);
  assert.equal(await row.textContent(), '1', 'the inbox shows one unread message');
  await page.goto(`${BASE}/fr/secretary/cases/${caseId}`);
  await page.waitForFunction((t) => [...document.querySelectorAll('.entry-message .text')].some((e) => e.textContent === t), expected);
  await context.close();
}

test('with JavaScript the reporter reads the answer and replies without the token, K or text leaving the page', async () => {
  const description = 'Suivi-JS-Signalement-8841 : frais de mission gonflés.';
  const answer = 'Suivi-JS-Réponse : merci, pouvez-vous joindre les dates ?';
  const message = 'Suivi-JS-Message : les missions de juin et juillet.';
  const token = await submitReport(true, description);
  const caseId = await caseIdOf(token);
  await secretaryAnswers(caseId, answer);

  const context = await browser.newContext({ locale: 'fr-FR' });
  const { page, problems } = await watchedPage(context);
  const requests = recordRequests(page);
  await page.goto(`${BASE}/fr/follow-up`);
  await page.fill('#token', token.toLowerCase().replaceAll('-', ' '));
  await page.getByRole('button', { name: 'Consulter' }).click();
  await page.waitForSelector('#case-status');
  assert.match(await page.textContent('#case-status'), /Réception accusée/);
  await page.waitForFunction((t) => [...document.querySelectorAll('.entry-reply .text')].some((e) => e.textContent === t), answer);
  assert.equal((await page.textContent('.entry-report .text')).trim(), description);
  await page.fill('#message-body', message);
  await page.getByRole('button', { name: 'Envoyer le message' }).click();
  await page.waitForFunction((t) => [...document.querySelectorAll('.entry-message .text')].some((e) => e.textContent === t), message);
  assert.match(await page.textContent('#case-notice'), /Votre message a été envoyé/);
  await page.screenshot({ path: screenshotPath('followup-js-fr'), fullPage: true });

  const keys = await derive(await parseToken(token));
  const secrets = [description, answer, message, token, token.replaceAll('-', ''), toHex(keys.replyKey), keys.replyIdentity];
  for (const r of requests) {
    for (const s of secrets) for (const part of [r.url, r.headers, r.body]) assert.ok(!part.includes(s), `${r.url} carries «${s}»`);
  }
  const posts = requests.filter((r) => r.body);
  assert.ok(posts.every((r) => new URL(r.url).pathname.startsWith('/api/v1/cases/')), 'only the JSON API is called');
  assert.ok(posts.some((r) => r.body.includes(toHex(keys.lookup))), 'L is what proves the token');
  assert.deepEqual(problems, []);
  assert.deepEqual(await context.cookies(), []);
  await context.close();

  await secretaryReads(caseId, message);
});

test('without JavaScript the reporter reads the answer and replies through the server', async () => {
  const description = 'Suivi-NoJS-Signalement-3302 : partialité envers une ville membre.';
  const answer = 'Suivi-NoJS-Réponse : nous examinons ; quels membres ?';
  const message = 'Suivi-NoJS-Message : la ville de Bamako.';
  const token = await submitReport(false, description);
  const caseId = await caseIdOf(token);
  await secretaryAnswers(caseId, answer);

  const context = await browser.newContext({ javaScriptEnabled: false, locale: 'fr-FR' });
  const { page } = await watchedPage(context);
  await page.goto(`${BASE}/fr/follow-up`);
  await page.fill('#token', token);
  await page.getByRole('button', { name: 'Consulter' }).click();
  assert.match(await page.textContent('#case-status'), /Réception accusée/);
  assert.ok((await page.textContent('#thread')).includes(answer));
  await page.fill('#message-body', message);
  await page.getByRole('button', { name: 'Envoyer le message' }).click();
  assert.match(await page.textContent('#message-sent'), /Votre message a été envoyé/);
  assert.ok((await page.textContent('#thread')).includes(message));
  await page.screenshot({ path: screenshotPath('followup-nojs-fr'), fullPage: true });
  assert.deepEqual(await context.cookies(), [], 'no cookie carries the token');
  await context.close();

  await secretaryReads(caseId, message);
});
