// Serves dist/bench (webpack --config-name bench) and runs the page in headless Chromium, then
// prints the table. `npm run bench:write` does the whole sequence.
import { writeFile } from 'node:fs/promises';
import { runBundle } from '../tests/support/browser.mjs';

const result = await runBundle('dist/bench', 'write-path.js', 'benchResult', 300_000);
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
