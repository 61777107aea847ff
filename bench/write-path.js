// Runs in headless Chromium: the write path of rockon-sync next to raw IndexedDB and Dexie,
// on the same rows, in the same browser. Results go to window.benchResult.
import { SyncClient } from 'rockon-sync';
import { deleteDb, offlineToken, percentile, rawPut } from './floor.js';
import Dexie from 'dexie';

const BAND = '641657c9-9f8e-5c07-b44e-4ececddac108';
const ROWS = 10_000;
const RUNS = 5;

const uuid = () => crypto.randomUUID();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Server rows as REST or Realtime deliver them (wire columns).
function wireRows(n) {
  const now = new Date().toISOString();
  return Array.from({ length: n }, (_, i) => ({
    id: uuid(), band_id: BAND, title: `Song ${i}`, artist: 'Band', key: 'E', tempo: 120,
    duration_seconds: 200, notes: null, version: 1, created_by: null, last_modified_by: null,
    created_at: now, updated_at: now, deleted_at: null,
  }));
}
// The same rows in the app's shape, as a JS layer stores them.
function appRows(rows) {
  return rows.map((r) => ({
    id: r.id, bandId: r.band_id, title: r.title, artist: r.artist, key: r.key, tempo: r.tempo,
    durationSeconds: r.duration_seconds, notes: r.notes, version: r.version, createdBy: r.created_by,
    lastModifiedBy: r.last_modified_by, createdAt: r.created_at, updatedAt: r.updated_at, deletedAt: r.deleted_at,
  }));
}

async function openClient(name) {
  return SyncClient.open({
    supabaseUrl: 'http://127.0.0.1:9', anonKey: 'none', accessToken: offlineToken('bench'),
    userId: 'bench', databaseName: name,
  });
}

async function dexiePut(name, rows) {
  await deleteDb(name);
  const db = new Dexie(name);
  db.version(1).stores({ songs: 'id, bandId, [bandId+updatedAt]' });
  await db.open();
  const started = performance.now();
  await db.songs.bulkPut(rows);
  const ms = performance.now() - started;
  db.close();
  await deleteDb(name);
  return ms;
}

async function modulePut(name, rows) {
  await deleteDb(name);
  const client = await openClient(name);
  const started = performance.now();
  const written = await client.applyServerRows('songs', rows);
  const ms = performance.now() - started;
  if (written !== rows.length) throw new Error(`applied ${written} of ${rows.length}`);
  client.free();
  await deleteDb(name);
  return ms;
}

async function dexieWrite(name, n) {
  await deleteDb(name);
  const db = new Dexie(name);
  // A competent JS outbox: the row and its queue entry in one Dexie transaction.
  db.version(1).stores({ songs: 'id, bandId', outbox: '++seq, rowId' });
  await db.open();
  const latencies = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const row = { id: uuid(), bandId: BAND, title: `Write ${i}`, version: 0, deletedAt: null };
    await db.transaction('rw', db.songs, db.outbox, async () => {
      await db.songs.put(row);
      await db.outbox.add({ rowId: row.id, table: 'songs', op: 'insert', fields: row });
    });
    latencies.push(performance.now() - started);
  }
  db.close();
  await deleteDb(name);
  return latencies;
}

async function moduleWrite(name, n) {
  await deleteDb(name);
  const client = await openClient(name);
  const latencies = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await client.create('songs', { bandId: BAND, title: `Write ${i}` });
    latencies.push(performance.now() - started);
  }
  client.free();
  await deleteDb(name);
  return latencies;
}

async function main() {
  const result = { rows: ROWS, runs: RUNS, bulk: { module: [], raw: [], dexie: [] }, write: {} };
  for (let run = 0; run < RUNS; run++) {
    const wire = wireRows(ROWS);
    const app = appRows(wire);
    result.bulk.raw.push(await rawPut(`bench-raw-${run}`, app));
    result.bulk.dexie.push(await dexiePut(`bench-dexie-${run}`, app));
    result.bulk.module.push(await modulePut(`bench-module-${run}`, wire));
  }
  const moduleLatencies = await moduleWrite('bench-write-module', 300);
  const dexieLatencies = await dexieWrite('bench-write-dexie', 300);
  result.write = {
    module: { p50: percentile(moduleLatencies, 0.5), p95: percentile(moduleLatencies, 0.95) },
    dexie: { p50: percentile(dexieLatencies, 0.5), p95: percentile(dexieLatencies, 0.95) },
  };
  for (const key of Object.keys(result.bulk)) {
    const values = result.bulk[key];
    result.bulk[key] = { median: median(values), min: Math.min(...values), max: Math.max(...values) };
  }
  return result;
}

main().then(
  (result) => { window.benchResult = { ok: true, ...result }; },
  (error) => { window.benchResult = { ok: false, error: String(error && error.stack || error) }; },
);
