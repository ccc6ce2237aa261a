// Page weight as transferred, printed for CI: the report page's first load
// with JavaScript (budget 80 KB) and without (budget 18 KB: the page itself
// is sent uncompressed, and carries the safety advice and the file choices).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { BASE } from './harness.mjs';

function get(path) {
  return new Promise((resolve, reject) => {
    http.get(`${BASE}${path}`, { headers: { 'Accept-Encoding': 'br, gzip' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

test('the report page stays under 80 KB with JavaScript and 18 KB without', async () => {
  const page = await get('/fr/report');
  assert.equal(page.status, 200);
  const html = page.body.toString('utf8');
  const refs = (re) => [...html.matchAll(re)].map((m) => m[1]);
  const css = refs(/<link rel="stylesheet" href="([^"]+)"/g);
  const icons = refs(/<link rel="icon" href="([^"]+)"/g);
  const entry = refs(/<script type="module" src="([^"]+)"/g);
  assert.ok(css.length === 1 && entry.length === 1, 'the page references its assets');
  // The modules the entry imports, followed transitively.
  const scripts = [];
  const queue = [...entry];
  while (queue.length) {
    const p = queue.shift();
    if (scripts.includes(p)) continue;
    scripts.push(p);
    const plain = await new Promise((resolve, reject) => {
      http.get(`${BASE}${p}`, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      }).on('error', reject);
    });
    queue.push(...[...plain.matchAll(/from\s*['"](\/static\/[^'"]+)['"]/g)].map((m) => m[1]));
  }
  assert.ok(scripts.length >= 3, `entry and its imports: ${scripts}`);
  const size = async (paths) => {
    let total = 0;
    for (const p of paths) {
      const r = await get(p);
      assert.equal(r.status, 200, p);
      assert.ok(['br', 'gzip'].includes(r.headers['content-encoding']), `${p} is compressed`);
      total += r.body.length;
    }
    return total;
  };
  const htmlBytes = page.body.length;
  const cssBytes = await size(css);
  const iconBytes = await size(icons);
  const jsBytes = await size(scripts);
  const withJs = htmlBytes + cssBytes + iconBytes + jsBytes;
  const withoutJs = htmlBytes + cssBytes + iconBytes;
  const kb = (n) => (n / 1024).toFixed(1);
  console.log(`report page, first load with JavaScript: ${kb(withJs)} KB (HTML ${kb(htmlBytes)}, CSS ${kb(cssBytes)}, icon ${kb(iconBytes)}, JavaScript ${kb(jsBytes)})`);
  console.log(`report page, first load without JavaScript: ${kb(withoutJs)} KB`);
  assert.ok(withJs < 80 * 1024, `with JavaScript: ${withJs} bytes`);
  assert.ok(withoutJs < 18 * 1024, `without JavaScript: ${withoutJs} bytes`);
});
