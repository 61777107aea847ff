//! Row changes read from their frames by the page's own `JSON.parse`, once.
//!
//! A change is most of what a socket receives and most of its bytes are rows, which storage
//! and listeners want as JavaScript objects. So the frame is parsed here, in JavaScript; the
//! engine gets the envelope's routing fields ([`RouteParts`]) and the rows stay JavaScript
//! objects ([`JsRows`]) until they are written to IndexedDB. No row crosses into wasm memory on
//! the way, and neither do the names a change is routed by (topic, schema, table, binding ids):
//! the page numbers each name the first time it sees it, the module keeps a copy of the list,
//! and a change crosses as one number (`PackedRoute`). Its commit time stays in the page too,
//! read only when the engine asks for it ([`CommitTime`]). The list holds at most 2,048
//! names; a change naming a name past them goes the text path.
//! Any other frame, or a change in an unusual shape, goes to the engine as text, which reads it
//! or says precisely what is wrong.

use rockon_sync_core::realtime::routed::{listed_binding_ids, SEPARATOR};
use rockon_sync_core::realtime::{
    Carrier, ChangeKind, CommitTime, Event, HeldCommitTime, HeldRows, PostgresChange, Record,
    RouteParts, RoutedFrame, RowSlot, Vsn,
};
use rockon_sync_core::sync::{change_json, realtime_event_json};
use rockon_sync_core::value::Value;
use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const SEP = '\x1f';
const KINDS = ['INSERT', 'UPDATE', 'DELETE'];
// Compared, not looked up: no hashing, and a `type` of "constructor" finds nothing inherited.
const kindOf = (name) => (name === 'INSERT' ? 0 : name === 'UPDATE' ? 1 : name === 'DELETE' ? 2 : -1);
const MAX_NAMES = 2048;
const isRow = (value) => value == null || (typeof value === 'object' && !Array.isArray(value));
const text = (value) => typeof value === 'string';
const updatedAt = (row) => (row !== null && text(row.updated_at) ? row.updated_at : '');
// Names (topics, schemas, tables, binding ids, broadcast events) by id, in the order they were
// first seen; the module keeps a copy and asks for the names it has not seen yet.
const ids = new Map();
const names = [];
const nameId = (value) => {
  let id = ids.get(value);
  if (id === undefined) {
    if (names.length === MAX_NAMES || value.includes(SEP)) return -1;
    id = names.length;
    ids.set(value, id);
    names.push(value);
  }
  return id;
};
// The names the last frame was routed by (topic, broadcast event, schema, table) and their ids:
// most frames name what the one before did, and comparing a string costs less than hashing it.
const lastNames = [0, 1, 2, 3].map(() => ({ name: null, id: -1 }));
const lastNameId = (at, value) => {
  const last = lastNames[at];
  if (value === last.name) return last.id;
  const id = nameId(value);
  if (id !== -1) Object.assign(last, { name: value, id });
  return id;
};
// The last binding ids, and the id of their name (`3,4`).
let lastBindings = { bindings: [], id: -1 };
const bindingsId = (bindings) => {
  const last = lastBindings.bindings;
  if (bindings.length === last.length && bindings.every((id, at) => id === last[at])) return lastBindings.id;
  if (!bindings.every(Number.isSafeInteger)) return -1;
  const id = nameId(`${bindings}`);
  if (id !== -1) lastBindings = { bindings, id };
  return id;
};
export function names_from(start) {
  return names.slice(start).join(SEP);
}
let routed = null;
export function route_frame(frame, vsn, max) {
  const v2 = vsn !== '1.0.0';
  // Only the engine measures a frame's bytes exactly; a frame that might be too long goes there.
  if (typeof frame !== 'string' || frame.length * 3 > max) return -1;
  try { frame = JSON.parse(frame); } catch (_) { return -1; }
  let joinRef, topic, event, payload;
  if (v2) {
    if (!Array.isArray(frame) || frame.length !== 5) return -1;
    [joinRef, , topic, event, payload] = frame;
  } else {
    if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) return -1;
    ({ join_ref: joinRef = null, topic, event, payload } = frame);
  }
  if (payload === null || typeof payload !== 'object' || !text(topic)) return -1;
  if (joinRef !== null && !text(joinRef)) return -1;
  let data, key, broadcast;
  if (event === 'postgres_changes') {
    data = payload.data;
    const bindings = payload.ids;
    if (data === null || typeof data !== 'object' || data.errors != null || !Array.isArray(bindings)) return -1;
    if (!text(data.commit_timestamp)) return -1;
    key = bindingsId(bindings);
    broadcast = 0;
  } else if (event === 'broadcast') {
    data = payload.payload;
    if (data === null || typeof data !== 'object' || data.operation === undefined || !text(payload.event)) return -1;
    key = lastNameId(1, payload.event);
    broadcast = 1;
  } else {
    return -1;
  }
  const { schema, table, record = null, old_record = null } = data;
  const kind = kindOf(broadcast ? data.operation : data.type);
  if (kind === -1 || !text(schema) || !text(table) || !isRow(record) || !isRow(old_record)) return -1;
  const topicId = lastNameId(0, topic);
  const schemaId = lastNameId(2, schema);
  const tableId = lastNameId(3, table);
  if (key === -1 || topicId === -1 || schemaId === -1 || tableId === -1) return -1;
  // A database broadcast's row's `updated_at` stands in for the commit time it lacks.
  const at = broadcast ? updatedAt(record ?? old_record) : data.commit_timestamp;
  routed = [topic, data, joinRef, at];
  const flags = kind | (broadcast << 2) | ((record !== null) << 3) | ((old_record !== null) << 4) | ((joinRef !== null) << 5);
  return flags + 64 * (topicId + MAX_NAMES * (key + MAX_NAMES * (schemaId + MAX_NAMES * tableId)));
}
export function take_routed() {
  const data = routed;
  routed = null;
  return data;
}
export function routed_text(routed, at) {
  return routed[at];
}
// The rows of a routed frame are held as [topic, data, ...]: `data` holds `record` and
// `old_record`.
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
export function change_event([topic, data, , at], kind, commitTimestamp = at, needsFetch) {
  const { schema, table, record = null, old_record: oldRecord = null } = data;
  return { type: 'change', topic, schema, table, kind: KINDS[kind], commitTimestamp, record, oldRecord, needsFetch };
}
"#)]
extern "C" {
    fn names_from(start: u32) -> String;
    fn route_frame(text: &JsValue, vsn: &JsValue, max: u32) -> f64;
    fn take_routed() -> JsValue;
    fn routed_text(routed: &JsValue, at: u8) -> String;
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

thread_local! {
    /// The module's copy of the page's names, by id.
    static NAMES: RefCell<Vec<Name>> = const { RefCell::new(Vec::new()) };
}

/// One of the page's names, shared by every change that names it.
struct Name {
    text: Rc<str>,
    /// The binding ids it lists, when it is a list of them (`3,4`): read once, when learned.
    binding_ids: Option<Rc<[u64]>>,
}

impl Name {
    fn new(text: &str) -> Name {
        Name {
            binding_ids: listed_binding_ids(text),
            text: text.into(),
        }
    }
}

/// What the page's reader made of a change frame, packed in one number so that handing it over
/// costs no string: six bits of flags (the kind, 0–2; a broadcast; a `record`; an
/// `old_record`; a `join_ref`), then the ids of four names, 11 bits each: topic, key (the
/// binding ids, or a broadcast's event), schema, table.
struct PackedRoute(u64);

impl PackedRoute {
    const BROADCAST: u32 = 2;
    const RECORD: u32 = 3;
    const OLD_RECORD: u32 = 4;
    const JOIN_REF: u32 = 5;
    const NAME_BITS: u32 = 11;

    fn read(packed: f64) -> Option<PackedRoute> {
        let fits = (0.0..(1u64 << 50) as f64).contains(&packed) && packed.fract() == 0.0;
        fits.then_some(PackedRoute(packed as u64))
    }

    fn flag(&self, bit: u32) -> bool {
        self.0 >> bit & 1 == 1
    }

    /// The id of name `at` (0: topic, 1: key, 2: schema, 3: table).
    fn name(&self, at: u32) -> usize {
        (self.0 >> (6 + at * Self::NAME_BITS) & ((1 << Self::NAME_BITS) - 1)) as usize
    }

    fn kind(&self) -> Option<ChangeKind> {
        [ChangeKind::Insert, ChangeKind::Update, ChangeKind::Delete]
            .get((self.0 & 3) as usize)
            .copied()
    }
}

/// The row change in a received frame's `text`, read by `JSON.parse`; `None` for any other
/// frame, whose text then goes to the engine.
pub fn route(text: &JsValue, vsn: Vsn, max_frame_bytes: usize) -> Option<RoutedFrame> {
    thread_local!(static VERSIONS: [JsValue; 2] = ["1.0.0", "2.0.0"].map(JsValue::from_str));
    VERSIONS.with(|versions| {
        route_in(
            text,
            &versions[usize::from(vsn == Vsn::V2)],
            max_frame_bytes,
        )
    })
}

/// [`route`] for a frame of the protocol version named `vsn` (`"1.0.0"`; any other value is
/// 2.0.0), compared in JavaScript, where the name is.
pub fn route_in(text: &JsValue, vsn: &JsValue, max_frame_bytes: usize) -> Option<RoutedFrame> {
    let max = u32::try_from(max_frame_bytes).unwrap_or(u32::MAX);
    let route = PackedRoute::read(route_frame(text, vsn, max))?;
    let data = take_routed();
    let kind = route.kind()?;
    let join_ref = route
        .flag(PackedRoute::JOIN_REF)
        .then(|| routed_text(&data, 2));
    // One handle, shared by the frame's rows and its commit time, which is read only if asked.
    let js_rows = Rc::new(JsRows(data));
    let commit_timestamp = CommitTime::held(js_rows.clone());
    let rows: Rc<dyn HeldRows> = js_rows;
    NAMES.with_borrow_mut(|names| {
        let newest = route
            .name(0)
            .max(route.name(1))
            .max(route.name(2))
            .max(route.name(3));
        if newest >= names.len() {
            let start = u32::try_from(names.len()).ok()?;
            for text in names_from(start).split(SEPARATOR) {
                names.push(Name::new(text));
            }
        }
        let name = |at| names.get(route.name(at));
        let key = name(1)?;
        let carrier = if route.flag(PackedRoute::BROADCAST) {
            Carrier::Broadcast(&key.text)
        } else {
            Carrier::PostgresChanges(key.binding_ids.clone()?)
        };
        let text = |at| name(at).map(|name| name.text.clone());
        let parts = RouteParts {
            carrier,
            join_ref: join_ref.as_deref(),
            topic: text(0)?,
            schema: text(2)?,
            table: text(3)?,
            kind,
            commit_timestamp,
            has_record: route.flag(PackedRoute::RECORD),
            has_old_record: route.flag(PackedRoute::OLD_RECORD),
        };
        Some(RoutedFrame::from_parts(parts, |slot| {
            Record::held(rows.clone(), slot)
        }))
    })
}

/// The rows of a frame as `JSON.parse` built them: `[topic, data, …]`, where `data` is the
/// object holding `record` and `old_record`, and is itself a broadcast's payload.
pub struct JsRows(JsValue);

/// Named, not shown: the core's `Debug` of a change reaches here, and rendering a page object
/// would take wasm-bindgen's JavaScript formatter into the glue for debug output alone.
impl std::fmt::Debug for JsRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsRows(held by the page)")
    }
}

/// The number the page's `slot` reads a row by.
fn at(slot: RowSlot) -> u8 {
    match slot {
        RowSlot::Record => 0,
        RowSlot::OldRecord => 1,
        RowSlot::Message => 2,
    }
}

/// The frame's commit time (a broadcast's: its row's `updated_at`), as the page read it.
impl HeldCommitTime for JsRows {
    fn text(&self) -> String {
        routed_text(&self.0, 3)
    }
}

impl HeldRows for JsRows {
    fn fields(&self, slot: RowSlot, names: &[&str]) -> Vec<Option<Value>> {
        let values = row_fields(&self.0, at(slot), &names.join("\n"));
        let values = rockon_sync_core::fields::array(&values).unwrap_or_default();
        let mut fields = Vec::with_capacity(values.len());
        for value in values {
            fields.push(Some(value));
        }
        fields
    }

    fn to_json(&self, slot: RowSlot) -> String {
        row_json(&self.0, at(slot))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The rows `record` is one of, when this driver holds them, and which it is.
fn js_rows(record: &Record) -> Option<(&Rc<dyn HeldRows>, &JsRows, RowSlot)> {
    let (rows, slot) = record.as_held()?;
    let js = rows.as_any().downcast_ref::<JsRows>()?;
    Some((rows, js, slot))
}

/// The row as a JavaScript object: the one `JSON.parse` built, or (for a row some other
/// driver held) parsed from its text.
pub fn row_object(record: &Record) -> JsValue {
    match js_rows(record) {
        Some((_, rows, slot)) => row_of(&rows.0, at(slot)),
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
    let rows = [&change.record, &change.old_record].map(|row| js_rows(row.as_ref()?));
    // Both rows (or the one there is) where `JSON.parse` built them: built in one call.
    let data = match rows {
        [Some((new, js, RowSlot::Record)), Some((old, _, RowSlot::OldRecord))]
            if Rc::ptr_eq(new, old) =>
        {
            Some(js)
        }
        [Some((_, js, RowSlot::Record)), None] if change.old_record.is_none() => Some(js),
        [None, Some((_, js, RowSlot::OldRecord))] if change.record.is_none() => Some(js),
        _ => None,
    };
    if let Some(js) = data {
        // Topic, schema and table are the routed frame's own; the engine may set the rest.
        let kind = match change.kind {
            ChangeKind::Insert => 0,
            ChangeKind::Update => 1,
            ChangeKind::Delete => 2,
        };
        // A commit time held with these rows is still where the page read it; another is
        // the engine's.
        let held_here = (change.commit_timestamp.as_held())
            .is_some_and(|time| std::ptr::addr_eq(Rc::as_ptr(time), js));
        let at = (!held_here).then(|| change.commit_timestamp.text());
        return change_event(&js.0, kind, at.as_deref(), change.needs_fetch());
    }
    // Rows read from text: one `JSON.parse` of the whole event.
    js_sys::JSON::parse(&change_json(change)).unwrap_or(JsValue::NULL)
}
