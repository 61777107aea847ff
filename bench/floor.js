// The floor both benchmarks compare against: plain JS putting rows into a fresh IndexedDB
// database (the module's song-store layout) in one transaction.

export const percentile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * q))];
};

/**
 * An unsigned token naming `userId`, for clients that never reach a server: `SyncClient.open`
 * refuses a token whose `sub` is not its `userId`.
 */
export const offlineToken = (userId) =>
  `offline.${btoa(JSON.stringify({ sub: userId })).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')}.unsigned`;

export function deleteDb(name) {
  return new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });
}

/** Milliseconds to put `rows` into a fresh database `name` in one transaction. */
export async function rawPut(name, rows) {
  await deleteDb(name);
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore('songs', { keyPath: 'id' });
      store.createIndex('scope', 'bandId');
      store.createIndex('scopeUpdated', ['bandId', 'updatedAt']);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const started = performance.now();
  await new Promise((resolve, reject) => {
    const tx = db.transaction('songs', 'readwrite');
    const store = tx.objectStore('songs');
    for (const row of rows) store.put(row);
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  const ms = performance.now() - started;
  db.close();
  await deleteDb(name);
  return ms;
}
