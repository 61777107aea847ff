//! Row changes read from their frames by the page's own `JSON.parse`, once.
//!
//! A change is most of what a socket receives and most of its bytes are rows, which storage
//! and listeners want as JavaScript objects. So the frame is parsed here, in JavaScript; the
//! engine gets the envelope's summary ([`RoutedFrame`]) and the rows stay JavaScript objects
//! ([`JsRow`]) until they are written to IndexedDB. No row crosses into wasm memory on the way.
//! Any other frame, or a change in an unusual shape, goes to the engine as text, which reads it
//! or says precisely what is wrong.

use rockon_sync_core::realtime::routed::RowSlot;
use rockon_sync_core::realtime::{
    ChangeKind, Event, HeldRow, PostgresChange, Record, RoutedFrame, Vsn,
};
use rockon_sync_core::sync::{change_json, realtime_event_json};
use serde_json::Value;
use std::any::Any;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const SEP = '\x1f';
const isRow = (value) => value == null || (typeof value === 'object' && !Array.isArray(value));
const text = (value) => typeof value === 'string';
const updatedAt = (row) => (row !== null && text(row.updated_at) ? row.updated_at : '');
let routed = null;
export function route_frame(frame, v2, max) {
  // Only the engine measures a frame's bytes exactly; a frame that might be too long goes there.
  if (typeof frame !== 'string' || frame.length * 3 > max) return null;
  try { frame = JSON.parse(frame); } catch (_) { return null; }
  let joinRef, topic, event, payload;
  if (v2) {
    if (!Array.isArray(frame) || frame.length !== 5) return null;
    [joinRef, , topic, event, payload] = frame;
  } else {
    if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) return null;
    ({ join_ref: joinRef = null, topic, event, payload } = frame);
  }
  if (payload === null || typeof payload !== 'object' || !text(topic)) return null;
  if (joinRef !== null && !text(joinRef)) return null;
  // A separator inside a field adds a field, which the module refuses: no need to look for one.
  let data, head;
  if (event === 'postgres_changes') {
    data = payload.data;
    const ids = payload.ids;
    if (data === null || typeof data !== 'object' || data.errors != null || !Array.isArray(ids)) return null;
    if (!ids.every(Number.isSafeInteger) || !text(data.commit_timestamp)) return null;
    head = `${event}${SEP}${joinRef ?? ''}${SEP}${topic}${SEP}${ids}`;
  } else if (event === 'broadcast') {
    data = payload.payload;
    if (data === null || typeof data !== 'object' || data.operation === undefined || !text(payload.event)) return null;
    head = `${event}${SEP}${joinRef ?? ''}${SEP}${topic}${SEP}${payload.event}`;
  } else {
    return null;
  }
  const { schema, table, record = null, old_record = null } = data;
  const kind = event === 'broadcast' ? data.operation : data.type;
  if (!text(schema) || !text(table) || !text(kind) || !isRow(record) || !isRow(old_record)) return null;
  // A database broadcast's row's `updated_at` stands in for the commit time it lacks.
  const at = event === 'broadcast' ? updatedAt(record ?? old_record) : data.commit_timestamp;
  const flags = `${+(record !== null)}${+(old_record !== null)}${+(joinRef !== null)}`;
  routed = [topic, data];
  return `${head}${SEP}${schema}${SEP}${table}${SEP}${kind}${SEP}${at}${SEP}${flags}`;
}
export function take_routed() {
  const data = routed;
  routed = null;
  return data;
}
// The rows of a routed frame are held as [topic, data]: `data` holds `record` and `old_record`.
const slot = ([, data], at) => (at === 0 ? data.record : at === 1 ? data.old_record : data);
export function row_of(data, at) {
  return slot(data, at);
}
export function row_fields(data, at, names) {
  const row = slot(data, at);
  return JSON.stringify(names.split('\n').map((name) => row[name]));
}
export function row_json(data, at) {
  return JSON.stringify(slot(data, at) ?? null);
}
const KINDS = ['INSERT', 'UPDATE', 'DELETE'];
export function change_event([topic, data], kind, commitTimestamp = data.commit_timestamp, needsFetch) {
  const { schema, table, record = null, old_record: oldRecord = null } = data;
  return { type: 'change', topic, schema, table, kind: KINDS[kind], commitTimestamp, record, oldRecord, needsFetch };
}
"#)]
extern "C" {
    fn route_frame(text: &JsValue, v2: bool, max: u32) -> Option<String>;
    fn take_routed() -> JsValue;
    fn row_of(data: &JsValue, at: u8) -> JsValue;
    fn row_fields(data: &JsValue, at: u8, names: &str) -> String;
    fn row_json(data: &JsValue, at: u8) -> String;
    fn change_event(
        routed: &JsValue,
        kind: u8,
        commit_timestamp: Option<&str>,
        needs_fetch: bool,
    ) -> JsValue;
}

/// The row change in a received frame's `text`, read by `JSON.parse`; `None` for any other
/// frame, whose text then goes to the engine.
pub fn route(text: &JsValue, vsn: Vsn, max_frame_bytes: usize) -> Option<RoutedFrame> {
    let max = u32::try_from(max_frame_bytes).unwrap_or(u32::MAX);
    let summary = route_frame(text, vsn == Vsn::V2, max)?;
    // The object the rows are in: one reference, shared by the frame's rows.
    let data = Rc::new(take_routed());
    RoutedFrame::from_summary(&summary, |slot| {
        let at = match slot {
            RowSlot::Record => 0,
            RowSlot::OldRecord => 1,
            RowSlot::Message => 2,
        };
        Record::held(Rc::new(JsRow {
            data: data.clone(),
            at,
        }))
    })
}

/// A row as `JSON.parse` built it: a field of the object the frame's rows are in (`record`,
/// `old_record`), or that object itself (a broadcast's payload). `data` is `[topic, object]`.
#[derive(Debug)]
pub struct JsRow {
    data: Rc<JsValue>,
    at: u8,
}

impl JsRow {
    /// The row object.
    pub fn object(&self) -> JsValue {
        row_of(&self.data, self.at)
    }
}

impl HeldRow for JsRow {
    fn fields(&self, names: &[&str]) -> Vec<Option<Value>> {
        let values = row_fields(&self.data, self.at, &names.join("\n"));
        let values: Vec<Value> = serde_json::from_str(&values).unwrap_or_default();
        values.into_iter().map(Some).collect()
    }

    fn to_json(&self) -> String {
        row_json(&self.data, self.at)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The row as a JavaScript object: the one `JSON.parse` built, or (for a row some other
/// driver held) parsed from its text.
pub fn row_object(record: &Record) -> JsValue {
    let held = record
        .as_held()
        .and_then(|row| row.as_any().downcast_ref::<JsRow>());
    match held {
        Some(row) => row.object(),
        None => js_sys::JSON::parse(&record.json()).unwrap_or(JsValue::NULL),
    }
}

/// A standalone connection's event as the object its listeners get. A change whose rows are
/// held gets the very objects `JSON.parse` built.
pub fn realtime_event(event: &Event) -> JsValue {
    match event {
        Event::Change(change) => change_object(change),
        _ => js_sys::JSON::parse(&realtime_event_json(event)).unwrap_or(JsValue::NULL),
    }
}

/// The `change` event of a change, its rows as JavaScript objects.
pub fn change_object(change: &PostgresChange) -> JsValue {
    let rows = [&change.record, &change.old_record].map(|row| {
        let held = row.as_ref()?.as_held()?;
        held.as_any().downcast_ref::<JsRow>()
    });
    // Both rows (or the one there is) in the object `JSON.parse` built: built in one call.
    let data = match rows {
        [Some(new), Some(old)] if Rc::ptr_eq(&new.data, &old.data) => Some(&new.data),
        [Some(only), None] if change.old_record.is_none() => Some(&only.data),
        [None, Some(only)] if change.record.is_none() => Some(&only.data),
        _ => None,
    };
    if let Some(data) = data {
        // Topic, schema and table are the routed frame's own; the engine may set the rest.
        let kind = match change.kind {
            ChangeKind::Insert => 0,
            ChangeKind::Update => 1,
            ChangeKind::Delete => 2,
        };
        // A `postgres_changes` frame (the one kind with binding ids) brought its commit time,
        // which the object it is in still holds; a broadcast's is the engine's.
        let at = (change.binding_ids.is_empty()).then_some(change.commit_timestamp.as_str());
        return change_event(data, kind, at, change.needs_fetch());
    }
    // Rows read from text: one `JSON.parse` of the whole event.
    js_sys::JSON::parse(&change_json(change)).unwrap_or(JsValue::NULL)
}
