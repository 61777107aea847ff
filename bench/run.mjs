// Builds nothing: serves dist/bench (webpack --config-name bench) and runs the page in
// headless Chromium, then prints the table. `npm run bench:write` does the whole sequence.
import { chromium } from 'playwright-core';
import http from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const root = path.resolve('dist/bench');
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm' };
const page = '<!doctype html><meta charset="utf-8"><title>bench</title><script src="write-path.js"></script>';
const web = http.createServer(async (request, response) => {
  const name = new URL(request.url, 'http://x').pathname;
  if (name === '/') return response.writeHead(200, { 'content-type': 'text/html' }).end(page);
  try {
    const body = await readFile(path.join(root, path.normalize(name)));
    response.writeHead(200, { 'content-type': types[path.extname(name)] || 'application/octet-stream' }).end(body);
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let result;
try {
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${web.address().port}/`);
  await tab.waitForFunction(() => window.benchResult !== undefined, null, { timeout: 300_000 });
  result = await tab.evaluate(() => window.benchResult);
} finally {
  await browser.close();
  web.close();
}
if (!result.ok) {
  console.error('bench failed:', result.error);
  process.exit(1);
}
const f = (ms) => ms.toFixed(1);
const rate = (ms) => Math.round((result.rows / ms) * 1000).toLocaleString('en-US');
const { bulk, write } = result;
console.log(`Bulk apply of ${result.rows.toLocaleString('en-US')} song rows into IndexedDB, median of ${result.runs} (headless Chromium, release build)`);
console.log('| path | median ms | min–max ms | rows/s | vs raw |');
console.log('|---|---|---|---|---|');
for (const [name, label] of [['raw', 'raw IndexedDB put, one transaction (floor)'], ['dexie', 'Dexie bulkPut'], ['module', 'rockon-sync applyServerRows (wire rows, version check)']]) {
  const m = bulk[name];
  console.log(`| ${label} | ${f(m.median)} | ${f(m.min)}–${f(m.max)} | ${rate(m.median)} | ${(m.median / bulk.raw.median).toFixed(2)}× |`);
}
console.log('\nDurable optimistic write (row + outbox entry in one transaction, resolved on commit), 300 writes');
console.log('| path | p50 ms | p95 ms |');
console.log('|---|---|---|');
console.log(`| rockon-sync create | ${f(write.module.p50)} | ${f(write.module.p95)} |`);
console.log(`| Dexie put + outbox add in one transaction | ${f(write.dexie.p50)} | ${f(write.dexie.p95)} |`);
await writeFile('dist/bench/write-path.json', JSON.stringify(result, null, 2));
