//! Row reshaping done in JavaScript, one call per batch: renaming keys of thousands of rows is
//! a tight loop the JS engine runs well, while doing it from Rust costs a boundary crossing per
//! field (or a serde round trip per row).

use js_sys::Array;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const camelCache = new Map();
function camel(key) {
  let name = camelCache.get(key);
  if (name === undefined) {
    name = key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
    camelCache.set(key, name);
  }
  return name;
}
export function scopes_of(rows, column) {
  return [...new Set(rows.map((row) => row[column]))];
}
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
export function sort_rows(rows, key, descending) {
  const sign = descending ? -1 : 1;
  rows.sort((a, b) => {
    const x = a[key], y = b[key];
    if (x == null || y == null) return (x == null) - (y == null);
    if (typeof x === 'number' && typeof y === 'number') return sign * (x - y);
    return sign * collator.compare(String(x), String(y));
  });
}
export function drop_deleted(rows) {
  let kept = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].deletedAt == null) rows[kept++] = rows[i];
  }
  rows.length = kept;
}
export function fresh_app_rows(rows, existing) {
  const versions = new Map();
  for (const row of existing) versions.set(row.id, row.version);
  // Within a batch too the newest version of a row wins, whatever the order of arrival.
  const newest = new Map();
  for (const row of rows) {
    const seen = newest.get(row.id);
    if (seen === undefined || row.version > seen.version) newest.set(row.id, row);
  }
  const fresh = [];
  for (const row of newest.values()) {
    const mine = versions.get(row.id);
    if (mine !== undefined && !(row.version > mine)) continue;
    const app = {};
    for (const key in row) app[camel(key)] = row[key];
    fresh.push(app);
  }
  return fresh;
}
"#)]
extern "C" {
    /// The distinct values of `column` in `rows`.
    pub fn scopes_of(rows: &Array, column: &str) -> Array;
    /// Sorts rows in place by `key`: numbers numerically, text the way the user's language
    /// sorts it, empty values last.
    pub fn sort_rows(rows: &Array, key: &str, descending: bool);
    /// Removes tombstones (rows with `deletedAt`) in place, in one call for the whole list.
    pub fn drop_deleted(rows: &Array);
    /// The newest version of each row in `rows`, if newer than its `existing` copy, with
    /// camelCase keys.
    pub fn fresh_app_rows(rows: &Array, existing: &Array) -> Array;
}
