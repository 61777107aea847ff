//! Phoenix channel envelopes: the outermost layer of every Realtime message.
//!
//! Serializer 1.0.0 sends JSON objects, 2.0.0 (the default of realtime-js and of this crate)
//! sends JSON arrays `[join_ref, ref, topic, event, payload]`. Decoding is total: any input
//! either becomes a [`Frame`] or a [`FrameError`] that says what was wrong, never a panic.

use crate::json_text::json_text;
use crate::value::{Map, Value};
use std::fmt;

/// The Phoenix serializer version, chosen with the `vsn` query parameter of the socket URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vsn {
    /// JSON objects `{"topic","event","payload","ref","join_ref"}`.
    V1,
    /// JSON arrays `[join_ref, ref, topic, event, payload]` (realtime-js's default).
    #[default]
    V2,
}

impl Vsn {
    /// The value of the `vsn` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Vsn::V1 => "1.0.0",
            Vsn::V2 => "2.0.0",
        }
    }
}

/// One Phoenix message, in either direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The ref of the join this message belongs to; `None` for server pushes and heartbeats.
    pub join_ref: Option<String>,
    /// The ref that pairs a push with its `phx_reply`; `None` for server pushes.
    pub msg_ref: Option<String>,
    /// `realtime:<channel>` or `phoenix` for heartbeats.
    pub topic: String,
    /// `phx_join`, `phx_reply`, `postgres_changes`, …
    pub event: String,
    /// The event's payload, usually an object.
    pub payload: Value,
}

/// Why a received frame could not be decoded. The frame is dropped; the connection lives on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The frame is longer than the configured limit; it was not parsed.
    TooLarge {
        /// Length of the frame in bytes.
        len: usize,
        /// The configured limit in bytes.
        max: usize,
    },
    /// The text is not JSON.
    InvalidJson(String),
    /// The JSON does not have the envelope's shape (wrong arity, wrong types).
    BadEnvelope(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the {max} byte limit")
            }
            FrameError::InvalidJson(detail) => write!(f, "frame is not JSON: {detail}"),
            FrameError::BadEnvelope(what) => write!(f, "malformed envelope: {what}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Refuses a frame longer than `max_len` before any parsing.
pub(super) fn within_limit(text: &str, max_len: usize) -> Result<(), FrameError> {
    if text.len() > max_len {
        return Err(FrameError::TooLarge {
            len: text.len(),
            max: max_len,
        });
    }
    Ok(())
}

impl Frame {
    /// Decodes a text frame received from the server.
    pub fn decode(text: &str, vsn: Vsn, max_len: usize) -> Result<Frame, FrameError> {
        within_limit(text, max_len)?;
        Self::decode_within_limit(text, vsn)
    }

    pub(super) fn decode_within_limit(text: &str, vsn: Vsn) -> Result<Frame, FrameError> {
        let value =
            crate::json_read::parse(text).map_err(|e| FrameError::InvalidJson(e.to_string()))?;
        match vsn {
            Vsn::V2 => Self::from_array(value),
            Vsn::V1 => Self::from_object(value),
        }
    }

    fn from_array(value: Value) -> Result<Frame, FrameError> {
        let Value::Array(items) = value else {
            return Err(FrameError::BadEnvelope("expected a JSON array"));
        };
        let Ok([join_ref, msg_ref, topic, event, payload]) = <[Value; 5]>::try_from(items) else {
            return Err(FrameError::BadEnvelope("expected 5 elements"));
        };
        Ok(Frame {
            join_ref: optional_ref(join_ref, "join_ref")?,
            msg_ref: optional_ref(msg_ref, "ref")?,
            topic: required_string(topic, "topic")?,
            event: required_string(event, "event")?,
            payload,
        })
    }

    fn from_object(value: Value) -> Result<Frame, FrameError> {
        let Value::Object(mut map) = value else {
            return Err(FrameError::BadEnvelope("expected a JSON object"));
        };
        let mut take = |key: &str| map.remove(key).unwrap_or(Value::Null);
        Ok(Frame {
            join_ref: optional_ref(take("join_ref"), "join_ref")?,
            msg_ref: optional_ref(take("ref"), "ref")?,
            topic: required_string(take("topic"), "topic")?,
            event: required_string(take("event"), "event")?,
            payload: take("payload"),
        })
    }

    /// Encodes the frame for sending.
    pub fn encode(&self, vsn: Vsn) -> String {
        let opt = |r: &Option<String>| r.clone().map_or(Value::Null, Value::String);
        let value = match vsn {
            Vsn::V2 => Value::Array(vec![
                opt(&self.join_ref),
                opt(&self.msg_ref),
                Value::String(self.topic.clone()),
                Value::String(self.event.clone()),
                self.payload.clone(),
            ]),
            Vsn::V1 => {
                let mut map = Map::new();
                map.insert("topic".into(), Value::String(self.topic.clone()));
                map.insert("event".into(), Value::String(self.event.clone()));
                map.insert("payload".into(), self.payload.clone());
                map.insert("ref".into(), opt(&self.msg_ref));
                map.insert("join_ref".into(), opt(&self.join_ref));
                Value::Object(map)
            }
        };
        json_text(&value)
    }
}

/// Phoenix sends refs as strings; integers are accepted too because some proxies and older
/// servers re-encode them.
fn optional_ref(value: Value, what: &'static str) -> Result<Option<String>, FrameError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) if n.is_u64() => Ok(Some(n.to_string())),
        _ => Err(FrameError::BadEnvelope(match what {
            "join_ref" => "join_ref must be a string or null",
            _ => "ref must be a string or null",
        })),
    }
}

fn required_string(value: Value, what: &'static str) -> Result<String, FrameError> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(FrameError::BadEnvelope(match what {
            "topic" => "topic must be a string",
            _ => "event must be a string",
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

    fn heartbeat() -> Frame {
        Frame {
            join_ref: None,
            msg_ref: Some("7".into()),
            topic: "phoenix".into(),
            event: "heartbeat".into(),
            payload: json!({}),
        }
    }

    #[test]
    fn v2_round_trips_as_an_array() {
        let text = heartbeat().encode(Vsn::V2);
        assert_eq!(text, r#"[null,"7","phoenix","heartbeat",{}]"#);
        assert_eq!(Frame::decode(&text, Vsn::V2, 1 << 20).unwrap(), heartbeat());
    }

    #[test]
    fn v1_round_trips_as_an_object() {
        let text = heartbeat().encode(Vsn::V1);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({"topic":"phoenix","event":"heartbeat","payload":{},"ref":"7","join_ref":null})
        );
        assert_eq!(Frame::decode(&text, Vsn::V1, 1 << 20).unwrap(), heartbeat());
    }

    #[test]
    fn v1_server_frames_may_omit_join_ref() {
        let frame = Frame::decode(
            r#"{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"3"}"#,
            Vsn::V1,
            1 << 20,
        )
        .unwrap();
        assert_eq!(frame.join_ref, None);
        assert_eq!(frame.msg_ref.as_deref(), Some("3"));
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        let max = 64;
        let cases = [
            ("not json", "not JSON"),
            (r#"{"a":1}"#, "expected a JSON array"),
            (r#"[null,null,"t","e"]"#, "expected 5 elements"),
            (r#"[1.5,null,"t","e",{}]"#, "join_ref must be"),
            (r#"[null,null,7,"e",{}]"#, "topic must be"),
            (r#"[null,null,"t",null,{}]"#, "event must be"),
        ];
        for (text, expected) in cases {
            let err = Frame::decode(text, Vsn::V2, max).unwrap_err();
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
        let long = format!("[null,null,\"t\",\"e\",\"{}\"]", "x".repeat(100));
        assert_eq!(
            Frame::decode(&long, Vsn::V2, max),
            Err(FrameError::TooLarge {
                len: long.len(),
                max
            })
        );
    }
}
