// The dev server is killed and restarted mid-session, on the same database: the client in the
// browser reconnects by itself and ends with every row, including those written while the
// server was down. Usage: node tests/e2e/restart.mjs <rockon-devserver binary>
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { serve, CHROMIUM_FLAGS } from '../support/browser.mjs';
import { start as startProcess, stop } from '../support/processes.mjs';

const BIN = process.argv[2];
const ROCKERS = '641657c9-9f8e-5c07-b44e-4ececddac108';
const ALICE = 'e1be9b0b-e57b-5640-8ce5-b95c26077d0d';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const start = (args, prefix) => startProcess(BIN, args, prefix);
const uuid = () => crypto.randomUUID();

const postgres = start(['postgres'], 'rockon-devserver postgres ');
const database = await postgres.line;
const port = String(20000 + Math.floor(Math.random() * 20000));
const serveArgs = ['serve', '--port', port, '--database-url', database, '--bootstrap'];
let server = start(serveArgs, 'rockon-devserver ready ');
const ready = JSON.parse(await server.line);
const web = await serve('dist/e2e', 'restart-page.js');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
let failure = null;
try {
  const page = await browser.newPage();
  await page.goto(`${web.url}?url=${encodeURIComponent(ready.url)}&anon=${encodeURIComponent(ready.anonKey)}`);
  await page.waitForFunction(() => window.ready !== undefined);
  const boot = await page.evaluate(() => window.ready);
  if (!boot.ok) throw new Error(boot.error);
  await page.waitForFunction((band) => window.info().state === 'connected' && window.info().bands.includes(band), ROCKERS, { timeout: 15000 });

  // Kill the server; write rows straight into the database while it is down.
  await stop(server.child);
  const missed = Array.from({ length: 10 }, uuid);
  const values = missed.map((id, n) => `('${id}', '${ROCKERS}', 'Written during the outage ${n}', '${ALICE}')`).join(',');
  execFileSync('psql', [database, '-q', '-c', `insert into public.songs (id, band_id, title, created_by) values ${values}`]);
  await sleep(1500);
  const during = await page.evaluate(() => window.info().state);

  // Back on the same port and database.
  server = start(serveArgs, 'rockon-devserver ready ');
  await server.line;
  await page.waitForFunction(() => window.info().state === 'connected', null, { timeout: 45000 });
  for (const id of missed) {
    await page.waitForFunction((row) => window.has(row), id, { timeout: 15000 });
  }
  // And live changes flow again.
  const live = uuid();
  const token = execFileSync(BIN, ['token', 'bob']).toString().trim();
  const response = await fetch(`${ready.url}/rest/v1/songs`, {
    method: 'POST',
    headers: { apikey: ready.anonKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: live, band_id: ROCKERS, title: 'After the restart' }),
  });
  if (response.status !== 201) throw new Error(`insert after restart: ${response.status}`);
  await page.waitForFunction((row) => window.has(row), live, { timeout: 10000 });
  const info = await page.evaluate(() => window.info());
  console.log(`restart: ok (state while down: ${during}; reconnects: ${info.reconnects}; 10 rows caught up, live changes flow)`);
} catch (error) {
  failure = error;
} finally {
  await browser.close();
  web.close();
  await stop(server.child);
  await stop(postgres.child);
}
if (failure) {
  console.error('restart: FAILED', failure);
  process.exit(1);
}
