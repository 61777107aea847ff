// React bindings of rockon-sync: a provider and hooks built on useSyncExternalStore.
//
// Every hook reads from a small store per client and key that subscribes to the client's
// events only while a component uses it. Snapshots are immutable and shared structurally:
// a refetch that finds the same rows returns the very same array, so components re-render
// only when what they show changed.
import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useSyncExternalStore,
} from 'react';

const ClientContext = createContext(null);

/** Makes `client` (an open `SyncClient`) available to the hooks below it. */
export function SyncProvider({ client, children }) {
  return createElement(ClientContext.Provider, { value: client }, children);
}

/** The `SyncClient` of the nearest `SyncProvider`. */
export function useSyncClient() {
  const client = useContext(ClientContext);
  if (!client) throw new Error('rockon-sync/react: wrap the app in <SyncProvider client={client}>');
  return client;
}

// ---- stores --------------------------------------------------------------------------

const storesByClient = new WeakMap();

/**
 * A shared store: `load()` computes the value (sync or async), `events` names the client
 * events that may change it and `affects(event)` filters them. The value is kept between
 * subscribers, so a remount shows the last value at once while it refreshes.
 */
function storeFor(client, key, make) {
  let stores = storesByClient.get(client);
  if (!stores) storesByClient.set(client, (stores = new Map()));
  let store = stores.get(key);
  if (!store) stores.set(key, (store = createStore(client, make())));
  return store;
}

function createStore(client, { initial, load, events, affects = () => true, merge = replaceIfChanged }) {
  const subscribers = new Set();
  let snapshot = initial;
  let unsubscribers = [];
  let generation = 0;
  let stale = true;

  const publish = (next) => {
    const merged = merge(snapshot, next);
    if (merged === snapshot) return;
    snapshot = merged;
    for (const notify of [...subscribers]) notify();
  };

  const refresh = () => {
    const mine = ++generation;
    stale = false;
    let value;
    try {
      value = load(snapshot);
    } catch (error) {
      publish({ ...snapshot, loading: false, error });
      return;
    }
    if (value && typeof value.then === 'function') {
      value.then(
        (result) => mine === generation && publish(result),
        (error) => mine === generation && publish({ ...snapshot, loading: false, error }),
      );
    } else {
      publish(value);
    }
  };

  return {
    getSnapshot: () => snapshot,
    subscribe(notify) {
      subscribers.add(notify);
      if (subscribers.size === 1) {
        unsubscribers = events.map((name) =>
          client.on(name, (event) => {
            if (affects(event)) refresh();
          }),
        );
        if (stale || generation === 0) refresh();
      }
      return () => {
        subscribers.delete(notify);
        if (subscribers.size === 0) {
          for (const unsubscribe of unsubscribers) unsubscribe();
          unsubscribers = [];
          // Changes while nobody listens are not tracked: the next subscriber refetches.
          stale = true;
        }
      };
    },
  };
}

function useStore(store) {
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

/** Keeps the previous value when the new one is deeply equal (JSON data). */
function replaceIfChanged(previous, next) {
  return sameJson(previous, next) ? previous : next;
}

function sameJson(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && sameJson(a[key], b[key]));
}

/** New rows, reusing the previous row objects (and array) where nothing changed. */
function shareRows(previous, next) {
  if (next.error && !previous.error) return next;
  const oldById = new Map(previous.rows.map((row) => [row.id, row]));
  const rows = next.rows.map((row) => {
    const old = oldById.get(row.id);
    return old && sameJson(old, row) ? old : row;
  });
  const sameRows = rows.length === previous.rows.length && rows.every((row, i) => row === previous.rows[i]);
  if (sameRows && previous.loading === next.loading && previous.error === next.error) return previous;
  return { rows: sameRows ? previous.rows : rows, loading: next.loading, error: next.error };
}

const EMPTY_ROWS = Object.freeze({ rows: Object.freeze([]), loading: true, error: null });

// ---- hooks -----------------------------------------------------------------------------

/**
 * The live rows of a band's table, `{ rows, loading, error }`; `options` as `client.list`
 * takes them (`orderBy`, `descending`, `limit`, `includeDeleted`).
 */
export function useRows(table, bandId, options) {
  const client = useSyncClient();
  const optionsKey = JSON.stringify(options ?? {});
  const store = useMemo(
    () =>
      storeFor(client, `rows|${table}|${bandId}|${optionsKey}`, () => ({
        initial: EMPTY_ROWS,
        load: async () => ({
          rows: bandId ? await client.list(table, bandId, JSON.parse(optionsKey)) : [],
          loading: false,
          error: null,
        }),
        events: ['change'],
        affects: (event) => event.table === table && event.bandId === bandId,
        merge: shareRows,
      })),
    [client, table, bandId, optionsKey],
  );
  return useStore(store);
}

/** The band's songs, live. */
export const useSongs = (bandId, options) => useRows('songs', bandId, options);
/** The band's setlists, live. */
export const useSetlists = (bandId, options) => useRows('setlists', bandId, options);
/** The band's shows, live. */
export const useShows = (bandId, options) => useRows('shows', bandId, options);
/** The band's practice sessions, live. */
export const usePractices = (bandId, options) => useRows('practice_sessions', bandId, options);

/** One row, live: `{ row, loading, error }` (`row` is undefined when there is none). */
export function useRow(table, id) {
  const client = useSyncClient();
  const store = useMemo(
    () =>
      storeFor(client, `row|${table}|${id}`, () => ({
        initial: { row: undefined, loading: true, error: null },
        load: async () => ({ row: id ? await client.get(table, id) : undefined, loading: false, error: null }),
        events: ['change'],
        affects: (event) => event.table === table && event.ids.includes(id),
      })),
    [client, table, id],
  );
  return useStore(store);
}

/** The connection for an indicator: `ConnectionInfo`, updated as it changes. */
export function useConnection() {
  const client = useSyncClient();
  const store = useMemo(
    () =>
      storeFor(client, 'connection', () => ({
        initial: client.connectionInfo(),
        load: () => client.connectionInfo(),
        // syncStatus and change move the pending and failed counts and the last sync;
        // progress the rows a band's pull has read.
        events: ['connection', 'latency', 'bands', 'channelError', 'syncStatus', 'change', 'progress', 'storage'],
      })),
    [client],
  );
  return useStore(store);
}

/**
 * Unread counts: with a band, `{ total, byTable }` of that band; without, the counts of
 * every band (`{ total, byBand }`).
 */
export function useUnread(bandId) {
  const client = useSyncClient();
  const store = useMemo(
    () =>
      storeFor(client, `unread|${bandId ?? ''}`, () => {
        const read = () => {
          const counts = client.unread();
          if (!bandId) return counts;
          const byTable = counts.byBand[bandId] ?? {};
          const total = Object.values(byTable).reduce((sum, n) => sum + n, 0);
          return { total, byTable };
        };
        return { initial: read(), load: read, events: ['unread'] };
      }),
    [client, bandId],
  );
  return useStore(store);
}

/**
 * The ids of a band's unread rows (all bands without one), optionally of one table, as a Set
 * for badges: `unread.has(row.id)`.
 */
export function useUnreadIds(bandId, table) {
  const client = useSyncClient();
  const store = useMemo(
    () =>
      storeFor(client, `unreadIds|${bandId ?? ''}|${table ?? ''}`, () => {
        const read = () => new Set(client.unreadRows(bandId, table).map((mark) => mark.id));
        return { initial: read(), load: read, events: ['unread'], merge: sameSet };
      }),
    [client, bandId, table],
  );
  return useStore(store);
}

function sameSet(previous, next) {
  return previous.size === next.size && [...next].every((id) => previous.has(id)) ? previous : next;
}

/** A row's sync status (`synced`, `syncing`, `pending`, `error`, `conflict`). */
export function useSyncStatus(table, id) {
  const client = useSyncClient();
  const store = useMemo(
    () =>
      storeFor(client, `status|${table}|${id}`, () => ({
        initial: client.status(table, id),
        load: () => client.status(table, id),
        events: ['syncStatus', 'conflict', 'change'],
        affects: (event) => event.table === table && (event.id === id || (event.ids ?? []).includes(id)),
      })),
    [client, table, id],
  );
  return useStore(store);
}

/**
 * Who of the band is online (`PresenceMember[]`). With `meta`, also shows the others what
 * this user is viewing (sent again whenever it changes).
 */
export function usePresence(bandId, meta) {
  const client = useSyncClient();
  const metaKey = meta === undefined ? undefined : JSON.stringify(meta);
  useEffect(() => {
    if (bandId && metaKey !== undefined) client.setPresence(bandId, JSON.parse(metaKey));
  }, [client, bandId, metaKey]);
  const store = useMemo(
    () =>
      storeFor(client, `presence|${bandId}`, () => ({
        initial: bandId ? client.presence(bandId) : [],
        load: () => (bandId ? client.presence(bandId) : []),
        events: ['presence'],
        affects: (event) => event.bandId === bandId,
      })),
    [client, bandId],
  );
  return useStore(store);
}

/**
 * The recorded conflicts, `{ conflicts, resolve(table, id, choice) }`: each with both versions
 * of the row and the fields both sides changed; `resolve` settles one (`'mine'`, `'theirs'`
 * or chosen field values) and the list follows.
 */
export function useConflicts() {
  const client = useSyncClient();
  const store = useMemo(
    () =>
      storeFor(client, 'conflicts', () => ({
        initial: Object.freeze([]),
        load: () => client.conflicts(),
        events: ['conflict', 'syncStatus'],
      })),
    [client],
  );
  const conflicts = useStore(store);
  const resolve = useCallback((table, id, choice) => client.resolveConflict(table, id, choice), [client]);
  return { conflicts, resolve };
}

/**
 * A band's activity feed, newest first: `{ entries, unread, markRead(ids?) }`. Kept across
 * reloads; reading an entry reads its row, and opening a row reads its entries.
 */
export function useActivity(bandId, limit = 50) {
  const client = useSyncClient();
  const store = useMemo(
    () =>
      storeFor(client, `activity|${bandId}|${limit}`, () => {
        const read = () => (bandId
          ? { entries: client.activity(bandId, { limit }), unread: client.activityUnread(bandId) }
          : { entries: [], unread: 0 });
        return {
          initial: read(),
          load: read,
          events: ['activity'],
          affects: (event) => event.bandId === bandId,
        };
      }),
    [client, bandId, limit],
  );
  const state = useStore(store);
  const markRead = useCallback((ids) => (bandId ? client.markActivityRead(bandId, ids) : 0), [client, bandId]);
  return { entries: state.entries, unread: state.unread, markRead };
}

/** The other members editing row `id` of `table` now (they track `editing: { table, id }`). */
export function useEditors(table, id) {
  const client = useSyncClient();
  const store = useMemo(
    () =>
      storeFor(client, `editors|${table}|${id}`, () => {
        const read = () => (table && id ? client.editors(table, id) : []);
        return { initial: read(), load: read, events: ['presence'] };
      }),
    [client, table, id],
  );
  return useStore(store);
}

/**
 * Notifications to show as toasts, newest last: `{ notifications, dismiss(id) }`. Each has
 * an `id` besides the event's fields; at most `max` (default 5) are kept. Render `text` as
 * text, never as HTML: it holds other users' words.
 */
export function useNotifications(max = 5) {
  const client = useSyncClient();
  const store = useMemo(() => notificationStore(client, max), [client, max]);
  const notifications = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  const dismiss = useCallback((id) => store.dismiss(id), [store]);
  return { notifications, dismiss };
}

function notificationStore(client, max) {
  const subscribers = new Set();
  let list = Object.freeze([]);
  let unsubscribe = null;
  const publish = (next) => {
    list = Object.freeze(next);
    for (const notify of [...subscribers]) notify();
  };
  return {
    getSnapshot: () => list,
    subscribe(notify) {
      subscribers.add(notify);
      if (!unsubscribe) {
        unsubscribe = client.on('notification', (event) => {
          // A toast that grew ("3 changes by Alice") replaces the one it started as, in place.
          const at = list.findIndex((n) => n.id === event.id);
          publish(at >= 0 ? list.map((n, i) => (i === at ? event : n)) : [...list, event].slice(-max));
        });
      }
      return () => {
        subscribers.delete(notify);
        if (subscribers.size === 0 && unsubscribe) {
          unsubscribe();
          unsubscribe = null;
        }
      };
    },
    dismiss(id) {
      if (list.some((n) => n.id === id)) publish(list.filter((n) => n.id !== id));
    },
  };
}
