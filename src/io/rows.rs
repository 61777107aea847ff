//! Listing rows in JavaScript, one call per list: sorting and filtering thousands of rows is a
//! tight loop the JS engine runs well, while doing it from Rust costs a boundary crossing per
//! field.

use js_sys::Array;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
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
"#)]
extern "C" {
    /// Sorts rows in place by `key`: numbers numerically, text the way the user's language
    /// sorts it, empty values last.
    pub fn sort_rows(rows: &Array, key: &str, descending: bool);
    /// Removes tombstones (rows with `deletedAt`) in place, in one call for the whole list.
    pub fn drop_deleted(rows: &Array);
}
