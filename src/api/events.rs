//! Core events as plain JavaScript objects with a `type` field (a discriminated union in
//! TypeScript terms).

use js_sys::{Object, Reflect};
use rockon_sync_core::realtime::{ConnectionState, Event, PushKind, Recovery};
use serde::Serialize;
use wasm_bindgen::JsValue;

/// Converts a core event into `{ type, ... }`.
pub fn to_js(event: &Event) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(&object, &key.into(), &value);
    };
    match event {
        Event::Connection(state) => {
            set("type", "connection".into());
            set("state", state.as_str().into());
            let (attempt, delay, reason) = match state {
                ConnectionState::Reconnecting { attempt, delay_ms } => {
                    (Some(*attempt), Some(*delay_ms), None)
                }
                ConnectionState::Error { reason } => (None, None, Some(reason.as_str())),
                _ => (None, None, None),
            };
            if let Some(attempt) = attempt {
                set("attempt", attempt.into());
            }
            if let Some(delay) = delay {
                set("delayMs", (delay as f64).into());
            }
            if let Some(reason) = reason {
                set("reason", reason.into());
            }
        }
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
            let recovery = match recovery {
                Recovery::NeedToken => "needToken",
                Recovery::Backoff => "backoff",
                Recovery::Stop => "stop",
            };
            set("recovery", recovery.into());
        }
        Event::NeedToken => set("type", "needToken".into()),
        Event::Change(change) => {
            set("type", "change".into());
            set("topic", (&change.topic).into());
            set("schema", (&change.schema).into());
            set("table", (&change.table).into());
            set("kind", change.kind.as_str().into());
            set("commitTimestamp", (&change.commit_timestamp).into());
            set("record", json(&change.record));
            set("oldRecord", json(&change.old_record));
            set("needsFetch", change.needs_fetch().into());
        }
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
            let push = match kind {
                PushKind::Join => "join",
                PushKind::Leave => "leave",
                PushKind::Presence => "presence",
                PushKind::Broadcast => "broadcast",
            };
            set("push", push.into());
            set("reason", reason.into());
        }
        Event::ProtocolError(error) => {
            set("type", "protocolError".into());
            set("message", error.to_string().into());
        }
    }
    object.into()
}

/// JSON data as plain objects and arrays (not `Map`s).
fn json(value: &impl Serialize) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}
