// Serves dist/bench, runs the read-path page against a running dev server, prints the table.
// Usage: node bench/run-read.mjs <devserver url> <anon key>
import { runBundle } from '../tests/support/browser.mjs';

const [url, anon] = process.argv.slice(2);
const result = await runBundle('dist/bench', 'read-path.js', 'benchResult', 600_000,
  `?url=${encodeURIComponent(url)}&anon=${encodeURIComponent(anon)}`);
const f = (ms) => ms.toFixed(1);
const { latency, burst } = result;
console.log(`\nPropagation: REST commit by bob → row in alice's IndexedDB and her change event (${latency.delivered}/${latency.writes} writes at 20/s)`);
console.log('| p50 ms | p95 ms | p99 ms |');
console.log('|---|---|---|');
console.log(`| ${f(latency.p50)} | ${f(latency.p95)} | ${f(latency.p99)} |`);
console.log(`\nBurst: ${burst.rows} rows committed in one transaction by bob (${burst.delivered} delivered)`);
console.log('| measure | ms |');
console.log('|---|---|');
console.log(`| POST → last row applied in alice's store | ${f(burst.totalMs)} |`);
console.log(`| first → last row applied (client side of the burst) | ${f(burst.firstToLastMs)} |`);
console.log(`| floor: raw IndexedDB put of the same rows, one transaction | ${f(burst.floorMs)} |`);
console.log(`| IndexedDB transactions for the burst (flushes) | ${burst.flushes} |`);
