// The benchmark page: every row of the comparison, each measured for rockon-sync, for the JS
// baseline (bench/baseline.js: supabase-js + Dexie) and for the floor (the same operation done
// directly), in the same browser. bench/run.mjs drives it phase by phase.
import { deleteDb, offlineToken, percentile, rawPut } from './floor.js';

const params = new URLSearchParams(location.search);
const URL_ = params.get('url');
const ANON = params.get('anon');
const BAND = '641657c9-9f8e-5c07-b44e-4ececddac108';
const UNREACHABLE = 'http://127.0.0.1:9';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (check, ms, what) => {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
};
const summary = (values) => ({
  n: values.length, p50: percentile(values, 0.5), p95: percentile(values, 0.95), p99: percentile(values, 0.99),
  min: Math.min(...values), max: Math.max(...values),
});

let rockon;
let Baseline;
const load = async () => {
  rockon ??= await import('rockon-sync');
  Baseline ??= (await import('./baseline.js')).BaselineSync;
};

async function signIn(name) {
  const response = await fetch(`${URL_}/auth/v1/token?grant_type=password`, {
    method: 'POST', headers: { apikey: ANON, 'content-type': 'application/json' },
    body: JSON.stringify({ email: `${name}@rockon.test`, password: 'rockon' }),
  });
  const session = await response.json();
  return { id: session.user.id, token: session.access_token };
}

async function rest(user, method, path, body) {
  const response = await fetch(`${URL_}/rest/v1/${path}`, {
    method,
    headers: { apikey: ANON, authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status}`);
}

/** A new band of alice with bob in it, so a burst lands in an empty band. */
async function freshBand(alice, bob) {
  const id = crypto.randomUUID();
  await rest(alice, 'POST', 'bands', { id, name: `Bench ${id.slice(0, 8)}` });
  await rest(alice, 'POST', 'band_memberships', { band_id: id, user_id: bob.id, role: 'member' });
  return id;
}

async function insert(user, rows) {
  const response = await fetch(`${URL_}/rest/v1/songs`, {
    method: 'POST',
    headers: { apikey: ANON, authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(rows),
  });
  if (response.status !== 201) throw new Error(`insert failed: ${response.status}`);
}

/** Records when each id first reached a listener. */
function watch(on) {
  const seen = new Map();
  const watcher = { seen, last: performance.now() };
  watcher.stop = on((event) => {
    if (event.type !== 'change' || event.source === 'local') return;
    const now = performance.now();
    watcher.last = now;
    for (const id of event.ids) if (!seen.has(id)) seen.set(id, now);
  });
  return watcher;
}

/** Waits until the band's first download is over (no change for a second). */
async function settled(watcher, what, empty = false) {
  if (!empty) await until(() => watcher.seen.size > 0, 15000, what);
  await until(() => performance.now() - watcher.last > 1000, 120000, what);
}

async function openRockon(user, name, supabaseUrl = URL_, changes = undefined) {
  await deleteDb(name);
  return rockon.SyncClient.open({ supabaseUrl, anonKey: ANON, accessToken: user.token, userId: user.id, databaseName: name, changes });
}

async function openBaseline(user, name, url = URL_) {
  await deleteDb(name);
  const sync = new Baseline({ url, anonKey: ANON, accessToken: user.token, databaseName: name });
  await sync.open();
  return sync;
}

/** The floor of the network path: a bare Phoenix client on a raw WebSocket, no storage. */
function rawSocket(user, band = BAND) {
  const socket = new WebSocket(`${URL_.replace('http', 'ws')}/realtime/v1/websocket?apikey=${ANON}&vsn=1.0.0`);
  const seen = new Map();
  let subscribed = false;
  socket.onopen = () => socket.send(JSON.stringify({
    topic: 'realtime:floor', event: 'phx_join', ref: '1', join_ref: '1',
    payload: { config: { postgres_changes: [{ event: '*', schema: 'public', table: 'songs', filter: `band_id=eq.${band}` }] }, access_token: user.token },
  }));
  socket.onmessage = (message) => {
    const now = performance.now();
    const frame = JSON.parse(message.data);
    if (frame.event === 'system' && frame.payload.status === 'ok') subscribed = true;
    if (frame.event === 'postgres_changes') {
      const id = frame.payload.data.record?.id;
      if (id && !seen.has(id)) seen.set(id, now);
    }
  };
  const heartbeat = setInterval(() => socket.readyState === 1 && socket.send(JSON.stringify({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: 'h' })), 20000);
  return { seen, ready: () => subscribed, close: () => { clearInterval(heartbeat); socket.close(); } };
}

/** Longest main-thread task while `body` runs. */
async function longestTask(body) {
  let longest = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longest = Math.max(longest, entry.duration);
  });
  observer.observe({ type: 'longtask', buffered: false });
  const result = await body();
  await sleep(50);
  observer.disconnect();
  return { result, longest };
}

/** `changes` picks how rockon-sync receives changes (its default when undefined). */
async function following(kind, user, name, band = BAND, changes = undefined) {
  if (kind === 'rockon') {
    const client = await openRockon(user, name, URL_, changes);
    let subscribed = false;
    client.on('channel', (e) => { if (e.state === 'subscribed') subscribed = true; });
    const watcher = watch((listener) => client.on('*', listener));
    client.followBand(band);
    await until(() => subscribed, 15000, 'rockon subscribed');
    await settled(watcher, 'rockon initial download', band !== BAND);
    return { watcher, flushes: () => client.syncLog().filter((e) => e.type === 'change' && e.source === 'remote').length,
      log: () => client.syncLog().map((e) => `${Math.round(e.at % 100000)} ${e.type} ${e.state ?? e.source ?? ''} ${e.ids?.length ?? ''}`),
      close: async () => { client.close(); await deleteDb(name); } };
  }
  const sync = await openBaseline(user, name);
  const watcher = watch((listener) => sync.on(listener));
  sync.followBand(band);
  await settled(watcher, 'baseline initial download', band !== BAND);
  return { watcher, flushes: () => sync.transactions, sync, close: async () => { await sync.close(); await deleteDb(name); } };
}

window.bench = {
  async ready() {
    await load();
    return rockon.version();
  },

  // 1. A write by bob → the row in alice's store and her listener called; every receiver runs
  // side by side on the same writes: rockon-sync both ways (Broadcast from Database, its
  // default, and postgres_changes), the baseline (postgres_changes) and the raw-socket floor.
  async propagation({ rate, seconds }) {
    const [alice, bob] = [await signIn('alice'), await signIn('bob')];
    const ours = await following('rockon', alice, 'bench-prop-rockon', BAND, 'broadcast');
    const oursByChanges = await following('rockon', alice, 'bench-prop-rockon-pg', BAND, 'postgres_changes');
    const theirs = await following('baseline', alice, 'bench-prop-baseline');
    const floor = rawSocket(alice);
    await until(floor.ready, 10000, 'raw socket subscribed');
    await sleep(500);
    const sent = new Map();
    for (let i = 0; i < rate * seconds; i += 1) {
      const id = crypto.randomUUID();
      const started = performance.now();
      sent.set(id, started);
      await insert(bob, [{ id, band_id: BAND, title: `Latency ${i}` }]);
      await sleep(Math.max(0, 1000 / rate - (performance.now() - started)));
    }
    await sleep(1500);
    const latencies = (seen) => [...sent].filter(([id]) => seen.has(id)).map(([id, at]) => seen.get(id) - at);
    const result = {
      rockon: summary(latencies(ours.watcher.seen)),
      rockonPostgresChanges: summary(latencies(oursByChanges.watcher.seen)),
      baseline: summary(latencies(theirs.watcher.seen)),
      floor: summary(latencies(floor.seen)),
    };
    floor.close();
    await ours.close();
    await oursByChanges.close();
    await theirs.close();
    return result;
  },

  // 2. BURST rows committed at once by bob → every row applied and announced.
  async burst({ kind, rows }) {
    const [alice, bob] = [await signIn('alice'), await signIn('bob')];
    const band = await freshBand(alice, bob);
    const burst = Array.from({ length: rows }, (_, i) => ({ id: crypto.randomUUID(), band_id: band, title: `Burst ${i}` }));
    if (kind === 'floor') {
      const floor = rawSocket(alice, band);
      await until(floor.ready, 10000, 'raw socket subscribed');
      const started = performance.now();
      await insert(bob, burst);
      await until(() => burst.every((row) => floor.seen.has(row.id)), 120000, 'floor burst');
      const arrived = Math.max(...burst.map((row) => floor.seen.get(row.id))) - started;
      floor.close();
      const appRows = burst.map((r) => ({ id: r.id, bandId: r.band_id, title: r.title, version: 1, updatedAt: new Date().toISOString(), deletedAt: null }));
      const idb = await rawPut('bench-burst-floor', appRows);
      // The server's pace is the floor: a client can write while frames still arrive.
      return { totalMs: arrived, idbMs: idb, transactions: 1, longestTaskMs: null };
    }
    const side = await following(kind, alice, `bench-burst-${kind}`, band);
    const flushesBefore = side.flushes();
    const { result, longest } = await longestTask(async () => {
      const started = performance.now();
      await insert(bob, burst);
      await until(() => burst.every((row) => side.watcher.seen.has(row.id)), 120000, `${kind} burst`);
      return Math.max(...burst.map((row) => side.watcher.seen.get(row.id))) - started;
    });
    const transactions = side.flushes() - flushesBefore;
    await side.close();
    return { totalMs: result, transactions, longestTaskMs: longest };
  },

  // 3. A local optimistic write → the listener called (pushes go nowhere: local cost only).
  async localWrite({ kind, writes }) {
    const name = `bench-local-${kind}`;
    const times = [];
    if (kind === 'floor') {
      await deleteDb(name);
      const db = await new Promise((resolve) => {
        const request = indexedDB.open(name, 1);
        request.onupgradeneeded = () => {
          request.result.createObjectStore('songs', { keyPath: 'id' }).createIndex('scope', 'bandId');
          request.result.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
        };
        request.onsuccess = () => resolve(request.result);
      });
      for (let i = 0; i < writes; i += 1) {
        const started = performance.now();
        await new Promise((resolve) => {
          const tx = db.transaction(['songs', 'outbox'], 'readwrite');
          const row = { id: crypto.randomUUID(), bandId: BAND, title: `Local ${i}`, version: 0 };
          tx.objectStore('songs').put(row);
          tx.objectStore('outbox').add({ rowId: row.id, op: 'insert', fields: row });
          tx.oncomplete = resolve;
        });
        times.push(performance.now() - started);
      }
      db.close();
      await deleteDb(name);
      return summary(times);
    }
    const user = { id: 'bench', token: offlineToken('bench') };
    const target = kind === 'rockon' ? await openRockon(user, name, UNREACHABLE) : await openBaseline(user, name, UNREACHABLE);
    if (kind === 'rockon') target.setOnline(false);
    let resolveEvent;
    const on = kind === 'rockon' ? (l) => target.on('change', l) : (l) => target.on(l);
    on((event) => { if (event.source === 'local') resolveEvent?.(performance.now()); });
    for (let i = 0; i < writes; i += 1) {
      const fired = new Promise((resolve) => { resolveEvent = resolve; });
      const started = performance.now();
      target.create('songs', { bandId: BAND, title: `Local ${i}` });
      times.push((await fired) - started);
    }
    if (kind === 'rockon') target.close(); else await target.close();
    await deleteDb(name);
    return summary(times);
  },

  // 4. Cold start, step one (in an earlier page): 10,000 rows cached for each kind.
  async coldPrepare({ rows }) {
    await load();
    const now = new Date().toISOString();
    const wire = Array.from({ length: rows }, (_, i) => ({
      id: crypto.randomUUID(), band_id: BAND, title: `Song ${i}`, artist: 'Band', key: 'E', tempo: 120,
      version: 1, created_at: now, updated_at: now, deleted_at: null,
    }));
    const user = { id: 'bench', token: offlineToken('bench') };
    const client = await openRockon(user, 'bench-cold-rockon', UNREACHABLE);
    await client.applyServerRows('songs', wire);
    client.close();
    const sync = await openBaseline(user, 'bench-cold-baseline', UNREACHABLE);
    await sync.db.table('songs').bulkPut(wire.map((r) => ({ id: r.id, bandId: r.band_id, title: r.title, artist: r.artist, key: r.key, tempo: r.tempo, version: 1, createdAt: now, updatedAt: now, deletedAt: null })));
    await sync.close();
    await deleteDb('bench-cold-floor');
    await new Promise((resolve) => {
      const request = indexedDB.open('bench-cold-floor', 1);
      request.onupgradeneeded = () => request.result.createObjectStore('songs', { keyPath: 'id' }).createIndex('scope', 'bandId');
      request.onsuccess = () => {
        const tx = request.result.transaction('songs', 'readwrite');
        for (const r of wire) tx.objectStore('songs').put({ id: r.id, bandId: r.band_id, title: r.title });
        tx.oncomplete = () => { request.result.close(); resolve(); };
      };
    });
    return true;
  },

  // 4. Cold start, step two (on a fresh page load): load the code, open, list the band.
  async coldStart({ kind }) {
    const started = performance.now();
    let loaded;
    let opened;
    let rows;
    if (kind === 'rockon') {
      const module = await import('rockon-sync');
      loaded = performance.now();
      const client = await module.SyncClient.open({ supabaseUrl: UNREACHABLE, anonKey: ANON, accessToken: offlineToken('bench'), userId: 'bench', databaseName: 'bench-cold-rockon' });
      opened = performance.now();
      rows = (await client.list('songs', BAND)).length;
      client.close();
    } else if (kind === 'baseline') {
      const { BaselineSync } = await import('./baseline.js');
      loaded = performance.now();
      const sync = new BaselineSync({ url: UNREACHABLE, anonKey: ANON, accessToken: 'none', databaseName: 'bench-cold-baseline' });
      await sync.open();
      opened = performance.now();
      rows = (await sync.list('songs', BAND)).length;
      await sync.close();
    } else {
      loaded = performance.now();
      rows = await new Promise((resolve) => {
        const request = indexedDB.open('bench-cold-floor', 1);
        request.onsuccess = () => {
          const get = request.result.transaction('songs').objectStore('songs').index('scope').getAll(BAND);
          get.onsuccess = () => { resolve(get.result.length); request.result.close(); };
        };
      });
    }
    return { totalMs: performance.now() - started, loadMs: loaded - started, openMs: (opened ?? loaded) - loaded, rows };
  },

  // 5. Catch-up, step one: follow the band; the driver then takes the page offline.
  async catchupStart({ kind }) {
    const alice = await signIn('alice');
    if (kind === 'floor') {
      window.catchup = { kind, alice };
      return true;
    }
    window.catchup = { kind, side: await following(kind, alice, `bench-catchup-${kind}`) };
    return true;
  },

  // 5. Catch-up, step two, once back online: every missed row in the store.
  async catchupWait({ ids }) {
    const { kind, side, alice } = window.catchup;
    const started = performance.now();
    if (kind === 'floor') {
      const response = await fetch(`${URL_}/rest/v1/songs?select=*&band_id=eq.${BAND}&order=updated_at.desc&limit=${ids.length}`, {
        headers: { apikey: ANON, authorization: `Bearer ${alice.token}` },
      });
      const rows = await response.json();
      const ms = await rawPut('bench-catchup-floor', rows.map((r) => ({ ...r, bandId: r.band_id, updatedAt: r.updated_at })));
      return { totalMs: performance.now() - started, idbMs: ms };
    }
    try {
      await until(() => ids.every((id) => side.watcher.seen.has(id)), 120000, `${kind} catch-up`);
    } catch {
      // Reported as missing rather than failing the whole run.
      const log = side.log?.();
      await side.close();
      return { totalMs: null, missing: ids.filter((id) => !side.watcher.seen.has(id)).length, log };
    }
    const totalMs = Math.max(...ids.map((id) => side.watcher.seen.get(id))) - started;
    const log = side.log?.();
    await side.close();
    return { totalMs, log, onlineAt: Math.round((performance.timeOrigin + started) % 100000) };
  },

  // 6. Parsing realtime frames: in the module (decode + typed change + JS object) against
  // JSON.parse (what realtime-js does for vsn 1.0.0 text frames).
  async frames({ count, runs }) {
    await load();
    const frames = Array.from({ length: count }, (_, i) => JSON.stringify({
      topic: `realtime:band:${BAND}`, event: 'postgres_changes', ref: null, join_ref: null,
      payload: { ids: [1, 2, 3, 4], data: {
        schema: 'public', table: 'songs', commit_timestamp: '2026-11-23T12:00:00.000Z', type: 'UPDATE', columns: [],
        record: { id: crypto.randomUUID(), band_id: BAND, title: `Song ${i}`, artist: 'Band', key: 'E', tempo: 120, duration_seconds: 200, notes: 'n', version: 2, created_by: null, last_modified_by: null, created_at: '2026-11-23T12:00:00Z', updated_at: '2026-11-23T12:00:00Z', deleted_at: null },
        old_record: { id: 'x' }, errors: null,
      } },
    }));
    const time = (parse) => {
      const started = performance.now();
      let sink = 0;
      for (const text of frames) sink += parse(text) ? 1 : 0;
      if (sink !== count) throw new Error('a frame did not parse');
      return ((performance.now() - started) * 1000) / count;
    };
    const module = (text) => rockon.decodeRealtimeFrame(text, '1.0.0');
    const json = (text) => JSON.parse(text);
    // One untimed pass each first: the runs measure code that has been compiled for speed (V8
    // tiers a module's functions up as they run hot, and JSON.parse's callers likewise), as
    // a socket receiving changes for a while does.
    time(module);
    time(json);
    const rockonUs = [];
    const jsonUs = [];
    for (let run = 0; run < runs; run += 1) {
      rockonUs.push(time(module));
      jsonUs.push(time(json));
    }
    return { rockon: rockonUs, json: jsonUs };
  },

  // 9. Draining writes made offline. Step one, online: a band of alice's with `existing` songs
  // on the server, followed until they are all in the store.
  async drainOpen({ kind, existing }) {
    const [alice, bob] = [await signIn('alice'), await signIn('bob')];
    const band = await freshBand(alice, bob);
    const rows = Array.from({ length: existing }, (_, i) => ({ id: crypto.randomUUID(), band_id: band, title: `Existing ${i}` }));
    await insert(alice, rows);
    const name = `bench-drain-${kind}`;
    const client = kind === 'rockon' ? await openRockon(alice, name) : await openBaseline(alice, name);
    client.followBand(band);
    await until(async () => (await client.list('songs', band)).length === existing, 30000, `${kind} downloads the band`);
    window.drain = { kind, client, band, ids: rows.map((r) => r.id), name };
    performance.clearResourceTimings();
    performance.setResourceTimingBufferSize(100000);
    return true;
  },

  // 9. Step two, offline: `writes` writes. All creates when `mixed` is false; otherwise two
  // in five create a song, the rest edit one of the band's songs (those on the server and
  // those made offline alike).
  async drainWrite({ writes, mixed }) {
    const { client, band, ids } = window.drain;
    let seed = 1;
    const random = (n) => { seed = (seed * 48271) % 2147483647; return seed % n; };
    const started = performance.now();
    for (let i = 0; i < writes; i += 1) {
      if (!mixed || i % 5 < 2) {
        const row = await client.create('songs', { bandId: band, title: `Offline ${i}` });
        ids.push(row.id);
      } else {
        const id = ids[random(ids.length)];
        const patch = i % 2 ? { notes: `edit ${i}` } : { title: `Edited ${i}` };
        await client.update('songs', id, patch);
      }
    }
    return { localMs: performance.now() - started };
  },

  // 9. Step three, once the driver put the page back online: until the outbox is empty (every
  // write confirmed by the server). Returns the wall-clock time it was seen empty, and the
  // REST requests the page sent meanwhile.
  async drainWait({ since }) {
    const { kind, client, name } = window.drain;
    const pending = kind === 'rockon'
      ? () => { const info = client.connectionInfo(); return info.pendingCount + info.failedCount; }
      : () => client.db.table('outbox').count();
    // A drain that never ends is reported, not waited for.
    const drained = await until(async () => (await pending()) === 0, 300000, `${kind} outbox drained`)
      .then(() => true, () => false);
    const emptyAt = drained ? Date.now() : null;
    // The pushes: writes to songs, and reads of rows an answer left out (not the band's pulls).
    const requests = performance.getEntriesByType('resource')
      .filter((e) => e.name.includes('/rest/v1/songs') && !e.name.includes('order='))
      .filter((e) => performance.timeOrigin + e.startTime >= since).length;
    if (kind === 'rockon') client.close(); else await client.close();
    await deleteDb(name);
    return { emptyAt, requests };
  },

  // 8. Memory holding ROWS rows (loaded and listed), then after CHURN single-row changes. Both
  // hold the same rows: every column, in the app's names.
  async memory({ kind, rows, churn }) {
    const appRow = (r) => ({ id: r.id, bandId: r.band_id, title: r.title, artist: r.artist, version: r.version,
      createdAt: r.created_at, updatedAt: r.updated_at, deletedAt: r.deleted_at });
    await load();
    const heap = () => { globalThis.gc?.(); return performance.memory.usedJSHeapSize; };
    const wasm = () => (kind === 'rockon' ? rockon.memoryBytes() : 0);
    const now = new Date().toISOString();
    const wire = Array.from({ length: rows }, (_, i) => ({
      id: crypto.randomUUID(), band_id: BAND, title: `Song ${i}`, artist: 'Band', version: 1, created_at: now, updated_at: now, deleted_at: null,
    }));
    const user = { id: 'bench', token: offlineToken('bench') };
    await sleep(100);
    const before = { heap: heap(), wasm: wasm() };
    let held;
    let target;
    if (kind === 'rockon') {
      target = await openRockon(user, 'bench-memory-rockon', UNREACHABLE);
      target.setOnline(false);
      await target.applyServerRows('songs', wire);
      held = await target.list('songs', BAND);
    } else {
      target = await openBaseline(user, 'bench-memory-baseline', UNREACHABLE);
      await target.db.table('songs').bulkPut(wire.map(appRow));
      held = await target.list('songs', BAND);
    }
    const loaded = { heap: heap(), wasm: wasm(), rows: held.length };
    for (let i = 0; i < churn; i += 1) {
      const row = wire[i % rows];
      row.version += 1;
      row.updated_at = new Date(Date.now() + i).toISOString();
      row.title = `Song ${i} v${row.version}`;
      if (kind === 'rockon') await target.applyServerRows('songs', [row]);
      else await target.db.table('songs').put(appRow(row));
      if (i % 500 === 0) held = await target.list('songs', BAND);
    }
    held = await target.list('songs', BAND);
    const churned = { heap: heap(), wasm: wasm(), rows: held.length };
    held = null;
    if (kind === 'rockon') target.close(); else await target.close();
    await deleteDb(`bench-memory-${kind}`);
    return { before, loaded, churned };
  },
};
window.benchReady = true;
