// Runs every benchmark row in headless Chromium against a running dev server and prints one
// table — rockon-sync, the JS baseline (supabase-js + Dexie), the floor, and the ratios, all
// measured in this run — plus bench-results.json.
// Usage: node bench/compare.mjs <devserver url> <anon key>
import { chromium } from 'playwright-core';
import { readFile, writeFile } from 'node:fs/promises';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import os from 'node:os';
import { serve, CHROMIUM_FLAGS } from '../tests/support/browser.mjs';

const [url, anon] = process.argv.slice(2);
const env = (name, fallback) => Number(process.env[name] ?? fallback);
const RUNS = env('BENCH_RUNS', 5);
// BENCH_ONLY=1,5 runs only those rows.
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map(Number)) : null;
const wanted = (n) => !ONLY || ONLY.has(n);
const SECONDS = env('BENCH_PROPAGATION_SECONDS', 30);
const OFFLINE_SECONDS = env('BENCH_OFFLINE_SECONDS', 60);
const BAND = '641657c9-9f8e-5c07-b44e-4ececddac108';
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const spread = (values) => `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
const fmt = (n) => (n == null ? '–' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const ratio = (ours, other) => (ours == null || other == null || other === 0 ? '–' : `${(ours / other).toFixed(2)}×`);
const rows = [];
const json = { date: new Date().toISOString(), machine: `${os.cpus().length} cores, ${os.type()} ${os.release()}`, rows: {} };
function row(name, unit, ours, baseline, floor, note = '') {
  rows.push({ name, unit, ours, baseline, floor, note });
  json.rows[name] = { unit, rockon: ours, baseline, floor, note };
  console.error(`  ${name}: ${fmt(ours)} / ${fmt(baseline)} / ${fmt(floor)} ${unit} ${note}`);
}

const web = await serve('dist/bench', 'suite.js');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [...CHROMIUM_FLAGS, '--enable-precise-memory-info', '--js-flags=--expose-gc'],
});
const context = await browser.newContext();
const page = await context.newPage();
page.on('pageerror', (error) => console.error('page error:', error));
if (process.env.BENCH_DEBUG) {
  page.on('console', (message) => console.error(`  [page] ${message.text()}`));
  await page.addInitScript(() => { globalThis.benchDebug = true; });
}
const query = `?url=${encodeURIComponent(url)}&anon=${encodeURIComponent(anon)}`;
// A fresh page; `load` also loads both implementations (not for cold starts, which time it).
async function fresh(load = true) {
  await page.goto(`${web.url}${query}`);
  await page.waitForFunction(() => window.benchReady === true);
  if (load) await page.evaluate(() => window.bench.ready());
}
const evaluate = (phase, args) => page.evaluate(({ phase, args }) => window.bench[phase](args), { phase, args });
// BENCH_PROFILE=burst (a phase of bench/suite.js) records Chromium's CPU profile of each run of
// that phase for rockon-sync: bench-profile-<phase>-<n>.cpuprofile (open it in DevTools'
// Performance panel), and prints the functions with the most time of their own.
const PROFILE = process.env.BENCH_PROFILE;
let profiled = 0;
async function run(phase, args) {
  if (phase !== PROFILE || (args.kind && args.kind !== 'rockon')) return evaluate(phase, args);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  await cdp.send('Profiler.start');
  const result = await evaluate(phase, args);
  const { profile } = await cdp.send('Profiler.stop');
  await cdp.detach();
  profiled += 1;
  const file = `bench-profile-${phase}-${profiled}.cpuprofile`;
  await writeFile(file, JSON.stringify(profile));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  for (const id of profile.samples) {
    const { functionName, url: source } = nodes.get(id).callFrame;
    const name = functionName || source.split('/').pop() || '(anonymous)';
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  const busy = [...self].filter(([name]) => name !== '(idle)');
  const total = busy.reduce((sum, [, n]) => sum + n, 0);
  console.error(`  profile of ${phase} in ${file}; most self time, of busy samples:`);
  for (const [name, n] of busy.sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.error(`    ${((100 * n) / total).toFixed(1).padStart(5)} %  ${name.slice(0, 110)}`);
  }
  return result;
}

async function signIn(name) {
  const response = await fetch(`${url}/auth/v1/token?grant_type=password`, {
    method: 'POST', headers: { apikey: anon, 'content-type': 'application/json' },
    body: JSON.stringify({ email: `${name}@rockon.test`, password: 'rockon' }),
  });
  return (await response.json()).access_token;
}

const raw = {};
try {
  await fresh();
  const version = await run('ready', {});
  console.error(`rockon-sync ${version}: ${RUNS} runs per row where a row is repeated`);

  // 1. Propagation.
  if (wanted(1)) {
  console.error(`propagation: 20 writes/s for ${SECONDS} s, ${RUNS} runs`);
  const runs = [];
  for (let n = 0; n < RUNS; n += 1) {
    await fresh();
    runs.push(await run('propagation', { rate: 20, seconds: SECONDS }));
  }
  raw.propagation = runs;
  // Each figure is the median of the runs' figures; the spread is of the runs' p50s.
  const pick = (side, q) => median(runs.map((r) => r[side][q]));
  const spreadOf = (side) => spread(runs.map((r) => r[side].p50));
  for (const q of ['p50', 'p95', 'p99']) {
    row(`1. propagation ${q} (write → other member's store + listener; broadcast, the default)`, 'ms',
      pick('rockon', q), pick('baseline', q), pick('floor', q),
      q === 'p50' ? `${runs[0].rockon.n} writes × ${RUNS}; spread of p50 ${spreadOf('rockon')} / ${spreadOf('baseline')}; floor: postgres_changes frame on a raw socket, no store` : '');
  }
  for (const q of ['p50', 'p99']) {
    row(`1b. propagation ${q} with changes: 'postgres_changes'`, 'ms',
      pick('rockonPostgresChanges', q), pick('baseline', q), pick('floor', q),
      q === 'p50' ? `the same writes; spread of p50 ${spreadOf('rockonPostgresChanges')} / ${spreadOf('baseline')}` : '');
  }

  }

  // 2. Burst.
  if (wanted(2)) {
  const burst = { rockon: [], baseline: [], floor: [] };
  raw.burst = burst;
  for (let n = 0; n < Math.min(RUNS, 3); n += 1) {
    for (const kind of ['rockon', 'baseline', 'floor']) {
      await fresh();
      burst[kind].push(await run('burst', { kind, rows: 5000 }));
    }
  }
  const burstTotal = (kind) => median(burst[kind].map((r) => r.totalMs));
  row('2. burst of 5,000 remote changes: all applied and announced', 'ms', burstTotal('rockon'), burstTotal('baseline'), burstTotal('floor'),
    `spread ${spread(burst.rockon.map((r) => r.totalMs))} / ${spread(burst.baseline.map((r) => r.totalMs))}; floor: every frame on a raw socket (the server's pace); one raw IndexedDB put of the rows takes ${fmt(median(burst.floor.map((r) => r.idbMs)))} ms`);
  row('2. burst: rows/s', 'rows/s', 5000 / burstTotal('rockon') * 1000, 5000 / burstTotal('baseline') * 1000, 5000 / burstTotal('floor') * 1000);
  row('2. burst: IndexedDB transactions', 'count', median(burst.rockon.map((r) => r.transactions)), median(burst.baseline.map((r) => r.transactions)), 1);
  // The browser reports only tasks of 50 ms or more: a run with none counts as 0.
  const longest = (kind) => burst[kind].map((r) => fmt(r.longestTaskMs)).join(', ');
  row('2. burst: longest main-thread task', 'ms', median(burst.rockon.map((r) => r.longestTaskMs)), median(burst.baseline.map((r) => r.longestTaskMs)), null,
    `runs: ${longest('rockon')} / ${longest('baseline')}; tasks under 50 ms are not reported (0: none reached 50 ms)`);

  }

  // 3. Local optimistic write.
  if (wanted(3)) {
  const local = { rockon: [], baseline: [], floor: [] };
  raw.local = local;
  for (let n = 0; n < RUNS; n += 1) {
    for (const kind of ['rockon', 'baseline', 'floor']) local[kind].push(await run('localWrite', { kind, writes: 200 }));
  }
  for (const q of ['p50', 'p99']) {
    const pick = (kind) => median(local[kind].map((r) => r[q]));
    row(`3. local write → listener ${q}`, 'ms', pick('rockon'), pick('baseline'), pick('floor'),
      q === 'p50' ? `200 writes × ${RUNS}; spread of p50 ${spread(local.rockon.map((r) => r.p50))} / ${spread(local.baseline.map((r) => r.p50))}` : '');
  }

  }

  // 4. Cold start.
  if (wanted(4)) {
  await fresh();
  await run('coldPrepare', { rows: 10000 });
  const cold = { rockon: [], baseline: [], floor: [] };
  raw.cold = cold;
  for (let n = 0; n < RUNS; n += 1) {
    for (const kind of ['rockon', 'baseline', 'floor']) {
      await fresh(false);
      cold[kind].push(await run('coldStart', { kind }));
    }
  }
  const coldTotal = (kind) => median(cold[kind].map((r) => r.totalMs));
  row('4. cold start, 10,000 cached rows: load + open + first list', 'ms', coldTotal('rockon'), coldTotal('baseline'), coldTotal('floor'),
    `of which loading the code ${fmt(median(cold.rockon.map((r) => r.loadMs)))} / ${fmt(median(cold.baseline.map((r) => r.loadMs)))} ms, opening ${fmt(median(cold.rockon.map((r) => r.openMs)))} / ${fmt(median(cold.baseline.map((r) => r.openMs)))} ms; spread ${spread(cold.rockon.map((r) => r.totalMs))} / ${spread(cold.baseline.map((r) => r.totalMs))}`);

  }

  // 5. Catch-up after being offline while 2,000 rows changed.
  if (wanted(5)) {
  const bob = await signIn('bob');
  // Each run waits a minute offline per side: three runs, as for the other long rows.
  const catchupRuns = Math.min(RUNS, 3);
  const catchup = { rockon: [], baseline: [], floor: [] };
  raw.catchup = catchup;
  for (let n = 0; n < catchupRuns; n += 1) {
    for (const kind of ['rockon', 'baseline', 'floor']) {
      await fresh();
      await run('catchupStart', { kind });
      await context.setOffline(true);
      const missed = Array.from({ length: 2000 }, (_, i) => ({ id: crypto.randomUUID(), band_id: BAND, title: `Missed ${i}` }));
      const response = await fetch(`${url}/rest/v1/songs`, {
        method: 'POST',
        headers: { apikey: anon, authorization: `Bearer ${bob}`, 'content-type': 'application/json' },
        body: JSON.stringify(missed),
      });
      if (response.status !== 201) throw new Error(`catch-up insert: ${response.status}`);
      await new Promise((resolve) => setTimeout(resolve, (kind === 'floor' ? 1 : OFFLINE_SECONDS) * 1000));
      await context.setOffline(false);
      const result = await run('catchupWait', { ids: missed.map((r) => r.id) });
      catchup[kind].push(result);
      console.error(`  catch-up ${kind}: ${fmt(result.totalMs)} ms${result.missing ? `, ${result.missing} rows still missing after 120 s` : ''}`);
      if (process.env.BENCH_DEBUG && result.log) console.error(result.onlineAt, result.log.join('\n'));
    }
  }
  // A run that never saw every row counts as endless, not as fast.
  const total = (kind) => catchup[kind].map((r) => r.totalMs ?? Infinity);
  row(`5. catch-up after ${OFFLINE_SECONDS} s offline, 2,000 rows changed`, 'ms', median(total('rockon')), median(total('baseline')), median(total('floor')),
    `from back online to the last row in the store; ${catchupRuns} runs, spread ${spread(total('rockon'))} / ${spread(total('baseline'))}; floor: one REST read + one raw IndexedDB put`);

  }

  // 6. Frames.
  if (wanted(6)) {
  await fresh();
  // A run takes tens of milliseconds, so one collection or scheduling hiccup moves it by half:
  // at least 25 runs a side, alternating, whatever BENCH_RUNS says.
  const frameRuns = Math.max(RUNS, 25);
  const frames = await run('frames', { count: 5000, runs: frameRuns });
  raw.frames = frames;
  row(`6. one postgres_changes frame parsed (5,000 frames × ${frameRuns})`, 'µs', median(frames.rockon), median(frames.json), median(frames.json),
    `module: decode + typed change + JS object; baseline and floor: JSON.parse; spread ${spread(frames.rockon)} / ${spread(frames.json)}`);

  }

  // 7. Bundle size.
  if (wanted(7)) {
  const size = async (files) => {
    const bytes = Buffer.concat(await Promise.all(files.map((f) => readFile(f))));
    return {
      raw: bytes.length,
      gzip: gzipSync(bytes, { level: 9 }).length,
      brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  };
  // The module and its glue against supabase-js, Dexie and the baseline's layer; the React
  // bindings, which the baseline has no counterpart of, are a figure of their own.
  const ours = await size(['dist/bench-size/rockon.js', 'pkg/rockon_sync_bg.wasm']);
  const hooks = await size(['dist/bench-size/hooks.js']);
  const theirs = await size(['dist/bench-size/baseline.js']);
  raw.sizes = { ours, hooks, theirs };
  for (const kind of ['gzip', 'brotli']) {
    row(`7. bundle, ${kind} (minified JS glue + wasm; React bindings apart)`, 'KB', ours[kind] / 1024, theirs[kind] / 1024, null,
      `${kind === 'gzip' ? `raw ${fmt(ours.raw / 1024)} / ${fmt(theirs.raw / 1024)} KB; ` : ''}the React bindings add ${fmt(hooks[kind] / 1024)} KB`);
  }

  }

  // 8. Memory.
  if (wanted(8)) {
  const memory = { rockon: [], baseline: [] };
  raw.memory = memory;
  for (let n = 0; n < RUNS; n += 1) {
    for (const kind of ['rockon', 'baseline']) {
      await fresh();
      memory[kind].push(await run('memory', { kind, rows: 10000, churn: 3600 }));
    }
  }
  const held = (m) => (m.loaded.heap + m.loaded.wasm - m.before.heap - m.before.wasm) / 1048576;
  const growth = (m) => (m.churned.heap + m.churned.wasm - m.loaded.heap - m.loaded.wasm) / 1048576;
  const figure = (kind, of) => median(memory[kind].map(of));
  const wasmGrowth = median(memory.rockon.map((m) => (m.loaded.wasm - m.before.wasm) / 1048576));
  row('8. memory holding 10,000 rows (JS heap + wasm memory)', 'MB', figure('rockon', held), figure('baseline', held), null,
    `${RUNS} runs, spread ${spread(memory.rockon.map(held))} / ${spread(memory.baseline.map(held))}; the module's memory grew ${fmt(wasmGrowth)} MB of it`);
  row('8. memory growth after 3,600 single-row changes (an hour at one a second)', 'MB', figure('rockon', growth), figure('baseline', growth), null,
    `spread ${spread(memory.rockon.map(growth))} / ${spread(memory.baseline.map(growth))}`);

  }

  // 9. Draining writes made offline once back online, over a network with added latency.
  if (wanted(9)) {
  const latency = env('BENCH_DRAIN_LATENCY_MS', 150);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const network = (offline, added) => cdp.send('Network.emulateNetworkConditions',
    { offline, latency: added, downloadThroughput: -1, uploadThroughput: -1 });
  const drain = {};
  raw.drain = drain;
  const cases = [
    ['9. drain 50 songs created offline', 50, false, RUNS],
    ['9b. drain 500 writes made offline (creates, and edits of new and existing songs)', 500, true, Math.min(RUNS, 3)],
  ];
  for (const [name, writes, mixed, runs] of cases) {
    const figures = { rockon: [], baseline: [] };
    drain[writes] = figures;
    for (let n = 0; n < runs; n += 1) {
      for (const kind of ['rockon', 'baseline']) {
        await network(false, 0);
        await fresh();
        await run('drainOpen', { kind, existing: 30 });
        await network(true, 0);
        const { localMs } = await run('drainWrite', { writes, mixed });
        const since = Date.now();
        await network(false, latency);
        const { emptyAt, requests } = await run('drainWait', { since });
        const ms = emptyAt === null ? null : emptyAt - since;
        figures[kind].push({ ms, requests, localMs });
        console.error(`  ${name}, ${kind}: ${ms === null ? 'not drained in 300 s' : `${fmt(ms)} ms`}, ${requests} requests; the writes took ${fmt(localMs)} ms`);
      }
    }
    const stuck = (kind) => figures[kind].filter((f) => f.ms === null).length;
    const ms = (kind) => figures[kind].filter((f) => f.ms !== null).map((f) => f.ms);
    const requests = (kind) => median(figures[kind].map((f) => f.requests));
    row(`${name}, back online at ${latency} ms added latency: until the server has every write`, 'ms',
      median(ms('rockon')), median(ms('baseline')), latency,
      `${runs} runs, spread ${spread(ms('rockon'))} / ${spread(ms('baseline'))}; requests ${requests('rockon')} / ${requests('baseline')}; floor: one round trip${stuck('rockon') + stuck('baseline') ? `; runs not drained in 300 s: ${stuck('rockon')} / ${stuck('baseline')}` : ''}`);
  }
  await network(false, 0);
  await cdp.detach();
  }

  json.raw = raw;
} finally {
  await browser.close();
  web.close();
}

console.log(`\nrockon-sync against the JS baseline (supabase-js + Dexie) and the floor — ${json.date.slice(0, 10)}, ${json.machine}\n`);
console.log('| row | rockon-sync | JS baseline | floor | vs baseline | vs floor | notes |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.name} | ${fmt(r.ours)} ${r.unit} | ${fmt(r.baseline)} | ${fmt(r.floor)} | ${ratio(r.ours, r.baseline)} | ${ratio(r.ours, r.floor)} | ${r.note} |`);
}
await writeFile('bench-results.json', `${JSON.stringify(json, null, 2)}\n`);
console.log('\nbench-results.json written');
