//! One pass over a received frame in its usual shape.
//!
//! Row changes are most of what a client receives, and most of their bytes are the rows. Read
//! in one pass, envelope and payload are parsed as they go by and each row is only checked and
//! kept as text ([`Record`]); the general path ([`Frame::decode`] and
//! [`PostgresChange::parse`]) would build a JSON tree of the whole frame first. Frames in any
//! other shape (integer refs, malformed payloads) make this pass give up, and the general path
//! then reads them or says precisely what is wrong.

use super::frame::{Frame, FrameError, Vsn};
use super::messages::{ChangePayload, PayloadError, PostgresChange};
use super::record::KeyIndex;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

const CHANGES: &str = "postgres_changes";

/// The frame in `text`, if it has the usual shape.
pub(super) fn decode_usual(text: &str, vsn: Vsn) -> Option<Received> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let received = match vsn {
        Vsn::V2 => reader.deserialize_seq(ArrayFrame).ok()?,
        Vsn::V1 => reader.deserialize_map(ObjectFrame).ok()?,
    };
    reader.end().ok()?;
    Some(received)
}

/// `[join_ref, ref, topic, event, payload]`: the event is known before the payload.
struct ArrayFrame;

impl<'de> Visitor<'de> for ArrayFrame {
    type Value = Received;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 2.0.0 frame")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Received, A::Error> {
        let missing = || de::Error::invalid_length(5, &"5 elements");
        let join_ref: Option<String> = items.next_element()?.ok_or_else(missing)?;
        let msg_ref: Option<String> = items.next_element()?.ok_or_else(missing)?;
        let topic: String = items.next_element()?.ok_or_else(missing)?;
        let event: String = items.next_element()?.ok_or_else(missing)?;
        let received = if event == CHANGES {
            let mut change = items
                .next_element_seed(ChangePayload)?
                .ok_or_else(missing)?;
            change.topic = topic.as_str().into();
            Received::Change {
                join_ref,
                topic,
                change: Ok(change),
            }
        } else {
            let payload: Value = items.next_element()?.ok_or_else(missing)?;
            Received::Frame(Frame {
                join_ref,
                msg_ref,
                topic,
                event,
                payload,
            })
        };
        if items.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(6, &"5 elements"));
        }
        Ok(received)
    }
}

/// `{"topic","event","payload","ref","join_ref"}` in any order. Servers usually send the keys
/// sorted, so the event is known before the payload; if not, the payload is kept as text and
/// read afterwards.
struct ObjectFrame;

enum Payload<'de> {
    Change(PostgresChange),
    Other(Value),
    Text(&'de RawValue),
}

impl<'de> Visitor<'de> for ObjectFrame {
    type Value = Received;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 1.0.0 frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<Received, A::Error> {
        const NAMES: [&str; 5] = ["join_ref", "ref", "topic", "event", "payload"];
        let (mut join_ref, mut msg_ref) = (None, None);
        let (mut topic, mut event): (Option<String>, Option<String>) = (None, None);
        let mut payload = None;
        while let Some(field) = fields.next_key_seed(KeyIndex(&NAMES))? {
            match field {
                Some(0) => join_ref = fields.next_value()?,
                Some(1) => msg_ref = fields.next_value()?,
                Some(2) => topic = Some(fields.next_value()?),
                Some(3) => event = Some(fields.next_value()?),
                Some(_) => {
                    payload = Some(match event.as_deref() {
                        Some(CHANGES) => Payload::Change(fields.next_value_seed(ChangePayload)?),
                        Some(_) => Payload::Other(fields.next_value()?),
                        None => Payload::Text(fields.next_value()?),
                    })
                }
                None => {
                    fields.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(topic), Some(event)) = (topic, event) else {
            return Err(de::Error::missing_field("topic and event"));
        };
        if event == CHANGES {
            let change = match payload {
                Some(Payload::Change(mut change)) => {
                    change.topic = topic.as_str().into();
                    Ok(change)
                }
                // The payload came before the event: read from its text now.
                Some(Payload::Text(text)) => PostgresChange::parse_raw(&topic, text),
                _ => return Err(de::Error::custom("a change without its payload")),
            };
            return Ok(Received::Change {
                join_ref,
                topic,
                change,
            });
        }
        let payload = match payload {
            Some(Payload::Text(text)) => {
                serde_json::from_str(text.get()).map_err(de::Error::custom)?
            }
            Some(Payload::Other(value)) => value,
            None => Value::Null,
            // The event named a change first and something else later.
            Some(Payload::Change(_)) => return Err(de::Error::custom("two events")),
        };
        Ok(Received::Frame(Frame {
            join_ref,
            msg_ref,
            topic,
            event,
            payload,
        }))
    }
}

/// A received text frame, decoded as the engine decodes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A `postgres_changes` push, read straight from the text (most of the traffic).
    Change {
        /// As [`Frame::join_ref`].
        join_ref: Option<String>,
        /// As [`Frame::topic`].
        topic: String,
        /// The change, or what is wrong with its payload.
        change: Result<PostgresChange, PayloadError>,
    },
    /// Any other frame.
    Frame(Frame),
}

impl Received {
    /// Decodes a text frame received from the server. The usual frame is read in one pass,
    /// a row change's rows kept as text ([`Record`](super::Record)); anything else takes the
    /// general path, which accepts what it can and otherwise says precisely what is wrong.
    pub fn decode(text: &str, vsn: Vsn, max_len: usize) -> Result<Received, FrameError> {
        super::frame::within_limit(text, max_len)?;
        match decode_usual(text, vsn) {
            Some(received) => Ok(received),
            None => Frame::decode_within_limit(text, vsn).map(Received::from),
        }
    }
}

impl From<Frame> for Received {
    /// A frame decoded by the general path: a change's payload read from its JSON tree.
    fn from(frame: Frame) -> Received {
        if frame.event != "postgres_changes" {
            return Received::Frame(frame);
        }
        Received::Change {
            change: PostgresChange::parse(&frame.topic, &frame.payload),
            join_ref: frame.join_ref,
            topic: frame.topic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What the general path makes of a frame.
    fn general(text: &str, vsn: Vsn) -> Received {
        Frame::decode(text, vsn, 1 << 20).unwrap().into()
    }

    #[test]
    fn one_pass_and_general_path_agree() {
        let change = json!({"ids": [7], "data": {"schema": "public", "table": "songs",
            "type": "UPDATE", "commit_timestamp": "2026-11-23T10:00:00.000Z", "columns": [],
            "record": {"id": "s1", "title": "Yellow", "nested": {"a": [1, "}"]}},
            "old_record": {"id": "s1"}, "errors": null}});
        let reply = json!({"status": "ok", "response": {}});
        let texts = [
            (
                json!([null, null, "realtime:b", "postgres_changes", change]),
                Vsn::V2,
            ),
            (json!(["1", "2", "realtime:b", "phx_reply", reply]), Vsn::V2),
            // Keys sorted, as servers send them: the event comes before the payload.
            (
                json!({"event": "postgres_changes", "join_ref": null, "payload": change,
                "ref": null, "topic": "realtime:b"}),
                Vsn::V1,
            ),
            (
                json!({"event": "phx_reply", "payload": reply, "ref": "2", "topic": "realtime:b"}),
                Vsn::V1,
            ),
        ];
        for (frame, vsn) in texts {
            let text = frame.to_string();
            let one_pass = decode_usual(&text, vsn).expect("the usual shape");
            assert_eq!(one_pass, general(&text, vsn), "{text}");
        }
        // The payload before the event is read too, from its text.
        let text = r#"{"payload":{"ids":[7],"data":{"schema":"public","table":"songs","type":"DELETE","old_record":{"id":"s1"}}},"topic":"realtime:b","event":"postgres_changes"}"#;
        assert_eq!(decode_usual(text, Vsn::V1).unwrap(), general(text, Vsn::V1));
    }

    #[test]
    fn unusual_frames_are_left_to_the_general_path() {
        let unusual = [
            (r#"[1,2,"realtime:b","phx_reply",{}]"#, Vsn::V2),
            (
                r#"[null,null,"realtime:b","postgres_changes",{"ids":[1],"data":{"schema":"public","table":"t","type":"INSERT","errors":"Error 413: Payload Too Large"}}]"#,
                Vsn::V2,
            ),
            (
                r#"[null,null,"realtime:b","postgres_changes",{"ids":[1],"data":{"schema":"public","table":"t","type":"INSERT","record":[1]}}]"#,
                Vsn::V2,
            ),
            (r#"[null,null,"t","e",{},6]"#, Vsn::V2),
            (r#"[null,null,"t","e",{}]"#, Vsn::V1),
            (r#"{"topic":"t","payload":{}}"#, Vsn::V1),
        ];
        for (text, vsn) in unusual {
            assert_eq!(decode_usual(text, vsn), None, "{text}");
        }
    }
}
