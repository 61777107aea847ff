// Loads the webpack bundle of the optimised package in headless Chromium (Debian's, driven by
// playwright-core) and checks the page's verdict. Usage: node tests/release/run.mjs <ws-server>
import { chromium } from 'playwright-core';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const server = process.argv[2];
const root = path.resolve('dist/release-check');
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const page = '<!doctype html><meta charset="utf-8"><title>release check</title><script src="check.js"></script>';

const web = http.createServer(async (request, response) => {
  const name = new URL(request.url, 'http://x').pathname;
  if (name === '/') {
    response.writeHead(200, { 'content-type': 'text/html' }).end(page);
    return;
  }
  try {
    const body = await readFile(path.join(root, path.normalize(name)));
    response.writeHead(200, { 'content-type': types[path.extname(name)] || 'application/octet-stream' }).end(body);
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${web.address().port}/?server=${encodeURIComponent(server)}`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let verdict;
const errors = [];
try {
  const tab = await browser.newPage();
  tab.on('pageerror', (error) => errors.push(String(error)));
  await tab.goto(url);
  await tab.waitForFunction(() => window.releaseCheck !== undefined, null, { timeout: 20000 });
  verdict = await tab.evaluate(() => window.releaseCheck);
} finally {
  await browser.close();
  web.close();
}
if (!verdict.ok || errors.length) {
  console.error('release check FAILED:', verdict.error || '', errors.join('\n'));
  process.exit(1);
}
console.log(`release check: ok (rockon-sync ${verdict.version}; vsn 2: ${verdict.v2.length} events, vsn 1: ${verdict.v1.length} events)`);
