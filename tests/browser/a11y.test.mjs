// Every page, for everyone: axe-core finds no violation on any reporter or
// workspace page, in French and English, with and without JavaScript, on a
// 390 px phone and on a desktop; no page scrolls sideways; the follow-up
// code never breaks inside a group of four.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launch, BASE } from './harness.mjs';
import { caseIdOf, loginAsSecretary } from './secretary-helpers.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };
const LABELS = {
  fr: { send: 'Envoyer le signalement', open: 'Consulter' },
  en: { send: 'Send the report', open: 'Look up' },
};

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/**
 * A context as a reporter's browser: with JavaScript, or without it (its
 * modules never load, so the page is the server's HTML alone, as with
 * JavaScript switched off; axe itself runs through the DevTools protocol).
 */
async function contextFor(viewport, js) {
  const context = await browser.newContext({ viewport: VIEWPORTS[viewport] });
  if (!js) await context.route('**/static/*.js', (route) => route.abort());
  return context;
}

/** What is wrong with the page as it is now: axe violations, sideways scrolling. */
async function problemsOf(page, where) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    const wide = document.documentElement.scrollWidth > window.innerWidth;
    return {
      violations: result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`),
      wide: wide ? `page ${document.documentElement.scrollWidth} px wide` : null,
    };
  });
  return [...found.violations, ...(found.wide ? [found.wide] : [])].map((p) => `${where}: ${p}`);
}

/** The groups of the code shown in `selector` that a line break cuts. */
async function brokenGroups(page, selector) {
  return page.evaluate((sel) => {
    const node = document.querySelector(sel).firstChild;
    const text = node.textContent;
    const broken = [];
    let start = 0;
    for (const group of text.split('-')) {
      const range = document.createRange();
      range.setStart(node, start);
      range.setEnd(node, start + group.trim().length);
      if (range.getClientRects().length > 1) broken.push(group);
      start += group.length + 1;
    }
    return broken;
  }, selector);
}

test('axe-core is really looking: an unlabelled file input is a violation', async () => {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><html lang="fr"><title>t</title><main><input type="file"></main></html>');
  await page.evaluate(AXE);
  const ids = await page.evaluate(async () => (await window.axe.run()).violations.map((v) => v.id));
  assert.ok(ids.includes('label'), ids.join(', '));
  await page.close();
});

for (const viewport of Object.keys(VIEWPORTS)) {
  for (const js of [true, false]) {
    for (const lang of ['fr', 'en']) {
      const mode = js ? 'with JavaScript' : 'without JavaScript';
      test(`the reporter's pages have no accessibility violation (${lang}, ${mode}, ${viewport})`, async () => {
        const context = await contextFor(viewport, js);
        const page = await context.newPage();
        const problems = [];
        const check = async (where) => problems.push(...(await problemsOf(page, where)));
        for (const path of ['', 'report', 'follow-up', 'procedure', 'privacy', 'channels', 'advice', 'nowhere']) {
          await page.goto(`${BASE}/${lang}/${path}`);
          await check(path || 'home');
        }

        await page.goto(`${BASE}/${lang}/report`);
        await page.selectOption('#category', 'funds');
        await page.fill('#description', '   ');
        await page.check('#privacy-ack');
        await page.getByRole('button', { name: LABELS[lang].send }).click();
        await page.waitForSelector(js ? '#js-status.error' : '#form-error');
        await check('report refused');

        await page.fill('#description', `A11y-${lang}-${viewport}: le budget a été dépassé.`);
        await page.getByRole('button', { name: LABELS[lang].send }).click();
        await page.waitForSelector('#follow-up-token');
        await check('receipt');
        assert.deepEqual(await brokenGroups(page, '#follow-up-token'), [], 'no group of the code breaks');
        const token = (await page.textContent('#follow-up-token')).trim();

        if (!js) {
          await page.goBack();
          await page.waitForSelector('#already-received');
          await check('already received');
        }

        await page.goto(`${BASE}/${lang}/follow-up`);
        await page.fill('#token', token);
        await page.getByRole('button', { name: LABELS[lang].open }).click();
        await page.waitForSelector('#case-status');
        await check('case');
        await context.close();
        assert.deepEqual(problems, []);
      });
    }
  }

  test(`the workspace's pages have no accessibility violation (${viewport})`, async () => {
    const reporter = await contextFor(viewport, false);
    const form = await reporter.newPage();
    await form.goto(`${BASE}/fr/report`);
    await form.selectOption('#category', 'funds');
    await form.fill('#description', `A11y-workspace-${viewport}`);
    await form.check('#privacy-ack');
    await form.getByRole('button', { name: LABELS.fr.send }).click();
    const token = (await form.textContent('#follow-up-token')).trim();
    await reporter.close();
    const caseId = await caseIdOf(token);

    const problems = [];
    const nojs = await contextFor(viewport, false);
    const bare = await nojs.newPage();
    for (const lang of ['fr', 'en']) {
      await bare.goto(`${BASE}/${lang}/secretary/login`);
      problems.push(...(await problemsOf(bare, `${lang} login without JavaScript`)));
    }
    await nojs.close();

    const context = await contextFor(viewport, true);
    const page = await context.newPage();
    for (const lang of ['fr', 'en']) {
      await page.goto(`${BASE}/${lang}/secretary/login`);
      problems.push(...(await problemsOf(page, `${lang} login`)));
    }
    await loginAsSecretary(page);
    for (const lang of ['fr', 'en']) {
      for (const path of ['', `/cases/${caseId}`, '/figures', '/journal']) {
        await page.goto(`${BASE}/${lang}/secretary${path}`);
        await page.waitForLoadState('networkidle');
        problems.push(...(await problemsOf(page, `${lang} secretary${path}`)));
      }
    }
    await context.close();
    assert.deepEqual(problems, []);
  });
}
