//! Core events as plain JavaScript objects with a `type` field (a discriminated union in
//! TypeScript terms).

use crate::io::activity::ActivityEvent;
use crate::io::reader::ReadEvent;
use crate::io::store::{to_js as value_to_js, StoreState};
use crate::io::writer::{RowsChanged, WriteEvent};
use js_sys::{Object, Reflect};
use rockon_sync_core::outbox::RowStatus;
use rockon_sync_core::realtime::{
    ConnectionState, Event, PostgresChange, PushKind, Record, Recovery,
};
use rockon_sync_core::schema::Schema;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// A row change as the `change` event object, written as one JSON text with the rows spliced
/// in as received, so the whole event crosses the boundary in one `JSON.parse`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChangeEvent<'a> {
    r#type: &'static str,
    topic: &'a str,
    schema: &'a str,
    table: &'a str,
    kind: &'static str,
    commit_timestamp: &'a str,
    record: &'a Option<Record>,
    old_record: &'a Option<Record>,
    needs_fetch: bool,
}

fn change_to_js(change: &PostgresChange) -> JsValue {
    value_to_js(&ChangeEvent {
        r#type: "change",
        topic: &change.topic,
        schema: &change.schema,
        table: &change.table,
        kind: change.kind.as_str(),
        commit_timestamp: &change.commit_timestamp,
        record: &change.record,
        old_record: &change.old_record,
        needs_fetch: change.needs_fetch(),
    })
}

/// `{ type: 'connection', state, attempt?, delayMs?, reason? }`.
fn connection_to_js(object: &Object, state: &ConnectionState) {
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(object, &key.into(), &value);
    };
    set("type", "connection".into());
    set("state", state.as_str().into());
    match state {
        ConnectionState::Reconnecting { attempt, delay_ms } => {
            set("attempt", (*attempt).into());
            set("delayMs", (*delay_ms as f64).into());
        }
        ConnectionState::Error { reason } => set("reason", reason.as_str().into()),
        _ => {}
    }
}

fn recovery_name(recovery: &Recovery) -> &'static str {
    match recovery {
        Recovery::NeedToken => "needToken",
        Recovery::Backoff => "backoff",
        Recovery::Stop => "stop",
    }
}

fn push_name(kind: &PushKind) -> &'static str {
    match kind {
        PushKind::Join => "join",
        PushKind::Leave => "leave",
        PushKind::Presence => "presence",
        PushKind::Broadcast => "broadcast",
    }
}

/// Converts a core event into `{ type, ... }`.
pub fn to_js(event: &Event) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(&object, &key.into(), &value);
    };
    match event {
        Event::Connection(state) => connection_to_js(&object, state),
        Event::Latency { ms } => {
            set("type", "latency".into());
            set("ms", (*ms as f64).into());
        }
        Event::Channel { topic, state } => {
            set("type", "channel".into());
            set("topic", topic.into());
            set("state", state.as_str().into());
        }
        Event::CatchUp { topic, reason } => {
            set("type", "catchUp".into());
            set("topic", topic.into());
            set("reason", reason.as_str().into());
        }
        Event::ChannelError {
            topic,
            cause,
            recovery,
        } => {
            set("type", "channelError".into());
            set("topic", topic.into());
            set("code", cause.code().into());
            set("message", cause.to_string().into());
            set("recovery", recovery_name(recovery).into());
        }
        Event::NeedToken => set("type", "needToken".into()),
        Event::Change(change) => return change_to_js(change),
        Event::Presence { topic, state, .. } => {
            set("type", "presence".into());
            set("topic", topic.into());
            set("state", json(&state.to_json()));
        }
        Event::Broadcast { topic, message } => {
            set("type", "broadcast".into());
            set("topic", topic.into());
            set("event", (&message.event).into());
            set("payload", json(&message.payload));
        }
        Event::PushFailed {
            topic,
            kind,
            reason,
        } => {
            set("type", "pushFailed".into());
            set("topic", topic.into());
            set("push", push_name(kind).into());
            set("reason", reason.into());
        }
        Event::ProtocolError(error) => {
            set("type", "protocolError".into());
            set("message", error.to_string().into());
        }
    }
    object.into()
}

/// Rows that changed, as the `change` event object.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RowsEvent<'a> {
    r#type: &'static str,
    table: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    alias: Option<&'a str>,
    band_id: &'a str,
    ids: &'a [String],
    action: &'static str,
    source: &'static str,
}

/// `{ type: 'change', table, alias, bandId, ids, action, source }`, as one JSON text: a burst's
/// thousands of ids cross in one `JSON.parse`.
pub fn rows_changed_to_js(rows: &RowsChanged, schema: &Schema) -> JsValue {
    value_to_js(&RowsEvent {
        r#type: "change",
        table: &rows.table,
        alias: schema
            .table(&rows.table)
            .ok()
            .map(|spec| spec.alias.as_str()),
        band_id: &rows.scope,
        ids: &rows.ids,
        action: rows.action.as_str(),
        source: rows.source.as_str(),
    })
}

/// `{ type: 'error', code, message }`.
pub fn error_to_js(code: &str, message: &str) -> JsValue {
    object(&[
        ("type", "error".into()),
        ("code", code.into()),
        ("message", message.into()),
    ])
}

/// `{ type: 'presence', bandId, members }`.
pub fn presence_to_js(band: &str, members: &[crate::io::reader::Member]) -> JsValue {
    object(&[
        ("type", "presence".into()),
        ("bandId", band.into()),
        ("members", json(&members)),
    ])
}

/// `{ key: value, … }`.
pub fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// A write-path event as `{ type, ... }`.
pub fn event_to_js(event: &WriteEvent, schema: &Schema) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(&object, &key.into(), &value);
    };
    match event {
        WriteEvent::Change(rows) => return rows_changed_to_js(rows, schema),
        WriteEvent::Status { table, id, status } => {
            set("type", "syncStatus".into());
            set("table", table.into());
            set("id", id.into());
            set("status", status_name(*status).into());
        }
        WriteEvent::Conflict(record) => {
            set("type", "conflict".into());
            set("table", record.table.as_str().into());
            set("id", record.row_id.as_str().into());
            set("local", value_to_js(&record.local));
            set("remote", value_to_js(&record.remote));
            set("fields", value_to_js(&record.fields));
            set("deletedRemotely", record.deleted_remotely.into());
        }
        WriteEvent::NeedToken => {
            set("type", "auth".into());
            set("reason", "tokenExpired".into());
        }
        WriteEvent::Error { code, message } => return error_to_js(code, message),
    }
    object.into()
}

/// A read-path event as `{ type, ... }`; `None` for what only the client itself consumes.
pub fn read_event_to_js(event: &ReadEvent, schema: &Schema) -> Option<JsValue> {
    Some(match event {
        ReadEvent::Bands {
            joined,
            left,
            current,
        } => object(&[
            ("type", "bands".into()),
            ("joined", json(joined)),
            ("left", json(left)),
            ("bands", json(current)),
        ]),
        ReadEvent::Change(rows) => rows_changed_to_js(rows, schema),
        ReadEvent::Realtime(Event::NeedToken) => event_to_js(&WriteEvent::NeedToken, schema),
        ReadEvent::Realtime(other) => to_js(other),
        ReadEvent::Error { code, message } => error_to_js(code, message),
        ReadEvent::Observed { .. } | ReadEvent::Synced { .. } | ReadEvent::Arrived { .. } => {
            return None
        }
        ReadEvent::Progress {
            band,
            progress,
            finished,
        } => object(&[
            ("type", "progress".into()),
            ("bandId", band.as_str().into()),
            ("done", (progress.done as f64).into()),
            ("total", (progress.total as f64).into()),
            ("finished", (*finished).into()),
        ]),
        ReadEvent::Presence { band, members } => presence_to_js(band, members),
    })
}

/// An activity event: `{ type: 'unread', total, byBand }`, `{ type: 'notification', kind,
/// text, author, count }` or an `error` (feed changes: [`feed_events_to_js`]).
pub fn activity_event_to_js(event: &ActivityEvent) -> Option<JsValue> {
    Some(match event {
        ActivityEvent::Unread(counts) => {
            let object = json(counts);
            let _ = Reflect::set(&object, &"type".into(), &"unread".into());
            object
        }
        ActivityEvent::Toast(toast) => object(&[
            ("type", "notification".into()),
            ("id", (toast.id as f64).into()),
            ("kind", toast.kind.as_str().into()),
            ("text", toast.text.as_str().into()),
            (
                "author",
                toast.author.as_deref().map_or(JsValue::NULL, JsValue::from),
            ),
            ("count", (toast.count as u32).into()),
        ]),
        ActivityEvent::Error(error) => error_to_js(error.code(), &error.to_string()),
        ActivityEvent::Persisted | ActivityEvent::Feed(_) => return None,
    })
}

/// `{ type: 'activity', bandId, unread }` for each band whose activity feed changed.
pub fn feed_events_to_js(event: &ActivityEvent) -> Vec<JsValue> {
    let ActivityEvent::Feed(bands) = event else {
        return Vec::new();
    };
    bands
        .iter()
        .map(|(band, unread)| {
            object(&[
                ("type", "activity".into()),
                ("bandId", band.as_str().into()),
                ("unread", (*unread as u32).into()),
            ])
        })
        .collect()
}

/// `{ type: 'storage', state: 'nearlyFull', usage, quota, persisted }`: most of the quota is
/// used; writes may soon fail with `quota_exceeded`.
pub fn storage_warning(estimate: &crate::io::storage::StorageEstimate) -> JsValue {
    object(&[
        ("type", "storage".into()),
        ("state", "nearlyFull".into()),
        ("usage", estimate.usage.into()),
        ("quota", estimate.quota.into()),
        ("persisted", estimate.persisted.into()),
    ])
}

/// `{ type: 'storage', state: 'closed' | 'reopened' | 'outdated', message? }`.
pub fn storage_event(state: &StoreState) -> JsValue {
    let kind = ("type", JsValue::from("storage"));
    match state {
        StoreState::Closed => object(&[kind, ("state", "closed".into())]),
        StoreState::Reopened => object(&[kind, ("state", "reopened".into())]),
        StoreState::Outdated(message) => object(&[
            kind,
            ("state", "outdated".into()),
            ("message", message.into()),
        ]),
    }
}

/// The JS name of a sync status.
pub fn status_name(status: RowStatus) -> &'static str {
    match status {
        RowStatus::Synced => "synced",
        RowStatus::Syncing => "syncing",
        RowStatus::Pending => "pending",
        RowStatus::Error => "error",
    }
}

/// JSON data as plain objects and arrays (not `Map`s).
pub fn json(value: &impl Serialize) -> JsValue {
    value_to_js(value)
}
