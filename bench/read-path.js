// Runs in headless Chromium against the dev server: propagation latency from a REST commit by
// one user to the row being in another user's IndexedDB with the change event fired, and a
// burst of remote changes, next to the floor (raw IndexedDB, one transaction) in the same run.
import { SyncClient } from 'rockon-sync';
import { deleteDb, percentile, rawPut } from './floor.js';

const params = new URLSearchParams(location.search);
const URL_ = params.get('url');
const ANON = params.get('anon');
const BAND = '641657c9-9f8e-5c07-b44e-4ececddac108';
const RATE = Number(params.get('rate') || 20);
const SECONDS = Number(params.get('seconds') || 15);
const BURST = Number(params.get('burst') || 5000);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function signIn(name) {
  const response = await fetch(`${URL_}/auth/v1/token?grant_type=password`, {
    method: 'POST', headers: { apikey: ANON, 'content-type': 'application/json' },
    body: JSON.stringify({ email: `${name}@rockon.test`, password: 'rockon' }),
  });
  const session = await response.json();
  return { id: session.user.id, token: session.access_token };
}
async function insert(user, rows) {
  const response = await fetch(`${URL_}/rest/v1/songs`, {
    method: 'POST',
    headers: { apikey: ANON, authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(rows),
  });
  if (response.status !== 201) throw new Error(`insert failed: ${response.status}`);
}
async function main() {
  const alice = await signIn('alice');
  const bob = await signIn('bob');
  const name = `bench-read-${Date.now()}`;
  const client = await SyncClient.open({ supabaseUrl: URL_, anonKey: ANON, accessToken: alice.token, userId: alice.id, databaseName: name });
  const seen = new Map();
  let remoteFlushes = 0;
  let subscribed = false;
  client.on('*', (event) => {
    if (event.type === 'channel' && event.state === 'subscribed') subscribed = true;
    if (event.type === 'change' && event.source === 'remote') {
      remoteFlushes++;
      const now = performance.now();
      for (const id of event.ids) if (!seen.has(id)) seen.set(id, now);
    }
  });
  client.followBand(BAND);
  while (!subscribed) await sleep(10);
  await sleep(500); // let the first catch-up pull finish

  // Propagation: one write every 1/RATE s.
  const sent = new Map();
  for (let i = 0; i < RATE * SECONDS; i++) {
    const id = crypto.randomUUID();
    const started = performance.now();
    sent.set(id, started);
    await insert(bob, [{ id, band_id: BAND, title: `Latency ${i}` }]);
    const spent = performance.now() - started;
    await sleep(Math.max(0, 1000 / RATE - spent));
  }
  await sleep(1000);
  const latencies = [...sent].filter(([id]) => seen.has(id)).map(([id, at]) => seen.get(id) - at);

  // Burst: BURST rows in one transaction, then every change applied and announced.
  const burst = Array.from({ length: BURST }, (_, i) => ({ id: crypto.randomUUID(), band_id: BAND, title: `Burst ${i}` }));
  const flushesBefore = remoteFlushes;
  const started = performance.now();
  await insert(bob, burst);
  const committed = performance.now();
  while (!burst.every((row) => seen.has(row.id)) && performance.now() - started < 120_000) await sleep(20);
  const done = Math.max(...burst.map((row) => seen.get(row.id) ?? Infinity));
  const firstSeen = Math.min(...burst.map((row) => seen.get(row.id) ?? Infinity));
  const appRows = burst.map((row) => ({ id: row.id, bandId: row.band_id, title: row.title, version: 1, updatedAt: new Date().toISOString(), deletedAt: null }));
  const floor = await rawPut('bench-read-floor', appRows);
  client.free();
  await deleteDb(name);
  return {
    latency: { writes: sent.size, delivered: latencies.length, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) },
    burst: {
      rows: BURST, delivered: burst.filter((row) => seen.has(row.id)).length,
      totalMs: done - started, commitMs: committed - started, firstToLastMs: done - firstSeen,
      flushes: remoteFlushes - flushesBefore, floorMs: floor,
    },
  };
}

main().then(
  (result) => { window.benchResult = { ok: true, ...result }; },
  (error) => { window.benchResult = { ok: false, error: String(error && error.stack || error) }; },
);
