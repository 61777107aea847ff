// A tab storm, as PowerSync tests it: 50 tabs of one user in one browser profile each write
// once, then 49 of them are closed abruptly, the leader among them. The survivor must lead
// within 2 s and every write must reach the server exactly once.
// Usage: node tests/e2e/tab-storm.mjs <rockon-devserver binary> [tabs]
import { chromium } from 'playwright-core';
import { serve, CHROMIUM_FLAGS } from '../support/browser.mjs';
import { start, stop } from '../support/processes.mjs';

const BIN = process.argv[2];
const TABS = Number(process.argv[3] || 50);
const ROCKERS = '641657c9-9f8e-5c07-b44e-4ececddac108';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const server = start(BIN, ['serve', '--port', '0'], 'rockon-devserver ready ');
const ready = JSON.parse(await server.line);
const web = await serve('dist/e2e', 'chaos-page.js');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
let failure = null;
try {
  const context = await browser.newContext();
  const query = `?url=${encodeURIComponent(ready.url)}&anon=${encodeURIComponent(ready.anonKey)}&user=alice&band=${ROCKERS}&db=storm-${Date.now()}`;
  const errors = [];
  const tabs = [];
  for (let n = 0; n < TABS; n++) {
    const tab = await context.newPage();
    tab.on('pageerror', (error) => errors.push(String(error)));
    await tab.goto(`${web.url}${query}`);
    tabs.push(tab);
  }
  for (const tab of tabs) {
    await tab.waitForFunction(() => window.ready !== undefined, null, { timeout: 60_000 });
    const boot = await tab.evaluate(() => window.ready);
    if (!boot.ok) throw new Error(boot.error);
  }
  const run = `storm ${Date.now()}`;
  const titles = tabs.map((_, n) => `${run} #${n}`);
  // Every tab writes once, all at the same time.
  await Promise.all(tabs.map((tab, n) => tab.evaluate((title) => window.chaos.create({ title }), titles[n])));

  // Close every tab but the last, the leader among them, without unload handlers.
  const leaders = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.chaos.leader())));
  const survivor = tabs.at(-1);
  if (leaders.at(-1)) throw new Error('the last tab should not be the leader (the first one opened is)');
  const closedAt = Date.now();
  await Promise.all(tabs.slice(0, -1).map((tab) => tab.close({ runBeforeUnload: false })));
  await survivor.waitForFunction(() => window.chaos.leader(), null, { timeout: 10_000, polling: 20 });
  const takeoverMs = Date.now() - closedAt;

  // Every write on the server exactly once.
  const token = (await (await fetch(`${ready.url}/auth/v1/token?grant_type=password`, {
    method: 'POST', headers: { apikey: ready.anonKey, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'alice@rockon.test', password: 'rockon' }),
  })).json()).access_token;
  let counts;
  for (const until = Date.now() + 60_000; Date.now() < until; await sleep(250)) {
    const response = await fetch(`${ready.url}/rest/v1/songs?select=title&title=like.${encodeURIComponent(run)}*`, {
      headers: { apikey: ready.anonKey, authorization: `Bearer ${token}` },
    });
    const rows = await response.json();
    counts = titles.map((title) => rows.filter((r) => r.title === title).length);
    if (counts.every((c) => c === 1)) break;
  }
  const landed = counts.filter((c) => c === 1).length;
  const duplicated = counts.filter((c) => c > 1).length;
  console.log(`tab storm: ${TABS} tabs, ${leaders.filter(Boolean).length} leader before, takeover after ${takeoverMs} ms, ${landed} of ${TABS} writes on the server once, ${duplicated} duplicated, page errors ${errors.length}`);
  if (landed !== TABS || duplicated || errors.length) throw new Error(`writes: ${JSON.stringify(counts)}; errors: ${errors.join('; ')}`);
  if (takeoverMs > 2_000) throw new Error(`the survivor took ${takeoverMs} ms to lead`);
} catch (error) {
  failure = error;
} finally {
  await browser.close();
  web.close();
  await stop(server.child);
}
if (failure) {
  console.error(failure);
  process.exit(1);
}
