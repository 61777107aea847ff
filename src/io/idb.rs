//! IndexedDB requests, carried out by a few lines of JavaScript: each call is one transaction
//! whose requests are all issued at once, resolving with their results once it commits. The
//! browser runs the callbacks; the module awaits one promise per transaction instead of one
//! future per request (an async state machine per store method cost tens of kilobytes of the
//! module). Nothing here decides anything but how to ask IndexedDB; what to write is the
//! engine's, and a server row is written only if newer, per the store contract.

use js_sys::{Array, Promise};
use rockon_sync_core::sync::StoreError;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
const QUOTA = { name: 'QuotaExceededError',
  message: 'the browser aborted the transaction as it committed (storage quota); nothing was written' };
const SMALL_BATCH = 64;
function upgrade(db, tx, layout) {
  const stores = new Set(layout.map((spec) => spec.name));
  for (const name of Array.from(db.objectStoreNames)) if (!stores.has(name)) db.deleteObjectStore(name);
  for (const spec of layout) {
    const store = db.objectStoreNames.contains(spec.name) ? tx.objectStore(spec.name)
      : db.createObjectStore(spec.name, { keyPath: spec.keyPath, autoIncrement: spec.autoIncrement });
    const indexes = new Set(spec.indexes.map((index) => index.name));
    for (const name of Array.from(store.indexNames)) if (!indexes.has(name)) store.deleteIndex(name);
    for (const { name, keyPath } of spec.indexes) {
      if (!store.indexNames.contains(name)) store.createIndex(name, keyPath.length === 1 ? keyPath[0] : keyPath);
    }
  }
}
export function idb_open(name, version, layout) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, version);
    request.onupgradeneeded = () => upgrade(request.result, request.transaction, layout);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
export function idb_delete(name) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}
function transaction(db, stores, write, issue) {
  return new Promise((resolve, reject) => {
    let tx;
    const results = [];
    // A read's answers are final once each of its requests has succeeded: committing a
    // read-only transaction changes nothing, so its answer does not wait for the commit (one
    // more round trip to the browser's storage process). A write's waits: it is not stored
    // until then.
    let unanswered = 0;
    const request = (i, req) => {
      unanswered += 1;
      req.onsuccess = () => {
        results[i] = req.result;
        if (--unanswered === 0 && !write) resolve(results);
      };
    };
    try {
      tx = db.transaction(stores, write ? 'readwrite' : 'readonly');
      issue(tx, results, request);
    } catch (error) {
      try { tx && tx.abort(); } catch (_) {}
      reject(error);
      return;
    }
    tx.oncomplete = () => resolve(results);
    // Aborted with no request failing: the browser refused the commit, which in practice is
    // the storage quota. Nothing was written; treating it as done would acknowledge writes
    // that are not stored.
    tx.onabort = () => reject(tx.error || QUOTA);
  });
}
export function idb_run(db, stores, write, ops) {
  return transaction(db, stores, write, (tx, results, request) => ops.forEach(([verb, name, a, b], i) => {
    const store = tx.objectStore(name);
    switch (verb) {
      case 'get': return request(i, store.get(a));
      case 'all': return request(i, (a === undefined ? store : store.index(a)).getAll(b));
      case 'count': return request(i, (a === undefined ? store : store.index(a)).count(b));
      case 'put': return store.put(a);
      case 'add': return store.add(a);
      case 'delete': return store.delete(a);
      case 'clear': return store.clear();
      case 'trim': {
        const count = store.count();
        count.onsuccess = () => {
          if (count.result <= a) return;
          const oldest = store.getAllKeys(null, count.result - a);
          oldest.onsuccess = () => oldest.result.forEach((key) => store.delete(key));
        };
        return;
      }
    }
    throw new TypeError(`unknown request ${verb}`);
  }));
}
function whenAll(requests, then) {
  const results = new Array(requests.length);
  let pending = requests.length;
  if (pending === 0) return then(results);
  requests.forEach((req, i) => {
    req.onsuccess = () => { results[i] = req.result; if (--pending === 0) then(results); };
  });
}
function localCopies(store, rows, scope, then) {
  const byId = () => whenAll(rows.map((row) => store.get(row.id)), (found) => then(found.filter((r) => r !== undefined)));
  // Reading the bands' rows costs what they hold, and all in one task (the answer is built
  // when read); looking rows up one by one costs what arrives, spread over an answer each.
  // The bands' rows are read only when they are no more than what arrives.
  const index = store.index('scope');
  const scopes = [...new Set(rows.map((row) => row[scope]))];
  whenAll(scopes.map((s) => index.count(s)), (counts) => {
    if (counts.reduce((a, b) => a + b, 0) > rows.length) return byId();
    whenAll(scopes.map((s) => index.getAll(s)), (held) => then(held.flat()));
  });
}
const camelCache = new Map();
function camel(key) {
  let name = camelCache.get(key);
  if (name === undefined) {
    name = key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
    camelCache.set(key, name);
  }
  return name;
}
function newestById(rows) {
  const newest = new Map();
  for (const row of rows) {
    const seen = newest.get(row.id);
    if (seen === undefined || row.version > seen.version) newest.set(row.id, row);
  }
  return newest.values();
}
function appRow(row) {
  const app = {};
  for (const key in row) app[camel(key)] = row[key];
  return app;
}
function freshAppRows(rows, existing) {
  const versions = new Map();
  for (const row of existing) versions.set(row.id, row.version);
  const fresh = [];
  for (const row of newestById(rows)) {
    const mine = versions.get(row.id);
    if (mine == null || row.version > mine) fresh.push(appRow(row));
  }
  return fresh;
}
// A few rows are put at once, each behind a read of its stored copy: requests run in order, so
// the read sees the copy from before the put, and where that copy is as new or newer it is put
// back. The put does not wait for the read's answer to come back to the page (a round trip
// per change, on the path every remote change takes). A row the batch also deletes stays
// deleted: the deletion was issued before the copy could be put back.
function putSmall(store, rows, deleted, written) {
  for (const row of newestById(rows)) {
    const stored = store.get(row.id);
    store.put(appRow(row));
    stored.onsuccess = () => {
      const mine = stored.result;
      if (mine === undefined || mine.version == null || row.version > mine.version) written.push(row.id);
      else if (!deleted.has(row.id)) store.put(mine);
    };
  }
}
// Rows are put a slice at a time, each slice once the one before is stored: the transaction
// stays open in between, and no one task of the page's issues a whole batch (512 puts took
// 50 ms and more of one task in a burst).
const PUT_SLICE = 128;
function putSliced(store, rows, from = 0) {
  const to = Math.min(from + PUT_SLICE, rows.length);
  let last;
  for (let i = from; i < to; i += 1) last = store.put(rows[i]);
  if (to < rows.length) last.onsuccess = () => putSliced(store, rows, to);
}
export function idb_apply(db, stores, tables, deletions, cursor) {
  return transaction(db, stores, true, (tx, written) => {
    for (const [table, rows, scope] of tables) {
      const store = tx.objectStore(table);
      // The batch's deletions are issued before any answer comes back: a row it deletes is
      // not put afterwards, as the engine's in-memory store does.
      const deleted = new Set(deletions.filter(([t]) => t === table).map(([, id]) => id));
      if (rows.length <= SMALL_BATCH) {
        putSmall(store, rows, deleted, written);
        continue;
      }
      // The copies looked up below are read after the batch's deletions: the copies of the
      // rows it deletes are read now, so a row counts as written by the same rule either way.
      const before = [];
      for (const id of deleted) {
        const copy = store.get(id);
        copy.onsuccess = () => copy.result !== undefined && before.push(copy.result);
      }
      localCopies(store, rows, scope, (existing) => {
        const fresh = freshAppRows(rows, existing.concat(before));
        for (const row of fresh) written.push(row.id);
        putSliced(store, fresh.filter((row) => !deleted.has(row.id)));
      });
    }
    for (const [table, id] of deletions) tx.objectStore(table).delete(id);
    if (cursor) tx.objectStore('cursors').put({ key: cursor[0], cursor: cursor[1] });
  });
}
"#)]
extern "C" {
    /// Opens database `name` at `version`, upgrading it to `layout` (stores and indexes not
    /// listed are dropped, missing ones created, records of the others kept).
    pub fn idb_open(name: &str, version: u32, layout: &JsValue) -> Promise;
    /// Deletes database `name`; waits while other connections keep it open.
    pub fn idb_delete(name: &str) -> Promise;
    /// Runs `ops` (`[verb, store, a, b]`: `get` key, `all` index? key?, `count` index? key?,
    /// `put` record, `add` record, `delete` key, `clear`, `trim` keep) in one transaction on
    /// `stores` (read-write if `write`); resolves with each request's result once it commits (a
    /// read once every request has succeeded).
    pub fn idb_run(db: &JsValue, stores: &Array, write: bool, ops: &Array) -> Promise;
    /// Writes server rows (`[table, wire rows, wire scope column]`) whose version is newer than
    /// the stored copy's, the newest of a batch winning, plus `deletions` (`[table, id]`) and
    /// the `cursor` (`[key, value]`), in one transaction; resolves with the written ids.
    pub fn idb_apply(
        db: &JsValue,
        stores: &Array,
        tables: &Array,
        deletions: &Array,
        cursor: &JsValue,
    ) -> Promise;
}

/// `[a, b, …]` as a JS array: a request is `[verb, store, a, b]`.
pub fn array(items: &[JsValue]) -> Array {
    let array = Array::new_with_length(items.len() as u32);
    for (at, item) in items.iter().enumerate() {
        array.set(at as u32, item.clone());
    }
    array
}

/// `names` as a JavaScript array of strings.
pub fn names_array(names: &[&str]) -> Array {
    let array = Array::new_with_length(names.len() as u32);
    for (at, name) in names.iter().enumerate() {
        array.set(at as u32, JsValue::from(*name));
    }
    array
}

/// `value[key]` if it is a string.
pub fn text(value: &JsValue, key: &str) -> Option<String> {
    js_sys::Reflect::get(value, &key.into()).ok()?.as_string()
}

/// What a thrown value says: `Name: message` for an exception (`TypeError: Failed to fetch`),
/// the text itself for a thrown string, `None` for anything else. Read by its fields, not by
/// `Debug`, which would bring wasm-bindgen's JavaScript formatter into the glue.
pub fn thrown_text(error: &JsValue) -> Option<String> {
    match text(error, "message") {
        Some(message) => Some(format!(
            "{}: {message}",
            text(error, "name").unwrap_or_default()
        )),
        None => error.as_string(),
    }
}

/// Awaits an IndexedDB promise; a rejection becomes the engine's storage error by the
/// DOMException's name.
pub async fn settle(promise: Promise) -> Result<JsValue, StoreError> {
    JsFuture::from(promise)
        .await
        .map_err(|error| store_error(&error))
}

/// The storage error a DOMException (or anything thrown) stands for.
pub fn store_error(error: &JsValue) -> StoreError {
    let name = text(error, "name").unwrap_or_default();
    let message = thrown_text(error).unwrap_or_default();
    match name.as_str() {
        "QuotaExceededError" => StoreError::QuotaExceeded(message),
        "InvalidStateError" => StoreError::Closed(message),
        "ConstraintError" => StoreError::KeyTaken(message),
        _ => StoreError::Failed(message),
    }
}
