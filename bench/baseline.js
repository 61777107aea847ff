// The JS baseline: a competent version of the sync layer rockon-sync replaces, built with the
// tools the app used — supabase-js (Realtime postgres_changes, postgrest-js) and Dexie. It
// buffers remote changes and writes each burst with one bulkPut, catches up over REST when a
// channel (re)subscribes, and keeps an outbox table next to the rows.
import { createClient } from '@supabase/supabase-js';
import Dexie from 'dexie';

export const TABLES = ['songs', 'setlists', 'shows', 'practice_sessions'];

const camelCache = new Map();
const camel = (key) => {
  let name = camelCache.get(key);
  if (name === undefined) {
    name = key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
    camelCache.set(key, name);
  }
  return name;
};
const toApp = (row) => {
  const out = {};
  for (const key in row) out[camel(key)] = row[key];
  return out;
};
const toWire = (row) => {
  const out = {};
  for (const key in row) out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = row[key];
  return out;
};

export class BaselineSync {
  constructor({ url, anonKey, accessToken, databaseName }) {
    this.supabase = createClient(url, anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      // A request the network swallowed fails after 30 s rather than holding the push loop.
      global: { headers: { Authorization: `Bearer ${accessToken}` },
        fetch: (input, init) => fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(30000) }) },
      realtime: globalThis.benchDebug ? { logger: (kind, msg) => console.log(`realtime ${kind} ${msg}`) } : {},
    });
    this.supabase.realtime.setAuth(accessToken);
    this.db = new Dexie(databaseName);
    const stores = Object.fromEntries(TABLES.map((t) => [t, 'id, bandId, [bandId+updatedAt]']));
    this.db.version(1).stores({ ...stores, outbox: '++seq, rowId', cursors: 'key' });
    this.listeners = new Set();
    this.pending = [];
    this.flushing = false;
    this.transactions = 0;
    this.channels = [];
  }

  open() {
    // Back online: push what waited.
    this.onOnline = () => this.push().catch(() => {});
    globalThis.addEventListener?.('online', this.onOnline);
    return this.db.open();
  }

  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event) {
    for (const listener of this.listeners) listener(event);
  }

  followBand(bandId) {
    const channel = this.supabase.channel(`band:${bandId}`);
    for (const table of TABLES) {
      channel.on('postgres_changes', { event: '*', schema: 'public', table, filter: `band_id=eq.${bandId}` },
        (payload) => this.receive(table, payload));
    }
    channel.subscribe((status) => {
      if (globalThis.benchDebug) console.log(`baseline channel ${status}`);
      if (status === 'SUBSCRIBED') this.catchUp(bandId).catch(() => {});
    });
    this.channels.push(channel);
  }

  receive(table, payload) {
    this.pending.push([table, payload]);
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => this.flush());
    }
  }

  // Everything that arrived meanwhile goes into one transaction.
  async flush() {
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      const puts = new Map();
      const deletes = new Map();
      for (const [table, payload] of batch) {
        if (payload.eventType === 'DELETE') {
          (deletes.get(table) ?? deletes.set(table, []).get(table)).push(payload.old.id);
        } else {
          (puts.get(table) ?? puts.set(table, []).get(table)).push(toApp(payload.new));
        }
      }
      const tables = [...new Set([...puts.keys(), ...deletes.keys()])].map((t) => this.db.table(t));
      await this.db.transaction('rw', tables, async () => {
        for (const [table, rows] of puts) await this.db.table(table).bulkPut(rows);
        for (const [table, ids] of deletes) await this.db.table(table).bulkDelete(ids);
      });
      this.transactions += 1;
      for (const [table, rows] of puts) this.emit({ type: 'change', source: 'remote', table, ids: rows.map((r) => r.id) });
      for (const [table, ids] of deletes) this.emit({ type: 'change', source: 'remote', table, ids });
    }
    this.flushing = false;
  }

  // What changed since the saved cursor, page by page. The cursor is (updated_at, id): rows
  // written in one transaction share a timestamp, so a timestamp alone cannot say where a page
  // of them ended.
  async catchUp(bandId) {
    for (const table of TABLES) {
      const key = `${table}:${bandId}`;
      let cursor = await this.db.table('cursors').get(key);
      for (;;) {
        let query = this.supabase.from(table).select('*').eq('band_id', bandId);
        if (cursor) {
          query = query.or(`updated_at.gt.${cursor.updatedAt},and(updated_at.eq.${cursor.updatedAt},id.gt.${cursor.id})`);
        }
        const { data, error } = await query.order('updated_at').order('id').limit(1000);
        if (error) throw error;
        if (data.length === 0) break;
        const rows = data.map(toApp);
        const last = rows.at(-1);
        cursor = { key, updatedAt: last.updatedAt, id: last.id };
        await this.db.transaction('rw', this.db.table(table), this.db.table('cursors'), async () => {
          await this.db.table(table).bulkPut(rows);
          await this.db.table('cursors').put(cursor);
        });
        this.transactions += 1;
        this.emit({ type: 'change', source: 'pull', table, ids: rows.map((r) => r.id) });
        if (data.length < 1000) break;
      }
    }
  }

  // An optimistic write: the row and its outbox entry in one transaction, then the push.
  async create(table, values) {
    const row = { id: crypto.randomUUID(), version: 0, deletedAt: null, ...values };
    await this.db.transaction('rw', this.db.table(table), this.db.table('outbox'), async () => {
      await this.db.table(table).put(row);
      await this.db.table('outbox').add({ rowId: row.id, table, op: 'insert', fields: row });
    });
    this.emit({ type: 'change', source: 'local', table, ids: [row.id] });
    this.push().catch(() => {});
    return row;
  }

  // An optimistic edit: the changed fields on the row and an outbox entry, then the push.
  async update(table, id, patch) {
    await this.db.transaction('rw', this.db.table(table), this.db.table('outbox'), async () => {
      await this.db.table(table).update(id, patch);
      await this.db.table('outbox').add({ rowId: id, table, op: 'update', fields: patch });
    });
    this.emit({ type: 'change', source: 'local', table, ids: [id] });
    this.push().catch(() => {});
  }

  async push() {
    if (this.pushing) return;
    this.pushing = true;
    try {
      for (;;) {
        const entry = await this.db.table('outbox').orderBy('seq').first();
        if (!entry) break;
        const { version, ...fields } = toWire(entry.fields);
        const table = this.supabase.from(entry.table);
        const { data, error } = entry.op === 'update'
          ? await table.update(fields).eq('id', entry.rowId).select()
          : await table.upsert(fields, { onConflict: 'id', ignoreDuplicates: true }).select();
        if (error) {
          this.retryLater();
          break;
        }
        await this.db.transaction('rw', this.db.table(entry.table), this.db.table('outbox'), async () => {
          if (data?.[0]) await this.db.table(entry.table).put(toApp(data[0]));
          await this.db.table('outbox').delete(entry.seq);
        });
      }
    } catch (error) {
      this.retryLater();
      throw error;
    } finally {
      this.pushing = false;
    }
  }

  // A failed push goes again in a second (and at once when the page comes back online).
  retryLater() {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.push().catch(() => {}), 1000);
  }

  list(table, bandId) {
    return this.db.table(table).where('bandId').equals(bandId).toArray();
  }

  async close() {
    globalThis.removeEventListener?.('online', this.onOnline);
    clearTimeout(this.retry);
    for (const channel of this.channels) await this.supabase.removeChannel(channel);
    this.db.close();
  }
}
