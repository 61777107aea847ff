import { chromium } from 'playwright-core';
import { serve, CHROMIUM_FLAGS } from './tests/support/browser.mjs';
const [url, anon] = process.argv.slice(2);
const web = await serve('dist/bench', 'suite.js');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_FLAGS] });
const page = await (await browser.newContext()).newPage();
page.on('console', (m) => console.error('[page]', m.text()));
const go = async () => { await page.goto(`${web.url}?url=${encodeURIComponent(url)}&anon=${encodeURIComponent(anon)}`); await page.waitForFunction(() => window.benchReady === true); await page.evaluate(() => window.bench.ready()); };
await go();
console.log(JSON.stringify(await page.evaluate(() => window.bench.burst({ kind: 'rockon', rows: 5000 }))));
await go();
const cdp = await page.context().newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
await cdp.send('Profiler.start');
console.log(JSON.stringify(await page.evaluate(() => window.bench.burst({ kind: 'rockon', rows: 5000 }))));
const { profile } = await cdp.send('Profiler.stop');
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
profile.samples.forEach((id) => counts.set(id, (counts.get(id) ?? 0) + 1));
const self = new Map(); let total = 0;
for (const [id, c] of counts) { const n = byId.get(id); const k = n.callFrame.functionName || (n.callFrame.url.split('/').pop() + ':' + n.callFrame.lineNumber) || '(anon)'; self.set(k, (self.get(k) ?? 0) + c); total += c; }
for (const [k, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log((100 * c / total).toFixed(1).padStart(5), k.slice(0, 150));
// inclusive time for selected frames
const parent = new Map(); for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, c] of counts) { const seen = new Set(); let cur = id; while (cur) { const k = byId.get(cur).callFrame.functionName; if (k && !seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + c); } cur = parent.get(cur); } }
console.log('--- inclusive');
for (const [k, c] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log((100 * c / total).toFixed(1).padStart(5), k.slice(0, 150));
await browser.close();
process.exit(0);
