// Serves a directory on loopback and opens a page of it in Debian's headless Chromium (driven
// by playwright-core; never a downloaded browser). Shared by the release check and benchmarks.
import { chromium } from 'playwright-core';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Serves `dir` with `script` as the page's only script; resolves to { url, close }.
export async function serve(dir, script) {
  const root = path.resolve(dir);
  const page = `<!doctype html><meta charset="utf-8"><title>${script}</title><script src="${script}"></script>`;
  const server = http.createServer(async (request, response) => {
    const name = new URL(request.url, 'http://x').pathname;
    if (name === '/') return response.writeHead(200, { 'content-type': 'text/html' }).end(page);
    try {
      const body = await readFile(path.join(root, path.normalize(name)));
      response.writeHead(200, { 'content-type': TYPES[path.extname(name)] || 'application/octet-stream' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

// Opens `url` and waits for `window[global]` to be set; returns it and any page errors.
export async function runPage(url, global, timeout) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  const errors = [];
  try {
    const tab = await browser.newPage();
    tab.on('pageerror', (error) => errors.push(String(error)));
    await tab.goto(url);
    await tab.waitForFunction((name) => window[name] !== undefined, global, { timeout });
    return { result: await tab.evaluate((name) => window[name], global), errors };
  } finally {
    await browser.close();
  }
}

// Serves `dir`, runs `script` with `query` until it sets `window[global]`, and returns that
// value; exits the process with the page's error if it reports `ok: false`.
export async function runBundle(dir, script, global, timeout, query = '') {
  const web = await serve(dir, script);
  let result;
  try {
    ({ result } = await runPage(`${web.url}${query}`, global, timeout));
  } finally {
    web.close();
  }
  if (!result.ok) {
    console.error(`${script} failed:`, result.error);
    process.exit(1);
  }
  return result;
}
